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
    let stages = stages(batches);
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

/// The (stage, plan) rows of DataFusion's EXPLAIN output `batches`.
fn stages(batches: &[RecordBatch]) -> Vec<(String, String)> {
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
    stages
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

/// PostgreSQL's `EXPLAIN (options) query` as DataFusion's parser reads it: it knows
/// PostgreSQL's JSON plan as `pgjson` and refuses `FORMAT JSON` (22023), and refuses
/// PostgreSQL's `BUFFERS`, `WAL`, `SETTINGS`, `GENERIC_PLAN` and `MEMORY` even turned
/// off (pgAdmin sends `BUFFERS false`), and `TIMING` and `SUMMARY` without `ANALYZE`,
/// where off they ask for nothing DataFusion would show. `FORMAT JSON` becomes `FORMAT pgjson` and those options turned off are left
/// out, the rest kept as written; `None` where there is nothing to change.
pub(crate) fn options_for_datafusion(sql: &str) -> Option<String> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    // Tokens other than whitespace, with their byte ranges.
    let mut spans = Vec::new();
    for t in &tokens {
        if !matches!(t.token, Token::Whitespace(_)) {
            let range = byte_offset(sql, t.span.start)?..byte_offset(sql, t.span.end)?;
            spans.push((&t.token, range));
        }
    }
    let is_word = |t: &Token, words: &[&str]| {
        matches!(t, Token::Word(w) if w.quote_style.is_none()
            && words.iter().any(|word| w.value.eq_ignore_ascii_case(word)))
    };
    let [(explain, _), (Token::LParen, open), rest @ ..] = spans.as_slice() else {
        return None;
    };
    if !is_word(explain, &["explain"]) {
        return None;
    }
    let close = rest.iter().position(|(t, _)| **t == Token::RParen)?;
    let off = |argument: Option<&Token>| {
        argument.is_some_and(|a| {
            is_word(a, &["false", "off"]) || matches!(a, Token::Number(n, _) if n == "0")
        })
    };
    let options: Vec<_> = rest[..close].split(|(t, _)| **t == Token::Comma).collect();
    let analyze = options.iter().any(|option| {
        option
            .first()
            .is_some_and(|(name, _)| is_word(name, &["analyze", "analyse"]))
            && !off(option.get(1).map(|(t, _)| *t))
    });
    // Off, they ask for nothing (TIMING and SUMMARY: without ANALYZE, where
    // DataFusion refuses them).
    let nothing = |name: &Token| {
        is_word(
            name,
            &["buffers", "wal", "settings", "generic_plan", "memory"],
        ) || (!analyze && is_word(name, &["timing", "summary"]))
    };
    // With ANALYZE, PostgreSQL shows costs unless COSTS is off; Tarn has none to show,
    // and DataFusion refuses COSTS with ANALYZE, on or off (pgAdmin sends `COSTS true`).
    let dropped = |name: &Token| analyze && is_word(name, &["costs"]);
    let mut kept = Vec::new();
    let mut changed = false;
    for option in options {
        let (Some((name, first)), Some((_, last))) = (option.first(), option.last()) else {
            return None;
        };
        let argument = option.get(1).map(|(t, _)| *t);
        if is_word(name, &["format"]) && argument.is_some_and(|a| is_word(a, &["json"])) {
            kept.push(format!("{} pgjson", &sql[first.clone()]));
            changed = true;
        } else if (off(argument) && nothing(name)) || dropped(name) {
            changed = true;
        } else {
            kept.push(sql[first.start..last.end].to_owned());
        }
    }
    if !changed {
        return None;
    }
    let close = &rest[close].1;
    Some(match kept.is_empty() {
        true => format!("{}{}", &sql[..open.start], &sql[close.end..]),
        false => format!(
            "{}{}{}",
            &sql[..open.end],
            kept.join(", "),
            &sql[close.start..]
        ),
    })
}

/// The byte offset of a tokenizer's `location` (line and column, both from 1, the
/// column in characters) in `sql`.
fn byte_offset(
    sql: &str,
    location: datafusion::sql::sqlparser::tokenizer::Location,
) -> Option<usize> {
    let line_start: usize = sql
        .split_inclusive('\n')
        .take(usize::try_from(location.line).ok()?.checked_sub(1)?)
        .map(str::len)
        .sum();
    let column = usize::try_from(location.column).ok()?.checked_sub(1)?;
    let rest = &sql[line_start..];
    match rest.char_indices().nth(column) {
        Some((at, _)) => Some(line_start + at),
        None => (rest.chars().count() == column).then_some(sql.len()),
    }
}

/// The schema of `EXPLAIN (FORMAT JSON)`'s one value, `json` as in PostgreSQL.
pub(crate) fn json_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(COLUMN, DataType::Utf8, false)
            .with_metadata(tarn_catalog::types::DeclaredType::Json.metadata()),
    ]))
}

/// `EXPLAIN (FORMAT JSON)`'s one row: the plan DataFusion writes as PostgreSQL's JSON
/// document (its logical plan: node types are DataFusion's, with their inputs under
/// `Plans`, as PostgreSQL nests them). With ANALYZE, the plan that ran, with each
/// node's `Actual Rows` and `Actual Total Time` (milliseconds) as PostgreSQL names
/// them, and DataFusion's other metrics under `Extras`.
pub(crate) fn json_rows(batches: &[RecordBatch]) -> Result<SendableRecordBatchStream> {
    let documents: Vec<String> = stages(batches)
        .into_iter()
        .filter(|(kind, plan)| {
            matches!(kind.as_str(), "logical_plan" | "Plan with Metrics")
                && plan.trim_start().starts_with('[')
        })
        .map(|(_, plan)| plan)
        .collect();
    let [document] = documents.as_slice() else {
        let lines = lines(batches, true).join("\n");
        return Err(crate::error::SqlError::not_supported(format!(
            "EXPLAIN (FORMAT JSON) of this statement (the plan: {lines})"
        )));
    };
    let schema = json_schema();
    let value = StringArray::from(vec![document.as_str()]);
    let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(value)])
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
    fn postgres_options_are_read_as_datafusions_and_nothing_else_changes() {
        let read = |sql: &str| options_for_datafusion(sql);
        assert_eq!(
            read("explain (format json) select 'json'").as_deref(),
            Some("explain (format pgjson) select 'json'")
        );
        assert_eq!(
            read("/* é */ EXPLAIN (VERBOSE,\n  FORMAT JSON)\nSELECT 'é', \"json\"").as_deref(),
            Some("/* é */ EXPLAIN (VERBOSE, FORMAT pgjson)\nSELECT 'é', \"json\"")
        );
        // pgAdmin's.
        assert_eq!(
            read("EXPLAIN (FORMAT JSON, ANALYZE false, VERBOSE false, COSTS true, BUFFERS false, TIMING false, SUMMARY false, SETTINGS off, WAL 0) SELECT 1").as_deref(),
            Some("EXPLAIN (FORMAT pgjson, ANALYZE false, VERBOSE false, COSTS true) SELECT 1")
        );
        // pgAdmin's with ANALYZE: COSTS goes, which DataFusion refuses with ANALYZE.
        assert_eq!(
            read("EXPLAIN (FORMAT JSON, ANALYZE true, COSTS true, BUFFERS false, TIMING true) SELECT 1").as_deref(),
            Some("EXPLAIN (FORMAT pgjson, ANALYZE true, TIMING true) SELECT 1")
        );
        assert_eq!(
            read("explain (buffers off) select 1").as_deref(),
            Some("explain  select 1")
        );
        assert_eq!(read("explain (buffers) select 1"), None);
        assert_eq!(read("explain (buffers on) select 1"), None);
        assert_eq!(read("explain (analyze, timing off) select 1"), None);
        assert_eq!(
            read("explain (analyze off, timing off) select 1").as_deref(),
            Some("explain (analyze off) select 1")
        );
        assert_eq!(read("explain (format text) select 1"), None);
        assert_eq!(read("explain select json from t"), None);
        assert_eq!(read("explain (format \"json\") select 1"), None);
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
