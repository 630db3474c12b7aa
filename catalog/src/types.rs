//! Which Arrow types a Delta table stores, and how query results are coerced to them.
//!
//! DataFusion produces types Delta has no word for (unsigned integers, string views,
//! nanosecond timestamps, ...). Rather than fail deep inside the writer, each column is
//! mapped to the nearest Delta type up front, so `CREATE TABLE ... AS SELECT` and the
//! table's declared schema agree.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::error::{CatalogError, Result};

/// The Delta-storable type for `data_type`.
pub fn delta_type(column: &str, data_type: &DataType) -> Result<DataType> {
    let unsupported = || CatalogError::UnsupportedType {
        column: column.to_owned(),
        data_type: data_type.to_string(),
    };
    Ok(match data_type {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::Float32
        | DataType::Float64
        | DataType::Date32
        | DataType::Utf8
        | DataType::Binary => data_type.clone(),
        DataType::Null | DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => {
            DataType::Binary
        }
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Float16 => DataType::Float32,
        DataType::Date64 => DataType::Date32,
        DataType::Decimal128(p, s) => DataType::Decimal128(*p, *s),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        DataType::Timestamp(_, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Timestamp(_, Some(_)) => {
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        }
        DataType::Dictionary(_, value) => delta_type(column, value)?,
        DataType::List(item) | DataType::LargeList(item) | DataType::ListView(item) => {
            DataType::List(Arc::new(delta_field(item)?))
        }
        DataType::FixedSizeList(item, _) => DataType::List(Arc::new(delta_field(item)?)),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| delta_field(f))
                .collect::<Result<Vec<_>>>()?
                .into(),
        ),
        _ => return Err(unsupported()),
    })
}

/// A nested field (a list's items, a struct's fields) as Delta stores it: nullable, as
/// SQL cannot declare it otherwise.
fn delta_field(field: &Field) -> Result<Field> {
    Ok(Field::new(
        field.name(),
        delta_type(field.name(), field.data_type())?,
        true,
    )
    .with_metadata(kept_metadata(field)))
}

/// Field metadata naming the SQL type a string column was declared with, when Delta's
/// `string` says less: Spark's key for `char(n)` / `varchar(n)` (so Spark reads Tarn's
/// tables with the same types, and Tarn reads Spark's).
pub const CHAR_VARCHAR_KEY: &str = "__CHAR_VARCHAR_TYPE_STRING";

/// Field metadata naming a PostgreSQL type Delta has no word for (`json`, `jsonb`),
/// stored as a Delta `string`.
pub const PG_TYPE_KEY: &str = "tarn.pg_type";

/// Field metadata holding a column's `DEFAULT` expression as written (`now()`,
/// `'new'`), which INSERT fills in where a row leaves the column out.
pub const DEFAULT_KEY: &str = "tarn.default";

/// The field metadata Tarn keeps on a column in Delta and in the catalog: its declared
/// type ([`declared_metadata`]) and its default ([`DEFAULT_KEY`]).
pub fn kept_metadata(field: &Field) -> std::collections::HashMap<String, String> {
    let mut kept = declared_metadata(field);
    if let Some(default) = field.metadata().get(DEFAULT_KEY) {
        kept.insert(DEFAULT_KEY.to_owned(), default.clone());
    }
    kept
}

/// The type a string column was declared with, beyond its Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeclaredType {
    /// `varchar(n)` (`character varying(n)`).
    Varchar(u32),
    /// `varchar` (`character varying`) without a length.
    Varying,
    /// `char(n)` (`character(n)`, PostgreSQL's `bpchar`).
    Char(u32),
    Json,
    Jsonb,
    /// `uuid`, kept as its canonical text (`a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11`):
    /// Delta has no uuid type, and Spark reads uuids as strings.
    Uuid,
}

impl DeclaredType {
    /// The declared type recorded on `field`, if any.
    pub fn of(field: &Field) -> Option<DeclaredType> {
        let metadata = field.metadata();
        if let Some(t) = metadata.get(PG_TYPE_KEY) {
            return match t.as_str() {
                "json" => Some(DeclaredType::Json),
                "jsonb" => Some(DeclaredType::Jsonb),
                "uuid" => Some(DeclaredType::Uuid),
                "varchar" => Some(DeclaredType::Varying),
                _ => None,
            };
        }
        let spec = metadata.get(CHAR_VARCHAR_KEY)?.to_ascii_lowercase();
        let length = |prefix: &str| -> Option<u32> {
            spec.strip_prefix(prefix)?
                .strip_prefix('(')?
                .strip_suffix(')')?
                .trim()
                .parse()
                .ok()
        };
        length("varchar")
            .map(DeclaredType::Varchar)
            .or_else(|| length("char").map(DeclaredType::Char))
    }

    /// The metadata recording this type on a field.
    pub fn metadata(self) -> std::collections::HashMap<String, String> {
        let (key, value) = match self {
            DeclaredType::Varchar(n) => (CHAR_VARCHAR_KEY, format!("varchar({n})")),
            DeclaredType::Char(n) => (CHAR_VARCHAR_KEY, format!("char({n})")),
            DeclaredType::Json => (PG_TYPE_KEY, "json".to_owned()),
            DeclaredType::Jsonb => (PG_TYPE_KEY, "jsonb".to_owned()),
            DeclaredType::Uuid => (PG_TYPE_KEY, "uuid".to_owned()),
            DeclaredType::Varying => (PG_TYPE_KEY, "varchar".to_owned()),
        };
        std::collections::HashMap::from([(key.to_owned(), value)])
    }
}

/// The declared-type entries of `field`'s metadata (other metadata is the engine's
/// and not stored).
pub fn declared_metadata(field: &Field) -> std::collections::HashMap<String, String> {
    DeclaredType::of(field)
        .filter(|_| {
            matches!(
                field.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            )
        })
        .map(DeclaredType::metadata)
        .unwrap_or_default()
}

/// `schema` with every column mapped to its Delta type. A column keeps its
/// nullability (`NOT NULL` in `CREATE TABLE`, which Delta records and Tarn enforces on
/// every write); nested fields are nullable.
pub fn delta_schema(schema: &Schema) -> Result<SchemaRef> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| Ok(delta_field(f)?.with_nullable(f.is_nullable())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// `schema` as [`delta_schema`] maps it, every column nullable and without a default:
/// the columns of a `CREATE TABLE ... AS`, which PostgreSQL makes nullable and without
/// defaults whatever the query's own columns are (declared types stay).
pub fn nullable_delta_schema(schema: &Schema) -> Result<SchemaRef> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| Ok(delta_field(f)?.with_metadata(declared_metadata(f))))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_and_unsigned_map_to_delta_types() {
        assert_eq!(
            delta_type("c", &DataType::Utf8View).expect("ok"),
            DataType::Utf8
        );
        assert_eq!(
            delta_type("c", &DataType::UInt32).expect("ok"),
            DataType::Int64
        );
        assert_eq!(
            delta_type(
                "c",
                &DataType::Timestamp(TimeUnit::Nanosecond, Some("+02:00".into()))
            )
            .expect("ok"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
        );
    }

    #[test]
    fn unsupported_type_names_the_column() {
        let err = delta_type("dur", &DataType::Duration(TimeUnit::Second)).expect_err("no");
        assert!(err.to_string().contains("\"dur\""), "{err}");
    }
}
