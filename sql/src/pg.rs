//! PostgreSQL's catalog for clients: `pg_catalog` (tables and functions from the
//! `datafusion-pg-catalog` crate, which reads DataFusion's catalog, so it reflects
//! Tarn's lake catalog as it is) and the rewrites of the SQL that psql, pgjdbc,
//! SQLAlchemy and BI tools send to introspect.
//!
//! Adopted rather than written: the crate is kept by pgwire's author on the same
//! DataFusion/arrow-pg line as Tarn and already carries the catalog queries of psql,
//! DBeaver, Metabase and Grafana. Tarn adds a per-session catalog wrapper so the
//! `pg_catalog` schema lives in the session, not in the shared lake catalog.

pub(crate) mod array_in;
mod arrays;
mod at_zone;
mod bytea_text;
pub(crate) mod casts;
mod catalog;
mod clauses;
mod clock;
mod date_arithmetic;
pub(crate) mod date_input;
pub(crate) mod declared;
mod descriptions;
pub(crate) mod exists;
mod expandarray;
mod extract;
pub mod float_text;
mod format;
mod from_char;
pub(crate) mod functions;
mod interval_mul;
mod intervals;
mod json_build;
mod json_ops;
mod json_sets;
pub(crate) mod jsonb;
pub(crate) mod lateral;
mod mode;
mod multidim;
pub(crate) mod names;
pub(crate) mod not_null;
mod numbers;
mod numeric;
pub(crate) mod oid_arrays;
pub(crate) mod overflow;
mod reg;
mod regex_fns;
pub(crate) mod scalar_from;
mod series;
mod single_value;
mod sizes;
pub mod sleep;
pub(crate) mod subplans;
mod subquery_clauses;
mod text_case;
pub mod text_out;
mod to_char;
mod to_char_num;
mod trunc;
pub(crate) mod typmod;
pub(crate) mod whole_rows;
mod zoned;

pub(crate) use catalog::attach as attach_settings;
pub use catalog::register_role;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use datafusion::catalog::{CatalogProvider, SchemaProvider};
use datafusion::error::Result as DFResult;
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
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

/// Row `row` of a string array (any of Arrow's three layouts), `None` if null or not
/// a string array.
pub fn string_value(array: &dyn datafusion::arrow::array::Array, row: usize) -> Option<&str> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::DataType;
    if array.is_null(row) {
        return None;
    }
    match array.data_type() {
        DataType::Utf8 => Some(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => Some(array.as_string::<i64>().value(row)),
        DataType::Utf8View => Some(array.as_string_view().value(row)),
        _ => None,
    }
}

/// The positional arguments of the call `f` (none if it has no argument list).
pub(crate) fn unnamed_args(
    f: &datafusion::sql::sqlparser::ast::Function,
) -> impl Iterator<Item = &datafusion::sql::sqlparser::ast::Expr> {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, FunctionArguments};
    let args = match &f.args {
        FunctionArguments::List(list) => list.args.as_slice(),
        _ => &[],
    };
    args.iter().filter_map(|a| match a {
        FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
        _ => None,
    })
}

/// The name PostgreSQL's messages give the type Tarn shows for `data_type`
/// (`integer`, `text`, `timestamp with time zone`, `integer[]`), as `format_type`
/// prints it without a typmod.
pub fn type_name(data_type: &datafusion::arrow::datatypes::DataType) -> String {
    use datafusion::arrow::datatypes::DataType;
    match data_type {
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::ListView(item)
        | DataType::LargeListView(item)
        | DataType::FixedSizeList(item, _) => format!("{}[]", type_name(item.data_type())),
        DataType::Null => "unknown".to_owned(),
        DataType::Struct(_) => "record".to_owned(),
        other => crate::information_schema::pg_column_type(other)
            .data_type
            .to_owned(),
    }
}

/// The call `name(args...)`, as the parser would read it, for statement rewrites.
/// `sql`'s first statement after `rewrite`, as text (the statement rewrites' tests).
#[cfg(test)]
pub(crate) fn rewritten(
    sql: &str,
    rewrite: fn(&mut datafusion::sql::sqlparser::ast::Statement),
) -> String {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
        .expect("parses")
        .remove(0);
    rewrite(&mut statement);
    statement.to_string()
}

/// A function's arguments as arrays (a scalar as one of one value per row), and
/// whether every one was a scalar (then [`answer`] gives a scalar back).
pub(crate) fn arguments(
    args: &datafusion::logical_expr::ScalarFunctionArgs,
) -> DFResult<(Vec<datafusion::arrow::array::ArrayRef>, bool)> {
    use datafusion::logical_expr::ColumnarValue;
    let scalar = args
        .args
        .iter()
        .all(|a| matches!(a, ColumnarValue::Scalar(_)));
    Ok((ColumnarValue::values_to_arrays(&args.args)?, scalar))
}

/// A function's answer as DataFusion expects it: a scalar where every argument was
/// one (`array` then holds its one value), else the array.
pub(crate) fn answer(
    array: datafusion::arrow::array::ArrayRef,
    scalar: bool,
) -> DFResult<datafusion::logical_expr::ColumnarValue> {
    use datafusion::logical_expr::ColumnarValue;
    Ok(match scalar && array.len() == 1 {
        true => ColumnarValue::Scalar(datafusion::scalar::ScalarValue::try_from_array(&array, 0)?),
        false => ColumnarValue::Array(array),
    })
}

pub(crate) fn call(
    name: &str,
    args: Vec<datafusion::sql::sqlparser::ast::Expr>,
) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr};
    call_with(
        name,
        args.into_iter()
            .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
            .collect(),
    )
}

/// [`call`] with the arguments as the parser keeps them (named, wildcards).
pub(crate) fn call_with(
    name: &str,
    args: Vec<datafusion::sql::sqlparser::ast::FunctionArg>,
) -> datafusion::sql::sqlparser::ast::Expr {
    use datafusion::sql::sqlparser::ast::{
        Expr, Function, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    };
    Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(name)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    })
}

/// `session_user` (also `current_user` and `user`, which the pg_catalog rules rename
/// to it) for the user this session authenticated as; registered per statement
/// because sessions share one prepared DataFusion state.
pub(crate) fn session_user_udf(user: &str) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    use datafusion::scalar::ScalarValue;
    let user = user.to_owned();
    create_udf(
        "session_user",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_| Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(user.clone()))))),
    )
}

/// Installs `pg_catalog` and PostgreSQL's functions into a session state.
///
/// The functions go into `ctx`; the `pg_catalog` schema is built over the lake's
/// [`tarn_catalog::lake::MetadataCatalog`] (recorded columns, no Delta logs) in a
/// context of its own, then registered in `ctx`'s catalog.
pub(crate) fn install(
    ctx: &SessionContext,
    catalog_name: &str,
    lake: &LakeCatalog,
    activity: &Arc<crate::activity::Activity>,
) -> crate::Result<()> {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    use datafusion::prelude::SessionConfig;
    use datafusion::scalar::ScalarValue;
    let failed = |e: Box<datafusion::error::DataFusionError>| crate::SqlError::DataFusion(*e);
    datafusion_pg_catalog::setup_pg_catalog(ctx, catalog_name, EmptyContextProvider)
        .map_err(failed)?;
    zoned::install(ctx);
    ctx.register_udf(reg::format_type_udf());
    to_char::install(ctx);
    clock::install(ctx);
    arrays::install(ctx).map_err(crate::SqlError::DataFusion)?;
    ctx.register_udf(multidim::elements_udf());
    ctx.register_udf(trunc::udf("UTC"));
    ctx.register_udf(format::udf());
    ctx.register_udf(format::quote_ident_udf());
    for udf in format::quote_literal_udfs() {
        ctx.register_udf(udf);
    }
    // PostgreSQL's names for functions DataFusion has under others.
    if let Ok(var_samp) = datafusion::execution::FunctionRegistry::udaf(ctx, "var_samp") {
        ctx.register_udaf(var_samp.as_ref().clone().with_aliases(["variance"]));
    }
    if let Ok(bool_and) = datafusion::execution::FunctionRegistry::udaf(ctx, "bool_and") {
        ctx.register_udaf(bool_and.as_ref().clone().with_aliases(["every"]));
    }
    for udf in bytea_text::udfs()
        .into_iter()
        .chain(numbers::udfs())
        .chain(text_case::udfs())
    {
        ctx.register_udf(udf);
    }
    if let Ok(signum) = datafusion::execution::FunctionRegistry::udf(ctx, "signum") {
        ctx.register_udf(signum.as_ref().clone().with_aliases(["sign"]));
    }
    if let Ok(ceil) = datafusion::execution::FunctionRegistry::udf(ctx, "ceil") {
        ctx.register_udf(ceil.as_ref().clone().with_aliases(["ceiling"]));
    }
    ctx.register_udf(create_udf(
        "pg_get_userbyid",
        vec![DataType::Int32],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(|args| {
            let oids = match &args[0] {
                ColumnarValue::Array(a) => a.clone(),
                ColumnarValue::Scalar(s) => s.to_array()?,
            };
            let oids = datafusion::arrow::compute::cast(&oids, &DataType::Int32)?;
            let oids = oids
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int32Array>()
                .cloned()
                .unwrap_or_else(|| datafusion::arrow::array::Int32Array::from(Vec::<i32>::new()));
            let names: datafusion::arrow::array::StringArray =
                oids.iter().map(|o| o.map(catalog::role_name)).collect();
            Ok(ColumnarValue::Array(Arc::new(names)))
        }),
    ));
    ctx.register_udf(interval_mul::udf());
    ctx.register_udf(catalog::pg_get_expr_udf());
    // The session's catalog, with pg_catalog, whose relations are named too.
    let relations = ctx
        .catalog(catalog_name)
        .unwrap_or_else(|| Arc::new(lake.clone()));
    ctx.register_udf(catalog::regclass_name_udf(Arc::clone(&relations)));
    ctx.register_udf(catalog::regclass_oid_udf(relations));
    ctx.register_udf(sleep::udf());
    for udf in reg::udfs() {
        ctx.register_udf(udf);
    }
    json_ops::install(ctx).map_err(crate::SqlError::DataFusion)?;
    for udf in json_sets::udfs() {
        ctx.register_udf(udf);
    }
    for udf in typmod::udfs() {
        ctx.register_udf(udf);
    }
    ctx.register_udf(typmod::gen_random_uuid_udf());
    for udf in intervals::udfs() {
        ctx.register_udf(udf);
    }
    ctx.register_udaf(mode::udaf());
    ctx.register_udaf(mode::percentile_disc_udaf());
    ctx.register_udf(at_zone::udf());
    ctx.register_udf(regex_fns::split_udf());
    ctx.register_udf(regex_fns::matches_udf());
    ctx.register_udf(regex_fns::similar_udf());
    for udf in extract::udfs() {
        ctx.register_udf(udf);
    }
    ctx.register_udf(not_null::udf());
    ctx.register_udf(functions::type_name_udf());
    ctx.register_udf(functions::type_is_visible_udf());
    ctx.register_udf(functions::prefix_elements_udf());
    for udf in functions::absent_object_udfs() {
        ctx.register_udf(udf);
    }
    crate::activity::install(ctx, activity);
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
        .register_schema(
            "pg_catalog",
            Arc::new(catalog::PgCatalog::new(
                pg_catalog,
                lake,
                Arc::new(crate::activity::StatActivity::new(
                    Arc::clone(activity),
                    catalog_name,
                )),
            )),
        )?;
    ctx.catalog(catalog_name)
        .ok_or_else(|| crate::SqlError::not_supported("a session without its catalog"))?
        .register_schema(
            "information_schema",
            Arc::new(crate::information_schema::InformationSchema::new(
                Arc::clone(listings.state().catalog_list()),
                lake.clone(),
                catalog_name,
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
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(PgTypeof {
        signature: datafusion::logical_expr::Signature::any(
            1,
            datafusion::logical_expr::Volatility::Immutable,
        ),
    }));
    // Tarn keeps no indexes: `pg_get_indexdef(oid [, column, pretty])` is NULL, as
    // PostgreSQL answers for an OID that is not an index (pgjdbc's getIndexInfo).
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(NullText::new(
        "pg_get_indexdef",
        &[1, 3],
    )));
    // Comments of tables, views and their columns (COMMENT ON), from their entries.
    for udf in descriptions::udfs(lake) {
        ctx.register_udf(udf);
    }
    // Relation sizes (psql's `\dt+`).
    for udf in sizes::udfs(lake) {
        ctx.register_udf(udf);
    }
    // Tarn keeps no comments on databases and roles: NULL, as PostgreSQL answers for
    // an object without one.
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(NullText::new(
        "shobj_description",
        &[2],
    )));
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
    for udf in json_build::udfs() {
        ctx.register_udf(udf);
    }
    ctx.register_udf(datafusion::logical_expr::ScalarUDF::from(
        expandarray::ExpandArray::new(),
    ));
    ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(
        single_value::SingleValue::new(),
    ));
    // Tarn has only the default collation, always visible (SQLAlchemy's get_columns).
    ctx.register_udf(create_udf(
        "pg_collation_is_visible",
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
    // Tarn has no temporary schemas, so no schema is another session's (dbt's
    // `docs generate` filters with it).
    ctx.register_udf(create_udf(
        "pg_is_other_temp_schema",
        vec![DataType::Int32],
        DataType::Boolean,
        Volatility::Stable,
        Arc::new(|args| {
            let rows = match &args[0] {
                ColumnarValue::Array(a) => a.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            Ok(ColumnarValue::Array(Arc::new(
                datafusion::arrow::array::BooleanArray::from(vec![false; rows]),
            )))
        }),
    ));
    Ok(())
}

/// The analyzer rule that reads `flag = 't'` as PostgreSQL does (see
/// [`casts::BooleanLiterals`]); it runs before type coercion.
pub(crate) fn boolean_literal_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(casts::BooleanLiterals)
}

/// The analyzer rule that gives floats precedence over numerics and decimal quotients
/// PostgreSQL's 16 places (see [`numeric`]); it runs before type coercion.
pub(crate) fn numeric_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(numeric::PgNumeric)
}

/// The analyzer rule that makes `date ± interval` a timestamp (see
/// [`date_arithmetic`]); it runs before type coercion.
pub(crate) fn date_arithmetic_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    date_arithmetic::rule()
}

/// The analyzer rule that makes text/timestamp casts PostgreSQL's (see [`casts`]).
pub(crate) fn cast_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(casts::PgCasts)
}

/// The analyzer rule that makes integer `+`, `-` and `*` fail on overflow (see
/// [`overflow`]); it runs after type coercion.
pub(crate) fn partial_subscripts_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync>
{
    Arc::new(multidim::PartialSubscripts)
}

pub(crate) fn overflow_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(overflow::CheckedIntegers)
}

/// The analyzer rule that gives `ceil`, `floor` and `trunc` of a `numeric`
/// PostgreSQL's scale (see [`numbers`]); it runs after type coercion.
pub(crate) fn integral_scales_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(numbers::IntegralScales)
}

/// The table a relation name written as text (`'tt'::regclass`) names among the
/// session's temporary tables (`is_temporary` says which exist): an unqualified name
/// that is one, or `pg_temp.name`.
pub(crate) fn temporary_name(text: &str, is_temporary: impl Fn(&str) -> bool) -> Option<String> {
    match catalog::name_parts(text)?.as_slice() {
        [name] if is_temporary(name) => Some(name.clone()),
        [schema, name] if schema == "pg_temp" => Some(name.clone()),
        _ => None,
    }
}

/// The crate's statement rewrites that Tarn applies, in the crate's order. Not its
/// `RemoveSubqueryFromProjection`, which replaces every correlated scalar subquery in
/// a SELECT list with NULL: catalog queries' subqueries run as joins or SubPlans
/// (`subplans`), as users' do, with the answers PostgreSQL gives.
fn rules() -> &'static [Box<dyn datafusion_pg_catalog::sql::rules::SqlStatementRewriteRule>] {
    use datafusion_pg_catalog::sql::rules::*;
    static RULES: OnceLock<Vec<Box<dyn SqlStatementRewriteRule>>> = OnceLock::new();
    RULES.get_or_init(|| {
        vec![
            Box::new(AliasDuplicatedProjectionRewrite),
            Box::new(ResolveUnqualifiedIdentifier),
            Box::new(RewriteArrayAnyAllOperation),
            Box::new(PrependUnqualifiedPgTableName),
            Box::new(StripCallableQualifier),
            // Not FixArrayLiteral: it split `'{a,"b c"}'::text[]` on commas, quotes
            // kept; casts from text to arrays read PostgreSQL's syntax (array_in).
            Box::new(CurrentUserVariableToSessionUserFunctionCall),
            Box::new(StripCollate),
            Box::new(RewritePgCatalogOperator),
            Box::new(RewriteRegCastToSubquery::new()),
            Box::new(FixVersionColumnName),
        ]
    })
}

/// Applies the client-SQL rewrites to one parsed statement.
pub(crate) fn rewrite(mut statement: SqlStatement) -> SqlStatement {
    // First: the rewrites below read `varchar(n)` and `char(n)` as spelled here.
    declared::spell_character_types(&mut statement);
    // Before the rewrites that write `unnest` calls of their own (regexp_matches' is of
    // a list of lists, each list a row).
    multidim::read_all_elements(&mut statement);
    qualify_tarn_tables(&mut statement);
    fold_assignment_targets(&mut statement);
    if let SqlStatement::CreateTable(create) = &mut statement {
        not_null::primary_keys_not_null(create);
    }
    // Before the names, which then see the columns it names.
    json_sets::rewrite(&mut statement);
    name_set_function_columns(&mut statement);
    functions::rewrite_array_over_unnest(&mut statement);
    // Before the names, which then see the names it gives.
    names::distinguish_grouped_casts(&mut statement);
    // Before the crate's rules, which rename functions (`current_user`).
    names::rewrite(&mut statement);
    // After the names: PostgreSQL names these expressions as written (`?column?`).
    interval_mul::rewrite(&mut statement);
    numeric::exponent_literals(&mut statement);
    // Before the crate's rules, which make `'name'::regclass` a lookup.
    functions::regclass_arguments(&mut statement);
    // Before the crate's rules, which rename `current_user`.
    functions::bare_user(&mut statement);
    functions::regclass_text(&mut statement);
    // Before the lookups below, which replace the casts it finds.
    reg::type_select_items(&mut statement);
    functions::system_regclass_names(&mut statement);
    functions::computed_regclass_names(&mut statement);
    // After the names, which name the column after the function the client wrote.
    json_build::rewrite_aggregates(&mut statement);
    // Before ARRAY[...] becomes a call, whose dimensions it reads.
    array_in::deepen_literal_casts(&mut statement);
    functions::array_literals_as_calls(&mut statement);
    functions::integer_array_functions(&mut statement);
    typmod::rewrite_casts(&mut statement);
    expandarray::rewrite_regproc_comparisons(&mut statement);
    expandarray::rewrite_array_subqueries(&mut statement);
    expandarray::rewrite_function_result(&mut statement);
    exists::rewrite(&mut statement);
    exists::rewrite_row_in(&mut statement);
    clauses::rewrite(&mut statement);
    // After the names, so that output names stay PostgreSQL's.
    subquery_clauses::rewrite(&mut statement);
    at_zone::rewrite(&mut statement);
    regex_fns::rewrite(&mut statement);
    intervals::rewrite(&mut statement);
    extract::rewrite(&mut statement);
    // After the regproc comparisons, which read `typinput = 'array_in'::regproc`.
    reg::check_literal_names(&mut statement);
    let mut statement = rules().iter().fold(statement, |s, rule| rule.rewrite(s));
    rewrite_like_escape(&mut statement);
    expandarray::rewrite(&mut statement);
    series::rewrite(&mut statement);
    single_value::rewrite(&mut statement);
    statement
}

/// `pg_catalog` relations Tarn serves itself, which the crate's rule does not know to
/// qualify: PostgreSQL finds them unqualified (pg_catalog is always on the path).
const TARN_PG_TABLES: &[&str] = &["pg_stat_activity"];

fn qualify_tarn_tables(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{Ident, ObjectName, ObjectNamePart, visit_relations_mut};
    let _ = visit_relations_mut(statement, |name: &mut ObjectName| {
        if let [ObjectNamePart::Identifier(ident)] = name.0.as_slice()
            && ident.quote_style.is_none()
            && TARN_PG_TABLES.contains(&ident.value.to_ascii_lowercase().as_str())
        {
            let table = ident.clone();
            name.0 = vec![
                ObjectNamePart::Identifier(Ident::new("pg_catalog")),
                ObjectNamePart::Identifier(table),
            ];
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// `FROM generate_series(1, 3) AS i` and `FROM unnest(arr) x` name their column
/// after the alias in PostgreSQL (a function returning a scalar takes its alias as
/// column name), and after the function without one (`generate_series`, `unnest`);
/// DataFusion calls them `value` and `UNNEST(...)`. The alias gets the
/// column list PostgreSQL implies (Grafana's `s[i]` over `generate_series`, psql's
/// `\d+` over `pg_catalog.unnest(reloptions) x`). `pg_catalog.unnest(...)` in FROM
/// is PostgreSQL's `unnest`, which sqlparser only recognizes unqualified.
fn name_set_function_columns(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{TableAliasColumnDef, TableFactor, VisitMut, VisitorMut};
    fn column_alias(alias: &mut Option<datafusion::sql::sqlparser::ast::TableAlias>) {
        if let Some(alias) = alias
            && alias.columns.is_empty()
        {
            alias.columns = vec![TableAliasColumnDef {
                name: alias.name.clone(),
                data_type: None,
            }];
        }
    }
    /// An unaliased function in FROM is named after the function, as its one column is
    /// (`SELECT * FROM generate_series(1, 3)` has a column `generate_series`).
    fn unaliased_as(alias: &mut Option<datafusion::sql::sqlparser::ast::TableAlias>, name: &str) {
        if alias.is_none() {
            *alias = Some(datafusion::sql::sqlparser::ast::TableAlias {
                explicit: true,
                name: datafusion::sql::sqlparser::ast::Ident::new(name),
                columns: Vec::new(),
                at: None,
            });
        }
    }
    /// The arguments, if all are plain expressions.
    fn unnamed_exprs(
        args: &[datafusion::sql::sqlparser::ast::FunctionArg],
    ) -> Option<Vec<datafusion::sql::sqlparser::ast::Expr>> {
        use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr};
        args.iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
    fn visit_factor(factor: &mut TableFactor) {
        // `LATERAL f(...)`: PostgreSQL's set-returning functions in FROM are lateral
        // anyway; written so, they read as the same call without the keyword.
        if let TableFactor::Function {
            name,
            args,
            with_ordinality,
            alias,
            ..
        } = factor
            && matches!(
                single_value::unqualified_name(name).as_str(),
                "generate_series" | "unnest"
            )
        {
            *factor = TableFactor::Table {
                name: name.clone(),
                alias: alias.take(),
                args: Some(datafusion::sql::sqlparser::ast::TableFunctionArgs {
                    args: std::mem::take(args),
                    settings: None,
                }),
                with_hints: Vec::new(),
                version: None,
                with_ordinality: *with_ordinality,
                partitions: Vec::new(),
                json_path: None,
                sample: None,
                index_hints: Vec::new(),
            };
        }
        let function = match factor {
            TableFactor::Table {
                name,
                args: Some(_),
                ..
            } => Some(single_value::unqualified_name(name)),
            _ => None,
        };
        match function.as_deref() {
            Some("generate_series") => {
                if let TableFactor::Table {
                    alias,
                    args: Some(args),
                    with_ordinality,
                    ..
                } = factor
                {
                    unaliased_as(alias, "generate_series");
                    column_alias(alias);
                    if let Some(mut exprs) = unnamed_exprs(&args.args) {
                        series::temporal_arguments(&mut exprs);
                        // `WITH ORDINALITY` too: DataFusion's table function drops it.
                        if *with_ordinality || exprs.iter().any(reads_columns) {
                            *factor = series::lateral(alias.take(), exprs, *with_ordinality);
                            return;
                        }
                        args.args = exprs
                            .into_iter()
                            .map(|e| {
                                datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                                    datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(e),
                                )
                            })
                            .collect();
                    }
                }
                integer_series(factor);
            }
            Some("pg_partition_ancestors") => no_partition_ancestors(factor),
            Some("unnest") => {
                let TableFactor::Table {
                    args: Some(args),
                    alias,
                    with_ordinality,
                    ..
                } = factor
                else {
                    return;
                };
                let Some(array_exprs) = unnamed_exprs(&args.args) else {
                    return;
                };
                let single = array_exprs.len() == 1;
                let mut alias = alias.take();
                if single {
                    unaliased_as(&mut alias, "unnest");
                    column_alias(&mut alias);
                }
                *factor = TableFactor::UNNEST {
                    alias,
                    array_exprs,
                    with_offset: false,
                    with_offset_alias: None,
                    with_ordinality: *with_ordinality,
                };
            }
            _ => {
                if let TableFactor::UNNEST {
                    alias, array_exprs, ..
                } = factor
                    && array_exprs.len() == 1
                {
                    unaliased_as(alias, "unnest");
                    column_alias(alias);
                }
            }
        }
    }
    // Every relation in FROM, in subqueries (psql's `array(select ... from unnest(...)
    // x)`) and either side of a set operation (`... EXCEPT ...`) too.
    struct Factors;
    impl VisitorMut for Factors {
        type Break = ();
        fn post_visit_table_factor(
            &mut self,
            factor: &mut TableFactor,
        ) -> std::ops::ControlFlow<()> {
            visit_factor(factor);
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Factors);
}

/// `FROM pg_partition_ancestors(rel) [WITH ORDINALITY]` (psql's `\d` over triggers,
/// with an argument from the row before it): PostgreSQL lists a partition's ancestors,
/// and no rows for a relation that is not a partition; Tarn's tables are not
/// PostgreSQL partitions (Delta's partitioning is of files), so it is a table of no
/// rows, `relid regclass` (and `ordinality`). DataFusion had no such table
/// function.
fn no_partition_ancestors(factor: &mut datafusion::sql::sqlparser::ast::TableFactor) {
    use datafusion::sql::sqlparser::ast::TableFactor;
    let (alias, ordinality) = match factor {
        TableFactor::Table {
            alias,
            with_ordinality,
            ..
        } => (alias.take(), *with_ordinality),
        _ => return,
    };
    let alias = match alias {
        Some(a) if a.columns.is_empty() => a.name.to_string(),
        Some(a) => {
            let columns: Vec<String> = a.columns.iter().map(|c| c.name.to_string()).collect();
            format!("{}({})", a.name, columns.join(", "))
        }
        None => "pg_partition_ancestors".to_owned(),
    };
    let ordinality = if ordinality {
        ", CAST(NULL AS BIGINT) AS ordinality"
    } else {
        ""
    };
    if let Some(empty) = parsed_factor(&format!(
        "(SELECT CAST(NULL AS regclass) AS relid{ordinality} WHERE false) AS {alias}"
    )) {
        *factor = empty;
    }
}

/// The query written `text`, parsed; `None` if it does not parse as one.
pub(crate) fn parsed_query(text: &str) -> Option<datafusion::sql::sqlparser::ast::Query> {
    let mut parsed = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        text,
    )
    .ok()?;
    match parsed.pop() {
        Some(SqlStatement::Query(query)) => Some(*query),
        _ => None,
    }
}

/// The FROM item written `text` (`(SELECT ...) AS t(c)`), parsed; `None` if it does
/// not parse as one.
pub(crate) fn parsed_factor(text: &str) -> Option<datafusion::sql::sqlparser::ast::TableFactor> {
    use datafusion::sql::sqlparser::ast::SetExpr;
    let query = parsed_query(&format!("SELECT * FROM {text}"))?;
    let SetExpr::Select(select) = *query.body else {
        return None;
    };
    select.from.into_iter().next().map(|from| from.relation)
}

/// Whether `expr` names a column (outside any subquery of its own): in a function's
/// arguments in FROM, a column of the rows before it (the call is implicitly LATERAL).
pub(crate) fn reads_columns(expr: &datafusion::sql::sqlparser::ast::Expr) -> bool {
    use datafusion::sql::sqlparser::ast::Expr;
    datafusion::sql::sqlparser::ast::visit_expressions(expr, |e| match e {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => std::ops::ControlFlow::Break(()),
        _ => std::ops::ControlFlow::Continue(()),
    })
    .is_break()
}

/// Whether `expr` is an integer literal (optionally negated) that fits `integer`, the
/// type PostgreSQL gives it.
pub(crate) fn int4_literal(expr: &datafusion::sql::sqlparser::ast::Expr) -> bool {
    use datafusion::sql::sqlparser::ast::{Expr, UnaryOperator, Value};
    let (negative, expr) = match expr {
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => (true, expr.as_ref()),
        other => (false, other),
    };
    let Expr::Value(v) = expr else {
        return false;
    };
    let Value::Number(digits, _) = &v.value else {
        return false;
    };
    let text = match negative {
        true => format!("-{digits}"),
        false => digits.clone(),
    };
    text.parse::<i32>().is_ok()
}

/// `generate_series(1, 32) pos(n)` (pgjdbc's getImportedKeys), with an alias and
/// integer literals that fit `integer`, yields `integer` in PostgreSQL, which picks
/// `generate_series(int4, int4)` for them; DataFusion's has only a bigint form. The
/// call becomes a derived table casting its values, under the same alias (an
/// unaliased call has its own name as alias, as in PostgreSQL).
fn integer_series(factor: &mut datafusion::sql::sqlparser::ast::TableFactor) {
    use datafusion::sql::sqlparser::ast::{FunctionArg, FunctionArgExpr, TableFactor};
    fn int4(arg: &FunctionArg) -> bool {
        matches!(arg, FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) if int4_literal(expr))
    }
    let TableFactor::Table {
        name,
        args: Some(args),
        alias: Some(alias),
        with_hints,
        version: None,
        with_ordinality: false,
        partitions,
        ..
    } = factor
    else {
        return;
    };
    if !(2..=3).contains(&args.args.len())
        || !args.args.iter().all(int4)
        || !with_hints.is_empty()
        || !partitions.is_empty()
    {
        return;
    }
    let arguments: Vec<String> = args.args.iter().map(ToString::to_string).collect();
    let sql = format!(
        "SELECT CAST(value AS INTEGER) AS value FROM {name}({})",
        arguments.join(", ")
    );
    let Ok(mut parsed) = datafusion::sql::sqlparser::parser::Parser::parse_sql(
        &datafusion::sql::sqlparser::dialect::PostgreSqlDialect {},
        &sql,
    ) else {
        return;
    };
    let Some(SqlStatement::Query(subquery)) = parsed.pop() else {
        return;
    };
    *factor = TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(alias.clone()),
        sample: None,
    };
}

/// The columns `SET` assigns (UPDATE, MERGE's `UPDATE SET`, `ON CONFLICT DO UPDATE
/// SET`) folded to lower case unless quoted, as every other name is: DataFusion's
/// UPDATE looked `SET TEST_VALID_TO = ...` up as written ("column \"TEST_VALID_TO\"
/// does not exist"; dbt's snapshot tests write it so).
fn fold_assignment_targets(statement: &mut SqlStatement) {
    use datafusion::sql::sqlparser::ast::{
        Assignment, AssignmentTarget, MergeAction, OnConflictAction, OnInsert,
    };
    let fold = |assignments: &mut Vec<Assignment>| {
        for assignment in assignments {
            let names: Vec<&mut datafusion::sql::sqlparser::ast::ObjectName> =
                match &mut assignment.target {
                    AssignmentTarget::ColumnName(name) => vec![name],
                    AssignmentTarget::Tuple(names) => names.iter_mut().collect(),
                };
            for name in names {
                for part in &mut name.0 {
                    if let datafusion::sql::sqlparser::ast::ObjectNamePart::Identifier(ident) = part
                        && ident.quote_style.is_none()
                    {
                        ident.value = ident.value.to_lowercase();
                    }
                }
            }
        }
    };
    match statement {
        SqlStatement::Update(update) => fold(&mut update.assignments),
        SqlStatement::Insert(insert) => {
            if let Some(OnInsert::OnConflict(conflict)) = &mut insert.on
                && let OnConflictAction::DoUpdate(update) = &mut conflict.action
            {
                fold(&mut update.assignments);
            }
        }
        SqlStatement::Merge(merge) => {
            for clause in &mut merge.clauses {
                if let MergeAction::Update(update) = &mut clause.action {
                    fold(&mut update.assignments);
                }
            }
        }
        _ => {}
    }
}

/// `x LIKE p ESCAPE '/'` (SQLAlchemy escapes with `/`) as DataFusion's only escape,
/// the backslash: in `p`, backslashes become literal (`\\`) and the escape character
/// becomes `\`. (A doubled escape character, rare in practice, is not special-cased.)
fn rewrite_like_escape(statement: &mut SqlStatement) {
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
                call(
                    "replace",
                    vec![
                        inner,
                        Expr::value(Value::SingleQuotedString(from.to_owned())),
                        Expr::value(Value::SingleQuotedString(to.to_owned())),
                    ],
                )
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

/// `pg_typeof(value)`: the PostgreSQL name of the value's type, as `regtype` prints it.
#[derive(Debug, PartialEq, Eq, Hash)]
struct PgTypeof {
    signature: datafusion::logical_expr::Signature,
}

fn regtype_name(data_type: &datafusion::arrow::datatypes::DataType) -> String {
    use datafusion::arrow::datatypes::DataType;
    match data_type {
        // PostgreSQL's array types do not count dimensions: a list of lists is
        // `integer[]` too.
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            let name = regtype_name(f.data_type());
            match name.ends_with("[]") {
                true => name,
                false => format!("{name}[]"),
            }
        }
        DataType::Null => "unknown".to_owned(),
        // Tarn's OIDs are integers, but array_agg collects them as UInt32, as
        // PostgreSQL's `oid` is (see `oid_arrays`).
        DataType::UInt32 => "oid".to_owned(),
        other => crate::information_schema::pg_column_type(other)
            .data_type
            .to_owned(),
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for PgTypeof {
    fn name(&self) -> &str {
        "pg_typeof"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _args: &[datafusion::arrow::datatypes::DataType],
    ) -> DFResult<datafusion::arrow::datatypes::DataType> {
        Ok(datafusion::arrow::datatypes::DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<datafusion::logical_expr::ColumnarValue> {
        // An OID alias (`x::regclass`) is its own type; the value is an integer.
        use tarn_catalog::types::DeclaredType as D;
        let field = &args.arg_fields[0];
        let name = match (reg::field_kind(field), D::of(field)) {
            (Some(kind), _) => kind.to_owned(),
            // A declared type text stands for (`uuid`, `jsonb`, `varchar(n)`).
            (None, Some(D::Varchar(_) | D::Varying)) => "character varying".to_owned(),
            (None, Some(D::Char(_))) => "character".to_owned(),
            (None, Some(D::Json)) => "json".to_owned(),
            (None, Some(D::Jsonb)) => "jsonb".to_owned(),
            (None, Some(D::Uuid)) => "uuid".to_owned(),
            (None, None) => regtype_name(field.data_type()),
        };
        Ok(datafusion::logical_expr::ColumnarValue::Scalar(
            datafusion::scalar::ScalarValue::Utf8(Some(name)),
        ))
    }
}

/// A text function that is NULL for every argument: for catalog objects Tarn
/// does not have (indexes), where PostgreSQL answers NULL for an unknown OID.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NullText {
    name: &'static str,
    signature: datafusion::logical_expr::Signature,
}

impl NullText {
    fn new(name: &'static str, arities: &[usize]) -> Self {
        Self {
            name,
            signature: datafusion::logical_expr::Signature::one_of(
                arities
                    .iter()
                    .map(|n| datafusion::logical_expr::TypeSignature::Any(*n))
                    .collect(),
                datafusion::logical_expr::Volatility::Stable,
            ),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for NullText {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _args: &[datafusion::arrow::datatypes::DataType],
    ) -> DFResult<datafusion::arrow::datatypes::DataType> {
        Ok(datafusion::arrow::datatypes::DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<datafusion::logical_expr::ColumnarValue> {
        Ok(datafusion::logical_expr::ColumnarValue::Array(
            datafusion::arrow::array::new_null_array(
                &datafusion::arrow::datatypes::DataType::Utf8,
                args.number_rows,
            ),
        ))
    }
}
