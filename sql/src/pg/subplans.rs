//! Subqueries DataFusion leaves in a plan it cannot run, run as PostgreSQL runs them:
//! as a SubPlan, evaluated again for each distinct set of the outer values it reads.
//!
//! DataFusion decorrelates a subquery into a join where it can (equality correlation,
//! `EXISTS` and `IN` in a filter) and runs an uncorrelated scalar subquery once. What
//! is left fails at physical planning ("Physical plan does not support logical
//! expression ScalarSubquery"): a scalar subquery correlated by anything but
//! equality (`(SELECT count(*) FROM b WHERE b.x >= a.x)`), one with `ORDER BY ...
//! LIMIT 1`, and `IN (subquery)` or `EXISTS` used as a value (`SELECT x IN (SELECT
//! ...)`, `CASE WHEN EXISTS ...`, `WHERE a OR x IN (...)`).
//!
//! [`rewrite`] replaces each such expression of a projection, filter, aggregate,
//! window or sort by a column that a [`Subplans`] node below it adds to its input's
//! rows; [`SubplanExec`] computes that column batch by batch: for each row it reads
//! the outer columns the subquery refers to, puts their values into the subquery as
//! literals, and plans and runs it (through the session's planner, so the subquery's
//! own subqueries are handled the same way). Answers are kept per set of outer values
//! for the rest of the execution, as PostgreSQL's Memoize does, so a subquery runs
//! once per distinct key, not once per row. A scalar subquery with more than one row
//! fails with 21000 as in PostgreSQL; `IN` answers NULL where PostgreSQL does (no
//! match, and a NULL on either side).
//!
//! Each distinct key costs a planning of the subquery: a correlated subquery over
//! many distinct outer values is slow, as PostgreSQL's SubPlan is, and the answer is
//! to write it as a join. The node is Tarn's own and has no protobuf codec yet, so a
//! plan holding one cannot be sent to Ballista executors.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, new_empty_array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, DFSchemaRef, Result, ScalarValue, internal_err};
use datafusion::execution::context::SessionState;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, Projection, Subquery, UserDefinedLogicalNode,
    UserDefinedLogicalNodeCore,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::apply_expression_roots;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    ReplaceChildrenOptions, execute_stream,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};
use futures::StreamExt;

/// DataFusion's optimizer rules, those that decorrelate subqueries into joins made
/// tolerant: where one fails on a subquery (DataFusion 55's `scalar_subquery_to_join`
/// fails with "No field named t.column1" once `push_down_filter` has moved a
/// non-equality correlation below an aliased subquery's projection, as in `(SELECT
/// count(*) FROM (VALUES (1)) t(y) WHERE y > a.x)`), the plan is kept as it was, so
/// the subquery runs as a SubPlan instead of failing the query. Errors of the other
/// rules still stop planning (`optimizer.skip_failed_rules` would hide them all).
pub(crate) fn optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    datafusion::optimizer::Optimizer::new()
        .rules
        .into_iter()
        .map(|rule| match rule.name() {
            "decorrelate_predicate_subquery"
            | "scalar_subquery_to_join"
            | "decorrelate_lateral_join" => {
                Arc::new(Tolerant(rule)) as Arc<dyn OptimizerRule + Send + Sync>
            }
            _ => rule,
        })
        .collect()
}

/// Refuses a lateral query whose only outer references are inside its subqueries
/// (`LEFT JOIN LATERAL (SELECT * FROM b WHERE b.v = (SELECT max(v) FROM b b2 WHERE
/// b2.k = a.k)) l`): DataFusion 55 takes such a query for an uncorrelated one (it
/// marks a lateral query by its own references), and the reference to `a.k` then
/// fails or, once its filter is moved below an alias (`FROM a AS c`), reads the
/// query's own column of the same name and answers wrongly. 0A000, naming the column.
#[derive(Debug, Default)]
struct LateralReads;

/// [`LateralReads`], to run after DataFusion's analyzer rules.
pub(crate) fn lateral_reads_rule() -> Arc<dyn datafusion::optimizer::AnalyzerRule + Send + Sync> {
    Arc::new(LateralReads)
}

impl datafusion::optimizer::AnalyzerRule for LateralReads {
    fn name(&self) -> &str {
        "tarn_lateral_reads"
    }

    fn analyze(
        &self,
        plan: LogicalPlan,
        _config: &datafusion::config::ConfigOptions,
    ) -> Result<LogicalPlan> {
        let mut refused = None;
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::Join(join) = node
                && !matches!(unaliased(&join.right), LogicalPlan::Subquery(_))
                && let Some(column) = reads_outside(&join.right, &mut Vec::new())
                && join.left.schema().has_column(&column)
            {
                refused = Some(column);
                return Ok(TreeNodeRecursion::Stop);
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        match refused {
            Some(column) => datafusion::common::not_impl_err!(
                "a subquery inside a LATERAL query reading {column} of the query before it, \
                 where the LATERAL query itself reads none of its columns"
            ),
            None => Ok(plan),
        }
    }
}

/// `plan` without the aliases around it.
fn unaliased(plan: &LogicalPlan) -> &LogicalPlan {
    match plan {
        LogicalPlan::SubqueryAlias(alias) => unaliased(&alias.input),
        other => other,
    }
}

/// The first column that `plan` or a subquery in it reads as an outer reference and
/// that no query inside `plan` provides: `around` holds the rows of the queries around
/// the subquery being looked at, within `plan`.
fn reads_outside(plan: &LogicalPlan, around: &mut Vec<DFSchemaRef>) -> Option<Column> {
    let mut found = None;
    let _ = plan.apply_expressions(|e| {
        e.apply(|e| {
            match e {
                Expr::OuterReferenceColumn(_, column)
                    if !around.iter().any(|s| s.has_column(column)) =>
                {
                    found = Some(column.clone());
                }
                Expr::ScalarSubquery(sq)
                | Expr::Exists(datafusion::logical_expr::expr::Exists { subquery: sq, .. })
                | Expr::InSubquery(datafusion::logical_expr::expr::InSubquery {
                    subquery: sq,
                    ..
                }) => {
                    let added = plan.inputs().len();
                    around.extend(plan.inputs().iter().map(|i| Arc::clone(i.schema())));
                    found = reads_outside(&sq.subquery, around);
                    around.truncate(around.len() - added);
                }
                _ => {}
            }
            Ok(stop_if(found.is_some()))
        })
    });
    if found.is_some() {
        return found;
    }
    match plan {
        // A lateral query inside reads the rows before it too.
        LogicalPlan::Join(join) if matches!(unaliased(&join.right), LogicalPlan::Subquery(_)) => {
            reads_outside(&join.left, around).or_else(|| {
                around.push(Arc::clone(join.left.schema()));
                let found = reads_outside(&join.right, around);
                around.pop();
                found
            })
        }
        _ => plan
            .inputs()
            .into_iter()
            .find_map(|input| reads_outside(input, around)),
    }
}

/// A decorrelation rule whose failure on a plan node leaves the node as it was.
#[derive(Debug)]
struct Tolerant(Arc<dyn OptimizerRule + Send + Sync>);

impl OptimizerRule for Tolerant {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.0.apply_order()
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        // The rules rewrite only nodes holding a subquery (as an expression, or a
        // lateral join's); others go through without the copy.
        let holds_subquery = matches!(plan, LogicalPlan::Join(_))
            || plan
                .apply_expressions(|e| {
                    e.apply(|e| {
                        Ok(match e {
                            Expr::ScalarSubquery(_)
                            | Expr::Exists(_)
                            | Expr::InSubquery(_)
                            | Expr::SetComparison(_) => TreeNodeRecursion::Stop,
                            _ => TreeNodeRecursion::Continue,
                        })
                    })
                })
                .is_ok_and(|r| r == TreeNodeRecursion::Stop);
        if !holds_subquery {
            return self.0.rewrite(plan, config);
        }
        // The rule consumes the node; its inputs are shared, so the copy is shallow.
        let kept = plan.clone();
        let level = plan
            .inputs()
            .first()
            .map(|input| Arc::clone(input.schema()));
        match self.0.rewrite(plan, config) {
            Ok(rewritten)
                if rewritten.transformed
                    && level.is_some_and(|level| dangles(&rewritten.data, &level)) =>
            {
                tracing::debug!(rule = self.0.name(), "subquery left for a SubPlan");
                Ok(Transformed::no(kept))
            }
            Ok(rewritten) => Ok(rewritten),
            Err(e) => {
                tracing::debug!(rule = self.0.name(), error = %e, "subquery left for a SubPlan");
                Ok(Transformed::no(kept))
            }
        }
    }
}

/// Whether `plan`, a node a decorrelation rule rewrote, still refers as an outer
/// reference to a column of `level`, the rows the node's subqueries were correlated
/// with: the rule joined the subquery without seeing that reference (DataFusion 55
/// misses one inside a derived table of the subquery, `(SELECT string_agg(...) FROM
/// unnest(generate_series(1, t.n)) u(x))`), and the plan cannot run. References to
/// queries further out are the enclosing subquery's and stay.
fn dangles(plan: &LogicalPlan, level: &DFSchema) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::OuterReferenceColumn(_, column) = e
                    && level.has_column(column)
                {
                    found = true;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    found
}

/// Kept answers per subquery before they are dropped and computed again: bounds the
/// memory of a subquery over many distinct outer values.
const ANSWERS_KEPT: usize = 16_384;

/// Whether `plan` may hold a subquery DataFusion cannot run (see the module doc):
/// [`rewrite`] finds out which.
pub(crate) fn needed(plan: &LogicalPlan) -> bool {
    holds_expression(plan, &|e| match e {
        Expr::ScalarSubquery(sq) => !sq.outer_ref_columns.is_empty() || reads_outer(&sq.subquery),
        Expr::Exists(_) | Expr::InSubquery(_) => true,
        _ => false,
    })
}

/// Whether `plan` or a subquery in it reads an outer column.
fn reads_outer(plan: &LogicalPlan) -> bool {
    holds_expression(plan, &|e| matches!(e, Expr::OuterReferenceColumn(..)))
}

/// Whether an expression of `plan` (or of a subquery in it), or one inside it, is one
/// `wanted` says yes to.
fn holds_expression(plan: &LogicalPlan, wanted: &dyn Fn(&Expr) -> bool) -> bool {
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            found = e.exists(|e| Ok(wanted(e)))?;
            Ok(stop_if(found))
        })?;
        Ok(stop_if(found))
    });
    found
}

fn stop_if(found: bool) -> TreeNodeRecursion {
    if found {
        TreeNodeRecursion::Stop
    } else {
        TreeNodeRecursion::Continue
    }
}

/// A subquery expression DataFusion's physical planner refuses, in a node over
/// `input`: a scalar subquery that reads `input`'s rows (DataFusion runs the others
/// itself, but takes one whose only outer references are in a subquery of its own
/// for uncorrelated), `EXISTS` and `IN` (which it runs only as joins, and which are
/// left only where they could not become one).
fn left_over(expr: &Expr, input: Option<&DFSchema>) -> bool {
    match expr {
        Expr::ScalarSubquery(sq) => correlated(sq, input),
        Expr::Exists(_) | Expr::InSubquery(_) => true,
        _ => false,
    }
}

fn correlated(sq: &Subquery, input: Option<&DFSchema>) -> bool {
    !sq.outer_ref_columns.is_empty()
        || input.is_some_and(|input| !outer_columns(&sq.subquery, input).is_empty())
}

/// `plan` with each subquery DataFusion cannot run computed by a [`Subplans`] node
/// (see the module doc). Subqueries inside them are rewritten when they are planned
/// for their outer values; those inside uncorrelated scalar subqueries, which
/// DataFusion plans itself, are rewritten here.
pub(crate) fn rewrite(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut names = 0;
    rewrite_numbered(plan, &mut names)
}

fn rewrite_numbered(plan: LogicalPlan, names: &mut usize) -> Result<LogicalPlan> {
    plan.transform_up(|node| {
        let input = node.inputs().first().map(|i| Arc::clone(i.schema()));
        let node = node
            .map_expressions(|e| {
                e.transform_down(|e| match e {
                    Expr::ScalarSubquery(sq)
                        if !correlated(&sq, input.as_deref()) && needed(&sq.subquery) =>
                    {
                        let inner = rewrite_numbered(Arc::unwrap_or_clone(sq.subquery), names)?;
                        Ok(Transformed::new(
                            Expr::ScalarSubquery(Subquery {
                                subquery: Arc::new(inner),
                                ..sq
                            }),
                            true,
                            TreeNodeRecursion::Jump,
                        ))
                    }
                    other => Ok(Transformed::no(other)),
                })
            })?
            .data;
        computed_below(node, names)
    })
    .map(|t| t.data)
}

/// `node` with its left-over subqueries read from columns a [`Subplans`] node adds
/// to its input, under a projection that gives back `node`'s own columns.
fn computed_below(node: LogicalPlan, names: &mut usize) -> Result<Transformed<LogicalPlan>> {
    let single_input = matches!(
        node,
        LogicalPlan::Projection(_)
            | LogicalPlan::Filter(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Sort(_)
    );
    let Some(input) = node.inputs().first().map(|i| (*i).clone()) else {
        return Ok(Transformed::no(node));
    };
    let mut any = false;
    node.apply_expressions(|e| {
        any = e.exists(|e| Ok(left_over(e, Some(input.schema()))))?;
        Ok(stop_if(any))
    })?;
    if !single_input || !any {
        return Ok(Transformed::no(node));
    }
    let mut taker = Taker {
        input: input.schema(),
        specs: Vec::new(),
        names,
    };
    let exprs = node
        .expressions()
        .into_iter()
        .map(|e| taker.take(e, None))
        .collect::<Result<Vec<_>>>()?;
    let specs = taker.specs;
    let below = Subplans::new(input, specs)?;
    let input_width = below.input.schema().fields().len();
    let added = below.specs.len();
    let original = Arc::clone(node.schema());
    let computed = node.with_new_exprs(
        exprs,
        vec![LogicalPlan::Extension(Extension {
            node: Arc::new(below),
        })],
    )?;
    // Nodes that pass their input's columns on (filter, sort, window) now pass the
    // added ones too, right after the input's own; the others keep their width.
    let passes_added = computed.schema().fields().len() != original.fields().len();
    let columns = original
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let at = if passes_added && i >= input_width {
                i + added
            } else {
                i
            };
            let (q, f) = computed.schema().qualified_field(at);
            let column = Expr::Column(Column::new(q.cloned(), f.name()));
            if q == qualifier && f.name() == field.name() {
                column
            } else {
                column.alias_qualified(qualifier.cloned(), field.name())
            }
        })
        .collect();
    let projection = Projection::try_new(columns, Arc::new(computed))?;
    Ok(Transformed::yes(LogicalPlan::Projection(projection)))
}

/// Takes the left-over subqueries out of a node's expressions, as [`Spec`]s.
struct Taker<'a> {
    input: &'a DFSchemaRef,
    specs: Vec<Spec>,
    names: &'a mut usize,
}

impl Taker<'_> {
    /// `expr` with each left-over subquery replaced by the column that will hold its
    /// answer. `guard` is when the value is used: a subquery in a CASE branch is run
    /// only for the rows that take the branch, as PostgreSQL runs it (for the others
    /// it may fail, or cost a planning each, for nothing).
    fn take(&mut self, expr: Expr, guard: Option<&Expr>) -> Result<Expr> {
        if left_over(&expr, Some(self.input)) {
            return self.spec(expr, guard);
        }
        match expr {
            Expr::Case(case) => {
                let operand = match case.expr {
                    Some(operand) => Some(Box::new(self.take(*operand, guard)?)),
                    None => None,
                };
                // The rows that reach a WHEN are those for which no WHEN before it
                // holds; its THEN, those for which it holds too.
                let mut before = Vec::new();
                let mut pairs = Vec::with_capacity(case.when_then_expr.len());
                for (when, then) in case.when_then_expr {
                    // A guard may read the answer of a subquery in the operand or a
                    // WHEN: those are taken (and run) first.
                    let when = self.take(*when, all_of(guard, &before).as_ref())?;
                    let holds = match &operand {
                        Some(operand) => operand.as_ref().clone().eq(when.clone()),
                        None => when.clone(),
                    };
                    let mut taken = before.clone();
                    taken.push(holds.clone().is_true());
                    let then = self.take(*then, all_of(guard, &taken).as_ref())?;
                    before.push(holds.is_not_true());
                    pairs.push((Box::new(when), Box::new(then)));
                }
                let else_expr = match case.else_expr {
                    Some(e) => Some(Box::new(self.take(*e, all_of(guard, &before).as_ref())?)),
                    None => None,
                };
                Ok(Expr::Case(datafusion::logical_expr::expr::Case {
                    expr: operand,
                    when_then_expr: pairs,
                    else_expr,
                }))
            }
            other => other
                .map_children(|child| self.take(child, guard).map(Transformed::yes))
                .map(|t| t.data),
        }
    }

    /// The column for the left-over subquery `expr`, whose [`Spec`] it adds.
    fn spec(&mut self, expr: Expr, guard: Option<&Expr>) -> Result<Expr> {
        let name = format!("__subplan_{}", self.names);
        *self.names += 1;
        let (kind, subquery) = match expr {
            Expr::ScalarSubquery(sq) => (Kind::Scalar, sq),
            Expr::Exists(exists) => (
                Kind::Exists {
                    negated: exists.negated,
                },
                exists.subquery,
            ),
            Expr::InSubquery(is_in) => (
                Kind::In {
                    value: is_in.expr,
                    negated: is_in.negated,
                },
                is_in.subquery,
            ),
            other => return internal_err!("not a subquery: {other}"),
        };
        let guard = guard.cloned();
        self.specs.push(Spec {
            name: name.clone(),
            kind,
            keys: outer_columns(&subquery.subquery, self.input),
            subquery: subquery.subquery,
            guard,
        });
        Ok(Expr::Column(Column::from_name(name)))
    }
}

/// `guard` and each of `conditions`, all holding; `None` for always.
fn all_of(guard: Option<&Expr>, conditions: &[Expr]) -> Option<Expr> {
    guard
        .cloned()
        .into_iter()
        .chain(conditions.iter().cloned())
        .reduce(Expr::and)
}

/// The columns of `input` that `subquery` (or a subquery inside it) reads as outer
/// references, each once, in the order first read.
fn outer_columns(subquery: &LogicalPlan, input: &DFSchema) -> Vec<Column> {
    let mut columns: Vec<Column> = Vec::new();
    let _ = subquery.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            e.apply(|e| {
                if let Expr::OuterReferenceColumn(_, column) = e
                    && input.has_column(column)
                    && !columns.contains(column)
                {
                    columns.push(column.clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    });
    columns
}

/// What a left-over subquery expression answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    /// Its one value, NULL for no row; more than one row is an error.
    Scalar,
    /// Whether it has a row.
    Exists { negated: bool },
    /// Whether `value` is among its values, with SQL's NULLs.
    In { value: Box<Expr>, negated: bool },
}

/// One subquery a [`Subplans`] node computes, into the column `name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Spec {
    name: String,
    kind: Kind,
    subquery: Arc<LogicalPlan>,
    /// The input's columns the subquery reads, whose values it is run for.
    keys: Vec<Column>,
    /// When its answer is used (a CASE branch's condition); NULL is given, without
    /// running it, for the other rows. `None`: always. It reads the input's columns
    /// and those of the subqueries before it.
    guard: Option<Expr>,
}

impl Spec {
    fn data_type(&self) -> DataType {
        match self.kind {
            Kind::Scalar => self.subquery.schema().field(0).data_type().clone(),
            Kind::Exists { .. } | Kind::In { .. } => DataType::Boolean,
        }
    }
}

/// Its input's rows, each with one more column per subquery: the subquery's answer
/// for the outer values in that row.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Subplans {
    input: LogicalPlan,
    specs: Vec<Spec>,
    schema: DFSchemaRef,
}

impl Subplans {
    fn new(input: LogicalPlan, specs: Vec<Spec>) -> Result<Self> {
        let added = specs
            .iter()
            .map(|s| Field::new(&s.name, s.data_type(), true))
            .collect::<Vec<_>>();
        let added = DFSchema::from_unqualified_fields(added.into(), HashMap::new())?;
        let schema = Arc::new(input.schema().join(&added)?);
        Ok(Self {
            input,
            specs,
            schema,
        })
    }
}

impl PartialOrd for Subplans {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        // Plans are compared for equality only; DataFusion asks for an order of
        // extension nodes but has none to give for subquery plans either.
        (self == other).then_some(std::cmp::Ordering::Equal)
    }
}

impl UserDefinedLogicalNodeCore for Subplans {
    fn name(&self) -> &str {
        "Subplans"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    /// For each subquery in order: its outer columns, the value `IN` compares, its
    /// guard.
    fn expressions(&self) -> Vec<Expr> {
        self.specs
            .iter()
            .flat_map(|s| {
                let value = match &s.kind {
                    Kind::In { value, .. } => Some(value.as_ref().clone()),
                    _ => None,
                };
                s.keys
                    .iter()
                    .cloned()
                    .map(Expr::Column)
                    .chain(value)
                    .chain(s.guard.clone())
            })
            .collect()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "Subplans:")?;
        for spec in &self.specs {
            write!(f, " {} for (", spec.name)?;
            for (i, key) in spec.keys.iter().enumerate() {
                write!(f, "{}{key}", if i > 0 { ", " } else { "" })?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }

    fn with_exprs_and_inputs(
        &self,
        exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        let Some(input) = inputs.pop() else {
            return internal_err!("Subplans takes one input");
        };
        let mut exprs = exprs.into_iter();
        let mut specs = Vec::with_capacity(self.specs.len());
        for spec in &self.specs {
            let mut keys = Vec::with_capacity(spec.keys.len());
            for _ in &spec.keys {
                match exprs.next() {
                    Some(Expr::Column(c)) => keys.push(c),
                    other => return internal_err!("Subplans key must be a column, not {other:?}"),
                }
            }
            let kind = match &spec.kind {
                Kind::In { negated, .. } => match exprs.next() {
                    Some(value) => Kind::In {
                        value: Box::new(value),
                        negated: *negated,
                    },
                    None => return internal_err!("Subplans IN lost its value"),
                },
                other => other.clone(),
            };
            let guard = match &spec.guard {
                Some(_) => match exprs.next() {
                    Some(guard) => Some(guard),
                    None => return internal_err!("Subplans lost a guard"),
                },
                None => None,
            };
            specs.push(Spec {
                kind,
                keys,
                guard,
                ..spec.clone()
            });
        }
        Self::new(input, specs)
    }
}

/// Plans [`Subplans`] nodes as [`SubplanExec`].
#[derive(Debug)]
pub(crate) struct SubplanPlanner;

#[async_trait]
impl ExtensionPlanner for SubplanPlanner {
    async fn plan_extension(
        &self,
        planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        session: &dyn Session,
        planning_ctx: &PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<Subplans>() else {
            return Ok(None);
        };
        let (Some(logical), Some(physical)) = (logical_inputs.first(), physical_inputs.first())
        else {
            return internal_err!("Subplans takes one input");
        };
        let Some(state) = session.as_any().downcast_ref::<SessionState>() else {
            return internal_err!("Subplans needs a SessionState to plan its subqueries");
        };
        let physical_expr =
            |e: &Expr| planner.create_physical_expr(e, logical.schema(), session, planning_ctx);
        let specs = node
            .specs
            .iter()
            .map(|spec| {
                Ok(Running {
                    keys: spec
                        .keys
                        .iter()
                        .map(|c| physical_expr(&Expr::Column(c.clone())))
                        .collect::<Result<_>>()?,
                    value: match &spec.kind {
                        Kind::In { value, .. } => Some(physical_expr(value)?),
                        _ => None,
                    },
                    guard: spec
                        .guard
                        .as_ref()
                        .map(|g| {
                            planner.create_physical_expr(g, &node.schema, session, planning_ctx)
                        })
                        .transpose()?,
                    data_type: spec.data_type(),
                    spec: spec.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Arc::new(SubplanExec::new(
            Arc::clone(physical),
            Arc::new(specs),
            Arc::new(state.clone()),
            Arc::clone(node.schema.inner()),
        ))))
    }
}

/// A [`Spec`] with its physical expressions over the input's rows.
#[derive(Debug)]
struct Running {
    spec: Spec,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    value: Option<Arc<dyn PhysicalExpr>>,
    guard: Option<Arc<dyn PhysicalExpr>>,
    data_type: DataType,
}

/// Runs a [`Subplans`] node (see the module doc).
#[derive(Debug)]
pub(crate) struct SubplanExec {
    input: Arc<dyn ExecutionPlan>,
    specs: Arc<Vec<Running>>,
    /// The state the subqueries are planned with: the statement's.
    state: Arc<SessionState>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl SubplanExec {
    fn new(
        input: Arc<dyn ExecutionPlan>,
        specs: Arc<Vec<Running>>,
        state: Arc<SessionState>,
        schema: SchemaRef,
    ) -> Self {
        // The added columns come after the input's, so the input's partitioning
        // (by column index) still holds; its orderings are not carried over.
        let properties = PlanProperties::new(
            EquivalenceProperties::new(Arc::clone(&schema)),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Self {
            input,
            specs,
            state,
            schema,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for SubplanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SubplanExec:")?;
        for running in self.specs.iter() {
            write!(f, " {}", running.spec.name)?;
        }
        Ok(())
    }
}

impl ExecutionPlan for SubplanExec {
    fn name(&self) -> &str {
        "SubplanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        apply_expression_roots(
            self.specs
                .iter()
                .flat_map(|r| r.keys.iter().chain(&r.value).chain(&r.guard)),
            f,
        )
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(input) = children.pop() else {
            return internal_err!("SubplanExec takes one input");
        };
        Ok(Arc::new(Self::new(
            input,
            Arc::clone(&self.specs),
            Arc::clone(&self.state),
            Arc::clone(&self.schema),
        )))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(
                datafusion::physical_plan::ChildrenPropertiesMode::Recompute,
            ),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let run = Arc::new(Run {
            specs: Arc::clone(&self.specs),
            state: Arc::clone(&self.state),
            context,
            schema: Arc::clone(&self.schema),
        });
        let answers = vec![HashMap::new(); self.specs.len()];
        let stream =
            futures::stream::try_unfold((input, answers), move |(mut input, mut answers)| {
                let run = Arc::clone(&run);
                async move {
                    let Some(batch) = input.next().await.transpose()? else {
                        return Ok(None);
                    };
                    let batch = run.extend(batch, &mut answers).await?;
                    Ok(Some((batch, (input, answers))))
                }
            });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            stream,
        )))
    }
}

/// A subquery's answer for one set of outer values.
#[derive(Debug, Clone)]
enum Answer {
    Scalar(ScalarValue),
    Exists(bool),
    In(Arc<Members>),
}

/// The values of an `IN` subquery's rows.
#[derive(Debug, Default)]
struct Members {
    values: HashSet<ScalarValue>,
    any_null: bool,
}

impl Members {
    /// SQL's `value IN (rows)`: true if one equals it; NULL if none does and a NULL
    /// is on either side; false otherwise (always for no rows).
    fn holds(&self, value: &ScalarValue) -> Option<bool> {
        if self.values.is_empty() && !self.any_null {
            Some(false)
        } else if value.is_null() {
            None
        } else if self.values.contains(value) {
            Some(true)
        } else if self.any_null {
            None
        } else {
            Some(false)
        }
    }
}

/// Kept answers of one subquery, by outer values.
type Answers = HashMap<Vec<ScalarValue>, Answer>;

/// One execution of a [`SubplanExec`] partition.
struct Run {
    specs: Arc<Vec<Running>>,
    state: Arc<SessionState>,
    context: Arc<TaskContext>,
    schema: SchemaRef,
}

impl Run {
    /// `batch` with a column per subquery.
    async fn extend(&self, batch: RecordBatch, answers: &mut [Answers]) -> Result<RecordBatch> {
        let rows = batch.num_rows();
        let mut columns = batch.columns().to_vec();
        for (running, answers) in self.specs.iter().zip(answers.iter_mut()) {
            let keys = running
                .keys
                .iter()
                .map(|k| k.evaluate(&batch)?.into_array(rows))
                .collect::<Result<Vec<ArrayRef>>>()?;
            let values = match &running.value {
                Some(v) => Some(v.evaluate(&batch)?.into_array(rows)?),
                None => None,
            };
            let guard = match &running.guard {
                Some(g) => {
                    // The input's columns and the answers so far.
                    let known = Schema::new(self.schema.fields()[..columns.len()].to_vec());
                    let known = RecordBatch::try_new(Arc::new(known), columns.clone())?;
                    Some(g.evaluate(&known)?.into_array(rows)?)
                }
                None => None,
            };
            let guard = guard.as_ref().map(|g| g.as_boolean());
            let mut out = Vec::with_capacity(rows);
            for row in 0..rows {
                if guard.is_some_and(|g| g.is_null(row) || !g.value(row)) {
                    out.push(ScalarValue::try_from(&running.data_type)?);
                    continue;
                }
                let key = keys
                    .iter()
                    .map(|k| ScalarValue::try_from_array(k, row))
                    .collect::<Result<Vec<_>>>()?;
                let answer = match answers.get(&key) {
                    Some(answer) => answer.clone(),
                    None => {
                        let answer = self.answer(running, &key).await?;
                        if answers.len() >= ANSWERS_KEPT {
                            answers.clear();
                        }
                        answers.insert(key, answer.clone());
                        answer
                    }
                };
                out.push(match (answer, &running.spec.kind) {
                    (Answer::Scalar(value), _) => value,
                    (Answer::Exists(found), Kind::Exists { negated }) => {
                        ScalarValue::Boolean(Some(found != *negated))
                    }
                    (Answer::In(members), Kind::In { negated, .. }) => {
                        let Some(values) = &values else {
                            return internal_err!("IN subquery without its value");
                        };
                        let value = ScalarValue::try_from_array(values, row)?;
                        ScalarValue::Boolean(members.holds(&value).map(|b| b != *negated))
                    }
                    (answer, kind) => {
                        return internal_err!("subquery answer {answer:?} for {kind:?}");
                    }
                });
            }
            let column = match out.is_empty() {
                true => new_empty_array(&running.data_type),
                false => ScalarValue::iter_to_array(out)?,
            };
            // A list rebuilt from ScalarValues has a plain element field, where the
            // declared type's may differ (its metadata): the column keeps the type it
            // was declared with.
            columns.push(match column.data_type() == &running.data_type {
                true => column,
                false => datafusion::arrow::compute::cast(&column, &running.data_type)?,
            });
        }
        Ok(RecordBatch::try_new(Arc::clone(&self.schema), columns)?)
    }

    /// Plans and runs `running`'s subquery for the outer values `key`.
    async fn answer(&self, running: &Running, key: &[ScalarValue]) -> Result<Answer> {
        let spec = &running.spec;
        let plan = bind(&spec.subquery, &spec.keys, key)?;
        let physical = self.state.create_physical_plan(&plan).await?;
        let mut rows = execute_stream(physical, Arc::clone(&self.context))?;
        match &spec.kind {
            Kind::Scalar => {
                let mut value = None;
                while let Some(batch) = rows.next().await.transpose()? {
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    if value.is_some() || batch.num_rows() > 1 {
                        return Err(datafusion::error::DataFusionError::External(Box::new(
                            crate::SqlError::SubqueryRows,
                        )));
                    }
                    value = Some(ScalarValue::try_from_array(batch.column(0), 0)?);
                }
                Ok(Answer::Scalar(match value {
                    Some(value) => value,
                    None => ScalarValue::try_from(&running.data_type)?,
                }))
            }
            Kind::Exists { .. } => {
                while let Some(batch) = rows.next().await.transpose()? {
                    if batch.num_rows() > 0 {
                        return Ok(Answer::Exists(true));
                    }
                }
                Ok(Answer::Exists(false))
            }
            Kind::In { .. } => {
                let mut members = Members::default();
                while let Some(batch) = rows.next().await.transpose()? {
                    let column = batch.column(0);
                    for i in 0..batch.num_rows() {
                        let value = ScalarValue::try_from_array(column, i)?;
                        match value.is_null() {
                            true => members.any_null = true,
                            false => {
                                members.values.insert(value);
                            }
                        }
                    }
                }
                Ok(Answer::In(Arc::new(members)))
            }
        }
    }
}

/// `subquery` with the outer references to `columns` replaced by `values`, and
/// dropped from the outer references its own subqueries list. Each expression keeps
/// its name, so the plan's schemas stay as they were.
fn bind(subquery: &LogicalPlan, columns: &[Column], values: &[ScalarValue]) -> Result<LogicalPlan> {
    let bound = |column: &Column| columns.iter().position(|c| c == column);
    let unbound = |sq: &mut Subquery| {
        sq.outer_ref_columns
            .retain(|e| !matches!(e, Expr::OuterReferenceColumn(_, c) if bound(c).is_some()));
    };
    subquery
        .clone()
        .transform_down_with_subqueries(|node| {
            let names = NamePreserver::new(&node);
            node.map_expressions(|e| {
                let name = names.save(&e);
                let e = e.transform(|e| match e {
                    Expr::OuterReferenceColumn(field, column) => match bound(&column) {
                        Some(i) => {
                            let value = match values[i].data_type() == *field.data_type() {
                                true => values[i].clone(),
                                false => values[i].cast_to(field.data_type())?,
                            };
                            Ok(Transformed::yes(Expr::Literal(value, None)))
                        }
                        None => Ok(Transformed::no(Expr::OuterReferenceColumn(field, column))),
                    },
                    Expr::ScalarSubquery(mut sq) => {
                        unbound(&mut sq);
                        Ok(Transformed::yes(Expr::ScalarSubquery(sq)))
                    }
                    Expr::Exists(mut exists) => {
                        unbound(&mut exists.subquery);
                        Ok(Transformed::yes(Expr::Exists(exists)))
                    }
                    Expr::InSubquery(mut is_in) => {
                        unbound(&mut is_in.subquery);
                        Ok(Transformed::yes(Expr::InSubquery(is_in)))
                    }
                    other => Ok(Transformed::no(other)),
                })?;
                Ok(e.update_data(|e| name.restore(e)))
            })
        })
        .and_then(|bound_plan| plain_derived_tables(bound_plan.data, &bound))
        .map(|t| t.data)
}

/// `plan` with each derived table that read only the bound values (`FROM
/// unnest(f(outer.x))`, which DataFusion keeps as a Subquery node the physical planner
/// refuses) made a plain plan, in its subqueries' plans too (whose wrappers stay).
fn plain_derived_tables(
    plan: LogicalPlan,
    bound: &dyn Fn(&Column) -> Option<usize>,
) -> Result<Transformed<LogicalPlan>> {
    plan.transform_up(|node| {
        node.map_subqueries(|wrapper| match wrapper {
            LogicalPlan::Subquery(mut sq) => {
                let inner = plain_derived_tables(Arc::unwrap_or_clone(sq.subquery), bound)?;
                sq.subquery = Arc::new(inner.data);
                Ok(Transformed::new_transformed(
                    LogicalPlan::Subquery(sq),
                    inner.transformed,
                ))
            }
            other => Ok(Transformed::no(other)),
        })?
        .transform_data(|node| match node {
            LogicalPlan::Subquery(mut sq) => {
                sq.outer_ref_columns.retain(
                    |e| !matches!(e, Expr::OuterReferenceColumn(_, c) if bound(c).is_some()),
                );
                match sq.outer_ref_columns.is_empty() {
                    true => Ok(Transformed::yes(Arc::unwrap_or_clone(sq.subquery))),
                    false => Ok(Transformed::no(LogicalPlan::Subquery(sq))),
                }
            }
            other => Ok(Transformed::no(other)),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_answers_with_sql_nulls() {
        let of = |values: &[Option<i32>]| Members {
            values: values
                .iter()
                .flatten()
                .map(|v| ScalarValue::Int32(Some(*v)))
                .collect(),
            any_null: values.iter().any(Option::is_none),
        };
        let one = ScalarValue::Int32(Some(1));
        let null = ScalarValue::Int32(None);
        // PostgreSQL 15: select 1 in (select 1 where false) -> f, null in (...) -> f
        assert_eq!(of(&[]).holds(&one), Some(false));
        assert_eq!(of(&[]).holds(&null), Some(false));
        // select 1 in (values (1), (null)) -> t; 2 in (...) -> null; null in (1) -> null
        assert_eq!(of(&[Some(1), None]).holds(&one), Some(true));
        assert_eq!(
            of(&[Some(1), None]).holds(&ScalarValue::Int32(Some(2))),
            None
        );
        assert_eq!(of(&[Some(1)]).holds(&null), None);
        assert_eq!(of(&[Some(2)]).holds(&one), Some(false));
    }
}
