//! Tarn's layer over the pg_catalog crate's schema: `pg_settings` and `current_setting()`
//! over the session's own settings, and array columns typed as arrays.
//!
//! Sessions share one prepared DataFusion state, so the statement being planned
//! carries a snapshot of its session's [`Settings`] as a `SessionConfig` extension
//! ([`attach`]); the `pg_settings` table reads it when scanned. The pg_catalog crate's
//! own `pg_settings` has a single row; Tarn's replaces it in the `pg_catalog` schema.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{SchemaProvider, Session, TableProvider};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result as DFResult;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarUDF, Volatility};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::scalar::ScalarValue;

use crate::settings::Settings;

/// Server constants clients read from pg_settings (pgjdbc: `max_index_keys`), with
/// PostgreSQL 15's values.
const CONSTANTS: &[(&str, &str, &str)] = &[
    ("block_size", "8192", "Preset Options"),
    ("max_index_keys", "32", "Preset Options"),
    ("max_function_args", "100", "Preset Options"),
    ("server_version_num", "150008", "Preset Options"),
];

/// Puts a snapshot of `settings` on the state a statement is planned with, and the
/// `current_setting` function that reads it.
pub(crate) fn attach(state: &mut SessionState, settings: &Settings) -> DFResult<()> {
    let settings = Arc::new(settings.clone());
    state.config_mut().set_extension(Arc::clone(&settings));
    let time_zone = settings.get("timezone").unwrap_or("UTC").to_owned();
    datafusion::execution::FunctionRegistry::register_udf(
        state,
        Arc::new(current_setting(settings)),
    )?;
    // to_char formats a timestamp with time zone in the session's zone.
    datafusion::execution::FunctionRegistry::register_udf(
        state,
        Arc::new(super::to_char::udf(&time_zone)),
    )?;
    // to_timestamp and to_date read a template's local time in the session's zone.
    super::zoned::in_zone(state, &time_zone)?;
    // date_trunc truncates a timestamp with time zone in the session's zone.
    datafusion::execution::FunctionRegistry::register_udf(
        state,
        Arc::new(super::trunc::udf(&time_zone)),
    )?;
    Ok(())
}

/// `current_setting(name [, missing_ok])`: unknown names fail with 42704 unless
/// `missing_ok` is true (then NULL), as in PostgreSQL.
fn current_setting(settings: Arc<Settings>) -> ScalarUDF {
    let f = move |args: &[ColumnarValue]| -> DFResult<ColumnarValue> {
        let scalar = |i: usize| match args.get(i) {
            Some(ColumnarValue::Scalar(v)) => Ok(Some(v.clone())),
            Some(ColumnarValue::Array(a)) if a.len() == 1 => {
                Ok(Some(ScalarValue::try_from_array(a, 0)?))
            }
            Some(ColumnarValue::Array(_)) => {
                datafusion::common::not_impl_err!("current_setting over a column of names")
            }
            None => Ok(None),
        };
        let name = match scalar(0)? {
            Some(ScalarValue::Utf8(Some(n)) | ScalarValue::Utf8View(Some(n))) => n,
            _ => return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
        };
        let missing_ok = matches!(scalar(1)?, Some(ScalarValue::Boolean(Some(true))));
        let value = settings
            .get(&name)
            .map(str::to_owned)
            .or_else(|| constant(&name).map(str::to_owned));
        match value {
            Some(v) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(v)))),
            None if missing_ok => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
            None => Err(datafusion::error::DataFusionError::External(Box::new(
                crate::SqlError::UnknownSetting { name },
            ))),
        }
    };
    ScalarUDF::new_from_impl(CurrentSetting {
        signature: datafusion::logical_expr::Signature::one_of(
            vec![
                datafusion::logical_expr::TypeSignature::Exact(vec![DataType::Utf8]),
                datafusion::logical_expr::TypeSignature::Exact(vec![
                    DataType::Utf8,
                    DataType::Boolean,
                ]),
            ],
            Volatility::Stable,
        ),
        f: Arc::new(f),
    })
}

type SettingFn = dyn Fn(&[ColumnarValue]) -> DFResult<ColumnarValue> + Send + Sync;

struct CurrentSetting {
    signature: datafusion::logical_expr::Signature,
    f: Arc<SettingFn>,
}

impl std::fmt::Debug for CurrentSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("current_setting")
    }
}

impl PartialEq for CurrentSetting {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.f, &other.f)
    }
}

impl Eq for CurrentSetting {}

impl std::hash::Hash for CurrentSetting {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "current_setting".hash(state);
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for CurrentSetting {
    fn name(&self) -> &str {
        "current_setting"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<ColumnarValue> {
        (self.f)(&args.args)
    }
}

fn constant(name: &str) -> Option<&'static str> {
    CONSTANTS
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v, _)| *v)
}

/// One pg_settings row: name, value, category, boot value.
type SettingRow<'a> = (String, String, &'a str, String);

/// `pg_catalog.pg_settings`: the session's settings and the server constants.
#[derive(Debug)]
pub(crate) struct PgSettings {
    schema: SchemaRef,
}

impl PgSettings {
    pub(crate) fn new() -> Self {
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        Self {
            schema: Arc::new(Schema::new(vec![
                text("name"),
                text("setting"),
                text("unit"),
                text("category"),
                text("short_desc"),
                text("context"),
                text("vartype"),
                text("source"),
                text("boot_val"),
                text("reset_val"),
            ])),
        }
    }

    fn batch(&self, settings: &Settings) -> DFResult<RecordBatch> {
        let defaults = Settings::default();
        let mut rows: Vec<SettingRow<'_>> = settings
            .all()
            .map(|(name, value)| {
                let boot = defaults.get(name).unwrap_or(value).to_owned();
                (
                    name.to_owned(),
                    value.to_owned(),
                    "Client Connection Defaults",
                    boot,
                )
            })
            .collect();
        for (name, value, category) in CONSTANTS {
            if settings.get(name).is_none() {
                rows.push((
                    (*name).to_owned(),
                    (*value).to_owned(),
                    category,
                    (*value).to_owned(),
                ));
            }
        }
        rows.sort_by_key(|r| r.0.to_ascii_lowercase());
        let col = |f: &dyn Fn(&SettingRow<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        Ok(RecordBatch::try_new(
            Arc::clone(&self.schema),
            vec![
                col(&|r| Some(r.0.clone())),
                col(&|r| Some(r.1.clone())),
                col(&|r| (r.0 == "statement_timeout").then(|| "ms".to_owned())),
                col(&|r| Some(r.2.to_owned())),
                col(&|_| None),
                col(&|r| {
                    Some(
                        if r.2 == "Preset Options" {
                            "internal"
                        } else {
                            "user"
                        }
                        .to_owned(),
                    )
                }),
                col(&|r| {
                    Some(
                        if r.0 == "statement_timeout" {
                            "integer"
                        } else {
                            "string"
                        }
                        .to_owned(),
                    )
                }),
                col(&|r| Some(if r.1 == r.3 { "default" } else { "session" }.to_owned())),
                col(&|r| Some(r.3.clone())),
                col(&|r| Some(r.3.clone())),
            ],
        )?)
    }
}

#[async_trait]
impl TableProvider for PgSettings {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let settings = state
            .config()
            .get_extension::<Settings>()
            .unwrap_or_default();
        let batch = self.batch(&settings)?;
        MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// The pg_catalog crate's schema with Tarn's `pg_settings` in place of its own, and
/// its text-held array columns typed as arrays.
#[derive(Debug)]
pub(crate) struct PgCatalog {
    inner: Arc<dyn SchemaProvider>,
    settings: Arc<dyn TableProvider>,
    tables: Arc<dyn TableProvider>,
    views: Arc<dyn TableProvider>,
    matviews: Arc<dyn TableProvider>,
    activity: Arc<dyn TableProvider>,
    lake: tarn_catalog::LakeCatalog,
    oids: StableOids,
    built: BuiltRows,
}

impl PgCatalog {
    pub(crate) fn new(
        inner: Arc<dyn SchemaProvider>,
        lake: &tarn_catalog::LakeCatalog,
        activity: Arc<dyn TableProvider>,
    ) -> Self {
        Self {
            inner,
            activity,
            settings: Arc::new(PgSettings::new()),
            tables: Arc::new(Relations::new(lake.clone(), Listed::Tables)),
            views: Arc::new(Relations::new(lake.clone(), Listed::Views)),
            matviews: Arc::new(Relations::new(lake.clone(), Listed::MaterializedViews)),
            lake: lake.clone(),
            oids: StableOids::default(),
            built: BuiltRows::new(lake),
        }
    }
}

#[async_trait]
impl SchemaProvider for PgCatalog {
    fn table_names(&self) -> Vec<String> {
        let mut names = self.inner.table_names();
        names.push("pg_stat_activity".to_owned());
        names
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        if name.eq_ignore_ascii_case("pg_settings") {
            return Ok(Some(Arc::clone(&self.settings)));
        }
        if name.eq_ignore_ascii_case("pg_tables") {
            return Ok(Some(Arc::clone(&self.tables)));
        }
        if name.eq_ignore_ascii_case("pg_views") {
            return Ok(Some(Arc::clone(&self.views)));
        }
        if name.eq_ignore_ascii_case("pg_matviews") {
            return Ok(Some(Arc::clone(&self.matviews)));
        }
        if name.eq_ignore_ascii_case("pg_stat_activity") {
            return Ok(Some(Arc::clone(&self.activity)));
        }
        if name.eq_ignore_ascii_case("pg_attrdef") {
            return Ok(Some(Arc::new(AttrDefaults::new(
                &self.lake,
                self.built.clone(),
            ))));
        }
        if name.eq_ignore_ascii_case("pg_description") {
            return Ok(self.inner.table(name).await?.map(|inner| {
                Arc::new(Descriptions {
                    inner,
                    lake: self.lake.clone(),
                }) as Arc<dyn TableProvider>
            }));
        }
        if name.eq_ignore_ascii_case("pg_roles") || name.eq_ignore_ascii_case("pg_authid") {
            return Ok(self
                .inner
                .table("pg_roles")
                .await?
                .map(|inner| Arc::new(Roles { inner }) as Arc<dyn TableProvider>));
        }
        let table = self.inner.table(name).await?;
        let table = match table {
            Some(inner) if name.eq_ignore_ascii_case("pg_attribute") => {
                Some(Arc::new(Rewritten::new(
                    inner,
                    "pg_attribute",
                    self.built.clone(),
                    NumericTypmods {
                        catalog: Arc::clone(&self.inner),
                        lake: self.lake.clone(),
                        oids: self.oids.clone(),
                    },
                )) as Arc<dyn TableProvider>)
            }
            Some(inner) if name.eq_ignore_ascii_case("pg_class") => Some(Arc::new(Rewritten::new(
                inner,
                "pg_class",
                self.built.clone(),
                Owners {
                    catalog: Arc::clone(&self.inner),
                    lake: self.lake.clone(),
                    oids: self.oids.clone(),
                },
            ))
                as Arc<dyn TableProvider>),
            Some(inner) if name.eq_ignore_ascii_case("pg_namespace") => {
                Some(Arc::new(Rewritten::new(
                    inner,
                    "pg_namespace",
                    self.built.clone(),
                    Namespaces {
                        oids: self.oids.clone(),
                    },
                )) as Arc<dyn TableProvider>)
            }
            other => other,
        };
        let retyped = RETYPED_COLUMNS
            .iter()
            .find(|(t, _)| *t == name)
            .map_or(&[][..], |(_, c)| *c);
        let missing: Vec<&str> = MISSING_COLUMNS
            .iter()
            .filter(|(t, _)| *t == name)
            .map(|(_, c)| *c)
            .collect();
        Ok(match table {
            Some(t) if !retyped.is_empty() || !missing.is_empty() => {
                Some(RetypedColumns::wrap(t, retyped, &missing))
            }
            other => other,
        })
    }

    fn table_exist(&self, name: &str) -> bool {
        name.eq_ignore_ascii_case("pg_settings") || self.inner.table_exist(name)
    }
}

/// Columns the pg_catalog crate types otherwise than PostgreSQL 15, with
/// PostgreSQL's type: arrays it keeps as text (`"1 2"`, `"[1, 2]"`), so that clients'
/// subscripts, `unnest` and `= ANY` plan (pgjdbc's `getIndexInfo` and
/// `getImportedKeys`, SQLAlchemy's `unnest(indkey)`, psql's `\d` over policies,
/// extended statistics and publications), an `integer` the crate has as `smallint`
/// (pg_statistic_ext's `stxstattarget`, `smallint` since PostgreSQL 16) and a `real`
/// it has as `double precision`.
const RETYPED_COLUMNS: &[(&str, &[(&str, Retyped)])] = &[
    (
        "pg_index",
        &[
            ("indkey", Retyped::Int2Array),
            ("indoption", Retyped::Int2Array),
            ("indcollation", Retyped::Int2Array),
            ("indclass", Retyped::Int2Array),
        ],
    ),
    (
        "pg_constraint",
        &[
            ("conkey", Retyped::Int2Array),
            ("confkey", Retyped::Int2Array),
            ("conpfeqop", Retyped::Int2Array),
            ("conppeqop", Retyped::Int2Array),
            ("conffeqop", Retyped::Int2Array),
            ("conexclop", Retyped::Int2Array),
        ],
    ),
    ("pg_policy", &[("polroles", Retyped::OidArray)]),
    (
        "pg_statistic_ext",
        &[
            ("stxkeys", Retyped::Int2Array),
            ("stxkind", Retyped::TextArray),
            ("stxstattarget", Retyped::Integer),
        ],
    ),
    ("pg_publication_rel", &[("prattrs", Retyped::Int2Array)]),
    // aclitem[], as their text items (psql's `\dn+` and `\dp` join them with
    // array_to_string).
    ("pg_namespace", &[("nspacl", Retyped::TextArray)]),
    ("pg_attribute", &[("attacl", Retyped::TextArray)]),
    // `real` (pgjdbc's getIndexInfo returns it as CARDINALITY).
    ("pg_class", &[("reltuples", Retyped::Real)]),
];

/// A PostgreSQL type a column of the pg_catalog crate is read as.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Retyped {
    /// `int2vector`, `smallint[]`.
    Int2Array,
    /// `oid[]` (OIDs are unsigned, as PostgreSQL's, and `oid[]` on the wire).
    OidArray,
    /// `"char"[]`.
    TextArray,
    Integer,
    Real,
}

impl Retyped {
    fn data_type(self) -> DataType {
        let list = |item: DataType| DataType::List(Arc::new(Field::new("item", item, true)));
        match self {
            Retyped::Int2Array => list(DataType::Int16),
            Retyped::OidArray => list(DataType::UInt32),
            Retyped::TextArray => list(DataType::Utf8),
            Retyped::Integer => DataType::Int32,
            Retyped::Real => DataType::Float32,
        }
    }

    /// `column` read as this type: an array from the crate's text, others cast.
    fn convert(self, column: &ArrayRef) -> DFResult<ArrayRef> {
        use datafusion::arrow::array::{AsArray, ListArray, ListBuilder, StringBuilder};
        use datafusion::arrow::datatypes::{Int16Type, UInt32Type};
        if matches!(self, Retyped::Integer | Retyped::Real) || column.data_type() != &DataType::Utf8
        {
            return Ok(datafusion::arrow::compute::cast(column, &self.data_type())?);
        }
        let text = column.as_string::<i32>();
        Ok(match self {
            Retyped::Int2Array => Arc::new(ListArray::from_iter_primitive::<Int16Type, _, _>(
                text.iter()
                    .map(|v| v.and_then(array_elements))
                    .map(|e| e.map(|e| e.into_iter().map(|w| w.parse::<i16>().ok()))),
            )),
            Retyped::OidArray => Arc::new(ListArray::from_iter_primitive::<UInt32Type, _, _>(
                text.iter()
                    .map(|v| v.and_then(array_elements))
                    .map(|e| e.map(|e| e.into_iter().map(|w| w.parse::<u32>().ok()))),
            )),
            Retyped::TextArray => {
                let mut lists = ListBuilder::new(StringBuilder::new());
                for value in text.iter() {
                    match value.and_then(array_elements) {
                        Some(elements) => {
                            for element in elements {
                                lists.values().append_value(element);
                            }
                            lists.append(true);
                        }
                        None => lists.append(false),
                    }
                }
                Arc::new(lists.finish())
            }
            Retyped::Integer | Retyped::Real => unreachable!("cast above"),
        })
    }
}

/// Columns PostgreSQL 15 has that the pg_catalog crate's tables lack, NULL here:
/// `pg_class.reloptions` (SQLAlchemy's get_indexes reads it; Tarn has no storage
/// parameters) and `pg_class.relacl` (psql's `\dp`; NULL is the owner's default
/// privileges, as PostgreSQL writes it for a table never granted on).
const MISSING_COLUMNS: &[(&str, &str)] = &[("pg_class", "reloptions"), ("pg_class", "relacl")];

/// A pg_catalog table with some columns read as PostgreSQL types them
/// ([`RETYPED_COLUMNS`]), and missing `text[]` columns added as NULL.
#[derive(Debug)]
struct RetypedColumns {
    inner: Arc<dyn TableProvider>,
    columns: Vec<(usize, Retyped)>,
    added: usize,
    schema: SchemaRef,
}

impl RetypedColumns {
    fn wrap(
        inner: Arc<dyn TableProvider>,
        retyped: &[(&str, Retyped)],
        missing: &[&str],
    ) -> Arc<dyn TableProvider> {
        let source = inner.schema();
        let mut columns = Vec::new();
        let fields: Vec<Field> = source
            .fields()
            .iter()
            .enumerate()
            .map(
                |(i, f)| match retyped.iter().find(|(name, _)| name == f.name()) {
                    Some((_, to)) => {
                        columns.push((i, *to));
                        Field::new(f.name(), to.data_type(), true)
                            .with_metadata(f.metadata().clone())
                    }
                    None => f.as_ref().clone(),
                },
            )
            .collect();
        let mut fields = fields;
        let missing: Vec<&str> = missing
            .iter()
            .copied()
            .filter(|m| source.field_with_name(m).is_err())
            .collect();
        for name in &missing {
            fields.push(Field::new(
                *name,
                DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
                true,
            ));
        }
        Arc::new(Self {
            inner,
            columns,
            added: missing.len(),
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

/// The elements of an array the crate wrote as text (`"1 2"`, `"[1, 2]"`, `"{1,2}"`,
/// `"{d,f}"`); empty text is NULL.
fn array_elements(text: &str) -> Option<Vec<&str>> {
    let inner = text
        .trim()
        .trim_matches(|c| matches!(c, '[' | ']' | '{' | '}'));
    if inner.trim().is_empty() {
        return None;
    }
    Some(
        inner
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .collect(),
    )
}

#[async_trait]
impl TableProvider for RetypedColumns {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        // The crate's catalog tables are small and in memory: read, convert, serve.
        let plan = self.inner.scan(state, None, &[], None).await?;
        let batches = datafusion::physical_plan::collect(plan, state.task_ctx()).await?;
        let mut converted = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut arrays = batch.columns().to_vec();
            for &(i, to) in &self.columns {
                arrays[i] = to.convert(&arrays[i])?;
            }
            let base = arrays.len();
            for field in self.schema.fields().iter().skip(base).take(self.added) {
                arrays.push(datafusion::arrow::array::new_null_array(
                    field.data_type(),
                    batch.num_rows(),
                ));
            }
            converted.push(RecordBatch::try_new(Arc::clone(&self.schema), arrays)?);
        }
        MemTable::try_new(Arc::clone(&self.schema), vec![converted])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `pg_description`: the pg_catalog crate's rows (PostgreSQL's built-in objects),
/// then the comments of the warehouse's tables, views and columns (`COMMENT ON`),
/// each under its relation's OID with pg_class's OID as `classoid` and the column's
/// number (0 for the relation) as `objsubid`, as pgjdbc's getTables and getColumns
/// and SQLAlchemy's inspector join them.
#[derive(Debug)]
struct Descriptions {
    inner: Arc<dyn TableProvider>,
    lake: tarn_catalog::LakeCatalog,
}

impl Descriptions {
    /// The warehouse's comments, in `schema`'s columns.
    async fn batch(&self, schema: &SchemaRef) -> DFResult<RecordBatch> {
        use datafusion::arrow::array::Int32Array;
        use datafusion::catalog::CatalogProvider;
        let class = relation_oid("pg_catalog", "pg_class");
        let namespace = relation_oid("pg_catalog", "pg_namespace");
        let (mut objoid, mut objsubid, mut text) = (Vec::new(), Vec::new(), Vec::new());
        let mut classoid = Vec::new();
        // Schemas' comments (`COMMENT ON SCHEMA`), under pg_namespace: one read of
        // each schema's entry, all at once (an object store's round trips overlap).
        let schemas = self.lake.schema_names();
        let comments = futures::future::join_all(
            schemas
                .iter()
                .map(|schema| self.lake.metastore().schema_comment(schema)),
        )
        .await;
        for (schema_name, comment) in schemas.iter().zip(comments) {
            let comment =
                comment.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
            if let Some(comment) = comment {
                objoid.push(namespace_oid(schema_name));
                classoid.push(namespace);
                objsubid.push(0);
                text.push(comment);
            }
        }
        for schema_name in self.lake.schema_names() {
            let Some(provider) = self.lake.schema(&schema_name) else {
                continue;
            };
            for name in provider.table_names() {
                let Some(entry) = self
                    .lake
                    .metastore()
                    .shared_table(&schema_name, &name)
                    .await
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
                else {
                    continue;
                };
                let oid = relation_oid(&schema_name, &name);
                if let Some(comment) = &entry.comment {
                    objoid.push(oid);
                    classoid.push(class);
                    objsubid.push(0);
                    text.push(comment.clone());
                }
                if entry.column_comments.is_empty() {
                    continue;
                }
                let relations = self.lake.metadata().schema(&schema_name);
                let columns = match relations {
                    Some(relations) => relations.table(&name).await?,
                    None => None,
                };
                let Some(columns) = columns else {
                    continue;
                };
                for (i, field) in columns.schema().fields().iter().enumerate() {
                    if let Some(comment) = entry.column_comments.get(field.name()) {
                        objoid.push(oid);
                        classoid.push(class);
                        objsubid.push(i as i32 + 1);
                        text.push(comment.clone());
                    }
                }
            }
        }
        let arrays: [ArrayRef; 4] = [
            Arc::new(Int32Array::from(objoid)),
            Arc::new(Int32Array::from(classoid)),
            Arc::new(Int32Array::from(objsubid)),
            Arc::new(StringArray::from(text)),
        ];
        let columns = schema
            .fields()
            .iter()
            .zip(arrays)
            .map(|(field, array)| datafusion::arrow::compute::cast(&array, field.data_type()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
    }
}

#[async_trait]
impl TableProvider for Descriptions {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let schema = self.inner.schema();
        let ours = self.batch(&schema).await?;
        let builtin = self.inner.scan(state, projection, filters, limit).await?;
        let comments = MemTable::try_new(Arc::clone(&schema), vec![vec![ours]])?
            .scan(state, projection, filters, limit)
            .await?;
        datafusion::physical_plan::union::UnionExec::try_new(vec![builtin, comments])
    }
}

/// One pg_tables, pg_views or pg_matviews row: schema, name, a view's definition, its
/// owner.
type RelationRow = (String, String, Option<String>, Option<String>);

/// Which relations a [`Relations`] lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Listed {
    Tables,
    Views,
    MaterializedViews,
}

/// `pg_tables`, `pg_views` and `pg_matviews` from the lake's catalog entries (the
/// pg_catalog crate lists every relation, views too, in `pg_tables`, and no view in
/// `pg_views`; dbt decides how to drop and replace a relation from these three).
#[derive(Debug)]
pub(crate) struct Relations {
    lake: tarn_catalog::LakeCatalog,
    listed: Listed,
    schema: SchemaRef,
}

impl Relations {
    pub(crate) fn new(lake: tarn_catalog::LakeCatalog, listed: Listed) -> Self {
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        let flag = |name: &str| Field::new(name, DataType::Boolean, true);
        let schema = if listed == Listed::Views {
            Schema::new(vec![
                text("schemaname"),
                text("viewname"),
                text("viewowner"),
                text("definition"),
            ])
        } else if listed == Listed::MaterializedViews {
            Schema::new(vec![
                text("schemaname"),
                text("matviewname"),
                text("matviewowner"),
                text("tablespace"),
                flag("hasindexes"),
                flag("ispopulated"),
                text("definition"),
            ])
        } else {
            Schema::new(vec![
                text("schemaname"),
                text("tablename"),
                text("tableowner"),
                text("tablespace"),
                flag("hasindexes"),
                flag("hasrules"),
                flag("hastriggers"),
                flag("rowsecurity"),
            ])
        };
        Self {
            lake,
            listed,
            schema: Arc::new(schema),
        }
    }

    async fn batch(&self) -> DFResult<RecordBatch> {
        use datafusion::arrow::array::BooleanArray;
        use datafusion::catalog::CatalogProvider;
        let mut rows: Vec<RelationRow> = Vec::new();
        let mut schemas = self.lake.schema_names();
        schemas.sort();
        for schema in schemas {
            let Some(provider) = self.lake.schema(&schema) else {
                continue;
            };
            let mut names = provider.table_names();
            names.sort();
            for name in names {
                let Some(entry) = self
                    .lake
                    .metastore()
                    .table(&schema, &name)
                    .await
                    .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
                else {
                    continue;
                };
                let listed = if entry.kind == tarn_catalog::TableKind::View {
                    Listed::Views
                } else if entry.is_materialized_view() {
                    Listed::MaterializedViews
                } else {
                    Listed::Tables
                };
                if listed == self.listed {
                    let owner = entry.properties.get("owner").cloned();
                    let definition = match listed {
                        Listed::MaterializedViews => entry
                            .properties
                            .get(tarn_catalog::MATERIALIZED_VIEW_KEY)
                            .cloned(),
                        _ => entry.definition,
                    };
                    rows.push((schema.clone(), name, definition, owner));
                }
            }
        }
        let text = |f: &dyn Fn(&RelationRow) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(f).collect::<StringArray>())
        };
        let owner = text(&|r| Some(r.3.clone().unwrap_or_else(|| "postgres".to_owned())));
        let flag =
            |value: bool| -> ArrayRef { Arc::new(BooleanArray::from(vec![value; rows.len()])) };
        let columns: Vec<ArrayRef> = if self.listed == Listed::Views {
            vec![
                text(&|r| Some(r.0.clone())),
                text(&|r| Some(r.1.clone())),
                owner,
                text(&|r| r.2.clone()),
            ]
        } else if self.listed == Listed::MaterializedViews {
            vec![
                text(&|r| Some(r.0.clone())),
                text(&|r| Some(r.1.clone())),
                owner,
                text(&|_| None),
                flag(false),
                flag(true),
                text(&|r| r.2.clone()),
            ]
        } else {
            let no = || -> ArrayRef { Arc::new(BooleanArray::from(vec![false; rows.len()])) };
            vec![
                text(&|r| Some(r.0.clone())),
                text(&|r| Some(r.1.clone())),
                owner,
                text(&|_| None),
                no(),
                no(),
                no(),
                no(),
            ]
        };
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl TableProvider for Relations {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let batch = self.batch().await?;
        MemTable::try_new(Arc::clone(&self.schema), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `pg_attrdef`: one row per column default of the lake's tables, `adbin` holding
/// the expression as PostgreSQL prints it (Tarn keeps a default's SQL, not a parse
/// tree; [`pg_get_expr_udf`] gives `adbin` back), so psql's `\d`, pgjdbc's
/// `COLUMN_DEF` and SQLAlchemy's reflected `server_default` show it. The pg_catalog
/// crate's table has no rows.
#[derive(Debug)]
struct AttrDefaults {
    lake: tarn_catalog::LakeCatalog,
    built: BuiltRows,
    schema: SchemaRef,
}

impl AttrDefaults {
    fn new(lake: &tarn_catalog::LakeCatalog, built: BuiltRows) -> Self {
        use datafusion_pg_catalog::pg_catalog::oid_field::OID_ALIAS_KEY as PG_OID_ALIAS_KEY;
        let oid = |name: &str| {
            Field::new(name, DataType::Int32, false).with_metadata(
                [(PG_OID_ALIAS_KEY.to_owned(), "oid".to_owned())]
                    .into_iter()
                    .collect(),
            )
        };
        Self {
            lake: lake.clone(),
            built,
            schema: Arc::new(Schema::new(vec![
                oid("oid"),
                oid("adrelid"),
                Field::new("adnum", DataType::Int16, false),
                Field::new("adbin", DataType::Utf8, false),
            ])),
        }
    }

    async fn batch(&self) -> DFResult<RecordBatch> {
        use datafusion::arrow::array::{Int16Array, Int32Array};
        use datafusion::catalog::CatalogProvider;
        let metadata = self.lake.metadata();
        let mut rows: Vec<(i32, i32, i16, String)> = Vec::new();
        for schema in metadata.schema_names() {
            let Some(provider) = metadata.schema(&schema) else {
                continue;
            };
            for name in provider.table_names() {
                let Some(table) = provider.table(&name).await? else {
                    continue;
                };
                for (i, field) in table.schema().fields().iter().enumerate() {
                    if let Some(default) = crate::information_schema::column_default(field) {
                        rows.push((
                            name_hash(&["attrdef", &schema, &name, field.name()]),
                            relation_oid(&schema, &name),
                            i16::try_from(i + 1).unwrap_or(i16::MAX),
                            default,
                        ));
                    }
                }
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(rows.iter().map(|r| r.0).collect::<Int32Array>()),
            Arc::new(rows.iter().map(|r| r.1).collect::<Int32Array>()),
            Arc::new(rows.iter().map(|r| r.2).collect::<Int16Array>()),
            Arc::new(
                rows.iter()
                    .map(|r| Some(r.3.as_str()))
                    .collect::<StringArray>(),
            ),
        ];
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }
}

#[async_trait]
impl TableProvider for AttrDefaults {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let rows = self
            .built
            .get_or_build("pg_attrdef", async { Ok(vec![self.batch().await?]) })
            .await?;
        MemTable::try_new(Arc::clone(&self.schema), vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `pg_get_expr(expr, relation [, pretty])`: the expression text kept in a catalog
/// column ([`AttrDefaults`]'s `adbin`), NULL for NULL as PostgreSQL. The pg_catalog
/// crate's answers an empty string for everything.
pub(crate) fn pg_get_expr_udf() -> ScalarUDF {
    use datafusion::logical_expr::{Signature, TypeSignature};
    ScalarUDF::new_from_impl(ExprText {
        signature: Signature::one_of(
            vec![TypeSignature::Any(2), TypeSignature::Any(3)],
            Volatility::Stable,
        ),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ExprText {
    signature: datafusion::logical_expr::Signature,
}

impl datafusion::logical_expr::ScalarUDFImpl for ExprText {
    fn name(&self) -> &str {
        "pg_get_expr"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<ColumnarValue> {
        Ok(match &args.args[0] {
            ColumnarValue::Scalar(value) => ColumnarValue::Scalar(value.cast_to(&DataType::Utf8)?),
            ColumnarValue::Array(values) => {
                ColumnarValue::Array(datafusion::arrow::compute::cast(values, &DataType::Utf8)?)
            }
        })
    }
}

/// `pg_attribute` with `atttypmod` for numeric columns, `(precision << 16 | scale) + 4`
/// as PostgreSQL keeps it, so `format_type` prints `numeric(10,2)` (psql's `\d`),
/// pgjdbc reports the precision and scale, and SQLAlchemy reflects `NUMERIC(10, 2)`.
/// The pg_catalog crate writes -1 for every column; the precision and scale come
/// from the table's columns as the catalog records them (no Delta log is opened).
#[derive(Debug)]
struct NumericTypmods {
    catalog: Arc<dyn SchemaProvider>,
    lake: tarn_catalog::LakeCatalog,
    oids: StableOids,
}

/// How Tarn corrects the rows of a table the pg_catalog crate builds (owners,
/// stable OIDs, typmods): given all of them, the corrected ones.
#[async_trait]
trait RewriteRows: std::fmt::Debug + Send + Sync {
    async fn rewrite(
        &self,
        state: &dyn Session,
        batches: Vec<RecordBatch>,
    ) -> DFResult<Vec<RecordBatch>>;
}

/// The crate's table `inner` with its rows corrected by `rows`; filters and
/// projections apply to the corrected rows.
#[derive(Debug)]
struct Rewritten<R> {
    inner: Arc<dyn TableProvider>,
    /// The inner table's schema with PostgreSQL's column types ([`plain_oids`]).
    schema: SchemaRef,
    /// The table's name, for [`BuiltRows`].
    name: &'static str,
    built: BuiltRows,
    rows: R,
}

impl<R> Rewritten<R> {
    fn new(inner: Arc<dyn TableProvider>, name: &'static str, built: BuiltRows, rows: R) -> Self {
        Self {
            schema: plain_oids(&inner.schema()),
            inner,
            name,
            built,
            rows,
        }
    }
}

/// `schema` with its OID columns typed `oid`, as PostgreSQL types every such column
/// of pg_class and pg_attribute: the pg_catalog crate marks `attrelid` `regclass`
/// and `atttypid` `regtype` (so RowDescription said so, and SQLx, which reads
/// `attrelid` as an `oid`, refused the column). `regproc` columns stay (PostgreSQL
/// has those).
fn plain_oids(schema: &SchemaRef) -> SchemaRef {
    use datafusion_pg_catalog::pg_catalog::oid_field::OID_ALIAS_KEY as PG_OID_ALIAS_KEY;
    let aliased = |f: &Field| {
        f.metadata()
            .get(PG_OID_ALIAS_KEY)
            .is_some_and(|kind| kind != "oid" && kind != "regproc")
    };
    if !schema.fields().iter().any(|f| aliased(f)) {
        return Arc::clone(schema);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut field = f.as_ref().clone();
            if aliased(f) {
                let mut metadata = f.metadata().clone();
                metadata.insert(PG_OID_ALIAS_KEY.to_owned(), "oid".to_owned());
                field = field.with_metadata(metadata);
            }
            field
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The corrected rows of each table, kept while the catalog stays as it was when
/// they were built ([`tarn_catalog::Metastore::state`]): psql's `\dt` and pgjdbc's
/// getColumns over 1,000 tables then read rows already built instead of building
/// 1,000 tables' worth of pg_class and pg_attribute on every query, and a query
/// that names pg_class twice (pgjdbc's getTables) builds it once. Shared by every
/// session of a server (the rows do not depend on the session).
#[derive(Debug, Clone)]
struct BuiltRows {
    lake: tarn_catalog::LakeCatalog,
    #[allow(clippy::type_complexity)]
    rows: Arc<std::sync::Mutex<std::collections::HashMap<&'static str, (u64, Vec<RecordBatch>)>>>,
}

impl BuiltRows {
    fn new(lake: &tarn_catalog::LakeCatalog) -> Self {
        Self {
            lake: lake.clone(),
            rows: Arc::default(),
        }
    }

    fn get(&self, table: &'static str) -> Option<Vec<RecordBatch>> {
        let state = self.lake.metastore().state();
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(table)
            .filter(|(s, _)| *s == state)
            .map(|(_, batches)| batches.clone())
    }

    /// Keeps `batches` as `table`'s rows if the catalog is still in `state`, the
    /// one it was in before they were built.
    fn put(&self, table: &'static str, state: u64, batches: &[RecordBatch]) {
        if self.lake.metastore().state() == state {
            self.rows
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(table, (state, batches.to_vec()));
        }
    }

    /// `table`'s rows as kept, or as `build` makes them now (then kept).
    async fn get_or_build(
        &self,
        table: &'static str,
        build: impl std::future::Future<Output = DFResult<Vec<RecordBatch>>>,
    ) -> DFResult<Vec<RecordBatch>> {
        if let Some(rows) = self.get(table) {
            return Ok(rows);
        }
        let before = self.lake.metastore().state();
        let rows = build.await?;
        self.put(table, before, &rows);
        Ok(rows)
    }
}

#[async_trait]
impl<R: RewriteRows + 'static> TableProvider for Rewritten<R> {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let rows = self
            .built
            .get_or_build(self.name, async {
                let batches = collect_table(Arc::clone(&self.inner), state).await?;
                Ok(self
                    .rows
                    .rewrite(state, batches)
                    .await?
                    .into_iter()
                    .map(|b| RecordBatch::try_new(Arc::clone(&self.schema), b.columns().to_vec()))
                    .collect::<Result<Vec<_>, _>>()?)
            })
            .await?;
        MemTable::try_new(Arc::clone(&self.schema), vec![rows])?
            .scan(state, projection, filters, limit)
            .await
    }
}

async fn collect_table(
    provider: Arc<dyn TableProvider>,
    state: &dyn Session,
) -> DFResult<Vec<RecordBatch>> {
    let plan = provider.scan(state, None, &[], None).await?;
    datafusion::physical_plan::collect(plan, state.task_ctx()).await
}

fn int_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Option<&'a datafusion::arrow::array::Int32Array> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int32Type;
    batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<Int32Type>())
}

fn text_column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a StringArray> {
    use datafusion::arrow::array::AsArray;
    batch
        .column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
}

/// The crate's schemas, OID to name (pg_namespace is small).
async fn namespace_names(
    catalog: &Arc<dyn SchemaProvider>,
    state: &dyn Session,
) -> DFResult<std::collections::HashMap<i32, String>> {
    let mut namespaces = std::collections::HashMap::new();
    if let Some(table) = catalog.table("pg_namespace").await? {
        for batch in collect_table(table, state).await? {
            let (Some(oid), Some(name)) =
                (int_column(&batch, "oid"), text_column(&batch, "nspname"))
            else {
                continue;
            };
            for i in 0..batch.num_rows() {
                namespaces.insert(oid.value(i), name.value(i).to_owned());
            }
        }
    }
    Ok(namespaces)
}

/// The crate's schemas (OID to name) and relations in `wanted` (OID to schema and
/// name), read from its own pg_namespace and pg_class.
#[allow(clippy::type_complexity)]
async fn catalog_names(
    catalog: &Arc<dyn SchemaProvider>,
    state: &dyn Session,
    wanted: Option<&std::collections::HashSet<i32>>,
) -> DFResult<(
    std::collections::HashMap<i32, String>,
    std::collections::HashMap<i32, (String, String)>,
)> {
    use std::collections::HashMap;
    let mut namespaces: HashMap<i32, String> = HashMap::new();
    if let Some(table) = catalog.table("pg_namespace").await? {
        for batch in collect_table(table, state).await? {
            let (Some(oid), Some(name)) =
                (int_column(&batch, "oid"), text_column(&batch, "nspname"))
            else {
                continue;
            };
            for i in 0..batch.num_rows() {
                namespaces.insert(oid.value(i), name.value(i).to_owned());
            }
        }
    }
    let mut relations = HashMap::new();
    if let Some(table) = catalog.table("pg_class").await? {
        for batch in collect_table(table, state).await? {
            let (Some(oid), Some(name), Some(namespace)) = (
                int_column(&batch, "oid"),
                text_column(&batch, "relname"),
                int_column(&batch, "relnamespace"),
            ) else {
                continue;
            };
            for i in 0..batch.num_rows() {
                if wanted.is_none_or(|w| w.contains(&oid.value(i)))
                    && let Some(schema) = namespaces.get(&namespace.value(i))
                {
                    relations.insert(oid.value(i), (schema.clone(), name.value(i).to_owned()));
                }
            }
        }
    }
    Ok((namespaces, relations))
}

/// `pg_class.relowner` from the user who created each relation, as the catalog
/// entry records it (`owner`); relations without one (made before Tarn recorded
/// owners, or pg_catalog's own) belong to `postgres` (OID 10), as system objects do.
/// `pg_get_userbyid` maps the OIDs back ([`role_oid`], [`role_name`]).
#[derive(Debug)]
struct Owners {
    catalog: Arc<dyn SchemaProvider>,
    lake: tarn_catalog::LakeCatalog,
    oids: StableOids,
}

/// OIDs of schemas and relations that stay the same across restarts and servers,
/// as PostgreSQL's do: a hash of the name above PostgreSQL's first user OID (16384),
/// or PostgreSQL's own for `pg_catalog` (11) and `public` (2200). The pg_catalog
/// crate numbers objects in the order it first sees them, so pg_class,
/// pg_namespace and pg_attribute are rewritten to these (the crate's number to
/// the stable one is remembered per server). Two names hashing to one OID are
/// possible in principle (about one chance in 4,000 with 1,000 tables) and not
/// detected.
#[derive(Debug, Clone, Default)]
struct StableOids {
    by_crate_oid: Arc<std::sync::Mutex<std::collections::HashMap<i32, i32>>>,
    /// Schema and name of each relation by the crate's OID (which is stable for a
    /// name while the server runs).
    names: Arc<std::sync::Mutex<std::collections::HashMap<i32, (String, String)>>>,
}

fn name_hash(parts: &[&str]) -> i32 {
    let hash = parts
        .iter()
        .enumerate()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, (i, part)| {
            let h = if i > 0 {
                (h ^ 0xff).wrapping_mul(0x100_0000_01b3)
            } else {
                h
            };
            part.bytes()
                .fold(h, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
        });
    16_384 + (hash % (i32::MAX as u64 - 16_384)) as i32
}

/// The stable OID of schema `name`.
pub(crate) fn namespace_oid(name: &str) -> i32 {
    match name {
        "pg_catalog" => 11,
        "public" => 2200,
        _ => name_hash(&["namespace", name]),
    }
}

/// The stable OID of relation `schema.name`.
pub(crate) fn relation_oid(schema: &str, name: &str) -> i32 {
    name_hash(&[schema, name])
}

impl StableOids {
    fn get(&self, crate_oid: i32) -> Option<i32> {
        self.by_crate_oid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&crate_oid)
            .copied()
    }

    /// Learns the crate's OIDs of every schema and relation; returns the relations
    /// by the crate's OID.
    async fn refresh(
        &self,
        catalog: &Arc<dyn SchemaProvider>,
        state: &dyn Session,
    ) -> DFResult<std::collections::HashMap<i32, (String, String)>> {
        let (namespaces, relations) = catalog_names(catalog, state, None).await?;
        self.learn(&namespaces, &relations);
        Ok(relations)
    }

    fn learn(
        &self,
        namespaces: &std::collections::HashMap<i32, String>,
        relations: &std::collections::HashMap<i32, (String, String)>,
    ) {
        let mut map = self.by_crate_oid.lock().unwrap_or_else(|e| e.into_inner());
        for (oid, name) in namespaces {
            map.insert(*oid, namespace_oid(name));
        }
        for (oid, (schema, name)) in relations {
            map.insert(*oid, relation_oid(schema, name));
        }
        drop(map);
        let mut names = self.names.lock().unwrap_or_else(|e| e.into_inner());
        names.extend(relations.iter().map(|(o, n)| (*o, n.clone())));
    }

    /// Schema and name of the relations in `wanted` by the crate's OIDs, from what
    /// was learned, reading the crate's catalog only if one is new.
    async fn names_of(
        &self,
        catalog: &Arc<dyn SchemaProvider>,
        state: &dyn Session,
        wanted: &std::collections::HashSet<i32>,
    ) -> DFResult<std::collections::HashMap<i32, (String, String)>> {
        let known = |names: &std::collections::HashMap<i32, (String, String)>| {
            wanted
                .iter()
                .filter_map(|o| names.get(o).map(|n| (*o, n.clone())))
                .collect::<std::collections::HashMap<_, _>>()
        };
        let found = known(&self.names.lock().unwrap_or_else(|e| e.into_inner()));
        if found.len() == wanted.len() {
            return Ok(found);
        }
        self.refresh(catalog, state).await?;
        Ok(known(&self.names.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// `batch` with `column`'s crate OIDs replaced by the stable ones it knows.
    fn map_column(&self, batch: RecordBatch, column: &str) -> DFResult<RecordBatch> {
        use datafusion::arrow::array::Int32Array;
        let (Some(values), Ok(at)) = (int_column(&batch, column), batch.schema().index_of(column))
        else {
            return Ok(batch);
        };
        let map = self.by_crate_oid.lock().unwrap_or_else(|e| e.into_inner());
        let mapped: Int32Array = values
            .iter()
            .map(|v| v.map(|o| map.get(&o).copied().unwrap_or(o)))
            .collect();
        drop(map);
        let mut columns = batch.columns().to_vec();
        columns[at] = Arc::new(mapped);
        Ok(RecordBatch::try_new(batch.schema(), columns)?)
    }
}

/// pg_namespace with stable OIDs (see [`StableOids`]).
#[derive(Debug)]
struct Namespaces {
    oids: StableOids,
}

#[async_trait]
impl RewriteRows for Namespaces {
    async fn rewrite(
        &self,
        _state: &dyn Session,
        batches: Vec<RecordBatch>,
    ) -> DFResult<Vec<RecordBatch>> {
        use datafusion::arrow::array::Int32Array;
        let mut converted = Vec::with_capacity(batches.len());
        for batch in batches {
            let (Some(oids), Some(names), Ok(at)) = (
                int_column(&batch, "oid"),
                text_column(&batch, "nspname"),
                batch.schema().index_of("oid"),
            ) else {
                converted.push(batch);
                continue;
            };
            let mut map = self
                .oids
                .by_crate_oid
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let stable: Int32Array = (0..batch.num_rows())
                .map(|i| {
                    let oid = namespace_oid(names.value(i));
                    map.insert(oids.value(i), oid);
                    Some(oid)
                })
                .collect();
            drop(map);
            let mut columns = batch.columns().to_vec();
            columns[at] = Arc::new(stable);
            converted.push(RecordBatch::try_new(batch.schema(), columns)?);
        }
        Ok(converted)
    }
}

#[async_trait]
impl RewriteRows for Owners {
    async fn rewrite(
        &self,
        state: &dyn Session,
        batches: Vec<RecordBatch>,
    ) -> DFResult<Vec<RecordBatch>> {
        use datafusion::arrow::array::Int32Array;
        // The relations' names from the rows just read (pg_class is built once per
        // query: it lists every table), their schemas from the crate's pg_namespace.
        let namespaces = namespace_names(&self.catalog, state).await?;
        let mut relations = std::collections::HashMap::new();
        for batch in &batches {
            let (Some(oid), Some(name), Some(namespace)) = (
                int_column(batch, "oid"),
                text_column(batch, "relname"),
                int_column(batch, "relnamespace"),
            ) else {
                continue;
            };
            for i in 0..batch.num_rows() {
                if let Some(schema) = namespaces.get(&namespace.value(i)) {
                    relations.insert(oid.value(i), (schema.clone(), name.value(i).to_owned()));
                }
            }
        }
        self.oids.learn(&namespaces, &relations);
        let mut owners = std::collections::HashMap::new();
        // Materialized views are Delta tables to the crate; PostgreSQL's relkind is `m`.
        let mut materialized = std::collections::HashSet::new();
        for (oid, (schema, name)) in &relations {
            if let Ok(Some(entry)) = self.lake.metastore().table(schema, name).await {
                if let Some(owner) = entry.properties.get("owner") {
                    owners.insert(*oid, role_oid(owner));
                }
                if entry.is_materialized_view() {
                    materialized.insert(*oid);
                }
            }
        }
        let mut converted = Vec::with_capacity(batches.len());
        for batch in batches {
            let (Some(oids), Some(at)) = (
                int_column(&batch, "oid"),
                batch.schema().index_of("relowner").ok(),
            ) else {
                converted.push(batch);
                continue;
            };
            let owner: Int32Array = (0..batch.num_rows())
                .map(|i| Some(owners.get(&oids.value(i)).copied().unwrap_or(POSTGRES_ROLE)))
                .collect();
            let mut columns = batch.columns().to_vec();
            columns[at] = Arc::new(owner);
            if let Ok(kind_at) = batch.schema().index_of("relkind")
                && !materialized.is_empty()
            {
                use datafusion::arrow::array::AsArray;
                let kinds = datafusion::arrow::compute::cast(&columns[kind_at], &DataType::Utf8)?;
                let kinds: StringArray = kinds
                    .as_string::<i32>()
                    .iter()
                    .enumerate()
                    .map(|(i, kind)| match materialized.contains(&oids.value(i)) {
                        true => Some("m"),
                        false => kind,
                    })
                    .collect();
                columns[kind_at] = datafusion::arrow::compute::cast(
                    &kinds,
                    batch.schema().field(kind_at).data_type(),
                )?;
            }
            let batch = RecordBatch::try_new(batch.schema(), columns)?;
            let batch = self.oids.map_column(batch, "oid")?;
            converted.push(self.oids.map_column(batch, "relnamespace")?);
        }
        Ok(converted)
    }
}

/// The superuser PostgreSQL creates at initdb, owner of the system catalogs.
const POSTGRES_ROLE: i32 = 10;

fn roles() -> &'static std::sync::Mutex<std::collections::HashMap<i32, String>> {
    static ROLES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<i32, String>>> =
        std::sync::OnceLock::new();
    ROLES.get_or_init(Default::default)
}

/// A stable OID for role `name` (the same on every server and restart: a hash of the
/// name above PostgreSQL's first user OID), remembered for [`role_name`].
pub(crate) fn role_oid(name: &str) -> i32 {
    if name == "postgres" {
        return POSTGRES_ROLE;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let oid = 16_384 + (hash % 1_000_000_000) as i32;
    roles()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(oid, name.to_owned());
    oid
}

/// Makes `name` a role: listed in pg_roles (psql's `\du`) with its stable OID. The
/// server registers its configured users and each user that connects.
pub fn register_role(name: &str) {
    role_oid(name);
}

/// pg_roles: `postgres` (the superuser PostgreSQL creates, owner of the system
/// catalogs) and the roles this server knows (configured users, users that
/// connected, owners of relations), each with its stable OID. Tarn has no role
/// attributes: every role can log in, only `postgres` is a superuser.
#[derive(Debug)]
struct Roles {
    inner: Arc<dyn TableProvider>,
}

#[async_trait]
impl TableProvider for Roles {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        use datafusion::arrow::array::{
            ArrayRef, BooleanArray, Int32Array, ListBuilder, StringArray, StringBuilder,
            TimestampMicrosecondArray, new_null_array,
        };
        let mut names: Vec<(i32, String)> = roles()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(oid, name)| (*oid, name.clone()))
            .collect();
        names.push((POSTGRES_ROLE, "postgres".to_owned()));
        names.sort_by(|a, b| a.1.cmp(&b.1));
        names.dedup_by(|a, b| a.1 == b.1);
        let n = names.len();
        let schema = self.inner.schema();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for field in schema.fields() {
            let column: ArrayRef = match field.name().as_str() {
                "rolname" => Arc::new(StringArray::from_iter_values(names.iter().map(|(_, n)| n))),
                "oid" => Arc::new(Int32Array::from_iter_values(names.iter().map(|(o, _)| *o))),
                "rolsuper" | "rolcreaterole" | "rolcreatedb" | "rolreplication"
                | "rolbypassrls" => Arc::new(BooleanArray::from_iter(
                    names.iter().map(|(o, _)| Some(*o == POSTGRES_ROLE)),
                )),
                "rolinherit" | "rolcanlogin" => Arc::new(BooleanArray::from(vec![true; n])),
                "rolconnlimit" => Arc::new(Int32Array::from(vec![-1; n])),
                "rolvaliduntil" => Arc::new(
                    TimestampMicrosecondArray::from(vec![None; n])
                        .with_data_type(field.data_type().clone()),
                ),
                "rolconfig" => {
                    let mut builder = ListBuilder::new(StringBuilder::new());
                    for _ in 0..n {
                        builder.append(false);
                    }
                    Arc::new(builder.finish())
                }
                _ => new_null_array(field.data_type(), n),
            };
            columns.push(column);
        }
        let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
        MemTable::try_new(schema, vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `pg_get_userbyid(oid)`: the role's name, `postgres` for 10 (and 0, which the
/// pg_catalog crate uses for "no owner"), else PostgreSQL's `unknown (OID=n)`.
pub(crate) fn role_name(oid: i32) -> String {
    if oid == POSTGRES_ROLE || oid == 0 {
        return "postgres".to_owned();
    }
    roles()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&oid)
        .cloned()
        .unwrap_or_else(|| format!("unknown (OID={oid})"))
}

#[async_trait]
impl RewriteRows for NumericTypmods {
    async fn rewrite(
        &self,
        state: &dyn Session,
        batches: Vec<RecordBatch>,
    ) -> DFResult<Vec<RecordBatch>> {
        use datafusion::arrow::array::Int32Array;
        use datafusion::catalog::CatalogProvider;
        use std::collections::{HashMap, HashSet};
        // Every relation: numeric columns get their precision and scale, text
        // columns may have been declared varchar(n), json or jsonb, any column may
        // have a default.
        let wanted: HashSet<i32> = batches
            .iter()
            .filter_map(|b| int_column(b, "attrelid"))
            .flat_map(|rel| rel.iter().flatten())
            .collect();
        let mut converted = batches.clone();
        if !wanted.is_empty() {
            let relations = self.oids.names_of(&self.catalog, state, &wanted).await?;
            let metadata = self.lake.metadata();
            let mut schemas: HashMap<i32, SchemaRef> = HashMap::new();
            for (oid, (schema, table)) in &relations {
                if let Some(provider) = metadata.schema(schema)
                    && let Ok(Some(table)) = provider.table(table).await
                {
                    schemas.insert(*oid, table.schema());
                }
            }
            converted.clear();
            for batch in batches {
                let (Some(rel), Some(name), Some(typ), Some(typmod)) = (
                    int_column(&batch, "attrelid"),
                    text_column(&batch, "attname"),
                    int_column(&batch, "atttypid"),
                    int_column(&batch, "atttypmod"),
                ) else {
                    converted.push(batch);
                    continue;
                };
                let field = |i: usize| {
                    schemas
                        .get(&rel.value(i))
                        .and_then(|s| s.field_with_name(name.value(i)).ok())
                };
                let defaults: datafusion::arrow::array::BooleanArray = (0..batch.num_rows())
                    .map(|i| {
                        Some(field(i).is_some_and(|f| {
                            f.metadata().contains_key(tarn_catalog::types::DEFAULT_KEY)
                        }))
                    })
                    .collect();
                let (types, typmods): (Vec<Option<i32>>, Vec<Option<i32>>) = (0..batch.num_rows())
                    .map(|i| {
                        let field = field(i);
                        let declared = field.and_then(tarn_catalog::types::DeclaredType::of);
                        let numeric = field.and_then(|f| match f.data_type() {
                            DataType::Decimal32(p, s)
                            | DataType::Decimal64(p, s)
                            | DataType::Decimal128(p, s)
                            | DataType::Decimal256(p, s) => {
                                Some(((i32::from(*p) << 16) | i32::from(*s)) + 4)
                            }
                            _ => None,
                        });
                        use tarn_catalog::types::DeclaredType as D;
                        let length = |n: u32| i32::try_from(n).map_or(-1, |n| n.saturating_add(4));
                        match declared {
                            Some(D::Varchar(n)) => (Some(1043), Some(length(n))),
                            Some(D::Char(n)) => (Some(1042), Some(length(n))),
                            Some(D::Varying) => (Some(1043), Some(-1)),
                            Some(D::Json) => (Some(114), Some(-1)),
                            Some(D::Jsonb) => (Some(3802), Some(-1)),
                            Some(D::Uuid) => (Some(2950), Some(-1)),
                            None => (Some(typ.value(i)), Some(numeric.unwrap_or(typmod.value(i)))),
                        }
                    })
                    .unzip();
                let mut columns = batch.columns().to_vec();
                columns[batch.schema().index_of("atttypid")?] = Arc::new(Int32Array::from(types));
                columns[batch.schema().index_of("atttypmod")?] =
                    Arc::new(Int32Array::from(typmods));
                if let Ok(at) = batch.schema().index_of("atthasdef") {
                    columns[at] = Arc::new(defaults);
                }
                converted.push(RecordBatch::try_new(batch.schema(), columns)?);
            }
        }
        // attrelid in the stable OIDs pg_class shows.
        let unknown = converted.iter().any(|b| {
            int_column(b, "attrelid")
                .is_some_and(|rel| rel.iter().flatten().any(|o| self.oids.get(o).is_none()))
        });
        if unknown {
            self.oids.refresh(&self.catalog, state).await?;
        }
        let converted = converted
            .into_iter()
            .map(|b| self.oids.map_column(b, "attrelid"))
            .collect::<DFResult<Vec<_>>>()?;
        Ok(converted)
    }
}

/// `pg_regclass_name(oid)`: a relation's OID as `regclass` prints it, its name,
/// qualified by its schema unless that is the session's default schema or pg_catalog
/// (PostgreSQL: unless the relation is visible on the search path), each part quoted
/// as `quote_ident` quotes it; an OID that names no relation of `lake` (the catalog
/// with pg_catalog) prints as the number, as PostgreSQL prints an unknown OID. The
/// names are the catalog's at the call: relation OIDs are hashes of schema and name
/// ([`relation_oid`]).
pub(crate) fn regclass_name_udf(lake: Arc<dyn datafusion::catalog::CatalogProvider>) -> ScalarUDF {
    ScalarUDF::new_from_impl(RegclassName {
        lake,
        signature: datafusion::logical_expr::Signature::exact(
            vec![DataType::Int32],
            Volatility::Stable,
        ),
    })
}

#[derive(Debug)]
struct RegclassName {
    lake: Arc<dyn datafusion::catalog::CatalogProvider>,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for RegclassName {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.lake, &other.lake)
    }
}

impl Eq for RegclassName {}

impl std::hash::Hash for RegclassName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "pg_regclass_name".hash(state);
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for RegclassName {
    fn name(&self) -> &str {
        "pg_regclass_name"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<ColumnarValue> {
        use datafusion::arrow::array::{AsArray, Int32Array};
        use datafusion::arrow::datatypes::Int32Type;
        let default_schema = &args.config_options.catalog.default_schema;
        let mut names = std::collections::HashMap::new();
        for schema in self.lake.schema_names() {
            let Some(provider) = self.lake.schema(&schema) else {
                continue;
            };
            for table in provider.table_names() {
                // The session's temporary schema is searched first, as pg_catalog is.
                let name = if &schema == default_schema
                    || schema == "pg_catalog"
                    || schema.starts_with(crate::session::TEMP_SCHEMA_PREFIX)
                {
                    super::format::quote_ident(&table)
                } else {
                    format!(
                        "{}.{}",
                        super::format::quote_ident(&schema),
                        super::format::quote_ident(&table)
                    )
                };
                names.insert(relation_oid(&schema, &table), name);
            }
        }
        let oids: Int32Array = match &args.args[0] {
            ColumnarValue::Array(a) => a.as_primitive::<Int32Type>().clone(),
            ColumnarValue::Scalar(s) => s.to_array()?.as_primitive::<Int32Type>().clone(),
        };
        let text: StringArray = oids
            .iter()
            .map(|oid| oid.map(|o| names.get(&o).cloned().unwrap_or_else(|| o.to_string())))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(text)))
    }
}

/// `pg_regclass_oid(name)`: a relation's name as text cast to `regclass`, for names
/// computed in the query (Metabase's `format('%I.%I', schema, table)::regclass`):
/// its OID ([`relation_oid`]), found as PostgreSQL finds it: a qualified name in its
/// schema, an unqualified one in pg_catalog, then the session's default schema;
/// double-quoted parts keep their case, others are folded to lower case; digits are
/// the OID itself. An unknown name is 42P01, as in PostgreSQL. (Literals, `'t'::regclass`, are looked up by the
/// pg_catalog crate's rule before planning.)
pub(crate) fn regclass_oid_udf(lake: Arc<dyn datafusion::catalog::CatalogProvider>) -> ScalarUDF {
    ScalarUDF::new_from_impl(RegclassOid {
        lake,
        signature: datafusion::logical_expr::Signature::exact(
            vec![DataType::Utf8],
            Volatility::Stable,
        ),
    })
}

#[derive(Debug)]
struct RegclassOid {
    lake: Arc<dyn datafusion::catalog::CatalogProvider>,
    signature: datafusion::logical_expr::Signature,
}

impl PartialEq for RegclassOid {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.lake, &other.lake)
    }
}

impl Eq for RegclassOid {}

impl std::hash::Hash for RegclassOid {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        "pg_regclass_oid".hash(state);
    }
}

/// The parts of a possibly qualified, possibly quoted name (`"My Schema".t`).
pub(crate) fn name_parts(text: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        let mut part = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        part.push('"');
                    }
                    '"' => break,
                    c => part.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == '.' {
                    break;
                }
                part.push(c.to_ascii_lowercase());
                chars.next();
            }
            if part.is_empty() {
                return None;
            }
        }
        parts.push(part);
        match chars.next() {
            None => return Some(parts),
            Some('.') => continue,
            Some(_) => return None,
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for RegclassOid {
    fn name(&self) -> &str {
        "pg_regclass_oid"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> DFResult<ColumnarValue> {
        use datafusion::arrow::array::{AsArray, Int32Array};
        let default_schema = args.config_options.catalog.default_schema.clone();
        let names = args.args[0].to_array(args.number_rows)?;
        let names = names.as_string::<i32>();
        let find = |schema: &str, table: &str| {
            self.lake
                .schema(schema)
                .filter(|s| s.table_exist(table))
                .map(|_| relation_oid(schema, table))
        };
        let oids = names
            .iter()
            .map(|name| {
                let Some(text) = name else {
                    return Ok(None);
                };
                // A number is an OID already (`'16386'::regclass`; an OID computed by
                // a function and cast).
                if let Ok(oid) = text.trim().parse::<u32>() {
                    return Ok(Some(oid as i32));
                }
                let parts = name_parts(text).unwrap_or_default();
                let oid = match parts.as_slice() {
                    [table] => find("pg_catalog", table).or_else(|| find(&default_schema, table)),
                    [schema, table] => find(schema, table),
                    [_catalog, schema, table] => find(schema, table),
                    _ => None,
                };
                match oid {
                    Some(oid) => Ok(Some(oid)),
                    None => datafusion::common::plan_err!("table '{text}' not found"),
                }
            })
            .collect::<DFResult<Int32Array>>()?;
        Ok(ColumnarValue::Array(Arc::new(oids)))
    }
}
