//! `n * interval '1 hour'` and `interval '1 day' * n` (also `/ n`), which PostgreSQL
//! has and DataFusion refuses at planning ("Invalid interval arithmetic operation").
//! Where one side of `*` or `/` is written as an interval (a literal, or a cast to
//! `interval`), the product becomes `pg_interval_mul(interval, factor)`, computed as
//! PostgreSQL does: fractions of months carry into days (30 a month) and fractions of
//! days into time (24 hours a day).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType as SqlType, Expr, Statement, Value, visit_expressions_mut,
};

const NAME: &str = "pg_interval_mul";

/// Rewrites interval products in `statement` (see the module documentation).
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::BinaryOp { left, op, right } = expr
            && matches!(op, BinaryOperator::Multiply | BinaryOperator::Divide)
        {
            let divide = *op == BinaryOperator::Divide;
            let (interval, factor) = if is_interval(left) {
                ((**left).clone(), (**right).clone())
            } else if is_interval(right) && !divide {
                ((**right).clone(), (**left).clone())
            } else {
                return ControlFlow::<()>::Continue(());
            };
            // The factor as double precision (the function's signature is exact), and
            // its inverse computed so, not as a numeric quotient of a few places.
            let double = |expr: Expr| Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(expr),
                data_type: SqlType::DoublePrecision,
                array: false,
                format: None,
            };
            let factor = if divide {
                Expr::BinaryOp {
                    left: Box::new(double(Expr::Value(
                        Value::Number("1".to_owned(), false).into(),
                    ))),
                    op: BinaryOperator::Divide,
                    right: Box::new(double(factor)),
                }
            } else {
                double(factor)
            };
            *expr = call(interval, factor);
        }
        ControlFlow::Continue(())
    });
}

fn is_interval(expr: &Expr) -> bool {
    match expr {
        Expr::Interval(_) => true,
        Expr::Cast {
            data_type: SqlType::Interval { .. },
            kind: CastKind::Cast | CastKind::DoubleColon,
            ..
        } => true,
        Expr::TypedString(typed) => matches!(typed.data_type, SqlType::Interval { .. }),
        Expr::Nested(inner) => is_interval(inner),
        Expr::Function(f) => f.name.to_string().eq_ignore_ascii_case(NAME),
        _ => false,
    }
}

fn call(interval: Expr, factor: Expr) -> Expr {
    super::call(NAME, vec![interval, factor])
}

pub(crate) fn udf() -> ScalarUDF {
    let interval = DataType::Interval(IntervalUnit::MonthDayNano);
    ScalarUDF::new_from_impl(IntervalMul {
        signature: Signature::one_of(
            vec![TypeSignature::Exact(vec![interval, DataType::Float64])],
            Volatility::Immutable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct IntervalMul {
    signature: Signature,
}

impl ScalarUDFImpl for IntervalMul {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Interval(IntervalUnit::MonthDayNano))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let intervals = args.args[0].to_array(rows)?;
        let factors = args.args[1].to_array(rows)?;
        let intervals =
            intervals.as_primitive::<datafusion::arrow::datatypes::IntervalMonthDayNanoType>();
        let factors = factors.as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let out: IntervalMonthDayNanoArray = (0..rows)
            .map(|i| {
                (!intervals.is_null(i) && !factors.is_null(i))
                    .then(|| multiply(intervals.value(i), factors.value(i)))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

const NANOS_PER_DAY: f64 = 86_400_000_000_000.0;

/// PostgreSQL's interval_mul: whole months, the fraction carried into days (30 per
/// month), whole days, the fraction carried into time.
fn multiply(v: IntervalMonthDayNano, factor: f64) -> IntervalMonthDayNano {
    let months = f64::from(v.months) * factor;
    let whole_months = months.trunc();
    let days = f64::from(v.days) * factor + (months - whole_months) * 30.0;
    let whole_days = days.trunc();
    let nanos = v.nanoseconds as f64 * factor + (days - whole_days) * NANOS_PER_DAY;
    // Microsecond precision, as PostgreSQL keeps intervals.
    let nanos = (nanos / 1_000.0).round() * 1_000.0;
    IntervalMonthDayNano::new(whole_months as i32, whole_days as i32, nanos as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplies_as_postgres_does() {
        let hour = 3_600_000_000_000i64;
        // select 3 * interval '1 hour'  -> 03:00:00
        assert_eq!(
            multiply(IntervalMonthDayNano::new(0, 0, hour), 3.0),
            IntervalMonthDayNano::new(0, 0, 3 * hour)
        );
        // select interval '1 month' * 1.5  -> 1 mon 15 days
        assert_eq!(
            multiply(IntervalMonthDayNano::new(1, 0, 0), 1.5),
            IntervalMonthDayNano::new(1, 15, 0)
        );
        // select interval '1 day' / 4  -> 06:00:00
        assert_eq!(
            multiply(IntervalMonthDayNano::new(0, 1, 0), 0.25),
            IntervalMonthDayNano::new(0, 0, 6 * hour)
        );
    }
}
