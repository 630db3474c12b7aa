//! PostgreSQL's array input syntax (`array_in`) for casts from text to an array:
//! `'{a,"b c",NULL}'::text[]`, `'{1, 2}'::int[]`, and a text-format `text[]`
//! parameter (postgres.js and node-postgres send arrays so). Arrow's own cast took
//! the whole text as one element, or split it without reading quotes.
//!
//! Elements are separated by commas inside braces; whitespace around an element is
//! dropped; an element in double quotes keeps everything but its quotes, with `\`
//! escaping the next character; an unquoted element may escape with `\` too, and an
//! unquoted `NULL` (any case) is NULL. The elements are text; the cast then makes them
//! the array's element type. Multidimensional literals (`{{1,2},{3,4}}`) and explicit
//! bounds (`[1:2]={1,2}`) are refused by name: Tarn's arrays have one dimension.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, AsArray, ListArray, ListBuilder, StringArray, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::SqlError;

/// Why a text is not an array literal: PostgreSQL's DETAIL for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The detail PostgreSQL gives (`Array value must start with "{" or dimension
    /// information.`).
    Detail(&'static str),
    /// A literal Tarn cannot hold (more than one dimension, explicit bounds).
    Unsupported(&'static str),
}

/// The elements of the one-dimensional array literal `text`.
pub(crate) fn parse(text: &str) -> Result<Vec<Option<String>>, Malformed> {
    let trimmed = text.trim_matches(is_space);
    if trimmed.starts_with('[') {
        return Err(Malformed::Unsupported("array bounds ([1:2]={...})"));
    }
    let Some(body) = trimmed.strip_prefix('{') else {
        return Err(Malformed::Detail(
            "Array value must start with \"{\" or dimension information.",
        ));
    };
    let mut elements = Vec::new();
    let mut chars = body.chars().peekable();
    let skip_space = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.peek().is_some_and(|c| is_space(*c)) {
            chars.next();
        }
    };
    skip_space(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
        return match chars.all(is_space) {
            true => Ok(elements),
            false => Err(Malformed::Detail("Junk after closing right brace.")),
        };
    }
    loop {
        skip_space(&mut chars);
        let mut element = String::new();
        let mut quoted = false;
        match chars.peek() {
            Some('{') => return Err(Malformed::Unsupported("multidimensional arrays")),
            Some('"') => {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) => element.push(c),
                            None => return Err(Malformed::Detail("Unexpected end of input.")),
                        },
                        Some(c) => element.push(c),
                        None => return Err(Malformed::Detail("Unexpected end of input.")),
                    }
                }
                skip_space(&mut chars);
            }
            _ => {
                // Unquoted: up to a comma or the closing brace, trailing spaces dropped
                // (an escaped space is kept).
                let mut kept = 0;
                loop {
                    match chars.peek() {
                        Some(',' | '}') | None => break,
                        Some('"') => {
                            return Err(Malformed::Detail("Unexpected array element."));
                        }
                        Some('{') => {
                            return Err(Malformed::Unsupported("multidimensional arrays"));
                        }
                        Some('\\') => {
                            chars.next();
                            match chars.next() {
                                Some(c) => element.push(c),
                                None => {
                                    return Err(Malformed::Detail("Unexpected end of input."));
                                }
                            }
                            kept = element.len();
                        }
                        Some(&c) => {
                            chars.next();
                            element.push(c);
                            if !is_space(c) {
                                kept = element.len();
                            }
                        }
                    }
                }
                element.truncate(kept);
                if element.is_empty() {
                    return Err(Malformed::Detail("Unexpected \",\" character."));
                }
            }
        }
        if !quoted && element.eq_ignore_ascii_case("null") {
            elements.push(None);
        } else {
            elements.push(Some(element));
        }
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            _ => return Err(Malformed::Detail("Unexpected end of input.")),
        }
    }
    match chars.all(is_space) {
        true => Ok(elements),
        false => Err(Malformed::Detail("Junk after closing right brace.")),
    }
}

/// The whitespace `array_in` skips (C's `isspace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// `pg_array_in(text)`: the elements of an array literal, as text.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ArrayIn {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayIn {
    signature: Signature,
}

fn refused(text: &str, malformed: Malformed) -> DataFusionError {
    DataFusionError::External(Box::new(match malformed {
        // PostgreSQL gives the detail as a DETAIL line, which Tarn's errors lack.
        Malformed::Detail(_) => {
            SqlError::InvalidInput(format!("malformed array literal: \"{text}\""))
        }
        Malformed::Unsupported(what) => {
            SqlError::not_supported(format!("{what} in array literals"))
        }
    }))
}

impl ScalarUDFImpl for ArrayIn {
    fn name(&self) -> &str {
        "pg_array_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = args.args[0].to_array(args.number_rows)?;
        let texts = match texts.data_type() {
            DataType::Null => {
                datafusion::arrow::array::new_null_array(&DataType::Utf8, texts.len())
            }
            _ => datafusion::arrow::compute::cast(&texts, &DataType::Utf8)?,
        };
        let Some(texts) = texts.as_string_opt::<i32>() else {
            return exec_err!("pg_array_in: expected text");
        };
        Ok(ColumnarValue::Array(Arc::new(lists(texts)?)))
    }
}

/// Each text of `texts` read as an array literal: a list of its elements' texts.
pub(crate) fn lists(texts: &StringArray) -> Result<ListArray> {
    let mut out = ListBuilder::new(StringBuilder::new());
    for text in texts.iter() {
        match text {
            None => out.append_null(),
            Some(text) => {
                for element in parse(text).map_err(|m| refused(text, m))? {
                    out.values().append_option(element);
                }
                out.append(true);
            }
        }
    }
    Ok(out.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Option<&str>> {
        // Leaked: tests only, for comparable slices.
        parse(text)
            .expect("parses")
            .into_iter()
            .map(|e| e.map(|s| &*Box::leak(s.into_boxed_str())))
            .collect()
    }

    // Each answer is PostgreSQL 15's (`select '...'::text[]`, element by element).
    #[test]
    fn literals_read_as_array_in_reads_them() {
        assert_eq!(elements("{a,\"b c\",NULL}"), [Some("a"), Some("b c"), None]);
        assert_eq!(elements(" { 1 , 2 } "), [Some("1"), Some("2")]);
        assert_eq!(elements("{}"), Vec::<Option<&str>>::new());
        assert_eq!(
            elements("{\"NULL\",null,\"\"}"),
            [Some("NULL"), None, Some("")]
        );
        assert_eq!(elements("{a\\,b,\"q\\\"x\"}"), [Some("a,b"), Some("q\"x")]);
        assert_eq!(elements("{a b ,c\\ }"), [Some("a b"), Some("c ")]);
        assert_eq!(
            parse("1,2"),
            Err(Malformed::Detail(
                "Array value must start with \"{\" or dimension information."
            ))
        );
        assert_eq!(
            parse("{1,2} x"),
            Err(Malformed::Detail("Junk after closing right brace."))
        );
        assert_eq!(
            parse("{1,,2}"),
            Err(Malformed::Detail("Unexpected \",\" character."))
        );
        assert_eq!(
            parse("{\"a"),
            Err(Malformed::Detail("Unexpected end of input."))
        );
        assert_eq!(
            parse("{{1,2},{3,4}}"),
            Err(Malformed::Unsupported("multidimensional arrays"))
        );
    }
}
