//! [`ParsedColumns`]: an external table of text whose columns are read as typed values,
//! the way the crawler found them written: numbers and booleans, dates and timestamps
//! in ISO form or through a parse format (`01/15/2024 08:30:00 PM`), epoch seconds.
//! The files stay as they are; the types live in the table's definition
//! (`'tarn.type.<column>' 'BIGINT'`, `'tarn.timestamp.<column>' '<chrono format>'`).
//!
//! A value that does not parse reads as NULL, as a Hive or Athena table over the same
//! files would answer: a typo in row 90,000 of a landing file must not fail every
//! query over it. The text is still there (`tarn.type` can be dropped to see it).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Date32Array, TimestampNanosecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::DFSchema;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::functions::datetime::expr_fn::to_timestamp;
use datafusion::logical_expr::{
    ColumnarValue, Expr, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    TableProviderFilterPushDown, Volatility, cast, col, try_cast,
};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;

/// How one text column is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// As a SQL type (`BIGINT`, `DOUBLE`, `DECIMAL(10,2)`, `BOOLEAN`, `DATE`,
    /// `TIMESTAMP`), by cast; ISO dates and timestamps need no format.
    Cast(DataType),
    /// Through a chrono format, to a timestamp.
    Timestamp(String),
    /// Through a chrono format, to a date.
    Date(String),
    /// Whole seconds since 1970, to a timestamp.
    EpochSeconds,
}

impl Parse {
    /// Reads a definition option: `tarn.type.<col>` with a SQL type,
    /// `tarn.timestamp.<col>` or `tarn.date.<col>` with a chrono format (`epoch` for
    /// seconds). `None` for keys that are not these.
    pub fn from_option(key: &str, value: &str) -> Option<Result<(String, Parse)>> {
        if let Some(column) = key.strip_prefix("tarn.type.") {
            return Some(sql_type(value).map(|t| (column.to_owned(), Parse::Cast(t))));
        }
        if let Some(column) = key.strip_prefix("tarn.timestamp.") {
            let parse = if value.eq_ignore_ascii_case("epoch") {
                Parse::EpochSeconds
            } else {
                Parse::Timestamp(value.to_owned())
            };
            return Some(Ok((column.to_owned(), parse)));
        }
        key.strip_prefix("tarn.date.")
            .map(|column| Ok((column.to_owned(), Parse::Date(value.to_owned()))))
    }

    fn data_type(&self) -> DataType {
        match self {
            Parse::Cast(t) => t.clone(),
            Parse::Date(_) => DataType::Date32,
            Parse::Timestamp(_) | Parse::EpochSeconds => {
                DataType::Timestamp(TimeUnit::Nanosecond, None)
            }
        }
    }

    fn expr(&self, column: &str) -> Expr {
        let text = cast(
            col(datafusion::common::Column::new_unqualified(column)),
            DataType::Utf8,
        );
        match self {
            Parse::Cast(t) => try_cast(text, t.clone()),
            Parse::Timestamp(format) => {
                ScalarUDF::new_from_impl(TryParse::new(format, true)).call(vec![text])
            }
            Parse::Date(format) => {
                ScalarUDF::new_from_impl(TryParse::new(format, false)).call(vec![text])
            }
            Parse::EpochSeconds => to_timestamp(vec![try_cast(text, DataType::Int64)]),
        }
    }
}

/// The Arrow type of a SQL type name the crawler writes.
fn sql_type(name: &str) -> Result<DataType> {
    let upper = name.trim().to_ascii_uppercase();
    let t = match upper.as_str() {
        "BIGINT" | "INT8" => DataType::Int64,
        "INT" | "INTEGER" | "INT4" => DataType::Int32,
        "DOUBLE" | "DOUBLE PRECISION" | "FLOAT8" => DataType::Float64,
        "BOOLEAN" | "BOOL" => DataType::Boolean,
        "DATE" => DataType::Date32,
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Nanosecond, None),
        "VARCHAR" | "TEXT" => DataType::Utf8,
        other => match other
            .strip_prefix("DECIMAL(")
            .or_else(|| other.strip_prefix("NUMERIC("))
            .and_then(|rest| rest.strip_suffix(')'))
            .and_then(|ps| ps.split_once(','))
            .and_then(|(p, s)| Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<i8>().ok()?)))
        {
            Some((p, s)) if (1..=38).contains(&p) => DataType::Decimal128(p, s),
            _ => {
                return Err(DataFusionError::Plan(format!(
                    "tarn.type: unsupported type {name:?} (BIGINT, INT, DOUBLE, BOOLEAN, DATE, TIMESTAMP, VARCHAR, DECIMAL(p,s))"
                )));
            }
        },
    };
    Ok(t)
}

/// Parses text with a chrono format; what does not parse is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
struct TryParse {
    name: String,
    format: String,
    timestamp: bool,
    signature: Signature,
}

impl TryParse {
    fn new(format: &str, timestamp: bool) -> Self {
        Self {
            name: if timestamp {
                "tarn_try_parse_timestamp".to_owned()
            } else {
                "tarn_try_parse_date".to_owned()
            },
            format: format.to_owned(),
            timestamp,
            signature: Signature::exact(vec![DataType::Utf8], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for TryParse {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(if self.timestamp {
            DataType::Timestamp(TimeUnit::Nanosecond, None)
        } else {
            DataType::Date32
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [input] = args.args.as_slice() else {
            return Err(DataFusionError::Internal(format!(
                "{} takes one argument",
                self.name
            )));
        };
        let array = input.to_array(args.number_rows)?;
        let text = array.as_string::<i32>();
        let out: ArrayRef = if self.timestamp {
            Arc::new(
                text.iter()
                    .map(|v| {
                        let v = v?.trim();
                        chrono::NaiveDateTime::parse_from_str(v, &self.format)
                            .ok()?
                            .and_utc()
                            .timestamp_nanos_opt()
                    })
                    .collect::<TimestampNanosecondArray>(),
            )
        } else {
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");
            Arc::new(
                text.iter()
                    .map(|v| {
                        let date =
                            chrono::NaiveDate::parse_from_str(v?.trim(), &self.format).ok()?;
                        i32::try_from((date - epoch).num_days()).ok()
                    })
                    .collect::<Date32Array>(),
            )
        };
        debug_assert_eq!(out.len(), array.len());
        Ok(ColumnarValue::Array(out))
    }
}

/// A table provider whose listed columns are parsed on read.
#[derive(Debug)]
pub struct ParsedColumns {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    /// Per column of `inner`, its parse, if any.
    parse: Vec<Option<Parse>>,
}

impl ParsedColumns {
    /// Wraps `inner`; every column named in `parse` must exist.
    pub fn try_new(inner: Arc<dyn TableProvider>, parse: Vec<(String, Parse)>) -> Result<Self> {
        let inner_schema = inner.schema();
        let mut per_column = vec![None; inner_schema.fields().len()];
        for (name, p) in parse {
            let (i, _) = inner_schema.column_with_name(&name).ok_or_else(|| {
                DataFusionError::Plan(format!(
                    "parse format given for column \"{name}\", which the table does not have"
                ))
            })?;
            per_column[i] = Some(p);
        }
        let fields: Vec<Field> = inner_schema
            .fields()
            .iter()
            .zip(&per_column)
            .map(|(f, p)| match p {
                Some(p) => Field::new(f.name(), p.data_type(), true),
                None => f.as_ref().clone(),
            })
            .collect();
        Ok(Self {
            schema: Arc::new(Schema::new_with_metadata(
                fields,
                inner_schema.metadata().clone(),
            )),
            inner,
            parse: per_column,
        })
    }

    fn parsed_column(&self, name: &str) -> bool {
        self.schema
            .column_with_name(name)
            .is_some_and(|(i, _)| self.parse[i].is_some())
    }

    fn touches_parsed(&self, expr: &Expr) -> bool {
        expr.column_refs()
            .iter()
            .any(|c| self.parsed_column(&c.name))
    }
}

#[async_trait]
impl TableProvider for ParsedColumns {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Filters on parsed columns compare parsed values: applied above the scan.
        // Others go to the files' reader (partition pruning), which may apply them
        // inexactly.
        let passable: Vec<&Expr> = filters
            .iter()
            .copied()
            .filter(|f| !self.touches_parsed(f))
            .collect();
        let mut inner = self.inner.supports_filters_pushdown(&passable)?.into_iter();
        Ok(filters
            .iter()
            .map(|f| {
                if self.touches_parsed(f) {
                    TableProviderFilterPushDown::Unsupported
                } else {
                    inner
                        .next()
                        .unwrap_or(TableProviderFilterPushDown::Unsupported)
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let passable: Vec<Expr> = filters
            .iter()
            .filter(|f| !self.touches_parsed(f))
            .cloned()
            .collect();
        let input = self.inner.scan(state, projection, &passable, limit).await?;
        let columns: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.parse.len()).collect(),
        };
        let input_schema = DFSchema::try_from(input.schema().as_ref().clone())?;
        let exprs = columns
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name();
                let expr = match &self.parse[i] {
                    Some(p) => p.expr(name),
                    None => col(datafusion::common::Column::new_unqualified(name)),
                };
                Ok((
                    state.create_physical_expr(expr, &input_schema)?,
                    name.clone(),
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
