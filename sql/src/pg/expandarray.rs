//! `information_schema._pg_expandarray(array)`: PostgreSQL's set-returning function
//! that yields one `(x, n)` row per element (the element and its 1-based position).
//! pgjdbc's `getPrimaryKeys` and `getIndexInfo` call it in the select list, as
//! `(information_schema._pg_expandarray(i.indkey)).n`, over `int2vector` columns.
//!
//! DataFusion has no set-returning functions in the select list except `unnest`, so
//! [`rewrite`] turns each call into `unnest(pg_expandarray_list(array))`, where the
//! scalar [`ExpandArray`] returns the whole list of `(x, n)` structs, and turns the
//! composite field access `(expr).field` into `get_field(expr, 'field')`. Several
//! unnests of the same list in one select list advance together, as PostgreSQL's
//! set-returning functions do.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::call;

use datafusion::arrow::array::{
    Array, ArrayBuilder, ArrayRef, AsArray, Int16Builder, Int32Array, ListArray, StructArray,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::{exec_err, plan_err};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    AccessExpr, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, Statement, Value, visit_expressions_mut,
};

pub(crate) const LIST_FUNCTION: &str = "pg_expandarray_list";

/// The scalar half: `array` to a list of `{x, n}`. Accepts arrays and `int2vector`
/// text (`"1 2"`, how the pg_catalog tables hold `indkey`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ExpandArray {
    signature: Signature,
}

impl ExpandArray {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

fn element_type(input: &DataType) -> DFResult<DataType> {
    match input {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Ok(DataType::Int16),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            Ok(f.data_type().clone())
        }
        DataType::Null => Ok(DataType::Int16),
        other => plan_err!("_pg_expandarray expects an array, not {other}"),
    }
}

fn struct_fields(x: DataType) -> Fields {
    Fields::from(vec![
        Field::new("x", x, true),
        Field::new("n", DataType::Int32, false),
    ])
}

impl ScalarUDFImpl for ExpandArray {
    fn name(&self) -> &str {
        LIST_FUNCTION
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        let x = element_type(&args[0])?;
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(struct_fields(x)),
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let rows = args.number_rows;
        let input = args.args[0].clone().into_array(rows)?;
        let x_type = element_type(input.data_type())?;
        let (values, offsets): (ArrayRef, Vec<i32>) = match input.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                let text = datafusion::arrow::compute::cast(&input, &DataType::Utf8)?;
                let text = text.as_string::<i32>();
                let mut values = Int16Builder::new();
                let mut offsets = vec![0i32];
                for row in 0..text.len() {
                    if text.is_valid(row) {
                        for word in text.value(row).split_ascii_whitespace() {
                            match word.parse::<i16>() {
                                Ok(v) => values.append_value(v),
                                Err(_) => {
                                    return exec_err!(
                                        "int2vector value {word:?} is not an integer"
                                    );
                                }
                            }
                        }
                    }
                    offsets.push(i32::try_from(values.len()).unwrap_or(i32::MAX));
                }
                (Arc::new(values.finish()), offsets)
            }
            DataType::Null => (Arc::new(Int16Builder::new().finish()), vec![0i32; rows + 1]),
            _ => {
                let list = datafusion::arrow::compute::cast(
                    &input,
                    &DataType::List(Arc::new(Field::new("item", x_type.clone(), true))),
                )?;
                let list = list.as_list::<i32>();
                let base = list.value_offsets()[0];
                let offsets = list.value_offsets().iter().map(|o| o - base).collect();
                let values = list.values().slice(
                    usize::try_from(base).unwrap_or(0),
                    list.value_offsets()[list.len()] as usize - base as usize,
                );
                (values, offsets)
            }
        };
        let positions: Int32Array = offsets.windows(2).flat_map(|w| 1..=(w[1] - w[0])).collect();
        let items = StructArray::try_new(
            struct_fields(x_type.clone()),
            vec![values, Arc::new(positions)],
            None,
        )?;
        let nulls = input.logical_nulls();
        let list = ListArray::try_new(
            Arc::new(Field::new(
                "item",
                DataType::Struct(struct_fields(x_type)),
                true,
            )),
            OffsetBuffer::new(offsets.into()),
            Arc::new(items),
            nulls,
        )?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}

fn is_expandarray(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
        .collect();
    matches!(
        parts
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice(),
        ["_pg_expandarray"] | ["information_schema", "_pg_expandarray"]
    )
}

fn is_generate_subscripts(name: &ObjectName) -> bool {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .is_some_and(|i| i.value.eq_ignore_ascii_case("generate_subscripts"))
}

/// Rewrites `_pg_expandarray(a)` to `unnest(pg_expandarray_list(a))`,
/// `generate_subscripts(a, 1)` to `unnest(range(1, cardinality(a) + 1))` (both
/// set-returning in the select list, as SQLAlchemy's inspector uses them beside
/// `unnest(indkey)`), and `(expr).field` to `get_field(expr, 'field')`.
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && is_generate_subscripts(&f.name)
            && let FunctionArguments::List(list) = &f.args
            && list.args.len() == 2
            && let FunctionArg::Unnamed(FunctionArgExpr::Expr(array)) = &list.args[0]
            && let FunctionArg::Unnamed(FunctionArgExpr::Expr(dim)) = &list.args[1]
            && dim.to_string() == "1"
        {
            let one = || Expr::value(Value::Number("1".to_owned(), false));
            let length = call(
                "coalesce",
                vec![
                    Expr::Cast {
                        kind: datafusion::sql::sqlparser::ast::CastKind::Cast,
                        expr: Box::new(call("cardinality", vec![array.clone()])),
                        data_type: datafusion::sql::sqlparser::ast::DataType::BigInt(None),
                        array: false,
                        format: None,
                    },
                    Expr::value(Value::Number("0".to_owned(), false)),
                ],
            );
            let end = Expr::BinaryOp {
                left: Box::new(length),
                op: datafusion::sql::sqlparser::ast::BinaryOperator::Plus,
                right: Box::new(one()),
            };
            *expr = call("unnest", vec![call("range", vec![one(), end])]);
        } else if let Expr::Function(f) = expr
            && is_expandarray(&f.name)
            && let FunctionArguments::List(list) = &f.args
        {
            let inner = super::call_with(LIST_FUNCTION, list.args.clone());
            *expr = call("unnest", vec![inner]);
        } else if let Expr::CompoundFieldAccess { root, access_chain } = expr
            && matches!(**root, Expr::Nested(_))
            && !access_chain.is_empty()
            && access_chain
                .iter()
                .all(|a| matches!(a, AccessExpr::Dot(Expr::Identifier(_))))
        {
            let mut out = (**root).clone();
            for access in access_chain.iter() {
                if let AccessExpr::Dot(Expr::Identifier(ident)) = access {
                    let name = if ident.quote_style.is_some() {
                        ident.value.clone()
                    } else {
                        ident.value.to_ascii_lowercase()
                    };
                    out = call(
                        "get_field",
                        vec![out, Expr::value(Value::SingleQuotedString(name))],
                    );
                }
            }
            *expr = out;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// pg_type's function columns, which the pg_catalog crate keeps as the functions'
/// names (text) rather than `regproc` OIDs.
const REGPROC_NAME_COLUMNS: &[&str] = &[
    "typinput",
    "typoutput",
    "typreceive",
    "typsend",
    "typmodin",
    "typmodout",
    "typanalyze",
];

/// `typinput = 'pg_catalog.array_in'::regproc` (pgjdbc's TypeInfoCache) compares the
/// column's function name with the literal's unqualified name, since those columns
/// hold names here. Runs before the pg_catalog crate's rules, which would otherwise
/// turn the literal into an OID lookup.
pub(crate) fn rewrite_regproc_comparisons(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    /// `proc.oid = typ.typreceive` (npgsql's type query joins pg_proc so) compares
    /// the function's name instead: `proc.proname`. The crate's pg_proc has one
    /// function of each name these columns hold.
    fn proc_name_for_oid(e: &mut Expr) {
        if let Expr::CompoundIdentifier(parts) = e
            && parts.len() >= 2
            && parts
                .last()
                .is_some_and(|i| i.value.eq_ignore_ascii_case("oid"))
            && let Some(last) = parts.last_mut()
        {
            *last = Ident::new("proname");
        }
    }
    fn name_column(e: &Expr) -> bool {
        let last = match e {
            Expr::Identifier(i) => Some(i),
            Expr::CompoundIdentifier(parts) => parts.last(),
            _ => None,
        };
        last.is_some_and(|i| REGPROC_NAME_COLUMNS.contains(&i.value.to_ascii_lowercase().as_str()))
    }
    fn regproc_literal(e: &Expr) -> Option<String> {
        if let Expr::Cast {
            expr, data_type, ..
        } = e
            && data_type
                .to_string()
                .to_ascii_lowercase()
                .trim_start_matches("pg_catalog.")
                == "regproc"
            && let Expr::Value(v) = expr.as_ref()
            && let Value::SingleQuotedString(name) = &v.value
        {
            return Some(name.rsplit('.').next().unwrap_or(name).to_owned());
        }
        None
    }
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::BinaryOp { left, op, right } = expr
            && matches!(op, BinaryOperator::Eq | BinaryOperator::NotEq)
        {
            if name_column(left)
                && let Some(name) = regproc_literal(right)
            {
                **right = Expr::value(Value::SingleQuotedString(name));
            } else if name_column(right)
                && let Some(name) = regproc_literal(left)
            {
                **left = Expr::value(Value::SingleQuotedString(name));
            } else if name_column(right) {
                proc_name_for_oid(left);
            } else if name_column(left) {
                proc_name_for_oid(right);
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `ARRAY(SELECT e FROM ... [ORDER BY ...])` (psql's `\du` and `\d+`) as the
/// aggregated subquery `(SELECT array_agg(e ORDER BY ...) FROM ...)`, which DataFusion
/// can decorrelate, with an empty array for no rows (`coalesce(..., make_array())`).
/// Subqueries with GROUP BY, DISTINCT, LIMIT or set operations are left as they are
/// (and fail to plan, naming `array`).
pub(crate) fn rewrite_array_subqueries(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        FunctionArgumentClause, GroupByExpr, OrderByKind, SelectItem, SetExpr,
    };
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && f.name.to_string().eq_ignore_ascii_case("array")
            && let FunctionArguments::Subquery(query) = &f.args
            && query.limit_clause.is_none()
            && query.fetch.is_none()
            && let SetExpr::Select(select) = query.body.as_ref()
            && select.distinct.is_none()
            && select.having.is_none()
            && matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty())
            && let [item] = select.projection.as_slice()
            && let SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. } =
                item
        {
            let mut query = query.clone();
            let order = match query.order_by.take().map(|o| o.kind) {
                Some(OrderByKind::Expressions(exprs)) => exprs,
                _ => Vec::new(),
            };
            let mut args = FunctionArgumentList {
                duplicate_treatment: None,
                args: vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(value.clone()))],
                clauses: vec![],
            };
            if !order.is_empty() {
                args.clauses.push(FunctionArgumentClause::OrderBy(order));
            }
            let agg = Expr::Function(Function {
                name: ObjectName::from(vec![Ident::new("array_agg")]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(args),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: vec![],
            });
            if let SetExpr::Select(select) = query.body.as_mut() {
                select.projection = vec![SelectItem::UnnamedExpr(agg)];
            }
            // array_agg of no rows is NULL; ARRAY() of no rows is empty.
            *expr = call(
                "coalesce",
                vec![Expr::Subquery(query), call("make_array", vec![])],
            );
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `pg_get_function_result(p.oid)` as `format_type(p.prorettype, NULL)`, where `p` is
/// the query's pg_proc (psql's `\df`, pgjdbc's getFunctions).
pub(crate) fn rewrite_function_result(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && f.name
                .0
                .last()
                .and_then(|p| p.as_ident())
                .is_some_and(|i| i.value.eq_ignore_ascii_case("pg_get_function_result"))
            && let FunctionArguments::List(list) = &f.args
            && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::CompoundIdentifier(parts)))] =
                list.args.as_slice()
            && parts.len() == 2
            && parts[1].value.eq_ignore_ascii_case("oid")
        {
            let rettype =
                Expr::CompoundIdentifier(vec![parts[0].clone(), Ident::new("prorettype")]);
            *expr = call("format_type", vec![rettype, Expr::value(Value::Null)]);
        }
        ControlFlow::<()>::Continue(())
    });
}
