//! PostgreSQL's numeric functions DataFusion lacks: `width_bucket(operand, low, high,
//! count)`, the histogram bucket of `operand` among `count` equal buckets between
//! `low` and `high` (0 below, `count + 1` above; the bounds may be reversed), as
//! PostgreSQL 15's `width_bucket_float8` reckons it, with its errors (2201G) for a
//! count that is not positive and equal bounds.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Float64Type, Int32Type};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

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
