//! System functions clients call in their introspection: `set_config`, `to_regtype`,
//! `pg_get_viewdef`, and the `pg_get_*def` family for objects Tarn does not have.
//!
//! `to_regtype(name)` and `pg_get_viewdef(oid)` are rewritten before planning into
//! scalar subqueries over pg_type and pg_views, so they see the same catalog as the
//! rest of the statement (OIDs included). `set_config` validates the value against
//! the session's settings and records it; the session applies it before its next
//! statement (within the statement, `current_setting` still shows the old value).

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result as DFResult;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{self, Expr, FunctionArguments, VisitMut, VisitorMut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::settings::Settings;

/// Settings changed by `set_config` during a statement, applied before the next.
pub(crate) type PendingSettings = Arc<Mutex<Vec<(String, String)>>>;

/// `set_config(name, value, is_local)`: checks `value` as SET would, records it in
/// `pending` and returns it.
pub(crate) fn set_config_udf(settings: Arc<Settings>, pending: PendingSettings) -> ScalarUDF {
    create_udf(
        "set_config",
        vec![DataType::Utf8, DataType::Utf8, DataType::Boolean],
        DataType::Utf8,
        Volatility::Volatile,
        Arc::new(move |args: &[ColumnarValue]| {
            let rows = args
                .iter()
                .find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                })
                .unwrap_or(1);
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                let text = |i: usize| -> DFResult<Option<String>> {
                    let v = match &args[i] {
                        ColumnarValue::Scalar(s) => s.clone(),
                        ColumnarValue::Array(a) => ScalarValue::try_from_array(a, row)?,
                    };
                    Ok(match v {
                        ScalarValue::Utf8(s)
                        | ScalarValue::Utf8View(s)
                        | ScalarValue::LargeUtf8(s) => s,
                        _ => None,
                    })
                };
                let (Some(name), value) = (text(0)?, text(1)?) else {
                    return Err(datafusion::error::DataFusionError::Execution(
                        "set_config: the setting name is NULL".to_owned(),
                    ));
                };
                let value = value.unwrap_or_default();
                let mut check = (*settings).clone();
                check
                    .set(&name, &value)
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
                let shown = check.get(&name).unwrap_or(&value).to_owned();
                pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((name, value));
                out.push(Some(shown));
            }
            Ok(ColumnarValue::Array(Arc::new(
                datafusion::arrow::array::StringArray::from(out),
            )))
        }),
    )
}

/// Functions over objects Tarn does not have (user functions, rules, triggers): no
/// OID names one, so each answers NULL, as PostgreSQL does for an unknown OID.
pub(crate) fn absent_object_udfs() -> Vec<ScalarUDF> {
    let null = |name: &str, args: Vec<DataType>| {
        create_udf(
            name,
            args,
            DataType::Utf8,
            Volatility::Stable,
            Arc::new(|args: &[ColumnarValue]| {
                let rows = args.iter().find_map(|a| match a {
                    ColumnarValue::Array(a) => Some(a.len()),
                    ColumnarValue::Scalar(_) => None,
                });
                Ok(match rows {
                    Some(n) => ColumnarValue::Array(Arc::new(
                        datafusion::arrow::array::StringArray::from(vec![None::<&str>; n]),
                    )),
                    None => ColumnarValue::Scalar(ScalarValue::Utf8(None)),
                })
            }),
        )
    };
    vec![
        null("pg_get_function_arguments", vec![DataType::Int32]),
        null("pg_get_function_identity_arguments", vec![DataType::Int32]),
        null("pg_get_function_result", vec![DataType::Int32]),
        null("pg_get_functiondef", vec![DataType::Int32]),
        null("pg_get_ruledef", vec![DataType::Int32, DataType::Boolean]),
        null(
            "pg_get_triggerdef",
            vec![DataType::Int32, DataType::Boolean],
        ),
    ]
}

/// `pg_type_is_visible(oid)`: every type Tarn has lives in pg_catalog, which is
/// always searched, so each is visible (NULL for a NULL argument).
pub(crate) fn type_is_visible_udf() -> ScalarUDF {
    create_udf(
        "pg_type_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let args = ColumnarValue::values_to_arrays(args)?;
            let visible: datafusion::arrow::array::BooleanArray = (0..args[0].len())
                .map(|i| (!args[0].is_null(i)).then_some(true))
                .collect();
            Ok(ColumnarValue::Array(Arc::new(visible)))
        }),
    )
}

/// Rewrites `to_regtype(x)` and `pg_get_viewdef(oid [, pretty])` in `statement` into
/// subqueries over the catalog.
pub(crate) fn rewrite_catalog_calls(statement: &mut DFStatement) {
    struct Calls;
    impl VisitorMut for Calls {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            let Expr::Function(f) = expr else {
                return std::ops::ControlFlow::Continue(());
            };
            let name = super::single_value::function_name(f);
            let args: Vec<String> = super::unnamed_args(f).map(ToString::to_string).collect();
            let sql = match (name.as_str(), args.as_slice()) {
                ("to_regtype", [arg]) => format!(
                    "(SELECT max(__regtype.oid) FROM pg_catalog.pg_type AS __regtype \
                     WHERE __regtype.typname = tarn_type_name({arg}))"
                ),
                ("pg_get_viewdef", [arg] | [arg, _]) => format!(
                    "(SELECT max(__viewdef_v.definition) FROM pg_catalog.pg_views AS __viewdef_v \
                     JOIN pg_catalog.pg_namespace AS __viewdef_n ON __viewdef_n.nspname = __viewdef_v.schemaname \
                     JOIN pg_catalog.pg_class AS __viewdef_c ON __viewdef_c.relnamespace = __viewdef_n.oid \
                     AND __viewdef_c.relname = __viewdef_v.viewname \
                     WHERE __viewdef_c.oid = CAST({arg} AS INT))"
                ),
                _ => return std::ops::ControlFlow::Continue(()),
            };
            if let Ok(parsed) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&sql)
                .and_then(|mut p| p.parse_expr())
            {
                *expr = parsed;
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    if let DFStatement::Statement(statement) = statement {
        let _ = ast::Statement::visit(statement, &mut Calls);
        let _ = ast::Statement::visit(statement, &mut NamedTypes);
    }
}

/// `x::regtype::text` (also to `varchar` or `name`) as PostgreSQL answers it: the
/// type's name (`integer`), through `format_type`, and the number for an OID naming no
/// type (`format_type` writes `???` there). Tarn's `regtype` is an integer, and its
/// cast to text gave the number. (`x::regclass::text`: [`regclass_text`].)
struct NamedTypes;

impl VisitorMut for NamedTypes {
    type Break = ();
    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        if let Some(("regtype", _, oid)) = reg_cast_as_text(expr) {
            let null = Expr::Value(ast::Value::Null.into());
            let oid = as_integer(oid.clone());
            let unknown = Expr::value(ast::Value::SingleQuotedString("???".into()));
            let named = super::call("format_type", vec![oid.clone(), null]);
            let number = Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(oid),
                data_type: ast::DataType::Text,
                array: false,
                format: None,
            };
            *expr = super::call(
                "coalesce",
                vec![super::call("nullif", vec![named, unknown]), number],
            );
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// `user`, unquoted, is `current_user` in PostgreSQL (a reserved word, never a column:
/// Grafana's table list compares schema names with it); DataFusion read it as a
/// column ("column \"user\" does not exist").
pub(crate) fn bare_user(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        // sqlparser reads the keyword as a call without parentheses.
        if let Expr::Function(f) = expr
            && matches!(f.args, ast::FunctionArguments::None)
            && let [part] = f.name.0.as_mut_slice()
            && let Some(ident) = part.as_ident()
            && ident.quote_style.is_none()
            && ident.value.eq_ignore_ascii_case("user")
        {
            *part = ast::ObjectNamePart::Identifier(ast::Ident::new("current_user"));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// A string literal given where PostgreSQL's function takes a `regclass`
/// (`pg_relation_size('s.t')`, psql's `pg_relation_is_publishable('16386')`) is read
/// as one, a relation's name or OID: `'...'::regclass`. Without the cast, a name was
/// read as an integer (NULL). Runs before the crate's rules, which resolve the cast.
pub(crate) fn regclass_arguments(statement: &mut ast::Statement) {
    const TAKE_REGCLASS: [&str; 5] = [
        "pg_relation_is_publishable",
        "pg_table_size",
        "pg_relation_size",
        "pg_total_relation_size",
        "pg_indexes_size",
    ];
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Expr::Function(f) = expr
            && TAKE_REGCLASS.contains(&super::single_value::function_name(f).as_str())
            && let ast::FunctionArguments::List(list) = &mut f.args
            && let Some(ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(first))) =
                list.args.first_mut()
            && matches!(first, Expr::Value(v) if matches!(v.value, ast::Value::SingleQuotedString(_)))
        {
            *first = Expr::Cast {
                kind: ast::CastKind::DoubleColon,
                expr: Box::new(first.clone()),
                data_type: ast::DataType::Regclass,
                array: false,
                format: None,
            };
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `x::regclass::text` (also to `varchar` or `name`) as PostgreSQL answers it: the
/// relation's name, through `pg_regclass_name` (a correlated lookup of pg_class could
/// not be planned inside psql's and SQLAlchemy's catalog queries). Tarn's `regclass`
/// is an integer, and its cast to text gave the number. Runs before the pg_catalog
/// crate's rules, which turn `'name'::regclass` into a lookup of its OID: the cast to
/// regclass stays inside the call for them.
pub(crate) fn regclass_text(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Some(("regclass", cast, _)) = reg_cast_as_text(expr) {
            *expr = super::call("pg_regclass_name", vec![as_integer(cast.clone())]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `'pg_class'::regclass`: an unqualified name of a system catalog is found in
/// pg_catalog, which PostgreSQL searches before the search path (pgjdbc's getTables
/// joins `pg_description` on `classoid = 'pg_class'::regclass`; dbt's relation
/// queries compare with `'pg_rewrite'::regclass`). The pg_catalog crate's rule looks
/// unqualified names up in the current schema only, so such a name is qualified
/// first. Runs before the crate's rules.
pub(crate) fn system_regclass_names(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Expr::Cast {
            expr: value,
            data_type,
            ..
        } = expr
            && written_type(data_type) == "regclass"
            && let Expr::Value(v) = value.as_mut()
            && let ast::Value::SingleQuotedString(name) = &mut v.value
            && !name.contains(['.', '"'])
            && name.to_ascii_lowercase().starts_with("pg_")
        {
            *name = format!("pg_catalog.{}", name.to_ascii_lowercase());
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `format('%I.%I', s, t)::regclass` (Metabase's column comments) and `a || '.' ||
/// b` cast to regclass: a name computed in the query, looked up when it runs by
/// `pg_regclass_oid`. Casting a column or a number to regclass keeps the value (an
/// OID already); a literal name is the pg_catalog crate's rule's.
pub(crate) fn computed_regclass_names(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Expr::Cast {
            expr: value,
            data_type,
            ..
        } = expr
            && written_type(data_type) == "regclass"
        {
            let mut inner = value.as_ref();
            while let Expr::Nested(e) = inner {
                inner = e.as_ref();
            }
            let computed = match inner {
                Expr::Function(f) => !f.name.to_string().eq_ignore_ascii_case("pg_regclass_oid"),
                Expr::BinaryOp {
                    op: ast::BinaryOperator::StringConcat,
                    ..
                } => true,
                _ => false,
            };
            if computed {
                *expr = super::call("pg_regclass_oid", vec![inner.clone()]);
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// A type's name as written, in lower case, without `pg_catalog.` (`regclass`).
fn written_type(t: &ast::DataType) -> String {
    let name = t.to_string().to_ascii_lowercase();
    name.trim_start_matches("pg_catalog.").to_owned()
}

/// For `x::reg...::text` (also to `varchar` or `name`): the `reg` type's name (as
/// written, lower case, without `pg_catalog.`), `x::reg...`, and `x`.
fn reg_cast_as_text(expr: &Expr) -> Option<(&'static str, &Expr, &Expr)> {
    let Expr::Cast {
        expr: cast,
        data_type: outer,
        ..
    } = expr
    else {
        return None;
    };
    if !matches!(
        written_type(outer).as_str(),
        "text" | "varchar" | "character varying" | "name"
    ) {
        return None;
    }
    let Expr::Cast {
        expr: value,
        data_type: reg,
        ..
    } = cast.as_ref()
    else {
        return None;
    };
    let reg = match written_type(reg).as_str() {
        "regtype" => "regtype",
        "regclass" => "regclass",
        _ => return None,
    };
    Some((reg, cast.as_ref(), value.as_ref()))
}

/// An integer literal that fits `integer` as one (`ARRAY[1, 2]` is `integer[]` in
/// PostgreSQL; a larger element, or a bigint column, still makes it `bigint[]`).
fn integer(element: Expr) -> Expr {
    let fits = |n: &str| n.parse::<i64>().is_ok_and(|v| i32::try_from(v).is_ok());
    let number = |e: &Expr, sign: &str| match e {
        Expr::Value(v) => {
            matches!(&v.value, ast::Value::Number(n, false) if fits(&format!("{sign}{n}")))
        }
        _ => false,
    };
    let small = match &element {
        Expr::UnaryOp {
            op: ast::UnaryOperator::Minus,
            expr,
        } => number(expr, "-"),
        e => number(e, ""),
    };
    match small {
        true => as_integer(element),
        false => element,
    }
}

/// `CAST(expr AS INT)`.
fn as_integer(expr: Expr) -> Expr {
    Expr::Cast {
        kind: ast::CastKind::Cast,
        expr: Box::new(expr),
        data_type: ast::DataType::Int(None),
        array: false,
        format: None,
    }
}

/// `ARRAY[a, b]` as `make_array(a, b)`, which DataFusion plans the literal as anyway:
/// its planner reads a literal's elements without the enclosing query's scope, so an
/// element naming a column of an outer row (`FROM t, unnest(ARRAY[t.a, t.b]) v`, the
/// usual way to unpivot) was "column does not exist". Runs after the names, which
/// call such a column `array` as PostgreSQL does.
pub(crate) fn array_literals_as_calls(statement: &mut ast::Statement) {
    struct Literals;
    impl VisitorMut for Literals {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Array(array) = expr
                && !array.elem.is_empty()
            {
                let args = std::mem::take(&mut array.elem)
                    .into_iter()
                    .map(integer)
                    .collect();
                *expr = super::call("make_array", args);
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Literals);
}

/// PostgreSQL's array functions that answer `integer` (`cardinality`, `array_length`,
/// `array_lower`, `array_upper`, `array_ndims`, `array_position`) as such, NULL for
/// the dimensions of an empty array:
/// DataFusion's answer `bigint` (unsigned), which typed clients (SQLx, pgjdbc's
/// `getInt` on a described column) refuse to read as the `i32` PostgreSQL promised.
/// Runs after the names, so the column keeps the function's name.
pub(crate) fn integer_array_functions(statement: &mut ast::Statement) {
    struct Functions;
    impl VisitorMut for Functions {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Function(f) = expr
                && matches!(
                    super::single_value::function_name(f).as_str(),
                    "cardinality"
                        | "array_length"
                        | "array_lower"
                        | "array_upper"
                        | "array_ndims"
                        | "array_position"
                )
            {
                let name = super::single_value::function_name(f);
                let first = super::unnamed_args(f).next().map(ToString::to_string);
                *expr = as_integer(expr.clone());
                // An empty array has no dimensions: PostgreSQL answers NULL where
                // DataFusion counts 0 (a non-empty array's answers are at least 1).
                if matches!(
                    name.as_str(),
                    "array_length" | "array_lower" | "array_upper"
                ) {
                    let zero = Expr::value(ast::Value::Number("0".to_owned(), false));
                    *expr = super::call("nullif", vec![expr.clone(), zero]);
                }
                // DataFusion gives an empty array one dimension.
                if name == "array_ndims"
                    && let Some(array) = first
                {
                    let empty = format!("cardinality({array}) = 0");
                    if let Ok(condition) = Parser::new(&PostgreSqlDialect {})
                        .try_with_sql(&empty)
                        .and_then(|mut p| p.parse_expr())
                    {
                        *expr = Expr::Case {
                            case_token: ast::helpers::attached_token::AttachedToken::empty(),
                            end_token: ast::helpers::attached_token::AttachedToken::empty(),
                            operand: None,
                            conditions: vec![ast::CaseWhen {
                                condition,
                                result: Expr::value(ast::Value::Null),
                            }],
                            else_result: Some(Box::new(expr.clone())),
                        };
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Functions);
}

/// Rewrites each `ARRAY(SELECT ... FROM unnest(a) x)` that [`array_over_unnest`]
/// maps; runs before ARRAY(subquery) becomes an aggregated subquery.
pub(crate) fn rewrite_array_over_unnest(statement: &mut ast::Statement) {
    struct Arrays;
    impl VisitorMut for Arrays {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Function(f) = expr
                && super::single_value::function_name(f) == "array"
                && let FunctionArguments::Subquery(query) = &f.args
                && let Some(mapped) = array_over_unnest(query)
            {
                *expr = mapped;
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Arrays);
}

/// `ARRAY(SELECT x FROM unnest(a) x)` is `a`, and `ARRAY(SELECT 'p' || x FROM unnest(a)
/// x)` (psql's `\d+`, over an outer row's `reloptions`) is `tarn_prefix_elements(a,
/// 'p')`: DataFusion cannot unnest a column of the outer row in a subquery.
fn array_over_unnest(query: &ast::Query) -> Option<Expr> {
    use ast::{BinaryOperator, SelectItem, SetExpr, TableFactor};
    if query.with.is_some() || query.order_by.is_some() || query.limit_clause.is_some() {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    if select.selection.is_some() || select.having.is_some() || select.distinct.is_some() {
        return None;
    }
    let [from] = select.from.as_slice() else {
        return None;
    };
    let TableFactor::UNNEST {
        alias: Some(alias),
        array_exprs,
        with_ordinality: false,
        with_offset: false,
        ..
    } = &from.relation
    else {
        return None;
    };
    let ([array], true) = (array_exprs.as_slice(), from.joins.is_empty()) else {
        return None;
    };
    let element = alias
        .columns
        .first()
        .map_or(&alias.name, |c| &c.name)
        .value
        .to_ascii_lowercase();
    let is_element = |e: &Expr| match e {
        Expr::Identifier(i) => i.value.to_ascii_lowercase() == element,
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .is_some_and(|i| i.value.to_ascii_lowercase() == element),
        _ => false,
    };
    let [SelectItem::UnnamedExpr(output) | SelectItem::ExprWithAlias { expr: output, .. }] =
        select.projection.as_slice()
    else {
        return None;
    };
    if is_element(output) {
        return Some(array.clone());
    }
    match output {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::StringConcat,
            right,
        } if is_element(right) && matches!(left.as_ref(), Expr::Value(_)) => {
            let sql = format!("tarn_prefix_elements({array}, {left})");
            Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&sql)
                .and_then(|mut p| p.parse_expr())
                .ok()
        }
        _ => None,
    }
}

/// `tarn_prefix_elements(text[], text)`: each element with the prefix before it
/// (NULL elements stay NULL), the array NULL if it was.
pub(crate) fn prefix_elements_udf() -> ScalarUDF {
    use datafusion::arrow::array::{ListArray, ListBuilder, StringBuilder};
    create_udf(
        "tarn_prefix_elements",
        vec![
            DataType::List(Arc::new(
                datafusion::arrow::datatypes::Field::new_list_field(DataType::Utf8, true),
            )),
            DataType::Utf8,
        ],
        DataType::List(Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(DataType::Utf8, true),
        )),
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| {
            let args = ColumnarValue::values_to_arrays(args)?;
            let lists = args[0]
                .as_any()
                .downcast_ref::<ListArray>()
                .ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal(
                        "tarn_prefix_elements: not a list".into(),
                    )
                })?;
            let prefixes = datafusion::arrow::compute::cast(&args[1], &DataType::Utf8)?;
            let prefixes = datafusion::arrow::array::AsArray::as_string::<i32>(prefixes.as_ref());
            let mut out = ListBuilder::new(StringBuilder::new());
            for row in 0..lists.len() {
                if lists.is_null(row) {
                    out.append(false);
                    continue;
                }
                let values = datafusion::arrow::compute::cast(&lists.value(row), &DataType::Utf8)?;
                let values = datafusion::arrow::array::AsArray::as_string::<i32>(values.as_ref());
                for value in values.iter() {
                    match (value, prefixes.is_null(row)) {
                        (Some(v), false) => out
                            .values()
                            .append_value(format!("{}{v}", prefixes.value(row))),
                        _ => out.values().append_null(),
                    }
                }
                out.append(true);
            }
            Ok(ColumnarValue::Array(Arc::new(out.finish())))
        }),
    )
}

/// `tarn_type_name(text)`: the pg_type name of a type as `to_regtype` accepts it
/// (`integer`, `pg_catalog.int4`, `character varying`, `text[]`), or NULL.
pub(crate) fn type_name_udf() -> ScalarUDF {
    create_udf(
        "tarn_type_name",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args: &[ColumnarValue]| match &args[0] {
            ColumnarValue::Scalar(s) => {
                let name = match s {
                    ScalarValue::Utf8(Some(n)) | ScalarValue::Utf8View(Some(n)) => type_name(n),
                    _ => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(name)))
            }
            ColumnarValue::Array(a) => {
                let a = datafusion::arrow::compute::cast(a, &DataType::Utf8)?;
                let names: datafusion::arrow::array::StringArray =
                    datafusion::arrow::array::AsArray::as_string::<i32>(a.as_ref())
                        .iter()
                        .map(|n| n.and_then(type_name))
                        .collect();
                Ok(ColumnarValue::Array(Arc::new(names)))
            }
        }),
    )
}

pub(crate) fn type_name(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let name = name.strip_prefix("pg_catalog.").unwrap_or(&name).trim();
    if let Some(element) = name.strip_suffix("[]") {
        return type_name(element).map(|e| format!("_{e}"));
    }
    let base = name.split('(').next().unwrap_or(name).trim();
    Some(
        match base {
            "integer" | "int" => "int4",
            "smallint" => "int2",
            "bigint" => "int8",
            "real" => "float4",
            "double precision" | "float" => "float8",
            "boolean" => "bool",
            "character varying" => "varchar",
            "character" | "char" => "bpchar",
            "decimal" => "numeric",
            "timestamp without time zone" | "timestamp" => "timestamp",
            "timestamp with time zone" => "timestamptz",
            "time without time zone" => "time",
            "time with time zone" => "timetz",
            other => other,
        }
        .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_read_as_postgresql_reads_them() {
        assert_eq!(type_name("integer").as_deref(), Some("int4"));
        assert_eq!(type_name("pg_catalog.int8").as_deref(), Some("int8"));
        assert_eq!(
            type_name("Character Varying(20)").as_deref(),
            Some("varchar")
        );
        assert_eq!(type_name("text[]").as_deref(), Some("_text"));
        assert_eq!(type_name("hstore").as_deref(), Some("hstore"));
    }
}
