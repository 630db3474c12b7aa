//! `DROP TABLE | VIEW | SCHEMA a, b, ...`: PostgreSQL drops several objects in one
//! statement; DataFusion plans one name per DROP ("Multiple objects not supported").
//! Every name is checked before any is dropped, so a missing one (without `IF
//! EXISTS`) or one of the wrong kind refuses the statement with nothing dropped, as
//! in PostgreSQL; then each is dropped in turn, as a DROP of its own would be.

use std::sync::Arc;

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{ObjectName, ObjectType, Statement as SqlStatement};
use tarn_catalog::CatalogError;

use super::depends::{RelationKind, dependents, detail, shown};
use super::{CommandTag, Output, Session, normalize_ident};
use crate::error::{Result, SqlError};

/// Whether `statement` is a DROP of several tables, views or schemas.
pub(super) fn is_several(statement: &SqlStatement) -> bool {
    matches!(
        statement,
        SqlStatement::Drop {
            object_type: ObjectType::Table | ObjectType::View | ObjectType::Schema,
            names,
            ..
        } if names.len() > 1
    )
}

impl Session {
    /// The relations in `schema`, as DROP SCHEMA's messages name them (`table s.t`),
    /// in the order they were made.
    pub(super) async fn schema_contents(&self, schema: &str) -> Result<Vec<String>> {
        let default_schema = self.default_schema(&self.settings());
        Ok(self
            .engine
            .catalog()
            .relations_in(schema)
            .await?
            .iter()
            .map(|r| {
                let kind = RelationKind::of(r).word();
                format!("{kind} {}", shown(&r.schema, &r.name, &default_schema))
            })
            .collect())
    }

    /// PostgreSQL's refusal of `DROP SCHEMA` without CASCADE of a schema that holds
    /// relations (2BP01), naming each in the DETAIL.
    pub(super) async fn schema_dependents(&self, schema: &str) -> Result<()> {
        let contents = self.schema_contents(schema).await?;
        if contents.is_empty() {
            return Ok(());
        }
        Err(SqlError::DependentObjects {
            kind: "schema",
            name: schema.to_owned(),
            detail: contents
                .iter()
                .map(|c| format!("{c} depends on schema {schema}"))
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }

    /// Runs `drop`, a DROP of several names ([`is_several`]).
    pub(super) async fn drop_several(&self, drop: &SqlStatement) -> Result<Output> {
        let SqlStatement::Drop {
            object_type,
            names,
            if_exists,
            cascade,
            ..
        } = drop
        else {
            return Err(SqlError::not_supported("this DROP"));
        };
        if *object_type == ObjectType::Schema {
            return self.drop_schemas(drop, names, *if_exists, *cascade).await;
        }
        let kind = match object_type {
            ObjectType::View => RelationKind::View,
            _ => RelationKind::Table,
        };
        let mut targets = Vec::with_capacity(names.len());
        for name in names {
            let (schema, table) =
                self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
            let found = self.drop_target(&schema, &table, kind, *if_exists).await?;
            if found.is_none() {
                self.skipped_absent_relation(&schema, &table, kind.word())
                    .await?;
            } else if !targets.contains(&(schema.clone(), table.clone())) {
                targets.push((schema, table));
            }
        }
        // Views that use a relation named here go before it (PostgreSQL drops them
        // together); views that use one and are not named refuse the DROP without
        // CASCADE.
        let pending = self.state().pending.clone();
        let mut order: Vec<(String, String)> = Vec::with_capacity(targets.len());
        let mut outside = Vec::new();
        for (schema, table) in &targets {
            let found = dependents(self.engine.catalog(), &pending, schema, table, kind).await?;
            for dependent in &found {
                if !targets.contains(&(dependent.schema.clone(), dependent.name.clone())) {
                    outside.push(dependent.clone());
                }
            }
            for dependent in found.iter().rev() {
                let key = (dependent.schema.clone(), dependent.name.clone());
                if targets.contains(&key) && !order.contains(&key) {
                    order.push(key);
                }
            }
            let key = (schema.clone(), table.clone());
            if !order.contains(&key) {
                order.push(key);
            }
        }
        if !outside.is_empty() && !cascade {
            let default_schema = self.default_schema(&self.settings());
            return Err(SqlError::DependentObjectsOfSeveral {
                detail: detail(&outside, &default_schema),
            });
        }
        for (schema, table) in &order {
            // A view named here that an earlier CASCADE took with it is gone: IF
            // EXISTS then, silently.
            let hidden = self.state().pending.is_hidden(schema, table);
            let gone = hidden
                || self
                    .engine
                    .catalog()
                    .metastore()
                    .table(schema, table)
                    .await?
                    .is_none();
            if !gone {
                self.drop_relation(schema, table, false, kind, *cascade)
                    .await?;
            }
        }
        Ok(Output::Command(CommandTag::new(match kind {
            RelationKind::View => "DROP VIEW",
            _ => "DROP TABLE",
        })))
    }

    /// `DROP SCHEMA a, b, ...`: each checked, then each dropped as its own DROP.
    async fn drop_schemas(
        &self,
        drop: &SqlStatement,
        names: &[ObjectName],
        if_exists: bool,
        cascade: bool,
    ) -> Result<Output> {
        let catalog = self.engine.catalog();
        for name in names {
            let schema = match name.0.as_slice() {
                [part] => part.as_ident().map(normalize_ident),
                _ => None,
            }
            .map(Ok)
            .unwrap_or_else(|| self.resolve_schema_name(&name.to_string()))?;
            if !if_exists && !catalog.metastore().schema_exists(&schema).await? {
                return Err(CatalogError::SchemaNotFound { name: schema }.into());
            }
            if !cascade {
                self.schema_dependents(&schema).await.map_err(|e| match e {
                    SqlError::DependentObjects { detail, .. } => {
                        SqlError::DependentObjectsOfSeveral { detail }
                    }
                    other => other,
                })?;
            }
        }
        let mut output = None;
        for name in names {
            let mut one = drop.clone();
            if let SqlStatement::Drop { names, .. } = &mut one {
                *names = vec![name.clone()];
            }
            let one = Arc::new(DFStatement::Statement(Box::new(one)));
            output = Some(Box::pin(self.run_inner(one, None, None)).await?);
        }
        output.ok_or_else(|| SqlError::not_supported("DROP without a name"))
    }
}
