//! Integer arithmetic that fails on overflow, as PostgreSQL's does.
//!
//! PostgreSQL refuses `2147483647::int + 1` with 22003 `integer out of range`;
//! DataFusion's `+`, `-` and `*` on integers wrap around unless the physical
//! expression is built with `fail_on_overflow`, which its planner never asks for (there
//! is no setting), and its unary minus always wraps (`-a` of `-2147483648` is
//! `-2147483648`). So after type coercion, when both operands are the same integer
//! type, this analyzer rule plans the three operators, and unary minus of an integer,
//! as functions that use Arrow's checked kernels, keeping the operators' output names.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr::{BinaryExpr, ScalarFunction};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, Operator, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

use crate::error::SqlError;

/// The analyzer rule (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct CheckedIntegers;

impl AnalyzerRule for CheckedIntegers {
    fn name(&self) -> &str {
        "tarn_checked_integers"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        super::casts::rewrite_expressions(plan, &|expr, schema| {
            if let Expr::Negative(operand) = &expr {
                let integer = operand
                    .get_type(schema)
                    .is_ok_and(|t| type_name(&t).is_some());
                if !integer {
                    return Ok(Transformed::no(expr));
                }
                let udf = ScalarUDF::new_from_impl(Negated {
                    signature: Signature::any(1, Volatility::Immutable),
                });
                return Ok(Transformed::yes(Expr::ScalarFunction(
                    ScalarFunction::new_udf(Arc::new(udf), vec![(**operand).clone()]),
                )));
            }
            let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
                return Ok(Transformed::no(expr));
            };
            if !matches!(op, Operator::Plus | Operator::Minus | Operator::Multiply) {
                return Ok(Transformed::no(expr));
            }
            let (Ok(l), Ok(r)) = (left.get_type(schema), right.get_type(schema)) else {
                return Ok(Transformed::no(expr));
            };
            if l != r || type_name(&l).is_none() {
                return Ok(Transformed::no(expr));
            }
            let udf = ScalarUDF::new_from_impl(Checked {
                op: *op,
                signature: Signature::any(2, Volatility::Immutable),
            });
            Ok(Transformed::yes(Expr::ScalarFunction(
                ScalarFunction::new_udf(Arc::new(udf), vec![(**left).clone(), (**right).clone()]),
            )))
        })
    }
}

/// PostgreSQL's name of an integer type, as its overflow errors say it.
fn type_name(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Int16 | DataType::Int8 => "smallint",
        DataType::Int32 => "integer",
        DataType::Int64 => "bigint",
        _ => return None,
    })
}

/// `a + b`, `a - b` or `a * b` of one integer type, refused with
/// [`SqlError::IntegerOutOfRange`] where the answer does not fit.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Checked {
    op: Operator,
    signature: Signature,
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        match self.op {
            Operator::Plus => "pg_int_add",
            Operator::Minus => "pg_int_sub",
            _ => "pg_int_mul",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    /// Named as the operator is (`a + b`), so plans read as before.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(format!(
            "{} {} {}",
            args[0].schema_name(),
            self.op,
            args[1].schema_name()
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::compute::kernels::numeric;
        let data_type = args.return_field.data_type().clone();
        let kernel = match self.op {
            Operator::Plus => numeric::add,
            Operator::Minus => numeric::sub,
            _ => numeric::mul,
        };
        datafusion::physical_expr_common::datum::apply(&args.args[0], &args.args[1], kernel)
            .map_err(|e| out_of_range(e, &data_type))
    }
}

/// An overflow in Arrow's checked kernels as PostgreSQL's 22003 for `data_type`.
fn out_of_range(e: DataFusionError, data_type: &DataType) -> DataFusionError {
    match e {
        DataFusionError::ArrowError(err, _)
            if matches!(*err, ArrowError::ArithmeticOverflow(_)) =>
        {
            DataFusionError::External(Box::new(SqlError::IntegerOutOfRange {
                type_name: type_name(data_type).unwrap_or("integer"),
            }))
        }
        e => e,
    }
}

/// `-a` of an integer, refused with [`SqlError::IntegerOutOfRange`] for the type's
/// smallest value, whose negation does not fit.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Negated {
    signature: Signature,
}

impl ScalarUDFImpl for Negated {
    fn name(&self) -> &str {
        "pg_int_neg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    /// Named as DataFusion names the operator (`(- a)`), so plans read as before.
    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        Ok(format!("(- {})", args[0].schema_name()))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::compute::kernels::numeric;
        let data_type = args.return_field.data_type().clone();
        let negate = |array: &dyn datafusion::arrow::array::Array| {
            numeric::neg(array).map_err(|e| out_of_range(e.into(), &data_type))
        };
        Ok(match &args.args[0] {
            ColumnarValue::Array(array) => ColumnarValue::Array(negate(array.as_ref())?),
            ColumnarValue::Scalar(scalar) => {
                let array = negate(scalar.to_array()?.as_ref())?;
                ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&array, 0)?)
            }
        })
    }
}

/// Integer literals typed `integer`, as PostgreSQL types a literal that fits, where
/// they meet `integer` or `smallint` operands (or only each other): in arithmetic
/// (`int_col + 1` and `$1::int + 1` are `integer`, and overflow as `integer` does), and
/// among the values that `coalesce`, `nullif`, `greatest`, `least` and a `CASE`'s
/// results choose from (`coalesce(int_col, 0)` is `integer`), where DataFusion makes
/// every integer literal a `bigint` and the whole expression with it. Run on the plan as
/// planned, before type coercion, so that the plan's schemas (recomputed here) carry
/// the types clients are described.
pub(crate) fn integer_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::expr::Case;
    use std::sync::atomic::{AtomicBool, Ordering};
    let changed = AtomicBool::new(false);
    let plan = super::casts::rewrite_expressions(plan, &|expr, schema| {
        let narrowed = match expr {
            Expr::BinaryExpr(BinaryExpr {
                mut left,
                op:
                    op @ (Operator::Plus
                    | Operator::Minus
                    | Operator::Multiply
                    | Operator::Divide
                    | Operator::Modulo),
                mut right,
            }) => {
                let mut operands = [left.as_mut(), right.as_mut()];
                let narrowed = narrow(&mut operands, schema);
                (Expr::BinaryExpr(BinaryExpr { left, op, right }), narrowed)
            }
            Expr::ScalarFunction(mut call)
                if matches!(
                    call.func.name(),
                    "coalesce" | "nullif" | "greatest" | "least"
                ) =>
            {
                let mut operands: Vec<&mut Expr> = call.args.iter_mut().collect();
                let narrowed = narrow(&mut operands, schema);
                (Expr::ScalarFunction(call), narrowed)
            }
            Expr::Case(mut case) => {
                let Case {
                    when_then_expr,
                    else_expr,
                    ..
                } = &mut case;
                let mut operands: Vec<&mut Expr> = when_then_expr
                    .iter_mut()
                    .map(|(_, then)| then.as_mut())
                    .chain(else_expr.as_deref_mut())
                    .collect();
                let narrowed = narrow(&mut operands, schema);
                (Expr::Case(case), narrowed)
            }
            expr => (expr, false),
        };
        let (expr, narrowed) = narrowed;
        if narrowed {
            changed.store(true, Ordering::Relaxed);
        }
        Ok(Transformed::new_transformed(expr, narrowed))
    })?;
    if !changed.load(Ordering::Relaxed) {
        return Ok(plan);
    }
    // A node whose expressions kept their types may still read a column whose type
    // changed below it.
    plan.transform_up_with_subqueries(|plan| plan.recompute_schema().map(Transformed::yes))
        .map(|t| t.data)
}

/// Makes the `bigint` literals among `operands` (values that take one common type)
/// `integer` literals, if every one fits and every other operand is an `integer`,
/// `smallint` or untyped NULL: the common type is then `integer`, as in PostgreSQL.
/// Whether any literal changed.
fn narrow(operands: &mut [&mut Expr], schema: &datafusion::common::DFSchema) -> bool {
    let small = |e: &Expr| {
        e.get_type(schema).is_ok_and(|t| {
            matches!(
                t,
                DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::Null
            )
        })
    };
    let narrowed: Vec<Option<Expr>> = operands.iter().map(|e| as_integer(e)).collect();
    // A bigint literal that does not fit is not narrowed and, being bigint, keeps the
    // whole expression bigint.
    let others_small = operands
        .iter()
        .zip(&narrowed)
        .all(|(e, n)| n.is_some() || small(e));
    if narrowed.iter().all(Option::is_none) || !others_small {
        return false;
    }
    for (operand, narrowed) in operands.iter_mut().zip(narrowed) {
        if let Some(literal) = narrowed {
            **operand = literal;
        }
    }
    true
}

/// `e` as an `integer` literal, if it is a `bigint` literal (or its negation) that fits.
fn as_integer(e: &Expr) -> Option<Expr> {
    use datafusion::scalar::ScalarValue;
    let value = match e {
        Expr::Literal(ScalarValue::Int64(Some(v)), _) => *v,
        Expr::Negative(inner) => match inner.as_ref() {
            Expr::Literal(ScalarValue::Int64(Some(v)), _) => v.checked_neg()?,
            _ => return None,
        },
        _ => return None,
    };
    let value = i32::try_from(value).ok()?;
    Some(Expr::Literal(ScalarValue::Int32(Some(value)), None))
}

/// `sum` of a `bigint` is `numeric`, as in PostgreSQL, so that it neither wraps nor
/// fails past bigint's range: DataFusion sums an Int64 into an Int64 that wraps around
/// (two bigint maxima summed to `-2`). The argument is cast to a 38-digit decimal,
/// whose sum DataFusion keeps at 38 digits, beyond any total of 2^63 bigints. Run on
/// the plan as planned, as [`integer_literals`] is, so clients are told `numeric`.
/// (`sum` of `integer` and `smallint` is already `bigint`, as in PostgreSQL.)
pub(crate) fn numeric_sums(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::expr::{AggregateFunction, WindowFunction};
    use datafusion::logical_expr::{WindowFunctionDefinition, cast};
    use std::sync::atomic::{AtomicBool, Ordering};
    let changed = AtomicBool::new(false);
    let widen = |args: &mut Vec<Expr>, schema: &datafusion::common::DFSchema| {
        let bigint =
            args.len() == 1 && args[0].get_type(schema).is_ok_and(|t| t == DataType::Int64);
        if bigint {
            let arg = args.remove(0);
            args.push(cast(arg, DataType::Decimal128(38, 0)));
            changed.store(true, Ordering::Relaxed);
        }
        bigint
    };
    let plan = super::casts::rewrite_expressions(plan, &|expr, schema| match expr {
        Expr::AggregateFunction(AggregateFunction { func, mut params }) if func.name() == "sum" => {
            let widened = widen(&mut params.args, schema);
            let expr = Expr::AggregateFunction(AggregateFunction { func, params });
            Ok(Transformed::new_transformed(expr, widened))
        }
        Expr::WindowFunction(mut window) if matches!(&window.fun, WindowFunctionDefinition::AggregateUDF(f) if f.name() == "sum") =>
        {
            let WindowFunction { params, .. } = window.as_mut();
            let widened = widen(&mut params.args, schema);
            let expr = Expr::WindowFunction(window);
            Ok(Transformed::new_transformed(expr, widened))
        }
        expr => Ok(Transformed::no(expr)),
    })?;
    if !changed.load(Ordering::Relaxed) {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|plan| plan.recompute_schema().map(Transformed::yes))
        .map(|t| t.data)
}
