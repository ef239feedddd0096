//! Events: each row parsed and validated on its own; rows naming a shop the origin is not bound
//! to refuse the whole batch; known `event_id`s are answered as duplicates (exactly: a 128-bit
//! key per shop, remembered for the dedup horizon); the rest is appended to the WAL with the
//! rejected rows (which reach the quarantine under the shop they name, once however often their
//! batch is retried: `store::dedup::reject_key`), and the reply comes only after the group fsync.
//! A full WAL queue refuses the batch, never grows memory.
//!
//! A duplicate of an event whose first batch is still being written is not acknowledged at
//! once: that batch may yet fail (or the process die before its fsync), and the retry would then
//! hold an acknowledgement for an event never stored. It waits for the first batch's outcome.

use crate::{IngestError, IngestReply, RowError, rows::Row};
use collect::formats::{LineOptions, ndjson};
use collect::{ChunkBuilder, TableBatch};
use model::{DEFAULT_SHOP, Reason, Reject, Rules};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;
use store::dedup::{DedupIndex, GENERATED_PREFIX, day_of_ms, id_key};
use store::{Store, Wal, WalExtras, is_queue_full};
use tokio::sync::watch;

/// Largest single event accepted, in bytes.
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Longest `event_id` accepted.
pub const MAX_EVENT_ID_CHARS: usize = 256;

/// Where a batch comes from.
#[derive(Debug, Clone)]
pub struct Origin {
    /// Source name recorded with rejected rows (`http`, `kafka:orders`, ...).
    pub source: String,
    /// The shop the sender's credential is bound to (`None`: any shop).
    pub shop: Option<String>,
}

impl Origin {
    /// Whether the sender may write to `shop`.
    pub fn may_use_shop(&self, shop: &str) -> bool {
        self.shop.as_deref().is_none_or(|s| s == shop)
    }

    /// The shop of rows that name none.
    pub fn default_shop(&self) -> &str {
        self.shop.as_deref().unwrap_or(DEFAULT_SHOP)
    }
}

/// Called on the WAL writer thread with each durable batch's tables, in WAL order.
pub type DurableHook = Arc<dyn Fn(Vec<TableBatch>) + Send + Sync>;

/// Observers of the ingest path.
#[derive(Default, Clone)]
pub struct Hooks {
    /// Fed every durable batch (the live engine).
    pub on_durable: Option<DurableHook>,
    /// Told how each WAL append went and how long it took (seconds).
    pub on_append: Option<Arc<dyn Fn(bool, f64) + Send + Sync>>,
}

/// `Some(true)` once a batch's events are durable, `Some(false)` if its append failed.
type Outcome = watch::Sender<Option<bool>>;
/// The other end of an [`Outcome`].
type Awaited = watch::Receiver<Option<bool>>;

/// The ingest path of a running StorePulse: shared by every source.
pub struct Ingestor {
    store: Arc<Mutex<Store>>,
    ids: Arc<Mutex<DedupIndex>>,
    /// Ids reserved by batches whose append has not finished, with the outcome a duplicate must
    /// wait for (locked after `ids`, never before).
    inflight: Mutex<HashMap<u128, Awaited>>,
    wal: Wal,
    rules: Rules,
    hooks: Hooks,
}

/// What a batch will append.
struct Planned {
    tables: Vec<TableBatch>,
    extras: WalExtras,
    reserved: Vec<u128>,
    reply: IngestReply,
    outcome: Outcome,
    waits: Vec<Awaited>,
}

impl Ingestor {
    /// The ingest path over an open store (whose id index it shares) and WAL.
    pub fn new(store: Arc<Mutex<Store>>, wal: Wal, rules: Rules, hooks: Hooks) -> Ingestor {
        let ids = store.lock().unwrap_or_else(|p| p.into_inner()).ids();
        Ingestor {
            store,
            ids,
            inflight: Mutex::default(),
            wal,
            rules,
            hooks,
        }
    }

    /// The WAL writer.
    pub fn wal(&self) -> &Wal {
        &self.wal
    }

    /// The validation rules.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// Locks the store (a poisoned lock is taken over: every store operation is atomic on disk).
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Locks the event id index.
    pub fn ids(&self) -> MutexGuard<'_, DedupIndex> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn inflight(&self) -> MutexGuard<'_, HashMap<u128, Awaited>> {
        self.inflight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ingests a batch of event rows; returns once every accepted event is durable.
    pub async fn events(
        self: &Arc<Self>,
        origin: &Origin,
        rows: &[Row<'_>],
    ) -> Result<IngestReply, IngestError> {
        let Planned {
            tables,
            extras,
            reserved,
            mut reply,
            outcome,
            waits,
        } = self.plan(origin, rows)?;
        if tables.is_empty() && extras.rejects.is_empty() {
            self.await_originals(waits).await?;
            return Ok(reply);
        }
        let accepted: usize = tables.iter().map(|t| t.batch.num_rows()).sum();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = Instant::now();
        let for_live = self.hooks.on_durable.clone().map(|h| (h, tables.clone()));
        let outcome = Arc::new(outcome);
        let (me, reserved2, outcome2) = (self.clone(), reserved.clone(), outcome.clone());
        if let Err(e) = self.wal.submit_tables(
            tables,
            extras,
            Box::new(move |r| {
                if let (Ok(_), Some((hook, tables))) = (&r, for_live) {
                    hook(tables);
                }
                me.settle(&reserved2, &outcome2, r.is_ok());
                let _ = tx.send(r);
            }),
        ) {
            // Never queued, so the callback will not run.
            self.settle(&reserved, &outcome, false);
            if is_queue_full(&e) {
                return Err(IngestError::Overloaded);
            }
            return Err(IngestError::Internal(e.to_string()));
        }
        let r = rx.await;
        if let (Some(f), Ok(r)) = (&self.hooks.on_append, &r) {
            f(r.is_ok(), t.elapsed().as_secs_f64());
        }
        match r {
            Ok(Ok(_)) => {
                reply.accepted = accepted;
                self.await_originals(waits).await?;
                Ok(reply)
            }
            Ok(Err(e)) => Err(IngestError::Storage(e.to_string())),
            Err(_) => Err(IngestError::Internal("the WAL writer stopped".into())),
        }
    }

    /// Settles a batch's reservations once its append finished (or could not be queued): the
    /// ids leave the in-flight map, a failed batch's ids are released, and waiting duplicates
    /// learn the outcome. Runs on the WAL writer thread, so it happens even if the sender left.
    fn settle(&self, reserved: &[u128], outcome: &Outcome, durable: bool) {
        let mine = outcome.subscribe();
        let mut index = (!durable).then(|| self.ids());
        {
            let mut inflight = self.inflight();
            for k in reserved {
                if inflight.get(k).is_some_and(|rx| rx.same_channel(&mine)) {
                    inflight.remove(k);
                }
            }
        }
        if let Some(index) = index.as_mut() {
            index.release(reserved);
        }
        drop(index);
        outcome.send_replace(Some(durable));
    }

    /// Waits for the batches this one repeats events of; an error if any of them failed.
    async fn await_originals(&self, waits: Vec<Awaited>) -> Result<(), IngestError> {
        for mut rx in waits {
            let ok = matches!(
                rx.wait_for(|v| v.is_some()).await.map(|v| *v),
                Ok(Some(true))
            );
            if !ok {
                return Err(IngestError::OriginalFailed);
            }
        }
        Ok(())
    }

    /// Parses and validates every row, checks shops, and reserves fresh event ids and the keys
    /// of rejected rows.
    fn plan(&self, origin: &Origin, rows: &[Row<'_>]) -> Result<Planned, IngestError> {
        let now = model::time::now_ms();
        let opts = LineOptions {
            shop: origin.shop.clone(),
            rules: self.rules.clone(),
        };
        let default_shop = origin.default_shop();
        let mut b = ChunkBuilder::new(&origin.source, "ndjson", default_shop, &self.rules, 1)
            .keep_id_raw(false);
        let mut forbidden = Vec::new();
        let mut gen_seq = 0u64;
        let gen_base: u64 = rand::random();
        for &(index, raw) in rows {
            let line = index as u64 + 1;
            let parsed = if raw.len() > MAX_EVENT_BYTES {
                Err(Reject::row(
                    Reason::BadValue,
                    format!("an event may be at most {MAX_EVENT_BYTES} bytes"),
                ))
            } else {
                ndjson::parse_event(raw, &opts)
            };
            let mut e = match parsed {
                Ok(e) => e,
                Err(r) => {
                    b.reject(line, None, raw, r);
                    continue;
                }
            };
            if !origin.may_use_shop(e.shop()) {
                forbidden.push(index);
                continue;
            }
            e.received_at = Some(now);
            match &e.event_id {
                None => {
                    gen_seq += 1;
                    e.event_id = Some(format!(
                        "{GENERATED_PREFIX}{now:x}-{gen_base:016x}-{gen_seq}"
                    ));
                }
                Some(id)
                    if id.starts_with(GENERATED_PREFIX)
                        || id.chars().count() > MAX_EVENT_ID_CHARS
                        || id.is_empty() =>
                {
                    let r = Reject::field(
                        Reason::BadValue,
                        "event_id",
                        id,
                        format!(
                            "must be 1 to {MAX_EVENT_ID_CHARS} characters and not start with `{GENERATED_PREFIX}`"
                        ),
                    );
                    b.reject(line, None, raw, r);
                    continue;
                }
                Some(_) => {}
            }
            b.event(line, None, raw, &e);
        }
        if !forbidden.is_empty() {
            return Err(IngestError::ForeignShop {
                own: default_shop.to_string(),
                indices: forbidden,
            });
        }
        let mut chunk = b.finish();
        for q in &mut chunk.rejects {
            q.shop = reject_shop(origin, &q.raw);
        }
        // Hashed before the index is locked (a key may parse its row).
        let reject_keys: Vec<u128> = chunk
            .rejects
            .iter()
            .map(|q| store::dedup::reject_key(&q.shop, &q.raw))
            .collect();
        let keys = std::mem::take(&mut chunk.batch.keys);
        let mut tables = chunk
            .batch
            .finish()
            .map_err(|e| IngestError::Internal(e.to_string()))?;
        let mut reply = IngestReply::default();
        let mut reserved = Vec::with_capacity(chunk.ids.len());
        let mut dropped = Vec::new();
        let (outcome, mine) = watch::channel(None);
        let mut waits: Vec<Awaited> = Vec::new();
        let mut quarantine = Vec::with_capacity(reject_keys.len());
        {
            let today = day_of_ms(now);
            let mut index = self.ids();
            let mut inflight = self.inflight();
            for id in &chunk.ids {
                if id.event_id.starts_with(GENERATED_PREFIX) {
                    continue;
                }
                let k = id_key(&id.shop, &id.event_id);
                if index.reserve(k, today) {
                    reserved.push(k);
                    inflight.insert(k, mine.clone());
                } else {
                    if let Some(rx) = inflight.get(&k)
                        && !rx.same_channel(&mine)
                        && !waits.iter().any(|w| w.same_channel(rx))
                    {
                        waits.push(rx.clone());
                    }
                    dropped.push((id.slot, id.row));
                    reply.duplicate_indices.push(id.line as usize - 1);
                }
            }
            // A bad row already quarantined (by an earlier try of this batch, or earlier in it)
            // is answered as rejected again but not stored again; one still being written is
            // waited for like a duplicate event, so the acknowledgement means it is kept.
            for &k in &reject_keys {
                let fresh = index.reserve(k, today);
                if fresh {
                    reserved.push(k);
                    inflight.insert(k, mine.clone());
                } else if let Some(rx) = inflight.get(&k)
                    && !rx.same_channel(&mine)
                    && !waits.iter().any(|w| w.same_channel(rx))
                {
                    waits.push(rx.clone());
                }
                quarantine.push(fresh);
            }
        }
        if let Err(e) = store::drop_rows(&mut tables, &dropped) {
            self.settle(&reserved, &outcome, false);
            return Err(IngestError::Internal(e.to_string()));
        }
        reply.duplicate_indices.sort_unstable();
        reply.duplicates = reply.duplicate_indices.len();
        reply.errors = chunk
            .rejects
            .iter()
            .map(|q| RowError {
                index: q.line as usize - 1,
                reason: q.reason.code().to_string(),
                field: q.field.clone(),
                value: q.value.clone(),
                message: q.rule.clone(),
            })
            .collect();
        reply.rejected = reply.errors.len();
        let mut fresh = quarantine.into_iter();
        chunk.rejects.retain(|_| fresh.next().unwrap_or(true));
        let extras = WalExtras {
            rejects: chunk.rejects,
            keys: keys
                .into_iter()
                .map(|(shop, kind, key)| (shop, kind.to_string(), key))
                .collect(),
        };
        Ok(Planned {
            tables,
            extras,
            reserved,
            reply,
            outcome,
            waits,
        })
    }
}

/// The shop a rejected row is quarantined under: a bound origin's own (a row naming another
/// shop cannot be trusted with it), else the valid shop the row names, else `default`.
fn reject_shop(origin: &Origin, raw: &str) -> String {
    if let Some(own) = &origin.shop {
        return own.clone();
    }
    store::dedup::named(raw)
        .shop
        .filter(|s| model::check_shop(s).is_ok())
        .unwrap_or_else(|| DEFAULT_SHOP.to_string())
}
