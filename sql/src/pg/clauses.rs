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
//! - The prefix operators `|/` (square root), `||/` (cube root) and `@` (absolute
//!   value) as `sqrt`, `cbrt` and `abs` ("Unsupported SQL unary operator").
//! - Functions DataFusion has under other forms: `mod(a, b)` as `a % b`,
//!   `string_to_table(s, d)` as `unnest(string_to_array(s, d))`, `num_nulls(...)` and
//!   `num_nonnulls(...)` as sums of `CASE`s, `isfinite(x)` (Tarn has no infinite dates
//!   or timestamps: true unless NULL), `make_timestamp(y, m, d, h, mi, s)` as
//!   `make_date(y, m, d) + make_interval(hours => h, mins => mi, secs => s)`, a
//!   timestamp; `localtimestamp` and `localtime`, the session's local time;
//!   `date(x)` as `cast(x as date)`; `row_to_json(x)` as `to_json(x)`, and an anonymous row given to either with
//!   PostgreSQL's field names (`f1`, `f2`, ...; whole-row references are
//!   [`super::whole_rows`]).

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
            functions(expr);
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
fn functions(expr: &mut Expr) {
    let call = super::call;
    let number = |n: &str| Expr::value(ast::Value::Number(n.to_owned(), false));
    let local_name = match &*expr {
        Expr::Identifier(ident) if ident.quote_style.is_none() => Some(ident.value.clone()),
        Expr::Function(f) if matches!(f.args, ast::FunctionArguments::None) => {
            Some(super::single_value::function_name(f))
        }
        _ => None,
    };
    if let Some(name) = local_name
        && ["localtimestamp", "localtime"].contains(&name.to_ascii_lowercase().as_str())
    {
        // The session's local time, as a timestamp (or time) without time zone.
        let zone = call(
            "current_setting",
            vec![Expr::value(ast::Value::SingleQuotedString(
                "TimeZone".to_owned(),
            ))],
        );
        let local = call("timezone", vec![zone, call("now", vec![])]);
        *expr = match name.eq_ignore_ascii_case("localtime") {
            true => Expr::Cast {
                kind: ast::CastKind::Cast,
                expr: Box::new(local),
                data_type: ast::DataType::Time(None, ast::TimezoneInfo::None),
                array: false,
                format: None,
            },
            false => local,
        };
        return;
    }
    if let Expr::UnaryOp { op, expr: operand } = expr {
        let name = match op {
            ast::UnaryOperator::PGSquareRoot => "sqrt",
            ast::UnaryOperator::PGCubeRoot => "cbrt",
            ast::UnaryOperator::PGAbs => "abs",
            _ => return,
        };
        *expr = call(name, vec![*operand.clone()]);
        return;
    }
    let Expr::Function(f) = expr else {
        return;
    };
    let name = super::single_value::function_name(f);
    let args: Vec<Expr> = super::unnamed_args(f).cloned().collect();
    let all_unnamed =
        matches!(&f.args, ast::FunctionArguments::List(l) if l.args.len() == args.len());
    if !all_unnamed || f.over.is_some() {
        return;
    }
    let nulls = |args: &[Expr], null: bool| -> Expr {
        args.iter()
            .map(|a| Expr::Case {
                case_token: ast::helpers::attached_token::AttachedToken::empty(),
                end_token: ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![ast::CaseWhen {
                    condition: match null {
                        true => Expr::IsNull(Box::new(a.clone())),
                        false => Expr::IsNotNull(Box::new(a.clone())),
                    },
                    result: number("1"),
                }],
                else_result: Some(Box::new(number("0"))),
            })
            .reduce(|a, b| Expr::BinaryOp {
                left: Box::new(a),
                op: ast::BinaryOperator::Plus,
                right: Box::new(b),
            })
            .unwrap_or_else(|| number("0"))
    };
    *expr = match (name.as_str(), args.as_slice()) {
        ("mod", [a, b]) => Expr::Nested(Box::new(Expr::BinaryOp {
            left: Box::new(a.clone()),
            op: ast::BinaryOperator::Modulo,
            right: Box::new(b.clone()),
        })),
        ("string_to_table", [s, d]) => call(
            "unnest",
            vec![call("string_to_array", vec![s.clone(), d.clone()])],
        ),
        ("num_nulls", [_, ..]) => Expr::Nested(Box::new(nulls(&args, true))),
        ("num_nonnulls", [_, ..]) => Expr::Nested(Box::new(nulls(&args, false))),
        ("isfinite", [x]) => Expr::Case {
            case_token: ast::helpers::attached_token::AttachedToken::empty(),
            end_token: ast::helpers::attached_token::AttachedToken::empty(),
            operand: None,
            conditions: vec![ast::CaseWhen {
                condition: Expr::IsNull(Box::new(x.clone())),
                result: Expr::Value(ast::Value::Null.into()),
            }],
            else_result: Some(Box::new(Expr::Value(ast::Value::Boolean(true).into()))),
        },
        ("make_timestamp", [y, m, d, h, mi, sec]) => Expr::Nested(Box::new(Expr::BinaryOp {
            left: Box::new(call("make_date", vec![y.clone(), m.clone(), d.clone()])),
            op: ast::BinaryOperator::Plus,
            right: Box::new(call(
                "make_interval",
                vec![
                    number("0"),
                    number("0"),
                    number("0"),
                    number("0"),
                    h.clone(),
                    mi.clone(),
                    sec.clone(),
                ],
            )),
        })),
        // PostgreSQL's function-style cast `date(x)` (dbt's snapshot tests use it).
        ("date", [value]) => Expr::Cast {
            kind: ast::CastKind::Cast,
            expr: Box::new(value.clone()),
            data_type: ast::DataType::Date,
            array: false,
            format: None,
        },
        ("row_to_json" | "to_json" | "to_jsonb", [value]) => {
            let json = match name.as_str() {
                "row_to_json" => "to_json",
                other => other,
            };
            call(
                json,
                vec![anonymous_row(value).unwrap_or_else(|| value.clone())],
            )
        }
        _ => return,
    };
}

/// `ROW(a, b)` or `(a, b)` as PostgreSQL names an anonymous row's fields: `f1`, `f2`, ...
/// (DataFusion's struct names them `c0`, `c1`, which `to_json` would write).
fn anonymous_row(expr: &Expr) -> Option<Expr> {
    let fields: Vec<Expr> = match expr {
        Expr::Tuple(fields) => fields.clone(),
        Expr::Function(f) if super::single_value::function_name(f) == "row" => {
            super::unnamed_args(f).cloned().collect()
        }
        _ => return None,
    };
    let args = fields
        .into_iter()
        .enumerate()
        .flat_map(|(i, field)| {
            [
                Expr::value(ast::Value::SingleQuotedString(format!("f{}", i + 1))),
                field,
            ]
        })
        .collect();
    Some(super::call("named_struct", args))
}

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
