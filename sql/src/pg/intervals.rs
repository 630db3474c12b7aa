//! PostgreSQL's interval functions DataFusion lacks: `age(timestamp, timestamp)`,
//! `age(timestamp)` and `justify_hours`, `justify_days`, `justify_interval`, with
//! PostgreSQL 15's arithmetic (`timestamp_age` and `interval_justify_*` in its
//! timestamp.c): `age` subtracts field by field (years, months, days, time) and
//! borrows a month's days from the earlier date's month, so `age('2024-03-01',
//! '2023-01-15')` is `1 year 1 mon 17 days`, not a number of days. A timestamp with
//! time zone is read in UTC (Tarn's execution zone), `age(x)` counts from today's
//! midnight (UTC). `make_interval(years, months, weeks, days, hours, mins, secs)`, every
//! argument optional and nameable (`make_interval(days => 10)`), as PostgreSQL's, and
//! `make_time(hour, min, sec)`, a time of day, with PostgreSQL's range check (22008).

use std::sync::Arc;

use chrono::{Datelike, NaiveDateTime, Timelike};
use datafusion::arrow::array::{Array, AsArray, IntervalMonthDayNanoArray};
use datafusion::arrow::datatypes::{
    DataType, IntervalMonthDayNano, IntervalMonthDayNanoType, IntervalUnit, TimeUnit,
};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use datafusion::sql::sqlparser::ast;
use std::ops::ControlFlow;

const MICROS_PER_DAY: i64 = 86_400_000_000;
const DAYS_PER_MONTH: i32 = 30;

/// The functions of this module.
pub(crate) fn udfs() -> Vec<ScalarUDF> {
    let mut udfs = vec![ScalarUDF::new_from_impl(Age {
        signature: Signature::user_defined(Volatility::Stable),
    })];
    udfs.push(ScalarUDF::new_from_impl(MakeInterval {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    udfs.push(ScalarUDF::new_from_impl(MakeTime {
        signature: Signature::user_defined(Volatility::Immutable),
    }));
    for which in [Justify::Hours, Justify::Days, Justify::Interval] {
        udfs.push(ScalarUDF::new_from_impl(JustifyFn {
            which,
            signature: Signature::user_defined(Volatility::Immutable),
        }));
    }
    udfs
}

fn interval_type() -> DataType {
    DataType::Interval(IntervalUnit::MonthDayNano)
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, None)
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Age {
    signature: Signature,
}

impl ScalarUDFImpl for Age {
    fn name(&self) -> &str {
        "age"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let timestamp = |t: &DataType| {
            matches!(
                t,
                DataType::Timestamp(..)
                    | DataType::Date32
                    | DataType::Date64
                    | DataType::Utf8
                    | DataType::Utf8View
                    | DataType::LargeUtf8
                    | DataType::Null
            )
        };
        match args {
            [a] | [a, _] if !args.iter().all(timestamp) => {
                plan_err!("function age({a}) does not exist")
            }
            [_] => Ok(vec![timestamp_type()]),
            [_, _] => Ok(vec![timestamp_type(), timestamp_type()]),
            _ => plan_err!("age takes one or two timestamps"),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(interval_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        // The same reading of timestamps as to_char's (UTC for timestamptz).
        let as_times = super::to_char::instants;
        let (later, earlier) = match arrays.as_slice() {
            [one] => {
                let midnight = chrono::Utc::now()
                    .date_naive()
                    .and_hms_opt(0, 0, 0)
                    .expect("midnight");
                (vec![Some(midnight); one.len()], as_times(one)?)
            }
            [a, b] => (as_times(a)?, as_times(b)?),
            _ => return exec_err!("age takes one or two timestamps"),
        };
        let ages: IntervalMonthDayNanoArray = later
            .iter()
            .zip(&earlier)
            .map(|(a, b)| Some(age(&(*a)?, &(*b)?)))
            .collect();
        let ages: Arc<dyn Array> = Arc::new(ages);
        super::answer(ages, scalar)
    }
}

fn days_in_month(year: i32, month: u32) -> i32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    chrono::NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(30, |d| d.day() as i32)
}

/// `t1 - t2` as PostgreSQL's `age` reckons it.
fn age(t1: &NaiveDateTime, t2: &NaiveDateTime) -> IntervalMonthDayNano {
    let negative = t1 < t2;
    let sign: i32 = if negative { -1 } else { 1 };
    let lsign = i64::from(sign);
    let micros = |t: &NaiveDateTime| i64::from(t.nanosecond() / 1000);
    let mut fsec = lsign * (micros(t1) - micros(t2));
    let mut sec = lsign * (t1.second() as i64 - t2.second() as i64);
    let mut min = lsign * (t1.minute() as i64 - t2.minute() as i64);
    let mut hour = lsign * (t1.hour() as i64 - t2.hour() as i64);
    let mut mday = sign * (t1.day() as i32 - t2.day() as i32);
    let mut mon = sign * (t1.month() as i32 - t2.month() as i32);
    let mut year = sign * (t1.year() - t2.year());
    while fsec < 0 {
        fsec += 1_000_000;
        sec -= 1;
    }
    while sec < 0 {
        sec += 60;
        min -= 1;
    }
    while min < 0 {
        min += 60;
        hour -= 1;
    }
    while hour < 0 {
        hour += 24;
        mday -= 1;
    }
    // Days are borrowed from the month of the earlier of the two.
    let earlier = if negative { t1 } else { t2 };
    while mday < 0 {
        mday += days_in_month(earlier.year(), earlier.month());
        mon -= 1;
    }
    while mon < 0 {
        mon += 12;
        year -= 1;
    }
    let months = sign * (year * 12 + mon);
    let days = sign * mday;
    let time = lsign * (((hour * 60 + min) * 60 + sec) * 1_000_000 + fsec);
    IntervalMonthDayNano::new(months, days, time * 1000)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Justify {
    Hours,
    Days,
    Interval,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct JustifyFn {
    which: Justify,
    signature: Signature,
}

impl ScalarUDFImpl for JustifyFn {
    fn name(&self) -> &str {
        match self.which {
            Justify::Hours => "justify_hours",
            Justify::Days => "justify_days",
            Justify::Interval => "justify_interval",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        match args {
            [DataType::Interval(_) | DataType::Utf8 | DataType::Null] => Ok(vec![interval_type()]),
            [other] => plan_err!("function {}({other}) does not exist", self.name()),
            _ => plan_err!("{} takes one interval", self.name()),
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(interval_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let values = args.args[0].to_array(args.number_rows)?;
        let values = datafusion::arrow::compute::cast(&values, &interval_type())?;
        let justified: IntervalMonthDayNanoArray = values
            .as_primitive::<IntervalMonthDayNanoType>()
            .iter()
            .map(|v| v.map(|v| justify(self.which, v)))
            .collect();
        let justified: Arc<dyn Array> = Arc::new(justified);
        super::answer(justified, scalar)
    }
}

/// PostgreSQL's `interval_justify_hours`, `_days` and `_interval` (time in
/// microseconds; a nanosecond remainder is kept in the time).
fn justify(which: Justify, v: IntervalMonthDayNano) -> IntervalMonthDayNano {
    let (mut month, mut day) = (v.months, v.days);
    let nanos = v.nanoseconds % 1000;
    let mut time = v.nanoseconds / 1000;
    let days_into_months = |month: &mut i32, day: &mut i32| {
        let whole = *day / DAYS_PER_MONTH;
        *day -= whole * DAYS_PER_MONTH;
        *month += whole;
    };
    let time_into_days = |day: &mut i32, time: &mut i64| {
        let whole = *time / MICROS_PER_DAY;
        *time -= whole * MICROS_PER_DAY;
        *day += whole as i32;
    };
    // A day's time, or a month's days, of the other sign than the larger unit: one
    // of that unit is borrowed, so that both have its sign.
    let same_sign_days = |day: &mut i32, time: &mut i64| {
        if *day > 0 && *time < 0 {
            *time += MICROS_PER_DAY;
            *day -= 1;
        } else if *day < 0 && *time > 0 {
            *time -= MICROS_PER_DAY;
            *day += 1;
        }
    };
    let same_sign_months = |month: &mut i32, day: &mut i32, rest: i64| {
        if *month > 0 && (*day < 0 || (*day == 0 && rest < 0)) {
            *day += DAYS_PER_MONTH;
            *month -= 1;
        } else if *month < 0 && (*day > 0 || (*day == 0 && rest > 0)) {
            *day -= DAYS_PER_MONTH;
            *month += 1;
        }
    };
    match which {
        Justify::Hours => {
            time_into_days(&mut day, &mut time);
            same_sign_days(&mut day, &mut time);
        }
        Justify::Days => {
            days_into_months(&mut month, &mut day);
            same_sign_months(&mut month, &mut day, 0);
        }
        Justify::Interval => {
            if (day > 0 && time > 0) || (day < 0 && time < 0) {
                days_into_months(&mut month, &mut day);
            }
            time_into_days(&mut day, &mut time);
            days_into_months(&mut month, &mut day);
            same_sign_months(&mut month, &mut day, time);
            same_sign_days(&mut day, &mut time);
        }
    }
    IntervalMonthDayNano::new(month, day, time * 1000 + nanos)
}

/// `make_interval`'s parameters, in order; each defaults to zero.
const MAKE_INTERVAL_PARAMETERS: [&str; 7] =
    ["years", "months", "weeks", "days", "hours", "mins", "secs"];

/// `make_interval(...)` with its arguments by position or by name (`=>` or `:=`) as a
/// call with all seven by position, the missing ones zero: DataFusion's named
/// arguments leave no gaps. A call naming an unknown parameter is left alone (and
/// refused by the function).
pub(crate) fn rewrite(statement: &mut ast::Statement) {
    let _ = ast::visit_expressions_mut(statement, |expr| {
        if let ast::Expr::Function(f) = expr
            && super::single_value::function_name(f) == "make_interval"
            && let ast::FunctionArguments::List(list) = &mut f.args
            && list.args.len() <= MAKE_INTERVAL_PARAMETERS.len()
        {
            let zero = || ast::Expr::value(ast::Value::Number("0".to_owned(), false));
            let mut args: Vec<Option<ast::Expr>> = vec![None; MAKE_INTERVAL_PARAMETERS.len()];
            for (i, arg) in list.args.iter().enumerate() {
                let (slot, value) = match arg {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => (Some(i), e),
                    ast::FunctionArg::Named {
                        name,
                        arg: ast::FunctionArgExpr::Expr(e),
                        ..
                    }
                    | ast::FunctionArg::ExprNamed {
                        name: ast::Expr::Identifier(name),
                        arg: ast::FunctionArgExpr::Expr(e),
                        ..
                    } => (
                        MAKE_INTERVAL_PARAMETERS
                            .iter()
                            .position(|p| p.eq_ignore_ascii_case(&name.value)),
                        e,
                    ),
                    _ => return ControlFlow::Continue(()),
                };
                match slot {
                    Some(n) if args[n].is_none() => args[n] = Some(value.clone()),
                    _ => return ControlFlow::Continue(()),
                }
            }
            list.args = args
                .into_iter()
                .map(|a| {
                    ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(a.unwrap_or_else(zero)))
                })
                .collect();
        }
        ControlFlow::<()>::Continue(())
    });
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeInterval {
    signature: Signature,
}

impl ScalarUDFImpl for MakeInterval {
    fn name(&self) -> &str {
        "make_interval"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if args.len() != MAKE_INTERVAL_PARAMETERS.len() {
            return plan_err!("make_interval takes at most seven arguments");
        }
        for (n, t) in args.iter().enumerate() {
            let whole = t.is_integer() || t.is_null();
            let number = whole || t.is_floating() || matches!(t, DataType::Decimal128(..));
            if !(whole || (n == 6 && number)) {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                return plan_err!(
                    "function make_interval({}) does not exist",
                    types.join(", ")
                );
            }
        }
        let mut types = vec![DataType::Int32; 6];
        types.push(DataType::Float64);
        Ok(types)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(interval_type())
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (arrays, scalar) = super::arguments(&args)?;
        let ints: Vec<_> = arrays[..6]
            .iter()
            .map(|a| a.as_primitive::<datafusion::arrow::datatypes::Int32Type>())
            .collect();
        let secs = arrays[6].as_primitive::<datafusion::arrow::datatypes::Float64Type>();
        let mut out = IntervalMonthDayNanoArray::builder(secs.len());
        for row in 0..secs.len() {
            if secs.is_null(row) || ints.iter().any(|a| a.is_null(row)) {
                out.append_null();
                continue;
            }
            let [years, months, weeks, days, hours, mins] =
                std::array::from_fn(|n| i64::from(ints[n].value(row)));
            match make_interval(years, months, weeks, days, hours, mins, secs.value(row)) {
                Some(v) => out.append_value(v),
                None => {
                    return Err(DataFusionError::External(Box::new(
                        crate::error::SqlError::IntervalOutOfRange,
                    )));
                }
            }
        }
        let out: Arc<dyn Array> = Arc::new(out.finish());
        super::answer(out, scalar)
    }
}

/// PostgreSQL 15's `make_interval`: months and days as given, the time in
/// microseconds (the seconds rounded to the nearest); `None` out of range.
fn make_interval(
    years: i64,
    months: i64,
    weeks: i64,
    days: i64,
    hours: i64,
    mins: i64,
    secs: f64,
) -> Option<IntervalMonthDayNano> {
    let micros = (secs * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() >= 9.2e18 {
        return None;
    }
    let months = i32::try_from(years.checked_mul(12)?.checked_add(months)?).ok()?;
    let days = i32::try_from(weeks.checked_mul(7)?.checked_add(days)?).ok()?;
    let time = hours
        .checked_mul(3_600_000_000)?
        .checked_add(mins.checked_mul(60_000_000)?)?
        .checked_add(micros as i64)?;
    Some(IntervalMonthDayNano::new(
        months,
        days,
        time.checked_mul(1000)?,
    ))
}

/// `make_time(hour, min, sec)`: PostgreSQL's `make_time` (date.c), the fields checked
/// as it checks them (up to `24:00:00`; 60 seconds carry into the next minute) and the
/// seconds rounded to microseconds.
#[derive(Debug, PartialEq, Eq, Hash)]
struct MakeTime {
    signature: Signature,
}

impl ScalarUDFImpl for MakeTime {
    fn name(&self) -> &str {
        "make_time"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        let number = |t: &DataType| t.is_numeric() || t.is_null();
        match args {
            [h, m, s] if h.is_integer() && m.is_integer() && number(s) => {
                Ok(vec![DataType::Int32, DataType::Int32, DataType::Float64])
            }
            [h, m, s] if [h, m, s].iter().all(|t| number(t)) => {
                Ok(vec![DataType::Int32, DataType::Int32, DataType::Float64])
            }
            _ => {
                let types: Vec<String> = args.iter().map(ToString::to_string).collect();
                plan_err!("function make_time({}) does not exist", types.join(", "))
            }
        }
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        // Nanoseconds, as Tarn's `time` (literals, casts, `current_time`).
        Ok(DataType::Time64(TimeUnit::Nanosecond))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use datafusion::arrow::datatypes::{Float64Type, Int32Type};
        let (arrays, scalar) = super::arguments(&args)?;
        let hours = arrays[0].as_primitive::<Int32Type>();
        let minutes = arrays[1].as_primitive::<Int32Type>();
        let seconds = arrays[2].as_primitive::<Float64Type>();
        let mut out = Vec::with_capacity(hours.len());
        for row in 0..hours.len() {
            if hours.is_null(row) || minutes.is_null(row) || seconds.is_null(row) {
                out.push(None);
                continue;
            }
            let time = time_of_day(hours.value(row), minutes.value(row), seconds.value(row))
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            out.push(Some(time * 1_000));
        }
        let array = datafusion::arrow::array::Time64NanosecondArray::from(out);
        super::answer(Arc::new(array), scalar)
    }
}

/// `value` as C's `printf("%02g")` writes it, as PostgreSQL's message does: six
/// significant digits without trailing zeros, at least two characters (`03`, `3.5`).
fn printf_02g(value: f64) -> String {
    let magnitude = if value == 0.0 {
        0
    } else {
        value.abs().log10().floor() as i32
    };
    let text = if (-4..6).contains(&magnitude) {
        let places = (5 - magnitude).max(0) as usize;
        let fixed = format!("{value:.places$}");
        match fixed.contains('.') {
            true => fixed.trim_end_matches('0').trim_end_matches('.').to_owned(),
            false => fixed,
        }
    } else {
        format!("{value:e}")
    };
    match text.len() {
        0 | 1 => format!("0{text}"),
        _ => text,
    }
}

/// Microseconds since midnight of `hour:min:sec`, or PostgreSQL's error.
fn time_of_day(hour: i32, min: i32, sec: f64) -> Result<i64, crate::error::SqlError> {
    let out_of_range = hour < 0
        || !(0..=59).contains(&min)
        || !(0.0..=60.0).contains(&sec)
        || hour > 24
        || (hour == 24 && (min > 0 || sec > 0.0));
    if out_of_range {
        return Err(crate::error::SqlError::Datetime {
            failure: crate::error::DatetimeFailure::FieldOverflow,
            message: format!(
                "time field value out of range: {hour}:{min:02}:{}",
                printf_02g(sec)
            ),
            detail: None,
            hint: None,
        });
    }
    let whole = (i64::from(hour) * 60 + i64::from(min)) * 60 * 1_000_000;
    Ok(whole + (sec * 1_000_000.0).round_ties_even() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").expect("time")
    }

    #[test]
    fn ages_are_reckoned_field_by_field_as_postgresql_does() {
        // PostgreSQL 15's answers.
        let cases = [
            ("2024-03-01 00:00:00", "2023-01-15 00:00:00", (13, 17, 0)),
            ("2023-01-15 00:00:00", "2024-03-01 00:00:00", (-13, -17, 0)),
            (
                "2024-03-01 01:00:00",
                "2024-02-28 23:30:00.5",
                (0, 1, 5_399_500_000),
            ),
            ("2024-01-31 00:00:00", "2023-12-31 00:00:00", (1, 0, 0)),
        ];
        for (a, b, (months, days, micros)) in cases {
            assert_eq!(
                age(&at(a), &at(b)),
                IntervalMonthDayNano::new(months, days, micros * 1000),
                "age({a}, {b})"
            );
        }
    }
}
