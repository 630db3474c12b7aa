//! Decoded columns of small Parquet files, kept in memory between queries.
//!
//! A lookup joining two small tables spends most of its time opening and decoding
//! their files again: on bench/short.sh (TPC-H nation joined with region by key, 4
//! clients) the Parquet scans were 43% of the server's CPU, their planning per file
//! (row-group pruning, projection, schema adaptation) a third of that, the reads a
//! sixth. Delta's data files never change once written, so what a scan decoded from
//! one stays true for every version that holds the file. This is PostgreSQL's buffer
//! pool for the tables dashboards and lookups read again and again: columns of files
//! of at most a megabyte (see `plain`), by file and column, least recently used first
//! out when the budget (`[warehouse] small_file_cache`) is full.

use std::sync::{Arc, Mutex};

use datafusion::arrow::array::{Array, ArrayRef, new_null_array};
use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::cache::lru_queue::LruQueue;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

/// The cache, shared by the sessions of an engine through their DataFusion
/// configuration (`SessionConfig::with_extension`); scans without it read files.
pub struct DecodedFiles {
    budget: usize,
    kept: Mutex<Kept>,
    /// Files read and decoded, for all that they were asked for.
    reads: std::sync::atomic::AtomicU64,
}

struct Kept {
    columns: LruQueue<Key, ArrayRef>,
    bytes: usize,
}

/// A column of a file, as the table's schema types it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The file's object-store URL and path, unique to the table's location.
    file: Arc<str>,
    column: String,
    data_type: DataType,
}

impl DecodedFiles {
    /// A cache holding at most `budget` bytes of decoded columns.
    pub fn new(budget: usize) -> Self {
        Self {
            budget,
            kept: Mutex::new(Kept {
                columns: LruQueue::new(),
                bytes: 0,
            }),
            reads: Default::default(),
        }
    }

    /// Bytes of decoded columns held now.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// How many times a file was read and decoded (a column asked for was not held).
    pub fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The columns `fields` (of the table's schema, by name) of the Parquet file at
    /// `path` in `store`, `file` naming it uniquely; columns not held are read and
    /// decoded, in one read of the file, and kept if they fit. A column the file does
    /// not have (added to the table after the file was written) is null.
    pub(crate) async fn columns(
        &self,
        store: &Arc<dyn ObjectStore>,
        file: &Arc<str>,
        path: &Path,
        fields: &[FieldRef],
    ) -> Result<Vec<ArrayRef>> {
        let key = |field: &FieldRef| Key {
            file: Arc::clone(file),
            column: field.name().clone(),
            data_type: field.data_type().clone(),
        };
        let mut found: Vec<Option<ArrayRef>> = {
            let mut kept = self.lock();
            fields
                .iter()
                .map(|f| kept.columns.get(&key(f)).cloned())
                .collect()
        };
        let missing: Vec<usize> = (0..fields.len()).filter(|&i| found[i].is_none()).collect();
        if !missing.is_empty() {
            let wanted: Vec<&FieldRef> = missing.iter().map(|&i| &fields[i]).collect();
            let decoded = decode(store, path, &wanted).await?;
            self.reads
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut kept = self.lock();
            for (&i, array) in missing.iter().zip(decoded) {
                kept.put(key(&fields[i]), Arc::clone(&array), self.budget);
                found[i] = Some(array);
            }
        }
        Ok(found.into_iter().flatten().collect())
    }
}

impl std::fmt::Debug for DecodedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.lock();
        f.debug_struct("DecodedFiles")
            .field("budget", &self.budget)
            .field("columns", &kept.columns.len())
            .field("bytes", &kept.bytes)
            .finish()
    }
}

impl Kept {
    fn put(&mut self, key: Key, array: ArrayRef, budget: usize) {
        let size = array.get_array_memory_size();
        if size > budget / 4 {
            // One column taking a quarter of the cache would push out most of it.
            return;
        }
        if let Some(old) = self.columns.put(key, array) {
            self.bytes -= old.get_array_memory_size();
        }
        self.bytes += size;
        while self.bytes > budget {
            match self.columns.pop() {
                Some((_, old)) => self.bytes -= old.get_array_memory_size(),
                None => break,
            }
        }
    }
}

/// Reads the file at `path` and decodes `fields` from it, each cast to its type.
async fn decode(
    store: &Arc<dyn ObjectStore>,
    path: &Path,
    fields: &[&FieldRef],
) -> Result<Vec<ArrayRef>> {
    let bytes = store
        .get(path)
        .await
        .map_err(|e| DataFusionError::ObjectStore(Box::new(e)))?
        .bytes()
        .await
        .map_err(|e| DataFusionError::ObjectStore(Box::new(e)))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    let rows = usize::try_from(builder.metadata().file_metadata().num_rows())
        .map_err(|_| DataFusionError::Internal(format!("{path}: negative row count")))?;
    let file_schema = Arc::clone(builder.schema());
    let roots: Vec<usize> = fields
        .iter()
        .filter_map(|f| file_schema.index_of(f.name()).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let batches = builder
        .with_projection(mask)
        .with_batch_size(rows.max(1))
        .build()?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let decoded_rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if decoded_rows != rows {
        return Err(DataFusionError::Internal(format!(
            "{path}: decoded {decoded_rows} rows of {rows}"
        )));
    }
    fields
        .iter()
        .map(|field| {
            let Ok(index) = batches
                .first()
                .map_or(file_schema.index_of(field.name()), |b| {
                    b.schema().index_of(field.name())
                })
            else {
                return Ok(new_null_array(field.data_type(), rows));
            };
            let array = match batches.as_slice() {
                [] => new_null_array(field.data_type(), 0),
                [one] => Arc::clone(one.column(index)),
                _ => {
                    let parts: Vec<&dyn Array> =
                        batches.iter().map(|b| b.column(index).as_ref()).collect();
                    datafusion::arrow::compute::concat(&parts)?
                }
            };
            if array.data_type() == field.data_type() {
                Ok(array)
            } else {
                Ok(datafusion::arrow::compute::cast(&array, field.data_type())?)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;

    fn column(rows: i64) -> ArrayRef {
        Arc::new(Int64Array::from_iter_values(0..rows))
    }

    fn key(file: &str) -> Key {
        Key {
            file: file.into(),
            column: "k".to_owned(),
            data_type: DataType::Int64,
        }
    }

    /// The cache holds at most its budget, pushing out the least recently used
    /// column first, and never takes a column of more than a quarter of it.
    #[test]
    fn keeps_to_its_budget_least_recently_used_out_first() {
        let size = column(1000).get_array_memory_size();
        let cache = DecodedFiles::new(size * 4);
        let mut kept = cache.lock();
        for file in ["a", "b", "c", "d"] {
            kept.put(key(file), column(1000), cache.budget);
        }
        assert_eq!(kept.bytes, size * 4);
        assert!(kept.columns.get(&key("a")).is_some(), "a used again");
        kept.put(key("e"), column(1000), cache.budget);
        assert_eq!(kept.bytes, size * 4);
        assert!(kept.columns.get(&key("b")).is_none(), "b out first");
        for file in ["a", "c", "d", "e"] {
            assert!(kept.columns.get(&key(file)).is_some(), "{file} kept");
        }
        kept.put(key("big"), column(2000), cache.budget);
        assert!(kept.columns.get(&key("big")).is_none(), "over a quarter");
        assert_eq!(kept.bytes, size * 4);
        kept.put(key("a"), column(10), cache.budget);
        assert_eq!(
            kept.bytes,
            size * 3 + column(10).get_array_memory_size(),
            "a column put again replaces its old size"
        );
    }
}
