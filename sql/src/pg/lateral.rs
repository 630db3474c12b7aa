//! Set-returning calls in FROM that read the rows before them, as PostgreSQL runs
//! them: `FROM orders o, jsonb_array_elements(o.items) AS item` and
//! `FROM t, unnest(t.tags) AS tag` (a function in FROM is implicitly LATERAL there).
//!
//! DataFusion plans such a call as a correlated subquery (an `Unnest` over outer
//! references, joined to the rows before it) but cannot run one ("Physical plan does
//! not support logical expression OuterReferenceColumn"). For a cross join whose
//! right side is only that (projections over an `Unnest` of lists computed from
//! one row of nothing but outer references), [`unnest_joins`] computes the lists on
//! the left side's rows instead and unnests them there, which keeps each left row
//! beside its elements: the join's meaning, with its schema unchanged; an inner join's
//! condition then filters those pairs. A left join `ON true` (`LEFT JOIN LATERAL
//! f(o.x) i ON true`) does the same and keeps a left row that has no elements once,
//! beside NULLs. Other lateral subqueries are left as
//! DataFusion plans them.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::NullHandling;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::{
    Expr, JoinType, LogicalPlan, LogicalPlanBuilder, Projection, SubqueryAlias,
};

/// `plan` with each cross join to a lateral unnest computed as an unnest of the
/// left side (see the module documentation).
pub(crate) fn unnest_joins(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut lateral = false;
    plan.apply_with_subqueries(|node| {
        lateral = matches!(node, LogicalPlan::Join(join) if unnest_of_outer_rows(join).is_some());
        Ok(if lateral {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    if !lateral {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|node| {
        let LogicalPlan::Join(join) = &node else {
            return Ok(Transformed::no(node));
        };
        let Some(right) = unnest_of_outer_rows(join) else {
            return Ok(Transformed::no(node));
        };
        let left_join = join.join_type == JoinType::Left;
        let unnested = unnest_left(&join.left, &right, left_join)?;
        // An inner join's condition filters the pairs (a left join's is `true`).
        let condition = join
            .on
            .iter()
            .map(|(l, r)| l.clone().eq(r.clone()))
            .chain(join.filter.clone())
            .reduce(Expr::and);
        Ok(Transformed::yes(match condition {
            Some(condition) if !left_join => LogicalPlanBuilder::from(unnested)
                .filter(condition)?
                .build()?,
            _ => unnested,
        }))
    })
    .map(|t| t.data)
}

/// The right side of a lateral unnest, taken apart.
struct LateralUnnest<'a> {
    alias: &'a SubqueryAlias,
    /// The projections above the `Unnest`, top first.
    outputs: Vec<&'a Projection>,
    /// None where the right side is one row of values, nothing unnested.
    unnest: Option<&'a datafusion::logical_expr::Unnest>,
    /// The projection that computes the lists, over one row of nothing.
    lists: &'a Projection,
}

fn unnest_of_outer_rows(join: &datafusion::logical_expr::Join) -> Option<LateralUnnest<'_>> {
    // A cross or inner join, or a left join `ON true`.
    let always = match &join.filter {
        None => true,
        Some(Expr::Literal(ScalarValue::Boolean(Some(true)), _)) => true,
        Some(_) => false,
    };
    let kind = match join.join_type {
        // Any condition, applied to the pairs afterwards.
        JoinType::Inner => true,
        JoinType::Left => join.on.is_empty() && always,
        _ => false,
    };
    if !kind {
        return None;
    }
    let LogicalPlan::SubqueryAlias(alias) = join.right.as_ref() else {
        return None;
    };
    let mut inner = alias.input.as_ref();
    if let LogicalPlan::Subquery(subquery) = inner {
        inner = subquery.subquery.as_ref();
    }
    let mut outputs = Vec::new();
    while let LogicalPlan::Projection(projection) = inner {
        outputs.push(projection);
        inner = projection.input.as_ref();
    }
    let (unnest, lists) = match inner {
        LogicalPlan::Unnest(unnest) => match unnest.input.as_ref() {
            LogicalPlan::Projection(lists) if !outputs.is_empty() => (Some(unnest), lists),
            _ => return None,
        },
        // One row of values (`FROM t, upper(t.name) u`, a scalar function in FROM as
        // `scalar_from` plans it): the bottom projection computes them.
        LogicalPlan::EmptyRelation(_) => (None, outputs.pop()?),
        _ => return None,
    };
    let LogicalPlan::EmptyRelation(empty) = lists.input.as_ref() else {
        return None;
    };
    if !empty.produce_one_row {
        return None;
    }
    // Correlated, and only with the left side's columns.
    let left = join.left.schema();
    let mut outer = false;
    let mut foreign = false;
    for expr in lists
        .expr
        .iter()
        .chain(outputs.iter().flat_map(|p| p.expr.iter()))
    {
        let _ = expr.apply(|e| {
            if let Expr::OuterReferenceColumn(_, column) = e {
                outer = true;
                foreign |= !left.has_column(column);
            }
            Ok(TreeNodeRecursion::Continue)
        });
    }
    (outer && !foreign).then_some(LateralUnnest {
        alias,
        outputs,
        unnest,
        lists,
    })
}

/// Outer references in `expr` made plain columns (of the left side, below).
fn uncorrelated(expr: &Expr) -> Result<Expr> {
    expr.clone()
        .transform(|e| match e {
            Expr::OuterReferenceColumn(_, column) => Ok(Transformed::yes(Expr::Column(column))),
            e => Ok(Transformed::no(e)),
        })
        .map(|t| t.data)
}

/// Projection(left's columns, the right side's columns under its alias)
///   Unnest (the same lists)
///     Projection(left's columns, the lists computed from them)
///       left
fn unnest_left(
    left: &Arc<LogicalPlan>,
    right: &LateralUnnest<'_>,
    left_join: bool,
) -> Result<LogicalPlan> {
    let passed: Vec<Expr> = left
        .schema()
        .columns()
        .into_iter()
        .map(Expr::Column)
        .collect();
    let mut lists = passed.clone();
    for expr in &right.lists.expr {
        lists.push(uncorrelated(expr)?);
    }
    let computed = LogicalPlanBuilder::from(Arc::clone(left)).project(lists)?;
    let unnested = match right.unnest {
        Some(unnest) => {
            let mut options = unnest.options.clone();
            if left_join {
                // A left row with no elements (an empty list, or NULL) still comes out
                // once, beside NULLs.
                options = options.with_null_handling(NullHandling::PreserveAndExpandEmpty);
            }
            computed
                .unnest_columns_with_options(unnest.exec_columns.clone(), options)?
                .build()?
        }
        None => computed.build()?,
    };
    // The projections above the Unnest, bottom first, folded into one over its output:
    // each refers to the one below by its output names. Without any, the values
    // computed are the columns.
    let mut below: HashMap<String, Expr> = HashMap::new();
    let mut outputs: Vec<Expr> = right
        .lists
        .schema
        .fields()
        .iter()
        .map(|f| Expr::Column(Column::new_unqualified(f.name())))
        .collect();
    for projection in right.outputs.iter().rev() {
        outputs = projection
            .expr
            .iter()
            .map(|e| {
                uncorrelated(e)?
                    .transform(|e| match &e {
                        Expr::Column(Column {
                            relation: None,
                            name,
                            ..
                        }) if below.contains_key(name) => Ok(Transformed::yes(below[name].clone())),
                        _ => Ok(Transformed::no(e)),
                    })
                    .map(|t| t.data.unalias_nested().data)
            })
            .collect::<Result<_>>()?;
        below = projection
            .schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(outputs.iter().cloned())
            .collect();
    }
    let mut exprs = passed;
    for (expr, field) in outputs.into_iter().zip(right.alias.schema.fields()) {
        exprs.push(expr.alias_qualified(Some(right.alias.alias.clone()), field.name()));
    }
    LogicalPlanBuilder::from(unnested).project(exprs)?.build()
}
