//! `EXTRACT(field FROM x)` and `date_part('field', x)` as PostgreSQL answers them.
//! DataFusion's `date_part` gives whole seconds (`extract(second from timestamp
//! '... 10:00:05.5')` was `5`, PostgreSQL's `5.500000`) and an integer or a double
//! where PostgreSQL's EXTRACT gives `numeric`:
//!
//! - `second`, `milliseconds`, `microseconds` and `epoch` are computed here from the
//!   microseconds, with their fraction: EXTRACT's numeric has scale 6 for seconds and
//!   epochs (3 for milliseconds, 0 for microseconds and for a date's epoch), as in
//!   PostgreSQL 15 (`1704103205.500000`); an interval's epoch counts a year as 365.25
//!   days and a month as 30, as PostgreSQL does;
//! - other fields are DataFusion's, as a numeric of scale 0 (`2024`).
//!
//! `date_part` answers double precision (`5.5`), as in PostgreSQL. Timestamps with
//! time zone are read in UTC, Tarn's execution zone.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Field, FieldRef, IntervalMonthDayNanoType, IntervalUnit, Time64MicrosecondType,
    TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{self, Expr, Statement};

/// Rewrites `EXTRACT(f FROM x)` into `pg_extract('f', x)` and `date_part('f', x)` into
/// `pg_date_part('f', x)` throughout `statement`.
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        match expr {
            Expr::Extract {
                field, expr: value, ..
            } => {
                let field = field.to_string().to_ascii_lowercase();
                let field = Expr::value(ast::Value::SingleQuotedString(field));
                *expr = super::call("pg_extract", vec![field, *value.clone()]);
            }
            Expr::Function(f) if super::single_value::function_name(f) == "date_part" => {
                let args: Vec<Expr> = super::unnamed_args(f).cloned().collect();
                if args.len() == 2 {
                    *expr = super::call("pg_date_part", args);
                }
            }
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

pub(crate) fn udfs() -> [ScalarUDF; 2] {
    [true, false].map(|numeric| {
        ScalarUDF::new_from_impl(Extract {
            numeric,
            inner: datafusion::functions::datetime::date_part(),
            signature: Signature::user_defined(Volatility::Immutable),
        })
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Extract {
    /// EXTRACT (numeric) rather than date_part (double precision).
    numeric: bool,
    inner: Arc<ScalarUDF>,
    signature: Signature,
}

/// The fields computed here, and the scale of EXTRACT's answer for them.
fn own_scale(field: &str, data_type: &DataType) -> Option<i8> {
    Some(match field {
        "second" | "seconds" => 6,
        "millisecond" | "milliseconds" => 3,
        "microsecond" | "microseconds" => 0,
        "epoch" if matches!(data_type, DataType::Date32 | DataType::Date64) => 0,
        "epoch" => 6,
        _ => return None,
    })
}

fn field_name(args: &ReturnFieldArgs) -> Option<String> {
    match args.scalar_arguments.first() {
        Some(Some(ScalarValue::Utf8(Some(f)) | ScalarValue::Utf8View(Some(f)))) => {
            Some(f.to_ascii_lowercase())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for Extract {
    fn name(&self) -> &str {
        if self.numeric {
            "pg_extract"
        } else {
            "pg_date_part"
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [_, value] => Ok(vec![DataType::Utf8, value.clone()]),
            _ => plan_err!("extract takes a field and a value"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let data_type = if self.numeric {
            let value = args.arg_fields[1].data_type();
            let scale = field_name(&args)
                .and_then(|f| own_scale(&f, value))
                .unwrap_or(0);
            DataType::Decimal128(38, scale)
        } else {
            DataType::Float64
        };
        Ok(Arc::new(Field::new(self.name(), data_type, true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let target = args.return_field.data_type().clone();
        let rows = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let field = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Utf8(Some(f)) | ScalarValue::Utf8View(Some(f))) => {
                f.to_ascii_lowercase()
            }
            _ => return plan_err!("the field of extract must be a constant"),
        };
        let values = args.args[1].to_array(rows)?;
        let seconds = match own_scale(&field, values.data_type()) {
            Some(_) => own_seconds(&field, &values)?,
            None => None,
        };
        let answer: ArrayRef = match seconds {
            // Millionths of the answer, as a decimal of scale 6, then at the
            // answer's scale (exact: the values are whole units of it) or a double.
            Some(millionths) => {
                let exact = datafusion::arrow::array::Decimal128Array::from(
                    millionths
                        .iter()
                        .map(|v| v.map(i128::from))
                        .collect::<Vec<_>>(),
                )
                .with_precision_and_scale(38, 6)?;
                datafusion::arrow::compute::cast(&(Arc::new(exact) as ArrayRef), &target)?
            }
            None => {
                // DataFusion's date_part, told the type it answers for the field.
                let name = ScalarValue::Utf8(Some(field.clone()));
                let scalars = [Some(&name), None];
                let return_field = self.inner.return_field_from_args(ReturnFieldArgs {
                    arg_fields: &args.arg_fields,
                    scalar_arguments: &scalars,
                })?;
                let inner = self
                    .inner
                    .invoke_with_args(ScalarFunctionArgs {
                        return_field,
                        ..args
                    })?
                    .into_array(rows)?;
                datafusion::arrow::compute::cast(&inner, &target)?
            }
        };
        super::answer(answer, scalar)
    }
}

/// For `second`, `milliseconds`, `microseconds` and `epoch`: each value's answer in
/// millionths (seconds with their fraction times 10^6, milliseconds times 10^6, ...),
/// or `None` for a type left to DataFusion.
fn own_seconds(
    field: &str,
    values: &ArrayRef,
) -> Result<Option<datafusion::arrow::array::Int64Array>> {
    const MINUTE: i64 = 60_000_000;
    // Microseconds per unit of the answer.
    let unit = match field {
        "millisecond" | "milliseconds" => 1_000,
        "microsecond" | "microseconds" => 1,
        _ => 1_000_000,
    };
    // Microseconds (since the epoch, or of a time of day) in millionths of the answer.
    let of = |micros: i64| -> i64 {
        let within = if field == "epoch" {
            micros
        } else {
            micros.rem_euclid(MINUTE)
        };
        within * (1_000_000 / unit)
    };
    let timestamps = |values: &ArrayRef| -> Result<datafusion::arrow::array::Int64Array> {
        let micros = datafusion::arrow::compute::cast(
            values,
            &DataType::Timestamp(TimeUnit::Microsecond, None),
        )?;
        Ok(micros
            .as_primitive::<TimestampMicrosecondType>()
            .iter()
            .map(|v| v.map(of))
            .collect())
    };
    Ok(Some(match values.data_type() {
        DataType::Timestamp(..) => timestamps(values)?,
        DataType::Date32 | DataType::Date64 if field == "epoch" => timestamps(values)?,
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros =
                datafusion::arrow::compute::cast(values, &DataType::Time64(TimeUnit::Microsecond))?;
            micros
                .as_primitive::<Time64MicrosecondType>()
                .iter()
                .map(|v| v.map(of))
                .collect()
        }
        DataType::Interval(_) => {
            let intervals = datafusion::arrow::compute::cast(
                values,
                &DataType::Interval(IntervalUnit::MonthDayNano),
            )?;
            intervals
                .as_primitive::<IntervalMonthDayNanoType>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        let time = v.nanoseconds / 1_000;
                        if field == "epoch" {
                            // PostgreSQL: a year of 365.25 days, a month of 30.
                            let seconds = (v.months / 12) as i64 * 31_557_600
                                + (v.months % 12) as i64 * 2_592_000
                                + v.days as i64 * 86_400;
                            seconds * 1_000_000 + time
                        } else {
                            of(time)
                        }
                    })
                })
                .collect()
        }
        _ => return Ok(None),
    }))
}
