//! The lifecycle of managed Delta tables: create (empty or from a query), open, drop.
//!
//! Every change is a single Delta commit: `CREATE TABLE ... AS SELECT` streams the
//! query into Parquet files and commits them together with the table's metadata, so a
//! failure part-way leaves no table, only unreferenced files.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::common::Statistics;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::logical_expr::{LogicalPlan, Projection, cast, col};
use datafusion::physical_plan::ExecutionPlan;
use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::protocol::SaveMode;
use futures::{StreamExt, TryStreamExt};
use object_store::{ObjectStore, ObjectStoreExt};
use tracing::instrument;
use url::Url;

use crate::error::{CatalogError, Result};
use crate::types::{delta_schema, nullable_delta_schema};

fn delta_err(location: &Url) -> impl FnOnce(deltalake::DeltaTableError) -> CatalogError + '_ {
    move |source| CatalogError::Delta {
        location: tarn_connectors::storage::redact(location),
        source,
    }
}

/// Opens the Delta table at `location`, at its latest version.
pub async fn open(location: &Url, options: &HashMap<String, String>) -> Result<DeltaTable> {
    deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .load()
        .await
        .map_err(delta_err(location))
}

/// Whether the Delta log holds a commit after the version `table` was loaded at: one
/// HEAD of the next commit's file (`_delta_log/<version + 1>.json`), which every
/// writer creates, once, to commit that version. The cheap check before bringing a
/// cached table up to date: deltalake's `update_incremental` lists the log through
/// delta-kernel, whose synchronous engine blocks a runtime thread per call, and
/// rebuilds the snapshot even when nothing changed. Any answer but "not found"
/// counts as a newer commit.
pub async fn has_newer_commit(table: &DeltaTable) -> bool {
    if let Some(file) = next_commit_file(table) {
        return local_file_exists(&file);
    }
    let Some(version) = table.version() else {
        return true;
    };
    let next = object_store::path::Path::from(format!("_delta_log/{:020}.json", version + 1));
    !matches!(
        table.object_store().head(&next).await,
        Err(object_store::Error::NotFound { .. })
    )
}

/// For a local table, the file of the commit after the version `table` was loaded at,
/// which [`local_file_exists`] checks with a stat on the caller's thread (at every
/// statement that reads the table: the object store's hand-off to the blocking pool
/// cost more, and so did making the path each time).
pub fn next_commit_file(table: &DeltaTable) -> Option<std::path::PathBuf> {
    let version = table.version()?;
    let url = table.table_url();
    if url.scheme() != "file" {
        return None;
    }
    let mut file = url.to_file_path().ok()?;
    file.push("_delta_log");
    file.push(format!("{:020}.json", version + 1));
    Some(file)
}

/// Whether `file` exists; any answer but "not found" counts as yes.
pub fn local_file_exists(file: &std::path::Path) -> bool {
    !matches!(std::fs::metadata(file), Err(e) if e.kind() == std::io::ErrorKind::NotFound)
}

/// A point in a table's history.
#[derive(Debug, Clone)]
pub enum At {
    Version(i64),
    /// An RFC 3339 instant (`2024-05-01T00:00:00Z`) or `YYYY-MM-DD HH:MM:SS` (UTC).
    Timestamp(String),
}

/// Opens the Delta table at `location` as it was at `at`.
pub async fn open_at(
    location: &Url,
    options: &HashMap<String, String>,
    at: At,
) -> Result<DeltaTable> {
    let builder = deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone());
    match at {
        At::Version(version) => builder
            .with_version(version as _)
            .load()
            .await
            .map_err(delta_err(location)),
        At::Timestamp(text) => {
            let normalized = if text.contains('T') {
                text.clone()
            } else {
                format!("{}Z", text.replace(' ', "T"))
            };
            let instant = chrono::DateTime::parse_from_rfc3339(&normalized).map_err(|_| {
                CatalogError::NoSuchVersion {
                    name: location.to_string(),
                    at: text.clone(),
                    detail: "expected vN, an RFC 3339 instant, or YYYY-MM-DD HH:MM:SS (UTC)"
                        .to_owned(),
                }
            })?;
            let table = builder
                .with_datestring(normalized)
                .map_err(delta_err(location))?
                .load()
                .await
                .map_err(delta_err(location))?;
            // Delta loads the first version for an instant before the table existed;
            // that would answer with rows (or no rows) the table never had.
            let first: Vec<_> = table
                .history(Some(1))
                .try_collect()
                .await
                .map_err(delta_err(location))?;
            let committed = first.first().and_then(|c| c.timestamp).unwrap_or(i64::MIN);
            if table.version() == Some(0) && instant.timestamp_millis() < committed {
                return Err(CatalogError::NoSuchVersion {
                    name: tarn_connectors::storage::redact(location),
                    at: text,
                    detail: "the table did not exist yet".to_owned(),
                });
            }
            Ok(table)
        }
    }
}

/// The table's commits, newest first, as a small in-memory table: version, timestamp,
/// operation, its parameters (JSON), the version it read, and the writer.
pub async fn history(table: &DeltaTable) -> Result<Arc<dyn TableProvider>> {
    use arrow::array::{Int64Builder, StringBuilder, TimestampMillisecondBuilder};
    use arrow::datatypes::{DataType, Field, Schema, TimeUnit};

    let location = table.table_url().clone();
    let latest = table.version().unwrap_or(0);
    let commits: Vec<_> = table
        .history(None)
        .try_collect()
        .await
        .map_err(delta_err(&location))?;
    let mut version = Int64Builder::new();
    let mut timestamp = TimestampMillisecondBuilder::new().with_timezone("UTC");
    let mut operation = StringBuilder::new();
    let mut parameters = StringBuilder::new();
    let mut read_version = Int64Builder::new();
    let mut engine = StringBuilder::new();
    for (i, commit) in commits.iter().enumerate() {
        version.append_value(latest as i64 - i as i64);
        timestamp.append_option(commit.timestamp);
        operation.append_option(commit.operation.as_deref());
        parameters.append_option(
            commit
                .operation_parameters
                .as_ref()
                .map(|p| serde_json::to_string(p).unwrap_or_default()),
        );
        read_version.append_option(commit.read_version.map(|v| v as i64));
        engine.append_option(commit.engine_info.as_deref());
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("version", DataType::Int64, false),
        Field::new(
            "timestamp",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            true,
        ),
        Field::new("operation", DataType::Utf8, true),
        Field::new("operation_parameters", DataType::Utf8, true),
        Field::new("read_version", DataType::Int64, true),
        Field::new("engine_info", DataType::Utf8, true),
    ]));
    let batch = arrow::record_batch::RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(version.finish()),
            Arc::new(timestamp.finish()),
            Arc::new(operation.finish()),
            Arc::new(parameters.finish()),
            Arc::new(read_version.finish()),
            Arc::new(engine.finish()),
        ],
    )
    .map_err(datafusion::error::DataFusionError::from)?;
    Ok(Arc::new(datafusion::datasource::MemTable::try_new(
        schema,
        vec![vec![batch]],
    )?))
}

/// A DataFusion provider for `table`'s current snapshot; it also accepts INSERTs,
/// each committed as one Delta version.
///
/// Scans follow `settings` (the engine's DataFusion options) as DataFusion's own
/// Parquet scans do: filters prune files and row groups and are evaluated after
/// decoding unless `datafusion.execution.parquet.pushdown_filters` is on. (Without a
/// session deltalake always pushes filters into the Parquet decoder, evaluating
/// them twice; TPC-H q6 took 161 ms that way and 102 ms this way.)
pub async fn provider(
    table: &DeltaTable,
    settings: Arc<datafusion::execution::SessionState>,
) -> Result<Arc<dyn TableProvider>> {
    let pushdown = settings.config_options().execution.parquet.pushdown_filters;
    let inner = table.table_provider().with_session(settings).await?;
    let size = table.snapshot().ok().map(|state| {
        let log = state.log_data();
        DataSize {
            files: log.iter().count(),
            bytes: log.iter().map(|f| f.size().max(0) as u64).sum(),
        }
    });
    Ok(Arc::new(DeltaProvider {
        inner,
        pushdown,
        plain: crate::plain::PlainTable::of(table),
        size,
    }))
}

/// How much a scan of a whole table reads: its data files and their bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataSize {
    pub files: usize,
    pub bytes: u64,
}

/// The size of the Delta table version `provider` reads, if it is one of this
/// crate's Delta providers (see [`provider`]).
pub fn data_size(provider: &dyn TableProvider) -> Option<DataSize> {
    provider
        .downcast_ref::<DeltaProvider>()
        .and_then(|p| p.size)
}

/// deltalake's provider, with column statistics for the columns a scan reads.
///
/// deltalake hands DataFusion the row count of each file but the minimum, maximum
/// and null count only of columns a filter names. Join planning needs them for the
/// join keys: without them DataFusion estimates `supplier JOIN lineitem` at
/// supplier's 10,000 rows instead of lineitem's 1.7 million and builds its hash
/// tables on the large side (TPC-H q7 twice as slow as over the same files read
/// as Parquet). Each column read gets an always-true filter (`c IS NULL OR c IS
/// NOT NULL`) passed to deltalake's scan only: it makes deltalake read that
/// column's statistics from the log, skips no file (unless a file has no rows) and
/// filters no row. Not done when filters are pushed into the Parquet decoder,
/// where they would be evaluated per row.
#[derive(Debug)]
struct DeltaProvider {
    inner: Arc<dyn TableProvider>,
    pushdown: bool,
    /// Set for a plain table, which Tarn scans itself (see [`crate::plain`]).
    plain: Option<crate::plain::PlainTable>,
    size: Option<DataSize>,
}

impl DeltaProvider {
    /// The always-true filters that ask for the statistics of the columns read.
    fn statistics_requests(
        &self,
        projection: Option<&Vec<usize>>,
    ) -> Vec<datafusion::prelude::Expr> {
        if self.pushdown {
            return Vec::new();
        }
        let schema = self.inner.schema();
        let read: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        read.into_iter()
            .filter_map(|i| schema.fields().get(i))
            .filter(|f| has_statistics(f.data_type()))
            .map(|f| {
                let column = datafusion::prelude::Expr::Column(
                    datafusion::common::Column::new_unqualified(f.name()),
                );
                column.clone().is_null().or(column.is_not_null())
            })
            .collect()
    }
}

/// The scan with a size estimate for the columns it reads, not for whole files.
///
/// deltalake gives the Parquet scan under its `DeltaScanExec` each file's size as the
/// byte size of the rows read, whatever the projection: DataFusion can only narrow it
/// by column widths when every column read has a fixed width, and deltalake always
/// adds a dictionary-encoded file id column. Join planning compares byte sizes before
/// row counts, so `customer LEFT JOIN orders ON ... AND o_comment NOT LIKE ...` (TPC-H
/// q13) built its hash table on 1.48 million orders rows, sized as a fifth of the
/// orders file (10.9 MB), rather than on 150,000 customer keys, sized as the whole
/// customer file (13.2 MB): 196 ms joining instead of 35 ms. Here the estimate is
/// what DataFusion gives its own Parquet scans: rows times the widths of the columns
/// read when all have a fixed width, otherwise absent, so that joins compare rows.
fn sized_by_projection(
    plan: Arc<dyn ExecutionPlan>,
) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    plan.transform_down(|node| {
        let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
            return Ok(Transformed::no(node));
        };
        let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
            return Ok(Transformed::no(node));
        };
        let read = config.projected_schema()?;
        let width: Option<usize> = read
            .fields()
            .iter()
            .filter(|f| !f.name().starts_with("__delta_rs_"))
            .map(|f| f.data_type().primitive_width())
            .sum();
        let size = |stats: &Statistics| match width {
            Some(width) => stats
                .num_rows
                .multiply(&Precision::Exact(width))
                .to_inexact(),
            None => Precision::Absent,
        };
        let mut statistics = config.statistics();
        statistics.total_byte_size = size(&statistics);
        let groups = config
            .file_groups
            .iter()
            .cloned()
            .map(|mut group| {
                if let Some(stats) = group.statistics_mut() {
                    stats.total_byte_size = size(stats);
                }
                group
            })
            .collect();
        let sized = FileScanConfigBuilder::from(config.clone())
            .with_statistics(statistics)
            .with_file_groups(groups)
            .build();
        Ok(Transformed::new(
            Arc::new(exec.clone().with_data_source(Arc::new(sized))),
            true,
            TreeNodeRecursion::Jump,
        ))
    })
    .map(|t| t.data)
}

/// Types whose minimum and maximum Delta records and DataFusion uses.
fn has_statistics(data_type: &arrow::datatypes::DataType) -> bool {
    use arrow::datatypes::DataType as T;
    matches!(
        data_type,
        T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::Float32
            | T::Float64
            | T::Decimal128(..)
            | T::Date32
            | T::Timestamp(..)
            | T::Utf8
            | T::LargeUtf8
            | T::Utf8View
    )
}

#[async_trait::async_trait]
impl TableProvider for DeltaProvider {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        self.inner.schema()
    }

    fn table_type(&self) -> datafusion::datasource::TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&datafusion::prelude::Expr],
    ) -> datafusion::error::Result<Vec<datafusion::logical_expr::TableProviderFilterPushDown>> {
        if self.plain.is_some() {
            // Used to prune files and row groups; DataFusion filters the rows.
            return Ok(vec![
                datafusion::logical_expr::TableProviderFilterPushDown::Inexact;
                filters.len()
            ]);
        }
        self.inner.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<datafusion::common::Statistics> {
        self.inner.statistics()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::prelude::Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        if let Some(plain) = &self.plain {
            let plan = plain
                .scan(state, self.inner.schema(), projection, filters, limit)
                .await?;
            return sized_by_projection(plan);
        }
        let mut filters = filters.to_vec();
        filters.extend(self.statistics_requests(projection));
        let plan = self.inner.scan(state, projection, &filters, limit).await?;
        sized_by_projection(plan)
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: datafusion::logical_expr::dml::InsertOp,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        self.inner.insert_into(state, input, insert_op).await
    }
}

/// Creates an empty Delta table with `schema` at `location`.
#[instrument(skip_all, fields(location = %location))]
pub async fn create_empty(
    location: &Url,
    options: &HashMap<String, String>,
    schema: &arrow::datatypes::Schema,
    name: &str,
    partition_by: &[String],
) -> Result<DeltaTable> {
    check_partition_columns(schema, partition_by)?;
    let kernel = kernel_schema(location, schema)?;
    let table = deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .build()
        .map_err(delta_err(location))?;
    table
        .create()
        .with_table_name(name)
        .with_columns(kernel.fields().cloned())
        .with_partition_columns(partition_by.to_vec())
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(delta_err(location))
}

/// `schema` as a Delta (kernel) schema, each column mapped to its Delta type.
pub fn kernel_schema(location: &Url, schema: &arrow::datatypes::Schema) -> Result<StructType> {
    let schema = delta_schema(schema)?;
    schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| delta_err(location)(e.into()))
}

/// Creates a Delta table at `location` holding the rows of `plan`, in one commit.
/// Columns are cast to the types Delta stores (see [`crate::types`]).
#[instrument(skip_all, fields(location = %location))]
pub async fn create_as(
    location: &Url,
    options: &HashMap<String, String>,
    plan: LogicalPlan,
    session: Arc<dyn Session>,
    name: &str,
    partition_by: &[String],
) -> Result<DeltaTable> {
    let plan = coerce_to_delta(plan)?;
    check_partition_columns(plan.schema().as_arrow(), partition_by)?;
    let table = deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .build()
        .map_err(delta_err(location))?;
    table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(session)
        .with_table_name(name)
        .with_partition_columns(partition_by.to_vec())
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(delta_err(location))
}

/// Overwrites `table`'s rows and schema with the rows of `plan` under `columns`, in
/// one commit (see [`crate::Lake::rewrite_table`]).
#[instrument(skip_all, fields(location = %table.table_url()))]
pub async fn rewrite(
    table: DeltaTable,
    plan: LogicalPlan,
    columns: &arrow::datatypes::Schema,
    partition_by: &[String],
    session: Arc<dyn Session>,
) -> Result<DeltaTable> {
    let location = table.table_url().clone();
    check_partition_columns(columns, partition_by)?;
    let plan = coerce_to(plan, delta_schema(columns)?)?;
    table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(session)
        .with_partition_columns(partition_by.to_vec())
        .with_save_mode(SaveMode::Overwrite)
        .with_schema_mode(deltalake::operations::write::SchemaMode::Overwrite)
        .await
        .map_err(delta_err(&location))
}

fn check_partition_columns(
    schema: &arrow::datatypes::Schema,
    partition_by: &[String],
) -> Result<()> {
    for column in partition_by {
        if schema.field_with_name(column).is_err() {
            return Err(CatalogError::PartitionColumn {
                column: column.clone(),
            });
        }
    }
    if !partition_by.is_empty() && partition_by.len() == schema.fields().len() {
        return Err(CatalogError::PartitionColumn {
            column: "(every column; a Delta table needs at least one data column)".to_owned(),
        });
    }
    Ok(())
}

/// Adds a projection casting each column to its Delta type, where they differ, and
/// declaring every column nullable: deltalake creates the table from the plan's schema,
/// and a query's columns that cannot be NULL (a literal, `count(*)`) would otherwise be
/// `NOT NULL` columns of the new table, which PostgreSQL's `CREATE TABLE AS` never makes.
fn coerce_to_delta(plan: LogicalPlan) -> Result<LogicalPlan> {
    let target = nullable_delta_schema(plan.schema().as_arrow())?;
    coerce_to(plan, target)
}

/// `plan` under the schema `target` (the same columns, in order, by name): each
/// column cast to its target type where the types differ, the fields (nullability,
/// metadata) as `target` has them, which is the schema deltalake writes.
fn coerce_to(plan: LogicalPlan, target: arrow::datatypes::SchemaRef) -> Result<LogicalPlan> {
    let source = plan.schema().clone();
    if source.as_arrow().fields() == target.fields() {
        return Ok(plan);
    }
    let exprs = source
        .columns()
        .into_iter()
        .zip(target.fields())
        .map(|(column, field)| {
            let expr = col(column);
            if field.data_type()
                == source
                    .field_with_unqualified_name(field.name())?
                    .data_type()
            {
                Ok(expr.alias(field.name()))
            } else {
                Ok(cast(expr, field.data_type().clone()).alias(field.name()))
            }
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let schema = Arc::new(DFSchema::try_from(target.as_ref().clone())?);
    Ok(LogicalPlan::Projection(Projection::try_new_with_schema(
        exprs,
        Arc::new(plan),
        schema,
    )?))
}

/// Deletes every object under `prefix` (a dropped table's folder).
#[instrument(skip_all, fields(prefix = %prefix))]
pub async fn delete_files(
    store: &Arc<dyn ObjectStore>,
    prefix: &object_store::path::Path,
) -> Result<()> {
    let locations = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .boxed();
    store
        .delete_stream(locations)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use datafusion::scalar::ScalarValue;

    /// A new Delta table at `url` holding the rows of `sql`, written by Tarn's planner
    /// (deltalake's write nodes), as the engine writes tables.
    async fn table_of(url: &Url, sql: &str) -> DeltaTable {
        let ctx = SessionContext::new_with_state(
            datafusion::execution::SessionStateBuilder::new()
                .with_default_features()
                .with_query_planner(crate::query_planner())
                .build(),
        );
        let rows = ctx.sql(sql).await.expect("rows");
        create_as(
            url,
            &HashMap::new(),
            rows.logical_plan().clone(),
            Arc::new(ctx.state()),
            "t",
            &[],
        )
        .await
        .expect("create")
    }

    /// A second handle on a table learns that the table moved on from the next
    /// commit's file alone, which lets the catalog skip replaying an unchanged log.
    #[tokio::test]
    async fn newer_commits_are_seen_by_their_log_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = Url::from_directory_path(dir.path().join("schema").join("t")).expect("url");
        let writer = table_of(&url, "select * from (values (1, 'a')) as t(k, v)").await;
        let mut reader = open(&url, &HashMap::new()).await.expect("open");
        assert!(
            !has_newer_commit(&reader).await,
            "nothing was committed since"
        );

        let schema = writer
            .snapshot()
            .expect("snapshot")
            .snapshot()
            .arrow_schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                ScalarValue::new_default(f.data_type())
                    .and_then(|v| v.to_array_of_size(1))
                    .expect("a default value")
            })
            .collect();
        let batch = arrow::record_batch::RecordBatch::try_new(schema, columns).expect("batch");
        writer.write(vec![batch]).await.expect("append");
        assert!(has_newer_commit(&reader).await, "version 1 was committed");

        reader.update_incremental(None).await.expect("update");
        assert_eq!(reader.version(), Some(1));
        assert!(!has_newer_commit(&reader).await);
    }

    /// A scan through Tarn's provider reports the minimum and maximum of a column it
    /// reads though no filter names it (a join key); deltalake's provider alone
    /// reports only row counts, which is why the wrapper exists.
    #[tokio::test]
    async fn scans_report_statistics_of_the_columns_they_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = Url::from_directory_path(dir.path()).expect("url");
        let table = table_of(
            &url,
            "select * from (values (3, 'c'), (1, 'a'), (5, 'b')) as t(k, v)",
        )
        .await;
        let settings = Arc::new(datafusion::execution::SessionStateBuilder::new().build());
        let key_statistics = |provider: Arc<dyn TableProvider>| {
            let ctx = SessionContext::new();
            async move {
                let plan = provider
                    .scan(&ctx.state(), Some(&vec![0]), &[], None)
                    .await
                    .expect("scan");
                let statistics = datafusion::physical_plan::StatisticsContext::new()
                    .compute(
                        plan.as_ref(),
                        &datafusion::physical_plan::StatisticsArgs::new(),
                    )
                    .expect("statistics");
                assert_eq!(statistics.num_rows.get_value(), Some(&3));
                statistics
                    .column_statistics
                    .first()
                    .map(|c| (c.min_value.clone(), c.max_value.clone()))
            }
        };
        let (min, max) = key_statistics(
            provider(&table, Arc::clone(&settings))
                .await
                .expect("provider"),
        )
        .await
        .expect("column statistics");
        assert_eq!(min.get_value(), Some(&ScalarValue::Int64(Some(1))));
        assert_eq!(max.get_value(), Some(&ScalarValue::Int64(Some(5))));

        let bare = table
            .table_provider()
            .with_session(settings)
            .await
            .expect("deltalake's provider");
        let without = key_statistics(bare).await;
        assert!(
            without
                .as_ref()
                .is_none_or(|(min, max)| *min == Precision::Absent && *max == Precision::Absent),
            "deltalake now reports statistics of unfiltered columns: {without:?}; \
             DeltaProvider's requests can go"
        );
    }

    /// A join builds its hash table on the side with fewer rows, as DataFusion does
    /// over the same data in Parquet, though that side's file is the larger: `few`
    /// holds 200 keys beside a wide unread column, `many` 5,000 keys of which a filter
    /// keeps an estimated fifth. Sized by whole files (deltalake's estimate), the
    /// filtered `many` looked smaller and the join was turned around (TPC-H q13).
    #[tokio::test]
    async fn joins_build_on_fewer_rows_not_on_the_smaller_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let few = table_of(
            &Url::from_directory_path(dir.path().join("few")).expect("url"),
            "select k, concat(md5(k || 'a'), md5(k || 'b'), md5(k || 'c'), md5(k || 'd'), \
             md5(k || 'e'), md5(k || 'f'), md5(k || 'g'), md5(k || 'h')) as wide \
             from generate_series(1, 200) as t(k)",
        )
        .await;
        let many = table_of(
            &Url::from_directory_path(dir.path().join("many")).expect("url"),
            "select k % 200 as k, 'x' as s from generate_series(1, 5000) as t(k)",
        )
        .await;
        let size = |t: &DeltaTable| {
            t.snapshot()
                .expect("snapshot")
                .log_data()
                .iter()
                .map(|f| f.size())
                .sum::<i64>()
        };
        assert!(
            size(&few) > size(&many) / 5,
            "the test needs few's file larger than a fifth of many's: {} and {}",
            size(&few),
            size(&many)
        );

        let ctx = SessionContext::new();
        let settings = Arc::new(ctx.state());
        for (name, table) in [("few", &few), ("many", &many)] {
            ctx.register_table(
                name,
                provider(table, Arc::clone(&settings))
                    .await
                    .expect("provider"),
            )
            .expect("register");
        }
        let plan = ctx
            .sql("select few.k, many.s from few left join many on few.k = many.k and many.s not like '%y%'")
            .await
            .expect("plan")
            .create_physical_plan()
            .await
            .expect("physical plan");
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(false)
            .to_string();
        assert!(
            text.contains("join_type=Left,"),
            "the join should build on few (a left join kept as left):\n{text}"
        );
    }

    /// A plain table (reader protocol 1, no partition columns) is read by Tarn's own
    /// Parquet scan, with the same rows; the log's statistics prune files where they
    /// are exact (integers) and not where they are cut or rounded (a string's maximum
    /// must not answer `max(v)`, a timestamp's must not skip a matching row). A
    /// partitioned table keeps deltalake's scan.
    #[tokio::test]
    async fn plain_tables_are_scanned_without_a_log_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let long = "z".repeat(40);
        let plain = table_of(
            &Url::from_directory_path(dir.path().join("plain")).expect("url"),
            &format!("select * from (values (3, 'c'), (1, '{long}'), (5, 'b')) as t(k, v)"),
        )
        .await;
        let ctx = SessionContext::new();
        let settings = Arc::new(ctx.state());
        ctx.register_table(
            "plain",
            provider(&plain, Arc::clone(&settings))
                .await
                .expect("provider"),
        )
        .expect("register");
        let plan_text = |sql: &'static str| {
            let ctx = ctx.clone();
            async move {
                let plan = ctx
                    .sql(sql)
                    .await
                    .expect("plan")
                    .create_physical_plan()
                    .await
                    .expect("physical plan");
                datafusion::physical_plan::displayable(plan.as_ref())
                    .indent(false)
                    .to_string()
            }
        };
        let text = plan_text("select k, v from plain where k > 2").await;
        assert!(
            text.contains("DataSourceExec") && !text.contains("DeltaScanExec"),
            "{text}"
        );
        let rows = ctx
            .sql("select max(v) as m, count(*) as n, sum(k) as s from plain where k > 0")
            .await
            .expect("query")
            .collect()
            .await
            .expect("rows");
        let shown = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
            .expect("format")
            .to_string();
        assert!(shown.contains(&format!("| {long} | 3 | 9 |")), "{shown}");
        let filtered = ctx
            .sql("select v from plain where k = 5")
            .await
            .expect("query")
            .collect()
            .await
            .expect("rows");
        assert_eq!(filtered.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
        // An integer's statistics are exact: a filter beyond them skips the file
        // when the scan is planned (a small file), so it is never opened.
        let analyzed = ctx
            .sql("explain analyze select v from plain where k > 7")
            .await
            .expect("query")
            .collect()
            .await
            .expect("rows");
        let analyzed = datafusion::arrow::util::pretty::pretty_format_batches(&analyzed)
            .expect("format")
            .to_string();
        assert!(
            analyzed.contains("file_groups={1 group: [[]]}") && analyzed.contains("files_opened=0"),
            "{analyzed}"
        );

        // Delta keeps a timestamp's statistics to the millisecond: the file's maximum
        // reads .123 for a row at .123456, so as an exact bound it would skip the file.
        let stamped = table_of(
            &Url::from_directory_path(dir.path().join("stamped")).expect("url"),
            "select arrow_cast('2024-01-01T00:00:00.123456', 'Timestamp(Microsecond, Some(\"UTC\"))') as ts",
        )
        .await;
        ctx.register_table(
            "stamped",
            provider(&stamped, Arc::clone(&settings))
                .await
                .expect("provider"),
        )
        .expect("register");
        let late = ctx
            .sql(
                "select ts from stamped where ts > \
                 arrow_cast('2024-01-01T00:00:00.1232', 'Timestamp(Microsecond, Some(\"UTC\"))')",
            )
            .await
            .expect("query")
            .collect()
            .await
            .expect("rows");
        assert_eq!(late.iter().map(|b| b.num_rows()).sum::<usize>(), 1);

        let url = Url::from_directory_path(dir.path().join("parted")).expect("url");
        let schema = arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("k", arrow::datatypes::DataType::Int64, true),
            arrow::datatypes::Field::new("p", arrow::datatypes::DataType::Utf8, true),
        ]);
        let parted = create_empty(&url, &HashMap::new(), &schema, "parted", &["p".to_owned()])
            .await
            .expect("partitioned table");
        let batch = arrow::record_batch::RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(arrow::array::Int64Array::from(vec![1, 2])),
                Arc::new(arrow::array::StringArray::from(vec!["x", "y"])),
            ],
        )
        .expect("batch");
        let parted = parted.write(vec![batch]).await.expect("append");
        ctx.register_table(
            "parted",
            provider(&parted, Arc::clone(&settings))
                .await
                .expect("provider"),
        )
        .expect("register");
        let text = plan_text("select k from parted").await;
        assert!(text.contains("DeltaScanExec"), "{text}");
    }
}
