//! `MERGE INTO` as plain data, applied to a Delta table in one commit.
//!
//! The SQL layer parses the statement and plans the source; the catalog hands both to
//! deltalake's merge, which joins target and source and rewrites only the files that
//! hold matched rows. Conditions and values are SQL text that deltalake parses against
//! the joined schema, where columns are qualified by the two aliases.

use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::prelude::DataFrame;
use deltalake::operations::merge::MergeBuilder;
use tracing::instrument;

use crate::error::Result;
use crate::lake::{Lake, delta_error};

/// One `MERGE` statement.
pub struct Merge {
    /// The rows to merge in (`USING ...`).
    pub source: DataFrame,
    /// The name the source's columns are qualified by in conditions and values.
    pub source_alias: String,
    /// The name the target's columns are qualified by.
    pub target_alias: String,
    /// The join condition (`ON ...`), SQL text.
    pub on: String,
    /// The `WHEN` clauses, in statement order; the first whose condition holds wins.
    pub clauses: Vec<MergeClause>,
}

/// One `WHEN ... THEN ...` clause.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeClause {
    pub when: MergeWhen,
    /// The clause's extra condition (`AND ...`), SQL text.
    pub condition: Option<String>,
    pub action: MergeAction,
}

/// Which rows a clause applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeWhen {
    /// Target rows with a matching source row.
    Matched,
    /// Source rows with no matching target row.
    NotMatched,
    /// Target rows with no matching source row.
    NotMatchedBySource,
}

/// What a clause does.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeAction {
    /// Set these target columns (name, SQL value).
    Update(Vec<(String, String)>),
    Delete,
    /// Insert a row with these columns (name, SQL value); others are NULL.
    Insert(Vec<(String, String)>),
}

/// Rows a merge changed, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MergeCounts {
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
}

impl MergeCounts {
    /// The row count PostgreSQL reports in the `MERGE n` command tag.
    pub fn total(&self) -> u64 {
        self.inserted + self.updated + self.deleted
    }
}

impl Lake {
    /// Applies `merge` to the managed Delta table `schema.name` in one Delta commit.
    #[instrument(skip(self, merge, session))]
    pub async fn merge_rows(
        &self,
        schema: &str,
        name: &str,
        merge: Merge,
        session: Arc<dyn Session>,
    ) -> Result<MergeCounts> {
        let delta = self.existing(schema, name).await?;
        let location = delta.table_url().clone();
        let mut builder = delta
            .merge(merge.source, merge.on)
            .with_source_alias(merge.source_alias)
            .with_target_alias(merge.target_alias)
            .with_session_state(session);
        for clause in merge.clauses {
            builder = add_clause(builder, clause).map_err(delta_error(&location))?;
        }
        let (delta, metrics) = builder.await.map_err(delta_error(&location))?;
        self.remember_url(&delta);
        Ok(MergeCounts {
            inserted: metrics.num_target_rows_inserted as u64,
            updated: metrics.num_target_rows_updated as u64,
            deleted: metrics.num_target_rows_deleted as u64,
        })
    }
}

fn add_clause(builder: MergeBuilder, clause: MergeClause) -> deltalake::DeltaResult<MergeBuilder> {
    let MergeClause {
        when,
        condition,
        action,
    } = clause;
    match (when, action) {
        (MergeWhen::Matched, MergeAction::Update(sets)) => builder.when_matched_update(|u| {
            let u = with_condition(u, condition, |u, c| u.predicate(c));
            sets.into_iter()
                .fold(u, |u, (c, v)| u.update(c.as_str(), v))
        }),
        (MergeWhen::Matched, MergeAction::Delete) => {
            builder.when_matched_delete(|d| with_condition(d, condition, |d, c| d.predicate(c)))
        }
        (MergeWhen::NotMatched, MergeAction::Insert(sets)) => {
            builder.when_not_matched_insert(|i| {
                let i = with_condition(i, condition, |i, c| i.predicate(c));
                sets.into_iter().fold(i, |i, (c, v)| i.set(c.as_str(), v))
            })
        }
        (MergeWhen::NotMatchedBySource, MergeAction::Update(sets)) => builder
            .when_not_matched_by_source_update(|u| {
                let u = with_condition(u, condition, |u, c| u.predicate(c));
                sets.into_iter()
                    .fold(u, |u, (c, v)| u.update(c.as_str(), v))
            }),
        (MergeWhen::NotMatchedBySource, MergeAction::Delete) => builder
            .when_not_matched_by_source_delete(|d| {
                with_condition(d, condition, |d, c| d.predicate(c))
            }),
        (when, action) => Err(deltalake::DeltaTableError::Generic(format!(
            "MERGE cannot {} rows that are {}",
            match action {
                MergeAction::Update(_) => "UPDATE",
                MergeAction::Delete => "DELETE",
                MergeAction::Insert(_) => "INSERT",
            },
            match when {
                MergeWhen::Matched => "MATCHED",
                MergeWhen::NotMatched => "NOT MATCHED",
                MergeWhen::NotMatchedBySource => "NOT MATCHED BY SOURCE",
            }
        ))),
    }
}

fn with_condition<B>(builder: B, condition: Option<String>, set: impl FnOnce(B, String) -> B) -> B {
    match condition {
        Some(c) => set(builder, c),
        None => builder,
    }
}
