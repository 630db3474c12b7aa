//! Where a result column comes from: the table and column PostgreSQL names in
//! RowDescription (table OID and attribute number) when a column is a table's
//! column passed through unchanged. pgjdbc's `ResultSetMetaData.getTableName`,
//! psqlODBC's `SQLColAttribute` and npgsql's schema reads rely on it.
//!
//! The origin is followed down the logical plan through projections (a column or
//! an alias of one), filters, sorts, limits, aliases, joins, window and grouping
//! columns to a table scan; anything computed has none, as in PostgreSQL. The
//! session then records the table's pg_class OID and the column's number as field
//! metadata ([`TABLE_OID_KEY`], [`ATTNUM_KEY`]) for the wire layer.

use std::collections::HashMap;

use datafusion::common::TableReference;
use datafusion::logical_expr::{Expr, ExprSchemable, JoinType, LogicalPlan};
use tarn_catalog::types::DeclaredType;

/// Field metadata: the pg_class OID of the table a result column comes from.
pub const TABLE_OID_KEY: &str = "tarn.table_oid";
/// Field metadata: the column's number in that table (1-based, as `attnum`).
pub const ATTNUM_KEY: &str = "tarn.attnum";

/// Field metadata: set on a computed result column of type numeric that the query
/// casts to `numeric(p, s)` (`x::numeric(10,2)`). Clients are told a numeric's
/// precision and scale (its typmod) only for such a cast and for a table's column, as
/// PostgreSQL tells them; other computed numerics (`sum(x)`, `a * b`, `round(x, 2)`)
/// have none, where DataFusion's decimal type always carries them.
pub const NUMERIC_CAST_KEY: &str = "tarn.numeric_cast";

/// The expression that computes output column `index` of `plan`, past aliases, and
/// the projection's input it reads: followed through filters, sorts, limits, aliases
/// and projections that pass a column on; `None` for a column no projection computes.
fn computed(plan: &LogicalPlan, index: usize, depth: usize) -> Option<(&Expr, &LogicalPlan)> {
    if depth > 64 {
        return None;
    }
    match plan {
        LogicalPlan::Projection(p) => {
            let mut expr = p.expr.get(index)?;
            while let Expr::Alias(alias) = expr {
                expr = &alias.expr;
            }
            match expr {
                Expr::Column(column) => {
                    let at = p.input.schema().index_of_column(column).ok()?;
                    computed(&p.input, at, depth + 1)
                }
                other => Some((other, p.input.as_ref())),
            }
        }
        LogicalPlan::Filter(f) => computed(&f.input, index, depth + 1),
        LogicalPlan::Sort(s) => computed(&s.input, index, depth + 1),
        LogicalPlan::Limit(l) => computed(&l.input, index, depth + 1),
        LogicalPlan::SubqueryAlias(a) => computed(&a.input, index, depth + 1),
        _ => None,
    }
}

/// For each output column of `plan`, whether it is a cast to `numeric(p, s)` written
/// in the query (see [`NUMERIC_CAST_KEY`]).
pub(crate) fn numeric_casts(plan: &LogicalPlan) -> Vec<bool> {
    use datafusion::arrow::datatypes::DataType;
    // A bare `numeric` is planned as (38, 10): PostgreSQL's has no typmod.
    let written = |t: &DataType| matches!(t, DataType::Decimal128(p, s) if (*p, *s) != (38, 10));
    (0..plan.schema().fields().len())
        .map(|i| match computed(plan, i, 0) {
            Some((Expr::Cast(cast), _)) => written(cast.field.data_type()),
            Some((Expr::TryCast(cast), _)) => written(cast.field.data_type()),
            _ => false,
        })
        .collect()
}

/// For each output column of `plan` that is a `CASE` whose branches (NULLs aside) are
/// all of one PostgreSQL type Arrow's type does not tell (`jsonb`, `json`, `uuid`,
/// `varchar`: [`DeclaredType`]), that type's metadata: the `CASE` is of that type, as
/// in PostgreSQL, where DataFusion 55 gives it none. A length (`varchar(5)`) is kept
/// only where no branch is NULL (an `ELSE` left out is NULL), as PostgreSQL's common
/// typmod. Tarn writes such a `CASE` too, for a scalar subquery with a condition on the
/// outer row only (SQLAlchemy 1.4's `(SELECT json_build_object(...) ... AND
/// a.attidentity != '')` is json).
pub(crate) fn case_types(plan: &LogicalPlan) -> Vec<Option<HashMap<String, String>>> {
    (0..plan.schema().fields().len())
        .map(|i| match computed(plan, i, 0) {
            Some((Expr::Case(case), input)) => {
                case_declared(case, input.schema()).map(DeclaredType::metadata)
            }
            _ => None,
        })
        .collect()
}

/// The type [`case_types`] gives `case` over rows of `schema`; a branch that is a
/// `CASE` itself counts as the type it has so.
fn case_declared(
    case: &datafusion::logical_expr::expr::Case,
    schema: &datafusion::common::DFSchema,
) -> Option<DeclaredType> {
    let mut shared = None;
    let mut null = case.else_expr.is_none();
    let branches = case.when_then_expr.iter().map(|(_, then)| then.as_ref());
    for branch in branches.chain(case.else_expr.as_deref()) {
        let declared = match branch {
            Expr::Literal(v, _) if v.is_null() => {
                null = true;
                continue;
            }
            Expr::Case(inner) => case_declared(inner, schema)?,
            other => DeclaredType::of(&other.to_field(schema).ok()?.1)?,
        };
        match shared {
            None => shared = Some(declared),
            Some(first) if first == declared => {}
            Some(_) => return None,
        }
    }
    match shared? {
        DeclaredType::Varchar(_) if null => Some(DeclaredType::Varying),
        DeclaredType::Char(_) if null => None,
        declared => Some(declared),
    }
}

/// For each output column of `plan`, the table and column it comes from, if any.
pub(crate) fn column_origins(plan: &LogicalPlan) -> Vec<Option<(TableReference, usize)>> {
    (0..plan.schema().fields().len())
        .map(|i| origin(plan, i, 0))
        .collect()
}

fn origin(plan: &LogicalPlan, index: usize, depth: usize) -> Option<(TableReference, usize)> {
    if depth > 64 {
        return None;
    }
    let through = |input: &LogicalPlan, expr: &Expr| -> Option<(TableReference, usize)> {
        let (column, cast_to) = passed_through(expr)?;
        let at = input.schema().index_of_column(column).ok()?;
        if let Some(target) = cast_to
            && !same_type(input.schema().field(at).data_type(), target)
        {
            return None;
        }
        origin(input, at, depth + 1)
    };
    match plan {
        LogicalPlan::Projection(p) => through(&p.input, p.expr.get(index)?),
        LogicalPlan::Filter(f) => origin(&f.input, index, depth + 1),
        LogicalPlan::Sort(s) => origin(&s.input, index, depth + 1),
        LogicalPlan::Limit(l) => origin(&l.input, index, depth + 1),
        // A view, inlined under its own name: PostgreSQL names the view as the
        // column's relation, not the tables it reads (a derived table's alias is a
        // bare name, and is looked through as PostgreSQL does).
        LogicalPlan::SubqueryAlias(a) if !matches!(a.alias, TableReference::Bare { .. }) => {
            (index < a.schema.fields().len()).then(|| (a.alias.clone(), index + 1))
        }
        LogicalPlan::SubqueryAlias(a) => origin(&a.input, index, depth + 1),
        LogicalPlan::Repartition(r) => origin(&r.input, index, depth + 1),
        LogicalPlan::Window(w) => {
            (index < w.input.schema().fields().len()).then(|| origin(&w.input, index, depth + 1))?
        }
        LogicalPlan::Aggregate(a) => through(&a.input, a.group_expr.get(index)?),
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            match j.join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    if index < left {
                        origin(&j.left, index, depth + 1)
                    } else {
                        origin(&j.right, index - left, depth + 1)
                    }
                }
                JoinType::LeftSemi | JoinType::LeftAnti => origin(&j.left, index, depth + 1),
                JoinType::RightSemi | JoinType::RightAnti => origin(&j.right, index, depth + 1),
                _ => None,
            }
        }
        LogicalPlan::TableScan(scan) => {
            let source = scan.source.schema();
            let at = match &scan.projection {
                Some(projection) => *projection.get(index)?,
                None => index,
            };
            (at < source.fields().len()).then(|| (scan.table_name.clone(), at + 1))
        }
        _ => None,
    }
}

/// Whether a cast from `from` to `to` leaves the PostgreSQL type alone (Arrow's three
/// string layouts are all `text`).
fn same_type(
    from: &datafusion::arrow::datatypes::DataType,
    to: &datafusion::arrow::datatypes::DataType,
) -> bool {
    use datafusion::arrow::datatypes::DataType::{LargeUtf8, Utf8, Utf8View};
    from == to
        || (matches!(from, Utf8 | Utf8View | LargeUtf8)
            && matches!(to, Utf8 | Utf8View | LargeUtf8))
}

/// The column `expr` passes through unchanged: a column, an alias of one, or a cast
/// of one to its own type (psqlODBC's `CAST("orders"."status" AS TEXT)`).
fn passed_through(
    expr: &Expr,
) -> Option<(
    &datafusion::common::Column,
    Option<&datafusion::arrow::datatypes::DataType>,
)> {
    match expr {
        Expr::Column(c) => Some((c, None)),
        Expr::Alias(a) => passed_through(&a.expr),
        Expr::Cast(cast) => match cast.expr.as_ref() {
            Expr::Column(c) => Some((c, Some(cast.field.data_type()))),
            _ => None,
        },
        _ => None,
    }
}
