//! The names a session sees besides the shared catalog's: its temporary tables, and the
//! catalog changes of its open transaction block.
//!
//! **Temporary tables** live in a schema of the session's own, `pg_temp_<id>`, made at
//! the first `CREATE TEMPORARY TABLE` and dropped with the session (or by `DISCARD`).
//! As in PostgreSQL, unqualified names look there first, and `pg_temp.x` names it.
//! They are managed Delta tables like any other, so INSERT, DELETE, UPDATE, MERGE and
//! COPY work on them unchanged, and nothing is held in memory.
//!
//! **Catalog changes in a transaction block.** Entries are single objects, so a
//! multi-statement swap such as dbt's
//!
//! ```text
//! BEGIN; CREATE TABLE x__tmp AS ...; ALTER TABLE x RENAME TO x__backup;
//!        ALTER TABLE x__tmp RENAME TO x; COMMIT;
//! ```
//!
//! cannot become visible in one step. Tarn keeps the promise that matters to readers:
//! **a name that exists before and after the transaction exists throughout it**, and
//! switches from the old table to the new one in one atomic overwrite of its entry.
//! Inside a block, `RENAME` creates the new name at once but only hides the old name
//! from this session; `DROP` hides the name. A rename *onto* a hidden name overwrites
//! its entry in place. At `COMMIT` the hidden names are removed; at `ROLLBACK` (or
//! when the session ends inside the block) every entry the block wrote is restored,
//! tables it created are dropped, and hidden names were never gone. New names (the
//! `x__tmp` above) are visible to other sessions from their statement on. Rows written
//! by INSERT, UPDATE, DELETE, MERGE and COPY are committed by their statement, and
//! taken back by ROLLBACK through the session's journal (`super::journal`). Files of dropped tables stay for `dropped_files_kept`, so a
//! query that resolved the old `x` reads it to its end.

use tarn_catalog::{CatalogError, LakeCatalog, TableEntry, TableKind};
use tracing::warn;

use crate::error::Result;

/// The prefix of every session's temporary schema, as in PostgreSQL.
pub const TEMP_SCHEMA_PREFIX: &str = "pg_temp_";

/// A fresh name for a session's temporary schema.
pub(crate) fn new_temp_schema() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{TEMP_SCHEMA_PREFIX}{}", &id[..12])
}

/// One entry the open block wrote, with what was there before it.
#[derive(Debug, Clone)]
struct Undo {
    schema: String,
    name: String,
    before: Option<TableEntry>,
    /// Written by a CREATE (its files are the block's own), not a rename.
    created: bool,
}

/// A name gone for this session and removed from the catalog at COMMIT.
#[derive(Debug, Clone)]
struct Hidden {
    entry: TableEntry,
    /// Dropped (its files go at COMMIT) rather than renamed (its files live on under
    /// the new name).
    dropped: bool,
}

/// The catalog changes of the open transaction block.
#[derive(Debug, Default, Clone)]
pub(crate) struct Pending {
    undo: Vec<Undo>,
    hidden: Vec<Hidden>,
    /// Tables replaced by a rename onto their hidden name: their files go at COMMIT.
    replaced: Vec<TableEntry>,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.undo.is_empty() && self.hidden.is_empty() && self.replaced.is_empty()
    }

    pub(crate) fn is_hidden(&self, schema: &str, name: &str) -> bool {
        self.hidden
            .iter()
            .any(|h| h.entry.schema == schema && h.entry.name == name)
    }

    fn unhide(&mut self, schema: &str, name: &str) -> Option<Hidden> {
        let at = self
            .hidden
            .iter()
            .position(|h| h.entry.schema == schema && h.entry.name == name)?;
        Some(self.hidden.remove(at))
    }

    /// Records that a CREATE in the block wrote `schema.name`, which held `before`
    /// (`Some` only for `IF NOT EXISTS` and `OR REPLACE`).
    pub(crate) fn created(&mut self, schema: &str, name: &str, before: Option<TableEntry>) {
        self.undo.push(Undo {
            schema: schema.to_owned(),
            name: name.to_owned(),
            created: before.is_none(),
            before,
        });
    }

    /// An entry the block overwrote in place (`COMMENT ON`): ROLLBACK restores
    /// `before`.
    pub(crate) fn rewrote(&mut self, before: TableEntry) {
        let (schema, name) = (before.schema.clone(), before.name.clone());
        self.renamed_onto(&schema, &name, Some(before));
    }

    fn renamed_onto(&mut self, schema: &str, name: &str, before: Option<TableEntry>) {
        self.undo.push(Undo {
            schema: schema.to_owned(),
            name: name.to_owned(),
            before,
            created: false,
        });
    }

    /// `ALTER TABLE schema.name RENAME TO new` inside a block.
    pub(crate) async fn rename(
        &mut self,
        catalog: &LakeCatalog,
        schema: &str,
        name: &str,
        new: &str,
    ) -> Result<()> {
        let metastore = catalog.metastore();
        let missing = || CatalogError::TableNotFound {
            schema: schema.to_owned(),
            name: name.to_owned(),
        };
        if self.is_hidden(schema, name) {
            return Err(missing().into());
        }
        let entry = metastore.table(schema, name).await?.ok_or_else(missing)?;
        let renamed = TableEntry {
            name: new.to_owned(),
            ..entry.clone()
        };
        if self.is_hidden(schema, new) {
            // The old table under `new` is on its way out: switch the name over to
            // this one in a single overwrite, so readers of `new` never miss it.
            let before = metastore.table(schema, new).await?;
            metastore.replace_table(&renamed).await?;
            self.renamed_onto(schema, new, before);
            if let Some(hidden) = self.unhide(schema, new)
                && hidden.dropped
            {
                self.replaced.push(hidden.entry);
            }
        } else {
            metastore.create_table(&renamed).await?;
            self.renamed_onto(schema, new, None);
        }
        self.hidden.push(Hidden {
            entry,
            dropped: false,
        });
        catalog.refresh().await?;
        Ok(())
    }

    /// `DROP TABLE` / `DROP VIEW` inside a block: the name is hidden now and removed at
    /// COMMIT. Returns `false` when there was nothing to drop.
    pub(crate) async fn drop(
        &mut self,
        catalog: &LakeCatalog,
        schema: &str,
        name: &str,
        view: bool,
    ) -> Result<bool> {
        if self.is_hidden(schema, name) {
            return Ok(false);
        }
        let Some(entry) = catalog.metastore().table(schema, name).await? else {
            return Ok(false);
        };
        if (entry.kind == TableKind::View) != view {
            return Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: if view { "a view" } else { "a table" },
            }
            .into());
        }
        self.hidden.push(Hidden {
            entry,
            dropped: true,
        });
        Ok(true)
    }

    /// Makes the block's changes final: hidden names go, and dropped tables' files
    /// are retired.
    pub(crate) async fn commit(self, catalog: &LakeCatalog) -> Result<()> {
        let metastore = catalog.metastore();
        for hidden in &self.hidden {
            let entry = &hidden.entry;
            // Only if the name still holds what was hidden (nobody replaced it since).
            let current = metastore.table(&entry.schema, &entry.name).await?;
            if current.as_ref().map(|c| &c.location) == Some(&entry.location)
                && current.as_ref().map(|c| &c.definition) == Some(&entry.definition)
            {
                catalog.discard_entry(entry, hidden.dropped).await?;
            }
        }
        for entry in &self.replaced {
            catalog.retire_entry_files(entry).await;
        }
        catalog.refresh().await?;
        Ok(())
    }

    /// Undoes the block's changes: entries it wrote get back what they held, tables
    /// it created are dropped (entries only exist until COMMIT removes them, so a
    /// created table's entry is still under its first name even if renamed since);
    /// hidden names were never removed.
    pub(crate) async fn rollback(self, catalog: &LakeCatalog) -> Result<()> {
        let metastore = catalog.metastore();
        for undo in self.undo.iter().rev() {
            match &undo.before {
                Some(before) => metastore.replace_table(before).await?,
                None => {
                    if let Some(entry) = metastore.table(&undo.schema, &undo.name).await? {
                        catalog.discard_entry(&entry, undo.created).await?;
                    }
                }
            }
        }
        catalog.refresh().await?;
        Ok(())
    }
}

/// Ends a session's leftovers where no statement can report an error: a block left
/// open is rolled back, the temporary schema dropped.
pub(crate) async fn close(catalog: LakeCatalog, pending: Pending, temp: Option<String>) {
    if !pending.is_empty()
        && let Err(e) = pending.rollback(&catalog).await
    {
        warn!(error = %e, "could not roll back an open transaction's catalog changes");
    }
    if let Some(schema) = temp
        && let Err(e) = catalog.drop_temporary_schema(&schema).await
    {
        warn!(%schema, error = %e, "could not drop a temporary schema");
    }
}
