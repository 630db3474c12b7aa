//! `PREPARE name [(type, ...)] AS statement`, `EXECUTE name [(value, ...)]` and
//! `DEALLOCATE name`, PostgreSQL's prepared statements in SQL, as psql users and
//! scripts write them. A statement prepared so is the same [`Prepared`] as one a
//! client prepares over the extended protocol (Parse): described once, its `$n` typed
//! as declared or inferred, its plan kept for the next executions. `EXECUTE`
//! computes its values (any constant expressions), casts each to its parameter's type
//! and runs it as Bind and Execute would. The statements last as long as the session;
//! PostgreSQL keeps them in the same namespace as protocol-level ones, which live in
//! the server's connection here, so `DEALLOCATE` looks in both (the server asks
//! [`Session::deallocate_sql`]). `DISCARD ALL` forgets them too.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast;

use super::{CommandTag, Output, Prepared, Session, normalize_ident};
use crate::error::{Result, SqlError};

/// The statements a session prepared with SQL, by name (folded as an identifier).
#[derive(Debug, Default)]
pub(super) struct SqlPrepared(std::sync::Mutex<HashMap<String, Arc<Prepared>>>);

impl SqlPrepared {
    fn get(&self, name: &str) -> Option<Arc<Prepared>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

impl Session {
    /// `PREPARE name [(type, ...)] AS statement`.
    pub(super) async fn sql_prepare(
        &self,
        name: &ast::Ident,
        data_types: &[ast::DataType],
        statement: &ast::Statement,
    ) -> Result<Output> {
        let name = normalize_ident(name);
        if self.sql_prepared.get(&name).is_some() {
            return Err(SqlError::PreparedStatementExists(name));
        }
        let mut declared = Vec::with_capacity(data_types.len());
        for data_type in data_types {
            declared.push(Some(self.sql_type(data_type).await?));
        }
        let prepared = Box::pin(self.prepare(&statement.to_string(), &declared)).await?;
        self.sql_prepared
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name, Arc::new(prepared));
        Ok(Output::Command(CommandTag::new("PREPARE")))
    }

    /// `EXECUTE name [(value, ...)]`.
    pub(super) async fn sql_execute(
        &self,
        name: &ast::ObjectName,
        parameters: &[ast::Expr],
    ) -> Result<Output> {
        let name = statement_name(name);
        let prepared = self.sql_prepared_named(&name)?;
        no_parameters(parameters)?;
        let types = prepared.param_types();
        if parameters.len() != types.len() {
            return Err(SqlError::PreparedParameterCount {
                name,
                expected: types.len(),
                given: parameters.len(),
            });
        }
        let values = self.constant_values(parameters, types).await?;
        Box::pin(self.execute_prepared(&prepared, values)).await
    }

    /// The result columns of `EXECUTE name(parameters)`, described before it runs (a
    /// Parse of it): those of the statement `name`.
    pub(super) fn sql_execute_schema(
        &self,
        name: &ast::ObjectName,
        parameters: &[ast::Expr],
    ) -> Result<Option<datafusion::arrow::datatypes::SchemaRef>> {
        let prepared = self.sql_prepared_named(&statement_name(name))?;
        no_parameters(parameters)?;
        Ok(prepared.schema().cloned())
    }

    fn sql_prepared_named(&self, name: &str) -> Result<Arc<Prepared>> {
        self.sql_prepared
            .get(name)
            .ok_or_else(|| SqlError::UnknownPreparedStatement(name.to_owned()))
    }

    /// Forgets the statement `name` prepared with SQL (all of them for `None`);
    /// whether there was one.
    pub fn deallocate_sql(&self, name: Option<&str>) -> bool {
        let mut prepared = self
            .sql_prepared
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match name {
            Some(name) => prepared.remove(name).is_some(),
            None => {
                let any = !prepared.is_empty();
                prepared.clear();
                any
            }
        }
    }

    /// The values of `expressions` (constants: literals, casts, function calls),
    /// each cast to its type in `types`.
    async fn constant_values(
        &self,
        expressions: &[ast::Expr],
        types: &[DataType],
    ) -> Result<Vec<ScalarValue>> {
        if expressions.is_empty() {
            return Ok(Vec::new());
        }
        // Planned as the SELECT of them a client would write, through the same parse
        // and rewrites (the expressions print as SQL that parses back).
        let list: Vec<String> = expressions.iter().map(ToString::to_string).collect();
        let mut statements = self.parse(&format!("select {}", list.join(", ")))?;
        let statement = statements
            .pop()
            .ok_or_else(|| SqlError::not_supported("EXECUTE without values"))?;
        let plan = Box::pin(self.plan(statement)).await?;
        let batches = self.ctx.execute_logical_plan(plan).await?.collect().await?;
        let batch = batches
            .iter()
            .find(|b| b.num_rows() > 0)
            .ok_or_else(|| SqlError::not_supported("EXECUTE values that make no row"))?;
        batch
            .columns()
            .iter()
            .zip(types)
            .map(|(column, data_type)| {
                let value = ScalarValue::try_from_array(column, 0)?;
                Ok(value.cast_to(data_type)?)
            })
            .collect()
    }
}

/// A prepared statement's name as written, folded as an identifier.
fn statement_name(name: &ast::ObjectName) -> String {
    match name.0.as_slice() {
        [ast::ObjectNamePart::Identifier(ident)] => normalize_ident(ident),
        _ => name.to_string(),
    }
}

/// Refuses `$n` among `EXECUTE`'s values, as PostgreSQL does (`there is no parameter
/// $1`, also over the extended protocol): they are the prepared statement's values.
fn no_parameters(parameters: &[ast::Expr]) -> Result<()> {
    for parameter in parameters {
        let found = ast::visit_expressions(parameter, |expr| match expr {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::Placeholder(p) => std::ops::ControlFlow::Break(p.clone()),
                _ => std::ops::ControlFlow::Continue(()),
            },
            _ => std::ops::ControlFlow::Continue(()),
        });
        if let std::ops::ControlFlow::Break(placeholder) = found {
            return Err(SqlError::UndefinedParameter(placeholder));
        }
    }
    Ok(())
}
