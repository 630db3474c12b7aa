//! `information_schema` as PostgreSQL clients read it.
//!
//! DataFusion's own information_schema names Arrow types (`Int64`,
//! `Decimal128(10, 2)`) and opens every table to list its columns. Tarn serves
//! the schema itself: `columns` is built from the catalog entries' recorded columns
//! (no Delta log is opened) with PostgreSQL's type names, precisions and scales, and
//! the constraint views clients join to (`table_constraints`, `key_column_usage`,
//! ...) exist and are empty, since Tarn's tables have no keys. `views` lists the
//! lake's views with PostgreSQL's columns (DataFusion's lists every table), and
//! `tables` leaves materialized views out, as PostgreSQL does. The other views
//! (`schemata`, ...) are DataFusion's, over the same listings.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, Int32Builder, RecordBatch, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::information_schema::InformationSchemaProvider;
use datafusion::catalog::streaming::StreamingTable;
use datafusion::catalog::{CatalogProviderList, MemTable, SchemaProvider, TableProvider};
use datafusion::error::Result as DFResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::PartitionStream;

/// Schemas of the warehouse that are not listed as user tables.
const SYSTEM_SCHEMAS: &[&str] = &["pg_catalog", "information_schema"];

/// Views with the columns PostgreSQL gives them, always empty in Tarn.
const EMPTY_VIEWS: &[(&str, &[&str])] = &[
    (
        "table_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "constraint_type",
            "is_deferrable",
            "initially_deferred",
            "enforced",
            "nulls_distinct",
        ],
    ),
    (
        "key_column_usage",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "ordinal_position",
            "position_in_unique_constraint",
        ],
    ),
    (
        "referential_constraints",
        &[
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
            "unique_constraint_catalog",
            "unique_constraint_schema",
            "unique_constraint_name",
            "match_option",
            "update_rule",
            "delete_rule",
        ],
    ),
    (
        "constraint_column_usage",
        &[
            "table_catalog",
            "table_schema",
            "table_name",
            "column_name",
            "constraint_catalog",
            "constraint_schema",
            "constraint_name",
        ],
    ),
];

/// The `information_schema` schema over `listings` (the lake's catalog entries).
#[derive(Debug)]
pub(crate) struct InformationSchema {
    base: InformationSchemaProvider,
    listings: Arc<dyn CatalogProviderList>,
    lake: tarn_catalog::LakeCatalog,
    catalog_name: String,
}

impl InformationSchema {
    pub(crate) fn new(
        listings: Arc<dyn CatalogProviderList>,
        lake: tarn_catalog::LakeCatalog,
        catalog_name: &str,
    ) -> Self {
        Self {
            base: InformationSchemaProvider::new(Arc::clone(&listings)),
            listings,
            lake,
            catalog_name: catalog_name.to_owned(),
        }
    }
}

/// `information_schema.views`: each view of the lake with its query as written, and
/// PostgreSQL's other columns (Tarn's views take no INSERT, UPDATE or DELETE).
#[derive(Debug)]
struct Views {
    lake: tarn_catalog::LakeCatalog,
    catalog_name: String,
}

fn views_schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        text("table_catalog"),
        text("table_schema"),
        text("table_name"),
        text("view_definition"),
        text("check_option"),
        text("is_updatable"),
        text("is_insertable_into"),
        text("is_trigger_updatable"),
        text("is_trigger_deletable"),
        text("is_trigger_insertable_into"),
    ]))
}

#[async_trait]
impl TableProvider for Views {
    fn schema(&self) -> SchemaRef {
        views_schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        datafusion::datasource::TableType::View
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let mut views: Vec<(String, String, Option<String>)> = Vec::new();
        for entry in self.lake.views().await? {
            views.push((
                entry.schema.clone(),
                entry.name.clone(),
                entry.definition.clone(),
            ));
        }
        views.sort();
        let text = |f: &dyn Fn(&(String, String, Option<String>)) -> Option<String>| -> ArrayRef {
            Arc::new(
                views
                    .iter()
                    .map(f)
                    .collect::<datafusion::arrow::array::StringArray>(),
            )
        };
        let mut columns = vec![
            text(&|_| Some(self.catalog_name.clone())),
            text(&|v| Some(v.0.clone())),
            text(&|v| Some(v.1.clone())),
            text(&|v| v.2.clone()),
            text(&|_| Some("NONE".to_owned())),
        ];
        columns.extend((0..5).map(|_| text(&|_| Some("NO".to_owned()))));
        let batch = RecordBatch::try_new(views_schema(), columns)?;
        MemTable::try_new(views_schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// DataFusion's `information_schema.tables` without the materialized views, which
/// are Delta tables to DataFusion and absent there in PostgreSQL (pg_matviews lists
/// them).
#[derive(Debug)]
struct Tables {
    base: Arc<dyn TableProvider>,
    lake: tarn_catalog::LakeCatalog,
}

#[async_trait]
impl TableProvider for Tables {
    fn schema(&self) -> SchemaRef {
        self.base.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.base.table_type()
    }

    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        use datafusion::arrow::array::{AsArray, BooleanArray};
        let plan = self.base.scan(state, None, &[], None).await?;
        let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
        let materialized = self.lake.materialized_views().await?;
        let mut kept = Vec::with_capacity(batches.len());
        for batch in batches {
            let schema = batch.schema();
            let (Ok(s), Ok(t)) = (
                schema.index_of("table_schema"),
                schema.index_of("table_name"),
            ) else {
                kept.push(batch);
                continue;
            };
            let (schemas, names) = (
                batch.column(s).as_string::<i32>(),
                batch.column(t).as_string::<i32>(),
            );
            let keep: BooleanArray = (0..batch.num_rows())
                .map(|i| {
                    Some(
                        !materialized
                            .contains(&(schemas.value(i).to_owned(), names.value(i).to_owned())),
                    )
                })
                .collect();
            kept.push(datafusion::arrow::compute::filter_record_batch(
                &batch, &keep,
            )?);
        }
        MemTable::try_new(self.base.schema(), vec![kept])?
            .scan(state, projection, filters, limit)
            .await
    }
}

#[async_trait]
impl SchemaProvider for InformationSchema {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.base.table_names();
        names.extend(EMPTY_VIEWS.iter().map(|(n, _)| (*n).to_owned()));
        names.sort();
        names.dedup();
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let name = name.to_ascii_lowercase();
        if name == "columns" {
            let partition = Arc::new(Columns {
                schema: columns_schema(),
                listings: Arc::clone(&self.listings),
            });
            return Ok(Some(Arc::new(StreamingTable::try_new(
                columns_schema(),
                vec![partition],
            )?)));
        }
        if name == "views" {
            return Ok(Some(Arc::new(Views {
                lake: self.lake.clone(),
                catalog_name: self.catalog_name.clone(),
            })));
        }
        if name == "tables" {
            return Ok(self.base.table(&name).await?.map(|base| {
                Arc::new(Tables {
                    base,
                    lake: self.lake.clone(),
                }) as Arc<dyn TableProvider>
            }));
        }
        if let Some((_, columns)) = EMPTY_VIEWS.iter().find(|(n, _)| *n == name) {
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|c| Field::new(*c, DataType::Utf8, true))
                    .collect::<Vec<_>>(),
            ));
            return Ok(Some(Arc::new(MemTable::try_new(schema, vec![vec![]])?)));
        }
        self.base.table(&name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        name == "columns"
            || EMPTY_VIEWS.iter().any(|(n, _)| *n == name)
            || self.base.table_exist(&name)
    }
}

fn columns_schema() -> SchemaRef {
    let text = |n: &str| Field::new(n, DataType::Utf8, true);
    let int = |n: &str| Field::new(n, DataType::Int32, true);
    Arc::new(Schema::new(vec![
        text("table_catalog"),
        text("table_schema"),
        text("table_name"),
        text("column_name"),
        int("ordinal_position"),
        text("column_default"),
        text("is_nullable"),
        text("data_type"),
        int("character_maximum_length"),
        int("character_octet_length"),
        int("numeric_precision"),
        int("numeric_precision_radix"),
        int("numeric_scale"),
        int("datetime_precision"),
        text("interval_type"),
        text("udt_catalog"),
        text("udt_schema"),
        text("udt_name"),
        text("is_identity"),
        text("is_generated"),
        text("is_updatable"),
    ]))
}

/// How PostgreSQL describes a column of `data_type` in information_schema.columns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PgColumnType {
    pub data_type: &'static str,
    pub udt_name: &'static str,
    pub numeric_precision: Option<i32>,
    pub numeric_precision_radix: Option<i32>,
    pub numeric_scale: Option<i32>,
    pub datetime_precision: Option<i32>,
}

/// How PostgreSQL describes a column declared `varchar(n)`, `char(n)`, `json` or `jsonb`.
pub(crate) fn declared_column_type(declared: tarn_catalog::types::DeclaredType) -> PgColumnType {
    use tarn_catalog::types::DeclaredType;
    let (data_type, udt_name) = match declared {
        DeclaredType::Varchar(_) | DeclaredType::Varying => ("character varying", "varchar"),
        DeclaredType::Char(_) => ("character", "bpchar"),
        DeclaredType::Json => ("json", "json"),
        DeclaredType::Jsonb => ("jsonb", "jsonb"),
        DeclaredType::Uuid => ("uuid", "uuid"),
    };
    PgColumnType {
        data_type,
        udt_name,
        numeric_precision: None,
        numeric_precision_radix: None,
        numeric_scale: None,
        datetime_precision: None,
    }
}

pub(crate) fn pg_column_type(data_type: &DataType) -> PgColumnType {
    let t = |data_type, udt_name| PgColumnType {
        data_type,
        udt_name,
        numeric_precision: None,
        numeric_precision_radix: None,
        numeric_scale: None,
        datetime_precision: None,
    };
    let binary = |data_type, udt_name, bits| PgColumnType {
        numeric_precision: Some(bits),
        numeric_precision_radix: Some(2),
        numeric_scale: Some(0),
        ..t(data_type, udt_name)
    };
    let float = |data_type, udt_name, bits| PgColumnType {
        numeric_precision: Some(bits),
        numeric_precision_radix: Some(2),
        ..t(data_type, udt_name)
    };
    let time = |data_type, udt_name, unit: &TimeUnit| PgColumnType {
        // PostgreSQL keeps at most microseconds.
        datetime_precision: Some(match unit {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 3,
            TimeUnit::Microsecond | TimeUnit::Nanosecond => 6,
        }),
        ..t(data_type, udt_name)
    };
    match data_type {
        DataType::Boolean => t("boolean", "bool"),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => binary("smallint", "int2", 16),
        DataType::Int32 | DataType::UInt16 => binary("integer", "int4", 32),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => binary("bigint", "int8", 64),
        DataType::Float16 | DataType::Float32 => float("real", "float4", 24),
        DataType::Float64 => float("double precision", "float8", 53),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => PgColumnType {
            numeric_precision: Some(i32::from(*p)),
            numeric_precision_radix: Some(10),
            numeric_scale: Some(i32::from(*s)),
            ..t("numeric", "numeric")
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => t("text", "text"),
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => t("bytea", "bytea"),
        DataType::Date32 | DataType::Date64 => PgColumnType {
            datetime_precision: Some(0),
            ..t("date", "date")
        },
        DataType::Timestamp(unit, None) => time("timestamp without time zone", "timestamp", unit),
        DataType::Timestamp(unit, Some(_)) => time("timestamp with time zone", "timestamptz", unit),
        DataType::Time32(unit) => time("time without time zone", "time", unit),
        DataType::Time64(unit) => time("time without time zone", "time", unit),
        DataType::Interval(_) | DataType::Duration(_) => PgColumnType {
            datetime_precision: Some(6),
            ..t("interval", "interval")
        },
        DataType::List(_)
        | DataType::LargeList(_)
        | DataType::ListView(_)
        | DataType::LargeListView(_)
        | DataType::FixedSizeList(..) => t("ARRAY", "_text"),
        _ => t("USER-DEFINED", "text"),
    }
}

/// Rows of information_schema.columns, read from the listings when scanned.
#[derive(Debug)]
struct Columns {
    schema: SchemaRef,
    listings: Arc<dyn CatalogProviderList>,
}

impl Columns {
    async fn batch(
        schema: SchemaRef,
        listings: Arc<dyn CatalogProviderList>,
    ) -> DFResult<RecordBatch> {
        let mut text: Vec<StringBuilder> = (0..21).map(|_| StringBuilder::new()).collect();
        let mut ints: Vec<Int32Builder> = (0..21).map(|_| Int32Builder::new()).collect();
        let mut names = listings.catalog_names();
        names.sort();
        for catalog_name in names {
            let Some(catalog) = listings.catalog(&catalog_name) else {
                continue;
            };
            let mut schemas = catalog.schema_names();
            schemas.sort();
            for schema_name in schemas {
                if SYSTEM_SCHEMAS.contains(&schema_name.as_str()) {
                    continue;
                }
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                let mut tables = schema.table_names();
                tables.sort();
                for table_name in tables {
                    let Some(table) = schema.table(&table_name).await? else {
                        continue;
                    };
                    for (i, field) in table.schema().fields().iter().enumerate() {
                        let declared = tarn_catalog::types::DeclaredType::of(field);
                        let pg = match declared {
                            Some(d) => declared_column_type(d),
                            None => pg_column_type(field.data_type()),
                        };
                        // character_maximum_length; octet length is 4 bytes a
                        // character (UTF8), as PostgreSQL reports it.
                        let length = match declared {
                            Some(
                                tarn_catalog::types::DeclaredType::Varchar(n)
                                | tarn_catalog::types::DeclaredType::Char(n),
                            ) => i32::try_from(n).ok(),
                            _ => None,
                        };
                        let position = i32::try_from(i + 1).unwrap_or(i32::MAX);
                        let default = column_default(field);
                        let row_text: [(usize, Option<&str>); 14] = [
                            (0, Some(&catalog_name)),
                            (1, Some(&schema_name)),
                            (2, Some(&table_name)),
                            (3, Some(field.name())),
                            (5, default.as_deref()),
                            (6, Some(if field.is_nullable() { "YES" } else { "NO" })),
                            (7, Some(pg.data_type)),
                            (14, None),
                            (15, Some(&catalog_name)),
                            (16, Some("pg_catalog")),
                            (17, Some(pg.udt_name)),
                            (18, Some("NO")),
                            (19, Some("NEVER")),
                            (20, Some("YES")),
                        ];
                        for (column, value) in row_text {
                            text[column].append_option(value);
                        }
                        let row_ints: [(usize, Option<i32>); 7] = [
                            (4, Some(position)),
                            (8, length),
                            (
                                9,
                                match length {
                                    Some(n) => Some(n.saturating_mul(4)),
                                    None => (matches!(
                                        pg.data_type,
                                        "text" | "character varying" | "character"
                                    ))
                                    .then_some(1_073_741_824),
                                },
                            ),
                            (10, pg.numeric_precision),
                            (11, pg.numeric_precision_radix),
                            (12, pg.numeric_scale),
                            (13, pg.datetime_precision),
                        ];
                        for (column, value) in row_ints {
                            ints[column].append_option(value);
                        }
                    }
                }
            }
        }
        let arrays: Vec<ArrayRef> = schema
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| -> ArrayRef {
                if f.data_type() == &DataType::Int32 {
                    Arc::new(ints[i].finish())
                } else {
                    Arc::new(text[i].finish())
                }
            })
            .collect();
        Ok(RecordBatch::try_new(schema, arrays)?)
    }
}

impl PartitionStream for Columns {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = Arc::clone(&self.schema);
        let listings = Arc::clone(&self.listings);
        Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&schema),
            futures::stream::once(Columns::batch(schema, listings)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_names_precisions_and_scales() {
        // As PostgreSQL 15 reports bigint, numeric(10,2), timestamptz and text columns.
        let bigint = pg_column_type(&DataType::Int64);
        assert_eq!(
            (
                bigint.data_type,
                bigint.udt_name,
                bigint.numeric_precision,
                bigint.numeric_precision_radix,
                bigint.numeric_scale
            ),
            ("bigint", "int8", Some(64), Some(2), Some(0))
        );
        let numeric = pg_column_type(&DataType::Decimal128(10, 2));
        assert_eq!(
            (
                numeric.data_type,
                numeric.numeric_precision,
                numeric.numeric_precision_radix,
                numeric.numeric_scale
            ),
            ("numeric", Some(10), Some(10), Some(2))
        );
        let tz = pg_column_type(&DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("+00:00".into()),
        ));
        assert_eq!(
            (tz.data_type, tz.udt_name, tz.datetime_precision),
            ("timestamp with time zone", "timestamptz", Some(6))
        );
        assert_eq!(pg_column_type(&DataType::Utf8View).data_type, "text");
        assert_eq!(
            pg_column_type(&DataType::Float64).data_type,
            "double precision"
        );
    }
}

/// Column `field`'s default as PostgreSQL shows it (information_schema's
/// `column_default`, `pg_get_expr` of `pg_attrdef.adbin`), if it has one.
pub(crate) fn column_default(field: &Field) -> Option<String> {
    let sql = field.metadata().get(tarn_catalog::types::DEFAULT_KEY)?;
    let pg = match tarn_catalog::types::DeclaredType::of(field) {
        Some(d) => declared_column_type(d),
        None => pg_column_type(field.data_type()),
    };
    Some(stored_default(sql, pg.data_type))
}

/// A column default as PostgreSQL shows the expression it stored (`pg_get_expr` of
/// `pg_attrdef.adbin`): a quoted constant, or a negative number, cast to the column's
/// type (`'new'::text`, `'-1'::integer`); other expressions with each operator in
/// parentheses, as PostgreSQL prints them (`(1 + (2 * 3))`), and otherwise as
/// written (the constants inside keep no casts: `'a' || 'b'` is PostgreSQL's
/// `('a'::text || 'b'::text)`).
fn stored_default(sql: &str, data_type: &str) -> String {
    let quoted = sql.len() >= 2 && sql.starts_with('\'') && sql.ends_with('\'');
    if quoted {
        return format!("{sql}::{data_type}");
    }
    if sql.starts_with('-') && sql[1..].trim().parse::<f64>().is_ok() {
        return format!("'{}'::{data_type}", sql.replace(' ', ""));
    }
    operators_parenthesized(sql).unwrap_or_else(|| sql.to_owned())
}

/// `sql` with its own parentheses dropped and every binary operator's in
/// parentheses; None if it does not parse or has no binary operator.
fn operators_parenthesized(sql: &str) -> Option<String> {
    use datafusion::sql::sqlparser::ast::{Expr, visit_expressions_mut};
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;
    let mut expr = Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .ok()?
        .parse_expr()
        .ok()?;
    let mut operators = false;
    let _ = visit_expressions_mut(&mut expr, |e| {
        if let Expr::Nested(inner) = e {
            *e = std::mem::replace(
                inner.as_mut(),
                Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
            );
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    let _ = visit_expressions_mut(&mut expr, |e| {
        if matches!(e, Expr::BinaryOp { .. }) {
            operators = true;
            let op =
                std::mem::replace(e, Expr::value(datafusion::sql::sqlparser::ast::Value::Null));
            *e = Expr::Nested(Box::new(op));
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    operators.then(|| expr.to_string())
}

#[cfg(test)]
mod default_tests {
    use super::stored_default;

    /// Expected texts as PostgreSQL 15's information_schema.columns shows them for
    /// `DEFAULT 'q'`, `DEFAULT -1`, `DEFAULT 7`, `DEFAULT now()` and the operators.
    #[test]
    fn defaults_read_as_postgres_stores_them() {
        assert_eq!(
            stored_default("'q'", "character varying"),
            "'q'::character varying"
        );
        assert_eq!(stored_default("-1", "integer"), "'-1'::integer");
        assert_eq!(stored_default("7", "bigint"), "7");
        assert_eq!(stored_default("now()", "timestamp with time zone"), "now()");
        assert_eq!(stored_default("1 + 2 * 3", "integer"), "(1 + (2 * 3))");
        assert_eq!(stored_default("(1 + 2) * 3", "integer"), "((1 + 2) * 3)");
        assert_eq!(stored_default("abs(3 + 1)", "integer"), "abs((3 + 1))");
    }
}
