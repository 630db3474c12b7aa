//! `EXISTS (subquery)` as a value: in a select list (`SELECT name, EXISTS (SELECT 1
//! FROM orders o WHERE o.cust = c.id) FROM customers c`, `CASE WHEN EXISTS ...`).
//! DataFusion plans EXISTS only as a filter (a semi join) and refused it elsewhere
//! ("Physical plan does not support logical expression Exists"). In a select item it
//! is rewritten as the count it stands for, which DataFusion decorrelates:
//!
//! ```text
//! EXISTS (SELECT x FROM t WHERE c)      ->  ((SELECT count(*) FROM t WHERE c) > 0)
//! NOT EXISTS (SELECT x FROM t WHERE c)  ->  ((SELECT count(*) FROM t WHERE c) = 0)
//! ```
//!
//! A subquery with GROUP BY, HAVING, DISTINCT, a LIMIT or a set operation is counted
//! as a derived table instead (`SELECT count(*) FROM (q) AS __exists`), which is right
//! for uncorrelated subqueries and refused by DataFusion for correlated ones, as before.
//! EXISTS in WHERE, HAVING and ON stays DataFusion's semi join.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    self, Expr, Query, SelectItem, SetExpr, Statement, VisitMut, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrites the EXISTS of every select item in `statement` (see the module doc).
pub(crate) fn rewrite(statement: &mut Statement) {
    struct Items;
    impl VisitorMut for Items {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut() {
                for item in &mut select.projection {
                    if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } =
                        item
                    {
                        let _ = ast::visit_expressions_mut(expr, |e| {
                            if let Some(counted) = counted(e) {
                                *e = counted;
                            }
                            ControlFlow::<()>::Continue(())
                        });
                    }
                }
            }
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Items);
}

/// `EXISTS (q)` / `NOT EXISTS (q)` as a comparison of q's count, or `None`.
fn counted(expr: &Expr) -> Option<Expr> {
    let Expr::Exists { subquery, negated } = expr else {
        return None;
    };
    let simple = subquery.limit_clause.is_none()
        && subquery.fetch.is_none()
        && subquery.with.is_none()
        && matches!(subquery.body.as_ref(), SetExpr::Select(s)
            if s.distinct.is_none()
                && s.having.is_none()
                && matches!(&s.group_by, ast::GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty()));
    let count = if simple {
        let mut counting = subquery.as_ref().clone();
        counting.order_by = None;
        if let SetExpr::Select(select) = counting.body.as_mut() {
            select.projection = vec![SelectItem::UnnamedExpr(parse("count(*)")?)];
        }
        counting.to_string()
    } else {
        format!("SELECT count(*) FROM ({subquery}) AS __exists")
    };
    let op = if *negated { "=" } else { ">" };
    parse(&format!("(({count}) {op} 0)"))
}

fn parse(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// `(a, b) IN (SELECT x, y ...)` in a query's WHERE, as a conjunct: DataFusion plans
/// IN with one column only ("Too many columns! The subquery should only return one
/// column"). It is the semi join
///
/// ```text
/// EXISTS (SELECT 1 FROM (SELECT x, y ...) AS __tarn_in (__tarn_k1, __tarn_k2)
///         WHERE __tarn_k1 = (a) AND __tarn_k2 = (b))
/// ```
///
/// which keeps the same rows where a WHERE keeps them (a comparison with NULL keeps no
/// row either way). `NOT IN` with a row, whose NULLs PostgreSQL treats otherwise, and
/// row IN elsewhere stay refused. DELETE has its own form (`session::merge`).
pub(crate) fn rewrite_row_in(statement: &mut Statement) {
    struct Rows;
    impl VisitorMut for Rows {
        type Break = ();
        fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            if let SetExpr::Select(select) = query.body.as_mut()
                && let Some(selection) = &mut select.selection
            {
                row_in_conjuncts(selection);
            }
            ControlFlow::Continue(())
        }
    }
    if let Statement::Query(query) = statement {
        let _ = query.visit(&mut Rows);
    }
}

/// The keys of a row IN (`(a, b) IN (subquery)`) matched to the columns the subquery's
/// rows are named by in `relation` (`__tarn_k1, __tarn_k2`): that column list, and the
/// condition `(a) = relation.__tarn_k1 AND (b) = relation.__tarn_k2`. Shared with
/// DELETE's key-list form (`session::merge`).
pub(crate) fn key_match(keys: &[&Expr], relation: &str) -> (String, String) {
    let names: Vec<String> = (1..=keys.len()).map(|i| format!("__tarn_k{i}")).collect();
    let on = keys
        .iter()
        .zip(&names)
        .map(|(key, name)| format!("({key}) = {relation}.{name}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    (names.join(", "), on)
}

fn row_in_conjuncts(expr: &mut Expr) {
    match expr {
        Expr::BinaryOp {
            left,
            op: ast::BinaryOperator::And,
            right,
        } => {
            row_in_conjuncts(left);
            row_in_conjuncts(right);
        }
        Expr::Nested(inner) => row_in_conjuncts(inner),
        Expr::InSubquery {
            expr: keys,
            subquery,
            negated: false,
        } => {
            let mut keys = keys.as_ref();
            while let Expr::Nested(inner) = keys {
                keys = inner;
            }
            let Expr::Tuple(keys) = keys else {
                return;
            };
            let (columns, on) = key_match(&keys.iter().collect::<Vec<_>>(), "__tarn_in");
            let sql =
                format!("EXISTS (SELECT 1 FROM ({subquery}) AS __tarn_in ({columns}) WHERE {on})");
            if let Ok(exists) = Parser::new(&PostgreSqlDialect {})
                .try_with_sql(&sql)
                .and_then(|mut p| p.parse_expr())
            {
                *expr = exists;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::rewritten(sql, rewrite)
    }

    #[test]
    fn exists_in_a_select_list_is_counted_and_in_where_is_kept() {
        assert_eq!(
            rewritten(
                "SELECT c.id, EXISTS (SELECT 1 FROM o WHERE o.c = c.id) AS e FROM c \
                 WHERE EXISTS (SELECT 1 FROM o)"
            ),
            "SELECT c.id, ((SELECT count(*) FROM o WHERE o.c = c.id) > 0) AS e FROM c \
             WHERE EXISTS (SELECT 1 FROM o)"
        );
        assert_eq!(
            rewritten("SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM o LIMIT 1) THEN 1 END"),
            "SELECT CASE WHEN ((SELECT count(*) FROM (SELECT 1 FROM o LIMIT 1) AS __exists) = 0) \
             THEN 1 END"
        );
    }
}
