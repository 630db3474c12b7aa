//! PostgreSQL spellings DataFusion does not plan, as the ones it does:
//!
//! - `FETCH FIRST n ROWS ONLY` (the SQL standard's LIMIT, which SQL generators such as
//!   Power BI's and Tableau's write; "FETCH clause is not supported yet") as `LIMIT n`,
//!   beside an `OFFSET`. `FETCH ... WITH TIES` and `PERCENT` stay refused.
//! - `a && b` on arrays (overlap: an element in common; "Unsupported binary operator:
//!   PGOverlap") as `array_has_any(a, b)`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{self, Expr, Query, Statement, VisitMut, VisitorMut};

pub(crate) fn rewrite(statement: &mut Statement) {
    struct Clauses;
    impl VisitorMut for Clauses {
        type Break = ();
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            fetch_as_limit(query);
            ControlFlow::Continue(())
        }
        fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
            if let Expr::BinaryOp {
                left,
                op: ast::BinaryOperator::PGOverlap,
                right,
            } = expr
            {
                *expr = super::call("array_has_any", vec![*left.clone(), *right.clone()]);
            }
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Clauses);
}

fn fetch_as_limit(query: &mut Query) {
    let Some(fetch) = &query.fetch else {
        return;
    };
    if fetch.with_ties || fetch.percent {
        return;
    }
    // FETCH FIRST ROW ONLY: one row.
    let count = fetch
        .quantity
        .clone()
        .unwrap_or_else(|| Expr::value(ast::Value::Number("1".to_owned(), false)));
    let offset = match query.limit_clause.take() {
        None => None,
        Some(ast::LimitClause::LimitOffset {
            limit: None,
            offset,
            limit_by,
        }) if limit_by.is_empty() => offset,
        Some(other) => {
            // LIMIT and FETCH together: left for DataFusion to refuse.
            query.limit_clause = Some(other);
            return;
        }
    };
    query.limit_clause = Some(ast::LimitClause::LimitOffset {
        limit: Some(count),
        offset,
        limit_by: Vec::new(),
    });
    query.fetch = None;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(sql: &str) -> String {
        super::super::rewritten(sql, rewrite)
    }

    #[test]
    fn fetch_first_is_a_limit_and_overlap_a_function() {
        assert_eq!(
            rewritten("SELECT * FROM t ORDER BY a OFFSET 1 ROWS FETCH FIRST 2 ROWS ONLY"),
            "SELECT * FROM t ORDER BY a LIMIT 2 OFFSET 1 ROWS"
        );
        assert_eq!(
            rewritten("SELECT * FROM t FETCH FIRST ROW ONLY"),
            "SELECT * FROM t LIMIT 1"
        );
        assert_eq!(
            rewritten("SELECT * FROM t FETCH FIRST 10 PERCENT ROWS ONLY"),
            "SELECT * FROM t FETCH FIRST 10 PERCENT ROWS ONLY"
        );
        assert_eq!(
            rewritten("SELECT a && ARRAY['x'] FROM t"),
            "SELECT array_has_any(a, ARRAY['x']) FROM t"
        );
    }
}
