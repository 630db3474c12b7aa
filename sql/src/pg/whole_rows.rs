//! Whole-row references: a relation's name used as a value, which PostgreSQL reads as
//! the row, a composite of the relation's columns (`select t from t`, `row_to_json(t)`,
//! `json_agg(s order by s.a)`, `to_json(t.*)`). DataFusion reads the name as a column
//! ("No field named t"); here it becomes a struct of the relation's columns in order,
//! named as they are (`named_struct('a', t.a, 'b', t.b)`), which `to_json` writes as an
//! object and the wire as PostgreSQL's composite text (`(1,x)`).
//!
//! The columns of a relation in FROM are found by planning `SELECT * FROM` it (with the
//! common table expressions in scope), and only for a SELECT in which a name of one of
//! its relations appears as a value: other statements are not touched. As in
//! PostgreSQL, a column of the same name wins over the row (`select t from t` where `t`
//! has a column `t` is that column). A name from an enclosing query's FROM (a
//! correlated whole row) is not read as a row and stays refused.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    CaseWhen, Cte, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, Query,
    Select, SelectItem, Statement, TableFactor, TableWithJoins, Value, Visit, VisitMut, Visitor,
    VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrites the whole-row references of `statement`, planning against `state` to learn
/// the columns of the relations they name. A relation that does not plan on its own (a
/// LATERAL subquery, one that reads an outer query's columns) leaves its SELECT as it
/// was.
pub(crate) async fn rewrite(statement: &mut DFStatement, state: &SessionState) {
    let DFStatement::Statement(statement) = statement else {
        return;
    };
    let names = value_names(statement);
    if names.is_empty() {
        return;
    }
    let mut probes = Probes {
        names: &names,
        ctes: Vec::new(),
        wanted: Vec::new(),
    };
    let _ = Visit::visit(&**statement, &mut probes);
    if probes.wanted.is_empty() {
        return;
    }
    let mut columns = HashMap::new();
    for (factor, ctes) in probes.wanted {
        if columns.contains_key(&factor) {
            continue;
        }
        if let Some(found) = relation_columns(state, &factor, &ctes).await {
            columns.insert(factor, found);
        }
    }
    let _ = statement.visit(&mut Rows { columns: &columns });
}

/// The names written as a bare identifier or as `name.*` in a function's arguments:
/// the only names a whole-row reference can have.
fn value_names(statement: &Statement) -> HashSet<String> {
    struct Names(HashSet<String>);
    impl Visitor for Names {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(ident) => {
                    self.0.insert(folded(ident));
                }
                Expr::Function(function) => {
                    for name in qualified_wildcards(&function.args) {
                        if let [ident] = name.0.as_slice()
                            && let Some(ident) = ident.as_ident()
                        {
                            self.0.insert(folded(ident));
                        }
                    }
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut names = Names(HashSet::new());
    let _ = statement.visit(&mut names);
    names.0
}

/// A name as PostgreSQL compares it: folded to lower case unless quoted.
fn folded(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

fn qualified_wildcards(args: &FunctionArguments) -> impl Iterator<Item = &ObjectName> {
    let args = match args {
        FunctionArguments::List(list) => list.args.as_slice(),
        _ => &[],
    };
    args.iter().filter_map(|a| match a {
        FunctionArg::Unnamed(FunctionArgExpr::QualifiedWildcard(name)) => Some(name),
        _ => None,
    })
}

/// The relations of a SELECT's FROM, joins included, in order.
fn factors(from: &[TableWithJoins]) -> impl Iterator<Item = &TableFactor> {
    from.iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)))
}

/// The relations (their text) that an outer join of `from` may extend with NULLs.
fn null_extended(from: &[TableWithJoins]) -> HashSet<String> {
    use datafusion::sql::sqlparser::ast::JoinOperator as J;
    let extends_left = |op: &J| matches!(op, J::Right(_) | J::RightOuter(_) | J::FullOuter(_));
    let extends_right = |op: &J| {
        matches!(
            op,
            J::Left(_) | J::LeftOuter(_) | J::FullOuter(_) | J::OuterApply
        )
    };
    let mut out = HashSet::new();
    for table in from {
        // A relation is extended by an outer join on its right, or by a RIGHT or FULL
        // join anywhere after it.
        let later_extends = |from: usize| {
            table.joins[from..]
                .iter()
                .any(|j| extends_left(&j.join_operator))
        };
        if later_extends(0) {
            out.insert(table.relation.to_string());
        }
        for (i, join) in table.joins.iter().enumerate() {
            if extends_right(&join.join_operator) || later_extends(i + 1) {
                out.insert(join.relation.to_string());
            }
        }
    }
    out
}

/// The name a relation of FROM is referred to by (folded), and the qualifier its
/// columns are written with: its alias, else a table's name.
fn reference(factor: &TableFactor) -> Option<(String, ObjectName)> {
    let alias = match factor {
        TableFactor::Table { alias, .. }
        | TableFactor::Derived { alias, .. }
        | TableFactor::TableFunction { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::UNNEST { alias, .. } => alias.as_ref(),
        _ => return None,
    };
    match (alias, factor) {
        (Some(alias), _) => Some((
            folded(&alias.name),
            ObjectName::from(vec![alias.name.clone()]),
        )),
        (None, TableFactor::Table { name, .. }) => {
            let last = name.0.last()?.as_ident()?;
            Some((folded(last), name.clone()))
        }
        _ => None,
    }
}

/// First pass: the relations whose columns must be known, each with the common table
/// expressions in scope where it appears. Every relation of a SELECT that names one of
/// them as a value is wanted, so that a column of the same name is seen.
struct Probes<'a> {
    names: &'a HashSet<String>,
    /// The WITH clauses of the queries being visited, outermost first.
    ctes: Vec<(bool, Vec<Cte>)>,
    wanted: Vec<(String, Vec<(bool, Vec<Cte>)>)>,
}

impl Visitor for Probes<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let with = query.with.as_ref();
        self.ctes.push((
            with.is_some_and(|w| w.recursive),
            with.map(|w| w.cte_tables.clone()).unwrap_or_default(),
        ));
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.ctes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        let named = factors(&select.from)
            .filter_map(reference)
            .any(|(name, _)| self.names.contains(&name));
        if named {
            for factor in factors(&select.from) {
                self.wanted.push((factor.to_string(), self.ctes.clone()));
            }
        }
        ControlFlow::Continue(())
    }
}

/// A relation's column: its name and whether it may be NULL.
type Column = (String, bool);

/// The columns of `factor` (its text), planned as `SELECT * FROM factor` under the
/// common table expressions `ctes`; `None` when that does not plan.
async fn relation_columns(
    state: &SessionState,
    factor: &str,
    ctes: &[(bool, Vec<Cte>)],
) -> Option<Vec<Column>> {
    let recursive = ctes.iter().any(|(r, _)| *r);
    let tables: Vec<String> = ctes
        .iter()
        .flat_map(|(_, c)| c.iter().map(ToString::to_string))
        .collect();
    let with = match tables.is_empty() {
        true => String::new(),
        false => format!(
            "WITH {}{} ",
            if recursive { "RECURSIVE " } else { "" },
            tables.join(", ")
        ),
    };
    let sql = format!("{with}SELECT * FROM {factor}");
    let statement = Parser::parse_sql(&PostgreSqlDialect {}, &sql).ok()?.pop()?;
    let plan = state
        .statement_to_plan(DFStatement::Statement(Box::new(statement)))
        .await
        .ok()?;
    Some(
        plan.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.is_nullable()))
            .collect(),
    )
}

/// Second pass: each SELECT whose relations' columns are all known has its whole-row
/// references replaced.
struct Rows<'a> {
    columns: &'a HashMap<String, Vec<Column>>,
}

/// A relation whose row is referred to: the qualifier of its columns, its columns, and
/// for a relation an outer join may extend with NULLs, a column that is never NULL
/// otherwise (NULL in it: the row is NULL).
struct Relation {
    qualifier: ObjectName,
    columns: Vec<Column>,
    witness: Option<String>,
}

impl VisitorMut for Rows<'_> {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        let mut relations = HashMap::new();
        let mut all_columns = HashSet::new();
        let null_extended = null_extended(&select.from);
        for factor in factors(&select.from) {
            let text = factor.to_string();
            let Some(columns) = self.columns.get(&text) else {
                return ControlFlow::Continue(());
            };
            all_columns.extend(columns.iter().map(|(name, _)| name.clone()));
            // PostgreSQL's row of a relation an outer join extends with NULLs is NULL,
            // which a struct of NULL columns is not: told apart by a column that cannot
            // be NULL otherwise, else left refused.
            let witness = match null_extended.contains(&text) {
                true => match columns.iter().find(|(_, nullable)| !nullable) {
                    Some((name, _)) => Some(name.clone()),
                    None => continue,
                },
                false => None,
            };
            if let Some((name, qualifier)) = reference(factor) {
                relations.insert(
                    name,
                    Relation {
                        qualifier,
                        columns: columns.clone(),
                        witness,
                    },
                );
            }
        }
        // A column of the same name is the column.
        relations.retain(|name, _| !all_columns.contains(name));
        if relations.is_empty() {
            return ControlFlow::Continue(());
        }
        let mut rows = Replace {
            relations: &relations,
            depth: 0,
        };
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(Expr::Identifier(ident)) = item
                && let Some(row) = rows.row(ident)
            {
                // Named as written: `select t from t` is column `t`.
                *item = SelectItem::ExprWithAlias {
                    expr: row,
                    alias: ident.clone(),
                };
                continue;
            }
            let _ = item.visit(&mut rows);
        }
        for expr in select.selection.iter_mut().chain(select.having.iter_mut()) {
            let _ = expr.visit(&mut rows);
        }
        if let datafusion::sql::sqlparser::ast::GroupByExpr::Expressions(exprs, _) =
            &mut select.group_by
        {
            for expr in exprs {
                let _ = expr.visit(&mut rows);
            }
        }
        ControlFlow::Continue(())
    }
}

impl Relation {
    /// A column of the relation, qualified as FROM names the relation.
    fn column(&self, name: &str) -> Expr {
        let mut parts: Vec<Ident> = self
            .qualifier
            .0
            .iter()
            .filter_map(|p| p.as_ident().cloned())
            .collect();
        parts.push(Ident::with_quote('"', name));
        Expr::CompoundIdentifier(parts)
    }
}

/// Replaces whole-row references to `relations` in the expressions of one SELECT, not
/// in its subqueries (whose own FROM may hide a name).
struct Replace<'a> {
    relations: &'a HashMap<String, Relation>,
    depth: usize,
}

impl Replace<'_> {
    /// `row IS NULL` (every column NULL) or `row IS NOT NULL` (none), as PostgreSQL
    /// tests a row, if `ident` names one of the relations.
    fn row_test(&self, ident: &Ident, is_null: bool) -> Option<Expr> {
        let relation = self.relations.get(&folded(ident))?;
        relation
            .columns
            .iter()
            .map(|(name, _)| {
                let column = Box::new(relation.column(name));
                match is_null {
                    true => Expr::IsNull(column),
                    false => Expr::IsNotNull(column),
                }
            })
            .reduce(|a, b| Expr::BinaryOp {
                left: Box::new(a),
                op: datafusion::sql::sqlparser::ast::BinaryOperator::And,
                right: Box::new(b),
            })
            .map(|test| Expr::Nested(Box::new(test)))
    }

    /// The row a name stands for, if it names one of the relations.
    fn row(&self, ident: &Ident) -> Option<Expr> {
        let relation = self.relations.get(&folded(ident))?;
        let column = |name: &str| relation.column(name);
        let args = relation
            .columns
            .iter()
            .flat_map(|(name, _)| {
                [
                    Expr::value(Value::SingleQuotedString(name.clone())),
                    column(name),
                ]
            })
            .collect();
        let row = super::call("named_struct", args);
        Some(match &relation.witness {
            None => row,
            Some(witness) => Expr::Case {
                case_token: AttachedToken::empty(),
                end_token: AttachedToken::empty(),
                operand: None,
                conditions: vec![CaseWhen {
                    condition: Expr::IsNotNull(Box::new(column(witness))),
                    result: row,
                }],
                else_result: None,
            },
        })
    }
}

impl VisitorMut for Replace<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.depth > 0 {
            return ControlFlow::Continue(());
        }
        let is_null = matches!(expr, Expr::IsNull(_));
        if let Expr::IsNull(value) | Expr::IsNotNull(value) = &*expr
            && let Expr::Identifier(ident) = value.as_ref()
            && let Some(test) = self.row_test(ident, is_null)
        {
            *expr = test;
            return ControlFlow::Continue(());
        }
        // `t::text`, `CAST(t AS text)`: the row, cast.
        if let Expr::Cast { expr: value, .. } = expr
            && let Expr::Identifier(ident) = value.as_ref()
            && let Some(row) = self.row(ident)
        {
            **value = row;
            return ControlFlow::Continue(());
        }
        let Expr::Function(function) = expr else {
            return ControlFlow::Continue(());
        };
        mark_aggregated_rows(function);
        let FunctionArguments::List(list) = &mut function.args else {
            return ControlFlow::Continue(());
        };
        for arg in &mut list.args {
            let FunctionArg::Unnamed(value) = arg else {
                continue;
            };
            let row = match value {
                FunctionArgExpr::Expr(Expr::Identifier(ident)) => self.row(ident),
                FunctionArgExpr::QualifiedWildcard(name) => match name.0.as_slice() {
                    [part] => part.as_ident().and_then(|ident| self.row(ident)),
                    _ => None,
                },
                _ => None,
            };
            if let Some(row) = row {
                *value = FunctionArgExpr::Expr(row);
            }
        }
        ControlFlow::Continue(())
    }
}

/// `tarn_json_agg(array_agg(to_json(<row>)))` (json_agg of a whole row) is told its
/// values are rows, which PostgreSQL writes on lines of their own.
fn mark_aggregated_rows(function: &mut datafusion::sql::sqlparser::ast::Function) {
    let single = |f: &datafusion::sql::sqlparser::ast::Function| -> Option<Expr> {
        let mut args = super::unnamed_args(f);
        let first = args.next()?.clone();
        args.next().is_none().then_some(first)
    };
    let named = |e: &Expr, name: &str| match e {
        Expr::Function(f) if super::single_value::function_name(f) == name => Some(f.clone()),
        _ => None,
    };
    let is_row = super::single_value::function_name(function) == "tarn_json_agg"
        && single(function)
            .and_then(|a| named(&a, "array_agg"))
            .and_then(|a| single(&a))
            .and_then(|j| named(&j, "to_json"))
            .and_then(|j| single(&j))
            .and_then(|v| named(&v, "named_struct"))
            .is_some();
    if is_row && let FunctionArguments::List(list) = &mut function.args {
        list.args
            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(
                Value::Boolean(true),
            ))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(sql: &str) -> Statement {
        Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0)
    }

    /// The second pass with the columns given: what the statement becomes.
    fn rewritten(sql: &str, columns: &[(&str, &[&str])]) -> String {
        let mut statement = parse(sql);
        // A column named with a leading `!` is never NULL.
        let columns: HashMap<String, Vec<Column>> = columns
            .iter()
            .map(|(f, c)| {
                let columns = c
                    .iter()
                    .map(|s| match s.strip_prefix('!') {
                        Some(name) => (name.to_owned(), false),
                        None => (s.to_string(), true),
                    })
                    .collect();
                (f.to_string(), columns)
            })
            .collect();
        let _ = VisitMut::visit(&mut statement, &mut Rows { columns: &columns });
        statement.to_string()
    }

    #[test]
    fn a_relation_named_as_a_value_is_its_row() {
        assert_eq!(
            rewritten(
                "select t, to_json(t), f(t.*) from t where t is not null",
                &[("t", &["a", "b"])]
            ),
            "SELECT named_struct('a', t.\"a\", 'b', t.\"b\") AS t, \
             to_json(named_struct('a', t.\"a\", 'b', t.\"b\")), \
             f(named_struct('a', t.\"a\", 'b', t.\"b\")) \
             FROM t WHERE (t.\"a\" IS NOT NULL AND t.\"b\" IS NOT NULL)"
        );
        assert_eq!(
            rewritten(
                "select to_json(s) from public.t as s",
                &[("public.t AS s", &["x"])]
            ),
            "SELECT to_json(named_struct('x', s.\"x\")) FROM public.t AS s"
        );
        assert_eq!(
            rewritten("select to_json(t) from public.t", &[("public.t", &["x"])]),
            "SELECT to_json(named_struct('x', public.t.\"x\")) FROM public.t"
        );
    }

    #[test]
    fn a_column_of_the_same_name_wins_and_unknown_relations_are_left() {
        // `t` is a column of `t`.
        assert_eq!(
            rewritten("select t from t", &[("t", &["t", "b"])]),
            "SELECT t FROM t"
        );
        // `u`'s columns are not known: the SELECT is left as written.
        assert_eq!(
            rewritten("select t from t, u", &[("t", &["a"])]),
            "SELECT t FROM t, u"
        );
        // `u`'s row may be NULL (left join) and no column tells when: left; `t`'s
        // may not.
        assert_eq!(
            rewritten(
                "select to_json(t), to_json(u) from t left join u on true",
                &[("t", &["a"]), ("u", &["b"])]
            ),
            "SELECT to_json(named_struct('a', t.\"a\")), to_json(u) FROM t LEFT JOIN u ON true"
        );
        // `v.k` is never NULL but where the join extends `v` with NULLs.
        assert_eq!(
            rewritten(
                "select to_json(v) from t right join u on true left join v on true",
                &[("t", &["a"]), ("u", &["b"]), ("v", &["c", "!k"])]
            ),
            "SELECT to_json(CASE WHEN v.\"k\" IS NOT NULL THEN named_struct('c', v.\"c\", 'k', v.\"k\") END) \
             FROM t RIGHT JOIN u ON true LEFT JOIN v ON true"
        );
        // A subquery's own FROM is its own scope.
        assert_eq!(
            rewritten(
                "select (select t from x as t) from t",
                &[("t", &["a"]), ("x AS t", &["c"])]
            ),
            "SELECT (SELECT named_struct('c', t.\"c\") AS t FROM x AS t) FROM t"
        );
    }

    #[test]
    fn only_selects_naming_a_relation_as_a_value_are_probed() {
        let statement = parse(
            "with c as (select 1 as a) select row_to_json(c) from c \
             union all select to_json(x) from u",
        );
        let names = value_names(&statement);
        let mut probes = Probes {
            names: &names,
            ctes: Vec::new(),
            wanted: Vec::new(),
        };
        let _ = statement.visit(&mut probes);
        let wanted: Vec<(String, usize)> = probes
            .wanted
            .iter()
            .map(|(f, ctes)| (f.clone(), ctes.iter().map(|(_, c)| c.len()).sum()))
            .collect();
        // `c` is probed with the CTE in scope; `u` is not named as a value.
        assert_eq!(wanted, [("c".to_owned(), 1)]);
    }
}
