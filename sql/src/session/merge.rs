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
        let counts = self.merge_counts(merge).await?;
        Ok(Output::Command(CommandTag::with_rows(
            "MERGE",
            counts.total(),
        )))
    }

    /// Runs a DELETE or UPDATE that [`dml_as_merge`] turned into a MERGE, with the
    /// command tag of the statement the client sent.
    pub(super) async fn run_dml_as_merge(&self, merge: &str, tag: &'static str) -> Result<Output> {
        let parsed = self.parse(merge)?;
        let Some(datafusion::sql::parser::Statement::Statement(statement)) = parsed.first() else {
            return Err(SqlError::not_supported(tag));
        };
        let ast::Statement::Merge(merge) = statement.as_ref() else {
            return Err(SqlError::not_supported(tag));
        };
        let counts = self.merge_counts(merge).await?;
        let rows = if tag == "DELETE" {
            counts.deleted
        } else {
            counts.updated
        };
        Ok(Output::Command(CommandTag::with_rows(tag, rows)))
    }

    /// `INSERT INTO t [AS a] [(cols)] source ON CONFLICT (k, ...) DO NOTHING | DO UPDATE
    /// SET ... [WHERE ...]`, PostgreSQL's upsert, as the MERGE it means, in one Delta
    /// commit:
    ///
    /// ```text
    /// MERGE INTO t [AS a] USING (SELECT DISTINCT ON (k, ...) * FROM (source)) AS excluded (cols)
    ///   ON t.k = excluded.k AND ...
    ///   WHEN MATCHED [AND where] THEN UPDATE SET ...      -- DO UPDATE only
    ///   WHEN NOT MATCHED THEN INSERT (cols) VALUES (excluded.cols)
    /// ```
    ///
    /// Tarn keeps no unique constraints, so the conflict target names the key: without
    /// one (or with `ON CONSTRAINT`) the statement is refused rather than inserting
    /// duplicates silently. A key given twice in the source is inserted once (DO
    /// NOTHING: the first row in the source's order, as PostgreSQL skips the later
    /// ones); DO UPDATE refuses it, as PostgreSQL does (21000). NULL keys never
    /// conflict, as in a unique index. The tag is PostgreSQL's, `INSERT 0 n`, n counting
    /// the rows inserted and updated.
    pub(super) async fn insert_on_conflict(&self, insert: &ast::Insert) -> Result<Output> {
        let Some(ast::OnInsert::OnConflict(conflict)) = &insert.on else {
            return Err(SqlError::not_supported(
                "INSERT ... ON DUPLICATE KEY UPDATE",
            ));
        };
        if insert.returning.is_some() {
            return Err(SqlError::not_supported(
                "INSERT ... ON CONFLICT ... RETURNING",
            ));
        }
        let keys = match &conflict.conflict_target {
            Some(ast::ConflictTarget::Columns(keys)) if !keys.is_empty() => keys,
            Some(ast::ConflictTarget::OnConstraint(_)) => {
                return Err(SqlError::not_supported(
                    "ON CONFLICT ON CONSTRAINT (Tarn keeps no constraints: name the key columns, \
                     ON CONFLICT (id))",
                ));
            }
            _ => {
                return Err(SqlError::not_supported(
                    "ON CONFLICT without key columns (Tarn keeps no unique constraints: name \
                     them, ON CONFLICT (id) DO NOTHING)",
                ));
            }
        };
        let Some(source) = &insert.source else {
            return Err(SqlError::not_supported(
                "INSERT ... DEFAULT VALUES ... ON CONFLICT",
            ));
        };
        let ast::TableObject::TableName(table) = &insert.table else {
            return Err(SqlError::not_supported("INSERT INTO a table function"));
        };
        let target = object_name_to_table_reference(table.clone(), true)?;
        let alias = match &insert.table_alias {
            Some(alias) => normalize_ident(&alias.alias),
            None => target.table().to_owned(),
        };
        if alias == "excluded" {
            return Err(SqlError::Syntax {
                message: "table name \"excluded\" is reserved in INSERT ... ON CONFLICT".to_owned(),
            });
        }
        // The columns the source fills: those listed, or the table's in order (as many
        // as a VALUES list has).
        let columns: Vec<String> = if insert.columns.is_empty() {
            let (schema, name) = self.resolve_table(&target)?;
            let fields = self.target_schema(&schema, &name).await?;
            let width = match source.body.as_ref() {
                ast::SetExpr::Values(values) => values.rows.first().map(|row| row.len()),
                _ => None,
            };
            fields
                .fields()
                .iter()
                .take(width.unwrap_or(usize::MAX))
                .map(|f| f.name().clone())
                .collect()
        } else {
            insert
                .columns
                .iter()
                .map(|c| {
                    object_name_to_table_reference(c.clone(), true)
                        .map(|r| r.table().to_owned())
                        .map_err(SqlError::from)
                })
                .collect::<Result<_>>()?
        };
        let quoted = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
        let keys: Vec<String> = keys.iter().map(normalize_ident).collect();
        for key in &keys {
            if !columns.contains(key) {
                return Err(tarn_catalog::CatalogError::ColumnNotFound {
                    table: target.table().to_owned(),
                    column: key.clone(),
                }
                .into());
            }
        }
        let column_list = columns.iter().map(|c| quoted(c)).collect::<Vec<_>>();
        let on = keys
            .iter()
            .map(|k| format!("{}.{} = excluded.{}", quoted(&alias), quoted(k), quoted(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let key_list = keys
            .iter()
            .map(|k| quoted(k))
            .collect::<Vec<_>>()
            .join(", ");
        let rows = match &conflict.action {
            // One row per key: PostgreSQL skips the later rows of a key it inserted.
            ast::OnConflictAction::DoNothing => format!(
                "(SELECT DISTINCT ON ({key_list}) * FROM ({source}) AS __tarn_rows ({}))",
                column_list.join(", ")
            ),
            ast::OnConflictAction::DoUpdate(_) => format!("({source})"),
        };
        let update = match &conflict.action {
            ast::OnConflictAction::DoNothing => String::new(),
            ast::OnConflictAction::DoUpdate(update) => {
                let when = match &update.selection {
                    Some(selection) => format!(" AND ({selection})"),
                    None => String::new(),
                };
                let sets = update
                    .assignments
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(" WHEN MATCHED{when} THEN UPDATE SET {sets}")
            }
        };
        let merge = format!(
            "MERGE INTO {table} AS {} USING {rows} AS excluded ({}) ON {on}{update} \
             WHEN NOT MATCHED THEN INSERT ({}) VALUES ({})",
            quoted(&alias),
            column_list.join(", "),
            column_list.join(", "),
            column_list
                .iter()
                .map(|c| format!("excluded.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let parsed = self.parse(&merge)?;
        let Some(datafusion::sql::parser::Statement::Statement(statement)) = parsed.first() else {
            return Err(SqlError::not_supported("INSERT ... ON CONFLICT"));
        };
        let ast::Statement::Merge(merge) = statement.as_ref() else {
            return Err(SqlError::not_supported("INSERT ... ON CONFLICT"));
        };
        if matches!(conflict.action, ast::OnConflictAction::DoUpdate(_)) {
            self.refuse_repeated_keys(&merge.source, &keys).await?;
        }
        let counts = self.merge_counts(merge).await?;
        Ok(Output::Command(CommandTag::with_rows(
            "INSERT 0",
            counts.inserted + counts.updated,
        )))
    }

    /// ON CONFLICT DO UPDATE's refusal of a key the source gives twice (PostgreSQL's
    /// 21000): the second row would update the row the first one wrote.
    async fn refuse_repeated_keys(&self, source: &TableFactor, keys: &[String]) -> Result<()> {
        let list = keys
            .iter()
            .map(|k| format!("\"{}\"", k.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ");
        let not_null = keys
            .iter()
            .map(|k| format!("\"{}\" IS NOT NULL", k.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(" AND ");
        let check = format!(
            "SELECT 1 FROM {source} WHERE {not_null} GROUP BY {list} HAVING count(*) > 1 LIMIT 1"
        );
        let statement = self
            .parse(&check)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::not_supported("INSERT ... ON CONFLICT"))?;
        let plan = self.plan(statement).await?;
        let repeated = DataFrame::new(self.ctx.state(), plan).count().await?;
        if repeated > 0 {
            return Err(SqlError::ConflictRowTwice);
        }
        Ok(())
    }

    async fn merge_counts(&self, merge: &ast::Merge) -> Result<tarn_catalog::MergeCounts> {
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
        let fields = self.target_schema(&schema, &name).await?;
        let columns: Vec<String> = fields.fields().iter().map(|f| f.name().clone()).collect();
        let mut clauses = merge
            .clauses
            .iter()
            .map(|clause| merge_clause(clause, &columns, &source_alias))
            .collect::<Result<Vec<_>>>()?;
        // An INSERT's `DEFAULT`, and each column it leaves out, is the column's default
        // (NULL without one), as PostgreSQL's MERGE has it.
        for clause in &mut clauses {
            if let MergeAction::Insert(sets) = &mut clause.action {
                let default = |column: &str| -> Option<String> {
                    let field = fields.field_with_name(column).ok()?;
                    field
                        .metadata()
                        .get(tarn_catalog::types::DEFAULT_KEY)
                        .cloned()
                };
                for (column, value) in sets.iter_mut() {
                    if value.eq_ignore_ascii_case("default") {
                        *value = default(column).unwrap_or_else(|| "NULL".to_owned());
                    }
                }
                for column in &columns {
                    if !sets.iter().any(|(c, _)| c == column)
                        && let Some(value) = default(column)
                    {
                        sets.push((column.clone(), value));
                    }
                }
            }
        }
        // New values fit their columns' declared types (varchar(n), char(n), json), as
        // an UPDATE's do, and none is NULL in a NOT NULL column, also where an INSERT
        // leaves that column out.
        for clause in &mut clauses {
            if let MergeAction::Update(sets) | MergeAction::Insert(sets) = &mut clause.action {
                for (column, value) in sets.iter_mut() {
                    if let Ok(field) = fields.field_with_name(column) {
                        let fitted = crate::pg::typmod::assign_sql(field, value);
                        *value = crate::pg::not_null::check_sql(field, &fitted, &name);
                    }
                }
            }
            if let MergeAction::Insert(sets) = &mut clause.action {
                let set: Vec<String> = sets.iter().map(|(c, _)| c.clone()).collect();
                sets.extend(crate::pg::not_null::unset_columns(&fields, &set, &name));
            }
        }
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
                    on: sql_text(&merge.on),
                    clauses,
                },
                session,
            )
            .await?;
        Ok(counts)
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

    async fn target_schema(
        &self,
        schema: &str,
        name: &str,
    ) -> Result<datafusion::arrow::datatypes::SchemaRef> {
        let missing = || tarn_catalog::CatalogError::TableNotFound {
            schema: schema.to_owned(),
            name: name.to_owned(),
        };
        let provider = CatalogProvider::schema(self.engine.catalog(), schema)
            .ok_or_else(missing)?
            .table(name)
            .await?
            .ok_or_else(missing)?;
        Ok(provider.schema())
    }
}

fn merge_clause(
    clause: &ast::MergeClause,
    columns: &[String],
    source_alias: &str,
) -> Result<MergeClause> {
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
                    Ok((column, sql_text(&a.value)))
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
                    .zip(
                        row.iter()
                            .map(|v| match super::defaults::is_default_keyword(v) {
                                true => "DEFAULT".to_owned(),
                                false => source_text(v, source_alias),
                            }),
                    )
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
        condition: clause.predicate.as_ref().map(sql_text),
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

/// DELETE and UPDATE forms that read another relation, as the MERGE each means:
/// deltalake deletes and updates by a predicate over the table alone, and a MERGE
/// joins, streaming, in one Delta commit.
///
/// - `DELETE FROM t [AS a] USING s WHERE cond` → `MERGE INTO t USING s ON cond WHEN
///   MATCHED THEN DELETE`
/// - `DELETE FROM t WHERE (k) IN (SELECT ...) [AND rest]` (dbt's incremental
///   delete+insert) → `MERGE INTO t USING (SELECT DISTINCT ...) AS keys(k1) ON k =
///   keys.k1 WHEN MATCHED [AND rest] THEN DELETE`; `(a, b) IN (SELECT x, y ...)` too
/// - `UPDATE t [AS a] SET ... FROM s WHERE cond` (dbt's snapshots) → `MERGE INTO t
///   USING s ON cond WHEN MATCHED THEN UPDATE SET ...`
///
/// Returns the MERGE's SQL and the tag of the original statement, or `None` for
/// statements that need no rewriting.
pub(super) fn dml_as_merge(statement: &ast::Statement) -> Result<Option<(String, &'static str)>> {
    match statement {
        ast::Statement::Delete(delete) => {
            let (ast::FromTable::WithFromKeyword(from) | ast::FromTable::WithoutKeyword(from)) =
                &delete.from;
            let [target] = from.as_slice() else {
                return Ok(None);
            };
            if !target.joins.is_empty() || delete.returning.is_some() {
                return Ok(None);
            }
            if let Some(using) = &delete.using {
                let [source] = using.as_slice() else {
                    return Err(SqlError::not_supported("DELETE ... USING several tables"));
                };
                if !source.joins.is_empty() {
                    return Err(SqlError::not_supported("DELETE ... USING a join"));
                }
                let Some(condition) = &delete.selection else {
                    return Err(SqlError::not_supported("DELETE ... USING without WHERE"));
                };
                return Ok(Some((
                    format!(
                        "MERGE INTO {} USING {} ON {condition} WHEN MATCHED THEN DELETE",
                        target.relation, source.relation
                    ),
                    "DELETE",
                )));
            }
            let Some(selection) = &delete.selection else {
                return Ok(None);
            };
            let mut conjuncts = Vec::new();
            split_and(selection, &mut conjuncts);
            let Some(at) = conjuncts
                .iter()
                .position(|c| matches!(c, ast::Expr::InSubquery { negated: false, .. }))
            else {
                return Ok(None);
            };
            let ast::Expr::InSubquery { expr, subquery, .. } = conjuncts.remove(at) else {
                return Ok(None);
            };
            let keys: Vec<&ast::Expr> = match strip_nested(expr) {
                ast::Expr::Tuple(items) => items.iter().collect(),
                single => vec![single],
            };
            let (columns, on) = crate::pg::exists::key_match(&keys, "__tarn_keys");
            let rest = conjuncts
                .iter()
                .map(|c| format!("({c})"))
                .collect::<Vec<_>>()
                .join(" AND ");
            let when = if rest.is_empty() {
                String::new()
            } else {
                format!(" AND {rest}")
            };
            Ok(Some((
                format!(
                    "MERGE INTO {} USING (SELECT DISTINCT * FROM ({subquery}) AS __tarn_q) \
                     AS __tarn_keys ({columns}) ON {on} WHEN MATCHED{when} THEN DELETE",
                    target.relation,
                ),
                "DELETE",
            )))
        }
        ast::Statement::Update(update) => {
            let Some(from) = &update.from else {
                return Ok(None);
            };
            let (ast::UpdateTableFromKind::BeforeSet(sources)
            | ast::UpdateTableFromKind::AfterSet(sources)) = from;
            let [source] = sources.as_slice() else {
                return Err(SqlError::not_supported("UPDATE ... FROM several tables"));
            };
            if !source.joins.is_empty() || !update.table.joins.is_empty() {
                return Err(SqlError::not_supported("UPDATE ... FROM a join"));
            }
            if update.returning.is_some() {
                return Err(SqlError::not_supported("UPDATE ... FROM ... RETURNING"));
            }
            let Some(condition) = &update.selection else {
                return Err(SqlError::not_supported("UPDATE ... FROM without WHERE"));
            };
            let sets = update
                .assignments
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Ok(Some((
                format!(
                    "MERGE INTO {} USING {} ON {condition} WHEN MATCHED THEN UPDATE SET {sets}",
                    update.table.relation, source.relation
                ),
                "UPDATE",
            )))
        }
        _ => Ok(None),
    }
}

fn split_and<'a>(expr: &'a ast::Expr, out: &mut Vec<&'a ast::Expr>) {
    match expr {
        ast::Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            split_and(left, out);
            split_and(right, out);
        }
        ast::Expr::Nested(inner)
            if matches!(
                **inner,
                ast::Expr::BinaryOp {
                    op: ast::BinaryOperator::And,
                    ..
                }
            ) =>
        {
            split_and(inner, out)
        }
        other => out.push(other),
    }
}

fn strip_nested(expr: &ast::Expr) -> &ast::Expr {
    match expr {
        ast::Expr::Nested(inner) => strip_nested(inner),
        other => other,
    }
}

/// An expression as SQL text for deltalake, which parses it without PostgreSQL's
/// folding of unquoted names: those are written lowercase here (`DBT_INTERNAL_SOURCE.id`
/// is `dbt_internal_source.id`, as the alias it refers to was normalized).
fn sql_text(expr: &ast::Expr) -> String {
    let mut expr = expr.clone();
    let fold = |ident: &mut ast::Ident| {
        if ident.quote_style.is_none() {
            ident.value = ident.value.to_lowercase();
        }
    };
    let _ = ast::visit_expressions_mut(&mut expr, |e| {
        match e {
            ast::Expr::Identifier(ident) => fold(ident),
            ast::Expr::CompoundIdentifier(idents) => idents.iter_mut().for_each(fold),
            _ => {}
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    expr.to_string()
}

/// A `WHEN NOT MATCHED ... INSERT VALUES` expression as SQL text: there only the
/// source's columns are in scope (PostgreSQL resolves `VALUES (id)` to the source's
/// `id`), while deltalake sees both sides, so bare names are qualified by the source.
fn source_text(expr: &ast::Expr, source_alias: &str) -> String {
    let mut expr = expr.clone();
    let _ = ast::visit_expressions_mut(&mut expr, |e| {
        if let ast::Expr::Identifier(ident) = e {
            *e = ast::Expr::CompoundIdentifier(vec![
                ast::Ident::with_quote('"', source_alias),
                ident.clone(),
            ]);
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
    sql_text(&expr)
}
