//! Undoing the data changes of a transaction block.
//!
//! Every statement that changes a table's rows (INSERT, UPDATE, DELETE, MERGE,
//! TRUNCATE, COPY FROM) is one Delta commit, made when the statement ends, as
//! everywhere in Tarn. Inside a `BEGIN ... COMMIT` block the SQL layer also notes
//! which commits each statement made ([`Written`]); `ROLLBACK` then makes one more
//! commit per table that takes back exactly those: the data files they added are
//! removed and the ones they removed are added again (with their statistics, read
//! from the version before). The files themselves never move, so this is cheap
//! whatever the size of the change, and a reader of an older version still reads it.
//!
//! To know which commits were a statement's own, [`Lake::begin_write`] lets a
//! statement that notes its commits write its table alone (within this server):
//! other statements writing the same table wait until it ends. Statements outside a
//! block share the table with each other, as before.
//!
//! What this does not give is isolation: the rows are committed while the block
//! runs, so other sessions see them before `COMMIT` (and a server that stops inside
//! the block keeps them). If another writer removed a file the block added (a DELETE
//! of those rows from another session, or OPTIMIZE), those rows cannot be taken back;
//! the rollback undoes the rest and says which table it could not undo in full.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::kernel::transaction::CommitBuilder;
use deltalake::kernel::{Action, Add, Remove};
use deltalake::protocol::DeltaOperation;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};
use url::Url;

use crate::error::Result;
use crate::lake::{Lake, delta_error};
use crate::metastore::TableKind;
use crate::table;

/// A statement's change to one table's rows, from [`Lake::begin_write`] until
/// [`Lake::end_write`]. Holds the table's write lock.
#[derive(Debug)]
pub struct TableWrite {
    /// The table and its version before the change, when the change is noted.
    noted: Option<Noted>,
    _lock: Option<WriteLock>,
}

#[derive(Debug)]
struct Noted {
    schema: String,
    name: String,
    location: String,
    url: Url,
    before: Option<u64>,
}

#[derive(Debug)]
enum WriteLock {
    /// Shared with other statements that do not note their commits.
    Shared(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    /// The table's only writer in this server while the statement runs.
    Alone(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

/// The commits one statement made to one Delta table: versions `first..=last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The table's name when written, whose catalog entry lists its columns.
    schema: String,
    name: String,
    /// The table's location as its catalog entry holds it (the key it is cached by).
    location: String,
    url: Url,
    first: u64,
    last: u64,
}

impl Written {
    /// How many commits the statement made.
    pub fn commits(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// What a rollback could not take back, table by table.
#[derive(Debug, Default)]
pub struct Undone {
    /// Tables with rows the rollback could not remove: the files holding them were
    /// removed by another writer since (their location, redacted, and how many).
    pub kept: Vec<(String, usize)>,
}

impl Lake {
    /// Starts a change to the rows of `schema.name`. With `noted`, the change writes
    /// the table alone in this server, and [`Lake::end_write`] tells which commits it
    /// made; without, it only waits for such a change to end. Names that are not
    /// Delta tables (or do not exist) give a write that notes nothing: the statement
    /// reports the problem itself.
    pub async fn begin_write(&self, schema: &str, name: &str, noted: bool) -> Result<TableWrite> {
        let Some(entry) = self.metastore().shared_table(schema, name).await? else {
            return Ok(TableWrite {
                noted: None,
                _lock: None,
            });
        };
        if !matches!(
            entry.kind,
            TableKind::ManagedDelta | TableKind::ExternalDelta
        ) {
            return Ok(TableWrite {
                noted: None,
                _lock: None,
            });
        }
        let lock = Arc::clone(
            self.writing
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(entry.location.clone())
                .or_insert_with(|| Arc::new(RwLock::new(()))),
        );
        if !noted {
            return Ok(TableWrite {
                noted: None,
                _lock: Some(WriteLock::Shared(lock.read_owned().await)),
            });
        }
        let lock = WriteLock::Alone(lock.write_owned().await);
        let (location, delta) = self.delta_table_of(entry).await?;
        Ok(TableWrite {
            noted: Some(Noted {
                schema: schema.to_owned(),
                name: name.to_owned(),
                location,
                url: delta.table_url().clone(),
                before: delta.version(),
            }),
            _lock: Some(lock),
        })
    }

    /// Ends a change begun with [`Lake::begin_write`]: the commits it made, if it
    /// noted them and made any.
    pub async fn end_write(&self, write: TableWrite) -> Result<Option<Written>> {
        let Some(Noted {
            schema,
            name,
            location,
            url,
            before,
        }) = write.noted
        else {
            return Ok(None);
        };
        let delta = self.catch_up(&location, &url).await?;
        let first = before.map_or(0, |v| v + 1);
        Ok(match delta.version() {
            Some(last) if last >= first => Some(Written {
                schema,
                name,
                location,
                url,
                first,
                last,
            }),
            _ => None,
        })
    }

    /// Takes back the commits in `written` (a block's, in the order made): one
    /// commit per table, removing the files they added and adding again the files
    /// they removed.
    pub async fn undo_writes(&self, written: &[Written]) -> Result<Undone> {
        let mut tables: Vec<(&Written, Vec<u64>)> = Vec::new();
        for w in written {
            let versions = w.first..=w.last;
            match tables.iter_mut().find(|(t, _)| t.location == w.location) {
                Some((_, all)) => all.extend(versions),
                None => tables.push((w, versions.collect())),
            }
        }
        let mut undone = Undone::default();
        for (table, mut versions) in tables {
            versions.sort_unstable();
            versions.dedup();
            let (location, url) = (&table.location, &table.url);
            let (kept, schema_restored) = self.undo_table(location, url, &versions).await?;
            if schema_restored {
                let delta = self.catch_up(location, url).await?;
                self.record_columns(&table.schema, &table.name, location, &delta)
                    .await;
            }
            if kept > 0 {
                undone
                    .kept
                    .push((tarn_connectors::storage::redact(url), kept));
            }
        }
        Ok(undone)
    }

    /// Undoes `versions` of the table at `location`; how many of the files they
    /// added could not be removed, and whether the table's schema was restored.
    async fn undo_table(
        &self,
        location: &str,
        url: &Url,
        versions: &[u64],
    ) -> Result<(usize, bool)> {
        let delta = self.catch_up(location, url).await?;
        let log_store = delta.log_store();
        // The net change: files added and not removed again, files removed that
        // were there before (with the version that removed them).
        let mut added: HashSet<String> = HashSet::new();
        let mut removed: HashMap<String, u64> = HashMap::new();
        // Whether a commit changed the table's schema or properties (ALTER TABLE).
        let mut metadata_changed = false;
        for &version in versions {
            let Some(bytes) = log_store
                .read_commit_entry(version)
                .await
                .map_err(delta_error(url))?
            else {
                continue;
            };
            for action in
                deltalake::logstore::get_actions(version, &bytes).map_err(delta_error(url))?
            {
                match action {
                    Action::Add(Add { path, .. }) => {
                        if removed.remove(&path).is_none() {
                            added.insert(path);
                        }
                    }
                    Action::Remove(Remove { path, .. }) => {
                        if !added.remove(&path) {
                            removed.insert(path, version);
                        }
                    }
                    Action::Metadata(_) => metadata_changed = true,
                    _ => {}
                }
            }
        }
        if added.is_empty() && removed.is_empty() && !metadata_changed {
            return Ok((0, false));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let snapshot = delta.snapshot().map_err(delta_error(url))?;
        let mut actions = Vec::new();
        let first = versions.first().copied().unwrap_or_default();
        if metadata_changed && let Some(before) = first.checked_sub(1) {
            // The schema (and properties) as they were before the block's first commit
            // here: the files added again below were written under it.
            let before = table::open_at(
                url,
                &self.options_for(url),
                table::At::Version(before as i64),
            )
            .await?;
            let metadata = before
                .snapshot()
                .map_err(delta_error(url))?
                .metadata()
                .clone();
            actions.push(Action::Metadata(metadata));
        }
        let mut current: HashSet<String> = HashSet::new();
        for file in snapshot.log_data().iter() {
            let path = file.path().into_owned();
            if added.contains(&path) {
                let mut remove = file.remove_action(true);
                remove.deletion_timestamp = Some(now);
                actions.push(Action::Remove(remove));
            }
            current.insert(path);
        }
        let kept = added.iter().filter(|p| !current.contains(*p)).count();
        // Files to add again, as the version before their removal listed them.
        let mut by_version: HashMap<u64, Vec<String>> = HashMap::new();
        for (path, version) in removed {
            if !current.contains(&path) {
                by_version.entry(version).or_default().push(path);
            }
        }
        for (version, paths) in by_version {
            let wanted: HashSet<String> = paths.into_iter().collect();
            let before = table::open_at(
                url,
                &self.options_for(url),
                table::At::Version(version as i64 - 1),
            )
            .await?;
            let state = before.snapshot().map_err(delta_error(url))?;
            for file in state.log_data().iter() {
                if wanted.contains(file.path().as_ref()) {
                    #[allow(deprecated)]
                    let mut add = file.add_action();
                    add.data_change = true;
                    check_file(&delta, &add.path)
                        .await
                        .map_err(delta_error(url))?;
                    actions.push(Action::Add(add));
                }
            }
        }
        if actions.is_empty() {
            return Ok((kept, false));
        }
        let contiguous = versions.last().copied() == delta.version()
            && versions.windows(2).all(|w| w[1] == w[0] + 1);
        let operation = DeltaOperation::Restore {
            version: contiguous.then(|| first.checked_sub(1)).flatten(),
            datetime: None,
        };
        let metadata = HashMap::from([(
            "tarnRollback".to_owned(),
            serde_json::json!({ "versions": versions }),
        )]);
        let commit = CommitBuilder::default()
            .with_actions(actions)
            .with_app_metadata(metadata)
            .build(Some(snapshot), log_store, operation)
            .await
            .map_err(delta_error(url))?;
        tracing::info!(
            location,
            undone = ?versions,
            version = commit.version(),
            "rolled back a transaction block's commits"
        );
        Ok((kept, metadata_changed))
    }
}

/// Fails unless the data file at `path` (relative to the table) still exists: adding
/// a file that a VACUUM deleted would leave the table unreadable.
async fn check_file(delta: &DeltaTable, path: &str) -> deltalake::DeltaResult<()> {
    let path = object_store::path::Path::parse(path)?;
    object_store::ObjectStoreExt::head(delta.object_store().as_ref(), &path).await?;
    Ok(())
}
