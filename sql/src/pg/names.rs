//! Output column names as PostgreSQL gives them. DataFusion names an unaliased
//! expression by its text (`count(*)`, `Int64(1)`, `upper(t.name)`); PostgreSQL
//! names it `count`, `?column?`, `upper`. Clients read these names: psql's headers,
//! `dict` rows in Python drivers, pandas' columns, and the columns `CREATE TABLE ...
//! AS SELECT` makes (dbt models). [`rewrite`] adds PostgreSQL's name as an alias to
//! each unaliased select item, as `FigureColname` in PostgreSQL's parser does,
//! unless two items would end up with the same name (PostgreSQL allows that,
//! DataFusion does not): those keep DataFusion's names, except in the statement's
//! own result, where [`REPEAT_MARK`] lets the client see PostgreSQL's names.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::datatypes::{Schema, SchemaRef};

use datafusion::sql::sqlparser::ast::{
    AccessExpr, DataType, Expr, Ident, Query, Select, SelectItem, SetExpr, Statement,
    TrimWhereField, VisitMut, VisitorMut,
};

const UNNAMED: &str = "?column?";

/// PostgreSQL's internal name of a type, which it uses for `literal::type` columns.
fn type_name(data_type: &DataType) -> Option<&'static str> {
    let text = data_type.to_string().to_ascii_lowercase();
    let base = text.split('(').next().unwrap_or_default().trim();
    Some(match base {
        "smallint" | "int2" => "int2",
        "int" | "integer" | "int4" => "int4",
        "bigint" | "int8" => "int8",
        "real" | "float4" => "float4",
        "double precision" | "float8" | "float" => "float8",
        "numeric" | "decimal" => "numeric",
        "text" => "text",
        "varchar" | "character varying" => "varchar",
        "char" | "character" | "bpchar" => "bpchar",
        "boolean" | "bool" => "bool",
        "date" => "date",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamptz" | "timestamp with time zone" => "timestamptz",
        "time" | "time without time zone" => "time",
        "interval" => "interval",
        "bytea" => "bytea",
        "json" => "json",
        "jsonb" => "jsonb",
        "uuid" => "uuid",
        "regclass" => "regclass",
        "regtype" => "regtype",
        "regnamespace" => "regnamespace",
        "regproc" => "regproc",
        "oid" => "oid",
        _ => return None,
    })
}

fn ident_name(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_ascii_lowercase()
    }
}

/// A name PostgreSQL's `FigureColname` gives with strength 2: a column, a function
/// call, an indirection, or a cast of one of those.
fn strong_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Identifier(i) => Some(ident_name(i)),
        Expr::CompoundIdentifier(parts) => Some(ident_name(parts.last()?)),
        Expr::Function(f) => Some(ident_name(f.name.0.last()?.as_ident()?)),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => strong_name(expr),
        Expr::Case { else_result, .. } => strong_name(else_result.as_deref()?),
        _ => None,
    }
}

/// The name PostgreSQL gives an unaliased select item; `None` where DataFusion's
/// name is already the same (column references) or Tarn does not know PostgreSQL's.
fn figure(expr: &Expr) -> Option<String> {
    Some(match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => return None,
        Expr::Nested(inner) => return figure(inner),
        Expr::Function(f) => ident_name(f.name.0.last()?.as_ident()?),
        Expr::Cast {
            expr, data_type, ..
        } => match expr.as_ref() {
            Expr::Identifier(i) => ident_name(i),
            Expr::CompoundIdentifier(parts) => ident_name(parts.last()?),
            // A name from an inner cast's type is weak, as in PostgreSQL's
            // FigureColname: the outer type names `'t'::regclass::text` (`text`).
            inner @ (Expr::Cast { .. } | Expr::TypedString(_)) if strong_name(inner).is_none() => {
                match type_name(data_type) {
                    Some(name) => name.to_owned(),
                    None => figure(inner)?,
                }
            }
            inner => match figure(inner) {
                Some(name) if name != UNNAMED => name,
                _ => type_name(data_type)?.to_owned(),
            },
        },
        // Named after its ELSE result when that has a name of its own (psql's
        // `CASE ... ELSE c.reloftype::regtype::text END` is `reloftype`).
        Expr::Case { else_result, .. } => else_result
            .as_deref()
            .and_then(strong_name)
            .unwrap_or_else(|| "case".to_owned()),
        Expr::Exists { negated: false, .. } => "exists".to_owned(),
        Expr::Array(_) => "array".to_owned(),
        // `(a, b)` is `ROW(a, b)`.
        Expr::Tuple(_) => "row".to_owned(),
        Expr::TypedString(t) => type_name(&t.data_type)?.to_owned(),
        Expr::Interval(_) => "interval".to_owned(),
        Expr::Ceil { .. } => "ceil".to_owned(),
        // PostgreSQL's grammar turns these into calls of the functions named here.
        Expr::Trim { trim_where, .. } => match trim_where {
            Some(TrimWhereField::Leading) => "ltrim",
            Some(TrimWhereField::Trailing) => "rtrim",
            Some(TrimWhereField::Both) | None => "btrim",
        }
        .to_owned(),
        Expr::Substring {
            shorthand: true, ..
        } => "substr".to_owned(),
        Expr::Substring { .. } => "substring".to_owned(),
        Expr::Position { .. } => "position".to_owned(),
        Expr::Overlay { .. } => "overlay".to_owned(),
        Expr::Floor { .. } => "floor".to_owned(),
        Expr::Extract { .. } => "extract".to_owned(),
        Expr::AtTimeZone { .. } => "timezone".to_owned(),
        Expr::Subquery(query) => {
            let SetExpr::Select(select) = query.body.as_ref() else {
                return None;
            };
            match select.projection.as_slice() {
                [SelectItem::ExprWithAlias { alias, .. }] => ident_name(alias),
                [SelectItem::UnnamedExpr(Expr::Identifier(i))] => ident_name(i),
                [SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p))] => ident_name(p.last()?),
                [SelectItem::UnnamedExpr(e)] => figure(e)?,
                _ => return None,
            }
        }
        Expr::CompoundFieldAccess { root, access_chain } => match access_chain.last()? {
            AccessExpr::Dot(Expr::Identifier(field)) => ident_name(field),
            AccessExpr::Subscript(_) => match root.as_ref() {
                Expr::Identifier(i) => ident_name(i),
                Expr::CompoundIdentifier(p) => ident_name(p.last()?),
                other => figure(other)?,
            },
            _ => return None,
        },
        Expr::Value(_)
        | Expr::BinaryOp { .. }
        | Expr::UnaryOp { .. }
        | Expr::IsNull(_)
        | Expr::IsNotNull(_)
        | Expr::IsTrue(_)
        | Expr::IsFalse(_)
        | Expr::IsDistinctFrom(..)
        | Expr::IsNotDistinctFrom(..)
        | Expr::Like { .. }
        | Expr::ILike { .. }
        | Expr::SimilarTo { .. }
        | Expr::Between { .. }
        | Expr::InList { .. }
        | Expr::InSubquery { .. }
        | Expr::AnyOp { .. }
        | Expr::AllOp { .. } => UNNAMED.to_owned(),
        _ => return None,
    })
}

/// The name DataFusion will give an item that keeps its own: only column
/// references matter here, as other items' names cannot collide with a figured one.
fn kept_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::ExprWithAlias { alias, .. } => Some(ident_name(alias)),
        SelectItem::UnnamedExpr(Expr::Identifier(i)) => Some(ident_name(i)),
        SelectItem::UnnamedExpr(Expr::CompoundIdentifier(p)) => p.last().map(ident_name),
        _ => None,
    }
}

fn name_projection(projection: &mut [SelectItem]) {
    let figured: Vec<Option<String>> = projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(e) => figure(e),
            _ => None,
        })
        .collect();
    let taken: Vec<String> = projection.iter().filter_map(kept_name).collect();
    for (i, name) in figured.iter().enumerate() {
        let Some(name) = name else { continue };
        let duplicate = figured
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.as_ref() == Some(name))
            || taken.contains(name);
        if duplicate {
            continue;
        }
        if let SelectItem::UnnamedExpr(expr) = &projection[i] {
            projection[i] = SelectItem::ExprWithAlias {
                expr: expr.clone(),
                alias: Ident::with_quote('"', name.clone()),
            };
        }
    }
}

/// A select item that is an integer literal is `integer` in PostgreSQL when it fits
/// (`SELECT 1`, drivers' health checks); DataFusion makes every integer literal a
/// bigint, which drivers then hand out differently (node-postgres: as a string). So is
/// a `CASE` whose every result is such a literal (or NULL, or such a `CASE`), as
/// pgjdbc's metadata queries write their codes (`CASE ... WHEN 'c' THEN 0 ... END AS
/// UPDATE_RULE`).
fn type_integer_literals(projection: &mut [SelectItem]) {
    use datafusion::sql::sqlparser::ast::{CastKind, UnaryOperator, Value};
    let fits = |e: &Expr| match e {
        Expr::Value(v) => matches!(&v.value, Value::Number(n, false) if n.parse::<i32>().is_ok()),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => matches!(expr.as_ref(), Expr::Value(v)
            if matches!(&v.value, Value::Number(n, false) if format!("-{n}").parse::<i32>().is_ok())),
        _ => false,
    };
    // Whether every result of `e` is an integer literal that fits, or NULL; `None` when
    // all are NULL.
    fn results_fit(e: &Expr, fits: &dyn Fn(&Expr) -> bool) -> Option<bool> {
        match e {
            Expr::Value(v) if matches!(v.value, Value::Null) => None,
            Expr::Nested(inner) => results_fit(inner, fits),
            Expr::Case {
                conditions,
                else_result,
                ..
            } => {
                let mut any = None;
                for result in conditions
                    .iter()
                    .map(|c| &c.result)
                    .chain(else_result.as_deref())
                {
                    match results_fit(result, fits) {
                        Some(false) => return Some(false),
                        Some(true) => any = Some(true),
                        None => {}
                    }
                }
                any
            }
            e => Some(fits(e)),
        }
    }
    for item in projection.iter_mut() {
        let expr = match item {
            SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
            _ => continue,
        };
        let case_of_integers =
            matches!(expr, Expr::Case { .. }) && results_fit(expr, &fits) == Some(true);
        if fits(expr) || case_of_integers {
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(expr.clone()),
                data_type: DataType::Int(None),
                array: false,
                format: None,
            };
        }
    }
}

fn name_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            name_projection(&mut select.projection);
            type_integer_literals(&mut select.projection);
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_set_expr(left);
            name_set_expr(right);
        }
        _ => {}
    }
}

struct Namer;

impl VisitorMut for Namer {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<Self::Break> {
        name_set_expr(&mut query.body);
        ControlFlow::Continue(())
    }
}

/// Names every unaliased select item of `statement` as PostgreSQL would.
pub(crate) fn rewrite(statement: &mut Statement) {
    name_repeated_columns(statement);
    let _ = statement.visit(&mut Namer);
}

/// Ends an output column name that Tarn made unique. PostgreSQL lets a query return
/// several columns of one name (`SELECT 1, 1` has two `?column?`; psql's `\d`
/// queries return two `pg_get_expr`), DataFusion does not: the repeats in a query's
/// own result are aliased `name`, this mark and the column's position, and
/// [`shown`] takes the mark off before the client sees the names. A private-use
/// character, which no client writes in an identifier.
pub(crate) const REPEAT_MARK: char = '\u{E000}';

/// `schema` with the names its client sees: each name without [`REPEAT_MARK`] and
/// what follows it.
pub(crate) fn shown(schema: SchemaRef) -> SchemaRef {
    if !schema
        .fields()
        .iter()
        .any(|f| f.name().contains(REPEAT_MARK))
    {
        return schema;
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| match f.name().split_once(REPEAT_MARK) {
            Some((name, _)) => Arc::new(f.as_ref().clone().with_name(name)),
            None => Arc::clone(f),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `stream` with its batches' columns named as the client sees them ([`shown`]), for
/// clients that print the batches themselves (`tarn sql`, the embedded API).
pub(crate) fn shown_stream(
    stream: datafusion::execution::SendableRecordBatchStream,
) -> datafusion::execution::SendableRecordBatchStream {
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
    use futures::StreamExt;
    let schema = stream.schema();
    let names = shown(Arc::clone(&schema));
    if Arc::ptr_eq(&names, &schema) {
        return stream;
    }
    let batches = stream.map(move |batch| {
        let batch = batch?;
        let schema = shown(batch.schema());
        Ok(RecordBatch::try_new(schema, batch.columns().to_vec())?)
    });
    Box::pin(RecordBatchStreamAdapter::new(names, batches))
}

/// The name a select item's column gets: its alias, its column's name, or the name
/// [`figure`] gives it. `None` for `*` and for items named by DataFusion.
fn item_name(item: &SelectItem) -> Option<String> {
    match item {
        SelectItem::UnnamedExpr(e) => kept_name(item).or_else(|| figure(e)),
        _ => kept_name(item),
    }
}

/// The select whose items name a query's columns (the first of a set operation).
fn naming_select(body: &mut SetExpr) -> Option<&mut Select> {
    match body {
        SetExpr::Select(select) => Some(select),
        SetExpr::SetOperation { left, .. } => naming_select(left),
        SetExpr::Query(query) => naming_select(&mut query.body),
        _ => None,
    }
}

/// Gives each repeated column name of a query statement's result a unique alias
/// (see [`REPEAT_MARK`]), and of each subquery in an expression. Only those: a table,
/// view or derived table with repeated column names is an error in PostgreSQL as in
/// DataFusion once a repeated name is used.
fn name_repeated_columns(statement: &mut Statement) {
    // A subquery in an expression (`(a, a) IN (SELECT x, x ...)`, as dbt's
    // delete+insert writes a unique key listed twice) returns columns no one reads by
    // name: its repeats are named apart likewise.
    let _ = datafusion::sql::sqlparser::ast::visit_expressions_mut(statement, |expr| {
        match expr {
            Expr::InSubquery { subquery, .. }
            | Expr::Exists { subquery, .. }
            | Expr::Subquery(subquery) => name_repeats_in(subquery),
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    // An INSERT's rows are taken by position, so repeats there need names too
    // (`insert into t select 1, 1`).
    let query = match statement {
        Statement::Query(query) => query,
        Statement::Insert(insert) => match insert.source.as_mut() {
            Some(query) => query,
            None => return,
        },
        _ => return,
    };
    name_repeats_in(query);
}

/// Names apart the repeated output names of `query`'s select (see [`REPEAT_MARK`]).
fn name_repeats_in(query: &mut Query) {
    let Some(select) = naming_select(&mut query.body) else {
        return;
    };
    let mut seen = HashSet::new();
    for (i, item) in select.projection.iter_mut().enumerate() {
        let Some(name) = item_name(item) else {
            continue;
        };
        if seen.insert(name.clone()) {
            continue;
        }
        let (SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. }) = item else {
            continue;
        };
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('"', format!("{name}{REPEAT_MARK}{i}")),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::super::rewritten;

    fn grouped(sql: &str) -> String {
        rewritten(sql, super::distinguish_grouped_casts)
    }

    /// Grouping by a column and a cast of it: the cast is wrapped wherever written,
    /// and a select item so wrapped keeps the column's name.
    #[test]
    fn grouped_casts_get_names_of_their_own() {
        assert_eq!(
            grouped("select qty::text, qty from t group by qty::text, qty order by qty::text"),
            "SELECT coalesce(qty::TEXT) AS \"qty\", qty FROM t GROUP BY coalesce(qty::TEXT), qty ORDER BY coalesce(qty::TEXT)"
        );
        assert_eq!(
            grouped("select qty::text as a, qty from t group by 1, 2"),
            "SELECT coalesce(qty::TEXT) AS a, qty FROM t GROUP BY 1, 2"
        );
        assert_eq!(
            grouped("select qty::text, qty::int8 from t group by 1, 2"),
            "SELECT coalesce(qty::TEXT) AS \"qty\", coalesce(coalesce(qty::INT8)) AS \"qty\" FROM t GROUP BY 1, 2"
        );
        assert_eq!(
            grouped("select t.qty::text, qty from t group by t.qty::text, qty"),
            "SELECT coalesce(t.qty::TEXT) AS \"qty\", qty FROM t GROUP BY coalesce(t.qty::TEXT), qty"
        );
        let alone = "SELECT qty::TEXT, count(*) FROM t GROUP BY qty::TEXT";
        assert_eq!(grouped(alone), alone);
    }

    fn named(sql: &str) -> String {
        rewritten(sql, super::rewrite)
    }

    #[test]
    fn unaliased_items_get_postgres_names_unless_they_would_collide() {
        assert_eq!(
            named("select count(*), upper(t.name), t.id, 1 + 2, x::int, 'a'::text from t"),
            "SELECT count(*) AS \"count\", upper(t.name) AS \"upper\", t.id, 1 + 2 AS \"?column?\", \
             x::INT AS \"x\", 'a'::TEXT AS \"text\" FROM t"
        );
        // In a subquery, two `?column?` and a `count` that an alias already takes keep
        // their own names.
        assert_eq!(
            named("select * from (select 1, 2, count(*), 3 as count from t) s"),
            "SELECT * FROM (SELECT CAST(1 AS INT), CAST(2 AS INT), count(*), CAST(3 AS INT) AS count FROM t) s"
        );
        assert_eq!(
            named("select (select max(id) from t) from u"),
            "SELECT (SELECT max(id) AS \"max\" FROM t) AS \"max\" FROM u"
        );
    }

    #[test]
    fn repeated_names_of_a_result_are_marked_and_shown_without_the_mark() {
        use std::sync::Arc;

        use datafusion::arrow::datatypes::{DataType, Field, Schema};

        let mark = super::REPEAT_MARK;
        assert_eq!(
            named("select 1, 2, count(*), 3 as count, t.id, u.id from t, u"),
            format!(
                "SELECT CAST(1 AS INT) AS \"?column?\", CAST(2 AS INT) AS \"?column?{mark}1\", count(*) AS \"count\", \
                 CAST(3 AS INT) AS \"count{mark}3\", t.id, u.id AS \"id{mark}5\" FROM t, u"
            )
        );
        // An INSERT's rows too (DataFusion refused `insert into t select 1, 1`).
        assert_eq!(
            named("insert into t select a, a, 1 from u"),
            format!(
                "INSERT INTO t SELECT a, a AS \"a{mark}1\", CAST(1 AS INT) AS \"?column?\" FROM u"
            )
        );
        let schema = Arc::new(Schema::new(vec![
            Field::new("count", DataType::Int64, false),
            Field::new(format!("count{mark}1"), DataType::Int64, false),
        ]));
        let names: Vec<String> = super::shown(schema)
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["count", "count"]);
    }
}

/// Gives function calls that differ only by casts of their arguments names of their
/// own: DataFusion names a cast by what it casts, so `sum(a::bigint)` beside `sum(a)`
/// would both be `sum(t.a)`, which an aggregate refuses (PostgreSQL computes both).
/// The cast arguments of each such call are wrapped in one, two, ... one-argument
/// `coalesce`, which changes neither value nor type. Calls that do not collide are
/// left alone.
pub(crate) fn distinguish_casts(statement: &mut Statement) {
    use datafusion::sql::sqlparser::ast::{
        FunctionArg, FunctionArgExpr, FunctionArguments, visit_expressions, visit_expressions_mut,
    };
    use std::collections::HashMap;

    fn uncast(expr: &Expr) -> &Expr {
        match expr {
            Expr::Cast { expr, .. } | Expr::Nested(expr) => uncast(expr),
            _ => expr,
        }
    }
    // A call's text without its arguments' casts (what DataFusion's name shows of
    // it), and its text.
    fn keys(expr: &Expr) -> Option<(String, String)> {
        let Expr::Function(f) = expr else {
            return None;
        };
        let FunctionArguments::List(list) = &f.args else {
            return None;
        };
        let args: Vec<String> = list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => uncast(e).to_string(),
                other => other.to_string(),
            })
            .collect();
        let named = format!("{}({})", f.name, args.join(", ")).to_ascii_lowercase();
        Some((named, expr.to_string()))
    }
    fn has_cast(expr: &Expr) -> bool {
        matches!(expr, Expr::Function(f) if matches!(&f.args, FunctionArguments::List(l)
            if l.args.iter().any(|a| matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Cast { .. }))))))
    }

    // Per name, the distinct calls with a cast argument, and whether one without.
    let mut calls: HashMap<String, (Vec<String>, bool)> = HashMap::new();
    let _ = visit_expressions(statement, |expr| {
        if let Some((named, written)) = keys(expr) {
            let (cast, plain) = calls.entry(named).or_default();
            if !has_cast(expr) {
                *plain = true;
            } else if !cast.contains(&written) {
                cast.push(written);
            }
        }
        ControlFlow::<()>::Continue(())
    });
    calls.retain(|_, (cast, plain)| cast.len() + usize::from(*plain) > 1);
    if calls.is_empty() {
        return;
    }
    let _ = visit_expressions_mut(statement, |expr| {
        let wraps = keys(expr).and_then(|(named, written)| {
            let (cast, _) = calls.get(&named)?;
            Some(cast.iter().position(|w| *w == written)? + 1)
        });
        if let (Some(wraps), Expr::Function(f)) = (wraps, expr)
            && let FunctionArguments::List(list) = &mut f.args
        {
            for arg in &mut list.args {
                if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = arg
                    && matches!(e, Expr::Cast { .. })
                {
                    for _ in 0..wraps {
                        let inner = std::mem::replace(e, Expr::Identifier(Ident::new("")));
                        *e = super::call("coalesce", vec![inner]);
                    }
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// Gives grouping expressions that differ only by a cast names of their own:
/// DataFusion names `qty::text` by the column it casts, so `GROUP BY qty::text, qty`
/// (or `GROUP BY 1, 2` over those select items) would group by two `t.qty`, which it
/// refuses; PostgreSQL groups by both. In each such SELECT the colliding casts are
/// wrapped in one, two, ... one-argument `coalesce` wherever they are written (select
/// list, GROUP BY, HAVING, ORDER BY), which changes neither value nor type; a select
/// item so wrapped keeps PostgreSQL's name for it (the column's) as an alias. Only
/// casts of columns are rewritten; other collisions are left to DataFusion's error.
pub(crate) fn distinguish_grouped_casts(statement: &mut Statement) {
    struct Grouped;
    impl VisitorMut for Grouped {
        type Break = ();
        fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
            distinguish_in(query);
            ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Grouped);
}

fn distinguish_in(query: &mut Query) {
    use datafusion::sql::sqlparser::ast::{GroupByExpr, Value, visit_expressions_mut};
    use std::collections::HashMap;

    fn uncast(expr: &Expr) -> &Expr {
        match expr {
            Expr::Cast { expr, .. } | Expr::Nested(expr) => uncast(expr),
            _ => expr,
        }
    }
    // The column a cast of a column casts, as PostgreSQL names the cast's column.
    fn column_name(expr: &Expr) -> Option<String> {
        let ident = match uncast(expr) {
            Expr::Identifier(ident) => ident,
            Expr::CompoundIdentifier(parts) => parts.last()?,
            _ => return None,
        };
        Some(match ident.quote_style {
            Some(_) => ident.value.clone(),
            None => ident.value.to_ascii_lowercase(),
        })
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let GroupByExpr::Expressions(grouping, _) = &select.group_by else {
        return;
    };
    // Each grouping expression, or the select item its ordinal or alias names.
    let item = |i: usize| match select.projection.get(i)? {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    };
    let grouped: Vec<&Expr> = grouping
        .iter()
        .map(|g| {
            let named = match g {
                Expr::Value(v) => match &v.value {
                    Value::Number(n, _) => n
                        .parse::<usize>()
                        .ok()
                        .and_then(|n| item(n.checked_sub(1)?)),
                    _ => None,
                },
                Expr::Identifier(name) => select.projection.iter().find_map(|p| match p {
                    SelectItem::ExprWithAlias { expr, alias } if alias.value == name.value => {
                        Some(expr)
                    }
                    _ => None,
                }),
                _ => None,
            };
            named.unwrap_or(g)
        })
        .collect();
    // Per column (or text without casts), the distinct texts grouped by.
    let mut by_uncast: HashMap<String, Vec<(String, bool)>> = HashMap::new();
    for g in &grouped {
        // By the column's name where it is one (`t.qty` and `qty` may be one column).
        let key = column_name(g).unwrap_or_else(|| uncast(g).to_string());
        let texts = by_uncast.entry(key).or_default();
        let text = g.to_string();
        if !texts.iter().any(|(t, _)| *t == text) {
            let cast = matches!(g, Expr::Cast { .. }) && column_name(g).is_some();
            texts.push((text, cast));
        }
    }
    let mut wraps: HashMap<String, usize> = HashMap::new();
    for texts in by_uncast.values().filter(|t| t.len() > 1) {
        for (k, (text, _)) in texts.iter().filter(|(_, cast)| *cast).enumerate() {
            wraps.insert(text.clone(), k + 1);
        }
    }
    if wraps.is_empty() {
        return;
    }
    for item in &mut select.projection {
        if let SelectItem::UnnamedExpr(e) = item
            && wraps.contains_key(&e.to_string())
            && let Some(name) = column_name(e)
        {
            let expr = std::mem::replace(e, Expr::Identifier(Ident::new("")));
            *item = SelectItem::ExprWithAlias {
                expr,
                alias: Ident::with_quote('"', name),
            };
        }
    }
    let wrap = |expr: &mut Expr| {
        if let Some(&k) = wraps.get(&expr.to_string()) {
            for _ in 0..k {
                let inner = std::mem::replace(expr, Expr::Identifier(Ident::new("")));
                *expr = super::call("coalesce", vec![inner]);
            }
        }
        ControlFlow::<()>::Continue(())
    };
    let mut wrap = wrap;
    let _ = visit_expressions_mut(select.as_mut(), &mut wrap);
    if let Some(order_by) = query.order_by.as_mut() {
        let _ = visit_expressions_mut(order_by, &mut wrap);
    }
}
