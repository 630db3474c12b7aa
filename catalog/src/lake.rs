//! [`LakeCatalog`]: the metastore and managed Delta tables as a DataFusion catalog.
//!
//! DataFusion asks for schema and table *names* synchronously, so names come from an
//! in-memory listing that [`Lake::refresh`] renews (the SQL layer refreshes before each
//! statement): one read of the catalog's stamp, and one object-store listing only when
//! the stamp changed (or the listing is [`RELIST_AFTER`] old). Table *contents* are resolved
//! asynchronously in [`LakeSchema::table`]: the entry is read, and the table's Delta log
//! is brought up to date from a per-table cache, so listing many tables never opens
//! their logs and querying one reads only the log versions it has not seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use datafusion::catalog::{
    CatalogProvider, SchemaProvider, Session, TableProvider, view::ViewTable,
};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::{Expr, LogicalPlan};
use deltalake::DeltaTable;
use tarn_connectors::{StorageConfig, StorageLocation};
use tracing::{instrument, warn};
use url::Url;

use crate::error::{CatalogError, Result};
use crate::metastore::{
    ColumnEntry, DEFAULT_SCHEMA, Listing, MATERIALIZED_VIEW_KEY, Metastore, TableEntry, TableKind,
    now,
};
use crate::table;

/// The warehouse catalog. One per warehouse, shared by every session; cloning is cheap.
#[derive(Debug, Clone)]
pub struct LakeCatalog(Arc<Lake>);

impl std::ops::Deref for LakeCatalog {
    type Target = Lake;

    fn deref(&self) -> &Lake {
        &self.0
    }
}

/// The catalog's state and operations (reached through [`LakeCatalog`]).
#[derive(Debug)]
pub struct Lake {
    metastore: Metastore,
    /// Options of configured buckets, for Delta tables outside the warehouse.
    buckets: StorageConfig,
    listing: RwLock<Listing>,
    /// The catalog stamp read before `listing` was made, and when.
    listed: Mutex<Listed>,
    /// Held while listing, so listings and their stamps are stored in order.
    relisting: tokio::sync::Mutex<()>,
    /// Delta tables by location, kept so a query replays only new log versions.
    tables: Mutex<HashMap<String, Known>>,
    /// Per location, held while a cached table reads its newer commits, so that the
    /// queries that find it behind at once wait for one reading instead of each
    /// replaying the log (as 100 connections did after every commit).
    catching_up: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// How many times a cached table read newer commits.
    catch_ups: std::sync::atomic::AtomicU64,
    /// Per location, the lock data changes take (see [`crate::undo`]).
    pub(crate) writing: Mutex<HashMap<String, Arc<tokio::sync::RwLock<()>>>>,
    /// Plans views' SQL; set by the SQL layer, which owns planning.
    definition_planner: std::sync::OnceLock<Arc<dyn DefinitionPlanner>>,
    /// How long a dropped managed table's files outlive its entry.
    dropped_files_kept: RwLock<Duration>,
    /// DataFusion settings Delta scans follow (see [`table::provider`]).
    scan_settings: RwLock<Arc<datafusion::execution::SessionState>>,
}

/// How long the files of a dropped (or replaced) managed table are kept by default:
/// a query that resolved the table before the drop reads them to its end, as readers
/// of the old `x` do while dbt swaps in a new one.
pub const DROPPED_FILES_KEPT: Duration = Duration::from_secs(600);

/// How old the listing of names may get while the catalog's stamp stays the same.
/// Every change Tarn makes renews the stamp, so this only bounds how long a change
/// made otherwise goes unseen: an entry edited by hand, or one whose stamp could not
/// be written.
pub const RELIST_AFTER: Duration = Duration::from_secs(10);

/// A Delta table as last read, and the provider made for its snapshot.
#[derive(Debug)]
struct Known {
    delta: DeltaTable,
    /// A local table's next commit file (see [`table::next_commit_file`]).
    next_commit: Option<std::path::PathBuf>,
    /// Made once per version (and scan settings) and shared by the queries that read
    /// it: a provider's making reads the snapshot's files and statistics, a quarter of
    /// the planning of a short query when made for each.
    provider: Option<(
        Arc<datafusion::execution::SessionState>,
        Arc<dyn TableProvider>,
    )>,
}

/// What [`Lake::listing`] was made under.
#[derive(Debug)]
struct Listed {
    stamp: Option<Vec<u8>>,
    /// [`Metastore::changes`] before the listing.
    changes: u64,
    at: std::time::Instant,
}

/// Turns stored SQL definitions into something DataFusion can scan. The catalog stores
/// views and external tables as SQL but cannot plan SQL (that is the SQL layer's job),
/// so the SQL layer registers one of these.
#[async_trait]
pub trait DefinitionPlanner: Send + Sync + std::fmt::Debug {
    /// Plans a view's query with `schema` as the default schema (where the view lives).
    async fn plan_view(&self, schema: &str, sql: &str) -> DFResult<LogicalPlan>;

    /// A provider for an external table from its `CREATE EXTERNAL TABLE` statement.
    /// Implementations check the location is still allowed.
    async fn external_table(&self, schema: &str, sql: &str) -> DFResult<Arc<dyn TableProvider>>;
}

impl LakeCatalog {
    /// Opens the catalog of the warehouse at `root`, listing its schemas and tables.
    /// External Delta tables in `buckets` are opened with their bucket's options.
    pub async fn open(root: StorageLocation, buckets: StorageConfig) -> Result<Self> {
        let metastore = Metastore::new(root);
        let at = std::time::Instant::now();
        let changes = metastore.changes();
        let stamp = metastore.stamp().await?;
        let listing = metastore.list().await?;
        Ok(Self(Arc::new(Lake {
            metastore,
            buckets,
            listing: RwLock::new(listing),
            listed: Mutex::new(Listed { stamp, changes, at }),
            relisting: tokio::sync::Mutex::new(()),
            catching_up: Default::default(),
            catch_ups: Default::default(),
            writing: Default::default(),
            tables: Mutex::new(HashMap::new()),
            definition_planner: std::sync::OnceLock::new(),
            dropped_files_kept: RwLock::new(DROPPED_FILES_KEPT),
            scan_settings: RwLock::new(Arc::new(
                datafusion::execution::SessionStateBuilder::new().build(),
            )),
        })))
    }

    /// Sets how long dropped tables' files are kept, and schedules the removal of
    /// files that earlier runs retired (a server that stopped before their time).
    pub async fn keep_dropped_files_for(&self, kept: Duration) -> Result<()> {
        *self
            .0
            .dropped_files_kept
            .write()
            .unwrap_or_else(|e| e.into_inner()) = kept;
        for (key, retired) in self.metastore.retired().await? {
            let age = chrono::DateTime::parse_from_rfc3339(&retired.dropped_at)
                .ok()
                .and_then(|t| (chrono::Utc::now() - t.to_utc()).to_std().ok())
                .unwrap_or(kept);
            self.schedule_removal(key, retired.location, kept.saturating_sub(age));
        }
        Ok(())
    }

    /// Sets the DataFusion settings Delta scans follow (the engine's options; by
    /// default DataFusion's).
    pub fn set_scan_settings(&self, config: datafusion::prelude::SessionConfig) {
        *self
            .0
            .scan_settings
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Arc::new(
            datafusion::execution::SessionStateBuilder::new()
                .with_config(config)
                .build(),
        );
    }

    /// Registers how views are planned (once; later calls are ignored).
    pub fn set_definition_planner(&self, planner: Arc<dyn DefinitionPlanner>) {
        let _ = self.0.definition_planner.set(planner);
    }
}

impl Lake {
    pub fn metastore(&self) -> &Metastore {
        &self.metastore
    }

    /// Renews the names DataFusion sees, picking up DDL from other servers: every
    /// change to the catalog that completed before this call is in the listing after
    /// it. Costs one read of the catalog stamp when nothing changed.
    pub async fn refresh(&self) -> Result<()> {
        if self.listed_under(&self.metastore.stamp().await?) {
            return Ok(());
        }
        let _one = self.relisting.lock().await;
        // Read again under the lock: a concurrent refresh may have listed meanwhile.
        // The stamp is read before listing, so a change that lands during the listing
        // renews the stamp after it and the next refresh lists again.
        let at = std::time::Instant::now();
        let changes = self.metastore.changes();
        let stamp = self.metastore.stamp().await?;
        if self.listed_under(&stamp) {
            return Ok(());
        }
        let listing = self.metastore.list().await?;
        *self.listing.write().unwrap_or_else(|e| e.into_inner()) = listing;
        *self.listed.lock().unwrap_or_else(|e| e.into_inner()) = Listed { stamp, changes, at };
        Ok(())
    }

    fn listed_under(&self, stamp: &Option<Vec<u8>>) -> bool {
        let listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        listed.stamp == *stamp
            && listed.changes == self.metastore.changes()
            && listed.at.elapsed() < RELIST_AFTER
    }

    fn scan_settings(&self) -> Arc<datafusion::execution::SessionState> {
        Arc::clone(&self.scan_settings.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// What the current listing of names was made under: the catalog's stamp (renewed
    /// by every change any server makes) and this server's count of changes. Equal
    /// values mean no table, view or schema was created, dropped or replaced between.
    pub fn listing_version(&self) -> (Option<Vec<u8>>, u64) {
        let listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        (listed.stamp.clone(), listed.changes)
    }

    fn listing(&self) -> std::sync::RwLockReadGuard<'_, Listing> {
        self.listing.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the warehouse has schema `name` (as last listed), without copying the
    /// names as `schema_names` does.
    pub fn has_schema(&self, name: &str) -> bool {
        self.listing().contains_key(name)
    }

    /// Every view in the warehouse (as last listed), for the dependency checks of DROP.
    pub async fn views(&self) -> Result<Vec<Arc<TableEntry>>> {
        let names: Vec<(String, String)> = self
            .listing()
            .iter()
            .flat_map(|(schema, tables)| tables.iter().map(|t| (schema.clone(), t.clone())))
            .collect();
        let mut views = Vec::new();
        for (schema, name) in names {
            if let Some(entry) = self.metastore.shared_table(&schema, &name).await?
                && entry.kind == TableKind::View
            {
                views.push(entry);
            }
        }
        Ok(views)
    }

    /// The (schema, name) of every materialized view in the warehouse (as last
    /// listed).
    pub async fn materialized_views(&self) -> Result<std::collections::HashSet<(String, String)>> {
        let names: Vec<(String, String)> = self
            .listing()
            .iter()
            .flat_map(|(schema, tables)| tables.iter().map(|t| (schema.clone(), t.clone())))
            .collect();
        let mut found = std::collections::HashSet::new();
        for (schema, name) in names {
            if let Some(entry) = self.metastore.shared_table(&schema, &name).await?
                && entry.is_materialized_view()
            {
                found.insert((schema, name));
            }
        }
        Ok(found)
    }

    /// The relations of schema `schema` (as last listed), in the order they were
    /// made: what `DROP SCHEMA ... CASCADE` drops with it.
    pub async fn relations_in(&self, schema: &str) -> Result<Vec<Arc<TableEntry>>> {
        let names: Vec<String> = self
            .listing()
            .get(schema)
            .map(|tables| tables.iter().cloned().collect())
            .unwrap_or_default();
        let mut relations = Vec::with_capacity(names.len());
        for name in names {
            if let Some(entry) = self.metastore.shared_table(schema, &name).await? {
                relations.push(entry);
            }
        }
        relations.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(relations)
    }

    fn root_url(&self) -> &Url {
        self.metastore.root().url()
    }

    /// Object-store options for a Delta table at `url`: the warehouse's under the
    /// warehouse, else those of its configured bucket (none: the environment's).
    pub(crate) fn options_for(&self, url: &Url) -> HashMap<String, String> {
        if url.as_str().starts_with(self.root_url().as_str()) {
            self.metastore.root().options().clone()
        } else {
            self.buckets.options_for(url)
        }
    }

    /// Creates a schema. With `if_not_exists`, an existing schema is not an error and
    /// the return value is `false`.
    #[instrument(skip(self))]
    pub async fn create_schema(&self, name: &str, if_not_exists: bool) -> Result<bool> {
        match self.metastore.create_schema(name).await {
            Ok(()) => {
                self.refresh().await?;
                Ok(true)
            }
            Err(CatalogError::SchemaExists { .. }) if if_not_exists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drops a schema; with `cascade`, its tables first. Returns `false` when it did not
    /// exist and `if_exists` was given.
    #[instrument(skip(self))]
    pub async fn drop_schema(&self, name: &str, if_exists: bool, cascade: bool) -> Result<bool> {
        self.drop_schema_keeping(name, if_exists, cascade, true)
            .await
    }

    /// Drops a session's temporary schema and its tables, removing their files at once.
    #[instrument(skip(self))]
    pub async fn drop_temporary_schema(&self, name: &str) -> Result<bool> {
        self.drop_schema_keeping(name, true, true, false).await
    }

    async fn drop_schema_keeping(
        &self,
        name: &str,
        if_exists: bool,
        cascade: bool,
        keep_files: bool,
    ) -> Result<bool> {
        if name == DEFAULT_SCHEMA {
            return Err(CatalogError::DataFusion(
                datafusion::error::DataFusionError::NotImplemented(format!(
                    "dropping the default schema {DEFAULT_SCHEMA:?}"
                )),
            ));
        }
        self.refresh().await?;
        let tables: Vec<String> = match self.listing().get(name) {
            Some(tables) => tables.iter().cloned().collect(),
            None if if_exists => return Ok(false),
            None => {
                return Err(CatalogError::SchemaNotFound {
                    name: name.to_owned(),
                });
            }
        };
        if !tables.is_empty() && !cascade {
            return Err(CatalogError::SchemaNotEmpty {
                name: name.to_owned(),
                tables: tables.len(),
            });
        }
        for t in &tables {
            match self.metastore.table(name, t).await? {
                Some(entry) if entry.kind == TableKind::View => {
                    self.drop_view(name, t, true).await?;
                }
                _ => {
                    self.drop_table_keeping(name, t, true, keep_files).await?;
                }
            }
        }
        self.metastore.drop_schema(name).await?;
        self.refresh().await?;
        Ok(true)
    }

    async fn ensure_schema(&self, schema: &str) -> Result<()> {
        if self.metastore.schema_exists(schema).await? {
            Ok(())
        } else {
            Err(CatalogError::SchemaNotFound {
                name: schema.to_owned(),
            })
        }
    }

    fn new_entry(&self, schema: &str, name: &str) -> TableEntry {
        let id = uuid::Uuid::new_v4().simple().to_string();
        TableEntry {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: TableKind::ManagedDelta,
            location: format!("{schema}/{name}-{}", &id[..12]),
            definition: None,
            created_at: now(),
            columns: None,
            properties: Default::default(),
            comment: None,
            column_comments: Default::default(),
        }
    }

    fn entry_url(&self, entry: &TableEntry) -> Result<Url> {
        if entry.kind == TableKind::ExternalDelta {
            return Url::parse(&entry.location).map_err(|e| CatalogError::InvalidEntry {
                path: format!("{}.{}", entry.schema, entry.name),
                reason: e.to_string(),
            });
        }
        Ok(self.metastore.root().child_url(&entry.location)?)
    }

    /// Creates an empty managed table. Returns `false` if it existed and
    /// `if_not_exists` was given.
    #[instrument(skip(self, columns))]
    pub async fn create_table(
        &self,
        schema: &str,
        name: &str,
        columns: &arrow::datatypes::Schema,
        partition_by: &[String],
        if_not_exists: bool,
    ) -> Result<bool> {
        self.ensure_schema(schema).await?;
        if self.metastore.table(schema, name).await?.is_some() {
            return self.exists(schema, name, if_not_exists);
        }
        let mut entry = self.new_entry(schema, name);
        let url = self.entry_url(&entry)?;
        let delta = table::create_empty(
            &url,
            self.metastore.root().options(),
            columns,
            name,
            partition_by,
        )
        .await?;
        entry.columns = Some(ColumnEntry::of(
            &table::provider(&delta, self.scan_settings())
                .await?
                .schema(),
        ));
        self.register(entry, if_not_exists).await
    }

    /// Creates a managed table holding the rows of `plan`, in one Delta commit.
    #[instrument(skip(self, plan, session))]
    pub async fn create_table_as(
        &self,
        schema: &str,
        name: &str,
        plan: LogicalPlan,
        session: Arc<dyn Session>,
        partition_by: &[String],
        if_not_exists: bool,
    ) -> Result<bool> {
        let entry = self.new_entry(schema, name);
        self.create_entry_as(entry, plan, session, partition_by, if_not_exists)
            .await
    }

    /// Creates a materialized view: a managed table holding the rows of `plan` (the
    /// view's query `definition`, planned), in one Delta commit, with `definition` kept
    /// in its entry ([`MATERIALIZED_VIEW_KEY`]) for [`Lake::refresh_materialized_view`].
    #[instrument(skip(self, plan, session, definition))]
    pub async fn create_materialized_view(
        &self,
        schema: &str,
        name: &str,
        plan: LogicalPlan,
        session: Arc<dyn Session>,
        definition: &str,
        if_not_exists: bool,
    ) -> Result<bool> {
        let mut entry = self.new_entry(schema, name);
        entry
            .properties
            .insert(MATERIALIZED_VIEW_KEY.to_owned(), definition.to_owned());
        self.create_entry_as(entry, plan, session, &[], if_not_exists)
            .await
    }

    /// Writes the rows of `plan` (the materialized view's query, planned anew) over the
    /// rows of materialized view `schema.name`, in one Delta commit: readers see the
    /// old rows or the new ones (what PostgreSQL's `REFRESH ... CONCURRENTLY` promises).
    #[instrument(skip(self, plan, session))]
    pub async fn refresh_materialized_view(
        &self,
        schema: &str,
        name: &str,
        plan: LogicalPlan,
        session: Arc<dyn Session>,
    ) -> Result<()> {
        let columns = crate::types::nullable_delta_schema(plan.schema().as_arrow())?;
        self.rewrite_table(schema, name, plan, &columns, &[], session)
            .await
    }

    /// Plans the query `definition` of a view or materialized view kept in `schema`,
    /// as views are planned when used (names resolve in `schema`).
    pub async fn plan_definition(&self, schema: &str, definition: &str) -> Result<LogicalPlan> {
        Ok(self
            .definition_planner()?
            .plan_view(schema, definition)
            .await?)
    }

    /// The SQL layer's planner of views and external tables.
    fn definition_planner(&self) -> Result<&Arc<dyn DefinitionPlanner>> {
        self.definition_planner.get().ok_or_else(|| {
            CatalogError::DataFusion(datafusion::error::DataFusionError::NotImplemented(
                "views and external tables without a SQL layer".to_owned(),
            ))
        })
    }

    async fn create_entry_as(
        &self,
        mut entry: TableEntry,
        plan: LogicalPlan,
        session: Arc<dyn Session>,
        partition_by: &[String],
        if_not_exists: bool,
    ) -> Result<bool> {
        let (schema, name) = (entry.schema.clone(), entry.name.clone());
        self.ensure_schema(&schema).await?;
        if self.metastore.table(&schema, &name).await?.is_some() {
            return self.exists(&schema, &name, if_not_exists);
        }
        let url = self.entry_url(&entry)?;
        let delta = table::create_as(
            &url,
            self.metastore.root().options(),
            plan,
            session,
            &name,
            partition_by,
        )
        .await?;
        entry.columns = Some(ColumnEntry::of(
            &table::provider(&delta, self.scan_settings())
                .await?
                .schema(),
        ));
        self.register(entry, if_not_exists).await
    }

    fn exists(&self, schema: &str, name: &str, if_not_exists: bool) -> Result<bool> {
        if if_not_exists {
            Ok(false)
        } else {
            Err(CatalogError::TableExists {
                schema: schema.to_owned(),
                name: name.to_owned(),
            })
        }
    }

    /// Records a freshly written table. If another writer took the name meanwhile,
    /// our files are removed and the conflict reported.
    async fn register(&self, entry: TableEntry, if_not_exists: bool) -> Result<bool> {
        match self.metastore.create_table(&entry).await {
            Ok(()) => {
                self.refresh().await?;
                Ok(true)
            }
            Err(err @ CatalogError::TableExists { .. }) => {
                self.remove_files(&entry).await;
                if if_not_exists { Ok(false) } else { Err(err) }
            }
            Err(err) => {
                self.remove_files(&entry).await;
                Err(err)
            }
        }
    }

    /// Removes a dropped managed table's files once the grace period has passed. The
    /// record written first makes a later server finish the job if this one stops.
    async fn retire_files(&self, entry: &TableEntry) {
        let kept = *self
            .dropped_files_kept
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if kept.is_zero() {
            return self.remove_files(entry).await;
        }
        match self.metastore.retire(&entry.location).await {
            Ok(key) => self.schedule_removal(key, entry.location.clone(), kept),
            Err(e) => {
                warn!(location = %entry.location, error = %e, "could not record dropped files; they stay");
            }
        }
    }

    /// Retires a managed table's files (see [`Lake::retire_files`]); for callers that
    /// removed its entry themselves.
    pub async fn retire_entry_files(&self, entry: &TableEntry) {
        if entry.kind == TableKind::ManagedDelta {
            self.tables
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&entry.location);
            self.retire_files(entry).await;
        }
    }

    /// Removes `entry` from the metastore (if still there) and, with `files`, retires a
    /// managed table's files.
    pub async fn discard_entry(&self, entry: &TableEntry, files: bool) -> Result<()> {
        match self.metastore.drop_table(&entry.schema, &entry.name).await {
            Ok(()) | Err(CatalogError::TableNotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        if files {
            self.retire_entry_files(entry).await;
        }
        Ok(())
    }

    fn schedule_removal(&self, key: String, location: String, after: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let metastore = self.metastore.clone();
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            let prefix = metastore.root().path(&location);
            match table::delete_files(metastore.root().store(), &prefix).await {
                Ok(()) => {
                    if let Err(e) = metastore.forget_retired(&key).await {
                        warn!(%key, error = %e, "could not remove a retired-files record");
                    }
                    tracing::debug!(%location, "removed a dropped table's files");
                }
                Err(e) => warn!(%location, error = %e, "could not remove a dropped table's files"),
            }
        });
    }

    async fn remove_files(&self, entry: &TableEntry) {
        let prefix = self.metastore.root().path(&entry.location);
        if let Err(e) = table::delete_files(self.metastore.root().store(), &prefix).await {
            warn!(location = %entry.location, error = %e, "could not remove table files");
        }
    }

    /// Creates (or with `or_replace`, replaces) a view. A table of the same name is an
    /// error either way.
    #[instrument(skip(self, definition))]
    pub async fn create_view(
        &self,
        schema: &str,
        name: &str,
        definition: &str,
        or_replace: bool,
    ) -> Result<()> {
        self.ensure_schema(schema).await?;
        let entry = TableEntry {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind: TableKind::View,
            location: String::new(),
            definition: Some(definition.to_owned()),
            created_at: now(),
            columns: None,
            properties: Default::default(),
            comment: None,
            column_comments: Default::default(),
        };
        match self.metastore.table(schema, name).await? {
            Some(existing) if existing.kind != TableKind::View => {
                return Err(CatalogError::WrongKind {
                    name: name.to_owned(),
                    expected: "a view",
                });
            }
            // The view keeps its comments, as PostgreSQL's keeps its OID and them.
            Some(existing) if or_replace => {
                let entry = TableEntry {
                    comment: existing.comment,
                    column_comments: existing.column_comments,
                    ..entry
                };
                self.metastore.replace_table(&entry).await?
            }
            _ => self.metastore.create_table(&entry).await?,
        }
        self.refresh().await
    }

    /// Registers an external table (files at a location, read in place) by its
    /// `CREATE EXTERNAL TABLE` statement. The caller has validated the location.
    #[instrument(skip(self, definition))]
    pub async fn create_external(
        &self,
        schema: &str,
        name: &str,
        definition: &str,
        if_not_exists: bool,
    ) -> Result<bool> {
        self.register_entry(
            schema,
            name,
            TableKind::External,
            String::new(),
            Some(definition.to_owned()),
            if_not_exists,
        )
        .await
    }

    /// Replaces the definition of an external table of files (a re-crawl that found
    /// new columns). It must exist and be such a table.
    #[instrument(skip(self, definition))]
    pub async fn replace_external(&self, schema: &str, name: &str, definition: &str) -> Result<()> {
        let mut entry = self.metastore.table(schema, name).await?.ok_or_else(|| {
            CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }
        })?;
        if entry.kind != TableKind::External {
            return Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: "an external table of files",
            });
        }
        entry.definition = Some(definition.to_owned());
        self.metastore.replace_table(&entry).await?;
        self.refresh().await
    }

    /// Sets (`Some`) or removes (`None`) a table property in its catalog entry.
    pub async fn set_property(
        &self,
        schema: &str,
        name: &str,
        key: &str,
        value: Option<&str>,
    ) -> Result<()> {
        let mut entry = self.metastore.table(schema, name).await?.ok_or_else(|| {
            CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }
        })?;
        match value {
            Some(v) => entry.properties.insert(key.to_owned(), v.to_owned()),
            None => entry.properties.remove(key),
        };
        self.metastore.replace_table(&entry).await
    }

    /// Sets (`Some`) or removes (`None`) the comment on table or view `schema.name`,
    /// or on its `column`. Returns the entry as it was, for a transaction block to
    /// restore.
    pub async fn set_comment(
        &self,
        schema: &str,
        name: &str,
        column: Option<&str>,
        comment: Option<&str>,
    ) -> Result<TableEntry> {
        let before = self.metastore.table(schema, name).await?.ok_or_else(|| {
            CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }
        })?;
        let mut entry = before.clone();
        match column {
            None => entry.comment = comment.map(str::to_owned),
            Some(column) => {
                // A Delta table's columns are in its entry; a view's are checked by
                // the caller, which can plan it.
                if let Some(columns) = &entry.columns
                    && !columns.iter().any(|c| c.name == column)
                {
                    return Err(CatalogError::ColumnNotFound {
                        table: name.to_owned(),
                        column: column.to_owned(),
                    });
                }
                match comment {
                    Some(text) => entry
                        .column_comments
                        .insert(column.to_owned(), text.to_owned()),
                    None => entry.column_comments.remove(column),
                };
            }
        }
        self.metastore.replace_table(&entry).await?;
        Ok(before)
    }

    /// Reads a small JSON document Tarn keeps under `_tarn/` (crawler state).
    pub async fn read_state(&self, key: &str) -> Result<Option<bytes::Bytes>> {
        use object_store::ObjectStoreExt;
        let path = self.metastore.root().path(&format!("_tarn/{key}"));
        match self.metastore.root().store().get(&path).await {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a small JSON document under `_tarn/` (crawler state), whole.
    pub async fn write_state(&self, key: &str, body: Vec<u8>) -> Result<()> {
        use object_store::ObjectStoreExt;
        let path = self.metastore.root().path(&format!("_tarn/{key}"));
        self.metastore
            .root()
            .store()
            .put(&path, object_store::PutPayload::from(body))
            .await?;
        Ok(())
    }

    /// Registers an existing Delta table at `location` (an absolute URL), read and
    /// written in place; dropping it forgets it but leaves its files.
    #[instrument(skip(self))]
    pub async fn create_external_delta(
        &self,
        schema: &str,
        name: &str,
        location: &Url,
        if_not_exists: bool,
    ) -> Result<bool> {
        table::open(location, &self.options_for(location)).await?;
        self.register_entry(
            schema,
            name,
            TableKind::ExternalDelta,
            location.to_string(),
            None,
            if_not_exists,
        )
        .await
    }

    async fn register_entry(
        &self,
        schema: &str,
        name: &str,
        kind: TableKind,
        location: String,
        definition: Option<String>,
        if_not_exists: bool,
    ) -> Result<bool> {
        self.ensure_schema(schema).await?;
        let entry = TableEntry {
            schema: schema.to_owned(),
            name: name.to_owned(),
            kind,
            location,
            definition,
            created_at: now(),
            columns: None,
            properties: Default::default(),
            comment: None,
            column_comments: Default::default(),
        };
        match self.metastore.create_table(&entry).await {
            Ok(()) => {
                self.refresh().await?;
                Ok(true)
            }
            Err(CatalogError::TableExists { .. }) if if_not_exists => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Drops a view. Returns `false` if it did not exist and `if_exists` was given.
    #[instrument(skip(self))]
    pub async fn drop_view(&self, schema: &str, name: &str, if_exists: bool) -> Result<bool> {
        match self.metastore.table(schema, name).await? {
            Some(entry) if entry.kind == TableKind::View => {
                self.metastore.drop_table(schema, name).await?;
                self.refresh().await?;
                Ok(true)
            }
            Some(_) => Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: "a view",
            }),
            None if if_exists => Ok(false),
            None => Err(CatalogError::ViewNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }),
        }
    }

    /// Compacts a table's small files into larger ones, in one Delta commit. Returns
    /// (files added, files removed).
    #[instrument(skip(self, session))]
    pub async fn optimize(
        &self,
        schema: &str,
        name: &str,
        session: Arc<dyn Session>,
    ) -> Result<(u64, u64)> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        let (delta, metrics) =
            delta
                .optimize()
                .with_session_state(session)
                .await
                .map_err(|source| CatalogError::Delta {
                    location: tarn_connectors::storage::redact(&location),
                    source,
                })?;
        self.remember_url(&delta);
        Ok((metrics.num_files_added, metrics.num_files_removed))
    }

    /// Deletes files no version within the retention period references (Delta's
    /// default, 7 days, unless the table sets `delta.deletedFileRetentionDuration`).
    /// Returns how many files were deleted.
    #[instrument(skip(self))]
    pub async fn vacuum(&self, schema: &str, name: &str) -> Result<usize> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        let (delta, metrics) = delta.vacuum().await.map_err(delta_error(&location))?;
        self.remember_url(&delta);
        Ok(metrics.files_deleted.len())
    }

    /// Renames a table within its schema. The new entry is created first (failing if
    /// the name is taken), then the old one removed; the data does not move.
    #[instrument(skip(self))]
    pub async fn rename_table(&self, schema: &str, name: &str, new_name: &str) -> Result<()> {
        let entry = self.metastore.table(schema, name).await?.ok_or_else(|| {
            CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }
        })?;
        let renamed = TableEntry {
            name: new_name.to_owned(),
            ..entry
        };
        self.metastore.create_table(&renamed).await?;
        self.metastore.drop_table(schema, name).await?;
        self.refresh().await
    }

    /// Adds columns to a table's schema, in one Delta commit. Columns that
    /// already exist are an error unless `if_not_exists`.
    #[instrument(skip(self, columns))]
    pub async fn add_columns(
        &self,
        schema: &str,
        name: &str,
        columns: &arrow::datatypes::Schema,
        if_not_exists: bool,
    ) -> Result<()> {
        let (key, delta) = self.existing_located(schema, name).await?;
        let location = delta.table_url().clone();
        let current = delta.snapshot().map_err(delta_error(&location))?.schema();
        let mut new_fields = Vec::new();
        for field in columns.fields() {
            if current.field(field.name()).is_some() {
                if if_not_exists {
                    continue;
                }
                return Err(CatalogError::ColumnExists {
                    table: name.to_owned(),
                    column: field.name().clone(),
                });
            }
            new_fields.push(field.as_ref().clone());
        }
        if new_fields.is_empty() {
            return Ok(());
        }
        let kernel = table::kernel_schema(&location, &arrow::datatypes::Schema::new(new_fields))?;
        let delta = delta
            .add_columns()
            .with_fields(kernel.fields().cloned().collect::<Vec<_>>())
            .await
            .map_err(delta_error(&location))?;
        self.remember_url(&delta);
        self.record_columns(schema, name, &key, &delta).await;
        Ok(())
    }

    /// Rewrites a table's rows and schema in one Delta commit (ALTER TABLE's column
    /// changes): the rows of `plan` under `columns` (names, types, nullability and the
    /// metadata Tarn keeps on a field), partitioned by `partition_by`. The versions
    /// before stay readable (time travel), and a transaction block's ROLLBACK takes
    /// the commit back, schema and all ([`Lake::undo_writes`]). The caller has
    /// checked that no row breaks a `NOT NULL` of `columns`.
    #[instrument(skip(self, plan, columns, session))]
    pub async fn rewrite_table(
        &self,
        schema: &str,
        name: &str,
        plan: LogicalPlan,
        columns: &arrow::datatypes::Schema,
        partition_by: &[String],
        session: Arc<dyn Session>,
    ) -> Result<()> {
        let (location, delta) = self.existing_located(schema, name).await?;
        let delta = table::rewrite(delta, plan, columns, partition_by, session).await?;
        self.remember_url(&delta);
        self.record_columns(schema, name, &location, &delta).await;
        Ok(())
    }

    /// The partition columns of the Delta table `schema.name`.
    pub async fn partition_columns(&self, schema: &str, name: &str) -> Result<Vec<String>> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        Ok(delta
            .snapshot()
            .map_err(delta_error(&location))?
            .metadata()
            .partition_columns()
            .to_vec())
    }

    /// Moves the comment of column `from` to column `to` (`None`: the column is gone).
    /// Returns the entry as it was if it changed, for a transaction block's ROLLBACK.
    pub async fn move_column_comment(
        &self,
        schema: &str,
        name: &str,
        from: &str,
        to: Option<&str>,
    ) -> Result<Option<TableEntry>> {
        let Some(before) = self.metastore.table(schema, name).await? else {
            return Ok(None);
        };
        let mut entry = before.clone();
        let Some(comment) = entry.column_comments.remove(from) else {
            return Ok(None);
        };
        if let Some(to) = to {
            entry.column_comments.insert(to.to_owned(), comment);
        }
        self.metastore.replace_table(&entry).await?;
        Ok(Some(before))
    }

    /// [`Lake::existing`], with the location its catalog entry holds.
    async fn existing_located(&self, schema: &str, name: &str) -> Result<(String, DeltaTable)> {
        self.located_delta_table(schema, name)
            .await?
            .ok_or_else(|| CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            })
    }

    /// Records the columns of `delta` in the catalog entry of `schema.name` (if it
    /// still names the table at `location`), for listings that do not open the log.
    /// If this fails only listings lag, so it is logged rather than returned.
    pub(crate) async fn record_columns(
        &self,
        schema: &str,
        name: &str,
        location: &str,
        delta: &DeltaTable,
    ) {
        let recorded = async {
            let Some(mut entry) = self.metastore.table(schema, name).await? else {
                return Ok(());
            };
            if entry.location != location {
                return Ok(());
            }
            entry.columns = Some(ColumnEntry::of(
                &table::provider(delta, self.scan_settings()).await?.schema(),
            ));
            self.metastore.replace_table(&entry).await
        };
        if let Err(e) = recorded.await {
            warn!(table = %name, error = %e, "could not record the table's columns in its catalog entry");
        }
    }

    /// Drops a table: its entry goes first (so no reader finds a half-deleted table),
    /// then its files. Returns `false` if it did not exist and `if_exists` was given.
    #[instrument(skip(self))]
    pub async fn drop_table(&self, schema: &str, name: &str, if_exists: bool) -> Result<bool> {
        self.drop_table_keeping(schema, name, if_exists, true).await
    }

    /// [`Lake::drop_table`]; `keep_files` false removes the files at once (temporary
    /// tables, which no other session reads).
    async fn drop_table_keeping(
        &self,
        schema: &str,
        name: &str,
        if_exists: bool,
        keep_files: bool,
    ) -> Result<bool> {
        let Some(entry) = self.metastore.table(schema, name).await? else {
            return if if_exists {
                Ok(false)
            } else {
                Err(CatalogError::TableNotFound {
                    schema: schema.to_owned(),
                    name: name.to_owned(),
                })
            };
        };
        if entry.kind == TableKind::View {
            return Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: "a table",
            });
        }
        self.metastore.drop_table(schema, name).await?;
        if entry.kind != TableKind::ManagedDelta {
            // External data belongs to whoever put it there.
            self.refresh().await?;
            return Ok(true);
        }
        self.tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&entry.location);
        if keep_files {
            self.retire_files(&entry).await;
        } else {
            self.remove_files(&entry).await;
        }
        self.refresh().await?;
        Ok(true)
    }

    /// The table's provider at its latest Delta version, or `None` if there is no
    /// such table.
    pub async fn table_provider(
        &self,
        schema: &str,
        name: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        if let Some((base, suffix)) = name.rsplit_once('@')
            && !base.is_empty()
        {
            return self.table_at(schema, base, suffix).await;
        }
        let Some(entry) = self.metastore.shared_table(schema, name).await? else {
            return Ok(None);
        };
        if matches!(entry.kind, TableKind::View | TableKind::External) {
            let definition = entry.definition.clone().unwrap_or_default();
            let planner = self.definition_planner()?;
            if entry.kind == TableKind::External {
                return Ok(Some(planner.external_table(schema, &definition).await?));
            }
            let plan = planner.plan_view(schema, &definition).await?;
            return Ok(Some(Arc::new(ViewTable::new(plan, Some(definition)))));
        }
        let (location, delta) = self.delta_table_of(entry).await?;
        Ok(Some(self.current_provider(&location, &delta).await?))
    }

    /// Time travel and history, spelled as a suffix of the table name (quoted, since `@`
    /// is not an identifier character): `"t@v3"` (version 3), `"t@2024-05-01T00:00:00Z"`
    /// (the version current at that instant), `"t@history"` (one row per commit).
    async fn table_at(
        &self,
        schema: &str,
        name: &str,
        suffix: &str,
    ) -> Result<Option<Arc<dyn TableProvider>>> {
        let Some(delta) = self.delta_table(schema, name).await? else {
            return Ok(None);
        };
        if suffix.eq_ignore_ascii_case("history") {
            return Ok(Some(table::history(&delta).await?));
        }
        let url = delta.table_url().clone();
        let version = suffix
            .strip_prefix(['v', 'V'])
            .and_then(|v| v.parse::<i64>().ok());
        let latest = delta.version().unwrap_or(0) as i64;
        let at = match version {
            Some(version) if version < 0 || version > latest => {
                return Err(CatalogError::NoSuchVersion {
                    name: name.to_owned(),
                    at: format!("version {version}"),
                    detail: format!("the latest version is {latest}"),
                });
            }
            Some(version) => {
                table::open_at(&url, &self.options_for(&url), table::At::Version(version)).await?
            }
            None => {
                table::open_at(
                    &url,
                    &self.options_for(&url),
                    table::At::Timestamp(suffix.to_owned()),
                )
                .await?
            }
        };
        Ok(Some(table::provider(&at, self.scan_settings()).await?))
    }

    /// The table's Delta log brought up to date, from the cache where possible.
    async fn delta_table(&self, schema: &str, name: &str) -> Result<Option<DeltaTable>> {
        Ok(self
            .located_delta_table(schema, name)
            .await?
            .map(|(_, delta)| delta))
    }

    /// [`Lake::delta_table`], with the location it is kept under.
    async fn located_delta_table(
        &self,
        schema: &str,
        name: &str,
    ) -> Result<Option<(String, DeltaTable)>> {
        let Some(entry) = self.metastore.shared_table(schema, name).await? else {
            return Ok(None);
        };
        self.delta_table_of(entry).await.map(Some)
    }

    /// The Delta table of catalog entry `entry`, with the location it is kept under.
    pub(crate) async fn delta_table_of(
        &self,
        entry: Arc<TableEntry>,
    ) -> Result<(String, DeltaTable)> {
        let name = &entry.name;
        if !matches!(
            entry.kind,
            TableKind::ManagedDelta | TableKind::ExternalDelta
        ) {
            return Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: "a Delta table",
            });
        }
        let cached = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&entry.location)
            .map(|known| (known.delta.clone(), known.next_commit.clone()));
        let fresh = match &cached {
            Some((_, Some(next))) => !table::local_file_exists(next),
            Some((delta, None)) => !table::has_newer_commit(delta).await,
            None => false,
        };
        if fresh && let Some((delta, _)) = cached {
            // Kept as it is.
            return Ok((entry.location.clone(), delta));
        }
        let url = self.entry_url(&entry)?;
        let delta = match cached {
            Some(_) => self.catch_up(&entry.location, &url).await?,
            None => table::open(&url, &self.options_for(&url)).await?,
        };
        self.remember(&entry.location, &delta);
        Ok((entry.location.clone(), delta))
    }

    /// The cached table at `location` brought up to its latest commit, by one caller
    /// at a time: those who waited find it done (one HEAD to check) and read nothing.
    pub(crate) async fn catch_up(&self, location: &str, url: &Url) -> Result<DeltaTable> {
        let one = Arc::clone(
            self.catching_up
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(location.to_owned())
                .or_default(),
        );
        let _one = one.lock().await;
        let cached = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(location)
            .map(|known| known.delta.clone());
        let Some(mut delta) = cached else {
            return table::open(url, &self.options_for(url)).await;
        };
        if table::has_newer_commit(&delta).await {
            tracing::debug!(location, version = ?delta.version(), "reading newer commits");
            self.catch_ups
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            delta
                .update_incremental(None)
                .await
                .map_err(delta_error(url))?;
            self.remember(location, &delta);
        }
        Ok(delta)
    }

    /// Keeps `delta` as the table at `location`; its provider stays while the version
    /// does.
    pub(crate) fn remember(&self, location: &str, delta: &DeltaTable) {
        let mut tables = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        let provider = tables
            .remove(location)
            .filter(|known| known.delta.version() == delta.version())
            .and_then(|known| known.provider);
        tables.insert(
            location.to_owned(),
            Known {
                delta: delta.clone(),
                next_commit: table::next_commit_file(delta),
                provider,
            },
        );
    }

    /// The provider of the table at `location` as [`Lake::delta_table`] read it
    /// (`delta`), made at most once per version and scan settings.
    async fn current_provider(
        &self,
        location: &str,
        delta: &DeltaTable,
    ) -> Result<Arc<dyn TableProvider>> {
        let settings = self.scan_settings();
        let same = |known: &Known| {
            known.delta.version() == delta.version() && known.delta.table_url() == delta.table_url()
        };
        if let Some(known) = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(location)
            .filter(|known| same(known))
            && let Some((made_with, provider)) = &known.provider
            && Arc::ptr_eq(made_with, &settings)
        {
            return Ok(Arc::clone(provider));
        }
        let provider = table::provider(delta, Arc::clone(&settings)).await?;
        if let Some(known) = self
            .tables
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(location)
            .filter(|known| same(known))
        {
            known.provider = Some((settings, Arc::clone(&provider)));
        }
        Ok(provider)
    }

    pub(crate) async fn existing(&self, schema: &str, name: &str) -> Result<DeltaTable> {
        self.delta_table(schema, name)
            .await?
            .ok_or_else(|| CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            })
    }

    /// Deletes the rows matching `predicate` (all rows when `None`) in one Delta
    /// commit. Returns how many rows were deleted.
    #[instrument(skip(self, predicate, session))]
    pub async fn delete_rows(
        &self,
        schema: &str,
        name: &str,
        predicate: Option<Expr>,
        session: Arc<dyn Session>,
    ) -> Result<u64> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        let mut builder = delta.delete().with_session_state(session);
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        let (delta, metrics) = builder.await.map_err(delta_error(&location))?;
        self.remember_url(&delta);
        Ok(metrics.num_deleted_rows.unwrap_or(0) as u64)
    }

    /// Sets `assignments` (column, new value) on the rows matching `predicate`, in one
    /// Delta commit. Returns how many rows were updated.
    #[instrument(skip(self, assignments, predicate, session))]
    pub async fn update_rows(
        &self,
        schema: &str,
        name: &str,
        assignments: Vec<(String, Expr)>,
        predicate: Option<Expr>,
        session: Arc<dyn Session>,
    ) -> Result<u64> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        let mut builder = delta.update().with_session_state(session);
        if let Some(predicate) = predicate {
            builder = builder.with_predicate(predicate);
        }
        for (column, value) in assignments {
            builder = builder.with_update(column, value);
        }
        let (delta, metrics) = builder.await.map_err(delta_error(&location))?;
        self.remember_url(&delta);
        Ok(metrics.num_updated_rows as u64)
    }

    /// Caches a table just written, keyed like [`Lake::delta_table`] keys it.
    pub(crate) fn remember_url(&self, delta: &DeltaTable) {
        let root = self.root_url().as_str();
        if let Some(relative) = delta.table_url().as_str().strip_prefix(root) {
            self.remember(relative.trim_end_matches('/'), delta);
        }
    }

    pub fn root(&self) -> &StorageLocation {
        self.metastore.root()
    }

    /// The warehouse root URL.
    pub fn url(&self) -> &Url {
        self.root_url()
    }
}

impl CatalogProvider for LakeCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.listing().keys().cloned().collect()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.listing().contains_key(name).then(|| {
            Arc::new(LakeSchema {
                lake: Arc::clone(&self.0),
                name: name.to_owned(),
            }) as Arc<dyn SchemaProvider>
        })
    }
}

/// One schema of the warehouse, as DataFusion sees it.
#[derive(Debug)]
pub struct LakeSchema {
    lake: Arc<Lake>,
    name: String,
}

#[async_trait]
impl SchemaProvider for LakeSchema {
    fn table_names(&self) -> Vec<String> {
        self.lake
            .listing()
            .get(&self.name)
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        Ok(self.lake.table_provider(&self.name, name).await?)
    }

    /// From the catalog entry alone: listing relations (psql's `\dt`, pg_class) must
    /// not open every table's Delta log.
    async fn table_type(&self, name: &str) -> DFResult<Option<datafusion::datasource::TableType>> {
        use datafusion::datasource::TableType;
        Ok(self
            .lake
            .metastore
            .table(&self.name, name)
            .await?
            .map(|entry| match entry.kind {
                TableKind::View => TableType::View,
                _ => TableType::Base,
            }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.lake
            .listing()
            .get(&self.name)
            .is_some_and(|t| t.contains(name))
    }
}

/// The warehouse as catalog listings see it (pg_catalog): names and kinds from the
/// catalog, and for Delta tables the columns recorded in their entries, so listing
/// a thousand tables reads a thousand small entries, not a thousand Delta logs.
/// Tables without recorded columns (views, external files, entries from older
/// versions) are resolved as queries resolve them.
#[derive(Debug, Clone)]
pub struct MetadataCatalog(LakeCatalog);

impl LakeCatalog {
    /// This catalog for listings (see [`MetadataCatalog`]).
    pub fn metadata(&self) -> MetadataCatalog {
        MetadataCatalog(self.clone())
    }
}

impl CatalogProvider for MetadataCatalog {
    fn schema_names(&self) -> Vec<String> {
        self.0.schema_names()
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        self.0.listing().contains_key(name).then(|| {
            Arc::new(MetadataSchema(LakeSchema {
                lake: Arc::clone(&self.0.0),
                name: name.to_owned(),
            })) as Arc<dyn SchemaProvider>
        })
    }
}

#[derive(Debug)]
struct MetadataSchema(LakeSchema);

#[async_trait]
impl SchemaProvider for MetadataSchema {
    fn table_names(&self) -> Vec<String> {
        self.0.table_names()
    }

    async fn table(&self, name: &str) -> DFResult<Option<Arc<dyn TableProvider>>> {
        let entry = self.0.lake.metastore.table(&self.0.name, name).await?;
        if let Some(schema) = entry
            .as_ref()
            .and_then(|e| e.columns.as_deref())
            .and_then(ColumnEntry::schema)
        {
            return Ok(Some(Arc::new(
                datafusion::datasource::empty::EmptyTable::new(Arc::new(schema)),
            )));
        }
        self.0.table(name).await
    }

    async fn table_type(&self, name: &str) -> DFResult<Option<datafusion::datasource::TableType>> {
        self.0.table_type(name).await
    }

    fn table_exist(&self, name: &str) -> bool {
        self.0.table_exist(name)
    }
}

/// Wraps a deltalake error with the (redacted) table location it concerns.
pub(crate) fn delta_error(
    location: &Url,
) -> impl FnOnce(deltalake::DeltaTableError) -> CatalogError + '_ {
    move |source| CatalogError::Delta {
        location: tarn_connectors::storage::redact(location),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &std::path::Path) -> LakeCatalog {
        let root = StorageLocation::open(dir.to_str().expect("utf-8 path"), HashMap::new())
            .expect("warehouse");
        LakeCatalog::open(root, StorageConfig::default())
            .await
            .expect("catalog")
    }

    /// Two servers on one warehouse: a refresh reads the catalog stamp and lists the
    /// entries again only when a change renewed it. An entry written behind the
    /// metastore's back (no new stamp) shows that an unchanged stamp costs no listing.
    #[tokio::test]
    async fn issue_7_refresh_lists_again_only_after_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = open(dir.path()).await;
        let b = open(dir.path()).await;
        let schemas = dir.path().join("_tarn/catalog/schemas");
        std::fs::create_dir_all(&schemas).expect("mkdir");
        std::fs::write(
            schemas.join("by_hand.json"),
            br#"{"name": "by_hand", "created_at": "2026-01-01T00:00:00Z"}"#,
        )
        .expect("write entry");
        b.refresh().await.expect("refresh");
        assert!(
            !b.schema_names().contains(&"by_hand".to_owned()),
            "listed again although the stamp did not change"
        );

        a.create_schema("sales", false).await.expect("create");
        b.refresh().await.expect("refresh");
        let names = b.schema_names();
        assert!(names.contains(&"sales".to_owned()), "{names:?}");
        assert!(names.contains(&"by_hand".to_owned()), "{names:?}");

        a.drop_schema("sales", false, false).await.expect("drop");
        b.refresh().await.expect("refresh");
        assert!(!b.schema_names().contains(&"sales".to_owned()));
    }

    /// Queries that find a cached table behind another server's commit at once read
    /// the new commit once between them, and all see it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issue_7_concurrent_readers_catch_up_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = open(dir.path()).await;
        let b = open(dir.path()).await;
        let columns = arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "id",
            arrow::datatypes::DataType::Int32,
            true,
        )]);
        a.create_table("public", "t", &columns, &[], false)
            .await
            .expect("create");
        let first = a.delta_table("public", "t").await.expect("read");
        assert_eq!(first.and_then(|t| t.version()), Some(0));

        b.refresh().await.expect("refresh");
        let more = arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
            "name",
            arrow::datatypes::DataType::Utf8,
            true,
        )]);
        b.add_columns("public", "t", &more, false)
            .await
            .expect("another server's commit");

        let readers = (0..8).map(|_| a.delta_table("public", "t"));
        for read in futures::future::join_all(readers).await {
            let version = read.expect("read").and_then(|t| t.version());
            assert_eq!(version, Some(1));
        }
        assert_eq!(
            a.catch_ups.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "one reading of the new commit"
        );
    }
}
