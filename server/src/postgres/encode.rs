//! Arrow to wire: row descriptions, data rows and parameter values.
//!
//! Encoding of values is `arrow-pg`'s (maintained with pgwire, it covers text and
//! binary for the PostgreSQL types Tarn produces); this module adds streaming over
//! DataFusion's batches and the mapping of parameters the other way.

use std::sync::Arc;

use arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use arrow_pg::encoder::encode_value;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use datafusion::arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::scalar::ScalarValue;
use futures::{Stream, StreamExt, TryStreamExt};
use pgwire::api::Type;
use pgwire::api::portal::Format;
use pgwire::api::results::FieldInfo;
use pgwire::api::results::{DataRowEncoder, FieldFormat};
use pgwire::error::{PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use postgres_types::FromSql;
use tarn_sql::settings::Settings;
use tarn_sql::{Session, SqlError, params};

use super::sqlstate::error_info;

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

/// The RowDescription fields for `schema`, in the formats the client asked for.
pub fn fields(
    schema: &Schema,
    format: &Format,
    options: Arc<FormatOptions>,
) -> PgWireResult<Arc<Vec<FieldInfo>>> {
    Ok(Arc::new(arrow_schema_to_pg_fields(
        schema,
        format,
        Some(options),
    )?))
}

/// Data rows for every batch of `stream`, encoded as produced. A failure while
/// streaming marks the session's statement as failed (for transaction state).
pub fn rows(
    session: Arc<Session>,
    fields: Arc<Vec<FieldInfo>>,
    stream: SendableRecordBatchStream,
) -> impl Stream<Item = PgWireResult<DataRow>> + Send + 'static {
    stream
        .map(move |batch| match batch {
            Ok(batch) => Ok(futures::stream::iter(encode_batch(
                Arc::clone(&fields),
                batch,
            ))),
            Err(e) => {
                session.statement_failed();
                Err(user_error(&SqlError::DataFusion(e)))
            }
        })
        .try_flatten()
}

/// Encodes each row of `batch`. Values go through `arrow-pg`, except the text form of
/// the types whose PostgreSQL spelling Tarn writes itself (see [`super::text`]).
fn encode_batch(
    fields: Arc<Vec<FieldInfo>>,
    batch: RecordBatch,
) -> impl Iterator<Item = PgWireResult<DataRow>> {
    let mut encoder = DataRowEncoder::new(Arc::clone(&fields));
    let schema = batch.schema();
    (0..batch.num_rows()).map(move |row| {
        for (col, pg_field) in fields.iter().enumerate() {
            let array = batch.column(col);
            let own_text = if pg_field.format() == FieldFormat::Text {
                let time_zone = pg_field.format_options().time_zone.as_str();
                super::text::value(array.as_ref(), row, time_zone)
            } else {
                None
            };
            match own_text {
                Some(text) => {
                    arrow_pg::encoder::Encoder::encode_field(&mut encoder, &text, pg_field)?
                }
                None => encode_value(&mut encoder, array, row, schema.field(col), pg_field)?,
            }
        }
        Ok(encoder.take_row())
    })
}

/// The PostgreSQL type a parameter of `data_type` is described as.
pub fn pg_type(data_type: &DataType) -> Type {
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
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => DataType::Utf8,
        Type::BYTEA => DataType::Binary,
        Type::DATE => DataType::Date32,
        Type::TIMESTAMP => DataType::Timestamp(TimeUnit::Microsecond, None),
        Type::TIMESTAMPTZ => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Type::TIME => DataType::Time64(TimeUnit::Microsecond),
        Type::NUMERIC => DataType::Decimal128(38, 10),
        _ => return None,
    })
}

/// Decodes parameter `index` (0-based) sent in `binary` or text form as `pg` on the
/// wire, into a value of `target`.
pub fn parameter(
    index: usize,
    value: Option<&Bytes>,
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
        _ => {
            return Err(SqlError::NotSupported {
                feature: format!("binary parameters of type {}", pg.name()),
            });
        }
    };
    params::coerce(number, value, target)
}
