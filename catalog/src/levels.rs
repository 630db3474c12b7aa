//! [`FolderLevels`]: files under unnamed date-like folder levels (`2024/01/15/...`)
//! read with those folder names as columns `partition_0`, `partition_1`, ...
//!
//! DataFusion's listing tables parse only `key=value` folders, so this provider lists
//! the folders itself at scan time (new folders show up on the next query), scans each
//! leaf folder with a listing table of the same format and options, adds the folder
//! names as constant columns, and unions the scans. Equality filters on the level
//! columns prune folders before they are read.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::PhysicalExpr;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::union::UnionExec;
use object_store::path::Path;

/// A table of files under `levels` unnamed folder levels.
#[derive(Debug)]
pub struct FolderLevels {
    root: url::Url,
    levels: usize,
    options: ListingOptions,
    file_schema: SchemaRef,
    schema: SchemaRef,
}

impl FolderLevels {
    /// `root` ends in `/`; `file_schema` is the files' columns.
    pub fn new(
        root: url::Url,
        levels: usize,
        options: ListingOptions,
        file_schema: SchemaRef,
    ) -> Self {
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        fields.extend(
            (0..levels).map(|i| Field::new(format!("partition_{i}"), DataType::Utf8, true)),
        );
        Self {
            root,
            levels,
            options,
            file_schema,
            schema: Arc::new(Schema::new(fields)),
        }
    }

    /// `partition_i = 'value'` filters, as (level, value).
    fn level_filters(&self, filters: &[Expr]) -> Vec<(usize, String)> {
        filters
            .iter()
            .filter_map(|f| match f {
                Expr::BinaryExpr(BinaryExpr {
                    left,
                    op: Operator::Eq,
                    right,
                }) => match (left.as_ref(), right.as_ref()) {
                    (Expr::Column(c), Expr::Literal(v, _))
                    | (Expr::Literal(v, _), Expr::Column(c)) => {
                        let level = c.name.strip_prefix("partition_")?.parse::<usize>().ok()?;
                        let value = match v {
                            ScalarValue::Utf8(Some(s))
                            | ScalarValue::Utf8View(Some(s))
                            | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
                            _ => return None,
                        };
                        (level < self.levels).then_some((level, value))
                    }
                    _ => None,
                },
                _ => None,
            })
            .collect()
    }

    /// The leaf folders, as their level names, honoring `wanted` (level, value) pairs.
    async fn leaves(
        &self,
        state: &dyn Session,
        wanted: &[(usize, String)],
    ) -> Result<Vec<Vec<String>>> {
        let table_url = ListingTableUrl::parse(self.root.as_str())?;
        let store = state.runtime_env().object_store(&table_url)?;
        let mut found = vec![(
            Path::from_url_path(self.root.path())
                .map_err(|e| DataFusionError::External(Box::new(e)))?,
            Vec::<String>::new(),
        )];
        for level in 0..self.levels {
            let mut next = Vec::new();
            for (prefix, names) in found {
                let listing = store.list_with_delimiter(Some(&prefix)).await?;
                for folder in listing.common_prefixes {
                    let Some(name) = folder.filename().map(str::to_owned) else {
                        continue;
                    };
                    if name.starts_with(['.', '_']) {
                        continue;
                    }
                    if wanted.iter().any(|(l, v)| *l == level && *v != name) {
                        continue;
                    }
                    let mut names = names.clone();
                    names.push(name);
                    next.push((folder, names));
                }
            }
            found = next;
        }
        Ok(found.into_iter().map(|(_, names)| names).collect())
    }
}

#[async_trait]
impl TableProvider for FolderLevels {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Level filters prune folders; DataFusion still applies every filter above.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let file_columns = self.file_schema.fields().len();
        let inner: Vec<usize> = columns
            .iter()
            .copied()
            .filter(|&i| i < file_columns)
            .collect();
        let output = Arc::new(self.schema.project(&columns)?);
        let mut scans = Vec::new();
        for names in self.leaves(state, &self.level_filters(filters)).await? {
            let mut folder = self.root.clone();
            folder.set_path(&format!("{}{}/", self.root.path(), names.join("/")));
            let table = ListingTable::try_new(
                ListingTableConfig::new(ListingTableUrl::parse(folder.as_str())?)
                    .with_listing_options(self.options.clone())
                    .with_schema(Arc::clone(&self.file_schema)),
            )?;
            let scan = table.scan(state, Some(&inner), &[], limit).await?;
            let exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = columns
                .iter()
                .map(|&i| {
                    let name = self.schema.field(i).name().clone();
                    let expr: Arc<dyn PhysicalExpr> = if i < file_columns {
                        let position = inner.iter().position(|&j| j == i).unwrap_or_default();
                        Arc::new(Column::new(&name, position))
                    } else {
                        Arc::new(Literal::new(ScalarValue::Utf8(Some(
                            names[i - file_columns].clone(),
                        ))))
                    };
                    (expr, name)
                })
                .collect();
            scans.push(Arc::new(ProjectionExec::try_new(exprs, scan)?) as Arc<dyn ExecutionPlan>);
        }
        if scans.is_empty() {
            return Ok(Arc::new(EmptyExec::new(output)));
        }
        UnionExec::try_new(scans)
    }
}
