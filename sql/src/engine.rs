//! [`Engine`]: one warehouse, opened once, shared by every session.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::TryStreamExt;
use tarn_catalog::LakeCatalog;
use tarn_connectors::StorageLocation;
use tracing::info;

use crate::error::Result;
use crate::session::{Output, Session};

/// How to open a warehouse.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The name clients use for the warehouse: the database in a connection string and
    /// the first part of `catalog.schema.table`.
    pub catalog_name: String,
    /// Object-store options for the warehouse location (endpoint, region, keys ...).
    pub storage_options: HashMap<String, String>,
    /// DataFusion settings (`datafusion.execution.batch_size` ...), passed through.
    pub datafusion_options: HashMap<String, String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            catalog_name: "tarn".to_owned(),
            storage_options: HashMap::new(),
            datafusion_options: HashMap::new(),
        }
    }
}

/// An open warehouse: its catalog and the resources sessions share.
#[derive(Debug)]
pub struct Engine {
    catalog: LakeCatalog,
    options: EngineOptions,
    runtime: Arc<RuntimeEnv>,
}

impl Engine {
    /// Opens the warehouse at `location` (a local path or an `s3://`, `gs://`, `az://`
    /// URL). A local folder is created if missing.
    pub async fn open(location: &str, options: EngineOptions) -> Result<Arc<Self>> {
        let root = StorageLocation::open(location, options.storage_options.clone())?;
        let runtime = RuntimeEnvBuilder::new().build_arc()?;
        runtime.register_object_store(root.url(), Arc::clone(root.store()));
        let catalog = LakeCatalog::open(root).await?;
        info!(warehouse = %catalog.root().display_url(), catalog = %options.catalog_name, "warehouse open");
        Ok(Arc::new(Self {
            catalog,
            options,
            runtime,
        }))
    }

    pub fn catalog(&self) -> &LakeCatalog {
        &self.catalog
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    pub fn catalog_name(&self) -> &str {
        &self.options.catalog_name
    }

    pub(crate) fn runtime(&self) -> &Arc<RuntimeEnv> {
        &self.runtime
    }

    /// A new session with default settings.
    pub fn session(self: &Arc<Self>) -> Result<Session> {
        Session::new(Arc::clone(self))
    }

    /// Runs `sql` (one or more statements) in a fresh session and collects the rows of
    /// the last statement that returns rows. For scripts and embedding with small
    /// results; use [`Session::execute`] to stream.
    pub async fn sql(self: &Arc<Self>, sql: &str) -> Result<Vec<RecordBatch>> {
        let session = self.session()?;
        let mut last = Vec::new();
        for statement in session.parse(sql)? {
            if let Output::Rows { stream, .. } = session.execute(statement).await? {
                last = stream.try_collect().await?;
            }
        }
        Ok(last)
    }
}
