//! Scalar subqueries that are not aggregated, such as pgjdbc's
//! `(SELECT c.relkind = 'c' FROM pg_class c WHERE c.oid = t.typrelid)`.
//!
//! DataFusion decorrelates a correlated scalar subquery only when it aggregates
//! ("Correlated scalar subquery must be aggregated"). PostgreSQL's rule is that the
//! subquery yields NULL for no row, its value for one row, and fails with 21000 for
//! more. [`rewrite`] wraps the subquery's one output expression in
//! [`SingleValue`], an aggregate with exactly that rule, so DataFusion can plan it
//! and the answer is PostgreSQL's.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Int64Type};
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    Expr, Function, GroupByExpr, Query, SelectItem, SetExpr, Statement, visit_expressions,
    visit_expressions_mut,
};

pub(crate) const NAME: &str = "pg_single_value";

#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SingleValue {
    signature: Signature,
}

impl SingleValue {
    pub(crate) fn new() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for SingleValue {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> DFResult<DataType> {
        Ok(args[0].clone())
    }

    /// The value's own field, with the type PostgreSQL knows it by (`jsonb`,
    /// `varchar(5)`: its metadata), as the subquery's column has it.
    fn return_field(&self, arg_fields: &[FieldRef]) -> DFResult<FieldRef> {
        let Some(value) = arg_fields.first() else {
            return datafusion::common::plan_err!("{NAME} takes one argument");
        };
        Ok(Arc::new(
            value.as_ref().clone().with_name(NAME).with_nullable(true),
        ))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> DFResult<Box<dyn Accumulator>> {
        Ok(Box::new(Single {
            value: ScalarValue::try_from(args.return_field.data_type())?,
            rows: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> DFResult<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(
                args.return_field
                    .as_ref()
                    .clone()
                    .with_name(format_state_name(args.name, "value"))
                    .with_nullable(true),
            ),
            Arc::new(Field::new(
                format_state_name(args.name, "rows"),
                DataType::Int64,
                false,
            )),
        ])
    }
}

#[derive(Debug)]
struct Single {
    value: ScalarValue,
    rows: i64,
}

impl Single {
    fn too_many() -> datafusion::error::DataFusionError {
        datafusion::error::DataFusionError::External(Box::new(crate::SqlError::SubqueryRows))
    }
}

impl Accumulator for Single {
    fn update_batch(&mut self, values: &[ArrayRef]) -> DFResult<()> {
        let column = &values[0];
        if column.is_empty() {
            return Ok(());
        }
        self.rows += i64::try_from(column.len()).unwrap_or(i64::MAX);
        if self.rows > 1 {
            return Err(Self::too_many());
        }
        self.value = ScalarValue::try_from_array(column, 0)?;
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> DFResult<()> {
        let rows = states[1].as_primitive::<Int64Type>();
        for i in 0..rows.len() {
            let n = rows.value(i);
            if n > 0 {
                self.rows += n;
                if self.rows > 1 {
                    return Err(Self::too_many());
                }
                self.value = ScalarValue::try_from_array(&states[0], i)?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> DFResult<Vec<ScalarValue>> {
        Ok(vec![
            self.value.clone(),
            ScalarValue::Int64(Some(self.rows)),
        ])
    }

    fn evaluate(&mut self) -> DFResult<ScalarValue> {
        Ok(self.value.clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.value.size()
    }
}

/// Aggregates and window functions a subquery's output may already use, in which
/// case it is left alone.
const AGGREGATES: &[&str] = &[
    "count",
    "sum",
    "min",
    "max",
    "avg",
    "array_agg",
    "string_agg",
    "bool_and",
    "bool_or",
    "every",
    "json_agg",
    "jsonb_agg",
    "json_object_agg",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "variance",
    "var_pop",
    "var_samp",
    "median",
    "first_value",
    "last_value",
    "approx_distinct",
    "approx_median",
    "approx_percentile_cont",
    "bit_and",
    "bit_or",
    "bit_xor",
    "corr",
    "covar_pop",
    "covar_samp",
    "percentile_cont",
    "mode",
    NAME,
];

/// A called function's unqualified name, lower case (`pg_catalog.COUNT` is `count`).
pub(crate) fn function_name(f: &Function) -> String {
    unqualified_name(&f.name)
}

/// The last part of `name`, lower case (`pg_catalog.COUNT` is `count`); empty if it
/// is not an identifier.
pub(crate) fn unqualified_name(name: &datafusion::sql::sqlparser::ast::ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map(|i| i.value.to_ascii_lowercase())
        .unwrap_or_default()
}

fn aggregates(expr: &Expr) -> bool {
    let mut found = false;
    let _ = visit_expressions(expr, |e| {
        if let Expr::Function(f) = e {
            let name = function_name(f);
            if f.over.is_some() || AGGREGATES.contains(&name.as_str()) {
                found = true;
                return ControlFlow::Break(());
            }
        }
        // A nested subquery is its own scope.
        if matches!(
            e,
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. }
        ) {
            return ControlFlow::Continue(());
        }
        ControlFlow::Continue(())
    });
    found
}

fn wrap(expr: Expr) -> Expr {
    super::call(NAME, vec![expr])
}

/// Wraps the output of a scalar subquery that is a plain one-column SELECT (no
/// aggregate, GROUP BY, HAVING, DISTINCT, ORDER BY, LIMIT or set operation).
fn rewrite_subquery(query: &mut Query) {
    if query.order_by.is_some() || query.limit_clause.is_some() || query.fetch.is_some() {
        return;
    }
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped || select.having.is_some() || select.distinct.is_some() {
        return;
    }
    if select.projection.len() != 1 {
        return;
    }
    match &mut select.projection[0] {
        SelectItem::UnnamedExpr(e) if !aggregates(e) => *e = wrap(e.clone()),
        SelectItem::ExprWithAlias { expr, .. } if !aggregates(expr) => {
            *expr = wrap(expr.clone());
        }
        _ => {}
    }
}

/// The names a subquery's FROM clause brings into scope: aliases, else table names.
fn relation_names(select: &datafusion::sql::sqlparser::ast::Select) -> Vec<String> {
    use datafusion::sql::sqlparser::ast::TableFactor;
    let mut names = Vec::new();
    let mut add = |factor: &TableFactor| match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(alias) => names.push(alias.name.value.to_ascii_lowercase()),
            None => {
                if let Some(last) = name.0.last().and_then(|p| p.as_ident()) {
                    names.push(last.value.to_ascii_lowercase());
                }
            }
        },
        other => match other {
            TableFactor::Derived { alias: Some(a), .. }
            | TableFactor::Function { alias: Some(a), .. }
            | TableFactor::TableFunction { alias: Some(a), .. }
            | TableFactor::UNNEST { alias: Some(a), .. } => {
                names.push(a.name.value.to_ascii_lowercase());
            }
            // Anything else could bring any name: nothing counts as outer-only.
            _ => names.push("*".to_owned()),
        },
    };
    for table in &select.from {
        add(&table.relation);
        for join in &table.joins {
            add(&join.relation);
        }
    }
    names
}

/// True when `expr` names only columns qualified by relations outside `inner`
/// (and at least one), and holds no subquery: a condition on the outer row alone.
fn outer_only(expr: &Expr, inner: &[String]) -> bool {
    if inner.iter().any(|n| n == "*") {
        return false;
    }
    let mut outer_columns = 0;
    let mut inner_or_unknown = false;
    let _ = visit_expressions(expr, |e| {
        match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let table = parts[parts.len() - 2].value.to_ascii_lowercase();
                if inner.contains(&table) {
                    inner_or_unknown = true;
                } else {
                    outer_columns += 1;
                }
            }
            Expr::Identifier(_)
            | Expr::CompoundIdentifier(_)
            | Expr::Subquery(_)
            | Expr::Exists { .. }
            | Expr::InSubquery { .. } => inner_or_unknown = true,
            _ => {}
        }
        if inner_or_unknown {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    });
    outer_columns > 0 && !inner_or_unknown
}

/// `expr`'s conjuncts (`a AND b AND c`), parenthesized ANDs opened.
pub(super) fn conjuncts(expr: Expr, out: &mut Vec<Expr>) {
    use datafusion::sql::sqlparser::ast::BinaryOperator;
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            conjuncts(*left, out);
            conjuncts(*right, out);
        }
        Expr::Nested(inner)
            if matches!(
                *inner,
                Expr::BinaryOp {
                    op: BinaryOperator::And,
                    ..
                }
            ) =>
        {
            conjuncts(*inner, out);
        }
        other => out.push(other),
    }
}

/// `exprs` joined by AND; `None` for none.
pub(super) fn and_all(mut exprs: Vec<Expr>) -> Option<Expr> {
    let first = if exprs.is_empty() {
        return None;
    } else {
        exprs.remove(0)
    };
    Some(exprs.into_iter().fold(first, |acc, e| Expr::BinaryOp {
        left: Box::new(acc),
        op: datafusion::sql::sqlparser::ast::BinaryOperator::And,
        right: Box::new(e),
    }))
}

fn case_when(condition: Expr, result: Expr) -> Expr {
    Expr::Case {
        case_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(
        ),
        end_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
        operand: None,
        conditions: vec![datafusion::sql::sqlparser::ast::CaseWhen { condition, result }],
        else_result: None,
    }
}

/// A scalar subquery whose one output expression also reads the outer row, as
/// SQLAlchemy's get_columns has it: `(SELECT f(outer.a, t.b) FROM t WHERE t.k =
/// outer.k)`. DataFusion cannot decorrelate an outer column in a subquery's
/// output, so the expression moves out and each inner column it reads becomes a
/// subquery of its own: `CASE WHEN (SELECT v(true) FROM t WHERE ...) THEN
/// f(outer.a, (SELECT v(t.b) FROM t WHERE ...)) END`, with `v` the single-value
/// aggregate. No row gives NULL, more than one fails with 21000: the original's
/// answer. `None` when the subquery is not of that form.
fn split_outer_projection(query: &Query) -> Option<Expr> {
    if query.order_by.is_some()
        || query.limit_clause.is_some()
        || query.fetch.is_some()
        || query.with.is_some()
    {
        return None;
    }
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let grouped = match &select.group_by {
        GroupByExpr::All(_) => true,
        GroupByExpr::Expressions(exprs, _) => !exprs.is_empty(),
    };
    if grouped
        || select.having.is_some()
        || select.distinct.is_some()
        || select.projection.len() != 1
    {
        return None;
    }
    let output = match &select.projection[0] {
        SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => e,
        _ => return None,
    };
    if aggregates(output) {
        return None;
    }
    let inner = relation_names(select);
    if inner.iter().any(|n| n == "*") {
        return None;
    }
    let mut reads_outer = false;
    let mut nested = false;
    let _ = visit_expressions(output, |e| {
        match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                let table = parts[parts.len() - 2].value.to_ascii_lowercase();
                if !inner.contains(&table) {
                    reads_outer = true;
                }
            }
            Expr::Subquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } => nested = true,
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
    if !reads_outer || nested {
        return None;
    }
    let single = |value: Expr| -> Expr {
        let mut q = query.clone();
        if let SetExpr::Select(s) = q.body.as_mut() {
            s.projection = vec![SelectItem::UnnamedExpr(wrap(value))];
        }
        Expr::Subquery(Box::new(q))
    };
    let mut moved = output.clone();
    let _ = visit_expressions_mut(&mut moved, |e| {
        let is_inner = match e {
            Expr::CompoundIdentifier(parts) if parts.len() >= 2 => {
                inner.contains(&parts[parts.len() - 2].value.to_ascii_lowercase())
            }
            Expr::Identifier(_) => true,
            _ => false,
        };
        if is_inner {
            *e = single(e.clone());
        }
        ControlFlow::<()>::Continue(())
    });
    let present = single(Expr::value(
        datafusion::sql::sqlparser::ast::Value::Boolean(true),
    ));
    Some(case_when(present, moved))
}

/// Takes the WHERE conditions of a scalar subquery that test only the outer row
/// out of it: `(SELECT e FROM t WHERE outer.flag AND t.k = outer.k)` becomes
/// `CASE WHEN outer.flag THEN (SELECT e FROM t WHERE t.k = outer.k) END`, the same
/// value (no row passes when the condition fails), in a form DataFusion can
/// decorrelate (SQLAlchemy's get_columns). Returns the guard, if any.
fn hoist_outer_conditions(query: &mut Query) -> Option<Expr> {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return None;
    };
    let selection = select.selection.take()?;
    let inner = relation_names(select);
    let mut parts = Vec::new();
    conjuncts(selection, &mut parts);
    let (outer, rest): (Vec<Expr>, Vec<Expr>) =
        parts.into_iter().partition(|e| outer_only(e, &inner));
    select.selection = and_all(rest);
    and_all(outer)
}

pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = visit_expressions_mut(statement, |expr| {
        if let Expr::Subquery(query) = expr {
            let guard = hoist_outer_conditions(query);
            if let Some(split) = split_outer_projection(query) {
                *expr = split;
                if let Some(condition) = guard {
                    *expr = case_when(
                        condition,
                        std::mem::replace(
                            expr,
                            Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                        ),
                    );
                }
                return ControlFlow::Continue(());
            }
            rewrite_subquery(query);
            if let Some(condition) = guard {
                let subquery = std::mem::replace(
                    expr,
                    Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                );
                *expr = Expr::Case {
                    case_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    end_token: datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    operand: None,
                    conditions: vec![datafusion::sql::sqlparser::ast::CaseWhen {
                        condition,
                        result: subquery,
                    }],
                    else_result: None,
                };
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

#[cfg(test)]
mod tests {
    use super::rewrite;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut statement = Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0);
        rewrite(&mut statement);
        statement.to_string()
    }

    #[test]
    fn a_subquery_reading_the_outer_row_in_its_output_is_split() {
        // SQLAlchemy's get_columns shape: the output reads `a.x` from the outer row.
        assert_eq!(
            rewritten("SELECT (SELECT f(a.x, s.v) FROM s WHERE s.k = a.k) FROM a"),
            "SELECT CASE WHEN (SELECT pg_single_value(true) FROM s WHERE s.k = a.k) \
             THEN f(a.x, (SELECT pg_single_value(s.v) FROM s WHERE s.k = a.k)) END FROM a"
        );
        // Output from the subquery's own rows only: wrapped as before.
        assert_eq!(
            rewritten("SELECT (SELECT s.v FROM s WHERE s.k = a.k) FROM a"),
            "SELECT (SELECT pg_single_value(s.v) FROM s WHERE s.k = a.k) FROM a"
        );
    }
}
