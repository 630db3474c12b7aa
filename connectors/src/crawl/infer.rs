//! Schema inference from a sample: delimiter and header detection for delimited text,
//! a type per column (with the parse format of dates and timestamps that are not
//! ISO), and widening when files disagree.

use serde::{Deserialize, Serialize};

use super::names;

/// A column's type as the crawler infers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ColumnType {
    Boolean,
    Bigint,
    Double,
    Decimal {
        precision: u8,
        scale: u8,
    },
    Date,
    Timestamp,
    String,
    /// A type the file format declares that Tarn does not declare itself (nested
    /// Parquet, JSON or Avro types): the reader's own inference is used.
    Native {
        name: String,
    },
}

impl ColumnType {
    /// The SQL type for a `CREATE EXTERNAL TABLE` column list.
    pub fn sql(&self) -> String {
        match self {
            ColumnType::Boolean => "BOOLEAN".to_owned(),
            ColumnType::Bigint => "BIGINT".to_owned(),
            ColumnType::Double => "DOUBLE".to_owned(),
            ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision},{scale})"),
            ColumnType::Date => "DATE".to_owned(),
            ColumnType::Timestamp => "TIMESTAMP".to_owned(),
            ColumnType::String => "VARCHAR".to_owned(),
            ColumnType::Native { name } => name.clone(),
        }
    }

    /// The type holding values of both (int -> bigint -> decimal -> double -> string).
    pub fn widen(&self, other: &ColumnType) -> ColumnType {
        use ColumnType as T;
        match (self, other) {
            (a, b) if a == b => a.clone(),
            (T::Bigint, T::Double) | (T::Double, T::Bigint) => T::Double,
            (T::Bigint, T::Decimal { precision, scale })
            | (T::Decimal { precision, scale }, T::Bigint) => {
                // Room for 18 integer digits besides the scale, within 38.
                T::Decimal {
                    precision: (18 + *scale).clamp(*precision, 38),
                    scale: *scale,
                }
            }
            (T::Decimal { .. }, T::Double) | (T::Double, T::Decimal { .. }) => T::Double,
            (
                T::Decimal {
                    precision: p1,
                    scale: s1,
                },
                T::Decimal {
                    precision: p2,
                    scale: s2,
                },
            ) if s1 == s2 => T::Decimal {
                precision: *p1.max(p2),
                scale: *s1,
            },
            (T::Decimal { .. }, T::Decimal { .. }) => T::Double,
            (T::Date, T::Timestamp) | (T::Timestamp, T::Date) => T::Timestamp,
            _ => T::String,
        }
    }
}

/// A column: its clean name, the name in the file, its type, whether nulls were seen
/// (or may appear), and for dates and timestamps that are not ISO, the chrono format
/// that parses them (`epoch` for seconds since 1970).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub source_name: Option<String>,
    #[serde(flatten)]
    pub data_type: ColumnType,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

impl Column {
    /// The column holding values of both, or `None` when their parse formats differ
    /// (the values then stay text).
    pub fn widen(&self, other: &Column) -> Column {
        let mut data_type = self.data_type.widen(&other.data_type);
        let format = if self.format == other.format {
            self.format.clone()
        } else {
            data_type = ColumnType::String;
            None
        };
        let format = if matches!(data_type, ColumnType::Date | ColumnType::Timestamp) {
            format
        } else {
            None
        };
        Column {
            name: self.name.clone(),
            source_name: self.source_name.clone(),
            data_type,
            nullable: self.nullable || other.nullable,
            format,
        }
    }
}

/// What one text value looks like.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Null,
    Bool,
    Int(i64),
    Decimal { digits: u8, scale: u8 },
    Double,
    Date(Option<&'static str>),
    Timestamp(Option<&'static str>),
    Text,
}

/// Date formats besides ISO `yyyy-MM-dd` (which readers parse natively).
const DATE_FORMATS: &[&str] = &["%m/%d/%Y", "%d-%m-%Y", "%Y/%m/%d"];
/// Timestamp formats besides ISO 8601 (with `T` or a space, optional fraction and
/// zone), tried in order.
const TIMESTAMP_FORMATS: &[&str] = &[
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%Y/%m/%d %H:%M:%S",
];

/// The smallest and largest instants read as epoch seconds (2000-01-01 to 2100-01-01)
/// in columns whose name says they hold a time.
const EPOCH_RANGE: std::ops::Range<i64> = 946_684_800..4_102_444_800;

fn kind(value: &str) -> Kind {
    let v = value.trim();
    if v.is_empty() {
        return Kind::Null;
    }
    if v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false") {
        return Kind::Bool;
    }
    let unsigned = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        // Leading zeros are identifiers (zip codes, account numbers), not numbers.
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return Kind::Text;
        }
        return match v.parse::<i64>() {
            Ok(n) => Kind::Int(n),
            Err(_) => Kind::Text,
        };
    }
    if let Some((int, frac)) = unsigned.split_once('.')
        && !int.is_empty()
        && !frac.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(int.len() > 1 && int.starts_with('0'))
    {
        let digits = int.len() + frac.len();
        return if frac.len() <= 6 && digits <= 38 {
            Kind::Decimal {
                digits: digits as u8,
                scale: frac.len() as u8,
            }
        } else {
            Kind::Double
        };
    }
    if v.bytes().any(|b| b.is_ascii_digit()) && v.parse::<f64>().is_ok_and(f64::is_finite) {
        return Kind::Double;
    }
    if let Some(kind) = temporal(v) {
        return kind;
    }
    Kind::Text
}

fn temporal(v: &str) -> Option<Kind> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};
    if v.len() < 8 || v.len() > 40 || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() {
        return Some(Kind::Date(None));
    }
    let iso = v.replacen(' ', "T", 1);
    if DateTime::parse_from_rfc3339(&iso).is_ok()
        || NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(&iso, "%Y-%m-%dT%H:%M").is_ok()
    {
        return Some(Kind::Timestamp(None));
    }
    if let Some(f) = TIMESTAMP_FORMATS
        .iter()
        .find(|f| NaiveDateTime::parse_from_str(v, f).is_ok())
    {
        return Some(Kind::Timestamp(Some(f)));
    }
    DATE_FORMATS
        .iter()
        .find(|f| NaiveDate::parse_from_str(v, f).is_ok())
        .map(|f| Kind::Date(Some(f)))
}

/// The running inference of one column over the sampled values.
#[derive(Debug, Clone, Default)]
struct Acc {
    seen: Option<Kind>,
    nulls: bool,
    text: bool,
    min: i64,
    max: i64,
    digits: u8,
    scale: Option<u8>,
    mixed_scale: bool,
}

impl Acc {
    fn add(&mut self, value: &str) {
        let k = kind(value);
        if k == Kind::Null {
            self.nulls = true;
            return;
        }
        if let Kind::Int(n) = k {
            self.min = if self.seen.is_none() {
                n
            } else {
                self.min.min(n)
            };
            self.max = if self.seen.is_none() {
                n
            } else {
                self.max.max(n)
            };
        }
        if let Kind::Decimal { digits, scale } = k {
            self.digits = self.digits.max(digits);
            match self.scale {
                None => self.scale = Some(scale),
                Some(s) if s != scale => self.mixed_scale = true,
                _ => {}
            }
        }
        self.seen = Some(match (self.seen.take(), k) {
            (None, k) => k,
            (Some(a), b) if a == b => a,
            (Some(Kind::Int(_)), Kind::Int(n)) => Kind::Int(n),
            (Some(Kind::Int(_) | Kind::Decimal { .. }), d @ Kind::Decimal { .. })
            | (Some(d @ Kind::Decimal { .. }), Kind::Int(_)) => d,
            (Some(Kind::Int(_) | Kind::Decimal { .. } | Kind::Double), Kind::Double)
            | (Some(Kind::Double), Kind::Int(_) | Kind::Decimal { .. }) => Kind::Double,
            (Some(Kind::Date(None)), Kind::Timestamp(None))
            | (Some(Kind::Timestamp(None)), Kind::Date(None)) => Kind::Timestamp(None),
            _ => {
                self.text = true;
                Kind::Text
            }
        });
    }

    fn column(&self, name: String, source_name: Option<String>) -> Column {
        let (data_type, format) = match (&self.seen, self.text) {
            (_, true) | (Some(Kind::Text), _) | (None, _) => (ColumnType::String, None),
            (Some(Kind::Bool), _) => (ColumnType::Boolean, None),
            (Some(Kind::Int(_)), _)
                if is_time_name(&name)
                    && EPOCH_RANGE.contains(&self.min)
                    && EPOCH_RANGE.contains(&self.max) =>
            {
                (ColumnType::Timestamp, Some("epoch".to_owned()))
            }
            (Some(Kind::Int(_)), _) => (ColumnType::Bigint, None),
            (Some(Kind::Decimal { .. }), _) if self.mixed_scale => (ColumnType::Double, None),
            (Some(Kind::Decimal { .. }), _) => {
                let scale = self.scale.unwrap_or(0);
                let integer_digits = self
                    .digits
                    .saturating_sub(scale)
                    .max(digits_of(self.min).max(digits_of(self.max)));
                (
                    ColumnType::Decimal {
                        precision: (integer_digits + scale).clamp(scale.max(1), 38),
                        scale,
                    },
                    None,
                )
            }
            (Some(Kind::Double), _) => (ColumnType::Double, None),
            (Some(Kind::Date(f)), _) => (ColumnType::Date, f.map(str::to_owned)),
            (Some(Kind::Timestamp(f)), _) => (ColumnType::Timestamp, f.map(str::to_owned)),
            (Some(Kind::Null), _) => (ColumnType::String, None),
        };
        Column {
            name,
            source_name,
            data_type,
            // Files not sampled may hold nulls: only a column of a format that
            // declares nullability (Parquet) is ever not nullable.
            nullable: true,
            format,
        }
    }
}

fn digits_of(n: i64) -> u8 {
    n.unsigned_abs().checked_ilog10().map_or(1, |d| d as u8 + 1)
}

fn is_time_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["time", "epoch", "_at", "_ts", "timestamp", "date"]
        .iter()
        .any(|hint| n.contains(hint))
        || n == "ts"
}

/// Delimiters the crawler recognizes, in order of preference on ties.
pub const DELIMITERS: &[u8] = b",|\t;\x01";

/// How a delimited text file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDialect {
    pub delimiter: u8,
    pub quote: u8,
    pub header: bool,
}

/// What a delimited sample holds.
#[derive(Debug, Clone)]
pub struct CsvInference {
    pub dialect: CsvDialect,
    pub columns: Vec<Column>,
    /// Rows sampled (not counting a header).
    pub rows: usize,
    /// How sure the crawler is that this is delimited text (0 to 1).
    pub certainty: f32,
}

/// Infers the dialect and columns of delimited text from `sample` (complete lines
/// only). `None` when no delimiter splits the lines consistently.
pub fn infer_csv(sample: &str, max_rows: usize) -> Option<CsvInference> {
    let sample = sample.trim_start_matches('\u{feff}');
    let (delimiter, certainty) = sniff_delimiter(sample)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(sample.as_bytes());
    let records: Vec<csv::StringRecord> = reader
        .records()
        .take(max_rows + 1)
        .filter_map(|r| r.ok())
        .filter(|r| !(r.len() == 1 && r.get(0).is_some_and(|f| f.trim().is_empty())))
        .collect();
    let first = records.first()?;
    let width = records
        .iter()
        .map(csv::StringRecord::len)
        .max()
        .unwrap_or(0);
    if width == 0 {
        return None;
    }
    let data = &records[1.min(records.len())..];
    let first_cells: Vec<&str> = first.iter().collect();
    let header = first_cells.len() == width
        && first_cells
            .iter()
            .all(|c| matches!(kind(c), Kind::Text) && names::looks_like_name(c))
        && data.iter().any(|r| {
            r.iter()
                .any(|c| !matches!(kind(c), Kind::Text | Kind::Null))
        });
    let body: &[csv::StringRecord] = if header { data } else { &records };
    let raw_names: Vec<Option<&str>> = (0..width)
        .map(|i| if header { first.get(i) } else { None })
        .collect();
    let clean = names::columns(&raw_names);
    let mut accs = vec![Acc::default(); width];
    for record in body {
        for (i, acc) in accs.iter_mut().enumerate() {
            match record.get(i) {
                Some(value) => acc.add(value),
                None => acc.nulls = true,
            }
        }
    }
    let columns = accs
        .iter()
        .zip(clean)
        .enumerate()
        .map(|(i, (acc, name))| {
            let source = raw_names[i].map(|s| s.trim_start_matches('\u{feff}').trim().to_owned());
            acc.column(name, source)
        })
        .collect();
    Some(CsvInference {
        dialect: CsvDialect {
            delimiter,
            quote: b'"',
            header,
        },
        columns,
        rows: body.len(),
        certainty,
    })
}

/// The delimiter that splits the sample's lines into the same number (more than one)
/// of fields most consistently; its certainty is the share of lines that agree.
fn sniff_delimiter(sample: &str) -> Option<(u8, f32)> {
    let lines: Vec<&str> = sample
        .lines()
        .filter(|l| !l.trim().is_empty())
        .take(50)
        .collect();
    if lines.is_empty() {
        return None;
    }
    let mut best: Option<(u8, f32, usize)> = None;
    for &d in DELIMITERS {
        let counts: Vec<usize> = lines.iter().map(|l| fields(l, d)).collect();
        let mode = mode(&counts);
        if mode < 2 {
            continue;
        }
        let agree = counts.iter().filter(|&&c| c == mode).count() as f32 / counts.len() as f32;
        if best.is_none_or(|(_, a, m)| agree > a || (agree == a && mode > m)) {
            best = Some((d, agree, mode));
        }
    }
    match best {
        Some((d, agree, _)) if agree >= 0.5 => Some((d, 0.5 + agree / 2.0)),
        // One column of text: a delimited file with a single column, weakly.
        None if lines.iter().all(|l| !l.contains('\0')) && lines.len() > 1 => Some((b',', 0.3)),
        _ => None,
    }
}

/// Fields of one line split by `d`, outside double quotes.
fn fields(line: &str, d: u8) -> usize {
    let mut n = 1;
    let mut quoted = false;
    for b in line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if b == d && !quoted {
            n += 1;
        }
    }
    n
}

fn mode(counts: &[usize]) -> usize {
    let mut freq = std::collections::HashMap::new();
    for &c in counts {
        *freq.entry(c).or_insert(0usize) += 1;
    }
    freq.into_iter()
        .max_by_key(|&(c, n)| (n, c))
        .map_or(0, |(c, _)| c)
}

/// Infers the columns of JSON objects (one per line, or the elements of an array):
/// keys in order of first appearance, scalar types as for text, nested values left to
/// the reader.
pub fn infer_json(values: &[serde_json::Value]) -> Vec<Column> {
    let mut order: Vec<String> = Vec::new();
    let mut accs: std::collections::HashMap<String, (Acc, Option<String>)> = Default::default();
    for value in values {
        let Some(object) = value.as_object() else {
            continue;
        };
        for (key, v) in object {
            let entry = accs.entry(key.clone()).or_insert_with(|| {
                order.push(key.clone());
                (Acc::default(), None)
            });
            match v {
                serde_json::Value::Null => entry.0.nulls = true,
                serde_json::Value::Bool(b) => entry.0.add(if *b { "true" } else { "false" }),
                serde_json::Value::Number(n) => {
                    let text = n.to_string();
                    if n.is_f64() && !text.contains('.') {
                        entry.0.add(&format!("{text}.0"));
                    } else {
                        entry.0.add(&text);
                    }
                }
                serde_json::Value::String(s) => match kind(s) {
                    // Strings stay strings unless they are dates or timestamps:
                    // JSON readers do not turn "12" into a number.
                    Kind::Date(None) | Kind::Timestamp(None) => entry.0.add(s),
                    _ => entry.0.add("\u{1}text"),
                },
                serde_json::Value::Array(_) => entry.1 = Some("list".to_owned()),
                serde_json::Value::Object(_) => entry.1 = Some("struct".to_owned()),
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    order
        .iter()
        .map(|key| {
            let (acc, nested) = &accs[key];
            let name = names::unique(
                names::clean(key).unwrap_or_else(|| "col".to_owned()),
                &mut seen,
            );
            let mut column = acc.column(name, Some(key.clone()));
            if let Some(nested) = nested {
                column.data_type = ColumnType::Native {
                    name: nested.clone(),
                };
            }
            // JSON readers parse only ISO timestamps; numbers stay as the reader
            // infers them (int64 or float64).
            if column.format.is_some() {
                column.data_type = ColumnType::String;
                column.format = None;
            }
            if matches!(column.data_type, ColumnType::Decimal { .. }) {
                column.data_type = ColumnType::Double;
            }
            column
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(sample: &str) -> (CsvDialect, Vec<(String, String, Option<String>)>) {
        let inferred = infer_csv(sample, 1000).expect("delimited");
        (
            inferred.dialect,
            inferred
                .columns
                .into_iter()
                .map(|c| (c.name, c.data_type.sql(), c.format))
                .collect(),
        )
    }

    #[test]
    fn header_and_types_of_a_crime_report() {
        let (dialect, columns) = types(
            "\u{feff}ID,Case Number,Date,Arrest,Beat,Latitude\n\
             1,JA100,01/15/2024 08:30:00 PM,true,0421,41.75\n\
             2,JA101,02/01/2024 11:05:12 AM,false,1033,41.8801\n",
        );
        assert!(dialect.header);
        assert_eq!(dialect.delimiter, b',');
        let expect =
            |n: &str, t: &str, f: Option<&str>| (n.to_owned(), t.to_owned(), f.map(str::to_owned));
        assert_eq!(
            columns,
            vec![
                expect("id", "BIGINT", None),
                expect("case_number", "VARCHAR", None),
                expect("date", "TIMESTAMP", Some("%m/%d/%Y %I:%M:%S %p")),
                expect("arrest", "BOOLEAN", None),
                expect("beat", "VARCHAR", None),
                expect("latitude", "DOUBLE", None),
            ]
        );
    }

    #[test]
    fn headerless_pipe_file_gets_numbered_columns() {
        let (dialect, columns) = types("a|1|2024-01-05\nb|2|2024-02-11\n");
        assert!(!dialect.header);
        assert_eq!(dialect.delimiter, b'|');
        let names: Vec<_> = columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(names, vec!["col1", "col2", "col3"]);
        assert_eq!(columns[2].1, "DATE");
        assert_eq!(columns[2].2, None, "ISO dates need no format");
    }

    #[test]
    fn all_text_first_row_is_data_when_no_row_has_other_types() {
        let (dialect, _) = types("name,city\nann,oslo\nbo,lima\n");
        assert!(
            !dialect.header,
            "every row is text: no evidence of a header"
        );
    }

    #[test]
    fn money_is_decimal_mixed_scales_are_double_and_epochs_are_timestamps() {
        let (_, columns) =
            types("price,ratio,created_at,qty\n12.50,0.5,1700000000,3\n7.25,0.125,1700003600,\n");
        assert_eq!(columns[0].1, "DECIMAL(4,2)");
        assert_eq!(columns[1].1, "DOUBLE");
        assert_eq!(columns[2].1, "TIMESTAMP");
        assert_eq!(columns[2].2.as_deref(), Some("epoch"));
        assert_eq!(columns[3].1, "BIGINT");
    }

    #[test]
    fn tabs_semicolons_and_ctrl_a() {
        for d in [b'\t', b';', b'\x01'] {
            let sep = (d as char).to_string();
            let sample = format!("id{sep}name\n1{sep}x\n2{sep}y\n");
            assert_eq!(types(&sample).0.delimiter, d);
        }
    }

    #[test]
    fn widening_follows_int_bigint_double_string() {
        use ColumnType as T;
        assert_eq!(T::Bigint.widen(&T::Double), T::Double);
        assert_eq!(T::Double.widen(&T::String), T::String);
        assert_eq!(T::Boolean.widen(&T::Bigint), T::String);
        assert_eq!(
            T::Bigint.widen(&T::Decimal {
                precision: 5,
                scale: 2
            }),
            T::Decimal {
                precision: 20,
                scale: 2
            }
        );
        assert_eq!(T::Date.widen(&T::Timestamp), T::Timestamp);
    }

    #[test]
    fn json_keys_and_types() {
        let values: Vec<serde_json::Value> = [
            r#"{"id": 1, "track": "Intro", "ms": 210000, "explicit": false, "at": "2024-01-01T10:00:00Z"}"#,
            r#"{"id": 2, "track": "Outro", "ms": 185000.5, "tags": ["x"], "at": "2024-01-02T10:00:00Z"}"#,
        ]
        .iter()
        .map(|s| serde_json::from_str(s).expect("json"))
        .collect();
        let columns = infer_json(&values);
        let mut got: Vec<(&str, String)> = columns
            .iter()
            .map(|c| (c.name.as_str(), c.data_type.sql()))
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("at", "TIMESTAMP".to_owned()),
                ("explicit", "BOOLEAN".to_owned()),
                ("id", "BIGINT".to_owned()),
                ("ms", "DOUBLE".to_owned()),
                ("tags", "list".to_owned()),
                ("track", "VARCHAR".to_owned()),
            ]
        );
    }
}
