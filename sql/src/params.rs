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
