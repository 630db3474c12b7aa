//! `x AT TIME ZONE zone` and `timezone(zone, x)`, as PostgreSQL reads them:
//!
//! - a `timestamp` (wall-clock time) is read as the local time in `zone` and gives the
//!   instant, a `timestamptz`: `timestamp '2024-01-01 10:00' AT TIME ZONE
//!   'America/New_York'` is `2024-01-01 15:00:00+00`;
//! - a `timestamptz` (an instant; a `date` is one, midnight in the session's zone,
//!   UTC in Tarn) gives the wall-clock time in `zone`, a `timestamp`:
//!   `timestamptz '2024-01-01 10:00+00' AT TIME ZONE 'Asia/Tokyo'` is `2024-01-01
//!   19:00:00`. DataFusion relabelled the instant instead (`10:00:00+00`), so
//!   converting a stored UTC instant to a local time for a dashboard did nothing.
//!
//! Zones are IANA names in any case (`asia/tokyo`), abbreviations that are zones of
//! their own (`UTC`, `EST`), or POSIX offsets (`+05` is five hours *west* of
//! Greenwich, as in PostgreSQL). A local time that a daylight saving switch makes
//! ambiguous is read as the later instant, one it skips with the offset before the
//! switch, as PostgreSQL does. Other zones are refused with 22023.

use std::sync::Arc;

use chrono::{NaiveDateTime, Offset, TimeZone};
use datafusion::arrow::array::{Array, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::common::{Result, plan_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{self, Expr, Statement};

use crate::error::SqlError;

/// Rewrites `x AT TIME ZONE z` into `timezone(z, x)` throughout `statement`.
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let Expr::AtTimeZone {
            timestamp,
            time_zone,
        } = expr
        {
            *expr = super::call("timezone", vec![*time_zone.clone(), *timestamp.clone()]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(AtZone {
        signature: Signature::user_defined(Volatility::Stable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct AtZone {
    signature: Signature,
}

/// The timestamptz type Tarn computes with (UTC).
pub(crate) fn instant_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

fn local_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

/// Whether values of `data_type` are instants (timestamptz, and dates, which
/// PostgreSQL casts to timestamptz here).
fn is_instant(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Timestamp(_, Some(_)) | DataType::Date32 | DataType::Date64
    )
}

impl ScalarUDFImpl for AtZone {
    fn name(&self) -> &str {
        "timezone"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [_, value] if is_instant(value) => Ok(vec![DataType::Utf8, instant_type()]),
            [
                _,
                DataType::Timestamp(_, None) | DataType::Utf8 | DataType::Null,
            ] => Ok(vec![DataType::Utf8, local_type()]),
            [_, other] => plan_err!("function timezone(text, {other}) does not exist"),
            _ => plan_err!("timezone takes a zone and a timestamp"),
        }
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(match args.get(1).is_some_and(is_instant) {
            true => local_type(),
            false => instant_type(),
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let to_local = is_instant(&args.args[1].data_type());
        let zones = args.args[0].to_array(rows)?;
        let zones = datafusion::arrow::compute::cast(&zones, &DataType::Utf8)?;
        let zones = zones.as_string::<i32>();
        let values = args.args[1].to_array(rows)?;
        let values = datafusion::arrow::compute::cast(&values, &local_type())?;
        let values = values.as_primitive::<TimestampMicrosecondType>();
        let mut parsed: Option<(String, Zone)> = None;
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            if zones.is_null(row) || values.is_null(row) {
                out.push(None);
                continue;
            }
            let name = zones.value(row);
            if parsed.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
                let zone = Zone::parse(name).ok_or_else(|| {
                    DataFusionError::External(Box::new(SqlError::UnknownTimeZone(name.to_owned())))
                })?;
                parsed = Some((name.to_owned(), zone));
            }
            let zone = &parsed.as_ref().expect("parsed above").1;
            let Some(t) = chrono::DateTime::from_timestamp_micros(values.value(row)) else {
                out.push(None);
                continue;
            };
            let converted = match to_local {
                true => zone.local(&t.naive_utc()),
                false => zone.instant(&t.naive_utc()),
            };
            out.push(Some(converted.and_utc().timestamp_micros()));
        }
        let array = TimestampMicrosecondArray::from(out);
        let array: Arc<dyn Array> = match to_local {
            true => Arc::new(array),
            false => Arc::new(array.with_timezone("+00:00")),
        };
        super::answer(array, scalar)
    }
}

enum Zone {
    Named(chrono_tz::Tz),
    Fixed(chrono::FixedOffset),
}

impl Zone {
    fn parse(name: &str) -> Option<Self> {
        let name = name.trim();
        if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
            return Some(Self::Named(tz));
        }
        if let Some(tz) = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(name))
        {
            return Some(Self::Named(*tz));
        }
        // POSIX offsets: hours (and minutes) *west* of Greenwich.
        let (sign, rest) = match name.as_bytes().first()? {
            b'+' => (-1, &name[1..]),
            b'-' => (1, &name[1..]),
            b'0'..=b'9' => (-1, name),
            _ => return None,
        };
        let mut parts = rest.split(':');
        let hours: i32 = parts.next()?.parse().ok()?;
        let minutes: i32 = parts.next().map_or(Some(0), |m| m.parse().ok())?;
        if parts.next().is_some() || hours > 15 || minutes >= 60 {
            return None;
        }
        chrono::FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)).map(Self::Fixed)
    }

    /// The wall-clock time in this zone of the UTC time `utc`.
    fn local(&self, utc: &NaiveDateTime) -> NaiveDateTime {
        let offset = match self {
            Self::Named(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc(),
            Self::Fixed(offset) => offset.local_minus_utc(),
        };
        *utc + chrono::Duration::seconds(offset.into())
    }

    /// The UTC time of the wall-clock time `local` in this zone.
    fn instant(&self, local: &NaiveDateTime) -> NaiveDateTime {
        match self {
            Self::Fixed(offset) => {
                *local - chrono::Duration::seconds(offset.local_minus_utc().into())
            }
            Self::Named(tz) => match tz.from_local_datetime(local) {
                chrono::LocalResult::Single(t) => t.naive_utc(),
                // A time the switch back repeats: the later instant.
                chrono::LocalResult::Ambiguous(_, later) => later.naive_utc(),
                // A time the switch forward skips: the offset before it.
                chrono::LocalResult::None => {
                    let before = *local - chrono::Duration::hours(3);
                    let offset = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
                    *local - chrono::Duration::seconds(offset.into())
                }
            },
        }
    }
}
