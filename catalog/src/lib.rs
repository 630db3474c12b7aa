//! tarn-catalog: the warehouse's catalog, kept in the lake itself.
//!
//! Owns the metastore (schemas and table entries stored as small JSON objects under
//! `_tarn/catalog/` in the warehouse, written with conditional puts), the lifecycle of
//! managed Delta tables (create, write, drop), and the DataFusion `CatalogProvider` /
//! `SchemaProvider` that expose them to queries. It is the only crate that knows
//! deltalake's table API. It imports `tarn-connectors` for storage and must not import
//! `tarn-sql` or `tarn-server`.

pub mod decoded;
pub mod error;
pub mod lake;
pub mod levels;
pub mod listing;
pub mod merge;
pub mod metastore;
pub mod parsed;
mod plain;
pub mod table;
pub mod types;
pub mod undo;

pub use error::{CatalogError, DeltaFailure, Result, delta_failure_in};
pub use lake::{DROPPED_FILES_KEPT, DefinitionPlanner, Lake, LakeCatalog, LakeSchema};
pub use merge::{Merge, MergeAction, MergeClause, MergeCounts, MergeWhen};
pub use metastore::{MATERIALIZED_VIEW_KEY, Metastore, TableEntry, TableKind};
pub use undo::{TableWrite, Undone, Written};

/// The query planner sessions must use: DataFusion's, plus the physical nodes Delta
/// writes plan into (without it, `CREATE TABLE ... AS` cannot be planned).
pub fn query_planner()
-> std::sync::Arc<dyn datafusion::execution::context::QueryPlanner + Send + Sync> {
    deltalake::delta_datafusion::planner::DeltaPlanner::new()
}

/// The physical planning of the nodes Delta writes plan into, for a query planner
/// that has nodes of its own to plan beside them (`tarn-sql`'s).
pub fn extension_planner()
-> std::sync::Arc<dyn datafusion::physical_planner::ExtensionPlanner + Send + Sync> {
    deltalake::delta_datafusion::planner::DeltaExtensionPlanner::new()
}
