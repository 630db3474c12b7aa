//! PostgreSQL's numeric functions where DataFusion lacks them or differs:
//!
//! - `width_bucket(operand, low, high, count)`, the histogram bucket of `operand`
//!   among `count` equal buckets between `low` and `high` (0 below, `count + 1`
//!   above; the bounds may be reversed), as PostgreSQL 15's `width_bucket_float8`
//!   reckons it, with its errors (2201G) for a count that is not positive and equal
//!   bounds;
//! - the scale of `ceil`, `floor`, `trunc` and `round` of a `numeric`
//!   ([`IntegralScales`]): DataFusion keeps the argument's (`ceil(1.5)` is `2.0`,
//!   `trunc(2.567, 1)` is `2.500`), PostgreSQL's is none, or the places asked for
//!   (`2`, `2.5`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, DataFusionError, Result, ScalarValue, plan_err};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility, cast,
};
use datafusion::optimizer::AnalyzerRule;

use crate::error::SqlError;

pub(crate) fn udfs() -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(WidthBucket {
        signature: Signature::user_defined(Volatility::Immutable),
    })]
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct WidthBucket {
    signature: Signature,
}

impl ScalarUDFImpl for WidthBucket {
    fn name(&self) -> &str {
        "width_bucket"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let number = |t: &DataType| t.is_numeric() || t.is_null();
        match args {
            [a, b, c, n]
                if number(a) && number(b) && number(c) && (n.is_integer() || n.is_null()) =>
            {
                Ok(vec![
                    DataType::Float64,
                    DataType::Float64,
                    DataType::Float64,
                    DataType::Int32,
                ])
            }
            _ => {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                plan_err!("function width_bucket({}) does not exist", types.join(", "))
            }
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        let [operand, low, high] = std::array::from_fn(|i| arrays[i].as_primitive::<Float64Type>());
        let count = arrays[3].as_primitive::<Int32Type>();
        let mut out = Vec::with_capacity(operand.len());
        for row in 0..operand.len() {
            if [operand, low, high].iter().any(|a| a.is_null(row)) || count.is_null(row) {
                out.push(None);
                continue;
            }
            let bucket = width_bucket(
                operand.value(row),
                low.value(row),
                high.value(row),
                count.value(row),
            )
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
            out.push(Some(bucket));
        }
        let out: Arc<dyn Array> = Arc::new(Int32Array::from(out));
        super::answer(out, scalar)
    }
}

fn width_bucket(operand: f64, low: f64, high: f64, count: i32) -> Result<i32, SqlError> {
    let invalid = |m: &str| SqlError::InvalidWidthBucket(m.to_owned());
    if count <= 0 {
        return Err(invalid("count must be greater than zero"));
    }
    if operand.is_nan() || low.is_nan() || high.is_nan() {
        return Err(invalid(
            "operand, lower bound, and upper bound cannot be NaN",
        ));
    }
    if !low.is_finite() || !high.is_finite() {
        return Err(invalid("lower and upper bounds must be finite"));
    }
    let buckets = f64::from(count);
    let bucket = if low < high {
        if operand < low {
            0
        } else if operand >= high {
            count.checked_add(1).ok_or(SqlError::IntegerOutOfRange {
                type_name: "integer",
            })?
        } else {
            ((buckets * (operand - low) / (high - low)) as i32 + 1).min(count)
        }
    } else if low > high {
        if operand > low {
            0
        } else if operand <= high {
            count.checked_add(1).ok_or(SqlError::IntegerOutOfRange {
                type_name: "integer",
            })?
        } else {
            ((buckets * (low - operand) / (low - high)) as i32 + 1).min(count)
        }
    } else {
        return Err(invalid("lower bound cannot equal upper bound"));
    };
    Ok(bucket)
}

/// The analyzer rule that gives `ceil`, `floor` and `trunc` of a `numeric`
/// PostgreSQL's scale: none, or `trunc(x, n)`'s and `round(x, n)`'s `n` places where
/// `n` is a constant (PostgreSQL pads: `trunc(2.5, 3)` is `2.500`; a negative `n`
/// leaves none). It runs
/// after type coercion, when the argument's scale is known, and keeps the column's
/// name (`ceil`).
#[derive(Debug, Default)]
pub(crate) struct IntegralScales;

impl AnalyzerRule for IntegralScales {
    fn name(&self) -> &str {
        "tarn_integral_scales"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::casts::rewrite_expressions(plan, &|expr, schema| {
            let Expr::ScalarFunction(call) = &expr else {
                return Ok(Transformed::no(expr));
            };
            let Some(target) = integral_type(call, schema) else {
                return Ok(Transformed::no(expr));
            };
            let Expr::ScalarFunction(mut call) = expr else {
                unreachable!("matched above")
            };
            // DataFusion's ceil, floor and round keep the argument's precision and
            // fail where the result needs one more digit (`ceil(9.5)`, a numeric(2,1)).
            if let DataType::Decimal128(precision, scale) = call.args[0].get_type(schema)?
                && matches!(call.func.name(), "ceil" | "floor" | "round")
                && precision < 38
            {
                let wider = DataType::Decimal128(precision + 1, scale);
                call.args[0] = cast(call.args[0].clone(), wider);
            }
            Ok(Transformed::yes(cast(Expr::ScalarFunction(call), target)))
        })
    }
}

/// The type PostgreSQL's `ceil`, `floor`, `trunc` or `round` of a `numeric` has,
/// where its scale differs from DataFusion's.
fn integral_type(call: &ScalarFunction, schema: &DFSchema) -> Option<DataType> {
    let DataType::Decimal128(precision, scale) = call.args.first()?.get_type(schema).ok()? else {
        return None;
    };
    let whole = (i16::from(precision) - i16::from(scale)).max(1);
    let (whole, places) = match (call.func.name(), call.args.as_slice()) {
        // Rounding up a magnitude can take one more digit (`ceil(9.5)` is 10).
        ("ceil" | "floor" | "round", [_]) => (whole + 1, 0),
        ("trunc", [_]) => (whole, 0),
        ("round" | "trunc", [_, places]) => {
            let places = integer_constant(places)?;
            let whole = whole + i16::from(call.func.name() == "round");
            (whole, places.clamp(0, 38) as i16)
        }
        _ => return None,
    };
    let target = DataType::Decimal128((whole + places).min(38) as u8, places as i8);
    let now = Expr::ScalarFunction(call.clone()).get_type(schema).ok()?;
    (!matches!(now, DataType::Decimal128(_, s) if i16::from(s) == places)).then_some(target)
}

/// The value of an integer literal, under the casts type coercion puts around it
/// (`round(x, 2)`'s `2` is `CAST(Int64(2) AS Int32)`).
fn integer_constant(e: &Expr) -> Option<i64> {
    match e {
        Expr::Cast(c) => integer_constant(&c.expr),
        Expr::TryCast(c) => integer_constant(&c.expr),
        Expr::Literal(value, _) => match value {
            ScalarValue::Int64(Some(n)) => Some(*n),
            ScalarValue::Int32(Some(n)) => Some(i64::from(*n)),
            ScalarValue::Int16(Some(n)) => Some(i64::from(*n)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_counted_as_postgresql_counts_them() {
        // PostgreSQL 15's answers (select width_bucket(...)).
        assert_eq!(width_bucket(5.35, 0.024, 10.06, 5).ok(), Some(3));
        assert_eq!(width_bucket(-1.0, 0.0, 10.0, 5).ok(), Some(0));
        assert_eq!(width_bucket(10.0, 0.0, 10.0, 5).ok(), Some(6));
        assert_eq!(width_bucket(0.0, 0.0, 10.0, 5).ok(), Some(1));
        assert_eq!(width_bucket(9.0, 10.0, 0.0, 5).ok(), Some(1));
        assert_eq!(width_bucket(0.0, 10.0, 0.0, 5).ok(), Some(6));
        assert!(width_bucket(1.0, 0.0, 10.0, 0).is_err());
        assert!(width_bucket(1.0, 3.0, 3.0, 2).is_err());
    }
}
