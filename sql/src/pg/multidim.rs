//! PostgreSQL's multidimensional arrays over Arrow's lists of lists, where the two
//! read differently. A PostgreSQL array of two dimensions is one array of elements
//! with two subscripts; a list of lists is a list whose members are lists. So:
//!
//! - a subscript per dimension reaches an element (`a[2][1]`, as in Arrow); fewer
//!   subscripts than dimensions give NULL in PostgreSQL (`a[2]` of
//!   `'{{1,2},{3,4}}'`), not the second row (`{3,4}`, which Tarn answered);
//! - `unnest(a)` and `x = ANY(a)` read every element, whatever the dimensions
//!   (`unnest('{{1,2},{3,4}}')` is four rows; it was two, the rows). Their arrays
//!   are read through `pg_array_elements`, all elements in one list.
//!
//! Casts keep an array's dimensions (`crate::pg::casts`), and constant arrays are cast
//! to their own (`crate::pg::array_in::deepen_literal_casts`).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;
use datafusion::sql::sqlparser::ast;

use crate::params::list_depth;

/// The analyzer rule: a subscripted array of more dimensions than subscripts is NULL
/// of its element type (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct PartialSubscripts;

impl AnalyzerRule for PartialSubscripts {
    fn name(&self) -> &str {
        "tarn_partial_subscripts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let schema = datafusion::logical_expr::utils::merge_schema(&plan.inputs());
            let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&plan);
            let rewritten = plan.map_expressions(|expr| {
                let name = names.save(&expr);
                partial(expr, false, &schema).map(|t| t.update_data(|e| name.restore(e)))
            })?;
            // The column is of the element type now, not a list.
            match rewritten.transformed {
                true => rewritten.map_data(LogicalPlan::recompute_schema),
                false => Ok(rewritten),
            }
        })
        .map(|t| t.data)
    }
}

/// `expr` with each outermost `array_element` (one not subscripted further, which
/// `subscripted` tells of `expr` itself) that still answers a list made NULL.
fn partial(expr: Expr, subscripted: bool, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(mut call) = expr else {
        return expr.map_children(|child| partial(child, false, schema));
    };
    if call.func.name() != "array_element" || call.args.len() != 2 {
        return Expr::ScalarFunction(call).map_children(|child| partial(child, false, schema));
    }
    let index = call
        .args
        .pop()
        .map(|e| partial(e, false, schema))
        .transpose()?;
    let array = call
        .args
        .pop()
        .map(|e| partial(e, true, schema))
        .transpose()?;
    let (Some(array), Some(index)) = (array, index) else {
        return exec_err!("array_element takes two arguments");
    };
    let transformed = array.transformed || index.transformed;
    call.args = vec![array.data, index.data];
    let expr = Expr::ScalarFunction(call);
    if !subscripted
        && let Ok(answer) = expr.get_type(schema)
        && let (1.., element) = list_depth(&answer)
    {
        return Ok(Transformed::yes(Expr::Literal(
            ScalarValue::try_from(element)?,
            None,
        )));
    }
    Ok(Transformed::new_transformed(expr, transformed))
}

/// `pg_array_elements(a)`: every element of the array `a`, whatever its dimensions,
/// as one list (an array of one dimension is itself).
pub(crate) fn elements_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Elements {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Elements {
    signature: Signature,
}

impl ScalarUDFImpl for Elements {
    fn name(&self) -> &str {
        "pg_array_elements"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match list_depth(&args[0]) {
            (0 | 1, _) => args[0].clone(),
            (_, element) => crate::params::with_depth(element, 1),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [array] = args.args.as_slice() else {
            return exec_err!("pg_array_elements takes one argument");
        };
        if list_depth(&array.data_type()).0 <= 1 {
            return Ok(array.clone());
        }
        let mut array = array.to_array(args.number_rows)?;
        while list_depth(array.data_type()).0 > 1 {
            array = flattened(&array)?;
        }
        Ok(ColumnarValue::Array(array))
    }
}

/// A list of lists as a list of their members: each row's sub-lists joined.
fn flattened(array: &ArrayRef) -> Result<ArrayRef> {
    let Some(outer) = array.as_list_opt::<i32>() else {
        return exec_err!(
            "pg_array_elements: expected a list, got {}",
            array.data_type()
        );
    };
    let Some(inner) = outer.values().as_list_opt::<i32>() else {
        return exec_err!("pg_array_elements: expected a list of lists");
    };
    let inner_offsets = inner.value_offsets();
    let offsets: Vec<i32> = outer
        .value_offsets()
        .iter()
        .map(|&o| inner_offsets[o as usize])
        .collect();
    let field = Arc::new(Field::new_list_field(
        inner.values().data_type().clone(),
        true,
    ));
    Ok(Arc::new(ListArray::try_new(
        field,
        OffsetBuffer::new(offsets.into()),
        Arc::clone(inner.values()),
        outer.nulls().cloned(),
    )?))
}

/// `unnest(a)` (in the select list and in FROM) and `x op ANY(a)`/`ALL(a)`, as the
/// client wrote them, read `pg_array_elements(a)`: all of a multidimensional array's
/// elements. Runs first, before Tarn's rewrites write `unnest` calls of their own.
pub(crate) fn read_all_elements(statement: &mut ast::Statement) {
    use ast::{FunctionArg, FunctionArgExpr, FunctionArguments, TableFactor, VisitMut, VisitorMut};
    fn wrapped(expr: &mut ast::Expr) {
        // Not a parameter, whose type DataFusion infers from the call it is in
        // (`id = ANY($1)`), nor a constant of one dimension (which the planner may
        // read as a list of values).
        let one_dimension = match expr {
            ast::Expr::Array(_) | ast::Expr::Value(_) => super::array_in::literal_depth(expr) <= 1,
            _ => false,
        };
        let placeholder = matches!(expr, ast::Expr::Value(v)
            if matches!(v.value, ast::Value::Placeholder(_)));
        if !one_dimension && !placeholder && !matches!(expr, ast::Expr::Subquery(_)) {
            let inner = std::mem::replace(expr, ast::Expr::value(ast::Value::Null));
            *expr = super::call("pg_array_elements", vec![inner]);
        }
    }
    fn wrap_args(args: &mut [FunctionArg]) {
        for arg in args {
            if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg {
                wrapped(e);
            }
        }
    }
    struct Elements;
    impl VisitorMut for Elements {
        type Break = ();
        fn pre_visit_table_factor(
            &mut self,
            factor: &mut TableFactor,
        ) -> std::ops::ControlFlow<()> {
            match factor {
                TableFactor::UNNEST { array_exprs, .. } => array_exprs.iter_mut().for_each(wrapped),
                TableFactor::Function { name, args, .. }
                    if super::single_value::unqualified_name(name) == "unnest" =>
                {
                    wrap_args(args)
                }
                TableFactor::Table {
                    name,
                    args: Some(args),
                    ..
                } if super::single_value::unqualified_name(name) == "unnest" => {
                    wrap_args(&mut args.args)
                }
                _ => {}
            }
            std::ops::ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut ast::Expr) -> std::ops::ControlFlow<()> {
            match expr {
                ast::Expr::Function(f) if super::single_value::function_name(f) == "unnest" => {
                    if let FunctionArguments::List(list) = &mut f.args {
                        wrap_args(&mut list.args)
                    }
                }
                ast::Expr::AnyOp { right, .. } | ast::Expr::AllOp { right, .. } => wrapped(right),
                _ => {}
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Elements);
}
