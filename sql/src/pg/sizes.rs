//! The size functions psql's `\dt+` and `\d+`, DBeaver and pgAdmin call:
//! `pg_table_size`, `pg_relation_size` and `pg_total_relation_size` of a relation's
//! OID (a Delta table's size is its current files' bytes, as its log lists them; a
//! view's is 0, as in PostgreSQL; an unknown OID is NULL), `pg_indexes_size` (0:
//! Tarn keeps no indexes) and `pg_size_pretty`, with PostgreSQL 15's units and
//! rounding; and `pg_relation_is_publishable`, which psql's `\d` asks of a table
//! (true for a table, false for a view, NULL for an unknown OID).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::datasource::TableType;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility, create_udf,
};
use tarn_catalog::LakeCatalog;

/// The size functions, over the warehouse catalog `lake`.
pub(crate) fn udfs(lake: &LakeCatalog) -> Vec<ScalarUDF> {
    let mut udfs: Vec<ScalarUDF> = [
        ("pg_table_size", &[1][..]),
        ("pg_relation_size", &[1, 2][..]),
        ("pg_total_relation_size", &[1][..]),
        ("pg_indexes_size", &[1][..]),
        ("pg_relation_is_publishable", &[1][..]),
    ]
    .into_iter()
    .map(|(name, arities)| {
        AsyncScalarUDF::new(Arc::new(RelationSize {
            name,
            lake: lake.clone(),
            signature: Signature::one_of(
                arities.iter().map(|n| TypeSignature::Any(*n)).collect(),
                Volatility::Volatile,
            ),
        }))
        .into_scalar_udf()
    })
    .collect();
    udfs.push(create_udf(
        "pg_size_pretty",
        vec![DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args| {
            let sizes = args[0].to_array(1)?;
            let sizes = datafusion::arrow::compute::cast(&sizes, &DataType::Int64)?;
            let text: StringArray = sizes
                .as_primitive::<Int64Type>()
                .iter()
                .map(|s| s.map(size_pretty))
                .collect();
            Ok(match &args[0] {
                ColumnarValue::Scalar(_) => ColumnarValue::Scalar(
                    datafusion::scalar::ScalarValue::try_from_array(&text, 0)?,
                ),
                ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(text)),
            })
        }),
    ));
    udfs
}

/// `size` bytes as PostgreSQL 15's `pg_size_pretty(bigint)` writes them: bytes below
/// 10 kB, then kB, MB, GB, TB and PB below 20,480 of each, halves rounded away
/// from zero.
fn size_pretty(size: i64) -> String {
    // (name, limit, rounded, bits)
    const UNITS: [(&str, i64, bool, u32); 6] = [
        ("bytes", 10 * 1024, false, 0),
        ("kB", 20 * 1024 - 1, true, 10),
        ("MB", 20 * 1024 - 1, true, 20),
        ("GB", 20 * 1024 - 1, true, 30),
        ("TB", 20 * 1024 - 1, true, 40),
        ("PB", 20 * 1024 - 1, true, 50),
    ];
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    let mut size = size;
    for (i, (name, limit, rounded, bits)) in UNITS.iter().enumerate() {
        let last = i + 1 == UNITS.len();
        if last || size.unsigned_abs() < *limit as u64 {
            if *rounded {
                size = half_rounded(size);
            }
            return format!("{size} {name}");
        }
        let (_, _, next_rounded, next_bits) = UNITS[i + 1];
        let shift = next_bits - bits - u32::from(next_rounded) + u32::from(*rounded);
        size /= 1i64 << shift;
    }
    unreachable!("the last unit always answers")
}

const PUBLISHABLE: &str = "pg_relation_is_publishable";

#[derive(Debug)]
struct RelationSize {
    name: &'static str,
    lake: LakeCatalog,
    signature: Signature,
}

impl PartialEq for RelationSize {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for RelationSize {}

impl std::hash::Hash for RelationSize {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ScalarUDFImpl for RelationSize {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(match self.name {
            PUBLISHABLE => DataType::Boolean,
            _ => DataType::Int64,
        })
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        datafusion::common::internal_err!("{} runs asynchronously", self.name)
    }
}

#[async_trait::async_trait]
impl AsyncScalarUDFImpl for RelationSize {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let rows = args.number_rows;
        let oids: ArrayRef = args.args[0].to_array(rows)?;
        let oids = datafusion::arrow::compute::cast(&oids, &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        let relations = super::descriptions::relations(&self.lake);
        if self.name == PUBLISHABLE {
            let mut publishable = Vec::with_capacity(rows);
            for row in 0..rows {
                publishable.push(match (oids.is_null(row), relations.get(&oids.value(row))) {
                    (false, Some((schema, name))) => Some(
                        self.lake
                            .table_provider(schema, name)
                            .await?
                            .is_some_and(|p| p.table_type() == TableType::Base),
                    ),
                    _ => None,
                });
            }
            return Ok(ColumnarValue::Array(Arc::new(BooleanArray::from(
                publishable,
            ))));
        }
        let mut sizes = Vec::with_capacity(rows);
        for row in 0..rows {
            let relation = match oids.is_null(row) {
                true => None,
                false => relations.get(&oids.value(row)),
            };
            sizes.push(match relation {
                None => None,
                Some(_) if self.name == "pg_indexes_size" => Some(0),
                Some((schema, name)) => Some(self.bytes(schema, name).await?),
            });
        }
        Ok(ColumnarValue::Array(Arc::new(Int64Array::from(sizes))))
    }
}

impl RelationSize {
    /// The bytes of the current files of `schema.name` (0 for a view or a table Tarn
    /// does not store as Delta).
    async fn bytes(&self, schema: &str, name: &str) -> DFResult<i64> {
        let Some(provider) = self.lake.table_provider(schema, name).await? else {
            return Ok(0);
        };
        Ok(tarn_catalog::table::data_size(provider.as_ref())
            .map_or(0, |size| i64::try_from(size.bytes).unwrap_or(i64::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::size_pretty;

    /// Answers PostgreSQL 15 gave (`select pg_size_pretty(n::bigint)`).
    #[test]
    fn sizes_print_as_postgres_15() {
        for (size, expected) in [
            (0, "0 bytes"),
            (10239, "10239 bytes"),
            (10240, "10 kB"),
            (20971007, "20 MB"),
            (20971008, "20 MB"),
            (1536, "1536 bytes"),
            (123456789, "118 MB"),
            (-10240, "-10 kB"),
            (1099511627776, "1024 GB"),
            (9223372036854775807, "8192 PB"),
        ] {
            assert_eq!(size_pretty(size), expected, "{size}");
        }
    }
}
