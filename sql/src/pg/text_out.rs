//! Casts of arrays and rows to text, as PostgreSQL's output functions write them
//! (`array_out`, `record_out`): `array[1,2]::text` is `{1,2}`, `row(1,'a b')::text`
//! `(1,"a b")`, `array[[1,2],[3,null]]::text` `{{1,2},{3,NULL}}`. Arrow's cast wrote
//! `[1, 2]` and refused structs, so `tags::text`, `array_agg(x)::text` and the dedupe
//! idiom `md5(row(a, b)::text)` answered wrongly or failed.
//!
//! Each element is written as its type's output function writes it (`t`, not `true`;
//! floats shortest; timestamps with a space), in UTC for a `timestamptz`, as Tarn's
//! other casts of timestamptz to text; types without their own case as Arrow's cast
//! to text writes them.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{
    DataType, Float32Type, Float64Type, TimeUnit, TimestampMicrosecondType,
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

/// Whether [`udf`] writes values of `data_type`.
pub(crate) fn writes(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::List(_) | DataType::LargeList(_) | DataType::Struct(_)
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
        _ => {
            let texts = datafusion::arrow::compute::cast(values, &DataType::Utf8)?;
            (texts.as_string::<i32>().iter())
                .map(|v| v.map(str::to_owned))
                .collect()
        }
    })
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
