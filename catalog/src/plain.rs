//! Scans of plain Delta tables as DataFusion's own Parquet scans, without a replay of
//! the log per query.
//!
//! deltalake 1.1's scan replays the snapshot's files through delta-kernel on a blocking
//! thread at every `scan`, and wraps the Parquet scan in an exec that evaluates the
//! kernel's per-file transforms on every batch. For a short query over small tables
//! that is a quarter of the server's CPU (profile of bench/short.sh: `DeltaScan::scan`
//! 14.6%, `DeltaScanStream` 10.2%). A table that needs none of it, a *plain* table,
//! is read here from the files of the snapshot Tarn already holds in memory: reader
//! protocol 1 (so no deletion vectors, column mapping or other reader features) and
//! no partition columns (whose values live in the log, not the files). Every other
//! table keeps deltalake's scan.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::{Column, ColumnStatistics, DFSchema, ScalarValue, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_optimizer::pruning::{PruningPredicateBuilder, PruningStatistics};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::Expr;
use deltalake::DeltaTable;
use deltalake::logstore::LogStore;
use tracing::debug;

use crate::decoded::DecodedFiles;

/// Files up to this size (bytes) are read without their page index and bloom filters:
/// arrow-rs writes data pages of up to 1 MiB, so such a file holds about one page per
/// column, and a page index or a bloom filter is one more read from the store to skip
/// at best that one page. On bench/short.sh (a lookup joining TPC-H's nation and
/// region, 4 clients) the two reads and their pruning were 15% of the server's CPU.
const SMALL_FILE: i64 = 1 << 20;

/// Scans of small files reading at most this many bytes of them take their columns
/// from the engine's [`DecodedFiles`] (the files' total size on the store, before
/// decoding): larger ones stream from the files, and would push the small tables out.
const DECODED_SCAN: u64 = 4 << 20;

/// What a scan of a plain table needs: its files, where they are, and the table.
#[derive(Debug, Clone)]
pub(crate) struct PlainTable {
    table: DeltaTable,
    store_url: ObjectStoreUrl,
    /// Per column of the table, its statistics in every file, read from the log at the
    /// first scan that reads the column: the provider is kept for the table's version
    /// and shared by the queries that read it, and the kernel's evaluation of the
    /// log's statistics was a twentieth of a short query's CPU.
    columns: Arc<[OnceLock<Arc<ColumnStats>>]>,
}

impl PlainTable {
    /// The table as a plain table, or `None` if it needs deltalake's scan.
    pub(crate) fn of(table: &DeltaTable) -> Option<Self> {
        let state = table.snapshot().ok()?;
        // The kernel's accessors for these are crate-private; the actions serialize as
        // the log spells them.
        let protocol = serde_json::to_value(state.protocol()).ok()?;
        let metadata = serde_json::to_value(state.metadata()).ok()?;
        let reader = protocol.get("minReaderVersion")?.as_i64()?;
        let partitioned = metadata
            .get("partitionColumns")?
            .as_array()
            .is_none_or(|p| !p.is_empty());
        if reader != 1 || partitioned {
            return None;
        }
        // Paths relative to the table root (not a shallow clone's absolute URLs).
        if state.log_data().iter().any(|f| f.path().contains("://")) {
            return None;
        }
        let columns = state.schema().fields().count();
        Some(Self {
            store_url: table.log_store().object_store_url(),
            table: table.clone(),
            columns: (0..columns).map(|_| OnceLock::new()).collect(),
        })
    }

    /// A Parquet scan of the table's files with `schema` (the provider's), reading
    /// `projection`, pruning files and row groups with `filters` (which DataFusion also
    /// applies above the scan: they are pushed down inexactly), and carrying the
    /// minimum, maximum and null count of each column read, from the log, for planning.
    pub(crate) async fn scan(
        &self,
        session: &dyn Session,
        schema: SchemaRef,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let runtime = session.runtime_env();
        if runtime.object_store(&self.store_url).is_err() {
            runtime.register_object_store(
                self.store_url.as_ref(),
                self.table.log_store().object_store(None),
            );
        }
        let state = self.table.snapshot()?;
        let log = state.log_data();
        let read: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..schema.fields().len()).collect(),
        };
        // Per column of the table, one value per file, for the columns read.
        let mut columns: Vec<Option<Arc<ColumnStats>>> = vec![None; schema.fields().len()];
        for &i in &read {
            let field = schema.field(i);
            let known = self.columns.get(i).filter(|_| {
                // The provider's schema is the snapshot's, column for column.
                self.columns.len() == schema.fields().len()
            });
            let stats = match known {
                Some(cell) => {
                    Arc::clone(cell.get_or_init(|| Arc::new(ColumnStats::read(&log, field))))
                }
                None => Arc::new(ColumnStats::read(&log, field)),
            };
            columns[i] = Some(stats);
        }
        let mut files: Vec<PartitionedFile> = log
            .iter()
            .enumerate()
            .map(|(n, file)| {
                let statistics = Statistics {
                    num_rows: file
                        .num_records()
                        .map_or(Precision::Absent, Precision::Exact),
                    total_byte_size: Precision::Absent,
                    column_statistics: columns
                        .iter()
                        .map(|c| {
                            c.as_ref()
                                .map_or_else(ColumnStatistics::new_unknown, |c| c.of(n))
                        })
                        .collect(),
                };
                // From the object store's own path: `PartitionedFile::new` would encode a
                // path again (a file named `a%b` is `a%25b` in the log and in the Path).
                PartitionedFile::new_from_meta(object_store::ObjectMeta {
                    location: file.object_store_path(),
                    size: file.size().max(0) as u64,
                    last_modified: chrono::DateTime::UNIX_EPOCH,
                    e_tag: None,
                    version: None,
                })
                .with_statistics(Arc::new(statistics))
            })
            .collect();
        let statistics = Statistics::try_merge_iter(
            files.iter().filter_map(|f| f.statistics.as_deref()),
            &schema,
        )
        .unwrap_or_else(|_| Statistics::new_unknown(&schema));

        // Pruning is an optimization: a filter it cannot plan is still applied above.
        let df_schema = DFSchema::try_from(Arc::clone(&schema))?;
        let predicate = conjunction(filters.iter().cloned())
            .and_then(|p| session.create_physical_expr(p, &df_schema).ok());

        let mut parquet = session.config_options().execution.parquet.clone();
        if log.iter().all(|f| f.size() <= SMALL_FILE) {
            // Nothing a page index or bloom filter could skip in files this small costs
            // more than reading them, each of which is another request to the store.
            parquet.enable_page_index = false;
            parquet.bloom_filter_on_read = false;
            // Their files are pruned here, once for the plan (a kept physical plan
            // then holds only the files it reads), by the log's exact bounds, and
            // carry no statistics of their own: from those, the Parquet opener built
            // a pruning predicate at each file's open (6% of a short query's CPU on
            // bench/short.sh). The Parquet footers' statistics still prune row groups.
            if let Some(predicate) = &predicate {
                let bounds = FileBounds {
                    columns: &columns,
                    schema: &schema,
                    rows: log
                        .iter()
                        .map(|f| f.num_records().map(|n| n as u64))
                        .collect(),
                };
                if let Ok(keep) = PruningPredicateBuilder::new()
                    .with_file_schema(Arc::clone(&schema))
                    .try_build(Arc::clone(predicate))
                    .and_then(|p| p.prune(&bounds))
                {
                    let mut keep = keep.into_iter();
                    files.retain(|_| keep.next().unwrap_or(true));
                }
            }
            for file in &mut files {
                file.statistics = None;
            }
            let bytes: u64 = files.iter().map(|f| f.object_meta.size).sum();
            if let Some(decoded) = session.config().get_extension::<DecodedFiles>()
                && bytes <= DECODED_SCAN
                && !read.is_empty()
            {
                // A file the cache cannot take (a type it cannot cast) is read as
                // Parquet, as any other, with the error in the debug log.
                match self
                    .decoded_scan(session, &decoded, &files, &schema, &read, limit)
                    .await
                {
                    Ok(plan) => return Ok(plan),
                    Err(e) => debug!(error = %e, "small files read as Parquet"),
                }
            }
        }
        let mut source = ParquetSource::new(Arc::clone(&schema))
            .with_table_parquet_options(datafusion::config::TableParquetOptions {
                global: parquet,
                ..Default::default()
            })
            .with_parquet_file_reader_factory(Arc::new(
                datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory::new(
                    runtime.object_store(&self.store_url)?,
                    runtime.cache_manager.get_file_metadata_cache(),
                ),
            ));
        if let Some(predicate) = predicate {
            source = source.with_predicate(predicate);
        }
        let config = FileScanConfigBuilder::new(self.store_url.clone(), Arc::new(source))
            .with_file_group(FileGroup::new(files))
            .with_statistics(statistics)
            .with_projection_indices(Some(read))?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

impl PlainTable {
    /// A scan of `files` (small ones) in memory, from `decoded`: the columns `read`
    /// of `schema`, in one partition, in batches of the session's size.
    async fn decoded_scan(
        &self,
        session: &dyn Session,
        decoded: &DecodedFiles,
        files: &[PartitionedFile],
        schema: &SchemaRef,
        read: &[usize],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
        let store = session.runtime_env().object_store(&self.store_url)?;
        let projected = Arc::new(schema.project(read)?);
        let fields = projected.fields().to_vec();
        let size = session.config().batch_size().max(1);
        let mut batches = Vec::new();
        for file in files {
            let name: Arc<str> =
                format!("{}{}", self.store_url.as_str(), file.object_meta.location).into();
            let columns = decoded
                .columns(&store, &name, &file.object_meta.location, &fields)
                .await?;
            let batch = RecordBatch::try_new(Arc::clone(&projected), columns)?;
            let mut offset = 0;
            while offset < batch.num_rows() {
                let length = size.min(batch.num_rows() - offset);
                batches.push(batch.slice(offset, length));
                offset += length;
            }
        }
        let source = MemorySourceConfig::try_new(&[batches], projected, None)?.with_limit(limit);
        Ok(DataSourceExec::from_data_source(source))
    }
}

/// Types whose minimum and maximum in the log are the file's own: integers and dates.
/// DataFusion prunes files only with exact statistics, and answers `min`/`max` from
/// them. Not strings, whose statistics writers cut to a prefix (`max(v)` would come out
/// short, and a filter would skip a file holding longer values), nor timestamps, which
/// Delta keeps to the millisecond (a maximum of `.123` for a row at `.123456`), nor
/// decimals, which it writes as JSON floating-point numbers, nor floating-point
/// columns, whose statistics leave out NaN. Those are estimates for the planner only,
/// and their files are pruned by the Parquet footers' own statistics.
fn has_exact_bounds(data_type: &DataType) -> bool {
    use DataType as T;
    matches!(
        data_type,
        T::Int8
            | T::Int16
            | T::Int32
            | T::Int64
            | T::UInt8
            | T::UInt16
            | T::UInt32
            | T::UInt64
            | T::Date32
            | T::Date64
    )
}

/// The log's statistics of a scan's files as DataFusion's pruning reads them: only
/// bounds that are the values themselves (see [`has_exact_bounds`]), null counts and
/// row counts.
struct FileBounds<'a> {
    /// Per column of the table, its statistics, for the columns the scan reads.
    columns: &'a [Option<Arc<ColumnStats>>],
    schema: &'a SchemaRef,
    rows: Vec<Option<u64>>,
}

impl FileBounds<'_> {
    fn column(&self, column: &Column) -> Option<&ColumnStats> {
        let index = self.schema.index_of(&column.name).ok()?;
        self.columns.get(index)?.as_deref()
    }
}

impl PruningStatistics for FileBounds<'_> {
    fn min_values(&self, column: &Column) -> Option<ArrayRef> {
        self.column(column).filter(|c| c.exact)?.min.clone()
    }

    fn max_values(&self, column: &Column) -> Option<ArrayRef> {
        self.column(column).filter(|c| c.exact)?.max.clone()
    }

    fn num_containers(&self) -> usize {
        self.rows.len()
    }

    fn null_counts(&self, column: &Column) -> Option<ArrayRef> {
        self.column(column)?.nulls.clone()
    }

    fn row_counts(&self) -> Option<ArrayRef> {
        Some(Arc::new(datafusion::arrow::array::UInt64Array::from(
            self.rows.clone(),
        )))
    }

    fn contained(
        &self,
        _column: &Column,
        _values: &std::collections::HashSet<ScalarValue>,
    ) -> Option<datafusion::arrow::array::BooleanArray> {
        None
    }
}

/// One column's statistics in every file, as the log has them.
#[derive(Debug, Clone)]
struct ColumnStats {
    min: Option<ArrayRef>,
    max: Option<ArrayRef>,
    nulls: Option<ArrayRef>,
    /// Whether `min` and `max` are the values themselves, or only estimates.
    exact: bool,
}

impl ColumnStats {
    /// The column `field`'s statistics in every file of `log`, of the field's type.
    fn read(
        log: &deltalake::kernel::LogDataHandler<'_>,
        field: &datafusion::arrow::datatypes::Field,
    ) -> Self {
        let column = Column::new_unqualified(field.name());
        // One value per file, of the type the scan reads, or none at all.
        let per_file = |a: ArrayRef, to: &DataType| {
            datafusion::arrow::compute::cast(&a, to)
                .ok()
                .filter(|a| a.len() == log.num_containers())
        };
        Self {
            min: log
                .min_values(&column)
                .and_then(|a| per_file(a, field.data_type())),
            max: log
                .max_values(&column)
                .and_then(|a| per_file(a, field.data_type())),
            nulls: log
                .null_counts(&column)
                .and_then(|a| per_file(a, &DataType::UInt64)),
            exact: has_exact_bounds(field.data_type()),
        }
    }

    /// The statistics of file `n`: a value the log does not have is absent.
    fn of(&self, n: usize) -> ColumnStatistics {
        let value = |a: &Option<ArrayRef>| {
            a.as_ref()
                .filter(|a| a.is_valid(n))
                .and_then(|a| ScalarValue::try_from_array(a, n).ok())
        };
        let nulls = match value(&self.nulls) {
            Some(ScalarValue::UInt64(Some(v))) => Precision::Exact(v as usize),
            _ => Precision::Absent,
        };
        let bound = |a: &Option<ArrayRef>| match value(a) {
            Some(v) if self.exact => Precision::Exact(v),
            Some(v) => Precision::Inexact(v),
            None => Precision::Absent,
        };
        ColumnStatistics {
            null_count: nulls,
            max_value: bound(&self.max),
            min_value: bound(&self.min),
            ..ColumnStatistics::new_unknown()
        }
    }
}
