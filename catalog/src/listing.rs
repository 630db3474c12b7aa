//! Listing tables built by Tarn rather than DataFusion's factory, for the two things
//! the factory cannot express: reading only files with a given extension from a
//! folder (its extension comes from a single-file location only), and unnamed folder
//! levels as columns ([`crate::levels::FolderLevels`]).

use std::sync::Arc;

use arrow::datatypes::{DataType, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::not_impl_err;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::CreateExternalTable;

/// A listing table over `command`'s location reading only files with `extension`
/// (all files if `None`), or, with `levels`, a [`crate::levels::FolderLevels`]
/// over that many unnamed folder levels.
pub async fn provider(
    state: &SessionState,
    command: &CreateExternalTable,
    extension: Option<&str>,
    levels: usize,
) -> Result<Arc<dyn TableProvider>> {
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    let [location] = command.locations.as_slice() else {
        return not_impl_err!("a file extension or folder levels with several locations");
    };
    let options: std::collections::HashMap<String, String> = command
        .options
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let format = state
        .get_file_format_factory(&command.file_type)
        .ok_or_else(|| DataFusionError::NotImplemented(format!("STORED AS {}", command.file_type)))?
        .create(state, &options)?;
    let url = ListingTableUrl::parse(location)?;
    let declared = command.schema.as_arrow().clone();
    let partitions: Vec<(String, DataType)> = command
        .table_partition_cols
        .iter()
        .map(|name| {
            let data_type = declared
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Utf8);
            (name.clone(), data_type)
        })
        .collect();
    if levels > 0 && !partitions.is_empty() {
        return not_impl_err!("unnamed folder levels together with key=value partitions");
    }
    let listing = ListingOptions::new(format)
        .with_file_extension(extension.unwrap_or_default())
        .with_table_partition_cols(partitions.clone());
    let file_schema = if declared.fields().is_empty() {
        listing.infer_schema(state, &url).await?
    } else {
        Arc::new(Schema::new(
            declared
                .fields()
                .iter()
                .filter(|f| !partitions.iter().any(|(p, _)| p == f.name()))
                .cloned()
                .collect::<Vec<_>>(),
        ))
    };
    if levels > 0 {
        let root = url::Url::parse(url.as_str())
            .map_err(|e| DataFusionError::Plan(format!("location {location}: {e}")))?;
        return Ok(Arc::new(crate::levels::FolderLevels::new(
            root,
            levels,
            listing,
            file_schema,
        )));
    }
    let config = ListingTableConfig::new(url)
        .with_listing_options(listing)
        .with_schema(file_schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}
