//! [`Session`]: one client's view of the warehouse, and how each statement runs.
//!
//! ```text
//!   SQL text ──parse──▶ statements ──┬─ session statements (BEGIN, SET, SHOW) ─▶ settings
//!                                    └─ DataFusion plan ──┬─ DDL ─────────────▶ lake catalog
//!                                                          ├─ INSERT ──────────▶ Delta commit
//!                                                          └─ query ───────────▶ batch stream
//! ```
//!
//! The names a statement uses are refreshed from the metastore before it is planned,
//! so DDL done by another session or server is seen. DDL is intercepted at the plan
//! level (DataFusion has already resolved names and column types) and carried out by
//! the catalog; DataFusion never creates in-memory tables here.

use std::sync::{Arc, Mutex, MutexGuard};

use datafusion::arrow::array::{ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::format::ExplainFormat;
use datafusion::common::{ParamValues, SchemaReference, TableReference};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::context::{SessionConfig, SessionContext};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{DdlStatement, DmlStatement, Expr, LogicalPlan, WriteOp};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::scalar::ScalarValue;
use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::planner::object_name_to_table_reference;
use datafusion::sql::sqlparser::ast::{
    self, Expr as SqlExpr, ObjectName, Statement as SqlStatement,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use tracing::instrument;

use crate::engine::Engine;
use crate::error::{Result, SqlError};
use crate::params;
use crate::settings::Settings;
use parameters::{declared_types, parameter_types, placeholders_typed};

mod alter;
mod crawl;
mod cursor;
mod defaults;
mod depends;
mod explain;
mod journal;
mod matview;
pub(crate) use journal::RowChange;
mod drops;
mod merge;
mod notices;
pub mod origins;
mod parameters;
mod plans;
mod scope;
mod sql_prepare;

pub use notices::{Condition, Notice, Severity};
pub use scope::TEMP_SCHEMA_PREFIX;

/// What a statement produced.
pub enum Output {
    /// Rows, streamed. `command` is the tag word (`SELECT`, `SHOW`, ...); the caller
    /// counts rows as it sends them.
    Rows {
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
        command: &'static str,
    },
    /// A command that returns no rows, with its completion tag.
    Command(CommandTag),
    /// `COPY ... FROM STDIN`: the caller feeds the client's data to the loader.
    CopyIn(crate::copy::CopyIn),
    /// `COPY ... TO STDOUT`: rows to write in `format`.
    CopyOut {
        schema: SchemaRef,
        stream: SendableRecordBatchStream,
        format: crate::copy::CopyFormat,
    },
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Output::Rows {
                schema, command, ..
            } => f
                .debug_struct("Rows")
                .field("schema", schema)
                .field("command", command)
                .finish(),
            Output::Command(tag) => f.debug_tuple("Command").field(tag).finish(),
            Output::CopyIn(copy) => f.debug_tuple("CopyIn").field(copy).finish(),
            Output::CopyOut { format, .. } => {
                f.debug_struct("CopyOut").field("format", format).finish()
            }
        }
    }
}

/// A command completion tag as PostgreSQL spells it: `CREATE TABLE`, `INSERT 0 3`,
/// `SELECT 2` (for `CREATE TABLE AS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTag {
    pub command: String,
    pub rows: Option<u64>,
}

impl CommandTag {
    fn new(command: &str) -> Self {
        Self {
            command: command.to_owned(),
            rows: None,
        }
    }

    fn with_rows(command: &str, rows: u64) -> Self {
        Self {
            command: command.to_owned(),
            rows: Some(rows),
        }
    }
}

impl std::fmt::Display for CommandTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.rows {
            Some(rows) => write!(f, "{} {rows}", self.command),
            None => f.write_str(&self.command),
        }
    }
}

/// Where the session stands with respect to `BEGIN ... COMMIT`.
///
/// Tarn commits each statement on its own (every write is one Delta commit); a
/// transaction block groups statements, tracks failure like PostgreSQL (statements
/// after an error are refused until `ROLLBACK`), and on `ROLLBACK` takes back its row
/// changes ([`journal`]) and catalog changes ([`scope`]). Other sessions see each
/// statement's changes when it ends, not at `COMMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionState {
    Idle,
    InBlock,
    Failed,
}

/// A statement parsed and described once, run many times with parameters.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Shared by the executions of a kept plan: the statement is not copied for each.
    statement: Option<Arc<DFStatement>>,
    param_types: Vec<DataType>,
    schema: Option<SchemaRef>,
    /// The plan a query got when it was prepared, with the session's batch number
    /// then (see [`Session::end_batch`]): the first execution in the same batch,
    /// with no other statement run in between, uses it instead of planning again.
    planned: Arc<Mutex<Option<(u64, plans::Planned)>>>,
    /// The text and declared parameter types it was prepared from, under which the
    /// session keeps its plan (see [`plans`]).
    source: Arc<(String, Vec<Option<DataType>>)>,
}

impl Prepared {
    /// The type of each `$n`, inferred from the statement where the client gave
    /// none. Types nothing constrains are `Utf8` (PostgreSQL's `unknown`/text).
    pub fn param_types(&self) -> &[DataType] {
        &self.param_types
    }

    /// The result columns, or `None` for a statement that returns no rows.
    pub fn schema(&self) -> Option<&SchemaRef> {
        self.schema.as_ref()
    }

    /// True for the empty query.
    pub fn is_empty(&self) -> bool {
        self.statement.is_none()
    }

    /// The cursor a `DECLARE name CURSOR FOR ...` opens (folded like an identifier).
    pub fn declared_cursor(&self) -> Option<String> {
        match self.statement.as_deref() {
            Some(DFStatement::Statement(s)) => match s.as_ref() {
                SqlStatement::Declare { stmts } => match stmts.as_slice() {
                    [declare] => declare.names.first().map(normalize_ident),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    }
}

struct State {
    settings: Settings,
    transaction: TransactionState,
    /// Open savepoints, innermost last, each with `writes` and the journal's length
    /// as they were when it was set.
    savepoints: Vec<(String, u64, usize)>,
    /// Statements of this transaction block whose changes `ROLLBACK TO SAVEPOINT`
    /// cannot take back (catalog changes; row changes are in the journal).
    writes: u64,
    /// This session's temporary schema, once it has made a temporary table.
    temp_schema: Option<String>,
    /// Catalog changes of the open transaction block (see [`scope`]).
    pending: scope::Pending,
}

impl State {
    fn end_transaction(&mut self) {
        self.transaction = TransactionState::Idle;
        self.savepoints.clear();
        self.writes = 0;
        // Outside a block, each statement's transaction has the session's default.
        self.read_only(None);
    }

    /// Sets the current transaction's read-only status (`transaction_read_only`):
    /// `read_only`, or the session's default where `None`.
    fn read_only(&mut self, read_only: Option<bool>) {
        let on = read_only.unwrap_or_else(|| {
            crate::settings::is_on(&self.settings, "default_transaction_read_only")
        });
        let _ = self
            .settings
            .set("transaction_read_only", if on { "on" } else { "off" });
    }
}

/// The access mode `modes` ask for (`READ ONLY`, `READ WRITE`), if any.
fn access_mode(modes: &[ast::TransactionMode]) -> Option<bool> {
    modes.iter().rev().find_map(|mode| match mode {
        ast::TransactionMode::AccessMode(access) => {
            Some(*access == ast::TransactionAccessMode::ReadOnly)
        }
        _ => None,
    })
}

/// The command a read-only transaction refuses `statement` as, if it writes
/// (PostgreSQL's words: `cannot execute INSERT in a read-only transaction`).
fn write_command(statement: &DFStatement) -> Option<String> {
    if !changes_data(statement) {
        return None;
    }
    let DFStatement::Statement(s) = statement else {
        return Some("CREATE EXTERNAL TABLE".to_owned());
    };
    Some(
        match s.as_ref() {
            SqlStatement::Insert(_) => "INSERT",
            SqlStatement::Update(_) => "UPDATE",
            SqlStatement::Delete(_) => "DELETE",
            SqlStatement::Merge(_) => "MERGE",
            SqlStatement::Truncate(_) => "TRUNCATE TABLE",
            SqlStatement::CreateTable(create) if create.query.is_some() => "CREATE TABLE AS",
            SqlStatement::CreateTable(_) => "CREATE TABLE",
            SqlStatement::CreateView(view) if view.materialized => "CREATE MATERIALIZED VIEW",
            SqlStatement::CreateView(_) => "CREATE VIEW",
            SqlStatement::CreateSchema { .. } => "CREATE SCHEMA",
            SqlStatement::Drop { object_type, .. } => return Some(format!("DROP {object_type}")),
            SqlStatement::AlterTable(_) => "ALTER TABLE",
            SqlStatement::Copy { .. } => "COPY FROM",
            SqlStatement::Call(_) => "CALL",
            SqlStatement::OptimizeTable { .. } => "OPTIMIZE",
            SqlStatement::Vacuum(_) => "VACUUM",
            SqlStatement::Comment { .. } => "COMMENT",
            _ => "this statement",
        }
        .to_owned(),
    )
}

/// What a session's DataFusion state was last set up for, and the task context made
/// from it then.
#[derive(Debug)]
struct SetUp {
    settings: Settings,
    default_schema: String,
    pid: Option<i32>,
    task: Arc<datafusion::execution::TaskContext>,
}

/// One client's session. Statements on a session run one at a time.
pub struct Session {
    engine: Arc<Engine>,
    ctx: SessionContext,
    state: Mutex<State>,
    cursors: cursor::Cursors,
    /// The commits of the open block's row changes (see [`journal`]).
    journal: journal::Journal,
    /// Statements prepared with SQL's `PREPARE` (see [`sql_prepare`]).
    sql_prepared: sql_prepare::SqlPrepared,
    /// What the statement running or just run has to tell the client (see
    /// [`notices`]).
    notices: notices::Notices,
    /// This session's entry in `pg_stat_activity`, once the server attached it.
    backend: std::sync::OnceLock<crate::activity::Registration>,
    /// Settings a statement changed with `set_config`, applied before the next one.
    set_by_function: crate::pg::functions::PendingSettings,
    /// Moves on with every statement run and every end of an extended-protocol
    /// batch (Sync): a plan made at Parse is reused only while it has not moved.
    batch: std::sync::atomic::AtomicU64,
    /// What Parse made of the last query texts (see [`plans`]).
    plans: Mutex<plans::Plans>,
    /// The settings, default schema and backend PID the DataFusion state was last
    /// set up under (see [`Session::set_up_state`]).
    set_up_for: Mutex<Option<SetUp>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("catalog", &self.engine.catalog_name())
            .finish()
    }
}

impl Drop for Session {
    /// A session ends with its connection: an open block's row and catalog changes
    /// are rolled back and its temporary tables dropped, in the background.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let pending = std::mem::take(&mut state.pending);
        let temp = state.temp_schema.take();
        let journal = std::mem::take(&mut self.journal);
        if pending.is_empty() && temp.is_none() && journal.len() == 0 {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let catalog = self.engine.catalog().clone();
            runtime.spawn(async move {
                // Rows first, while the block's tables still have their entries.
                journal::close(&catalog, journal).await;
                scope::close(catalog, pending, temp).await;
            });
        }
    }
}

/// The DataFusion state every session starts from: settings, the lake catalog (seen
/// through a [`crate::pg::SessionCatalog`] that adds `pg_catalog`) and PostgreSQL's
/// functions. Built once per engine; sessions clone it.
pub(crate) fn initial_state(
    engine: &Engine,
) -> Result<datafusion::execution::session_state::SessionState> {
    let catalog_name = engine.catalog_name().to_owned();
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(&catalog_name, "public")
        .with_create_default_catalog_and_schema(false)
        // Tarn serves information_schema itself (crate::information_schema).
        .with_information_schema(false)
        .with_option_extension(crate::pg::date_input::TarnOptions::default());
    {
        let options = config.options_mut();
        options.sql_parser.dialect = datafusion::config::Dialect::PostgreSQL;
        // Delta stores `string`: plan text as Utf8 rather than Utf8View so the
        // declared and written types agree.
        options.sql_parser.map_string_types_to_utf8view = false;
        // `timestamptz` values are instants; Tarn keeps them in UTC and the wire
        // front end renders them in the session's TimeZone.
        options.execution.time_zone = Some("+00:00".to_owned());
        // `0.1` is numeric, exact, as in PostgreSQL (`0.1 + 0.2` is `0.3`), not double
        // precision; see crate::pg::numeric.
        options.sql_parser.parse_float_as_decimal = true;
    }
    for (key, value) in &engine.options().datafusion_options {
        config.options_mut().set(key, value)?;
    }
    if let Some(decoded) = engine.decoded_files() {
        config = config.with_extension(decoded);
    }
    engine.catalog().set_scan_settings(config.clone());
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(Arc::clone(engine.runtime()))
        .with_default_features()
        .with_query_planner(Arc::new(crate::planner::Planner))
        .with_optimizer_rules(crate::pg::subplans::optimizer_rules())
        .with_analyzer_rules(
            [
                crate::pg::boolean_literal_rule(),
                crate::pg::numeric_rule(),
                crate::pg::date_arithmetic_rule(),
            ]
            .into_iter()
            .chain(datafusion::optimizer::Analyzer::new().rules)
            .chain(std::iter::once(crate::pg::cast_rule()))
            .chain(std::iter::once(crate::pg::partial_subscripts_rule()))
            .chain(std::iter::once(crate::pg::overflow_rule()))
            .chain(std::iter::once(crate::pg::integral_scales_rule()))
            .chain(std::iter::once(crate::pg::subplans::lateral_reads_rule()))
            .collect(),
        )
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_catalog(
        &catalog_name,
        Arc::new(crate::pg::SessionCatalog::new(Arc::new(
            engine.catalog().clone(),
        ))),
    );
    crate::pg::install(&ctx, &catalog_name, engine.catalog(), engine.activity())?;
    Ok(ctx.state())
}

impl Session {
    pub(crate) fn new(engine: Arc<Engine>) -> Result<Self> {
        // A copy of the engine's prepared state: its catalogs (with pg_catalog) are
        // shared, its settings are this session's own.
        let ctx = SessionContext::new_with_state(engine.session_state()?);
        Ok(Self {
            engine,
            ctx,
            state: Mutex::new(State {
                settings: Settings::default(),
                transaction: TransactionState::Idle,
                savepoints: Vec::new(),
                writes: 0,
                temp_schema: None,
                pending: scope::Pending::default(),
            }),
            cursors: cursor::Cursors::default(),
            journal: Default::default(),
            sql_prepared: Default::default(),
            notices: Default::default(),
            backend: std::sync::OnceLock::new(),
            set_by_function: Default::default(),
            batch: Default::default(),
            plans: Default::default(),
            set_up_for: Default::default(),
        })
    }

    fn batch(&self) -> u64 {
        self.batch.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The end of an extended-protocol batch (the client's Sync). The plans made at
    /// Parse until now are not reused after it: a statement executed later (a named
    /// statement run again minutes after, say) is planned again, so that it sees the
    /// tables' versions and the catalog at that moment, as a statement run within
    /// one batch sees them as they were when the batch began.
    pub fn end_batch(&self) {
        self.batch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// A copy of the current settings.
    pub fn settings(&self) -> Settings {
        self.state().settings.clone()
    }

    /// Sets a parameter as `SET` would (used for startup-packet options).
    pub fn set(&self, name: &str, value: &str) -> Result<()> {
        self.state().settings.set(name, value)
    }

    /// Lists this session in `pg_stat_activity` as backend `info.pid`, which
    /// `pg_cancel_backend` and `pg_terminate_backend` reach through `control`. Once;
    /// later calls are ignored.
    pub fn attach_backend(
        &self,
        info: crate::activity::BackendInfo,
        control: Arc<dyn crate::activity::BackendControl>,
    ) {
        if self.backend.get().is_none() {
            let _ = self
                .backend
                .set(self.engine.activity().register(info, control));
        }
    }

    /// The backend process id clients see (BackendKeyData), once attached.
    pub fn backend_pid(&self) -> Option<i32> {
        self.backend.get().map(|b| b.pid())
    }

    pub fn transaction_state(&self) -> TransactionState {
        self.state().transaction
    }

    /// The names that OIDs of the alias type `kind` (`regclass`, `regtype`,
    /// `regnamespace`, `regproc`: a result column's `pg.oid_alias`) print as in text, as
    /// PostgreSQL prints them: a relation's name (qualified where the search path does
    /// not find it), a type's as `format_type` writes it, a schema's or function's
    /// quoted where it must be. OIDs that name nothing are left out (they print as
    /// numbers). Looked up in the catalog as it is now, for the OIDs of one batch.
    pub async fn reg_names(
        &self,
        kind: &str,
        oids: &[i32],
    ) -> Result<std::collections::HashMap<i32, String>> {
        let mut distinct: Vec<i32> = oids.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.is_empty() {
            return Ok(Default::default());
        }
        let list = distinct
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let sql = match kind {
            "regclass" => format!(
                "SELECT o, pg_regclass_name(o) FROM (SELECT CAST(column1 AS INT) AS o FROM \
                 (VALUES ({}))) AS oids",
                list.replace(", ", "), (")
            ),
            "regtype" => format!(
                "SELECT CAST(oid AS INT), format_type(CAST(oid AS INT), NULL) \
                 FROM pg_catalog.pg_type WHERE oid IN ({list})"
            ),
            "regnamespace" => format!(
                "SELECT CAST(oid AS INT), quote_ident(nspname) \
                 FROM pg_catalog.pg_namespace WHERE oid IN ({list})"
            ),
            "regproc" => format!(
                "SELECT CAST(oid AS INT), quote_ident(proname) \
                 FROM pg_catalog.pg_proc WHERE oid IN ({list})"
            ),
            _ => return Ok(Default::default()),
        };
        let batches = self.ctx.sql(&sql).await?.collect().await?;
        let mut names = std::collections::HashMap::new();
        for batch in &batches {
            let oids = datafusion::arrow::compute::cast(batch.column(0), &DataType::Int32)
                .map_err(datafusion::error::DataFusionError::from)?;
            let text = datafusion::arrow::compute::cast(batch.column(1), &DataType::Utf8)
                .map_err(datafusion::error::DataFusionError::from)?;
            let oids = oids.as_primitive::<datafusion::arrow::datatypes::Int32Type>();
            for (oid, name) in oids.iter().zip(text.as_string::<i32>().iter()) {
                if let (Some(oid), Some(name)) = (oid, name) {
                    // pg_regclass_name writes an unknown OID as its number.
                    names.entry(oid).or_insert_with(|| name.to_owned());
                }
            }
        }
        Ok(names)
    }

    /// Records that a statement failed after [`Session::execute`] returned, for
    /// example while its rows were streamed.
    pub fn statement_failed(&self) {
        let mut state = self.state();
        if state.transaction == TransactionState::InBlock {
            state.transaction = TransactionState::Failed;
        }
    }

    /// Splits `sql` into statements (PostgreSQL dialect). `OPTIMIZE t`, which
    /// PostgreSQL lacks, is read in Databricks' spelling.
    pub fn parse(&self, sql: &str) -> Result<Vec<DFStatement>> {
        let mut statements = Vec::new();
        for (offset, text) in split_statements(sql)? {
            statements.extend(parse_one(&text).map_err(|e| at_position(e, sql, offset, &text))?);
        }
        Ok(statements)
    }

    /// Runs one statement.
    #[instrument(skip_all)]
    pub async fn execute(&self, statement: DFStatement) -> Result<Output> {
        self.notices.take();
        self.run(Arc::new(statement), None, None).await
    }

    /// The NOTICEs and WARNINGs of the last statement run, which the client is to get
    /// before its result (once: taking them clears them). The next statement starts
    /// without any.
    pub fn take_notices(&self) -> Vec<Notice> {
        self.notices.take()
    }

    /// Leaves `notice` for the client if `client_min_messages` lets it through.
    fn notice(&self, notice: Notice) {
        let least = self
            .state()
            .settings
            .get("client_min_messages")
            .unwrap_or("notice")
            .to_owned();
        self.notices.push(&least, notice);
    }

    /// Parses and describes `sql` (at most one statement) without running it.
    /// `declared` holds the parameter types the client stated (`None` to infer).
    pub async fn prepare(&self, sql: &str, declared: &[Option<DataType>]) -> Result<Prepared> {
        if let Some(prepared) = self.kept_prepared(sql, declared).await {
            return Ok(prepared);
        }
        let mut statements = self.parse(sql)?;
        if statements.len() > 1 {
            return Err(SqlError::MultipleCommands);
        }
        let Some(statement) = statements.pop() else {
            return Ok(Prepared {
                statement: None,
                param_types: Vec::new(),
                schema: None,
                planned: Default::default(),
                source: Default::default(),
            });
        };
        let batch = self.batch();
        let mut planned = None;
        let mut conditions = None;
        let (inferred, schema) = match &statement {
            DFStatement::Statement(s) if plans_for_rows(s) => {
                if matches!(**s, SqlStatement::Query(_)) {
                    // Before planning: a change meanwhile makes the plan stale, not kept.
                    self.engine.catalog().refresh().await?;
                    conditions = Some(self.plan_conditions());
                }
                let plan = declared_types(self.plan(statement.clone()).await?, declared)?;
                let types = parameter_types(&plan)?;
                let schema = match returns_rows(&plan) {
                    true => Some(
                        self.attributed(Arc::new(self.output_schema(&plan)), &plan)
                            .await,
                    ),
                    false => None,
                };
                // Writes are planned again as MERGE or under a transaction block's
                // rules; a query's plan is what execution would make.
                if matches!(**s, SqlStatement::Query(_)) {
                    planned = Some((batch, plans::Planned::new(plan)));
                }
                (types, schema)
            }
            DFStatement::Statement(s) if matches!(**s, SqlStatement::ShowVariable { .. }) => {
                let schema = self.show_schema(s)?;
                (Vec::new(), Some(schema))
            }
            DFStatement::Explain(e) => {
                self.plan(statement.clone()).await?;
                let json = e.options.format == Some(ExplainFormat::PostgresJSON);
                let schema = match json {
                    true => explain::json_schema(),
                    false => explain::schema(),
                };
                (Vec::new(), Some(schema))
            }
            DFStatement::Statement(s) => match s.as_ref() {
                SqlStatement::Declare { stmts } => {
                    let query = cursor_query(stmts)?;
                    let plan = self
                        .plan(DFStatement::Statement(Box::new(SqlStatement::Query(query))))
                        .await?;
                    (parameter_types(&plan)?, None)
                }
                SqlStatement::Fetch { name, .. } => (
                    Vec::new(),
                    Some(self.cursors.schema(&normalize_ident(name))?),
                ),
                SqlStatement::Execute {
                    name: Some(name),
                    parameters,
                    ..
                } => (Vec::new(), self.sql_execute_schema(name, parameters)?),
                _ => (Vec::new(), None),
            },
            _ => (Vec::new(), None),
        };
        let count = inferred.len().max(declared.len());
        let param_types = (0..count)
            .map(|i| {
                declared
                    .get(i)
                    .cloned()
                    .flatten()
                    .or_else(|| inferred.get(i).cloned().flatten())
                    .unwrap_or(DataType::Utf8)
            })
            .collect();
        let prepared = Prepared {
            statement: Some(Arc::new(statement)),
            param_types,
            schema,
            planned: Default::default(),
            source: Arc::new((sql.to_owned(), declared.to_vec())),
        };
        if let (Some((_, planned)), Some(made_under)) = (&mut planned, conditions)
            && let Some(tables) = plans::scanned_tables(&planned.plan)
        {
            planned.kept = self.plans.lock().unwrap_or_else(|e| e.into_inner()).keep(
                sql,
                plans::Kept::new(
                    declared.to_vec(),
                    prepared.clone(),
                    planned.plan.clone(),
                    made_under,
                    tables,
                ),
            );
        }
        Ok(Prepared {
            planned: Arc::new(Mutex::new(planned)),
            ..prepared
        })
    }

    /// What a plan made now would depend on besides the tables it scans (see
    /// [`plans`]).
    fn plan_conditions(&self) -> plans::Conditions {
        let settings = self.state().settings.clone();
        plans::Conditions {
            default_schema: self.default_schema(&settings),
            settings,
            listing: self.engine.catalog().listing_version(),
        }
    }

    /// What an earlier Parse of `sql` made, if nothing it was made from changed (see
    /// [`plans`]); `None` to plan it again (and meet any error doing so).
    async fn kept_prepared(&self, sql: &str, declared: &[Option<DataType>]) -> Option<Prepared> {
        let kept = self
            .plans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(sql)?;
        {
            let state = self.state();
            if kept.declared != declared
                || state.transaction == TransactionState::Failed
                || !state.pending.is_empty()
            {
                return None;
            }
        }
        self.engine.catalog().refresh().await.ok()?;
        // As `plan_conditions() == kept.made_under`, without copying the settings.
        let conditions = &kept.made_under;
        {
            let state = self.state();
            if state.settings != conditions.settings
                || self.default_schema(&state.settings) != conditions.default_schema
                || self.engine.catalog().listing_version() != conditions.listing
            {
                return None;
            }
        }
        for (name, provider) in &kept.tables {
            let name = name
                .clone()
                .resolve(self.engine.catalog_name(), &conditions.default_schema);
            let schema = self.ctx.catalog(&name.catalog)?.schema(&name.schema)?;
            let now = schema.table(&name.table).await.ok()??;
            if !plans::same_provider(&now, provider) {
                return None;
            }
        }
        self.set_up(&conditions.settings, conditions.default_schema.clone())
            .ok()?;
        self.plans.lock().unwrap_or_else(|e| e.into_inner()).reused += 1;
        Some(Prepared {
            planned: Arc::new(Mutex::new(Some((
                self.batch(),
                plans::Planned {
                    plan: kept.plan.clone(),
                    kept: Some(Arc::clone(&kept)),
                },
            )))),
            ..kept.prepared.clone()
        })
    }

    /// Runs a prepared statement with `values` for its parameters. A query executed
    /// in the batch that prepared it, with no statement run in between, runs the plan
    /// made then (pgbench, psycopg and most drivers send Parse, Bind and Execute
    /// together for every statement); otherwise it runs the plan the session keeps for
    /// its text if that still holds (see [`plans`]: the tables' versions are checked),
    /// or the statement is planned again, so that it sees the tables' current versions.
    #[instrument(skip_all)]
    pub async fn execute_prepared(
        &self,
        prepared: &Prepared,
        values: Vec<ScalarValue>,
    ) -> Result<Output> {
        self.notices.take();
        let Some(statement) = prepared.statement.clone() else {
            return Ok(Output::Command(CommandTag::new("")));
        };
        if values.len() != prepared.param_types.len() {
            return Err(SqlError::ParameterCount {
                given: values.len(),
                expected: prepared.param_types.len(),
            });
        }
        let values = if values.is_empty() {
            None
        } else {
            Some(values)
        };
        let planned = prepared
            .planned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .filter(|(batch, _)| *batch == self.batch())
            .map(|(_, plan)| plan);
        // A query run again later (a named statement): the plan kept for its text if
        // it holds under the settings this statement runs with, or one made now and
        // kept for the next execution.
        let is_query = matches!(&*statement, DFStatement::Statement(s) if matches!(**s, SqlStatement::Query(_)));
        let planned = match planned {
            None if is_query => {
                self.apply_set_by_function();
                let (sql, declared) = prepared.source.as_ref();
                let again = match self.kept_prepared(sql, declared).await {
                    Some(kept) => Some(kept),
                    None => self.prepare(sql, declared).await.ok(),
                };
                again
                    .and_then(|p| p.planned.lock().unwrap_or_else(|e| e.into_inner()).take())
                    .map(|(_, plan)| plan)
            }
            planned => planned,
        };
        self.run(statement, values, planned).await
    }

    /// Applies the settings `set_config` changed in the last statement: they take
    /// effect from the next one on.
    fn apply_set_by_function(&self) {
        let set_by_function = std::mem::take(
            &mut *self
                .set_by_function
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (name, value) in set_by_function {
            // Checked when set_config ran; a failure now leaves the setting as it was.
            let _ = self.state().settings.set(&name, &value);
        }
    }

    /// Runs `statement`, or `planned` where that is the plan already made for it.
    async fn run(
        &self,
        statement: Arc<DFStatement>,
        params: Option<Vec<ScalarValue>>,
        planned: Option<plans::Planned>,
    ) -> Result<Output> {
        self.batch
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.apply_set_by_function();
        if self.transaction_state() == TransactionState::Failed && !ends_transaction(&statement) {
            return Err(SqlError::InFailedTransaction);
        }
        if let Some(command) = write_command(&statement)
            && crate::settings::is_on(&self.settings(), "transaction_read_only")
        {
            return Err(SqlError::ReadOnlyTransaction(command));
        }
        // Row changes are noted for ROLLBACK (and ROLLBACK TO) in the journal; other
        // changes count against ROLLBACK TO.
        let changes = changes_data(&statement) && !undoable(&statement);
        if let Some(pid) = self.backend_pid() {
            let in_block = self.transaction_state() != TransactionState::Idle;
            self.engine
                .activity()
                .started(pid, statement.to_string(), in_block);
        }
        // statement_timeout covers planning, running and streaming the rows out.
        let deadline = self
            .settings()
            .statement_timeout()
            .map(|t| tokio::time::Instant::now() + t);
        let change = match journal::row_change_target(&statement) {
            Some(name) => self.begin_row_change(&name).await.map(Some),
            None => Ok(None),
        };
        let result = match change {
            Err(e) => Err(e),
            Ok(change) => {
                let result = match deadline {
                    Some(at) => {
                        tokio::time::timeout_at(at, self.run_inner(statement, params, planned))
                            .await
                            .unwrap_or(Err(SqlError::StatementTimeout))
                            .map(|output| with_deadline(output, at))
                    }
                    None => self.run_inner(statement, params, planned).await,
                };
                match change {
                    Some(change) => change.end().await.and(result),
                    None => result,
                }
            }
        };
        match &result {
            Err(_) => self.statement_failed(),
            Ok(_) if changes => self.state().writes += 1,
            Ok(_) => {}
        }
        // The statement is active in pg_stat_activity until its rows are sent (the
        // stream dropped), not just until it is planned.
        match (self.backend_pid(), result) {
            (Some(pid), result) => {
                let done = crate::activity::Finished::new(
                    Arc::clone(self.engine.activity()),
                    pid,
                    self.transaction_state(),
                );
                result.map(|output| {
                    output.map_stream(|schema, stream| until_done(schema, stream, done))
                })
            }
            (None, result) => result,
        }
    }

    async fn run_inner(
        &self,
        statement: Arc<DFStatement>,
        params: Option<Vec<ScalarValue>>,
        planned: Option<plans::Planned>,
    ) -> Result<Output> {
        let ast = match &*statement {
            DFStatement::Statement(s) => Some(s.as_ref()),
            DFStatement::CreateExternalTable(create) => {
                return self.create_external_table(create.clone()).await;
            }
            DFStatement::CopyTo(_) => return Err(SqlError::not_supported("COPY")),
            DFStatement::Reset(reset) => return self.reset(reset),
            DFStatement::Explain(_) => None,
        };
        match ast {
            Some(SqlStatement::Commit { .. }) => {
                let failed = self.transaction_state() == TransactionState::Failed;
                self.end_block(!failed).await?;
            }
            Some(SqlStatement::Rollback {
                savepoint: None, ..
            }) => self.end_block(false).await?,
            Some(SqlStatement::Rollback {
                savepoint: Some(name),
                ..
            }) => {
                self.rollback_to(&normalize_ident(name)).await?;
                return Ok(Output::Command(CommandTag::new("ROLLBACK")));
            }
            Some(SqlStatement::Discard { .. }) => self.discard_temp().await?,
            _ => {}
        }
        if let Some(ast) = ast
            && let Some(output) = self.session_statement(ast)?
        {
            return Ok(output);
        }
        if let Some(SqlStatement::Call(function)) = ast
            && function
                .name
                .to_string()
                .eq_ignore_ascii_case(crawl::CRAWL_FUNCTION)
        {
            let json = match &function.args {
                ast::FunctionArguments::List(list) => list.args.first().and_then(|a| match a {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(ast::Expr::Value(v))) => {
                        match &v.value {
                            ast::Value::SingleQuotedString(s) => Some(s.clone()),
                            _ => None,
                        }
                    }
                    _ => None,
                }),
                _ => None,
            }
            .ok_or_else(|| SqlError::not_supported("CALL other than CRAWL's"))?;
            return self.crawl(crawl::CrawlStatement::from_json(&json)?).await;
        }
        if let Some(SqlStatement::AlterTable(alter)) = ast {
            return self.alter_table(alter).await;
        }
        if let Some(SqlStatement::CreateView(view)) = ast
            && view.materialized
        {
            return self.create_materialized_view(view).await;
        }
        if let Some(SqlStatement::Call(call)) = ast
            && let Some(name) = matview::refreshed_name(call)
        {
            return self.refresh_materialized_view(&name).await;
        }
        if let Some(drop) = ast
            && drops::is_several(drop)
        {
            return self.drop_several(drop).await;
        }
        if let Some(SqlStatement::Drop {
            object_type: ast::ObjectType::MaterializedView,
            if_exists,
            names,
            cascade,
            ..
        }) = ast
        {
            return self
                .drop_materialized_views(names, *if_exists, *cascade)
                .await;
        }
        if let Some(SqlStatement::Declare { stmts }) = ast {
            return self.declare(stmts, params).await;
        }
        if let Some(SqlStatement::Prepare {
            name,
            data_types,
            statement,
        }) = ast
        {
            return self.sql_prepare(name, data_types, statement).await;
        }
        if let Some(SqlStatement::Execute {
            name: Some(name),
            parameters,
            immediate: false,
            into,
            using,
            ..
        }) = ast
            && into.is_empty()
            && using.is_empty()
        {
            return self.sql_execute(name, parameters).await;
        }
        if let Some(SqlStatement::Fetch {
            name,
            direction,
            into,
            ..
        }) = ast
        {
            if into.is_some() {
                return Err(SqlError::not_supported("FETCH ... INTO"));
            }
            let count = cursor::fetch_count(direction)?;
            let (schema, stream) = self.cursors.fetch(&normalize_ident(name), count)?;
            return Ok(Output::Rows {
                schema,
                stream,
                command: "FETCH",
            });
        }
        if let Some(SqlStatement::Merge(merge)) = ast {
            return self.merge(merge).await;
        }
        if let Some(SqlStatement::Insert(insert)) = ast
            && insert.on.is_some()
        {
            return self.insert_on_conflict(insert).await;
        }
        if let Some(statement) = ast
            && let Some((merge, tag)) = merge::dml_as_merge(statement)?
        {
            return self.run_dml_as_merge(&merge, tag).await;
        }
        if let Some(SqlStatement::Copy {
            source,
            to,
            target,
            options,
            legacy_options,
            values,
        }) = ast
        {
            if !values.is_empty() {
                return Err(SqlError::not_supported("COPY with inline data"));
            }
            let format = crate::copy::CopyFormat::from_options(options, legacy_options)?;
            return match (to, target) {
                (false, ast::CopyTarget::Stdin) => self.copy_in(source, format).await,
                (true, ast::CopyTarget::Stdout) => self.copy_out(source, format).await,
                _ => Err(SqlError::not_supported(
                    "COPY to or from a server file (use COPY ... FROM STDIN / TO STDOUT, or psql's \\copy)",
                )),
            };
        }
        // ANALYZE [table]: Delta records each file's statistics as it is written, and
        // DataFusion plans with them; there is nothing more to collect. A named table
        // must exist, as in PostgreSQL.
        if let Some(SqlStatement::Analyze(analyze)) = ast {
            if let Some(name) = &analyze.table_name {
                let (schema, table) =
                    self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
                let exists =
                    datafusion::catalog::CatalogProvider::schema(self.engine.catalog(), &schema)
                        .is_some_and(|s| s.table_exist(&table));
                if !exists {
                    return Err(tarn_catalog::CatalogError::TableNotFound {
                        schema,
                        name: table,
                    }
                    .into());
                }
            }
            return Ok(Output::Command(CommandTag::new("ANALYZE")));
        }
        if let Some(SqlStatement::OptimizeTable { name, .. }) = ast {
            let (schema, table) =
                self.resolve_table(&object_name_to_table_reference(name.clone(), true)?)?;
            let session: Arc<dyn datafusion::catalog::Session> = Arc::new(self.ctx.state());
            let (added, removed) = self
                .engine
                .catalog()
                .optimize(&schema, &table, session)
                .await?;
            tracing::info!(%schema, %table, added, removed, "optimized");
            return Ok(Output::Command(CommandTag::new("OPTIMIZE")));
        }
        if let Some(SqlStatement::Comment {
            object_type,
            object_name,
            comment,
            ..
        }) = ast
        {
            return self
                .comment_on(*object_type, object_name, comment.as_deref())
                .await;
        }
        if let Some(SqlStatement::Vacuum(vacuum)) = ast {
            let name = vacuum
                .table_name
                .clone()
                .ok_or_else(|| SqlError::not_supported("VACUUM without a table name"))?;
            let (schema, table) =
                self.resolve_table(&object_name_to_table_reference(name, true)?)?;
            let deleted = self.engine.catalog().vacuum(&schema, &table).await?;
            tracing::info!(%schema, %table, deleted, "vacuumed");
            return Ok(Output::Command(CommandTag::new("VACUUM")));
        }
        let temporary = match ast {
            Some(SqlStatement::CreateTable(ct)) if ct.temporary => Some(ct.clone()),
            _ => None,
        };
        let statement = match temporary {
            Some(create) => Arc::new(self.temporary_create(create).await?),
            None => statement,
        };
        // Inside a block, what a CREATE writes is recorded so ROLLBACK can undo it.
        let created = match &*statement {
            DFStatement::Statement(s) => match s.as_ref() {
                SqlStatement::CreateTable(ct) => Some(ct.name.clone()),
                SqlStatement::CreateView(view) => Some(view.name.clone()),
                _ => None,
            },
            _ => None,
        };
        if let Some(name) = created
            && self.transaction_state() != TransactionState::Idle
        {
            let (schema, table) =
                self.resolve_table(&object_name_to_table_reference(name, true)?)?;
            if self.state().pending.is_hidden(&schema, &table) {
                return self
                    .create_over_hidden(&statement, params, &schema, &table)
                    .await;
            }
            let before = self
                .engine
                .catalog()
                .metastore()
                .table(&schema, &table)
                .await?;
            let output = self.run_planned(statement, params, planned).await?;
            self.state().pending.created(&schema, &table, before);
            return Ok(output);
        }
        self.run_planned(statement, params, planned).await
    }

    /// A CREATE, inside a block, of a name the block dropped or renamed away (dbt's
    /// `drop table if exists x cascade; create table x ...` of `seed --full-refresh`
    /// and `--store-failures`): the new table or view is created under a name of its
    /// own, then renamed onto the hidden name, which switches the entry over in one
    /// overwrite as a rename onto a hidden name does ([`scope::Pending::rename`]):
    /// other sessions find the name throughout (the old object until the CREATE ends,
    /// the new one after); COMMIT retires the old one, ROLLBACK puts it back and
    /// drops the new one.
    async fn create_over_hidden(
        &self,
        statement: &DFStatement,
        params: Option<Vec<ScalarValue>>,
        schema: &str,
        table: &str,
    ) -> Result<Output> {
        let staging = format!(
            "{table}__tarn_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let mut renamed = statement.clone();
        let name = match &mut renamed {
            DFStatement::Statement(s) => match s.as_mut() {
                SqlStatement::CreateTable(ct) => Some(&mut ct.name),
                SqlStatement::CreateView(view) => Some(&mut view.name),
                _ => None,
            },
            _ => None,
        };
        let Some(name) = name else {
            return Err(SqlError::not_supported(format!(
                "creating \"{table}\" in the transaction block that dropped or renamed it (COMMIT first)"
            )));
        };
        let last = name.0.len() - 1;
        name.0[last] = ast::ObjectNamePart::Identifier(ast::Ident::with_quote('"', &staging));
        let output = self.run_planned(Arc::new(renamed), params, None).await?;
        self.state().pending.created(schema, &staging, None);
        let catalog = self.engine.catalog();
        let mut pending = std::mem::take(&mut self.state().pending);
        let switched = pending.rename(catalog, schema, &staging, table).await;
        self.state().pending = pending;
        switched?;
        Ok(output)
    }

    /// `CREATE TEMPORARY TABLE name ...` as the statement DataFusion plans (which
    /// refuses TEMPORARY): the same CREATE in this session's temporary schema.
    async fn temporary_create(&self, mut create: ast::CreateTable) -> Result<DFStatement> {
        let reference = object_name_to_table_reference(create.name.clone(), true)?;
        if let Some(schema) = reference.schema()
            && schema != "pg_temp"
        {
            return Err(SqlError::TemporaryInSchema(schema.to_owned()));
        }
        let temp = self.temp_schema().await?;
        create.temporary = false;
        create.name = ObjectName::from(vec![
            ast::Ident::with_quote('"', temp),
            ast::Ident::with_quote('"', reference.table()),
        ]);
        Ok(DFStatement::Statement(Box::new(SqlStatement::CreateTable(
            create,
        ))))
    }

    /// The part of [`Session::run_inner`] for statements DataFusion plans.
    async fn run_planned(
        &self,
        statement: Arc<DFStatement>,
        params: Option<Vec<ScalarValue>>,
        planned: Option<plans::Planned>,
    ) -> Result<Output> {
        let ast = match &*statement {
            DFStatement::Statement(s) => Some(s.as_ref()),
            _ => None,
        };
        let is_ctas = matches!(ast, Some(SqlStatement::CreateTable(ct)) if ct.query.is_some());
        let cascade = matches!(ast, Some(SqlStatement::Drop { cascade: true, .. }));
        let partition_by: Vec<String> = match ast {
            Some(SqlStatement::CreateTable(ct)) => match &ct.hive_distribution {
                ast::HiveDistributionStyle::PARTITIONED { columns } => {
                    columns.iter().map(|c| normalize_ident(&c.name)).collect()
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let view_sql = match ast {
            Some(SqlStatement::CreateView(view)) => Some(view.query.to_string()),
            _ => None,
        };
        let declared = match ast {
            Some(SqlStatement::CreateTable(ct)) => crate::pg::declared::declared_columns(ct),
            _ => Vec::new(),
        };
        let defaults = match ast {
            Some(SqlStatement::CreateTable(ct)) => {
                defaults::refuse_generated(ct)?;
                defaults::declared(ct)
            }
            _ => Vec::new(),
        };
        // DataFusion does not plan Hive-style `PARTITIONED BY`; the catalog applies it.
        let statement = match &*statement {
            DFStatement::Statement(s) if !partition_by.is_empty() => match s.as_ref() {
                SqlStatement::CreateTable(ct) => {
                    let mut ct = ct.clone();
                    ct.hive_distribution = ast::HiveDistributionStyle::NONE;
                    Arc::new(DFStatement::Statement(Box::new(SqlStatement::CreateTable(
                        ct,
                    ))))
                }
                _ => statement,
            },
            _ => statement,
        };
        let (mut plan, kept) = match planned {
            Some(planned) => (planned.plan, planned.kept),
            None => (self.plan(Arc::unwrap_or_clone(statement)).await?, None),
        };
        let optimized = kept.and_then(|kept| {
            let optimized = kept.optimized(&self.ctx)?;
            Some(plans::Reuse {
                kept,
                optimized,
                values: Vec::new(),
                substituted: false,
            })
        });
        let mut reuse = optimized;
        if let Some(values) = params {
            let types = match reuse.as_ref().map(|r| &r.kept.parameter_types) {
                Some(kept) => match kept.get() {
                    Some(types) => types.clone(),
                    None => {
                        let types = parameter_types(&plan)?;
                        let _ = kept.set(types.clone());
                        types
                    }
                },
                None => parameter_types(&plan)?,
            };
            // An INSERT's values are stored in the column's type (so an out-of-range
            // one is refused naming the parameter); elsewhere a number keeps what the
            // column's type would change (`DELETE ... WHERE qty = 2.5` deletes none).
            let is_insert =
                matches!(&plan, LogicalPlan::Dml(dml) if matches!(dml.op, WriteOp::Insert(_)));
            let values = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| match types.get(i).cloned().flatten() {
                    Some(t) if is_insert => params::coerce(i + 1, v, &t),
                    Some(t) => params::fit(i + 1, v, &t),
                    None => Ok(v),
                })
                .collect::<Result<Vec<_>>>()?;
            // A kept query whose values are of its parameters' types runs its kept
            // physical plan (or optimizes its kept plan with them): the values go
            // into `plan` only if neither can be used (see `run_plan`); its schema
            // is the same either way. Putting them in at every execution was a
            // eleventh of a short query's CPU.
            let exact = values.len() == types.len()
                && values
                    .iter()
                    .zip(&types)
                    .all(|(v, t)| t.as_ref() == Some(&v.data_type()));
            match &mut reuse {
                Some(reuse) if exact && runs_as_query(&plan) => reuse.values = values,
                Some(reuse) => {
                    reuse.values = values.clone();
                    plan = plan.with_param_values(ParamValues::from(values))?;
                    reuse.substituted = true;
                }
                None => plan = plan.with_param_values(ParamValues::from(values))?,
            }
        }
        let create = CreateParts {
            cascade,
            is_ctas,
            view_sql,
            partition_by,
            declared,
            defaults,
        };
        self.run_plan(plan, create, reuse).await
    }

    /// `schema` as the client sees it: with the names PostgreSQL gives its columns
    /// ([`crate::pg::names::shown`]), and each column that is a table's column marked
    /// with the table's pg_class OID and the column's number (see [`origins`]).
    /// Tables of the system catalogs are not marked.
    async fn attributed(&self, schema: SchemaRef, plan: &LogicalPlan) -> SchemaRef {
        let schema = crate::pg::names::shown(schema);
        let origins = origins::column_origins(plan);
        let casts = origins::numeric_casts(plan);
        let case_types = origins::case_types(plan);
        if origins.iter().all(Option::is_none)
            && !casts.contains(&true)
            && case_types.iter().all(Option::is_none)
        {
            return schema;
        }
        // Read in place: a copy of the session's state was a fiftieth of a short
        // query's CPU.
        let default_schema = (self.ctx.state_ref().read())
            .config_options()
            .catalog
            .default_schema
            .clone();
        let mut fields = Vec::with_capacity(schema.fields().len());
        for (i, field) in schema.fields().iter().enumerate() {
            let mut metadata = field.metadata().clone();
            if let Some(Some((table, attnum))) = origins.get(i) {
                let schema_name = table.schema().unwrap_or(&default_schema).to_owned();
                if !matches!(schema_name.as_str(), "pg_catalog" | "information_schema")
                    && let Some(oid) = self.table_oid(&schema_name, table.table()).await
                {
                    metadata.insert(origins::TABLE_OID_KEY.to_owned(), oid.to_string());
                    metadata.insert(origins::ATTNUM_KEY.to_owned(), attnum.to_string());
                }
            }
            if casts.get(i) == Some(&true) {
                metadata.insert(origins::NUMERIC_CAST_KEY.to_owned(), "true".to_owned());
            }
            if let Some(Some(branches)) = case_types.get(i)
                && field.metadata().is_empty()
            {
                metadata.extend(branches.clone());
            }
            fields.push(field.as_ref().clone().with_metadata(metadata));
        }
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }

    /// The pg_class OID of `schema.table`, as pg_class shows it (asked once per
    /// server and remembered: the OID stays while the server runs).
    async fn table_oid(&self, schema: &str, table: &str) -> Option<i32> {
        if let Some(oid) = self.engine.table_oid(schema, table) {
            return Some(oid);
        }
        let quote = |s: &str| s.replace('\'', "''");
        let sql = format!(
            "SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON n.oid = c.relnamespace WHERE n.nspname = '{}' AND c.relname = '{}'",
            quote(schema),
            quote(table)
        );
        let batches = self.ctx.sql(&sql).await.ok()?.collect().await.ok()?;
        let column = batches.first()?.column(0);
        let column = datafusion::arrow::compute::cast(column, &DataType::Int32).ok()?;
        let oids = column.as_primitive_opt::<datafusion::arrow::datatypes::Int32Type>()?;
        let oid = oids.iter().next().flatten()?;
        self.engine.remember_table_oid(schema, table, oid);
        Some(oid)
    }

    /// The schema `plan`'s rows will have: after type coercion, which can widen a
    /// column (`CASE ... THEN int ELSE bigint END` is bigint), so that a prepared
    /// statement's RowDescription matches its DataRows. Falls back to the planned
    /// schema where analysis needs what only execution has (parameter values).
    fn output_schema(&self, plan: &LogicalPlan) -> datafusion::arrow::datatypes::Schema {
        if let LogicalPlan::Explain(e) = plan
            && e.explain_format == ExplainFormat::PostgresJSON
        {
            return explain::json_schema().as_ref().clone();
        }
        if matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
            return explain::schema().as_ref().clone();
        }
        let state = self.ctx.state();
        match state
            .analyzer()
            .execute_and_check(plan.clone(), state.config_options(), |_, _| {})
        {
            Ok(analyzed) => analyzed.schema().as_arrow().clone(),
            Err(_) => plan.schema().as_arrow().clone(),
        }
    }

    /// Points the relations `statement` reads or writes at this session's temporary
    /// tables (an unqualified name that is one, and `pg_temp.name`), and refuses names
    /// this session's open block dropped or renamed away. CREATE TABLE and CREATE
    /// VIEW names are left alone: only TEMPORARY creates in the temporary schema.
    fn scope_names(&self, statement: &mut DFStatement, default_schema: &str) -> Result<()> {
        let (temp, pending) = {
            let state = self.state();
            (state.temp_schema.clone(), state.pending.clone())
        };
        if temp.is_none() && pending.is_empty() {
            return Ok(());
        }
        let DFStatement::Statement(statement) = statement else {
            return Ok(());
        };
        let catalog = self.engine.catalog();
        let temp_tables = temp
            .as_ref()
            .and_then(|t| datafusion::catalog::CatalogProvider::schema(catalog, t));
        let mut error: Option<SqlError> = None;
        let visit = |object: &mut ObjectName| {
            let Some(parts) = object
                .0
                .iter()
                .map(|p| p.as_ident().cloned())
                .collect::<Option<Vec<ast::Ident>>>()
            else {
                return std::ops::ControlFlow::Continue(());
            };
            let (catalog_part, schema, name) = match parts.as_slice() {
                [name] => (None, None, normalize_ident(name)),
                [schema, name] => (None, Some(normalize_ident(schema)), normalize_ident(name)),
                [catalog, schema, name] => (
                    Some(catalog.clone()),
                    Some(normalize_ident(schema)),
                    normalize_ident(name),
                ),
                _ => return std::ops::ControlFlow::Continue(()),
            };
            let temporary = match schema.as_deref() {
                None => temp_tables.as_ref().is_some_and(|s| s.table_exist(&name)),
                Some("pg_temp") => true,
                Some(_) => false,
            };
            if temporary {
                let Some(temp) = &temp else {
                    error = Some(
                        tarn_catalog::CatalogError::TableNotFound {
                            schema: "pg_temp".to_owned(),
                            name,
                        }
                        .into(),
                    );
                    return std::ops::ControlFlow::Break(());
                };
                let mut idents: Vec<ast::Ident> = catalog_part.into_iter().collect();
                idents.push(ast::Ident::with_quote('"', temp));
                idents.push(ast::Ident::with_quote('"', name));
                *object = ObjectName::from(idents);
            } else {
                let schema = schema.unwrap_or_else(|| default_schema.to_owned());
                if pending.is_hidden(&schema, &name) {
                    // Named as the statement wrote it, as PostgreSQL names it.
                    error = Some(SqlError::UndefinedRelation(object.to_string()));
                    return std::ops::ControlFlow::Break(());
                }
            }
            std::ops::ControlFlow::Continue(())
        };
        // A temporary table's name cast to regclass (`'tt'::regclass`, looked up by
        // `pg_regclass_oid` when the statement runs) is found in this session's schema.
        if let Some(temp) = &temp {
            let _ = ast::visit_expressions_mut(statement.as_mut(), |expr: &mut ast::Expr| {
                if let ast::Expr::Function(f) = expr
                    && f.name.to_string().eq_ignore_ascii_case("pg_regclass_oid")
                    && let ast::FunctionArguments::List(list) = &mut f.args
                    && let [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(arg))] =
                        list.args.as_mut_slice()
                    && let ast::Expr::Value(v) = arg
                    && let ast::Value::SingleQuotedString(text) = &mut v.value
                    && let Some(name) = crate::pg::temporary_name(text, |n| {
                        temp_tables.as_ref().is_some_and(|s| s.table_exist(n))
                    })
                {
                    *text = format!("\"{temp}\".\"{}\"", name.replace('"', "\"\""));
                }
                std::ops::ControlFlow::<()>::Continue(())
            });
        }
        let _ = match statement.as_mut() {
            SqlStatement::CreateTable(ct) => match ct.query.as_mut() {
                Some(query) => ast::visit_relations_mut(query, visit),
                None => std::ops::ControlFlow::Continue(()),
            },
            SqlStatement::CreateView(view) => ast::visit_relations_mut(&mut view.query, visit),
            other => ast::visit_relations_mut(other, visit),
        };
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// This session's temporary schema, made on first use.
    async fn temp_schema(&self) -> Result<String> {
        if let Some(schema) = self.state().temp_schema.clone() {
            return Ok(schema);
        }
        let schema = scope::new_temp_schema();
        self.engine.catalog().create_schema(&schema, false).await?;
        self.state().temp_schema = Some(schema.clone());
        Ok(schema)
    }

    /// Ends the transaction block's catalog changes: made final, or undone.
    async fn end_block(&self, commit: bool) -> Result<()> {
        let pending = std::mem::take(&mut self.state().pending);
        let rows = match commit {
            true => {
                self.journal.take_since(0);
                Ok(())
            }
            // Rows first, while the block's tables still have their entries.
            false => self.undo_row_changes(0).await,
        };
        let catalog = self.engine.catalog();
        let entries = match (pending.is_empty(), commit) {
            (true, _) => Ok(()),
            (false, true) => pending.commit(catalog).await,
            (false, false) => pending.rollback(catalog).await,
        };
        let ended = rows.and(entries);
        if ended.is_err() {
            // The block ends whatever could not be undone; the error says what.
            self.state().end_transaction();
            self.cursors.end_transaction();
        }
        ended
    }

    /// `COMMENT ON TABLE | VIEW | COLUMN name IS 'text' | NULL`: kept in the
    /// relation's catalog entry (see [`crate::pg`]'s `obj_description`). Inside a
    /// block, ROLLBACK restores the comment before.
    /// `COMMENT ON SCHEMA name IS 'text' | NULL`, kept in the schema's catalog entry.
    /// Not inside a transaction block, where ROLLBACK could not take it back.
    async fn comment_on_schema(
        &self,
        name: &ast::ObjectName,
        comment: Option<&str>,
    ) -> Result<Output> {
        if self.transaction_state() != TransactionState::Idle {
            return Err(SqlError::not_supported(
                "COMMENT ON SCHEMA inside a transaction block",
            ));
        }
        let schema = match name.0.as_slice() {
            [part] => part.as_ident().map(normalize_ident),
            _ => None,
        }
        .map(Ok)
        .unwrap_or_else(|| self.resolve_schema_name(&name.to_string()))?;
        self.engine
            .catalog()
            .metastore()
            .set_schema_comment(&schema, comment)
            .await?;
        Ok(Output::Command(CommandTag::new("COMMENT")))
    }

    async fn comment_on(
        &self,
        object_type: ast::CommentObject,
        name: &ast::ObjectName,
        comment: Option<&str>,
    ) -> Result<Output> {
        use ast::CommentObject;
        if object_type == CommentObject::Schema {
            return self.comment_on_schema(name, comment).await;
        }
        let (relation, column) = match object_type {
            CommentObject::Table | CommentObject::View | CommentObject::MaterializedView => {
                (name.clone(), None)
            }
            CommentObject::Column => {
                let Some((column, relation)) = name.0.split_last().filter(|(_, r)| !r.is_empty())
                else {
                    return Err(SqlError::Syntax {
                        message: "column name must be qualified".to_owned(),
                    });
                };
                let column = column
                    .as_ident()
                    .map(normalize_ident)
                    .ok_or_else(|| SqlError::not_supported("COMMENT ON COLUMN of this name"))?;
                (ast::ObjectName(relation.to_vec()), Some(column))
            }
            other => return Err(SqlError::not_supported(format!("COMMENT ON {other}"))),
        };
        let (schema, table) =
            self.resolve_table(&object_name_to_table_reference(relation, true)?)?;
        let catalog = self.engine.catalog();
        let missing = || tarn_catalog::CatalogError::TableNotFound {
            schema: schema.clone(),
            name: table.clone(),
        };
        if self.state().pending.is_hidden(&schema, &table) {
            return Err(missing().into());
        }
        let entry = catalog
            .metastore()
            .table(&schema, &table)
            .await?
            .ok_or_else(missing)?;
        let is_view = entry.kind == tarn_catalog::TableKind::View;
        let wrong = match object_type {
            CommentObject::Table if is_view => Some("a table"),
            CommentObject::View | CommentObject::MaterializedView if !is_view => Some("a view"),
            _ => None,
        };
        if let Some(expected) = wrong {
            return Err(tarn_catalog::CatalogError::WrongKind {
                name: table,
                expected,
            }
            .into());
        }
        // A view's columns are its query's: checked by planning it.
        if let Some(column) = &column
            && entry.columns.is_none()
            && let Some(provider) = catalog.table_provider(&schema, &table).await?
            && provider.schema().field_with_name(column).is_err()
        {
            return Err(tarn_catalog::CatalogError::ColumnNotFound {
                table,
                column: column.clone(),
            }
            .into());
        }
        let before = catalog
            .set_comment(&schema, &table, column.as_deref(), comment)
            .await?;
        if self.transaction_state() != TransactionState::Idle {
            self.state().pending.rewrote(before);
        }
        Ok(Output::Command(CommandTag::new("COMMENT")))
    }

    /// `DISCARD ALL` / `DISCARD TEMP`: the temporary tables go.
    async fn discard_temp(&self) -> Result<()> {
        let temp = self.state().temp_schema.take();
        if let Some(schema) = temp {
            self.engine.catalog().drop_temporary_schema(&schema).await?;
        }
        Ok(())
    }

    /// Plans a statement (for views, which the catalog plans through the engine).
    pub(crate) async fn plan_statement(&self, statement: DFStatement) -> Result<LogicalPlan> {
        self.plan(statement).await
    }

    /// Plans a statement against the current catalog and `search_path`.
    async fn plan(&self, mut statement: DFStatement) -> Result<LogicalPlan> {
        let catalog = self.engine.catalog();
        catalog.refresh().await?;
        let settings = self.state().settings.clone();
        let default_schema = self.default_schema(&settings);
        let written = written_relations(&statement);
        self.scope_names(&mut statement, &default_schema)?;
        crate::pg::declared::plan_json_as_text(&mut statement);
        crate::pg::functions::rewrite_catalog_calls(&mut statement);
        if let DFStatement::Statement(s) = &mut statement {
            crate::pg::names::distinguish_casts(s);
        }
        let state = self.set_up_state(&settings, default_schema)?;
        crate::pg::whole_rows::rewrite(&mut statement, &state).await;
        crate::pg::scalar_from::rewrite(&mut statement, &state);
        crate::pg::oid_arrays::rewrite(&mut statement, &state).await;
        defaults::fill(&mut statement, &state).await?;
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(|e| undefined_relation(e, &written))?;
        let plan = crate::pg::lateral::unnest_joins(plan)?;
        let plan = crate::pg::casts::char_comparisons(plan)?;
        let plan = crate::pg::casts::jsonb_comparisons(plan)?;
        let plan = crate::pg::overflow::integer_literals(plan)?;
        let plan = crate::pg::overflow::numeric_sums(plan)?;
        signed_integers(crate::pg::casts::text_casts_are_text(plan)?)
    }

    /// The schema unqualified names resolve in: the first schema of `search_path`
    /// that exists.
    fn default_schema(&self, settings: &Settings) -> String {
        let path = settings.search_path();
        let catalog = self.engine.catalog();
        path.iter()
            .find(|s| catalog.has_schema(s))
            .or(path.first())
            .cloned()
            .unwrap_or_else(|| "public".to_owned())
    }

    /// Sets this session's DataFusion state up for planning and running a statement
    /// under `settings`: the default schema, the functions that read the session
    /// (`session_user`, `pg_backend_pid`, `current_setting`, `set_config`) and the
    /// settings `pg_settings` shows. Returns a copy to plan with.
    fn set_up_state(
        &self,
        settings: &Settings,
        default_schema: String,
    ) -> Result<datafusion::execution::session_state::SessionState> {
        self.set_up(settings, default_schema)?;
        Ok(self.ctx.state())
    }

    /// [`Session::set_up_state`] without the copy; nothing to do when the state is
    /// already set up under the same settings, schema and PID (registering the
    /// functions anew was a fiftieth of a short query's CPU).
    fn set_up(&self, settings: &Settings, default_schema: String) -> Result<()> {
        let pid = self.backend_pid();
        let mut set_up_for = self.set_up_for.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(done) = set_up_for.as_ref()
            && done.settings == *settings
            && done.default_schema == default_schema
            && done.pid == pid
        {
            return Ok(());
        }
        *set_up_for = None;
        let user = settings
            .get("session_authorization")
            .unwrap_or_default()
            .to_owned();
        let state_ref = self.ctx.state_ref();
        let mut state = state_ref.write();
        state.config_mut().options_mut().catalog.default_schema = default_schema.clone();
        datafusion::execution::FunctionRegistry::register_udf(
            &mut *state,
            Arc::new(crate::pg::session_user_udf(&user)),
        )?;
        if let Some(pid) = pid {
            datafusion::execution::FunctionRegistry::register_udf(
                &mut *state,
                Arc::new(crate::activity::backend_pid_udf(pid)),
            )?;
        }
        crate::pg::attach_settings(&mut state, settings)?;
        // DateStyle's order ("ISO, DMY"), for the casts of text to dates.
        let order = settings
            .get("DateStyle")
            .and_then(|style| style.split(',').nth(1))
            .map(|order| order.trim().to_ascii_uppercase())
            .unwrap_or_else(|| "MDY".to_owned());
        if let Some(tarn) = state
            .config_mut()
            .options_mut()
            .extensions
            .get_mut::<crate::pg::date_input::TarnOptions>()
        {
            tarn.date_order = order;
        }
        datafusion::execution::FunctionRegistry::register_udf(
            &mut *state,
            Arc::new(crate::pg::functions::set_config_udf(
                Arc::new(settings.clone()),
                Arc::clone(&self.set_by_function),
            )),
        )?;
        drop(state);
        *set_up_for = Some(SetUp {
            settings: settings.clone(),
            default_schema,
            pid,
            task: self.ctx.task_ctx(),
        });
        Ok(())
    }

    /// What a physical plan runs with: the one made when the state was last set up
    /// (copying the state's function registries for each execution was a twentieth of
    /// a short query's CPU), or a new one.
    fn task_ctx(&self) -> Arc<datafusion::execution::TaskContext> {
        let set_up_for = self.set_up_for.lock().unwrap_or_else(|e| e.into_inner());
        match set_up_for.as_ref() {
            Some(done) => Arc::clone(&done.task),
            None => self.ctx.task_ctx(),
        }
    }

    /// `optimized`, for a query, is `plan` already optimized (see [`plans`]).
    async fn run_plan(
        &self,
        plan: LogicalPlan,
        create: CreateParts,
        reuse: Option<plans::Reuse>,
    ) -> Result<Output> {
        match plan {
            LogicalPlan::Ddl(ddl) => self.run_ddl(ddl, create).await,
            LogicalPlan::Dml(DmlStatement {
                op: WriteOp::Insert(_),
                ..
            }) => {
                let plan = crate::pg::typmod::assign_insert(plan)?;
                let plan = crate::pg::not_null::check_insert(plan)?;
                let batches: Vec<RecordBatch> =
                    self.ctx.execute_logical_plan(plan).await?.collect().await?;
                Ok(Output::Command(CommandTag::with_rows(
                    "INSERT 0",
                    count_rows(&batches),
                )))
            }
            LogicalPlan::Dml(dml)
                if matches!(
                    dml.op,
                    WriteOp::Delete | WriteOp::Update | WriteOp::Truncate
                ) =>
            {
                self.run_delete_or_update(dml).await
            }
            LogicalPlan::Dml(dml) => {
                Err(SqlError::not_supported(dml.op.name().to_ascii_uppercase()))
            }
            LogicalPlan::Copy(_) => Err(SqlError::not_supported("COPY")),
            LogicalPlan::Statement(statement) => {
                Err(SqlError::not_supported(statement.name().to_owned()))
            }
            LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) => {
                let (verbose, json) = match &plan {
                    LogicalPlan::Explain(e) => {
                        (e.verbose, e.explain_format == ExplainFormat::PostgresJSON)
                    }
                    LogicalPlan::Analyze(a) => (a.verbose, a.format == ExplainFormat::PostgresJSON),
                    _ => (false, false),
                };
                // A plan's text, or an ANALYZE's metrics: small, whatever the query.
                let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
                if json {
                    return Ok(Output::Rows {
                        schema: explain::json_schema(),
                        stream: explain::json_rows(&batches)?,
                        command: "EXPLAIN",
                    });
                }
                Ok(Output::Rows {
                    schema: explain::schema(),
                    stream: explain::rows(&batches, verbose)?,
                    command: "EXPLAIN",
                })
            }
            query => {
                // A kept plan's schema is the same at every execution (its parameters'
                // values of the types it was made for, see `run_planned`).
                let kept_schema = reuse
                    .as_ref()
                    .filter(|r| !r.substituted)
                    .map(|r| Arc::clone(&r.kept));
                let schema = match kept_schema.as_ref().and_then(|k| k.attributed.get()) {
                    Some(schema) => Arc::clone(schema),
                    None => {
                        let schema = self
                            .attributed(Arc::new(query.schema().as_arrow().clone()), &query)
                            .await;
                        if let Some(kept) = &kept_schema {
                            let _ = kept.attributed.set(Arc::clone(&schema));
                        }
                        schema
                    }
                };
                // A kept plan optimized once: its physical plan for these values, kept
                // or made; values of other types than it was optimized for are
                // optimized again with the query.
                let (physical, query) = match reuse {
                    Some(reuse) if reuse.substituted => (self.reused_physical(reuse).await?, query),
                    Some(reuse) => {
                        let values = reuse.values.clone();
                        match self.reused_physical(reuse).await? {
                            Some(physical) => (Some(physical), query),
                            None => (None, query.with_param_values(ParamValues::from(values))?),
                        }
                    }
                    None => (None, query),
                };
                let stream = match physical {
                    Some(physical) => {
                        datafusion::physical_plan::execute_stream(physical, self.task_ctx())?
                    }
                    None => {
                        let frame = self.ctx.execute_logical_plan(query).await?;
                        frame.execute_stream().await?
                    }
                };
                let stream = crate::pg::names::shown_stream(stream);
                Ok(Output::Rows {
                    schema,
                    stream,
                    command: "SELECT",
                })
            }
        }
    }

    /// The physical plan of a kept plan optimized once, for `reuse`'s values: the one
    /// kept for them, or one made and, for a small scan, kept (see
    /// [`plans::Kept::keeps_physical`]); `None` if the values' types are not those
    /// the plan was optimized for.
    async fn reused_physical(&self, reuse: plans::Reuse) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let plans::Reuse {
            kept,
            optimized,
            values,
            ..
        } = reuse;
        if let Some(physical) = kept.physical(&values) {
            return Ok(Some(physical));
        }
        let Some(logical) = optimized.with(&values) else {
            return Ok(None);
        };
        let keep = kept.keeps_physical();
        let state = match keep {
            true => plans::kept_physical_state(self.ctx.state(), kept.runs_in_one_partition()),
            false => self.ctx.state(),
        };
        let physical = state
            .query_planner()
            .create_physical_plan(&logical, &state)
            .await?;
        if keep {
            kept.keep_physical(values, Arc::clone(&physical));
            self.plans
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .physical_made += 1;
            return Ok(Some(
                datafusion::physical_plan::execution_plan::reset_plan_states(physical)?,
            ));
        }
        Ok(Some(physical))
    }

    /// DELETE, UPDATE and TRUNCATE become one Delta commit each. DataFusion has planned
    /// them as a filter (and for UPDATE a projection of new values) over the table;
    /// the predicate and assignments are taken from that plan, already typed.
    async fn run_delete_or_update(&self, dml: DmlStatement) -> Result<Output> {
        let (schema, name) = self.resolve_table(&dml.table_name)?;
        let session: Arc<dyn datafusion::catalog::Session> = Arc::new(self.ctx.state());
        let catalog = self.engine.catalog();
        // Typed as a query's filter would be: deltalake would otherwise cast a literal
        // to the column's type (`qty = 2.5` deleted the rows of 2); then casts and
        // integer arithmetic as a query's (`set qty = 2.7` stores 3, not 2).
        let state = self.ctx.state();
        let coercion: Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> =
            Arc::new(datafusion::optimizer::analyzer::type_coercion::TypeCoercion::new());
        let input = [
            coercion,
            crate::pg::cast_rule(),
            crate::pg::partial_subscripts_rule(),
            crate::pg::overflow_rule(),
            crate::pg::integral_scales_rule(),
        ]
        .iter()
        .try_fold(dml.input.as_ref().clone(), |plan, rule| {
            rule.analyze(plan, state.config_options())
        })?;
        let (projection, predicate) = split_dml_input(&input);
        match dml.op {
            WriteOp::Truncate => {
                catalog.delete_rows(&schema, &name, None, session).await?;
                Ok(Output::Command(CommandTag::new("TRUNCATE TABLE")))
            }
            WriteOp::Delete => {
                let rows = catalog
                    .delete_rows(&schema, &name, predicate, session)
                    .await?;
                Ok(Output::Command(CommandTag::with_rows("DELETE", rows)))
            }
            _ => {
                let columns = dml.target.schema();
                let exprs =
                    projection.ok_or_else(|| SqlError::not_supported("this form of UPDATE"))?;
                let assignments = exprs
                    .into_iter()
                    .zip(columns.fields())
                    .filter_map(|(expr, field)| {
                        let value = unnormalize_col(expr.unalias());
                        match &value {
                            Expr::Column(c) if c.name == *field.name() => None,
                            _ => Some((
                                field.name().clone(),
                                crate::pg::not_null::check_value(
                                    field,
                                    crate::pg::typmod::assign_value(field, value),
                                    &name,
                                ),
                            )),
                        }
                    })
                    .collect();
                let rows = catalog
                    .update_rows(&schema, &name, assignments, predicate, session)
                    .await?;
                Ok(Output::Command(CommandTag::with_rows("UPDATE", rows)))
            }
        }
    }

    async fn run_ddl(&self, ddl: DdlStatement, parts: CreateParts) -> Result<Output> {
        let CreateParts {
            cascade,
            is_ctas,
            view_sql,
            partition_by,
            declared,
            defaults,
        } = parts;
        let partition_by = partition_by.as_slice();
        let catalog = self.engine.catalog();
        match ddl {
            DdlStatement::CreateMemoryTable(create) => {
                if create.temporary {
                    return Err(SqlError::not_supported("CREATE TEMPORARY TABLE"));
                }
                if create.or_replace {
                    return Err(SqlError::not_supported("CREATE OR REPLACE TABLE"));
                }
                if is_ctas && !create.column_defaults.is_empty() {
                    return Err(SqlError::not_supported(
                        "column DEFAULT values in CREATE TABLE ... AS",
                    ));
                }
                let (schema, name) = self.resolve_table(&create.name)?;
                if is_ctas {
                    let state = Arc::new(self.ctx.state());
                    let created = catalog
                        .create_table_as(
                            &schema,
                            &name,
                            (*create.input).clone(),
                            state,
                            partition_by,
                            create.if_not_exists,
                        )
                        .await?;
                    if !created {
                        self.relation_exists_notice(&name);
                        // PostgreSQL's tag when nothing was made.
                        return Ok(Output::Command(CommandTag::new("CREATE TABLE AS")));
                    }
                    self.record_owner(&schema, &name).await;
                    let rows = self.count_table_rows(&schema, &name).await?;
                    Ok(Output::Command(CommandTag::with_rows("SELECT", rows)))
                } else {
                    let columns = with_defaults(
                        &with_declared_types(create.input.schema().as_arrow(), &declared),
                        &defaults,
                    );
                    if catalog
                        .create_table(&schema, &name, &columns, partition_by, create.if_not_exists)
                        .await?
                    {
                        self.record_owner(&schema, &name).await;
                    } else {
                        self.relation_exists_notice(&name);
                    }
                    Ok(Output::Command(CommandTag::new("CREATE TABLE")))
                }
            }
            DdlStatement::CreateCatalogSchema(create) => {
                let schema = self.resolve_schema_name(&create.schema_name)?;
                if !catalog.create_schema(&schema, create.if_not_exists).await? {
                    self.notice(Notice::skipped_present(
                        Condition::DuplicateSchema,
                        format!("schema \"{schema}\""),
                    ));
                }
                Ok(Output::Command(CommandTag::new("CREATE SCHEMA")))
            }
            DdlStatement::DropTable(drop) => {
                let (schema, name) = self.resolve_table(&drop.name)?;
                self.drop_relation(
                    &schema,
                    &name,
                    drop.if_exists,
                    depends::RelationKind::Table,
                    cascade,
                )
                .await?;
                Ok(Output::Command(CommandTag::new("DROP TABLE")))
            }
            DdlStatement::DropCatalogSchema(drop) => {
                let schema = match &drop.name {
                    SchemaReference::Bare { schema } => schema.to_string(),
                    SchemaReference::Full { schema, catalog: c } => {
                        self.check_catalog(c, &format!("{c}.{schema}"))?;
                        schema.to_string()
                    }
                };
                if !drop.cascade {
                    self.schema_dependents(&schema).await?;
                }
                let contents = self.schema_contents(&schema).await?;
                if !catalog
                    .drop_schema(&schema, drop.if_exists, drop.cascade)
                    .await?
                {
                    self.notice(Notice::skipped_absent(format!("schema \"{schema}\"")));
                }
                if let Some(notice) = Notice::cascaded(&contents) {
                    self.notice(notice);
                }
                Ok(Output::Command(CommandTag::new("DROP SCHEMA")))
            }
            DdlStatement::CreateView(view) => {
                if view.temporary {
                    return Err(SqlError::not_supported("CREATE TEMPORARY VIEW"));
                }
                let definition =
                    view_sql.ok_or_else(|| SqlError::not_supported("this form of CREATE VIEW"))?;
                let (schema, name) = self.resolve_table(&view.name)?;
                catalog
                    .create_view(&schema, &name, &definition, view.or_replace)
                    .await?;
                self.record_owner(&schema, &name).await;
                Ok(Output::Command(CommandTag::new("CREATE VIEW")))
            }
            DdlStatement::DropView(drop) => {
                let (schema, name) = self.resolve_table(&drop.name)?;
                self.drop_relation(
                    &schema,
                    &name,
                    drop.if_exists,
                    depends::RelationKind::View,
                    cascade,
                )
                .await?;
                Ok(Output::Command(CommandTag::new("DROP VIEW")))
            }
            other => Err(SqlError::not_supported(ddl_words(&other))),
        }
    }

    /// Records the session's user as the owner of a relation it created (the catalog
    /// entry's `owner` property; pg_class.relowner and pg_tables show it). A failure
    /// leaves the relation owned by `postgres` and is logged.
    async fn record_owner(&self, schema: &str, name: &str) {
        let user = self
            .settings()
            .get("session_authorization")
            .unwrap_or_default()
            .to_owned();
        if user.is_empty() {
            return;
        }
        if let Err(e) = self
            .engine
            .catalog()
            .set_property(schema, name, "owner", Some(&user))
            .await
        {
            tracing::warn!(%schema, %name, error = %e, "could not record the owner");
        }
    }

    /// The entry of relation `schema.name` that a DROP of `kind` is to drop, None if
    /// there is none and `if_exists` allows that; PostgreSQL's errors for a relation
    /// (or schema) that is not there, or a relation of another kind.
    async fn drop_target(
        &self,
        schema: &str,
        name: &str,
        kind: depends::RelationKind,
        if_exists: bool,
    ) -> Result<Option<tarn_catalog::TableEntry>> {
        let catalog = self.engine.catalog();
        let hidden = self.state().pending.is_hidden(schema, name);
        let entry = match hidden {
            true => None,
            false => catalog.metastore().table(schema, name).await?,
        };
        match &entry {
            None if !if_exists => {
                if !catalog.metastore().schema_exists(schema).await? {
                    return Err(tarn_catalog::CatalogError::SchemaNotFound {
                        name: schema.to_owned(),
                    }
                    .into());
                }
                Err(SqlError::NothingToDrop {
                    kind: kind.word(),
                    name: name.to_owned(),
                })
            }
            Some(entry) if depends::RelationKind::of(entry) != kind => {
                Err(SqlError::DropOfWrongKind {
                    name: name.to_owned(),
                    expected: kind.expected(),
                    found: depends::RelationKind::of(entry).word(),
                })
            }
            _ => Ok(entry),
        }
    }

    /// The NOTICE of a statement's `IF EXISTS` that found no relation `schema.name`:
    /// PostgreSQL names the schema if that is missing, otherwise the relation as
    /// `word` (`table "t" does not exist, skipping`).
    async fn skipped_absent_relation(&self, schema: &str, name: &str, word: &str) -> Result<()> {
        let exists = self
            .engine
            .catalog()
            .metastore()
            .schema_exists(schema)
            .await?;
        let notice = match exists {
            true => Notice::skipped_absent(format!("{word} \"{name}\"")),
            false => Notice::skipped_absent(format!("schema \"{schema}\"")),
        };
        self.notice(notice);
        Ok(())
    }

    /// DROP TABLE / DROP VIEW: at once, or inside a transaction block at COMMIT (the
    /// name is gone for this session now; see [`scope`]).
    async fn drop_relation(
        &self,
        schema: &str,
        name: &str,
        if_exists: bool,
        kind: depends::RelationKind,
        cascade: bool,
    ) -> Result<()> {
        let view = kind == depends::RelationKind::View;
        let catalog = self.engine.catalog();
        let pending = self.state().pending.clone();
        let entry = self.drop_target(schema, name, kind, if_exists).await?;
        let dependents = match entry {
            Some(_) => depends::dependents(catalog, &pending, schema, name, kind).await?,
            None => Vec::new(),
        };
        if !dependents.is_empty() {
            let settings = self.state().settings.clone();
            let default_schema = self.default_schema(&settings);
            if !cascade {
                return Err(SqlError::DependentObjects {
                    kind: kind.word(),
                    name: depends::shown(schema, name, &default_schema),
                    detail: depends::detail(&dependents, &default_schema),
                });
            }
            if let Some(notice) = Notice::cascaded(&depends::cascaded(&dependents, &default_schema))
            {
                self.notice(notice);
            }
            // The views that use the relation go first (those found last use the
            // others), as one more DROP each.
            for dependent in dependents.iter().rev() {
                Box::pin(self.drop_relation(
                    &dependent.schema,
                    &dependent.name,
                    true,
                    depends::RelationKind::View,
                    false,
                ))
                .await?;
            }
        }
        if self.transaction_state() == TransactionState::Idle {
            let dropped = if view {
                catalog.drop_view(schema, name, if_exists).await?
            } else {
                catalog.drop_table(schema, name, if_exists).await?
            };
            if !dropped {
                self.skipped_absent_relation(schema, name, kind.word())
                    .await?;
            }
            return Ok(());
        }
        let mut pending = std::mem::take(&mut self.state().pending);
        let dropped = pending.drop(catalog, schema, name, view).await;
        // Statements on a session run one at a time: nothing else touched `pending`.
        self.state().pending = pending;
        let dropped = dropped?;
        if !dropped && if_exists {
            self.skipped_absent_relation(schema, name, kind.word())
                .await?;
        }
        if !dropped && !if_exists {
            return Err(if view {
                tarn_catalog::CatalogError::ViewNotFound {
                    schema: schema.to_owned(),
                    name: name.to_owned(),
                }
            } else {
                tarn_catalog::CatalogError::TableNotFound {
                    schema: schema.to_owned(),
                    name: name.to_owned(),
                }
            }
            .into());
        }
        Ok(())
    }

    /// `CREATE EXTERNAL TABLE name [(columns)] STORED AS fmt [OPTIONS (...)] LOCATION
    /// 'url'`. The location must be allowed; files are read now (to infer and check the
    /// schema) and on every use, never copied. `STORED AS DELTA` registers an existing
    /// Delta table.
    async fn create_external_table(
        &self,
        mut create: datafusion::sql::parser::CreateExternalTable,
    ) -> Result<Output> {
        for location in &create.locations {
            self.engine.check_location(location)?;
        }
        // Friendlier option names, as PostgreSQL's COPY spells them.
        create.options = create
            .options
            .into_iter()
            .map(|(key, value)| {
                let key = match key.to_ascii_lowercase().as_str() {
                    "header" => "format.has_header".to_owned(),
                    "delimiter" => "format.delimiter".to_owned(),
                    "quote" => "format.quote".to_owned(),
                    "escape" => "format.escape".to_owned(),
                    "null" => "format.null_value".to_owned(),
                    "compression" => "format.compression".to_owned(),
                    _ => key,
                };
                (key, value)
            })
            .collect();
        let reference = object_name_to_table_reference(create.name.clone(), true)?;
        let (schema, name) = self.resolve_table(&reference)?;
        let catalog = self.engine.catalog();
        let replace = create.or_replace;
        if replace && create.file_type.eq_ignore_ascii_case("delta") {
            return Err(SqlError::not_supported(
                "CREATE OR REPLACE EXTERNAL TABLE ... STORED AS DELTA",
            ));
        }
        if create.file_type.eq_ignore_ascii_case("delta") {
            let [location] = create.locations.as_slice() else {
                return Err(SqlError::not_supported(
                    "a Delta external table with several locations",
                ));
            };
            let url = self.engine.check_location(location)?;
            catalog
                .create_external_delta(&schema, &name, &url, create.if_not_exists)
                .await?;
            return Ok(Output::Command(CommandTag::new("CREATE EXTERNAL TABLE")));
        }
        // The stored statement is name-independent: planning it must not look up the
        // table it defines (which would recurse through the catalog).
        let mut stored = create.clone();
        stored.name = ObjectName::from(vec![ast::Ident::new(EXTERNAL_DEFINITION_NAME)]);
        stored.if_not_exists = false;
        stored.or_replace = false;
        let definition = definition_sql(&stored);
        // Build the provider once now: bad options, unreadable files and schema
        // mismatches fail the CREATE rather than the first query.
        self.external_table_provider(&definition).await?;
        if replace && catalog.metastore().table(&schema, &name).await?.is_some() {
            catalog
                .replace_external(&schema, &name, &definition)
                .await?;
        } else {
            catalog
                .create_external(&schema, &name, &definition, create.if_not_exists)
                .await?;
        }
        Ok(Output::Command(CommandTag::new("CREATE EXTERNAL TABLE")))
    }

    /// A provider for an external table's stored statement, after checking its
    /// location is (still) allowed.
    pub(crate) async fn external_table_provider(
        &self,
        sql: &str,
    ) -> Result<Arc<dyn datafusion::catalog::TableProvider>> {
        let statement = self
            .parse(sql)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::not_supported("an empty external table definition"))?;
        let plan = self.plan(statement).await?;
        let LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut command)) = plan else {
            return Err(SqlError::not_supported("this external table definition"));
        };
        // Tarn's own options (types and parse formats of text columns) are not the
        // reader's: they wrap the provider it builds.
        let mut parse = Vec::new();
        let mut invalid = None;
        command.options.retain(|key, value| {
            match tarn_catalog::parsed::Parse::from_option(key, value) {
                Some(Ok(p)) => {
                    parse.push(p);
                    false
                }
                Some(Err(e)) => {
                    invalid = Some(e);
                    false
                }
                None => true,
            }
        });
        if let Some(e) = invalid {
            return Err(SqlError::InvalidOption {
                statement: "CREATE EXTERNAL TABLE",
                reason: e.strip_backtrace(),
            });
        }
        let extension = command.options.remove(FILE_EXTENSION_OPTION);
        let levels = match command.options.remove(UNNAMED_LEVELS_OPTION) {
            Some(n) => n.parse::<usize>().map_err(|_| SqlError::InvalidOption {
                statement: "CREATE EXTERNAL TABLE",
                reason: format!("{UNNAMED_LEVELS_OPTION} must be a whole number, not {n:?}"),
            })?,
            None => 0,
        };
        for location in &command.locations {
            self.engine.check_location(location)?;
        }
        let state = self.ctx.state();
        if extension.is_some() || levels > 0 {
            let provider =
                tarn_catalog::listing::provider(&state, &command, extension.as_deref(), levels)
                    .await?;
            return Ok(if parse.is_empty() {
                provider
            } else {
                Arc::new(tarn_catalog::parsed::ParsedColumns::try_new(
                    provider, parse,
                )?)
            });
        }
        let factory = state
            .table_factories()
            .get(&command.file_type.to_ascii_uppercase())
            .cloned()
            .ok_or_else(|| SqlError::not_supported(format!("STORED AS {}", command.file_type)))?;
        let provider = factory.create(&state, &command).await?;
        if parse.is_empty() {
            return Ok(provider);
        }
        Ok(Arc::new(tarn_catalog::parsed::ParsedColumns::try_new(
            provider, parse,
        )?))
    }

    /// `COPY t FROM STDIN`: starts the loader; rows become one Delta commit at the end.
    async fn copy_in(
        &self,
        source: &ast::CopySource,
        format: crate::copy::CopyFormat,
    ) -> Result<Output> {
        let ast::CopySource::Table {
            table_name,
            columns,
        } = source
        else {
            return Err(SqlError::not_supported("COPY (query) FROM"));
        };
        let (schema, name) =
            self.resolve_table(&object_name_to_table_reference(table_name.clone(), true)?)?;
        let table = self
            .engine
            .catalog()
            .table_provider(&schema, &name)
            .await?
            .ok_or_else(|| tarn_catalog::CatalogError::TableNotFound {
                schema: schema.clone(),
                name: name.clone(),
            })?;
        let fields = table.schema();
        let listed = if columns.is_empty() {
            None
        } else {
            Some(listed_columns(&fields, columns, &name)?)
        };
        let change = self.begin_row_change(table_name).await?;
        let copy = crate::copy::CopyIn::start(
            table,
            &name,
            fields,
            listed,
            format,
            Arc::new(self.ctx.state()),
            change,
        )?;
        Ok(Output::CopyIn(copy))
    }

    /// `COPY t TO STDOUT` / `COPY (query) TO STDOUT`: the rows, streamed.
    async fn copy_out(
        &self,
        source: &ast::CopySource,
        format: crate::copy::CopyFormat,
    ) -> Result<Output> {
        let query = match source {
            ast::CopySource::Table {
                table_name,
                columns,
            } => {
                let list = if columns.is_empty() {
                    "*".to_owned()
                } else {
                    columns
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                format!("select {list} from {table_name}")
            }
            ast::CopySource::Query(query) => query.to_string(),
        };
        let statement = self
            .parse(&query)?
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::not_supported("an empty COPY query"))?;
        let plan = self.plan(statement).await?;
        let frame = self.ctx.execute_logical_plan(plan).await?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let stream = frame.execute_stream().await?;
        Ok(Output::CopyOut {
            schema,
            stream,
            format,
        })
    }

    /// `ALTER TABLE ... RENAME TO`, and the column changes of [`alter`]; other forms are
    /// refused by name.
    async fn alter_table(&self, alter: &ast::AlterTable) -> Result<Output> {
        let reference = object_name_to_table_reference(alter.name.clone(), true)?;
        let (schema, name) = self.resolve_table(&reference)?;
        let catalog = self.engine.catalog();
        catalog.refresh().await?;
        let materialized = alter.table_type == Some(matview::ALTERED_MATERIALIZED_VIEW);
        let tag = match materialized {
            true => "ALTER MATERIALIZED VIEW",
            false => "ALTER TABLE",
        };
        let entry = catalog.metastore().table(&schema, &name).await?;
        let Some(entry) = entry else {
            if alter.if_exists {
                self.notice(Notice::skipped_absent(format!("relation \"{name}\"")));
                return Ok(Output::Command(CommandTag::new(tag)));
            }
            return Err(tarn_catalog::CatalogError::TableNotFound { schema, name }.into());
        };
        if materialized && !entry.is_materialized_view() {
            return Err(tarn_catalog::CatalogError::WrongKind {
                name,
                expected: "a materialized view",
            }
            .into());
        }
        let (columns, others): (Vec<_>, Vec<_>) = alter
            .operations
            .iter()
            .partition(|o| alter::is_column_change(o));
        if !columns.is_empty() {
            if let Some(other) = others.first() {
                return Err(SqlError::not_supported(format!(
                    "ALTER TABLE with {other} beside column changes"
                )));
            }
            self.alter_columns(&schema, &name, &columns).await?;
        }
        for operation in others {
            match operation {
                ast::AlterTableOperation::RenameTable { table_name } => {
                    let (ast::RenameTableNameKind::To(new) | ast::RenameTableNameKind::As(new)) =
                        table_name;
                    let new_ref = object_name_to_table_reference(new.clone(), true)?;
                    if new_ref.schema().is_some_and(|s| s != schema) {
                        return Err(SqlError::not_supported(
                            "moving a table to another schema with RENAME",
                        ));
                    }
                    if self.transaction_state() == TransactionState::Idle {
                        catalog
                            .rename_table(&schema, &name, new_ref.table())
                            .await?;
                    } else {
                        let mut pending = std::mem::take(&mut self.state().pending);
                        let renamed = pending
                            .rename(catalog, &schema, &name, new_ref.table())
                            .await;
                        self.state().pending = pending;
                        renamed?;
                    }
                }
                other => return Err(alter::refused(other)),
            }
        }
        Ok(Output::Command(CommandTag::new(tag)))
    }

    /// The Arrow type DataFusion gives a SQL type name (`varchar(20)`, `numeric(10,2)`).
    async fn sql_type(&self, data_type: &ast::DataType) -> Result<DataType> {
        let statements = self.parse(&format!("select cast(null as {data_type}) as c"))?;
        let statement = statements
            .into_iter()
            .next()
            .ok_or_else(|| SqlError::not_supported(format!("type {data_type}")))?;
        let plan = self.plan(statement).await?;
        Ok(plan.schema().field(0).data_type().clone())
    }

    /// The row count of a table just written, from its Delta file statistics.
    async fn count_table_rows(&self, schema: &str, name: &str) -> Result<u64> {
        let sql = format!(
            "select count(*) from {}.{}.{}",
            quote_ident(self.engine.catalog_name()),
            quote_ident(schema),
            quote_ident(name)
        );
        let batches = self.ctx.sql(&sql).await?.collect().await?;
        Ok(batches
            .first()
            .and_then(|b| {
                b.column(0)
                    .as_primitive_opt::<datafusion::arrow::datatypes::Int64Type>()
                    .map(|a| a.value(0))
            })
            .unwrap_or(0)
            .try_into()
            .unwrap_or(0))
    }

    fn check_catalog(&self, catalog: &str, full: &str) -> Result<()> {
        if catalog == self.engine.catalog_name() {
            Ok(())
        } else {
            Err(SqlError::CrossDatabase {
                name: full.to_owned(),
            })
        }
    }

    fn resolve_table(&self, name: &TableReference) -> Result<(String, String)> {
        if let Some(catalog) = name.catalog() {
            self.check_catalog(catalog, &name.to_string())?;
        }
        let table = name.table().to_owned();
        let temp = self.state().temp_schema.clone();
        let schema = match (name.schema(), temp) {
            (Some("pg_temp"), Some(temp)) => temp,
            (Some(s), _) => s.to_owned(),
            (None, Some(temp))
                if datafusion::catalog::CatalogProvider::schema(self.engine.catalog(), &temp)
                    .is_some_and(|s| s.table_exist(&table)) =>
            {
                temp
            }
            (None, _) => self
                .ctx
                .state()
                .config()
                .options()
                .catalog
                .default_schema
                .clone(),
        };
        Ok((schema, table))
    }

    /// `DECLARE name CURSOR [WITH HOLD] FOR query`: runs the query and keeps its stream.
    async fn declare(
        &self,
        stmts: &[ast::Declare],
        params: Option<Vec<ScalarValue>>,
    ) -> Result<Output> {
        let query = cursor_query(stmts)?;
        let declare = &stmts[0];
        let [name] = declare.names.as_slice() else {
            return Err(SqlError::not_supported("DECLARE of several cursors"));
        };
        let hold = declare.hold.unwrap_or(false);
        if !hold && self.transaction_state() == TransactionState::Idle {
            return Err(SqlError::NoActiveTransaction("DECLARE CURSOR"));
        }
        if declare.scroll == Some(true) {
            return Err(SqlError::not_supported(
                "SCROLL cursors (Tarn's cursors scan forward only)",
            ));
        }
        let name = normalize_ident(name);
        // Fails before the query runs if the name is taken.
        if self.cursors.schema(&name).is_ok() {
            return Err(SqlError::DuplicateCursor(name));
        }
        let statement = Arc::new(DFStatement::Statement(Box::new(SqlStatement::Query(query))));
        match Box::pin(self.run_inner(statement, params, None)).await? {
            Output::Rows { schema, stream, .. } => {
                self.cursors.declare(&name, hold, schema, stream)?;
                Ok(Output::Command(CommandTag::new("DECLARE CURSOR")))
            }
            _ => Err(SqlError::not_supported(
                "DECLARE CURSOR for a statement without rows",
            )),
        }
    }

    /// `ROLLBACK TO SAVEPOINT name`: takes back the row changes made since `name`,
    /// ends a failed state and forgets the savepoints set after `name`. Catalog
    /// changes since `name` (CREATE, ALTER, DROP) cannot be taken back alone, so then
    /// it refuses rather than pretend.
    async fn rollback_to(&self, name: &str) -> Result<()> {
        let mark = {
            let state = self.state();
            if state.transaction == TransactionState::Idle {
                return Err(SqlError::NoActiveTransaction("ROLLBACK TO SAVEPOINT"));
            }
            let at = state
                .savepoints
                .iter()
                .rposition(|(n, _, _)| n == name)
                .ok_or_else(|| SqlError::UnknownSavepoint(name.to_owned()))?;
            let (_, writes, mark) = state.savepoints[at];
            let since = state.writes - writes;
            if since > 0 {
                return Err(SqlError::SavepointWrites {
                    name: name.to_owned(),
                    writes: since,
                });
            }
            mark
        };
        let undone = self.undo_row_changes(mark).await;
        let mut state = self.state();
        if let Some(at) = state.savepoints.iter().rposition(|(n, _, _)| n == name) {
            state.savepoints.truncate(at + 1);
        }
        state.transaction = TransactionState::InBlock;
        undone
    }

    fn resolve_schema_name(&self, name: &str) -> Result<String> {
        match name.split_once('.') {
            Some((catalog, schema)) => {
                self.check_catalog(catalog, name)?;
                Ok(schema.to_owned())
            }
            None => Ok(name.to_owned()),
        }
    }

    /// The NOTICE of `CREATE ... IF NOT EXISTS` finding relation `name` there.
    fn relation_exists_notice(&self, name: &str) {
        self.notice(Notice::skipped_present(
            Condition::DuplicateTable,
            format!("relation \"{name}\""),
        ));
    }

    /// PostgreSQL's WARNING for COMMIT or ROLLBACK outside a transaction block.
    fn no_transaction_warning(&self) {
        self.notice(Notice::warning(
            Condition::NoActiveTransaction,
            "there is no transaction in progress",
        ));
    }

    /// BEGIN/COMMIT/ROLLBACK, SET, SHOW and DISCARD: statements about the session,
    /// answered without DataFusion. `None` for anything else.
    fn session_statement(&self, statement: &SqlStatement) -> Result<Option<Output>> {
        let output = match statement {
            SqlStatement::StartTransaction { modes, .. } => {
                isolation_provided(modes)?;
                let mut state = self.state();
                let idle = state.transaction == TransactionState::Idle;
                if idle {
                    state.transaction = TransactionState::InBlock;
                    state.writes = 0;
                    state.read_only(access_mode(modes));
                }
                drop(state);
                if !idle {
                    self.notice(Notice::warning(
                        Condition::ActiveTransaction,
                        "there is already a transaction in progress",
                    ));
                }
                CommandTag::new("BEGIN")
            }
            SqlStatement::Commit { .. } => {
                let mut state = self.state();
                let failed = state.transaction == TransactionState::Failed;
                let idle = state.transaction == TransactionState::Idle;
                state.end_transaction();
                drop(state);
                self.cursors.end_transaction();
                if idle {
                    self.no_transaction_warning();
                }
                CommandTag::new(if failed { "ROLLBACK" } else { "COMMIT" })
            }
            SqlStatement::Rollback {
                savepoint: None, ..
            } => {
                let mut state = self.state();
                let idle = state.transaction == TransactionState::Idle;
                state.end_transaction();
                drop(state);
                self.cursors.end_transaction();
                if idle {
                    self.no_transaction_warning();
                }
                CommandTag::new("ROLLBACK")
            }
            SqlStatement::Savepoint { name } => {
                let mut state = self.state();
                if state.transaction == TransactionState::Idle {
                    return Err(SqlError::NoActiveTransaction("SAVEPOINT"));
                }
                let writes = state.writes;
                let mark = self.journal.len();
                state.savepoints.push((normalize_ident(name), writes, mark));
                CommandTag::new("SAVEPOINT")
            }
            SqlStatement::ReleaseSavepoint { name } => {
                let name = normalize_ident(name);
                let mut state = self.state();
                if state.transaction == TransactionState::Idle {
                    return Err(SqlError::NoActiveTransaction("RELEASE SAVEPOINT"));
                }
                let at = state
                    .savepoints
                    .iter()
                    .rposition(|(n, _, _)| *n == name)
                    .ok_or(SqlError::UnknownSavepoint(name))?;
                state.savepoints.truncate(at);
                CommandTag::new("RELEASE")
            }
            // Tarn has no LISTEN, so a session never listens: UNLISTEN has nothing to
            // stop (pools send `UNLISTEN *` when a connection is released).
            SqlStatement::UNLISTEN { .. } => CommandTag::new("UNLISTEN"),
            SqlStatement::LISTEN { .. } => return Err(SqlError::not_supported("LISTEN")),
            SqlStatement::Close { cursor } => {
                match cursor {
                    ast::CloseCursor::All => self.cursors.close_all(),
                    ast::CloseCursor::Specific { name } => {
                        self.cursors.close(&normalize_ident(name))?;
                    }
                }
                CommandTag::new("CLOSE CURSOR")
            }
            SqlStatement::Set(set) => return self.set_statement(set).map(Some),
            SqlStatement::ShowVariable { variable } => {
                let name = ident_path(variable);
                if name.starts_with("datafusion.") {
                    return Ok(None);
                }
                if name.eq_ignore_ascii_case("all") {
                    return self.show_all().map(Some);
                }
                let (canonical, value) = self.show(&name)?;
                let schema = Arc::new(Schema::new(vec![Field::new(
                    canonical,
                    DataType::Utf8,
                    false,
                )]));
                let column: ArrayRef = Arc::new(StringArray::from(vec![value]));
                let batch = RecordBatch::try_new(Arc::clone(&schema), vec![column])
                    .map_err(datafusion::error::DataFusionError::from)?;
                let stream = MemoryStream::try_new(vec![batch], Arc::clone(&schema), None)?;
                return Ok(Some(Output::Rows {
                    schema,
                    stream: Box::pin(stream),
                    command: "SHOW",
                }));
            }
            SqlStatement::AlterTable(_)
            | SqlStatement::OptimizeTable { .. }
            | SqlStatement::Vacuum(_) => {
                return Ok(None);
            }
            SqlStatement::Discard { .. } => {
                self.cursors.close_all();
                self.deallocate_sql(None);
                self.plans.lock().unwrap_or_else(|e| e.into_inner()).clear();
                self.state().settings.reset_all();
                CommandTag::new("DISCARD ALL")
            }
            _ => return Ok(None),
        };
        Ok(Some(Output::Command(output)))
    }

    /// `SHOW ALL`: name, setting and description of each setting.
    fn show_all(&self) -> Result<Output> {
        let schema = show_all_schema();
        let rows = self.state().settings.show_all();
        let column = |values: Vec<&str>| -> ArrayRef { Arc::new(StringArray::from(values)) };
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                column(rows.iter().map(|r| r.0.as_str()).collect()),
                column(rows.iter().map(|r| r.1.as_str()).collect()),
                column(rows.iter().map(|r| r.2).collect()),
            ],
        )
        .map_err(datafusion::error::DataFusionError::from)?;
        let stream = MemoryStream::try_new(vec![batch], Arc::clone(&schema), None)?;
        Ok(Output::Rows {
            schema,
            stream: Box::pin(stream),
            command: "SHOW",
        })
    }

    /// PostgreSQL answers `SHOW TRANSACTION ISOLATION LEVEL` under this name.
    fn show(&self, name: &str) -> Result<(String, String)> {
        let key = match name.to_ascii_lowercase().as_str() {
            "transaction isolation level" => "transaction_isolation".to_owned(),
            "time zone" => "TimeZone".to_owned(),
            _ => name.to_owned(),
        };
        self.state().settings.show(&key)
    }

    fn show_schema(&self, statement: &SqlStatement) -> Result<SchemaRef> {
        let SqlStatement::ShowVariable { variable } = statement else {
            return Err(SqlError::not_supported("SHOW"));
        };
        if ident_path(variable).eq_ignore_ascii_case("all") {
            return Ok(show_all_schema());
        }
        let (canonical, _) = self.show(&ident_path(variable))?;
        Ok(Arc::new(Schema::new(vec![Field::new(
            canonical,
            DataType::Utf8,
            false,
        )])))
    }

    fn set_statement(&self, set: &ast::Set) -> Result<Output> {
        match set {
            ast::Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = object_name(variable);
                if name.starts_with("datafusion.") {
                    let value = values.iter().map(set_value).collect::<Vec<_>>().join(",");
                    let state_ref = self.ctx.state_ref();
                    let mut state = state_ref.write();
                    state.config_mut().options_mut().set(&name, &value)?;
                    // Kept plans were optimized under the old value, and the task
                    // context holds the old options.
                    self.plans.lock().unwrap_or_else(|e| e.into_inner()).clear();
                    *self.set_up_for.lock().unwrap_or_else(|e| e.into_inner()) = None;
                } else {
                    let value = values.iter().map(set_value).collect::<Vec<_>>().join(", ");
                    let mut state = self.state();
                    if value.eq_ignore_ascii_case("default") {
                        state.settings.reset(&name)?;
                    } else {
                        state.settings.set(&name, &value)?;
                    }
                    // Outside a block, each statement's transaction is read-only as
                    // the session's default says (`transaction_read_only` set there
                    // lasted only for the SET's own transaction).
                    if name.to_ascii_lowercase().ends_with("transaction_read_only")
                        && state.transaction == TransactionState::Idle
                    {
                        state.read_only(None);
                    }
                }
            }
            ast::Set::SetTimeZone { value, .. } => {
                self.state().settings.set("TimeZone", &set_value(value))?;
            }
            ast::Set::SetTransaction { modes, session, .. } => {
                isolation_provided(modes)?;
                if let Some(read_only) = access_mode(modes) {
                    let mut state = self.state();
                    let in_block = state.transaction != TransactionState::Idle;
                    if *session {
                        let on = if read_only { "on" } else { "off" };
                        state.settings.set("default_transaction_read_only", on)?;
                    }
                    // `SET TRANSACTION` outside a block has no transaction to change
                    // (PostgreSQL warns); the session's default does change each
                    // statement's transaction outside a block.
                    if *session != in_block {
                        state.read_only(Some(read_only).filter(|_| in_block));
                    }
                }
            }
            ast::Set::SetSessionParam(_) | ast::Set::SetNames { .. } => {
                // Session characteristics and client encoding are accepted as PostgreSQL
                // does; Tarn runs at read committed and speaks UTF-8 only.
            }
            other => return Err(SqlError::not_supported(format!("SET form {other}"))),
        }
        Ok(Output::Command(CommandTag::new("SET")))
    }

    fn reset(&self, reset: &datafusion::sql::parser::ResetStatement) -> Result<Output> {
        let text = reset.to_string();
        let name = text.trim_start_matches("RESET").trim();
        if name.eq_ignore_ascii_case("all") {
            self.state().settings.reset_all();
        } else {
            self.state().settings.reset(name)?;
        }
        Ok(Output::Command(CommandTag::new("RESET")))
    }
}

/// Splits a query string into statements at top-level semicolons (quotes, comments and
/// dollar quotes respected by sqlparser's tokenizer), so that each statement can be
/// parsed by the parser that knows it.
fn split_statements(sql: &str) -> Result<Vec<(usize, String)>> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| {
            SqlError::DataFusion(datafusion::error::DataFusionError::SQL(
                Box::new(e.into()),
                None,
            ))
        })?;
    // The statements are slices of the text as sent, cut at top-level semicolons (a
    // token's Display does not re-escape quotes, so text is never rebuilt from tokens).
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |line: u64, column: u64| -> usize {
        let start = line_starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(sql.len());
        sql[start..]
            .char_indices()
            .nth(column.saturating_sub(1) as usize)
            .map_or(sql.len(), |(i, _)| start + i)
    };
    let mut statements = Vec::new();
    let mut from = 0;
    for token in tokens {
        if token.token == Token::SemiColon {
            let at = offset(token.span.start.line, token.span.start.column);
            statements.push((from, sql[from..at].to_owned()));
            from = (at + 1).min(sql.len());
        }
    }
    statements.push((from, sql[from..].to_owned()));
    Ok(statements
        .into_iter()
        .filter(|(_, s)| !s.trim().is_empty())
        .collect())
}

/// `error`, from parsing `text` (the statement at byte `offset` of `sql`), with the
/// place the parser names (`at Line: 2, Column: 5`) as PostgreSQL's error position:
/// a 1-based character index into `sql`, the query as the client sent it, from
/// which psql draws its `LINE 1: ...` and caret. Errors without a place are kept.
fn at_position(error: SqlError, sql: &str, offset: usize, text: &str) -> SqlError {
    let message = error.to_string();
    // DataFusion wraps the parser's text: `SQL error: ParserError("...")`.
    let (named, place) = match message.rsplit_once(" at Line: ") {
        Some((before, place)) => (before, Some(place)),
        None => (message.trim_end_matches("\")"), None),
    };
    let found = named.rsplit_once("found: ").map(|(_, token)| token);
    let digits = |s: &str| -> Option<usize> {
        s.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()
    };
    let reported = place
        .and_then(|place| place.split_once(", Column: "))
        .and_then(|(line, column)| Some((digits(line)?, digits(column)?)))
        .and_then(|(line, column)| {
            let line_start = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .nth(line.saturating_sub(1))?;
            Some(
                text[line_start..]
                    .char_indices()
                    .nth(column.saturating_sub(1))
                    .map_or(text.len(), |(i, _)| line_start + i),
            )
        });
    // Some of the parser's errors place the token after the one they name (`found:
    // from` at the `t` of `from t`): the named token, last seen up to there, is where
    // PostgreSQL points. At the end of input, PostgreSQL points past the statement.
    let within = match (found, reported) {
        (Some("EOF"), _) => text.trim_end().len(),
        (Some(token), Some(reported)) if !token.is_empty() => {
            let end = (reported + token.len()).min(text.len());
            let end = (0..=end)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            text[..end].rfind(token).unwrap_or(reported)
        }
        (_, Some(reported)) => reported,
        _ => return error,
    };
    let position = sql[..(offset + within).min(sql.len())].chars().count() + 1;
    SqlError::AtPosition {
        error: Box::new(error),
        position,
    }
}

/// Parses one statement. PostgreSQL's dialect, except: COPY (DataFusion's parser knows
/// only `COPY ... TO 'file'`; PostgreSQL's FROM STDIN / TO STDOUT comes from sqlparser)
/// and OPTIMIZE (Databricks' statement, from its dialect).
fn parse_one(sql: &str) -> Result<Vec<DFStatement>> {
    use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
    // The first word, past comments.
    let first_word = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .ok()
        .and_then(|tokens| {
            tokens.into_iter().find_map(|t| match t {
                Token::Word(w) => Some(w.value),
                _ => None,
            })
        })
        .unwrap_or_default();
    if first_word.eq_ignore_ascii_case("explain")
        && let Some(sql) = explain::options_for_datafusion(sql)
    {
        return parse_one(&sql);
    }
    if first_word.eq_ignore_ascii_case("refresh")
        && let Some(statement) = matview::parse_refresh(sql)?
    {
        return Ok(vec![statement]);
    }
    if first_word.eq_ignore_ascii_case("alter")
        && let Some(sql) = matview::alter_as_table(sql)
    {
        let mut statements = parse_one(&sql)?;
        for statement in &mut statements {
            if let DFStatement::Statement(s) = statement
                && let SqlStatement::AlterTable(alter) = s.as_mut()
            {
                alter.table_type = Some(matview::ALTERED_MATERIALIZED_VIEW);
            }
        }
        return Ok(statements);
    }
    if first_word.eq_ignore_ascii_case("crawl") {
        return Ok(vec![crawl::CrawlStatement::parse(sql)?.into_statement()?]);
    }
    // COPY and COMMENT as sqlparser reads them (DataFusion's parser has its own
    // COPY); in COMMENT, `IS $tag$text$tag$` (dbt's persist_docs quotes so) becomes
    // the quoted string sqlparser reads there.
    let comment = first_word.eq_ignore_ascii_case("comment");
    if comment || first_word.eq_ignore_ascii_case("copy") {
        let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
            .tokenize_with_location()
            .map_err(|e| SqlError::Syntax {
                message: e.to_string(),
            })?
            .into_iter()
            .map(|mut t| {
                if let Token::DollarQuotedString(s) = &mut t.token
                    && comment
                {
                    t.token = Token::SingleQuotedString(std::mem::take(&mut s.value));
                }
                t
            })
            .collect();
        let statements = datafusion::sql::sqlparser::parser::Parser::new(&PostgreSqlDialect {})
            .with_tokens_with_locations(tokens)
            .parse_statements()
            .map_err(|e| {
                SqlError::DataFusion(datafusion::error::DataFusionError::SQL(Box::new(e), None))
            })?;
        return Ok(statements
            .into_iter()
            .map(|s| DFStatement::Statement(Box::new(s)))
            .collect());
    }
    if first_word.eq_ignore_ascii_case("optimize") {
        let dialect = datafusion::sql::sqlparser::dialect::DatabricksDialect {};
        return Ok(DFParserBuilder::new(sql)
            .with_dialect(&dialect)
            .build()?
            .parse_statements()?
            .into_iter()
            .collect());
    }
    // Queries and others are read as written, with PostgreSQL's SQL rewritten for
    // DataFusion (`crate::pg::rewrite`). The pg_catalog crate's parser would also
    // replace some client queries wholesale (psql's `\d` over policies, statistics and
    // publications, pgcli's, DBeaver's, Grafana's) with stand-ins whose column names,
    // types and (Grafana's) rows differ from PostgreSQL's; Tarn runs them as written.
    let dialect = PostgreSqlDialect {};
    let statements = DFParserBuilder::new(sql)
        .with_dialect(&dialect)
        .build()?
        .parse_statements()?;
    Ok(statements.into_iter().map(pg_rewritten).collect())
}

/// `statement` with PostgreSQL's SQL rewritten for DataFusion (`crate::pg::rewrite`),
/// also the statement an EXPLAIN explains (whose catalog names failed to resolve).
fn pg_rewritten(statement: DFStatement) -> DFStatement {
    match statement {
        DFStatement::Statement(s) => DFStatement::Statement(Box::new(crate::pg::rewrite(*s))),
        DFStatement::Explain(mut explain) => {
            explain.statement = Box::new(pg_rewritten(*explain.statement));
            DFStatement::Explain(explain)
        }
        other => other,
    }
}

/// `SHOW ALL`'s columns, as PostgreSQL names them.
fn show_all_schema() -> SchemaRef {
    Arc::new(Schema::new(
        ["name", "setting", "description"]
            .map(|name| Field::new(name, DataType::Utf8, false))
            .to_vec(),
    ))
}

/// An external table option of Tarn's: only files with this extension are read (the
/// crawler sets it when a table's folder also holds other files). DataFusion's own
/// factory takes the extension from a single-file location only.
pub(crate) const FILE_EXTENSION_OPTION: &str = "tarn.file_extension";

/// Tarn's option for files under unnamed folder levels (`2024/01/15/`): their names
/// become columns `partition_0..` (the crawler sets it).
pub(crate) const UNNAMED_LEVELS_OPTION: &str = "tarn.unnamed_levels";

/// The SQL that recreates an external table: DataFusion's `Display` for it leaves
/// out the columns, partitions and options, which the stored definition must keep.
fn definition_sql(create: &datafusion::sql::parser::CreateExternalTable) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut sql = String::from("CREATE ");
    if create.unbounded {
        sql.push_str("UNBOUNDED ");
    }
    sql.push_str(&format!("EXTERNAL TABLE {}", create.name));
    if !create.columns.is_empty() || !create.constraints.is_empty() {
        let mut parts: Vec<String> = create.columns.iter().map(ToString::to_string).collect();
        parts.extend(create.constraints.iter().map(ToString::to_string));
        sql.push_str(&format!(" ({})", parts.join(", ")));
    }
    sql.push_str(&format!(" STORED AS {}", create.file_type));
    if !create.table_partition_cols.is_empty() {
        // DataFusion keeps these as written (quotes included).
        sql.push_str(&format!(
            " PARTITIONED BY ({})",
            create.table_partition_cols.join(", ")
        ));
    }
    if !create.order_exprs.is_empty() {
        for ordering in &create.order_exprs {
            let exprs: Vec<String> = ordering.iter().map(ToString::to_string).collect();
            sql.push_str(&format!(" WITH ORDER ({})", exprs.join(", ")));
        }
    }
    let locations: Vec<String> = create.locations.iter().map(|l| quote(l)).collect();
    match locations.as_slice() {
        [one] => sql.push_str(&format!(" LOCATION {one}")),
        many => sql.push_str(&format!(" LOCATION ({})", many.join(", "))),
    }
    if !create.options.is_empty() {
        let options: Vec<String> = create
            .options
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    ast::Value::SingleQuotedString(s) => quote(s),
                    other => other.to_string(),
                };
                format!("{} {value}", quote(k))
            })
            .collect();
        sql.push_str(&format!(" OPTIONS ({})", options.join(", ")));
    }
    sql
}

/// The table name in stored external-table definitions (never looked up).
const EXTERNAL_DEFINITION_NAME: &str = "__tarn_external_definition";

/// Ends a statement's row stream with [`SqlError::StatementTimeout`] at `at`.
impl Output {
    /// The same output with its row stream (rows, or COPY TO's) replaced by
    /// `f(schema, stream)`; other outputs unchanged.
    fn map_stream(
        self,
        f: impl FnOnce(&SchemaRef, SendableRecordBatchStream) -> SendableRecordBatchStream,
    ) -> Output {
        match self {
            Output::Rows {
                schema,
                stream,
                command,
            } => Output::Rows {
                stream: f(&schema, stream),
                schema,
                command,
            },
            Output::CopyOut {
                schema,
                stream,
                format,
            } => Output::CopyOut {
                stream: f(&schema, stream),
                schema,
                format,
            },
            other => other,
        }
    }
}

/// `stream`, holding `done` until the stream is dropped.
fn until_done(
    schema: &SchemaRef,
    stream: SendableRecordBatchStream,
    done: crate::activity::Finished,
) -> SendableRecordBatchStream {
    use futures::StreamExt;
    Box::pin(
        datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            Arc::clone(schema),
            stream.map(move |batch| {
                let _ = &done;
                batch
            }),
        ),
    )
}

fn with_deadline(output: Output, at: tokio::time::Instant) -> Output {
    let limit = |schema: &SchemaRef, stream: SendableRecordBatchStream| {
        let mut sleep = Box::pin(tokio::time::sleep_until(at));
        let mut stream = Some(stream);
        let rows = futures::stream::poll_fn(move |cx| {
            let Some(inner) = stream.as_mut() else {
                return std::task::Poll::Ready(None);
            };
            if sleep.as_mut().poll(cx).is_ready() {
                stream = None;
                return std::task::Poll::Ready(Some(Err(
                    datafusion::error::DataFusionError::External(Box::new(
                        SqlError::StatementTimeout,
                    )),
                )));
            }
            inner.as_mut().poll_next(cx)
        });
        Box::pin(
            datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
                Arc::clone(schema),
                rows,
            ),
        ) as SendableRecordBatchStream
    };
    output.map_stream(limit)
}

/// The query of `DECLARE name CURSOR FOR query`.
fn cursor_query(stmts: &[ast::Declare]) -> Result<Box<ast::Query>> {
    match stmts {
        [declare] if matches!(declare.declare_type, Some(ast::DeclareType::Cursor)) => declare
            .for_query
            .clone()
            .ok_or_else(|| SqlError::not_supported("DECLARE CURSOR without FOR query")),
        _ => Err(SqlError::not_supported(
            "DECLARE other than DECLARE name CURSOR FOR query",
        )),
    }
}

/// Statements that change data or the catalog (each one commit), counted so that
/// `ROLLBACK TO SAVEPOINT` can refuse to pretend it undid them.
fn changes_data(statement: &DFStatement) -> bool {
    match statement {
        DFStatement::CreateExternalTable(_) => true,
        DFStatement::Statement(s) => matches!(
            s.as_ref(),
            SqlStatement::Insert(_)
                | SqlStatement::Update(_)
                | SqlStatement::Delete(_)
                | SqlStatement::Merge(_)
                | SqlStatement::Truncate(_)
                | SqlStatement::CreateTable(_)
                | SqlStatement::CreateView(_)
                | SqlStatement::CreateSchema { .. }
                | SqlStatement::Drop { .. }
                | SqlStatement::AlterTable(_)
                | SqlStatement::Copy { to: false, .. }
                | SqlStatement::Call(_)
                | SqlStatement::OptimizeTable { .. }
                | SqlStatement::Vacuum(_)
                | SqlStatement::Comment { .. }
        ),
        _ => false,
    }
}

/// Whether `statement` changes rows (noted in the [`journal`], so `ROLLBACK` and
/// `ROLLBACK TO` take it back).
fn undoable(statement: &DFStatement) -> bool {
    journal::row_change_target(statement).is_some()
        || matches!(statement, DFStatement::Statement(s) if matches!(**s, SqlStatement::Copy { to: false, .. }))
}

/// Statements planned at Parse time to learn their result columns and parameters.
fn plans_for_rows(statement: &SqlStatement) -> bool {
    matches!(
        statement,
        SqlStatement::Query(_)
            | SqlStatement::Insert(_)
            | SqlStatement::Update(_)
            | SqlStatement::Delete(_)
            | SqlStatement::Explain { .. }
    )
}

/// A query's `UInt64` columns (`row_number()`, `rank()`, `dense_rank()`, `ntile()`)
/// answered as `bigint`, the type PostgreSQL gives those functions: PostgreSQL has
/// no unsigned integers, and arrow-pg maps `UInt64` to `numeric`, which drivers read
/// as a decimal (pgjdbc's getColumns `attnum`). The other unsigned widths already
/// map to a wider signed type. A value above `bigint`'s range is an error.
fn signed_integers(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !returns_rows(&plan)
        || matches!(plan, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_))
        || !plan
            .schema()
            .fields()
            .iter()
            .any(|f| f.data_type() == &DataType::UInt64)
    {
        return Ok(plan);
    }
    let columns: Vec<Expr> = plan
        .schema()
        .iter()
        .map(|(qualifier, field)| {
            let column = Expr::Column(datafusion::common::Column::from((qualifier, field)));
            if field.data_type() == &DataType::UInt64 {
                datafusion::logical_expr::cast(column, DataType::Int64)
                    .alias_qualified(qualifier.cloned(), field.name())
            } else {
                column
            }
        })
        .collect();
    Ok(datafusion::logical_expr::LogicalPlanBuilder::from(plan)
        .project(columns)?
        .build()?)
}

fn returns_rows(plan: &LogicalPlan) -> bool {
    !matches!(
        plan,
        LogicalPlan::Dml(_) | LogicalPlan::Ddl(_) | LogicalPlan::Statement(_)
    )
}

/// Whether `plan` is run as a query by [`Session::run_plan`] (its last arm).
fn runs_as_query(plan: &LogicalPlan) -> bool {
    !matches!(
        plan,
        LogicalPlan::Ddl(_)
            | LogicalPlan::Dml(_)
            | LogicalPlan::Copy(_)
            | LogicalPlan::Statement(_)
            | LogicalPlan::Explain(_)
            | LogicalPlan::Analyze(_)
    )
}

/// The new-value expressions (UPDATE) and the predicate of a DELETE/UPDATE input
/// plan, with column references unqualified as the Delta operations expect.
fn split_dml_input(input: &LogicalPlan) -> (Option<Vec<Expr>>, Option<Expr>) {
    let (projection, below) = match input {
        LogicalPlan::Projection(p) => (Some(p.expr.clone()), p.input.as_ref()),
        other => (None, other),
    };
    let predicate = match below {
        LogicalPlan::Filter(filter) => Some(unnormalize_col(filter.predicate.clone())),
        _ => None,
    };
    (projection, predicate)
}

fn ends_transaction(statement: &DFStatement) -> bool {
    matches!(
        statement,
        DFStatement::Statement(s) if matches!(**s, SqlStatement::Commit { .. } | SqlStatement::Rollback { .. })
    )
}

fn count_rows(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter(|b| b.num_columns() > 0)
        .filter_map(|b| b.column(0).as_primitive_opt::<UInt64Type>())
        .map(|a| a.iter().flatten().sum::<u64>())
        .sum()
}

fn ident_path(idents: &[ast::Ident]) -> String {
    idents
        .iter()
        .map(|i| i.value.clone())
        .collect::<Vec<_>>()
        .join(
            if idents.len() > 1
                && idents.iter().all(|i| i.quote_style.is_none())
                && is_word_list(idents)
            {
                " "
            } else {
                "."
            },
        )
}

/// Refuses an isolation level Tarn does not give (`BEGIN ISOLATION LEVEL SERIALIZABLE`,
/// `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`): every transaction runs at read
/// committed (and weaker inside a block, see the README), which PostgreSQL's read
/// uncommitted also is.
fn isolation_provided(modes: &[ast::TransactionMode]) -> Result<()> {
    use ast::{TransactionIsolationLevel as Level, TransactionMode};
    for mode in modes {
        if let TransactionMode::IsolationLevel(level) = mode
            && !matches!(level, Level::ReadCommitted | Level::ReadUncommitted)
        {
            return Err(crate::settings::isolation_not_supported(&level.to_string()));
        }
    }
    Ok(())
}

/// `SHOW TRANSACTION ISOLATION LEVEL` arrives as several words, not a dotted name.
fn is_word_list(idents: &[ast::Ident]) -> bool {
    let first = idents[0].value.to_ascii_lowercase();
    first == "transaction" || first == "time"
}

fn object_name(name: &ObjectName) -> String {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(ident) => ident.value.clone(),
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The text of a SET value: strings unquoted, identifiers as written, numbers as is.
fn set_value(expr: &SqlExpr) -> String {
    match expr {
        SqlExpr::Value(v) => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        SqlExpr::Identifier(ident) => {
            if ident.quote_style.is_some() {
                format!("\"{}\"", ident.value)
            } else {
                ident.value.clone()
            }
        }
        other => other.to_string(),
    }
}

/// What a CREATE or DROP statement's text says that its logical plan does not keep.
#[derive(Default)]
struct CreateParts {
    /// `DROP ... CASCADE`.
    cascade: bool,
    /// `CREATE TABLE ... AS`: the plan's input is the rows to write.
    is_ctas: bool,
    /// The query of a CREATE VIEW, as written.
    view_sql: Option<String>,
    /// Hive-style `PARTITIONED BY` columns.
    partition_by: Vec<String>,
    /// Column types beyond Arrow's (`varchar(20)`, `jsonb`).
    declared: Vec<(String, tarn_catalog::types::DeclaredType)>,
    /// Column defaults, as written (`now()`).
    defaults: Vec<(String, String)>,
}

/// `schema` with the declared types of `declared` recorded on its fields.
fn with_declared_types(
    schema: &Schema,
    declared: &[(String, tarn_catalog::types::DeclaredType)],
) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(
            |f| match declared.iter().find(|(name, _)| name == f.name()) {
                Some((_, t)) => f.as_ref().clone().with_metadata(t.metadata()),
                None => f.as_ref().clone(),
            },
        )
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// `schema` with the column defaults `defaults` (SQL as written) recorded on its
/// fields (see [`defaults`]).
fn with_defaults(schema: &Schema, defaults: &[(String, String)]) -> Schema {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(
            |f| match defaults.iter().find(|(name, _)| name == f.name()) {
                Some((_, sql)) => {
                    let mut metadata = f.metadata().clone();
                    metadata.insert(tarn_catalog::types::DEFAULT_KEY.to_owned(), sql.clone());
                    f.as_ref().clone().with_metadata(metadata)
                }
                None => f.as_ref().clone(),
            },
        )
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

fn normalize_ident(ident: &ast::Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn ddl_words(ddl: &DdlStatement) -> &'static str {
    match ddl {
        DdlStatement::CreateExternalTable(_) => "CREATE EXTERNAL TABLE",
        DdlStatement::CreateView(_) => "CREATE VIEW",
        DdlStatement::DropView(_) => "DROP VIEW",
        DdlStatement::CreateIndex(_) => "CREATE INDEX",
        DdlStatement::CreateFunction(_) => "CREATE FUNCTION",
        DdlStatement::DropFunction(_) => "DROP FUNCTION",
        DdlStatement::CreateCatalog(_) => "CREATE DATABASE",
        _ => "this DDL statement",
    }
}

/// The positions in `fields` of a COPY's column list, in its order: names as
/// identifiers resolve (unquoted ones folded to lower case), each at most once.
fn listed_columns(
    fields: &datafusion::arrow::datatypes::SchemaRef,
    columns: &[ast::Ident],
    table: &str,
) -> Result<Vec<usize>> {
    let mut listed = Vec::with_capacity(columns.len());
    for column in columns {
        let name = match column.quote_style {
            Some(_) => column.value.clone(),
            None => column.value.to_lowercase(),
        };
        let at = fields
            .index_of(&name)
            .map_err(|_| SqlError::UnknownColumn {
                column: name.clone(),
                table: table.to_owned(),
            })?;
        if listed.contains(&at) {
            return Err(SqlError::ColumnListedTwice(name));
        }
        listed.push(at);
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_at_top_level_semicolons_only() {
        let sql =
            "select 'a;b' as \"x;y\"; -- c;d\n optimize t;  copy u to stdout ; select $q$;$q$;";
        let parts: Vec<String> = split_statements(sql)
            .expect("split")
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(parts.len(), 4, "{parts:?}");
        assert_eq!(parts[0].trim(), "select 'a;b' as \"x;y\"");
        assert!(parts[1].trim().ends_with("optimize t"), "{:?}", parts[1]);
        assert_eq!(parts[2].trim(), "copy u to stdout");
        assert_eq!(parts[3].trim(), "select $q$;$q$");
        let parsed = parse_one(&parts[1]).expect("optimize parses");
        assert_eq!(parsed.len(), 1);
        // Quotes inside literals stay as written (doubled, or escaped in E'').
        let sql = "select 'O''Reilly';\nselect E'a\\'b', 'é;'";
        let parts = split_statements(sql).expect("split");
        assert_eq!(
            parts,
            [
                (0, "select 'O''Reilly'".to_owned()),
                (19, "\nselect E'a\\'b', 'é;'".to_owned())
            ]
        );
    }

    /// Positions as PostgreSQL 15 reports them (psycopg2's `diag.statement_position`
    /// against PostgreSQL): the first word, a second statement's, a second line's, and
    /// past a two-byte character.
    #[test]
    fn syntax_errors_carry_postgres_positions() {
        let position = |sql: &str| -> Option<usize> {
            let mut found = None;
            for (offset, text) in split_statements(sql).expect("split") {
                if let Err(e) = parse_one(&text) {
                    if let SqlError::AtPosition { position, .. } =
                        at_position(e, sql, offset, &text)
                    {
                        found = Some(position);
                    }
                    break;
                }
            }
            found
        };
        assert_eq!(position("selec 1"), Some(1));
        assert_eq!(position("select 1; selec 2"), Some(11));
        assert_eq!(position("select 1,\n  from t"), Some(13));
        assert_eq!(position("select 'é' frm t"), Some(16));
        assert_eq!(position("select (1"), Some(10));
    }

    #[test]
    fn tags_print_as_postgres_does() {
        assert_eq!(
            CommandTag::with_rows("INSERT 0", 3).to_string(),
            "INSERT 0 3"
        );
        assert_eq!(CommandTag::new("CREATE TABLE").to_string(), "CREATE TABLE");
    }

    #[test]
    fn external_definitions_keep_columns_partitions_and_options() {
        let sql = "CREATE EXTERNAL TABLE t (\"a b\" BIGINT, y INT) STORED AS CSV PARTITIONED BY (y) \
                   LOCATION 'file:///x/' OPTIONS ('format.has_header' 'false', 'format.delimiter' '|')";
        let Some(DFStatement::CreateExternalTable(create)) =
            parse_one(sql).expect("parses").into_iter().next()
        else {
            panic!("not an external table");
        };
        let text = definition_sql(&create);
        let Some(DFStatement::CreateExternalTable(again)) =
            parse_one(&text).expect("reparses").into_iter().next()
        else {
            panic!("not an external table: {text}");
        };
        assert_eq!(again.columns.len(), 2, "{text}");
        assert_eq!(again.table_partition_cols, vec!["y"], "{text}");
        assert_eq!(again.options, create.options, "{text}");
        assert_eq!(again.locations, create.locations, "{text}");
    }

    #[test]
    fn insert_count_sums_the_count_column() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "count",
            DataType::UInt64,
            false,
        )]));
        let batch = RecordBatch::try_new(
            schema,
            vec![Arc::new(datafusion::arrow::array::UInt64Array::from(vec![
                2, 5,
            ]))],
        )
        .expect("batch");
        assert_eq!(count_rows(&[batch]), 7);
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use futures::TryStreamExt;

    async fn run(session: &Session, sql: &str) {
        for statement in session.parse(sql).expect("parse") {
            if let Output::Rows { stream, .. } = session.execute(statement).await.expect(sql) {
                stream.try_collect::<Vec<_>>().await.expect("rows");
            }
        }
    }

    async fn rows(session: &Session, prepared: &Prepared) -> usize {
        match session
            .execute_prepared(prepared, Vec::new())
            .await
            .expect("execute")
        {
            Output::Rows { stream, .. } => {
                let batches: Vec<RecordBatch> = stream.try_collect().await.expect("rows");
                batches.iter().map(RecordBatch::num_rows).sum()
            }
            other => panic!("no rows: {other:?}"),
        }
    }

    /// Two sessions of one engine over a new warehouse (kept while the folder is).
    async fn two_sessions() -> (tempfile::TempDir, Session, Session) {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Engine::open(dir.path().to_str().expect("utf-8"), Default::default())
            .await
            .expect("open");
        let (this, other) = (
            engine.session().expect("session"),
            engine.session().expect("session"),
        );
        (dir, this, other)
    }

    /// The first column of what `sql` returns, prepared and run as a driver does
    /// (Parse, Bind, Execute, Sync).
    async fn values(session: &Session, sql: &str) -> Vec<String> {
        values_with(session, sql, &[], Vec::new()).await
    }

    fn reused(session: &Session) -> u64 {
        session.plans.lock().expect("plans").reused
    }

    /// A query text parsed again takes the plan its last Parse made while nothing
    /// that plan was made from changed, and is planned again when something did: a
    /// commit to a table it reads, the table replaced, `search_path`, a temporary
    /// table of the same name, a view redefined. `now()` is still evaluated at each
    /// execution.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_plans_follow_what_they_were_made_from() {
        let (_dir, this, other) = two_sessions().await;
        run(&this, "create table t (v text); insert into t values ('a')").await;
        let query = "select v from t order by v";
        assert_eq!(values(&this, query).await, ["a"]);
        assert_eq!(values(&this, query).await, ["a"]);
        assert_eq!(reused(&this), 1, "the second Parse took the kept plan");

        run(&other, "insert into t values ('b')").await;
        assert_eq!(values(&this, query).await, ["a", "b"], "another's commit");
        assert_eq!(values(&this, query).await, ["a", "b"]);
        assert_eq!(reused(&this), 2, "kept again after planning anew");

        run(
            &other,
            "drop table t; create table t (v text); insert into t values ('c')",
        )
        .await;
        assert_eq!(values(&this, query).await, ["c"], "the table replaced");

        run(
            &other,
            "create schema s2; create table s2.t (v text); insert into s2.t values ('s2')",
        )
        .await;
        run(&this, "set search_path = s2, public").await;
        assert_eq!(values(&this, query).await, ["s2"], "search_path");
        run(&this, "set search_path = public").await;
        assert_eq!(values(&this, query).await, ["c"], "search_path again");

        run(
            &this,
            "create temp table t (v text); insert into t values ('temporary')",
        )
        .await;
        assert_eq!(
            values(&this, query).await,
            ["temporary"],
            "a temporary table"
        );

        run(&this, "create view w as select 'v1' as v").await;
        assert_eq!(values(&this, "select v from w").await, ["v1"]);
        run(&other, "create or replace view w as select 'v2' as v").await;
        assert_eq!(values(&this, "select v from w").await, ["v2"], "a view");

        // A named statement executed in later batches (pgjdbc past its prepare
        // threshold, asyncpg) takes the kept plan while it holds.
        run(&this, "create table u (v text); insert into u values ('a')").await;
        let named = this
            .prepare("select v from u order by v", &[])
            .await
            .expect("prepare");
        this.end_batch();
        let before = reused(&this);
        assert_eq!(rows(&this, &named).await, 1);
        this.end_batch();
        assert_eq!(reused(&this), before + 1, "a named statement, later");
        run(&other, "insert into u values ('b')").await;
        this.end_batch();
        assert_eq!(rows(&this, &named).await, 2, "and another's commit seen");
        this.end_batch();
        let before = reused(&this);
        assert_eq!(rows(&this, &named).await, 2);
        assert_eq!(reused(&this), before + 1, "the plan made then is kept");
        // set_config applies from the next statement on: the named statement run next
        // resolves its names under it.
        run(
            &other,
            "create schema s3; create table s3.u (v text); insert into s3.u values ('x'), ('y'), ('z')",
        )
        .await;
        this.end_batch();
        values(&this, "select set_config('search_path', 's3', false)").await;
        assert_eq!(rows(&this, &named).await, 3, "set_config's search_path");

        let now = "select now()::text";
        let first = values(&this, now).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let before = reused(&this);
        assert_ne!(values(&this, now).await, first, "now() at each execution");
        assert_eq!(
            reused(&this),
            before + 1,
            "a plan without tables is kept too"
        );
    }

    /// The first column of what `sql` returns with `params`, prepared with `declared`
    /// and run as a driver does.
    async fn values_with(
        session: &Session,
        sql: &str,
        declared: &[Option<DataType>],
        params: Vec<ScalarValue>,
    ) -> Vec<String> {
        let prepared = session.prepare(sql, declared).await.expect(sql);
        let output = session.execute_prepared(&prepared, params).await;
        session.end_batch();
        match output.expect(sql) {
            Output::Rows { stream, .. } => {
                let batches: Vec<RecordBatch> = stream.try_collect().await.expect("rows");
                batches
                    .iter()
                    .flat_map(|b| {
                        (0..b.num_rows()).map(|i| {
                            datafusion::arrow::util::display::array_value_to_string(b.column(0), i)
                                .expect("display")
                        })
                    })
                    .collect()
            }
            other => panic!("no rows: {other:?}"),
        }
    }

    /// Whether the plan kept for `sql` was optimized once for all its executions
    /// (`None`: not kept, or not executed yet).
    fn optimized_once(session: &Session, sql: &str) -> Option<bool> {
        let kept = session.plans.lock().expect("plans").get(sql)?;
        kept.optimized.get().map(Option::is_some)
    }

    /// A kept plan optimized once with its parameters as placeholders takes each
    /// execution's values: nothing of an earlier execution's values stays in it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_plans_take_each_executions_parameters() {
        let (_dir, this, _other) = two_sessions().await;
        run(
            &this,
            "create table t (id int, name text); insert into t values (1, 'a'), (2, 'b'), (3, 'c')",
        )
        .await;
        let by_id = "select name from t where id = $1 order by name limit $2";
        let int = |v: i32| ScalarValue::Int32(Some(v));
        let long = |v: i64| ScalarValue::Int64(Some(v));
        let text = |v: &str| ScalarValue::Utf8(Some(v.to_owned()));
        let limit = [None, Some(DataType::Int64)];
        let run_by_id = |id, n| values_with(&this, by_id, &limit, vec![int(id), long(n)]);
        assert_eq!(run_by_id(1, 5).await, ["a"]);
        let before = reused(&this);
        assert_eq!(run_by_id(2, 5).await, ["b"]);
        assert_eq!(reused(&this), before + 1, "the kept plan");
        // A limit is planned by its value: with a parameter for it, at each execution.
        assert_eq!(optimized_once(&this, by_id), Some(false));
        assert_eq!(run_by_id(3, 0).await, Vec::<String>::new(), "LIMIT 0");
        assert_eq!(run_by_id(3, 1).await, ["c"]);
        let in_range = "select name from t where id between $1 and $2 order by id";
        let range = |a, b| values_with(&this, in_range, &[], vec![int(a), int(b)]);
        assert_eq!(range(1, 2).await, ["a", "b"]);
        assert_eq!(optimized_once(&this, in_range), Some(true));
        assert_eq!(range(2, 3).await, ["b", "c"]);
        assert_eq!(range(3, 1).await, Vec::<String>::new());

        // LIMIT and OFFSET bound as int4 (pgjdbc's setInt), where DataFusion expects
        // a bigint.
        let paged = "select name from t order by id limit $1 offset $2";
        let int4 = [Some(DataType::Int32), Some(DataType::Int32)];
        let page = |n, skip| values_with(&this, paged, &int4, vec![int(n), int(skip)]);
        assert_eq!(page(2, 1).await, ["b", "c"]);
        assert_eq!(page(1, 0).await, ["a"]);

        // A bigint parameter against an integer column (pgjdbc's setLong).
        let wide = "select name from t where id = $1";
        let declared = [Some(DataType::Int64)];
        assert_eq!(
            values_with(&this, wide, &declared, vec![long(2)]).await,
            ["b"]
        );
        assert_eq!(
            values_with(&this, wide, &declared, vec![long(3)]).await,
            ["c"]
        );

        let by_name = "select id from t where name = $1 or name = upper($1)";
        assert_eq!(
            values_with(&this, by_name, &[], vec![text("b")]).await,
            ["2"]
        );
        assert_eq!(
            values_with(&this, by_name, &[], vec![text("c")]).await,
            ["3"]
        );
        assert_eq!(optimized_once(&this, by_name), Some(true));

        // now() is evaluated at each execution: such a plan is optimized each time.
        let stamped = "select now()::text from t where id = $1";
        let first = values_with(&this, stamped, &[], vec![int(1)]).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        assert_ne!(values_with(&this, stamped, &[], vec![int(1)]).await, first);
        assert_eq!(optimized_once(&this, stamped), Some(false));
    }

    /// A kept plan optimized once keeps its physical plans by parameter values (its
    /// tables are small): run again with the same values, it takes the one made then
    /// (a join collects its build side again, a top-k sort starts empty), other values
    /// get another, and a commit makes the next Parse plan anew.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn kept_physical_plans_run_again_with_their_values() {
        let (_dir, this, other) = two_sessions().await;
        // One file per row.
        for (id, name, tag) in [(1, "a", "x"), (2, "b", "y"), (3, "c", "z"), (4, "d", "w")] {
            run(
                &this,
                &format!(
                    "{}; {}",
                    if id == 1 {
                        "create table t (id int, name text); create table u (id int, tag text)"
                    } else {
                        "select 1"
                    },
                    format_args!(
                        "insert into t values ({id}, '{name}'); insert into u values ({id}, '{tag}')"
                    )
                ),
            )
            .await;
        }
        let made = |session: &Session| session.plans.lock().expect("plans").physical_made;
        let int = |v: i32| ScalarValue::Int32(Some(v));
        let top = "select t.name || u.tag from t join u on t.id = u.id \
                   where t.id >= $1 order by t.name desc limit 2";
        for _ in 0..3 {
            assert_eq!(
                values_with(&this, top, &[], vec![int(1)]).await,
                ["dw", "cz"]
            );
        }
        assert_eq!(made(&this), 1, "one physical plan for the three runs");
        assert_eq!(
            values_with(&this, top, &[], vec![int(4)]).await,
            ["dw"],
            "other values, another plan"
        );
        assert_eq!(
            values_with(&this, top, &[], vec![int(1)]).await,
            ["dw", "cz"]
        );
        assert_eq!(made(&this), 2);

        // Another session's commit: the next Parse plans anew, and sees it.
        run(
            &other,
            "insert into t values (5, 'e'); insert into u values (5, 'v')",
        )
        .await;
        assert_eq!(
            values_with(&this, top, &[], vec![int(1)]).await,
            ["ev", "dw"]
        );
        assert_eq!(made(&this), 3);
        // Kept without dynamic filters: DataFusion resets a join's or a top-k sort's at
        // each execution, but not the scan's copy of it (see `reset_plan_states`).
        let kept = this.plans.lock().expect("plans").get(top).expect("kept");
        let physical = kept.physical.lock().expect("physical");
        let (_, plan) = physical.back().expect("a physical plan");
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        assert!(shown.contains("TopK"), "{shown}");
        assert!(!shown.contains("DynamicFilter"), "{shown}");
        // A few kilobytes: in one partition.
        assert!(!shown.contains("RepartitionExec"), "{shown}");
    }

    /// A scan of small files keeps only the files whose exact bounds (integers) a
    /// filter can match, when it is planned. A file whose bounds are unknown (all its
    /// `k` null: deltalake 1.1 gives no null counts, as it reads them as the column's
    /// type) and files whose bounds are estimates (text) are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_scans_prune_files_when_planned() {
        let (_dir, this, _other) = two_sessions().await;
        run(&this, "create table t (k int, v text)").await;
        // One file per row.
        for row in ["(1, 'a')", "(2, 'b')", "(null, 'c')", "(4, null)"] {
            run(&this, &format!("insert into t values {row}")).await;
        }
        // Files in the scan: named in a Parquet scan, one batch each (of one row)
        // in a scan of decoded files.
        let files = |plan: Vec<String>| {
            let scan = plan
                .iter()
                .find(|line| line.contains("DataSourceExec"))
                .expect("a scan")
                .clone();
            match scan.split_once("partition_sizes=[") {
                Some((_, sizes)) => sizes
                    .split(']')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("one partition's size"),
                None => scan.matches(".parquet").count(),
            }
        };
        let this = &this;
        let explained = |filter: &str| {
            let sql = format!("explain select v from t where {filter}");
            async move { files(values(this, &sql).await) }
        };
        assert_eq!(explained("k = 2").await, 2, "2 and the unknown");
        assert_eq!(explained("k > 1").await, 3, "2, 4 and the unknown");
        assert_eq!(explained("k > 9").await, 1, "the unknown");
        assert_eq!(explained("k is null").await, 4, "no null counts");
        assert_eq!(explained("v = 'b'").await, 4, "text bounds are estimates");
        assert_eq!(values(this, "select v from t where k = 2").await, ["b"]);
        assert_eq!(values(this, "select v from t where k is null").await, ["c"]);
        assert_eq!(
            values(this, "select k::text from t where v is null").await,
            ["4"]
        );
        assert_eq!(
            values(this, "select v from t where k > 1 order by v nulls first").await,
            ["", "b"]
        );
    }

    /// Small files read again come from the engine's cache of decoded columns: the
    /// same answers from a scan in memory, a column added after a file was written
    /// null in that file's rows, and with a cache of no bytes, Parquet scans.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_files_read_again_come_from_memory() {
        let (_dir, this, _other) = two_sessions().await;
        let decoded = this.engine.decoded_files().expect("a cache by default");
        run(&this, "create table t (k int, v text)").await;
        run(&this, "insert into t values (1, 'a'), (2, 'b')").await;
        run(&this, "insert into t values (3, null)").await;
        assert_eq!(decoded.bytes(), 0, "nothing read yet");
        let query = "select v from t where k > 1 order by k";
        assert_eq!(values(&this, query).await, ["b", ""]);
        let held = decoded.bytes();
        assert!(held > 0, "the columns read are kept");
        assert_eq!(decoded.reads(), 2, "each of the two files read once");
        assert_eq!(values(&this, query).await, ["b", ""]);
        assert_eq!(decoded.reads(), 2, "and not read again");
        assert_eq!(decoded.bytes(), held);
        let plan = values(&this, &format!("explain {query}")).await.join("\n");
        assert!(plan.contains("partition_sizes"), "{plan}");
        assert!(!plan.contains(".parquet"), "{plan}");

        run(&this, "alter table t add column w int").await;
        run(&this, "insert into t values (4, 'd', 40)").await;
        assert_eq!(
            values(
                &this,
                "select coalesce(w::text, '-') || v from t where k <> 2 order by k"
            )
            .await,
            ["-a", "", "40d"]
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let options = crate::engine::EngineOptions {
            small_file_cache: 0,
            ..Default::default()
        };
        let engine = Engine::open(dir.path().to_str().expect("utf-8"), options)
            .await
            .expect("open");
        assert!(engine.decoded_files().is_none());
        let session = engine.session().expect("session");
        run(&session, "create table t (k int, v text)").await;
        run(&session, "insert into t values (1, 'a'), (2, 'b')").await;
        let plan = values(&session, &format!("explain {query}"))
            .await
            .join("\n");
        assert!(plan.contains(".parquet"), "{plan}");
        assert_eq!(values(&session, query).await, ["b"]);
    }

    /// DELETE and UPDATE compare as a query does: an integer column with 2.5 as
    /// numbers (PostgreSQL's answer), not with 2.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deletes_and_updates_compare_numbers_as_queries_do() {
        let (_dir, this, _other) = two_sessions().await;
        run(
            &this,
            "create table t (qty int); insert into t values (2), (3)",
        )
        .await;
        run(&this, "delete from t where qty = 2.5").await;
        assert_eq!(
            values(&this, "select qty from t order by qty").await,
            ["2", "3"]
        );
        run(&this, "update t set qty = 9 where qty > 2.5").await;
        assert_eq!(
            values(&this, "select qty from t order by qty").await,
            ["2", "9"]
        );
        run(&this, "delete from t where qty < 2.5").await;
        assert_eq!(values(&this, "select qty from t order by qty").await, ["9"]);
    }

    /// A plan made at Parse serves the Execute of the same batch, and only that one:
    /// after the client's Sync, or after any other statement of the session ran, the
    /// statement is planned again (or takes a kept plan that still holds, see
    /// [`plans`]) and sees what was committed meanwhile.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plans_made_at_parse_serve_only_their_own_batch() {
        let (_dir, this, other) = two_sessions().await;
        run(&this, "create table t (id int); insert into t values (1)").await;

        // Within one batch: the plan of Parse time, before the other session's row.
        let prepared = this.prepare("select * from t", &[]).await.expect("prepare");
        run(&other, "insert into t values (2)").await;
        assert_eq!(rows(&this, &prepared).await, 1, "the batch's plan");
        // Executed again in the same batch: that plan was used once; planned anew.
        assert_eq!(rows(&this, &prepared).await, 2, "planned again");

        // Parse, Sync, then Execute (a named statement run later): planned again.
        let prepared = this.prepare("select * from t", &[]).await.expect("prepare");
        this.end_batch();
        run(&other, "insert into t values (3)").await;
        assert_eq!(rows(&this, &prepared).await, 3, "after Sync");

        // Another statement of this session ran between Parse and Execute.
        let prepared = this.prepare("select * from t", &[]).await.expect("prepare");
        run(&this, "insert into t values (4)").await;
        assert_eq!(rows(&this, &prepared).await, 4, "after a statement");
    }
}

/// The relations `statement` names, as written (`shop.orders`, `Orders`), folded as
/// PostgreSQL folds unquoted names.
fn written_relations(statement: &DFStatement) -> Vec<Vec<String>> {
    let mut written = Vec::new();
    if let DFStatement::Statement(statement) = statement {
        let _ = ast::visit_relations(statement.as_ref(), |name: &ObjectName| {
            let parts: Option<Vec<&ast::Ident>> = name.0.iter().map(|p| p.as_ident()).collect();
            if let Some(parts) = parts {
                written.push(parts.into_iter().map(normalize_ident).collect());
            }
            std::ops::ControlFlow::<()>::Continue(())
        });
    }
    written
}

/// DataFusion names a missing table by its resolved name (`tarn.public.orders`);
/// PostgreSQL by the name the statement wrote (`orders`).
fn undefined_relation(
    error: datafusion::error::DataFusionError,
    written: &[Vec<String>],
) -> SqlError {
    let resolved = match error.find_root() {
        datafusion::error::DataFusionError::Plan(msg) => msg
            .strip_prefix("table '")
            .and_then(|rest| rest.strip_suffix("' not found"))
            .map(|name| name.split('.').map(str::to_owned).collect::<Vec<_>>()),
        _ => None,
    };
    let found = resolved.and_then(|resolved| {
        written
            .iter()
            .find(|parts| resolved.ends_with(parts))
            .map(|parts| parts.join("."))
    });
    match found {
        Some(shown) => SqlError::UndefinedRelation(shown),
        None => SqlError::DataFusion(error),
    }
}
