//! PostgreSQL's regular-expression forms DataFusion lacks:
//!
//! - `substring(s FROM 'pattern')` and `substring(s, 'pattern')` with a text pattern:
//!   the part of `s` the pattern matches, or its first parenthesized group (DataFusion
//!   read the pattern as a start position: "function substr(text, text) does not
//!   exist"). Written as `(regexp_match(s, 'pattern'))[1]`, which is exactly that.
//! - `regexp_split_to_array(s, pattern)` and `regexp_split_to_table(s, pattern)` (the
//!   latter as `unnest` of the former): `s` split at each match, as PostgreSQL splits
//!   it (an empty pattern splits between characters; an empty string is one empty
//!   element).
//!
//! Patterns are Rust's `regex` syntax, as in DataFusion's `regexp_*` functions; the
//! common POSIX forms (classes, groups, `\d`, anchors) read the same.

use std::ops::ControlFlow;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, ListBuilder, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, plan_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast::{self, Expr, Statement};

/// Rewrites the regular-expression forms of `substring` and `regexp_split_to_table`
/// in `statement`.
pub(crate) fn rewrite(statement: &mut Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        let pattern_match = |value: &Expr, pattern: &Expr| -> Expr {
            let matched = super::call("regexp_match", vec![value.clone(), pattern.clone()]);
            Expr::CompoundFieldAccess {
                root: Box::new(Expr::Nested(Box::new(matched))),
                access_chain: vec![ast::AccessExpr::Subscript(ast::Subscript::Index {
                    index: Expr::value(ast::Value::Number("1".to_owned(), false)),
                })],
            }
        };
        let text = |e: &Expr| matches!(e, Expr::Value(v) if matches!(v.value, ast::Value::SingleQuotedString(_)));
        match expr {
            Expr::Substring {
                expr: value,
                substring_from: Some(pattern),
                substring_for: None,
                ..
            } if text(pattern) => {
                *expr = pattern_match(value, pattern);
            }
            Expr::Function(f) => {
                let name = super::single_value::function_name(f);
                let args: Vec<Expr> = super::unnamed_args(f).cloned().collect();
                match (name.as_str(), args.as_slice()) {
                    ("substring", [value, pattern]) if text(pattern) => {
                        *expr = pattern_match(value, pattern);
                    }
                    ("regexp_split_to_table", [value, pattern]) => {
                        let array = super::call(
                            "regexp_split_to_array",
                            vec![value.clone(), pattern.clone()],
                        );
                        *expr = super::call("unnest", vec![array]);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        ControlFlow::<()>::Continue(())
    });
}

pub(crate) fn split_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SplitToArray {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SplitToArray {
    signature: Signature,
}

impl ScalarUDFImpl for SplitToArray {
    fn name(&self) -> &str {
        "regexp_split_to_array"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [_, _] => Ok(vec![DataType::Utf8, DataType::Utf8]),
            _ => plan_err!("regexp_split_to_array takes a string and a pattern"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::Utf8,
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let values = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let patterns = datafusion::arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
        let (values, patterns) = (values.as_string::<i32>(), patterns.as_string::<i32>());
        let mut out = ListBuilder::new(StringBuilder::new());
        let mut compiled: Option<(String, regex::Regex)> = None;
        for row in 0..values.len() {
            if values.is_null(row) || patterns.is_null(row) {
                out.append_null();
                continue;
            }
            let pattern = patterns.value(row);
            if compiled.as_ref().map(|(p, _)| p.as_str()) != Some(pattern) {
                let re = regex::Regex::new(pattern).map_err(|e| {
                    DataFusionError::External(Box::new(crate::SqlError::InvalidRegex(
                        e.to_string().lines().last().unwrap_or_default().to_owned(),
                    )))
                })?;
                compiled = Some((pattern.to_owned(), re));
            }
            let re = &compiled.as_ref().expect("compiled above").1;
            for part in split(values.value(row), re) {
                out.values().append_value(part);
            }
            out.append(true);
        }
        let array: Arc<dyn Array> = Arc::new(out.finish());
        super::answer(array, scalar)
    }
}

/// `text` split at the matches of `re` as PostgreSQL splits it: a match of no
/// characters splits between two characters (never at the start or the end).
fn split<'a>(text: &'a str, re: &regex::Regex) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for m in re.find_iter(text) {
        if m.start() == m.end() {
            // An empty match: a split before each character but the first.
            if m.start() == 0 || m.start() >= text.len() || m.start() == start {
                continue;
            }
        }
        parts.push(&text[start..m.start()]);
        start = m.end();
    }
    parts.push(&text[start..]);
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_split_as_postgresql_splits_them() {
        // PostgreSQL 15's answers.
        let re = |p: &str| regex::Regex::new(p).unwrap();
        assert_eq!(split("a,b;;c", &re("[,;]")), ["a", "b", "", "c"]);
        assert_eq!(split("hello", &re("")), ["h", "e", "l", "l", "o"]);
        assert_eq!(split("", &re(",")), [""]);
        assert_eq!(split("a b  c", &re(r"\s+")), ["a", "b", "c"]);
    }
}
