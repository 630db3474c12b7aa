//! `encode(bytea, format)` and `decode(text, format)` as PostgreSQL 15 writes and
//! reads them. DataFusion's base64 has no padding (`aGVsbG8` for PostgreSQL's
//! `aGVsbG8=`, which other tools then fail to read back exactly) and no line breaks,
//! it read unpadded text PostgreSQL refuses, and it has no `escape` format. Formats:
//! `base64` (padded, a line break after every 76 characters; whitespace skipped when
//! read), `hex` and `escape`, named in any case; errors as PostgreSQL's (22023, and
//! 22P02 for bad escape text).

use std::sync::Arc;

use base64::Engine;
use datafusion::arrow::array::{Array, AsArray, BinaryBuilder, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::error::SqlError;

pub(crate) fn udfs() -> Vec<ScalarUDF> {
    [true, false]
        .into_iter()
        .map(|encode| {
            ScalarUDF::new_from_impl(Codec {
                encode,
                signature: Signature::user_defined(Volatility::Immutable),
            })
        })
        .collect()
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Codec {
    encode: bool,
    signature: Signature,
}

#[derive(Debug, Clone, Copy)]
enum Format {
    Base64,
    Hex,
    Escape,
}

fn format(name: &str) -> Result<Format, SqlError> {
    match name.to_ascii_lowercase().as_str() {
        "base64" => Ok(Format::Base64),
        "hex" => Ok(Format::Hex),
        "escape" => Ok(Format::Escape),
        _ => Err(invalid(format!("unrecognized encoding: \"{name}\""))),
    }
}

fn invalid(message: String) -> SqlError {
    SqlError::InvalidParameterValue(message)
}

impl ScalarUDFImpl for Codec {
    fn name(&self) -> &str {
        if self.encode { "encode" } else { "decode" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let value = match (self.encode, args.first()) {
            (true, Some(DataType::Binary | DataType::LargeBinary | DataType::BinaryView))
            | (true, Some(DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View))
            | (true, Some(DataType::Null)) => DataType::Binary,
            (false, Some(t))
                if t.is_null()
                    || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
            {
                DataType::Utf8
            }
            _ => {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                return plan_err!(
                    "function {}({}) does not exist",
                    self.name(),
                    types.join(", ")
                );
            }
        };
        match args.len() {
            2 => Ok(vec![value, DataType::Utf8]),
            _ => plan_err!("function {} takes a value and a format", self.name()),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(if self.encode {
            DataType::Utf8
        } else {
            DataType::Binary
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        let formats = arrays[1].as_string::<i32>();
        let failed = |e: SqlError| DataFusionError::External(Box::new(e));
        let out: Arc<dyn Array> = if self.encode {
            let values = arrays[0].as_binary::<i32>();
            let mut out = StringBuilder::new();
            for row in 0..values.len() {
                if values.is_null(row) || formats.is_null(row) {
                    out.append_null();
                    continue;
                }
                let format = format(formats.value(row)).map_err(failed)?;
                out.append_value(encode(values.value(row), format));
            }
            Arc::new(out.finish())
        } else {
            let values = arrays[0].as_string::<i32>();
            let mut out = BinaryBuilder::new();
            for row in 0..values.len() {
                if values.is_null(row) || formats.is_null(row) {
                    out.append_null();
                    continue;
                }
                let format = format(formats.value(row)).map_err(failed)?;
                out.append_value(decode(values.value(row), format).map_err(failed)?);
            }
            Arc::new(out.finish())
        };
        super::answer(out, scalar)
    }
}

fn encode(bytes: &[u8], format: Format) -> String {
    match format {
        Format::Base64 => {
            let text = base64::engine::general_purpose::STANDARD.encode(bytes);
            let mut out = String::with_capacity(text.len() + text.len() / 76);
            for (n, line) in text.as_bytes().chunks(76).enumerate() {
                if n > 0 {
                    out.push('\n');
                }
                out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            }
            out
        }
        Format::Hex => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Format::Escape => {
            let mut out = String::with_capacity(bytes.len());
            for &b in bytes {
                match b {
                    b'\\' => out.push_str("\\\\"),
                    0 | 0x80..=0xff => out.push_str(&format!("\\{b:03o}")),
                    _ => out.push(b as char),
                }
            }
            out
        }
    }
}

fn decode(text: &str, format: Format) -> Result<Vec<u8>, SqlError> {
    match format {
        Format::Base64 => {
            let mut symbols = Vec::with_capacity(text.len());
            for c in text.chars() {
                match c {
                    ' ' | '\t' | '\n' | '\r' => {}
                    'A'..='Z' | 'a'..='z' | '0'..='9' | '+' | '/' | '=' => symbols.push(c as u8),
                    other => {
                        return Err(invalid(format!(
                            "invalid symbol \"{other}\" found while decoding base64 sequence"
                        )));
                    }
                }
            }
            if symbols.len() % 4 != 0 {
                return Err(invalid("invalid base64 end sequence".to_owned()));
            }
            base64::engine::general_purpose::STANDARD
                .decode(&symbols)
                .map_err(|_| invalid("invalid base64 end sequence".to_owned()))
        }
        Format::Hex => super::casts::hex_in(text),
        Format::Escape => super::casts::escape_in(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_are_written_and_read_as_postgresql_does() {
        // PostgreSQL 15's answers.
        assert_eq!(encode(b"hello", Format::Base64), "aGVsbG8=");
        let long = encode(&[b'x'; 60], Format::Base64);
        assert_eq!(long.lines().map(str::len).collect::<Vec<_>>(), [76, 4]);
        assert_eq!(encode(b"a\\b\0\xff", Format::Escape), "a\\\\b\\000\\377");
        assert_eq!(
            decode("aGVs\nbG8=", Format::Base64).ok(),
            Some(b"hello".to_vec())
        );
        assert!(decode("aGVsbG8", Format::Base64).is_err());
        assert_eq!(decode("6869", Format::Hex).ok(), Some(b"hi".to_vec()));
        assert!(decode("686", Format::Hex).is_err());
        assert_eq!(
            decode("a\\\\b\\000", Format::Escape).ok(),
            Some(b"a\\b\0".to_vec())
        );
    }
}
