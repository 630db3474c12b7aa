//! Arrow to wire: row descriptions, data rows and parameter values.
//!
//! Encoding of values is `arrow-pg`'s (maintained with pgwire, it covers text and
//! binary for the PostgreSQL types Tarn produces); this module adds streaming over
//! DataFusion's batches and the mapping of parameters the other way.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use arrow_pg::encoder::encode_value;
use bytes::BufMut;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::scalar::ScalarValue;
use futures::{Stream, StreamExt, TryStreamExt};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::api::results::{DataRowEncoder, FieldFormat};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::copy::CopyData;
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use postgres_types::FromSql;
use tarn_catalog::types::DeclaredType;
use tarn_sql::copy::CopyFormat;
use tarn_sql::settings::Settings;
use tarn_sql::{Session, SqlError, params};

use super::sqlstate::error_info;

mod arrays;

/// A client-visible error as pgwire carries it.
pub fn user_error(err: &SqlError) -> PgWireError {
    PgWireError::UserError(Box::new(error_info(err)))
}

/// How values are written as text for this session (`DateStyle`, `TimeZone`, ...).
pub fn format_options(settings: &Settings) -> Arc<FormatOptions> {
    let mut options = FormatOptions::default();
    if let Some(v) = settings.get("DateStyle") {
        options.date_style = v.to_owned();
    }
    if let Some(v) = settings.get("IntervalStyle") {
        options.interval_style = v.to_owned();
    }
    if let Some(v) = settings.get("bytea_output") {
        options.bytea_output = v.to_owned();
    }
    if let Some(v) = settings.get("TimeZone") {
        options.time_zone = v.to_owned();
    }
    if let Some(v) = settings
        .get("extra_float_digits")
        .and_then(|v| v.parse().ok())
    {
        options.extra_float_digits = v;
    }
    Arc::new(options)
}

/// The last RowDescription fields a connection made, with what they were made from: a
/// prepared query runs with the same schema, formats and settings execution after
/// execution, and making the list (and the format options) anew each time was a
/// twenty-fifth of a short query's CPU (`bench/short.sh`, 4 clients).
#[derive(Default)]
pub struct FieldCache {
    last: std::sync::Mutex<Option<Made>>,
}

struct Made {
    schema: Arc<Schema>,
    format: Format,
    settings: Settings,
    fields: Arc<Vec<FieldInfo>>,
}

fn same_format(a: &Format, b: &Format) -> bool {
    match (a, b) {
        (Format::UnifiedText, Format::UnifiedText)
        | (Format::UnifiedBinary, Format::UnifiedBinary) => true,
        (Format::Individual(a), Format::Individual(b)) => a == b,
        _ => false,
    }
}

impl FieldCache {
    /// [`fields`] of `schema` in `format` under `settings`' format options, made again
    /// only if one of them differs from the last call's.
    pub fn fields(
        &self,
        schema: &Arc<Schema>,
        format: &Format,
        settings: &Settings,
    ) -> PgWireResult<Arc<Vec<FieldInfo>>> {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        // A kept plan's executions give equal schemas, not always the same one.
        if let Some(made) = last.as_ref()
            && (Arc::ptr_eq(&made.schema, schema) || made.schema == *schema)
            && same_format(&made.format, format)
            && made.settings == *settings
        {
            return Ok(Arc::clone(&made.fields));
        }
        let made = fields(schema, format, format_options(settings))?;
        *last = Some(Made {
            schema: Arc::clone(schema),
            format: format.clone(),
            settings: settings.clone(),
            fields: Arc::clone(&made),
        });
        Ok(made)
    }
}

/// The RowDescription fields for `schema`, in the formats the client asked for: the
/// type of each Arrow type (`arrow-pg`'s mapping), or the type a column was declared
/// with where Arrow does not say it (`varchar(20)`, `jsonb`), with PostgreSQL's type
/// modifiers (a numeric's precision and scale, a varchar's length).
pub fn fields(
    schema: &Schema,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<Arc<Vec<FieldInfo>>> {
    // An OID alias (regclass, regtype ...) names an int4 column; a cast to another
    // type (`attrelid::int8`) keeps the metadata but not the type.
    let cleaned;
    let schema = if schema.fields().iter().any(|f| {
        f.metadata()
            .contains_key(arrow_pg::datatypes::PG_OID_ALIAS_KEY)
            && !matches!(f.data_type(), DataType::Int32 | DataType::UInt32)
            || arrays::flattened(f.data_type()).is_some()
    }) {
        cleaned = Schema::new_with_metadata(
            schema
                .fields()
                .iter()
                .map(|f| {
                    let mut f = f.as_ref().clone();
                    // A list of lists is its innermost list's array type.
                    if let Some(flat) = arrays::flattened(f.data_type()) {
                        f = f.with_data_type(flat);
                    }
                    if !matches!(f.data_type(), DataType::Int32 | DataType::UInt32) {
                        let mut metadata = f.metadata().clone();
                        metadata.remove(arrow_pg::datatypes::PG_OID_ALIAS_KEY);
                        f = f.with_metadata(metadata);
                    }
                    f
                })
                .collect::<Vec<_>>(),
            schema.metadata().clone(),
        );
        &cleaned
    } else {
        schema
    };
    let fields = arrow_schema_to_pg_fields(schema, format, Some(Arc::clone(&options)))?;
    Ok(Arc::new(
        fields
            .into_iter()
            .zip(schema.fields())
            .map(|(info, field)| {
                let declared = DeclaredType::of(field);
                let typmod = match (declared, field.data_type()) {
                    (Some(DeclaredType::Varchar(n) | DeclaredType::Char(n)), _) => {
                        i32::try_from(n).map_or(-1, |n| n.saturating_add(4))
                    }
                    // A table's numeric column, or a cast to numeric(p, s): PostgreSQL
                    // gives computed numerics no precision and scale.
                    (_, DataType::Decimal128(p, s) | DataType::Decimal256(p, s))
                        if field
                            .metadata()
                            .contains_key(tarn_sql::session::origins::TABLE_OID_KEY)
                            || field
                                .metadata()
                                .contains_key(tarn_sql::session::origins::NUMERIC_CAST_KEY) =>
                    {
                        ((i32::from(*p) << 16) | (i32::from(*s) & 0xffff)) + 4
                    }
                    _ => -1,
                };
                let void = field
                    .metadata()
                    .get(tarn_sql::pg::sleep::VOID_KEY)
                    .map(String::as_str)
                    == Some(tarn_sql::pg::sleep::VOID);
                // A table's column passed through: its table OID and column number.
                let metadata = field.metadata();
                let table_id = metadata
                    .get(tarn_sql::session::origins::TABLE_OID_KEY)
                    .and_then(|v| v.parse::<i32>().ok())
                    .or(info.table_id());
                let column_id = metadata
                    .get(tarn_sql::session::origins::ATTNUM_KEY)
                    .and_then(|v| v.parse::<i16>().ok())
                    .or(info.column_id());
                let datatype = match declared {
                    _ if void => Type::VOID,
                    Some(t) => declared_pg_type(t),
                    // A list of OIDs (`array_agg(atttypid)`) is `oid[]`.
                    None if arrays::is_oid_list(field.data_type()) => Type::OID_ARRAY,
                    None => info.datatype().clone(),
                };
                FieldInfo::new(
                    info.name().to_owned(),
                    table_id,
                    column_id,
                    datatype,
                    info.format(),
                )
                .with_format_options(Arc::clone(&options))
                .with_type_modifier(typmod)
            })
            .collect(),
    ))
}

/// The PostgreSQL type of a declared type.
fn declared_pg_type(declared: DeclaredType) -> Type {
    match declared {
        DeclaredType::Varchar(_) | DeclaredType::Varying => Type::VARCHAR,
        DeclaredType::Char(_) => Type::BPCHAR,
        DeclaredType::Json => Type::JSON,
        DeclaredType::Jsonb => Type::JSONB,
        DeclaredType::Uuid => Type::UUID,
    }
}

/// Data rows for every batch of `stream`, encoded as produced. A failure while
/// streaming marks the session's statement as failed (for transaction state).
pub fn rows(
    session: Arc<Session>,
    fields: Arc<Vec<FieldInfo>>,
    stream: SendableRecordBatchStream,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    encoded(session, fields, stream, encode_batch)
}

/// The names of one batch's OID alias values, by column (see [`object_names`]).
type Names = [Option<std::collections::HashMap<i32, String>>];

/// What `encode` makes of every batch of `stream` (with the names its OID alias
/// columns print as), as produced; a failure marks the session's statement failed.
fn encoded<T: Send + 'static>(
    session: Arc<Session>,
    fields: Arc<Vec<FieldInfo>>,
    stream: SendableRecordBatchStream,
    encode: impl Fn(&[FieldInfo], &RecordBatch, &Names) -> Vec<PgWireResult<T>> + Send + Sync + 'static,
) -> impl Stream<Item = PgWireResult<T>> + Send + 'static {
    let named = Arc::new(named_columns(&fields));
    let encode = Arc::new(encode);
    stream
        .then(move |batch| {
            let (session, fields, named, encode) = (
                Arc::clone(&session),
                Arc::clone(&fields),
                Arc::clone(&named),
                Arc::clone(&encode),
            );
            async move {
                match batch {
                    Ok(batch) => {
                        let names = object_names(&session, &named, &batch).await;
                        Ok(futures::stream::iter(encode(&fields, &batch, &names)))
                    }
                    Err(e) => {
                        session.statement_failed();
                        Err(user_error(&SqlError::DataFusion(e)))
                    }
                }
            }
        })
        .try_flatten()
}

/// The text-format columns of an OID alias type whose values print as names
/// (`regclass`, `regtype`, `regnamespace`, `regproc`), with the type's name.
fn named_columns(fields: &[FieldInfo]) -> Vec<(usize, &'static str)> {
    fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.format() == FieldFormat::Text)
        .filter_map(|(i, f)| {
            let kind = match *f.datatype() {
                Type::REGCLASS => "regclass",
                Type::REGTYPE => "regtype",
                Type::REGNAMESPACE => "regnamespace",
                Type::REGPROC => "regproc",
                _ => return None,
            };
            Some((i, kind))
        })
        .collect()
}

/// An OID column's values (`regclass` columns are int4, `oid` ones may be unsigned).
fn oid_values(array: &dyn datafusion::arrow::array::Array) -> Vec<Option<i32>> {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::{Int32Type, UInt32Type};
    if let Some(a) = array.as_primitive_opt::<Int32Type>() {
        a.iter().collect()
    } else if let Some(a) = array.as_primitive_opt::<UInt32Type>() {
        a.iter().map(|v| v.map(|v| v as i32)).collect()
    } else {
        vec![None; array.len()]
    }
}

/// For each column of `batch` in `named`, the names its OIDs print as (see
/// [`Session::reg_names`]); `None` for other columns. A failed lookup leaves the
/// numbers, as PostgreSQL prints an OID that names nothing.
async fn object_names(
    session: &Session,
    named: &[(usize, &'static str)],
    batch: &RecordBatch,
) -> Vec<Option<std::collections::HashMap<i32, String>>> {
    let mut names = vec![None; batch.num_columns()];
    for &(col, kind) in named {
        let oids: Vec<i32> = oid_values(batch.column(col).as_ref())
            .into_iter()
            .flatten()
            .collect();
        let found = match session.reg_names(kind, &oids).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("could not name {kind} values: {e}");
                Default::default()
            }
        };
        names[col] = Some(found);
    }
    names
}

/// COPY TO STDOUT data: one CopyData message per row (and a header line first for
/// CSV with HEADER), values in PostgreSQL's text form, streamed batch by batch.
pub fn copy_rows(
    session: Arc<Session>,
    schema: &Schema,
    stream: SendableRecordBatchStream,
    format: CopyFormat,
) -> PgWireResult<impl Stream<Item = PgWireResult<CopyData>> + Send + 'static> {
    let options = format_options(&session.settings());
    let fields = fields(schema, &Format::UnifiedText, options)?;
    let header = (format.csv && format.header).then(|| {
        let mut line = bytes::BytesMut::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                line.put_u8(format.delimiter);
            }
            push_copy_value(&mut line, field.name().as_bytes(), &format);
        }
        line.put_u8(b'\n');
        Ok(CopyData::new(line.freeze()))
    });
    let lines = encoded(session, fields, stream, move |fields, batch, names| {
        copy_batch(fields, batch, &format, names)
    });
    Ok(futures::stream::iter(header).chain(lines))
}

/// Appends a non-NULL value as COPY writes it: quoted in CSV where it must be (with
/// quotes doubled), backslash-escaped in text format.
fn push_copy_value(line: &mut bytes::BytesMut, value: &[u8], format: &CopyFormat) {
    let delimiter = format.delimiter;
    if format.csv {
        let quote = format.quote;
        // An empty string is quoted only where it would read back as NULL (the
        // default NULL string is empty).
        let needs_quotes = value == format.null.as_bytes()
            || value
                .iter()
                .any(|&b| b == delimiter || b == quote || b == b'\n' || b == b'\r');
        if needs_quotes {
            line.put_u8(quote);
            for &b in value {
                if b == quote {
                    line.put_u8(quote);
                }
                line.put_u8(b);
            }
            line.put_u8(quote);
        } else {
            line.extend_from_slice(value);
        }
    } else if !value
        .iter()
        .any(|&b| matches!(b, b'\\' | b'\n' | b'\r' | b'\t') || b == delimiter)
    {
        line.extend_from_slice(value);
    } else {
        for &b in value {
            match b {
                b'\\' => line.extend_from_slice(b"\\\\"),
                b'\n' => line.extend_from_slice(b"\\n"),
                b'\r' => line.extend_from_slice(b"\\r"),
                b'\t' => line.extend_from_slice(b"\\t"),
                b if b == delimiter => {
                    line.put_u8(b'\\');
                    line.put_u8(b);
                }
                b => line.put_u8(b),
            }
        }
    }
}

/// The types whose text form [`super::text::column`] writes for a whole column; others
/// (OID aliases such as `regclass`, arrays, `bytea`, `void`) go value by value.
fn written_by_column(pg: &Type) -> bool {
    [
        Type::BOOL,
        Type::INT2,
        Type::INT4,
        Type::INT8,
        Type::FLOAT4,
        Type::FLOAT8,
        Type::NUMERIC,
        Type::TEXT,
        Type::VARCHAR,
        Type::BPCHAR,
        Type::NAME,
        Type::JSON,
        Type::JSONB,
        Type::DATE,
        Type::TIMESTAMP,
        Type::TIMESTAMPTZ,
        Type::INTERVAL,
    ]
    .contains(pg)
}

/// A batch's values in the forms `fields` ask for, produced row by row. Text-format
/// columns of the common types are written a column at a time
/// ([`super::text::column`]); other values go through `arrow-pg`, or Tarn's own text
/// for the types whose PostgreSQL spelling it writes itself, one value at a time.
struct BatchValues<'a> {
    fields: &'a [FieldInfo],
    batch: &'a RecordBatch,
    /// The names of an OID alias column's values (see [`object_names`]).
    names: &'a Names,
    iso_dates: Vec<bool>,
    columns: Vec<Option<super::text::TextColumn<'a>>>,
    /// A one-column encoder for each column encoded value by value.
    single: Vec<Option<DataRowEncoder>>,
}

impl<'a> BatchValues<'a> {
    fn new(fields: &'a [FieldInfo], batch: &'a RecordBatch, names: &'a Names) -> Self {
        // DateStyle "ISO" or "ISO, <order>": dates are YYYY-MM-DD whatever the order.
        let iso_dates: Vec<bool> = fields
            .iter()
            .map(|f| {
                let style = f.format_options().date_style.trim_start();
                style
                    .get(..3)
                    .is_some_and(|s| s.eq_ignore_ascii_case("ISO"))
            })
            .collect();
        let columns: Vec<Option<super::text::TextColumn<'_>>> = fields
            .iter()
            .enumerate()
            .map(|(col, f)| {
                let by_column = f.format() == FieldFormat::Text && written_by_column(f.datatype());
                by_column
                    .then(|| {
                        let time_zone = f.format_options().time_zone.as_str();
                        super::text::column(batch.column(col).as_ref(), time_zone, iso_dates[col])
                    })
                    .flatten()
            })
            .collect();
        let single = fields
            .iter()
            .zip(&columns)
            .map(|(f, c)| {
                c.is_none()
                    .then(|| DataRowEncoder::new(Arc::new(vec![f.clone()])))
            })
            .collect();
        Self {
            fields,
            batch,
            names,
            iso_dates,
            columns,
            single,
        }
    }

    /// Hands each value of row `row` to `value` in column order (`None`: NULL).
    fn row(&mut self, row: usize, mut value: impl FnMut(Option<&[u8]>)) -> PgWireResult<()> {
        for (col, pg_field) in self.fields.iter().enumerate() {
            if let Some(Some(names)) = self.names.get(col) {
                let array = self.batch.column(col);
                match oid_values(&array.slice(row, 1))[0] {
                    None => value(None),
                    Some(oid) => match names.get(&oid) {
                        Some(name) => value(Some(name.as_bytes())),
                        None => value(Some(oid.to_string().as_bytes())),
                    },
                }
                continue;
            }
            if let Some(column) = &self.columns[col] {
                value(column.value(row));
                continue;
            }
            let Some(encoder) = self.single[col].as_mut() else {
                continue;
            };
            encode_one(
                encoder,
                self.batch.column(col),
                row,
                self.batch.schema_ref().field(col),
                pg_field,
                self.iso_dates[col],
            )?;
            // The encoder wrote one length-prefixed value (-1: NULL).
            let encoded = encoder.take_row().data;
            let (len, rest) = encoded.split_at(4.min(encoded.len()));
            let len = i32::from_be_bytes(len.try_into().unwrap_or([255; 4]));
            value((len >= 0).then_some(rest));
        }
        Ok(())
    }
}

/// Encodes each row of `batch` as a DataRow. The batch's rows are encoded together
/// (the text columns borrow the batch), so a batch's DataRows are in memory at once,
/// as its values already are.
fn encode_batch(
    fields: &[FieldInfo],
    batch: &RecordBatch,
    names: &Names,
) -> Vec<PgWireResult<DataRow>> {
    let batch = padded_chars(fields, batch);
    let mut values = BatchValues::new(fields, &batch, names);
    let count = i16::try_from(fields.len()).unwrap_or(i16::MAX);
    let mut data = RowBuffer::default();
    (0..batch.num_rows())
        .map(|row| {
            let data = data.next_row();
            values.row(row, |value| match value {
                None => data.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(text) => {
                    // Values are far below 2 GiB: a message is at most 1 GiB.
                    data.extend_from_slice(&(text.len() as i32).to_be_bytes());
                    data.extend_from_slice(text);
                }
            })?;
            Ok(DataRow::new(data.split(), count))
        })
        .collect()
}

/// One buffer for the rows of a batch, each row split off it when written
/// ([`bytes::BytesMut::split`] shares the allocation): one allocation for hundreds of
/// rows rather than one each (SELECT * FROM lineitem makes 6 million rows).
#[derive(Default)]
struct RowBuffer(bytes::BytesMut);

impl RowBuffer {
    /// Bytes a buffer is allocated with, and the room below which it is replaced.
    const CHUNK: usize = 256 * 1024;
    const ROOM: usize = 8 * 1024;

    /// The buffer, empty, to write one row into and `split()` off; a row that does not
    /// fit in the room left grows it as `BytesMut` grows.
    fn next_row(&mut self) -> &mut bytes::BytesMut {
        debug_assert!(self.0.is_empty(), "the last row was split off");
        if self.0.capacity() < Self::ROOM {
            self.0.reserve(Self::CHUNK);
        }
        &mut self.0
    }
}

/// Writes each row of `batch` as a COPY line, one CopyData message per row.
fn copy_batch(
    fields: &[FieldInfo],
    batch: &RecordBatch,
    format: &CopyFormat,
    names: &Names,
) -> Vec<PgWireResult<CopyData>> {
    let batch = padded_chars(fields, batch);
    let mut values = BatchValues::new(fields, &batch, names);
    // A line holding only `\.` would read back as the end of the data: in CSV a lone
    // column's `\.` is quoted, as PostgreSQL quotes it (text format escapes it anyway).
    let quote_end_marker = format.csv && fields.len() == 1;
    let mut buffer = RowBuffer::default();
    (0..batch.num_rows())
        .map(|row| {
            let line = buffer.next_row();
            let mut first = true;
            values.row(row, |value| {
                if !first {
                    line.put_u8(format.delimiter);
                }
                first = false;
                match value {
                    None => line.extend_from_slice(format.null.as_bytes()),
                    Some(b"\\.") if quote_end_marker => {
                        line.put_u8(format.quote);
                        line.extend_from_slice(b"\\.");
                        line.put_u8(format.quote);
                    }
                    Some(text) => push_copy_value(line, text, format),
                }
            })?;
            line.put_u8(b'\n');
            Ok(CopyData::new(line.split().freeze()))
        })
        .collect()
}

/// `batch` with the columns that `fields` describe as `character(n)` padded with spaces
/// to `n` characters, as PostgreSQL writes them. Tarn keeps `char(n)` values without
/// trailing spaces (`typmod`), so that comparisons, `length()` and `||` see what
/// PostgreSQL's bpchar sees; only a column still of that type is padded (any function
/// of it, or a cast to text, is text in PostgreSQL, without the spaces).
fn padded_chars<'a>(
    fields: &[FieldInfo],
    batch: &'a RecordBatch,
) -> std::borrow::Cow<'a, RecordBatch> {
    use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
    use datafusion::arrow::compute::cast;
    let pad = |array: &ArrayRef, n: usize| -> Option<ArrayRef> {
        let text = cast(array, &DataType::Utf8).ok()?;
        let text = text.as_string_opt::<i32>()?;
        let mut out = StringBuilder::with_capacity(text.len(), text.len() * n);
        let mut value = String::with_capacity(n);
        for s in text.iter() {
            let Some(s) = s else {
                out.append_null();
                continue;
            };
            value.clear();
            value.push_str(s);
            value.extend(std::iter::repeat_n(
                ' ',
                n.saturating_sub(s.chars().count()),
            ));
            out.append_value(&value);
        }
        cast(&(Arc::new(out.finish()) as ArrayRef), array.data_type()).ok()
    };
    let schema = batch.schema_ref();
    // The type modifier of character(n) is n + 4.
    let widths: Vec<Option<usize>> = fields
        .iter()
        .map(|f| {
            (f.datatype() == &Type::BPCHAR && f.type_modifier() > 4)
                .then(|| (f.type_modifier() - 4) as usize)
        })
        .collect();
    if widths.iter().all(Option::is_none) {
        return std::borrow::Cow::Borrowed(batch);
    }
    let columns = batch
        .columns()
        .iter()
        .zip(&widths)
        .map(|(column, width)| {
            width
                .and_then(|n| pad(column, n))
                .unwrap_or_else(|| Arc::clone(column))
        })
        .collect();
    match RecordBatch::try_new(Arc::clone(schema), columns) {
        Ok(padded) => std::borrow::Cow::Owned(padded),
        Err(_) => std::borrow::Cow::Borrowed(batch),
    }
}

/// Encodes row `row` of `array` into `encoder`: through `arrow-pg`, or as Tarn's own
/// text where Tarn writes the type's text itself.
fn encode_one(
    encoder: &mut DataRowEncoder,
    array: &datafusion::arrow::array::ArrayRef,
    row: usize,
    field: &datafusion::arrow::datatypes::Field,
    pg_field: &FieldInfo,
    iso_dates: bool,
) -> PgWireResult<()> {
    if pg_field.datatype() == &Type::JSONB && pg_field.format() == FieldFormat::Binary {
        // jsonb's binary form is a version byte (1) before the text.
        let value = tarn_sql::pg::string_value(array.as_ref(), row).map(|s| {
            let mut bytes = Vec::with_capacity(s.len() + 1);
            bytes.push(1u8);
            bytes.extend_from_slice(s.as_bytes());
            bytes
        });
        return encoder.encode_field_with_type_and_format(
            &value,
            &Type::JSONB,
            FieldFormat::Binary,
            pg_field.format_options(),
        );
    }
    if pg_field.datatype() == &Type::UUID && pg_field.format() == FieldFormat::Binary {
        // uuid's binary form is its 16 bytes.
        let value = tarn_sql::pg::string_value(array.as_ref(), row)
            .and_then(|s| uuid::Uuid::parse_str(&s).ok())
            .map(|u| u.as_bytes().to_vec());
        return encoder.encode_field_with_type_and_format(
            &value,
            &Type::UUID,
            FieldFormat::Binary,
            pg_field.format_options(),
        );
    }
    if arrays::flattened(array.data_type()).is_some() {
        return arrays::encode(encoder, array, row, pg_field, iso_dates);
    }
    if arrays::is_oid_list(array.data_type()) {
        return arrays::encode_oids(encoder, array, row, pg_field);
    }
    if pg_field.format() == FieldFormat::Text
        && let DataType::Struct(children) = array.data_type()
    {
        let text = composite_text(array, row, children, pg_field, iso_dates)?;
        return arrow_pg::encoder::Encoder::encode_field(encoder, &text, pg_field);
    }
    let own_text = if pg_field.format() == FieldFormat::Text {
        let time_zone = pg_field.format_options().time_zone.as_str();
        if let Some(text) = arrays::own_text(array, row, time_zone, iso_dates) {
            return arrays::write_text(encoder, text, pg_field);
        }
        super::text::value(array.as_ref(), row, time_zone, iso_dates)
    } else {
        None
    };
    match own_text {
        Some(text) => arrow_pg::encoder::Encoder::encode_field(encoder, &text, pg_field),
        None => encode_value(encoder, array, row, field, pg_field),
    }
}

/// A row (a struct) as PostgreSQL's composite text: `(1,x,,"a b")`. Each field is its
/// own type's text (through [`encode_one`]); NULL is nothing; a value that is empty or
/// holds a quote, backslash, parenthesis, comma or white space is quoted, with quotes
/// and backslashes doubled (PostgreSQL's `record_out`).
fn composite_text(
    array: &datafusion::arrow::array::ArrayRef,
    row: usize,
    children: &datafusion::arrow::datatypes::Fields,
    pg_field: &FieldInfo,
    iso_dates: bool,
) -> PgWireResult<Option<String>> {
    use datafusion::arrow::array::{Array, AsArray};
    if array.is_null(row) {
        return Ok(None);
    }
    let columns = array.as_struct();
    let infos = fields(
        &Schema::new(children.clone()),
        &Format::UnifiedText,
        Arc::new(pg_field.format_options().as_ref().clone()),
    )?;
    let mut text = String::from("(");
    for (i, (child, info)) in children.iter().zip(infos.iter()).enumerate() {
        if i > 0 {
            text.push(',');
        }
        let mut encoder = DataRowEncoder::new(Arc::new(vec![info.clone()]));
        encode_one(&mut encoder, columns.column(i), row, child, info, iso_dates)?;
        let encoded = encoder.take_row().data;
        let (len, value) = encoded.split_at(4.min(encoded.len()));
        if i32::from_be_bytes(len.try_into().unwrap_or([255; 4])) < 0 {
            continue;
        }
        tarn_sql::pg::text_out::push_field(&mut text, &String::from_utf8_lossy(value));
    }
    text.push(')');
    Ok(Some(text))
}

/// The PostgreSQL type a parameter of `data_type` is described as.
pub fn pg_type(data_type: &DataType) -> Type {
    if arrays::is_oid_list(data_type) {
        return Type::OID_ARRAY;
    }
    into_pg_type(data_type).unwrap_or(Type::TEXT)
}

/// The Arrow type a client-declared parameter type stands for (`None`: infer).
pub fn arrow_type(pg: &Type) -> Option<DataType> {
    Some(match *pg {
        Type::BOOL => DataType::Boolean,
        Type::INT2 => DataType::Int16,
        Type::INT4 => DataType::Int32,
        Type::INT8 => DataType::Int64,
        Type::FLOAT4 => DataType::Float32,
        Type::FLOAT8 => DataType::Float64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UUID => DataType::Utf8,
        Type::BYTEA => DataType::Binary,
        Type::DATE => DataType::Date32,
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Type::TIME => DataType::Time64(TimeUnit::Microsecond),
        Type::NUMERIC => DataType::Decimal128(38, 10),
        _ => match pg.kind() {
            postgres_types::Kind::Array(element) => {
                DataType::List(Arc::new(Field::new_list_field(arrow_type(element)?, true)))
            }
            _ => return None,
        },
    })
}

/// Decodes parameter `index` (0-based) sent in `binary` or text form as `pg` on the
/// wire, into a value of `target`.
pub fn parameter(
    index: usize,
    value: Option<&[u8]>,
    binary: bool,
    pg: &Type,
    target: &DataType,
) -> Result<ScalarValue, SqlError> {
    let number = index + 1;
    let Some(raw) = value else {
        return ScalarValue::try_from(target).map_err(SqlError::DataFusion);
    };
    if !binary {
        let text = std::str::from_utf8(raw).map_err(|e| SqlError::InvalidParameter {
            index: number,
            reason: e.to_string(),
        })?;
        return params::from_text(number, text, target);
    }
    let bad = |e: Box<dyn std::error::Error + Sync + Send>| SqlError::InvalidParameter {
        index: number,
        reason: e.to_string(),
    };
    let value = match *pg {
        Type::BOOL => ScalarValue::Boolean(Some(bool::from_sql(pg, raw).map_err(bad)?)),
        Type::INT2 => ScalarValue::Int16(Some(i16::from_sql(pg, raw).map_err(bad)?)),
        Type::INT4 => ScalarValue::Int32(Some(i32::from_sql(pg, raw).map_err(bad)?)),
        Type::INT8 => ScalarValue::Int64(Some(i64::from_sql(pg, raw).map_err(bad)?)),
        Type::FLOAT4 => ScalarValue::Float32(Some(f32::from_sql(pg, raw).map_err(bad)?)),
        Type::FLOAT8 => ScalarValue::Float64(Some(f64::from_sql(pg, raw).map_err(bad)?)),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            ScalarValue::Utf8(Some(String::from_sql(pg, raw).map_err(bad)?))
        }
        Type::BYTEA => ScalarValue::Binary(Some(Vec::<u8>::from_sql(pg, raw).map_err(bad)?)),
        Type::DATE => {
            let date = NaiveDate::from_sql(pg, raw).map_err(bad)?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a valid date");
            ScalarValue::Date32(Some((date - epoch).num_days() as i32))
        }
        Type::TIME => {
            let time = NaiveTime::from_sql(pg, raw).map_err(bad)?;
            let micros = (time - NaiveTime::MIN)
                .num_microseconds()
                .unwrap_or_default();
            ScalarValue::Time64Microsecond(Some(micros))
        }
        Type::TIMESTAMP => {
            let ts = NaiveDateTime::from_sql(pg, raw).map_err(bad)?;
            ScalarValue::TimestampMicrosecond(Some(ts.and_utc().timestamp_micros()), None)
        }
        Type::TIMESTAMPTZ => {
            let ts = DateTime::<Utc>::from_sql(pg, raw).map_err(bad)?;
            ScalarValue::TimestampMicrosecond(Some(ts.timestamp_micros()), Some("UTC".into()))
        }
        Type::NUMERIC => {
            let d = rust_decimal::Decimal::from_sql(pg, raw).map_err(bad)?;
            ScalarValue::Utf8(Some(d.to_string()))
        }
        Type::OID => ScalarValue::UInt32(Some(u32::from_sql(pg, raw).map_err(bad)?)),
        Type::UUID => {
            let bytes: [u8; 16] = raw.try_into().map_err(|_| SqlError::InvalidParameter {
                index: number,
                reason: "a uuid's binary form is 16 bytes".into(),
            })?;
            let text = uuid::Uuid::from_bytes(bytes).hyphenated().to_string();
            return params::from_text(number, &text, target);
        }
        Type::INTERVAL => interval(raw).ok_or_else(|| SqlError::InvalidParameter {
            index: number,
            reason: "an interval's binary form is 16 bytes".into(),
        })?,
        // json's binary form is its text; jsonb's is a version byte (1) before it.
        Type::JSON | Type::JSONB => {
            let text = match (pg == &Type::JSONB, raw.split_first()) {
                (false, _) => raw,
                (true, Some((1, text))) => text,
                (true, _) => {
                    return Err(SqlError::InvalidParameter {
                        index: number,
                        reason: "unsupported jsonb version number".into(),
                    });
                }
            };
            let text = std::str::from_utf8(text).map_err(|e| bad(Box::new(e)))?;
            return params::from_text(number, text, target);
        }
        _ => match pg.kind() {
            postgres_types::Kind::Array(element) => array(index, raw, element, target)?,
            _ => {
                return Err(SqlError::NotSupported {
                    feature: format!("binary parameters of type {}", pg.name()),
                });
            }
        },
    };
    params::coerce(number, value, target)
}

/// An interval's binary form: microseconds (i64), days (i32), months (i32).
fn interval(raw: &[u8]) -> Option<ScalarValue> {
    let micros = i64::from_be_bytes(raw.get(0..8)?.try_into().ok()?);
    let days = i32::from_be_bytes(raw.get(8..12)?.try_into().ok()?);
    let months = i32::from_be_bytes(raw.get(12..16)?.try_into().ok()?);
    (raw.len() == 16).then_some(ScalarValue::IntervalMonthDayNano(Some(
        datafusion::arrow::datatypes::IntervalMonthDayNano::new(
            months,
            days,
            micros.saturating_mul(1000),
        ),
    )))
}

/// An array's binary form (dimensions, a null flag, the element type, each
/// dimension's length and lower bound, then each element's length, -1 for NULL, and
/// bytes), each element decoded as a parameter of `element`'s type; of several
/// dimensions, lists of lists (`params::nested_list`).
fn array(
    index: usize,
    raw: &[u8],
    element: &Type,
    target: &DataType,
) -> Result<ScalarValue, SqlError> {
    let malformed = || SqlError::InvalidParameter {
        index: index + 1,
        reason: "malformed binary array".into(),
    };
    let mut rest = raw;
    let mut int = || -> Result<i32, SqlError> {
        let (head, tail) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        rest = tail;
        Ok(i32::from_be_bytes(*head))
    };
    let dimensions = int()?;
    let _has_nulls = int()?;
    let _element_oid = int()?;
    let dimensions = usize::try_from(dimensions).map_err(|_| malformed())?;
    if dimensions > 6 {
        return Err(SqlError::TooManyDimensions(dimensions));
    }
    let mut shape = Vec::with_capacity(dimensions);
    for _ in 0..dimensions {
        shape.push(usize::try_from(int()?).map_err(|_| malformed())?);
        let _lower_bound = int()?;
    }
    let length = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .filter(|_| !shape.is_empty())
        .unwrap_or(0);
    let item_type = match params::list_depth(target) {
        (1.., item) => item.clone(),
        _ => arrow_type(element).unwrap_or(DataType::Utf8),
    };
    let mut elements = Vec::with_capacity(length.min(rest.len() / 4));
    for _ in 0..length {
        let (head, tail) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
        let size = i32::from_be_bytes(*head);
        rest = tail;
        let value = match usize::try_from(size) {
            Ok(size) if size <= rest.len() => {
                let (bytes, tail) = rest.split_at(size);
                rest = tail;
                parameter(index, Some(bytes), true, element, &item_type)?
            }
            Err(_) if size == -1 => {
                ScalarValue::try_from(&item_type).map_err(SqlError::DataFusion)?
            }
            _ => return Err(malformed()),
        };
        elements.push(value);
    }
    if !rest.is_empty() {
        return Err(malformed());
    }
    Ok(params::nested_list(&elements, &shape, &item_type))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_lists_are_made_again_only_when_what_they_come_from_changes() {
        use datafusion::arrow::datatypes::Field;
        let cache = FieldCache::default();
        let schema = Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, true)]));
        let mut settings = Settings::default();
        let first = cache
            .fields(&schema, &Format::UnifiedText, &settings)
            .expect("fields");
        let again = cache
            .fields(&schema, &Format::UnifiedText, &settings.clone())
            .expect("fields");
        assert!(Arc::ptr_eq(&first, &again), "kept");
        let binary = cache
            .fields(&schema, &Format::UnifiedBinary, &settings)
            .expect("fields");
        assert!(!Arc::ptr_eq(&first, &binary), "another format");
        assert_eq!(binary[0].format(), FieldFormat::Binary);
        settings.set("DateStyle", "ISO, DMY").expect("set");
        let german = cache
            .fields(&schema, &Format::UnifiedBinary, &settings)
            .expect("fields");
        assert!(!Arc::ptr_eq(&binary, &german), "other settings");
        assert_eq!(german[0].format_options().date_style, "ISO, DMY");
        let equal = Arc::new(schema.as_ref().clone());
        let same = cache
            .fields(&equal, &Format::UnifiedBinary, &settings)
            .expect("fields");
        assert!(Arc::ptr_eq(&german, &same), "an equal schema");
        let other = Arc::new(Schema::new(vec![Field::new("e", DataType::Date32, true)]));
        let fresh = cache
            .fields(&other, &Format::UnifiedBinary, &settings)
            .expect("fields");
        assert!(!Arc::ptr_eq(&german, &fresh), "another schema");
    }

    fn text() -> CopyFormat {
        CopyFormat {
            csv: false,
            header: false,
            delimiter: b'\t',
            null: "\\N".to_owned(),
            quote: b'"',
        }
    }

    fn csv() -> CopyFormat {
        CopyFormat {
            csv: true,
            header: true,
            delimiter: b',',
            null: String::new(),
            quote: b'"',
        }
    }

    fn copy_value(value: Option<&[u8]>, format: &CopyFormat) -> String {
        let mut line = bytes::BytesMut::new();
        match value {
            None => line.extend_from_slice(format.null.as_bytes()),
            Some(value) => push_copy_value(&mut line, value, format),
        }
        String::from_utf8(line.to_vec()).expect("escaping keeps UTF-8")
    }

    /// The column-at-a-time text agrees, byte for byte, with the value-at-a-time
    /// encoding (arrow-pg's, and Tarn's own for the types the oracle tests compare with
    /// PostgreSQL), for values at the edges of each type and for NULLs.
    #[test]
    fn text_columns_match_the_value_by_value_encoding() {
        use datafusion::arrow::array::{
            ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int16Array,
            Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
        };
        use datafusion::arrow::datatypes::Field;

        let columns: Vec<(&str, ArrayRef)> = vec![
            (
                "i2",
                Arc::new(Int16Array::from(vec![
                    Some(i16::MIN),
                    None,
                    Some(0),
                    Some(i16::MAX),
                    Some(-7),
                ])),
            ),
            (
                "i4",
                Arc::new(Int32Array::from(vec![
                    Some(i32::MIN),
                    Some(1),
                    None,
                    Some(i32::MAX),
                    Some(-1),
                ])),
            ),
            (
                "i8",
                Arc::new(Int64Array::from(vec![
                    Some(i64::MIN),
                    Some(42),
                    Some(0),
                    None,
                    Some(i64::MAX),
                ])),
            ),
            (
                "b",
                Arc::new(BooleanArray::from(vec![
                    Some(true),
                    Some(false),
                    None,
                    Some(true),
                    Some(false),
                ])),
            ),
            (
                "n",
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(1700),
                        Some(-5),
                        Some(0),
                        None,
                        Some(-123456789012345),
                    ])
                    .with_precision_and_scale(15, 2)
                    .expect("valid decimal"),
                ),
            ),
            (
                "n6",
                Arc::new(
                    Decimal128Array::from(vec![
                        Some(1),
                        Some(-1234567),
                        Some(1000000),
                        None,
                        Some(-12_345_678_901_234_567_890_123),
                    ])
                    .with_precision_and_scale(38, 6)
                    .expect("valid decimal"),
                ),
            ),
            (
                "n0",
                Arc::new(
                    Decimal128Array::from(vec![Some(17), Some(-5), Some(0), None, Some(9)])
                        .with_precision_and_scale(10, 0)
                        .expect("valid decimal"),
                ),
            ),
            (
                "t",
                Arc::new(StringArray::from(vec![
                    Some("a\tb"),
                    Some(""),
                    None,
                    Some("héllo"),
                    Some("x,y"),
                ])),
            ),
            (
                "d",
                Arc::new(Date32Array::from(vec![
                    Some(0),
                    Some(-719162),
                    Some(2932896),
                    None,
                    Some(19000),
                ])),
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(0.1),
                    Some(1e20),
                    Some(-0.0),
                    Some(f64::NAN),
                    None,
                ])),
            ),
            (
                "ts",
                Arc::new(TimestampMicrosecondArray::from(vec![
                    Some(0),
                    None,
                    Some(1_709_521_567_123_456),
                    Some(-1),
                    Some(5),
                ])),
            ),
        ];
        let schema = Arc::new(Schema::new(
            columns
                .iter()
                .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
                .collect::<Vec<_>>(),
        ));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("batch");
        let fields = fields(
            &schema,
            &Format::UnifiedText,
            Arc::new(FormatOptions::default()),
        )
        .expect("fields");

        let by_column: Vec<DataRow> = encode_batch(&fields, &batch, &[])
            .into_iter()
            .collect::<PgWireResult<_>>()
            .expect("encodes");
        let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
        for (row, encoded) in by_column.iter().enumerate() {
            for (col, pg_field) in fields.iter().enumerate() {
                encode_one(
                    &mut encoder,
                    batch.column(col),
                    row,
                    schema.field(col),
                    pg_field,
                    true,
                )
                .expect("encodes");
            }
            let expected = encoder.take_row();
            assert_eq!(encoded, &expected, "row {row}");
        }
        assert_eq!(by_column.len(), 5);
    }

    // Expected strings are what PostgreSQL 15's COPY writes for the same values.
    #[test]
    fn text_format_escapes_like_postgres() {
        assert_eq!(copy_value(None, &text()), "\\N");
        assert_eq!(copy_value(Some(b"a\tb\nc\\d"), &text()), "a\\tb\\nc\\\\d");
        assert_eq!(copy_value(Some(b"plain"), &text()), "plain");
        assert_eq!(copy_value(Some(b"a\rb"), &text()), "a\\rb");
    }

    #[test]
    fn csv_quotes_only_when_needed_and_keeps_null_distinct_from_empty() {
        assert_eq!(copy_value(None, &csv()), "");
        assert_eq!(copy_value(Some(b""), &csv()), "\"\"");
        assert_eq!(copy_value(Some(b"plain"), &csv()), "plain");
        assert_eq!(copy_value(Some(b"x,y \"q\""), &csv()), "\"x,y \"\"q\"\"\"");
    }
}
