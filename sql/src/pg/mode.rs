//! `mode() WITHIN GROUP (ORDER BY x)`: the most frequent value of `x`, PostgreSQL's
//! ordered-set aggregate, which DataFusion lacks ("function mode does not exist"). Of
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
