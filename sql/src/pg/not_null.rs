//! `NOT NULL` columns, as PostgreSQL enforces them. A Delta table records a column's
//! nullability and deltalake refuses a NULL in a `NOT NULL` column, but with words of
//! its own ("Invalid data found: 1 rows failed validation check") and no SQLSTATE. So
//! every write checks first, naming the column and table as PostgreSQL does
//! (`null value in column "b" of relation "t" violates not-null constraint`, 23502):
//!
//! - INSERT: each value stored into a `NOT NULL` column goes through the function
//!   `tarn_not_null(value, column, table)`, which fails on a NULL and otherwise
//!   returns the value, described as not nullable ([`check_insert`]);
//! - UPDATE and MERGE: their new values for such a column likewise ([`check_value`],
//!   [`check_sql`]), and a MERGE's INSERT that leaves such a column out stores NULL
//!   through it ([`unset_columns`]), so it fails only if that clause inserts a row;
//! - COPY: each batch is checked before it becomes a batch of the table's schema
//!   ([`check_batch`]).
//!
//! `PRIMARY KEY` columns are `NOT NULL`, as in PostgreSQL ([`primary_keys_not_null`]);
//! keys are not otherwise enforced (see the README).

use std::sync::Arc;

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, DFSchema, Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::expr::Alias;
use datafusion::logical_expr::{
    ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder, Projection, ReturnFieldArgs,
    ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Values, Volatility, lit,
};
use datafusion::scalar::ScalarValue;
use datafusion::sql::sqlparser::ast::{self, ColumnOption, ColumnOptionDef, TableConstraint};

use crate::error::SqlError;

const NAME: &str = "tarn_not_null";

#[derive(Debug, PartialEq, Eq, Hash)]
struct NotNull {
    signature: Signature,
}

/// `tarn_not_null(value, column, table)`: `value`, or 23502 naming `column` and
/// `table` if it is NULL.
pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(NotNull {
        signature: Signature::any(3, Volatility::Immutable),
    })
}

fn violation(column: &str, table: &str) -> DataFusionError {
    DataFusionError::External(Box::new(SqlError::NotNullViolation {
        column: column.to_owned(),
        table: table.to_owned(),
    }))
}

fn text(value: &ColumnarValue) -> Option<&str> {
    match value {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)),
        ) => Some(s),
        _ => None,
    }
}

impl ScalarUDFImpl for NotNull {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(args[0].clone())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let value = &args.arg_fields[0];
        Ok(Arc::new(
            Field::new(NAME, value.data_type().clone(), false)
                .with_metadata(value.metadata().clone()),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (Some(column), Some(table)) = (text(&args.args[1]), text(&args.args[2])) else {
            return exec_err!("{NAME}: the column and table must be text constants");
        };
        let has_null = match &args.args[0] {
            ColumnarValue::Scalar(value) => value.is_null(),
            ColumnarValue::Array(values) => values.null_count() > 0,
        };
        if has_null {
            return Err(violation(column, table));
        }
        Ok(args.args[0].clone())
    }
}

/// `value`, to be stored in `field` of `table`, checked if the column is `NOT NULL`.
pub(crate) fn check_value(field: &Field, value: Expr, table: &str) -> Expr {
    if field.is_nullable() {
        return value;
    }
    udf().call(vec![value, lit(field.name().as_str()), lit(table)])
}

/// A MERGE's new value for `field` as SQL text (deltalake plans a MERGE's values from
/// text), checked likewise.
pub(crate) fn check_sql(field: &Field, value: &str, table: &str) -> String {
    if field.is_nullable() {
        return value.to_owned();
    }
    format!(
        "{NAME}(({value}), {}, {})",
        sql_text(field.name()),
        sql_text(table)
    )
}

/// The `NOT NULL` columns of `schema` missing from `set` (a MERGE's `INSERT` list),
/// each with a NULL checked as [`check_sql`] checks it.
pub(crate) fn unset_columns(schema: &Schema, set: &[String], table: &str) -> Vec<(String, String)> {
    schema
        .fields()
        .iter()
        .filter(|f| !f.is_nullable() && !set.iter().any(|s| s == f.name()))
        .map(|f| (f.name().clone(), check_sql(f, "NULL", table)))
        .collect()
}

fn sql_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// An INSERT's plan with each value for a `NOT NULL` column checked. DataFusion types
/// `VALUES` rows with the table's columns, nullability included, so a NULL there
/// would fail as Arrow's invalid batch before any check: such `VALUES` are made
/// nullable first.
pub(crate) fn check_insert(plan: LogicalPlan) -> Result<LogicalPlan> {
    let LogicalPlan::Dml(mut dml) = plan else {
        return Ok(plan);
    };
    let target = dml.target.schema();
    if target.fields().iter().all(|f| f.is_nullable()) {
        return Ok(LogicalPlan::Dml(dml));
    }
    let table = dml.table_name.table().to_owned();
    let input = nullable_values(Arc::unwrap_or_clone(Arc::clone(&dml.input)))?.data;
    let checked: Vec<bool> = input
        .schema()
        .fields()
        .iter()
        .zip(target.fields())
        .map(|(given, stored)| !stored.is_nullable() && given.is_nullable())
        .collect();
    dml.input = Arc::new(if !checked.contains(&true) {
        input
    } else if let LogicalPlan::Projection(projection) = input {
        // The check goes into the INSERT's own projection, which keeps its schema (its
        // expressions may not name their columns again on their own); another projection
        // above it could be merged into it with names that collide.
        // A bare column (`z`, as `typmod::assign_insert` projects the columns it leaves
        // alone) is named again: the physical projection takes its columns' names from
        // the expressions, not from this schema, and the Delta sink finds the table's
        // columns by name.
        let exprs = projection
            .expr
            .into_iter()
            .zip(&checked)
            .zip(target.fields())
            .zip(projection.schema.iter())
            .map(
                |(((expr, checked), stored), (qualifier, field))| match expr {
                    Expr::Alias(alias) if *checked => Expr::Alias(Alias {
                        expr: Box::new(check_value(stored, *alias.expr, &table)),
                        ..alias
                    }),
                    expr if *checked => check_value(stored, expr, &table)
                        .alias_qualified(qualifier.cloned(), field.name()),
                    expr => expr,
                },
            )
            .collect();
        let fields = projection
            .schema
            .iter()
            .zip(&checked)
            .map(|((qualifier, field), checked)| {
                let field = field
                    .as_ref()
                    .clone()
                    .with_nullable(field.is_nullable() && !checked);
                (qualifier.cloned(), Arc::new(field))
            })
            .collect();
        let schema = DFSchema::new_with_metadata(fields, projection.schema.metadata().clone())?;
        LogicalPlan::Projection(Projection::try_new_with_schema(
            exprs,
            projection.input,
            Arc::new(schema),
        )?)
    } else {
        let exprs: Vec<Expr> = input
            .schema()
            .iter()
            .zip(target.fields())
            .zip(&checked)
            .map(|(((qualifier, field), stored), checked)| {
                let value = Expr::Column(Column::new(qualifier.cloned(), field.name()));
                if *checked {
                    check_value(stored, value, &table).alias(field.name())
                } else {
                    value
                }
            })
            .collect();
        LogicalPlanBuilder::from(input).project(exprs)?.build()?
    });
    Ok(LogicalPlan::Dml(dml))
}

/// `plan` with its `VALUES` nodes' columns nullable, and the schemas of the nodes above
/// them recomputed (only those: a rewritten projection elsewhere may not rebuild from its
/// expressions alone).
fn nullable_values(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    match plan {
        LogicalPlan::Values(values) if values.schema.fields().iter().any(|f| !f.is_nullable()) => {
            let fields = values
                .schema
                .iter()
                .map(|(qualifier, field)| {
                    let field = field.as_ref().clone().with_nullable(true);
                    (qualifier.cloned(), Arc::new(field))
                })
                .collect();
            let schema = DFSchema::new_with_metadata(fields, values.schema.metadata().clone())?;
            Ok(Transformed::yes(LogicalPlan::Values(Values {
                schema: Arc::new(schema),
                values: values.values,
            })))
        }
        other => {
            let changed = other.map_children(nullable_values)?;
            if changed.transformed {
                changed.map_data(LogicalPlan::recompute_schema)
            } else {
                Ok(changed)
            }
        }
    }
}

/// `schema` with every column nullable: the schema COPY decodes its rows into, before
/// [`check_batch`] makes them rows of the table.
pub(crate) fn loosened(schema: &SchemaRef) -> SchemaRef {
    if schema.fields().iter().all(|f| f.is_nullable()) {
        return Arc::clone(schema);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_nullable(true))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batch` (of [`loosened`]`(schema)`) as a batch of `schema`, or 23502 naming the
/// first `NOT NULL` column holding a NULL.
pub(crate) fn check_batch(
    batch: RecordBatch,
    schema: &SchemaRef,
    table: &str,
) -> Result<RecordBatch> {
    if Arc::ptr_eq(&batch.schema(), schema) {
        return Ok(batch);
    }
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.is_nullable() && column.null_count() > 0 {
            return Err(violation(field.name(), table));
        }
    }
    Ok(RecordBatch::try_new(
        Arc::clone(schema),
        batch.columns().to_vec(),
    )?)
}

/// `CREATE TABLE`'s `PRIMARY KEY` columns (`a int primary key`, `primary key (a, b)`)
/// declared `NOT NULL` as well, as PostgreSQL makes them.
pub(crate) fn primary_keys_not_null(create: &mut ast::CreateTable) {
    let mut keys: Vec<String> = Vec::new();
    for constraint in &create.constraints {
        if let TableConstraint::PrimaryKey(key) = constraint {
            keys.extend(key.columns.iter().map(|c| c.column.expr.to_string()));
        }
    }
    for column in &mut create.columns {
        let is_key = keys.iter().any(|k| *k == column.name.to_string())
            || column
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)));
        if is_key
            && !column
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::NotNull))
        {
            column.options.push(ColumnOptionDef {
                name: None,
                option: ColumnOption::NotNull,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::Int32Array;

    use super::*;
    use crate::pg::declared::tests::create;

    fn not_null_columns(create: &ast::CreateTable) -> Vec<String> {
        create
            .columns
            .iter()
            .filter(|c| c.options.iter().any(|o| o.option == ColumnOption::NotNull))
            .map(|c| c.name.to_string())
            .collect()
    }

    #[test]
    fn primary_key_columns_become_not_null() {
        let mut c = create("create table t (a int primary key, b int, c int not null)");
        primary_keys_not_null(&mut c);
        assert_eq!(not_null_columns(&c), ["a", "c"]);
        let mut c = create("create table t (a int, b int, c int, primary key (c, a))");
        primary_keys_not_null(&mut c);
        assert_eq!(not_null_columns(&c), ["a", "c"]);
        let mut c = create("create table t (a int not null primary key)");
        primary_keys_not_null(&mut c);
        let nots = c.columns[0]
            .options
            .iter()
            .filter(|o| o.option == ColumnOption::NotNull)
            .count();
        assert_eq!(nots, 1, "NOT NULL is not added twice");
    }

    #[test]
    fn a_batch_with_a_null_in_a_not_null_column_names_it() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, false),
        ]));
        let loose = loosened(&schema);
        assert!(loose.fields().iter().all(|f| f.is_nullable()));
        let batch = |b: Vec<Option<i32>>| {
            RecordBatch::try_new(
                Arc::clone(&loose),
                vec![
                    Arc::new(Int32Array::from(vec![None; b.len()])),
                    Arc::new(Int32Array::from(b)),
                ],
            )
            .expect("batch")
        };
        let kept = check_batch(batch(vec![Some(1), Some(2)]), &schema, "t").expect("no NULL");
        assert_eq!(kept.schema(), schema);
        let refused = check_batch(batch(vec![Some(1), None]), &schema, "t").expect_err("NULL");
        assert_eq!(
            refused.to_string(),
            "External error: null value in column \"b\" of relation \"t\" violates not-null constraint"
        );
    }

    #[test]
    fn merge_values_are_checked_as_sql() {
        let field = Field::new("it's", DataType::Int32, false);
        assert_eq!(
            check_sql(&field, "s.x + 1", "t"),
            "tarn_not_null((s.x + 1), 'it''s', 't')"
        );
        let nullable = Field::new("x", DataType::Int32, true);
        assert_eq!(check_sql(&nullable, "s.x", "t"), "s.x");
        let schema = Schema::new(vec![
            field,
            nullable,
            Field::new("y", DataType::Int32, false),
        ]);
        assert_eq!(
            unset_columns(&schema, &["y".to_owned()], "t"),
            [(
                "it's".to_owned(),
                "tarn_not_null((NULL), 'it''s', 't')".to_owned()
            )]
        );
    }
}
