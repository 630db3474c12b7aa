//! `MERGE INTO target USING source ON ... WHEN ...`, PostgreSQL's spelling, applied by
//! the catalog as one Delta commit (see `tarn_catalog::merge`).

use std::sync::Arc;

use datafusion::catalog::CatalogProvider;
use datafusion::prelude::DataFrame;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{self, AssignmentTarget, MergeClauseKind, TableFactor};
use tarn_catalog::{Merge, MergeAction, MergeClause, MergeWhen};

use super::{CommandTag, Output, Session, normalize_ident};
use crate::error::{Result, SqlError};

impl Session {
    pub(super) async fn merge(&self, merge: &ast::Merge) -> Result<Output> {
        if merge.output.is_some() {
            return Err(SqlError::not_supported("MERGE ... OUTPUT"));
        }
        let (source, source_alias) = self.merge_source(&merge.source).await?;
        let (target, target_alias) = match &merge.table {
            TableFactor::Table { name, alias, .. } => {
                let reference = object_name_to_table_reference(name.clone(), true)?;
                let alias = alias
                    .as_ref()
                    .map(|a| normalize_ident(&a.name))
                    .unwrap_or_else(|| reference.table().to_owned());
                (reference, alias)
            }
            other => {
                return Err(SqlError::Syntax {
                    message: format!("MERGE target must be a table, not {other}"),
                });
            }
        };
        if target_alias == source_alias {
            return Err(SqlError::Syntax {
                message: format!(
                    "table name \"{target_alias}\" specified more than once (give the MERGE source an alias)"
                ),
            });
        }
        let (schema, name) = self.resolve_table(&target)?;
        let columns = self.target_columns(&schema, &name).await?;
        let clauses = merge
            .clauses
            .iter()
            .map(|clause| merge_clause(clause, &columns))
            .collect::<Result<Vec<_>>>()?;
        let session: Arc<dyn datafusion::catalog::Session> = Arc::new(self.ctx.state());
        let counts = self
            .engine
            .catalog()
            .merge_rows(
                &schema,
                &name,
                Merge {
                    source,
                    source_alias,
                    target_alias,
                    on: merge.on.to_string(),
                    clauses,
                },
                session,
            )
            .await?;
        Ok(Output::Command(CommandTag::with_rows(
            "MERGE",
            counts.total(),
        )))
    }

    /// The source as a DataFrame, and the name its columns are qualified by.
    async fn merge_source(&self, source: &TableFactor) -> Result<(DataFrame, String)> {
        let alias = match source {
            TableFactor::Table { name, alias, .. } => match alias {
                Some(alias) => normalize_ident(&alias.name),
                None => object_name_to_table_reference(name.clone(), true)?
                    .table()
                    .to_owned(),
            },
            TableFactor::Derived {
                alias: Some(alias), ..
            } => normalize_ident(&alias.name),
            TableFactor::Derived { alias: None, .. } => {
                return Err(SqlError::Syntax {
                    message: "subquery in MERGE ... USING must have an alias".to_owned(),
                });
            }
            other => return Err(SqlError::not_supported(format!("MERGE ... USING {other}"))),
        };
        let query = self
            .parse(&format!("SELECT * FROM {source}"))?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::Syntax {
                message: "empty MERGE source".to_owned(),
            })?;
        let plan = self.plan(query).await?;
        Ok((DataFrame::new(self.ctx.state(), plan), alias))
    }

    async fn target_columns(&self, schema: &str, name: &str) -> Result<Vec<String>> {
        let missing = || tarn_catalog::CatalogError::TableNotFound {
            schema: schema.to_owned(),
            name: name.to_owned(),
        };
        let provider = CatalogProvider::schema(self.engine.catalog(), schema)
            .ok_or_else(missing)?
            .table(name)
            .await?
            .ok_or_else(missing)?;
        Ok(provider
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect())
    }
}

fn merge_clause(clause: &ast::MergeClause, columns: &[String]) -> Result<MergeClause> {
    let when = match clause.clause_kind {
        MergeClauseKind::Matched => MergeWhen::Matched,
        MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget => MergeWhen::NotMatched,
        MergeClauseKind::NotMatchedBySource => MergeWhen::NotMatchedBySource,
    };
    let action = match &clause.action {
        ast::MergeAction::Update(update) => {
            if update.update_predicate.is_some() || update.delete_predicate.is_some() {
                return Err(SqlError::not_supported("MERGE ... UPDATE ... WHERE"));
            }
            let sets = update
                .assignments
                .iter()
                .map(|a| {
                    let column = match &a.target {
                        AssignmentTarget::ColumnName(name) => column_name(name)?,
                        AssignmentTarget::Tuple(_) => {
                            return Err(SqlError::not_supported(
                                "MERGE ... UPDATE SET (a, b) = ...",
                            ));
                        }
                    };
                    known_column(&column, columns)?;
                    Ok((column, a.value.to_string()))
                })
                .collect::<Result<Vec<_>>>()?;
            MergeAction::Update(sets)
        }
        ast::MergeAction::Delete { .. } => MergeAction::Delete,
        ast::MergeAction::Insert(insert) => {
            let ast::MergeInsertKind::Values(values) = &insert.kind else {
                return Err(SqlError::not_supported("MERGE ... INSERT ROW"));
            };
            if insert.insert_predicate.is_some() {
                return Err(SqlError::not_supported("MERGE ... INSERT ... WHERE"));
            }
            let [row] = values.rows.as_slice() else {
                return Err(SqlError::Syntax {
                    message: "MERGE ... INSERT takes exactly one VALUES row".to_owned(),
                });
            };
            let names = if insert.columns.is_empty() {
                columns.to_vec()
            } else {
                insert
                    .columns
                    .iter()
                    .map(column_name)
                    .collect::<Result<Vec<_>>>()?
            };
            if names.len() != row.len() {
                return Err(SqlError::Syntax {
                    message: format!(
                        "INSERT has {} target columns but {} expressions",
                        names.len(),
                        row.len()
                    ),
                });
            }
            for name in &names {
                known_column(name, columns)?;
            }
            MergeAction::Insert(
                names
                    .into_iter()
                    .zip(row.iter().map(|v| v.to_string()))
                    .collect(),
            )
        }
    };
    let allowed = matches!(
        (when, &action),
        (
            MergeWhen::Matched,
            MergeAction::Update(_) | MergeAction::Delete
        ) | (MergeWhen::NotMatched, MergeAction::Insert(_))
            | (
                MergeWhen::NotMatchedBySource,
                MergeAction::Update(_) | MergeAction::Delete
            )
    );
    if !allowed {
        return Err(SqlError::Syntax {
            message: format!(
                "WHEN {} cannot {}",
                clause.clause_kind,
                match action {
                    MergeAction::Insert(_) => "INSERT (only WHEN NOT MATCHED can)",
                    _ => "UPDATE or DELETE (only WHEN MATCHED or NOT MATCHED BY SOURCE can)",
                }
            ),
        });
    }
    Ok(MergeClause {
        when,
        condition: clause.predicate.as_ref().map(|p| p.to_string()),
        action,
    })
}

/// A target column named in SET or an INSERT list (PostgreSQL allows no qualifier).
fn column_name(name: &ast::ObjectName) -> Result<String> {
    match name.0.as_slice() {
        [part] => part
            .as_ident()
            .map(normalize_ident)
            .ok_or_else(|| SqlError::Syntax {
                message: format!("invalid column name {name}"),
            }),
        _ => Err(SqlError::Syntax {
            message: format!("column name {name} must not be qualified in MERGE"),
        }),
    }
}

fn known_column(name: &str, columns: &[String]) -> Result<()> {
    if columns.iter().any(|c| c == name) {
        Ok(())
    } else {
        Err(SqlError::DataFusion(
            datafusion::error::DataFusionError::SchemaError(
                Box::new(datafusion::common::SchemaError::FieldNotFound {
                    field: Box::new(datafusion::common::Column::new_unqualified(name)),
                    valid_fields: columns
                        .iter()
                        .map(|c| datafusion::common::Column::new_unqualified(c.as_str()))
                        .collect(),
                }),
                Box::new(None),
            ),
        ))
    }
}
