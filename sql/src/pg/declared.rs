//! Column types PostgreSQL clients declare that Arrow and Delta spell as a plain string:
//! `varchar(n)`, `varchar`, `char(n)`, `json`, `jsonb` and `uuid`.
//!
//! DataFusion plans `varchar(20)` as `Utf8` (the length is gone) and refuses `json` and
//! `jsonb`. Tarn plans such columns as text and records the declared type on the
//! Delta field ([`DeclaredType`]), so that RowDescription, pg_attribute and
//! information_schema report `character varying(20)` or `jsonb` as PostgreSQL does.
//! Lengths are applied as PostgreSQL applies them, and stored `json`/`jsonb` text must
//! be JSON ([`super::typmod`]); json keeps it as written, jsonb in PostgreSQL's
//! rendering ([`super::jsonb`]).

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    self, CharacterLength, DataType as SqlType, Expr, Statement as SqlStatement, VisitMut,
    VisitorMut,
};
use tarn_catalog::types::DeclaredType;

/// The declared types of `create`'s columns that Arrow does not keep, by column name
/// (folded as the planner folds it).
pub(crate) fn declared_columns(create: &ast::CreateTable) -> Vec<(String, DeclaredType)> {
    create
        .columns
        .iter()
        .filter_map(|c| {
            let declared = declared_type(&c.data_type)?;
            let name = match c.name.quote_style {
                Some(_) => c.name.value.clone(),
                None => c.name.value.to_lowercase(),
            };
            Some((name, declared))
        })
        .collect()
}

/// The declared type `data_type` records beyond its Arrow type, if any.
pub(crate) fn declared_type(data_type: &SqlType) -> Option<DeclaredType> {
    Some(match data_type {
        SqlType::Varchar(Some(CharacterLength::IntegerLength { length, .. }))
        | SqlType::CharacterVarying(Some(CharacterLength::IntegerLength { length, .. }))
        | SqlType::CharVarying(Some(CharacterLength::IntegerLength { length, .. })) => {
            DeclaredType::Varchar(u32::try_from(*length).ok()?)
        }
        SqlType::Char(Some(CharacterLength::IntegerLength { length, .. }))
        | SqlType::Character(Some(CharacterLength::IntegerLength { length, .. })) => {
            DeclaredType::Char(u32::try_from(*length).ok()?)
        }
        SqlType::Char(None) | SqlType::Character(None) => DeclaredType::Char(1),
        SqlType::Varchar(None) | SqlType::CharacterVarying(None) | SqlType::CharVarying(None) => {
            DeclaredType::Varying
        }
        SqlType::JSON => DeclaredType::Json,
        SqlType::JSONB => DeclaredType::Jsonb,
        SqlType::Uuid => DeclaredType::Uuid,
        _ => return None,
    })
}

/// Spells `character varying [(n)]` and `char varying [(n)]` as `varchar [(n)]`, and
/// `character` and `char` without a length as `char(1)` (PostgreSQL's meaning),
/// wherever `statement` names a type: DataFusion reads neither spelling, and the
/// rewrites of `varchar(n)` and `char(n)` then apply.
pub(crate) fn spell_character_types(statement: &mut SqlStatement) {
    each_type(statement, |data_type| match data_type {
        SqlType::CharacterVarying(length) | SqlType::CharVarying(length) => {
            *data_type = SqlType::Varchar(length.take());
        }
        SqlType::Character(None) | SqlType::Char(None) => {
            *data_type = SqlType::Char(Some(CharacterLength::IntegerLength {
                length: 1,
                unit: None,
            }));
        }
        SqlType::Character(length) => *data_type = SqlType::Char(length.take()),
        _ => {}
    });
}

/// Rewrites `json`, `jsonb` and `uuid` to `text` wherever `statement` names a type, so
/// that DataFusion plans it.
pub(crate) fn plan_json_as_text(statement: &mut DFStatement) {
    if let DFStatement::Statement(statement) = statement {
        each_type(statement, |data_type| {
            if matches!(data_type, SqlType::JSON | SqlType::JSONB | SqlType::Uuid) {
                *data_type = SqlType::Text;
            }
        });
    }
}

/// Applies `change` to every type `statement` names: in casts, column definitions and
/// ALTER TABLE's added columns and new types.
fn each_type(statement: &mut SqlStatement, change: fn(&mut SqlType)) {
    struct Types(fn(&mut SqlType));
    impl VisitorMut for Types {
        type Break = ();
        fn post_visit_expr(&mut self, expr: &mut Expr) -> std::ops::ControlFlow<()> {
            if let Expr::Cast { data_type, .. } = expr {
                (self.0)(data_type);
            }
            std::ops::ControlFlow::Continue(())
        }
        fn post_visit_statement(
            &mut self,
            statement: &mut SqlStatement,
        ) -> std::ops::ControlFlow<()> {
            match statement {
                SqlStatement::CreateTable(create) => {
                    for column in &mut create.columns {
                        (self.0)(&mut column.data_type);
                    }
                }
                SqlStatement::AlterTable(alter) => {
                    for operation in &mut alter.operations {
                        match operation {
                            ast::AlterTableOperation::AddColumn { column_def, .. } => {
                                (self.0)(&mut column_def.data_type);
                            }
                            ast::AlterTableOperation::AlterColumn {
                                op: ast::AlterColumnOperation::SetDataType { data_type, .. },
                                ..
                            } => (self.0)(data_type),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let _ = statement.visit(&mut Types(change));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    /// `sql`, a CREATE TABLE, parsed (shared with the other CREATE TABLE rewrites' tests).
    pub(crate) fn create(sql: &str) -> ast::CreateTable {
        match Parser::parse_sql(&PostgreSqlDialect {}, sql)
            .expect("parses")
            .remove(0)
        {
            SqlStatement::CreateTable(c) => c,
            other => panic!("not a CREATE TABLE: {other}"),
        }
    }

    #[test]
    fn varchar_lengths_and_json_types_are_recorded() {
        let c = create(
            "create table t (a varchar(20), \"B\" character varying(3), c varchar, d json, E jsonb, f text, g char(2))",
        );
        assert_eq!(
            declared_columns(&c),
            vec![
                ("a".to_owned(), DeclaredType::Varchar(20)),
                ("B".to_owned(), DeclaredType::Varchar(3)),
                ("c".to_owned(), DeclaredType::Varying),
                ("d".to_owned(), DeclaredType::Json),
                ("e".to_owned(), DeclaredType::Jsonb),
                ("g".to_owned(), DeclaredType::Char(2)),
            ]
        );
    }

    #[test]
    fn json_types_are_planned_as_text() {
        let sql = "create table t (d json, e jsonb); select cast(x as jsonb), y::json from t";
        let mut out = Vec::new();
        for s in Parser::parse_sql(&PostgreSqlDialect {}, sql).expect("parses") {
            let mut statement = DFStatement::Statement(Box::new(s));
            plan_json_as_text(&mut statement);
            out.push(statement.to_string());
        }
        assert_eq!(
            out,
            vec![
                "CREATE TABLE t (d TEXT, e TEXT)",
                "SELECT CAST(x AS TEXT), y::TEXT FROM t"
            ]
        );
    }
}
