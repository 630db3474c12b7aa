//! `upper` and `lower` as PostgreSQL maps case: one character at a time, each to the
//! single character its case maps to, or itself where the mapping is not one
//! character (`upper('straße')` is `STRAßE`; Rust's and DataFusion's full mapping
//! gives `STRASSE`, a different string of another length, which PostgreSQL never
//! answers). ASCII text takes a fast path.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

pub(crate) fn udfs() -> Vec<ScalarUDF> {
    [true, false]
        .map(|upper| {
            ScalarUDF::new_from_impl(Case {
                upper,
                signature: Signature::string(1, Volatility::Immutable),
            })
        })
        .to_vec()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Case {
    upper: bool,
    signature: Signature,
}

/// `text` in upper (or lower) case, character by character (see the module).
fn mapped(text: &str, upper: bool, out: &mut String) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        match upper {
            true => out.make_ascii_uppercase(),
            false => out.make_ascii_lowercase(),
        }
        return;
    }
    for c in text.chars() {
        let mut mapped = match upper {
            true => Box::new(c.to_uppercase()) as Box<dyn Iterator<Item = char>>,
            false => Box::new(c.to_lowercase()),
        };
        match (mapped.next(), mapped.next()) {
            (Some(single), None) => out.push(single),
            // U+0130 (İ) is the one letter whose lower case is two characters
            // (`i` and a combining dot); PostgreSQL's (the C library's) is `i`.
            (Some('i'), Some('\u{307}')) => out.push('i'),
            _ => out.push(c),
        }
    }
}

impl ScalarUDFImpl for Case {
    fn name(&self) -> &str {
        match self.upper {
            true => "upper",
            false => "lower",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        let text = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut out = StringBuilder::with_capacity(text.len(), text.value_data().len());
        let mut buffer = String::new();
        for value in text.iter() {
            match value {
                Some(value) => {
                    mapped(value, self.upper, &mut buffer);
                    out.append_value(&buffer);
                }
                None => out.append_null(),
            }
        }
        super::answer(Arc::new(out.finish()) as ArrayRef, scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PostgreSQL 15's answers (UTF8 database, C.UTF-8 locale).
    #[test]
    fn case_maps_one_character_at_a_time() {
        let mut out = String::new();
        for (text, upper, expected) in [
            ("straße", true, "STRAßE"),
            ("Ǆemal ĳ", true, "ǄEMAL Ĳ"),
            ("ÉCOLE Ωμέγα", false, "école ωμέγα"),
            ("abc Def", true, "ABC DEF"),
            ("ABC Def", false, "abc def"),
            ("ŉ", true, "ŉ"),
            ("İ", false, "i"),
            ("ǅ", true, "Ǆ"),
            ("ǅ", false, "ǆ"),
        ] {
            mapped(text, upper, &mut out);
            assert_eq!(out, expected, "{text}");
        }
    }
}
