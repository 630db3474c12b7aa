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
//! - `regexp_matches(s, pattern [, flags])` in a select list: one row per match (every
//!   match with flag `g`, else the first), each the array of the pattern's groups (the
//!   whole match where it has none; a group that took no part is NULL), no row where
//!   nothing matches; written as `unnest` of `regexp_matches_list`, the list of those
//!   arrays. Flags `g`, `i` (case-insensitive), `c` (sensitive), `n` and `s` (newline
//!   sensitivity) and `x` (expanded) as PostgreSQL reads them; others 22023.
//!
//! - `x SIMILAR TO pattern [ESCAPE e]`: DataFusion read the pattern as a regular
//!   expression matching anywhere (`'abc' SIMILAR TO 'a%'` was false). It is `x ~
//!   similar_to_escape(pattern [, e])`, PostgreSQL's own translation (also a function
//!   of its own): anchored at both ends, `%` and `_` as in LIKE, `.`, `^` and `$`
//!   literal, groups not capturing.
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
            Expr::SimilarTo {
                negated,
                expr: value,
                pattern,
                escape_char,
            } => {
                let mut args = vec![pattern.as_ref().clone()];
                if let Some(escape) = escape_char {
                    args.push(Expr::value(escape.clone()));
                }
                *expr = Expr::BinaryOp {
                    left: value.clone(),
                    op: match negated {
                        true => ast::BinaryOperator::PGRegexNotMatch,
                        false => ast::BinaryOperator::PGRegexMatch,
                    },
                    right: Box::new(super::call("similar_to_escape", args)),
                };
            }
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
                    ("regexp_matches", [_, _] | [_, _, _]) => {
                        let list = super::call("regexp_matches_list", args.clone());
                        *expr = super::call("unnest", vec![list]);
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
        let (arrays, scalar) = super::arguments(&args)?;
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

pub(crate) fn matches_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(MatchesList {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MatchesList {
    signature: Signature,
}

impl ScalarUDFImpl for MatchesList {
    fn name(&self) -> &str {
        "regexp_matches_list"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args.len() {
            2 | 3 => Ok(vec![DataType::Utf8; args.len()]),
            _ => plan_err!("regexp_matches takes a string, a pattern and flags"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        let text = Arc::new(Field::new_list_field(DataType::Utf8, true));
        Ok(DataType::List(Arc::new(Field::new_list_field(
            DataType::List(text),
            true,
        ))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        // Every argument is text (coerce_types).
        let texts: Vec<_> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
        let mut out = ListBuilder::new(ListBuilder::new(StringBuilder::new()));
        let mut compiled: Option<((String, String), regex::Regex, bool)> = None;
        for row in 0..texts[0].len() {
            if texts.iter().any(|a| a.is_null(row)) {
                out.append_null();
                continue;
            }
            let (value, pattern) = (texts[0].value(row), texts[1].value(row));
            let flags = texts.get(2).map_or("", |f| f.value(row));
            let key = (pattern.to_owned(), flags.to_owned());
            if compiled.as_ref().map(|(k, ..)| k) != Some(&key) {
                let (re, global) = compile(pattern, flags)?;
                compiled = Some((key, re, global));
            }
            let (_, re, global) = compiled.as_ref().expect("compiled above");
            for groups in re
                .captures_iter(value)
                .take(if *global { usize::MAX } else { 1 })
            {
                let inner = out.values();
                if groups.len() == 1 {
                    inner
                        .values()
                        .append_option(groups.get(0).map(|m| m.as_str()));
                } else {
                    for group in groups.iter().skip(1) {
                        inner.values().append_option(group.map(|m| m.as_str()));
                    }
                }
                inner.append(true);
            }
            out.append(true);
        }
        let array: Arc<dyn Array> = Arc::new(out.finish());
        super::answer(array, scalar)
    }
}

pub(crate) fn similar_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(SimilarToEscape {
        signature: Signature::user_defined(Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct SimilarToEscape {
    signature: Signature,
}

impl ScalarUDFImpl for SimilarToEscape {
    fn name(&self) -> &str {
        "similar_to_escape"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args.len() {
            1 | 2 => Ok(vec![DataType::Utf8; args.len()]),
            _ => plan_err!("similar_to_escape takes a pattern and an escape character"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        // Every argument is text (coerce_types).
        let texts: Vec<_> = arrays.iter().map(|a| a.as_string::<i32>()).collect();
        let mut out = StringBuilder::new();
        for row in 0..texts[0].len() {
            if texts.iter().any(|a| a.is_null(row)) {
                out.append_null();
                continue;
            }
            let escape = match texts.get(1).map(|e| e.value(row)) {
                None => Some('\\'),
                Some(e) => {
                    let mut chars = e.chars();
                    match (chars.next(), chars.next()) {
                        (None, _) => None,
                        (Some(c), None) => Some(c),
                        _ => {
                            return Err(DataFusionError::External(Box::new(
                                crate::SqlError::InvalidEscape,
                            )));
                        }
                    }
                }
            };
            out.append_value(similar_to_regex(texts[0].value(row), escape));
        }
        let array: Arc<dyn Array> = Arc::new(out.finish());
        super::answer(array, scalar)
    }
}

/// PostgreSQL 15's `similar_escape`: a SIMILAR TO pattern as the regular expression
/// it means.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> String {
    let mut out = String::from("^(?:");
    let (mut after_escape, mut in_class) = (false, false);
    for c in pattern.chars() {
        if after_escape {
            out.push('\\');
            out.push(c);
            after_escape = false;
        } else if Some(c) == escape {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            in_class = c != ']';
        } else {
            match c {
                '[' => {
                    out.push(c);
                    in_class = true;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                c => out.push(c),
            }
        }
    }
    out.push_str(")$");
    out
}

/// `pattern` compiled with PostgreSQL's `flags`, and whether `g` was among them.
fn compile(pattern: &str, flags: &str) -> Result<(regex::Regex, bool)> {
    let mut builder = regex::RegexBuilder::new(pattern);
    let mut global = false;
    for flag in flags.chars() {
        match flag {
            'g' => global = true,
            'i' => _ = builder.case_insensitive(true),
            'c' => _ = builder.case_insensitive(false),
            // Newline-sensitive: `.` and bracket expressions stop at newlines, `^` and
            // `$` match at them. PostgreSQL's default is neither.
            'n' | 'm' => _ = builder.dot_matches_new_line(false).multi_line(true),
            's' => _ = builder.dot_matches_new_line(true).multi_line(false),
            'p' => _ = builder.dot_matches_new_line(false).multi_line(false),
            'w' => _ = builder.dot_matches_new_line(true).multi_line(true),
            'x' => _ = builder.ignore_whitespace(true),
            't' => _ = builder.ignore_whitespace(false),
            other => {
                return Err(DataFusionError::External(Box::new(
                    crate::SqlError::InvalidRegexOption(other),
                )));
            }
        }
    }
    // PostgreSQL's `.` matches a newline unless told otherwise.
    if !flags.contains(['n', 'm', 'p']) {
        builder.dot_matches_new_line(true);
    }
    let re = builder.build().map_err(|e| {
        DataFusionError::External(Box::new(crate::SqlError::InvalidRegex(
            e.to_string().lines().last().unwrap_or_default().to_owned(),
        )))
    })?;
    Ok((re, global))
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
    fn similar_to_patterns_read_as_postgresql_reads_them() {
        // PostgreSQL 15's similar_to_escape.
        assert_eq!(
            similar_to_regex("a%_.^$|(b)*[x%]c", Some('\\')),
            "^(?:a.*.\\.\\^\\$|(?:b)*[x%]c)$"
        );
        assert_eq!(similar_to_regex("a#%b", Some('#')), "^(?:a\\%b)$");
        assert_eq!(similar_to_regex("a\\%b", Some('\\')), "^(?:a\\%b)$");
    }

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
