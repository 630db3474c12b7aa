//! `generate_series` in the select list, which PostgreSQL runs as a set-returning
//! function (`select generate_series(1, 3)` is three rows), where DataFusion's
//! scalar `generate_series` answers one row holding the list `[1, 2, 3]`.
//!
//! [`rewrite`] makes each such call `unnest(generate_series(...))`, DataFusion's one
//! set-returning form in a select list. Several of them in one select list advance
//! together, the shorter ones padded with NULLs, as PostgreSQL 10 and later run them.
//! With integer literals that fit `integer` the values are `integer`, as PostgreSQL
//! picks `generate_series(int4, int4)` for them (DataFusion's are `bigint`).
//! `FROM generate_series(...)` is a table function and is left alone, but for its
//! temporal arguments ([`temporal_arguments`], both forms): a step written as a string
//! literal is an interval (`'1 day'`; DataFusion found no function for text), and
//! dates count as `timestamp with time zone`, as PostgreSQL resolves
//! `generate_series(date, date, interval)` (DataFusion answered dates).

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, CastKind, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    Ident, ObjectNamePart, Statement, TableAlias, TableAliasColumnDef, TableFactor, TimezoneInfo,
    TypedString, Value, visit_expressions_mut,
};

use super::call;

/// Rewrites the select-list (and other expression) calls of `generate_series` in
/// `statement`, subqueries included.
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Some(mut args) = series_arguments(expr) {
            temporal_arguments(&mut args);
            let all_int4 = args.iter().all(super::int4_literal);
            // Quoted, so this visit does not take the inner call for a new one.
            let mut inner = call("generate_series", args);
            if let Expr::Function(f) = &mut inner {
                f.name.0 = vec![ObjectNamePart::Identifier(Ident::with_quote(
                    '"',
                    "generate_series",
                ))];
            }
            let rows = call("unnest", vec![inner]);
            *expr = match all_int4 {
                true => Expr::Cast {
                    kind: CastKind::Cast,
                    expr: Box::new(rows),
                    data_type: DataType::Integer(None),
                    array: false,
                    format: None,
                },
                false => rows,
            };
        } else if let Some(inner) = unnest_of_rows(expr) {
            // `unnest(generate_series(...))`, DataFusion's spelling of the same rows.
            *expr = inner;
        }
        ControlFlow::<()>::Continue(())
    });
}

/// `FROM generate_series(a, b) AS s(x)` whose arguments read the rows before it
/// (`FROM rentals r, generate_series(r.start_date, r.end_date, '1 day') AS d`,
/// implicitly LATERAL in PostgreSQL): DataFusion's table function evaluates its
/// arguments once, at planning ("Argument #2 must be an INTEGER"), so the call becomes
/// `unnest` of the list DataFusion's scalar `generate_series` computes for each row,
/// which DataFusion plans as a lateral unnest (`super::lateral`) or, in a correlated
/// subquery, as a SubPlan. Unaliased, table and column are named `generate_series`, as
/// in PostgreSQL; `WITH ORDINALITY` adds `ordinality` (also for arguments that read
/// no column: DataFusion's table function would drop it).
pub(crate) fn lateral(
    alias: Option<TableAlias>,
    args: Vec<Expr>,
    with_ordinality: bool,
) -> TableFactor {
    let alias = alias.unwrap_or_else(|| TableAlias {
        name: Ident::new("generate_series"),
        columns: vec![TableAliasColumnDef {
            name: Ident::new("generate_series"),
            data_type: None,
        }],
        explicit: true,
        at: None,
    });
    let all_int4 = args.iter().all(super::int4_literal);
    // Quoted, so that [`rewrite`] does not take it for a select-list call.
    let mut list = call("generate_series", args);
    if let Expr::Function(f) = &mut list {
        f.name.0 = vec![ObjectNamePart::Identifier(Ident::with_quote(
            '"',
            "generate_series",
        ))];
    }
    // `integer` over integer literals that fit it, as PostgreSQL picks
    // `generate_series(int4, int4)` for them.
    if all_int4 {
        list = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(list),
            data_type: DataType::Array(ArrayElemTypeDef::SquareBracket(
                Box::new(DataType::Integer(None)),
                None,
            )),
            array: false,
            format: None,
        };
    }
    let mut factor = TableFactor::UNNEST {
        alias: Some(alias),
        array_exprs: vec![list],
        with_offset: false,
        with_offset_alias: None,
        with_ordinality,
    };
    // `WITH ORDINALITY` numbers the rows as for `unnest(array)` (DataFusion refuses it).
    if with_ordinality {
        super::json_sets::from_item(&mut factor);
    }
    factor
}

/// `generate_series(start, stop, step)`'s arguments as PostgreSQL types them where
/// they are temporal: a step written as a string literal is an interval, and a start
/// or stop written as a date (`date '...'`, `'...'::date`) makes both `timestamp with
/// time zone`, the type PostgreSQL converts dates to for its timestamptz form.
pub(crate) fn temporal_arguments(args: &mut [Expr]) {
    let [start, stop, step] = args else {
        return;
    };
    let cast = |expr: &mut Expr, data_type: DataType| {
        *expr = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(expr.clone()),
            data_type,
            array: false,
            format: None,
        };
    };
    if matches!(step, Expr::Value(v) if matches!(v.value, Value::SingleQuotedString(_))) {
        cast(
            step,
            DataType::Interval {
                fields: None,
                precision: None,
            },
        );
    }
    let date = |e: &Expr| match e {
        Expr::Cast { data_type, .. } | Expr::TypedString(TypedString { data_type, .. }) => {
            matches!(data_type, DataType::Date)
        }
        _ => false,
    };
    if date(start) || date(stop) {
        for bound in [start, stop] {
            cast(bound, DataType::Timestamp(None, TimezoneInfo::WithTimeZone));
        }
    }
}

/// The arguments of an unquoted `generate_series(a, b [, step])` call (also
/// `pg_catalog.generate_series`).
fn series_arguments(expr: &Expr) -> Option<Vec<Expr>> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let names: Vec<&Ident> = f.name.0.iter().filter_map(|p| p.as_ident()).collect();
    let named = match names.as_slice() {
        [name] => name,
        [schema, name] if schema.value.eq_ignore_ascii_case("pg_catalog") => name,
        _ => return None,
    };
    if named.quote_style.is_some()
        || !named.value.eq_ignore_ascii_case("generate_series")
        || f.over.is_some()
        || f.filter.is_some()
    {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    if !(2..=3).contains(&list.args.len()) || !list.clauses.is_empty() {
        return None;
    }
    list.args
        .iter()
        .map(|a| match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// For `unnest(x)` where `x` is already the rows of a rewritten call (possibly cast),
/// that `x`.
fn unnest_of_rows(expr: &Expr) -> Option<Expr> {
    let Expr::Function(f) = expr else {
        return None;
    };
    if !f.name.to_string().eq_ignore_ascii_case("unnest") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else {
        return None;
    };
    let rows = match arg {
        Expr::Cast { expr, .. } => expr.as_ref(),
        other => other,
    };
    match rows {
        Expr::Function(inner) if inner.name.to_string().eq_ignore_ascii_case("unnest") => {
            Some(arg.clone())
        }
        _ => None,
    }
}
