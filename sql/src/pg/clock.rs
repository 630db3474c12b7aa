//! PostgreSQL's other clocks beside `now()`: `statement_timestamp()` and
//! `transaction_timestamp()`, which are DataFusion's `now()` under PostgreSQL's names
//! (the time the statement started; Tarn's `now()` is that too, where PostgreSQL's is
//! the transaction's start), and `clock_timestamp()`, the time at each call, which
//! moves on within a statement (row by row), as PostgreSQL's does.

use std::sync::Arc;

use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, exec_err};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::prelude::SessionContext;

/// The zone of the timestamps these return, `now()`'s (the wire shows them in the
/// session's `TimeZone`).
const UTC: &str = "+00:00";

pub(crate) fn install(ctx: &SessionContext) {
    if let Ok(now) = FunctionRegistry::udf(ctx, "now") {
        ctx.register_udf(
            now.as_ref()
                .clone()
                .with_aliases(["statement_timestamp", "transaction_timestamp"]),
        );
    }
    ctx.register_udf(ScalarUDF::new_from_impl(ClockTimestamp {
        signature: Signature::nullary(Volatility::Volatile),
    }));
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct ClockTimestamp {
    signature: Signature,
}

impl ScalarUDFImpl for ClockTimestamp {
    fn name(&self) -> &str {
        "clock_timestamp"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some(Arc::from(UTC)),
        ))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let times = (0..args.number_rows)
            .map(|_| chrono::Utc::now().timestamp_nanos_opt())
            .collect::<Option<Vec<i64>>>();
        let Some(times) = times else {
            return exec_err!("the clock is beyond the range of a timestamp");
        };
        Ok(ColumnarValue::Array(Arc::new(
            TimestampNanosecondArray::from(times).with_timezone(UTC),
        )))
    }
}
