//! `to_timestamp` and `to_date` as PostgreSQL reads them.
//!
//! With two text arguments and a template without `%` (`to_timestamp(s, 'YYYY-MM-DD
//! HH24:MI:SS')`, `to_date(s, 'DD Mon YYYY')`), the text is read as PostgreSQL 15 reads
//! it ([`super::from_char`]): its leniency (`2024/3/5` through `YYYY-MM-DD`), every
//! pattern (`Q`, `WW`, `IYYY IW ID`, `TZH:TZM` ...) and its errors; a timestamp without
//! its own offset is local time in the session's `TimeZone`. Other forms are
//! DataFusion's: chrono formats (`%Y-%m-%d`, which queries written for DataFusion use),
//! several formats, numbers of seconds.
//!
//! DataFusion 55 plans `to_timestamp` over a column as `Timestamp(ns, "+00:00")` but
//! returns the array without the zone, and then fails its own check ("returned value of
//! type Timestamp(ns) while Timestamp(ns, +00:00) was promised"); these wrappers give
//! back what was promised. A template's timestamp is in microseconds, PostgreSQL's
//! precision and range (years 1677 to 2262 only, in nanoseconds).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, Date32Array, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, TimeUnit};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use super::from_char::Template;
use super::to_char::SessionZone;

const NAMES: [&str; 6] = [
    "to_timestamp",
    "to_timestamp_seconds",
    "to_timestamp_millis",
    "to_timestamp_micros",
    "to_timestamp_nanos",
    "to_date",
];

/// Replaces the registered `to_timestamp*` functions and `to_date` with [`Zoned`]
/// wrappers, reading in UTC until a session's `TimeZone` is set ([`in_zone`]).
pub(crate) fn install(ctx: &SessionContext) {
    for name in NAMES {
        if let Ok(inner) = ctx.udf(name) {
            ctx.register_udf(ScalarUDF::new_from_impl(Zoned {
                inner,
                time_zone: "UTC".to_owned(),
            }));
        }
    }
}

/// Registers on `registry` the wrappers reading local times in `time_zone`.
pub(crate) fn in_zone(registry: &mut dyn FunctionRegistry, time_zone: &str) -> Result<()> {
    for name in ["to_timestamp", "to_date"] {
        let Ok(udf) = registry.udf(name) else {
            continue;
        };
        let Some(zoned) = udf.inner().downcast_ref::<Zoned>() else {
            continue;
        };
        if zoned.time_zone == time_zone {
            continue;
        }
        registry.register_udf(Arc::new(ScalarUDF::new_from_impl(Zoned {
            inner: Arc::clone(&zoned.inner),
            time_zone: time_zone.to_owned(),
        })))?;
    }
    Ok(())
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Zoned {
    inner: Arc<ScalarUDF>,
    /// The session's `TimeZone`, where a template's local time is read.
    time_zone: String,
}

/// Text, or a NULL of no type (`to_timestamp('2024', NULL)` is NULL).
fn is_text(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null
    )
}

impl Zoned {
    /// Whether a call with arguments of these types may be a template's: two texts
    /// (which of them are is seen per value, by the `%` chrono formats have).
    fn reads_templates(&self, arg_types: &[DataType]) -> bool {
        matches!(self.inner.name(), "to_timestamp" | "to_date")
            && arg_types.len() == 2
            && arg_types.iter().all(is_text)
    }

    /// `to_timestamp(text, template)` and `to_date(text, template)` over the rows,
    /// each template read once.
    fn from_templates(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(args)?;
        let text = datafusion::arrow::compute::cast(&arrays[0], &DataType::Utf8)?;
        let templates = datafusion::arrow::compute::cast(&arrays[1], &DataType::Utf8)?;
        let (text, templates) = (text.as_string::<i32>(), templates.as_string::<i32>());
        let failed = |e: crate::SqlError| DataFusionError::External(Box::new(e));
        let mut read = Read::default();
        let rows = 0..args.number_rows.max(text.len());
        let array: ArrayRef = match args.return_field.data_type() {
            DataType::Date32 => {
                let mut days = Vec::with_capacity(rows.len());
                for row in rows {
                    let day = match text.is_null(row) || templates.is_null(row) {
                        false => {
                            let template = read.template(templates.value(row));
                            let date = template.date(text.value(row)).map_err(failed)?;
                            Some(datafusion::arrow::datatypes::Date32Type::from_naive_date(
                                date,
                            ))
                        }
                        true => None,
                    };
                    days.push(day);
                }
                Arc::new(Date32Array::from(days))
            }
            DataType::Timestamp(_, zone) => {
                let session = SessionZone::parse(&self.time_zone);
                let mut micros = Vec::with_capacity(rows.len());
                for row in rows {
                    let instant = match text.is_null(row) || templates.is_null(row) {
                        false => {
                            let template = read.template(templates.value(row));
                            let utc = template
                                .timestamp(text.value(row), &session)
                                .map_err(failed)?;
                            Some(utc.and_utc().timestamp_micros())
                        }
                        true => None,
                    };
                    micros.push(instant);
                }
                Arc::new(TimestampMicrosecondArray::from(micros).with_timezone_opt(zone.clone()))
            }
            other => {
                return Err(DataFusionError::Internal(format!(
                    "{} cannot return {other}",
                    self.inner.name()
                )));
            }
        };
        super::answer(array, scalar)
    }
}

/// The template last read, kept while the rows repeat it.
#[derive(Default)]
struct Read {
    last: Option<(String, Template)>,
}

impl Read {
    fn template(&mut self, written: &str) -> &Template {
        if self.last.as_ref().is_some_and(|(w, _)| w != written) {
            self.last = None;
        }
        &self
            .last
            .get_or_insert_with(|| (written.to_owned(), Template::new(written)))
            .1
    }
}

/// Whether every template given is PostgreSQL's (has no `%`).
fn all_templates(format: &ColumnarValue) -> bool {
    match format {
        ColumnarValue::Scalar(value) => match value {
            ScalarValue::Utf8(t) | ScalarValue::Utf8View(t) | ScalarValue::LargeUtf8(t) => {
                t.as_deref().is_none_or(|t| !t.contains('%'))
            }
            ScalarValue::Null => true,
            _ => false,
        },
        ColumnarValue::Array(array) => datafusion::arrow::compute::cast(array, &DataType::Utf8)
            .is_ok_and(|texts| {
                texts
                    .as_string::<i32>()
                    .iter()
                    .flatten()
                    .all(|t| !t.contains('%'))
            }),
    }
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
        let types: Vec<DataType> = args
            .arg_fields
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let field = self.inner.return_field_from_args(args)?;
        // A template's timestamp has PostgreSQL's microseconds.
        Ok(match (self.reads_templates(&types), field.data_type()) {
            (true, DataType::Timestamp(_, zone)) => Arc::new(Field::new(
                field.name(),
                DataType::Timestamp(TimeUnit::Microsecond, zone.clone()),
                field.is_nullable(),
            )),
            _ => field,
        })
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn invoke_with_args(&self, mut args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let types: Vec<DataType> = args.args.iter().map(ColumnarValue::data_type).collect();
        if self.reads_templates(&types) && all_templates(&args.args[1]) {
            return self.from_templates(&args);
        }
        // Several formats: any written as PostgreSQL's templates read as chrono's.
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
            (DataType::Timestamp(..), DataType::Timestamp(..)) => value.cast_to(&promised, None),
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
