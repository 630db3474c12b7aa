//! The data changes of an open transaction block, so that `ROLLBACK` (and `ROLLBACK
//! TO SAVEPOINT`) can take them back.
//!
//! Each statement that changes rows (INSERT, UPDATE, DELETE, MERGE, TRUNCATE, COPY
//! FROM) or a table's columns (ALTER TABLE, `super::alter`) commits to its Delta table
//! when it ends. Inside a block it first takes the table's write lock for itself ([`tarn_catalog::undo`]), so the commits made while
//! it runs are its own, and notes them here; `ROLLBACK` undoes the noted commits with
//! one commit per table, `COMMIT` forgets them. Readers in other sessions see the
//! rows from the statement on (there is no isolation between sessions).

use std::sync::{Arc, Mutex};

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{self, ObjectName, Statement as SqlStatement};
use tarn_catalog::{LakeCatalog, TableWrite, Written};

use super::{Session, TransactionState};
use crate::error::{Result, SqlError};

/// The commits of the open block's row changes, in the order made. Shared with the
/// loader of a COPY FROM STDIN, which commits after its statement has returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct Journal(Arc<Mutex<Vec<Written>>>);

impl Journal {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Written>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many statements' commits are noted (a savepoint's mark).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Forgets and returns what was noted after `mark`.
    pub(crate) fn take_since(&self, mark: usize) -> Vec<Written> {
        let mut noted = self.lock();
        let mark = mark.min(noted.len());
        noted.split_off(mark)
    }
}

/// A row change in progress: the table's write lock, and where its commits go.
#[derive(Debug)]
pub(crate) struct RowChange {
    write: TableWrite,
    journal: Option<Journal>,
    catalog: LakeCatalog,
}

impl RowChange {
    /// Ends the change: notes its commits (for a change inside a block) and releases
    /// the table.
    pub(crate) async fn end(self) -> Result<()> {
        let written = self.catalog.end_write(self.write).await?;
        if let (Some(journal), Some(written)) = (self.journal, written) {
            journal.lock().push(written);
        }
        Ok(())
    }
}

/// The table a statement changes the rows of, if it is one that does.
pub(crate) fn row_change_target(statement: &DFStatement) -> Option<ObjectName> {
    let DFStatement::Statement(statement) = statement else {
        return None;
    };
    match statement.as_ref() {
        SqlStatement::Insert(insert) => match &insert.table {
            ast::TableObject::TableName(name) => Some(name.clone()),
            _ => None,
        },
        SqlStatement::Update(update) => relation(&update.table.relation),
        SqlStatement::Delete(delete) => {
            let (ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from)) =
                &delete.from;
            from.first().and_then(|t| relation(&t.relation))
        }
        SqlStatement::Merge(merge) => relation(&merge.table),
        SqlStatement::Truncate(truncate) => truncate.table_names.first().map(|t| t.name.clone()),
        // Column changes rewrite the table or its schema in a commit (`super::alter`).
        SqlStatement::AlterTable(alter)
            if alter.operations.iter().any(super::alter::is_column_change) =>
        {
            Some(alter.name.clone())
        }
        // REFRESH MATERIALIZED VIEW rewrites its rows in a commit.
        SqlStatement::Call(call) => super::matview::refreshed_name(call),
        _ => None,
    }
}

fn relation(factor: &ast::TableFactor) -> Option<ObjectName> {
    match factor {
        ast::TableFactor::Table { name, .. } => Some(name.clone()),
        _ => None,
    }
}

impl Session {
    /// Starts a change to the rows of table `name`: inside a block, alone on the
    /// table and noted for `ROLLBACK`.
    pub(crate) async fn begin_row_change(&self, name: &ObjectName) -> Result<RowChange> {
        let (schema, table) =
            self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
        let in_block = self.transaction_state() != TransactionState::Idle;
        let catalog = self.engine.catalog().clone();
        let write = catalog.begin_write(&schema, &table, in_block).await?;
        Ok(RowChange {
            write,
            journal: in_block.then(|| self.journal.clone()),
            catalog,
        })
    }

    /// Takes back the row changes noted after `mark` (0: the whole block's).
    pub(crate) async fn undo_row_changes(&self, mark: usize) -> Result<()> {
        let written = self.journal.take_since(mark);
        if written.is_empty() {
            return Ok(());
        }
        let undone = self.engine.catalog().undo_writes(&written).await?;
        match undone.kept.as_slice() {
            [] => Ok(()),
            kept => Err(SqlError::RowsNotUndone(
                kept.iter()
                    .map(|(table, files)| format!("{table} ({files} file(s))"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        }
    }
}

/// Ends a session's open block where no statement can report an error (the session
/// closed inside it): its row changes are taken back.
pub(crate) async fn close(catalog: &LakeCatalog, journal: Journal) {
    let written = journal.take_since(0);
    if written.is_empty() {
        return;
    }
    match catalog.undo_writes(&written).await {
        Ok(undone) if undone.kept.is_empty() => {}
        Ok(undone) => {
            tracing::warn!(kept = ?undone.kept, "a closed session's open block kept rows another writer had rewritten")
        }
        Err(e) => tracing::warn!(error = %e, "could not roll back a closed session's row changes"),
    }
}
