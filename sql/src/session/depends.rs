//! The views that use a table or view: what `DROP TABLE` and `DROP VIEW` refuse to
//! leave broken (PostgreSQL's 2BP01, `cannot drop table t because other objects depend
//! on it`) or, with `CASCADE`, drop with it.
//!
//! PostgreSQL records a view's dependencies when the view is made. Tarn keeps a view
//! as its SQL and plans it on use, so the dependencies are read from that SQL: every
//! relation it names, resolved in the view's schema, as the view's names resolve when
//! it is used. A name that only a CTE of the view defines counts too: such a view is
//! kept from breaking rather than missed. Views are bound by name, not by identity, so
//! a table renamed away takes no view with it (PostgreSQL's views follow the rename).

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{ObjectNamePart, visit_relations};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use tarn_catalog::LakeCatalog;

use super::normalize_ident;
use super::scope::Pending;
use crate::error::Result;

/// What kind of relation a DROP names or a view uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelationKind {
    Table,
    View,
    MaterializedView,
}

impl RelationKind {
    pub(crate) fn of(entry: &tarn_catalog::TableEntry) -> Self {
        if entry.kind == tarn_catalog::TableKind::View {
            RelationKind::View
        } else if entry.is_materialized_view() {
            RelationKind::MaterializedView
        } else {
            RelationKind::Table
        }
    }

    /// The kind as PostgreSQL's messages name it.
    pub(crate) fn word(self) -> &'static str {
        match self {
            RelationKind::Table => "table",
            RelationKind::View => "view",
            RelationKind::MaterializedView => "materialized view",
        }
    }

    /// The kind with its article (`"x" is not a table`).
    pub(crate) fn expected(self) -> &'static str {
        match self {
            RelationKind::Table => "a table",
            RelationKind::View => "a view",
            RelationKind::MaterializedView => "a materialized view",
        }
    }
}

/// A view that uses a relation, and the relation it uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dependent {
    pub schema: String,
    pub name: String,
    /// The relation it uses: schema, name, and its kind.
    pub on: (String, String, RelationKind),
}

/// The views that use `schema.name` (of kind `kind`), directly or through other
/// views, in PostgreSQL's order: depth first, views in the order they were made, each
/// after the relation it uses. Views this session's open block has dropped do not
/// count.
pub(crate) async fn dependents(
    catalog: &LakeCatalog,
    pending: &Pending,
    schema: &str,
    name: &str,
    kind: RelationKind,
) -> Result<Vec<Dependent>> {
    let mut views: Vec<_> = catalog
        .views()
        .await?
        .into_iter()
        .filter(|v| !pending.is_hidden(&v.schema, &v.name))
        .collect();
    views.sort_by(|a, b| {
        (&a.created_at, &a.schema, &a.name).cmp(&(&b.created_at, &b.schema, &b.name))
    });
    let views: Vec<ViewUses> = views
        .into_iter()
        .map(|v| ViewUses {
            uses: relations(&v.schema, v.definition.as_deref().unwrap_or_default()),
            schema: v.schema.clone(),
            name: v.name.clone(),
        })
        .collect();
    let mut found: Vec<Dependent> = Vec::new();
    visit(
        &views,
        (schema.to_owned(), name.to_owned(), kind),
        &mut found,
    );
    found.retain(|d| !(d.schema == schema && d.name == name));
    Ok(found)
}

/// A view and the relations (schema, name) its query names.
struct ViewUses {
    schema: String,
    name: String,
    uses: BTreeSet<(String, String)>,
}

/// Adds to `found` the views in `views` that use `on`, each followed by its own.
fn visit(views: &[ViewUses], on: (String, String, RelationKind), found: &mut Vec<Dependent>) {
    for ViewUses { schema, name, uses } in views {
        let seen = found.iter().any(|d| d.schema == *schema && d.name == *name);
        if seen || !uses.contains(&(on.0.clone(), on.1.clone())) {
            continue;
        }
        found.push(Dependent {
            schema: schema.clone(),
            name: name.clone(),
            on: on.clone(),
        });
        visit(
            views,
            (schema.clone(), name.clone(), RelationKind::View),
            found,
        );
    }
}

/// The relations (schema, name) the view query `sql`, kept in `schema`, names. A
/// definition that does not parse names none.
fn relations(schema: &str, sql: &str) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let Ok(statements) = Parser::parse_sql(&PostgreSqlDialect {}, sql) else {
        return found;
    };
    let _ = visit_relations(&statements, |name| {
        let parts: Vec<String> = name
            .0
            .iter()
            .filter_map(|p| match p {
                ObjectNamePart::Identifier(ident) => Some(normalize_ident(ident)),
                _ => None,
            })
            .collect();
        match parts.as_slice() {
            [table] => {
                found.insert((schema.to_owned(), table.clone()));
            }
            [.., in_schema, table] => {
                found.insert((in_schema.clone(), table.clone()));
            }
            [] => {}
        }
        ControlFlow::<()>::Continue(())
    });
    found
}

/// PostgreSQL's DETAIL for dependents that keep a DROP from going ahead: one line
/// each, `view v depends on table t`, names qualified outside `default_schema`.
pub(crate) fn detail(dependents: &[Dependent], default_schema: &str) -> String {
    let shown = |schema: &str, name: &str| shown(schema, name, default_schema);
    dependents
        .iter()
        .map(|d| {
            let (on_schema, on_name, on_kind) = &d.on;
            format!(
                "view {} depends on {} {}",
                shown(&d.schema, &d.name),
                on_kind.word(),
                shown(on_schema, on_name)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `uses` (dependents of one relation, from [`dependents`]) with the views that use
/// them in turn, in `all`'s order.
pub(crate) fn with_their_dependents(all: &[Dependent], uses: Vec<Dependent>) -> Vec<Dependent> {
    let mut kept: Vec<Dependent> = Vec::new();
    for d in all {
        let direct = uses.contains(d);
        let through = d.on.2 == RelationKind::View
            && kept.iter().any(|k| k.schema == d.on.0 && k.name == d.on.1);
        if direct || through {
            kept.push(d.clone());
        }
    }
    kept
}

/// PostgreSQL's DETAIL for dropping `column` of `table` that views use: the views
/// that use the column, each followed by the views that use it.
pub(crate) fn column_detail(
    users: &[Dependent],
    column: &str,
    table: &str,
    default_schema: &str,
) -> String {
    users
        .iter()
        .map(|d| {
            let view = shown(&d.schema, &d.name, default_schema);
            match d.on.2 {
                RelationKind::View => {
                    format!(
                        "view {view} depends on view {}",
                        shown(&d.on.0, &d.on.1, default_schema)
                    )
                }
                _ => format!("view {view} depends on column {column} of table {table}"),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What `DROP ... CASCADE` drops besides the relation, as its NOTICE names each
/// (`view v`).
pub(crate) fn cascaded(dependents: &[Dependent], default_schema: &str) -> Vec<String> {
    dependents
        .iter()
        .map(|d| format!("view {}", shown(&d.schema, &d.name, default_schema)))
        .collect()
}

/// A relation's name as PostgreSQL's messages show it: qualified unless in the
/// default schema.
pub(crate) fn shown(schema: &str, name: &str, default_schema: &str) -> String {
    match schema == default_schema {
        true => name.to_owned(),
        false => format!("{schema}.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_uses_the_relations_it_names_in_its_schema() {
        let uses = relations(
            "mart",
            "select * from orders o join \"Staging\".customers c on o.c = c.id \
             where exists (select 1 from public.returns r) \
             union all select * from tarn.other.t",
        );
        let expected: BTreeSet<(String, String)> = [
            ("mart", "orders"),
            ("Staging", "customers"),
            ("public", "returns"),
            ("other", "t"),
        ]
        .into_iter()
        .map(|(s, n)| (s.to_owned(), n.to_owned()))
        .collect();
        assert_eq!(uses, expected);
        assert!(relations("public", "not sql at all (").is_empty());
    }
}
