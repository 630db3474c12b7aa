//! `varchar(n)` and `char(n)` lengths, as PostgreSQL applies them. DataFusion has one
//! string type and drops the length; Tarn keeps it as the field's declared type and
//! applies it with two functions named after PostgreSQL's own length coercions,
//! `varchar(value, n, explicit)` and `bpchar(value, n, explicit)`:
//!
//! - an explicit cast (`'abcdef'::varchar(3)`, `explicit` true) cuts the value to `n`
//!   characters;
//! - storing into a column (INSERT, `explicit` false) refuses a longer value with
//!   `22001`, unless what is past `n` is only spaces, which are cut;
//! - `char(n)` values are kept without trailing spaces, which PostgreSQL's `bpchar`
//!   ignores in comparisons, `length()` and `||`; the server pads a `char(n)` column to
//!   `n` characters when it writes it to a client, as PostgreSQL prints it.
//!
//! The result is marked with the declared type, so clients are told
//! `character varying(n)` / `character(n)`, and `CREATE TABLE AS` keeps it.
//!
//! Storing into a `json` or `jsonb` column, and casting to either (`'{}'::json`), go
//! through the same path, with functions `json_in` and `jsonb_in` (same arguments, no
//! length) that refuse text that is not JSON with `22P02` and keep JSON text as written;
//! the result is described as `json` / `jsonb`. `uuid` too (`uuid_in`): a value is
//! read in any of PostgreSQL's input forms and kept in the canonical one
//! ([`uuid_text`]); other text is refused with `22P02`.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    self, CharacterLength, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, ObjectName, Statement, Value, VisitMut, VisitorMut,
};
use tarn_catalog::types::DeclaredType;

use crate::error::SqlError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Varchar,
    Char,
    /// `json` and `jsonb` have no length; storing checks that the text is JSON.
    Json,
    Jsonb,
    /// `uuid`: storing and casting read PostgreSQL's forms, kept canonical.
    Uuid,
}

impl Kind {
    /// The types without a length.
    fn lengthless(self) -> bool {
        matches!(self, Kind::Json | Kind::Jsonb | Kind::Uuid)
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Length {
    kind: Kind,
    signature: Signature,
}

/// The functions `varchar`, `bpchar`, and `json_in` and `jsonb_in`, which take the
/// same arguments and ignore the length.
pub(crate) fn udfs() -> [ScalarUDF; 5] {
    [
        Kind::Varchar,
        Kind::Char,
        Kind::Json,
        Kind::Jsonb,
        Kind::Uuid,
    ]
    .map(udf)
}

/// `gen_random_uuid()`: a random (version 4) uuid, described as `uuid`.
pub(crate) fn gen_random_uuid_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RandomUuid {
        signature: Signature::exact(vec![], Volatility::Volatile),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RandomUuid {
    signature: Signature,
}

impl ScalarUDFImpl for RandomUuid {
    fn name(&self) -> &str {
        "gen_random_uuid"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(
            Field::new(self.name(), DataType::Utf8, false)
                .with_metadata(DeclaredType::Uuid.metadata()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let values: datafusion::arrow::array::StringArray = (0..args.number_rows.max(1))
            .map(|_| Some(uuid::Uuid::new_v4().hyphenated().to_string()))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(values)))
    }
}

/// `value` read as jsonb, as a cast to jsonb reads it: text that is not JSON fails when
/// the expression is evaluated (22P02).
pub(crate) fn jsonb_in(value: datafusion::prelude::Expr) -> datafusion::prelude::Expr {
    use datafusion::prelude::lit;
    udf(Kind::Jsonb).call(vec![value, lit(0i64), lit(true)])
}

fn udf(kind: Kind) -> ScalarUDF {
    ScalarUDF::new_from_impl(Length {
        kind,
        signature: Signature::exact(
            vec![DataType::Utf8, DataType::Int64, DataType::Boolean],
            Volatility::Immutable,
        ),
    })
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Varchar => "varchar",
            Kind::Char => "bpchar",
            Kind::Json => "json_in",
            Kind::Jsonb => "jsonb_in",
            Kind::Uuid => "uuid_in",
        }
    }

    fn declared(self, n: u32) -> DeclaredType {
        match self {
            Kind::Varchar => DeclaredType::Varchar(n),
            Kind::Char => DeclaredType::Char(n),
            Kind::Json => DeclaredType::Json,
            Kind::Jsonb => DeclaredType::Jsonb,
            Kind::Uuid => DeclaredType::Uuid,
        }
    }

    /// The type's name in PostgreSQL's messages.
    fn type_name(self, n: u32) -> String {
        match self {
            Kind::Varchar => format!("character varying({n})"),
            Kind::Char => format!("character({n})"),
            // PostgreSQL names json in jsonb's input errors too.
            Kind::Json | Kind::Jsonb => "json".to_owned(),
            Kind::Uuid => "uuid".to_owned(),
        }
    }
}

/// The length argument, which must be a constant (it is part of the result's type).
fn length(value: Option<&ScalarValue>) -> Result<u32> {
    match value {
        Some(ScalarValue::Int64(Some(n))) if (1..=10_485_760).contains(n) => Ok(*n as u32),
        Some(ScalarValue::Int64(Some(n))) => Err(DataFusionError::External(Box::new(
            SqlError::InvalidOption {
                statement: "varchar(n)",
                reason: format!("length for type varchar must be between 1 and 10485760, not {n}"),
            },
        ))),
        _ => plan_err!("the length of varchar(n) and char(n) must be a constant"),
    }
}

impl ScalarUDFImpl for Length {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let n = match self.kind.lengthless() {
            true => 0,
            false => length(args.scalar_arguments.get(1).copied().flatten())?,
        };
        let nullable = args.arg_fields.first().is_none_or(|f| f.is_nullable());
        Ok(Arc::new(
            Field::new(self.name(), DataType::Utf8, nullable)
                .with_metadata(self.kind.declared(n).metadata()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, explicit) = match (&args.args[1], &args.args[2]) {
            (
                ColumnarValue::Scalar(_),
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(explicit))),
            ) if self.kind.lengthless() => (0, *explicit),
            (
                ColumnarValue::Scalar(n),
                ColumnarValue::Scalar(ScalarValue::Boolean(Some(explicit))),
            ) => (length(Some(n))? as usize, *explicit),
            _ => return exec_err!("{}: length and mode must be constants", self.name()),
        };
        let values = args.args[0].to_array(args.number_rows)?;
        let values = values
            .as_string_opt::<i32>()
            .ok_or_else(|| DataFusionError::Execution(format!("{}: expected text", self.name())))?;
        Ok(ColumnarValue::Array(Arc::new(fit(
            values, self.kind, n, explicit,
        )?)))
    }
}

/// `values` fitted to `kind(n)`: cut (explicitly, or where only spaces are cut), without
/// trailing spaces for `char(n)`, or refused with [`SqlError::ValueTooLong`]; for `json` and `jsonb`,
/// checked to be JSON text (refused with [`SqlError::InvalidText`]), kept as written for
/// `json` and in PostgreSQL's rendering of the value for `jsonb` ([`super::jsonb`]).
fn fit(
    values: &datafusion::arrow::array::StringArray,
    kind: Kind,
    n: usize,
    explicit: bool,
) -> Result<datafusion::arrow::array::StringArray> {
    if kind == Kind::Uuid {
        let mut out = StringBuilder::with_capacity(values.len(), values.len() * 36);
        for value in values.iter() {
            match value.map(|v| uuid_text(v).ok_or(v)).transpose() {
                Ok(value) => out.append_option(value),
                Err(v) => {
                    return Err(DataFusionError::External(Box::new(SqlError::InvalidText {
                        type_name: "uuid",
                        message: format!("\"{v}\""),
                    })));
                }
            }
        }
        return Ok(out.finish());
    }
    if matches!(kind, Kind::Json | Kind::Jsonb) {
        for value in values.iter().flatten() {
            // Skipped, not built: numbers of any size are JSON, as in PostgreSQL.
            if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(value) {
                return Err(DataFusionError::External(Box::new(SqlError::InvalidText {
                    type_name: "json",
                    message: e.to_string(),
                })));
            }
        }
        if kind == Kind::Json {
            return Ok(values.clone());
        }
        let mut out = StringBuilder::with_capacity(values.len(), values.value_data().len());
        for value in values.iter() {
            match value.map(super::jsonb::normalized).transpose() {
                Ok(value) => out.append_option(value),
                Err(e) => return Err(DataFusionError::External(Box::new(SqlError::from(e)))),
            }
        }
        return Ok(out.finish());
    }
    let mut out = StringBuilder::with_capacity(values.len(), values.value_data().len());
    for value in values.iter() {
        let Some(value) = value else {
            out.append_null();
            continue;
        };
        // Byte offset of the character past the n-th, if the value is longer.
        let cut = value.char_indices().nth(n).map(|(i, _)| i);
        let kept = match cut {
            None => value,
            Some(i) if explicit || value[i..].chars().all(|c| c == ' ') => &value[..i],
            Some(_) => {
                return Err(DataFusionError::External(Box::new(
                    SqlError::ValueTooLong {
                        type_name: kind.type_name(n as u32),
                    },
                )));
            }
        };
        match kind {
            Kind::Char => out.append_value(kept.trim_end_matches(' ')),
            _ => out.append_value(kept),
        }
    }
    Ok(out.finish())
}

/// A uuid written as PostgreSQL reads one (hex digits, upper or lower case, in braces
/// or not, a hyphen allowed after any group of four digits) in its canonical form
/// (lower case, `8-4-4-4-12`); `None` if it is not one.
pub(crate) fn uuid_text(text: &str) -> Option<String> {
    let inner = match text.strip_prefix('{') {
        Some(rest) => rest.strip_suffix('}')?,
        None => text,
    };
    let mut digits = String::with_capacity(32);
    let mut after_hyphen = false;
    for c in inner.chars() {
        if c == '-' {
            if after_hyphen || digits.is_empty() || digits.len() % 4 != 0 {
                return None;
            }
            after_hyphen = true;
        } else {
            digits.push(c.to_ascii_lowercase());
            after_hyphen = false;
            if !c.is_ascii_hexdigit() || digits.len() > 32 {
                return None;
            }
        }
    }
    if digits.len() != 32 || after_hyphen {
        return None;
    }
    Some(format!(
        "{}-{}-{}-{}-{}",
        &digits[..8],
        &digits[8..12],
        &digits[12..16],
        &digits[16..20],
        &digits[20..]
    ))
}

/// What storing into `field` checks, if its declared type asks for anything:
/// `varchar(n)`, `char(n)`, `json` or `jsonb`.
fn stored_check(field: &Field) -> Option<(Kind, usize)> {
    Some(match DeclaredType::of(field)? {
        DeclaredType::Varchar(n) => (Kind::Varchar, n as usize),
        DeclaredType::Char(n) => (Kind::Char, n as usize),
        DeclaredType::Json => (Kind::Json, 0),
        DeclaredType::Jsonb => (Kind::Jsonb, 0),
        DeclaredType::Uuid => (Kind::Uuid, 0),
        DeclaredType::Varying => return None,
    })
}

/// `batch`, about to be stored in columns of its schema, with each `varchar(n)`,
/// `char(n)`, `json` and `jsonb` column fitted as storing it requires (COPY's rows).
pub(crate) fn assign_batch(
    batch: datafusion::arrow::record_batch::RecordBatch,
) -> Result<datafusion::arrow::record_batch::RecordBatch> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| stored_check(f).is_some()) {
        return Ok(batch);
    }
    let mut columns = batch.columns().to_vec();
    for (i, field) in schema.fields().iter().enumerate() {
        if let Some((kind, n)) = stored_check(field)
            && field.data_type().is_string()
        {
            let text = datafusion::arrow::compute::cast(&columns[i], &DataType::Utf8)?;
            let fitted = fit(text.as_string::<i32>(), kind, n, false)?;
            columns[i] = datafusion::arrow::compute::cast(&fitted, field.data_type())?;
        }
    }
    Ok(datafusion::arrow::record_batch::RecordBatch::try_new(
        schema, columns,
    )?)
}

/// `value` of type `data_type`, fitted to `kind(n)` for storing. Tables keep strings
/// as Utf8View; the functions take Utf8.
fn fitted(
    value: datafusion::logical_expr::Expr,
    kind: Kind,
    n: usize,
    data_type: &DataType,
) -> datafusion::logical_expr::Expr {
    use datafusion::logical_expr::{cast, lit};
    let text = cast(value, DataType::Utf8);
    cast(
        udf(kind).call(vec![text, lit(n as i64), lit(false)]),
        data_type.clone(),
    )
}

/// An UPDATE's new value for column `field`, fitted to its declared type (see [`fit`]).
pub(crate) fn assign_value(
    field: &Field,
    value: datafusion::logical_expr::Expr,
) -> datafusion::logical_expr::Expr {
    match stored_check(field) {
        Some((kind, n)) if field.data_type().is_string() => {
            fitted(value, kind, n, field.data_type())
        }
        _ => value,
    }
}

/// A MERGE's new value for column `field` as SQL text (deltalake plans a MERGE's
/// values from text, in the session, where these functions are registered), fitted
/// to its declared type (see [`fit`]).
pub(crate) fn assign_sql(field: &Field, value: &str) -> String {
    match stored_check(field) {
        Some((kind, n)) if field.data_type().is_string() => {
            format!("{}(CAST(({value}) AS TEXT), {n}, false)", kind.name())
        }
        _ => value.to_owned(),
    }
}

/// An INSERT's plan with its rows fitted to the target's `varchar(n)`, `char(n)`,
/// `json` and `jsonb` columns (the functions above, with `explicit` false), as
/// PostgreSQL applies a column's type on assignment.
pub(crate) fn assign_insert(
    plan: datafusion::logical_expr::LogicalPlan,
) -> Result<datafusion::logical_expr::LogicalPlan> {
    use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
    let LogicalPlan::Dml(mut dml) = plan else {
        return Ok(plan);
    };
    let target = dml.target.schema();
    let lengths: Vec<(String, Kind, usize)> = target
        .fields()
        .iter()
        .filter_map(|f| stored_check(f).map(|(k, n)| (f.name().clone(), k, n)))
        .collect();
    if lengths.is_empty() {
        return Ok(LogicalPlan::Dml(dml));
    }
    let input = Arc::clone(&dml.input);
    let exprs: Vec<datafusion::logical_expr::Expr> = input
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = datafusion::logical_expr::Expr::Column(datafusion::common::Column::new(
                qualifier.cloned(),
                field.name(),
            ));
            match lengths.iter().find(|(name, ..)| name == field.name()) {
                Some((name, kind, n)) if field.data_type().is_string() => {
                    fitted(column, *kind, *n, field.data_type()).alias(name.clone())
                }
                _ => column,
            }
        })
        .collect();
    dml.input = Arc::new(LogicalPlanBuilder::from(input).project(exprs)?.build()?);
    Ok(LogicalPlan::Dml(dml))
}

/// The length of a `varchar(n)` / `char(n)` type, and which of the two it is; `json`
/// and `jsonb`, which have no length, with 0.
fn sized(data_type: &ast::DataType) -> Option<(Kind, u64)> {
    let length = |l: &Option<CharacterLength>| match l {
        Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
        _ => None,
    };
    match data_type {
        ast::DataType::Varchar(l)
        | ast::DataType::CharacterVarying(l)
        | ast::DataType::CharVarying(l) => Some((Kind::Varchar, length(l)?)),
        ast::DataType::Char(l) | ast::DataType::Character(l) => Some((Kind::Char, length(l)?)),
        ast::DataType::JSON => Some((Kind::Json, 0)),
        ast::DataType::JSONB => Some((Kind::Jsonb, 0)),
        ast::DataType::Uuid => Some((Kind::Uuid, 0)),
        _ => None,
    }
}

struct Casts;

impl VisitorMut for Casts {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
        if let Expr::Cast {
            expr: inner,
            data_type,
            ..
        } = expr
            && let Some((kind, n)) = sized(data_type)
        {
            let arg = |e: Expr| FunctionArg::Unnamed(FunctionArgExpr::Expr(e));
            let text = Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: inner.clone(),
                data_type: ast::DataType::Text,
                array: false,
                format: None,
            };
            *expr = Expr::Function(ast::Function {
                name: ObjectName::from(vec![Ident::new(kind.name())]),
                uses_odbc_syntax: false,
                parameters: FunctionArguments::None,
                args: FunctionArguments::List(FunctionArgumentList {
                    duplicate_treatment: None,
                    args: vec![
                        arg(text),
                        arg(Expr::value(Value::Number(n.to_string(), false))),
                        arg(Expr::value(Value::Boolean(true))),
                    ],
                    clauses: Vec::new(),
                }),
                filter: None,
                null_treatment: None,
                over: None,
                within_group: Vec::new(),
            });
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Explicit casts to `varchar(n)`, `char(n)`, `json` and `jsonb` in `statement` as
/// calls of the functions above (a cast to `varchar` without a length is DataFusion's
/// own).
pub(crate) fn rewrite_casts(statement: &mut Statement) {
    let _ = statement.visit(&mut Casts);
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::StringArray;

    use super::*;

    fn fitted(values: &[&str], kind: Kind, n: usize, explicit: bool) -> Result<Vec<String>> {
        let values = StringArray::from(values.to_vec());
        Ok(fit(&values, kind, n, explicit)?
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    }

    // PostgreSQL 15: select 'héllo'::varchar(2), 'ab   '::varchar(3)::text || '|'; insert
    // into a varchar(3) column 'abc  ' (stored 'abc') and 'abcd' (22001).
    #[test]
    fn casts_cut_storing_refuses_all_but_spaces_and_char_drops_trailing_spaces() {
        assert_eq!(
            fitted(&["héllo", "ab   ", "a"], Kind::Varchar, 2, true).expect("fits"),
            ["hé", "ab", "a"]
        );
        assert_eq!(
            fitted(&["abc  ", "ab"], Kind::Varchar, 3, false).expect("fits"),
            ["abc", "ab"]
        );
        let refused = fitted(&["abcd"], Kind::Varchar, 3, false).expect_err("too long");
        assert!(
            refused
                .to_string()
                .contains("value too long for type character varying(3)"),
            "{refused}"
        );
        assert_eq!(
            fitted(&["x", "abcd  ", "a b  "], Kind::Char, 4, false).expect("fits"),
            ["x", "abcd", "a b"]
        );
        assert!(fitted(&["abcde"], Kind::Char, 4, false).is_err());
        // json text is checked, not rewritten; any number is JSON. jsonb is kept as
        // PostgreSQL prints it (keys by length, numbers as numeric).
        assert_eq!(
            fitted(&["{\"a\": [1, 2e400]}", " null "], Kind::Json, 0, false).expect("json"),
            ["{\"a\": [1, 2e400]}", " null "]
        );
        assert_eq!(
            fitted(
                &["{\"bb\":1,\"a\":[1.50e1]}", " null "],
                Kind::Jsonb,
                0,
                false
            )
            .expect("jsonb"),
            ["{\"a\": [15.0], \"bb\": 1}", "null"]
        );
        let refused = fitted(&["{bad"], Kind::Json, 0, false).expect_err("not json");
        assert!(
            refused.to_string().contains(crate::error::INVALID_JSON),
            "{refused}"
        );
        let message = SqlError::ValueTooLong {
            type_name: "character(4)".to_owned(),
        }
        .to_string();
        assert!(
            message.starts_with(crate::error::VALUE_TOO_LONG),
            "{message}"
        );
    }

    #[test]
    fn casts_to_lengths_and_json_become_the_functions() {
        use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
        use datafusion::sql::sqlparser::parser::Parser;
        let sql =
            "select 'a'::json, cast(b as jsonb), c::varchar(2), d::char(1), e::varchar, f::text";
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        rewrite_casts(&mut statement);
        assert_eq!(
            statement.to_string(),
            "SELECT json_in(CAST('a' AS TEXT), 0, true), jsonb_in(CAST(b AS TEXT), 0, true), \
             varchar(CAST(c AS TEXT), 2, true), bpchar(CAST(d AS TEXT), 1, true), e::VARCHAR, f::TEXT"
        );
    }
}
