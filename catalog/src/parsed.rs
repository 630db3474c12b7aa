//! [`ParsedColumns`]: an external table whose text columns are read as dates or
//! timestamps through a parse format, the way the crawler found them written
//! (`01/15/2024 08:30:00 PM`, epoch seconds). The files stay as they are; the format
//! lives in the table's definition (`'tarn.timestamp.<column>' '<chrono format>'`).

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::datetime::expr_fn::{to_date, to_timestamp};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown, col, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

/// How one column is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// Text through a chrono format, to a timestamp.
    Timestamp(String),
    /// Text through a chrono format, to a date.
    Date(String),
    /// Whole seconds since 1970, to a timestamp.
    EpochSeconds,
}

impl Parse {
    /// Reads a definition option: `tarn.timestamp.<col>` or `tarn.date.<col>` with a
    /// format (`epoch` for seconds). `None` for keys that are not Tarn's.
    pub fn from_option(key: &str, value: &str) -> Option<(String, Parse)> {
        if let Some(column) = key.strip_prefix("tarn.timestamp.") {
            let parse = if value.eq_ignore_ascii_case("epoch") {
                Parse::EpochSeconds
            } else {
                Parse::Timestamp(value.to_owned())
            };
            return Some((column.to_owned(), parse));
        }
        key.strip_prefix("tarn.date.")
            .map(|column| (column.to_owned(), Parse::Date(value.to_owned())))
    }

    fn data_type(&self) -> DataType {
        match self {
            Parse::Date(_) => DataType::Date32,
            Parse::Timestamp(_) | Parse::EpochSeconds => {
                DataType::Timestamp(TimeUnit::Nanosecond, None)
            }
        }
    }

    fn expr(&self, column: &str) -> Expr {
        let c = col(datafusion::common::Column::new_unqualified(column));
        match self {
            Parse::Timestamp(format) => to_timestamp(vec![c, lit(format.clone())]),
            Parse::Date(format) => to_date(vec![c, lit(format.clone())]),
            Parse::EpochSeconds => to_timestamp(vec![c]),
        }
    }
}

/// A table provider whose listed columns are parsed on read.
#[derive(Debug)]
pub struct ParsedColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// Per column of `inner`, its parse, if any.
    parse: Vec<Option<Parse>>,
}

impl ParsedColumns {
    /// Wraps `inner`; every column named in `parse` must exist.
    pub fn try_new(inner: Arc<dyn TableProvider>, parse: Vec<(String, Parse)>) -> Result<Self> {
        let inner_schema = inner.schema();
        let mut per_column = vec![None; inner_schema.fields().len()];
        for (name, p) in parse {
            let (i, _) = inner_schema.column_with_name(&name).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "parse format given for column \"{name}\", which the table does not have"
                ))
            })?;
            per_column[i] = Some(p);
        }
        let fields: Vec<Field> = inner_schema
            .fields()
            .iter()
            .zip(&per_column)
            .map(|(f, p)| match p {
                Some(p) => Field::new(f.name(), p.data_type(), true),
                None => f.as_ref().clone(),
            })
            .collect();
        Ok(Self {
            schema: Arc::new(Schema::new_with_metadata(
                fields,
                inner_schema.metadata().clone(),
            )),
            inner,
            parse: per_column,
        })
    }

    fn parsed_column(&self, name: &str) -> bool {
        self.schema
            .column_with_name(name)
            .is_some_and(|(i, _)| self.parse[i].is_some())
    }

    fn touches_parsed(&self, expr: &Expr) -> bool {
        expr.column_refs()
            .iter()
            .any(|c| self.parsed_column(&c.name))
    }
}

#[async_trait]
impl TableProvider for ParsedColumns {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters on parsed columns compare parsed values: applied above the scan.
        // Others go to the files' reader (partition pruning), which may apply them
        // inexactly.
        let passable: Vec<&Expr> = filters
            .iter()
            .copied()
            .filter(|f| !self.touches_parsed(f))
            .collect();
        let mut inner = self.inner.supports_filters_pushdown(&passable)?.into_iter();
        Ok(filters
            .iter()
            .map(|f| {
                if self.touches_parsed(f) {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    inner
                        .next()
                        .unwrap_or(TableProviderFilterPushDown::Unsupported)
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let passable: Vec<Expr> = filters
            .iter()
            .filter(|f| !self.touches_parsed(f))
            .cloned()
            .collect();
        let input = self.inner.scan(state, projection, &passable, limit).await?;
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.parse.len()).collect(),
        };
        let input_schema = DFSchema::try_from(input.schema().as_ref().clone())?;
        let exprs = columns
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name();
                let expr = match &self.parse[i] {
                    Some(p) => p.expr(name),
                    None => col(datafusion::common::Column::new_unqualified(name)),
                };
                Ok((
                    state.create_physical_expr(expr, &input_schema)?,
                    name.clone(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
