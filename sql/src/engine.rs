//! [`Engine`]: one warehouse, opened once, shared by every session.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::LogicalPlan;
use tarn_catalog::ViewPlanner;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::TryStreamExt;
use tarn_catalog::LakeCatalog;
use tarn_connectors::StorageLocation;
use tracing::info;

use crate::error::{Result, SqlError};
use crate::session::{Output, Session};

/// Plans stored views for the catalog, each in a fresh session whose default schema is
/// the view's own, so unqualified names in a view mean what they meant at creation.
#[derive(Debug)]
struct Views(Weak<Engine>);

#[async_trait]
impl ViewPlanner for Views {
    async fn plan_view(&self, schema: &str, sql: &str) -> DFResult<LogicalPlan> {
        let external = |e: SqlError| DataFusionError::External(Box::new(e));
        let engine = self
            .0
            .upgrade()
            .ok_or_else(|| DataFusionError::Execution("the warehouse is closed".to_owned()))?;
        let session = engine.session().map_err(external)?;
        session
            .set(
                "search_path",
                &format!("\"{}\"", schema.replace('"', "\"\"")),
            )
            .map_err(external)?;
        let statement = session
            .parse(sql)
            .map_err(external)?
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Plan(format!("view definition is empty: {sql:?}")))?;
        session.plan_statement(statement).await.map_err(external)
    }
}

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
        let engine = Arc::new(Self {
            catalog,
            options,
            runtime,
        });
        engine
            .catalog
            .set_view_planner(Arc::new(Views(Arc::downgrade(&engine))));
        Ok(engine)
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
