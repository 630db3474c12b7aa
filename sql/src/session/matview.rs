//! Materialized views: `CREATE MATERIALIZED VIEW [IF NOT EXISTS] name [(columns)] AS
//! query`, `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name`, `DROP MATERIALIZED VIEW
//! [IF EXISTS] name [CASCADE]` and `ALTER MATERIALIZED VIEW name RENAME TO new`, as
//! PostgreSQL has them and dbt-postgres' `materialized_view` materialization runs them.
//!
//! A materialized view is a managed Delta table that holds its query's rows as of its
//! last refresh, with the query kept in its catalog entry
//! ([`tarn_catalog::MATERIALIZED_VIEW_KEY`]). CREATE writes the rows in one Delta
//! commit as `CREATE TABLE AS` does; REFRESH writes them again in one commit, so
//! readers see the old rows or the new ones and never none (what PostgreSQL's
//! `CONCURRENTLY` promises; plain REFRESH blocks readers there). Queries read the
//! stored rows. As a view's, the query's names resolve in the materialized view's
//! schema. pg_class says relkind `m`, `pg_matviews` lists it, and information_schema
//! leaves it out, as PostgreSQL does.
//!
//! Not done: `WITH NO DATA` (an unpopulated materialized view) is refused, as are
//! indexes on one (`CREATE INDEX`, which Tarn has for no relation).

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{self, ObjectName};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use tarn_catalog::MATERIALIZED_VIEW_KEY;

use super::{CommandTag, Output, Session, TransactionState};
use crate::error::{Result, SqlError};

/// The procedure a `REFRESH MATERIALIZED VIEW` statement is parsed into (sqlparser
/// does not read REFRESH): `CALL tarn_refresh_materialized_view('name')`.
pub(crate) const REFRESH_FUNCTION: &str = "tarn_refresh_materialized_view";

/// `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH DATA]` as a call of
/// [`REFRESH_FUNCTION`] with the name as written; `None` if `sql` is no such statement.
pub(crate) fn parse_refresh(sql: &str) -> Result<Option<DFStatement>> {
    let syntax = |message: &str| SqlError::Syntax {
        message: message.to_owned(),
    };
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| syntax(&e.to_string()))?;
    let mut words = tokens
        .into_iter()
        .filter(|t| !matches!(t, Token::Whitespace(_) | Token::SemiColon | Token::EOF))
        .peekable();
    let keyword = |t: Option<&Token>, word: &str| matches!(t, Some(Token::Word(w)) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(word));
    for word in ["refresh", "materialized", "view"] {
        if !keyword(words.next().as_ref(), word) {
            return Ok(None);
        }
    }
    if keyword(words.peek(), "concurrently") {
        words.next();
    }
    let mut name = String::new();
    while let Some(token) = words.next_if(|t| !keyword(Some(t), "with")) {
        name.push_str(&token.to_string());
    }
    match (words.next(), words.next(), words.next()) {
        (None, ..) => {}
        (Some(_), Some(t), None) if keyword(Some(&t), "data") => {}
        (Some(_), Some(t), Some(d)) if keyword(Some(&t), "no") && keyword(Some(&d), "data") => {
            return Err(SqlError::not_supported(
                "REFRESH MATERIALIZED VIEW ... WITH NO DATA",
            ));
        }
        _ => return Err(syntax("syntax error in REFRESH MATERIALIZED VIEW")),
    }
    if name.is_empty() {
        return Err(syntax("syntax error at end of input"));
    }
    let call = format!("CALL {REFRESH_FUNCTION}('{}')", name.replace('\'', "''"));
    let statement = Parser::parse_sql(&PostgreSqlDialect {}, &call)
        .map_err(|e| syntax(&e.to_string()))?
        .pop()
        .ok_or_else(|| syntax("empty REFRESH"))?;
    Ok(Some(DFStatement::Statement(Box::new(statement))))
}

/// How an `ALTER MATERIALIZED VIEW` parsed as `ALTER TABLE` is marked: Snowflake's
/// dynamic tables are its materialized views. The statement then checks that it
/// names one and answers `ALTER MATERIALIZED VIEW`.
pub(crate) const ALTERED_MATERIALIZED_VIEW: ast::AlterTableType = ast::AlterTableType::Dynamic;

/// `ALTER MATERIALIZED VIEW` (which sqlparser does not read) as `ALTER TABLE`, which
/// PostgreSQL also accepts for a materialized view; `None` for other statements.
pub(crate) fn alter_as_table(sql: &str) -> Option<String> {
    let trimmed = sql.trim_start();
    let mut words = trimmed.splitn(4, char::is_whitespace);
    let (alter, materialized, view, rest) =
        (words.next()?, words.next()?, words.next()?, words.next()?);
    (alter.eq_ignore_ascii_case("alter")
        && materialized.eq_ignore_ascii_case("materialized")
        && view.eq_ignore_ascii_case("view"))
    .then(|| format!("ALTER TABLE {rest}"))
}

/// The name a `CALL tarn_refresh_materialized_view('name')` refreshes.
pub(crate) fn refreshed_name(call: &ast::Function) -> Option<ObjectName> {
    if !call.name.to_string().eq_ignore_ascii_case(REFRESH_FUNCTION) {
        return None;
    }
    let ast::FunctionArguments::List(list) = &call.args else {
        return None;
    };
    let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v)))] =
        list.args.as_slice()
    else {
        return None;
    };
    let ast::Value::SingleQuotedString(name) = &v.value else {
        return None;
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(name)
        .ok()?
        .parse_object_name(false)
        .ok()
}

impl Session {
    /// `CREATE MATERIALIZED VIEW`: answers `SELECT n`, as PostgreSQL does.
    pub(super) async fn create_materialized_view(&self, view: &ast::CreateView) -> Result<Output> {
        if view.or_replace {
            return Err(SqlError::not_supported(
                "CREATE OR REPLACE MATERIALIZED VIEW",
            ));
        }
        let (schema, name) =
            self.resolve_table(&object_name_to_table_reference(view.name.clone(), true)?)?;
        let query = view.query.to_string();
        let definition = match view.columns.as_slice() {
            [] => query,
            columns => format!(
                "SELECT * FROM ({query}) AS __tarn_matview ({})",
                columns
                    .iter()
                    .map(|c| c.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let catalog = self.engine.catalog();
        catalog.refresh().await?;
        if view.if_not_exists && catalog.metastore().table(&schema, &name).await?.is_some() {
            self.relation_exists_notice(&name);
            return Ok(Output::Command(CommandTag::new("CREATE MATERIALIZED VIEW")));
        }
        let plan = catalog.plan_definition(&schema, &definition).await?;
        let state = std::sync::Arc::new(self.ctx.state());
        let created = catalog
            .create_materialized_view(&schema, &name, plan, state, &definition, view.if_not_exists)
            .await?;
        if !created {
            return Ok(Output::Command(CommandTag::new("CREATE MATERIALIZED VIEW")));
        }
        if self.transaction_state() != TransactionState::Idle {
            self.state().pending.created(&schema, &name, None);
        }
        self.record_owner(&schema, &name).await;
        let rows = self.count_table_rows(&schema, &name).await?;
        Ok(Output::Command(CommandTag::with_rows("SELECT", rows)))
    }

    /// `REFRESH MATERIALIZED VIEW name`.
    pub(super) async fn refresh_materialized_view(&self, name: &ObjectName) -> Result<Output> {
        let (schema, table) =
            self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
        let catalog = self.engine.catalog();
        catalog.refresh().await?;
        let missing = || SqlError::UndefinedRelation(name.to_string());
        if self.state().pending.is_hidden(&schema, &table) {
            return Err(missing());
        }
        let entry = catalog
            .metastore()
            .table(&schema, &table)
            .await?
            .ok_or_else(missing)?;
        let Some(definition) = entry.properties.get(MATERIALIZED_VIEW_KEY) else {
            return Err(SqlError::NotMaterializedView(table));
        };
        let plan = catalog.plan_definition(&schema, definition).await?;
        let state = std::sync::Arc::new(self.ctx.state());
        catalog
            .refresh_materialized_view(&schema, &table, plan, state)
            .await?;
        Ok(Output::Command(CommandTag::new(
            "REFRESH MATERIALIZED VIEW",
        )))
    }

    /// `DROP MATERIALIZED VIEW [IF EXISTS] name, ... [CASCADE]`.
    pub(super) async fn drop_materialized_views(
        &self,
        names: &[ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> Result<Output> {
        for name in names {
            let (schema, table) =
                self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
            let exists = !self.state().pending.is_hidden(&schema, &table)
                && self
                    .engine
                    .catalog()
                    .metastore()
                    .table(&schema, &table)
                    .await?
                    .is_some();
            if !exists {
                if if_exists {
                    self.skipped_absent_relation(&schema, &table, "materialized view")
                        .await?;
                    continue;
                }
                return Err(SqlError::UndefinedRelation(name.to_string()));
            }
            self.drop_relation(
                &schema,
                &table,
                if_exists,
                super::depends::RelationKind::MaterializedView,
                cascade,
            )
            .await?;
        }
        Ok(Output::Command(CommandTag::new("DROP MATERIALIZED VIEW")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_statements_read_as_postgres_writes_them() {
        let name = |sql: &str| -> Option<String> {
            let statement = parse_refresh(sql).expect("parses")?;
            let DFStatement::Statement(s) = statement else {
                return None;
            };
            let ast::Statement::Call(call) = *s else {
                return None;
            };
            refreshed_name(&call).map(|n| n.to_string())
        };
        assert_eq!(
            name("refresh materialized view mart.daily").as_deref(),
            Some("mart.daily")
        );
        assert_eq!(
            name("REFRESH MATERIALIZED VIEW CONCURRENTLY \"Mart\".\"Daily\" WITH DATA;").as_deref(),
            Some("\"Mart\".\"Daily\"")
        );
        assert_eq!(name("refresh something else"), None);
        assert!(parse_refresh("refresh materialized view v with no data").is_err());
        assert_eq!(
            alter_as_table("ALTER MATERIALIZED VIEW a.b RENAME TO c").as_deref(),
            Some("ALTER TABLE a.b RENAME TO c")
        );
        assert_eq!(alter_as_table("alter table t rename to u"), None);
    }
}
