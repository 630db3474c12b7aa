//! ALTER TABLE's column changes: `ADD COLUMN` (with a default, which PostgreSQL stores
//! in the existing rows), `DROP COLUMN`, `RENAME COLUMN`, and `ALTER COLUMN` with `[SET
//! DATA] TYPE ... [USING ...]`, `SET` / `DROP NOT NULL` and `SET` / `DROP DEFAULT`.
//!
//! A Delta table without column mapping finds its columns in the data files by name,
//! so a dropped or renamed column cannot just leave the schema: a later column of the
//! same name would read the old values. Every change but a plain `ADD COLUMN` therefore
//! writes the table's rows again under the new schema, in one Delta commit
//! ([`tarn_catalog::Lake::rewrite_table`]), as PostgreSQL rewrites a table for a new
//! type or a volatile default. Earlier versions stay readable (`"t@v3"`), readers of the
//! table see the old or the new table and nothing between, and inside a transaction
//! block the commit is noted like a row change, so `ROLLBACK` takes it back, schema and
//! all. An `ADD COLUMN` without a default (NULL in every existing row) changes the
//! schema only.
//!
//! Several changes in one statement (`ALTER TABLE t ADD COLUMN a int, DROP COLUMN b`)
//! make one rewrite. What PostgreSQL checks is checked first, with its SQLSTATEs: a
//! column that exists (42701) or does not (42703), NULLs where the new schema says
//! `NOT NULL` (23502), values the new type cannot hold (the cast's own error); a failed
//! ALTER changes nothing.
//!
//! Not done: views that use a dropped or renamed column are not checked (PostgreSQL
//! refuses with 2BP01, or drops them with `CASCADE`); such a view fails when next
//! queried.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    self, AlterColumnOperation, AlterTableOperation, ColumnOption, Statement as SqlStatement,
};
use tarn_catalog::types::DEFAULT_KEY;
use tarn_catalog::{CatalogError, TableKind};

use super::{Condition, Notice, Session, TransactionState, normalize_ident, quote_ident};
use crate::error::{Result, SqlError};

/// One column of the table as the ALTER leaves it.
#[derive(Debug, Clone)]
struct Shaped {
    field: Field,
    /// Its value, as SQL over the table's row before the change.
    value: String,
    /// Its values must be checked against `NOT NULL` (new, or newly `NOT NULL`).
    check_nulls: bool,
}

/// The table as the ALTER's changes leave it.
#[derive(Debug)]
struct Reshape {
    table: String,
    columns: Vec<Shaped>,
    partition_by: Vec<String>,
    /// Whether the rows must be written again; otherwise columns are only added.
    rewrite: bool,
    /// Columns added without a default (a schema change only, if nothing else).
    added: Vec<Field>,
    /// Column comments to move: (from, to), `None` for a dropped column.
    comments: Vec<(String, Option<String>)>,
    /// The table's columns as they were that views may use, by what happens to them.
    dropped: Vec<(String, bool)>,
    retyped: Vec<String>,
    renamed: Vec<String>,
}

impl Reshape {
    fn position(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.field.name() == column)
    }

    fn existing(&self, column: &str) -> Result<usize> {
        self.position(column).ok_or_else(|| {
            CatalogError::ColumnNotFound {
                table: self.table.clone(),
                column: column.to_owned(),
            }
            .into()
        })
    }

    fn absent(&self, column: &str) -> Result<()> {
        match self.position(column) {
            Some(_) => Err(CatalogError::ColumnExists {
                table: self.table.clone(),
                column: column.to_owned(),
            }
            .into()),
            None => Ok(()),
        }
    }
}

/// An ALTER TABLE form Tarn does not have, refused by its first two words (`ALTER
/// TABLE ADD CONSTRAINT is not supported yet`).
pub(super) fn refused(operation: &AlterTableOperation) -> SqlError {
    let words = operation.to_string();
    let head: Vec<&str> = words.split_whitespace().take(2).collect();
    SqlError::not_supported(format!("ALTER TABLE {}", head.join(" ")))
}

/// The operations [`Session::alter_columns`] takes.
pub(super) fn is_column_change(operation: &AlterTableOperation) -> bool {
    matches!(
        operation,
        AlterTableOperation::AddColumn { .. }
            | AlterTableOperation::DropColumn { .. }
            | AlterTableOperation::RenameColumn { .. }
            | AlterTableOperation::AlterColumn { .. }
    )
}

impl Session {
    /// Applies `operations` (each one [`is_column_change`]) to `schema.name`.
    pub(super) async fn alter_columns(
        &self,
        schema: &str,
        name: &str,
        operations: &[&AlterTableOperation],
    ) -> Result<()> {
        let catalog = self.engine.catalog();
        let entry = catalog
            .metastore()
            .table(schema, name)
            .await?
            .ok_or_else(|| CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            })?;
        // A view's and a materialized view's columns are their query's (PostgreSQL:
        // 42809 too).
        if entry.kind == TableKind::View || entry.is_materialized_view() {
            return Err(CatalogError::WrongKind {
                name: name.to_owned(),
                expected: "a table",
            }
            .into());
        }
        if !matches!(
            entry.kind,
            TableKind::ManagedDelta | TableKind::ExternalDelta
        ) {
            return Err(SqlError::not_supported(
                "ALTER TABLE's column changes on an external table that is not Delta",
            ));
        }
        let provider = catalog.table_provider(schema, name).await?.ok_or_else(|| {
            CatalogError::TableNotFound {
                schema: schema.to_owned(),
                name: name.to_owned(),
            }
        })?;
        let mut shape = Reshape {
            table: name.to_owned(),
            columns: provider
                .schema()
                .fields()
                .iter()
                .map(|f| Shaped {
                    field: f.as_ref().clone(),
                    value: quote_ident(f.name()),
                    check_nulls: false,
                })
                .collect(),
            partition_by: catalog.partition_columns(schema, name).await?,
            rewrite: false,
            added: Vec::new(),
            comments: Vec::new(),
            dropped: Vec::new(),
            retyped: Vec::new(),
            renamed: Vec::new(),
        };
        for operation in operations {
            self.apply_column_change(&mut shape, operation).await?;
        }
        self.check_view_uses(schema, name, &shape).await?;
        if shape.columns.is_empty() {
            return Err(SqlError::not_supported(
                "a table without columns (Delta tables have at least one)",
            ));
        }
        let from = format!(
            "{}.{}.{}",
            quote_ident(self.engine.catalog_name()),
            quote_ident(schema),
            quote_ident(name)
        );
        for column in shape.columns.iter().filter(|c| c.check_nulls) {
            if !column.field.is_nullable()
                && self
                    .any_row(&format!(
                        "select 1 from {from} where ({}) is null limit 1",
                        column.value
                    ))
                    .await?
            {
                return Err(SqlError::ColumnHasNulls {
                    column: column.field.name().clone(),
                    table: name.to_owned(),
                });
            }
        }
        if shape.rewrite {
            let select = shape
                .columns
                .iter()
                .map(|c| format!("{} as {}", c.value, quote_ident(c.field.name())))
                .collect::<Vec<_>>()
                .join(", ");
            let plan = self
                .plan_sql(&format!("select {select} from {from}"))
                .await?;
            let columns = Schema::new(
                shape
                    .columns
                    .iter()
                    .zip(plan.schema().fields())
                    .map(|(c, planned)| {
                        Field::new(
                            c.field.name(),
                            planned.data_type().clone(),
                            c.field.is_nullable(),
                        )
                        .with_metadata(c.field.metadata().clone())
                    })
                    .collect::<Vec<_>>(),
            );
            catalog
                .rewrite_table(
                    schema,
                    name,
                    plan,
                    &columns,
                    &shape.partition_by,
                    std::sync::Arc::new(self.ctx.state()),
                )
                .await?;
        } else if !shape.added.is_empty() {
            catalog
                .add_columns(schema, name, &Schema::new(shape.added), false)
                .await?;
        }
        for (old, new) in &shape.comments {
            let before = catalog
                .move_column_comment(schema, name, old, new.as_deref())
                .await?;
            if let Some(before) = before
                && self.transaction_state() != TransactionState::Idle
            {
                self.state().pending.rewrote(before);
            }
        }
        Ok(())
    }

    async fn apply_column_change(
        &self,
        shape: &mut Reshape,
        operation: &AlterTableOperation,
    ) -> Result<()> {
        match operation {
            AlterTableOperation::AddColumn {
                if_not_exists,
                column_def,
                ..
            } => {
                let column = normalize_ident(&column_def.name);
                if *if_not_exists && shape.position(&column).is_some() {
                    self.notice(Notice::skipped_present(
                        Condition::DuplicateColumn,
                        format!("column \"{column}\" of relation \"{}\"", shape.table),
                    ));
                    return Ok(());
                }
                shape.absent(&column)?;
                let field = self.column_field(&column, column_def).await?;
                let value = match field.metadata().get(DEFAULT_KEY) {
                    Some(default) => {
                        shape.rewrite = true;
                        assigned(&field, &column_def.data_type, default)
                    }
                    None => {
                        shape.added.push(field.clone());
                        format!("cast(null as {})", column_def.data_type)
                    }
                };
                shape.columns.push(Shaped {
                    check_nulls: !field.is_nullable(),
                    field,
                    value,
                });
            }
            AlterTableOperation::DropColumn {
                column_names,
                if_exists,
                drop_behavior,
                ..
            } => {
                let cascade = matches!(drop_behavior, Some(ast::DropBehavior::Cascade));
                for name in column_names {
                    let column = normalize_ident(name);
                    if *if_exists && shape.position(&column).is_none() {
                        self.notice(Notice::skipped_absent(format!(
                            "column \"{column}\" of relation \"{}\"",
                            shape.table
                        )));
                        continue;
                    }
                    let at = shape.existing(&column)?;
                    shape.columns.remove(at);
                    shape.partition_by.retain(|p| *p != column);
                    shape.dropped.push((column.clone(), cascade));
                    shape.comments.push((column, None));
                    shape.rewrite = true;
                }
            }
            AlterTableOperation::RenameColumn {
                old_column_name,
                new_column_name,
            } => {
                let (old, new) = (
                    normalize_ident(old_column_name),
                    normalize_ident(new_column_name),
                );
                let at = shape
                    .position(&old)
                    .ok_or_else(|| SqlError::NoSuchColumn(old.clone()))?;
                shape.absent(&new)?;
                let shaped = &mut shape.columns[at];
                shaped.field = shaped.field.clone().with_name(new.clone());
                for partition in shape.partition_by.iter_mut().filter(|p| **p == old) {
                    *partition = new.clone();
                }
                shape.renamed.push(old.clone());
                shape.comments.push((old, Some(new)));
                shape.rewrite = true;
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let at = shape.existing(&normalize_ident(column_name))?;
                let data_type = match op {
                    AlterColumnOperation::SetDataType { data_type, .. } => {
                        Some(self.sql_type(data_type).await?)
                    }
                    _ => None,
                };
                let column = &mut shape.columns[at];
                let mut field = column.field.clone();
                let mut metadata = field.metadata().clone();
                match op {
                    AlterColumnOperation::SetNotNull => {
                        column.check_nulls = true;
                        field = field.with_nullable(false);
                    }
                    AlterColumnOperation::DropNotNull => field = field.with_nullable(true),
                    AlterColumnOperation::SetDefault { value } => {
                        metadata.insert(DEFAULT_KEY.to_owned(), value.to_string());
                    }
                    AlterColumnOperation::DropDefault => {
                        metadata.remove(DEFAULT_KEY);
                    }
                    AlterColumnOperation::SetDataType {
                        data_type: sql_type,
                        using,
                        ..
                    } => {
                        let declared = crate::pg::declared::declared_type(sql_type);
                        metadata.retain(|k, _| k == DEFAULT_KEY);
                        metadata.extend(declared.map(|d| d.metadata()).unwrap_or_default());
                        if let Some(data_type) = &data_type {
                            if using.is_none() && !assignable(field.data_type(), data_type) {
                                return Err(SqlError::CannotCastColumn {
                                    column: field.name().clone(),
                                    type_name: crate::pg::type_name(data_type),
                                });
                            }
                            field = field.with_data_type(data_type.clone());
                        }
                        shape.retyped.push(field.name().clone());
                        let old = using
                            .as_ref()
                            .map(ToString::to_string)
                            .unwrap_or_else(|| column.value.clone());
                        column.value = assigned(
                            &field.clone().with_metadata(metadata.clone()),
                            sql_type,
                            &old,
                        );
                    }
                    other => {
                        return Err(SqlError::not_supported(format!(
                            "ALTER TABLE ... ALTER COLUMN ... {other}"
                        )));
                    }
                }
                let field = field.with_metadata(metadata);
                if field != column.field || column.check_nulls {
                    shape.rewrite = true;
                }
                column.field = field;
            }
            other => return Err(refused(other)),
        }
        Ok(())
    }

    /// What PostgreSQL refuses of an ALTER TABLE whose columns views use: dropping one
    /// (2BP01 naming the views, unless CASCADE, which drops them), changing its type
    /// (0A000); renaming one, which PostgreSQL's views follow, is refused here (0A000),
    /// as Tarn's views keep their SQL, which would still name the old column.
    async fn check_view_uses(&self, schema: &str, table: &str, shape: &Reshape) -> Result<()> {
        if shape.dropped.is_empty() && shape.retyped.is_empty() && shape.renamed.is_empty() {
            return Ok(());
        }
        let catalog = self.engine.catalog();
        let pending = self.state().pending.clone();
        let kind = super::depends::RelationKind::Table;
        let dependents = super::depends::dependents(catalog, &pending, schema, table, kind).await?;
        if dependents.is_empty() {
            return Ok(());
        }
        let default_schema = self.default_schema(&self.settings());
        let users = |column: String| {
            let dependents = dependents.clone();
            async move {
                let mut uses = Vec::new();
                for d in &dependents {
                    let direct = d.on.0 == schema && d.on.1 == table;
                    if direct
                        && self
                            .view_uses_column(&d.schema, &d.name, schema, table, &column)
                            .await?
                    {
                        uses.push(d.clone());
                    }
                }
                Ok::<_, SqlError>(super::depends::with_their_dependents(&dependents, uses))
            }
        };
        for column in &shape.retyped {
            if let Some(view) = users(column.clone()).await?.first() {
                return Err(SqlError::ViewUsesColumn {
                    view: super::depends::shown(&view.schema, &view.name, &default_schema),
                    column: column.clone(),
                });
            }
        }
        for column in &shape.renamed {
            if let Some(view) = users(column.clone()).await?.first() {
                return Err(SqlError::not_supported(format!(
                    "RENAME COLUMN of a column a view uses (view {} uses column {column}: Tarn's views keep their SQL)",
                    super::depends::shown(&view.schema, &view.name, &default_schema)
                )));
            }
        }
        for (column, cascade) in &shape.dropped {
            let found = users(column.clone()).await?;
            if found.is_empty() {
                continue;
            }
            if !cascade {
                return Err(SqlError::DependentObjects {
                    kind: "column",
                    name: format!("{column} of table {table}"),
                    detail: super::depends::column_detail(&found, column, table, &default_schema),
                });
            }
            if let Some(notice) =
                Notice::cascaded(&super::depends::cascaded(&found, &default_schema))
            {
                self.notice(notice);
            }
            for view in found.iter().rev() {
                Box::pin(self.drop_relation(
                    &view.schema,
                    &view.name,
                    true,
                    super::depends::RelationKind::View,
                    false,
                ))
                .await?;
            }
        }
        Ok(())
    }

    /// Whether view `view_schema.view` uses column `column` of `schema.table`: its
    /// query, planned and optimized, reads that column of the table (projection
    /// pushdown leaves a scan the columns the query needs). A view that no longer
    /// plans uses nothing.
    async fn view_uses_column(
        &self,
        view_schema: &str,
        view: &str,
        schema: &str,
        table: &str,
        column: &str,
    ) -> Result<bool> {
        use datafusion::common::tree_node::TreeNodeRecursion;
        use datafusion::logical_expr::LogicalPlan;
        let catalog = self.engine.catalog();
        let Some(definition) = catalog
            .metastore()
            .table(view_schema, view)
            .await?
            .and_then(|entry| entry.definition)
        else {
            return Ok(false);
        };
        let Ok(plan) = catalog.plan_definition(view_schema, &definition).await else {
            return Ok(false);
        };
        let Ok(plan) = self.ctx.state().optimize(&plan) else {
            return Ok(false);
        };
        let mut used = false;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node
                && scan.table_name.table() == table
                && scan.table_name.schema().unwrap_or(view_schema) == schema
                && (scan
                    .projected_schema
                    .fields()
                    .iter()
                    .any(|f| f.name() == column)
                    || scan
                        .filters
                        .iter()
                        .any(|f| f.column_refs().iter().any(|c| c.name == column)))
            {
                used = true;
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(used)
    }

    /// The field an `ADD COLUMN` adds: its type, declared type and default, and
    /// whether it may hold NULL.
    async fn column_field(&self, column: &str, def: &ast::ColumnDef) -> Result<Field> {
        let data_type = self.sql_type(&def.data_type).await?;
        let mut nullable = true;
        let mut metadata = crate::pg::declared::declared_type(&def.data_type)
            .map(|d| d.metadata())
            .unwrap_or_default();
        if let Some(default) = super::defaults::written(def) {
            metadata.insert(DEFAULT_KEY.to_owned(), default);
        }
        for option in &def.options {
            match &option.option {
                ColumnOption::Null | ColumnOption::Unique(_) | ColumnOption::Default(_) => {}
                ColumnOption::NotNull | ColumnOption::PrimaryKey(_) => nullable = false,
                other => {
                    return Err(SqlError::not_supported(format!(
                        "ALTER TABLE ADD COLUMN ... {other}"
                    )));
                }
            }
        }
        Ok(Field::new(column, data_type, nullable).with_metadata(metadata))
    }

    /// Plans one SQL query as the session plans a client's.
    async fn plan_sql(&self, sql: &str) -> Result<datafusion::logical_expr::LogicalPlan> {
        let statement = self
            .parse(sql)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::not_supported("an empty query"))?;
        debug_assert!(
            matches!(&statement, DFStatement::Statement(s) if matches!(s.as_ref(), SqlStatement::Query(_)))
        );
        self.plan(statement).await
    }

    /// Whether the query `sql` returns a row.
    async fn any_row(&self, sql: &str) -> Result<bool> {
        let plan = self.plan_sql(sql).await?;
        let batches: Vec<RecordBatch> =
            self.ctx.execute_logical_plan(plan).await?.collect().await?;
        Ok(batches.iter().any(|b| b.num_rows() > 0))
    }
}

/// `value` (SQL) as stored into `field`, declared as `sql_type`: cast to the type, and
/// fitted to a `varchar(n)` / `char(n)` / `json` / `jsonb` as PostgreSQL assigns it.
fn assigned(field: &Field, sql_type: &ast::DataType, value: &str) -> String {
    let fitted = crate::pg::typmod::assign_sql(field, value);
    if fitted != value {
        return fitted;
    }
    format!("cast(({value}) as {sql_type})")
}

/// Whether PostgreSQL converts a `from` column to `to` in `ALTER COLUMN ... TYPE`
/// without `USING`: where it has an implicit or assignment cast (numbers to numbers,
/// anything to text, dates and timestamps to each other); text to a number, or a
/// boolean to an integer, needs `USING`.
fn assignable(from: &DataType, to: &DataType) -> bool {
    let temporal = |t: &DataType| matches!(t, DataType::Date32 | DataType::Timestamp(..));
    from == to
        || to.is_string()
        || (!from.is_string()
            && ((from.is_numeric() && to.is_numeric()) || (temporal(from) && temporal(to))))
}
