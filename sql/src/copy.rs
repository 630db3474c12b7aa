//! `COPY ... FROM STDIN` and `COPY ... TO STDOUT`: the options, and the streaming
//! loader that turns incoming bytes into one Delta commit.
//!
//! Incoming data is parsed as it arrives (arrow-csv's push decoder) into record
//! batches that feed the table's insert plan through a bounded channel, so loading
//! 5 GB holds a few batches in memory, not 5 GB. A malformed row fails the whole COPY
//! with its line number, and because the insert commits only at the end, the table
//! is unchanged.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use datafusion::arrow::array::AsArray;
use datafusion::arrow::compute::{CastOptions, cast_with_options};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::collect;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Result, SqlError};
use crate::pg::not_null;

/// How COPY data is laid out (PostgreSQL's options and defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyFormat {
    /// `FORMAT csv` (else PostgreSQL's tab-separated text format).
    pub csv: bool,
    pub header: bool,
    pub delimiter: u8,
    /// How NULL is written: `\N` in text format, an empty field in CSV.
    pub null: String,
    pub quote: u8,
}

impl CopyFormat {
    /// Reads COPY's options, both `WITH (FORMAT csv, HEADER)` and the legacy
    /// `CSV HEADER` spelling psql's `\copy` sends.
    pub fn from_options(options: &[CopyOption], legacy: &[CopyLegacyOption]) -> Result<Self> {
        let mut csv = false;
        let (mut header, mut delimiter, mut null, mut quote) = (false, None, None, b'"');
        let byte = |c: char, what: &str| -> Result<u8> {
            u8::try_from(c as u32)
                .map_err(|_| SqlError::not_supported(format!("a non-ASCII COPY {what}")))
        };
        for option in options {
            match option {
                CopyOption::Format(name) => match name.value.to_ascii_lowercase().as_str() {
                    "csv" => csv = true,
                    "text" => csv = false,
                    other => return Err(SqlError::not_supported(format!("COPY FORMAT {other}"))),
                },
                CopyOption::Header(h) => header = *h,
                CopyOption::Delimiter(c) => delimiter = Some(byte(*c, "delimiter")?),
                CopyOption::Null(s) => null = Some(s.clone()),
                CopyOption::Quote(c) => quote = byte(*c, "quote")?,
                CopyOption::Encoding(e)
                    if e.eq_ignore_ascii_case("utf8") || e.eq_ignore_ascii_case("utf-8") => {}
                other => return Err(SqlError::not_supported(format!("COPY option {other}"))),
            }
        }
        for option in legacy {
            match option {
                CopyLegacyOption::Csv(csv_options) => {
                    csv = true;
                    for o in csv_options {
                        match o {
                            CopyLegacyCsvOption::Header => header = true,
                            CopyLegacyCsvOption::Quote(c) => quote = byte(*c, "quote")?,
                            other => {
                                return Err(SqlError::not_supported(format!(
                                    "COPY option {other}"
                                )));
                            }
                        }
                    }
                }
                CopyLegacyOption::Delimiter(c) => delimiter = Some(byte(*c, "delimiter")?),
                CopyLegacyOption::Null(s) => null = Some(s.clone()),
                CopyLegacyOption::Header => header = true,
                other => return Err(SqlError::not_supported(format!("COPY option {other}"))),
            }
        }
        if header && !csv {
            return Err(SqlError::not_supported(
                "COPY HEADER in text format (use FORMAT csv)",
            ));
        }
        Ok(Self {
            csv,
            header,
            delimiter: delimiter.unwrap_or(if csv { b',' } else { b'\t' }),
            null: null.unwrap_or_else(|| if csv { String::new() } else { "\\N".to_owned() }),
            quote,
        })
    }
}

/// A COPY FROM STDIN in progress: data goes in with [`CopyIn::send`], and
/// [`CopyIn::finish`] commits (or [`CopyIn::fail`] abandons) it.
pub struct CopyIn {
    tx: Option<mpsc::Sender<std::result::Result<Bytes, String>>>,
    task: JoinHandle<Result<u64>>,
    columns: usize,
    /// Whether the data starts with a header line (for line numbers in errors).
    header: bool,
}

impl std::fmt::Debug for CopyIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyIn")
            .field("columns", &self.columns)
            .finish()
    }
}

impl CopyIn {
    /// Starts loading into `table`, whose rows have `schema`, in `format`; the data
    /// has the columns at `listed` of `schema`, in that order (`COPY t (b, a)`), or
    /// all of them when `listed` is `None`. A column not listed gets its default
    /// (evaluated for each batch of rows), or NULL without one, as in PostgreSQL.
    /// `change` ends when the rows are committed (see [`crate::session`]'s journal).
    pub(crate) fn start(
        table: Arc<dyn TableProvider>,
        name: &str,
        schema: SchemaRef,
        listed: Option<Vec<usize>>,
        format: CopyFormat,
        state: Arc<datafusion::execution::session_state::SessionState>,
        change: crate::session::RowChange,
    ) -> Result<Self> {
        let defaults = match &listed {
            Some(listed) => defaults(&schema, listed, &state)?,
            None => Vec::new(),
        };
        // A few chunks in flight: the client waits while the loader catches up.
        let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, String>>(16);
        let header = format.header;
        // Rows are read with every column nullable, then checked against the table's
        // NOT NULL columns (which name the column, as PostgreSQL does).
        let loose = not_null::loosened(&schema);
        let (batches, columns) = match listed {
            None => (
                decode(rx, Arc::clone(&loose), &format)?,
                schema.fields().len(),
            ),
            Some(listed) => {
                let given = Arc::new(loose.project(&listed).map_err(copy_error)?);
                let batches = decode(rx, given, &format)?;
                (
                    widened(batches, Arc::clone(&loose), &listed, defaults),
                    listed.len(),
                )
            }
        };
        let batches: SendableRecordBatchStream = {
            let (target, table) = (Arc::clone(&schema), name.to_owned());
            let checked = futures::StreamExt::map(batches, move |batch| {
                batch.and_then(|b| not_null::check_batch(b, &target, &table))
            });
            Box::pin(RecordBatchStreamAdapter::new(Arc::clone(&schema), checked))
        };
        let source = Arc::new(OneStream {
            schema: Arc::clone(&schema),
            stream: Mutex::new(Some(batches)),
        });
        let task = tokio::spawn(async move {
            let input = Arc::new(StreamingTableExec::try_new(
                Arc::clone(&schema),
                vec![source as Arc<dyn PartitionStream>],
                None,
                Vec::new(),
                false,
                None,
            )?);
            let plan = table
                .insert_into(state.as_ref(), input, InsertOp::Append)
                .await?;
            let counts = collect(plan, state.task_ctx()).await?;
            change.end().await?;
            Ok(counts
                .iter()
                .filter_map(|b| {
                    b.column(0)
                        .as_any()
                        .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                        .map(|a| a.iter().flatten().sum::<u64>())
                })
                .sum())
        });
        Ok(Self {
            tx: Some(tx),
            task,
            columns,
            header,
        })
    }

    /// The number of columns each row has.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Passes a chunk of COPY data on. If the loader already failed, the data is
    /// dropped; [`CopyIn::finish`] reports why.
    pub async fn send(&mut self, data: Bytes) {
        if let Some(tx) = &self.tx
            && tx.send(Ok(data)).await.is_err()
        {
            self.tx = None;
        }
    }

    /// Ends the data and waits for the commit; returns the number of rows loaded.
    pub async fn finish(mut self) -> Result<u64> {
        drop(self.tx.take());
        let header = self.header;
        (&mut self.task)
            .await
            .map_err(|e| SqlError::DataFusion(DataFusionError::External(Box::new(e))))?
            .map_err(|e| bad_data(e, header))
    }

    /// The client gave up (CopyFail): nothing is committed.
    pub async fn fail(mut self, message: &str) -> SqlError {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(message.to_owned())).await;
        }
        match (&mut self.task).await {
            Ok(Err(e)) => e,
            _ => SqlError::not_supported("COPY cancelled by the client"),
        }
    }
}

impl Drop for CopyIn {
    /// A COPY dropped before [`CopyIn::finish`] (its connection closed mid-data) is
    /// abandoned: its loader stops before committing, so nothing of it is written.
    /// (After `finish` or `fail` the loader has ended and this does nothing.)
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The decoded COPY data as DataFusion's source: one partition, read once.
struct OneStream {
    schema: SchemaRef,
    stream: Mutex<Option<SendableRecordBatchStream>>,
}

impl std::fmt::Debug for OneStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneStream")
            .field("schema", &self.schema)
            .finish()
    }
}

impl PartitionStream for OneStream {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn execute(&self, _ctx: Arc<TaskContext>) -> SendableRecordBatchStream {
        let taken = self.stream.lock().unwrap_or_else(|e| e.into_inner()).take();
        taken.unwrap_or_else(|| {
            Box::pin(RecordBatchStreamAdapter::new(
                Arc::clone(&self.schema),
                futures::stream::once(async {
                    Err(DataFusionError::Internal(
                        "COPY input read twice".to_owned(),
                    ))
                }),
            ))
        })
    }
}

/// Parses chunks from `rx` into record batches as they arrive.
fn decode(
    rx: mpsc::Receiver<std::result::Result<Bytes, String>>,
    schema: SchemaRef,
    format: &CopyFormat,
) -> Result<SendableRecordBatchStream> {
    let null = regex::Regex::new(&format!("^{}$", regex::escape(&format.null)))
        .map_err(|e| SqlError::not_supported(format!("COPY NULL {:?}: {e}", format.null)))?;
    // Arrow's CSV reader has no arrays: their columns are read as text, then as
    // PostgreSQL's array literals.
    let arrays: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| {
            matches!(
                schema.field(i).data_type(),
                DataType::List(_) | DataType::LargeList(_)
            )
        })
        .collect();
    let read = match arrays.is_empty() {
        true => Arc::clone(&schema),
        false => Arc::new(Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| match f.data_type() {
                    DataType::List(_) | DataType::LargeList(_) => {
                        Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8))
                    }
                    _ => Arc::clone(f),
                })
                .collect::<Vec<_>>(),
        )),
    };
    let mut builder = arrow_csv::ReaderBuilder::new(read)
        .with_header(format.header)
        .with_delimiter(format.delimiter)
        .with_null_regex(null)
        .with_batch_size(8192);
    if format.csv {
        builder = builder.with_quote(format.quote);
    } else {
        // Text format has no quoting; a quote character is data.
        builder = builder.with_quote(0);
    }
    let state = DecodeState {
        rx,
        decoder: builder.build_decoder(),
        pending: None,
        finished: false,
        end: EndOfData::default(),
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        loop {
            if let Some((chunk, mut offset)) = st.pending.take() {
                while offset < chunk.len() {
                    let read = match st.decoder.decode(&chunk[offset..]) {
                        Ok(read) => read,
                        Err(e) => {
                            st.finished = true;
                            return Some((Err(copy_error(e)), st));
                        }
                    };
                    offset += read;
                    if st.decoder.capacity() == 0 {
                        match st.decoder.flush() {
                            Ok(Some(batch)) => {
                                st.pending = Some((chunk, offset));
                                return Some((Ok(batch), st));
                            }
                            Ok(None) => {}
                            Err(e) => {
                                st.finished = true;
                                return Some((Err(copy_error(e)), st));
                            }
                        }
                    } else if read == 0 {
                        break;
                    }
                }
            }
            match st.rx.recv().await {
                // After the end-of-data line, the rest is dropped unread.
                Some(Ok(chunk)) => {
                    if let Some(chunk) = st.end.before_marker(chunk) {
                        st.pending = Some((chunk, 0));
                    }
                }
                Some(Err(message)) => {
                    st.finished = true;
                    let error =
                        DataFusionError::Execution(format!("COPY from stdin failed: {message}"));
                    return Some((Err(error), st));
                }
                None => {
                    if let Some(rest) = st.end.rest() {
                        st.pending = Some((rest, 0));
                        continue;
                    }
                    st.finished = true;
                    if let Err(e) = st.decoder.decode(&[]) {
                        return Some((Err(copy_error(e)), st));
                    }
                    return match st.decoder.flush() {
                        Ok(Some(batch)) => Some((Ok(batch), st)),
                        Ok(None) => None,
                        Err(e) => Some((Err(copy_error(e)), st)),
                    };
                }
            }
        }
    });
    // Stored values fit their columns' declared types (varchar(n), char(n), json), as
    // an INSERT's do.
    let typed = Arc::clone(&schema);
    let stream = futures::StreamExt::map(stream, move |batch| {
        batch
            .and_then(|b| read_arrays(b, &typed, &arrays))
            .and_then(crate::pg::typmod::assign_batch)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

/// `batch` with its columns at `arrays`, read as text, as the arrays of `schema`.
fn read_arrays(
    batch: RecordBatch,
    schema: &SchemaRef,
    arrays: &[usize],
) -> std::result::Result<RecordBatch, DataFusionError> {
    if arrays.is_empty() {
        return Ok(batch);
    }
    let mut columns = batch.columns().to_vec();
    for &i in arrays {
        let texts = columns[i].as_string_opt::<i32>().ok_or_else(|| {
            DataFusionError::Internal(format!("COPY read array column {i} as text"))
        })?;
        // A bad value is bad COPY data (22P02, and the table unchanged), as a value
        // Arrow's reader refuses is: its error must reach the client through
        // deltalake's write, which keeps Arrow's errors but only the text of others.
        let bad = |message: String| copy_error(ArrowError::ParseError(message));
        let depth = crate::params::list_depth(schema.field(i).data_type()).0;
        let lists = crate::pg::array_in::lists(texts, depth).map_err(|e| match e {
            DataFusionError::External(inner) => bad(inner.to_string()),
            other => bad(other.strip_backtrace()),
        })?;
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        columns[i] = cast_with_options(&lists, schema.field(i).data_type(), &options)
            .map_err(|e| bad(format!("column {}: {e}", schema.field(i).name())))?;
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// The default of each column of `schema` not at `listed`, as an expression of the
/// column's type (None for a listed column or one without a default). A default
/// DataFusion cannot plan refuses the COPY, naming the column.
fn defaults(
    schema: &SchemaRef,
    listed: &[usize],
    state: &datafusion::execution::session_state::SessionState,
) -> Result<Vec<Option<Arc<dyn PhysicalExpr>>>> {
    use datafusion::optimizer::simplify_expressions::{ExprSimplifier, SimplifyContext};
    let empty = Arc::new(datafusion::common::DFSchema::empty());
    // Simplifying fixes `now()` to the statement's start, as a query's plan has it.
    let simplifier = ExprSimplifier::new(
        SimplifyContext::builder()
            .with_config_options(Arc::new(state.config_options().as_ref().clone()))
            .with_schema(Arc::clone(&empty))
            .with_current_time()
            .build(),
    );
    schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let Some(sql) = field.metadata().get(tarn_catalog::types::DEFAULT_KEY) else {
                return Ok(None);
            };
            if listed.contains(&i) {
                return Ok(None);
            }
            let planned = state
                .create_logical_expr(sql, &empty)
                .and_then(|e| {
                    datafusion::logical_expr::ExprSchemable::cast_to(e, field.data_type(), &empty)
                })
                .and_then(|e| simplifier.simplify(e))
                .and_then(|e| state.create_physical_expr(e, &empty));
            planned.map(Some).map_err(|e| {
                SqlError::not_supported(format!(
                    "COPY into a table whose column \"{}\" has the default {sql} ({e})",
                    field.name()
                ))
            })
        })
        .collect()
}

/// Batches of the columns at `listed` of `schema` as batches of all of them, the
/// others their `defaults` (see [`defaults`]) or NULL.
fn widened(
    batches: SendableRecordBatchStream,
    schema: SchemaRef,
    listed: &[usize],
    defaults: Vec<Option<Arc<dyn PhysicalExpr>>>,
) -> SendableRecordBatchStream {
    let position: Vec<Option<usize>> = (0..schema.fields().len())
        .map(|i| listed.iter().position(|&l| l == i))
        .collect();
    let target = Arc::clone(&schema);
    let stream = futures::StreamExt::map(batches, move |batch| {
        let batch = batch?;
        let columns = target
            .fields()
            .iter()
            .enumerate()
            .zip(&position)
            .map(
                |((i, field), at)| match (at, defaults.get(i).and_then(Option::as_ref)) {
                    (Some(at), _) => Ok(Arc::clone(batch.column(*at))),
                    (None, Some(default)) => default.evaluate(&batch)?.into_array(batch.num_rows()),
                    (None, None) => Ok(datafusion::arrow::array::new_null_array(
                        field.data_type(),
                        batch.num_rows(),
                    )),
                },
            )
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        Ok(RecordBatch::try_new(Arc::clone(&target), columns)?)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, stream))
}

struct DecodeState {
    rx: mpsc::Receiver<std::result::Result<Bytes, String>>,
    decoder: arrow_csv::reader::Decoder,
    pending: Option<(Bytes, usize)>,
    finished: bool,
    end: EndOfData,
}

/// Finds PostgreSQL's end-of-data line, `\.` alone on a line, which psql 15 sends
/// after the rows of a script's `COPY ... FROM STDIN` (and `\copy` from a file that
/// has one); PostgreSQL stops reading there, in text and CSV format alike.
#[derive(Debug)]
struct EndOfData {
    /// Whether the next byte starts a line.
    line_start: bool,
    /// The start of a line that may be the marker, cut by the chunk's end (`\`, `\.`
    /// or `\.\r`).
    held: Vec<u8>,
    ended: bool,
}

impl Default for EndOfData {
    fn default() -> Self {
        Self {
            line_start: true,
            held: Vec::new(),
            ended: false,
        }
    }
}

impl EndOfData {
    /// The part of `chunk` before the marker, with any bytes held back from the last
    /// chunk in front; `None` once the marker has been seen, or when all of `chunk`
    /// is held back.
    fn before_marker(&mut self, chunk: Bytes) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        let chunk = if self.held.is_empty() {
            chunk
        } else {
            let mut joined = std::mem::take(&mut self.held);
            joined.extend_from_slice(&chunk);
            self.line_start = true;
            Bytes::from(joined)
        };
        let bytes = chunk.as_ref();
        let mut start = if self.line_start { Some(0) } else { None };
        let mut next = 0;
        loop {
            if let Some(at) = start {
                let line = &bytes[at..];
                match line {
                    [b'\\', b'.', b'\n', ..] | [b'\\', b'.', b'\r', b'\n', ..] => {
                        self.ended = true;
                        return (at > 0).then(|| chunk.slice(..at));
                    }
                    [b'\\'] | [b'\\', b'.'] | [b'\\', b'.', b'\r'] => {
                        // Perhaps the marker, cut: decided with the next chunk or at
                        // the end of the data.
                        self.held = line.to_vec();
                        self.line_start = false;
                        return (at > 0).then(|| chunk.slice(..at));
                    }
                    _ => {}
                }
            }
            match memchr::memchr(b'\n', &bytes[next..]) {
                Some(i) => {
                    start = Some(next + i + 1);
                    next += i + 1;
                    if next == bytes.len() {
                        self.line_start = true;
                        return Some(chunk);
                    }
                }
                None => {
                    self.line_start = false;
                    return Some(chunk);
                }
            }
        }
    }

    /// What was held back at the end of the data: the marker without a line end
    /// (`\.`), which ends it, or data.
    fn rest(&mut self) -> Option<Bytes> {
        let held = std::mem::take(&mut self.held);
        match held.as_slice() {
            b"\\." | b"\\.\r" | [] => None,
            _ => Some(Bytes::from(held)),
        }
    }
}

/// A parse failure in the data, reported with the line of the input it is on
/// (counting a header line, as PostgreSQL does); other errors pass through.
fn bad_data(error: SqlError, header: bool) -> SqlError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(e) = source {
        if let Some(arrow) = e.downcast_ref::<datafusion::arrow::error::ArrowError>()
            && let datafusion::arrow::error::ArrowError::ParseError(message)
            | datafusion::arrow::error::ArrowError::CsvError(message) = arrow
        {
            let pattern = regex::Regex::new(r"at line (\d+)").expect("a valid pattern");
            let message = pattern
                .replace(message, |caps: &regex::Captures<'_>| {
                    let line: u64 = caps[1].parse().unwrap_or(0);
                    format!("at line {}", line + u64::from(header))
                })
                .into_owned();
            return SqlError::CopyData { message };
        }
        source = e.source();
    }
    error
}

fn copy_error(e: datafusion::arrow::error::ArrowError) -> DataFusionError {
    DataFusionError::ArrowError(Box::new(e), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_data_line_ends_the_data_wherever_chunks_are_cut() {
        let data = b"a\\.b\t1\n\\.x\t2\n\\.\r\nnot read\n";
        // Every way of cutting the data in two gives the same rows.
        for cut in 0..=data.len() {
            let mut end = EndOfData::default();
            let mut kept = Vec::new();
            for part in [&data[..cut], &data[cut..]] {
                if let Some(b) = end.before_marker(Bytes::copy_from_slice(part)) {
                    kept.extend_from_slice(&b);
                }
            }
            if let Some(b) = end.rest() {
                kept.extend_from_slice(&b);
            }
            assert_eq!(kept, b"a\\.b\t1\n\\.x\t2\n", "cut at {cut}");
        }
        // Without a line end at the very end, and data without the marker.
        for (data, expected) in [
            (&b"1\n\\."[..], &b"1\n"[..]),
            (b"1\n\\", b"1\n\\"),
            (b"1\n2", b"1\n2"),
        ] {
            let mut end = EndOfData::default();
            let mut kept = end
                .before_marker(Bytes::copy_from_slice(data))
                .map(|b| b.to_vec())
                .unwrap_or_default();
            kept.extend(end.rest().map(|b| b.to_vec()).unwrap_or_default());
            assert_eq!(kept, expected);
        }
    }
}
