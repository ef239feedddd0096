//! Memory pools: one per query, drawing on one budget shared by every query of the engine.
//!
//! A pool per query alone lets N concurrent queries take N × `memory_mib`; a shared pool
//! alone lets one query starve the rest. So each query's pool counts against its own limit
//! first and then against the engine-wide total.

use datafusion::common::{DataFusionError, Result, human_readable_size};
use datafusion::execution::memory_pool::{
    GreedyMemoryPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
    TrackConsumersPool,
};
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The memory shared by all running queries of one engine.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    pool: Arc<GreedyMemoryPool>,
    total: usize,
}

impl Shared {
    /// `total_mib` for all queries together.
    pub(crate) fn new(total_mib: usize) -> Shared {
        let total = total_mib.max(1) << 20;
        Shared {
            pool: Arc::new(GreedyMemoryPool::new(total)),
            total,
        }
    }

    /// Bytes held by running queries now.
    pub(crate) fn reserved(&self) -> usize {
        self.pool.reserved()
    }

    /// A pool for one query of at most `limit_mib`, naming its top consumers when it is full.
    pub(crate) fn query_pool(&self, limit_mib: usize) -> Arc<dyn MemoryPool> {
        let budget = QueryBudget {
            limit: limit_mib.max(1) << 20,
            used: AtomicUsize::new(0),
            shared: self.clone(),
        };
        Arc::new(TrackConsumersPool::new(
            budget,
            NonZeroUsize::new(3).unwrap_or(NonZeroUsize::MIN),
        ))
    }
}

/// One query's account: its own limit, then the shared one.
#[derive(Debug)]
struct QueryBudget {
    limit: usize,
    used: AtomicUsize,
    shared: Shared,
}

impl fmt::Display for QueryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "query(used: {}, limit: {})",
            human_readable_size(self.used.load(Ordering::Relaxed)),
            human_readable_size(self.limit)
        )
    }
}

impl MemoryPool for QueryBudget {
    fn name(&self) -> &str {
        "query"
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.used.fetch_add(additional, Ordering::Relaxed);
        self.shared.pool.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.used.fetch_sub(shrink, Ordering::Relaxed);
        self.shared.pool.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let name = reservation.consumer().name();
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(additional).filter(|&n| n <= self.limit)
            })
            .map_err(|used| {
                DataFusionError::ResourcesExhausted(format!(
                    "{name} asked for {} more while the query held {} of its {} (query.memory_mib)",
                    human_readable_size(additional),
                    human_readable_size(used),
                    human_readable_size(self.limit),
                ))
            })?;
        if self.shared.pool.try_grow(reservation, additional).is_err() {
            self.used.fetch_sub(additional, Ordering::Relaxed);
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{name} asked for {} more, but the queries running at once already hold {} of the {} they share (query.total_memory_mib); retry when they finish",
                human_readable_size(additional),
                human_readable_size(self.shared.reserved()),
                human_readable_size(self.shared.total),
            )));
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

/// A reservation of `bytes` from `pool` under `name`, or the pool's refusal.
pub(crate) fn reserve(
    pool: &Arc<dyn MemoryPool>,
    name: &str,
    bytes: usize,
) -> Result<MemoryReservation> {
    let r = MemoryConsumer::new(name).register(pool);
    r.try_grow(bytes)?;
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_query_has_its_limit_and_all_share_the_total() {
        let shared = Shared::new(10);
        let a = shared.query_pool(6);
        let b = shared.query_pool(6);
        assert!(reserve(&a, "a", 7 << 20).is_err(), "over its own limit");
        let held = reserve(&a, "a", 5 << 20).unwrap();
        let err = reserve(&b, "b", 6 << 20).unwrap_err().to_string();
        assert!(err.contains("query.total_memory_mib"), "{err}");
        let small = reserve(&b, "b", 4 << 20).unwrap();
        assert_eq!(shared.reserved(), 9 << 20);
        drop(held);
        drop(small);
        assert_eq!(shared.reserved(), 0);
        assert!(
            reserve(&b, "b", 6 << 20).is_ok(),
            "freed memory is shared again"
        );
    }
}
