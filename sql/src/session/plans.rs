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
//! Optimization (which evaluates `now()`) and physical planning still happen at each
//! execution. Not used in a failed transaction block, nor in one that changed the
//! catalog (whose names [`super::scope`] rewrites). A kept plan holds the snapshots of
//! the tables it read until it is replaced (the next Parse of its text after a change),
//! pushed out by newer texts, cleared by `DISCARD`, or its session ends.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::source_as_provider;
use datafusion::logical_expr::LogicalPlan;

use super::Prepared;
use crate::settings::Settings;

/// How many query texts a session keeps plans for; the oldest goes first.
const KEPT: usize = 64;

/// Texts longer than this are planned each time, so the memory kept stays small.
const LONGEST: usize = 16 * 1024;

/// A session's kept plans, by query text.
#[derive(Debug, Default)]
pub(super) struct Plans {
    by_text: HashMap<String, Arc<Kept>>,
    /// Texts in the order they were kept, oldest first.
    order: std::collections::VecDeque<String>,
    /// How many Parses took a kept plan.
    pub(super) reused: u64,
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

    /// Keeps `kept` for `sql`, in place of what was kept for it.
    pub(super) fn keep(&mut self, sql: &str, kept: Kept) {
        if sql.len() > LONGEST {
            return;
        }
        if self
            .by_text
            .insert(sql.to_owned(), Arc::new(kept))
            .is_none()
        {
            self.order.push_back(sql.to_owned());
        }
        while self.order.len() > KEPT {
            if let Some(oldest) = self.order.pop_front() {
                self.by_text.remove(&oldest);
            }
        }
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
