//! What a file is: its format and compression, each with a certainty, from its name
//! and its first bytes. The surest reading wins; a file nothing recognizes is
//! reported with the reason, never fatal to a crawl.

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::infer::{self, Column, CsvDialect};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Zstd,
}

impl Compression {
    /// From magic bytes first, else from the file name's extension.
    pub fn detect(name: &str, head: &[u8]) -> Compression {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [b'B', b'Z', b'h', ..] => Compression::Bzip2,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => {
                let lower = name.to_ascii_lowercase();
                if lower.ends_with(".gz") || lower.ends_with(".gzip") {
                    Compression::Gzip
                } else if lower.ends_with(".bz2") {
                    Compression::Bzip2
                } else if lower.ends_with(".zst") || lower.ends_with(".zstd") {
                    Compression::Zstd
                } else {
                    Compression::None
                }
            }
        }
    }

    /// DataFusion's name for it (`format.compression`).
    pub fn sql(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Bzip2 => Some("bzip2"),
            Compression::Zstd => Some("zstd"),
        }
    }

    /// Decompresses as much of `head` (the start of a file) as it holds, up to
    /// `limit` bytes. A truncated stream yields what was decoded before the cut.
    pub fn decode_head(self, head: &[u8], limit: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let reader: Box<dyn Read + '_> = match self {
            Compression::None => return head[..head.len().min(limit)].to_vec(),
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(head)),
            Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(head)),
            Compression::Zstd => match zstd::stream::read::Decoder::new(head) {
                Ok(d) => Box::new(d),
                Err(_) => return out,
            },
        };
        let mut reader = reader.take(limit as u64);
        let mut buf = [0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
        out
    }
}

/// A file's format, as the crawler reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum FileFormat {
    Parquet,
    Avro,
    Csv {
        #[serde(flatten)]
        dialect: CsvDialect,
    },
    Json {
        /// One object per line (`true`) or one array of objects.
        lines: bool,
    },
}

impl FileFormat {
    /// The `STORED AS` name.
    pub fn stored_as(&self) -> &'static str {
        match self {
            FileFormat::Parquet => "PARQUET",
            FileFormat::Avro => "AVRO",
            FileFormat::Csv { .. } => "CSV",
            FileFormat::Json { .. } => "JSON",
        }
    }

    /// A short name for messages and table-name suffixes.
    pub fn family(&self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Avro => "avro",
            FileFormat::Csv { .. } => "csv",
            FileFormat::Json { .. } => "json",
        }
    }
}

/// What sampling a file found.
#[derive(Debug, Clone)]
pub enum Classified {
    File {
        format: FileFormat,
        compression: Compression,
        columns: Vec<Column>,
        certainty: f32,
    },
    /// Parquet's schema is in its footer, which the caller reads.
    ParquetNeedsFooter,
    Unknown {
        reason: String,
    },
}

/// Classifies a file from its name and the first bytes of its content (`head`, at
/// most the sample size, possibly cut mid-line), sampling up to `max_rows` rows.
pub fn classify(name: &str, head: &[u8], sample_bytes: usize, max_rows: usize) -> Classified {
    if head.is_empty() {
        return Classified::Unknown {
            reason: "empty file".to_owned(),
        };
    }
    let compression = Compression::detect(name, head);
    let data = compression.decode_head(head, sample_bytes);
    if data.is_empty() {
        return Classified::Unknown {
            reason: format!("{compression:?} data that does not decompress").to_lowercase(),
        };
    }
    if data.starts_with(b"PAR1") && compression == Compression::None {
        return Classified::ParquetNeedsFooter;
    }
    if data.starts_with(b"Obj\x01") && compression == Compression::None {
        return match avro_columns(&data) {
            Some(columns) => Classified::File {
                format: FileFormat::Avro,
                compression,
                columns,
                certainty: 1.0,
            },
            None => Classified::Unknown {
                reason: "Avro header without a readable schema".to_owned(),
            },
        };
    }
    let cut = head.len() >= sample_bytes
        || compression != Compression::None && data.len() >= sample_bytes;
    let text = match std::str::from_utf8(&data) {
        Ok(t) => t,
        // A sample cut inside a multi-byte character.
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or("")
        }
        Err(_) => {
            return Classified::Unknown {
                reason: "binary content in no known format".to_owned(),
            };
        }
    };
    if text.contains('\0') {
        return Classified::Unknown {
            reason: "binary content in no known format".to_owned(),
        };
    }
    // Only complete lines: the sample may end mid-row.
    let text = match (cut, text.rfind('\n')) {
        (true, Some(end)) => &text[..=end],
        _ => text,
    };
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') {
        let values: Vec<serde_json::Value> = trimmed
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(max_rows)
            .map_while(|l| serde_json::from_str(l).ok())
            .collect();
        if !values.is_empty() && values.iter().all(serde_json::Value::is_object) {
            return Classified::File {
                format: FileFormat::Json { lines: true },
                compression,
                columns: infer::infer_json(&values),
                certainty: 0.95,
            };
        }
    }
    if trimmed.starts_with('[') {
        let values = json_array_prefix(trimmed, max_rows);
        if !values.is_empty() {
            return Classified::File {
                format: FileFormat::Json { lines: false },
                compression,
                columns: infer::infer_json(&values),
                certainty: 0.9,
            };
        }
    }
    match infer::infer_csv(text, max_rows) {
        Some(csv) => Classified::File {
            format: FileFormat::Csv {
                dialect: csv.dialect,
            },
            compression,
            columns: csv.columns,
            certainty: csv.certainty,
        },
        None => Classified::Unknown {
            reason: "text that is neither JSON nor delimited".to_owned(),
        },
    }
}

/// The objects at the start of a JSON array, as far as the sample goes.
fn json_array_prefix(text: &str, max: usize) -> Vec<serde_json::Value> {
    let body = text.trim_start().trim_start_matches('[');
    let mut values = Vec::new();
    let mut rest = body;
    while values.len() < max {
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        if rest.is_empty() || rest.starts_with(']') {
            break;
        }
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(value)) if value.is_object() => {
                values.push(value);
                rest = &rest[stream.byte_offset()..];
            }
            _ => break,
        }
    }
    values
}

/// The columns of an Avro object container file, from the schema in its header.
fn avro_columns(data: &[u8]) -> Option<Vec<Column>> {
    let mut pos = 4;
    loop {
        let count = read_long(data, &mut pos)?;
        if count == 0 {
            return None;
        }
        let count = if count < 0 {
            read_long(data, &mut pos)?;
            -count
        } else {
            count
        };
        for _ in 0..count {
            let key = read_bytes(data, &mut pos)?;
            let value = read_bytes(data, &mut pos)?;
            if key == b"avro.schema" {
                let schema: serde_json::Value = serde_json::from_slice(value).ok()?;
                return Some(avro_fields(&schema));
            }
        }
    }
}

fn avro_fields(schema: &serde_json::Value) -> Vec<Column> {
    let mut seen = std::collections::HashSet::new();
    schema["fields"]
        .as_array()
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    let raw = f["name"].as_str().unwrap_or("col");
                    let (type_name, nullable) = avro_type(&f["type"]);
                    Column {
                        name: super::names::unique(
                            super::names::clean(raw).unwrap_or_else(|| "col".to_owned()),
                            &mut seen,
                        ),
                        source_name: Some(raw.to_owned()),
                        data_type: match type_name.as_str() {
                            "long" | "int" => infer::ColumnType::Bigint,
                            "double" | "float" => infer::ColumnType::Double,
                            "boolean" => infer::ColumnType::Boolean,
                            "string" => infer::ColumnType::String,
                            other => infer::ColumnType::Native {
                                name: other.to_owned(),
                            },
                        },
                        nullable,
                        format: None,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

fn avro_type(t: &serde_json::Value) -> (String, bool) {
    match t {
        serde_json::Value::String(s) => (s.clone(), false),
        serde_json::Value::Array(union) => {
            let nullable = union.iter().any(|v| v == "null");
            let other = union
                .iter()
                .find(|v| *v != "null")
                .map_or_else(|| ("null".to_owned(), true), |v| avro_type(v));
            (other.0, nullable)
        }
        serde_json::Value::Object(o) => (
            o.get("logicalType")
                .or_else(|| o.get("type"))
                .and_then(|v| v.as_str())
                .unwrap_or("record")
                .to_owned(),
            false,
        ),
        _ => ("unknown".to_owned(), true),
    }
}

fn read_long(data: &[u8], pos: &mut usize) -> Option<i64> {
    let mut value: u64 = 0;
    let mut shift = 0;
    loop {
        let byte = *data.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
    Some((value >> 1) as i64 ^ -((value & 1) as i64))
}

fn read_bytes<'a>(data: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(read_long(data, pos)?).ok()?;
    let bytes = data.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_csv_is_read_through_its_compression() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(b"order_id,amount\n1,9.99\n2,19.50\n")
            .expect("gzip");
        let bytes = encoder.finish().expect("gzip");
        match classify("orders.csv.gz", &bytes, 1 << 20, 1000) {
            Classified::File {
                format: FileFormat::Csv { dialect },
                compression,
                columns,
                ..
            } => {
                assert_eq!(compression, Compression::Gzip);
                assert!(dialect.header);
                assert_eq!(columns[1].name, "amount");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_lines_arrays_junk_and_parquet() {
        assert!(matches!(
            classify("a.json", b"{\"a\": 1}\n{\"a\": 2}\n", 1 << 20, 1000),
            Classified::File {
                format: FileFormat::Json { lines: true },
                ..
            }
        ));
        assert!(matches!(
            classify("a.json", b"[{\"a\": 1}, {\"a\": 2}]", 1 << 20, 1000),
            Classified::File {
                format: FileFormat::Json { lines: false },
                ..
            }
        ));
        assert!(matches!(
            classify("junk.bin", &[0u8, 159, 146, 150, 0, 1, 2], 1 << 20, 1000),
            Classified::Unknown { .. }
        ));
        assert!(matches!(
            classify("x.parquet", b"PAR1\x15\x04", 1 << 20, 1000),
            Classified::ParquetNeedsFooter
        ));
    }

    #[test]
    fn a_sample_cut_mid_row_uses_complete_lines_only() {
        let text = b"id,name\n1,ann\n2,bo\n3,cl";
        match classify("a.csv", text, text.len(), 1000) {
            Classified::File { columns, .. } => assert_eq!(columns[0].data_type.sql(), "BIGINT"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn avro_header_schema() {
        // magic, a map of one entry (avro.schema), then the end of the map.
        let schema = br#"{"type":"record","name":"t","fields":[{"name":"Id","type":"long"},{"name":"name","type":["null","string"]}]}"#;
        fn long(out: &mut Vec<u8>, n: usize) {
            let mut v = (n as u64) << 1;
            while v >= 0x80 {
                out.push((v as u8 & 0x7f) | 0x80);
                v >>= 7;
            }
            out.push(v as u8);
        }
        let mut bytes = b"Obj\x01".to_vec();
        long(&mut bytes, 1);
        long(&mut bytes, 11);
        bytes.extend_from_slice(b"avro.schema");
        long(&mut bytes, schema.len());
        bytes.extend_from_slice(schema);
        bytes.push(0);
        match classify("t.avro", &bytes, 1 << 20, 1000) {
            Classified::File {
                format: FileFormat::Avro,
                columns,
                ..
            } => {
                assert_eq!(columns[0].name, "id");
                assert_eq!(columns[1].data_type.sql(), "VARCHAR");
                assert!(columns[1].nullable);
            }
            other => panic!("{other:?}"),
        }
    }
}
