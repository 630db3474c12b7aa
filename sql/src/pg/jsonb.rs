//! jsonb's text, as PostgreSQL 15 keeps and prints it.
//!
//! `json` keeps the text it was given; `jsonb` keeps a parsed value, so what comes
//! back is PostgreSQL's rendering of it (`jsonb_out`): no insignificant whitespace,
//! `", "` between elements and `": "` after keys, object keys ordered by length and
//! then bytes with only the last of duplicate keys kept, strings with their escapes
//! resolved and re-escaped as `escape_json` does, and numbers as `numeric` prints
//! them (`1e2` is `100`, `1.50e1` is `15.0`, `-0` is `0`). Tarn stores jsonb values
//! in this form, so comparisons, `DISTINCT` and output agree with PostgreSQL.
//!
//! The text is checked to be JSON before it gets here ([`super::typmod`]); this
//! parser still refuses what is not JSON rather than guess.

use std::fmt::Write;

/// Why a JSON text has no jsonb value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JsonbError {
    /// `\u0000`, which a text value cannot hold (PostgreSQL's 22P05).
    NulEscape,
    /// A number beyond `numeric`'s range: more than 131,072 digits before the
    /// point or 16,383 after (22003).
    NumericOverflow,
    /// Not JSON at byte `at`.
    Syntax { at: usize },
}

impl From<JsonbError> for crate::error::SqlError {
    fn from(e: JsonbError) -> Self {
        match e {
            JsonbError::NulEscape => Self::UnsupportedUnicodeEscape,
            JsonbError::NumericOverflow => Self::NumericOverflow,
            JsonbError::Syntax { at } => Self::InvalidText {
                type_name: "json",
                message: format!("unexpected text at byte {at}"),
            },
        }
    }
}

/// Digits `numeric` allows before the decimal point and after it.
const MAX_INTEGER_DIGITS: i64 = 131_072;
const MAX_SCALE: i64 = 16_383;

/// The jsonb text of the JSON `text`.
pub(crate) fn normalized(text: &str) -> Result<String, JsonbError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut out = String::with_capacity(text.len());
    parser.value(&mut out)?;
    parser.skip_whitespace();
    if parser.at != parser.bytes.len() {
        return Err(parser.syntax());
    }
    Ok(out)
}

/// One step into a JSON value: an object's member by key, or an array's element by
/// position (from 0; negative counts from the end).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Index(i64),
}

/// The text of the value one `step` into the JSON `text`, as written there (PostgreSQL's
/// `->`): of duplicate keys the last, as jsonb keeps it and json's `->` answers. `None`
/// where there is no such member or element, or `text` is not an object or an array;
/// with `scalar_as_array` (jsonb, which keeps a lone scalar as an array of one), a
/// scalar is its own element 0 and -1.
pub(crate) fn get<'t>(
    text: &'t str,
    step: Step<'_>,
    scalar_as_array: bool,
) -> Result<Option<&'t str>, JsonbError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut scratch = String::new();
    // Reads a value, returning where it lies in `text`.
    let mut value = |parser: &mut Parser<'_>| -> Result<(usize, usize), JsonbError> {
        parser.skip_whitespace();
        let start = parser.at;
        scratch.clear();
        parser.value(&mut scratch)?;
        Ok((start, parser.at))
    };
    let mut found = None;
    match (parser.peek(), step) {
        (Some(b'{'), Step::Key(key)) => {
            parser.at += 1;
            if parser.peek() == Some(b'}') {
                return Ok(None);
            }
            loop {
                if parser.peek() != Some(b'"') {
                    return Err(parser.syntax());
                }
                let name = parser.string()?;
                parser.expect(b':')?;
                let span = value(&mut parser)?;
                if name == key {
                    found = Some(span);
                }
                match parser.peek() {
                    Some(b',') => parser.at += 1,
                    Some(b'}') => break,
                    _ => return Err(parser.syntax()),
                }
            }
        }
        (Some(b'['), Step::Index(index)) => {
            parser.at += 1;
            let mut elements = Vec::new();
            if parser.peek() != Some(b']') {
                loop {
                    elements.push(value(&mut parser)?);
                    match parser.peek() {
                        Some(b',') => parser.at += 1,
                        Some(b']') => break,
                        _ => return Err(parser.syntax()),
                    }
                }
            }
            let at = if index < 0 {
                elements.len() as i64 + index
            } else {
                index
            };
            found = usize::try_from(at)
                .ok()
                .and_then(|at| elements.get(at).copied());
        }
        (Some(b'{' | b'['), _) | (None, _) | (_, Step::Key(_)) => {}
        (Some(_), Step::Index(index)) => {
            if scalar_as_array && (index == 0 || index == -1) {
                found = Some(value(&mut parser)?);
            }
        }
    }
    Ok(found.map(|(start, end)| &text[start..end]))
}

/// The top-level parts of a JSON value, as written in its text.
#[derive(Debug, PartialEq)]
pub(crate) enum Members<'t> {
    /// An array's elements.
    Array(Vec<&'t str>),
    /// An object's members, keys with their escapes resolved, in the order written
    /// (duplicate keys too: json keeps them, jsonb's text has none).
    Object(Vec<(String, &'t str)>),
    Scalar,
}

/// The elements or members of the JSON `text` (what PostgreSQL's
/// `json[b]_array_elements`, `json[b]_each` and `json[b]_object_keys` return).
pub(crate) fn members(text: &str) -> Result<Members<'_>, JsonbError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut scratch = String::new();
    let mut value = |parser: &mut Parser<'_>| -> Result<&str, JsonbError> {
        parser.skip_whitespace();
        let start = parser.at;
        scratch.clear();
        parser.value(&mut scratch)?;
        Ok(&text[start..parser.at])
    };
    let (open, close) = match parser.peek() {
        Some(b'[') => (b'[', b']'),
        Some(b'{') => (b'{', b'}'),
        None => return Err(parser.syntax()),
        Some(_) => {
            value(&mut parser)?;
            return Ok(Members::Scalar);
        }
    };
    parser.at += 1;
    let mut elements = Vec::new();
    let mut object = Vec::new();
    if parser.peek() != Some(close) {
        loop {
            if open == b'[' {
                elements.push(value(&mut parser)?);
            } else {
                if parser.peek() != Some(b'"') {
                    return Err(parser.syntax());
                }
                let key = parser.string()?;
                parser.expect(b':')?;
                object.push((key, value(&mut parser)?));
            }
            match parser.peek() {
                Some(b',') => parser.at += 1,
                Some(b) if b == close => break,
                _ => return Err(parser.syntax()),
            }
        }
    }
    Ok(if open == b'[' {
        Members::Array(elements)
    } else {
        Members::Object(object)
    })
}

/// Whether `key` is a top-level key of the JSON `text` (an object), a string element
/// of it (an array), or the string itself (PostgreSQL's jsonb `?`).
pub(crate) fn has_key(text: &str, key: &str) -> Result<bool, JsonbError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let mut scratch = String::new();
    match parser.peek() {
        Some(b'{') => {
            parser.at += 1;
            if parser.peek() == Some(b'}') {
                return Ok(false);
            }
            loop {
                if parser.peek() != Some(b'"') {
                    return Err(parser.syntax());
                }
                if parser.string()? == key {
                    return Ok(true);
                }
                parser.expect(b':')?;
                scratch.clear();
                parser.value(&mut scratch)?;
                match parser.peek() {
                    Some(b',') => parser.at += 1,
                    Some(b'}') => return Ok(false),
                    _ => return Err(parser.syntax()),
                }
            }
        }
        Some(b'[') => {
            parser.at += 1;
            if parser.peek() == Some(b']') {
                return Ok(false);
            }
            loop {
                if parser.peek() == Some(b'"') {
                    if parser.string()? == key {
                        return Ok(true);
                    }
                } else {
                    scratch.clear();
                    parser.value(&mut scratch)?;
                }
                match parser.peek() {
                    Some(b',') => parser.at += 1,
                    Some(b']') => return Ok(false),
                    _ => return Err(parser.syntax()),
                }
            }
        }
        Some(b'"') => Ok(parser.string()? == key),
        _ => Ok(false),
    }
}

/// The text a JSON value stands for (PostgreSQL's `->>`): a string's characters, its
/// escapes resolved; `None` for `null`; any other value as written.
pub(crate) fn as_text(value: &str) -> Result<Option<std::borrow::Cow<'_, str>>, JsonbError> {
    if value == "null" {
        return Ok(None);
    }
    if value.starts_with('"') {
        let mut parser = Parser {
            bytes: value.as_bytes(),
            at: 0,
        };
        return parser.string().map(|s| Some(s.into()));
    }
    Ok(Some(value.into()))
}

/// Whether the jsonb value `container` contains `contained` (PostgreSQL's `@>`, and
/// `<@` the other way round), by PostgreSQL's rules: an object contains an object
/// whose every key it has, each with a value it contains; an array contains an array
/// whose every element it contains (in any order, any number of times); a scalar
/// contains an equal scalar (numbers by value: `1.0` is `1`); and, as the one
/// exception to the kinds matching, an array at the top contains a lone scalar that
/// is one of its elements. An object never contains an array, nor the other way round.
pub(crate) fn contains(container: &str, contained: &str) -> Result<bool, JsonbError> {
    let (container, contained) = (tree(container)?, tree(contained)?);
    Ok(match (&container, &contained) {
        // A scalar is kept as an array of one that is marked raw: it contains
        // another raw scalar, and an array contains it, but it contains no array.
        (Value::Array(_), Value::Object(_)) | (Value::Object(_), Value::Array(_)) => false,
        (l, r) if !l.is_container() && !r.is_container() => l.equals(r),
        (l, _) if !l.is_container() => false,
        (Value::Array(l), r) if !r.is_container() => l.iter().any(|e| e.equals(r)),
        (l, r) => l.contains(r),
    })
}

/// What `json[b]_array_length` finds in the JSON `text`.
pub(crate) enum ArrayLength {
    Array(usize),
    Object,
    Scalar,
}

/// The number of elements of the JSON `text` if it is an array.
pub(crate) fn array_length(text: &str) -> Result<ArrayLength, JsonbError> {
    Ok(match tree(text)? {
        Value::Array(elements) => ArrayLength::Array(elements.len()),
        Value::Object(_) => ArrayLength::Object,
        _ => ArrayLength::Scalar,
    })
}

/// A parsed JSON value: numbers in `numeric`'s rendering (`15.0`, compared by value:
/// see [`same_number`]); objects with only the last of duplicate keys.
#[derive(Debug, PartialEq)]
enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    fn is_container(&self) -> bool {
        matches!(self, Value::Array(_) | Value::Object(_))
    }

    /// Scalar equality; containers are never equal here.
    fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Number(l), Value::Number(r)) => same_number(l, r),
            (l, r) => !l.is_container() && l == r,
        }
    }

    /// Containment of two containers of the same kind (`false` for different kinds).
    fn contains(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Object(l), Value::Object(r)) => {
                l.len() >= r.len()
                    && r.iter().all(|(key, rv)| {
                        l.iter().find(|(k, _)| k == key).is_some_and(|(_, lv)| {
                            match lv.is_container() {
                                true => lv.contains(rv),
                                false => lv.equals(rv),
                            }
                        })
                    })
            }
            (Value::Array(l), Value::Array(r)) => r.iter().all(|rv| match rv.is_container() {
                true => l.iter().any(|lv| lv.contains(rv)),
                false => l.iter().any(|lv| lv.equals(rv)),
            }),
            _ => false,
        }
    }

    /// jsonb's text of this value, as `jsonb_out` prints it: object keys by length,
    /// then bytes.
    fn write(&self, out: &mut String) {
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) => out.push_str(n),
            Value::String(s) => write_string(out, s),
            Value::Array(elements) => {
                out.push('[');
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    e.write(out);
                }
                out.push(']');
            }
            Value::Object(members) => {
                out.push('{');
                for (i, (k, v)) in sorted(members).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write_string(out, k);
                    out.push_str(": ");
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    /// `jsonb_pretty`'s text: one member or element per line, four spaces a level.
    fn write_pretty(&self, out: &mut String, level: usize) {
        let indent = |out: &mut String, level: usize| {
            out.extend(std::iter::repeat_n("    ", level));
        };
        match self {
            // PostgreSQL breaks the line in an empty container too.
            Value::Array(elements) if elements.is_empty() => {
                out.push_str("[\n");
                indent(out, level);
                out.push(']');
            }
            Value::Object(members) if members.is_empty() => {
                out.push_str("{\n");
                indent(out, level);
                out.push('}');
            }
            Value::Array(elements) => {
                out.push_str("[\n");
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    indent(out, level + 1);
                    e.write_pretty(out, level + 1);
                }
                out.push('\n');
                indent(out, level);
                out.push(']');
            }
            Value::Object(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in sorted(members).into_iter().enumerate() {
                    if i > 0 {
                        out.push_str(",\n");
                    }
                    indent(out, level + 1);
                    write_string(out, k);
                    out.push_str(": ");
                    v.write_pretty(out, level + 1);
                }
                out.push('\n');
                indent(out, level);
                out.push('}');
            }
            other => other.write(out),
        }
    }

    /// This value without object members whose value is null, at any depth.
    fn strip_nulls(self) -> Value {
        match self {
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .filter(|(_, v)| *v != Value::Null)
                    .map(|(k, v)| (k, v.strip_nulls()))
                    .collect(),
            ),
            Value::Array(elements) => {
                Value::Array(elements.into_iter().map(Value::strip_nulls).collect())
            }
            other => other,
        }
    }
}

/// An object's members in jsonb's order: keys by length, then bytes.
fn sorted(members: &[(String, Value)]) -> Vec<&(String, Value)> {
    let mut sorted: Vec<&(String, Value)> = members.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
    sorted
}

/// Whether two numbers in `numeric`'s rendering are the same value (`1.50` is `1.5`).
fn same_number(l: &str, r: &str) -> bool {
    let value = |n: &'_ str| -> String {
        let n = match n.contains('.') {
            true => n.trim_end_matches('0').trim_end_matches('.'),
            false => n,
        };
        match n {
            "-0" => "0".to_owned(),
            n => n.to_owned(),
        }
    };
    value(l) == value(r)
}

/// jsonb's `||`: two objects merge (the right one's value wins for a key both have),
/// two arrays concatenate, and otherwise a non-array side becomes an array of one, so
/// an element is appended or prepended (PostgreSQL 15's `jsonb_concat`).
pub(crate) fn concat(left: &str, right: &str) -> Result<String, JsonbError> {
    let (left, right) = (tree(left)?, tree(right)?);
    Ok(match (left, right) {
        (Value::Object(mut l), Value::Object(r)) => {
            for (key, value) in r {
                l.retain(|(k, _)| *k != key);
                l.push((key, value));
            }
            Value::Object(l)
        }
        (l, r) => {
            let as_array = |v: Value| match v {
                Value::Array(elements) => elements,
                other => vec![other],
            };
            let mut elements = as_array(l);
            elements.extend(as_array(r));
            Value::Array(elements)
        }
    }
    .text())
}

/// What jsonb's `-` removes.
pub(crate) enum Removed<'a> {
    /// An object's member by key, or an array's string elements equal to it.
    Key(&'a str),
    /// Several keys (`- '{a,b}'::text[]`).
    Keys(&'a [Option<String>]),
    /// An array's element by position (negative counts from the end).
    Index(i64),
}

/// Why jsonb's `-` cannot remove from a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RemoveError {
    Json(JsonbError),
    /// A key from a scalar, or a position from a non-array (PostgreSQL's messages).
    Kind(&'static str),
}

impl From<JsonbError> for RemoveError {
    fn from(e: JsonbError) -> Self {
        RemoveError::Json(e)
    }
}

/// jsonb's `-` (PostgreSQL 15's `jsonb_delete` and `jsonb_delete_idx`).
pub(crate) fn remove(text: &str, removed: Removed<'_>) -> Result<String, RemoveError> {
    let value = tree(text)?;
    let is_gone = |s: &str| match &removed {
        Removed::Key(key) => s == *key,
        Removed::Keys(keys) => keys.iter().flatten().any(|k| k == s),
        Removed::Index(_) => false,
    };
    Ok(match (value, &removed) {
        (Value::Object(members), Removed::Key(_) | Removed::Keys(_)) => {
            Value::Object(members.into_iter().filter(|(k, _)| !is_gone(k)).collect())
        }
        (Value::Array(elements), Removed::Key(_) | Removed::Keys(_)) => Value::Array(
            elements
                .into_iter()
                .filter(|e| !matches!(e, Value::String(s) if is_gone(s)))
                .collect(),
        ),
        (Value::Array(mut elements), Removed::Index(i)) => {
            let len = elements.len() as i64;
            let at = if *i < 0 { len + i } else { *i };
            if (0..len).contains(&at) {
                elements.remove(at as usize);
            }
            Value::Array(elements)
        }
        (Value::Object(_), Removed::Index(_)) => {
            return Err(RemoveError::Kind(
                "cannot delete from object using integer index",
            ));
        }
        _ => return Err(RemoveError::Kind("cannot delete from scalar")),
    }
    .text())
}

/// `jsonb_strip_nulls`: the value without object members that are null.
pub(crate) fn strip_nulls(text: &str) -> Result<String, JsonbError> {
    Ok(tree(text)?.strip_nulls().text())
}

/// `jsonb_pretty`.
pub(crate) fn pretty(text: &str) -> Result<String, JsonbError> {
    let mut out = String::new();
    tree(text)?.write_pretty(&mut out, 0);
    Ok(out)
}

/// Why `jsonb_set` cannot set a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SetError {
    Json(JsonbError),
    /// A path step into an array that is not an integer (PostgreSQL's 22P02 words).
    NotAnIndex {
        step: String,
        at: usize,
    },
    /// A scalar target (22023).
    Scalar,
}

impl From<JsonbError> for SetError {
    fn from(e: JsonbError) -> Self {
        SetError::Json(e)
    }
}

/// `jsonb_set(target, path, new_value, create_missing)`, as PostgreSQL 15's: the
/// value at `path` replaced (or added as the last step's key of an object, or at
/// the last step's position of an array, before the first or after the last element
/// when it is past an end, if `create_missing`); a path through something absent
/// changes nothing.
pub(crate) fn set(
    target: &str,
    path: &[Option<String>],
    new_value: &str,
    create_missing: bool,
) -> Result<String, SetError> {
    let mut value = tree(target)?;
    if !value.is_container() {
        return Err(SetError::Scalar);
    }
    let new_value = tree(new_value)?;
    set_in(&mut value, path, 0, new_value, create_missing)?;
    Ok(value.text())
}

fn set_in(
    value: &mut Value,
    path: &[Option<String>],
    at: usize,
    new_value: Value,
    create_missing: bool,
) -> Result<(), SetError> {
    let Some(step) = path.get(at) else {
        return Ok(());
    };
    let last = at + 1 == path.len();
    match value {
        Value::Object(members) => {
            let Some(key) = step else {
                return Ok(());
            };
            match members.iter_mut().find(|(k, _)| k == key) {
                Some((_, member)) if last => *member = new_value,
                Some((_, member)) => set_in(member, path, at + 1, new_value, create_missing)?,
                None if last && create_missing => members.push((key.clone(), new_value)),
                None => {}
            }
        }
        Value::Array(elements) => {
            let Some(step) = step else {
                return Ok(());
            };
            let index: i64 = step.trim().parse().map_err(|_| SetError::NotAnIndex {
                step: step.clone(),
                at: at + 1,
            })?;
            let len = elements.len() as i64;
            let position = if index < 0 { len + index } else { index };
            if (0..len).contains(&position) {
                let element = &mut elements[position as usize];
                if last {
                    *element = new_value;
                } else {
                    set_in(element, path, at + 1, new_value, create_missing)?;
                }
            } else if last && create_missing {
                if position < 0 {
                    elements.insert(0, new_value);
                } else {
                    elements.push(new_value);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The JSON `text` as a [`Value`].
fn tree(text: &str) -> Result<Value, JsonbError> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = parser.tree()?;
    parser.skip_whitespace();
    if parser.at != parser.bytes.len() {
        return Err(parser.syntax());
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn syntax(&self) -> JsonbError {
        JsonbError::Syntax { at: self.at }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonbError> {
        if self.peek() != Some(byte) {
            return Err(self.syntax());
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, out: &mut String) -> Result<(), JsonbError> {
        match self.peek().ok_or_else(|| self.syntax())? {
            b'{' => self.object(out),
            b'[' => self.array(out),
            b'"' => {
                let s = self.string()?;
                write_string(out, &s);
                Ok(())
            }
            b'-' | b'0'..=b'9' => self.number(out),
            _ => {
                for word in ["true", "false", "null"] {
                    if self.bytes[self.at..].starts_with(word.as_bytes()) {
                        self.at += word.len();
                        out.push_str(word);
                        return Ok(());
                    }
                }
                Err(self.syntax())
            }
        }
    }

    fn tree(&mut self) -> Result<Value, JsonbError> {
        match self.peek().ok_or_else(|| self.syntax())? {
            b'{' => {
                self.at += 1;
                let mut members: Vec<(String, Value)> = Vec::new();
                if self.peek() == Some(b'}') {
                    self.at += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    if self.peek() != Some(b'"') {
                        return Err(self.syntax());
                    }
                    let key = self.string()?;
                    self.expect(b':')?;
                    let value = self.tree()?;
                    // The last of duplicate keys is the one kept.
                    members.retain(|(k, _)| *k != key);
                    members.push((key, value));
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => return Err(self.syntax()),
                    }
                }
            }
            b'[' => {
                self.at += 1;
                let mut elements = Vec::new();
                if self.peek() == Some(b']') {
                    self.at += 1;
                    return Ok(Value::Array(elements));
                }
                loop {
                    elements.push(self.tree()?);
                    match self.peek() {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Value::Array(elements));
                        }
                        _ => return Err(self.syntax()),
                    }
                }
            }
            b'"' => Ok(Value::String(self.string()?)),
            b'-' | b'0'..=b'9' => {
                let mut number = String::new();
                self.number(&mut number)?;
                Ok(Value::Number(number))
            }
            _ => {
                let mut word = String::new();
                self.value(&mut word)?;
                Ok(match word.as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => Value::Null,
                })
            }
        }
    }

    fn object(&mut self, out: &mut String) -> Result<(), JsonbError> {
        self.expect(b'{')?;
        // Each member's key, and its value already in jsonb text.
        let mut members: Vec<(String, String)> = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                if self.peek() != Some(b'"') {
                    return Err(self.syntax());
                }
                let key = self.string()?;
                self.expect(b':')?;
                let mut value = String::new();
                self.value(&mut value)?;
                members.push((key, value));
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.syntax()),
                }
            }
        }
        // Stable: of equal keys, the one written last stays last, and is kept.
        members.sort_by(|(a, _), (b, _)| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        out.push('{');
        let mut first = true;
        for (i, (key, value)) in members.iter().enumerate() {
            if members.get(i + 1).is_some_and(|(next, _)| next == key) {
                continue;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            write_string(out, key);
            out.push_str(": ");
            out.push_str(value);
        }
        out.push('}');
        Ok(())
    }

    fn array(&mut self, out: &mut String) -> Result<(), JsonbError> {
        self.expect(b'[')?;
        out.push('[');
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                self.value(out)?;
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        out.push_str(", ");
                    }
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.syntax()),
                }
            }
        }
        out.push(']');
        Ok(())
    }

    /// A string's value, its escapes resolved.
    fn string(&mut self) -> Result<String, JsonbError> {
        self.expect(b'"')?;
        let mut value = String::new();
        loop {
            let start = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            // The input is a &str and the run stops only at ASCII bytes.
            value.push_str(
                std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| self.syntax())?,
            );
            match self.bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let escaped = self
                        .bytes
                        .get(self.at)
                        .copied()
                        .ok_or_else(|| self.syntax())?;
                    self.at += 1;
                    match escaped {
                        b'"' => value.push('"'),
                        b'\\' => value.push('\\'),
                        b'/' => value.push('/'),
                        b'b' => value.push('\u{8}'),
                        b'f' => value.push('\u{c}'),
                        b'n' => value.push('\n'),
                        b'r' => value.push('\r'),
                        b't' => value.push('\t'),
                        b'u' => value.push(self.unicode_escape()?),
                        _ => return Err(self.syntax()),
                    }
                }
                _ => return Err(self.syntax()),
            }
        }
    }

    /// The character of `\uXXXX` (the `\u` read), or of a surrogate pair.
    fn unicode_escape(&mut self) -> Result<char, JsonbError> {
        let high = self.hex4()?;
        if high == 0 {
            return Err(JsonbError::NulEscape);
        }
        let code = if (0xD800..0xDC00).contains(&high) {
            if !self.bytes[self.at..].starts_with(b"\\u") {
                return Err(self.syntax());
            }
            self.at += 2;
            let low = self.hex4()?;
            if !(0xDC00..0xE000).contains(&low) {
                return Err(self.syntax());
            }
            0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
        } else {
            high
        };
        char::from_u32(code).ok_or_else(|| self.syntax())
    }

    fn hex4(&mut self) -> Result<u32, JsonbError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.syntax())?;
        let text = std::str::from_utf8(digits).map_err(|_| self.syntax())?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.syntax())?;
        self.at += 4;
        Ok(code)
    }

    /// A number as `numeric` prints it: the digits shifted by the exponent, with as
    /// many decimals as written less the exponent (none below zero).
    fn number(&mut self, out: &mut String) -> Result<(), JsonbError> {
        let digits_from = |p: &mut Self| {
            let start = p.at;
            while p.bytes.get(p.at).is_some_and(u8::is_ascii_digit) {
                p.at += 1;
            }
            &p.bytes[start..p.at]
        };
        let negative = self.bytes.get(self.at) == Some(&b'-');
        if negative {
            self.at += 1;
        }
        let integer = digits_from(self);
        if integer.is_empty() || (integer.len() > 1 && integer[0] == b'0') {
            return Err(self.syntax());
        }
        let mut fraction: &[u8] = &[];
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            fraction = digits_from(self);
            if fraction.is_empty() {
                return Err(self.syntax());
            }
        }
        let mut exponent: i64 = 0;
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            let sign = match self.bytes.get(self.at) {
                Some(b'-') => {
                    self.at += 1;
                    -1
                }
                Some(b'+') => {
                    self.at += 1;
                    1
                }
                _ => 1,
            };
            let written = digits_from(self);
            if written.is_empty() {
                return Err(self.syntax());
            }
            for &d in written {
                exponent = exponent * 10 + i64::from(d - b'0');
                if exponent > 2 * (MAX_INTEGER_DIGITS + MAX_SCALE) {
                    return Err(JsonbError::NumericOverflow);
                }
            }
            exponent *= sign;
        }
        let digits: Vec<u8> = integer.iter().chain(fraction).copied().collect();
        let scale = (fraction.len() as i64 - exponent).max(0);
        // Where the point falls among `digits`.
        let point = integer.len() as i64 + exponent;
        let zero = digits.iter().all(|&d| d == b'0');
        let whole: String = if point <= 0 {
            String::new()
        } else {
            let shown = point.min(digits.len() as i64) as usize;
            let mut whole: String = digits[..shown].iter().map(|&d| d as char).collect();
            whole.extend(std::iter::repeat_n('0', (point - shown as i64) as usize));
            whole.trim_start_matches('0').to_owned()
        };
        if scale > MAX_SCALE || whole.len() as i64 > MAX_INTEGER_DIGITS {
            return Err(JsonbError::NumericOverflow);
        }
        if negative && !zero {
            out.push('-');
        }
        out.push_str(if whole.is_empty() { "0" } else { &whole });
        if scale > 0 {
            out.push('.');
            for i in 0..scale {
                let at = point + i;
                out.push(if at < 0 || at >= digits.len() as i64 {
                    '0'
                } else {
                    digits[at as usize] as char
                });
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string, escaped as PostgreSQL's `escape_json` does.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of PostgreSQL 15's manual, section 8.14.3 (jsonb Containment and
    /// Existence), with the answers it gives.
    #[test]
    fn members_are_read_as_written() {
        assert_eq!(
            members(r#" [1, "a", {"b": [2]}, null] "#),
            Ok(Members::Array(vec!["1", r#""a""#, r#"{"b": [2]}"#, "null"]))
        );
        assert_eq!(
            members(r#"{"k\u0041": 1, "k": {"x": null}, "k": []}"#),
            Ok(Members::Object(vec![
                ("kA".to_owned(), "1"),
                ("k".to_owned(), r#"{"x": null}"#),
                ("k".to_owned(), "[]"),
            ]))
        );
        assert_eq!(members("[]"), Ok(Members::Array(vec![])));
        assert_eq!(members(" 3 "), Ok(Members::Scalar));
        assert!(members("[1,").is_err());
    }

    #[test]
    fn containment_follows_the_postgres_manual() {
        let product = r#"{"product": "PostgreSQL", "version": 9.4, "jsonb": true}"#;
        for (container, contained, answer) in [
            (r#""foo""#, r#""foo""#, true),
            ("[1, 2, 3]", "[1, 3]", true),
            ("[1, 2, 3]", "[3, 1]", true),
            ("[1, 2, 3]", "[1, 2, 2]", true),
            (product, r#"{"version": 9.4}"#, true),
            ("[1, 2, [1, 3]]", "[1, 3]", false),
            ("[1, 2, [1, 3]]", "[[1, 3]]", true),
            (r#"{"foo": {"bar": "baz"}}"#, r#"{"bar": "baz"}"#, false),
            (r#"{"foo": {"bar": "baz"}}"#, r#"{"foo": {}}"#, true),
            (r#"["foo", "bar"]"#, r#""foo""#, true),
            (r#""bar""#, r#"["bar"]"#, false),
        ] {
            assert_eq!(
                contains(container, contained),
                Ok(answer),
                "{container} @> {contained}"
            );
        }
        assert!(matches!(
            contains("{}", "nope"),
            Err(JsonbError::Syntax { .. })
        ));
    }

    /// Edges of the grammar that PostgreSQL's own tests also cover are checked in the
    /// oracle test against PostgreSQL 15; these are the refusals.
    #[test]
    fn text_that_is_not_json_or_not_a_jsonb_value_is_refused() {
        for bad in [
            "",
            "{",
            "[1,]",
            "01",
            "1.",
            "1e",
            "-",
            "{\"a\" 1}",
            "\"\\x\"",
            "tru",
            "1 2",
        ] {
            assert!(
                matches!(normalized(bad), Err(JsonbError::Syntax { .. })),
                "{bad:?} gave {:?}",
                normalized(bad)
            );
        }
        assert_eq!(normalized("\"a\\u0000\""), Err(JsonbError::NulEscape));
        assert_eq!(normalized("1e131072"), Err(JsonbError::NumericOverflow));
        assert_eq!(normalized("1e-16384"), Err(JsonbError::NumericOverflow));
        assert_eq!(
            normalized("1e99999999999999999999"),
            Err(JsonbError::NumericOverflow)
        );
        assert_eq!(
            normalized("1e131071").map(|s| s.len()),
            Ok(131_072),
            "the largest numeric: a 1 and 131,071 zeros"
        );
    }
}
