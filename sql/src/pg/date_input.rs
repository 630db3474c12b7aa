//! Dates written as PostgreSQL reads them, where Arrow's parser reads only ISO
//! (`2023-09-12`): `09/12/2023` and `9-12-23` in the session's DateStyle order (MDY by
//! default, DMY or YMD as set), `2023/09/12`, `20230912`, and month names (`September
//! 12, 2023`, `12-Sep-2023`, `Sep 12 2023`, `2023-Sep-12`). Text in one of these forms
//! is rewritten to ISO before Arrow reads it, in casts to `date` and to `timestamp`
//! (the time of day after the date is kept as written); other text is left for
//! Arrow to read or refuse as before. Two-digit years are PostgreSQL's: 70 to 99 are
//! 19xx, 00 to 69 20xx.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

extensions_options! {
    /// Session settings Tarn's planning rules read (kept in DataFusion's options so an
    /// analyzer rule sees them).
    pub struct TarnOptions {
        /// The field order of dates written with numbers only: `MDY`, `DMY` or `YMD`
        /// (DateStyle's second part).
        pub date_order: String, default = "MDY".to_owned()
    }
}

impl ConfigExtension for TarnOptions {
    const PREFIX: &'static str = "tarn";
}

/// The order of a date's numeric fields, from DateStyle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum DateOrder {
    Mdy,
    Dmy,
    Ymd,
}

impl DateOrder {
    pub(crate) fn of(options: &datafusion::common::config::ConfigOptions) -> Self {
        match options
            .extensions
            .get::<TarnOptions>()
            .map(|o| o.date_order.as_str())
        {
            Some("DMY") => DateOrder::Dmy,
            Some("YMD") => DateOrder::Ymd,
            _ => DateOrder::Mdy,
        }
    }
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// A month's number from its English name or the name's first three letters or more
/// (`Sep`, `Sept`, `September`), as PostgreSQL reads them.
fn month(word: &str) -> Option<u32> {
    let lower = word.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    const FULL: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    (0..12)
        .find(|&i| FULL[i].starts_with(&lower) && lower.starts_with(MONTHS[i]))
        .map(|i| i as u32 + 1)
}

/// A year as written: two digits are PostgreSQL's nearest century (70 is 1970, 69 is
/// 2069); more are the year.
fn year(digits: &str) -> Option<i32> {
    let value: i32 = digits.parse().ok()?;
    Some(match digits.len() {
        1 | 2 if value < 70 => 2000 + value,
        1 | 2 => 1900 + value,
        _ => value,
    })
}

/// `text` with its date rewritten to ISO (`2023-09-12`), or `None` where Arrow reads it
/// already or it is not a date PostgreSQL reads.
pub(crate) fn iso(text: &str, order: DateOrder) -> Option<String> {
    let trimmed = text.trim();
    let bytes = trimmed.as_bytes();
    // ISO already (`2023-09-12`, `2023-09-12T10:00`): Arrow's.
    if bytes.len() >= 10
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5].is_ascii_digit()
    {
        return None;
    }
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    // The date's words end where a time of day begins.
    let end = words
        .iter()
        .position(|w| w.contains(':'))
        .unwrap_or(words.len());
    let fields: Vec<&str> = words[..end]
        .iter()
        .flat_map(|w| w.split(['/', '-', '.', ',']))
        .filter(|f| !f.is_empty())
        .collect();
    let numeric = |f: &str| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit());
    let (y, m, d): (i32, u32, u32) = match fields.as_slice() {
        // `20230912`
        [f] if f.len() == 8 && numeric(f) => (
            f[..4].parse().ok()?,
            f[4..6].parse().ok()?,
            f[6..].parse().ok()?,
        ),
        [a, b, c] => {
            let named = [a, b, c].iter().position(|f| month(f).is_some());
            match named {
                Some(i) => {
                    let m = month(fields[i])?;
                    let mut numbers = fields.iter().enumerate().filter(|(j, _)| *j != i);
                    let (_, first) = numbers.next()?;
                    let (_, second) = numbers.next()?;
                    if !numeric(first) || !numeric(second) {
                        return None;
                    }
                    // A field of three or more digits is the year; else the first is
                    // the day, unless the order puts the year first.
                    let year_first = first.len() > 2 || (order == DateOrder::Ymd && i != 0);
                    let (yf, df) = if year_first {
                        (first, second)
                    } else {
                        (second, first)
                    };
                    (year(yf)?, m, df.parse().ok()?)
                }
                None if fields.iter().all(|f| numeric(f)) => {
                    let (yf, mf, df) = if a.len() > 2 {
                        (a, b, c)
                    } else {
                        match order {
                            DateOrder::Mdy => (c, a, b),
                            DateOrder::Dmy => (c, b, a),
                            DateOrder::Ymd => (a, b, c),
                        }
                    };
                    (year(yf)?, mf.parse().ok()?, df.parse().ok()?)
                }
                None => return None,
            }
        }
        _ => return None,
    };
    // A day that does not exist is left as written, for the error to quote it.
    chrono::NaiveDate::from_ymd_opt(y, m, d)?;
    let date = match y {
        0..=9999 => format!("{y:04}-{m:02}-{d:02}"),
        _ => return None,
    };
    Some(match words[end..].join(" ") {
        rest if rest.is_empty() => date,
        rest => format!("{date} {rest}"),
    })
}

/// `pg_date_text_in(text)`: the text with its date in ISO form (see the module), for a
/// cast to `date` or `timestamp` to read.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct DateTextIn {
    signature: Signature,
    order: DateOrder,
}

pub(crate) fn udf(order: DateOrder) -> ScalarUDF {
    ScalarUDF::new_from_impl(DateTextIn {
        signature: Signature::any(1, Volatility::Immutable),
        order,
    })
}

impl ScalarUDFImpl for DateTextIn {
    fn name(&self) -> &str {
        "pg_date_text_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        let text = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let out: StringArray = text
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(|s| iso(s, self.order).unwrap_or_else(|| s.to_owned())))
            .collect();
        super::answer(Arc::new(out) as ArrayRef, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 15's readings (`select 'X'::date` under each DateStyle).
    #[test]
    fn dates_as_postgres_reads_them() {
        let cases = [
            ("09/12/2023", DateOrder::Mdy, Some("2023-09-12")),
            ("09/12/2023", DateOrder::Dmy, Some("2023-12-09")),
            ("1/8/99", DateOrder::Mdy, Some("1999-01-08")),
            ("1/8/69", DateOrder::Mdy, Some("2069-01-08")),
            ("2023/09/12", DateOrder::Dmy, Some("2023-09-12")),
            ("23/09/12", DateOrder::Ymd, Some("2023-09-12")),
            ("20230912", DateOrder::Mdy, Some("2023-09-12")),
            ("September 12, 2023", DateOrder::Mdy, Some("2023-09-12")),
            ("12-Sep-2023", DateOrder::Mdy, Some("2023-09-12")),
            ("Sep 12 2023", DateOrder::Dmy, Some("2023-09-12")),
            ("2023-Sep-12", DateOrder::Mdy, Some("2023-09-12")),
            ("12.09.2023", DateOrder::Dmy, Some("2023-09-12")),
            ("09/12/2023 10:30", DateOrder::Mdy, Some("2023-09-12 10:30")),
            // ISO, and what PostgreSQL does not read as a date: left as written.
            ("2023-09-12", DateOrder::Dmy, None),
            ("2023-09-12 10:00", DateOrder::Mdy, None),
            ("13/13/2023", DateOrder::Mdy, None),
            ("02/30/2023", DateOrder::Mdy, None),
            ("abc", DateOrder::Mdy, None),
            ("Smarch 1 2023", DateOrder::Mdy, None),
        ];
        for (text, order, expected) in cases {
            assert_eq!(iso(text, order).as_deref(), expected, "{text} {order:?}");
        }
    }
}
