//! `to_timestamp(text, format)` over a column, with Tarn's session time zone set:
//! DataFusion 55 plans it as `Timestamp(ns, "+00:00")` but returns the array without
//! the zone, and then fails its own check ("returned value of type Timestamp(ns) while
//! Timestamp(ns, +00:00) was promised"). This wrapper gives back what was promised; the
//! instants are the same (Tarn's zone is always UTC, the front end renders TimeZone).
//! The wrappers (and `to_date`'s) also read a format written as PostgreSQL's template
//! (`to_timestamp(s, 'YYYY-MM-DD HH24:MI:SS')`, `to_date(s, 'DD Mon YYYY')`): one with
//! no `%` is translated to chrono's (`%Y-%m-%d %H:%M:%S`), which DataFusion parses
//! with; chrono formats keep working.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, FieldRef};
use datafusion::error::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;

/// Replaces the registered `to_timestamp*` functions with [`Zoned`] wrappers.
pub(crate) fn install(ctx: &SessionContext) {
    for name in [
        "to_timestamp",
        "to_timestamp_seconds",
        "to_timestamp_millis",
        "to_timestamp_micros",
        "to_timestamp_nanos",
        "to_date",
    ] {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(Zoned { inner }));
        }
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Zoned {
    inner: Arc<ScalarUDF>,
}

impl ScalarUDFImpl for Zoned {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        // Formats written as PostgreSQL's templates (no `%`) read as chrono's.
        for format in args.args.iter_mut().skip(1) {
            *format = chrono_formats(format)?;
        }
        let promised = args.return_field.data_type().clone();
        // The implementation itself: `ScalarUDF::invoke_with_args` asserts the type in
        // debug builds, which is the bug this works around.
        let value = self.inner.inner().invoke_with_args(args)?;
        if value.data_type() == promised {
            return Ok(value);
        }
        match (value.data_type(), &promised) {
            (DataType::Timestamp(unit, None), DataType::Timestamp(promised_unit, Some(_)))
                if unit == *promised_unit =>
            {
                value.cast_to(&promised, None)
            }
            _ => Ok(value),
        }
    }
}

/// `format` with each PostgreSQL template (a format without `%`: `YYYY-MM-DD`) as
/// the chrono format DataFusion parses with; chrono formats (`%Y-%m-%d`, which queries
/// written for DataFusion use) and templates chrono cannot parse stay as they are.
fn chrono_formats(format: &ColumnarValue) -> Result<ColumnarValue> {
    use datafusion::arrow::array::{Array, AsArray, StringArray};
    use datafusion::scalar::ScalarValue;
    let translate = |text: &str| match text.contains('%') {
        true => text.to_owned(),
        false => super::to_char::chrono_format(text).unwrap_or_else(|| text.to_owned()),
    };
    Ok(match format {
        ColumnarValue::Scalar(
            ScalarValue::Utf8(Some(text))
            | ScalarValue::Utf8View(Some(text))
            | ScalarValue::LargeUtf8(Some(text)),
        ) => ColumnarValue::Scalar(ScalarValue::Utf8(Some(translate(text)))),
        ColumnarValue::Array(array)
            if matches!(
                array.data_type(),
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8
            ) =>
        {
            let text = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
            let translated: StringArray = text
                .as_string::<i32>()
                .iter()
                .map(|t| t.map(translate))
                .collect();
            ColumnarValue::Array(std::sync::Arc::new(translated))
        }
        other => other.clone(),
    })
}
