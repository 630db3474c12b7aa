//! A function that returns one value, called in FROM: PostgreSQL reads it as a table
//! of one row and one column (`FROM string_to_array(current_setting('search_path'),
//! ',') s` in Grafana's table list, `FROM upper('x')`), the column named after the
//! alias (or the function, unaliased). DataFusion looks only among its table
//! functions ("table function 'string_to_array' not found").
//!
//! [`rewrite`] makes each such call, of a name that is a scalar function and no table
//! function of the session, a derived table: `(SELECT f(args) AS c) AS alias(c)`,
//! LATERAL where its arguments read the rows before it.

use std::ops::ControlFlow;

use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    FunctionArg, FunctionArgExpr, Ident, TableFactor, VisitMut, VisitorMut,
};

/// Rewrites the scalar function calls in `statement`'s FROM clauses (see the module
/// doc), subqueries included.
pub(crate) fn rewrite(statement: &mut DFStatement, state: &SessionState) {
    let DFStatement::Statement(statement) = statement else {
        return;
    };
    let _ = statement.visit(&mut Calls { state });
}

struct Calls<'a> {
    state: &'a SessionState,
}

impl VisitorMut for Calls<'_> {
    type Break = ();

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let Some(derived) = self.derived(factor) {
            *factor = derived;
        }
        ControlFlow::Continue(())
    }
}

impl Calls<'_> {
    fn derived(&self, factor: &TableFactor) -> Option<TableFactor> {
        let (name, alias, args) = match factor {
            TableFactor::Table {
                name,
                alias,
                args: Some(args),
                with_ordinality: false,
                ..
            } => (name, alias, &args.args),
            // `LATERAL f(...)`, which PostgreSQL's calls in FROM are anyway.
            TableFactor::Function {
                name,
                alias,
                args,
                with_ordinality: false,
                ..
            } => (name, alias, args),
            _ => return None,
        };
        let function = match name.0.as_slice() {
            [only] => only.as_ident()?,
            [schema, only]
                if schema
                    .as_ident()
                    .is_some_and(|s| s.value.eq_ignore_ascii_case("pg_catalog")) =>
            {
                only.as_ident()?
            }
            _ => return None,
        };
        let key = match function.quote_style {
            Some(_) => function.value.clone(),
            None => function.value.to_ascii_lowercase(),
        };
        if self.state.table_functions().contains_key(&key)
            || !self.state.scalar_functions().contains_key(&key)
        {
            return None;
        }
        let exprs: Vec<String> = args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let (table, column) = match alias {
            Some(alias) => (
                alias.name.clone(),
                alias
                    .columns
                    .first()
                    .map_or_else(|| alias.name.clone(), |c| c.name.clone()),
            ),
            None => (Ident::new(&key), Ident::new(&key)),
        };
        let lateral = args.iter().any(|a| {
            matches!(a, FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) if super::reads_columns(e))
        });
        super::parsed_factor(&format!(
            "{}(SELECT {function}({}) AS {column}) AS {table}({column})",
            if lateral { "LATERAL " } else { "" },
            exprs.join(", "),
        ))
    }
}
