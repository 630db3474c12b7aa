//! Plans of queries a session keeps for the next Parse of the same text.
//!
//! Drivers send Parse, Bind and Execute for every statement (pgbench, psycopg 3,
//! node-postgres, pgjdbc below its prepare threshold), mostly with a few texts again
//! and again. Parsing, planning and describing such a query was a fifth of a short
//! query's CPU (profile of `bench/short.sh`: parse 7%, plan 11%, describe 3%). A
//! session keeps what Parse made of its last query texts (the logical plan before
//! optimization, the parameter types and the description) and a later Parse of the
//! same text with the same declared parameter types takes it, unless something the
//! plan was made from changed:
//!
//! - the session's settings (`search_path`, the user, what `current_setting` reads)
//!   or the schema unqualified names resolve in;
//! - the catalog's listing: a table, view or schema created, dropped or replaced
//!   anywhere (by this server or another) plans every query again;
//! - a table the plan scans: each must resolve to the very provider the plan holds.
//!   The catalog makes one provider per Delta table version, so a commit by anyone
//!   makes the next Parse plan again and see it. Views, external tables and catalog
//!   tables get a new provider at each resolution: queries of them are always planned
//!   again.
//!
//! A kept plan whose expressions are all immutable (no `now()`, `random()` or
//! `current_setting`) and whose parameters all have types is also optimized once, at
//! its first execution, with its parameters still placeholders; each execution then
//! puts its values into that plan and only plans it physically (optimization was a
//! tenth of a short query's CPU). Other kept plans are optimized at each execution,
//! which evaluates `now()` then. DataFusion's optimizer rewrites a plan into an
//! equivalent one for any parameter values; what it can only do with a value in hand
//! (folding a comparison of constants, unwrapping a cast around a column compared
//! with a literal) DataFusion's physical planning and Parquet pruning still do with
//! the values. Not used in a failed transaction block, nor in one that changed the
//! catalog (whose names [`super::scope`] rewrites). A kept plan holds the snapshots of
//! the tables it read until it is replaced (the next Parse of its text after a change),
//! pushed out by newer texts, cleared by `DISCARD`, or its session ends.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{ParamValues, Result, ScalarValue};
use datafusion::datasource::source_as_provider;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{Expr, LogicalPlan, Volatility};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::prelude::SessionContext;

use super::Prepared;
use crate::settings::Settings;
use tarn_catalog::table::DataSize;

/// How many query texts a session keeps plans for; the oldest goes first.
const KEPT: usize = 64;

/// Texts longer than this are planned each time, so the memory kept stays small.
const LONGEST: usize = 16 * 1024;

/// How many physical plans (for as many sets of parameter values) a kept plan keeps.
const PHYSICAL_PER_TEXT: usize = 32;

/// The most bytes, and files, a query may scan for its physical plans to be kept.
const SMALL_SCAN: u64 = 64 << 20;
const SMALL_SCAN_FILES: usize = 64;

/// The most bytes a kept physical plan may scan to run in one partition.
const ONE_PARTITION: u64 = 4 << 20;

/// A session's kept plans, by query text.
#[derive(Debug, Default)]
pub(super) struct Plans {
    by_text: HashMap<String, Arc<Kept>>,
    /// Texts in the order they were kept, oldest first.
    order: std::collections::VecDeque<String>,
    /// How many Parses took a kept plan.
    pub(super) reused: u64,
    /// How many physical plans were made to be kept.
    pub(super) physical_made: u64,
}

/// What Parse made of a query, and what it was made from.
#[derive(Debug)]
pub(super) struct Kept {
    pub declared: Vec<Option<DataType>>,
    /// The statement, its parameter types and its description (no plan).
    pub prepared: Prepared,
    pub plan: LogicalPlan,
    pub made_under: Conditions,
    /// Each table the plan scans, as named there, with the provider it resolved to.
    pub tables: Vec<(TableReference, Arc<dyn TableProvider>)>,
    /// `plan` optimized with its parameters as placeholders, made at the first
    /// execution; `None` if it cannot be (see [`Kept::optimized`]).
    pub optimized: OnceLock<Option<Optimized>>,
    /// Physical plans of `optimized` for the values of its latest executions, newest
    /// last (see [`Kept::physical`]).
    pub physical: Mutex<VecDeque<(Vec<ScalarValue>, Arc<dyn ExecutionPlan>)>>,
    /// What the tables scanned hold, in all, if all are Delta tables; see
    /// [`Kept::keeps_physical`].
    pub scanned: OnceLock<Option<DataSize>>,
    /// The type of each parameter in `plan`, as an execution coerces its values to
    /// (found at the first execution: the walk over the plan was a fiftieth of a
    /// short query's CPU).
    pub parameter_types: OnceLock<Vec<Option<DataType>>>,
    /// The schema of its results as the client sees it (`Session::attributed`),
    /// found at the first execution.
    pub attributed: OnceLock<datafusion::arrow::datatypes::SchemaRef>,
}

/// A kept plan optimized once for all its executions.
#[derive(Debug, Clone)]
pub(super) struct Optimized {
    pub plan: LogicalPlan,
    /// The type of each parameter in `plan`: the values of an execution must have
    /// these, as the optimizer coerced the expressions around them for these.
    pub types: Vec<DataType>,
}

impl Optimized {
    /// `plan` with `values` for its parameters, or `None` if their types are not
    /// those it was optimized for.
    pub(super) fn with(&self, values: &[ScalarValue]) -> Option<LogicalPlan> {
        let same = values.len() == self.types.len()
            && values
                .iter()
                .zip(&self.types)
                .all(|(v, t)| v.data_type() == *t);
        same.then(|| {
            self.plan
                .clone()
                .with_param_values(ParamValues::from(values.to_vec()))
                .ok()
        })?
    }
}

impl Kept {
    /// `plan` after DataFusion's analyzer and optimizer under `ctx`'s state, its parameters
    /// still placeholders, each of the type its values are given in at execution:
    /// for a plan whose expressions are all immutable (see [`reoptimizable`]), else
    /// `None` (such a plan is optimized at each execution, with its values).
    pub(super) fn optimized(&self, ctx: &SessionContext) -> Option<Optimized> {
        self.optimized
            .get_or_init(|| {
                let inferred = super::parameter_types(&self.plan).ok()?;
                // As `run_planned` gives them: coerced to the type the plan infers, or
                // as the client's were decoded.
                let types: Vec<DataType> = (self.prepared.param_types().iter().enumerate())
                    .map(|(i, decoded)| {
                        inferred
                            .get(i)
                            .cloned()
                            .flatten()
                            .unwrap_or_else(|| decoded.clone())
                    })
                    .collect();
                let typed = typed_placeholders(&self.plan, &types).ok()?;
                if !reoptimizable(&typed) {
                    return None;
                }
                let plan = ctx.state().optimize(&typed).ok()?;
                Some(Optimized { plan, types })
            })
            .clone()
    }

    pub(super) fn new(
        declared: Vec<Option<DataType>>,
        prepared: Prepared,
        plan: LogicalPlan,
        made_under: Conditions,
        tables: Vec<(TableReference, Arc<dyn TableProvider>)>,
    ) -> Self {
        Self {
            declared,
            prepared,
            plan,
            made_under,
            tables,
            optimized: OnceLock::new(),
            physical: Mutex::new(VecDeque::new()),
            scanned: OnceLock::new(),
            parameter_types: OnceLock::new(),
            attributed: OnceLock::new(),
        }
    }

    /// Whether the physical plans of this plan are kept, by parameter values: if
    /// every table it scans is a Delta table version of at most [`SMALL_SCAN`] bytes
    /// in at most [`SMALL_SCAN_FILES`] files (and it scans one). Physical planning
    /// is most of a short query's CPU, and nothing against the time a large scan
    /// takes; a physical plan holds the list of the files it reads, so the memory
    /// kept stays small too.
    pub(super) fn keeps_physical(&self) -> bool {
        self.scanned()
            .is_some_and(|s| s.files <= SMALL_SCAN_FILES && s.bytes <= SMALL_SCAN)
    }

    /// Whether the plan is made to run in one partition: if what it scans is at most
    /// [`ONE_PARTITION`] bytes (see [`kept_physical_state`]).
    pub(super) fn runs_in_one_partition(&self) -> bool {
        self.scanned().is_some_and(|s| s.bytes <= ONE_PARTITION)
    }

    fn scanned(&self) -> Option<DataSize> {
        *self.scanned.get_or_init(|| {
            let mut all = DataSize { files: 0, bytes: 0 };
            for (_, provider) in &self.tables {
                let size = tarn_catalog::table::data_size(provider.as_ref())?;
                all.files += size.files;
                all.bytes += size.bytes;
            }
            (!self.tables.is_empty()).then_some(all)
        })
    }

    /// A physical plan made earlier of this plan's optimized form with `values`, ready
    /// to execute again (each node's execution state reset, as DataFusion does to run
    /// a recursive query's term again), if one is kept.
    pub(super) fn physical(&self, values: &[ScalarValue]) -> Option<Arc<dyn ExecutionPlan>> {
        let kept = self.physical.lock().unwrap_or_else(|e| e.into_inner());
        let (_, plan) = kept.iter().find(|(v, _)| v.as_slice() == values)?;
        reset_plan_states(Arc::clone(plan)).ok()
    }

    /// Keeps `plan` as the physical plan for `values`; the oldest goes beyond
    /// [`PHYSICAL_PER_TEXT`]. Only for a plan made without dynamic filters (see
    /// [`kept_physical_state`]) and never executed.
    pub(super) fn keep_physical(&self, values: Vec<ScalarValue>, plan: Arc<dyn ExecutionPlan>) {
        let mut kept = self.physical.lock().unwrap_or_else(|e| e.into_inner());
        kept.retain(|(v, _)| *v != values);
        kept.push_back((values, plan));
        while kept.len() > PHYSICAL_PER_TEXT {
            kept.pop_front();
        }
    }
}

/// `state` for a physical plan that is kept to execute again: planning no dynamic
/// filters, and with one partition if `one_partition`.
///
/// A dynamic filter is made by a join or a top-k sort at each execution and read by
/// the scan below it; DataFusion resets the join's or sort's at a new execution but
/// not the scan's copy, which would keep filtering with the previous execution's
/// values (`reset_plan_states` names that limit). A scan of a few megabytes takes a
/// thread a few milliseconds; splitting it and gathering the parts again cost more
/// (bench/short.sh, 4 clients: 2,524-2,638 tps in one partition, 2,038-2,340 in two).
pub(super) fn kept_physical_state(mut state: SessionState, one_partition: bool) -> SessionState {
    if one_partition {
        state.config_mut().options_mut().execution.target_partitions = 1;
    }
    let optimizer = &mut state.config_mut().options_mut().optimizer;
    optimizer.enable_dynamic_filter_pushdown = false;
    optimizer.enable_join_dynamic_filter_pushdown = false;
    optimizer.enable_topk_dynamic_filter_pushdown = false;
    optimizer.enable_aggregate_dynamic_filter_pushdown = false;
    state
}

/// An execution of a kept plan that is optimized once (see [`Kept::optimized`]),
/// with its parameter values.
pub(super) struct Reuse {
    pub kept: Arc<Kept>,
    pub optimized: Optimized,
    pub values: Vec<ScalarValue>,
    /// Whether the statement's plan already has `values` in it; if not, it gets them
    /// only when the kept plans cannot run them.
    pub substituted: bool,
}

/// A plan made before execution: at Parse, with what the session keeps of it.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    pub plan: LogicalPlan,
    pub kept: Option<Arc<Kept>>,
}

impl Planned {
    pub(super) fn new(plan: LogicalPlan) -> Self {
        Self { plan, kept: None }
    }
}

/// What a plan depends on besides the tables it scans.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Conditions {
    pub settings: Settings,
    pub default_schema: String,
    /// [`tarn_catalog::Lake::listing_version`].
    pub listing: (Option<Vec<u8>>, u64),
}

impl Plans {
    pub(super) fn get(&self, sql: &str) -> Option<Arc<Kept>> {
        self.by_text.get(sql).cloned()
    }

    /// Keeps `kept` for `sql`, in place of what was kept for it; `None` if the text is
    /// too long to keep.
    pub(super) fn keep(&mut self, sql: &str, kept: Kept) -> Option<Arc<Kept>> {
        if sql.len() > LONGEST {
            return None;
        }
        let kept = Arc::new(kept);
        if self
            .by_text
            .insert(sql.to_owned(), Arc::clone(&kept))
            .is_none()
        {
            self.order.push_back(sql.to_owned());
        }
        while self.order.len() > KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_text.remove(&oldest);
            }
        }
        Some(kept)
    }

    /// Forgets everything (`DISCARD ALL`, `DISCARD PLANS`).
    pub(super) fn clear(&mut self) {
        self.by_text.clear();
        self.order.clear();
    }
}

/// The tables `plan` scans (in subqueries too), as named there, with their
/// providers; `None` if a scan's source is not a provider (nothing to compare).
pub(super) fn scanned_tables(
    plan: &LogicalPlan,
) -> Option<Vec<(TableReference, Arc<dyn TableProvider>)>> {
    let mut tables = Vec::new();
    let mut comparable = true;
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            match source_as_provider(&scan.source) {
                Ok(provider) => tables.push((scan.table_name.clone(), provider)),
                Err(_) => comparable = false,
            }
        }
        Ok(TreeNodeRecursion::Continue)
    })
    .ok()?;
    comparable.then_some(tables)
}

/// Whether `a` and `b` are one provider.
pub(super) fn same_provider(a: &Arc<dyn TableProvider>, b: &Arc<dyn TableProvider>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// `plan` with each parameter `$n` of type `types[n - 1]`, where DataFusion left it
/// untyped (`LIMIT $1`, a parameter nothing compares) or typed it otherwise in one
/// place than in another, so that the optimizer plans for the values' own type.
fn typed_placeholders(plan: &LogicalPlan, types: &[DataType]) -> Result<LogicalPlan> {
    super::placeholders_typed(plan.clone(), |index, now| {
        types.get(index).filter(|t| now != Some(*t)).cloned()
    })
}

/// Whether `plan` (with its subqueries) can be optimized once for all its executions:
/// every function it calls is immutable (an optimized plan holds what `now()` or
/// `current_setting` returned when it was made), it reads no variables, each
/// parameter has a type (which the values given later have, see `params::coerce`),
/// and no `LIMIT` or `OFFSET` is a parameter: the optimizer plans a limit by its
/// value (none at all for `LIMIT 0`, a top-k sort for a small one), and DataFusion's
/// physical planning does not handle a `LIMIT 0` it left in place.
fn reoptimizable(plan: &LogicalPlan) -> bool {
    let mut ok = true;
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Limit(limit) = node {
            let is_parameter = |e: &Option<Box<Expr>>| {
                e.as_deref().is_some_and(|e| {
                    e.exists(|e| Ok(matches!(e, Expr::Placeholder(_))))
                        .unwrap_or(true)
                })
            };
            ok &= !is_parameter(&limit.skip) && !is_parameter(&limit.fetch);
        }
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                ok &= match e {
                    Expr::ScalarFunction(f) => {
                        f.func.signature().volatility == Volatility::Immutable
                    }
                    Expr::Placeholder(p) => p.field.is_some(),
                    Expr::ScalarVariable(..) => false,
                    _ => true,
                };
                Ok(if ok {
                    TreeNodeRecursion::Continue
                } else {
                    TreeNodeRecursion::Stop
                })
            })
        })?;
        Ok(if ok {
            TreeNodeRecursion::Continue
        } else {
            TreeNodeRecursion::Stop
        })
    });
    ok
}
