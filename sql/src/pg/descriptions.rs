//! `obj_description(oid [, 'pg_class' | 'pg_namespace'])` and `col_description(oid,
//! attnum)`: the comments `COMMENT ON TABLE | VIEW | COLUMN | SCHEMA` keep in a
//! relation's (or schema's) catalog entry,
//! as psql's `\dt+` and `\d+`, SQLAlchemy's inspector and DBeaver read them.
//!
//! A relation's OID is the hash of its schema and name (as pg_class lists it), so the
//! functions find the relation by its name; a column's number is its position among
//! the columns pg_attribute lists (from the same catalog listing). Entries are read
//! through the metastore's cache, so they are async functions (DataFusion runs them
//! in a projection or filter of their own). Anything else (other catalogs, unknown
//! OIDs, an object with no comment) is NULL, as in PostgreSQL.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::catalog::CatalogProvider;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use tarn_catalog::LakeCatalog;

/// Which description a [`Description`] function reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Of {
    /// `obj_description(oid [, catalog])`: a relation's.
    Relation,
    /// `col_description(oid, attnum)`: a column's.
    Column,
}

/// The two functions, over the warehouse catalog `lake`.
pub(crate) fn udfs(lake: &LakeCatalog) -> Vec<ScalarUDF> {
    [Of::Relation, Of::Column]
        .into_iter()
        .map(|of| {
            let arities: &[usize] = match of {
                Of::Relation => &[1, 2],
                Of::Column => &[2],
            };
            AsyncScalarUDF::new(Arc::new(Description {
                of,
                lake: lake.clone(),
                signature: Signature::one_of(
                    arities.iter().map(|n| TypeSignature::Any(*n)).collect(),
                    Volatility::Stable,
                ),
            }))
            .into_scalar_udf()
        })
        .collect()
}

#[derive(Debug)]
struct Description {
    of: Of,
    lake: LakeCatalog,
    signature: Signature,
}

impl PartialEq for Description {
    fn eq(&self, other: &Self) -> bool {
        self.of == other.of
    }
}

impl Eq for Description {}

impl std::hash::Hash for Description {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.of.hash(state);
    }
}

impl ScalarUDFImpl for Description {
    fn name(&self) -> &str {
        match self.of {
            Of::Relation => "obj_description",
            Of::Column => "col_description",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> DFResult<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        datafusion::common::internal_err!("{} runs asynchronously", self.name())
    }
}

#[async_trait::async_trait]
impl AsyncScalarUDFImpl for Description {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> DFResult<ColumnarValue> {
        let rows = args.number_rows;
        let columns: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(rows))
            .collect::<DFResult<_>>()?;
        let oids = datafusion::arrow::compute::cast(&columns[0], &DataType::Int64)?;
        let oids = oids.as_primitive::<Int64Type>();
        // The second argument: the catalog name (`'pg_class'`) or the column number.
        let second = match (self.of, columns.get(1)) {
            (Of::Relation, Some(c)) => Some(datafusion::arrow::compute::cast(c, &DataType::Utf8)?),
            (Of::Column, Some(c)) => Some(datafusion::arrow::compute::cast(c, &DataType::Int64)?),
            (_, None) => None,
        };
        let relations = relations(&self.lake);
        let namespaces: HashMap<i64, String> = self
            .lake
            .schema_names()
            .into_iter()
            .map(|s| (i64::from(super::catalog::namespace_oid(&s)), s))
            .collect();
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            // `obj_description(oid, 'pg_namespace')`: a schema's (COMMENT ON SCHEMA).
            if let (Of::Relation, Some(catalog)) = (self.of, &second) {
                let catalog = catalog.as_string::<i32>();
                if !catalog.is_null(row) && catalog.value(row) == "pg_namespace" {
                    let schema = match oids.is_null(row) {
                        true => None,
                        false => namespaces.get(&oids.value(row)),
                    };
                    out.push(match schema {
                        Some(schema) => self
                            .lake
                            .metastore()
                            .schema_comment(schema)
                            .await
                            .map_err(|e| {
                                datafusion::error::DataFusionError::External(Box::new(e))
                            })?,
                        None => None,
                    });
                    continue;
                }
            }
            let target = match oids.is_null(row) {
                true => None,
                false => relations.get(&oids.value(row)),
            };
            let Some((schema, name)) = target else {
                out.push(None);
                continue;
            };
            let text = match (self.of, &second) {
                (Of::Relation, Some(catalog)) => {
                    let catalog = catalog.as_string::<i32>();
                    match !catalog.is_null(row) && catalog.value(row) == "pg_class" {
                        true => self.relation_comment(schema, name).await?,
                        false => None,
                    }
                }
                (Of::Relation, None) => self.relation_comment(schema, name).await?,
                (Of::Column, Some(number)) => {
                    let number = number.as_primitive::<Int64Type>();
                    match number.is_null(row) {
                        true => None,
                        false => self.column_comment(schema, name, number.value(row)).await?,
                    }
                }
                (Of::Column, None) => None,
            };
            out.push(text);
        }
        Ok(ColumnarValue::Array(Arc::new(StringArray::from(out))))
    }
}

/// The warehouse's relations by OID (as pg_class lists them).
pub(super) fn relations(lake: &LakeCatalog) -> HashMap<i64, (String, String)> {
    let mut relations = HashMap::new();
    for schema in lake.schema_names() {
        let Some(provider) = lake.schema(&schema) else {
            continue;
        };
        for table in provider.table_names() {
            let oid = i64::from(super::catalog::relation_oid(&schema, &table));
            relations.insert(oid, (schema.clone(), table));
        }
    }
    relations
}

impl Description {
    async fn relation_comment(&self, schema: &str, name: &str) -> DFResult<Option<String>> {
        let entry = self.lake.metastore().shared_table(schema, name).await?;
        Ok(entry.and_then(|e| e.comment.clone()))
    }

    /// The comment on column number `number` (1-based, as pg_attribute numbers it).
    async fn column_comment(
        &self,
        schema: &str,
        name: &str,
        number: i64,
    ) -> DFResult<Option<String>> {
        let Some(entry) = self.lake.metastore().shared_table(schema, name).await? else {
            return Ok(None);
        };
        if entry.column_comments.is_empty() || number < 1 {
            return Ok(None);
        }
        let Some(relation) = self.lake.metadata().schema(schema) else {
            return Ok(None);
        };
        let Some(table) = relation.table(name).await? else {
            return Ok(None);
        };
        let columns = table.schema();
        let Some(field) = columns.fields().get(number as usize - 1) else {
            return Ok(None);
        };
        Ok(entry.column_comments.get(field.name()).cloned())
    }
}
