//! What keeps one query's memory and planning bounded beyond DataFusion's own pool.
//!
//! - [`pool`]: each query's pool counts against its `memory_mib` and an engine-wide total.
//! - [`functions`]: functions whose output can far outgrow their input reserve it first.
//! - here: the plan rewrite that puts those guards in, the charge for computed constants,
//!   and the expression-depth check on the parsed SQL.
//!
//! One value may be copied into every row of a batch (a selected constant, a CASE branch,
//! the build side of a join), so no guarded function builds a single value over
//! `memory / batch_size`; a batch of such copies then still fits the limit.

pub(crate) mod functions;
pub(crate) mod pool;

use crate::error::QueryError;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result, ScalarValue, human_readable_size};
use datafusion::execution::memory_pool::{MemoryPool, MemoryReservation};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::{BinaryExpr, ColumnarValue, Expr, LogicalPlan, Operator};
use datafusion::sql::parser::{CopyToSource, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Expr as SqlExpr, Visit, Visitor};
use functions::{ConcatOp, Growth, Guarded};
use std::ops::ControlFlow;
use std::sync::Arc;

/// One query's memory as the guards see it.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) pool: Arc<dyn MemoryPool>,
    limit_mib: usize,
    batch_size: usize,
}

impl Budget {
    pub(crate) fn new(pool: Arc<dyn MemoryPool>, limit_mib: usize, batch_size: usize) -> Budget {
        Budget {
            pool,
            limit_mib: limit_mib.max(1),
            batch_size: batch_size.max(1),
        }
    }

    fn limit(&self) -> u64 {
        (self.limit_mib as u64) << 20
    }

    /// The largest single value a guarded function may build.
    fn per_value(&self) -> u64 {
        self.limit() / self.batch_size as u64
    }

    /// Refuses `name` over `args` if its bound is over the limits, else holds that memory
    /// from the pool while the caller builds it.
    pub(crate) fn check(
        &self,
        name: &str,
        growth: Growth,
        args: &[ColumnarValue],
        rows: usize,
    ) -> Result<MemoryReservation> {
        let (largest, total) = functions::bound(growth, args, rows)?;
        if largest > self.per_value() {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "{name} would build a value of {}; with query.memory_mib at {} MiB one value may take at most {} ({} MiB / {} rows per batch, as a value can be copied into every row of a batch)",
                size(largest),
                self.limit_mib,
                size(self.per_value()),
                self.limit_mib,
                self.batch_size,
            )));
        }
        let bytes = usize::try_from(total).unwrap_or(usize::MAX);
        pool::reserve(&self.pool, name, bytes).map_err(|e| {
            DataFusionError::ResourcesExhausted(format!(
                "{name} would build {} for {rows} rows: {}",
                size(total),
                e.find_root()
            ))
        })
    }

    /// Holds, for the whole query, the memory the plan's computed constants take when each
    /// is repeated over a batch. Constants typed in the SQL are exempt up to its length:
    /// `max_sql_bytes` already bounds them.
    pub(crate) fn charge_constants(
        &self,
        plan: &LogicalPlan,
        sql_len: usize,
    ) -> Result<Option<MemoryReservation>> {
        let mut bytes = 0usize;
        plan.apply_with_subqueries(|node| {
            node.apply_expressions(|e| {
                e.apply(|x| {
                    if let Expr::Literal(v, _) = x {
                        bytes = bytes.saturating_add(value_bytes(v));
                    }
                    Ok(TreeNodeRecursion::Continue)
                })
            })
        })?;
        let computed = bytes.saturating_sub(sql_len);
        if computed == 0 {
            return Ok(None);
        }
        let total = computed.saturating_mul(self.batch_size);
        pool::reserve(&self.pool, "constants", total)
            .map(Some)
            .map_err(|e| {
                DataFusionError::ResourcesExhausted(format!(
                    "the query's computed constants ({}) take {} when repeated over a batch of {} rows: {}",
                    size(computed as u64),
                    size(total as u64),
                    self.batch_size,
                    e.find_root()
                ))
            })
    }
}

fn size(n: u64) -> String {
    human_readable_size(usize::try_from(n).unwrap_or(usize::MAX))
}

fn value_bytes(v: &ScalarValue) -> usize {
    match v {
        ScalarValue::Binary(Some(b))
        | ScalarValue::LargeBinary(Some(b))
        | ScalarValue::BinaryView(Some(b)) => b.len(),
        v => match v.try_as_str() {
            Some(s) => s.map_or(0, str::len),
            None => v.size().saturating_sub(size_of::<ScalarValue>()),
        },
    }
}

/// Puts every growing function and `||` of `plan` (subqueries included) behind its guard.
/// Run before the analyzer and again after the optimizer, which could add calls of its own.
pub(crate) fn guard_plan(plan: LogicalPlan, budget: &Arc<Budget>) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|node| {
        let names = NamePreserver::new(&node);
        let node = node.map_expressions(|e| {
            let saved = names.save(&e);
            let out = e.transform_up(|x| guard_expr(x, budget))?;
            Ok(if out.transformed {
                out.update_data(|e| saved.restore(e))
            } else {
                out
            })
        })?;
        if node.transformed {
            node.map_data(|p| p.recompute_schema())
        } else {
            Ok(node)
        }
    })
    .map(|t| t.data)
}

fn guard_expr(e: Expr, budget: &Arc<Budget>) -> Result<Transformed<Expr>> {
    match e {
        Expr::ScalarFunction(f) if !f.func.inner().is::<Guarded>() => {
            match Growth::of(f.func.name()) {
                Some(g) => {
                    let udf = Guarded::wrap(f.func.clone(), g, budget.clone());
                    Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(Arc::new(udf), f.args),
                    )))
                }
                None => Ok(Transformed::no(Expr::ScalarFunction(f))),
            }
        }
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::StringConcat,
            right,
        }) => Ok(Transformed::yes(Expr::ScalarFunction(
            ScalarFunction::new_udf(Arc::new(ConcatOp::udf(budget.clone())), vec![*left, *right]),
        ))),
        e => Ok(Transformed::no(e)),
    }
}

/// Refuses SQL whose expressions nest deeper than `max`: DataFusion's planning time grows
/// with the square of the depth (a 7,000-term `1+1+…` took 49 s), and the parser's own
/// recursion limit does not see operator chains, which it reads in a loop.
pub(crate) fn check_depth(stmt: &DfStatement, max: usize) -> Result<(), QueryError> {
    let mut v = Depth {
        now: 0,
        max: max.max(1),
    };
    let flow = match stmt {
        DfStatement::Statement(s) => s.visit(&mut v),
        DfStatement::Explain(e) => return check_depth(&e.statement, max),
        DfStatement::CopyTo(c) => match &c.source {
            CopyToSource::Query(q) => q.visit(&mut v),
            CopyToSource::Relation(_) => ControlFlow::Continue(()),
        },
        DfStatement::CreateExternalTable(_) | DfStatement::Reset(_) => ControlFlow::Continue(()),
    };
    match flow {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(QueryError::Rejected(format!(
            "the SQL nests expressions more than {max} deep (query.max_expr_depth); a chain like a+b+c+… nests one level per term: group it, e.g. (a+b)+(c+d), or aggregate rows instead"
        ))),
    }
}

struct Depth {
    now: usize,
    max: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<()> {
        self.now += 1;
        if self.now > self.max {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn post_visit_expr(&mut self, _: &SqlExpr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}
