//! The metastore: schemas and table entries as small JSON objects in the warehouse.
//!
//! Layout under the warehouse root:
//!
//! ```text
//! _tarn/catalog/schemas/<schema>.json          one object per schema
//! _tarn/catalog/tables/<schema>/<table>.json   one object per table: kind + location
//! <schema>/<table>-<id>/                       a managed Delta table's data and log
//! ```
//!
//! Entries are created with `PutMode::Create`, so two servers creating the same name
//! race safely: one wins, the other gets "already exists", nothing is overwritten.
//! Table data lives in a folder with a unique suffix, so dropping and re-creating a
//! name never mixes files of the old and new table.
//!
//! Every change to an entry is followed by a new catalog stamp (`_tarn/catalog-stamp`,
//! a random token, overwritten), so a server learns whether the catalog changed by
//! reading one small object instead of listing every entry: with a thousand tables a
//! LIST before each statement cost more than the statement (`select 1` took 9 ms,
//! `bench/introspection.py`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use tarn_connectors::StorageLocation;

use crate::error::{CatalogError, Result};

const SCHEMAS: &str = "_tarn/catalog/schemas";
const TABLES: &str = "_tarn/catalog/tables";
/// Rewritten after every change to a schema or table entry (see the module's doc).
/// Outside the `_tarn/catalog/` prefix, so listings do not carry it.
const STAMP: &str = "_tarn/catalog-stamp";
/// Dropped managed tables whose files are kept a while for readers still scanning them.
const RETIRED: &str = "_tarn/retired";

/// The schema every warehouse has, like PostgreSQL's `public`; it cannot be dropped.
pub const DEFAULT_SCHEMA: &str = "public";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// A Delta table whose files Tarn owns, under the warehouse.
    ManagedDelta,
    /// A view: its SQL, planned when a statement uses it.
    View,
    /// Files (CSV, JSON, Parquet, Avro) read in place; the definition holds the
    /// `CREATE EXTERNAL TABLE` statement.
    External,
    /// A Delta table outside the warehouse, at an absolute URL; Tarn does not own it.
    ExternalDelta,
}

/// What the metastore records about a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    pub schema: String,
    pub name: String,
    pub kind: TableKind,
    /// Relative to the warehouse root for managed tables; empty for views.
    pub location: String,
    /// A view's SQL (its query), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    pub created_at: String,
    /// The columns of a Delta table as of Tarn's last change to it, for catalog
    /// listings (pg_catalog) that must not open every table's log. Queries always
    /// read the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub columns: Option<Vec<ColumnEntry>>,
    /// Free-form table properties, as Glue keeps table parameters
    /// (`deprecated_by_crawler` = when the crawler found all files gone).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub properties: std::collections::BTreeMap<String, String>,
    /// `COMMENT ON TABLE` / `VIEW`: the description `obj_description` and psql's
    /// `\dt+` show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `COMMENT ON COLUMN`, by column name: what `col_description` and psql's `\d+`
    /// show.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub column_comments: std::collections::BTreeMap<String, String>,
}

/// The entry property of a materialized view (a managed Delta table): its query, as
/// written, which `REFRESH MATERIALIZED VIEW` runs again.
pub const MATERIALIZED_VIEW_KEY: &str = "tarn.materialized_view";

impl TableEntry {
    /// Whether the entry is a materialized view.
    pub fn is_materialized_view(&self) -> bool {
        self.kind == TableKind::ManagedDelta && self.properties.contains_key(MATERIALIZED_VIEW_KEY)
    }
}

/// One column in a catalog entry: its Arrow type as text (`Int64`, `Utf8`,
/// `Decimal128(10, 2)`), which `DataType::from_str` reads back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnEntry {
    pub name: String,
    pub data_type: String,
    pub nullable: bool,
    /// The declared-type field metadata (`varchar(20)`, `jsonb`: see
    /// [`crate::types::DeclaredType`]) and the default, if the column has them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl ColumnEntry {
    pub fn of(schema: &arrow::datatypes::Schema) -> Vec<ColumnEntry> {
        schema
            .fields()
            .iter()
            .map(|f| ColumnEntry {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
                metadata: crate::types::kept_metadata(f).into_iter().collect(),
            })
            .collect()
    }

    /// The schema back, or `None` if a type does not parse (an entry written by a
    /// newer Tarn): the caller then reads the table itself.
    pub fn schema(columns: &[ColumnEntry]) -> Option<arrow::datatypes::Schema> {
        let fields = columns
            .iter()
            .map(|c| {
                c.data_type
                    .parse::<arrow::datatypes::DataType>()
                    .ok()
                    .map(|t| {
                        arrow::datatypes::Field::new(&c.name, t, c.nullable)
                            .with_metadata(c.metadata.clone().into_iter().collect())
                    })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(arrow::datatypes::Schema::new(fields))
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct SchemaEntry {
    name: String,
    created_at: String,
    /// `COMMENT ON SCHEMA`: what `obj_description(oid, 'pg_namespace')` shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

/// The comment PostgreSQL's `public` schema has until one is set.
const PUBLIC_COMMENT: &str = "standard public schema";

/// Reads and writes catalog entries in the warehouse.
#[derive(Debug, Clone)]
pub struct Metastore {
    root: StorageLocation,
    cache: Arc<EntryCache>,
    /// The stamp's file, for a local warehouse (its path made once: it was a fifth
    /// of the stamp's check).
    local_stamp: Option<Arc<std::path::Path>>,
}

/// An object's version as listings and reads report it: its ETag where the store
/// gives one, else its modification time and size.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Version {
    e_tag: Option<String>,
    modified: chrono::DateTime<chrono::Utc>,
    size: u64,
}

impl Version {
    fn of(meta: &object_store::ObjectMeta) -> Self {
        Self {
            e_tag: meta.e_tag.clone(),
            modified: meta.last_modified,
            size: meta.size,
        }
    }

    fn same(&self, other: &Self) -> bool {
        match (&self.e_tag, &other.e_tag) {
            (Some(a), Some(b)) => a == b,
            _ => self.modified == other.modified && self.size == other.size,
        }
    }
}

/// Table entries read before, kept while the last listing shows the same version
/// of their object: listing a thousand tables (pg_class, `\dt`) then costs one LIST,
/// not a thousand GETs. An entry whose object changed (another server's DDL) is read
/// again; this server's own writes drop theirs at once.
#[derive(Debug, Default)]
struct EntryCache {
    listed: std::sync::RwLock<HashMap<String, Version>>,
    /// Shared: a query's lookup takes a reference, not a copy of the column list.
    entries: std::sync::RwLock<HashMap<String, (Version, Arc<TableEntry>)>>,
    /// See [`Metastore::state`].
    state: std::sync::atomic::AtomicU64,
    /// See [`Metastore::changes`].
    changes: std::sync::atomic::AtomicU64,
}

impl EntryCache {
    fn get(&self, key: &str) -> Option<Arc<TableEntry>> {
        let listed = self.listed.read().unwrap_or_else(|e| e.into_inner());
        let version = listed.get(key)?;
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries
            .get(key)
            .filter(|(v, _)| v.same(version))
            .map(|(_, entry)| Arc::clone(entry))
    }

    fn put(&self, key: &str, version: Version, entry: &Arc<TableEntry>) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), (version, Arc::clone(entry)));
    }

    fn forget(&self, key: &str) {
        self.state
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        self.listed
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// Everything the metastore lists: schema name to its table names.
pub type Listing = BTreeMap<String, BTreeSet<String>>;

/// The hash [`Metastore::state`] reports for a listing and its entries' versions.
fn state_of(listing: &Listing, versions: &HashMap<String, Version>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    listing.hash(&mut hasher);
    let mut versions: Vec<_> = versions.iter().collect();
    versions.sort_by(|a, b| a.0.cmp(b.0));
    versions.hash(&mut hasher);
    hasher.finish()
}

impl Metastore {
    pub fn new(root: StorageLocation) -> Self {
        Self {
            local_stamp: root.local_file(STAMP).map(Arc::from),
            root,
            cache: Arc::new(EntryCache::default()),
        }
    }

    pub fn root(&self) -> &StorageLocation {
        &self.root
    }

    /// Lists every schema and table name with one recursive listing of the catalog
    /// prefix; no table entry or Delta log is read.
    pub async fn list(&self) -> Result<Listing> {
        let mut listing = Listing::new();
        listing.insert(DEFAULT_SCHEMA.to_owned(), BTreeSet::new());
        let prefix = self.root.path("_tarn/catalog");
        let prefix_parts = prefix.parts().count();
        let mut objects = self.root.store().list(Some(&prefix));
        let mut versions = HashMap::new();
        while let Some(meta) = objects.try_next().await? {
            let parts: Vec<String> = meta
                .location
                .parts()
                .skip(prefix_parts)
                .map(|p| p.as_ref().to_owned())
                .collect();
            match parts.as_slice() {
                [kind, file] if kind == "schemas" => {
                    if let Some(name) = file.strip_suffix(".json") {
                        listing.entry(name.to_owned()).or_default();
                    }
                }
                [kind, schema, file] if kind == "tables" => {
                    versions.insert(format!("{TABLES}/{schema}/{file}"), Version::of(&meta));
                    if let Some(name) = file.strip_suffix(".json") {
                        listing
                            .entry(schema.clone())
                            .or_default()
                            .insert(name.to_owned());
                    }
                }
                _ => {}
            }
        }
        self.cache.state.store(
            state_of(&listing, &versions),
            std::sync::atomic::Ordering::Relaxed,
        );
        *self.cache.listed.write().unwrap_or_else(|e| e.into_inner()) = versions;
        Ok(listing)
    }

    /// A number that changes when the catalog does: a hash of the names and entry
    /// versions the last [`Metastore::list`] saw, moved on by this server's own
    /// writes until the next listing. What is built from the catalog (pg_catalog's
    /// tables) can be kept while it stays the same. Relations whose columns are not
    /// recorded in their entries (views, external files) change with their entry,
    /// not with the files or tables under them.
    pub fn state(&self) -> u64 {
        self.cache.state.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The catalog stamp: a token that every change to an entry replaces (`None`
    /// until the first change). When it reads the same as before a listing, no
    /// entry was created, replaced or removed since, by this server or another one
    /// that wrote through a [`Metastore`].
    pub async fn stamp(&self) -> Result<Option<Vec<u8>>> {
        // A local warehouse's stamp (checked at every statement) is looked at on this
        // thread: the object store's hand-off to the blocking pool cost more. On Unix
        // its file's identity stands for its contents, in one `stat` rather than an
        // open, a read and a close (3% of a short query's CPU): the object store
        // writes each new token to a new file renamed over the old, so every change
        // makes a new inode with a new modification time (object_store's own e-tags
        // for local files are made of the inode, the time and the size too).
        if let Some(file) = &self.local_stamp {
            #[cfg(unix)]
            let looked = std::fs::metadata(file).map(|m| {
                use std::os::unix::fs::MetadataExt;
                let mut token = Vec::with_capacity(40);
                for part in [
                    m.dev(),
                    m.ino(),
                    m.mtime() as u64,
                    m.mtime_nsec() as u64,
                    m.len(),
                ] {
                    token.extend_from_slice(&part.to_le_bytes());
                }
                token
            });
            #[cfg(not(unix))]
            let looked = std::fs::read(file);
            return match looked {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(object_store::Error::Generic {
                    store: "LocalFileSystem",
                    source: Box::new(e),
                }
                .into()),
            };
        }
        match self.root.store().get(&self.root.path(STAMP)).await {
            Ok(result) => Ok(Some(result.bytes().await?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// How many changes this server made to entries: a listing made before the
    /// last of them is out of date even if the stamp could not be renewed.
    pub fn changes(&self) -> u64 {
        self.cache
            .changes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Replaces the stamp after a change to an entry. The change itself is done and
    /// stays done if this fails: other servers then see it at their next periodic
    /// listing (see `Lake::refresh`) or the next change's stamp, so it is logged, not
    /// returned.
    async fn stamp_change(&self) {
        self.cache
            .changes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let written = self
            .root
            .store()
            .put(&self.root.path(STAMP), PutPayload::from(token.into_bytes()))
            .await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "catalog changed but its stamp was not renewed");
        }
    }

    pub async fn schema_exists(&self, name: &str) -> Result<bool> {
        if name == DEFAULT_SCHEMA {
            return Ok(true);
        }
        let path = self.root.path(&format!("{SCHEMAS}/{name}.json"));
        match self.root.store().head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn create_schema(&self, name: &str) -> Result<()> {
        if name == DEFAULT_SCHEMA {
            return Err(CatalogError::SchemaExists {
                name: name.to_owned(),
            });
        }
        let entry = SchemaEntry {
            name: name.to_owned(),
            created_at: now(),
            comment: None,
        };
        let path = format!("{SCHEMAS}/{name}.json");
        self.put_new(&path, &entry).await.map_err(|e| match e {
            CatalogError::ObjectStore(object_store::Error::AlreadyExists { .. }) => {
                CatalogError::SchemaExists {
                    name: name.to_owned(),
                }
            }
            other => other,
        })?;
        self.stamp_change().await;
        Ok(())
    }

    /// Schema `name`'s entry; `public` has one only once something was recorded for
    /// it (a comment).
    async fn schema_entry(&self, name: &str) -> Result<Option<SchemaEntry>> {
        let key = format!("{SCHEMAS}/{name}.json");
        Ok(self.read_entry(&key).await?.map(|(_, entry)| entry))
    }

    /// Schema `name`'s comment (`public`'s is PostgreSQL's until one is set).
    pub async fn schema_comment(&self, name: &str) -> Result<Option<String>> {
        match self.schema_entry(name).await? {
            Some(entry) => Ok(entry.comment),
            None if name == DEFAULT_SCHEMA => Ok(Some(PUBLIC_COMMENT.to_owned())),
            None => Ok(None),
        }
    }

    /// `COMMENT ON SCHEMA name IS comment` (`None`: `IS NULL`).
    pub async fn set_schema_comment(&self, name: &str, comment: Option<&str>) -> Result<()> {
        let entry = match self.schema_entry(name).await? {
            Some(entry) => entry,
            None if name == DEFAULT_SCHEMA => SchemaEntry {
                name: name.to_owned(),
                created_at: now(),
                comment: None,
            },
            None => {
                return Err(CatalogError::SchemaNotFound {
                    name: name.to_owned(),
                });
            }
        };
        let entry = SchemaEntry {
            comment: comment.map(str::to_owned),
            ..entry
        };
        self.overwrite(&format!("{SCHEMAS}/{name}.json"), &entry)
            .await
    }

    pub async fn drop_schema(&self, name: &str) -> Result<()> {
        let path = self.root.path(&format!("{SCHEMAS}/{name}.json"));
        match self.root.store().delete(&path).await {
            Ok(()) => {
                self.stamp_change().await;
                Ok(())
            }
            Err(object_store::Error::NotFound { .. }) => Err(CatalogError::SchemaNotFound {
                name: name.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The table's entry, or `None` when the metastore has no such table.
    pub async fn table(&self, schema: &str, name: &str) -> Result<Option<TableEntry>> {
        Ok(self
            .shared_table(schema, name)
            .await?
            .map(Arc::unwrap_or_clone))
    }

    /// [`Metastore::table`], shared with the cache (what a query's lookup takes).
    pub async fn shared_table(&self, schema: &str, name: &str) -> Result<Option<Arc<TableEntry>>> {
        let key = format!("{TABLES}/{schema}/{name}.json");
        if let Some(entry) = self.cache.get(&key) {
            return Ok(Some(entry));
        }
        let Some((version, entry)) = self.read_entry::<TableEntry>(&key).await? else {
            return Ok(None);
        };
        let entry = Arc::new(entry);
        self.cache.put(&key, version, &entry);
        Ok(Some(entry))
    }

    /// Records a new table; fails with [`CatalogError::TableExists`] if the name is
    /// taken, even by a concurrent writer on another server.
    pub async fn create_table(&self, entry: &TableEntry) -> Result<()> {
        let key = format!("{TABLES}/{}/{}.json", entry.schema, entry.name);
        self.cache.forget(&key);
        self.put_new(&key, entry).await.map_err(|e| match e {
            CatalogError::ObjectStore(object_store::Error::AlreadyExists { .. }) => {
                CatalogError::TableExists {
                    schema: entry.schema.clone(),
                    name: entry.name.clone(),
                }
            }
            other => other,
        })?;
        self.stamp_change().await;
        Ok(())
    }

    /// Overwrites an existing entry (`CREATE OR REPLACE VIEW`).
    pub async fn replace_table(&self, entry: &TableEntry) -> Result<()> {
        let key = format!("{TABLES}/{}/{}.json", entry.schema, entry.name);
        self.cache.forget(&key);
        self.overwrite(&key, entry).await
    }

    pub async fn drop_table(&self, schema: &str, name: &str) -> Result<()> {
        self.cache.forget(&format!("{TABLES}/{schema}/{name}.json"));
        let path = self.root.path(&format!("{TABLES}/{schema}/{name}.json"));
        match self.root.store().delete(&path).await {
            Ok(()) => {
                self.stamp_change().await;
                Ok(())
            }
            Err(object_store::Error::NotFound { .. }) => Err(CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    async fn put_new<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.root
            .store()
            .put_opts(&self.root.path(key), entry_body(key, value)?, options)
            .await?;
        Ok(())
    }

    /// Writes `value` at `key` whatever was there, and marks the catalog changed.
    async fn overwrite<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.root
            .store()
            .put(&self.root.path(key), entry_body(key, value)?)
            .await?;
        self.stamp_change().await;
        Ok(())
    }

    /// The entry at `key` and the version read, `None` if there is none.
    async fn read_entry<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(Version, T)>> {
        let (version, bytes) = match self.root.store().get(&self.root.path(key)).await {
            Ok(result) => (Version::of(&result.meta), result.bytes().await?),
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let entry = serde_json::from_slice(&bytes).map_err(|e| CatalogError::InvalidEntry {
            path: key.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Some((version, entry)))
    }
}

/// `value` as the JSON a catalog entry at `key` holds.
fn entry_body<T: Serialize>(key: &str, value: &T) -> Result<PutPayload> {
    serde_json::to_vec_pretty(value)
        .map(PutPayload::from)
        .map_err(|e| CatalogError::InvalidEntry {
            path: key.to_owned(),
            reason: e.to_string(),
        })
}

/// The files of a dropped managed table, kept until `dropped_at` plus the catalog's
/// grace period so that queries which resolved the table before the drop can finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredEntry {
    /// Relative to the warehouse root, as in [`TableEntry::location`].
    pub location: String,
    pub dropped_at: String,
}

impl Metastore {
    /// Records that `location`'s files are to be removed later; returns the record's key.
    pub async fn retire(&self, location: &str) -> Result<String> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let key = format!("{RETIRED}/{id}.json");
        let entry = RetiredEntry {
            location: location.to_owned(),
            dropped_at: now(),
        };
        self.put_new(&key, &entry).await?;
        Ok(key)
    }

    /// Every retired location not yet removed, with its record's key.
    pub async fn retired(&self) -> Result<Vec<(String, RetiredEntry)>> {
        let prefix = self.root.path(RETIRED);
        let metas: Vec<object_store::ObjectMeta> =
            self.root.store().list(Some(&prefix)).try_collect().await?;
        let mut out = Vec::new();
        for meta in metas {
            let bytes = self.root.store().get(&meta.location).await?.bytes().await?;
            let Some(file) = meta.location.filename() else {
                continue;
            };
            let key = format!("{RETIRED}/{file}");
            match serde_json::from_slice::<RetiredEntry>(&bytes) {
                Ok(entry) => out.push((key, entry)),
                Err(e) => tracing::warn!(%key, error = %e, "unreadable retired-files record"),
            }
        }
        Ok(out)
    }

    /// Removes a retired-files record (after its files are gone).
    pub async fn forget_retired(&self, key: &str) -> Result<()> {
        match self.root.store().delete(&self.root.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
