//! Arrays of OIDs as PostgreSQL types them: `array_agg(a.atttypid)` is `oid[]` (OID
//! 1028), not `integer[]`. asyncpg depends on it: its type introspection query (sent
//! for every type outside asyncpg's own codecs, `integer[]` among them) aggregates
//! `pg_attribute.atttypid`, and an `integer[]` in its answer sent asyncpg to introspect
//! `integer[]` with the same query again, until Python's RecursionError: asyncpg could
//! read no integer array.
//!
//! An OID is an `integer` in Tarn, marked as one by its field's metadata (`arrow-pg`'s
//! OID alias key), and a list cannot keep that mark (DataFusion rebuilds lists from
//! `ScalarValue`s with a plain element field). So OIDs are aggregated as `UInt32`, the
//! type of PostgreSQL's OIDs, which Tarn gives nothing else: [`rewrite`] casts the
//! argument of `array_agg(x.col)` where `x` is a pg_catalog table of the same SELECT
//! and `col` one of its OID columns, and makes `x::oid[]` a list of `UInt32` (asyncpg
//! binds the OIDs it asks about as `$1::oid[]`, which must be described as `oid[]`),
//! before planning (a recursive query's work table takes its types then); the wire
//! layer describes a list of `UInt32` as `oid[]`.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use datafusion::arrow::datatypes::DataType;
use datafusion::execution::session_state::SessionState;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    self, CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Select, SetExpr,
    TableFactor, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion_pg_catalog::pg_catalog::oid_field::OID_ALIAS_KEY;

/// Casts the OIDs `array_agg` collects in `statement` to `UInt32` (see the module doc),
/// reading which pg_catalog columns are OIDs from `state`'s catalog.
pub(crate) async fn rewrite(statement: &mut DFStatement, state: &SessionState) {
    let DFStatement::Statement(statement) = statement else {
        return;
    };
    let _ = ast::visit_expressions_mut(&mut **statement, |expr| {
        if let Expr::Cast { data_type, .. } = expr
            && let ast::DataType::Array(ast::ArrayElemTypeDef::SquareBracket(element, _)) =
                data_type
            && matches!(element.as_ref(), ast::DataType::Custom(name, args)
                if args.is_empty() && name.to_string().eq_ignore_ascii_case("oid"))
        {
            **element = ast::DataType::IntUnsigned(None);
        }
        ControlFlow::<()>::Continue(())
    });
    let mut wanted = Candidates::default();
    let _ = Visit::visit(&**statement, &mut wanted);
    if wanted.0.is_empty() {
        return;
    }
    let catalog = state.config_options().catalog.default_catalog.clone();
    let Some(schema) = state
        .catalog_list()
        .catalog(&catalog)
        .and_then(|c| c.schema("pg_catalog"))
    else {
        return;
    };
    let mut oids = HashSet::new();
    for (table, column) in wanted.0 {
        let Ok(Some(provider)) = schema.table(&table).await else {
            continue;
        };
        let is_oid = provider.schema().field_with_name(&column).is_ok_and(|f| {
            f.data_type() == &DataType::Int32
                && f.metadata().get(OID_ALIAS_KEY).is_some_and(|k| k == "oid")
        });
        if is_oid {
            oids.insert((table, column));
        }
    }
    if !oids.is_empty() {
        let _ = VisitMut::visit(&mut **statement, &mut Casts(&oids));
    }
}

/// The pg_catalog tables of a SELECT's FROM, by the name they are referred to by.
fn catalog_tables(select: &Select) -> HashMap<String, String> {
    let mut tables = HashMap::new();
    let factors = select
        .from
        .iter()
        .flat_map(|t| std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)));
    for factor in factors {
        let TableFactor::Table { name, alias, .. } = factor else {
            continue;
        };
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| p.as_ident())
            .map(|i| i.value.to_lowercase())
            .collect();
        let table = match parts.as_slice() {
            [table] | [_, table] | [_, _, table] if table.starts_with("pg_") => table.clone(),
            _ => continue,
        };
        if parts.len() > 1 && parts[parts.len() - 2] != "pg_catalog" {
            continue;
        }
        let by = alias
            .as_ref()
            .map_or_else(|| table.clone(), |a| a.name.value.to_lowercase());
        tables.insert(by, table);
    }
    tables
}

/// The (table, column) of `array_agg(x.col)`'s argument, for `x` in `tables`.
fn aggregated(expr: &Expr, tables: &HashMap<String, String>) -> Option<(String, String)> {
    let Expr::Function(f) = expr else {
        return None;
    };
    if !f.name.to_string().eq_ignore_ascii_case("array_agg") {
        return None;
    }
    let FunctionArguments::List(list) = &f.args else {
        return None;
    };
    let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] = list.args.as_slice() else {
        return None;
    };
    argument_column(arg, tables)
}

fn argument_column(arg: &Expr, tables: &HashMap<String, String>) -> Option<(String, String)> {
    match arg {
        Expr::CompoundIdentifier(parts) if parts.len() == 2 => {
            let table = tables.get(&parts[0].value.to_lowercase())?;
            Some((table.clone(), parts[1].value.to_lowercase()))
        }
        Expr::Identifier(column) if tables.len() == 1 => {
            let table = tables.values().next()?;
            Some((table.clone(), column.value.to_lowercase()))
        }
        _ => None,
    }
}

/// Collects the `array_agg` arguments that may be OIDs.
#[derive(Default)]
struct Candidates(HashSet<(String, String)>);

impl Visitor for Candidates {
    type Break = ();

    fn pre_visit_query(&mut self, query: &ast::Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_ref() {
            let tables = catalog_tables(select);
            if !tables.is_empty() {
                for item in &select.projection {
                    let _ = Visit::visit(item, &mut Aggregates(&tables, &mut self.0));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

struct Aggregates<'a>(
    &'a HashMap<String, String>,
    &'a mut HashSet<(String, String)>,
);

impl Visitor for Aggregates<'_> {
    type Break = ();

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if let Some(found) = aggregated(expr, self.0) {
            self.1.insert(found);
        }
        ControlFlow::Continue(())
    }
}

/// Casts the arguments of the `array_agg`s that collect OIDs.
struct Casts<'a>(&'a HashSet<(String, String)>);

impl VisitorMut for Casts<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut ast::Query) -> ControlFlow<()> {
        if let SetExpr::Select(select) = query.body.as_mut() {
            let tables = catalog_tables(select);
            if !tables.is_empty() {
                for item in &mut select.projection {
                    let _ = ast::visit_expressions_mut(item, |expr| {
                        if aggregated(expr, &tables).is_some_and(|c| self.0.contains(&c))
                            && let Expr::Function(f) = expr
                            && let FunctionArguments::List(list) = &mut f.args
                            && let [FunctionArg::Unnamed(FunctionArgExpr::Expr(arg))] =
                                list.args.as_mut_slice()
                        {
                            *arg = Expr::Cast {
                                kind: CastKind::Cast,
                                expr: Box::new(arg.clone()),
                                data_type: ast::DataType::IntUnsigned(None),
                                array: false,
                                format: None,
                            };
                        }
                        ControlFlow::<()>::Continue(())
                    });
                }
            }
        }
        ControlFlow::Continue(())
    }
}
