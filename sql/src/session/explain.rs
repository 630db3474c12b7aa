//! EXPLAIN answered in PostgreSQL's shape: one text column, `QUERY PLAN`, with a row
//! per line of the plan. DataFusion answers two columns (`plan_type`, `plan`) with a
//! row per planning stage; clients that show a plan (psql, DBeaver, Metabase,
//! SQLAlchemy's dialect tests) read PostgreSQL's column.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;

use crate::error::Result;

/// PostgreSQL's name for EXPLAIN's column.
pub(crate) const COLUMN: &str = "QUERY PLAN";

/// The stages DataFusion names for the plan that runs: the physical plan, and with
/// ANALYZE the physical plan with its metrics.
const RUNNING: &[&str] = &["physical_plan", "Plan with Metrics"];

/// EXPLAIN's result columns.
pub(crate) fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(COLUMN, DataType::Utf8, false)]))
}

/// The lines of DataFusion's EXPLAIN output `batches`. Without VERBOSE, the plan that
/// runs, as PostgreSQL shows the plan it would run; with VERBOSE, or where there is no
/// such plan (it failed to plan), every stage under its name with its lines indented.
pub(crate) fn lines(batches: &[RecordBatch], verbose: bool) -> Vec<String> {
    let mut stages: Vec<(String, String)> = Vec::new();
    for batch in batches {
        let (Some(kinds), Some(plans)) = (
            batch.column(0).as_string_opt::<i32>(),
            batch.column(1).as_string_opt::<i32>(),
        ) else {
            continue;
        };
        for row in 0..batch.num_rows() {
            if kinds.is_valid(row) && plans.is_valid(row) {
                stages.push((kinds.value(row).to_owned(), plans.value(row).to_owned()));
            }
        }
    }
    let running: Vec<&(String, String)> = stages
        .iter()
        .filter(|(kind, _)| RUNNING.contains(&kind.as_str()))
        .collect();
    if !verbose && running.len() == 1 {
        return running[0].1.lines().map(str::to_owned).collect();
    }
    let mut lines = Vec::new();
    for (kind, plan) in &stages {
        lines.push(format!("{kind}:"));
        lines.extend(plan.lines().map(|line| format!("  {line}")));
    }
    lines
}

/// EXPLAIN's rows from DataFusion's output `batches`.
pub(crate) fn rows(batches: &[RecordBatch], verbose: bool) -> Result<SendableRecordBatchStream> {
    let schema = schema();
    let lines = StringArray::from(lines(batches, verbose));
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(lines)])
        .map_err(datafusion::error::DataFusionError::from)?;
    Ok(Box::pin(RecordBatchStreamAdapter::new(
        schema,
        futures::stream::iter([Ok(batch)]),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(stages: &[(&str, &str)]) -> Vec<RecordBatch> {
        let kinds = StringArray::from(stages.iter().map(|s| s.0).collect::<Vec<_>>());
        let plans = StringArray::from(stages.iter().map(|s| s.1).collect::<Vec<_>>());
        let schema = Arc::new(Schema::new(vec![
            Field::new("plan_type", DataType::Utf8, false),
            Field::new("plan", DataType::Utf8, false),
        ]));
        vec![RecordBatch::try_new(schema, vec![Arc::new(kinds), Arc::new(plans)]).expect("batch")]
    }

    #[test]
    fn the_running_plan_line_by_line_and_every_stage_when_verbose() {
        let batches = output(&[
            ("logical_plan", "Projection: t.a\n  TableScan: t"),
            (
                "physical_plan",
                "ProjectionExec: expr=[a]\n  DataSourceExec: file_groups={1 group}",
            ),
        ]);
        assert_eq!(
            lines(&batches, false),
            [
                "ProjectionExec: expr=[a]",
                "  DataSourceExec: file_groups={1 group}"
            ]
        );
        assert_eq!(
            lines(&batches, true),
            [
                "logical_plan:",
                "  Projection: t.a",
                "    TableScan: t",
                "physical_plan:",
                "  ProjectionExec: expr=[a]",
                "    DataSourceExec: file_groups={1 group}",
            ]
        );
        // No physical plan: what there is, under its stage's name.
        let failed = output(&[
            ("logical_plan", "TableScan: t"),
            ("physical_plan_error", "boom"),
        ]);
        assert_eq!(
            lines(&failed, false),
            [
                "logical_plan:",
                "  TableScan: t",
                "physical_plan_error:",
                "  boom"
            ]
        );
    }
}
