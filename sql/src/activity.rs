//! Who is connected and what each connection runs: `pg_stat_activity`, and
//! `pg_cancel_backend(pid)` / `pg_terminate_backend(pid)`, which Superset, Looker and
//! DBAs use to stop a runaway query from another connection.
//!
//! The server registers a backend when its connection runs its first statement (with
//! the process id it sent in BackendKeyData) and a [`BackendControl`] that cancels
//! the running statement as a CancelRequest would, or ends the connection. The
//! session reports each statement's start and end. Everything is per server process:
//! another server on the same warehouse has its own connections.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Int32Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{MemTable, Session as CatalogSession, TableProvider};
use datafusion::common::Result as DFResult;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{ColumnarValue, Expr, Volatility, create_udf};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;

/// What the server can do to one of its connections.
pub trait BackendControl: Send + Sync + std::fmt::Debug {
    /// Stops the running statement with 57014, as a CancelRequest does.
    fn cancel(&self);
    /// Ends the connection: its running statement is canceled and its next message
    /// is answered with FATAL 57P01, after which the server closes it.
    fn terminate(&self);
}

/// A connection, as `pg_stat_activity` shows it.
#[derive(Debug, Clone)]
pub struct BackendInfo {
    pub pid: i32,
    pub user: String,
    pub application_name: String,
    pub client_addr: Option<String>,
    pub client_port: Option<i32>,
}

#[derive(Debug)]
struct Backend {
    info: BackendInfo,
    backend_start: DateTime<Utc>,
    xact_start: Option<DateTime<Utc>>,
    query_start: Option<DateTime<Utc>>,
    state_change: DateTime<Utc>,
    state: &'static str,
    query: String,
    control: Arc<dyn BackendControl>,
}

/// The server's connections.
#[derive(Debug, Default)]
pub struct Activity {
    backends: Mutex<BTreeMap<i32, Backend>>,
}

/// Unregisters a backend when its session ends.
#[derive(Debug)]
pub struct Registration {
    activity: Arc<Activity>,
    pid: i32,
}

impl Registration {
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.activity.backends().remove(&self.pid);
    }
}

impl Activity {
    fn backends(&self) -> MutexGuard<'_, BTreeMap<i32, Backend>> {
        self.backends.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lists a connection until the returned registration is dropped.
    pub fn register(
        self: &Arc<Self>,
        info: BackendInfo,
        control: Arc<dyn BackendControl>,
    ) -> Registration {
        let now = Utc::now();
        let pid = info.pid;
        self.backends().insert(
            pid,
            Backend {
                info,
                backend_start: now,
                xact_start: None,
                query_start: None,
                state_change: now,
                state: "idle",
                query: String::new(),
                control,
            },
        );
        Registration {
            activity: Arc::clone(self),
            pid,
        }
    }

    /// A statement started on `pid`.
    pub(crate) fn started(&self, pid: i32, query: String, in_block: bool) {
        let now = Utc::now();
        if let Some(b) = self.backends().get_mut(&pid) {
            b.state = "active";
            b.query = query;
            b.query_start = Some(now);
            b.state_change = now;
            if !in_block || b.xact_start.is_none() {
                b.xact_start = Some(now);
            }
        }
    }

    /// A statement ended on `pid`; `block` is the transaction status after it.
    pub(crate) fn finished(&self, pid: i32, block: crate::session::TransactionState) {
        use crate::session::TransactionState;
        if let Some(b) = self.backends().get_mut(&pid) {
            b.state = match block {
                TransactionState::Idle => "idle",
                TransactionState::InBlock => "idle in transaction",
                TransactionState::Failed => "idle in transaction (aborted)",
            };
            if block == TransactionState::Idle {
                b.xact_start = None;
            }
            b.state_change = Utc::now();
        }
    }

    /// Cancels `pid`'s running statement; `false` if there is no such backend.
    pub fn cancel(&self, pid: i32) -> bool {
        let control = self.backends().get(&pid).map(|b| Arc::clone(&b.control));
        control.map(|c| c.cancel()).is_some()
    }

    /// Ends `pid`'s connection; `false` if there is no such backend.
    pub fn terminate(&self, pid: i32) -> bool {
        let control = self.backends().get(&pid).map(|b| Arc::clone(&b.control));
        control.map(|c| c.terminate()).is_some()
    }

    fn schema() -> SchemaRef {
        let ts = || DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
        Arc::new(Schema::new(vec![
            Field::new("datid", DataType::Int32, true),
            Field::new("datname", DataType::Utf8, true),
            Field::new("pid", DataType::Int32, true),
            Field::new("leader_pid", DataType::Int32, true),
            Field::new("usesysid", DataType::Int32, true),
            Field::new("usename", DataType::Utf8, true),
            Field::new("application_name", DataType::Utf8, true),
            Field::new("client_addr", DataType::Utf8, true),
            Field::new("client_hostname", DataType::Utf8, true),
            Field::new("client_port", DataType::Int32, true),
            Field::new("backend_start", ts(), true),
            Field::new("xact_start", ts(), true),
            Field::new("query_start", ts(), true),
            Field::new("state_change", ts(), true),
            Field::new("wait_event_type", DataType::Utf8, true),
            Field::new("wait_event", DataType::Utf8, true),
            Field::new("state", DataType::Utf8, true),
            Field::new("backend_xid", DataType::Utf8, true),
            Field::new("backend_xmin", DataType::Utf8, true),
            Field::new("query_id", DataType::Int64, true),
            Field::new("query", DataType::Utf8, true),
            Field::new("backend_type", DataType::Utf8, true),
        ]))
    }

    fn batch(&self, database: &str) -> DFResult<RecordBatch> {
        let backends = self.backends();
        let rows: Vec<&Backend> = backends.values().collect();
        let n = rows.len();
        let text = |f: &dyn Fn(&Backend) -> Option<String>| -> ArrayRef {
            Arc::new(rows.iter().map(|b| f(b)).collect::<StringArray>())
        };
        let int = |f: &dyn Fn(&Backend) -> Option<i32>| -> ArrayRef {
            Arc::new(rows.iter().map(|b| f(b)).collect::<Int32Array>())
        };
        let time = |f: &dyn Fn(&Backend) -> Option<DateTime<Utc>>| -> ArrayRef {
            Arc::new(
                rows.iter()
                    .map(|b| f(b).map(|t| t.timestamp_micros()))
                    .collect::<TimestampMicrosecondArray>()
                    .with_timezone("+00:00"),
            )
        };
        let nulls = |t: DataType| datafusion::arrow::array::new_null_array(&t, n);
        let columns: Vec<ArrayRef> = vec![
            int(&|_| Some(1)),
            text(&|_| Some(database.to_owned())),
            int(&|b| Some(b.info.pid)),
            nulls(DataType::Int32),
            int(&|_| Some(10)),
            text(&|b| Some(b.info.user.clone())),
            text(&|b| Some(b.info.application_name.clone())),
            text(&|b| b.info.client_addr.clone()),
            nulls(DataType::Utf8),
            int(&|b| b.info.client_port),
            time(&|b| Some(b.backend_start)),
            time(&|b| b.xact_start),
            time(&|b| b.query_start),
            time(&|b| Some(b.state_change)),
            text(&|b| (b.state == "idle").then(|| "Client".to_owned())),
            text(&|b| (b.state == "idle").then(|| "ClientRead".to_owned())),
            text(&|b| Some(b.state.to_owned())),
            nulls(DataType::Utf8),
            nulls(DataType::Utf8),
            nulls(DataType::Int64),
            text(&|b| Some(b.query.clone())),
            text(&|_| Some("client backend".to_owned())),
        ];
        Ok(RecordBatch::try_new(Self::schema(), columns)?)
    }
}

/// Marks a backend's statement finished when dropped (with the rows it streamed).
#[derive(Debug)]
pub struct Finished {
    activity: Arc<Activity>,
    pid: i32,
    block: crate::session::TransactionState,
}

impl Finished {
    pub(crate) fn new(
        activity: Arc<Activity>,
        pid: i32,
        block: crate::session::TransactionState,
    ) -> Self {
        Self {
            activity,
            pid,
            block,
        }
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.activity.finished(self.pid, self.block);
    }
}

/// `pg_catalog.pg_stat_activity`: the server's connections when the query runs.
#[derive(Debug)]
pub(crate) struct StatActivity {
    activity: Arc<Activity>,
    database: String,
}

impl StatActivity {
    pub(crate) fn new(activity: Arc<Activity>, database: &str) -> Self {
        Self {
            activity,
            database: database.to_owned(),
        }
    }
}

#[async_trait]
impl TableProvider for StatActivity {
    fn schema(&self) -> SchemaRef {
        Activity::schema()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        state: &dyn CatalogSession,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let batch = self.activity.batch(&self.database)?;
        MemTable::try_new(Activity::schema(), vec![vec![batch]])?
            .scan(state, projection, filters, limit)
            .await
    }
}

/// `pg_cancel_backend(pid)` and `pg_terminate_backend(pid)`: true when the server has
/// that backend (PostgreSQL also answers false, with a warning, for unknown pids).
pub(crate) fn install(ctx: &SessionContext, activity: &Arc<Activity>) {
    type Action = fn(&Activity, i32) -> bool;
    let actions: [(&str, Action); 2] = [
        ("pg_cancel_backend", Activity::cancel),
        ("pg_terminate_backend", Activity::terminate),
    ];
    for (name, action) in actions {
        let activity = Arc::clone(activity);
        // Any integer: clients write `pg_cancel_backend(12345)` (int8 to DataFusion).
        let signature = datafusion::logical_expr::Signature::uniform(
            1,
            vec![DataType::Int16, DataType::Int32, DataType::Int64],
            Volatility::Volatile,
        );
        let udf = datafusion::logical_expr::SimpleScalarUDF::new_with_signature(
            name,
            signature,
            DataType::Boolean,
            Arc::new(move |args: &[ColumnarValue]| {
                let pids = match &args[0] {
                    ColumnarValue::Array(a) => a.clone(),
                    ColumnarValue::Scalar(s) => s.to_array()?,
                };
                let pids = datafusion::arrow::compute::cast(&pids, &DataType::Int32)?;
                let pids = pids
                    .as_any()
                    .downcast_ref::<Int32Array>()
                    .cloned()
                    .unwrap_or_else(|| Int32Array::from(Vec::<i32>::new()));
                let done: BooleanArray = pids
                    .iter()
                    .map(|pid| pid.map(|p| action(&activity, p)))
                    .collect();
                Ok(ColumnarValue::Array(Arc::new(done)))
            }),
        );
        ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(udf));
    }
}

/// `pg_backend_pid()` for a session attached as backend `pid`.
pub(crate) fn backend_pid_udf(pid: i32) -> datafusion::logical_expr::ScalarUDF {
    create_udf(
        "pg_backend_pid",
        vec![],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(move |_| {
            Ok(ColumnarValue::Scalar(
                datafusion::scalar::ScalarValue::Int32(Some(pid)),
            ))
        }),
    )
}
