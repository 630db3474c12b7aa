//! The lifecycle of managed Delta tables: create (empty or from a query), open, drop.
//!
//! Every change is a single Delta commit: `CREATE TABLE ... AS SELECT` streams the
//! query into Parquet files and commits them together with the table's metadata, so a
//! failure part-way leaves no table, only unreferenced files.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::{Session, TableProvider};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder, cast, col};
use deltalake::DeltaTable;
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::protocol::SaveMode;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStore;
use tracing::instrument;
use url::Url;

use crate::error::{CatalogError, Result};
use crate::types::delta_schema;

fn delta_err(location: &Url) -> impl FnOnce(deltalake::DeltaTableError) -> CatalogError + '_ {
    move |source| CatalogError::Delta {
        location: tarn_connectors::storage::redact(location),
        source,
    }
}

/// Opens the Delta table at `location`, at its latest version.
pub async fn open(location: &Url, options: &HashMap<String, String>) -> Result<DeltaTable> {
    deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .load()
        .await
        .map_err(delta_err(location))
}

/// A DataFusion provider for `table`'s current snapshot; it also accepts INSERTs,
/// each committed as one Delta version.
pub async fn provider(table: &DeltaTable) -> Result<Arc<dyn TableProvider>> {
    Ok(table.table_provider().await?)
}

/// Creates an empty Delta table with `schema` at `location`.
#[instrument(skip_all, fields(location = %location))]
pub async fn create_empty(
    location: &Url,
    options: &HashMap<String, String>,
    schema: &arrow::datatypes::Schema,
    name: &str,
) -> Result<DeltaTable> {
    let kernel = kernel_schema(location, schema)?;
    let table = deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .build()
        .map_err(delta_err(location))?;
    table
        .create()
        .with_table_name(name)
        .with_columns(kernel.fields().cloned())
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(delta_err(location))
}

/// `schema` as a Delta (kernel) schema, each column mapped to its Delta type.
pub fn kernel_schema(location: &Url, schema: &arrow::datatypes::Schema) -> Result<StructType> {
    let schema = delta_schema(schema)?;
    schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| delta_err(location)(e.into()))
}

/// Creates a Delta table at `location` holding the rows of `plan`, in one commit.
/// Columns are cast to the types Delta stores (see [`crate::types`]).
#[instrument(skip_all, fields(location = %location))]
pub async fn create_as(
    location: &Url,
    options: &HashMap<String, String>,
    plan: LogicalPlan,
    session: Arc<dyn Session>,
    name: &str,
) -> Result<DeltaTable> {
    let plan = coerce_to_delta(plan)?;
    let table = deltalake::DeltaTableBuilder::from_url(location.clone())
        .map_err(delta_err(location))?
        .with_storage_options(options.clone())
        .build()
        .map_err(delta_err(location))?;
    table
        .write(Vec::new())
        .with_input_plan(plan)
        .with_session_state(session)
        .with_table_name(name)
        .with_save_mode(SaveMode::ErrorIfExists)
        .await
        .map_err(delta_err(location))
}

/// Adds a projection casting each column to its Delta type, where they differ.
fn coerce_to_delta(plan: LogicalPlan) -> Result<LogicalPlan> {
    let target = delta_schema(plan.schema().as_arrow())?;
    let source = plan.schema().clone();
    if source.as_arrow().fields() == target.fields() {
        return Ok(plan);
    }
    let exprs = source
        .columns()
        .into_iter()
        .zip(target.fields())
        .map(|(column, field)| {
            let expr = col(column);
            if field.data_type()
                == source
                    .field_with_unqualified_name(field.name())?
                    .data_type()
            {
                Ok(expr.alias(field.name()))
            } else {
                Ok(cast(expr, field.data_type().clone()).alias(field.name()))
            }
        })
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build()?)
}

/// Deletes every object under `prefix` (a dropped table's folder).
#[instrument(skip_all, fields(prefix = %prefix))]
pub async fn delete_files(
    store: &Arc<dyn ObjectStore>,
    prefix: &object_store::path::Path,
) -> Result<()> {
    let locations = store
        .list(Some(prefix))
        .map_ok(|meta| meta.location)
        .boxed();
    store
        .delete_stream(locations)
        .try_collect::<Vec<_>>()
        .await?;
    Ok(())
}
