//! PostgreSQL's array input syntax (`array_in`) for casts from text to an array:
//! `'{a,"b c",NULL}'::text[]`, `'{1, 2}'::int[]`, and a text-format `text[]`
//! parameter (postgres.js and node-postgres send arrays so). Arrow's own cast took
//! the whole text as one element, or split it without reading quotes.
//!
//! Elements are separated by commas inside braces; whitespace around an element is
//! dropped; an element in double quotes keeps everything but its quotes, with `\`
//! escaping the next character; an unquoted element may escape with `\` too, and an
//! unquoted `NULL` (any case) is NULL. The elements are text; the cast then makes them
//! the array's element type. Multidimensional literals (`{{1,2},{3,4}}`) and explicit
//! bounds (`[1:2]={1,2}`) are refused by name: Tarn's arrays have one dimension.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, ListArray, StringArray, StringBuilder};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::{Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use datafusion::sql::sqlparser::ast;

use crate::error::SqlError;

/// Why a text is not an array literal: PostgreSQL's DETAIL for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The detail PostgreSQL gives (`Array value must start with "{" or dimension
    /// information.`).
    Detail(&'static str),
    /// A literal Tarn cannot hold (explicit bounds; more than one dimension where the
    /// caller reads one).
    Unsupported(&'static str),
    /// More dimensions than PostgreSQL's `MAXDIM` (6), its 54000.
    TooDeep,
}

/// PostgreSQL's limit on an array's dimensions (`MAXDIM`).
pub(crate) const MAX_DIMENSIONS: usize = 6;

/// An array literal read: the lengths of its dimensions (none for `{}`) and its
/// elements in PostgreSQL's order (the last subscript varying fastest).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Literal {
    pub shape: Vec<usize>,
    pub elements: Vec<Option<String>>,
}

/// The array literal `text`, of any number of dimensions (`{{1,2},{3,4}}`): each
/// level's sub-arrays must have the same shape, as PostgreSQL requires.
pub(crate) fn parse_literal(text: &str) -> Result<Literal, Malformed> {
    let trimmed = text.trim_matches(is_space);
    if trimmed.starts_with('[') {
        return Err(Malformed::Unsupported("array bounds ([1:2]={...})"));
    }
    if !trimmed.starts_with('{') {
        return Err(Malformed::Detail(
            "Array value must start with \"{\" or dimension information.",
        ));
    }
    let mut chars = trimmed.chars().peekable();
    let mut literal = Literal::default();
    literal.shape = level(&mut chars, 1, &mut literal.elements)?;
    match chars.all(is_space) {
        true => Ok(literal),
        false => Err(Malformed::Detail("Junk after closing right brace.")),
    }
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn skip_space(chars: &mut Chars<'_>) {
    while chars.peek().is_some_and(|c| is_space(*c)) {
        chars.next();
    }
}

/// Reads the brace level that starts at `chars` (its `{`), the `depth`th, appending
/// its elements to `elements`; answers its shape from this level down (empty for
/// `{}`).
fn level(
    chars: &mut Chars<'_>,
    depth: usize,
    elements: &mut Vec<Option<String>>,
) -> Result<Vec<usize>, Malformed> {
    if depth > MAX_DIMENSIONS {
        return Err(Malformed::TooDeep);
    }
    chars.next();
    skip_space(chars);
    if chars.peek() == Some(&'}') {
        chars.next();
        return Ok(Vec::new());
    }
    // The shape of this level's sub-arrays, once one is read; or that it holds
    // elements.
    let mut inner: Option<Vec<usize>> = None;
    let mut holds_elements = false;
    let mut count = 0;
    loop {
        skip_space(chars);
        if chars.peek() == Some(&'{') {
            if holds_elements {
                return Err(Malformed::Detail("Unexpected \"{\" character."));
            }
            let shape = level(chars, depth + 1, elements)?;
            match &inner {
                _ if shape.is_empty() => {
                    return Err(Malformed::Detail("Unexpected \"}\" character."));
                }
                None => inner = Some(shape),
                Some(seen) if *seen == shape => {}
                Some(_) => {
                    return Err(Malformed::Detail(
                        "Multidimensional arrays must have sub-arrays with matching dimensions.",
                    ));
                }
            }
            skip_space(chars);
        } else {
            if inner.is_some() {
                return Err(Malformed::Detail("Unexpected array element."));
            }
            holds_elements = true;
            elements.push(element(chars)?);
        }
        count += 1;
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            _ => return Err(Malformed::Detail("Unexpected end of input.")),
        }
    }
    let mut shape = vec![count];
    shape.extend(inner.unwrap_or_default());
    Ok(shape)
}

/// One element, quoted or not, up to the comma or brace after it; an unquoted `NULL`
/// (any case) is NULL.
fn element(chars: &mut Chars<'_>) -> Result<Option<String>, Malformed> {
    let mut element = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        loop {
            match chars.next() {
                Some('"') => break,
                Some('\\') => match chars.next() {
                    Some(c) => element.push(c),
                    None => return Err(Malformed::Detail("Unexpected end of input.")),
                },
                Some(c) => element.push(c),
                None => return Err(Malformed::Detail("Unexpected end of input.")),
            }
        }
        skip_space(chars);
        return Ok(Some(element));
    }
    // Unquoted: up to a comma or the closing brace, trailing spaces dropped (an
    // escaped space is kept).
    let mut kept = 0;
    let mut escaped = false;
    loop {
        match chars.peek() {
            Some(',' | '}') | None => break,
            Some('"') => return Err(Malformed::Detail("Unexpected array element.")),
            Some('{') => return Err(Malformed::Detail("Unexpected \"{\" character.")),
            Some('\\') => {
                chars.next();
                match chars.next() {
                    Some(c) => element.push(c),
                    None => return Err(Malformed::Detail("Unexpected end of input.")),
                }
                escaped = true;
                kept = element.len();
            }
            Some(&c) => {
                chars.next();
                element.push(c);
                if !is_space(c) {
                    kept = element.len();
                }
            }
        }
    }
    element.truncate(kept);
    if element.is_empty() {
        return Err(Malformed::Detail("Unexpected \",\" character."));
    }
    // An escaped character makes it text, as quotes do (`{\NULL}` is "NULL").
    Ok(match !escaped && element.eq_ignore_ascii_case("null") {
        true => None,
        false => Some(element),
    })
}

/// The whitespace `array_in` skips (C's `isspace`).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

/// `pg_array_in(text)`: the elements of an array literal of `depth` dimensions (one
/// for a column's texts; a constant's own, see [`deepen_literal_casts`]), as text.
pub(crate) fn udf(depth: usize) -> ScalarUDF {
    ScalarUDF::new_from_impl(ArrayIn {
        signature: Signature::any(1, Volatility::Immutable),
        depth: depth.max(1),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ArrayIn {
    signature: Signature,
    depth: usize,
}

fn refused(text: &str, malformed: Malformed) -> DataFusionError {
    DataFusionError::External(Box::new(match malformed {
        // PostgreSQL gives the detail as a DETAIL line, which Tarn's errors lack.
        Malformed::Detail(_) => {
            SqlError::InvalidInput(format!("malformed array literal: \"{text}\""))
        }
        Malformed::Unsupported(what) => {
            SqlError::not_supported(format!("{what} in array literals"))
        }
        Malformed::TooDeep => SqlError::TooManyDimensions(MAX_DIMENSIONS + 1),
    }))
}

impl ScalarUDFImpl for ArrayIn {
    fn name(&self) -> &str {
        "pg_array_in"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(crate::params::with_depth(&DataType::Utf8, self.depth))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let texts = args.args[0].to_array(args.number_rows)?;
        let texts = match texts.data_type() {
            DataType::Null => {
                datafusion::arrow::array::new_null_array(&DataType::Utf8, texts.len())
            }
            _ => datafusion::arrow::compute::cast(&texts, &DataType::Utf8)?,
        };
        let Some(texts) = texts.as_string_opt::<i32>() else {
            return exec_err!("pg_array_in: expected text");
        };
        Ok(ColumnarValue::Array(lists(texts, self.depth)?))
    }
}

/// Each text of `texts` read as an array literal of `depth` dimensions (or empty):
/// lists of lists of its elements' texts, `depth` deep.
pub(crate) fn lists(texts: &StringArray, depth: usize) -> Result<ArrayRef> {
    let depth = depth.max(1);
    // The offsets of each level's lists into the next level (the last's into the
    // elements), from the outermost.
    let mut offsets: Vec<Vec<i32>> = vec![vec![0]; depth];
    let mut valid = Vec::with_capacity(texts.len());
    let mut values = StringBuilder::new();
    for text in texts.iter() {
        let shape = match text {
            None => Vec::new(),
            Some(text) => {
                let literal = parse_literal(text).map_err(|m| refused(text, m))?;
                match literal.shape.len() {
                    0 => {}
                    n if n == depth => {}
                    1.. if depth == 1 => {
                        return Err(refused(
                            text,
                            Malformed::Unsupported("multidimensional arrays"),
                        ));
                    }
                    n => {
                        return Err(DataFusionError::External(Box::new(
                            SqlError::not_supported(format!(
                                "mixing arrays of {depth} and {n} dimensions"
                            )),
                        )));
                    }
                }
                for element in literal.elements {
                    values.append_option(element);
                }
                literal.shape
            }
        };
        valid.push(text.is_some());
        // Level k gets a list for each sub-array of the levels above, each with
        // shape[k] members (none below an empty array).
        let mut lists = 1usize;
        for (k, level) in offsets.iter_mut().enumerate() {
            let members = shape.get(k).copied().unwrap_or(0);
            for _ in 0..lists {
                let last = level.last().copied().unwrap_or_default();
                let next = i32::try_from(members)
                    .ok()
                    .and_then(|m| last.checked_add(m));
                let Some(next) = next else {
                    return exec_err!("array literals too large for one batch");
                };
                level.push(next);
            }
            lists *= members;
        }
    }
    let mut array: ArrayRef = Arc::new(values.finish());
    for (k, level) in offsets.into_iter().enumerate().rev() {
        let nulls = (k == 0).then(|| NullBuffer::from(std::mem::take(&mut valid)));
        let field = Arc::new(Field::new_list_field(array.data_type().clone(), true));
        array = Arc::new(ListArray::try_new(
            field,
            OffsetBuffer::new(level.into()),
            array,
            nulls,
        )?);
    }
    Ok(array)
}

/// A cast to an array type of a constant array of more dimensions
/// (`'{{1,2},{3,4}}'::int[]`, `ARRAY[[1,2],[3,4]]::int[]`, as psycopg2 writes a list
/// of lists) is written as a cast to that many dimensions (`int[][]`, which
/// PostgreSQL reads as `int[]`): Arrow's list types have a fixed depth, and the
/// planner types subscripts and functions over the cast (`(...)[2][1]`) by it.
pub(crate) fn deepen_literal_casts(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let ast::Expr::Cast {
            expr: value,
            data_type,
            ..
        } = expr
            && let ast::DataType::Array(ast::ArrayElemTypeDef::SquareBracket(element, _)) =
                data_type
            && !matches!(element.as_ref(), ast::DataType::Array(_))
        {
            let depth = literal_depth(value);
            for _ in 1..depth {
                *data_type = ast::DataType::Array(ast::ArrayElemTypeDef::SquareBracket(
                    Box::new(data_type.clone()),
                    None,
                ));
            }
        }
        std::ops::ControlFlow::<()>::Continue(())
    });
}

/// The dimensions of the constant array `expr` is (0 if it is none).
pub(crate) fn literal_depth(expr: &ast::Expr) -> usize {
    match expr {
        ast::Expr::Nested(inner) => literal_depth(inner),
        ast::Expr::Value(value) => match &value.value {
            ast::Value::SingleQuotedString(text) | ast::Value::EscapedStringLiteral(text) => {
                parse_literal(text).map_or(0, |literal| literal.shape.len())
            }
            _ => 0,
        },
        ast::Expr::Array(array) => {
            let inner = array.elem.iter().map(literal_depth).min().unwrap_or(0);
            let all_arrays = array
                .elem
                .iter()
                .all(|e| matches!(e, ast::Expr::Array(_) | ast::Expr::Nested(_)));
            1 + if all_arrays { inner } else { 0 }
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elements(text: &str) -> Vec<Option<&str>> {
        // Leaked: tests only, for comparable slices.
        parse_literal(text)
            .expect("parses")
            .elements
            .into_iter()
            .map(|e| e.map(|s| &*Box::leak(s.into_boxed_str())))
            .collect()
    }

    // Each answer is PostgreSQL 15's (`select '...'::text[]`, element by element).
    #[test]
    fn literals_read_as_array_in_reads_them() {
        assert_eq!(elements("{a,\"b c\",NULL}"), [Some("a"), Some("b c"), None]);
        assert_eq!(elements(" { 1 , 2 } "), [Some("1"), Some("2")]);
        assert_eq!(elements("{}"), Vec::<Option<&str>>::new());
        assert_eq!(
            elements("{\"NULL\",null,\"\"}"),
            [Some("NULL"), None, Some("")]
        );
        assert_eq!(elements("{a\\,b,\"q\\\"x\"}"), [Some("a,b"), Some("q\"x")]);
        assert_eq!(elements("{a b ,c\\ }"), [Some("a b"), Some("c ")]);
        assert_eq!(
            parse_literal("1,2"),
            Err(Malformed::Detail(
                "Array value must start with \"{\" or dimension information."
            ))
        );
        assert_eq!(
            parse_literal("{1,2} x"),
            Err(Malformed::Detail("Junk after closing right brace."))
        );
        assert_eq!(
            parse_literal("{1,,2}"),
            Err(Malformed::Detail("Unexpected \",\" character."))
        );
        assert_eq!(
            parse_literal("{\"a"),
            Err(Malformed::Detail("Unexpected end of input."))
        );
    }

    // PostgreSQL 15's answers: `select '...'::text[]`, and its errors for the others.
    #[test]
    fn multidimensional_literals_read_as_array_in_reads_them() {
        let shape = |text: &str| parse_literal(text).map(|l| l.shape);
        let read = parse_literal(" { { 1 , \"b c\" } , {NULL, \\N} } ").expect("2-D");
        assert_eq!(read.shape, [2, 2]);
        assert_eq!(
            read.elements,
            [Some("1".into()), Some("b c".into()), None, Some("N".into())]
        );
        assert_eq!(shape("{{{1},{2}},{{3},{4}}}"), Ok(vec![2, 2, 1]));
        assert_eq!(shape("{{{{{{1}}}}}}"), Ok(vec![1; 6]));
        assert_eq!(shape("{{{{{{{1}}}}}}}"), Err(Malformed::TooDeep));
        assert_eq!(shape("{}"), Ok(vec![]));
        for bad in [
            "{{1,2},{3}}",
            "{1,{2}}",
            "{{1},2}",
            "{{}}",
            "{{1}",
            "{{1}}}",
        ] {
            assert!(
                matches!(shape(bad), Err(Malformed::Detail(_))),
                "{bad}: {:?}",
                shape(bad)
            );
        }
        assert_eq!(
            parse_literal("{\\NULL,NULL}").expect("escaped").elements,
            [Some("NULL".into()), None]
        );
    }

    /// Lists `depth` deep; a literal of other dimensions is refused.
    #[test]
    fn lists_nest_as_deep_as_asked() {
        let texts = StringArray::from(vec![Some("{{1,2},{3,4}}"), None, Some("{}")]);
        let read = lists(&texts, 2).expect("2-D");
        assert_eq!(
            read.data_type(),
            &crate::params::with_depth(&DataType::Utf8, 2)
        );
        let outer = read.as_list::<i32>();
        assert_eq!(outer.value_length(0), 2);
        assert!(outer.is_null(1));
        assert_eq!(outer.value_length(2), 0);
        let first = outer.value(0);
        let first = first.as_list::<i32>().value(1);
        let first = first.as_string::<i32>();
        assert_eq!((first.value(0), first.value(1)), ("3", "4"));
        assert!(lists(&StringArray::from(vec!["{{1}}"]), 1).is_err());
        assert!(lists(&StringArray::from(vec!["{1}"]), 2).is_err());
    }
}
