//! PostgreSQL's text output for the types where `arrow-pg`'s differs from it: floats
//! (`1e+20`, `-Infinity`), timestamps and times (trailing zeros of fractions dropped,
//! `+00` for `timestamptz`) and intervals (`1 mon 2 days 03:04:05.5`). Checked against a real
//! PostgreSQL 15 by the oracle tests.

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeZone, Timelike};
use datafusion::arrow::array::timezone::Tz;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{
    DataType, Date32Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Float32Type, Float64Type, IntervalDayTimeType, IntervalMonthDayNanoType,
    IntervalUnit, IntervalYearMonthType, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use tarn_sql::pg::text_out::fraction;

/// Whether [`value`] writes values of `data_type` (else `arrow-pg` does).
pub fn writes(data_type: &DataType, iso_dates: bool) -> bool {
    (iso_dates && data_type == &DataType::Date32)
        || matches!(
            data_type,
            DataType::Float32
                | DataType::Float64
                | DataType::Timestamp(_, _)
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Interval(_)
                | DataType::Duration(_)
        )
}

/// The text PostgreSQL would send for row `row` of `array`, when Tarn formats this type
/// itself: `Some(None)` is NULL, `None` means "not one of these types". Dates are
/// written here only when `iso_dates` (DateStyle ISO, the default) and in years 1 to
/// 9999; others go through pgwire's DateStyle formatting, which parses a strftime
/// pattern for every value (about an eighth of `COPY lineitem TO STDOUT`).
pub fn value(
    array: &dyn Array,
    row: usize,
    time_zone: &str,
    iso_dates: bool,
) -> Option<Option<String>> {
    if !writes(array.data_type(), iso_dates) {
        return None;
    }
    if array.is_null(row) {
        return Some(None);
    }
    Some(Some(match array.data_type() {
        DataType::Date32 => iso_date(array.as_primitive::<Date32Type>().value_as_date(row)?)?,
        DataType::Float32 => float4(array.as_primitive::<Float32Type>().value(row)),
        DataType::Float64 => float8(array.as_primitive::<Float64Type>().value(row)),
        DataType::Timestamp(unit, tz) => {
            let nanos = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<TimestampSecondType>().value(row) as i128 * 1_000_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<TimestampMillisecondType>().value(row) as i128 * 1_000_000
                }
                TimeUnit::Microsecond => {
                    array.as_primitive::<TimestampMicrosecondType>().value(row) as i128 * 1_000
                }
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row) as i128
                }
            };
            // PostgreSQL keeps microseconds.
            let micros = nanos.div_euclid(1_000) as i64;
            match tz {
                None => timestamp(micros),
                Some(_) => timestamptz(micros, time_zone),
            }
        }
        DataType::Time32(unit) => {
            let micros = match unit {
                TimeUnit::Millisecond => {
                    array.as_primitive::<Time32MillisecondType>().value(row) as i64 * 1_000
                }
                _ => array.as_primitive::<Time32SecondType>().value(row) as i64 * 1_000_000,
            };
            time(micros)
        }
        DataType::Time64(unit) => time(match unit {
            TimeUnit::Nanosecond => array.as_primitive::<Time64NanosecondType>().value(row) / 1_000,
            _ => array.as_primitive::<Time64MicrosecondType>().value(row),
        }),
        DataType::Interval(IntervalUnit::YearMonth) => interval(
            array.as_primitive::<IntervalYearMonthType>().value(row),
            0,
            0,
        ),
        DataType::Interval(IntervalUnit::DayTime) => {
            let v = array.as_primitive::<IntervalDayTimeType>().value(row);
            interval(0, v.days, v.milliseconds as i64 * 1_000)
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            interval(v.months, v.days, v.nanoseconds / 1_000)
        }
        DataType::Duration(unit) => {
            let micros = match unit {
                TimeUnit::Second => {
                    array.as_primitive::<DurationSecondType>().value(row) * 1_000_000
                }
                TimeUnit::Millisecond => {
                    array.as_primitive::<DurationMillisecondType>().value(row) * 1_000
                }
                TimeUnit::Microsecond => array.as_primitive::<DurationMicrosecondType>().value(row),
                TimeUnit::Nanosecond => {
                    array.as_primitive::<DurationNanosecondType>().value(row) / 1_000
                }
            };
            // PostgreSQL's timestamp difference is justified into days and time
            // (`1 day 01:30:00`, not `25:30:00`), both of the difference's sign.
            const DAY: i64 = 86_400_000_000;
            interval(0, (micros / DAY) as i32, micros % DAY)
        }
        _ => return None,
    }))
}

pub use tarn_sql::pg::float_text::{float4, float8};
pub use tarn_sql::pg::text_out::{interval, time};

/// A date and time's text without its era, and the era (` BC` for years before 1).
fn date_time(dt: &NaiveDateTime) -> (String, &'static str) {
    let year = dt.year();
    let (year, era) = if year <= 0 {
        (1 - year, " BC")
    } else {
        (year, "")
    };
    let text = format!(
        "{year:04}-{:02}-{:02} {:02}:{:02}:{:02}{}",
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        fraction(dt.nanosecond() / 1_000)
    );
    (text, era)
}

/// `timestamp` text: `2024-03-04 03:06:07.5`.
pub fn timestamp(micros: i64) -> String {
    match DateTime::from_timestamp_micros(micros) {
        Some(dt) => {
            let (text, era) = date_time(&dt.naive_utc());
            text + era
        }
        None => micros.to_string(),
    }
}

/// `timestamptz` text in the session's time zone: `2024-03-04 03:06:07.123456+00`,
/// `... +05:30`.
pub fn timestamptz(micros: i64, time_zone: &str) -> String {
    let Some(utc) = DateTime::from_timestamp_micros(micros) else {
        return micros.to_string();
    };
    let tz: Tz = match time_zone.parse() {
        Ok(tz) => tz,
        Err(_) => "+00:00".parse().expect("+00:00 is a valid offset"),
    };
    let local = tz.from_utc_datetime(&utc.naive_utc());
    let offset = local.offset().fix().local_minus_utc();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.abs();
    let (hours, minutes, seconds) = (offset / 3600, offset % 3600 / 60, offset % 60);
    let mut zone = format!("{sign}{hours:02}");
    if minutes != 0 || seconds != 0 {
        zone.push_str(&format!(":{minutes:02}"));
    }
    if seconds != 0 {
        zone.push_str(&format!(":{seconds:02}"));
    }
    // The era after the zone: `0044-03-15 00:00:00+00 BC`.
    let (text, era) = date_time(&local.naive_local());
    text + &zone + era
}

/// A batch's column in PostgreSQL's text form, written a column at a time: the array
/// is matched on its type once, not once per value as a per-value encoder must.
pub enum TextColumn<'a> {
    /// Strings are their own text form and are borrowed.
    Utf8(&'a datafusion::arrow::array::StringArray),
    LargeUtf8(&'a datafusion::arrow::array::LargeStringArray),
    Utf8View(&'a datafusion::arrow::array::StringViewArray),
    /// Every value's text, one after another; row `i` ends at `ends[i]`.
    Written {
        array: &'a dyn Array,
        data: Vec<u8>,
        ends: Vec<usize>,
    },
}

impl TextColumn<'_> {
    /// Row `row`'s text, `None` if it is NULL.
    pub fn value(&self, row: usize) -> Option<&[u8]> {
        match self {
            TextColumn::Utf8(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            TextColumn::LargeUtf8(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            TextColumn::Utf8View(a) => a.is_valid(row).then(|| a.value(row).as_bytes()),
            TextColumn::Written { array, data, ends } => {
                let start = if row == 0 { 0 } else { ends[row - 1] };
                array.is_valid(row).then(|| &data[start..ends[row]])
            }
        }
    }
}

/// `array`'s values as PostgreSQL's text output writes them, for the types whose text
/// Tarn writes itself: strings, integers, booleans, `numeric` (Decimal128), floats,
/// timestamps, intervals, and dates in DateStyle ISO. `None` for any other type, and
/// for dates outside years 1 to 9999; those go value by value through pgwire.
pub fn column<'a>(
    array: &'a dyn Array,
    time_zone: &str,
    iso_dates: bool,
) -> Option<TextColumn<'a>> {
    use datafusion::arrow::datatypes::{
        Decimal128Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
        UInt32Type, UInt64Type,
    };
    match array.data_type() {
        DataType::Utf8 => return Some(TextColumn::Utf8(array.as_string::<i32>())),
        DataType::LargeUtf8 => return Some(TextColumn::LargeUtf8(array.as_string::<i64>())),
        DataType::Utf8View => return Some(TextColumn::Utf8View(array.as_string_view())),
        _ => {}
    }
    let rows = array.len();
    let mut data = Vec::with_capacity(rows * 8);
    let mut ends = Vec::with_capacity(rows);
    // Writes `text(row)` for each non-null row, nothing for a null one.
    let mut each = |text: &mut dyn FnMut(usize, &mut Vec<u8>)| {
        for row in 0..rows {
            if array.is_valid(row) {
                text(row, &mut data);
            }
            ends.push(data.len());
        }
    };
    macro_rules! integers {
        ($t:ty) => {{
            let values = array.as_primitive::<$t>().values();
            let mut buffer = itoa::Buffer::new();
            each(&mut |row, out| out.extend_from_slice(buffer.format(values[row]).as_bytes()));
        }};
    }
    match array.data_type() {
        DataType::Int8 => integers!(Int8Type),
        DataType::Int16 => integers!(Int16Type),
        DataType::Int32 => integers!(Int32Type),
        DataType::Int64 => integers!(Int64Type),
        DataType::UInt8 => integers!(UInt8Type),
        DataType::UInt16 => integers!(UInt16Type),
        DataType::UInt32 => integers!(UInt32Type),
        DataType::UInt64 => integers!(UInt64Type),
        DataType::Boolean => {
            let values = array.as_boolean();
            each(&mut |row, out| out.push(if values.value(row) { b't' } else { b'f' }));
        }
        DataType::Decimal128(_, scale) if *scale >= 0 => {
            let values = array.as_primitive::<Decimal128Type>().values();
            let mut buffer = itoa::Buffer::new();
            let scale = *scale as usize;
            each(&mut |row, out| write_numeric(out, values[row], scale, &mut buffer));
        }
        DataType::Date32 if iso_dates => {
            let values = array.as_primitive::<Date32Type>();
            let mut outside = false;
            each(&mut |row, out| match values.value_as_date(row) {
                Some(date) if write_iso_date(out, date) => {}
                _ => outside = true,
            });
            if outside {
                return None;
            }
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>().values();
            each(&mut |row, out| out.extend_from_slice(float4(values[row]).as_bytes()));
        }
        DataType::Float64 => {
            let values = array.as_primitive::<Float64Type>().values();
            each(&mut |row, out| out.extend_from_slice(float8(values[row]).as_bytes()));
        }
        // Each value through `value`, which matches on the unit and time zone.
        DataType::Timestamp(_, _) | DataType::Interval(_) | DataType::Duration(_) => {
            each(&mut |row, out| {
                if let Some(Some(text)) = value(array, row, time_zone, iso_dates) {
                    out.extend_from_slice(text.as_bytes());
                }
            });
        }
        _ => return None,
    }
    Some(TextColumn::Written { array, data, ends })
}

/// `YYYY-MM-DD`, as PostgreSQL writes a date in DateStyle ISO; `None` outside years 1
/// to 9999 (BC dates and five-digit years are left to pgwire).
fn iso_date(date: chrono::NaiveDate) -> Option<String> {
    let mut out = Vec::with_capacity(10);
    write_iso_date(&mut out, date).then(|| String::from_utf8(out).expect("ASCII digits"))
}

/// Appends `date` as `YYYY-MM-DD`; `false`, writing nothing, outside years 1 to 9999.
/// Written digit by digit: lineitem's three dates per row went through `format!`'s
/// allocation and formatting machinery (the wire benchmark's SELECT * and COPY TO).
fn write_iso_date(out: &mut Vec<u8>, date: chrono::NaiveDate) -> bool {
    let Ok(year @ 1..=9999) = u32::try_from(date.year()) else {
        return false;
    };
    let two = |out: &mut Vec<u8>, n: u32| {
        out.extend_from_slice(&[b'0' + (n / 10) as u8, b'0' + (n % 10) as u8])
    };
    two(out, year / 100);
    two(out, year % 100);
    out.push(b'-');
    two(out, date.month());
    out.push(b'-');
    two(out, date.day());
    true
}

/// Appends the Decimal128 `value` of `scale` as PostgreSQL's numeric output writes it:
/// every digit of the scale (`numeric(15,2)`: `17.00`), `0.` before a fraction, `-` before
/// a negative value. The digits come from itoa; Arrow's `format_decimal` builds two
/// `String`s per value, which cut the wire benchmark's SELECT * and COPY TO rows/s.
fn write_numeric(out: &mut Vec<u8>, value: i128, scale: usize, buffer: &mut itoa::Buffer) {
    if value < 0 {
        out.push(b'-');
    }
    let digits = buffer.format(value.unsigned_abs()).as_bytes();
    if scale == 0 {
        out.extend_from_slice(digits);
    } else if digits.len() > scale {
        let (whole, fraction) = digits.split_at(digits.len() - scale);
        out.extend_from_slice(whole);
        out.push(b'.');
        out.extend_from_slice(fraction);
    } else {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', scale - digits.len()));
        out.extend_from_slice(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // PostgreSQL 15: select '2024-01-05'::date, '0099-12-31'::date, '1970-01-01'::date.
    #[test]
    fn dates_in_iso_style() {
        use datafusion::arrow::array::Date32Array;
        let days = |y, m, d| {
            let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            Some((date - epoch).num_days() as i32)
        };
        // 44 BC is year -43 in chrono's (ISO 8601's) numbering.
        let dates = Date32Array::from(vec![
            days(2024, 1, 5),
            days(99, 12, 31),
            days(1970, 1, 1),
            days(9999, 12, 31),
            days(10000, 1, 1),
            days(-43, 3, 15),
            None,
        ]);
        let text = |row| value(&dates, row, "UTC", true);
        assert_eq!(text(0), Some(Some("2024-01-05".to_owned())));
        assert_eq!(text(1), Some(Some("0099-12-31".to_owned())));
        assert_eq!(text(2), Some(Some("1970-01-01".to_owned())));
        assert_eq!(text(3), Some(Some("9999-12-31".to_owned())));
        // PostgreSQL writes "10000-01-01" and "0044-03-15 BC": left to pgwire.
        assert_eq!(text(4), None);
        assert_eq!(text(5), None);
        assert_eq!(text(6), Some(None));
        // Other DateStyles (German, SQL, Postgres) are pgwire's to write.
        assert_eq!(value(&dates, 0, "UTC", false), None);
    }

    // Expected strings are PostgreSQL 15's output for the same values.
    #[test]
    fn floats_match_float8out() {
        assert_eq!(float8(1e20), "1e+20");
        assert_eq!(float8(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(float8(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(float8(f64::NAN), "NaN");
        assert_eq!(float8(123456789012345.0), "123456789012345");
        assert_eq!(float8(1e15), "1e+15");
        assert_eq!(float8(0.0001), "0.0001");
        assert_eq!(float8(0.00001), "1e-05");
        assert_eq!(float8(-2.5), "-2.5");
        assert_eq!(float4(1.5), "1.5");
        assert_eq!(float4(1e6), "1e+06");
    }

    #[test]
    fn timestamps_drop_trailing_zeros_and_show_offsets() {
        assert_eq!(timestamp(1_709_521_567_500_000), "2024-03-04 03:06:07.5");
        assert_eq!(
            timestamptz(1_709_521_567_123_456, "UTC"),
            "2024-03-04 03:06:07.123456+00"
        );
        assert_eq!(
            timestamptz(1_709_521_567_000_000, "Asia/Kolkata"),
            "2024-03-04 08:36:07+05:30"
        );
    }

    #[test]
    fn intervals_use_postgres_style() {
        assert_eq!(interval(1, 2, 11_045_500_000), "1 mon 2 days 03:04:05.5");
        assert_eq!(interval(14, 0, 0), "1 year 2 mons");
        assert_eq!(interval(0, 0, 0), "00:00:00");
        assert_eq!(interval(0, -1, -3_600_000_000), "-1 days -01:00:00");
    }
}
