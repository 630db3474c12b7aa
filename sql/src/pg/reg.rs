//! PostgreSQL's OID alias types, `regclass`, `regtype`, `regnamespace` and `regproc`,
//! as results: a value is an OID (an `integer` in Tarn), but a column of such a type is
//! described to the client as that type (`regclass`, OID 2205) and printed in text as
//! the object's name (`select 't'::regclass` is `t`, `select c.oid::regclass` lists
//! relation names), and a name that names nothing is an error.
//!
//! - [`type_select_items`] marks a select item that is a cast to one of these types
//!   (or `pg_typeof`'s argument) with `pg_reg_typed(kind, value)`, whose result field
//!   carries `arrow-pg`'s OID alias metadata: the wire layer describes the column by
//!   it and writes each OID's name in text ([`crate::Session::reg_names`]); binary
//!   values stay OIDs, as PostgreSQL sends them. Only select items are marked: in a
//!   comparison or a join (`attrelid = 't'::regclass`) the value is the OID either way.
//! - [`check_literal_names`] makes a literal name that names nothing an error, as in
//!   PostgreSQL (the pg_catalog crate's lookups answer NULL): `relation "x" does not
//!   exist` (42P01), `type "x" does not exist` (42704), `schema "x" does not exist`
//!   (3F000), `function "x" does not exist` (42883), and `more than one function named
//!   "x"` (42725). A relation's name is looked up by `pg_regclass_oid` (search path,
//!   temporary tables); names in `pg_catalog` and `information_schema` keep the crate's
//!   lookup, which answers NULL for a catalog Tarn does not have (clients' queries
//!   name catalogs such as `pg_rewrite` that must not fail).

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Int32Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int32Type};
use datafusion::common::{Result as DFResult, ScalarValue, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    self, Expr, Query, SelectItem, SetExpr, Statement, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_pg_catalog::pg_catalog::oid_field::OID_ALIAS_KEY;

/// The OID alias types Tarn resolves and names.
pub const KINDS: [&str; 4] = ["regclass", "regtype", "regnamespace", "regproc"];

/// The kind of a cast's target type (`pg_catalog.REGCLASS` -> `regclass`).
fn cast_kind(data_type: &ast::DataType) -> Option<&'static str> {
    let name = data_type.to_string().to_ascii_lowercase();
    let name = name.trim_start_matches("pg_catalog.");
    KINDS.into_iter().find(|k| *k == name)
}

/// The kind of `expr` if it is (in parentheses or not) a cast to an alias type.
fn reg_cast(expr: &Expr) -> Option<&'static str> {
    match expr {
        Expr::Nested(inner) => reg_cast(inner),
        Expr::Cast { data_type, .. } => cast_kind(data_type),
        _ => None,
    }
}

fn typed(kind: &str, expr: Expr) -> Expr {
    let kind = Expr::Value(ast::Value::SingleQuotedString(kind.to_owned()).into());
    super::call("pg_reg_typed", vec![kind, expr])
}

/// Marks the select items (of every SELECT in `statement`) and `pg_typeof`
/// arguments that are casts to an alias type. Runs after the names
/// ([`super::names::rewrite`]) and before the lookups of literal names.
pub(crate) fn type_select_items(statement: &mut Statement) {
    struct Items;
    impl VisitorMut for Items {
        type Break = ();
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            let marked = mark_set_expr(&mut query.body);
            // ORDER BY refers to a select item by its expression (psql's `\d` sorts
            // by `c.oid::regclass::text`): the same expression, marked alike.
            mark_again(&mut query.order_by, &marked);
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::Function(f) = expr
                && super::single_value::function_name(f) == "pg_typeof"
                && let ast::FunctionArguments::List(list) = &mut f.args
                && let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] =
                    list.args.as_mut_slice()
                && let Some(kind) = reg_cast(arg)
            {
                *arg = typed(kind, arg.clone());
            }
            ControlFlow::Continue(())
        }
    }
    /// Marks the select items of `body`'s SELECT; returns the expressions marked.
    fn mark_set_expr(body: &mut SetExpr) -> Vec<(Expr, &'static str)> {
        match body {
            SetExpr::Select(select) => {
                let mut marked = Vec::new();
                for item in &mut select.projection {
                    let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) =
                        item
                    else {
                        continue;
                    };
                    if let Some(kind) = reg_cast(expr) {
                        marked.push((expr.clone(), kind));
                        *expr = typed(kind, expr.clone());
                    }
                }
                // GROUP BY, HAVING and DISTINCT ON name the items by expression too.
                mark_again(&mut select.group_by, &marked);
                mark_again(&mut select.having, &marked);
                mark_again(&mut select.distinct, &marked);
                marked
            }
            SetExpr::SetOperation { left, right, .. } => {
                mark_set_expr(left);
                mark_set_expr(right);
                Vec::new()
            }
            SetExpr::Query(query) => mark_set_expr(&mut query.body),
            _ => Vec::new(),
        }
    }
    /// Marks the expressions of `node` that are one of `marked`.
    fn mark_again<T: VisitMut>(node: &mut T, marked: &[(Expr, &'static str)]) {
        if marked.is_empty() {
            return;
        }
        let _ = ast::visit_expressions_mut(node, |expr| {
            if let Some((_, kind)) = marked.iter().find(|(e, _)| e == expr) {
                *expr = typed(kind, expr.clone());
            }
            ControlFlow::<()>::Continue(())
        });
    }
    let _ = statement.visit(&mut Items);
}

/// Rewrites `'name'::regclass` (outside pg_catalog and information_schema),
/// `'name'::regtype`, `'name'::regnamespace` and `'name'::regproc` into lookups that
/// fail for a name that names nothing. A literal of digits is an OID, and stays the
/// crate's. Runs before the crate's rules.
pub(crate) fn check_literal_names(statement: &mut Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Expr::Cast {
            expr: value,
            data_type,
            ..
        } = expr
            && let Some(kind) = cast_kind(data_type)
            && let Expr::Value(v) = value.as_ref()
            && let ast::Value::SingleQuotedString(name) = &v.value
            && !name.trim().bytes().all(|b| b.is_ascii_digit())
            && let Some(lookup) = lookup(kind, name)
        {
            *expr = lookup;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `text` as a SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The checked lookup of `name` as a `kind`, or `None` to leave it to the crate.
fn lookup(kind: &str, name: &str) -> Option<Expr> {
    let sql = match kind {
        "regclass" => {
            let parts = super::catalog::name_parts(name)?;
            let system = match parts.as_slice() {
                [table] => table.starts_with("pg_"),
                [schema, _] | [_, schema, _] => {
                    schema == "pg_catalog" || schema == "information_schema"
                }
                _ => true,
            };
            if system {
                return None;
            }
            format!("pg_regclass_oid({})", literal(name))
        }
        "regtype" => format!(
            "pg_reg_found('regtype', {}, (SELECT max(__reg.oid) FROM pg_catalog.pg_type AS __reg \
             WHERE __reg.typname = {}))",
            literal(name),
            literal(&super::functions::type_name(name)?)
        ),
        "regnamespace" => {
            let [schema] = super::catalog::name_parts(name)?.try_into().ok()?;
            format!(
                "pg_reg_found('regnamespace', {}, (SELECT max(__reg.oid) FROM \
                 pg_catalog.pg_namespace AS __reg WHERE __reg.nspname = {}))",
                literal(name),
                literal(&schema)
            )
        }
        "regproc" => {
            let parts = super::catalog::name_parts(name)?;
            let function = parts.last()?;
            // More than one function of the name: -1, which pg_reg_found reports.
            format!(
                "pg_reg_found('regproc', {}, (SELECT CASE WHEN count(*) > 1 THEN -1 \
                 ELSE max(__reg.oid) END FROM pg_catalog.pg_proc AS __reg \
                 WHERE __reg.proname = {}))",
                literal(name),
                literal(function)
            )
        }
        _ => return None,
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// The metadata that describes a column as the alias type `kind`.
pub(crate) fn alias_metadata(kind: &str) -> std::collections::HashMap<String, String> {
    [(OID_ALIAS_KEY.to_owned(), kind.to_owned())]
        .into_iter()
        .collect()
}

/// The alias kind a field is described as (`oid`, `regclass`, ...), if any.
pub(crate) fn field_kind(field: &Field) -> Option<&str> {
    field.metadata().get(OID_ALIAS_KEY).map(String::as_str)
}

/// The kind named by a UDF's first argument, a string literal.
fn kind_argument(args: &ReturnFieldArgs) -> DFResult<&'static str> {
    let given = match args.scalar_arguments.first() {
        Some(Some(ScalarValue::Utf8(Some(k)) | ScalarValue::Utf8View(Some(k)))) => k.as_str(),
        _ => return plan_err!("pg_reg_typed takes the type's name as a literal"),
    };
    match KINDS.into_iter().find(|k| *k == given) {
        Some(kind) => Ok(kind),
        None => plan_err!("pg_reg_typed does not know type {given}"),
    }
}

/// `pg_reg_typed(kind, oid)`: the OID, in a column described as `kind`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegTyped {
    signature: Signature,
}

/// `pg_reg_found(kind, name, oid)`: the OID that `name` was looked up as; an error
/// naming `name` where it is NULL (nothing of the name) or -1 (several functions).
#[derive(Debug, PartialEq, Eq, Hash)]
struct RegFound {
    signature: Signature,
}

pub(crate) fn udfs() -> [ScalarUDF; 2] {
    [
        ScalarUDF::new_from_impl(RegTyped {
            signature: Signature::new(TypeSignature::UserDefined, Volatility::Immutable),
        }),
        ScalarUDF::new_from_impl(RegFound {
            signature: Signature::new(TypeSignature::UserDefined, Volatility::Immutable),
        }),
    ]
}

impl ScalarUDFImpl for RegTyped {
    fn name(&self) -> &str {
        "pg_reg_typed"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> DFResult<Vec<DataType>> {
        Ok(vec![DataType::Utf8; args.len().min(1)]
            .into_iter()
            .chain(args.iter().skip(1).map(|_| DataType::Int32))
            .collect())
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Int32)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> DFResult<FieldRef> {
        let kind = kind_argument(&args)?;
        Ok(Arc::new(
            Field::new(self.name(), DataType::Int32, true).with_metadata(alias_metadata(kind)),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        Ok(args.args[1].clone())
    }
}

impl ScalarUDFImpl for RegFound {
    fn name(&self) -> &str {
        "pg_reg_found"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> DFResult<Vec<DataType>> {
        Ok(args
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i < 2 {
                    DataType::Utf8
                } else {
                    DataType::Int32
                }
            })
            .collect())
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let kinds = arrays[0].as_string::<i32>();
        let names = arrays[1].as_string::<i32>();
        let oids = arrays[2].as_primitive::<Int32Type>();
        for i in 0..rows.min(oids.len()) {
            if names.is_null(i) {
                continue;
            }
            let name = names.value(i);
            let found = (!oids.is_null(i)).then(|| oids.value(i));
            match (kinds.value(i), found) {
                ("regproc", Some(-1)) => {
                    return plan_err!("more than one function named \"{name}\"");
                }
                (_, Some(_)) => {}
                ("regtype", None) => return plan_err!("type \"{name}\" does not exist"),
                ("regnamespace", None) => return plan_err!("schema \"{name}\" does not exist"),
                ("regproc", None) => return plan_err!("function \"{name}\" does not exist"),
                (kind, None) => return plan_err!("{kind} \"{name}\" does not exist"),
            }
        }
        let oids: Int32Array = oids.clone();
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}

/// `format_type(oid, typmod)`: the pg_catalog crate's, which writes `oid(N)` for the
/// types it does not list, with the names of the alias types and other built-in
/// types PostgreSQL 15 has (psql's `\gdesc` and `\df` name result types with it), and
/// PostgreSQL's `-` for OID 0 and `???` for an OID that is no type.
pub(crate) fn format_type_udf() -> ScalarUDF {
    let inner = datafusion_pg_catalog::pg_catalog::format_type::create_format_type_udf();
    ScalarUDF::new_from_impl(FormatType {
        signature: inner.signature().clone(),
        inner,
    })
}

/// Type names by OID (PostgreSQL 15's pg_type), and their arrays'.
const MORE_TYPES: &[(i32, i32, &str)] = &[
    (22, 1006, "int2vector"),
    (24, 1008, "regproc"),
    (30, 1013, "oidvector"),
    (142, 143, "xml"),
    (194, 0, "pg_node_tree"),
    (600, 1017, "point"),
    (650, 651, "cidr"),
    (705, 0, "unknown"),
    (790, 791, "money"),
    (829, 1040, "macaddr"),
    (869, 1041, "inet"),
    (1033, 1034, "aclitem"),
    (1790, 2201, "refcursor"),
    (2202, 2207, "regprocedure"),
    (2203, 2208, "regoper"),
    (2204, 2209, "regoperator"),
    (2205, 2210, "regclass"),
    (2206, 2211, "regtype"),
    (2249, 287, "record"),
    (2275, 1263, "cstring"),
    (2276, 0, "\"any\""),
    (2277, 0, "anyarray"),
    (2278, 0, "void"),
    (2279, 0, "trigger"),
    (2283, 0, "anyelement"),
    (3220, 3221, "pg_lsn"),
    (3614, 3643, "tsvector"),
    (3615, 3645, "tsquery"),
    (3734, 3735, "regconfig"),
    (3769, 3770, "regdictionary"),
    (4089, 4090, "regnamespace"),
    (4096, 4097, "regrole"),
    (4191, 4192, "regcollation"),
];

fn more_type(oid: i32) -> Option<String> {
    MORE_TYPES.iter().find_map(|&(base, array, name)| {
        if oid == base {
            Some(name.to_owned())
        } else if oid == array && array != 0 {
            Some(format!("{name}[]"))
        } else {
            None
        }
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct FormatType {
    inner: ScalarUDF,
    signature: Signature,
}

impl ScalarUDFImpl for FormatType {
    fn name(&self) -> &str {
        "format_type"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let rows = args.number_rows;
        let written = self.inner.invoke_with_args(args)?.into_array(rows)?;
        let written = datafusion::arrow::compute::cast(&written, &DataType::Utf8)?;
        let named: datafusion::arrow::array::StringArray = written
            .as_string::<i32>()
            .iter()
            .map(|name| {
                let name = name?;
                let unknown = name
                    .strip_prefix("oid(")
                    .and_then(|n| n.strip_suffix(')'))
                    .and_then(|n| n.parse::<i32>().ok());
                Some(match unknown {
                    // PostgreSQL's format_type: `-` for no type (asyncpg's type query
                    // reads `typelem::regtype::text` of types that have none), `???`
                    // for an OID that is no type.
                    Some(0) => "-".to_owned(),
                    Some(oid) => more_type(oid).unwrap_or_else(|| "???".to_owned()),
                    None => name.to_owned(),
                })
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(named)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::rewritten;

    #[test]
    fn only_select_items_and_pg_typeof_arguments_are_typed() {
        assert_eq!(
            rewritten(
                "SELECT c.oid::regclass AS oid, 1 FROM pg_class c WHERE c.oid = 't'::regclass",
                type_select_items
            ),
            "SELECT pg_reg_typed('regclass', c.oid::REGCLASS) AS oid, 1 FROM pg_class c \
             WHERE c.oid = 't'::REGCLASS"
        );
        assert_eq!(
            rewritten("SELECT pg_typeof('int4'::regtype)", type_select_items),
            "SELECT pg_typeof(pg_reg_typed('regtype', 'int4'::regtype))"
        );
        assert_eq!(
            rewritten("SELECT x::regclass::text FROM t", type_select_items),
            "SELECT x::REGCLASS::TEXT FROM t"
        );
        // ORDER BY and GROUP BY find the item by its expression.
        assert_eq!(
            rewritten(
                "SELECT x::regclass FROM t GROUP BY x::regclass ORDER BY upper(x::regclass::text)",
                type_select_items
            ),
            "SELECT pg_reg_typed('regclass', x::REGCLASS) FROM t \
             GROUP BY pg_reg_typed('regclass', x::REGCLASS) \
             ORDER BY upper(pg_reg_typed('regclass', x::REGCLASS)::TEXT)"
        );
    }

    #[test]
    fn literal_names_outside_the_system_catalogs_are_checked() {
        let checked = |sql| rewritten(sql, check_literal_names);
        assert_eq!(
            checked("SELECT 'S.t'::regclass"),
            "SELECT pg_regclass_oid('S.t')"
        );
        // The crate's lookups (NULL if absent) for catalogs and OIDs.
        assert_eq!(
            checked("SELECT 'pg_rewrite'::regclass, '1259'::regclass"),
            "SELECT 'pg_rewrite'::REGCLASS, '1259'::REGCLASS"
        );
        assert!(checked("SELECT 'integer'::regtype").contains("typname = 'int4'"));
        assert!(checked("SELECT 'Public'::regnamespace").contains("nspname = 'public'"));
    }
}
