//! Numeric literals and division as PostgreSQL's `numeric`.
//!
//! In PostgreSQL a literal with a decimal point or an exponent (`0.1`, `1.5e-3`) is
//! `numeric`, exact: `select 0.1 + 0.2` is `0.3`. DataFusion reads such literals as
//! double precision unless `sql_parser.parse_float_as_decimal` is on (Tarn turns it
//! on by default, see `session::initial_state`), and then reads an exponent as a
//! negative scale (`1e3` as 1 with scale -3), which neither the wire nor a Delta
//! table can carry. [`exponent_literals`] writes such literals out in positional
//! notation first, with PostgreSQL's display scale (`1.50e1` is `15.0`); one that
//! does not fit a 38-digit decimal stays double precision.
//!
//! Before type coercion, [`PgNumeric`] makes two of DataFusion's numeric rules
//! PostgreSQL's:
//!
//! - where a float and a numeric meet (`float_col > 0.5`, `coalesce(f, 0.0)`, a
//!   `UNION` column), the numeric becomes double precision, as PostgreSQL casts it;
//!   DataFusion casts the float to a decimal, which fails for floats beyond the
//!   decimal's range and costs a cast per row (see [`floats_over_numerics`] and
//!   [`union_floats_over_numerics`]; not yet across `VALUES` rows, whose types
//!   DataFusion's SQL planner settles before any analyzer rule);
//! - DataFusion's decimal division gives the dividend's scale plus 4 (`1 / 3.0` is
//!   `0.3333`); PostgreSQL's gives at least 16 significant digits
//!   (`0.33333333333333333333`). A decimal (or integer) dividend is cast to scale 12,
//!   where its integer digits leave room, so that a quotient has 16 decimal places:
//!   PostgreSQL's exact text for quotients from 1 to 9999, and 16 correct places for
//!   the others.
//! - `avg` of integers is `numeric` in PostgreSQL (their sum divided by their count,
//!   as numeric division), double precision in DataFusion (`1.5` where PostgreSQL
//!   prints `1.5000000000000000`): its argument is cast to a decimal of scale 12, so
//!   the average is a decimal with 16 places (DataFusion's average adds 4), as the
//!   quotients above ([`integer_average`]), also over a window.
//!
//! Quotients and averages keep DataFusion's truncation of the 16th place where
//! PostgreSQL rounds it (`11 / 3.0` is `3.6666666666666666`, PostgreSQL's
//! `3.6666666666666667`): rounding them (a `round` around the quotient, a projection
//! rounding an average above its aggregation) broke DataFusion's decorrelation of
//! scalar subqueries, whose comparisons then failed on mismatched scales.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::error::Result;
use datafusion::logical_expr::expr::{BinaryExpr, Cast};
use datafusion::logical_expr::{
    Expr, ExprSchemable, LogicalPlan, Operator, Projection, Union, WindowFunctionDefinition,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast::{
    self, CastKind, DataType as SqlType, Statement, Value, visit_expressions_mut,
};

/// The largest precision of a decimal literal (Arrow's `Decimal128`).
const MAX_PRECISION: usize = 38;

/// The scale a decimal dividend is given (see the module documentation): quotients
/// then have this scale plus DataFusion's 4.
const DIVIDEND_SCALE: i8 = 12;

/// Writes numeric literals with an exponent in positional notation (see the module
/// documentation); those that do not fit become double precision casts of their text.
pub(crate) fn exponent_literals(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let ast::Expr::Value(v) = expr
            && let Value::Number(text, long) = &v.value
            && text.contains(['e', 'E'])
        {
            *expr = match positional(text) {
                Some(plain) => ast::Expr::value(Value::Number(plain, *long)),
                None => ast::Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(ast::Expr::value(Value::SingleQuotedString(text.clone()))),
                    data_type: SqlType::DoublePrecision,
                    array: false,
                    format: None,
                },
            };
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `text` (digits, an optional point, an exponent) in positional notation with
/// PostgreSQL's display scale (the fraction's digits less the exponent, at least 0),
/// or `None` if that takes more than [`MAX_PRECISION`] digits.
fn positional(text: &str) -> Option<String> {
    let (mantissa, exponent) = text.split_once(['e', 'E'])?;
    let exponent: i64 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if !(whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit()))
        || whole.is_empty() && fraction.is_empty()
    {
        return None;
    }
    let scale = (fraction.len() as i64 - exponent).max(0);
    // The point moves `exponent` places to the right of where it was.
    let point = whole.len() as i64 + exponent;
    let digits = format!("{whole}{fraction}");
    let width = point.max(1) + scale;
    if width > MAX_PRECISION as i64 + 1 || scale > MAX_PRECISION as i64 {
        return None;
    }
    // Every digit at its place: `point` digits before the point, `scale` after.
    let at = |place: i64| -> char {
        usize::try_from(place)
            .ok()
            .and_then(|i| digits.as_bytes().get(i))
            .map_or('0', |&b| b as char)
    };
    let mut integer: String = (0..point.max(0)).map(at).collect();
    let trimmed = integer.trim_start_matches('0').len();
    integer.drain(..integer.len() - trimmed);
    if integer.len() as i64 + scale > MAX_PRECISION as i64 {
        return None;
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let fraction: String = (point..point + scale).map(at).collect();
    Some(if fraction.is_empty() {
        integer
    } else {
        format!("{integer}.{fraction}")
    })
}

/// The analyzer rule (see the module documentation); it runs before type coercion.
#[derive(Debug, Default)]
pub(crate) struct PgNumeric;

impl AnalyzerRule for PgNumeric {
    fn name(&self) -> &str {
        "tarn_numeric"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = plan
            .transform_up_with_subqueries(union_floats_over_numerics)?
            .data;
        // Type coercion, next, recomputes the plans' schemas for the new types.
        super::casts::rewrite_expressions(plan, &|expr, schema| {
            let expr = integer_average(expr, schema)?;
            if expr.transformed {
                return Ok(expr);
            }
            let expr = floats_over_numerics(expr.data, schema)?;
            if expr.transformed {
                return Ok(expr);
            }
            wider_dividend(expr.data, schema)
        })
    }
}

/// Where a float and a numeric meet (an operator, `BETWEEN`, `IN`, the results of a
/// `CASE`, the values `coalesce`, `nullif`, `greatest`, `least` or an `ARRAY[...]`
/// choose from), the numeric as double precision, as PostgreSQL casts it. DataFusion
/// casts the float to a decimal instead, which fails for a float beyond the decimal's
/// range (`float_col > 0.5` with a value of 1e300) and costs a cast per row.
fn floats_over_numerics(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let kind = |e: &Expr| match e.get_type(schema) {
        Ok(t) if t.is_floating() => Some(true),
        Ok(t) if t.is_decimal() => Some(false),
        _ => None,
    };
    // The group's decimals as doubles, if the group mixes floats and decimals.
    let unify = |group: Vec<&mut Expr>| -> bool {
        let kinds: Vec<Option<bool>> = group.iter().map(|e| kind(e)).collect();
        if !(kinds.contains(&Some(true)) && kinds.contains(&Some(false))) {
            return false;
        }
        for (e, k) in group.into_iter().zip(kinds) {
            if k == Some(false) {
                let decimal = std::mem::replace(e, Expr::Literal(ScalarValue::Null, None));
                *e = Expr::Cast(Cast::new(Box::new(decimal), DataType::Float64));
            }
        }
        true
    };
    let mut expr = expr;
    let changed = match &mut expr {
        // Arithmetic and comparisons (not `||`, where each side becomes its own text).
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if op.is_numerical_operators()
                || matches!(
                    op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::Lt
                        | Operator::LtEq
                        | Operator::Gt
                        | Operator::GtEq
                        | Operator::IsDistinctFrom
                        | Operator::IsNotDistinctFrom
                ) =>
        {
            unify(vec![left, right])
        }
        Expr::Between(between) => {
            unify(vec![&mut between.expr, &mut between.low, &mut between.high])
        }
        Expr::InList(in_list) => unify(
            std::iter::once(in_list.expr.as_mut())
                .chain(in_list.list.iter_mut())
                .collect(),
        ),
        Expr::Case(case) => {
            let results = unify(
                case.when_then_expr
                    .iter_mut()
                    .map(|(_, then)| then.as_mut())
                    .chain(case.else_expr.as_deref_mut())
                    .collect(),
            );
            let tests = match case.expr.as_deref_mut() {
                Some(operand) => unify(
                    std::iter::once(operand)
                        .chain(
                            case.when_then_expr
                                .iter_mut()
                                .map(|(when, _)| when.as_mut()),
                        )
                        .collect(),
                ),
                None => false,
            };
            results || tests
        }
        Expr::ScalarFunction(f)
            if matches!(
                f.name(),
                "coalesce" | "nullif" | "greatest" | "least" | "make_array" | "nvl"
            ) =>
        {
            unify(f.args.iter_mut().collect())
        }
        _ => false,
    };
    Ok(if changed {
        Transformed::yes(expr)
    } else {
        Transformed::no(expr)
    })
}

/// A `UNION` whose inputs give one column a float in some and a numeric in others,
/// with those numerics cast to double precision, as PostgreSQL resolves the column's
/// type (DataFusion makes it a decimal, casting the floats).
fn union_floats_over_numerics(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let LogicalPlan::Union(union) = &plan else {
        return Ok(Transformed::no(plan));
    };
    let width = union.schema.fields().len();
    let to_float: Vec<bool> = (0..width)
        .map(|i| {
            let types = || {
                union
                    .inputs
                    .iter()
                    .filter_map(move |input| input.schema().fields().get(i))
                    .map(|f| f.data_type())
            };
            types().any(DataType::is_floating) && types().any(DataType::is_decimal)
        })
        .collect();
    if !to_float.contains(&true) {
        return Ok(Transformed::no(plan));
    }
    let inputs = union
        .inputs
        .iter()
        .map(|input| {
            let schema = input.schema();
            let casts = schema
                .iter()
                .enumerate()
                .any(|(i, (_, f))| to_float[i] && f.data_type().is_decimal());
            if !casts {
                return Ok(Arc::clone(input));
            }
            let columns = schema
                .iter()
                .enumerate()
                .map(|(i, (qualifier, field))| {
                    let column = Expr::Column(Column::from((qualifier, field)));
                    if to_float[i] && field.data_type().is_decimal() {
                        Expr::Cast(Cast::new(Box::new(column), DataType::Float64))
                            .alias(field.name())
                    } else {
                        column
                    }
                })
                .collect();
            Ok(Arc::new(LogicalPlan::Projection(Projection::try_new(
                columns,
                Arc::clone(input),
            )?)))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Transformed::yes(LogicalPlan::Union(
        Union::try_new_with_loose_types(inputs)?,
    )))
}

/// `avg(integer)` over the integers as decimals of scale [`DIVIDEND_SCALE`]: a
/// numeric average with 16 places (see the module documentation).
fn integer_average(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let (name, args) = match &expr {
        Expr::AggregateFunction(aggregate) => (aggregate.func.name(), &aggregate.params.args),
        // The same over a window (`avg(x) OVER (PARTITION BY g)`).
        Expr::WindowFunction(window) => match &window.fun {
            WindowFunctionDefinition::AggregateUDF(udf) => (udf.name(), &window.params.args),
            WindowFunctionDefinition::WindowUDF(_) => return Ok(Transformed::no(expr)),
        },
        _ => return Ok(Transformed::no(expr)),
    };
    let [argument] = args.as_slice() else {
        return Ok(Transformed::no(expr));
    };
    if !name.eq_ignore_ascii_case("avg") {
        return Ok(Transformed::no(expr));
    }
    let Ok(data_type) = argument.get_type(schema) else {
        return Ok(Transformed::no(expr));
    };
    if !data_type.is_integer() {
        return Ok(Transformed::no(expr));
    }
    let Some((digits, _)) = as_decimal(&data_type) else {
        return Ok(Transformed::no(expr));
    };
    let decimal = Expr::Cast(Cast::new(
        Box::new(argument.clone()),
        DataType::Decimal128(digits + DIVIDEND_SCALE as u8, DIVIDEND_SCALE),
    ));
    Ok(Transformed::yes(match expr {
        Expr::AggregateFunction(mut aggregate) => {
            aggregate.params.args = vec![decimal];
            Expr::AggregateFunction(aggregate)
        }
        Expr::WindowFunction(mut window) => {
            window.params.args = vec![decimal];
            Expr::WindowFunction(window)
        }
        other => other,
    }))
}

/// A division of numerics with its dividend at [`DIVIDEND_SCALE`] (see the module
/// documentation).
fn wider_dividend(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr {
        left,
        op: Operator::Divide,
        right,
    }) = &expr
    else {
        return Ok(Transformed::no(expr));
    };
    let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) else {
        return Ok(Transformed::no(expr));
    };
    let decimal = matches!(l, DataType::Decimal128(..)) || matches!(r, DataType::Decimal128(..));
    let Some((precision, scale)) = decimal
        .then(|| as_decimal(&l))
        .flatten()
        .filter(|_| as_decimal(&r).is_some())
    else {
        return Ok(Transformed::no(expr));
    };
    let integer_digits = precision as i8 - scale;
    let wider = DIVIDEND_SCALE.min(MAX_PRECISION as i8 - integer_digits);
    if wider <= scale {
        return Ok(Transformed::no(expr));
    }
    let dividend = Expr::Cast(Cast::new(
        left.clone(),
        DataType::Decimal128((integer_digits + wider) as u8, wider),
    ));
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(dividend),
        Operator::Divide,
        right.clone(),
    ))))
}

/// The precision and scale of `data_type` as a 128-bit decimal: a decimal's own, or an
/// integer's as DataFusion coerces it for decimal arithmetic.
fn as_decimal(data_type: &DataType) -> Option<(u8, i8)> {
    use DataType as T;
    Some(match data_type {
        T::Decimal128(p, s) => (*p, *s),
        T::Int8 | T::UInt8 => (3, 0),
        T::Int16 | T::UInt16 => (5, 0),
        T::Int32 | T::UInt32 => (10, 0),
        T::Int64 => (20, 0),
        T::UInt64 => (20, 0),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::positional;

    #[test]
    fn exponents_in_positional_notation_with_postgres_scale() {
        // Each as PostgreSQL 15 prints `select <literal>`.
        for (literal, postgres) in [
            ("1e3", "1000"),
            ("1E3", "1000"),
            ("1.5e-3", "0.0015"),
            ("2.5e10", "25000000000"),
            ("1.50e1", "15.0"),
            ("12.345e1", "123.45"),
            (".5e1", "5"),
            ("5.e-1", "0.5"),
            ("0e0", "0"),
            ("1.0e0", "1.0"),
            ("007e+2", "700"),
            ("1e-38", "0.00000000000000000000000000000000000001"),
        ] {
            assert_eq!(positional(literal).as_deref(), Some(postgres), "{literal}");
        }
        // Beyond 38 digits: left to double precision.
        for literal in ["1e38", "1e-39", "1e400", "1.5e-38", "x1e3", "1e3.5"] {
            assert_eq!(positional(literal), None, "{literal}");
        }
    }
}
