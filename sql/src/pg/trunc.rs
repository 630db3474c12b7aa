//! `date_trunc(unit, value)` as PostgreSQL 15 computes it for a `timestamp with time
//! zone` or a `date`: the truncation happens in the session's `TimeZone` (in New York,
//! `date_trunc('day', timestamptz '2024-03-15 02:30+00')` is `2024-03-14
//! 00:00:00-04`; DataFusion truncated in UTC, `2024-03-14 20:00:00-04`, which put a
//! dashboard's rows in the wrong day), and a date is read as a `timestamp with time
//! zone` at its midnight there, answering one (DataFusion answered a `timestamp`).
//! Timestamps without time zone, and any value in a UTC session, keep DataFusion's
//! own `date_trunc`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::to_char::SessionZone;
use crate::error::SqlError;

/// `date_trunc` truncating in `time_zone` (the session's `TimeZone`).
pub(crate) fn udf(time_zone: &str) -> ScalarUDF {
    ScalarUDF::new_from_impl(DateTrunc {
        inner: datafusion::functions::datetime::date_trunc(),
        signature: Signature::user_defined(Volatility::Stable),
        time_zone: time_zone.to_owned(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct DateTrunc {
    inner: Arc<ScalarUDF>,
    signature: Signature,
    time_zone: String,
}

fn timestamptz() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()))
}

impl ScalarUDFImpl for DateTrunc {
    fn name(&self) -> &str {
        "date_trunc"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        // date_trunc(unit, timestamptz, zone): truncated in the zone named.
        if let [_, value, zone] = args {
            let texts = |t: &DataType| {
                matches!(
                    t,
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
                )
            };
            if texts(zone)
                && (texts(value)
                    || matches!(
                        value,
                        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
                    ))
            {
                return Ok(vec![DataType::Utf8, timestamptz(), DataType::Utf8]);
            }
        }
        let value = match args {
            [
                _,
                v @ (DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)),
            ] => v.clone(),
            [
                _,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null,
            ] => timestamptz(),
            [
                _,
                DataType::Time64(_) | DataType::Time32(_) | DataType::Interval(_),
            ] => args[1].clone(),
            _ => {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                return plan_err!("function date_trunc({}) does not exist", types.join(", "));
            }
        };
        Ok(vec![DataType::Utf8, value])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match &args[1] {
            DataType::Date32 | DataType::Date64 => Ok(timestamptz()),
            other => Ok(other.clone()),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let value_type = args.args[1].data_type();
        let dated = matches!(value_type, DataType::Date32 | DataType::Date64);
        let zoned = matches!(value_type, DataType::Timestamp(_, Some(_)));
        // The zone named by a third argument (one value: a literal, as it is written),
        // else the session's.
        let zone = match args.args.get(2) {
            Some(named) => {
                let named = named.to_array(1)?;
                let named = datafusion::arrow::compute::cast(&named, &DataType::Utf8)?;
                let named = named.as_string::<i32>();
                if named.is_null(0) {
                    let nulls =
                        datafusion::arrow::array::new_null_array(&value_type, args.number_rows);
                    return Ok(ColumnarValue::Array(nulls));
                }
                named_zone(named.value(0))?
            }
            None => SessionZone::parse(&self.time_zone),
        };
        if !dated && (!zoned || zone.is_utc()) {
            let mut args = args;
            args.args.truncate(2);
            args.arg_fields.truncate(2);
            return self.inner.invoke_with_args(args);
        }
        let rows = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let units = args.args[0].to_array(rows)?;
        let units = units.as_string::<i32>();
        let values = args.args[1].to_array(rows)?;
        let instants = super::to_char::instants(&values)?;
        let mut out = Vec::with_capacity(rows);
        let mut unit: Option<(String, Unit)> = None;
        for row in 0..rows {
            let Some(instant) = instants[row].filter(|_| !units.is_null(row)) else {
                out.push(None);
                continue;
            };
            let name = units.value(row);
            if unit.as_ref().map(|(n, _)| n.as_str()) != Some(name) {
                let parsed = Unit::parse(name).ok_or_else(|| {
                    DataFusionError::External(Box::new(SqlError::InvalidParameterValue(format!(
                        "unit \"{}\" not recognized for type timestamp with time zone",
                        name.to_ascii_lowercase()
                    ))))
                })?;
                unit = Some((name.to_owned(), parsed));
            }
            let unit = unit.as_ref().expect("parsed above").1;
            // A date is its midnight in the session's zone; a timestamp with time zone
            // an instant (UTC).
            let utc = match dated {
                true => zone.utc_of(&instant),
                false => instant,
            };
            let local = zone.local_time(&utc);
            let truncated = truncate(&local, unit);
            // Below a day the value keeps its offset; from a day up the offset is the
            // one in force at the truncated time (PostgreSQL's `redotz`).
            let instant = match unit < Unit::Day {
                true => utc - (local - truncated),
                false => zone.utc_of(&truncated),
            };
            out.push(Some(instant.and_utc().timestamp_micros()));
        }
        let mut array = TimestampMicrosecondArray::from(out);
        array = match &value_type {
            DataType::Timestamp(_, Some(tz)) => array.with_timezone(tz.clone()),
            _ => array.with_timezone("+00:00"),
        };
        let array: ArrayRef = Arc::new(array);
        let array = match &value_type {
            DataType::Timestamp(unit, tz) if *unit != TimeUnit::Microsecond => {
                datafusion::arrow::compute::cast(&array, &DataType::Timestamp(*unit, tz.clone()))?
            }
            _ => array,
        };
        super::answer(array, scalar)
    }
}

/// A zone named in `date_trunc`'s third argument: an IANA name or an offset, else
/// PostgreSQL's error (22023).
fn named_zone(name: &str) -> Result<SessionZone> {
    let known = name.parse::<chrono_tz::Tz>().is_ok()
        || name
            .parse::<datafusion::arrow::array::timezone::Tz>()
            .is_ok();
    match known {
        true => Ok(SessionZone::parse(name)),
        false => Err(DataFusionError::External(Box::new(
            SqlError::InvalidParameterValue(format!("time zone \"{name}\" not recognized")),
        ))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
enum Unit {
    Microseconds,
    Milliseconds,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
    Decade,
    Century,
    Millennium,
}

impl Unit {
    /// PostgreSQL's unit names, with its plurals and abbreviations.
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "microseconds" | "microsecond" | "us" | "usec" | "usecs" | "useconds" => {
                Self::Microseconds
            }
            "milliseconds" | "millisecond" | "ms" | "msec" | "msecs" | "mseconds" => {
                Self::Milliseconds
            }
            "second" | "seconds" | "s" | "sec" | "secs" => Self::Second,
            "minute" | "minutes" | "m" | "min" | "mins" => Self::Minute,
            "hour" | "hours" | "h" | "hr" | "hrs" => Self::Hour,
            "day" | "days" | "d" => Self::Day,
            "week" | "weeks" | "w" => Self::Week,
            "month" | "months" | "mon" | "mons" => Self::Month,
            "quarter" | "qtr" => Self::Quarter,
            "year" | "years" | "y" | "yr" | "yrs" => Self::Year,
            "decade" | "decades" | "dec" | "decs" => Self::Decade,
            "century" | "centuries" | "c" | "cent" => Self::Century,
            "millennium" | "millennia" | "mil" | "mils" | "millennias" => Self::Millennium,
            _ => return None,
        })
    }
}

/// The first year of the century (`span` 100) or millennium (1000) holding `year`:
/// 2001 for 2024's century, and symmetrically before year 1 (PostgreSQL has no year 0).
fn first_year(year: i32, span: i32) -> i32 {
    match year > 0 {
        true => (year + span - 1) / span * span - (span - 1),
        false => -((span - 1 - (year - 1)) / span * span - 1),
    }
}

/// `local` truncated to `unit`, as PostgreSQL's `timestamp_trunc` does it.
fn truncate(local: &NaiveDateTime, unit: Unit) -> NaiveDateTime {
    let date = local.date();
    let first_of = |year: i32, month: u32| NaiveDate::from_ymd_opt(year, month, 1).unwrap_or(date);
    let day = match unit {
        Unit::Microseconds => return *local,
        Unit::Milliseconds => {
            let nanos = local.nanosecond() / 1_000_000 * 1_000_000;
            return local.with_nanosecond(nanos).unwrap_or(*local);
        }
        Unit::Second => return local.with_nanosecond(0).unwrap_or(*local),
        Unit::Minute => {
            return date
                .and_hms_opt(local.hour(), local.minute(), 0)
                .unwrap_or(*local);
        }
        Unit::Hour => return date.and_hms_opt(local.hour(), 0, 0).unwrap_or(*local),
        Unit::Day => date,
        Unit::Week => date - chrono::Duration::days(date.weekday().num_days_from_monday().into()),
        Unit::Month => first_of(date.year(), date.month()),
        Unit::Quarter => first_of(date.year(), (date.month() - 1) / 3 * 3 + 1),
        Unit::Year => first_of(date.year(), 1),
        Unit::Decade => first_of(date.year().div_euclid(10) * 10, 1),
        Unit::Century => first_of(first_year(date.year(), 100), 1),
        Unit::Millennium => first_of(first_year(date.year(), 1000), 1),
    };
    day.and_hms_opt(0, 0, 0).expect("midnight")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("time")
    }

    #[test]
    fn fields_are_truncated_as_postgresql_truncates_them() {
        // PostgreSQL 15's answers for timestamp '2024-05-15 10:20:30.123456'.
        let t = at("2024-05-15 10:20:30.123456");
        let cases = [
            (Unit::Milliseconds, "2024-05-15 10:20:30.123000"),
            (Unit::Second, "2024-05-15 10:20:30.0"),
            (Unit::Minute, "2024-05-15 10:20:00.0"),
            (Unit::Hour, "2024-05-15 10:00:00.0"),
            (Unit::Day, "2024-05-15 00:00:00.0"),
            (Unit::Week, "2024-05-13 00:00:00.0"),
            (Unit::Month, "2024-05-01 00:00:00.0"),
            (Unit::Quarter, "2024-04-01 00:00:00.0"),
            (Unit::Year, "2024-01-01 00:00:00.0"),
            (Unit::Decade, "2020-01-01 00:00:00.0"),
            (Unit::Century, "2001-01-01 00:00:00.0"),
            (Unit::Millennium, "2001-01-01 00:00:00.0"),
        ];
        for (unit, expected) in cases {
            assert_eq!(truncate(&t, unit), at(expected), "{unit:?}");
        }
    }
}
