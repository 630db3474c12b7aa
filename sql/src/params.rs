//! Values for `$n` placeholders: coercing what a client sent to what the plan expects.

use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;

use crate::error::{Result, SqlError};

/// Parses a parameter sent in text format as `target` (PostgreSQL's input syntax,
/// which Arrow's string casts accept for numbers, booleans, dates and timestamps).
pub fn from_text(index: usize, text: &str, target: &DataType) -> Result<ScalarValue> {
    // Integers read directly (a cast of a one-row array was a fiftieth of a short
    // query's CPU); anything these do not read goes the general way, for its error.
    let digits = text.trim();
    let direct = match target {
        DataType::Int16 => digits.parse().ok().map(|v| ScalarValue::Int16(Some(v))),
        DataType::Int32 => digits.parse().ok().map(|v| ScalarValue::Int32(Some(v))),
        DataType::Int64 => digits.parse().ok().map(|v| ScalarValue::Int64(Some(v))),
        _ => None,
    };
    if let Some(value) = direct {
        return Ok(value);
    }
    let value = ScalarValue::Utf8(Some(text.to_owned()));
    if matches!(target, DataType::Utf8 | DataType::Null) {
        return Ok(value);
    }
    if let DataType::List(_) | DataType::LargeList(_) = target {
        // PostgreSQL's array syntax (`{a,"b c",NULL}`, `{{1,2},{3,4}}`), as
        // postgres.js and node-postgres send an array; each element then read as the
        // element type.
        let malformed = || SqlError::InvalidParameter {
            index,
            reason: format!("malformed array literal: \"{text}\""),
        };
        let literal = crate::pg::array_in::parse_literal(text).map_err(|m| match m {
            crate::pg::array_in::Malformed::TooDeep => {
                SqlError::TooManyDimensions(crate::pg::array_in::MAX_DIMENSIONS + 1)
            }
            _ => malformed(),
        })?;
        let (_, item) = list_depth(target);
        let elements = literal
            .elements
            .into_iter()
            .map(|e| match e {
                Some(e) => from_text(index, &e, item),
                None => ScalarValue::try_from(item).map_err(SqlError::DataFusion),
            })
            .collect::<Result<Vec<_>>>()?;
        return match literal.shape.is_empty() {
            true => coerce(index, empty_list(target), target),
            false => coerce(index, nested_list(&elements, &literal.shape, item), target),
        };
    }
    if *target == DataType::Boolean {
        return parse_bool(text)
            .map(|b| ScalarValue::Boolean(Some(b)))
            .ok_or_else(|| SqlError::InvalidParameter {
                index,
                reason: format!("invalid input syntax for type boolean: \"{text}\""),
            });
    }
    coerce(index, value, target)
}

/// `value` for a parameter the plan takes as `target`: cast to it, except that a
/// number `target` (another number type) cannot hold exactly keeps its own type, as
/// a PostgreSQL parameter keeps the type the client declared: 2.5 compared with an
/// integer column compares as 2.5 (not 2), and 2^40 as itself (not an overflow).
pub fn fit(index: usize, value: ScalarValue, target: &DataType) -> Result<ScalarValue> {
    let from = value.data_type();
    if from.is_numeric() && target.is_numeric() && from != *target {
        let options = datafusion::arrow::compute::CastOptions {
            safe: false,
            ..Default::default()
        };
        let exact = value
            .cast_to_with_options(target, &options)
            .ok()
            .filter(|cast| cast.cast_to(&from).ok().as_ref() == Some(&value));
        return Ok(exact.unwrap_or(value));
    }
    coerce(index, value, target)
}

/// Casts an already-typed value to `target`, failing (not truncating) on overflow.
///
/// An array of more dimensions than `target`'s keeps them (its elements cast), as
/// PostgreSQL's array types hold any number: the plan casts it so too (see
/// [`crate::pg::casts`]).
pub fn coerce(index: usize, value: ScalarValue, target: &DataType) -> Result<ScalarValue> {
    if value.data_type() == *target || *target == DataType::Null {
        return Ok(value);
    }
    let target = &deepened(target, &value.data_type());
    let options = datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    let value = match target.is_integer() {
        true => rounded(value),
        false => value,
    };
    value
        .cast_to_with_options(target, &options)
        .map_err(|e| SqlError::InvalidParameter {
            index,
            reason: e.strip_backtrace(),
        })
}

/// How many lists `data_type` nests (0 for a non-list), and the type of its innermost
/// elements.
pub fn list_depth(data_type: &DataType) -> (usize, &DataType) {
    match data_type {
        DataType::List(item) | DataType::LargeList(item) => {
            let (depth, innermost) = list_depth(item.data_type());
            (depth + 1, innermost)
        }
        other => (0, other),
    }
}

/// Lists of `item`, `depth` deep (`item` itself for 0).
pub fn with_depth(item: &DataType, depth: usize) -> DataType {
    (0..depth).fold(item.clone(), |inner, _| {
        DataType::List(std::sync::Arc::new(
            datafusion::arrow::datatypes::Field::new_list_field(inner, true),
        ))
    })
}

/// `target`, an array type, with as many dimensions as `from` where `from` has more:
/// PostgreSQL's `int[]` is an array of any number of dimensions, Arrow's
/// `List(Int32)` of one. Any other `target` is itself.
pub fn deepened(target: &DataType, from: &DataType) -> DataType {
    let (depth, item) = list_depth(target);
    let (from_depth, _) = list_depth(from);
    match depth >= 1 && from_depth > depth {
        true => with_depth(item, from_depth),
        false => target.clone(),
    }
}

/// The array of the dimensions `shape` (at least one) holding `elements` (of type
/// `item`) in PostgreSQL's order, the last subscript varying fastest: lists of lists.
pub fn nested_list(elements: &[ScalarValue], shape: &[usize], item: &DataType) -> ScalarValue {
    match shape {
        [] | [_] => ScalarValue::List(ScalarValue::new_list_nullable(elements, item)),
        [_, inner @ ..] => {
            let size: usize = inner.iter().product();
            let members: Vec<ScalarValue> = match size {
                0 => Vec::new(),
                _ => elements
                    .chunks(size)
                    .map(|chunk| nested_list(chunk, inner, item))
                    .collect(),
            };
            let member_type = with_depth(item, inner.len());
            ScalarValue::List(ScalarValue::new_list_nullable(&members, &member_type))
        }
    }
}

/// An empty array of `target` (a list type).
fn empty_list(target: &DataType) -> ScalarValue {
    match target {
        DataType::List(item) | DataType::LargeList(item) => {
            ScalarValue::List(ScalarValue::new_list_nullable(&[], item.data_type()))
        }
        other => ScalarValue::try_from(other).unwrap_or(ScalarValue::Null),
    }
}

/// `value` rounded to a whole number as PostgreSQL assigns a fraction to an integer
/// type (Arrow's cast truncates): a double precision value half to even (`rint`), a
/// numeric half away from zero (as Arrow's cast to a smaller decimal scale rounds).
fn rounded(value: ScalarValue) -> ScalarValue {
    let whole = match value {
        ScalarValue::Float64(Some(v)) => return ScalarValue::Float64(Some(v.round_ties_even())),
        ScalarValue::Float32(Some(v)) => return ScalarValue::Float32(Some(v.round_ties_even())),
        ScalarValue::Decimal128(_, precision, scale) if scale > 0 => {
            DataType::Decimal128(precision, 0)
        }
        ScalarValue::Decimal256(_, precision, scale) if scale > 0 => {
            DataType::Decimal256(precision, 0)
        }
        other => return other,
    };
    value.cast_to(&whole).unwrap_or(value)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "t" | "true" | "y" | "yes" | "on" | "1" => Some(true),
        "f" | "false" | "n" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fraction given for an integer is rounded as PostgreSQL assigns it: a double
    /// half to even, a numeric half away from zero; an integer too large is refused.
    #[test]
    fn fractions_for_integers_round_as_postgres_assigns_them() {
        let int = |v: ScalarValue| coerce(1, v, &DataType::Int32).expect("fits");
        let float = |v: f64| int(ScalarValue::Float64(Some(v)));
        assert_eq!(float(2.7), ScalarValue::Int32(Some(3)));
        assert_eq!(float(-2.7), ScalarValue::Int32(Some(-3)));
        assert_eq!(float(2.5), ScalarValue::Int32(Some(2)));
        assert_eq!(float(3.5), ScalarValue::Int32(Some(4)));
        assert_eq!(float(-0.4), ScalarValue::Int32(Some(0)));
        let numeric = |v: i128| int(ScalarValue::Decimal128(Some(v), 10, 2));
        assert_eq!(numeric(250), ScalarValue::Int32(Some(3)), "2.50");
        assert_eq!(numeric(-250), ScalarValue::Int32(Some(-3)), "-2.50");
        assert_eq!(numeric(249), ScalarValue::Int32(Some(2)), "2.49");
        assert_eq!(numeric(-1), ScalarValue::Int32(Some(0)), "-0.01");
        assert!(
            coerce(
                1,
                ScalarValue::Float64(Some(2147483647.5)),
                &DataType::Int32
            )
            .is_err()
        );
    }

    /// A number the plan's type holds exactly is cast to it; one it does not keeps
    /// its own type (PostgreSQL compares `int4 = float8` as float8).
    #[test]
    fn numbers_keep_their_type_where_the_plans_would_change_them() {
        let fit = |v: ScalarValue, t: DataType| fit(1, v, &t).expect("fit");
        assert_eq!(
            fit(ScalarValue::Float64(Some(2.0)), DataType::Int32),
            ScalarValue::Int32(Some(2))
        );
        assert_eq!(
            fit(ScalarValue::Float64(Some(2.5)), DataType::Int32),
            ScalarValue::Float64(Some(2.5))
        );
        assert_eq!(
            fit(ScalarValue::Int64(Some(1 << 40)), DataType::Int32),
            ScalarValue::Int64(Some(1 << 40))
        );
        assert_eq!(
            fit(ScalarValue::Int64(Some(7)), DataType::Int32),
            ScalarValue::Int32(Some(7))
        );
        assert_eq!(
            fit(ScalarValue::Decimal128(Some(250), 5, 2), DataType::Int64),
            ScalarValue::Decimal128(Some(250), 5, 2)
        );
        assert_eq!(
            fit(ScalarValue::Int32(Some(3)), DataType::Float64),
            ScalarValue::Float64(Some(3.0))
        );
    }

    #[test]
    fn text_parameters_parse_to_the_target_type() {
        assert_eq!(
            from_text(1, "42", &DataType::Int64).expect("int"),
            ScalarValue::Int64(Some(42))
        );
        assert_eq!(
            from_text(1, "yes", &DataType::Boolean).expect("bool"),
            ScalarValue::Boolean(Some(true))
        );
    }

    #[test]
    fn bad_text_names_the_parameter() {
        let err = from_text(2, "abc", &DataType::Int32).expect_err("not a number");
        assert!(err.to_string().contains("$2"), "{err}");
    }

    #[test]
    fn narrowing_overflow_is_an_error_not_a_null() {
        assert!(coerce(1, ScalarValue::Int64(Some(1 << 40)), &DataType::Int32).is_err());
    }
}
