//! Lists of lists as PostgreSQL's multidimensional arrays (`array[[1,2],[3,4]]`,
//! an `int[][]` column): the type is the innermost element's array type (PostgreSQL
//! has one `integer[]` for every number of dimensions), the text nests braces
//! (`{{1,2},{3,4}}`), and the binary form gives every dimension's length before the
//! elements in row-major order. `arrow-pg` encodes one-dimensional lists; the innermost
//! lists go through it and are put together here. The text of a list whose elements
//! Tarn writes itself (floats, times, intervals: see `text::writes`) is written here,
//! with `array_out`'s quoting. PostgreSQL's arrays are rectangular:
//! sub-arrays of different lengths, or a NULL one, cannot be sent (2202E, PostgreSQL's
//! error where it refuses to build one).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt32Type};
use pgwire::api::Type;
use pgwire::api::results::{DataRowEncoder, FieldFormat, FieldInfo};
use pgwire::error::PgWireResult;
use tarn_sql::SqlError;
use tarn_sql::pg::text_out::push_element;

use super::{encode_one, user_error};

/// The innermost list type of a list of lists (`List(Int32)` for
/// `List(List(Int32))`), which gives its PostgreSQL type; `None` for other types.
pub(super) fn flattened(data_type: &DataType) -> Option<DataType> {
    let mut inner = nested_element(data_type)?;
    while let Some(deeper) = nested_element(inner.data_type()) {
        inner = deeper;
    }
    Some(inner.data_type().clone())
}

/// The element of a list whose elements are lists.
fn nested_element(data_type: &DataType) -> Option<&FieldRef> {
    match data_type {
        DataType::List(element) | DataType::LargeList(element)
            if matches!(
                element.data_type(),
                DataType::List(_) | DataType::LargeList(_)
            ) =>
        {
            Some(element)
        }
        _ => None,
    }
}

/// Encodes row `row` of `array`, a list of lists, as the multidimensional array
/// `pg_field` describes, in its format.
pub(super) fn encode(
    encoder: &mut DataRowEncoder,
    array: &ArrayRef,
    row: usize,
    pg_field: &FieldInfo,
    iso_dates: bool,
) -> PgWireResult<()> {
    if array.is_null(row) {
        return encoder.encode_field_with_type_and_format(
            &None::<String>,
            pg_field.datatype(),
            pg_field.format(),
            pg_field.format_options(),
        );
    }
    let mut shape = Shape::default();
    shape.read(&sub_arrays(array, row), 0)?;
    match pg_field.format() {
        FieldFormat::Text => {
            let text = text(&sub_arrays(array, row), pg_field, iso_dates)?;
            write_text(encoder, Some(text), pg_field)
        }
        FieldFormat::Binary => encoder.encode_field_with_type_and_format(
            &Some(binary(array, row, &shape, pg_field, iso_dates)?),
            pg_field.datatype(),
            FieldFormat::Binary,
            pg_field.format_options(),
        ),
    }
}

/// Writes an array's text as it is (an array type's own encoder would quote it as
/// one element).
pub(super) fn write_text(
    encoder: &mut DataRowEncoder,
    text: Option<String>,
    pg_field: &FieldInfo,
) -> PgWireResult<()> {
    encoder.encode_field_with_type_and_format(
        &text,
        &Type::TEXT,
        FieldFormat::Text,
        pg_field.format_options(),
    )
}

/// The sub-arrays of row `row` of a list of lists, as an array with one per row.
fn sub_arrays(array: &ArrayRef, row: usize) -> ArrayRef {
    match array.data_type() {
        DataType::LargeList(_) => array.as_list::<i64>().value(row),
        _ => array.as_list::<i32>().value(row),
    }
}

/// The lengths of a value's dimensions, checked to be rectangular.
#[derive(Default)]
struct Shape {
    lengths: Vec<usize>,
}

impl Shape {
    /// Reads the dimensions of `rows` (sub-arrays at depth `depth`) and those below.
    fn read(&mut self, rows: &ArrayRef, depth: usize) -> PgWireResult<()> {
        self.fit(depth, rows.len())?;
        if !matches!(rows.data_type(), DataType::List(_) | DataType::LargeList(_)) {
            return Ok(());
        }
        for i in 0..rows.len() {
            if rows.is_null(i) {
                return Err(ragged());
            }
            self.read(&sub_arrays(rows, i), depth + 1)?;
        }
        Ok(())
    }

    fn fit(&mut self, depth: usize, length: usize) -> PgWireResult<()> {
        match self.lengths.get(depth) {
            Some(known) if *known != length => Err(ragged()),
            Some(_) => Ok(()),
            None => {
                self.lengths.push(length);
                Ok(())
            }
        }
    }

    /// Whether the value has no element (PostgreSQL's empty array, `{}`).
    fn is_empty(&self) -> bool {
        self.lengths.contains(&0)
    }
}

fn ragged() -> pgwire::error::PgWireError {
    user_error(&SqlError::ArrayDimensions)
}

/// A sub-array as its own one-dimensional (or nested) value, encoded in `format`.
fn encoded_row(
    rows: &ArrayRef,
    i: usize,
    pg_field: &FieldInfo,
    format: FieldFormat,
    iso_dates: bool,
) -> PgWireResult<Vec<u8>> {
    let info = FieldInfo::new(
        pg_field.name().to_owned(),
        None,
        None,
        pg_field.datatype().clone(),
        format,
    )
    .with_format_options(Arc::clone(pg_field.format_options()));
    let field = Field::new("item", rows.data_type().clone(), true);
    let mut encoder = DataRowEncoder::new(Arc::new(vec![info.clone()]));
    encode_one(&mut encoder, rows, i, &field, &info, iso_dates)?;
    let encoded = encoder.take_row().data;
    // One length-prefixed value; the shape check has ruled NULL out.
    Ok(encoded.get(4..).unwrap_or_default().to_vec())
}

/// `{...}` of the sub-arrays' own texts.
fn text(rows: &ArrayRef, pg_field: &FieldInfo, iso_dates: bool) -> PgWireResult<String> {
    let mut text = String::from("{");
    for i in 0..rows.len() {
        if i > 0 {
            text.push(',');
        }
        let value = encoded_row(rows, i, pg_field, FieldFormat::Text, iso_dates)?;
        text.push_str(&String::from_utf8_lossy(&value));
    }
    text.push('}');
    Ok(text)
}

/// PostgreSQL's binary array: dimensions, a flag for NULL elements, the element
/// type's OID, each dimension's length and lower bound (1), then the elements, each
/// length-prefixed, taken from the innermost lists' own binary forms.
fn binary(
    array: &ArrayRef,
    row: usize,
    shape: &Shape,
    pg_field: &FieldInfo,
    iso_dates: bool,
) -> PgWireResult<Vec<u8>> {
    let mut elements = Vec::new();
    let mut any_null = false;
    let mut element_oid = 0u32;
    innermost(&sub_arrays(array, row), &mut |rows, i| {
        let one = encoded_row(rows, i, pg_field, FieldFormat::Binary, iso_dates)?;
        // ndim, flags, element OID, then (for ndim 1) length and lower bound.
        let word = |at: usize| {
            one.get(at..at + 4)
                .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        any_null |= word(4) != 0;
        element_oid = word(8);
        let header = if word(0) == 0 { 12 } else { 20 };
        elements.extend_from_slice(one.get(header..).unwrap_or_default());
        Ok(())
    })?;
    let mut out = Vec::with_capacity(12 + 8 * shape.lengths.len() + elements.len());
    if shape.is_empty() {
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&element_oid.to_be_bytes());
        return Ok(out);
    }
    let dimensions = i32::try_from(shape.lengths.len()).unwrap_or(i32::MAX);
    out.extend_from_slice(&dimensions.to_be_bytes());
    out.extend_from_slice(&i32::from(any_null).to_be_bytes());
    out.extend_from_slice(&element_oid.to_be_bytes());
    for length in &shape.lengths {
        out.extend_from_slice(&i32::try_from(*length).unwrap_or(i32::MAX).to_be_bytes());
        out.extend_from_slice(&1i32.to_be_bytes());
    }
    out.extend_from_slice(&elements);
    Ok(out)
}

/// Calls `each` with every innermost (one-dimensional) list of `rows`, in order.
fn innermost(
    rows: &ArrayRef,
    each: &mut dyn FnMut(&ArrayRef, usize) -> PgWireResult<()>,
) -> PgWireResult<()> {
    for i in 0..rows.len() {
        if nested_element(rows.data_type()).is_some() {
            innermost(&sub_arrays(rows, i), each)?;
        } else {
            each(rows, i)?;
        }
    }
    Ok(())
}

/// PostgreSQL's text of row `row` of `array`, a one-dimensional list whose elements
/// Tarn writes itself (`{1.5,2}`, `{"2024-01-02 03:04:05.5"}`); `None` for other
/// lists, which `arrow-pg` writes. `Some(None)` is NULL.
pub(super) fn own_text(
    array: &ArrayRef,
    row: usize,
    time_zone: &str,
    iso_dates: bool,
) -> Option<Option<String>> {
    let (DataType::List(element) | DataType::LargeList(element)) = array.data_type() else {
        return None;
    };
    if !super::super::text::writes(element.data_type(), iso_dates) {
        return None;
    }
    if array.is_null(row) {
        return Some(None);
    }
    let elements = sub_arrays(array, row);
    let mut text = String::from("{");
    for i in 0..elements.len() {
        if i > 0 {
            text.push(',');
        }
        match super::super::text::value(elements.as_ref(), i, time_zone, iso_dates).flatten() {
            None => text.push_str("NULL"),
            Some(value) => push_element(&mut text, &value),
        }
    }
    text.push('}');
    Some(Some(text))
}

/// Whether `data_type` is a list of OIDs (`UInt32`: `array_agg` of an OID column,
/// see `tarn_sql`'s `oid_arrays`), which is `oid[]`.
pub(super) fn is_oid_list(data_type: &DataType) -> bool {
    matches!(data_type, DataType::List(element) if element.data_type() == &DataType::UInt32)
}

/// Encodes row `row` of `array`, a list of OIDs, as `oid[]` (`arrow-pg` would write a
/// `UInt32` as an `int8`).
pub(super) fn encode_oids(
    encoder: &mut DataRowEncoder,
    array: &ArrayRef,
    row: usize,
    pg_field: &FieldInfo,
) -> PgWireResult<()> {
    if array.is_null(row) {
        return write_text(encoder, None, pg_field);
    }
    let values = sub_arrays(array, row);
    let oids = values.as_primitive::<UInt32Type>();
    match pg_field.format() {
        FieldFormat::Text => {
            let items: Vec<String> = oids
                .iter()
                .map(|o| o.map_or_else(|| "NULL".to_owned(), |o| o.to_string()))
                .collect();
            write_text(encoder, Some(format!("{{{}}}", items.join(","))), pg_field)
        }
        FieldFormat::Binary => {
            // Dimensions, a flag for NULLs, the element type; the length and lower
            // bound of the one dimension (none when empty); each element.
            let mut out = Vec::with_capacity(20 + 8 * oids.len());
            out.extend_from_slice(&i32::from(!oids.is_empty()).to_be_bytes());
            out.extend_from_slice(&i32::from(oids.null_count() > 0).to_be_bytes());
            out.extend_from_slice(&Type::OID.oid().to_be_bytes());
            if !oids.is_empty() {
                let length = i32::try_from(oids.len()).unwrap_or(i32::MAX);
                out.extend_from_slice(&length.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
            }
            for oid in oids.iter() {
                match oid {
                    Some(oid) => {
                        out.extend_from_slice(&4i32.to_be_bytes());
                        out.extend_from_slice(&oid.to_be_bytes());
                    }
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                }
            }
            encoder.encode_field_with_type_and_format(
                &Some(out),
                pg_field.datatype(),
                FieldFormat::Binary,
                pg_field.format_options(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_quoted_as_array_out_quotes_them() {
        // PostgreSQL 15: select array['a', '', 'null', 'x y', 'a"b', 'c\\d', '{}', '1,2']
        // -> {a,"","null","x y","a\"b","c\\d","{}","1,2"}
        let mut text = String::new();
        for v in ["a", "", "null", "x y", "a\"b", "c\\d", "{}", "1,2"] {
            push_element(&mut text, v);
            text.push(',');
        }
        assert_eq!(text, r#"a,"","null","x y","a\"b","c\\d","{}","1,2","#);
    }
}
