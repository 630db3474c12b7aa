//! SQL cursors: `DECLARE name [NO SCROLL] CURSOR [WITH HOLD | WITHOUT HOLD] FOR query`,
//! `FETCH [FORWARD] n | NEXT | ALL | FORWARD ALL FROM name`, `CLOSE name | ALL`.
//!
//! A cursor keeps its query's record-batch stream open; each FETCH pulls the next rows
//! from it, so a client that fetches 1,000 rows of a huge result costs 1,000 rows.
//! Cursors scan forward only (PostgreSQL's `NO SCROLL`). A cursor without `WITH HOLD`
//! is closed when its transaction block ends, as in PostgreSQL; one with `WITH HOLD`
//! lives until `CLOSE` or the end of the session.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::sql::sqlparser::ast::{FetchDirection, Value};
use futures::StreamExt;

use crate::error::{Result, SqlError};

/// One open cursor.
struct Cursor {
    stream: SendableRecordBatchStream,
    /// Rows read from the stream but not yet fetched.
    pending: Option<RecordBatch>,
    done: bool,
}

struct Entry {
    schema: SchemaRef,
    hold: bool,
    cursor: Arc<tokio::sync::Mutex<Cursor>>,
}

/// A session's open cursors, by name.
#[derive(Default)]
pub(crate) struct Cursors {
    open: Mutex<HashMap<String, Entry>>,
}

/// How many rows a FETCH asks for: `None` for all that remain.
pub(crate) fn fetch_count(direction: &FetchDirection) -> Result<Option<u64>> {
    let number = |v: &Value| -> Result<u64> {
        match v {
            Value::Number(n, _) => n.parse::<u64>().map_err(|_| {
                SqlError::not_supported("FETCH with a negative count (cursors scan forward only)")
            }),
            other => Err(SqlError::not_supported(format!("FETCH count {other}"))),
        }
    };
    match direction {
        FetchDirection::Next => Ok(Some(1)),
        FetchDirection::All | FetchDirection::ForwardAll => Ok(None),
        FetchDirection::Count { limit } => number(&limit.value).map(Some),
        FetchDirection::Forward { limit } => match limit {
            Some(limit) => number(&limit.value).map(Some),
            None => Ok(Some(1)),
        },
        FetchDirection::Prior
        | FetchDirection::First
        | FetchDirection::Last
        | FetchDirection::Absolute { .. }
        | FetchDirection::Relative { .. }
        | FetchDirection::Backward { .. }
        | FetchDirection::BackwardAll => Err(SqlError::CursorNoScroll),
    }
}

impl Cursors {
    fn open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens cursor `name` over `stream`.
    pub(crate) fn declare(
        &self,
        name: &str,
        hold: bool,
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
    ) -> Result<()> {
        let mut open = self.open();
        if open.contains_key(name) {
            return Err(SqlError::DuplicateCursor(name.to_owned()));
        }
        open.insert(
            name.to_owned(),
            Entry {
                schema,
                hold,
                cursor: Arc::new(tokio::sync::Mutex::new(Cursor {
                    stream,
                    pending: None,
                    done: false,
                })),
            },
        );
        Ok(())
    }

    /// The result columns of cursor `name`.
    pub(crate) fn schema(&self, name: &str) -> Result<SchemaRef> {
        self.open()
            .get(name)
            .map(|e| Arc::clone(&e.schema))
            .ok_or_else(|| SqlError::UnknownCursor(name.to_owned()))
    }

    /// The next `count` rows of cursor `name` (all remaining for `None`), streamed
    /// from the cursor's own stream.
    pub(crate) fn fetch(
        &self,
        name: &str,
        count: Option<u64>,
    ) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        let (schema, cursor) = {
            let open = self.open();
            let entry = open
                .get(name)
                .ok_or_else(|| SqlError::UnknownCursor(name.to_owned()))?;
            (Arc::clone(&entry.schema), Arc::clone(&entry.cursor))
        };
        let remaining = count.unwrap_or(u64::MAX);
        let rows = futures::stream::unfold((cursor, remaining), |(cursor, remaining)| async move {
            if remaining == 0 {
                return None;
            }
            let mut guard = cursor.lock().await;
            let batch = loop {
                if let Some(batch) = guard.pending.take() {
                    break batch;
                }
                if guard.done {
                    return None;
                }
                match guard.stream.next().await {
                    Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                    Some(Ok(batch)) => break batch,
                    Some(Err(e)) => {
                        guard.done = true;
                        drop(guard);
                        return Some((Err(e), (cursor, 0)));
                    }
                    None => {
                        guard.done = true;
                        return None;
                    }
                }
            };
            let take = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(batch.num_rows());
            if take < batch.num_rows() {
                guard.pending = Some(batch.slice(take, batch.num_rows() - take));
            }
            drop(guard);
            let left = remaining - take as u64;
            Some((
                Ok::<_, DataFusionError>(batch.slice(0, take)),
                (cursor, left),
            ))
        });
        Ok((
            Arc::clone(&schema),
            Box::pin(RecordBatchStreamAdapter::new(schema, rows)),
        ))
    }

    /// Closes cursor `name`.
    pub(crate) fn close(&self, name: &str) -> Result<()> {
        self.open()
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| SqlError::UnknownCursor(name.to_owned()))
    }

    /// Closes every cursor (`CLOSE ALL`, `DISCARD ALL`).
    pub(crate) fn close_all(&self) {
        self.open().clear();
    }

    /// Closes the cursors declared without `WITH HOLD` (their transaction ended).
    pub(crate) fn end_transaction(&self) {
        self.open().retain(|_, e| e.hold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use datafusion::physical_plan::memory::MemoryStream;

    fn batches(schema: &SchemaRef, sizes: &[i64]) -> SendableRecordBatchStream {
        let mut next = 0;
        let batches = sizes
            .iter()
            .map(|n| {
                let values: Vec<i64> = (next..next + n).collect();
                next += n;
                RecordBatch::try_new(Arc::clone(schema), vec![Arc::new(Int64Array::from(values))])
                    .expect("batch")
            })
            .collect();
        Box::pin(MemoryStream::try_new(batches, Arc::clone(schema), None).expect("stream"))
    }

    async fn fetch(cursors: &Cursors, count: Option<u64>) -> Vec<i64> {
        let (_, mut stream) = cursors.fetch("c", count).expect("fetch");
        let mut out = Vec::new();
        while let Some(batch) = stream.next().await {
            out.extend(
                batch
                    .expect("batch")
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .iter(),
            );
        }
        out
    }

    #[tokio::test]
    async fn fetches_continue_across_batch_boundaries() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let cursors = Cursors::default();
        cursors
            .declare(
                "c",
                false,
                Arc::clone(&schema),
                batches(&schema, &[3, 0, 4, 2]),
            )
            .expect("declare");
        assert_eq!(fetch(&cursors, Some(2)).await, vec![0, 1]);
        assert_eq!(fetch(&cursors, Some(4)).await, vec![2, 3, 4, 5]);
        assert_eq!(fetch(&cursors, Some(1)).await, vec![6]);
        assert_eq!(fetch(&cursors, None).await, vec![7, 8]);
        assert_eq!(fetch(&cursors, Some(5)).await, Vec::<i64>::new());
        cursors.end_transaction();
        assert!(matches!(
            cursors.fetch("c", Some(1)),
            Err(SqlError::UnknownCursor(_))
        ));
    }

    #[test]
    fn hold_cursors_survive_the_transaction_and_names_are_unique() {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let cursors = Cursors::default();
        cursors
            .declare("h", true, Arc::clone(&schema), batches(&schema, &[1]))
            .expect("declare");
        assert!(matches!(
            cursors.declare("h", true, Arc::clone(&schema), batches(&schema, &[1])),
            Err(SqlError::DuplicateCursor(_))
        ));
        cursors.end_transaction();
        assert!(cursors.schema("h").is_ok());
        cursors.close("h").expect("close");
        assert!(matches!(
            cursors.close("h"),
            Err(SqlError::UnknownCursor(_))
        ));
    }
}
