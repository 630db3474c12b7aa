//! Correlated subqueries where DataFusion's analyzer refuses them ("Correlated scalar
//! subquery can only be used in Projection, Filter, Aggregate plan nodes"), moved to
//! where it takes them, with the same meaning:
//!
//! - In an inner join's `ON` (`JOIN b ON b.k = a.k AND b.v = (SELECT max(v) FROM b b2
//!   WHERE b2.k = a.k)`, the latest row per key): the conjuncts holding a subquery go
//!   to `WHERE`, which for an inner join filters the same pairs, provided no later
//!   join of the chain is a RIGHT or FULL join (whose NULL-extended rows the filter
//!   would drop).
//! - In a left join's `ON`: the conjuncts holding a subquery filter the right side,
//!   which becomes a lateral query under its own name (`LEFT JOIN LATERAL (SELECT *
//!   FROM b WHERE ...) AS b ON b.k = a.k`).
//! - In `ORDER BY` (`ORDER BY (SELECT count(*) FROM o WHERE o.c = c.id) DESC`): the
//!   select gets each ordering expression as a hidden column (`__tarn_order_n`), and
//!   an outer query orders by those and leaves them out (`SELECT * EXCLUDE (...)`),
//!   with the LIMIT and OFFSET. Expressions naming an output column (or its position)
//!   order the outer query directly, and one also in the select list orders by its
//!   position, which is all `SELECT DISTINCT` needs (PostgreSQL wants its ORDER BY
//!   expressions in the select list); set operations order by output columns only.
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
    for TableWithJoins { relation, joins } in &mut select.from {
        for i in 0..joins.len() {
            let later_outer = joins[i + 1..].iter().any(|j| {
                matches!(
                    j.join_operator,
                    JoinOperator::Right(_)
                        | JoinOperator::RightOuter(_)
                        | JoinOperator::FullOuter(_)
                )
            });
            if let JoinOperator::Left(JoinConstraint::On(on))
            | JoinOperator::LeftOuter(JoinConstraint::On(on)) = &joins[i].join_operator
            {
                if has_subquery(on) {
                    let left: Vec<String> = std::iter::once(&*relation)
                        .chain(joins[..i].iter().map(|j| &j.relation))
                        .filter_map(relation_name)
                        .map(|name| name.value.to_ascii_lowercase())
                        .collect();
                    let join = &mut joins[i];
                    let (JoinOperator::Left(JoinConstraint::On(on))
                    | JoinOperator::LeftOuter(JoinConstraint::On(on))) = &mut join.join_operator
                    else {
                        continue;
                    };
                    filter_right_side(&mut join.relation, on, &left);
                }
                continue;
            }
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

/// The name a FROM item's columns are qualified by: its alias, or a table's
/// unqualified name; `None` for an item without one (a nested join, a function).
fn relation_name(relation: &ast::TableFactor) -> Option<&Ident> {
    use ast::TableFactor;
    match relation {
        TableFactor::Table {
            alias: Some(alias),
            args: None,
            ..
        }
        | TableFactor::Derived {
            alias: Some(alias), ..
        } => Some(&alias.name),
        TableFactor::Table {
            name,
            alias: None,
            args: None,
            ..
        } if name.0.len() == 1 => name.0[0].as_ident(),
        _ => None,
    }
}

/// A left join's `ON` conjuncts holding a subquery become the `WHERE` of a lateral
/// query over the right side, under the right side's own name: `a LEFT JOIN b ON c
/// AND s` pairs `a`'s rows with `b`'s rows where `c` and `s` hold, which is `a LEFT
/// JOIN LATERAL (SELECT * FROM b WHERE s) AS b ON c`. The right side is kept as it is
/// where it has no single name to keep (a nested join, a qualified table name
/// without alias, a function).
///
/// A column of the left side (`left` names its relations) that `c` equates with one
/// of the right side (`b.k = a.k`) is that column in `s`, since `s` only counts where
/// `c` holds: `(SELECT max(v) FROM b b2 WHERE b2.k = a.k)` reads `b.k`, so the lateral
/// query's subquery reads no column two levels out, which DataFusion 55 cannot
/// correlate ([`super::subplans`]'s `LateralReads`). Where one still does (or a
/// subquery names one of the join's relations again), the join is left as written
/// and refused.
fn filter_right_side(relation: &mut ast::TableFactor, on: &mut Expr, left: &[String]) {
    let Some(name) = relation_name(relation).cloned() else {
        return;
    };
    let mut parts = Vec::new();
    super::single_value::conjuncts(on.clone(), &mut parts);
    let (mut with, without): (Vec<Expr>, Vec<Expr>) = parts.into_iter().partition(has_subquery);
    let right = name.value.to_ascii_lowercase();
    let equal = equated_columns(&without, &right, left);
    for conjunct in &mut with {
        let names = relations_inside(conjunct);
        if names.iter().any(|n| *n == right || left.contains(n)) {
            return;
        }
        replace_columns(conjunct, &equal);
        if subqueries_read(conjunct, left) {
            // Two levels out: refused where it runs (`subplans::LateralReads`); the
            // join as written says more of what is refused.
            return;
        }
    }
    let Some(mut query) = super::parsed_query("SELECT * FROM (SELECT 1) AS __tarn_right") else {
        return;
    };
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let Some(from) = select.from.first_mut() else {
        return;
    };
    from.relation = relation.clone();
    select.selection = super::single_value::and_all(with);
    *relation = ast::TableFactor::Derived {
        lateral: true,
        subquery: Box::new(query),
        alias: Some(ast::TableAlias {
            explicit: true,
            name,
            columns: Vec::new(),
            at: None,
        }),
        sample: None,
    };
    *on = super::single_value::and_all(without).unwrap_or(Expr::Value(Value::Boolean(true).into()));
}

/// `relation.column`, lower-cased, if `expr` is a column so qualified.
fn qualified_column(expr: &Expr) -> Option<(String, String)> {
    match expr {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some((
            parts[0].value.to_ascii_lowercase(),
            parts[1].value.to_ascii_lowercase(),
        )),
        Expr::Nested(inner) => qualified_column(inner),
        _ => None,
    }
}

/// The left side's columns that `conjuncts` equate with a column of `right`: (left
/// relation, column) and the right side's column, as written.
fn equated_columns(
    conjuncts: &[Expr],
    right: &str,
    left: &[String],
) -> Vec<((String, String), Expr)> {
    let mut equal = Vec::new();
    for conjunct in conjuncts {
        let Expr::BinaryOp {
            left: l,
            op: ast::BinaryOperator::Eq,
            right: r,
        } = conjunct
        else {
            continue;
        };
        for (this, other) in [(l, r), (r, l)] {
            if let (Some(ours), Some(theirs)) = (qualified_column(this), qualified_column(other))
                && ours.0 == right
                && left.contains(&theirs.0)
            {
                equal.push((theirs, this.as_ref().clone()));
            }
        }
    }
    equal
}

/// The names of the relations in `expr`'s subqueries (aliases, unaliased tables'
/// names; lower-cased), which a column qualified the same way inside them would mean.
fn relations_inside(expr: &mut Expr) -> Vec<String> {
    struct Names(Vec<String>);
    impl VisitorMut for Names {
        type Break = ();
        fn pre_visit_table_factor(&mut self, factor: &mut ast::TableFactor) -> ControlFlow<()> {
            if let Some(alias) = match factor {
                ast::TableFactor::Table { alias, .. }
                | ast::TableFactor::Derived { alias, .. }
                | ast::TableFactor::Function { alias, .. }
                | ast::TableFactor::UNNEST { alias, .. }
                | ast::TableFactor::NestedJoin { alias, .. } => alias.as_ref(),
                _ => None,
            } {
                self.0.push(alias.name.value.to_ascii_lowercase());
            }
            if let ast::TableFactor::Table {
                name, alias: None, ..
            } = factor
            {
                self.0.push(super::single_value::unqualified_name(name));
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(Vec::new());
    let _ = expr.visit(&mut names);
    names.0
}

/// Whether a subquery in `expr` names a column of a relation `left` names.
fn subqueries_read(expr: &Expr, left: &[String]) -> bool {
    ast::visit_expressions(expr, |e| match e {
        Expr::Subquery(query)
        | Expr::Exists {
            subquery: query, ..
        }
        | Expr::InSubquery {
            subquery: query, ..
        } => {
            let reads = ast::visit_expressions(query.as_ref(), |e| match qualified_column(e) {
                Some((relation, _)) if left.contains(&relation) => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            });
            match reads.is_break() {
                true => ControlFlow::Break(()),
                false => ControlFlow::Continue(()),
            }
        }
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// `expr` with each column `equal` lists replaced by its equal.
fn replace_columns(expr: &mut Expr, equal: &[((String, String), Expr)]) {
    let _ = ast::visit_expressions_mut(expr, |e| {
        if let Some(column) = qualified_column(e)
            && let Some((_, with)) = equal.iter().find(|(c, _)| *c == column)
        {
            *e = with.clone();
        }
        ControlFlow::<()>::Continue(())
    });
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

/// The position of `expr` among the select list's expressions (1 for the first), if
/// it is one of them and no wildcard comes before it.
fn selected_position(select: &Select, expr: &Expr) -> Option<usize> {
    for (i, item) in select.projection.iter().enumerate() {
        match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } if e == expr => {
                return Some(i + 1);
            }
            SelectItem::UnnamedExpr(_) | SelectItem::ExprWithAlias { .. } => {}
            _ => return None,
        }
    }
    None
}

fn order_by_subqueries(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_ref() else {
        return;
    };
    let Some(order_by) = &mut query.order_by else {
        return;
    };
    let OrderByKind::Expressions(items) = &mut order_by.kind else {
        return;
    };
    // An expression also selected orders by its output column (as PostgreSQL wants of
    // `SELECT DISTINCT`'s ORDER BY anyway).
    for item in items.iter_mut() {
        if has_subquery(&item.expr)
            && let Some(position) = selected_position(select, &item.expr)
        {
            item.expr = Expr::Value(Value::Number(position.to_string(), false).into());
        }
    }
    if !items.iter().any(|item| has_subquery(&item.expr)) {
        return;
    }
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
