//! PostgreSQL spellings DataFusion does not plan, as the ones it does:
//!
//! - `FETCH FIRST n ROWS ONLY` (the SQL standard's LIMIT, which SQL generators such as
//!   Power BI's and Tableau's write; "FETCH clause is not supported yet") as `LIMIT n`,
//!   beside an `OFFSET`. `FETCH ... WITH TIES` and `PERCENT` stay refused.
//! - `a && b` on arrays (overlap: an element in common; "Unsupported binary operator:
//!   PGOverlap") as `array_has_any(a, b)`.
//! - Interval literals with a time of day, as PostgreSQL writes intervals (`interval
//!   '1 day 04:05:06.5'`, `'-1 day +02:00:00'::interval`, `interval '00:30'`; "Invalid
//!   input syntax for type interval") with the time spelled in units (`4 hours 5
//!   minutes 6.5 seconds`), which DataFusion reads.

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
            interval_times(expr);
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

/// The literal text of an interval literal or of a literal cast to interval.
fn interval_text(expr: &mut Expr) -> Option<&mut String> {
    let value = match expr {
        Expr::Interval(interval) if interval.leading_field.is_none() => interval.value.as_mut(),
        Expr::Cast {
            expr: value,
            data_type: ast::DataType::Interval { .. },
            ..
        } => value.as_mut(),
        _ => return None,
    };
    match value {
        Expr::Value(v) => match &mut v.value {
            ast::Value::SingleQuotedString(text) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

/// Rewrites the `[+-]H:MM[:SS[.f]]` parts of an interval literal into units.
fn interval_times(expr: &mut Expr) {
    let Some(text) = interval_text(expr) else {
        return;
    };
    if !text.contains(':') {
        return;
    }
    let spelled: Vec<String> = text
        .split_whitespace()
        .map(|word| time_in_units(word).unwrap_or_else(|| word.to_owned()))
        .collect();
    *text = spelled.join(" ");
}

/// `04:05:06.5` as `4 hours 5 minutes 6.5 seconds` (a sign applies to each), or
/// `None` if `word` is not a time.
fn time_in_units(word: &str) -> Option<String> {
    let (sign, rest) = match word.as_bytes().first()? {
        b'-' => ("-", &word[1..]),
        b'+' => ("", &word[1..]),
        _ => ("", word),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m] if digits(h) && digits(m) => (*h, *m, "0"),
        [h, m, s]
            if digits(h)
                && digits(m)
                && s.split_once('.')
                    .map_or(digits(s), |(w, f)| digits(w) && digits(f)) =>
        {
            (*h, *m, *s)
        }
        _ => return None,
    };
    Some(format!(
        "{sign}{hours} hours {sign}{minutes} minutes {sign}{seconds} seconds"
    ))
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
        assert_eq!(
            rewritten("SELECT INTERVAL '1 day 04:05:06.5', '-1 day +02:00'::INTERVAL"),
            "SELECT INTERVAL '1 day 04 hours 05 minutes 06.5 seconds', \
             '-1 day 02 hours 00 minutes 0 seconds'::INTERVAL"
        );
    }
}
