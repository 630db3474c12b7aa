//! PostgreSQL's catalog for clients: `pg_catalog` (tables and functions from the
//! `datafusion-pg-catalog` crate, which reads DataFusion's catalog, so it reflects
//! Tarn's lake catalog as it is) and the rewrites of the SQL that psql, pgjdbc,
//! SQLAlchemy and BI tools send to introspect.
//!
//! Adopted rather than written: the crate is kept by pgwire's author on the same
//! DataFusion/arrow-pg line as Tarn and already carries the catalog queries of psql,
//! DBeaver, Metabase and Grafana. Tarn adds a per-session catalog wrapper so the
//! `pg_catalog` schema lives in the session, not in the shared lake catalog.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::error::Result as DFResult;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use tarn_catalog::LakeCatalog;

/// The lake catalog as one session sees it: its schemas, plus schemas that exist only
/// in this session (`pg_catalog`).
#[derive(Debug)]
pub(crate) struct SessionCatalog {
    lake: Arc<dyn CatalogProvider>,
    local: RwLock<HashMap<String, Arc<dyn SchemaProvider>>>,
}

impl SessionCatalog {
    pub(crate) fn new(lake: Arc<dyn CatalogProvider>) -> Self {
        Self {
            lake,
            local: RwLock::new(HashMap::new()),
        }
    }
}

impl CatalogProvider for SessionCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names = self.lake.schema_names();
        names.extend(
            self.local
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned(),
        );
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if let Some(local) = self
            .local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            return Some(Arc::clone(local));
        }
        self.lake.schema(name)
    }

    /// Only session schemas are registered here (`pg_catalog`); the lake's schemas are
    /// created with `CREATE SCHEMA`, which the SQL layer sends to the lake catalog.
    fn register_schema(
        &self,
        name: &str,
        schema: Arc<dyn SchemaProvider>,
    ) -> DFResult<Option<Arc<dyn SchemaProvider>>> {
        Ok(self
            .local
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_owned(), schema))
    }
}

/// What `version()` answers: clients parse `PostgreSQL <major>.<minor>` from it
/// (SQLAlchemy, pgjdbc) and pick their catalog queries by it, so it names the
/// PostgreSQL version whose behaviour Tarn follows, then Tarn's own.
pub const VERSION: &str = concat!(
    "PostgreSQL 15.0 (Tarn ",
    env!("CARGO_PKG_VERSION"),
    ") on x86_64-pc-linux-gnu, compiled by rustc, 64-bit"
);

/// Installs `pg_catalog` and PostgreSQL's functions into a session state.
///
/// The functions go into `ctx`; the `pg_catalog` schema is built over the lake's
/// [`tarn_catalog::lake::MetadataCatalog`] (recorded columns, no Delta logs) in a
/// context of its own, then registered in `ctx`'s catalog.
pub(crate) fn install(
    ctx: &SessionContext,
    catalog_name: &str,
    lake: &LakeCatalog,
) -> crate::Result<()> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    use datafusion::prelude::SessionConfig;
    use datafusion::scalar::ScalarValue;
    let failed = |e: Box<datafusion::error::DataFusionError>| crate::SqlError::DataFusion(*e);
    datafusion_pg_catalog::setup_pg_catalog(ctx, catalog_name, EmptyContextProvider)
        .map_err(failed)?;
    let listings = SessionContext::new_with_config(
        SessionConfig::new()
            .with_create_default_catalog_and_schema(false)
            .with_default_catalog_and_schema(catalog_name, "public"),
    );
    listings.register_catalog(
        catalog_name,
        Arc::new(SessionCatalog::new(Arc::new(lake.metadata()))),
    );
    datafusion_pg_catalog::setup_pg_catalog(&listings, catalog_name, EmptyContextProvider)
        .map_err(failed)?;
    let pg_catalog = listings
        .catalog(catalog_name)
        .and_then(|c| c.schema("pg_catalog"))
        .ok_or_else(|| crate::SqlError::not_supported("pg_catalog over the lake's listings"))?;
    ctx.catalog(catalog_name)
        .ok_or_else(|| crate::SqlError::not_supported("a session without its catalog"))?
        .register_schema("pg_catalog", pg_catalog)?;
    ctx.catalog(catalog_name)
        .ok_or_else(|| crate::SqlError::not_supported("a session without its catalog"))?
        .register_schema(
            "information_schema",
            Arc::new(crate::information_schema::InformationSchema::new(
                Arc::clone(listings.state().catalog_list()),
            )),
        )?;
    ctx.register_udf(create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|_| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(
                VERSION.to_owned(),
            ))))
        }),
    ));
    // Tarn has no sequences: no column is serial (SQLAlchemy's inspector asks).
    ctx.register_udf(create_udf(
        "pg_get_serial_sequence",
        vec![DataType::Utf8, DataType::Utf8],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args| {
            let rows = args.iter().find_map(|a| match a {
                ColumnarValue::Array(a) => Some(a.len()),
                ColumnarValue::Scalar(_) => None,
            });
            Ok(match rows {
                Some(n) => ColumnarValue::Array(datafusion::arrow::array::new_null_array(
                    &DataType::Utf8,
                    n,
                )),
                None => ColumnarValue::Scalar(ScalarValue::Utf8(None)),
            })
        }),
    ));
    // Tarn takes no advisory locks, so none is held; returns void (empty text), as
    // PostgreSQL does. asyncpg's pool calls it when a connection is released.
    ctx.register_udf(create_udf(
        "pg_advisory_unlock_all",
        vec![],
        DataType::Utf8,
        Volatility::Volatile,
        Arc::new(|_| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                Some(String::new()),
            )))
        }),
    ));
    // Tarn has no user-defined functions: every function is visible (psql's \df).
    ctx.register_udf(create_udf(
        "pg_function_is_visible",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args| {
            let rows = match &args[0] {
                ColumnarValue::Array(a) => a.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            Ok(ColumnarValue::Array(Arc::new(
                datafusion::arrow::array::BooleanArray::from(vec![true; rows]),
            )))
        }),
    ));
    Ok(())
}

/// The parser that rewrites client introspection SQL into what DataFusion plans.
pub(crate) fn compatibility() -> &'static PostgresCompatibilityParser {
    static PARSER: OnceLock<PostgresCompatibilityParser> = OnceLock::new();
    PARSER.get_or_init(PostgresCompatibilityParser::new)
}

/// Applies the client-SQL rewrites to one parsed statement.
pub(crate) fn rewrite(statement: SqlStatement) -> SqlStatement {
    let mut statement = compatibility().rewrite(statement);
    rewrite_like_escape(&mut statement);
    statement
}

/// `x LIKE p ESCAPE '/'` (SQLAlchemy escapes with `/`) as DataFusion's only escape,
/// the backslash: in `p`, backslashes become literal (`\\`) and the escape character
/// becomes `\`. (A doubled escape character, rare in practice, is not special-cased.)
pub(crate) fn rewrite_like_escape(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{Expr, Value, visit_expressions_mut};
    use std::ops::ControlFlow;
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Like {
            pattern,
            escape_char,
            ..
        }
        | Expr::ILike {
            pattern,
            escape_char,
            ..
        } = expr
            && let Some(escape) = escape_char.as_ref()
            && let Value::SingleQuotedString(c) = &escape.value
            && c != "\\"
            && c.chars().count() == 1
        {
            let replace = |inner: Expr, from: &str, to: &str| -> Expr {
                Expr::Function(datafusion::sql::sqlparser::ast::Function {
                    name: datafusion::sql::sqlparser::ast::ObjectName::from(vec![
                        datafusion::sql::sqlparser::ast::Ident::new("replace"),
                    ]),
                    uses_odbc_syntax: false,
                    parameters: datafusion::sql::sqlparser::ast::FunctionArguments::None,
                    args: datafusion::sql::sqlparser::ast::FunctionArguments::List(
                        datafusion::sql::sqlparser::ast::FunctionArgumentList {
                            duplicate_treatment: None,
                            args: [
                                inner,
                                Expr::value(Value::SingleQuotedString(from.to_owned())),
                                Expr::value(Value::SingleQuotedString(to.to_owned())),
                            ]
                            .into_iter()
                            .map(|e| {
                                datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                                    datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(e),
                                )
                            })
                            .collect(),
                            clauses: vec![],
                        },
                    ),
                    filter: None,
                    null_treatment: None,
                    over: None,
                    within_group: vec![],
                })
            };
            let c = c.clone();
            let original = std::mem::replace(pattern.as_mut(), Expr::value(Value::Null));
            let escaped = replace(original, "\\", "\\\\");
            **pattern = replace(escaped, &c, "\\");
            *escape_char = None;
        }
        ControlFlow::<()>::Continue(())
    });
}
