//! PostgreSQL's ordered-set aggregates that DataFusion lacks ("function ... does not
//! exist"): `mode()` and `percentile_disc(f)`.
//!
//! `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value of `x`. Of
//! values equally frequent, the first in the group's order wins, as in PostgreSQL:
//! the smallest with `ORDER BY x`, the largest with `ORDER BY x DESC`. NULLs are not
//! counted. The values are counted in a hash table (one entry per distinct value of
//! the group), whose contents are the state partial aggregates exchange.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, UInt64Type};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::AggregateOrderSensitivity;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Signature, Volatility,
};

/// `percentile_disc(f) WITHIN GROUP (ORDER BY x)`: the first value of the group, in
/// its order, whose position reaches the fraction `f` of the values (NULLs left
/// out): with n values sorted, value number ceil(f * n) (the first for f = 0). `f` is
/// a constant between 0 and 1. The group's values are held and sorted, as
/// PostgreSQL sorts them.
pub(crate) fn percentile_disc_udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(PercentileDisc {
        signature: Signature::any(2, Volatility::Immutable),
    })
}

pub(crate) fn udaf() -> AggregateUDF {
    AggregateUDF::new_from_impl(Mode {
        signature: Signature::any(1, Volatility::Immutable),
    })
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct Mode {
    signature: Signature,
}

impl AggregateUDFImpl for Mode {
    fn name(&self) -> &str {
        "mode"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [value] => Ok(value.clone()),
            _ => plan_err!("mode() takes its value from WITHIN GROUP (ORDER BY value)"),
        }
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    /// The counts do not need sorted input; the order only breaks ties.
    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![
            Arc::new(Field::new_list(
                format!("{}[values]", args.name),
                Field::new_list_field(value, true),
                true,
            )),
            Arc::new(Field::new_list(
                format!("{}[counts]", args.name),
                Field::new_list_field(DataType::UInt64, true),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let descending = args
            .order_bys
            .first()
            .is_some_and(|sort| sort.options.descending);
        Ok(Box::new(ModeAccumulator {
            data_type: args.return_field.data_type().clone(),
            descending,
            counts: HashMap::new(),
        }))
    }
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct PercentileDisc {
    signature: Signature,
}

impl AggregateUDFImpl for PercentileDisc {
    fn name(&self) -> &str {
        "percentile_disc"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        match args {
            [value, _] => Ok(value.clone()),
            _ => plan_err!("percentile_disc(fraction) WITHIN GROUP (ORDER BY value)"),
        }
    }

    fn supports_within_group_clause(&self) -> bool {
        true
    }

    fn order_sensitivity(&self) -> AggregateOrderSensitivity {
        AggregateOrderSensitivity::Insensitive
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let value = args.input_fields[0].data_type().clone();
        Ok(vec![Arc::new(Field::new_list(
            format!("{}[values]", args.name),
            Field::new_list_field(value, true),
            true,
        ))])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        use datafusion::physical_plan::expressions::Literal;
        let fraction = args
            .exprs
            .get(1)
            .and_then(|e| e.downcast_ref::<Literal>())
            .and_then(|l| l.value().cast_to(&DataType::Float64).ok());
        let fraction = match fraction {
            Some(ScalarValue::Float64(Some(f))) if (0.0..=1.0).contains(&f) => f,
            Some(ScalarValue::Float64(Some(f))) => {
                return plan_err!("percentile value {f} is not between 0 and 1");
            }
            _ => return plan_err!("percentile_disc takes a constant fraction"),
        };
        Ok(Box::new(PercentileDiscAccumulator {
            data_type: args.return_field.data_type().clone(),
            descending: args
                .order_bys
                .first()
                .is_some_and(|sort| sort.options.descending),
            fraction,
            values: Vec::new(),
        }))
    }
}

#[derive(Debug)]
struct PercentileDiscAccumulator {
    data_type: DataType,
    descending: bool,
    fraction: f64,
    values: Vec<ScalarValue>,
}

impl PercentileDiscAccumulator {
    fn add(&mut self, values: &ArrayRef) -> Result<()> {
        for i in 0..values.len() {
            if !values.is_null(i) {
                self.values.push(ScalarValue::try_from_array(values, i)?);
            }
        }
        Ok(())
    }
}

impl Accumulator for PercentileDiscAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states[0].as_list::<i32>();
        for row in 0..lists.len() {
            if !lists.is_null(row) {
                self.add(&lists.value(row))?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &self.values,
            &self.data_type,
        ))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.values.is_empty() {
            return ScalarValue::try_from(&self.data_type);
        }
        self.values.sort_by(|a, b| {
            let order = a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
            if self.descending {
                order.reverse()
            } else {
                order
            }
        });
        let n = self.values.len();
        let position = (self.fraction * n as f64).ceil() as usize;
        Ok(self.values[position.clamp(1, n) - 1].clone())
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.values.iter().map(ScalarValue::size).sum::<usize>()
    }
}

#[derive(Debug)]
struct ModeAccumulator {
    data_type: DataType,
    descending: bool,
    counts: HashMap<ScalarValue, u64>,
}

impl ModeAccumulator {
    fn add(&mut self, values: &ArrayRef, counts: Option<&UInt64Array>) -> Result<()> {
        for i in 0..values.len() {
            if values.is_null(i) {
                continue;
            }
            let value = ScalarValue::try_from_array(values, i)?;
            let n = counts.map_or(1, |c| c.value(i));
            *self.counts.entry(value).or_default() += n;
        }
        Ok(())
    }
}

impl Accumulator for ModeAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.add(&values[0], None)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (values, counts) = (states[0].as_list::<i32>(), states[1].as_list::<i32>());
        for row in 0..values.len() {
            if values.is_null(row) || counts.is_null(row) {
                continue;
            }
            let row_counts = counts.value(row);
            self.add(
                &values.value(row),
                Some(row_counts.as_primitive::<UInt64Type>()),
            )?;
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let (values, counts): (Vec<ScalarValue>, Vec<ScalarValue>) = self
            .counts
            .iter()
            .map(|(v, n)| (v.clone(), ScalarValue::UInt64(Some(*n))))
            .unzip();
        Ok(vec![
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &self.data_type)),
            ScalarValue::List(ScalarValue::new_list_nullable(&counts, &DataType::UInt64)),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut best: Option<(&ScalarValue, u64)> = None;
        for (value, &n) in &self.counts {
            let better = match best {
                None => true,
                Some((b, bn)) => {
                    let order = value.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
                    let first = if self.descending {
                        order.is_gt()
                    } else {
                        order.is_lt()
                    };
                    n > bn || (n == bn && first)
                }
            };
            if better {
                best = Some((value, n));
            }
        }
        match best {
            Some((value, _)) => Ok(value.clone()),
            None => ScalarValue::try_from(&self.data_type),
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self)
            + self
                .counts
                .keys()
                .map(|v| v.size() + std::mem::size_of::<u64>())
                .sum::<usize>()
    }
}
