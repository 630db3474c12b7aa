//! Array functions whose DataFusion namesakes answer differently from PostgreSQL's:
//!
//! - `array_remove(a, x)` and `array_replace(a, x, y)` act on every element equal to
//!   `x` in PostgreSQL; DataFusion's act on the first only (`array_remove(array[1,2,1],
//!   1)` was `{2,1}`, a wrong answer). The names are given DataFusion's `_all` forms.
//! - `array_dims(a)` is PostgreSQL's text (`[1:3]`; DataFusion's answered the list of
//!   lengths, `{3}`), NULL for an empty or NULL array.
//!
//! And an array compared with a string literal (`pol.polroles = '{0}'` in psql's `\d`
//! over row policies, `tags = '{a,b}'`) reads the literal as an array of the array's
//! type, as PostgreSQL types an untyped literal by the other operand; DataFusion found
//! no operator for a list and text. The cast reads PostgreSQL's array syntax
//! (`array_in`), so a literal that is not an array is 22P02.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::prelude::SessionContext;

pub(crate) fn install(ctx: &SessionContext) -> Result<()> {
    for (name, all) in [
        ("array_remove", "array_remove_all"),
        ("array_replace", "array_replace_all"),
    ] {
        if let Ok(udf) = FunctionRegistry::udf(ctx, all) {
            ctx.register_udf(udf.as_ref().clone().with_aliases([name]));
        }
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ArrayDims {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    ctx.state_ref()
        .write()
        .register_expr_planner(Arc::new(LiteralArrays))
}

/// Plans a comparison of an array with a string literal as one with the literal cast
/// to the array's type (see the module doc).
#[derive(Debug)]
struct LiteralArrays;

impl ExprPlanner for LiteralArrays {
    fn plan_binary_op(
        &self,
        mut expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        use datafusion::sql::sqlparser::ast::BinaryOperator;
        if !matches!(
            expr.op,
            BinaryOperator::Eq
                | BinaryOperator::NotEq
                | BinaryOperator::Lt
                | BinaryOperator::LtEq
                | BinaryOperator::Gt
                | BinaryOperator::GtEq
        ) {
            return Ok(PlannerResult::Original(expr));
        }
        let text = |e: &Expr| {
            matches!(
                e,
                Expr::Literal(
                    ScalarValue::Utf8(Some(_)) | ScalarValue::Utf8View(Some(_)),
                    _
                )
            )
        };
        let list = |e: &Expr| match e.get_type(schema) {
            Ok(t @ (DataType::List(_) | DataType::LargeList(_))) => Some(t),
            _ => None,
        };
        let cast = |literal: &mut Expr, to: DataType| {
            *literal = Expr::Cast(Cast::new(Box::new(literal.clone()), to));
        };
        if text(&expr.right)
            && let Some(to) = list(&expr.left)
        {
            cast(&mut expr.right, to);
        } else if text(&expr.left)
            && let Some(to) = list(&expr.right)
        {
            cast(&mut expr.left, to);
        }
        Ok(PlannerResult::Original(expr))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayDims {
    signature: Signature,
}

impl ScalarUDFImpl for ArrayDims {
    fn name(&self) -> &str {
        "array_dims"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [
                DataType::List(_)
                | DataType::LargeList(_)
                | DataType::FixedSizeList(..)
                | DataType::Null,
            ] => Ok(args.to_vec()),
            _ => {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                plan_err!("function array_dims({}) does not exist", types.join(", "))
            }
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let values = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::new();
        for row in 0..values.len() {
            match dims(&values, row) {
                Some(text) => out.append_value(text),
                None => out.append_null(),
            }
        }
        let out: ArrayRef = Arc::new(out.finish());
        super::answer(out, scalar)
    }
}

/// `[1:n]` per dimension of the array at `row` (nested lists are dimensions, their
/// first element's lengths), or `None` for a NULL or empty array.
fn dims(values: &ArrayRef, row: usize) -> Option<String> {
    let mut text = String::new();
    let mut current: ArrayRef = values.slice(row, 1);
    loop {
        let inner = match current.data_type() {
            DataType::List(_) => current.as_list::<i32>().values().clone(),
            DataType::LargeList(_) => current.as_list::<i64>().values().clone(),
            DataType::FixedSizeList(..) => current.as_fixed_size_list().values().clone(),
            _ => break,
        };
        if current.is_null(0) {
            return None;
        }
        let (start, length) = match current.data_type() {
            DataType::List(_) => {
                let list = current.as_list::<i32>();
                (
                    list.value_offsets()[0] as usize,
                    list.value_length(0) as usize,
                )
            }
            DataType::LargeList(_) => {
                let list = current.as_list::<i64>();
                (
                    list.value_offsets()[0] as usize,
                    list.value_length(0) as usize,
                )
            }
            _ => {
                let list = current.as_fixed_size_list();
                (0, list.value_length() as usize)
            }
        };
        if length == 0 {
            return (!text.is_empty()).then_some(text);
        }
        text.push_str(&format!("[1:{length}]"));
        current = inner.slice(start, 1);
    }
    Some(text)
}
