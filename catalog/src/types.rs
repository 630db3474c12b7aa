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

fn delta_field(field: &Field) -> Result<Field> {
    Ok(Field::new(
        field.name(),
        delta_type(field.name(), field.data_type())?,
        true,
    ))
}

/// `schema` with every column mapped to its Delta type. Columns are nullable: Tarn
/// does not enforce NOT NULL yet, so it does not record it either.
pub fn delta_schema(schema: &Schema) -> Result<SchemaRef> {
    let fields = schema
        .fields()
        .iter()
        .map(|f| delta_field(f))
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
