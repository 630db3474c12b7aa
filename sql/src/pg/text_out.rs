//! Casts of arrays, rows, times and intervals to text, as PostgreSQL's output
//! functions write them (`array_out`, `record_out`, `time_out`, `interval_out`):
//! `array[1,2]::text` is `{1,2}`, `row(1,'a b')::text` `(1,"a b")`,
//! `array[[1,2],[3,null]]::text` `{{1,2},{3,NULL}}`, `interval '26 hours'::text`
//! `26:00:00`. Arrow's cast wrote `[1, 2]`, `1 days 2 hours` and `10:11:12.500`, and
//! refused structs, so `tags::text`, `array_agg(x)::text`, `d::text` and the
//! dedupe idiom `md5(row(a, b)::text)` answered wrongly or failed. The server writes
//! its text output with the same functions.
//!
//! Each element is written as its type's output function writes it (`t`, not `true`;
//! floats shortest; timestamps with a space), in UTC for a `timestamptz`, as Tarn's
//! other casts of timestamptz to text; types without their own case as Arrow's cast
//! to text writes them.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, DurationMicrosecondType, Float32Type, Float64Type, IntervalMonthDayNanoType,
    IntervalUnit, Time64MicrosecondType, TimeUnit, TimestampMicrosecondType,
};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `pg_text_out(v)`: an array's or a row's text (see the module documentation).
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(TextOut {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

/// Whether [`udf`] writes values of `data_type` where Arrow's cast to text differs
/// from PostgreSQL's output: arrays, rows, times (`10:11:12.5`, not `10:11:12.500`)
/// and intervals (`1 day 02:00:00`, not `1 days 2 hours`).
pub(crate) fn writes(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_)
            | DataType::LargeList(_)
            | DataType::Struct(_)
            | DataType::Time32(_)
            | DataType::Time64(_)
            | DataType::Interval(_)
            | DataType::Duration(_)
    )
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct TextOut {
    signature: Signature,
}

impl ScalarUDFImpl for TextOut {
    fn name(&self) -> &str {
        "pg_text_out"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = args.args[0].to_array(args.number_rows)?;
        let mut out = StringBuilder::new();
        for text in texts(&values)? {
            out.append_option(text);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// Each value's text, as PostgreSQL's output function of its type writes it.
fn texts(values: &ArrayRef) -> Result<Vec<Option<String>>> {
    Ok(match values.data_type() {
        DataType::List(_) | DataType::LargeList(_) => {
            let mut innermost = Arc::clone(values);
            while let Some(members) = list_values(&innermost) {
                innermost = members;
            }
            let elements = texts(&innermost)?;
            (0..values.len())
                .map(|row| {
                    (!values.is_null(row)).then(|| {
                        let mut text = String::new();
                        write_array(&mut text, values, row, &elements);
                        text
                    })
                })
                .collect()
        }
        DataType::Struct(_) => {
            let rows = values.as_struct();
            let fields = (rows.columns().iter())
                .map(texts)
                .collect::<Result<Vec<_>>>()?;
            (0..values.len())
                .map(|row| {
                    (!values.is_null(row)).then(|| {
                        let mut text = String::from("(");
                        for (n, field) in fields.iter().enumerate() {
                            if n > 0 {
                                text.push(',');
                            }
                            if let Some(value) = &field[row] {
                                push_field(&mut text, value);
                            }
                        }
                        text.push(')');
                        text
                    })
                })
                .collect()
        }
        DataType::Boolean => (values.as_boolean().iter())
            .map(|v| v.map(|b| if b { "t" } else { "f" }.to_owned()))
            .collect(),
        DataType::Float64 => (values.as_primitive::<Float64Type>().iter())
            .map(|v| v.map(super::float_text::float8))
            .collect(),
        DataType::Float32 => (values.as_primitive::<Float32Type>().iter())
            .map(|v| v.map(super::float_text::float4))
            .collect(),
        DataType::Timestamp(_, zone) => {
            let micros = datafusion::arrow::compute::cast(
                values,
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let zone = if zone.is_some() { "+00" } else { "" };
            (micros.as_primitive::<TimestampMicrosecondType>().iter())
                .map(|v| {
                    v.and_then(chrono::DateTime::from_timestamp_micros)
                        .map(|t| format!("{}{zone}", super::casts::format_timestamp(&t)))
                })
                .collect()
        }
        DataType::Time32(_) | DataType::Time64(_) => {
            let micros =
                datafusion::arrow::compute::cast(values, &DataType::Time64(TimeUnit::Microsecond))?;
            (micros.as_primitive::<Time64MicrosecondType>().iter())
                .map(|v| v.map(time))
                .collect()
        }
        DataType::Interval(_) => {
            let intervals = datafusion::arrow::compute::cast(
                values,
                &DataType::Interval(IntervalUnit::MonthDayNano),
            )?;
            (intervals.as_primitive::<IntervalMonthDayNanoType>().iter())
                .map(|v| v.map(|v| interval(v.months, v.days, v.nanoseconds / 1_000)))
                .collect()
        }
        // A timestamp difference: days and time, both of its sign (`1 day 01:30:00`).
        DataType::Duration(_) => {
            let micros = datafusion::arrow::compute::cast(
                values,
                &DataType::Duration(TimeUnit::Microsecond),
            )?;
            const DAY: i64 = 86_400_000_000;
            (micros.as_primitive::<DurationMicrosecondType>().iter())
                .map(|v| v.map(|micros| interval(0, (micros / DAY) as i32, micros % DAY)))
                .collect()
        }
        _ => {
            let texts = datafusion::arrow::compute::cast(values, &DataType::Utf8)?;
            (texts.as_string::<i32>().iter())
                .map(|v| v.map(str::to_owned))
                .collect()
        }
    })
}

/// `interval` text in the `postgres` IntervalStyle: `1 year 2 mons 3 days 04:05:06.5`.
pub fn interval(months: i32, days: i32, micros: i64) -> String {
    let mut parts = Vec::new();
    let (years, mons) = (months / 12, months % 12);
    let plural = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    if years != 0 {
        parts.push(plural(years as i64, "year", "years"));
    }
    if mons != 0 {
        parts.push(plural(mons as i64, "mon", "mons"));
    }
    if days != 0 {
        parts.push(plural(days as i64, "day", "days"));
    }
    if micros != 0 || parts.is_empty() {
        let negative = micros < 0;
        let total = micros.unsigned_abs();
        let (secs, frac) = (total / 1_000_000, (total % 1_000_000) as u32);
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let sign = if negative {
            "-"
        } else if parts.iter().any(|p| p.starts_with('-')) {
            "+"
        } else {
            ""
        };
        parts.push(format!("{sign}{h:02}:{m:02}:{s:02}{}", fraction(frac)));
    }
    parts.join(" ")
}

/// `time` text: `12:30:00`, `12:30:00.5` (PostgreSQL drops a fraction's trailing
/// zeros; arrow-pg wrote six digits, Arrow's cast three).
pub fn time(micros: i64) -> String {
    let seconds = micros.div_euclid(1_000_000);
    format!(
        "{:02}:{:02}:{:02}{}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60,
        fraction(micros.rem_euclid(1_000_000) as u32)
    )
}

/// A second's fraction as PostgreSQL writes it: none for zero, else up to six digits
/// without trailing zeros (`.5`).
pub fn fraction(micros: u32) -> String {
    if micros == 0 {
        String::new()
    } else {
        let digits = format!(".{micros:06}");
        digits.trim_end_matches('0').to_owned()
    }
}

/// The members of a list array (all rows'), or `None` for another array.
fn list_values(array: &ArrayRef) -> Option<ArrayRef> {
    match array.data_type() {
        DataType::List(_) => Some(Arc::clone(array.as_list::<i32>().values())),
        DataType::LargeList(_) => Some(Arc::clone(array.as_list::<i64>().values())),
        _ => None,
    }
}

/// The positions of row `row`'s members in the list array `array`'s values.
fn member_range(array: &ArrayRef, row: usize) -> std::ops::Range<usize> {
    match array.data_type() {
        DataType::List(_) => {
            let offsets = array.as_list::<i32>().value_offsets();
            offsets[row] as usize..offsets[row + 1] as usize
        }
        _ => {
            let offsets = array.as_list::<i64>().value_offsets();
            offsets[row] as usize..offsets[row + 1] as usize
        }
    }
}

/// Writes row `row` of `array` (a list; its sub-lists as nested braces), whose
/// innermost values' texts are `elements`.
fn write_array(text: &mut String, array: &ArrayRef, row: usize, elements: &[Option<String>]) {
    let Some(values) = list_values(array) else {
        return;
    };
    text.push('{');
    for (n, i) in member_range(array, row).enumerate() {
        if n > 0 {
            text.push(',');
        }
        if list_values(&values).is_some() {
            write_array(text, &values, i, elements);
            continue;
        }
        match &elements[i] {
            None => text.push_str("NULL"),
            Some(value) => push_element(text, value),
        }
    }
    text.push('}');
}

/// `value` as an array element: quoted (quotes and backslashes escaped with `\`) where
/// it is empty, reads as NULL, or holds a brace, comma, quote, backslash or white
/// space, as `array_out` writes it. The server writes arrays with it too.
pub fn push_element(text: &mut String, value: &str) {
    let quoted = value.is_empty()
        || value.eq_ignore_ascii_case("NULL")
        || value.chars().any(|c| matches!(c, '{' | '}') || special(c));
    push_quoted(text, value, quoted, false);
}

/// `value` as a row's field: quoted (quotes and backslashes doubled) where it is
/// empty or holds a parenthesis, comma, quote, backslash or white space, as
/// `record_out` writes it (a NULL field is nothing at all). The server writes rows
/// with it too.
pub fn push_field(text: &mut String, value: &str) {
    let quoted = value.is_empty() || value.chars().any(|c| matches!(c, '(' | ')') || special(c));
    push_quoted(text, value, quoted, true);
}

/// What both quote for: a comma, quote, backslash or white space (C's `isspace`).
fn special(c: char) -> bool {
    matches!(
        c,
        ',' | '"' | '\\' | ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}'
    )
}

/// `value`, in double quotes if `quoted`, its quotes and backslashes there doubled or
/// preceded by a backslash.
fn push_quoted(text: &mut String, value: &str, quoted: bool, doubled: bool) {
    if !quoted {
        text.push_str(value);
        return;
    }
    text.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            text.push(if doubled { c } else { '\\' });
        }
        text.push(c);
    }
    text.push('"');
}
