//! PostgreSQL's JSON set-returning functions: `json[b]_array_elements`,
//! `json[b]_array_elements_text`, `json[b]_each`, `json[b]_each_text` and
//! `json[b]_object_keys`, in a select list (`select jsonb_array_elements(items)`)
//! and in FROM (`from orders o, jsonb_array_elements(o.items) as item`, which reads
//! the rows before it: [`super::lateral`]).
//!
//! DataFusion has no set-returning scalar functions but unnests lists, so each call
//! becomes `unnest` of a list function of Tarn's (`tarn_json_elements(j, name)`, ...)
//! that takes the value apart ([`super::jsonb::members`]); in FROM, a lateral derived
//! table with PostgreSQL's columns: `value` (elements), `key` and `value` (each), or
//! one named after the alias or the function (object_keys). Elements and values are
//! `json`/`jsonb` as the argument (`_text` forms: text, JSON `null` as NULL); a value
//! of the wrong kind is refused with 22023 and PostgreSQL's words. In FROM,
//! `WITH ORDINALITY` adds a bigint `ordinality` column, for these and for
//! `unnest(array)`. `json[b]_each` in a select list (a record there) is not planned
//! this way.

use std::sync::Arc;

use datafusion::arrow::array::{AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Query, SelectItem, SetExpr,
    Statement, TableAlias, TableFactor, TableFunctionArgs, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use super::json_ops::refused;
use super::jsonb::{self, Members};
use crate::error::SqlError;

/// What a list function takes from a JSON value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Part {
    Elements,
    Keys,
    Values,
}

/// One of PostgreSQL's functions: its name, and the columns it returns (name, list
/// function, as text) in FROM.
struct SetFunction {
    name: &'static str,
    jsonb: bool,
    columns: &'static [(&'static str, Part, bool)],
    /// Whether a select list may call it (it returns one column, not a record).
    scalar: bool,
}

const FUNCTIONS: &[SetFunction] = &[
    set(
        "json_array_elements",
        false,
        &[("value", Part::Elements, false)],
        true,
    ),
    set(
        "jsonb_array_elements",
        true,
        &[("value", Part::Elements, false)],
        true,
    ),
    set(
        "json_array_elements_text",
        false,
        &[("value", Part::Elements, true)],
        true,
    ),
    set(
        "jsonb_array_elements_text",
        true,
        &[("value", Part::Elements, true)],
        true,
    ),
    set("json_object_keys", false, &[("", Part::Keys, true)], true),
    set("jsonb_object_keys", true, &[("", Part::Keys, true)], true),
    set(
        "json_each",
        false,
        &[("key", Part::Keys, true), ("value", Part::Values, false)],
        false,
    ),
    set(
        "jsonb_each",
        true,
        &[("key", Part::Keys, true), ("value", Part::Values, false)],
        false,
    ),
    set(
        "json_each_text",
        false,
        &[("key", Part::Keys, true), ("value", Part::Values, true)],
        false,
    ),
    set(
        "jsonb_each_text",
        true,
        &[("key", Part::Keys, true), ("value", Part::Values, true)],
        false,
    ),
];

const fn set(
    name: &'static str,
    jsonb: bool,
    columns: &'static [(&'static str, Part, bool)],
    scalar: bool,
) -> SetFunction {
    SetFunction {
        name,
        jsonb,
        columns,
        scalar,
    }
}

fn function(name: &str) -> Option<&'static SetFunction> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// The list functions the rewritten calls use.
pub(crate) fn udfs() -> Vec<ScalarUDF> {
    [
        (Part::Elements, false),
        (Part::Elements, true),
        (Part::Keys, true),
        (Part::Values, false),
        (Part::Values, true),
    ]
    .into_iter()
    .map(|(part, text)| {
        ScalarUDF::new_from_impl(JsonParts {
            part,
            text,
            signature: Signature::any(2, Volatility::Immutable),
        })
    })
    .collect()
}

fn udf_name(part: Part, text: bool) -> &'static str {
    match (part, text) {
        (Part::Elements, false) => "tarn_json_elements",
        (Part::Elements, true) => "tarn_json_elements_text",
        (Part::Keys, _) => "tarn_json_keys",
        (Part::Values, false) => "tarn_json_values",
        (Part::Values, true) => "tarn_json_values_text",
    }
}

/// The SQL of one column of `function` applied to `arg`: the unnested list, declared
/// json or jsonb where PostgreSQL's column is.
fn column_sql(function: &SetFunction, part: Part, text: bool, arg: &str) -> String {
    let list = format!("unnest({})", list_sql(function, part, text, arg));
    match (text, function.jsonb) {
        (true, _) => list,
        (false, true) => format!("CAST({list} AS JSONB)"),
        (false, false) => format!("CAST({list} AS JSON)"),
    }
}

/// The SQL of the list `function`'s column takes apart: of the argument as json or
/// jsonb, as PostgreSQL reads it (a text literal given to a jsonb function is jsonb,
/// its keys in jsonb's order, the last of duplicates kept; text that is not JSON is
/// 22P02).
fn list_sql(function: &SetFunction, part: Part, text: bool, arg: &str) -> String {
    let kind = if function.jsonb { "JSONB" } else { "JSON" };
    format!(
        "{}(CAST({arg} AS {kind}), '{}')",
        udf_name(part, text),
        function.name
    )
}

fn parse_expr(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// The one plain argument of a call, as SQL.
fn single_argument(args: &[FunctionArg]) -> Option<String> {
    match args {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(e))] => Some(e.to_string()),
        _ => None,
    }
}

/// Rewrites the calls in `statement` (see the module documentation).
pub(crate) fn rewrite(statement: &mut Statement) {
    struct Calls;
    impl VisitorMut for Calls {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> std::ops::ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                // An unaliased call is named after the function, as in PostgreSQL.
                for item in &mut select.projection {
                    if let SelectItem::UnnamedExpr(Expr::Function(f)) = item {
                        let name = super::single_value::function_name(f);
                        if function(&name).is_some_and(|s| s.scalar) {
                            *item = SelectItem::ExprWithAlias {
                                expr: Expr::Function(f.clone()),
                                alias: Ident::new(name),
                            };
                        }
                    }
                }
                for from in &mut select.from {
                    from_item(&mut from.relation);
                    for join in &mut from.joins {
                        from_item(&mut join.relation);
                    }
                }
            }
            std::ops::ControlFlow::Continue(())
        }

        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            let Expr::Function(f) = expr else {
                return std::ops::ControlFlow::Continue(());
            };
            let name = super::single_value::function_name(f);
            let Some(set) = function(&name).filter(|s| s.scalar) else {
                return std::ops::ControlFlow::Continue(());
            };
            let FunctionArguments::List(list) = &f.args else {
                return std::ops::ControlFlow::Continue(());
            };
            if let Some(arg) = single_argument(&list.args) {
                let (_, part, text) = set.columns[0];
                if let Some(call) = parse_expr(&column_sql(set, part, text, &arg)) {
                    *expr = call;
                }
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Calls);
}

/// A call in FROM made a lateral derived table of PostgreSQL's columns; with
/// `WITH ORDINALITY`, a last column `ordinality` (bigint, from 1) numbers the rows
/// of each call, for these functions and for `unnest(array)` (which DataFusion
/// refuses with ordinality).
pub(super) fn from_item(factor: &mut TableFactor) {
    // `LATERAL f(...)`, spelled out.
    let explicit = matches!(factor, TableFactor::Function { .. });
    let (function_name, arg, alias, with_ordinality) = match factor {
        // `f(...)`, and `CROSS JOIN LATERAL f(...)` (LATERAL, which PostgreSQL
        // implies, spelled out), which sqlparser reads as a table function.
        TableFactor::Table {
            name,
            args: Some(TableFunctionArgs { args, .. }),
            alias,
            with_ordinality,
            ..
        }
        | TableFactor::Function {
            name,
            args,
            alias,
            with_ordinality,
            ..
        } => {
            let Some(arg) = single_argument(args) else {
                return;
            };
            (
                super::single_value::unqualified_name(name),
                arg,
                alias,
                with_ordinality,
            )
        }
        // sqlparser reads `unnest(...)` in FROM as its own kind of item.
        TableFactor::UNNEST {
            alias,
            array_exprs,
            with_offset: false,
            with_ordinality,
            ..
        } if array_exprs.len() == 1 => (
            "unnest".to_owned(),
            array_exprs[0].to_string(),
            alias,
            with_ordinality,
        ),
        _ => return,
    };
    // Each column: its name ("" for the alias's, as a function returning a scalar
    // names its column), its expression, and the list it unnests.
    let columns: Vec<(&str, String, String)> = match function(&function_name) {
        Some(set) => set
            .columns
            .iter()
            .map(|&(column, part, text)| {
                (
                    column,
                    column_sql(set, part, text, &arg),
                    list_sql(set, part, text, &arg),
                )
            })
            .collect(),
        None if function_name == "unnest" && (*with_ordinality || explicit) => {
            vec![("", format!("unnest({arg})"), arg.clone())]
        }
        None => return,
    };
    let mut alias = alias.take().unwrap_or_else(|| TableAlias {
        explicit: true,
        name: Ident::new(function_name.clone()),
        columns: Vec::new(),
        at: None,
    });
    let mut items: Vec<(String, String)> = columns
        .iter()
        .map(|(column, expr, _)| {
            let column = if column.is_empty() {
                alias.name.value.clone()
            } else {
                (*column).to_owned()
            };
            (column, expr.clone())
        })
        .collect();
    if *with_ordinality {
        let list = &columns[0].2;
        items.push((
            "ordinality".to_owned(),
            format!("unnest(range(1, CAST(cardinality({list}) AS BIGINT) + 1))"),
        ));
    }
    // The alias's column names, as many as it gives, replace the first ones (PostgreSQL
    // allows fewer than there are columns, DataFusion does not).
    for (item, given) in items.iter_mut().zip(std::mem::take(&mut alias.columns)) {
        item.0 = given.name.value;
    }
    let select: Vec<String> = items
        .iter()
        .map(|(column, expr)| format!("{expr} AS {}", Ident::with_quote('"', column)))
        .collect();
    let Ok(subquery) = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&format!("SELECT {}", select.join(", ")))
        .and_then(|mut p| p.parse_query())
    else {
        return;
    };
    *factor = TableFactor::Derived {
        lateral: true,
        subquery,
        alias: Some(alias),
        sample: None,
    };
}

/// `tarn_json_elements(j, name)` and its kin: the elements of the array `j`, the
/// keys or the values of the object `j`, as a list (NULL for NULL); `name` is the
/// PostgreSQL function called, for its errors.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonParts {
    part: Part,
    text: bool,
    signature: Signature,
}

impl ScalarUDFImpl for JsonParts {
    fn name(&self) -> &str {
        udf_name(self.part, self.text)
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let ColumnarValue::Scalar(name) = &args.args[1] else {
            return exec_err!("{}: the function's name must be a constant", self.name());
        };
        let name = match name {
            ScalarValue::Utf8(Some(n)) | ScalarValue::Utf8View(Some(n)) => n.clone(),
            _ => return exec_err!("{}: the function's name must be text", self.name()),
        };
        let set = function(&name).ok_or_else(|| {
            DataFusionError::Execution(format!("{}: no function {name}", self.name()))
        })?;
        let values = args.args[0].to_array(args.number_rows)?;
        let values = datafusion::arrow::compute::cast(&values, &DataType::Utf8)?;
        let values = values.as_string::<i32>();
        let mut out = ListBuilder::new(StringBuilder::new());
        for value in values.iter() {
            let Some(value) = value else {
                out.append_null();
                continue;
            };
            let members = jsonb::members(value).map_err(refused)?;
            let wrong = |kind: Kind| wrong_kind(set, self.part, kind);
            match (self.part, members) {
                (Part::Elements, Members::Array(elements)) => {
                    for element in elements {
                        self.append(out.values(), element)?;
                    }
                }
                (Part::Elements, Members::Object(_)) => return Err(wrong(Kind::Object)),
                (Part::Elements, Members::Scalar) => return Err(wrong(Kind::Scalar)),
                (Part::Keys, Members::Object(members)) => {
                    for (key, _) in members {
                        out.values().append_value(key);
                    }
                }
                (Part::Values, Members::Object(members)) => {
                    for (_, member) in members {
                        self.append(out.values(), member)?;
                    }
                }
                (Part::Keys | Part::Values, Members::Array(_)) => return Err(wrong(Kind::Array)),
                (Part::Keys | Part::Values, Members::Scalar) => return Err(wrong(Kind::Scalar)),
            }
            out.append(true);
        }
        let list = Arc::new(out.finish()) as datafusion::arrow::array::ArrayRef;
        if matches!(args.args[0], ColumnarValue::Scalar(_)) {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &list, 0,
            )?));
        }
        Ok(ColumnarValue::Array(list))
    }
}

impl JsonParts {
    /// One element or value, as JSON text or (`_text` forms) as the text it stands for.
    fn append(&self, out: &mut StringBuilder, value: &str) -> Result<()> {
        if self.text {
            out.append_option(jsonb::as_text(value).map_err(refused)?);
        } else {
            out.append_value(value);
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Array,
    Object,
    Scalar,
}

/// PostgreSQL 15's error for a value of the wrong kind (jsonfuncs.c), 22023.
fn wrong_kind(set: &SetFunction, part: Part, kind: Kind) -> DataFusionError {
    let name = set.name;
    let message = match (part, set.jsonb, kind) {
        (Part::Elements, true, Kind::Scalar) => "cannot extract elements from a scalar".to_owned(),
        (Part::Elements, true, _) => "cannot extract elements from an object".to_owned(),
        (Part::Elements, false, Kind::Scalar) => format!("cannot call {name} on a scalar"),
        (Part::Elements, false, _) => format!("cannot call {name} on a non-array"),
        // json[b]_object_keys (its only part is the keys).
        (Part::Keys, _, Kind::Array) if set.columns.len() == 1 => {
            format!("cannot call {name} on an array")
        }
        (Part::Keys, _, Kind::Scalar) if set.columns.len() == 1 => {
            format!("cannot call {name} on a scalar")
        }
        // json[b]_each[_text].
        (_, true, _) => format!("cannot call {name} on a non-object"),
        (_, false, Kind::Array) => "cannot deconstruct an array as an object".to_owned(),
        (_, false, _) => "cannot deconstruct a scalar".to_owned(),
    };
    DataFusionError::External(Box::new(SqlError::WrongJsonKind(message)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        rewrite(&mut statement);
        statement.to_string()
    }

    #[test]
    fn calls_become_unnests_of_lists_with_postgres_names() {
        assert_eq!(
            rewritten("SELECT jsonb_array_elements(j) FROM t"),
            "SELECT CAST(unnest(tarn_json_elements(CAST(j AS JSONB), 'jsonb_array_elements')) \
             AS JSONB) AS jsonb_array_elements FROM t"
        );
        assert_eq!(
            rewritten("SELECT k FROM t, json_object_keys(t.j) AS k"),
            "SELECT k FROM t, LATERAL (SELECT unnest(tarn_json_keys(CAST(t.j AS JSON), \
             'json_object_keys')) AS \"k\") AS k"
        );
        assert_eq!(
            rewritten("SELECT * FROM jsonb_each_text('{}')"),
            "SELECT * FROM LATERAL (SELECT unnest(tarn_json_keys(CAST('{}' AS JSONB), \
             'jsonb_each_text')) AS \"key\", unnest(tarn_json_values_text(CAST('{}' AS JSONB), \
             'jsonb_each_text')) AS \"value\") AS jsonb_each_text"
        );
    }
}
