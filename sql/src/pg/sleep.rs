//! `pg_sleep(seconds)`: waits, then returns `void`, as in PostgreSQL.
//!
//! Clients and BI tools use it to test cancellation and timeouts. It is an async
//! function (DataFusion's `AsyncScalarUDF`), so the wait is a timer the runtime can
//! drop: a CancelRequest, `statement_timeout` or `pg_cancel_backend` ends it at once,
//! and no worker thread is blocked while it waits.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::async_udf::{AsyncScalarUDF, AsyncScalarUDFImpl};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
    Volatility,
};
use datafusion::scalar::ScalarValue;

/// Field metadata marking a column of PostgreSQL's `void` type (the wire layer
/// describes it as `void`, OID 2278).
pub const VOID_KEY: &str = "tarn.pg_type";
/// The value of [`VOID_KEY`] for `void`.
pub const VOID: &str = "void";

#[derive(Debug, PartialEq, Eq, Hash)]
struct PgSleep {
    signature: Signature,
}

pub(crate) fn udf() -> ScalarUDF {
    AsyncScalarUDF::new(Arc::new(PgSleep {
        signature: Signature::exact(vec![DataType::Float64], Volatility::Volatile),
    }))
    .into_scalar_udf()
}

impl ScalarUDFImpl for PgSleep {
    fn name(&self) -> &str {
        "pg_sleep"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Null)
    }

    fn return_field_from_args(&self, _args: ReturnFieldArgs) -> Result<FieldRef> {
        Ok(Arc::new(
            Field::new(self.name(), DataType::Null, true).with_metadata(
                [(VOID_KEY.to_owned(), VOID.to_owned())]
                    .into_iter()
                    .collect(),
            ),
        ))
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!("pg_sleep runs asynchronously")
    }
}

#[async_trait]
impl AsyncScalarUDFImpl for PgSleep {
    async fn invoke_async_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let seconds: Vec<Option<f64>> = match &args.args[0] {
            ColumnarValue::Scalar(ScalarValue::Float64(s)) => vec![*s; rows.max(1)],
            ColumnarValue::Scalar(_) => vec![None],
            ColumnarValue::Array(a) => {
                use datafusion::arrow::array::AsArray;
                a.as_primitive::<datafusion::arrow::datatypes::Float64Type>()
                    .iter()
                    .collect()
            }
        };
        // Once per row, as PostgreSQL evaluates it; a negative or NULL wait is none.
        for s in seconds.into_iter().flatten() {
            if s.is_finite() && s > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(s)).await;
            }
        }
        Ok(ColumnarValue::Scalar(ScalarValue::Null))
    }
}
