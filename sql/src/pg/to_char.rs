//! `to_char(date | timestamp | timestamptz, format)` with PostgreSQL's template
//! patterns (`YYYY-MM-DD`, `Mon DD, YYYY`, `HH24:MI:SS`, `"Q"Q`, `FMDay`). DataFusion's
//! `to_char` reads chrono's `%Y-%m-%d` instead, so PostgreSQL's templates, which BI
//! tools write (Looker's and Superset's month and quarter labels), came back as the
//! template itself: `to_char(date '2024-03-05', 'YYYY-MM')` answered `YYYY-MM`.
//!
//! Patterns: `YYYY YYY YY Y IYYY`, `MM`, `Month MONTH month Mon MON mon`, `DD DDD D`,
//! `Day DAY day Dy DY dy`, `HH HH12 HH24 MI SS MS US`, `AM PM am pm A.M. P.M. a.m.
//! p.m.`, `Q`, `WW IW`, `TZ tz OF`; the `FM` prefix (no padding), the `TH`/`th`
//! suffix (ordinal), double-quoted text and other characters as they are, `\"` a
//! quote. Names are English, as PostgreSQL's without a `TM` prefix. A timestamp with
//! time zone is formatted in the session's `TimeZone`, as PostgreSQL does (Tarn
//! computes in UTC; the function is registered for each statement with the session's
//! zone, [`udf`]), and so is a date (midnight there); `TZ` is the zone's abbreviation
//! then (`CEST`, `+04`), empty for a timestamp without time zone. Other types keep
//! DataFusion's `to_char` (its durations).

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// Replaces the registered `to_char` with [`ToChar`] (in UTC until a statement
/// registers the session's zone, [`udf`]).
pub(crate) fn install(ctx: &SessionContext) {
    ctx.register_udf(udf("UTC"));
    ctx.register_udf(ScalarUDF::new_from_impl(ToNumber {
        signature: Signature::exact(vec![DataType::Utf8, DataType::Utf8], Volatility::Immutable),
    }));
}

/// `to_number(text, template)` ([`super::to_char_num::Template::read`]): numeric with
/// as many decimal places as a literal template has digit places after its point
/// (PostgreSQL's scale follows the digits read: `to_number('1,234.5', '9,999.99')` is
/// `1234.5` there, `1234.50` here), ten for a template that varies by row.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ToNumber {
    signature: Signature,
}

/// The scale of `to_number`'s answer for a template that varies by row.
const TO_NUMBER_SCALE: usize = 10;

impl ScalarUDFImpl for ToNumber {
    fn name(&self) -> &str {
        "to_number"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(38, TO_NUMBER_SCALE as i8))
    }

    fn return_field_from_args(
        &self,
        args: datafusion::logical_expr::ReturnFieldArgs,
    ) -> Result<datafusion::arrow::datatypes::FieldRef> {
        let scale = match args.scalar_arguments.get(1).copied().flatten() {
            Some(
                datafusion::scalar::ScalarValue::Utf8(Some(t))
                | datafusion::scalar::ScalarValue::Utf8View(Some(t)),
            ) => super::to_char_num::Template::parse(t)
                .map(|t| t.fraction_places())
                .unwrap_or(TO_NUMBER_SCALE),
            _ => TO_NUMBER_SCALE,
        };
        let scale = i8::try_from(scale.min(37)).unwrap_or(10);
        Ok(Arc::new(datafusion::arrow::datatypes::Field::new(
            self.name(),
            DataType::Decimal128(38, scale),
            true,
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use super::to_char_num::Template;
        let DataType::Decimal128(_, scale) = args.return_field.data_type().clone() else {
            return datafusion::common::internal_err!("to_number answers numeric");
        };
        let rows = args.number_rows;
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let inputs = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let formats = datafusion::arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
        let (inputs, formats) = (inputs.as_string::<i32>(), formats.as_string::<i32>());
        let mut parsed: Option<(String, Template)> = None;
        let mut out = datafusion::arrow::array::Decimal128Builder::with_capacity(rows);
        for row in 0..rows {
            if inputs.is_null(row) || formats.is_null(row) {
                out.append_null();
                continue;
            }
            let template = number_template(&mut parsed, formats.value(row))?;
            let text = template.read(inputs.value(row)).map_err(|message| {
                let error = match message.ends_with("for input") {
                    true => crate::SqlError::not_supported(message),
                    false => crate::SqlError::InvalidInput(message),
                };
                datafusion::error::DataFusionError::External(Box::new(error))
            })?;
            // Tarn's numeric holds 38 digits (PostgreSQL's more).
            let value = datafusion::scalar::ScalarValue::Utf8(Some(text))
                .cast_to(&DataType::Decimal128(38, scale))
                .map_err(|_| {
                    datafusion::error::DataFusionError::External(Box::new(
                        crate::SqlError::NumericOverflow,
                    ))
                })?;
            match value {
                datafusion::scalar::ScalarValue::Decimal128(v, _, _) => out.append_option(v),
                _ => out.append_null(),
            }
        }
        let array: ArrayRef = Arc::new(out.finish().with_precision_and_scale(38, scale)?);
        super::answer(array, scalar)
    }
}

/// `to_char` formatting timestamps with time zone in `time_zone` (the session's
/// `TimeZone`, an IANA name or an offset such as `+05:30`); DataFusion's `to_char`
/// for the types PostgreSQL's templates do not cover here.
pub(crate) fn udf(time_zone: &str) -> ScalarUDF {
    ScalarUDF::new_from_impl(ToChar {
        inner: datafusion::functions::datetime::to_char(),
        signature: Signature::user_defined(Volatility::Stable),
        time_zone: time_zone.to_owned(),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ToChar {
    inner: Arc<ScalarUDF>,
    signature: Signature,
    time_zone: String,
}

/// A local time's zone as `TZ` and `OF` print it.
#[derive(Debug, Clone, PartialEq)]
struct Zone {
    abbreviation: String,
    /// Seconds east of UTC.
    offset: i32,
}

impl Zone {
    /// `OF`: `+02`, `-02:30`, `+05:30`.
    fn offset_text(&self) -> String {
        let sign = if self.offset < 0 { '-' } else { '+' };
        let seconds = self.offset.abs();
        let mut text = format!("{sign}{:02}", seconds / 3600);
        if seconds % 3600 != 0 {
            text.push_str(&format!(":{:02}", seconds % 3600 / 60));
        }
        text
    }
}

/// The session's zone: an IANA name (with abbreviations) or a fixed offset.
pub(super) enum SessionZone {
    Named(chrono_tz::Tz),
    Fixed(chrono::FixedOffset),
}

impl SessionZone {
    pub(super) fn parse(name: &str) -> Self {
        if let Ok(tz) = name.parse::<chrono_tz::Tz>() {
            return Self::Named(tz);
        }
        let fixed = name
            .parse::<datafusion::arrow::array::timezone::Tz>()
            .ok()
            .map(|tz| {
                use chrono::{Offset, TimeZone};
                tz.offset_from_utc_datetime(&NaiveDateTime::default()).fix()
            });
        Self::Fixed(fixed.unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC")))
    }

    /// Whether the zone is UTC's (no conversion to make).
    pub(super) fn is_utc(&self) -> bool {
        match self {
            Self::Named(tz) => matches!(
                tz,
                chrono_tz::Tz::UTC | chrono_tz::Tz::Etc__UTC | chrono_tz::Tz::Etc__UCT
            ),
            Self::Fixed(offset) => offset.local_minus_utc() == 0,
        }
    }

    /// The instant (UTC) of local time `local`: the earlier where the clocks went
    /// back, and read with the offset before the change where they went forward, as
    /// PostgreSQL reads a local time that did not happen.
    pub(super) fn utc_of(&self, local: &NaiveDateTime) -> NaiveDateTime {
        use chrono::TimeZone;
        fn resolve<Z: TimeZone>(zone: &Z, local: &NaiveDateTime) -> NaiveDateTime {
            match zone.from_local_datetime(local).earliest() {
                Some(t) => t.naive_utc(),
                None => {
                    // In a gap: the offset in force a few hours before it.
                    let before = *local - chrono::Duration::hours(3);
                    let offset = zone
                        .from_local_datetime(&before)
                        .earliest()
                        .map(|t| t.naive_local() - t.naive_utc())
                        .unwrap_or_default();
                    *local - offset
                }
            }
        }
        match self {
            Self::Named(tz) => resolve(tz, local),
            Self::Fixed(offset) => resolve(offset, local),
        }
    }

    /// The local time of the UTC time `utc`.
    pub(super) fn local_time(&self, utc: &NaiveDateTime) -> NaiveDateTime {
        self.local(utc).0
    }

    /// The local time of the UTC time `utc`, with its zone.
    fn local(&self, utc: &NaiveDateTime) -> (NaiveDateTime, Zone) {
        use chrono::{Offset, TimeZone};
        match self {
            Self::Named(tz) => {
                use chrono_tz::OffsetName;
                let offset = tz.offset_from_utc_datetime(utc);
                let seconds = offset.fix().local_minus_utc();
                let mut zone = Zone {
                    abbreviation: offset.abbreviation().unwrap_or_default().to_owned(),
                    offset: seconds,
                };
                // Zones without a name for their time (Asia/Dubai) print the offset.
                if zone.abbreviation.is_empty() {
                    zone.abbreviation = zone.offset_text();
                }
                (*utc + chrono::Duration::seconds(seconds.into()), zone)
            }
            Self::Fixed(offset) => {
                let seconds = offset.local_minus_utc();
                let mut zone = Zone {
                    abbreviation: String::new(),
                    offset: seconds,
                };
                zone.abbreviation = zone.offset_text();
                (*utc + chrono::Duration::seconds(seconds.into()), zone)
            }
        }
    }

    /// The zone at local time `local` (a date's midnight).
    fn at_local(&self, local: &NaiveDateTime) -> Zone {
        use chrono::TimeZone;
        let utc = match self {
            Self::Named(tz) => tz
                .from_local_datetime(local)
                .earliest()
                .map(|t| t.naive_utc()),
            Self::Fixed(offset) => offset
                .from_local_datetime(local)
                .earliest()
                .map(|t| t.naive_utc()),
        };
        self.local(&utc.unwrap_or(*local)).1
    }
}

/// Whether PostgreSQL's templates format `data_type` here.
fn dated(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

impl ScalarUDFImpl for ToChar {
    fn name(&self) -> &str {
        "to_char"
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [value, _] if dated(value) => Ok(vec![value.clone(), DataType::Utf8]),
            [value, format] if matches!(value, DataType::Duration(_)) => {
                Ok(vec![value.clone(), format.clone()])
            }
            [value, _] if numbered(value) => Ok(vec![value.clone(), DataType::Utf8]),
            _ => plan_err!(
                "No function matches the given name and argument types 'to_char({})'. You might need to add explicit type casts.",
                arg_types
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if numbered(&args.args[0].data_type()) {
            return numbers(&args);
        }
        if !dated(&args.args[0].data_type()) {
            return self.inner.invoke_with_args(args);
        }
        let rows = args.number_rows;
        let (values, formats, scalar) = values_and_templates(&args)?;
        let formats = formats.as_string::<i32>();
        let instants = instants(&values)?;
        let zone = SessionZone::parse(&self.time_zone);
        // A timestamp with time zone in the session's zone; a date at midnight there;
        // a timestamp without time zone has none (`TZ` is empty, `OF` +00).
        let zoned = matches!(args.args[0].data_type(), DataType::Timestamp(_, Some(_)));
        let dated = matches!(
            args.args[0].data_type(),
            DataType::Date32 | DataType::Date64
        );
        let none = Zone {
            abbreviation: String::new(),
            offset: 0,
        };
        let mut parsed: Option<(String, Vec<Token>)> = None;
        let text: StringArray = (0..rows)
            .map(|row| {
                let instant = instants[row]?;
                if formats.is_null(row) {
                    return None;
                }
                let format = formats.value(row);
                if parsed.as_ref().map(|(f, _)| f.as_str()) != Some(format) {
                    parsed = Some((format.to_owned(), tokens(format)));
                }
                let (local, at) = match (zoned, dated) {
                    (true, _) => zone.local(&instant),
                    (_, true) => (instant, zone.at_local(&instant)),
                    _ => (instant, none.clone()),
                };
                parsed
                    .as_ref()
                    .map(|(_, tokens)| render(tokens, &local, &at))
            })
            .collect();
        let text: ArrayRef = Arc::new(text);
        super::answer(text, scalar)
    }
}

/// `to_char`'s values and templates (as text), and whether both were single values.
fn values_and_templates(args: &ScalarFunctionArgs) -> Result<(ArrayRef, ArrayRef, bool)> {
    let (arrays, scalar) = super::arguments(args)?;
    let templates = datafusion::arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
    Ok((Arc::clone(&arrays[0]), templates, scalar))
}

/// Whether PostgreSQL's number templates format `data_type` here.
fn numbered(data_type: &DataType) -> bool {
    data_type.is_integer() || data_type.is_floating() || data_type.is_decimal()
}

/// `to_char(number, template)` ([`super::to_char_num`]).
/// The number template `format` reads as: `parsed`'s, parsed again only when the
/// format differs from the last row's (a column of templates is usually one).
fn number_template<'a>(
    parsed: &'a mut Option<(String, super::to_char_num::Template)>,
    format: &str,
) -> Result<&'a super::to_char_num::Template> {
    if parsed.as_ref().map(|(f, _)| f.as_str()) != Some(format) {
        let template = super::to_char_num::Template::parse(format).map_err(|message| {
            datafusion::error::DataFusionError::External(Box::new(crate::SqlError::Syntax {
                message,
            }))
        })?;
        *parsed = Some((format.to_owned(), template));
    }
    Ok(&parsed.as_ref().expect("set above").1)
}

fn numbers(args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
    use super::to_char_num::{Number, Template};
    let rows = args.number_rows;
    let (values, formats, scalar) = values_and_templates(args)?;
    let formats = formats.as_string::<i32>();
    let floats = values.data_type().is_floating();
    // Exact numbers as their text (integers and decimals cast exactly), floats as
    // themselves.
    let texts = match floats {
        false => Some(datafusion::arrow::compute::cast(&values, &DataType::Utf8)?),
        true => None,
    };
    let floats = match floats {
        true => Some(datafusion::arrow::compute::cast(
            &values,
            &DataType::Float64,
        )?),
        false => None,
    };
    let mut parsed: Option<(String, Template)> = None;
    let mut out = datafusion::arrow::array::StringBuilder::new();
    for row in 0..rows {
        if values.is_null(row) || formats.is_null(row) {
            out.append_null();
            continue;
        }
        let template = number_template(&mut parsed, formats.value(row))?;
        let number = match (&texts, &floats) {
            (Some(texts), _) => Number::Exact(texts.as_string::<i32>().value(row)),
            (_, Some(floats)) => Number::Float(
                floats
                    .as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                    .value(row),
            ),
            _ => unreachable!("one of the two is made above"),
        };
        out.append_value(template.format(number));
    }
    let array: ArrayRef = Arc::new(out.finish());
    super::answer(array, scalar)
}

/// Each value as a date and time (a timestamp with time zone in UTC, Tarn's
/// execution zone), through Arrow's cast to microseconds.
pub(crate) fn instants(values: &ArrayRef) -> Result<Vec<Option<NaiveDateTime>>> {
    use datafusion::arrow::datatypes::TimestampMicrosecondType;
    let micros = datafusion::arrow::compute::cast(
        values,
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    Ok(micros
        .as_primitive::<TimestampMicrosecondType>()
        .iter()
        .map(|v| {
            v.and_then(chrono::DateTime::from_timestamp_micros)
                .map(|t| t.naive_utc())
        })
        .collect())
}

/// One element of a template.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Text(String),
    /// Text written in double quotes (`"T"`): literal in every character.
    Quoted(String),
    Field {
        field: Field,
        /// The pattern as written (`YYYY`, `Mon`, `yyyy`).
        name: String,
        /// `FM`: no padding.
        fill: bool,
        /// `TH` (upper case) or `th` suffix.
        ordinal: Option<bool>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Case {
    Upper,
    Capital,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Field {
    Year4,
    Year3,
    Year2,
    Year1,
    IsoYear,
    Month,
    MonthName(Case),
    MonthAbbrev(Case),
    Day,
    DayOfYear,
    DayOfWeek,
    DayName(Case),
    DayAbbrev(Case),
    Hour12,
    Hour24,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Meridiem {
        upper: bool,
        dots: bool,
    },
    Quarter,
    Week,
    IsoWeek,
    Zone {
        upper: bool,
    },
    Offset,
    /// `ID`: ISO day of the week, Monday 1.
    IsoDayOfWeek,
    /// `IDDD`: day of the ISO week-numbering year.
    IsoDayOfYear,
    IsoYear3,
    IsoYear2,
    IsoYear1,
    /// `TZH`, `TZM`: the zone's offset hours (signed) and minutes.
    ZoneHour,
    ZoneMinute,
    /// `FF1` .. `FF6`: that many digits of the fraction of a second.
    Fraction(u8),
    /// `SSSS`, `SSSSS`: seconds past midnight (the pattern's width).
    SecondsOfDay(usize),
    /// `AD BC A.D. B.C.` and lower case.
    Era {
        upper: bool,
        dots: bool,
    },
    /// `CC`: century.
    Century,
    /// `J`: Julian day.
    Julian,
    /// `W`: week of the month.
    WeekOfMonth,
    /// `RM`, `rm`: month in Roman numerals.
    RomanMonth(bool),
    /// `Y,YYY`: year with a comma.
    YearComma,
    /// `FX`: fixed format (to_timestamp reads the text exactly).
    FixedFormat,
}

/// The patterns, longest first where one is a prefix of another.
const PATTERNS: &[(&str, Field)] = &[
    ("FX", Field::FixedFormat),
    ("FF1", Field::Fraction(1)),
    ("FF2", Field::Fraction(2)),
    ("FF3", Field::Fraction(3)),
    ("FF4", Field::Fraction(4)),
    ("FF5", Field::Fraction(5)),
    ("FF6", Field::Fraction(6)),
    ("SSSSS", Field::SecondsOfDay(5)),
    ("SSSS", Field::SecondsOfDay(4)),
    ("TZH", Field::ZoneHour),
    ("TZM", Field::ZoneMinute),
    ("Y,YYY", Field::YearComma),
    ("HH24", Field::Hour24),
    ("HH12", Field::Hour12),
    ("HH", Field::Hour12),
    ("MI", Field::Minute),
    ("SS", Field::Second),
    ("MS", Field::Millisecond),
    ("US", Field::Microsecond),
    (
        "A.M.",
        Field::Meridiem {
            upper: true,
            dots: true,
        },
    ),
    (
        "P.M.",
        Field::Meridiem {
            upper: true,
            dots: true,
        },
    ),
    (
        "a.m.",
        Field::Meridiem {
            upper: false,
            dots: true,
        },
    ),
    (
        "p.m.",
        Field::Meridiem {
            upper: false,
            dots: true,
        },
    ),
    (
        "AM",
        Field::Meridiem {
            upper: true,
            dots: false,
        },
    ),
    (
        "PM",
        Field::Meridiem {
            upper: true,
            dots: false,
        },
    ),
    (
        "am",
        Field::Meridiem {
            upper: false,
            dots: false,
        },
    ),
    (
        "pm",
        Field::Meridiem {
            upper: false,
            dots: false,
        },
    ),
    (
        "A.D.",
        Field::Era {
            upper: true,
            dots: true,
        },
    ),
    (
        "B.C.",
        Field::Era {
            upper: true,
            dots: true,
        },
    ),
    (
        "a.d.",
        Field::Era {
            upper: false,
            dots: true,
        },
    ),
    (
        "b.c.",
        Field::Era {
            upper: false,
            dots: true,
        },
    ),
    (
        "AD",
        Field::Era {
            upper: true,
            dots: false,
        },
    ),
    (
        "BC",
        Field::Era {
            upper: true,
            dots: false,
        },
    ),
    (
        "ad",
        Field::Era {
            upper: false,
            dots: false,
        },
    ),
    (
        "bc",
        Field::Era {
            upper: false,
            dots: false,
        },
    ),
    ("IDDD", Field::IsoDayOfYear),
    ("ID", Field::IsoDayOfWeek),
    ("IYYY", Field::IsoYear),
    ("IYY", Field::IsoYear3),
    ("IY", Field::IsoYear2),
    ("YYYY", Field::Year4),
    ("YYY", Field::Year3),
    ("YY", Field::Year2),
    ("Y", Field::Year1),
    ("MONTH", Field::MonthName(Case::Upper)),
    ("Month", Field::MonthName(Case::Capital)),
    ("month", Field::MonthName(Case::Lower)),
    ("MON", Field::MonthAbbrev(Case::Upper)),
    ("Mon", Field::MonthAbbrev(Case::Capital)),
    ("mon", Field::MonthAbbrev(Case::Lower)),
    ("MM", Field::Month),
    ("DAY", Field::DayName(Case::Upper)),
    ("Day", Field::DayName(Case::Capital)),
    ("day", Field::DayName(Case::Lower)),
    ("DY", Field::DayAbbrev(Case::Upper)),
    ("Dy", Field::DayAbbrev(Case::Capital)),
    ("dy", Field::DayAbbrev(Case::Lower)),
    ("DDD", Field::DayOfYear),
    ("DD", Field::Day),
    ("D", Field::DayOfWeek),
    ("IW", Field::IsoWeek),
    ("I", Field::IsoYear1),
    ("WW", Field::Week),
    ("W", Field::WeekOfMonth),
    ("CC", Field::Century),
    ("J", Field::Julian),
    ("RM", Field::RomanMonth(true)),
    ("rm", Field::RomanMonth(false)),
    ("Q", Field::Quarter),
    ("TZ", Field::Zone { upper: true }),
    ("tz", Field::Zone { upper: false }),
    ("OF", Field::Offset),
];

/// Whether a pattern is matched as written: the names, whose case is the output's;
/// the number patterns match in any case (`yyyy-mm-dd`), as in PostgreSQL.
fn cased_pattern(field: Field) -> bool {
    matches!(
        field,
        Field::MonthName(_)
            | Field::MonthAbbrev(_)
            | Field::DayName(_)
            | Field::DayAbbrev(_)
            | Field::Meridiem { .. }
            | Field::Era { .. }
            | Field::RomanMonth(_)
            | Field::Zone { .. }
    )
}

/// `format` read into its patterns and literal text.
pub(super) fn tokens(format: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = format;
    while !rest.is_empty() {
        if let Some(quoted) = rest.strip_prefix('"') {
            if !text.is_empty() {
                out.push(Token::Text(std::mem::take(&mut text)));
            }
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, escaped)) = chars.next() {
                            text.push(escaped);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => text.push(c),
                }
            }
            rest = &quoted[end.min(quoted.len())..];
            out.push(Token::Quoted(std::mem::take(&mut text)));
            continue;
        }
        if let Some(escaped) = rest.strip_prefix("\\\"") {
            text.push('"');
            rest = escaped;
            continue;
        }
        let (fill, after_fm) = match rest.strip_prefix("FM").or_else(|| rest.strip_prefix("fm")) {
            Some(after) => (true, after),
            None => (false, rest),
        };
        let matched = PATTERNS
            .iter()
            .find(|(pattern, field)| match cased_pattern(*field) {
                true => after_fm.starts_with(pattern),
                false => after_fm
                    .get(..pattern.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(pattern)),
            });
        match matched {
            Some((pattern, field)) => {
                if !text.is_empty() {
                    out.push(Token::Text(std::mem::take(&mut text)));
                }
                let mut after = &after_fm[pattern.len()..];
                let ordinal = if let Some(a) = after.strip_prefix("TH") {
                    after = a;
                    Some(true)
                } else if let Some(a) = after.strip_prefix("th") {
                    after = a;
                    Some(false)
                } else {
                    None
                };
                out.push(Token::Field {
                    field: *field,
                    name: after_fm[..pattern.len()].to_owned(),
                    fill,
                    ordinal,
                });
                rest = after;
            }
            None => {
                let c = rest.chars().next().unwrap_or_default();
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    if !text.is_empty() {
        out.push(Token::Text(text));
    }
    out
}

pub(super) const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
pub(super) const DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

fn cased(name: &str, case: Case) -> String {
    match case {
        Case::Upper => name.to_uppercase(),
        Case::Capital => name.to_owned(),
        Case::Lower => name.to_lowercase(),
    }
}

/// The English ordinal suffix of `n` (`st`, `nd`, `rd`, `th`).
fn suffix(n: i64) -> &'static str {
    match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    }
}

/// `tokens` with the fields of `t`, a local time in `zone`.
fn render(tokens: &[Token], t: &NaiveDateTime, zone: &Zone) -> String {
    let mut out = String::new();
    for token in tokens {
        let (field, fill, ordinal) = match token {
            Token::Text(text) | Token::Quoted(text) => {
                out.push_str(text);
                continue;
            }
            Token::Field {
                field,
                fill,
                ordinal,
                ..
            } => (*field, *fill, *ordinal),
        };
        // A number and its width, or text and the width PostgreSQL pads it to.
        let number = |n: i64, width: usize| -> (String, Option<i64>) {
            let digits = match fill {
                true => n.to_string(),
                false => format!("{n:0width$}"),
            };
            (digits, Some(n))
        };
        let name = |s: String, width: usize| -> (String, Option<i64>) {
            match fill {
                true => (s, None),
                false => (format!("{s:width$}"), None),
            }
        };
        let hour12 = match t.hour() % 12 {
            0 => 12,
            h => h,
        };
        let (text, value) = match field {
            Field::Year4 => number(i64::from(t.year()), 4),
            Field::Year3 => number(i64::from(t.year() % 1000), 3),
            Field::Year2 => number(i64::from(t.year() % 100), 2),
            Field::Year1 => number(i64::from(t.year() % 10), 1),
            Field::IsoYear => number(i64::from(t.iso_week().year()), 4),
            Field::Month => number(i64::from(t.month()), 2),
            Field::MonthName(case) => name(cased(MONTHS[t.month0() as usize], case), 9),
            Field::MonthAbbrev(case) => (cased(&MONTHS[t.month0() as usize][..3], case), None),
            Field::Day => number(i64::from(t.day()), 2),
            Field::DayOfYear => number(i64::from(t.ordinal()), 3),
            Field::DayOfWeek => number(i64::from(t.weekday().num_days_from_sunday() + 1), 1),
            Field::DayName(case) => name(
                cased(DAYS[t.weekday().num_days_from_sunday() as usize], case),
                9,
            ),
            Field::DayAbbrev(case) => (
                cased(
                    &DAYS[t.weekday().num_days_from_sunday() as usize][..3],
                    case,
                ),
                None,
            ),
            Field::Hour12 => number(i64::from(hour12), 2),
            Field::Hour24 => number(i64::from(t.hour()), 2),
            Field::Minute => number(i64::from(t.minute()), 2),
            Field::Second => number(i64::from(t.second()), 2),
            Field::Millisecond => number(i64::from(t.nanosecond() / 1_000_000), 3),
            Field::Microsecond => number(i64::from(t.nanosecond() / 1_000), 6),
            Field::Meridiem { upper, dots } => {
                let pm = t.hour() >= 12;
                let text = match (pm, dots) {
                    (false, false) => "am",
                    (true, false) => "pm",
                    (false, true) => "a.m.",
                    (true, true) => "p.m.",
                };
                (
                    match upper {
                        true => text.to_uppercase(),
                        false => text.to_owned(),
                    },
                    None,
                )
            }
            Field::Quarter => number(i64::from(t.month0() / 3 + 1), 1),
            Field::Week => number(i64::from(t.ordinal0() / 7 + 1), 2),
            Field::IsoWeek => number(i64::from(t.iso_week().week()), 2),
            Field::Zone { upper } => (
                match upper {
                    true => zone.abbreviation.clone(),
                    false => zone.abbreviation.to_lowercase(),
                },
                None,
            ),
            Field::Offset => (zone.offset_text(), None),
            Field::IsoDayOfWeek => number(i64::from(t.weekday().number_from_monday()), 1),
            Field::IsoDayOfYear => number(
                i64::from((t.iso_week().week() - 1) * 7 + t.weekday().number_from_monday()),
                3,
            ),
            Field::IsoYear3 => number(i64::from(t.iso_week().year() % 1000), 3),
            Field::IsoYear2 => number(i64::from(t.iso_week().year() % 100), 2),
            Field::IsoYear1 => number(i64::from(t.iso_week().year() % 10), 1),
            Field::ZoneHour => {
                let sign = if zone.offset < 0 { '-' } else { '+' };
                (format!("{sign}{:02}", zone.offset.abs() / 3600), None)
            }
            Field::ZoneMinute => (format!("{:02}", zone.offset.abs() % 3600 / 60), None),
            Field::Fraction(digits) => {
                let micros = i64::from(t.nanosecond() / 1_000);
                let width = usize::from(digits);
                number(micros / 10_i64.pow(6 - u32::from(digits)), width)
            }
            Field::SecondsOfDay(_) => {
                let seconds = i64::from(t.num_seconds_from_midnight());
                (seconds.to_string(), Some(seconds))
            }
            Field::Era { upper, dots } => {
                let text = match (t.year() > 0, dots) {
                    (true, false) => "ad",
                    (false, false) => "bc",
                    (true, true) => "a.d.",
                    (false, true) => "b.c.",
                };
                (
                    match upper {
                        true => text.to_uppercase(),
                        false => text.to_owned(),
                    },
                    None,
                )
            }
            Field::Century => number(i64::from((t.year() - 1).div_euclid(100) + 1), 2),
            Field::Julian => {
                // Julian day 1721426 is 0001-01-01.
                let day = i64::from(t.num_days_from_ce()) + 1_721_425;
                (day.to_string(), Some(day))
            }
            Field::WeekOfMonth => number(i64::from((t.day() - 1) / 7 + 1), 1),
            Field::RomanMonth(upper) => {
                const ROMAN: [&str; 12] = [
                    "I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII",
                ];
                let roman = ROMAN[t.month0() as usize];
                let roman = match upper {
                    true => roman.to_owned(),
                    false => roman.to_lowercase(),
                };
                name(roman, 4)
            }
            Field::YearComma => (format!("{},{:03}", t.year() / 1000, t.year() % 1000), None),
            Field::FixedFormat => (String::new(), None),
        };
        out.push_str(&text);
        if let (Some(upper), Some(n)) = (ordinal, value) {
            let s = suffix(n);
            match upper {
                true => out.push_str(&s.to_uppercase()),
                false => out.push_str(s),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Zone, render, tokens};

    fn at(text: &str) -> chrono::NaiveDateTime {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("time")
    }

    /// Answers PostgreSQL 15 gave for `to_char(timestamp '...', format)`.
    #[test]
    fn templates_render_as_postgres_15() {
        for (time, format, expected) in [
            (
                "2024-03-05 14:07:09.123456",
                "YYYY-MM-DD HH24:MI:SS",
                "2024-03-05 14:07:09",
            ),
            ("2024-03-05 14:07:09.123456", "Mon DD, YYYY", "Mar 05, 2024"),
            ("2024-03-05 14:07:09.123456", "Month", "March    "),
            ("2024-03-05 14:07:09.123456", "FMMonth FMDDth", "March 5th"),
            ("2024-03-05 14:07:09.123456", "YYYY-\"Q\"Q", "2024-Q1"),
            ("2024-03-05 14:07:09.123456", "HH12:MI AM", "02:07 PM"),
            ("2024-03-05 14:07:09.123456", "Dy DAY D", "Tue TUESDAY   3"),
            ("2024-03-05 14:07:09.123456", "MS US", "123 123456"),
            ("2024-12-30 00:00:00", "IYYY-IW WW DDD", "2025-01 53 365"),
            ("2024-01-01 00:00:00", "HH:MI a.m.", "12:00 a.m."),
            ("2024-03-22 00:00:00", "DDTH ddth", "22ND 22nd"),
            (
                "2024-03-05 14:07:09",
                "yyyy-mm-dd hh24:mi:ss",
                "2024-03-05 14:07:09",
            ),
        ] {
            let utc = Zone {
                abbreviation: "UTC".to_owned(),
                offset: 0,
            };
            assert_eq!(
                render(&tokens(format), &at(time), &utc),
                expected,
                "{format}"
            );
        }
    }
}

/// A PostgreSQL template (`YYYY-MM-DD HH24:MI:SS`, `DD Mon YYYY`, `MM/DD/YYYY HH12:MI
/// AM`) as the chrono format `to_timestamp` and `to_date` parse with, or `None` if it
/// uses a pattern chrono cannot parse (quarter, weeks, day of week, time zones).
pub(crate) fn chrono_format(template: &str) -> Option<String> {
    let mut out = String::new();
    for token in tokens(template) {
        match token {
            Token::Text(text) | Token::Quoted(text) => out.push_str(&text.replace('%', "%%")),
            Token::Field {
                ordinal: Some(_), ..
            } => return None,
            Token::Field { field, .. } => out.push_str(match field {
                Field::Year4 => "%Y",
                Field::Year2 => "%y",
                Field::Month => "%m",
                Field::MonthName(_) => "%B",
                Field::MonthAbbrev(_) => "%b",
                Field::Day => "%d",
                Field::DayOfYear => "%j",
                Field::DayName(_) => "%A",
                Field::DayAbbrev(_) => "%a",
                Field::Hour12 => "%I",
                Field::Hour24 => "%H",
                Field::Minute => "%M",
                Field::Second => "%S",
                Field::Millisecond => "%3f",
                Field::Microsecond => "%6f",
                Field::Meridiem { dots: false, .. } => "%p",
                _ => return None,
            }),
        }
    }
    Some(out)
}
