//! PostgreSQL's `to_timestamp(text, template)` and `to_date(text, template)`: the text
//! read with the template's patterns (the ones `to_char` writes, `super::to_char`) as
//! PostgreSQL 15 reads it, then the fields made a date and time by PostgreSQL's rules,
//! with its errors and SQLSTATEs.
//!
//! Reading, outside `FX` mode: spaces before a field are skipped; a space or separator
//! in the template matches one space or separator in the text, or none; other template
//! characters (and quoted text) skip one character whatever it is; a number takes as
//! many digits as it finds when a separator or a name follows it (or with `FM`), else
//! exactly its width (`YYYYMMDD`); names match in any case. Text left after the
//! template, and patterns left after the text, are ignored. Quarter (`Q`) and the day
//! of the week outside ISO week dates are read and ignored, as in PostgreSQL.

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

use super::to_char::{DAYS, Field, MONTHS, SessionZone, Token, tokens};
use crate::error::{DatetimeFailure, SqlError};

/// A template, read once and applied to many texts.
pub(crate) struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Space,
    Separator,
    /// A character skipped whatever the text holds there (quoted text, letters).
    Skip(char),
    Field {
        field: Field,
        /// The pattern as written (`YYYY`, `Mon`), which errors name.
        name: String,
        /// `FM`: a number takes as many digits as it finds.
        fill: bool,
        /// `TH`/`th`: two characters after the number are skipped.
        ordinal: bool,
    },
}

impl Template {
    pub(crate) fn new(template: &str) -> Self {
        let mut nodes = Vec::new();
        for token in tokens(template) {
            match token {
                Token::Text(text) => nodes.extend(text.chars().map(|c| match c {
                    c if is_space(c) => Node::Space,
                    c if is_separator(c) => Node::Separator,
                    c => Node::Skip(c),
                })),
                Token::Quoted(text) => nodes.extend(text.chars().map(Node::Skip)),
                Token::Field {
                    field,
                    name,
                    fill,
                    ordinal,
                } => nodes.push(Node::Field {
                    field,
                    name,
                    fill,
                    ordinal: ordinal.is_some(),
                }),
            }
        }
        Self { nodes }
    }

    /// `to_timestamp(text, template)`: the instant (UTC) `text` names, read in the
    /// session's zone `zone` unless it gives its own offset (`TZH:TZM`).
    pub(crate) fn timestamp(
        &self,
        text: &str,
        zone: &SessionZone,
    ) -> Result<NaiveDateTime, SqlError> {
        let (local, offset) = self.local(text)?;
        Ok(match offset {
            Some(east) => local - chrono::Duration::seconds(i64::from(east)),
            None => zone.utc_of(&local),
        })
    }

    /// `to_date(text, template)`: the day `text` names (time fields are read and
    /// checked, then dropped).
    pub(crate) fn date(&self, text: &str) -> Result<NaiveDate, SqlError> {
        self.built(text, "date").map(|(local, _)| local.date())
    }

    fn local(&self, text: &str) -> Result<(NaiveDateTime, Option<i32>), SqlError> {
        self.built(text, "timestamp")
    }

    fn built(&self, text: &str, kind: &str) -> Result<(NaiveDateTime, Option<i32>), SqlError> {
        let fields = Reader::new(text).read(&self.nodes)?;
        fields.build(text, kind)
    }
}

/// C's `isspace`.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// A printable ASCII character other than a letter or digit.
fn is_separator(c: char) -> bool {
    c.is_ascii_graphic() && !c.is_ascii_alphanumeric()
}

fn format_error(message: String, detail: Option<String>, hint: Option<&str>) -> SqlError {
    SqlError::Datetime {
        failure: DatetimeFailure::Format,
        message,
        detail,
        hint: hint.map(str::to_owned),
    }
}

fn overflow(message: String, detail: Option<String>) -> SqlError {
    SqlError::Datetime {
        failure: DatetimeFailure::FieldOverflow,
        message,
        detail,
        hint: None,
    }
}

const FILL_HINT: &str = "If your source string is not fixed-width, try using the \"FM\" modifier.";

/// Which calendar a field belongs to: a template may not mix Gregorian dates (`YYYY
/// MM DD`, `WW`, `D`) with ISO week dates (`IYYY IW ID`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
enum Calendar {
    #[default]
    Either,
    Gregorian,
    IsoWeek,
}

fn calendar(field: Field) -> Calendar {
    match field {
        Field::Year4
        | Field::Year3
        | Field::Year2
        | Field::Year1
        | Field::YearComma
        | Field::Month
        | Field::MonthName(_)
        | Field::MonthAbbrev(_)
        | Field::RomanMonth(_)
        | Field::Day
        | Field::DayOfYear
        | Field::DayOfWeek
        | Field::Week
        | Field::WeekOfMonth => Calendar::Gregorian,
        Field::IsoYear
        | Field::IsoYear3
        | Field::IsoYear2
        | Field::IsoYear1
        | Field::IsoWeek
        | Field::IsoDayOfWeek
        | Field::IsoDayOfYear => Calendar::IsoWeek,
        _ => Calendar::Either,
    }
}

/// Whether a field is a number (a number before it stops at its width).
fn numeric(field: Field) -> bool {
    !matches!(
        field,
        Field::MonthName(_)
            | Field::MonthAbbrev(_)
            | Field::DayName(_)
            | Field::DayAbbrev(_)
            | Field::Meridiem { .. }
            | Field::Era { .. }
            | Field::RomanMonth(_)
            | Field::Zone { .. }
            | Field::Offset
            | Field::ZoneHour
            | Field::FixedFormat
    )
}

/// The fields read; 0 is "not given", as in PostgreSQL. Numbers are read as
/// PostgreSQL's `int` (22008 beyond) and computed with in 64 bits, so no text
/// overflows the arithmetic that makes them a date.
#[derive(Debug, Default)]
struct Fields {
    calendar: Calendar,
    clock12: bool,
    pm: bool,
    hh: i64,
    mi: i64,
    ss: i64,
    ssss: i64,
    d: i64,
    dd: i64,
    ddd: i64,
    mm: i64,
    ms: i64,
    us: i64,
    year: i64,
    year_digits: i64,
    bc: bool,
    ww: i64,
    w: i64,
    cc: i64,
    j: i64,
    tz_sign: i64,
    tzh: i64,
    tzm: i64,
}

/// Sets `slot` to `value` unless it holds another value already.
fn set(slot: &mut i64, value: i64, name: &str) -> Result<(), SqlError> {
    if *slot != 0 && *slot != value {
        return Err(format_error(
            format!("conflicting values for \"{name}\" field in formatting string"),
            Some("This value contradicts a previous setting for the same field type.".to_owned()),
            None,
        ));
    }
    *slot = value;
    Ok(())
}

/// A two-digit or three-digit year, as PostgreSQL places it: 0-69 in the 2000s, 70-99 in
/// the 1900s, 100-519 in the 2000s, 520-999 in the 1000s.
fn nearest_2020(year: i64) -> i64 {
    match year {
        ..70 => year + 2000,
        70..100 => year + 1900,
        100..520 => year + 2000,
        520..1000 => year + 1000,
        _ => year,
    }
}

struct Reader {
    chars: Vec<char>,
    at: usize,
    /// Spaces skipped beyond what the template asked for, which later template
    /// characters may take instead of text.
    extra: i32,
    fixed: bool,
}

impl Reader {
    fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            at: 0,
            extra: 0,
            fixed: false,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.at += 1;
            self.extra += 1;
        }
    }

    /// Up to `n` characters from `from`, for messages.
    fn text(&self, from: usize, n: usize) -> String {
        self.chars[from.min(self.chars.len())..(from + n).min(self.chars.len())]
            .iter()
            .collect()
    }

    /// C's `strtol` from `from`: spaces, a sign, digits; the value (saturated) and
    /// where it stopped, which is `from` when there were no digits.
    fn strtol(chars: &[char], from: usize) -> (i64, usize) {
        let mut at = from;
        while chars.get(at).copied().is_some_and(is_space) {
            at += 1;
        }
        let negative = match chars.get(at) {
            Some('-') => {
                at += 1;
                true
            }
            Some('+') => {
                at += 1;
                false
            }
            _ => false,
        };
        let digits = at;
        let mut value: i64 = 0;
        while let Some(d) = chars.get(at).and_then(|c| c.to_digit(10)) {
            value = value.saturating_mul(10).saturating_add(i64::from(d));
            at += 1;
        }
        if at == digits {
            return (0, from);
        }
        (if negative { -value } else { value }, at)
    }

    /// A number of width `width` (or as many digits as there are, with `slurp`):
    /// its value and the characters it took, spaces before it included.
    fn number(&mut self, width: usize, name: &str, slurp: bool) -> Result<(i64, usize), SqlError> {
        let start = self.at;
        let mut at = start;
        while self.chars.get(at).copied().is_some_and(is_space) {
            at += 1;
        }
        let copy = self.text(at, width);
        let (value, end) = if slurp {
            Self::strtol(&self.chars, start)
        } else {
            let available = copy.chars().count();
            if available < width {
                return Err(format_error(
                    format!("source string too short for \"{name}\" formatting field"),
                    Some(format!(
                        "Field requires {width} characters, but only {available} remain."
                    )),
                    Some(FILL_HINT),
                ));
            }
            let copied: Vec<char> = copy.chars().collect();
            let (value, used) = Self::strtol(&copied, 0);
            if used > 0 && used < width {
                return Err(format_error(
                    format!("invalid value \"{copy}\" for \"{name}\""),
                    Some(format!(
                        "Field requires {width} characters, but only {used} could be parsed."
                    )),
                    Some(FILL_HINT),
                ));
            }
            (value, at + used)
        };
        if end == start {
            return Err(format_error(
                format!("invalid value \"{copy}\" for \"{name}\""),
                Some("Value must be an integer.".to_owned()),
                None,
            ));
        }
        let value = i32::try_from(value).map_err(|_| {
            overflow(
                format!("value for \"{name}\" in source string is out of range"),
                Some("Value must be in the range -2147483648 to 2147483647.".to_owned()),
            )
        })?;
        self.at = end;
        Ok((i64::from(value), end - start))
    }

    /// The index of the first of `names` the text starts with, in any case.
    fn name(&mut self, names: &[&str], field: &str) -> Result<usize, SqlError> {
        let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
        for (index, candidate) in names.iter().enumerate() {
            let n = candidate.chars().count();
            let here: String = self.text(self.at, n);
            if here.chars().count() == n && here.to_lowercase() == candidate.to_lowercase() {
                self.at += n;
                return Ok(index);
            }
        }
        Err(format_error(
            format!(
                "invalid value \"{}\" for \"{field}\"",
                self.text(self.at, longest)
            ),
            Some(
                "The given value did not match any of the allowed values for this field."
                    .to_owned(),
            ),
            None,
        ))
    }

    fn read(mut self, nodes: &[Node]) -> Result<Fields, SqlError> {
        let mut out = Fields::default();
        for (index, node) in nodes.iter().enumerate() {
            if self.at >= self.chars.len() {
                break;
            }
            let field_node = matches!(node, Node::Field { .. });
            let fx_node = matches!(
                node,
                Node::Field {
                    field: Field::FixedFormat,
                    ..
                }
            );
            if !self.fixed && !fx_node && (field_node || index == 0) {
                self.skip_spaces();
            }
            let (field, name, fill, ordinal) = match node {
                Node::Space | Node::Separator => {
                    if self.fixed {
                        self.at += 1;
                    } else {
                        self.extra -= 1;
                        if self.peek().is_some_and(|c| is_space(c) || is_separator(c)) {
                            self.at += 1;
                            self.extra += 1;
                        }
                    }
                    continue;
                }
                Node::Skip(_) => {
                    if !self.fixed && self.extra > 0 {
                        self.extra -= 1;
                    } else {
                        self.at += 1;
                    }
                    continue;
                }
                Node::Field {
                    field,
                    name,
                    fill,
                    ordinal,
                } => (*field, name.as_str(), *fill, *ordinal),
            };
            let wanted = calendar(field);
            if wanted != Calendar::Either {
                if out.calendar == Calendar::Either {
                    out.calendar = wanted;
                } else if out.calendar != wanted {
                    return Err(format_error(
                        "invalid combination of date conventions".to_owned(),
                        None,
                        Some(
                            "Do not mix Gregorian and ISO week date conventions in a formatting template.",
                        ),
                    ));
                }
            }
            // A number takes all its digits when what follows cannot be a digit.
            let slurp = fill
                || ordinal
                || match nodes.get(index + 1) {
                    None | Some(Node::Space | Node::Separator) => true,
                    Some(Node::Field { field, .. }) => !numeric(*field),
                    Some(Node::Skip(c)) => !c.is_ascii_digit(),
                };
            let number = |reader: &mut Self, width: usize| reader.number(width, name, slurp);
            match field {
                Field::FixedFormat => self.fixed = true,
                Field::Meridiem { dots, .. } => {
                    let names: &[&str] = match dots {
                        true => &["a.m.", "p.m."],
                        false => &["am", "pm"],
                    };
                    out.pm = self.name(names, name)? == 1;
                    out.clock12 = true;
                }
                Field::Era { dots, .. } => {
                    let names: &[&str] = match dots {
                        true => &["a.d.", "b.c."],
                        false => &["ad", "bc"],
                    };
                    out.bc = self.name(names, name)? == 1;
                }
                Field::Hour12 => {
                    set(&mut out.hh, number(&mut self, 2)?.0, name)?;
                    out.clock12 = true;
                }
                Field::Hour24 => set(&mut out.hh, number(&mut self, 2)?.0, name)?,
                Field::Minute => set(&mut out.mi, number(&mut self, 2)?.0, name)?,
                Field::Second => set(&mut out.ss, number(&mut self, 2)?.0, name)?,
                Field::SecondsOfDay(width) => {
                    set(&mut out.ssss, number(&mut self, width)?.0, name)?
                }
                Field::Millisecond => {
                    let (value, used) = number(&mut self, 3)?;
                    let scale = match used {
                        1 => 100,
                        2 => 10,
                        _ => 1,
                    };
                    set(&mut out.ms, value * scale, name)?;
                }
                Field::Microsecond | Field::Fraction(_) => {
                    let width = match field {
                        Field::Fraction(n) => usize::from(n),
                        _ => 6,
                    };
                    let (value, used) = number(&mut self, width)?;
                    let scale = 10_i64.pow(6_u32.saturating_sub(used.clamp(1, 6) as u32));
                    set(&mut out.us, value.saturating_mul(scale), name)?;
                }
                Field::Zone { .. } | Field::Offset => {
                    return Err(SqlError::Datetime {
                        failure: DatetimeFailure::OnlyInToChar,
                        message: format!(
                            "formatting field \"{name}\" is only supported in to_char"
                        ),
                        detail: None,
                        hint: None,
                    });
                }
                Field::ZoneHour => {
                    // A minus taken as a separator before the hours is their sign.
                    match self.peek() {
                        Some(c @ ('+' | '-' | ' ')) => {
                            out.tz_sign = if c == '-' { -1 } else { 1 };
                            self.at += 1;
                        }
                        _ => {
                            let after_minus = self.at > 0 && self.chars[self.at - 1] == '-';
                            out.tz_sign = if self.extra > 0 && after_minus { -1 } else { 1 };
                        }
                    }
                    set(&mut out.tzh, number(&mut self, 2)?.0, name)?;
                }
                Field::ZoneMinute => {
                    if out.tz_sign == 0 {
                        out.tz_sign = 1;
                    }
                    set(&mut out.tzm, number(&mut self, 2)?.0, name)?;
                }
                Field::MonthName(_) => {
                    set(&mut out.mm, self.name(&MONTHS, name)? as i64 + 1, name)?
                }
                Field::MonthAbbrev(_) => {
                    let abbreviations = MONTHS.map(|m| &m[..3]);
                    set(
                        &mut out.mm,
                        self.name(&abbreviations, name)? as i64 + 1,
                        name,
                    )?
                }
                Field::RomanMonth(_) => {
                    const ROMAN: [&str; 12] = [
                        "xii", "xi", "x", "ix", "viii", "vii", "vi", "v", "iv", "iii", "ii", "i",
                    ];
                    set(&mut out.mm, 12 - self.name(&ROMAN, name)? as i64, name)?
                }
                Field::Month => set(&mut out.mm, number(&mut self, 2)?.0, name)?,
                Field::DayName(_) => {
                    set(&mut out.d, self.name(&DAYS, name)? as i64, name)?;
                    out.d += 1;
                }
                Field::DayAbbrev(_) => {
                    let abbreviations = DAYS.map(|d| &d[..3]);
                    set(&mut out.d, self.name(&abbreviations, name)? as i64, name)?;
                    out.d += 1;
                }
                Field::DayOfYear | Field::IsoDayOfYear => {
                    set(&mut out.ddd, number(&mut self, 3)?.0, name)?
                }
                Field::Day => set(&mut out.dd, number(&mut self, 2)?.0, name)?,
                Field::DayOfWeek => set(&mut out.d, number(&mut self, 1)?.0, name)?,
                Field::IsoDayOfWeek => {
                    set(&mut out.d, number(&mut self, 1)?.0, name)?;
                    // Sunday is 1, as for `D`.
                    out.d += 1;
                    if out.d > 7 {
                        out.d = 1;
                    }
                }
                Field::Week | Field::IsoWeek => set(&mut out.ww, number(&mut self, 2)?.0, name)?,
                Field::WeekOfMonth => set(&mut out.w, number(&mut self, 1)?.0, name)?,
                // Read and ignored, as in PostgreSQL: which day of the quarter?
                Field::Quarter => {
                    number(&mut self, 1)?;
                }
                Field::Century => set(&mut out.cc, number(&mut self, 2)?.0, name)?,
                Field::Julian => set(&mut out.j, number(&mut self, 1)?.0, name)?,
                Field::YearComma => {
                    let (thousands, end) = Self::strtol(&self.chars, self.at);
                    let comma = end > self.at && self.chars.get(end) == Some(&',');
                    let digits: Vec<char> = self
                        .chars
                        .get(end + 1..)
                        .unwrap_or_default()
                        .iter()
                        .take(3)
                        .copied()
                        .collect();
                    let (units, used) = Self::strtol(&digits, 0);
                    if !comma || used == 0 {
                        return Err(format_error(
                            "invalid input string for \"Y,YYY\"".to_owned(),
                            None,
                            None,
                        ));
                    }
                    let year = thousands
                        .checked_mul(1000)
                        .and_then(|t| t.checked_add(units))
                        .filter(|y| i32::try_from(*y).is_ok())
                        .ok_or_else(|| {
                            overflow(
                                "value for \"Y,YYY\" in source string is out of range".to_owned(),
                                None,
                            )
                        })?;
                    set(&mut out.year, year, name)?;
                    out.year_digits = 4;
                    self.at = end + 1 + used;
                }
                Field::Year4 | Field::IsoYear => {
                    set(&mut out.year, number(&mut self, 4)?.0, name)?;
                    out.year_digits = 4;
                }
                Field::Year3
                | Field::Year2
                | Field::Year1
                | Field::IsoYear3
                | Field::IsoYear2
                | Field::IsoYear1 => {
                    let width = match field {
                        Field::Year3 | Field::IsoYear3 => 3,
                        Field::Year2 | Field::IsoYear2 => 2,
                        _ => 1,
                    };
                    let (value, used) = number(&mut self, width)?;
                    let value = if used < 4 { nearest_2020(value) } else { value };
                    set(&mut out.year, value, name)?;
                    out.year_digits = width as i64;
                }
            }
            if ordinal && numeric(field) {
                self.at = (self.at + 2).min(self.chars.len());
            }
            if !self.fixed {
                self.extra = 0;
                self.skip_spaces();
            }
        }
        Ok(out)
    }
}

/// The Monday that starts ISO week 1 of ISO year `year`, or `None` out of range.
fn iso_week_one(year: i32) -> Option<NaiveDate> {
    let january_4 = NaiveDate::from_ymd_opt(year, 1, 4)?;
    january_4.checked_sub_days(chrono::Days::new(u64::from(
        january_4.weekday().num_days_from_monday(),
    )))
}

fn add_days(date: NaiveDate, days: i64) -> Option<NaiveDate> {
    date.checked_add_signed(chrono::Duration::try_days(days)?)
}

impl Fields {
    /// The local date and time, and the offset the text gave (seconds east of UTC).
    fn build(self, text: &str, kind: &str) -> Result<(NaiveDateTime, Option<i32>), SqlError> {
        let out_of_range = || {
            overflow(
                format!("date/time field value out of range: \"{text}\""),
                None,
            )
        };
        let range = || match kind {
            "date" => overflow(format!("date out of range: \"{text}\""), None),
            _ => overflow("timestamp out of range".to_owned(), None),
        };
        let mut hour = self.hh;
        let (mut minute, mut second) = (self.mi, self.ss);
        if self.clock12 {
            if !(1..=12).contains(&hour) {
                return Err(format_error(
                    format!("hour \"{hour}\" is invalid for the 12-hour clock"),
                    None,
                    Some("Use the 24-hour clock, or give an hour between 1 and 12."),
                ));
            }
            if self.pm && hour < 12 {
                hour += 12;
            } else if !self.pm && hour == 12 {
                hour = 0;
            }
        }
        if self.ssss != 0 {
            hour = self.ssss / 3600;
            minute = self.ssss % 3600 / 60;
            second = self.ssss % 60;
        }
        // Astronomical years: 0 is 1 BC, as PostgreSQL counts them inside.
        let (mut year, mut month, mut day) = (0_i64, 1_i64, 1_i64);
        let (mut has_year, mut has_month, mut has_day) = (false, false, false);
        let mut date: Option<NaiveDate> = None;
        if self.year != 0 {
            if self.cc != 0 && self.year_digits <= 2 {
                let cc = if self.bc { -self.cc } else { self.cc };
                year = self.year % 100;
                year = match (year, cc >= 0) {
                    (0, true) => cc * 100,
                    (0, false) => cc * 100 + 1,
                    (y, true) => y + (cc - 1) * 100,
                    (y, false) => (cc + 1) * 100 - y + 1,
                };
            } else {
                year = if self.bc { -self.year } else { self.year };
                if year < 0 {
                    year += 1;
                }
            }
            has_year = true;
        } else if self.cc != 0 {
            let cc = if self.bc { -self.cc } else { self.cc };
            year = match cc >= 0 {
                true => (cc - 1) * 100 + 1,
                false => cc * 100 + 1,
            };
            has_year = true;
        }
        if self.j != 0 {
            // Julian day 1721426 is 0001-01-01.
            date = i32::try_from(self.j - 1_721_425)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt);
            if date.is_none() {
                return Err(range());
            }
            (has_year, has_month, has_day) = (true, true, true);
        }
        let mut ddd = self.ddd;
        if self.ww != 0 {
            if self.calendar == Calendar::IsoWeek {
                // Monday of the week, or its day `d` (Sunday 1 is the week's last).
                let monday = i32::try_from(year)
                    .ok()
                    .and_then(iso_week_one)
                    .and_then(|first| add_days(first, (self.ww - 1) * 7))
                    .ok_or_else(range)?;
                let offset = match self.d {
                    0 => 0,
                    1 => 6,
                    d => d - 2,
                };
                date = Some(add_days(monday, offset).ok_or_else(range)?);
                (has_year, has_month, has_day) = (true, true, true);
            } else {
                ddd = (self.ww - 1) * 7 + 1;
            }
        }
        if let Some(d) = date {
            (year, month, day) = (
                i64::from(d.year()),
                i64::from(d.month()),
                i64::from(d.day()),
            );
        }
        let dd = match self.w {
            0 => self.dd,
            w => (w - 1) * 7 + 1,
        };
        if dd != 0 {
            day = dd;
            has_day = true;
        }
        if self.mm != 0 {
            month = self.mm;
            has_month = true;
        }
        if ddd != 0 && (month <= 1 || day <= 1) {
            if year == 0 && !self.bc {
                return Err(format_error(
                    "cannot calculate day of year without year information".to_owned(),
                    None,
                    None,
                ));
            }
            if self.calendar == Calendar::IsoWeek {
                let d = i32::try_from(year)
                    .ok()
                    .and_then(iso_week_one)
                    .and_then(|first| add_days(first, ddd - 1))
                    .ok_or_else(range)?;
                (year, month, day) = (
                    i64::from(d.year()),
                    i64::from(d.month()),
                    i64::from(d.day()),
                );
                (has_year, has_month, has_day) = (true, true, true);
            } else {
                let leap = i32::try_from(year)
                    .ok()
                    .and_then(|y| NaiveDate::from_ymd_opt(y, 2, 29))
                    .is_some();
                let before = |m: i64| -> i64 {
                    (1..m)
                        .map(|k| match k {
                            2 if leap => 29,
                            2 => 28,
                            4 | 6 | 9 | 11 => 30,
                            _ => 31,
                        })
                        .sum()
                };
                let found = (1..=12).find(|&m| ddd <= before(m + 1)).unwrap_or(13);
                if month <= 1 {
                    month = found;
                }
                if day <= 1 {
                    day = if found == 1 { ddd } else { ddd - before(found) };
                }
                (has_month, has_day) = (true, true);
            }
        }
        if (has_month && !(1..=12).contains(&month)) || (has_day && !(1..=31).contains(&day)) {
            return Err(out_of_range());
        }
        let first = i32::try_from(year)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, month.clamp(1, 12) as u32, 1))
            .ok_or_else(range)?;
        if has_year && has_month && has_day {
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .ok_or_else(range)?;
            if day > (next - first).num_days() {
                return Err(out_of_range());
            }
        }
        // A day past the month's end (no year to check it by) runs on, as in
        // PostgreSQL's Julian day arithmetic.
        let date = add_days(first, day - 1).ok_or_else(range)?;
        let micros = self.ms * 1000 + self.us;
        if !(0..24).contains(&hour)
            || !(0..60).contains(&minute)
            || !(0..60).contains(&second)
            || !(0..1_000_000).contains(&micros)
        {
            return Err(out_of_range());
        }
        let time =
            NaiveTime::from_hms_micro_opt(hour as u32, minute as u32, second as u32, micros as u32)
                .ok_or_else(out_of_range)?;
        let offset = match self.tz_sign {
            0 => None,
            sign => {
                if self.tzh > 15 || self.tzh < 0 || !(0..60).contains(&self.tzm) {
                    return Err(SqlError::Datetime {
                        failure: DatetimeFailure::ZoneDisplacement,
                        message: format!("time zone displacement out of range: \"{text}\""),
                        detail: None,
                        hint: None,
                    });
                }
                // At most 15:59 hours: fits.
                Some((sign * (self.tzh * 3600 + self.tzm * 60)) as i32)
            }
        };
        Ok((date.and_time(time), offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc() -> SessionZone {
        SessionZone::parse("UTC")
    }

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("time")
    }

    /// Answers PostgreSQL 15 gave for `to_timestamp(text, template)` with TimeZone UTC.
    #[test]
    fn texts_read_as_postgres_15() {
        for (text, template, expected) in [
            (
                "2024-3-5 1:2:3",
                "YYYY-MM-DD HH24:MI:SS",
                "2024-03-05 01:02:03",
            ),
            ("20240305", "YYYYMMDD", "2024-03-05 00:00:00"),
            ("2024035", "YYYYMMDD", "2024-03-05 00:00:00"),
            ("202403", "YYYYMMDD", "2024-03-01 00:00:00"),
            ("05   march   2024", "DD Month YYYY", "2024-03-05 00:00:00"),
            ("2024/03/05", "YYYY-MM-DD", "2024-03-05 00:00:00"),
            ("2024 03 05", "YYYY-MM-DD", "2024-03-05 00:00:00"),
            ("2024-03-05", "YYYY--MM--DD", "2024-03-05 00:00:00"),
            (
                "3/5/2024 10:11:12 p.m.",
                "MM/DD/YYYY HH12:MI:SS a.m.",
                "2024-03-05 22:11:12",
            ),
            (
                "2024-03-05 12:11:12 AM",
                "YYYY-MM-DD HH:MI:SS AM",
                "2024-03-05 00:11:12",
            ),
            (
                "2024-03-05 10:11:12.5",
                "YYYY-MM-DD HH24:MI:SS.MS",
                "2024-03-05 10:11:12.5",
            ),
            (
                "2024-03-05 10:11:12.5",
                "YYYY-MM-DD HH24:MI:SS.US",
                "2024-03-05 10:11:12.5",
            ),
            ("24-03-05", "YY-MM-DD", "2024-03-05 00:00:00"),
            ("70-03-05", "YY-MM-DD", "1970-03-05 00:00:00"),
            ("2024 065", "YYYY DDD", "2024-03-05 00:00:00"),
            ("2024 366", "YYYY DDD", "2024-12-31 00:00:00"),
            (
                "2024-03-05T10:11:12",
                "YYYY-MM-DD\"T\"HH24:MI:SS",
                "2024-03-05 10:11:12",
            ),
            ("5th March 2024", "DDth Month YYYY", "2024-03-05 00:00:00"),
            ("2024 3", "YYYY Q", "2024-01-01 00:00:00"),
            ("2024 10", "YYYY WW", "2024-03-04 00:00:00"),
            ("2024 10 3", "IYYY IW ID", "2024-03-06 00:00:00"),
            ("2024 10 Wed", "IYYY IW Dy", "2024-03-06 00:00:00"),
            ("2024 1 1 x", "YYYY MM DD", "2024-01-01 00:00:00"),
            ("2024-00-01", "YYYY-MM-DD", "2024-01-01 00:00:00"),
            ("21 24", "CC YY", "2024-01-01 00:00:00"),
            ("III 2024", "RM YYYY", "2024-03-01 00:00:00"),
            ("2,024", "Y,YYY", "2024-01-01 00:00:00"),
            ("2024 2 3", "YYYY MM W", "2024-02-15 00:00:00"),
            (
                "2024-03-05 10:11:12.12",
                "YYYY-MM-DD HH24:MI:SS.FF2",
                "2024-03-05 10:11:12.12",
            ),
            ("2460375", "J", "2024-03-05 00:00:00"),
            (
                "2024-03-05 10:11:12 +05:30",
                "YYYY-MM-DD HH24:MI:SS TZH:TZM",
                "2024-03-05 04:41:12",
            ),
            (
                "2024-03-05 10:11:12 -03",
                "YYYY-MM-DD HH24:MI:SS TZH",
                "2024-03-05 13:11:12",
            ),
            (
                "2024-03-05 10:11:12+0530",
                "YYYY-MM-DD HH24:MI:SSTZHTZM",
                "2024-03-05 04:41:12",
            ),
            (
                "2024-03-05 10:11:12 -00:30",
                "YYYY-MM-DD HH24:MI:SS TZH:TZM",
                "2024-03-05 10:41:12",
            ),
        ] {
            let got = Template::new(template).timestamp(text, &utc());
            assert_eq!(got.ok(), Some(at(expected)), "{text} / {template}");
        }
    }

    /// PostgreSQL 15's errors for texts that do not read.
    #[test]
    fn errors_as_postgres_15() {
        for (text, template, message) in [
            (
                "2024-13-05",
                "YYYY-MM-DD",
                "date/time field value out of range: \"2024-13-05\"",
            ),
            (
                "2024-02-30",
                "YYYY-MM-DD",
                "date/time field value out of range: \"2024-02-30\"",
            ),
            ("abc", "YYYY-MM-DD", "invalid value \"abc\" for \"YYYY\""),
            (
                "2024x03x05",
                "YYYY-MM-DD",
                "invalid value \"x0\" for \"MM\"",
            ),
            (
                "Foo 5, 2024",
                "Mon DD, YYYY",
                "invalid value \"Foo\" for \"Mon\"",
            ),
            (
                "Marc 5, 2024",
                "Mon DD, YYYY",
                "invalid value \"c \" for \"DD\"",
            ),
            (
                "2024 2025",
                "YYYY YYYY",
                "conflicting values for \"YYYY\" field in formatting string",
            ),
            (
                "2024 1",
                "YYYY IW",
                "invalid combination of date conventions",
            ),
            (
                "366",
                "DDD",
                "cannot calculate day of year without year information",
            ),
            (
                "2023 366",
                "YYYY DDD",
                "date/time field value out of range: \"2023 366\"",
            ),
            (
                "2024-03-05 13:00",
                "YYYY-MM-DD HH12:MI",
                "hour \"13\" is invalid for the 12-hour clock",
            ),
            (
                "2024-03-05 25:00",
                "YYYY-MM-DD HH24:MI",
                "date/time field value out of range: \"2024-03-05 25:00\"",
            ),
            ("20240a05", "YYYYMMDD", "invalid value \"0a\" for \"MM\""),
            (
                "99999999999",
                "YYYY",
                "value for \"YYYY\" in source string is out of range",
            ),
            (
                "2024-03-05 10:11:12 UTC",
                "YYYY-MM-DD HH24:MI:SS TZ",
                "formatting field \"TZ\" is only supported in to_char",
            ),
            (
                "2024-03-05 10:11:12 +16",
                "YYYY-MM-DD HH24:MI:SS TZH",
                "time zone displacement out of range: \"2024-03-05 10:11:12 +16\"",
            ),
            ("300000", "YYYY", "timestamp out of range"),
            // Extreme values give an error, not an overflow (the connection was lost).
            ("-2147483648", "J", "timestamp out of range"),
            ("99999999 24", "CC YY", "timestamp out of range"),
            ("-2147483648 BC", "YYYY BC", "timestamp out of range"),
            (
                "2024 1 2147483647",
                "YYYY MM W",
                "date/time field value out of range: \"2024 1 2147483647\"",
            ),
        ] {
            let got = Template::new(template).timestamp(text, &utc());
            assert_eq!(
                got.map_err(|e| e.to_string()).err().as_deref(),
                Some(message),
                "{text} / {template}"
            );
        }
    }
}
