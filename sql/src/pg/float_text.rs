//! `float8out` and `float4out`, as PostgreSQL 15 prints floats (its default
//! `extra_float_digits` of 1): the server's text output and JSON built from floats
//! (`to_json(0.1::float8)`) use them.

/// `float8out` with `extra_float_digits` > 0: the shortest text that reads back as the
/// same value, in exponent form when the decimal exponent is below -4 or at least 15.
pub fn float8(v: f64) -> String {
    shortest(
        v,
        v.is_nan(),
        v.is_infinite(),
        v < 0.0,
        format!("{v:e}"),
        format!("{v}"),
        15,
    )
}

/// `float4out`, likewise, with 6 significant digits deciding the exponent form.
pub fn float4(v: f32) -> String {
    shortest(
        v as f64,
        v.is_nan(),
        v.is_infinite(),
        v < 0.0,
        format!("{v:e}"),
        format!("{v}"),
        6,
    )
}

fn shortest(
    _v: f64,
    nan: bool,
    inf: bool,
    negative: bool,
    sci: String,
    plain: String,
    digits: i32,
) -> String {
    if nan {
        return "NaN".to_owned();
    }
    if inf {
        return if negative { "-Infinity" } else { "Infinity" }.to_owned();
    }
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= digits {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        plain
    }
}
