//! Values for `$n` placeholders: coercing what a client sent to what the plan expects.

use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;

use crate::error::{Result, SqlError};

/// Parses a parameter sent in text format as `target` (PostgreSQL's input syntax,
/// which Arrow's string casts accept for numbers, booleans, dates and timestamps).
pub fn from_text(index: usize, text: &str, target: &DataType) -> Result<ScalarValue> {
    let value = ScalarValue::Utf8(Some(text.to_owned()));
    if matches!(target, DataType::Utf8 | DataType::Null) {
        return Ok(value);
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
pub fn coerce(index: usize, value: ScalarValue, target: &DataType) -> Result<ScalarValue> {
    if value.data_type() == *target || *target == DataType::Null {
        return Ok(value);
    }
    let options = datafusion::arrow::compute::CastOptions {
        safe: false,
        ..Default::default()
    };
    value
        .cast_to_with_options(target, &options)
        .map_err(|e| SqlError::InvalidParameter {
            index,
            reason: e.strip_backtrace(),
        })
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
