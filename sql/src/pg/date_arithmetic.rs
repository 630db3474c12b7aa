//! `date ± interval` is a `timestamp` in PostgreSQL (`date '2024-01-01' - interval '1
//! hour'` is `2023-12-31 23:00:00`); DataFusion answers a date, dropping the
//! interval's time of day (`2024-01-01`: a wrong value, silently).
//!
//! Before type coercion, this analyzer rule casts the date to `timestamp` where the
//! difference can show: in a select list (where the answer's type is what the client
//! sees) and wherever the interval has a time of day or is not a constant. A
//! constant interval of whole days, months or years, compared or joined on (TPC-H's
//! `l_shipdate < date '1994-01-01' + interval '1' year`), gives the same rows either
//! way, and stays a date, so the comparison still prunes by the column's statistics.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::BinaryExpr;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::AnalyzerRule;

#[derive(Debug, Default)]
pub(crate) struct DateArithmetic;

impl AnalyzerRule for DateArithmetic {
    fn name(&self) -> &str {
        "tarn_date_arithmetic"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let listed = matches!(plan, LogicalPlan::Projection(_));
            let schema = datafusion::logical_expr::utils::merge_schema(&plan.inputs());
            let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                expr.transform_up(|expr| as_timestamps(expr, &schema, listed))
                    .map(|t| t.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

fn as_timestamps(expr: Expr, schema: &DFSchema, listed: bool) -> Result<Transformed<Expr>> {
    if let Expr::ScalarFunction(call) = &expr
        && call.name() == "generate_series"
    {
        return series_of_dates(expr, schema);
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    let kind = |e: &Expr| e.get_type(schema).ok();
    let (date, interval, date_left) = match (op, kind(left), kind(right)) {
        (
            Operator::Plus | Operator::Minus,
            Some(DataType::Date32 | DataType::Date64),
            Some(DataType::Interval(_)),
        ) => (left, right, true),
        (
            Operator::Plus,
            Some(DataType::Interval(_)),
            Some(DataType::Date32 | DataType::Date64),
        ) => (right, left, false),
        _ => return Ok(Transformed::no(expr)),
    };
    if !listed && whole_days(interval) {
        return Ok(Transformed::no(expr));
    }
    let timestamp = Expr::Cast(Cast::new(
        date.clone(),
        DataType::Timestamp(TimeUnit::Microsecond, None),
    ));
    let (left, right) = match date_left {
        true => (timestamp, interval.as_ref().clone()),
        false => (interval.as_ref().clone(), timestamp),
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        *op,
        Box::new(right),
    ))))
}

/// `generate_series(date, date, interval)` is a series of `timestamp with time zone`
/// in PostgreSQL, which has no date form and converts dates to its preferred datetime
/// type; DataFusion answers dates (dropping a step's time of day). Dates written as
/// literals are cast before planning (`series::temporal_arguments`); this finds those
/// whose type only the plan knows (`generate_series(r.start_date, r.end_date, '1
/// day')` over a table's columns).
fn series_of_dates(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(mut call) = expr else {
        return Ok(Transformed::no(expr));
    };
    let kinds: Vec<Option<DataType>> = call.args.iter().map(|e| e.get_type(schema).ok()).collect();
    let dates = |k: &Option<DataType>| matches!(k, Some(DataType::Date32 | DataType::Date64));
    let [start, stop, Some(DataType::Interval(_))] = kinds.as_slice() else {
        return Ok(Transformed::no(Expr::ScalarFunction(call)));
    };
    if !dates(start) && !dates(stop) {
        return Ok(Transformed::no(Expr::ScalarFunction(call)));
    }
    for bound in &mut call.args[..2] {
        *bound = Expr::Cast(Cast::new(
            Box::new(bound.clone()),
            super::at_zone::instant_type(),
        ));
    }
    Ok(Transformed::yes(Expr::ScalarFunction(call)))
}

/// Whether `interval` is a constant without a time of day.
fn whole_days(interval: &Expr) -> bool {
    match interval {
        Expr::Literal(ScalarValue::IntervalYearMonth(Some(_)), _) => true,
        Expr::Literal(ScalarValue::IntervalDayTime(Some(v)), _) => v.milliseconds == 0,
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(v)), _) => v.nanoseconds == 0,
        _ => false,
    }
}

pub(crate) fn rule() -> Arc<dyn AnalyzerRule + Send + Sync> {
    Arc::new(DateArithmetic)
}
