//! Guards for the SQL functions whose output can be far larger than their input.
//!
//! DataFusion builds a function's result before any memory pool hears of it, so `repeat('x',
//! 2000000000)` allocated gigabytes (during constant folding, copied several times) under a
//! 2 GiB limit. Each guard bounds the result from the arguments alone — per row and for the
//! batch — and reserves that from the query's pool before the real function runs, failing
//! with the memory error instead of allocating.
//!
//! Guarded: functions whose output is set by an argument's value (`repeat`, `lpad`, `rpad`,
//! `replace`, `regexp_replace`, `regexp_match`, `to_char`) and the concatenations
//! (`concat`, `concat_ws`, `overlay`, `encode`, the `||` operator), which can double a
//! value per nesting level. Left alone: functions whose output is a fixed size per row
//! (`to_hex`, `chr`, `uuid`, dates, numbers) or at most a few bytes per input character that
//! does not compound (case mapping, `translate`, `reverse`, trims, substrings); aggregates
//! (`string_agg`, `array_agg`) already reserve what they hold. `array_repeat`, `make_array`
//! and the scalar `range`/`generate_series` do not exist here (DataFusion's nested functions
//! are not built in); the `generate_series` table function streams batches.

use super::Budget;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use datafusion::arrow::compute::cast;
use datafusion::arrow::compute::kernels::concat_elements::concat_elements_dyn;
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::interval_arithmetic::Interval;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::type_coercion::binary::BinaryTypeCoercer;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, Operator, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// How a guarded function's output relates to its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Growth {
    Repeat,
    Pad,
    Overlay,
    Concat,
    ConcatWs,
    Replace,
    RegexpReplace,
    RegexpMatch,
    ToChar,
    Encode,
    ConcatOp,
}

impl Growth {
    /// The guard for a function of this name, if it needs one.
    pub(crate) fn of(name: &str) -> Option<Growth> {
        Some(match name {
            "repeat" => Growth::Repeat,
            "lpad" | "rpad" => Growth::Pad,
            "overlay" => Growth::Overlay,
            "concat" => Growth::Concat,
            "concat_ws" => Growth::ConcatWs,
            "replace" => Growth::Replace,
            "regexp_replace" => Growth::RegexpReplace,
            "regexp_match" => Growth::RegexpMatch,
            "to_char" | "date_format" => Growth::ToChar,
            "encode" => Growth::Encode,
            _ => return None,
        })
    }

    /// An upper bound of row `i`'s output in bytes.
    fn row_bytes(self, a: &[Arg], i: usize) -> u64 {
        let len = |k: usize| a.get(k).map_or(0, |x| x.len(i));
        let n = len(0);
        match self {
            Growth::Repeat => n.saturating_mul(int(a, 1, i)),
            // Pads count characters; a fill or string beyond ASCII takes up to 4 bytes each.
            Growth::Pad => {
                let ascii = |k: usize| a.get(k).is_none_or(|x| x.str(i).is_none_or(str::is_ascii));
                let width = if ascii(0) && ascii(2) { 1 } else { 4 };
                n.saturating_add(int(a, 1, i).saturating_mul(width))
            }
            Growth::Overlay | Growth::ConcatOp => n.saturating_add(len(1)),
            Growth::Concat => (0..a.len()).fold(0, |s, k| s.saturating_add(len(k))),
            Growth::ConcatWs => {
                let parts = (1..a.len()).fold(0u64, |s, k| s.saturating_add(len(k)));
                parts.saturating_add(n.saturating_mul(a.len().saturating_sub(2) as u64))
            }
            // At most one match per byte of `from` (per character when it is empty).
            Growth::Replace => {
                let matches = (n / len(1).max(1)).saturating_add(1);
                n.saturating_add(matches.saturating_mul(len(2)))
            }
            // Matches are disjoint: at most n + 1 of them, each the replacement's text, and
            // each back-reference (2+ bytes of it) repeats at most all n matched bytes.
            Growth::RegexpReplace => {
                let r = len(2);
                let literal = n.saturating_add(1).saturating_mul(r);
                n.saturating_add(literal)
                    .saturating_add(n.saturating_mul(r / 2))
            }
            // Each capture group can hold the whole string.
            Growth::RegexpMatch => {
                let groups = a
                    .get(1)
                    .and_then(|x| x.str(i))
                    .map_or(1, |p| p.matches('(').count() + 1);
                n.saturating_add(16).saturating_mul(groups as u64)
            }
            // A chrono specifier of 2 bytes prints at most ~32 (`%+`).
            Growth::ToChar => len(1).saturating_mul(16).saturating_add(32),
            // hex doubles; base64 adds a third.
            Growth::Encode => n.saturating_mul(2).saturating_add(4),
        }
    }
}

/// A non-negative integer argument (a count or a length), 0 when absent or NULL.
fn int(a: &[Arg], k: usize, i: usize) -> u64 {
    a.get(k)
        .and_then(|x| x.int(i))
        .map_or(0, |v| v.max(0) as u64)
}

/// One argument, readable row by row whatever its encoding.
enum Arg<'a> {
    Scalar(&'a ScalarValue),
    Array(&'a ArrayRef),
}

impl Arg<'_> {
    fn str(&self, i: usize) -> Option<&str> {
        match self {
            Arg::Scalar(s) => s.try_as_str().flatten(),
            Arg::Array(a) if a.is_null(i) => None,
            Arg::Array(a) => match a.data_type() {
                DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
                DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
                DataType::Utf8View => Some(a.as_string_view().value(i)),
                _ => None,
            },
        }
    }

    /// Bytes of a text or binary value (0 for NULL); for other types their width.
    fn len(&self, i: usize) -> u64 {
        let n = match self {
            Arg::Scalar(s) => match s {
                ScalarValue::Binary(Some(b))
                | ScalarValue::LargeBinary(Some(b))
                | ScalarValue::BinaryView(Some(b)) => b.len(),
                s => match s.try_as_str() {
                    Some(v) => v.map_or(0, str::len),
                    None => s.size().saturating_sub(size_of::<ScalarValue>()),
                },
            },
            Arg::Array(a) if a.is_null(i) => 0,
            Arg::Array(a) => match a.data_type() {
                DataType::Utf8 => a.as_string::<i32>().value(i).len(),
                DataType::LargeUtf8 => a.as_string::<i64>().value(i).len(),
                DataType::Utf8View => a.as_string_view().value(i).len(),
                DataType::Binary => a.as_binary::<i32>().value(i).len(),
                DataType::LargeBinary => a.as_binary::<i64>().value(i).len(),
                DataType::BinaryView => a.as_binary_view().value(i).len(),
                t => t.primitive_width().unwrap_or(64),
            },
        };
        n as u64
    }

    fn int(&self, i: usize) -> Option<i64> {
        match self {
            Arg::Scalar(ScalarValue::Int64(v)) => *v,
            Arg::Array(a) => a
                .as_any()
                .downcast_ref::<Int64Array>()
                .filter(|x| x.is_valid(i))
                .map(|x| x.value(i)),
            _ => None,
        }
    }
}

/// Integer arrays other than Int64 cast to it, so counts and lengths read one way. One that
/// does not fit stays as it is and reads as 0: the function itself then refuses it.
fn normalize(args: &[ColumnarValue]) -> Vec<ColumnarValue> {
    args.iter()
        .map(|v| match v {
            ColumnarValue::Array(a) if a.data_type().is_integer() => {
                cast(a, &DataType::Int64).map_or_else(|_| v.clone(), ColumnarValue::Array)
            }
            ColumnarValue::Scalar(s) if s.data_type().is_integer() => s
                .cast_to(&DataType::Int64)
                .map_or_else(|_| v.clone(), ColumnarValue::Scalar),
            v => v.clone(),
        })
        .collect()
}

/// The largest row and the whole batch `growth` would build from `args` over `rows` rows.
/// A result computed from constants alone counts once per row: it is repeated wherever it
/// is selected.
pub(crate) fn bound(growth: Growth, args: &[ColumnarValue], rows: usize) -> Result<(u64, u64)> {
    let norm = normalize(args);
    let views: Vec<Arg> = norm
        .iter()
        .map(|v| match v {
            ColumnarValue::Scalar(s) => Arg::Scalar(s),
            ColumnarValue::Array(a) => Arg::Array(a),
        })
        .collect();
    let arrays = norm.iter().find_map(|v| match v {
        ColumnarValue::Array(a) => Some(a.len()),
        ColumnarValue::Scalar(_) => None,
    });
    Ok(match arrays {
        None => {
            let one = growth.row_bytes(&views, 0);
            (one, one.saturating_mul(rows.max(1) as u64))
        }
        Some(n) => (0..n).fold((0, 0), |(max, sum), i| {
            let b = growth.row_bytes(&views, i);
            (max.max(b), sum.saturating_add(b))
        }),
    })
}

/// A built-in function behind its guard. Everything but evaluation is the original's.
#[derive(Debug)]
pub(crate) struct Guarded {
    inner: Arc<ScalarUDF>,
    growth: Growth,
    budget: Arc<Budget>,
}

impl Guarded {
    pub(crate) fn wrap(inner: Arc<ScalarUDF>, growth: Growth, budget: Arc<Budget>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Guarded {
            inner,
            growth,
            budget,
        })
    }

    fn imp(&self) -> &dyn ScalarUDFImpl {
        self.inner.inner().as_ref()
    }
}

impl PartialEq for Guarded {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner && Arc::ptr_eq(&self.budget, &other.budget)
    }
}

impl Eq for Guarded {}

impl Hash for Guarded {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.inner.hash(state);
    }
}

impl ScalarUDFImpl for Guarded {
    fn name(&self) -> &str {
        self.imp().name()
    }
    fn aliases(&self) -> &[String] {
        self.imp().aliases()
    }
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.imp().schema_name(args)
    }
    fn signature(&self) -> &Signature {
        self.imp().signature()
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.imp().return_type(arg_types)
    }
    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.imp().return_field_from_args(args)
    }
    fn with_updated_config(&self, config: &datafusion::config::ConfigOptions) -> Option<ScalarUDF> {
        let inner = self.imp().with_updated_config(config)?;
        Some(Guarded::wrap(
            Arc::new(inner),
            self.growth,
            self.budget.clone(),
        ))
    }
    fn is_strict(&self) -> bool {
        self.imp().is_strict()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let _held = self
            .budget
            .check(self.name(), self.growth, &args.args, args.number_rows)?;
        self.imp().invoke_with_args(args)
    }
    // Not the original's: `concat`'s merges literals into new ones without a guard.
    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Original(args))
    }
    fn short_circuits(&self) -> bool {
        self.imp().short_circuits()
    }
    fn evaluate_bounds(&self, input: &[&Interval]) -> Result<Interval> {
        self.imp().evaluate_bounds(input)
    }
    fn propagate_constraints(
        &self,
        interval: &Interval,
        inputs: &[&Interval],
    ) -> Result<Option<Vec<Interval>>> {
        self.imp().propagate_constraints(interval, inputs)
    }
    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.imp().output_ordering(inputs)
    }
    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.imp().preserves_lex_ordering(inputs)
    }
    fn strictly_order_preserving(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.imp().strictly_order_preserving(inputs)
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.imp().coerce_types(arg_types)
    }
    fn documentation(&self) -> Option<&Documentation> {
        self.imp().documentation()
    }
}

/// The `||` operator as a guarded function: DataFusion evaluates the operator itself, with
/// no hook, and `s || s` doubles a value per level of nesting.
#[derive(Debug)]
pub(crate) struct ConcatOp {
    signature: Signature,
    budget: Arc<Budget>,
}

impl ConcatOp {
    pub(crate) fn udf(budget: Arc<Budget>) -> ScalarUDF {
        ScalarUDF::new_from_impl(ConcatOp {
            signature: Signature::user_defined(Volatility::Immutable),
            budget,
        })
    }
}

impl PartialEq for ConcatOp {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.budget, &other.budget)
    }
}

impl Eq for ConcatOp {}

impl Hash for ConcatOp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        "||".hash(state);
    }
}

impl ScalarUDFImpl for ConcatOp {
    fn name(&self) -> &str {
        "||"
    }
    // The operator's own column name, so that rewriting it changes no schema.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        match args {
            [l, r] => Ok(format!("{} || {}", l.schema_name(), r.schema_name())),
            _ => Ok("||".into()),
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [l, r] = two(arg_types)?;
        let (l, r) = BinaryTypeCoercer::new(l, &Operator::StringConcat, r).get_input_types()?;
        Ok(vec![l, r])
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        let [l, r] = two(arg_types)?;
        BinaryTypeCoercer::new(l, &Operator::StringConcat, r).get_result_type()
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let _held = self
            .budget
            .check("||", Growth::ConcatOp, &args.args, rows)?;
        let out_type = args.return_field.data_type().clone();
        let [l, r] = two(&args.args)?;
        let scalar = matches!((l, r), (ColumnarValue::Scalar(_), ColumnarValue::Scalar(_)));
        let n = if scalar { 1 } else { rows };
        let out = concat_elements_dyn(&l.to_array(n)?, &r.to_array(n)?)?;
        let out = if out.data_type() == &out_type {
            out
        } else {
            cast(&out, &out_type)?
        };
        Ok(if scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&out, 0)?)
        } else {
            ColumnarValue::Array(out)
        })
    }
}

fn two<T>(v: &[T]) -> Result<[&T; 2]> {
    match v {
        [l, r] => Ok([l, r]),
        _ => datafusion::common::plan_err!("|| takes two operands, got {}", v.len()),
    }
}
