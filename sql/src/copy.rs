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
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::physical_plan::collect;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::streaming::{PartitionStream, StreamingTableExec};
use datafusion::sql::sqlparser::ast::{CopyLegacyCsvOption, CopyLegacyOption, CopyOption};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{Result, SqlError};

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
    /// Starts loading into `table`, whose rows have `schema`, in `format`.
    pub(crate) fn start(
        table: Arc<dyn TableProvider>,
        schema: SchemaRef,
        format: CopyFormat,
        state: Arc<datafusion::execution::session_state::SessionState>,
    ) -> Result<Self> {
        // A few chunks in flight: the client waits while the loader catches up.
        let (tx, rx) = mpsc::channel::<std::result::Result<Bytes, String>>(16);
        let header = format.header;
        let batches = decode(rx, Arc::clone(&schema), &format)?;
        let source = Arc::new(OneStream {
            schema: Arc::clone(&schema),
            stream: Mutex::new(Some(batches)),
        });
        let columns = schema.fields().len();
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
        self.task
            .await
            .map_err(|e| SqlError::DataFusion(DataFusionError::External(Box::new(e))))?
            .map_err(|e| bad_data(e, header))
    }

    /// The client gave up (CopyFail): nothing is committed.
    pub async fn fail(mut self, message: &str) -> SqlError {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(message.to_owned())).await;
        }
        match self.task.await {
            Ok(Err(e)) => e,
            _ => SqlError::not_supported("COPY cancelled by the client"),
        }
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
    let mut builder = arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
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
                Some(Ok(chunk)) => st.pending = Some((chunk, 0)),
                Some(Err(message)) => {
                    st.finished = true;
                    let error =
                        DataFusionError::Execution(format!("COPY from stdin failed: {message}"));
                    return Some((Err(error), st));
                }
                None => {
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
    let stream = futures::StreamExt::map(stream, |batch| {
        batch.and_then(crate::pg::typmod::assign_batch)
    });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
}

struct DecodeState {
    rx: mpsc::Receiver<std::result::Result<Bytes, String>>,
    decoder: arrow_csv::reader::Decoder,
    pending: Option<(Bytes, usize)>,
    finished: bool,
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
