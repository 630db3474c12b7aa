//! Column defaults (`CREATE TABLE t (..., created timestamp DEFAULT now(), status text
//! DEFAULT 'new')`), as PostgreSQL applies them on INSERT.
//!
//! A default is kept as written, in its column's field metadata
//! ([`tarn_catalog::types::DEFAULT_KEY`]), which the Delta schema and the catalog entry
//! carry. An INSERT is rewritten before it is planned: a column with a default that the
//! INSERT leaves out gets its default expression (evaluated by the statement, so
//! `now()` is the statement's time), `DEFAULT` in a VALUES row is the column's default
//! (NULL without one), `INSERT ... DEFAULT VALUES` is a row of defaults, and a VALUES
//! row shorter than the table fills its trailing columns with their defaults. COPY
//! FROM ([`crate::copy`]) and MERGE's INSERT ([`super::merge`]) fill the columns they
//! leave out with their defaults too.

use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{
    self, Expr, Ident, ObjectName, Query, SetExpr, Statement as SqlStatement, TableObject,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

use crate::error::{Result, SqlError};

/// The column defaults of a CREATE TABLE, by column name (folded as names are), as
/// written.
pub(crate) fn declared(create: &ast::CreateTable) -> Vec<(String, String)> {
    create
        .columns
        .iter()
        .filter_map(|c| {
            let default = written(c)?;
            let name = match c.name.quote_style {
                Some(_) => c.name.value.clone(),
                None => c.name.value.to_lowercase(),
            };
            Some((name, default))
        })
        .collect()
}

/// The default a column definition declares, as written; `DEFAULT NULL` is none, as
/// PostgreSQL stores none for it.
pub(crate) fn written(column: &ast::ColumnDef) -> Option<String> {
    column.options.iter().find_map(|o| match &o.option {
        ast::ColumnOption::Default(Expr::Value(v))
            if matches!(v.value, datafusion::sql::sqlparser::ast::Value::Null) =>
        {
            None
        }
        ast::ColumnOption::Default(expr) => Some(expr.to_string()),
        _ => None,
    })
}

/// Refuses what a CREATE TABLE declares that Tarn would otherwise drop silently, leaving
/// NULLs where PostgreSQL computes values: generated columns (`GENERATED ALWAYS AS (a *
/// 2) STORED`), identity columns (`GENERATED ... AS IDENTITY`) and the `serial` types,
/// which need a sequence (SQLAlchemy's `create_all` declares an integer primary key
/// `SERIAL`). 0A000, naming the column's declaration.
pub(crate) fn refuse_generated(create: &ast::CreateTable) -> Result<()> {
    for column in &create.columns {
        let generated = column.options.iter().find(|o| {
            matches!(
                o.option,
                ast::ColumnOption::Generated { .. } | ast::ColumnOption::Identity(_)
            )
        });
        let serial = match &column.data_type {
            ast::DataType::Custom(name, _) => {
                let name = name.to_string().to_ascii_lowercase();
                let serials = [
                    "serial",
                    "serial4",
                    "bigserial",
                    "serial8",
                    "smallserial",
                    "serial2",
                ];
                serials
                    .contains(&name.as_str())
                    .then(|| format!("type {name}"))
            }
            _ => None,
        };
        if let Some(what) = generated.map(|o| o.option.to_string()).or(serial) {
            return Err(SqlError::not_supported(format!(
                "{what} (column \"{}\")",
                column.name.value
            )));
        }
    }
    Ok(())
}

/// Fills the defaults of the table an INSERT writes (see the module).
pub(crate) async fn fill(statement: &mut DFStatement, state: &SessionState) -> Result<()> {
    let DFStatement::Statement(statement) = statement else {
        return Ok(());
    };
    let SqlStatement::Insert(insert) = statement.as_mut() else {
        return Ok(());
    };
    if insert.on.is_some() {
        // INSERT ... ON CONFLICT runs as a MERGE of its own.
        return Ok(());
    }
    let TableObject::TableName(name) = &insert.table else {
        return Ok(());
    };
    let reference = object_name_to_table_reference(name.clone(), true)?;
    let Ok(schema) = state.schema_for_ref(reference.clone()) else {
        return Ok(());
    };
    let Some(table) = schema.table(reference.table()).await? else {
        return Ok(());
    };
    let fields = table.schema().fields().clone();
    let defaults: Vec<Option<Expr>> = fields
        .iter()
        .map(|f| {
            f.metadata()
                .get(tarn_catalog::types::DEFAULT_KEY)
                .map(|sql| parse(sql))
                .transpose()
        })
        .collect::<Result<_>>()?;
    let default_values = insert.source.is_none() && insert.columns.is_empty();
    if defaults.iter().all(Option::is_none) && !default_values {
        return Ok(());
    }
    let column_names: Vec<String> = fields.iter().map(|f| f.name().clone()).collect();
    let null = || Expr::value(ast::Value::Null);
    if default_values {
        // INSERT ... DEFAULT VALUES: one row of every column's default.
        let row: Vec<Expr> = defaults
            .iter()
            .map(|d| d.clone().unwrap_or_else(null))
            .collect();
        insert.columns = column_names.iter().map(|n| quoted(n)).collect();
        insert.source = Some(Box::new(values_query(vec![row])));
        return Ok(());
    }
    let Some(source) = insert.source.as_mut() else {
        return Ok(());
    };
    // The columns the INSERT names, in its order: as listed, else the table's first
    // ones (as many as a VALUES row holds; all of them for a query).
    let width = match source.body.as_ref() {
        SetExpr::Values(values) => values.rows.iter().map(|r| r.content.len()).max(),
        _ => None,
    };
    let named: Vec<usize> = match insert.columns.is_empty() {
        false => insert
            .columns
            .iter()
            .map(|c| {
                let written = c.to_string();
                let column =
                    c.0.last()
                        .and_then(|p| p.as_ident())
                        .map(|i| match i.quote_style {
                            Some(_) => i.value.clone(),
                            None => i.value.to_lowercase(),
                        })
                        .unwrap_or(written);
                column_names.iter().position(|n| *n == column)
            })
            .collect::<Option<Vec<usize>>>()
            .unwrap_or_default(),
        true => (0..width.unwrap_or(column_names.len()).min(column_names.len())).collect(),
    };
    if named.is_empty() {
        // A column that does not exist: left for the planner to name.
        return Ok(());
    }
    let missing: Vec<usize> = (0..column_names.len())
        .filter(|i| !named.contains(i) && defaults[*i].is_some())
        .collect();
    match source.body.as_mut() {
        SetExpr::Values(values) => {
            for row in &mut values.rows {
                let row = &mut row.content;
                for (value, column) in row.iter_mut().zip(&named) {
                    if is_default_keyword(value) {
                        *value = defaults[*column].clone().unwrap_or_else(null);
                    }
                }
                row.extend(
                    missing
                        .iter()
                        .map(|i| defaults[*i].clone().unwrap_or_else(null)),
                );
            }
        }
        _ if missing.is_empty() => return Ok(()),
        _ => {
            // INSERT ... SELECT: the query's columns, then the defaults.
            let query = std::mem::replace(source.as_mut(), values_query(Vec::new()));
            *source.as_mut() = with_defaults(query, &missing, &defaults)?;
        }
    }
    insert.columns = named
        .iter()
        .chain(&missing)
        .map(|i| quoted(&column_names[*i]))
        .collect();
    Ok(())
}

fn quoted(name: &str) -> ObjectName {
    ObjectName::from(vec![Ident::with_quote('"', name)])
}

/// A default as written, read back as an expression.
fn parse(sql: &str) -> Result<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| SqlError::not_supported(format!("the column default {sql} ({e})")))
}

/// `DEFAULT` written as a value.
pub(super) fn is_default_keyword(expr: &Expr) -> bool {
    matches!(expr, Expr::Identifier(ident)
        if ident.quote_style.is_none() && ident.value.eq_ignore_ascii_case("default"))
}

/// A `VALUES` query of `rows`.
fn values_query(rows: Vec<Vec<Expr>>) -> Query {
    let mut query = *Parser::new(&PostgreSqlDialect {})
        .try_with_sql("VALUES (NULL)")
        .and_then(|mut p| p.parse_query())
        .expect("a VALUES query parses");
    if let SetExpr::Values(values) = query.body.as_mut() {
        values.rows = rows.into_iter().map(ast::Parens::with_empty_span).collect();
    }
    query
}

/// `SELECT q.*, <defaults> FROM (query) AS q`.
fn with_defaults(query: Query, missing: &[usize], defaults: &[Option<Expr>]) -> Result<Query> {
    let alias = "tarn_inserted";
    let extra: Vec<String> = missing
        .iter()
        .filter_map(|i| defaults[*i].as_ref().map(ToString::to_string))
        .collect();
    let sql = format!(
        "SELECT {alias}.*, {} FROM ({query}) AS {alias}",
        extra.join(", ")
    );
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .map(|q| *q)
        .map_err(|e| SqlError::not_supported(format!("INSERT with column defaults ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_read_from_create_table_as_written() {
        let statement = Parser::parse_sql(
            &PostgreSqlDialect {},
            "create table t (id int, Created timestamp default now(), \"S\" text default 'new', n int)",
        )
        .expect("parses")
        .remove(0);
        let SqlStatement::CreateTable(create) = statement else {
            panic!("a CREATE TABLE");
        };
        assert_eq!(
            declared(&create),
            [
                ("created".to_owned(), "now()".to_owned()),
                ("S".to_owned(), "'new'".to_owned())
            ]
        );
    }

    #[test]
    fn a_select_gets_its_missing_defaults_after_its_columns() {
        let query = Parser::new(&PostgreSqlDialect {})
            .try_with_sql("select a from s")
            .and_then(|mut p| p.parse_query())
            .expect("parses");
        let defaults = [None, Some(parse("now()").expect("parses"))];
        assert_eq!(
            with_defaults(*query, &[1], &defaults)
                .expect("rewritten")
                .to_string(),
            "SELECT tarn_inserted.*, now() FROM (SELECT a FROM s) AS tarn_inserted"
        );
    }
}
