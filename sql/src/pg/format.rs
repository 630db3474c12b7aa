//! PostgreSQL's `format(formatstr, args...)`: `%s` (the value as text, NULL as
//! nothing), `%I` (quoted as an identifier when it needs to be), `%L` (quoted as a
//! literal, NULL as `NULL`), `%%`, and positions (`%2$s`). Metabase builds names
//! with it (`format('%I.%I', schema, table)::regclass`). Width flags (`%-10s`) are
//! refused by name.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, StringArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

/// `quote_ident(text)`, replacing the pg_catalog crate's (see [`quote_ident`]).
pub(crate) fn quote_ident_udf() -> ScalarUDF {
    datafusion::logical_expr::create_udf(
        "quote_ident",
        vec![DataType::Utf8],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|args| {
            let rows = match &args[0] {
                ColumnarValue::Array(a) => a.len(),
                ColumnarValue::Scalar(_) => 1,
            };
            let text = datafusion::arrow::compute::cast(&args[0].to_array(rows)?, &DataType::Utf8)?;
            let quoted: StringArray = text
                .as_any()
                .downcast_ref::<StringArray>()
                .map(|a| a.iter().map(|v| v.map(quote_ident)).collect())
                .unwrap_or_else(|| StringArray::new_null(rows));
            Ok(ColumnarValue::Array(Arc::new(quoted)))
        }),
    )
}

/// `quote_literal(text)`: the text as a SQL string literal, as `format`'s `%L`
/// writes it (NULL in, NULL out; `quote_nullable` writes `NULL` for it).
pub(crate) fn quote_literal_udfs() -> [ScalarUDF; 2] {
    let quoting = |name: &'static str, null: Option<&'static str>| {
        datafusion::logical_expr::create_udf(
            name,
            vec![DataType::Utf8],
            DataType::Utf8,
            Volatility::Immutable,
            Arc::new(move |args| {
                let rows = match &args[0] {
                    ColumnarValue::Array(a) => a.len(),
                    ColumnarValue::Scalar(_) => 1,
                };
                let text =
                    datafusion::arrow::compute::cast(&args[0].to_array(rows)?, &DataType::Utf8)?;
                let quoted: StringArray = text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .map(|a| {
                        a.iter()
                            .map(|v| match v {
                                Some(v) => Some(quote_literal(v)),
                                None => null.map(str::to_owned),
                            })
                            .collect()
                    })
                    .unwrap_or_else(|| StringArray::new_null(rows));
                Ok(ColumnarValue::Array(Arc::new(quoted)))
            }),
        )
    };
    [
        quoting("quote_literal", None),
        quoting("quote_nullable", Some("NULL")),
    ]
}

pub(crate) fn udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(Format {
        signature: Signature::variadic_any(Volatility::Stable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Format {
    signature: Signature,
}

impl ScalarUDFImpl for Format {
    fn name(&self) -> &str {
        "format"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let texts: Vec<StringArray> = args
            .args
            .iter()
            .map(|a| {
                let array = a.to_array(rows)?;
                let text = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
                Ok(text
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .cloned()
                    .unwrap_or_else(|| StringArray::new_null(rows)))
            })
            .collect::<Result<_>>()?;
        let Some((template, values)) = texts.split_first() else {
            return Err(DataFusionError::Plan(
                "function format() requires at least one argument".to_owned(),
            ));
        };
        let mut out = Vec::with_capacity(rows);
        for row in 0..rows {
            if template.is_null(row) {
                out.push(None);
                continue;
            }
            let row_values: Vec<Option<&str>> = values
                .iter()
                .map(|v| (!v.is_null(row)).then(|| v.value(row)))
                .collect();
            out.push(Some(format_row(template.value(row), &row_values)?));
        }
        Ok(ColumnarValue::Array(
            Arc::new(StringArray::from(out)) as ArrayRef
        ))
    }
}

fn format_row(template: &str, values: &[Option<&str>]) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut chars = template.chars().peekable();
    let mut next = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        let kind = loop {
            match chars.next() {
                Some(k @ ('s' | 'I' | 'L' | '%')) => break k,
                Some(other) => spec.push(other),
                None => {
                    return Err(DataFusionError::Execution(
                        "unterminated format() type specifier".to_owned(),
                    ));
                }
            }
        };
        if kind == '%' && spec.is_empty() {
            out.push('%');
            continue;
        }
        let index = match spec.strip_suffix('$') {
            Some(position) => position
                .parse::<usize>()
                .ok()
                .filter(|p| *p >= 1)
                .map(|p| p - 1)
                .ok_or_else(|| {
                    DataFusionError::Execution(format!(
                        "format specifier \"%{spec}{kind}\" is not supported"
                    ))
                })?,
            None if spec.is_empty() => next,
            None => {
                return Err(DataFusionError::NotImplemented(format!(
                    "format() width and flags (\"%{spec}{kind}\")"
                )));
            }
        };
        next = index + 1;
        let value = *values.get(index).ok_or_else(|| {
            DataFusionError::Execution("too few arguments for format()".to_owned())
        })?;
        match kind {
            's' => out.push_str(value.unwrap_or("")),
            'I' => match value {
                Some(v) => out.push_str(&quote_ident(v)),
                None => {
                    return Err(DataFusionError::Execution(
                        "null values cannot be formatted as an SQL identifier".to_owned(),
                    ));
                }
            },
            'L' => match value {
                Some(v) => out.push_str(&quote_literal(v)),
                None => out.push_str("NULL"),
            },
            _ => {
                return Err(DataFusionError::Execution(format!(
                    "unrecognized format() type specifier \"{kind}\""
                )));
            }
        }
    }
    Ok(out)
}

/// PostgreSQL's reserved and type/function-name keywords, which `quote_ident` quotes.
const KEYWORDS: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// PostgreSQL's `quote_ident`. The pg_catalog crate's leaves upper-case names bare
/// (`Orders`, which PostgreSQL quotes), so Tarn registers this one as `quote_ident`
/// too, and `%I` and `quote_ident()` agree with PostgreSQL and each other.
pub(crate) fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !KEYWORDS.contains(&name);
    if plain {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn quote_literal(value: &str) -> String {
    if value.contains('\\') {
        format!("E'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    } else {
        format!("'{}'", value.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_postgres_does() {
        // Expected strings as PostgreSQL 15 prints them.
        let f = |t: &str, v: &[Option<&str>]| format_row(t, v).expect("format");
        assert_eq!(
            f("%I.%I", &[Some("shop"), Some("Orders")]),
            "shop.\"Orders\""
        );
        assert_eq!(f("%I", &[Some("select")]), "\"select\"");
        assert_eq!(f("%L", &[Some("O'Reilly")]), "'O''Reilly'");
        assert_eq!(f("%L", &[None]), "NULL");
        assert_eq!(f("[%s]", &[None]), "[]");
        assert_eq!(f("%2$s %1$s %%", &[Some("a"), Some("b")]), "b a %");
        assert!(format_row("%s %s", &[Some("a")]).is_err());
        assert!(format_row("%I", &[None]).is_err());
        assert!(format_row("%-10s", &[Some("a")]).is_err());
    }
}
