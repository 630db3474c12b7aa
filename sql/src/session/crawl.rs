//! `CRAWL 'location' INTO SCHEMA name [WITH (option = value, ...)]`: the crawler,
//! from SQL.
//!
//! The crawler (`tarn_connectors::crawl`) proposes tables; this statement shows the
//! proposal (`WITH (dry_run = true)` stops there, like `terraform plan`) or applies
//! it: one catalog entry per new table, definitions replaced for new columns, and the
//! crawl's state kept in the warehouse (`_tarn/crawls/`) so the next crawl reads only
//! new and changed files. The answer is one row per table (`create`, `update`,
//! `unchanged`, `drop`) and per skipped file (`skip`), with the reason.

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use serde::{Deserialize, Serialize};
use tarn_connectors::StorageLocation;
use tarn_connectors::crawl::{
    self, Action, CrawlOptions, CrawlState, FileFormat, TableDef, TableFormat,
};

use super::{Output, Session};
use crate::error::{Result, SqlError};

/// The catalog-entry property that marks a table whose files are all gone
/// (`deleted = deprecate`).
pub(crate) const DEPRECATED_PROPERTY: &str = "deprecated_by_crawler";

/// The function a parsed CRAWL statement is carried as (DataFusion's statement type
/// has no room for new statements): `CALL tarn_crawl('<json>')`.
pub(crate) const CRAWL_FUNCTION: &str = "tarn_crawl";

/// A parsed CRAWL statement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CrawlStatement {
    pub location: String,
    pub schema: String,
    pub dry_run: bool,
    pub options: CrawlOptions,
}

impl CrawlStatement {
    /// Parses `CRAWL 'location' INTO SCHEMA name [WITH (key = value, ...)]`.
    pub(crate) fn parse(sql: &str) -> Result<Self> {
        let syntax = |message: String| SqlError::Syntax { message };
        let tokens: Vec<Token> = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize()
            .map_err(|e| syntax(e.to_string()))?
            .into_iter()
            .filter(|t| !matches!(t, Token::Whitespace(_)))
            .collect();
        let mut it = tokens.iter().peekable();
        let mut word = |expected: &str| match it.next() {
            Some(Token::Word(w)) if w.value.eq_ignore_ascii_case(expected) => Ok(()),
            other => Err(syntax(format!(
                "CRAWL: expected {expected} at {}; the form is CRAWL 'location' INTO SCHEMA name [WITH (option = value, ...)]",
                other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
            ))),
        };
        word("CRAWL")?;
        let location = match it.next() {
            Some(Token::SingleQuotedString(s)) => s.clone(),
            other => {
                return Err(syntax(format!(
                    "CRAWL: expected a quoted location at {}",
                    other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
                )));
            }
        };
        let mut word = |expected: &str| match it.next() {
            Some(Token::Word(w)) if w.value.eq_ignore_ascii_case(expected) => Ok(()),
            other => Err(syntax(format!(
                "CRAWL: expected {expected} at {}",
                other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
            ))),
        };
        word("INTO")?;
        word("SCHEMA")?;
        let schema = match it.next() {
            Some(Token::Word(w)) if w.quote_style.is_some() => w.value.clone(),
            Some(Token::Word(w)) => w.value.to_lowercase(),
            other => {
                return Err(syntax(format!(
                    "CRAWL: expected a schema name at {}",
                    other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
                )));
            }
        };
        let mut options = serde_json::Map::new();
        let mut dry_run = false;
        match it.next() {
            None | Some(Token::SemiColon) => {}
            Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("WITH") => {
                if it.next() != Some(&Token::LParen) {
                    return Err(syntax("CRAWL: expected ( after WITH".to_owned()));
                }
                loop {
                    let key = match it.next() {
                        Some(Token::Word(w)) => w.value.to_lowercase(),
                        Some(Token::RParen) => break,
                        other => {
                            return Err(syntax(format!(
                                "CRAWL: expected an option name at {}",
                                other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
                            )));
                        }
                    };
                    if it.peek() == Some(&&Token::Eq) {
                        it.next();
                    }
                    let value = match it.next() {
                        Some(Token::SingleQuotedString(s)) => serde_json::Value::String(s.clone()),
                        Some(Token::Number(n, _)) => {
                            n.parse::<u64>().map(serde_json::Value::from).map_err(|_| {
                                syntax(format!("CRAWL: option {key}: {n} is not a whole number"))
                            })?
                        }
                        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("true") => true.into(),
                        Some(Token::Word(w)) if w.value.eq_ignore_ascii_case("false") => {
                            false.into()
                        }
                        Some(Token::Word(w)) => serde_json::Value::String(w.value.to_lowercase()),
                        other => {
                            return Err(syntax(format!(
                                "CRAWL: option {key} needs a value, found {}",
                                other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
                            )));
                        }
                    };
                    match key.as_str() {
                        "dry_run" => {
                            dry_run = value.as_bool().ok_or_else(|| {
                                syntax("CRAWL: dry_run is true or false".to_owned())
                            })?;
                        }
                        "exclude" => {
                            let globs: Vec<serde_json::Value> = value
                                .as_str()
                                .unwrap_or_default()
                                .split(',')
                                .map(str::trim)
                                .filter(|g| !g.is_empty())
                                .map(|g| g.to_owned().into())
                                .collect();
                            options.insert(key, globs.into());
                        }
                        _ => {
                            options.insert(key, value);
                        }
                    }
                    match it.next() {
                        Some(Token::Comma) => continue,
                        Some(Token::RParen) => break,
                        other => {
                            return Err(syntax(format!(
                                "CRAWL: expected , or ) at {}",
                                other.map_or("the end".to_owned(), |t| format!("\"{t}\""))
                            )));
                        }
                    }
                }
            }
            Some(other) => return Err(syntax(format!("CRAWL: unexpected \"{other}\""))),
        }
        if let Some(extra) = it.find(|t| **t != Token::SemiColon) {
            return Err(syntax(format!(
                "CRAWL: unexpected \"{extra}\" after the statement"
            )));
        }
        let options: CrawlOptions = serde_json::from_value(options.into()).map_err(|e| {
            SqlError::InvalidOption {
                statement: "CRAWL",
                reason: format!(
                    "{e} (options: dry_run, sample_rows, sample_bytes, files_per_folder, table_level, exclude, max_tables, combine, schema_change = update|log, deleted = log|delete|deprecate)"
                ),
            }
        })?;
        Ok(Self {
            location,
            schema,
            dry_run,
            options,
        })
    }

    /// The statement as DataFusion carries it.
    pub(crate) fn into_statement(self) -> Result<DFStatement> {
        let json = serde_json::to_string(&self).map_err(|e| SqlError::Syntax {
            message: e.to_string(),
        })?;
        let call = format!("CALL {CRAWL_FUNCTION}('{}')", json.replace('\'', "''"));
        let mut statements =
            datafusion::sql::sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, &call)
                .map_err(|e| SqlError::Syntax {
                    message: e.to_string(),
                })?;
        let statement = statements.pop().ok_or_else(|| SqlError::Syntax {
            message: "empty CRAWL".to_owned(),
        })?;
        Ok(DFStatement::Statement(Box::new(statement)))
    }

    /// The statement back from its carrier's argument.
    pub(crate) fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| SqlError::Syntax {
            message: format!("{CRAWL_FUNCTION}: {e}"),
        })
    }
}

impl Session {
    /// Crawls `location` into `schema`, as `CRAWL` does (for scheduled crawlers).
    pub async fn crawl_location(
        &self,
        location: &str,
        schema: &str,
        options: CrawlOptions,
        dry_run: bool,
    ) -> Result<Output> {
        self.crawl(CrawlStatement {
            location: location.to_owned(),
            schema: schema.to_owned(),
            dry_run,
            options,
        })
        .await
    }

    pub(super) async fn crawl(&self, statement: CrawlStatement) -> Result<Output> {
        let started = std::time::Instant::now();
        let started_at = chrono::Utc::now();
        let url = self.engine.check_location(&statement.location)?;
        let engine_options = self.engine.options();
        let catalog = self.engine.catalog();
        let storage_options = if url.as_str().starts_with(catalog.url().as_str()) {
            catalog.root().options().clone()
        } else {
            engine_options.buckets.options_for(&url)
        };
        let location = StorageLocation::open(url.as_str(), storage_options)?;
        let state_key = format!(
            "crawls/{}/{}.json",
            statement.schema,
            url.as_str()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        let previous: Option<CrawlState> = match catalog.read_state(&state_key).await? {
            Some(bytes) => serde_json::from_slice(&bytes).ok(),
            None => None,
        };
        let plan = crawl::plan(&location, &statement.options, previous.as_ref()).await?;
        let mut rows: Vec<[String; 3]> = Vec::new();
        if !statement.dry_run {
            catalog.create_schema(&statement.schema, true).await?;
        }
        let mut state = plan.state.clone();
        for table in &plan.tables {
            let name = format!("{}.{}", statement.schema, table.table.name);
            let mut detail = table.changes.join("; ");
            let mut action = table.action.as_str().to_owned();
            if !statement.dry_run
                && let Err(e) = self
                    .apply(&statement.schema, table.action, &table.table)
                    .await
            {
                // One table's failure does not stop the crawl; it is not remembered,
                // so the next crawl tries again.
                action = "error".to_owned();
                detail = format!("{detail}; not applied: {e}");
                state.tables.remove(&table.table.key);
            }
            rows.push([action, name, detail]);
        }
        for skipped in &plan.skipped {
            rows.push([
                "skip".to_owned(),
                skipped.path.clone(),
                skipped.reason.clone(),
            ]);
        }
        let elapsed = started.elapsed();
        rows.push([
            if statement.dry_run { "plan" } else { "done" }.to_owned(),
            plan.location.clone(),
            format!(
                "{} files listed, {} read, {} unchanged since the last crawl, {} ms{}",
                plan.files_listed,
                plan.files_read,
                plan.files_unchanged,
                elapsed.as_millis(),
                if statement.dry_run {
                    "; dry run: nothing changed"
                } else {
                    ""
                }
            ),
        ]);
        if !statement.dry_run {
            let body = serde_json::to_vec(&state).map_err(|e| SqlError::Syntax {
                message: e.to_string(),
            })?;
            catalog.write_state(&state_key, body).await?;
            self.record_history(&statement, &plan, &rows, started_at, elapsed)
                .await?;
            tracing::info!(location = %plan.location, tables = plan.tables.len(), ms = elapsed.as_millis() as u64, "crawled");
        }
        let schema = Arc::new(Schema::new(vec![
            Field::new("action", DataType::Utf8, false),
            Field::new("object", DataType::Utf8, false),
            Field::new("detail", DataType::Utf8, false),
        ]));
        let column = |i: usize| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[i].clone()),
            )) as datafusion::arrow::array::ArrayRef
        };
        let batch =
            RecordBatch::try_new(Arc::clone(&schema), vec![column(0), column(1), column(2)])
                .map_err(|e| SqlError::DataFusion(e.into()))?;
        let stream = MemoryStream::try_new(vec![batch], Arc::clone(&schema), None)?;
        Ok(Output::Rows {
            schema,
            stream: Box::pin(stream),
            command: "CRAWL",
        })
    }

    /// Appends the crawl's outcome to `tarn.crawls` (one row) and `tarn.crawl_files`
    /// (one row per file: read, unchanged, not sampled or skipped, with the reason),
    /// creating them on first use. They are ordinary Delta tables.
    async fn record_history(
        &self,
        statement: &CrawlStatement,
        plan: &crawl::CrawlPlan,
        rows: &[[String; 3]],
        started_at: chrono::DateTime<chrono::Utc>,
        elapsed: std::time::Duration,
    ) -> Result<()> {
        use datafusion::arrow::array::{BooleanArray, Int64Array, TimestampMicrosecondArray};
        for ddl in [
            "CREATE SCHEMA IF NOT EXISTS tarn",
            "CREATE TABLE IF NOT EXISTS tarn.crawls (crawl_id VARCHAR, started_at TIMESTAMPTZ, \
             location VARCHAR, schema_name VARCHAR, tables_created BIGINT, tables_updated BIGINT, \
             tables_unchanged BIGINT, tables_failed BIGINT, files_listed BIGINT, files_read BIGINT, \
             files_unchanged BIGINT, files_skipped BIGINT, duration_ms BIGINT, dry_run BOOLEAN)",
            "CREATE TABLE IF NOT EXISTS tarn.crawl_files (crawl_id VARCHAR, path VARCHAR, \
             table_name VARCHAR, outcome VARCHAR, reason VARCHAR, size BIGINT)",
        ] {
            for st in self.parse(ddl)? {
                Box::pin(self.execute(st)).await?;
            }
        }
        let id = uuid::Uuid::new_v4().to_string();
        let count = |action: &str| rows.iter().filter(|r| r[0] == action).count() as i64;
        let crawls = plain_schema(self.ctx.table_provider("tarn.crawls").await?.schema());
        let utc: Arc<str> = Arc::from("UTC");
        let batch = RecordBatch::try_new(
            Arc::clone(&crawls),
            vec![
                Arc::new(StringArray::from(vec![id.clone()])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![started_at.timestamp_micros()])
                        .with_timezone(utc),
                ),
                Arc::new(StringArray::from(vec![plan.location.clone()])),
                Arc::new(StringArray::from(vec![statement.schema.clone()])),
                Arc::new(Int64Array::from(vec![count("create")])),
                Arc::new(Int64Array::from(vec![count("update")])),
                Arc::new(Int64Array::from(vec![count("unchanged")])),
                Arc::new(Int64Array::from(vec![count("error")])),
                Arc::new(Int64Array::from(vec![plan.files_listed as i64])),
                Arc::new(Int64Array::from(vec![plan.files_read as i64])),
                Arc::new(Int64Array::from(vec![plan.files_unchanged as i64])),
                Arc::new(Int64Array::from(vec![plan.skipped.len() as i64])),
                Arc::new(Int64Array::from(vec![elapsed.as_millis() as i64])),
                Arc::new(BooleanArray::from(vec![statement.dry_run])),
            ],
        )
        .map_err(|e| SqlError::DataFusion(e.into()))?;
        self.append("tarn.crawls", batch).await?;

        let mut table_of = std::collections::HashMap::new();
        for t in &plan.tables {
            for p in &t.paths {
                table_of.insert(p.as_str(), format!("{}.{}", statement.schema, t.table.name));
            }
        }
        let mut files: Vec<(String, Option<String>, &str, Option<String>, Option<i64>)> = plan
            .state
            .files
            .iter()
            .map(|(path, record)| {
                let outcome = if plan.read.contains(path) {
                    "read"
                } else if record.class.is_none() {
                    "not sampled"
                } else {
                    "unchanged"
                };
                (
                    path.clone(),
                    table_of.get(path.as_str()).cloned(),
                    outcome,
                    None,
                    Some(record.size as i64),
                )
            })
            .filter(|f| !plan.skipped.iter().any(|s| s.path == f.0))
            .collect();
        files.extend(plan.skipped.iter().map(|s| {
            (
                s.path.clone(),
                None,
                "skipped",
                Some(s.reason.clone()),
                None,
            )
        }));
        let crawl_files = plain_schema(self.ctx.table_provider("tarn.crawl_files").await?.schema());
        for chunk in files.chunks(8192) {
            let batch = RecordBatch::try_new(
                Arc::clone(&crawl_files),
                vec![
                    Arc::new(StringArray::from(vec![id.clone(); chunk.len()])),
                    Arc::new(StringArray::from_iter_values(
                        chunk.iter().map(|f| f.0.clone()),
                    )),
                    Arc::new(StringArray::from_iter(chunk.iter().map(|f| f.1.clone()))),
                    Arc::new(StringArray::from_iter_values(chunk.iter().map(|f| f.2))),
                    Arc::new(StringArray::from_iter(chunk.iter().map(|f| f.3.clone()))),
                    Arc::new(Int64Array::from_iter(chunk.iter().map(|f| f.4))),
                ],
            )
            .map_err(|e| SqlError::DataFusion(e.into()))?;
            self.append("tarn.crawl_files", batch).await?;
        }
        Ok(())
    }

    /// Appends `batch` to `table` (one Delta commit), its columns cast to the table's
    /// types (Delta tables read text as Utf8View).
    async fn append(&self, table: &str, batch: RecordBatch) -> Result<()> {
        let target = self.ctx.table_provider(table).await?.schema();
        let columns = batch
            .columns()
            .iter()
            .zip(target.fields())
            .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| SqlError::DataFusion(e.into()))?;
        let batch =
            RecordBatch::try_new(target, columns).map_err(|e| SqlError::DataFusion(e.into()))?;
        let frame = self.ctx.read_batch(batch)?;
        frame
            .write_table(table, datafusion::dataframe::DataFrameWriteOptions::new())
            .await?;
        Ok(())
    }

    async fn apply(&self, schema: &str, action: Action, table: &TableDef) -> Result<()> {
        let catalog = self.engine.catalog();
        match (action, &table.format) {
            (Action::Unchanged, _) => Ok(()),
            (Action::Drop, _) => {
                catalog.drop_table(schema, &table.name, true).await?;
                Ok(())
            }
            (Action::Deprecate, _) => {
                let now = chrono::Utc::now().to_rfc3339();
                catalog
                    .set_property(schema, &table.name, DEPRECATED_PROPERTY, Some(&now))
                    .await?;
                Ok(())
            }
            (Action::Create, TableFormat::Delta) => {
                let url = self.engine.check_location(&table.location)?;
                // A crawl that stopped after registering it, before saving its state.
                if let Some(entry) = catalog.metastore().table(schema, &table.name).await?
                    && entry.kind == tarn_catalog::TableKind::ExternalDelta
                    && entry.location == url.as_str()
                {
                    return Ok(());
                }
                catalog
                    .create_external_delta(schema, &table.name, &url, false)
                    .await?;
                Ok(())
            }
            (Action::Update, TableFormat::Delta) => {
                catalog
                    .set_property(schema, &table.name, DEPRECATED_PROPERTY, None)
                    .await?;
                Ok(())
            }
            (Action::Create | Action::Update, TableFormat::Files { .. }) => {
                if action == Action::Update {
                    catalog
                        .set_property(schema, &table.name, DEPRECATED_PROPERTY, None)
                        .await?;
                }
                // Update replaces the definition; so does Create when an earlier crawl
                // registered the table but stopped before saving its state. A table
                // of another kind under that name is left alone (42P07).
                let ours = catalog
                    .metastore()
                    .table(schema, &table.name)
                    .await?
                    .is_some_and(|e| e.kind == tarn_catalog::TableKind::External);
                let sql = external_table_sql(schema, table, action == Action::Update || ours);
                let statement =
                    self.parse(&sql)?
                        .into_iter()
                        .next()
                        .ok_or_else(|| SqlError::Syntax {
                            message: format!("empty definition for {}", table.name),
                        })?;
                let DFStatement::CreateExternalTable(create) = statement else {
                    return Err(SqlError::Syntax {
                        message: format!("not an external table definition: {sql}"),
                    });
                };
                self.create_external_table(create).await?;
                Ok(())
            }
        }
    }
}

/// `schema` with text as Utf8 (what the builders here make); `append` casts back.
fn plain_schema(
    schema: datafusion::arrow::datatypes::SchemaRef,
) -> datafusion::arrow::datatypes::SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8View | DataType::LargeUtf8 => {
                    Field::new(f.name(), DataType::Utf8, f.is_nullable())
                }
                _ => f.as_ref().clone(),
            })
            .collect::<Vec<_>>(),
    ))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The `CREATE EXTERNAL TABLE` statement for a crawled table of files. Delimited text
/// is declared as text columns typed on read by the crawler's types
/// (`tarn.type.<column>`, `tarn.timestamp.<column>`, `tarn.date.<column>`), so values
/// that do not parse read as NULL; Parquet, JSON and Avro declare their own types.
pub(crate) fn external_table_sql(schema: &str, table: &TableDef, replace: bool) -> String {
    let TableFormat::Files {
        format,
        compression,
    } = &table.format
    else {
        return String::new();
    };
    let mut options: Vec<(String, String)> = Vec::new();
    let mut columns: Vec<String> = Vec::new();
    if let FileFormat::Csv { dialect } = format {
        options.push(("format.has_header".to_owned(), dialect.header.to_string()));
        options.push((
            "format.delimiter".to_owned(),
            (dialect.delimiter as char).to_string(),
        ));
        if table.ragged {
            options.push(("format.truncated_rows".to_owned(), "true".to_owned()));
        }
        // Every column is read as text and typed by Tarn, so a value that does not
        // parse (a typo far past the sample) reads as NULL instead of failing the query.
        for c in &table.columns {
            match (&c.data_type, c.format.as_deref()) {
                (_, Some(f)) if matches!(c.data_type, crawl::ColumnType::Timestamp) => {
                    options.push((format!("tarn.timestamp.{}", c.name), f.to_owned()));
                }
                (crawl::ColumnType::Date, Some(f)) => {
                    options.push((format!("tarn.date.{}", c.name), f.to_owned()));
                }
                (crawl::ColumnType::String | crawl::ColumnType::Native { .. }, _) => {}
                (t, _) => options.push((format!("tarn.type.{}", c.name), t.sql())),
            }
            columns.push(format!("{} VARCHAR", quote_ident(&c.name)));
        }
        for p in &table.partitions {
            columns.push(format!("{} {}", quote_ident(&p.name), p.data_type.sql()));
        }
    }
    if let FileFormat::Json { lines: false } = format {
        options.push(("format.newline_delimited".to_owned(), "false".to_owned()));
    }
    if let Some(c) = compression.sql() {
        options.push(("format.compression".to_owned(), c.to_owned()));
    }
    let mut sql = format!(
        "CREATE {}EXTERNAL TABLE {}.{}",
        if replace { "OR REPLACE " } else { "" },
        quote_ident(schema),
        quote_ident(&table.name)
    );
    if !columns.is_empty() {
        sql.push_str(&format!(" ({})", columns.join(", ")));
    }
    sql.push_str(&format!(" STORED AS {}", format.stored_as()));
    if !table.partitions.is_empty() {
        // Clean names (lower-case identifiers) are written bare: DataFusion keeps
        // quotes in partition names.
        let names: Vec<String> = table.partitions.iter().map(|p| p.name.clone()).collect();
        sql.push_str(&format!(" PARTITIONED BY ({})", names.join(", ")));
    }
    if table.unnamed_levels > 0 && table.partitions.is_empty() {
        options.push((
            crate::session::UNNAMED_LEVELS_OPTION.to_owned(),
            table.unnamed_levels.to_string(),
        ));
    }
    if let Some(extension) = &table.file_extension {
        options.push((
            crate::session::FILE_EXTENSION_OPTION.to_owned(),
            extension.clone(),
        ));
    }
    sql.push_str(&format!(" LOCATION {}", quote_literal(&table.location)));
    if !options.is_empty() {
        let pairs: Vec<String> = options
            .iter()
            .map(|(k, v)| format!("{} {}", quote_literal(k), quote_literal(v)))
            .collect();
        sql.push_str(&format!(" OPTIONS ({})", pairs.join(", ")));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crawl_statement_parses_with_options() {
        let s = CrawlStatement::parse(
            "crawl 's3://raw/crimes/' into schema Raw with (dry_run = true, sample_rows 50, exclude = '*.tmp, junk/**', schema_change = 'log')",
        )
        .expect("parses");
        assert_eq!(s.location, "s3://raw/crimes/");
        assert_eq!(s.schema, "raw");
        assert!(s.dry_run);
        assert_eq!(s.options.sample_rows, 50);
        assert_eq!(s.options.exclude, vec!["*.tmp", "junk/**"]);
        assert_eq!(s.options.schema_change, crawl::SchemaChangePolicy::Log);
        let back =
            CrawlStatement::from_json(&serde_json::to_string(&s).expect("json")).expect("json");
        assert_eq!(back.location, s.location);
    }

    #[test]
    fn crawl_statement_errors_name_the_problem() {
        let err = CrawlStatement::parse("crawl s3 into schema raw").expect_err("unquoted");
        assert!(err.to_string().contains("quoted location"), "{err}");
        let err = CrawlStatement::parse("crawl 'x' into schema raw with (bogus = 1)")
            .expect_err("unknown");
        assert!(err.to_string().contains("bogus"), "{err}");
    }
}
