//! PostgreSQL's `->`, `->>`, `#>` and `#>>` on `json` and `jsonb` values, jsonb's
//! key tests `?`, `?|` and `?&`, and its containment `@>` and `<@`.
//!
//! `j -> 'key'` and `j -> 2` give a member of an object or an element of an array (a
//! negative position counts from the end) as json (jsonb for a jsonb operand), `->>`
//! the same as text: a string's characters, `NULL` for JSON `null`. `#>` and `#>>`
//! take a path of such steps (`j #> '{a,0,b}'`, a text array), each a key in an
//! object and a position in an array. A missing member,
//! a position past the end, or a step into a value of the other kind give `NULL`, as
//! in PostgreSQL. Tarn keeps json and jsonb as text ([`super::jsonb`]), so the
//! operators read the text; an operand of type text is read as json too (PostgreSQL
//! wants a cast first).
//!
//! DataFusion parses both operators and leaves them to an [`ExprPlanner`]; the
//! `datafusion-functions-json` crate has one, but its `->` returns a union of JSON
//! kinds, which clients would be described as no PostgreSQL type, so Tarn plans them
//! as two functions of its own, named after PostgreSQL's (`json_object_field`'s
//! family answers both keys and positions here).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{DFSchema, Result, ScalarValue, plan_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::sql::sqlparser::ast::BinaryOperator;
use tarn_catalog::types::DeclaredType;

use super::jsonb::{self, JsonbError, Step};
use crate::error::SqlError;

/// Registers the functions and the planner of `->` and `->>`.
pub(crate) fn install(ctx: &datafusion::prelude::SessionContext) -> Result<()> {
    use datafusion::execution::FunctionRegistry;
    for (text, path) in [(false, false), (true, false), (false, true), (true, true)] {
        ctx.register_udf(udf(text, path));
    }
    for keys in [Keys::One, Keys::Any, Keys::All] {
        ctx.register_udf(exists_udf(keys));
    }
    for contained in [false, true] {
        ctx.register_udf(contains_udf(contained));
    }
    for name in ["json_typeof", "jsonb_typeof"] {
        ctx.register_udf(ScalarUDF::new_from_impl(JsonTypeof {
            name,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    for name in ["json_array_length", "jsonb_array_length"] {
        ctx.register_udf(ScalarUDF::new_from_impl(ArrayLength {
            name,
            signature: Signature::any(1, Volatility::Immutable),
        }));
    }
    for (name, text) in [
        ("json_extract_path", false),
        ("jsonb_extract_path", false),
        ("json_extract_path_text", true),
        ("jsonb_extract_path_text", true),
    ] {
        ctx.register_udf(ScalarUDF::new_from_impl(ExtractPath {
            name,
            text,
            signature: Signature::variadic_any(Volatility::Immutable),
        }));
    }
    ctx.state_ref()
        .write()
        .register_expr_planner(Arc::new(JsonOperators))
}

fn udf(text: bool, path: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonGet {
        text,
        path,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

#[derive(Debug)]
struct JsonOperators;

impl ExprPlanner for JsonOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> Result<PlannerResult<RawBinaryExpr>> {
        // jsonb's `||` and `-`; PostgreSQL takes an untyped literal beside a jsonb
        // value as jsonb (text beside it is text's `||`).
        let is_jsonb = |e: &datafusion::logical_expr::Expr| {
            use datafusion::logical_expr::ExprSchemable;
            e.to_field(schema)
                .is_ok_and(|(_, f)| DeclaredType::of(&f) == Some(DeclaredType::Jsonb))
        };
        let is_literal_text = |e: &datafusion::logical_expr::Expr| {
            matches!(
                e,
                datafusion::logical_expr::Expr::Literal(
                    ScalarValue::Utf8(_) | ScalarValue::Utf8View(_) | ScalarValue::LargeUtf8(_),
                    _
                )
            )
        };
        match expr.op {
            BinaryOperator::StringConcat
                if (is_jsonb(&expr.left) || is_jsonb(&expr.right))
                    && [&expr.left, &expr.right]
                        .iter()
                        .all(|e| is_jsonb(e) || is_literal_text(e)) =>
            {
                return Ok(PlannerResult::Planned(super::json_build::concat(
                    expr.left, expr.right,
                )));
            }
            BinaryOperator::Minus if is_jsonb(&expr.left) => {
                return Ok(PlannerResult::Planned(super::json_build::remove(
                    expr.left, expr.right,
                )));
            }
            _ => {}
        }
        let contained = match expr.op {
            BinaryOperator::AtArrow => Some(false),
            BinaryOperator::ArrowAt => Some(true),
            _ => None,
        };
        if let Some(contained) = contained {
            // Arrays have `@>` and `<@` too (DataFusion's array_has_all).
            let is_list = |e: &datafusion::logical_expr::Expr| {
                use datafusion::logical_expr::ExprSchemable;
                e.get_type(schema).is_ok_and(|t| {
                    matches!(
                        t,
                        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
                    )
                })
            };
            if is_list(&expr.left) || is_list(&expr.right) {
                return Ok(PlannerResult::Original(expr));
            }
            return Ok(PlannerResult::Planned(
                contains_udf(contained).call(vec![expr.left, expr.right]),
            ));
        }
        let keys = match expr.op {
            BinaryOperator::Question => Some(Keys::One),
            BinaryOperator::QuestionPipe => Some(Keys::Any),
            BinaryOperator::QuestionAnd => Some(Keys::All),
            _ => None,
        };
        if let Some(keys) = keys {
            return Ok(PlannerResult::Planned(
                exists_udf(keys).call(vec![expr.left, expr.right]),
            ));
        }
        let (text, path) = match expr.op {
            BinaryOperator::Arrow => (false, false),
            BinaryOperator::LongArrow => (true, false),
            BinaryOperator::HashArrow => (false, true),
            BinaryOperator::HashLongArrow => (true, true),
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(
            udf(text, path).call(vec![expr.left, expr.right]),
        ))
    }
}

/// `json_get(j, key or position)` (`->`), `json_get_text` (`->>`), and
/// `json_get_path(j, path)` (`#>`), `json_get_path_text` (`#>>`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonGet {
    text: bool,
    path: bool,
    signature: Signature,
}

fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// A text array: a literal in PostgreSQL's syntax (`'{a,b}'`), or an array (`ARRAY['a']`,
/// as Metabase sends `#>> array[...]::text[]`).
fn is_text_array(t: &DataType) -> bool {
    match t {
        DataType::List(f) | DataType::LargeList(f) => {
            is_text(f.data_type()) || f.data_type().is_null()
        }
        t => is_text(t) || t.is_null(),
    }
}

/// The elements of row `row` of `paths`, a text array literal or an array of text.
fn path_elements(paths: &ArrayRef, row: usize) -> Result<Vec<Option<String>>> {
    let strings = |array: ArrayRef| -> Result<Vec<Option<String>>> {
        let array = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
        Ok(array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect())
    };
    match paths.data_type() {
        DataType::List(_) => strings(paths.as_list::<i32>().value(row)),
        DataType::LargeList(_) => strings(paths.as_list::<i64>().value(row)),
        _ => {
            let text = datafusion::arrow::compute::cast(paths, &DataType::Utf8)?;
            let text = text.as_string::<i32>().value(row);
            text_array(text).ok_or_else(|| malformed(text))
        }
    }
}

impl ScalarUDFImpl for JsonGet {
    fn name(&self) -> &str {
        match (self.text, self.path) {
            (false, false) => "json_get",
            (true, false) => "json_get_text",
            (false, true) => "json_get_path",
            (true, true) => "json_get_path_text",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let [value, step] = args.arg_fields else {
            return plan_err!("{} takes a json value and a key or position", self.name());
        };
        let operator = match (self.text, self.path) {
            (false, false) => "->",
            (true, false) => "->>",
            (false, true) => "#>",
            (true, true) => "#>>",
        };
        if !is_text(value.data_type()) && !value.data_type().is_null() {
            return plan_err!(
                "operator does not exist: {} {operator} {}",
                value.data_type(),
                step.data_type()
            );
        }
        if self.path && !is_text_array(step.data_type()) {
            return plan_err!(
                "operator does not exist: json {operator} {}: the right operand is a path (a text array such as '{{a,0}}')",
                step.data_type()
            );
        }
        if !self.path
            && !is_text(step.data_type())
            && !step.data_type().is_integer()
            && !step.data_type().is_null()
        {
            return plan_err!(
                "operator does not exist: json {operator} {}: the right operand is a key (text) or a position (integer)",
                step.data_type()
            );
        }
        let field = Field::new(self.name(), DataType::Utf8, true);
        if self.text {
            return Ok(Arc::new(field));
        }
        let declared = match DeclaredType::of(value) {
            Some(DeclaredType::Jsonb) => DeclaredType::Jsonb,
            _ => DeclaredType::Json,
        };
        Ok(Arc::new(field.with_metadata(declared.metadata())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let as_text = |v: &ColumnarValue| text_column(v, rows);
        let values = as_text(&args.args[0])?;
        let values = values.as_string::<i32>();
        let step = &args.args[1];
        let step_type = step.data_type();
        let (keys, positions, paths) = if self.path {
            (None, None, Some(step.to_array(rows)?))
        } else if step_type.is_integer() {
            let positions =
                datafusion::arrow::compute::cast(&step.to_array(rows)?, &DataType::Int64)?;
            (None, Some(positions), None)
        } else {
            (Some(as_text(step)?), None, None)
        };
        let jsonb = args
            .arg_fields
            .first()
            .is_some_and(|f| DeclaredType::of(f) == Some(DeclaredType::Jsonb));
        let mut out = StringBuilder::with_capacity(rows, 0);
        for row in 0..rows {
            if let Some(paths) = &paths {
                if !values.is_valid(row) || !paths.is_valid(row) {
                    out.append_null();
                    continue;
                }
                let path = path_elements(paths, row)?;
                match follow(values.value(row), &path)? {
                    None => out.append_null(),
                    Some(value) if self.text => {
                        out.append_option(jsonb::as_text(value).map_err(refused)?)
                    }
                    Some(value) => out.append_value(value),
                }
                continue;
            }
            let step = match (&keys, &positions) {
                (Some(keys), _) => {
                    let keys = keys.as_string::<i32>();
                    keys.is_valid(row).then(|| Step::Key(keys.value(row)))
                }
                (_, Some(positions)) => {
                    let positions =
                        positions.as_primitive::<datafusion::arrow::datatypes::Int64Type>();
                    positions
                        .is_valid(row)
                        .then(|| Step::Index(positions.value(row)))
                }
                _ => None,
            };
            let (Some(step), true) = (step, values.is_valid(row)) else {
                out.append_null();
                continue;
            };
            let found = jsonb::get(values.value(row), step, jsonb).map_err(refused)?;
            match found {
                None => out.append_null(),
                Some(value) if self.text => {
                    out.append_option(jsonb::as_text(value).map_err(refused)?)
                }
                Some(value) => out.append_value(value),
            }
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

/// Which keys `?` (one), `?|` (any of an array) and `?&` (all of it) ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Keys {
    One,
    Any,
    All,
}

fn exists_udf(keys: Keys) -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonExists {
        keys,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// `jsonb_exists(j, key)` (`?`), `jsonb_exists_any(j, keys)` (`?|`) and
/// `jsonb_exists_all` (`?&`): whether keys are top-level keys of an object, string
/// elements of an array, or the string itself. NULL elements of the key array are
/// skipped, as PostgreSQL skips them.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonExists {
    keys: Keys,
    signature: Signature,
}

impl ScalarUDFImpl for JsonExists {
    fn name(&self) -> &str {
        match self.keys {
            Keys::One => "jsonb_exists",
            Keys::Any => "jsonb_exists_any",
            Keys::All => "jsonb_exists_all",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        for (i, t) in args.iter().enumerate() {
            let fits = if i == 1 && self.keys != Keys::One {
                is_text_array(t)
            } else {
                is_text(t) || t.is_null()
            };
            if !fits {
                return plan_err!(
                    "operator does not exist: {}: operands are jsonb and text{}, not {t}",
                    self.name(),
                    if self.keys == Keys::One {
                        ""
                    } else {
                        " arrays ('{a,b}')"
                    }
                );
            }
        }
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let text = |v: &ColumnarValue| text_column(v, rows);
        let values = text(&args.args[0])?;
        let values = values.as_string::<i32>();
        let raw_keys = args.args[1].to_array(rows)?;
        let keys = if self.keys == Keys::One {
            text(&args.args[1])?
        } else {
            Arc::clone(&raw_keys)
        };
        let mut out = datafusion::arrow::array::BooleanBuilder::with_capacity(rows);
        for row in 0..rows {
            if !values.is_valid(row) || !raw_keys.is_valid(row) {
                out.append_null();
                continue;
            }
            let value = values.value(row);
            let has = |key: &str| jsonb::has_key(value, key).map_err(refused);
            let found = match self.keys {
                Keys::One => has(keys.as_string::<i32>().value(row))?,
                Keys::Any | Keys::All => {
                    let list = path_elements(&keys, row)?;
                    let mut any = false;
                    let mut all = true;
                    for key in list.iter().flatten() {
                        let found = has(key)?;
                        any |= found;
                        all &= found;
                    }
                    if self.keys == Keys::Any { any } else { all }
                }
            };
            out.append_value(found);
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

fn contains_udf(contained: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(JsonContains {
        contained,
        signature: Signature::any(2, Volatility::Immutable),
    })
}

/// `jsonb_contains(a, b)` (`a @> b`) and `jsonb_contained(a, b)` (`a <@ b`), by
/// [`jsonb::contains`].
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonContains {
    contained: bool,
    signature: Signature,
}

impl ScalarUDFImpl for JsonContains {
    fn name(&self) -> &str {
        match self.contained {
            false => "jsonb_contains",
            true => "jsonb_contained",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if let Some(t) = args.iter().find(|t| !is_text(t) && !t.is_null()) {
            return plan_err!(
                "operator does not exist: {}: operands are jsonb, not {t}",
                self.name()
            );
        }
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let text = |v: &ColumnarValue| text_column(v, rows);
        let (left, right) = (text(&args.args[0])?, text(&args.args[1])?);
        let (left, right) = (left.as_string::<i32>(), right.as_string::<i32>());
        let mut out = datafusion::arrow::array::BooleanBuilder::with_capacity(rows);
        for row in 0..rows {
            if !left.is_valid(row) || !right.is_valid(row) {
                out.append_null();
                continue;
            }
            let (a, b) = (left.value(row), right.value(row));
            let (container, contained) = if self.contained { (b, a) } else { (a, b) };
            out.append_value(jsonb::contains(container, contained).map_err(refused)?);
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

/// `json_array_length(j)` and `jsonb_array_length(j)`: the number of elements of an
/// array; 22023 for an object or a scalar, as PostgreSQL answers.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayLength {
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for ArrayLength {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        of_one_text(self.name, args, DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = text_column(&args.args[0], args.number_rows)?;
        let values = values.as_string::<i32>();
        let mut out = datafusion::arrow::array::Int32Builder::with_capacity(values.len());
        for value in values.iter() {
            let Some(value) = value else {
                out.append_null();
                continue;
            };
            let scalar = match jsonb::array_length(value).map_err(refused)? {
                jsonb::ArrayLength::Array(n) => {
                    out.append_value(i32::try_from(n).unwrap_or(i32::MAX));
                    continue;
                }
                jsonb::ArrayLength::Object => false,
                jsonb::ArrayLength::Scalar => true,
            };
            return Err(DataFusionError::External(Box::new(SqlError::NotAnArray {
                scalar,
            })));
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

/// `json_typeof(j)` and `jsonb_typeof(j)`: `object`, `array`, `string`, `number`,
/// `boolean` or `null`.
#[derive(Debug, PartialEq, Eq, Hash)]
struct JsonTypeof {
    name: &'static str,
    signature: Signature,
}

impl ScalarUDFImpl for JsonTypeof {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        of_one_text(self.name, args, DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values = text_column(&args.args[0], args.number_rows)?;
        let values = values.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(values.len(), 0);
        for value in values.iter() {
            out.append_option(value.map(|v| {
                match v
                    .trim_start_matches([' ', '\t', '\n', '\r'])
                    .as_bytes()
                    .first()
                {
                    Some(b'{') => "object",
                    Some(b'[') => "array",
                    Some(b'"') => "string",
                    Some(b't' | b'f') => "boolean",
                    Some(b'n') => "null",
                    _ => "number",
                }
            }));
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

/// `json[b]_extract_path(j, VARIADIC path)` (`#>`) and `json[b]_extract_path_text`
/// (`#>>`), the path given as arguments.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ExtractPath {
    name: &'static str,
    text: bool,
    signature: Signature,
}

impl ScalarUDFImpl for ExtractPath {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        if args.arg_fields.len() < 2
            || args
                .arg_fields
                .iter()
                .any(|f| !is_text(f.data_type()) && !f.data_type().is_null())
        {
            return plan_err!(
                "function {} does not exist for these arguments: it takes a json value and one or more text keys or positions",
                self.name
            );
        }
        let field = Field::new(self.name, DataType::Utf8, true);
        if self.text {
            return Ok(Arc::new(field));
        }
        let declared = if self.name.starts_with("jsonb") {
            DeclaredType::Jsonb
        } else {
            DeclaredType::Json
        };
        Ok(Arc::new(field.with_metadata(declared.metadata())))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let columns = args
            .args
            .iter()
            .map(|a| text_column(a, rows))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let columns: Vec<_> = columns.iter().map(|c| c.as_string::<i32>()).collect();
        let mut out = StringBuilder::with_capacity(rows, 0);
        for row in 0..rows {
            let values = &columns[0];
            if !values.is_valid(row) {
                out.append_null();
                continue;
            }
            let path: Vec<Option<String>> = columns[1..]
                .iter()
                .map(|c| c.is_valid(row).then(|| c.value(row).to_owned()))
                .collect();
            match follow(values.value(row), &path)? {
                None => out.append_null(),
                Some(value) if self.text => {
                    out.append_option(jsonb::as_text(value).map_err(refused)?)
                }
                Some(value) => out.append_value(value),
            }
        }
        answer(&args.args, Arc::new(out.finish()))
    }
}

pub(super) fn malformed(text: &str) -> DataFusionError {
    DataFusionError::External(Box::new(SqlError::InvalidText {
        type_name: "text[]",
        message: format!("malformed array literal: \"{text}\""),
    }))
}

/// The value at `path` (a PostgreSQL text array, `{a,0,"b c"}`) in the JSON `text`: each
/// element a key where the value is an object, a position where it is an array.
/// `None` where a step finds nothing, is not a position into an array, or is NULL.
fn follow<'t>(text: &'t str, steps: &[Option<String>]) -> Result<Option<&'t str>> {
    let mut at = text.trim_matches([' ', '\t', '\n', '\r']);
    for step in steps {
        let Some(step) = step else {
            return Ok(None);
        };
        let first = at.as_bytes().first();
        let step = match first {
            Some(b'[') => match step.trim().parse::<i64>() {
                Ok(i) => Step::Index(i),
                Err(_) => return Ok(None),
            },
            Some(b'{') => Step::Key(step),
            // Unlike `->`, a path does not step into a jsonb scalar.
            _ => return Ok(None),
        };
        match jsonb::get(at, step, false).map_err(refused)? {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    Ok(Some(at))
}

/// The elements of a one-dimensional PostgreSQL array literal (`{a,"b c",NULL}`):
/// `None` for an unquoted NULL. `None` altogether if `text` is not such a literal.
pub(super) fn text_array(text: &str) -> Option<Vec<Option<String>>> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut elements = Vec::new();
    if inner.trim().is_empty() {
        return Some(elements);
    }
    let mut chars = inner.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut element = String::new();
        let quoted = chars.next_if_eq(&'"').is_some();
        if quoted {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => element.push(chars.next()?),
                    c => element.push(c),
                }
            }
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                match c {
                    '\\' => element.push(chars.next()?),
                    '"' | '{' | '}' => return None,
                    c => element.push(c),
                }
            }
            element.truncate(element.trim_end().len());
            if element.is_empty() {
                return None;
            }
        }
        let null = !quoted && element.eq_ignore_ascii_case("null");
        elements.push((!null).then_some(element));
        match chars.next() {
            None => return Some(elements),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// `v` as a column of text, one value per row.
fn text_column(v: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    Ok(datafusion::arrow::compute::cast(
        &v.to_array(rows)?,
        &DataType::Utf8,
    )?)
}

/// `output`, the type of function `name` of one json or text argument; for other
/// arguments PostgreSQL's "function ... does not exist" (42883).
fn of_one_text(name: &str, args: &[DataType], output: DataType) -> Result<DataType> {
    match args {
        [t] if is_text(t) || t.is_null() => Ok(output),
        _ => plan_err!("function {name}({args:?}) does not exist"),
    }
}

/// `array` as the function's result: one value when every argument was one.
fn answer(args: &[ColumnarValue], array: ArrayRef) -> Result<ColumnarValue> {
    if args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_))) {
        return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
            &array, 0,
        )?));
    }
    Ok(ColumnarValue::Array(array))
}

/// A jsonb error as DataFusion carries it, keeping its SQLSTATE.
pub(super) fn refused(e: JsonbError) -> DataFusionError {
    DataFusionError::External(Box::new(SqlError::from(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_exist_at_the_top_level_only() {
        let j = r#"{"a": {"c": 1}, "b": null}"#;
        assert_eq!(jsonb::has_key(j, "b"), Ok(true));
        assert_eq!(jsonb::has_key(j, "c"), Ok(false), "not a top-level key");
        assert_eq!(jsonb::has_key(r#"["x", 1, {"y": 2}]"#, "x"), Ok(true));
        assert_eq!(jsonb::has_key(r#"["x", 1, {"y": 2}]"#, "1"), Ok(false));
        assert_eq!(jsonb::has_key(r#"["x", 1, {"y": 2}]"#, "y"), Ok(false));
        assert_eq!(jsonb::has_key(r#""s""#, "s"), Ok(true));
        assert_eq!(jsonb::has_key("{}", ""), Ok(false));
    }

    #[test]
    fn paths_are_text_arrays_of_keys_and_positions() {
        assert_eq!(
            text_array(r#"{a, "b c" ,NULL,"NULL",-1,"x\"y"}"#),
            Some(vec![
                Some("a".into()),
                Some("b c".into()),
                None,
                Some("NULL".into()),
                Some("-1".into()),
                Some("x\"y".into())
            ])
        );
        assert_eq!(text_array("{}"), Some(vec![]));
        for bad in ["a,b", "{a,}", "{\"a}", "{a}b"] {
            assert_eq!(text_array(bad), None, "{bad}");
        }
        let j = r#" {"a": [1, {"b c": "x"}]} "#;
        let at = |path: &str| follow(j, &text_array(path).expect("a text array")).expect("path");
        assert_eq!(at(r#"{a,-1,"b c"}"#), Some("\"x\""));
        assert_eq!(at("{}"), Some(j.trim()));
        assert_eq!(at("{a,x}"), None);
        assert_eq!(at("{a,NULL}"), None);
        let texts: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["a"]));
        assert!(path_elements(&texts, 0).is_err(), "not an array literal");
    }

    #[test]
    fn the_right_operand_is_a_key_or_a_position() {
        let j = r#"{"a": [10, {"b": "x\ny"}, null], "a2": 1, "a": [1, 2]}"#;
        assert_eq!(
            jsonb::get(j, Step::Key("a"), false),
            Ok(Some("[1, 2]")),
            "the last duplicate"
        );
        assert_eq!(jsonb::get(j, Step::Key("zz"), false), Ok(None));
        assert_eq!(
            jsonb::get(j, Step::Index(0), true),
            Ok(None),
            "an object has no positions"
        );
        let a = r#"[10, {"b": "x\ny"}, null]"#;
        assert_eq!(jsonb::get(a, Step::Index(-1), false), Ok(Some("null")));
        assert_eq!(jsonb::get(a, Step::Index(3), false), Ok(None));
        assert_eq!(jsonb::get(a, Step::Index(-4), false), Ok(None));
        let b = jsonb::get(a, Step::Index(1), false)
            .expect("json")
            .expect("element 1");
        let s = jsonb::get(b, Step::Key("b"), false)
            .expect("json")
            .expect("member b");
        assert_eq!(jsonb::as_text(s), Ok(Some("x\ny".into())));
        assert_eq!(jsonb::as_text("null"), Ok(None));
        assert_eq!(jsonb::as_text("1.50"), Ok(Some("1.50".into())));
        assert!(jsonb::get("{\"a\" 1}", Step::Key("a"), false).is_err());
        // jsonb keeps a lone scalar as an array of one; json does not.
        assert_eq!(jsonb::get(" 5 ", Step::Index(-1), true), Ok(Some("5")));
        assert_eq!(jsonb::get("5", Step::Index(1), true), Ok(None));
        assert_eq!(jsonb::get("5", Step::Index(0), false), Ok(None));
    }
}
