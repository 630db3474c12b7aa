//! Types of a statement's `$n` parameters, as PostgreSQL resolves them.
//!
//! Drivers prepare most statements without parameter types (tokio-postgres, asyncpg,
//! pgjdbc, node-postgres) and then encode each value as the ParameterDescription
//! says: a parameter described as `text` where PostgreSQL says `integer` breaks
//! asyncpg's `fetchval('select $1 in (1, 2)', 1)` before anything runs. DataFusion
//! infers a placeholder's type from a column or value it is compared with; what it
//! leaves open is settled here from the rest of the statement, as PostgreSQL's
//! parse analysis would.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, IntervalUnit, TimeUnit};
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::{Cast, Expr, ExprSchemable, LogicalPlan, TryCast};

use crate::error::Result;

/// `plan` with each parameter the client declared a type for taking that type where
/// DataFusion inferred none (`SELECT $1` with `$1` a date is a date, as in
/// PostgreSQL; it was described as `unknown`), or where the declared type is a
/// number and DataFusion inferred another number type from the parameter's context,
/// as PostgreSQL keeps a declared type: `qty = $1` with `$1` a float8 compares as
/// float8 (2.5 matches no integer), `qty + $1` is a float8.
///
/// A parameter the client left untyped and DataFusion inferred nothing for takes the
/// type PostgreSQL resolves it to: the type of a cast of it elsewhere in the statement
/// (`SELECT $1::int, $1`), its context's (`LIMIT $1` is a bigint, `CASE WHEN $1` a
/// boolean), or else `text`, as PostgreSQL resolves an `unknown` left at the end
/// (`SELECT $1` is a text column). One DataFusion typed `bigint` only from integer
/// literals that fit an `integer` (`$1 = 1`, `$1 + 1`, `$1 IN (1, 2)`) is an
/// `integer`, as PostgreSQL types those literals ([`beside_integer_literals`]):
/// tokio-postgres and sqlx refuse to send an `i32` as a `bigint`.
pub(super) fn declared_types(
    plan: LogicalPlan,
    declared: &[Option<DataType>],
) -> Result<LogicalPlan> {
    // A type DataFusion inferred for one use of a parameter (`name = $1 OR name =
    // upper($1)`: it reports none for `$1` then), else a cast's; `Null` is what it
    // infers beside another untyped parameter (`$1 AND $2`).
    let mut known: Vec<Option<DataType>> = Vec::new();
    for (index, data_type) in placeholder_uses(&plan)?
        .into_iter()
        .chain(
            parameter_types(&plan)?
                .into_iter()
                .enumerate()
                .filter_map(|(i, t)| Some((i, t?))),
        )
        .chain(context_types(&plan)?)
        .filter(|(_, t)| !t.is_null())
    {
        if known.len() <= index {
            known.resize(index + 1, None);
        }
        known[index].get_or_insert(data_type);
    }
    let integers = beside_integer_literals(&plan)?;
    let retyped = std::cell::Cell::new(false);
    let narrowed = std::cell::Cell::new(false);
    let plan = placeholders_typed(plan, |index, inferred| {
        let inferred = inferred.filter(|t| !t.is_null());
        if inferred == Some(&DataType::Int64)
            && declared.get(index).is_none_or(Option::is_none)
            && integers.contains(&index)
        {
            narrowed.set(true);
            retyped.set(true);
            return Some(DataType::Int32);
        }
        if inferred.is_none() && declared.get(index).is_none_or(Option::is_none) {
            retyped.set(true);
            return Some(match known.get(index).cloned().flatten() {
                Some(DataType::Int64) if integers.contains(&index) => {
                    narrowed.set(true);
                    DataType::Int32
                }
                Some(known) => known,
                None => DataType::Utf8,
            });
        }
        let declared = declared.get(index).cloned().flatten()?;
        let numbers = declared.is_numeric() && inferred.is_none_or(DataType::is_numeric);
        let retype = match inferred {
            None => true,
            Some(inferred) => numbers && *inferred != declared,
        };
        retyped.set(retyped.get() || retype);
        retype.then_some(declared)
    })?;
    // The plans above a placeholder typed here take its type (a projection of `$1`
    // was still `Null`, and its rows were encoded as `unknown`).
    let plan = match retyped.get() {
        true => {
            (plan.transform_up_with_subqueries(|node| {
                node.recompute_schema().map(Transformed::yes)
            }))?
            .data
        }
        false => plan,
    };
    if !declared.iter().flatten().any(DataType::is_numeric) && !narrowed.get() {
        return Ok(plan);
    }
    // Integer literals beside a parameter now typed `integer` are `integer` too
    // (`$1 * 3` with `$1` an int4 is int4, as in PostgreSQL): the literals were
    // narrowed when planning, before the parameters had their declared types.
    Ok(crate::pg::overflow::integer_literals(plan)?)
}

/// The parameters compared or computed with integer literals that fit an `integer`
/// (`$1 = 1`, `1 + $1`, `$1 IN (1, 2)`, `$1 BETWEEN 1 AND 5`) and with nothing else of
/// a known type (`$1 = 1 AND $1 = bigint_col` is a `bigint`), by position.
fn beside_integer_literals(plan: &LogicalPlan) -> Result<std::collections::HashSet<usize>> {
    let small = |e: &Expr| {
        let e = match e {
            Expr::Cast(c) => c.expr.as_ref(),
            e => e,
        };
        matches!(e, Expr::Literal(ScalarValue::Int64(Some(v)), _) if i32::try_from(*v).is_ok())
    };
    let mut literal = std::collections::HashSet::new();
    let mut other = std::collections::HashSet::new();
    let mut sort = |values: &[&Expr]| {
        for (i, value) in values.iter().enumerate() {
            let Expr::Placeholder(p) = value else {
                continue;
            };
            let Some(index) = position(&p.id) else {
                continue;
            };
            let others: Vec<&Expr> = values
                .iter()
                .enumerate()
                .filter(|(j, e)| *j != i && !matches!(e, Expr::Placeholder(_)))
                .map(|(_, e)| *e)
                .collect();
            match !others.is_empty() && others.iter().all(|e| small(e)) {
                true => literal.insert(index),
                false => other.insert(index),
            };
        }
    };
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                match e {
                    Expr::BinaryExpr(b) => sort(&[&b.left, &b.right]),
                    Expr::InList(list) => {
                        let values: Vec<&Expr> = std::iter::once(list.expr.as_ref())
                            .chain(&list.list)
                            .collect();
                        sort(&values)
                    }
                    Expr::Between(b) => sort(&[&b.expr, &b.low, &b.high]),
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(literal.difference(&other).copied().collect())
}

/// Each use of a parameter in `plan` DataFusion gave a type, by position.
fn placeholder_uses(plan: &LogicalPlan) -> Result<Vec<(usize, DataType)>> {
    let mut found = Vec::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::Placeholder(p) = e
                    && let Some(field) = &p.field
                    && let Some(index) = position(&p.id)
                {
                    found.push((index, field.data_type().clone()));
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    Ok(found)
}

/// The position of parameter `$n` (`n - 1`), from its placeholder's name.
fn position(id: &str) -> Option<usize> {
    id.strip_prefix('$')
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
}

/// The position of `e` if it is a parameter with no type yet.
fn untyped(e: &Expr) -> Option<usize> {
    match e {
        Expr::Placeholder(p) if p.field.as_ref().is_none_or(|f| f.data_type().is_null()) => {
            position(&p.id)
        }
        _ => None,
    }
}

/// Parameters whose place in `plan` gives their type where DataFusion infers none, by
/// position, as PostgreSQL resolves them: a bigint as `LIMIT $n` or `OFFSET $n`; a
/// boolean as a condition (`WHERE $n`, `CASE WHEN $n`, an operand of `AND`, `OR`,
/// `NOT`); the type of the values beside it in `$n IN (1, 2)`, `$n BETWEEN 1 AND 5`;
/// and, as a function's argument, a type the function takes there as it is
/// ([`argument_types`]).
fn context_types(plan: &LogicalPlan) -> Result<Vec<(usize, DataType)>> {
    use datafusion::logical_expr::Operator;
    let mut found = Vec::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::Limit(limit) = node {
            for e in limit.skip.iter().chain(limit.fetch.iter()) {
                found.extend(untyped(e).map(|i| (i, DataType::Int64)));
            }
        }
        let condition = |e: &Expr| untyped(e).map(|i| (i, DataType::Boolean));
        if let LogicalPlan::Filter(filter) = node {
            found.extend(condition(&filter.predicate));
        }
        // What the node's expressions read: its input's columns (a join's, both sides').
        let schema = match node.inputs().as_slice() {
            [input] => Arc::clone(input.schema()),
            _ => Arc::clone(node.schema()),
        };
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                match e {
                    Expr::Case(case) if case.expr.is_none() => {
                        found.extend(case.when_then_expr.iter().filter_map(|(w, _)| condition(w)))
                    }
                    Expr::BinaryExpr(b) if matches!(b.op, Operator::And | Operator::Or) => {
                        found.extend(condition(&b.left).into_iter().chain(condition(&b.right)))
                    }
                    Expr::Not(inner) => found.extend(condition(inner)),
                    Expr::InList(list) => {
                        let values = std::iter::once(list.expr.as_ref()).chain(&list.list);
                        found.extend(common_types(values, &schema));
                    }
                    Expr::Between(between) => {
                        let values = [&between.expr, &between.low, &between.high];
                        found.extend(common_types(values.map(Box::as_ref), &schema));
                    }
                    Expr::ScalarFunction(call) => found.extend(argument_types(call, &schema)),
                    _ => {}
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })?;
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(found)
}

/// The untyped parameters among `values` (of `x IN (...)` or `x BETWEEN a AND b`)
/// with the type of the first of them that has one, as PostgreSQL resolves `unknown`
/// beside known types.
fn common_types<'a>(
    values: impl IntoIterator<Item = &'a Expr>,
    schema: &DFSchema,
) -> Vec<(usize, DataType)> {
    let values: Vec<&Expr> = values.into_iter().collect();
    let Some(known) = values
        .iter()
        .filter(|e| untyped(e).is_none())
        .filter_map(|e| e.get_type(schema).ok())
        .find(|t| !t.is_null())
    else {
        return Vec::new();
    };
    values
        .iter()
        .filter_map(|e| untyped(e))
        .map(|index| (index, known.clone()))
        .collect()
}

/// The untyped parameters among `call`'s arguments, each with the first type the
/// function takes at its place without a cast: `text`, as PostgreSQL prefers the
/// string category for an `unknown` argument, then `float8` (PostgreSQL's preferred
/// number: `abs($1)`), `integer` (`make_date($1, $2, $3)`), `bigint`
/// (`generate_series(1, $1)`), `boolean`, `timestamp`, `date` and `interval`; where
/// the result is the arguments' common type (`coalesce($1, 1)`), the other
/// arguments' types before those. A parameter no type fits stays
/// untyped (planning then reports the function call).
fn argument_types(call: &ScalarFunction, schema: &DFSchema) -> Vec<(usize, DataType)> {
    use datafusion::logical_expr::type_coercion::functions::fields_with_udf;
    if call.args.iter().all(|a| untyped(a).is_none()) {
        return Vec::new();
    }
    let mut types: Vec<DataType> = call
        .args
        .iter()
        .map(|a| match untyped(a) {
            Some(_) => DataType::Null,
            None => a.get_type(schema).unwrap_or(DataType::Null),
        })
        .collect();
    // The other arguments' types first where the function's result is their common
    // type, as PostgreSQL's `unknown` takes the known type beside it there.
    let beside = match call.func.name() {
        "coalesce" | "nullif" | "greatest" | "least" | "make_array" | "nvl" | "ifnull" => {
            types.clone()
        }
        _ => Vec::new(),
    };
    let mut candidates: Vec<DataType> = Vec::new();
    for t in beside.into_iter().filter(|t| !t.is_null()).chain([
        DataType::Utf8,
        DataType::Float64,
        DataType::Int32,
        DataType::Int64,
        DataType::Boolean,
        DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Date32,
        DataType::Interval(IntervalUnit::MonthDayNano),
    ]) {
        if !candidates.contains(&t) {
            candidates.push(t);
        }
    }
    let mut found = Vec::new();
    for (at, arg) in call.args.iter().enumerate() {
        let Some(index) = untyped(arg) else {
            continue;
        };
        let fits = |types: &[DataType]| {
            let fields: Vec<_> = types
                .iter()
                .map(|t| Arc::new(Field::new("argument", t.clone(), true)))
                .collect();
            fields_with_udf(&fields, call.func.as_ref())
                .is_ok_and(|coerced| coerced[at].data_type() == &types[at])
        };
        let chosen = candidates.iter().find(|candidate| {
            types[at] = (*candidate).clone();
            fits(&types)
        });
        types[at] = chosen.cloned().unwrap_or(DataType::Null);
        found.extend(chosen.map(|t| (index, t.clone())));
    }
    found
}

/// `plan` with the type of each parameter `$n` that `retype(n - 1, its type)` gives a
/// type for set to that type.
pub(super) fn placeholders_typed(
    plan: LogicalPlan,
    retype: impl Fn(usize, Option<&DataType>) -> Option<DataType>,
) -> datafusion::common::Result<LogicalPlan> {
    use datafusion::logical_expr::expr::Placeholder;
    plan.transform_up_with_subqueries(|node| {
        node.map_expressions(|expr| {
            expr.transform(|e| match e {
                Expr::Placeholder(Placeholder { id, field }) => {
                    let new_type = position(&id)
                        .and_then(|index| retype(index, field.as_ref().map(|f| f.data_type())));
                    let field = match new_type {
                        Some(t) => Some(Arc::new(Field::new(&id, t, true))),
                        None => field,
                    };
                    Ok(Transformed::yes(Expr::Placeholder(Placeholder {
                        id,
                        field,
                    })))
                }
                e => Ok(Transformed::no(e)),
            })
        })
    })
    .map(|t| t.data)
}

/// `$1..$n` types of a plan, by position. DataFusion infers a placeholder's type from
/// the column it is compared with; one written `$1::bigint` takes the cast's type, as
/// in PostgreSQL.
pub(super) fn parameter_types(plan: &LogicalPlan) -> Result<Vec<Option<DataType>>> {
    let mut found = plan.get_parameter_types()?;
    let mut casts = std::collections::HashMap::new();
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|expr| {
            expr.apply(|e| {
                if let Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) = e
                    && let Expr::Placeholder(placeholder) = expr.as_ref()
                {
                    casts
                        .entry(placeholder.id.clone())
                        .or_insert_with(|| field.data_type().clone());
                }
                Ok(TreeNodeRecursion::Continue)
            })
        })
    })?;
    for (id, data_type) in casts {
        let slot = found.entry(id).or_insert(None);
        if slot.is_none() {
            *slot = Some(data_type);
        }
    }
    let mut types = Vec::new();
    for (name, data_type) in found {
        let Some(index) = name.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) else {
            continue;
        };
        if index == 0 {
            continue;
        }
        if types.len() < index {
            types.resize(index, None);
        }
        types[index - 1] = data_type;
    }
    Ok(types)
}
