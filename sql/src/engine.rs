//! [`Engine`]: one warehouse, opened once, shared by every session.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use datafusion::catalog::TableProvider;
use datafusion::error::{DataFusionError, Result as DFResult};
use datafusion::logical_expr::LogicalPlan;
use tarn_catalog::DefinitionPlanner;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use futures::TryStreamExt;
use tarn_catalog::LakeCatalog;
use tarn_connectors::{StorageConfig, StorageLocation};
use tracing::info;

use crate::error::{Result, SqlError};
use crate::session::{Output, Session};

/// Plans stored views and external tables for the catalog, each in a fresh session
/// whose default schema is the object's own, so unqualified names in a view resolve
/// where it lives.
#[derive(Debug)]
struct Definitions(Weak<Engine>);

fn external(e: SqlError) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl Definitions {
    /// A fresh session whose default schema is `schema`.
    fn session_in(&self, schema: &str) -> DFResult<Session> {
        let engine = self
            .0
            .upgrade()
            .ok_or_else(|| DataFusionError::Execution("the warehouse is closed".to_owned()))?;
        let session = engine.session().map_err(external)?;
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        session.set("search_path", &quoted).map_err(external)?;
        Ok(session)
    }
}

#[async_trait]
impl DefinitionPlanner for Definitions {
    async fn plan_view(&self, schema: &str, sql: &str) -> DFResult<LogicalPlan> {
        let session = self.session_in(schema)?;
        let statement = session
            .parse(sql)
            .map_err(external)?
            .into_iter()
            .next()
            .ok_or_else(|| DataFusionError::Plan(format!("view definition is empty: {sql:?}")))?;
        session.plan_statement(statement).await.map_err(external)
    }

    async fn external_table(&self, schema: &str, sql: &str) -> DFResult<Arc<dyn TableProvider>> {
        let session = self.session_in(schema)?;
        session.external_table_provider(sql).await.map_err(external)
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
    /// Where external tables may point, besides the warehouse itself: URL or path
    /// prefixes. SQL can read no other location.
    pub allowed_locations: Vec<String>,
    /// Object-store options per bucket (`[storage."s3://raw"]`). A configured bucket
    /// is an allowed location, and tables and files in it are read with its options.
    pub buckets: StorageConfig,
    /// How long a dropped managed table's files stay for queries still reading them
    /// (default [`tarn_catalog::DROPPED_FILES_KEPT`], 10 minutes; zero removes them at
    /// once).
    pub dropped_files_kept: std::time::Duration,
    /// Bytes of decoded columns of small files kept in memory for the queries that
    /// read them again (default [`SMALL_FILE_CACHE`]; zero keeps none). See
    /// [`tarn_catalog::decoded`].
    pub small_file_cache: usize,
}

/// The default of [`EngineOptions::small_file_cache`]: 128 MiB, PostgreSQL's default
/// `shared_buffers`.
pub const SMALL_FILE_CACHE: usize = 128 << 20;

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            catalog_name: "tarn".to_owned(),
            storage_options: HashMap::new(),
            datafusion_options: HashMap::new(),
            allowed_locations: Vec::new(),
            buckets: StorageConfig::default(),
            dropped_files_kept: tarn_catalog::DROPPED_FILES_KEPT,
            small_file_cache: SMALL_FILE_CACHE,
        }
    }
}

/// An open warehouse: its catalog and the resources sessions share.
#[derive(Debug)]
pub struct Engine {
    catalog: LakeCatalog,
    activity: Arc<crate::activity::Activity>,
    options: EngineOptions,
    runtime: Arc<RuntimeEnv>,
    /// Decoded columns of small files, shared by the sessions (none with a zero
    /// budget).
    decoded: Option<Arc<tarn_catalog::decoded::DecodedFiles>>,
    /// The state sessions start from, built on first use.
    initial_state: std::sync::OnceLock<datafusion::execution::session_state::SessionState>,
    /// pg_class OIDs of tables named in result descriptions, by (schema, table).
    table_oids: std::sync::Mutex<HashMap<(String, String), i32>>,
}

impl Engine {
    /// Opens the warehouse at `location` (a local path or an `s3://`, `gs://`, `az://`
    /// URL). A local folder is created if missing.
    pub async fn open(location: &str, options: EngineOptions) -> Result<Arc<Self>> {
        let root = StorageLocation::open(location, options.storage_options.clone())?;
        // No listing cache: external tables must see files added since the last query,
        // as Athena and Glue users expect. (Delta tables list their log, not files.)
        let cache = CacheManagerConfig::default().with_list_files_cache_limit(0);
        let runtime = RuntimeEnvBuilder::new()
            .with_cache_manager(cache)
            .build_arc()?;
        // Buckets other than the warehouse's: configured ones with their options, and
        // allowed remote locations without options (credentials from the environment).
        // The warehouse's store is registered last so it wins over its bucket's.
        let mut stores = options.buckets.stores()?;
        for allowed in &options.allowed_locations {
            let url = tarn_connectors::storage::parse_location(allowed)?;
            if url.scheme() != "file" && options.buckets.options_for(&url).is_empty() {
                let mut bucket = url.clone();
                bucket.set_path("/");
                stores.push(StorageLocation::open(bucket.as_str(), HashMap::new())?);
            }
        }
        for store in stores.iter().chain([&root]) {
            runtime.register_object_store(store.url(), Arc::clone(store.store()));
        }
        let catalog = LakeCatalog::open(root, options.buckets.clone()).await?;
        catalog
            .keep_dropped_files_for(options.dropped_files_kept)
            .await?;
        info!(warehouse = %catalog.root().display_url(), catalog = %options.catalog_name, "warehouse open");
        let decoded = (options.small_file_cache > 0).then(|| {
            Arc::new(tarn_catalog::decoded::DecodedFiles::new(
                options.small_file_cache,
            ))
        });
        let engine = Arc::new(Self {
            catalog,
            activity: Arc::default(),
            options,
            runtime,
            decoded,
            initial_state: std::sync::OnceLock::new(),
            table_oids: Default::default(),
        });
        engine
            .catalog
            .set_definition_planner(Arc::new(Definitions(Arc::downgrade(&engine))));
        Ok(engine)
    }

    pub fn catalog(&self) -> &LakeCatalog {
        &self.catalog
    }

    /// The remembered pg_class OID of `schema.table`, if one was looked up.
    pub(crate) fn table_oid(&self, schema: &str, table: &str) -> Option<i32> {
        self.table_oids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(schema.to_owned(), table.to_owned()))
            .copied()
    }

    pub(crate) fn remember_table_oid(&self, schema: &str, table: &str, oid: i32) {
        self.table_oids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((schema.to_owned(), table.to_owned()), oid);
    }

    /// The connections of this server (`pg_stat_activity`).
    pub fn activity(&self) -> &Arc<crate::activity::Activity> {
        &self.activity
    }

    /// The engine's cache of decoded small files, if it keeps one.
    pub fn decoded_files(&self) -> Option<Arc<tarn_catalog::decoded::DecodedFiles>> {
        self.decoded.clone()
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Checks that `location` lies under the warehouse or an allowed location, and
    /// returns it as a normalized URL.
    pub fn check_location(&self, location: &str) -> Result<url::Url> {
        let url = tarn_connectors::storage::parse_location(location)?;
        let mut roots = vec![self.catalog.url().clone()];
        roots.extend(self.options.buckets.buckets().cloned());
        for allowed in &self.options.allowed_locations {
            roots.push(tarn_connectors::storage::parse_location(allowed)?);
        }
        if roots
            .iter()
            .any(|root| url.as_str().starts_with(root.as_str()))
        {
            Ok(url)
        } else {
            Err(SqlError::LocationNotAllowed {
                location: tarn_connectors::storage::redact(&url),
            })
        }
    }

    pub fn catalog_name(&self) -> &str {
        &self.options.catalog_name
    }

    pub(crate) fn runtime(&self) -> &Arc<RuntimeEnv> {
        &self.runtime
    }

    /// A copy of the state sessions start from.
    pub(crate) fn session_state(
        &self,
    ) -> Result<datafusion::execution::session_state::SessionState> {
        if let Some(state) = self.initial_state.get() {
            return Ok(state.clone());
        }
        let state = crate::session::initial_state(self)?;
        Ok(self.initial_state.get_or_init(|| state).clone())
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
            match session.execute(statement).await? {
                Output::Rows { stream, .. } => last = stream.try_collect().await?,
                Output::Command(_) => {}
                Output::CopyIn(_) | Output::CopyOut { .. } => {
                    return Err(SqlError::not_supported(
                        "COPY FROM STDIN / TO STDOUT outside a client connection",
                    ));
                }
            }
        }
        Ok(last)
    }
}
