//! JSON built from SQL values, as PostgreSQL 15 builds it: `to_json`/`to_jsonb`,
//! `json[b]_build_array`, `json[b]_build_object`, the aggregates `json[b]_agg` and
//! `json[b]_object_agg`, and jsonb's `||`, `-`, `jsonb_set`, `jsonb_strip_nulls` and
//! `jsonb_pretty`.
//!
//! A value becomes JSON as PostgreSQL's `to_json` makes it ([`write_json`]): numbers
//! and booleans as themselves (a float's text as `float8out` prints it, `NaN` and the
//! infinities quoted), `json` and `jsonb` values as they are, dates and timestamps as
//! ISO 8601 strings, arrays as JSON arrays, anything else as a JSON string of its text.
//! The `json` results keep PostgreSQL's spacing (`{"a" : 1}` from `json_build_object`,
//! `[1, 2]` from `json_agg`, `{ "a" : 1 }` from `json_object_agg`); the `jsonb` ones are
//! jsonb's rendering ([`super::jsonb`]).
//!
//! The aggregates are `array_agg` of each value's JSON, joined by a function of Tarn's
//! ([`rewrite_aggregates`]), so `ORDER BY`, `DISTINCT`, `FILTER` and `OVER` inside them
//! work as `array_agg`'s do.

use std::fmt::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TypeSignature, Volatility,
};
use datafusion::sql::sqlparser::ast::{
    self, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, Statement,
    VisitMut, VisitorMut,
};
use tarn_catalog::types::DeclaredType;

use super::jsonb::{self, JsonbError, Removed, write_string};
use crate::error::SqlError;

/// The functions of this module, to register.
pub(crate) fn udfs() -> Vec<ScalarUDF> {
    let mut udfs = Vec::new();
    for jsonb in [false, true] {
        for kind in [
            Build::ToJson,
            Build::Array,
            Build::Object,
            Build::Agg,
            Build::ObjectAgg,
        ] {
            udfs.push(ScalarUDF::new_from_impl(JsonBuild {
                kind,
                jsonb,
                signature: kind.signature(),
            }));
        }
    }
    for op in [Op::Concat, Op::Remove, Op::Set, Op::StripNulls, Op::Pretty] {
        udfs.push(ScalarUDF::new_from_impl(JsonbOp {
            op,
            signature: op.signature(),
        }));
    }
    udfs
}

/// `left || right` on jsonb values.
pub(crate) fn concat(
    left: datafusion::prelude::Expr,
    right: datafusion::prelude::Expr,
) -> datafusion::prelude::Expr {
    ScalarUDF::new_from_impl(JsonbOp {
        op: Op::Concat,
        signature: Op::Concat.signature(),
    })
    .call(vec![left, right])
}

/// `left - right` on a jsonb value (a key, keys or a position).
pub(crate) fn remove(
    left: datafusion::prelude::Expr,
    right: datafusion::prelude::Expr,
) -> datafusion::prelude::Expr {
    ScalarUDF::new_from_impl(JsonbOp {
        op: Op::Remove,
        signature: Op::Remove.signature(),
    })
    .call(vec![left, right])
}

fn declared(jsonb: bool) -> DeclaredType {
    if jsonb {
        DeclaredType::Jsonb
    } else {
        DeclaredType::Json
    }
}

fn is_json(field: &Field) -> bool {
    matches!(
        DeclaredType::of(field),
        Some(DeclaredType::Json | DeclaredType::Jsonb)
    )
}

/// Appends row `row` of `array` (of `field`) as JSON to `out`, as `to_json` renders it.
pub(crate) fn write_json(
    out: &mut String,
    array: &ArrayRef,
    field: &Field,
    row: usize,
) -> Result<()> {
    use datafusion::arrow::datatypes::*;
    if is_null(array, row) {
        out.push_str("null");
        return Ok(());
    }
    macro_rules! number {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(row));
        }};
    }
    match array.data_type() {
        DataType::Boolean => out.push_str(if array.as_boolean().value(row) {
            "true"
        } else {
            "false"
        }),
        DataType::Int8 => number!(Int8Type),
        DataType::Int16 => number!(Int16Type),
        DataType::Int32 => number!(Int32Type),
        DataType::Int64 => number!(Int64Type),
        DataType::UInt8 => number!(UInt8Type),
        DataType::UInt16 => number!(UInt16Type),
        DataType::UInt32 => number!(UInt32Type),
        DataType::UInt64 => number!(UInt64Type),
        DataType::Float32 | DataType::Float64 => {
            let text = match array.data_type() {
                DataType::Float32 => {
                    super::float_text::float4(array.as_primitive::<Float32Type>().value(row))
                }
                _ => super::float_text::float8(array.as_primitive::<Float64Type>().value(row)),
            };
            // NaN and the infinities are no JSON numbers: PostgreSQL quotes them.
            if text.ends_with("NaN") || text.ends_with("Infinity") {
                write_string(out, &text);
            } else {
                out.push_str(&text);
            }
        }
        DataType::Decimal128(precision, scale) => out.push_str(&Decimal128Type::format_decimal(
            array.as_primitive::<Decimal128Type>().value(row),
            *precision,
            *scale,
        )),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = super::string_value(array.as_ref(), row).unwrap_or_default();
            if is_json(field) {
                out.push_str(text);
            } else {
                write_string(out, text);
            }
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            match chrono::NaiveDate::from_ymd_opt(1970, 1, 1)
                .and_then(|d| d.checked_add_signed(chrono::Duration::days(i64::from(days))))
            {
                Some(date) => write_string(out, &date.format("%Y-%m-%d").to_string()),
                None => return exec_err!("date out of range for JSON"),
            }
        }
        DataType::Timestamp(_, zone) => {
            let micros = datafusion::arrow::compute::cast(
                &array.slice(row, 1),
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let micros = micros.as_primitive::<TimestampMicrosecondType>().value(0);
            let Some(at) = chrono::DateTime::from_timestamp_micros(micros) else {
                return exec_err!("timestamp out of range for JSON");
            };
            let mut text = at.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string();
            if text.contains('.') {
                text.truncate(text.trim_end_matches('0').trim_end_matches('.').len());
            }
            if zone.is_some() {
                text.push_str("+00:00");
            }
            write_string(out, &text);
        }
        DataType::List(item) | DataType::LargeList(item) => {
            let elements = match array.data_type() {
                DataType::List(_) => array.as_list::<i32>().value(row),
                _ => array.as_list::<i64>().value(row),
            };
            out.push('[');
            for i in 0..elements.len() {
                if i > 0 {
                    out.push(',');
                }
                write_json(out, &elements, item, i)?;
            }
            out.push(']');
        }
        DataType::Struct(fields) => {
            let columns = array.as_struct();
            out.push('{');
            for (i, (field, column)) in fields.iter().zip(columns.columns()).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, field.name());
                out.push(':');
                write_json(out, column, field, row)?;
            }
            out.push('}');
        }
        _ => {
            let text = datafusion::arrow::util::display::array_value_to_string(array, row)?;
            write_string(out, &text);
        }
    }
    Ok(())
}

/// Whether row `row` of `array` is NULL (an untyped NULL's array has no validity
/// bitmap: every row of it is).
fn is_null(array: &ArrayRef, row: usize) -> bool {
    array.data_type().is_null() || array.is_null(row)
}

/// A key of `json_build_object`: its text, as PostgreSQL takes it.
fn key_text(array: &ArrayRef, field: &Field, row: usize) -> Result<String> {
    if let Some(text) = super::string_value(array.as_ref(), row) {
        return Ok(text.to_owned());
    }
    let mut json = String::new();
    write_json(&mut json, array, field, row)?;
    Ok(
        match json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) {
            Some(_) => serde_json::from_str::<String>(&json).unwrap_or(json),
            None => json,
        },
    )
}

fn invalid(message: impl Into<String>) -> DataFusionError {
    DataFusionError::External(Box::new(SqlError::WrongJsonKind(message.into())))
}

fn jsonb_refused(e: JsonbError) -> DataFusionError {
    super::json_ops::refused(e)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Build {
    /// `to_json(value)`.
    ToJson,
    /// `json_build_array(value, ...)`.
    Array,
    /// `json_build_object(key, value, ...)`.
    Object,
    /// `tarn_json_agg(array_agg(to_json(value)))`: `json_agg`.
    Agg,
    /// `tarn_json_object_agg(array_agg(struct(key, to_json(value))))`: `json_object_agg`.
    ObjectAgg,
}

impl Build {
    fn signature(self) -> Signature {
        match self {
            Build::ToJson | Build::ObjectAgg => Signature::any(1, Volatility::Immutable),
            // A second argument, `true`, says the values are rows (whole-row references):
            // PostgreSQL starts each after the first on a line of its own.
            Build::Agg => Signature::one_of(
                vec![TypeSignature::Any(1), TypeSignature::Any(2)],
                Volatility::Immutable,
            ),
            Build::Array | Build::Object => Signature::one_of(
                vec![TypeSignature::Nullary, TypeSignature::VariadicAny],
                Volatility::Immutable,
            ),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonBuild {
    kind: Build,
    jsonb: bool,
    signature: Signature,
}

impl ScalarUDFImpl for JsonBuild {
    fn name(&self) -> &str {
        match (self.kind, self.jsonb) {
            (Build::ToJson, false) => "to_json",
            (Build::ToJson, true) => "to_jsonb",
            (Build::Array, false) => "json_build_array",
            (Build::Array, true) => "jsonb_build_array",
            (Build::Object, false) => "json_build_object",
            (Build::Object, true) => "jsonb_build_object",
            (Build::Agg, false) => "tarn_json_agg",
            (Build::Agg, true) => "tarn_jsonb_agg",
            (Build::ObjectAgg, false) => "tarn_json_object_agg",
            (Build::ObjectAgg, true) => "tarn_jsonb_object_agg",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        // Building always gives a value; to_json and the aggregates give NULL for NULL.
        let nullable = match self.kind {
            Build::Array | Build::Object => false,
            _ => args.arg_fields.first().is_none_or(|f| f.is_nullable()),
        };
        Ok(Arc::new(
            Field::new(self.name(), DataType::Utf8, nullable)
                .with_metadata(declared(self.jsonb).metadata()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        if self.kind == Build::Object && !arrays.len().is_multiple_of(2) {
            return Err(invalid("argument list must have even number of elements"));
        }
        let mut out = StringBuilder::with_capacity(rows, 0);
        let mut json = String::new();
        for row in 0..rows {
            json.clear();
            match self.kind {
                Build::ToJson => {
                    if is_null(&arrays[0], row) {
                        out.append_null();
                        continue;
                    }
                    write_json(&mut json, &arrays[0], &args.arg_fields[0], row)?;
                }
                Build::Array => {
                    json.push('[');
                    for (i, (array, field)) in arrays.iter().zip(&args.arg_fields).enumerate() {
                        if i > 0 {
                            json.push_str(", ");
                        }
                        write_json(&mut json, array, field, row)?;
                    }
                    json.push(']');
                }
                Build::Object => {
                    json.push('{');
                    for (i, pair) in arrays.chunks(2).enumerate() {
                        if is_null(&pair[0], row) {
                            return Err(invalid(format!("argument {} cannot be null", 2 * i + 1)));
                        }
                        if i > 0 {
                            json.push_str(", ");
                        }
                        let key = key_text(&pair[0], &args.arg_fields[2 * i], row)?;
                        write_string(&mut json, &key);
                        json.push_str(" : ");
                        write_json(&mut json, &pair[1], &args.arg_fields[2 * i + 1], row)?;
                    }
                    json.push('}');
                }
                Build::Agg | Build::ObjectAgg => {
                    if is_null(&arrays[0], row) {
                        out.append_null();
                        continue;
                    }
                    let list = match arrays[0].data_type() {
                        DataType::List(_) => arrays[0].as_list::<i32>().value(row),
                        DataType::LargeList(_) => arrays[0].as_list::<i64>().value(row),
                        other => return exec_err!("{}: expected a list, got {other}", self.name()),
                    };
                    if self.kind == Build::Agg {
                        let rows = arrays.get(1).is_some_and(|a| {
                            a.as_boolean_opt()
                                .is_some_and(|b| b.is_valid(0) && b.value(0))
                        });
                        aggregated_array(&mut json, &list, rows)?;
                    } else {
                        aggregated_object(&mut json, &list)?;
                    }
                }
            }
            if self.jsonb {
                out.append_value(jsonb::normalized(&json).map_err(jsonb_refused)?);
            } else {
                out.append_value(&json);
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `json_agg`'s text of the JSON texts in `elements` (NULL is `null`): `[1, 2]`; of
/// `rows`, each after the first that is not NULL on a line of its own, as PostgreSQL
/// writes composite values.
fn aggregated_array(out: &mut String, elements: &ArrayRef, rows: bool) -> Result<()> {
    let texts = datafusion::arrow::compute::cast(elements, &DataType::Utf8)?;
    let texts = texts.as_string::<i32>();
    out.push('[');
    for (i, text) in texts.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
            if rows && text.is_some() {
                out.push_str("\n ");
            }
        }
        out.push_str(text.unwrap_or("null"));
    }
    out.push(']');
    Ok(())
}

/// `json_object_agg`'s text of `members`, structs of a key's text and a value's JSON
/// text: `{ "a" : 1, "b" : 2 }`.
fn aggregated_object(out: &mut String, members: &ArrayRef) -> Result<()> {
    let Some(members) = members.as_struct_opt() else {
        return exec_err!("json_object_agg: expected keys and values");
    };
    let [keys, values] = members.columns() else {
        return exec_err!("json_object_agg: expected keys and values");
    };
    let keys = datafusion::arrow::compute::cast(keys, &DataType::Utf8)?;
    let values = datafusion::arrow::compute::cast(values, &DataType::Utf8)?;
    let (keys, values) = (keys.as_string::<i32>(), values.as_string::<i32>());
    out.push_str("{ ");
    for i in 0..members.len() {
        if !keys.is_valid(i) {
            return Err(invalid("field name must not be null"));
        }
        if i > 0 {
            out.push_str(", ");
        }
        write_string(out, keys.value(i));
        out.push_str(" : ");
        out.push_str(if values.is_valid(i) {
            values.value(i)
        } else {
            "null"
        });
    }
    out.push_str(" }");
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Op {
    Concat,
    Remove,
    Set,
    StripNulls,
    Pretty,
}

impl Op {
    fn signature(self) -> Signature {
        match self {
            Op::Concat | Op::Remove => Signature::any(2, Volatility::Immutable),
            Op::Set => Signature::one_of(
                vec![TypeSignature::Any(3), TypeSignature::Any(4)],
                Volatility::Immutable,
            ),
            Op::StripNulls | Op::Pretty => Signature::any(1, Volatility::Immutable),
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonbOp {
    op: Op,
    signature: Signature,
}

/// Row `row` of `array` as text (JSON text, a key, a path literal).
fn text_at(array: &ArrayRef, row: usize) -> Result<Option<String>> {
    if is_null(array, row) {
        return Ok(None);
    }
    if let Some(text) = super::string_value(array.as_ref(), row) {
        return Ok(Some(text.to_owned()));
    }
    let text = datafusion::arrow::compute::cast(&array.slice(row, 1), &DataType::Utf8)?;
    Ok(Some(text.as_string::<i32>().value(0).to_owned()))
}

impl ScalarUDFImpl for JsonbOp {
    fn name(&self) -> &str {
        match self.op {
            Op::Concat => "jsonb_concat",
            Op::Remove => "jsonb_delete",
            Op::Set => "jsonb_set",
            Op::StripNulls => "jsonb_strip_nulls",
            Op::Pretty => "jsonb_pretty",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        let field = Field::new(self.name(), DataType::Utf8, true);
        Ok(Arc::new(match self.op {
            Op::Pretty => field,
            _ => field.with_metadata(DeclaredType::Jsonb.metadata()),
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let mut out = StringBuilder::with_capacity(rows, 0);
        for row in 0..rows {
            // Strict, as PostgreSQL's: a NULL argument gives NULL.
            let Some(value) = text_at(&arrays[0], row)? else {
                out.append_null();
                continue;
            };
            let answer = match self.op {
                Op::Concat => {
                    let Some(right) = text_at(&arrays[1], row)? else {
                        out.append_null();
                        continue;
                    };
                    jsonb::concat(&value, &right).map_err(jsonb_refused)?
                }
                Op::Remove => {
                    let removed = &arrays[1];
                    if is_null(removed, row) {
                        out.append_null();
                        continue;
                    }
                    let result = match removed.data_type() {
                        t if t.is_integer() => {
                            let at = datafusion::arrow::compute::cast(
                                &removed.slice(row, 1),
                                &DataType::Int64,
                            )?;
                            let at = at
                                .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                                .value(0);
                            jsonb::remove(&value, Removed::Index(at))
                        }
                        DataType::List(_) | DataType::LargeList(_) => {
                            let keys = list_texts(removed, row)?;
                            jsonb::remove(&value, Removed::Keys(&keys))
                        }
                        _ => {
                            let key = text_at(removed, row)?.unwrap_or_default();
                            jsonb::remove(&value, Removed::Key(&key))
                        }
                    };
                    result.map_err(|e| match e {
                        jsonb::RemoveError::Json(e) => jsonb_refused(e),
                        jsonb::RemoveError::Kind(message) => invalid(message),
                    })?
                }
                Op::Set => {
                    let (Some(path), Some(new_value)) =
                        (path_at(&arrays[1], row)?, text_at(&arrays[2], row)?)
                    else {
                        out.append_null();
                        continue;
                    };
                    let create_missing = match arrays.get(3) {
                        None => true,
                        Some(flag) if is_null(flag, row) => {
                            out.append_null();
                            continue;
                        }
                        Some(flag) => match flag.as_boolean_opt() {
                            Some(flag) => flag.value(row),
                            None => return exec_err!("jsonb_set: create_missing is a boolean"),
                        },
                    };
                    jsonb::set(&value, &path, &new_value, create_missing).map_err(|e| match e {
                        jsonb::SetError::Json(e) => jsonb_refused(e),
                        jsonb::SetError::Scalar => invalid("cannot set path in scalar"),
                        jsonb::SetError::NotAnIndex { step, at } => {
                            DataFusionError::External(Box::new(SqlError::InvalidInput(format!(
                                "path element at position {at} is not an integer: \"{step}\""
                            ))))
                        }
                    })?
                }
                Op::StripNulls => jsonb::strip_nulls(&value).map_err(jsonb_refused)?,
                Op::Pretty => jsonb::pretty(&value).map_err(jsonb_refused)?,
            };
            out.append_value(answer);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// The texts of row `row` of a list of text.
fn list_texts(lists: &ArrayRef, row: usize) -> Result<Vec<Option<String>>> {
    let elements = match lists.data_type() {
        DataType::LargeList(_) => lists.as_list::<i64>().value(row),
        _ => lists.as_list::<i32>().value(row),
    };
    let elements = datafusion::arrow::compute::cast(&elements, &DataType::Utf8)?;
    Ok(elements
        .as_string::<i32>()
        .iter()
        .map(|s| s.map(str::to_owned))
        .collect())
}

/// A `text[]` path of row `row`: an array, or a literal in PostgreSQL's syntax
/// (`'{a,0}'`).
fn path_at(paths: &ArrayRef, row: usize) -> Result<Option<Vec<Option<String>>>> {
    if is_null(paths, row) {
        return Ok(None);
    }
    match paths.data_type() {
        DataType::List(_) | DataType::LargeList(_) => list_texts(paths, row).map(Some),
        _ => {
            let text = text_at(paths, row)?.unwrap_or_default();
            super::json_ops::text_array(&text)
                .map(Some)
                .ok_or_else(|| super::json_ops::malformed(&text))
        }
    }
}

/// `json_agg(x ...)` as `tarn_json_agg(array_agg(to_json(x) ...))`, `jsonb_agg` and
/// `json[b]_object_agg(k, v)` (keys as text, values as JSON) likewise, keeping the
/// call's `DISTINCT`, `ORDER BY`, `FILTER` and `OVER` on `array_agg`.
pub(crate) fn rewrite_aggregates(statement: &mut Statement) {
    let _ = statement.visit(&mut Aggregates);
}

struct Aggregates;

impl VisitorMut for Aggregates {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        let Expr::Function(function) = expr else {
            return std::ops::ControlFlow::Continue(());
        };
        let joined = match super::single_value::function_name(function).as_str() {
            "json_agg" => "tarn_json_agg",
            "jsonb_agg" => "tarn_jsonb_agg",
            "json_object_agg" => "tarn_json_object_agg",
            "jsonb_object_agg" => "tarn_jsonb_object_agg",
            _ => return std::ops::ControlFlow::Continue(()),
        };
        let values: Vec<Expr> = super::unnamed_args(function).cloned().collect();
        let element = match (joined.contains("object"), values.as_slice()) {
            (false, [value]) => super::call("to_json", vec![value.clone()]),
            (true, [key, value]) => super::call(
                "struct",
                vec![
                    Expr::Cast {
                        kind: ast::CastKind::Cast,
                        expr: Box::new(key.clone()),
                        data_type: ast::DataType::Text,
                        array: false,
                        format: None,
                    },
                    super::call("to_json", vec![value.clone()]),
                ],
            ),
            // A wrong number of arguments: left for DataFusion to refuse by name.
            _ => return std::ops::ControlFlow::Continue(()),
        };
        let mut gathered = function.clone();
        gathered.name = ObjectName::from(vec![Ident::new("array_agg")]);
        if let FunctionArguments::List(list) = &mut gathered.args {
            list.args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(element))];
        }
        *expr = super::call(joined, vec![Expr::Function(gathered)]);
        std::ops::ControlFlow::Continue(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    use super::*;

    #[test]
    fn aggregates_become_array_agg_of_json_texts() {
        let sql = "select json_agg(x order by y) filter (where x > 0), jsonb_object_agg(k, v), \
                   json_agg(distinct x) over (partition by g) from t";
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        rewrite_aggregates(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT tarn_json_agg(array_agg(to_json(x) ORDER BY y) FILTER (WHERE x > 0)), \
             tarn_jsonb_object_agg(array_agg(struct(CAST(k AS TEXT), to_json(v)))), \
             tarn_json_agg(array_agg(DISTINCT to_json(x)) OVER (PARTITION BY g)) FROM t"
        );
    }

    #[test]
    fn values_become_json_as_to_json_makes_them() {
        use datafusion::arrow::array::{Float64Array, ListArray, StringArray};
        use datafusion::arrow::datatypes::Int32Type;
        let json = |array: ArrayRef, field: Field| -> Vec<String> {
            (0..array.len())
                .map(|row| {
                    let mut out = String::new();
                    write_json(&mut out, &array, &field, row).expect("json");
                    out
                })
                .collect()
        };
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(0.1 + 0.2),
            Some(1e20),
            Some(f64::NAN),
            None,
        ]));
        assert_eq!(
            json(floats, Field::new("f", DataType::Float64, true)),
            ["0.30000000000000004", "1e+20", "\"NaN\"", "null"]
        );
        let texts: ArrayRef = Arc::new(StringArray::from(vec!["a\"\n\u{1}", "{\"k\": 1}"]));
        assert_eq!(
            json(Arc::clone(&texts), Field::new("t", DataType::Utf8, true)),
            ["\"a\\\"\\n\\u0001\"", "\"{\\\"k\\\": 1}\""]
        );
        let declared =
            Field::new("j", DataType::Utf8, true).with_metadata(DeclaredType::Json.metadata());
        assert_eq!(
            json(texts, declared)[1],
            "{\"k\": 1}",
            "json is kept as it is"
        );
        let lists: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
            Some(vec![Some(1), None, Some(3)]),
        ]));
        let item = Field::new_list_field(DataType::Int32, true);
        assert_eq!(
            json(lists, Field::new("l", DataType::List(Arc::new(item)), true)),
            ["[1,null,3]"]
        );
    }
}
