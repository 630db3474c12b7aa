//! Correlated subqueries where DataFusion's analyzer refuses them ("Correlated scalar
//! subquery can only be used in Projection, Filter, Aggregate plan nodes"), moved to
//! where it takes them, with the same meaning:
//!
//! - In an inner join's `ON` (`JOIN b ON b.k = a.k AND b.v = (SELECT max(v) FROM b b2
//!   WHERE b2.k = a.k)`, the latest row per key): the conjuncts holding a subquery go
//!   to `WHERE`, which for an inner join filters the same pairs, provided no later
//!   join of the chain is a RIGHT or FULL join (whose NULL-extended rows the filter
//!   would drop). A left join's `ON` keeps them (refused, as before).
//! - In `ORDER BY` (`ORDER BY (SELECT count(*) FROM o WHERE o.c = c.id) DESC`): the
//!   select gets each ordering expression as a hidden column (`__tarn_order_n`), and
//!   an outer query orders by those and leaves them out (`SELECT * EXCLUDE (...)`),
//!   with the LIMIT and OFFSET. Expressions naming an output column (or its position)
//!   order the outer query directly. Not for `SELECT DISTINCT` (where PostgreSQL wants
//!   the expressions in the select list anyway) or set operations.
//!
//! The subqueries then run as DataFusion decorrelates them or as SubPlans
//! ([`super::subplans`]).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Distinct, ExcludeSelectItem, Expr, Ident, JoinConstraint, JoinOperator, ObjectName,
    OrderByKind, Query, Select, SelectItem, SetExpr, Statement, TableWithJoins, Value, VisitMut,
    VisitorMut,
};

/// Moves the subqueries of inner joins' `ON` and of `ORDER BY` in `statement` (see the
/// module doc).
pub(crate) fn rewrite(statement: &mut Statement) {
    struct Queries;
    impl VisitorMut for Queries {
        type Break = ();
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                join_conditions_to_where(select);
            }
            order_by_subqueries(query);
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Queries);
}

/// Whether `expr` holds a subquery (outside the subqueries' own plans, which need no
/// look).
fn has_subquery(expr: &Expr) -> bool {
    ast::visit_expressions(expr, |e| match e {
        Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

fn join_conditions_to_where(select: &mut Select) {
    let mut moved = Vec::new();
    for TableWithJoins { joins, .. } in &mut select.from {
        for i in 0..joins.len() {
            let later_outer = joins[i + 1..].iter().any(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Right(_)
                        | JoinOperator::RightOuter(_)
                        | JoinOperator::FullOuter(_)
                )
            });
            let (JoinOperator::Join(JoinConstraint::On(on))
            | JoinOperator::Inner(JoinConstraint::On(on))) = &mut joins[i].join_operator
            else {
                continue;
            };
            if later_outer || !has_subquery(on) {
                continue;
            }
            let mut parts = Vec::new();
            super::single_value::conjuncts(on.clone(), &mut parts);
            let (with, without): (Vec<Expr>, Vec<Expr>) = parts.into_iter().partition(has_subquery);
            *on = super::single_value::and_all(without)
                .unwrap_or(Expr::Value(Value::Boolean(true).into()));
            moved.extend(with);
        }
    }
    if moved.is_empty() {
        return;
    }
    let mut filter = select.selection.take().into_iter().collect::<Vec<_>>();
    filter.extend(moved);
    select.selection = super::single_value::and_all(filter);
}

/// The name an output column of `select` has, for an ORDER BY naming it: an alias, or
/// a column's own name.
fn output_names(select: &Select) -> Vec<String> {
    select
        .projection
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(alias.value.to_ascii_lowercase()),
            SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(i.value.to_ascii_lowercase()),
            SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => {
                p.last().map(|i| i.value.to_ascii_lowercase())
            }
            _ => None,
        })
        .collect()
}

fn order_by_subqueries(query: &mut Query) {
    let Some(order_by) = &query.order_by else {
        return;
    };
    let OrderByKind::Expressions(items) = &order_by.kind else {
        return;
    };
    if !items.iter().any(|item| has_subquery(&item.expr)) {
        return;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return;
    };
    if matches!(select.distinct, Some(Distinct::Distinct | Distinct::On(_))) {
        return;
    }
    let outputs = output_names(select);
    let mut hidden = Vec::new();
    let mut outer_items = Vec::new();
    for item in items {
        let names_output = match &item.expr {
            Expr::Value(v) => matches!(v.value, Value::Number(..)),
            Expr::Identifier(i) => outputs.contains(&i.value.to_ascii_lowercase()),
            _ => false,
        };
        let mut outer = item.clone();
        if !names_output {
            let name = Ident::new(format!("__tarn_order_{}", hidden.len() + 1));
            hidden.push(SelectItem::ExprWithAlias {
                expr: item.expr.clone(),
                alias: name.clone(),
            });
            outer.expr = Expr::Identifier(name);
        }
        outer_items.push(outer);
    }
    let excluded: Vec<ObjectName> = hidden
        .iter()
        .filter_map(|item| match item {
            SelectItem::ExprWithAlias { alias, .. } => Some(ObjectName::from(vec![alias.clone()])),
            _ => None,
        })
        .collect();
    // The outer query, built from text for its shape; its FROM takes the inner query.
    let Some(mut outer) = super::parsed_query("SELECT * FROM (SELECT 1) AS __tarn_ordered") else {
        return;
    };
    let mut inner = query.clone();
    inner.with = None;
    inner.order_by = None;
    inner.limit_clause = None;
    inner.fetch = None;
    if let SetExpr::Select(select) = inner.body.as_mut() {
        select.projection.extend(hidden);
    }
    let SetExpr::Select(outer_select) = outer.body.as_mut() else {
        return;
    };
    if let Some(SelectItem::Wildcard(options)) = outer_select.projection.first_mut() {
        options.opt_exclude = Some(ExcludeSelectItem::Multiple(excluded));
    }
    if let Some(ast::TableFactor::Derived { subquery, .. }) =
        outer_select.from.first_mut().map(|from| &mut from.relation)
    {
        *subquery = Box::new(inner);
    } else {
        return;
    }
    outer.with = query.with.take();
    outer.order_by = Some(ast::OrderBy {
        kind: OrderByKind::Expressions(outer_items),
        interpolate: None,
    });
    outer.limit_clause = query.limit_clause.take();
    outer.fetch = query.fetch.take();
    *query = outer;
}
