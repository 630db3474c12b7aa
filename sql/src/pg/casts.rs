//! Casts between text and `timestamp` as PostgreSQL does them, where Arrow's differ:
//!
//! - text to date and timestamp read PostgreSQL's other spellings of a date
//!   (`09/12/2023` in DateStyle's order, `Sep 12, 2023`; [`super::date_input`]);
//! - text to timestamp accepts a time without seconds (`'2024-01-01 10:00'`), which
//!   PostgreSQL reads and Arrow's parser refuses;
//! - timestamp to text prints `2024-01-01 10:00:00` (a space, and fractional seconds
//!   only when there are some), not Arrow's `2024-01-01T10:00:00`, so
//!   `cast(ts as text)` and `ts || ''` match PostgreSQL's output; timestamptz prints
//!   in UTC with `+00` (PostgreSQL prints the session's TimeZone; the wire output of
//!   timestamptz columns does follow it, this cast does not yet).
//!
//! - a fractional number (double precision, real, numeric) to an integer type rounds
//!   to the nearest integer, where Arrow's cast truncates (`2.7::int` is 3, not 2);
//!   that holds for a value stored into an integer column too (`INSERT`, `UPDATE`).
//!   PostgreSQL rounds a `numeric`'s halves away from zero (`-2.5::int` is -3) and a
//!   `double precision`'s or `real`'s to even (`2.5::float8::int` is 2). Which
//!   rounding a value gets follows the type PostgreSQL would give it ([`is_pg_float`]):
//!   a literal, or arithmetic on literals and integer or numeric columns, rounds as a
//!   `numeric`; a float column, a cast to a float type, and anything computed from
//!   them round to even. `round(x)` of such a float rounds to even too, as
//!   PostgreSQL's `round(double precision)` does (DataFusion's rounds halves away).
//!
//! An analyzer rule, run after type coercion, replaces those `Cast`s (written ones and
//! the ones coercion inserts, as for INSERT of text into a timestamp column) with
//! the two functions below.

use std::sync::Arc;

use chrono::{DateTime, Timelike};
use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::error::Result;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{
    Cast, ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, Volatility,
};
use datafusion::optimizer::AnalyzerRule;

/// The analyzer rule (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct PgCasts;

impl AnalyzerRule for PgCasts {
    fn name(&self) -> &str {
        "tarn_pg_casts"
    }

    fn analyze(&self, plan: LogicalPlan, config: &ConfigOptions) -> Result<LogicalPlan> {
        let order = super::date_input::DateOrder::of(config);
        let plan = deepen_array_casts(plan)?;
        // Output names stay what they were (`select cast(x as text)` is still `x`).
        rewrite_expressions(plan, &|expr, schema| {
            if let Expr::ScalarFunction(ScalarFunction { func, args }) = &expr {
                // `round(x)` of a value PostgreSQL computes as a float rounds halves
                // to even there, as its casts do (`round(2.5::float8)` is 2).
                if func.name() == "round" && args.len() == 1 && is_pg_float(&args[0], schema) {
                    return Ok(Transformed::yes(Expr::ScalarFunction(
                        ScalarFunction::new_udf(
                            Arc::new(ScalarUDF::new_from_impl(RoundToEven::default())),
                            args.clone(),
                        ),
                    )));
                }
            }
            let Expr::Cast(Cast { expr: inner, field }) = &expr else {
                return Ok(Transformed::no(expr));
            };
            let data_type = field.data_type();
            let Ok(from) = inner.get_type(schema) else {
                return Ok(Transformed::no(expr));
            };
            let call = |udf: ScalarUDF, arg: Expr| {
                Expr::ScalarFunction(ScalarFunction::new_udf(Arc::new(udf), vec![arg]))
            };
            Ok(match (&from, data_type) {
                // Dates in PostgreSQL's other spellings (`09/12/2023`, `Sep 12 2023`)
                // made ISO first (`date_input`).
                (
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8,
                    DataType::Timestamp(_, zone),
                ) => Transformed::yes(Expr::Cast(Cast::new_from_field(
                    Box::new(call(
                        text_in(zone.is_some()),
                        call(super::date_input::udf(order), (**inner).clone()),
                    )),
                    Arc::clone(field),
                ))),
                (DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8, DataType::Date32) => {
                    Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(call(super::date_input::udf(order), (**inner).clone())),
                        Arc::clone(field),
                    )))
                }
                // PostgreSQL's array and row text (`{1,2}`, `(1,x)`; `super::text_out`).
                (from, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
                    if super::text_out::writes(from) =>
                {
                    Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(call(super::text_out::udf(), (**inner).clone())),
                        Arc::clone(field),
                    )))
                }
                (DataType::Timestamp(_, None), DataType::Utf8) => {
                    Transformed::yes(call(timestamp_out("pg_timestamp_out"), (**inner).clone()))
                }
                (DataType::Timestamp(_, Some(_)), DataType::Utf8) => {
                    Transformed::yes(call(timestamp_out("pg_timestamptz_out"), (**inner).clone()))
                }
                (
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8,
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView,
                ) => Transformed::yes(Expr::Cast(Cast::new_from_field(
                    Box::new(call(
                        ScalarUDF::new_from_impl(ByteaIn::default()),
                        (**inner).clone(),
                    )),
                    Arc::clone(field),
                ))),
                // PostgreSQL's array syntax (`'{a,"b c"}'::text[]`), read into text
                // elements which the cast then makes the element type.
                (
                    DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8,
                    DataType::List(_) | DataType::LargeList(_),
                ) => Transformed::yes(Expr::Cast(Cast::new_from_field(
                    Box::new(call(
                        super::array_in::udf(crate::params::list_depth(data_type).0),
                        (**inner).clone(),
                    )),
                    Arc::clone(field),
                ))),
                (from, to) if is_fractional(from) && to.is_integer() => {
                    let rounded = if is_pg_float(inner, schema) {
                        call(
                            ScalarUDF::new_from_impl(RoundToEven::default()),
                            (**inner).clone(),
                        )
                    } else {
                        datafusion::functions::math::expr_fn::round(vec![(**inner).clone()])
                    };
                    Transformed::yes(Expr::Cast(Cast::new_from_field(
                        Box::new(rounded),
                        Arc::clone(field),
                    )))
                }
                _ => Transformed::no(expr),
            })
        })
    }
}

/// A cast of an array of more dimensions than the cast's type to that type
/// (`array[[1,2],[3,4]]::int[]`, or `$1::int[]` given `{{1,2},{3,4}}`) casts the
/// elements and keeps the dimensions, as PostgreSQL's `int[]` holds arrays of any
/// number; Arrow's cast of a list of lists to a list fails. The plans above it get the
/// deeper type.
fn deepen_array_casts(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::TryCast;
    plan.transform_up_with_subqueries(|plan| {
        let schema = datafusion::logical_expr::utils::merge_schema(&plan.inputs());
        let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&plan);
        let rewritten = plan.map_expressions(|expr| {
            let name = names.save(&expr);
            expr.transform_up(|expr| {
                let (inner, field) = match &expr {
                    Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                        (expr, field)
                    }
                    _ => return Ok(Transformed::no(expr)),
                };
                let Ok(from) = inner.get_type(&schema) else {
                    return Ok(Transformed::no(expr));
                };
                let deeper = crate::params::deepened(field.data_type(), &from);
                if deeper == *field.data_type() {
                    return Ok(Transformed::no(expr));
                }
                let field = Arc::new(field.as_ref().clone().with_data_type(deeper));
                Ok(Transformed::yes(match expr {
                    Expr::Cast(cast) => Expr::Cast(Cast::new_from_field(cast.expr, field)),
                    Expr::TryCast(cast) => Expr::TryCast(TryCast::new_from_field(cast.expr, field)),
                    other => other,
                }))
            })
            .map(|t| t.update_data(|e| name.restore(e)))
        })?;
        match rewritten.transformed {
            true => rewritten.map_data(LogicalPlan::recompute_schema),
            false => Ok(rewritten),
        }
    })
    .map(|t| t.data)
}

/// Whether PostgreSQL would compute `expr` as `double precision` or `real` rather than
/// `numeric`. DataFusion's types cannot always tell: `avg(i)` of an integer column is
/// a Float64 here and a `numeric` in PostgreSQL (and a decimal literal is a Float64
/// where `sql_parser.parse_float_as_decimal` is turned off). A float column or
/// parameter, a cast to a float type from anything but an integer (casts DataFusion
/// adds to coerce an integer into a float, as in `avg(i)`, are `numeric` arithmetic in
/// PostgreSQL, so a written `i::float8` counts as numeric too; a numeric meeting a
/// float becomes a float in both), and anything computed with one of them
/// (PostgreSQL's `float8 * numeric` is `float8`) are. A float column of a subquery or
/// CTE counts as a column, even where it came from `avg(i)`.
fn is_pg_float(expr: &Expr, schema: &datafusion::common::DFSchema) -> bool {
    let any = |args: &[Expr]| args.iter().any(|e| is_pg_float(e, schema));
    match expr {
        Expr::Literal(..) => false,
        Expr::Alias(alias) => is_pg_float(&alias.expr, schema),
        Expr::Negative(inner) => is_pg_float(inner, schema),
        Expr::Cast(Cast { expr: inner, field }) => {
            let to_float = field.data_type().is_floating();
            match inner.get_type(schema) {
                Ok(from) if from.is_integer() || from.is_null() => false,
                // Others are written (`2.5::float8`, `x::real`, `'2.5'::float8`, and
                // `d::numeric`, which is numeric): type coercion casts no float to a
                // float that would then be cast to an integer.
                _ => to_float,
            }
        }
        Expr::BinaryExpr(binary) => {
            is_pg_float(&binary.left, schema) || is_pg_float(&binary.right, schema)
        }
        Expr::Case(case) => {
            case.when_then_expr
                .iter()
                .any(|(_, then)| is_pg_float(then, schema))
                || case
                    .else_expr
                    .as_deref()
                    .is_some_and(|e| is_pg_float(e, schema))
        }
        Expr::ScalarFunction(f) => any(&f.args),
        Expr::AggregateFunction(f) => any(&f.params.args),
        Expr::WindowFunction(f) => any(&f.params.args),
        _ => expr.get_type(schema).is_ok_and(|t| t.is_floating()),
    }
}

/// Rounds a double precision or real to the nearest integer, halves to even, as
/// PostgreSQL's `rint` (its float-to-integer casts and `round(double precision)`).
#[derive(Debug, PartialEq, Eq, Hash)]
struct RoundToEven {
    signature: Signature,
}

impl Default for RoundToEven {
    fn default() -> Self {
        Self {
            signature: Signature::uniform(
                1,
                vec![DataType::Float64, DataType::Float32],
                Volatility::Immutable,
            ),
        }
    }
}

impl ScalarUDFImpl for RoundToEven {
    fn name(&self) -> &str {
        "pg_rint"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{Float32Type, Float64Type};
        let array = args.args[0].to_array(args.number_rows)?;
        let out: ArrayRef = match array.data_type() {
            DataType::Float32 => Arc::new(
                array
                    .as_primitive::<Float32Type>()
                    .unary::<_, Float32Type>(f32::round_ties_even),
            ),
            _ => {
                let array = datafusion::arrow::compute::cast(&array, &DataType::Float64)?;
                Arc::new(
                    array
                        .as_primitive::<Float64Type>()
                        .unary::<_, Float64Type>(f64::round_ties_even),
                )
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}

/// Whether values of `data_type` can have a fraction.
fn is_fractional(data_type: &DataType) -> bool {
    data_type.is_floating()
        || matches!(
            data_type,
            DataType::Decimal32(_, s)
                | DataType::Decimal64(_, s)
                | DataType::Decimal128(_, s)
                | DataType::Decimal256(_, s) if *s > 0
        )
}

/// Text to bytea as PostgreSQL reads it (`byteain`): `\\x` then hex digits (spaces
/// between pairs allowed), or the escape format, where `\\\\` is a backslash and
/// `\\ooo` an octal byte; any other text is its UTF-8 bytes. Arrow's cast takes the
/// bytes of the text as they are, so `'\\x0102'` would be six bytes, not two.
#[derive(Debug, PartialEq, Eq, Hash)]
struct ByteaIn {
    signature: Signature,
}

impl Default for ByteaIn {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for ByteaIn {
    fn name(&self) -> &str {
        "pg_bytea_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let text = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
        let mut out = datafusion::arrow::array::BinaryBuilder::new();
        for value in text.as_string::<i32>().iter() {
            match value {
                None => out.append_null(),
                Some(v) => out.append_value(bytea_in(v)?),
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}

/// `bytea` input text: `\\x` and hexadecimal digits, or the escape format.
fn bytea_in(text: &str) -> Result<Vec<u8>> {
    let read = match text
        .strip_prefix("\\x")
        .or_else(|| text.strip_prefix("\\X"))
    {
        Some(hex) => hex_in(hex),
        None => escape_in(text),
    };
    read.map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))
}

/// Hexadecimal digits (whitespace between them skipped) as bytes, with PostgreSQL's
/// errors (22023), as `bytea`'s input and `decode(..., 'hex')` read them.
pub(super) fn hex_in(hex: &str) -> std::result::Result<Vec<u8>, crate::SqlError> {
    let invalid = |m: String| crate::SqlError::InvalidParameterValue(m);
    let digits: Vec<char> = hex.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        let digit = |c: char| {
            c.to_digit(16)
                .ok_or_else(|| invalid(format!("invalid hexadecimal digit: \"{c}\"")))
        };
        let [high, low] = pair else {
            digit(pair[0])?;
            return Err(invalid(
                "invalid hexadecimal data: odd number of digits".to_owned(),
            ));
        };
        out.push((digit(*high)? * 16 + digit(*low)?) as u8);
    }
    Ok(out)
}

/// `bytea`'s escape format (`\\\\` a backslash, `\\ooo` an octal byte) as bytes, with
/// PostgreSQL's error (22P02), as `bytea`'s input and `decode(..., 'escape')` read it.
pub(super) fn escape_in(text: &str) -> std::result::Result<Vec<u8>, crate::SqlError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
        } else if bytes.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if let Some(octal) = bytes.get(i + 1..i + 4)
            && octal[0] <= b'3'
            && octal.iter().all(|b| (b'0'..=b'7').contains(b))
        {
            out.push((octal[0] - b'0') * 64 + (octal[1] - b'0') * 8 + (octal[2] - b'0'));
            i += 4;
        } else {
            return Err(crate::SqlError::InvalidInput(
                "invalid input syntax for type bytea".to_owned(),
            ));
        }
    }
    Ok(out)
}

/// A cast to text is text, whatever the value was declared as: `c::text` of a
/// `char(n)` column is unpadded text in PostgreSQL, and `j::text` of a json one is
/// text. DataFusion carries a field's metadata, where Tarn keeps the declared type,
/// through a cast that names only a type, so such casts get an explicit target field
/// (which keeps none), and the schemas above them are computed again. Run on the plan
/// as planned from SQL, whose schema describes the result to the client.
pub(crate) fn text_casts_are_text(plan: LogicalPlan) -> Result<LogicalPlan> {
    let text =
        |t: &DataType| matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8);
    let rewritten = plan.transform_up_with_subqueries(|plan| {
        let schema = datafusion::logical_expr::utils::merge_schema(&plan.inputs());
        let rewritten = plan.map_expressions(|expr| {
            expr.transform_up(|expr| {
                let Expr::Cast(Cast { expr: inner, field }) = &expr else {
                    return Ok(Transformed::no(expr));
                };
                let declared = inner.to_field(&schema).is_ok_and(|(_, f)| {
                    text(f.data_type()) && tarn_catalog::types::DeclaredType::of(&f).is_some()
                });
                if !(declared
                    && text(field.data_type())
                    && field.metadata().is_empty()
                    && field.name().is_empty())
                {
                    return Ok(Transformed::no(expr));
                }
                Ok(Transformed::yes(Expr::Cast(Cast::new_from_field(
                    inner.clone(),
                    Arc::new(datafusion::arrow::datatypes::Field::new(
                        "text",
                        field.data_type().clone(),
                        true,
                    )),
                ))))
            })
        })?;
        if rewritten.transformed {
            rewritten.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(rewritten)
        }
    })?;
    // The nodes above a changed one keep the schemas they were built with.
    if rewritten.transformed {
        rewritten
            .data
            .transform_up_with_subqueries(|plan| plan.recompute_schema().map(Transformed::yes))
            .map(|t| t.data)
    } else {
        Ok(rewritten.data)
    }
}

/// A `char(n)` column compared with a string literal (`c = 'ab  '`, `c IN ('ab  ')`) compares without
/// the literal's trailing spaces: PostgreSQL types the literal `character` and ignores
/// trailing spaces on both sides, and Tarn keeps `char(n)` values without them
/// (`typmod`). Run on the plan as planned from SQL, before type coercion.
pub(crate) fn char_comparisons(plan: LogicalPlan) -> Result<LogicalPlan> {
    use datafusion::logical_expr::Operator;
    use tarn_catalog::types::DeclaredType;
    literal_comparisons(
        plan,
        &[
            Operator::Eq,
            Operator::NotEq,
            Operator::Lt,
            Operator::LtEq,
            Operator::Gt,
            Operator::GtEq,
            Operator::IsDistinctFrom,
            Operator::IsNotDistinctFrom,
        ],
        &|e, schema| {
            e.to_field(schema)
                .is_ok_and(|(_, f)| matches!(DeclaredType::of(&f), Some(DeclaredType::Char(_))))
        },
        &|text| {
            text.ends_with(' ')
                .then(|| Expr::Literal(text.trim_end_matches(' ').into(), None))
        },
    )
}

/// A `jsonb` column compared for equality with a string literal (`b = '{"a":1}'`, or in an IN list)
/// compares with the literal's jsonb text: PostgreSQL reads the literal as jsonb, and
/// Tarn keeps jsonb values in PostgreSQL's rendering ([`super::jsonb`]), so the
/// literal is brought to that rendering. A literal that is not JSON becomes a cast to
/// jsonb, which refuses it with 22P02 as PostgreSQL does. Run on the plan as planned
/// from SQL, before type coercion.
pub(crate) fn jsonb_comparisons(plan: LogicalPlan) -> Result<LogicalPlan> {
    use tarn_catalog::types::DeclaredType;
    literal_comparisons(
        plan,
        &EQUALITY,
        &|e, schema| {
            e.to_field(schema)
                .is_ok_and(|(_, f)| matches!(DeclaredType::of(&f), Some(DeclaredType::Jsonb)))
        },
        &|text| match super::jsonb::normalized(text) {
            Ok(normalized) if normalized == text => None,
            Ok(normalized) => Some(Expr::Literal(normalized.into(), None)),
            Err(_) => Some(super::typmod::jsonb_in(Expr::Literal(text.into(), None))),
        },
    )
}

/// The comparisons of equality, which a value's text decides (booleans, jsonb).
const EQUALITY: [datafusion::logical_expr::Operator; 4] = [
    datafusion::logical_expr::Operator::Eq,
    datafusion::logical_expr::Operator::NotEq,
    datafusion::logical_expr::Operator::IsDistinctFrom,
    datafusion::logical_expr::Operator::IsNotDistinctFrom,
];

/// Rewrites each comparison of `plan` by one of `ops` between an expression that
/// `compared` accepts and a string literal that `literal` turns into another
/// expression (`None`: left alone), replacing the literal; the other comparisons stay.
/// With `=` among `ops`, the string literals of `IN (...)` lists are replaced too.
fn literal_comparisons(
    plan: LogicalPlan,
    ops: &[datafusion::logical_expr::Operator],
    compared: &(dyn Fn(&Expr, &datafusion::common::DFSchema) -> bool + Sync),
    literal: &(dyn Fn(&str) -> Option<Expr> + Sync),
) -> Result<LogicalPlan> {
    use datafusion::logical_expr::expr::InList;
    use datafusion::logical_expr::{BinaryExpr, Operator};
    use datafusion::scalar::ScalarValue;
    rewrite_expressions(plan, &|expr, schema| {
        let replaced = |e: &Expr| match e {
            Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
                literal(s)
            }
            _ => None,
        };
        if let Expr::InList(InList {
            expr: tested,
            list,
            negated,
        }) = &expr
        {
            if !ops.contains(&Operator::Eq) || !compared(tested, schema) {
                return Ok(Transformed::no(expr));
            }
            let items: Vec<Option<Expr>> = list.iter().map(replaced).collect();
            if items.iter().all(Option::is_none) {
                return Ok(Transformed::no(expr));
            }
            let list = items
                .into_iter()
                .zip(list)
                .map(|(new, old)| new.unwrap_or_else(|| old.clone()))
                .collect();
            return Ok(Transformed::yes(Expr::InList(InList::new(
                tested.clone(),
                list,
                *negated,
            ))));
        }
        let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
            return Ok(Transformed::no(expr));
        };
        if !ops.contains(op) {
            return Ok(Transformed::no(expr));
        }
        let (l, r) = match (replaced(left), replaced(right)) {
            (None, Some(r)) if compared(left, schema) => (left.as_ref().clone(), r),
            (Some(l), None) if compared(right, schema) => (l, right.as_ref().clone()),
            _ => return Ok(Transformed::no(expr)),
        };
        Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
            Box::new(l),
            *op,
            Box::new(r),
        ))))
    })
}

/// Rewrites every expression of `plan`, subqueries included, bottom up with `f`,
/// which gets the schema of the node's inputs; output names stay what they were.
pub(super) fn rewrite_expressions(
    plan: LogicalPlan,
    f: &(dyn Fn(Expr, &datafusion::common::DFSchema) -> Result<Transformed<Expr>> + Sync),
) -> Result<LogicalPlan> {
    plan.transform_up_with_subqueries(|plan| {
        let schema = datafusion::logical_expr::utils::merge_schema(&plan.inputs());
        let names = datafusion::logical_expr::expr_rewriter::NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            expr.transform_up(|expr| f(expr, &schema))
                .map(|t| t.update_data(|e| name.restore(e)))
        })
    })
    .map(|t| t.data)
}

/// Text read as a `timestamp` (`zoned` false) or `timestamptz`: see [`timestamp_text`].
fn text_in(zoned: bool) -> ScalarUDF {
    ScalarUDF::new_from_impl(TimestampText {
        name: match zoned {
            true => "pg_timestamptz_text_in",
            false => "pg_timestamp_text_in",
        },
        signature: Signature::any(1, Volatility::Immutable),
        output: DataType::Utf8,
    })
}

fn timestamp_out(name: &'static str) -> ScalarUDF {
    ScalarUDF::new_from_impl(TimestampText {
        name,
        signature: Signature::any(1, Volatility::Immutable),
        output: DataType::Utf8,
    })
}

/// Both functions: text in, text out (normalized for Arrow's parser), or a naive
/// timestamp in, PostgreSQL's text out.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TimestampText {
    name: &'static str,
    signature: Signature,
    output: DataType,
}

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.output.clone())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let reading = self.name.ends_with("_text_in");
        let out: StringArray = if !reading {
            // timestamptz values are instants, kept in UTC: printed with `+00`, as
            // PostgreSQL prints them when TimeZone is UTC (Tarn's default).
            let zone = if self.name == "pg_timestamptz_out" {
                "+00"
            } else {
                ""
            };
            let micros = datafusion::arrow::compute::cast(
                &array,
                &DataType::Timestamp(TimeUnit::Microsecond, None),
            )?;
            let micros =
                micros.as_primitive::<datafusion::arrow::datatypes::TimestampMicrosecondType>();
            micros
                .iter()
                .map(|v| {
                    v.and_then(DateTime::from_timestamp_micros)
                        .map(|t| format!("{}{zone}", format_timestamp(&t)))
                })
                .collect()
        } else {
            let text = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
            let zoned = self.name == "pg_timestamptz_text_in";
            text.as_string::<i32>()
                .iter()
                .map(|v| v.map(|t| timestamp_text(t, zoned)))
                .collect()
        };
        Ok(ColumnarValue::Array(Arc::new(out) as ArrayRef))
    }
}

/// A timestamp's text as Arrow's parser reads it the way PostgreSQL does: seconds
/// added where left out ([`add_seconds`]); a numeric zone offset written as PostgreSQL
/// allows (`+5`, `-0`, `+0530`, ` +05`) spelled `+05:00` for a `timestamptz`, and
/// dropped for a `timestamp`, which ignores a zone written in its text (Arrow's
/// parser converted such a time to UTC). Other text is left for Arrow to read or
/// refuse as before.
fn timestamp_text(text: &str, zoned: bool) -> String {
    let text = add_seconds(text);
    let trimmed = text.trim_end();
    let Some(split) = trimmed.find([' ', 'T']).filter(|&i| i >= 8) else {
        return text;
    };
    let (date, rest) = trimmed.split_at(split);
    let time = rest[1..].trim_start();
    let end = time
        .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
        .unwrap_or(time.len());
    let (clock, zone) = time.split_at(end);
    let zone = zone.trim();
    if clock.is_empty() || zone.is_empty() {
        return text;
    }
    let Some(offset) = numeric_offset(zone) else {
        return text;
    };
    match zoned {
        true => format!("{date}{}{clock}{offset}", &rest[..1]),
        false => format!("{date}{}{clock}", &rest[..1]),
    }
}

/// A numeric zone offset (`+5`, `-05`, `+0530`, `+05:30`, `Z`) as `+HH:MM`.
fn numeric_offset(zone: &str) -> Option<String> {
    if zone.eq_ignore_ascii_case("z") {
        return Some("+00:00".to_owned());
    }
    let (sign, digits) = match zone.as_bytes().first()? {
        b'+' => ('+', &zone[1..]),
        b'-' => ('-', &zone[1..]),
        _ => return None,
    };
    let (hours, minutes) = match digits.split_once(':') {
        Some((h, m)) => (h, m),
        None if digits.len() == 4 => digits.split_at(2),
        None => (digits, "0"),
    };
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let (hours, minutes) = (number(hours)?, number(minutes)?);
    Some(format!("{sign}{hours:02}:{minutes:02}"))
}

/// `2024-01-01 10:00` → `2024-01-01 10:00:00` (also before a zone: `10:00+02`); other
/// text unchanged, for Arrow's parser to accept or refuse as before.
fn add_seconds(text: &str) -> String {
    let trimmed = text.trim();
    let Some(split) = trimmed.find([' ', 'T']).filter(|&i| i >= 8) else {
        return text.to_owned();
    };
    let (date, rest) = trimmed.split_at(split);
    let time = &rest[1..];
    let end = time
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(time.len());
    let (clock, zone) = time.split_at(end);
    if clock.matches(':').count() == 1 && !clock.ends_with(':') {
        format!("{date}{}{clock}:00{zone}", &rest[..1])
    } else {
        text.to_owned()
    }
}

/// PostgreSQL's text form of a `timestamp`: fractional seconds only when non-zero,
/// without trailing zeros.
pub(super) fn format_timestamp(t: &DateTime<chrono::Utc>) -> String {
    let base = t.format("%Y-%m-%d %H:%M:%S").to_string();
    let micros = t.nanosecond() / 1_000;
    if micros == 0 {
        base
    } else {
        let fraction = format!("{micros:06}");
        format!("{base}.{}", fraction.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    /// PostgreSQL 15 with TimeZone UTC: `timestamp '2020-01-01 00:00:00-0'` is
    /// `2020-01-01 00:00:00` (the zone ignored), `timestamptz '... +5'` is
    /// `2019-12-31 19:00:00+00`, `'...+0530'` 18:30 the day before.
    #[test]
    fn timestamp_text_reads_zones_as_postgres_does() {
        use super::timestamp_text;
        assert_eq!(
            timestamp_text("2020-01-01 00:00:00-0", false),
            "2020-01-01 00:00:00"
        );
        assert_eq!(
            timestamp_text("2020-01-01 00:00:00 +05", false),
            "2020-01-01 00:00:00"
        );
        assert_eq!(
            timestamp_text("2020-01-01 00:00:00+5", true),
            "2020-01-01 00:00:00+05:00"
        );
        assert_eq!(
            timestamp_text("2020-01-01 00:00:00.5+0530", true),
            "2020-01-01 00:00:00.5+05:30"
        );
        assert_eq!(
            timestamp_text("2020-01-01T10:00-0", true),
            "2020-01-01T10:00:00-00:00"
        );
        assert_eq!(
            timestamp_text("2020-01-01 10:00:00", true),
            "2020-01-01 10:00:00"
        );
        assert_eq!(
            timestamp_text("2020-01-01 10:00:00 Europe/Paris", true),
            "2020-01-01 10:00:00 Europe/Paris"
        );
    }

    use super::*;

    #[test]
    fn texts_and_timestamps_as_postgres_reads_and_prints_them() {
        assert_eq!(add_seconds("2024-01-01 10:00"), "2024-01-01 10:00:00");
        assert_eq!(add_seconds("2024-01-01T10:00"), "2024-01-01T10:00:00");
        assert_eq!(add_seconds("2024-01-01 10:00+02"), "2024-01-01 10:00:00+02");
        assert_eq!(add_seconds("2024-01-01 10:00:05"), "2024-01-01 10:00:05");
        assert_eq!(add_seconds("2024-01-01"), "2024-01-01");
        assert_eq!(add_seconds("soon"), "soon");
        let t = |s: &str| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .expect("time")
                .and_utc()
        };
        // PostgreSQL 15: select '2024-03-04 03:06:07.5'::timestamp::text
        assert_eq!(
            format_timestamp(&t("2024-03-04 03:06:07.5")),
            "2024-03-04 03:06:07.5"
        );
        assert_eq!(
            format_timestamp(&t("2024-03-04 03:06:07")),
            "2024-03-04 03:06:07"
        );
        assert_eq!(
            format_timestamp(&t("2024-03-04 03:06:07.123456")),
            "2024-03-04 03:06:07.123456"
        );
    }
}

/// PostgreSQL types a quoted literal by where it is used: in `flag = 't'` the
/// literal is a boolean. DataFusion types it text and refuses to compare text with
/// a boolean, so this rule, run before type coercion, turns a string literal
/// compared with a boolean expression into the boolean it spells (`t`, `true`,
/// `yes`, `on`, `1` and their negatives, any case). Other strings are left alone
/// (and fail as before).
#[derive(Debug, Default)]
pub(crate) struct BooleanLiterals;

impl AnalyzerRule for BooleanLiterals {
    fn name(&self) -> &str {
        "tarn_boolean_literals"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        use datafusion::scalar::ScalarValue;
        literal_comparisons(
            plan,
            &EQUALITY,
            &|e, schema| matches!(e.get_type(schema), Ok(DataType::Boolean)),
            &|text| pg_bool(text).map(|b| Expr::Literal(ScalarValue::Boolean(Some(b)), None)),
        )
    }
}

/// PostgreSQL's spellings of a boolean (`boolin`): any prefix of `true`/`false`/
/// `yes`/`no`, `on`/`off`, `1`/`0`, case and surrounding spaces ignored.
fn pg_bool(text: &str) -> Option<bool> {
    let t = text.trim().to_ascii_lowercase();
    if t.is_empty() {
        return None;
    }
    match t.as_str() {
        "on" | "1" => return Some(true),
        "off" | "of" | "0" => return Some(false),
        _ => {}
    }
    if "true".starts_with(&t) || "yes".starts_with(&t) {
        Some(true)
    } else if "false".starts_with(&t) || "no".starts_with(&t) {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod boolean_tests {
    use super::pg_bool;

    #[test]
    fn boolean_spellings_are_postgresqls() {
        for t in ["t", "TRUE", " yes ", "on", "1", "y", "tr"] {
            assert_eq!(pg_bool(t), Some(true), "{t}");
        }
        for f in ["f", "false", "no", "off", "0", "n"] {
            assert_eq!(pg_bool(f), Some(false), "{f}");
        }
        for x in ["", "o", "maybe", "2"] {
            assert_eq!(pg_bool(x), None, "{x}");
        }
    }
}

#[cfg(test)]
mod bytea_tests {
    use super::bytea_in;

    #[test]
    fn bytea_input_formats_are_postgresqls() {
        // Expected bytes as PostgreSQL 15's byteain gives them.
        assert_eq!(bytea_in("\\x0102ff").expect("hex"), vec![1, 2, 255]);
        assert_eq!(
            bytea_in("\\xDE AD").expect("hex with a space"),
            vec![0xde, 0xad]
        );
        assert_eq!(
            bytea_in("a\\\\b\\001").expect("escapes"),
            vec![b'a', b'\\', b'b', 1]
        );
        assert_eq!(bytea_in("plain").expect("text"), b"plain".to_vec());
        assert!(bytea_in("\\x012").is_err(), "odd number of hex digits");
        assert!(bytea_in("\\xzz").is_err(), "not hex");
        assert!(bytea_in("a\\9").is_err(), "a lone backslash");
    }
}
