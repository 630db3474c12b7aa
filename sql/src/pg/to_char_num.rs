//! `to_char(number, template)`: PostgreSQL's number templates (its formatting.c),
//! which DataFusion's `to_char` does not read (it refused numbers: "No function
//! matches"). Digits `9` (a space where the number has none) and `0` (a zero),
//! the decimal point `.`/`D` and group separator `,`/`G` (C locale: `.` and `,`),
//! signs `S` (anchored to the number), `MI`, `PL`, `SG` and `PR` (angle brackets),
//! `FM` (no padding, no trailing zeros in `9` places), `TH`/`th` (ordinal suffix), `V`
//! (shift by ten per digit after it), `EEEE` (scientific), `RN` (Roman numerals), `L`
//! (the C locale's empty currency symbol: a space), quoted text and other characters
//! as they are. A number with more integer digits than the template has places prints
//! `#` in each, as PostgreSQL does.

/// A value to format: exact digits (integers and decimals, as text) or a float.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Number<'a> {
    Exact(&'a str),
    Float(f64),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Nine,
    Zero,
    Point,
    Group,
    Sign,
    Minus,
    Plus,
    SignAny,
    Brackets,
    Ordinal { upper: bool },
    Shift,
    Exponent,
    Roman,
    Currency,
    Text(String),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub(crate) struct Template {
    tokens: Vec<Token>,
    fill: bool,
    /// Digit places before the point (all of them without one), and after it.
    integer_places: usize,
    fraction_places: usize,
    /// Digit places after `V`: the value is multiplied by ten to their number.
    shift: usize,
}

impl Template {
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut fill = false;
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        let starts = |i: usize, word: &str| {
            chars[i..]
                .iter()
                .take(word.len())
                .collect::<String>()
                .eq_ignore_ascii_case(word)
        };
        while i < chars.len() {
            let c = chars[i];
            let (token, used) = match c {
                '9' => (Some(Token::Nine), 1),
                '0' => (Some(Token::Zero), 1),
                '.' => (Some(Token::Point), 1),
                ',' => (Some(Token::Group), 1),
                '"' => {
                    let end = chars[i + 1..]
                        .iter()
                        .position(|&c| c == '"')
                        .map_or(chars.len(), |p| i + 1 + p);
                    let text: String = chars[i + 1..end].iter().collect();
                    (Some(Token::Text(text)), end + 1 - i)
                }
                '\\' if i + 1 < chars.len() => (Some(Token::Text(chars[i + 1].to_string())), 2),
                _ if starts(i, "FM") => {
                    fill = true;
                    (None, 2)
                }
                _ if starts(i, "EEEE") => (Some(Token::Exponent), 4),
                _ if starts(i, "MI") => (Some(Token::Minus), 2),
                _ if starts(i, "PL") => (Some(Token::Plus), 2),
                _ if starts(i, "SG") => (Some(Token::SignAny), 2),
                _ if starts(i, "PR") => (Some(Token::Brackets), 2),
                _ if starts(i, "RN") => (Some(Token::Roman), 2),
                _ if starts(i, "TH") => (
                    Some(Token::Ordinal {
                        upper: chars[i] == 'T',
                    }),
                    2,
                ),
                'D' | 'd' => (Some(Token::Point), 1),
                'G' | 'g' => (Some(Token::Group), 1),
                'S' | 's' => (Some(Token::Sign), 1),
                'V' | 'v' => (Some(Token::Shift), 1),
                'L' | 'l' => (Some(Token::Currency), 1),
                other => (Some(Token::Text(other.to_string())), 1),
            };
            tokens.extend(token);
            i += used;
        }
        let point = tokens.iter().position(|t| *t == Token::Point);
        let shift_at = tokens.iter().position(|t| *t == Token::Shift);
        if point.is_some() && shift_at.is_some() {
            return Err("cannot use \"V\" and decimal point together".to_owned());
        }
        let digit = |t: &Token| matches!(t, Token::Nine | Token::Zero);
        let (integer_places, fraction_places) = match point {
            Some(p) => (
                tokens[..p].iter().filter(|t| digit(t)).count(),
                tokens[p..].iter().filter(|t| digit(t)).count(),
            ),
            None => (tokens.iter().filter(|t| digit(t)).count(), 0),
        };
        let shift = shift_at.map_or(0, |v| tokens[v..].iter().filter(|t| digit(t)).count());
        Ok(Self {
            tokens,
            fill,
            integer_places,
            fraction_places,
            shift,
        })
    }

    /// Digit places after the decimal point or `V`: the scale of `to_number`'s
    /// answer.
    pub(crate) fn fraction_places(&self) -> usize {
        self.fraction_places + self.shift
    }

    /// `to_number(input, template)`: the number `input` holds as this template reads
    /// it, as decimal text (`-1234.5`), PostgreSQL's way: each digit place takes a
    /// digit, the point and group separator are taken where the input has them,
    /// signs (`S`, `MI`, `PL`, `SG`, `PR`, or a leading `-` without one) set the sign,
    /// other template characters skip one input character each, and input beyond the
    /// template is ignored. Input with no digit is PostgreSQL's invalid numeric input
    /// (`" "`); `EEEE` and `RN` are refused (`"RN" for input`), as PostgreSQL refuses
    /// them, and `TH` is ignored.
    pub(crate) fn read(&self, input: &str) -> Result<String, String> {
        let chars: Vec<char> = input.chars().collect();
        let mut at = 0;
        let mut negative = false;
        let (mut integer, mut fraction) = (String::new(), String::new());
        let mut after_point = false;
        let mut shift = 0usize;
        let mut shifting = false;
        let explicit_sign = self.tokens.iter().any(|t| {
            matches!(
                t,
                Token::Sign | Token::Minus | Token::Plus | Token::SignAny | Token::Brackets
            )
        });
        // `PR`'s opening bracket comes before the first digit.
        if self.tokens.contains(&Token::Brackets) && chars.first() == Some(&'<') {
            negative = true;
            at = 1;
        }
        for token in &self.tokens {
            match token {
                Token::Nine | Token::Zero => {
                    if integer.is_empty() && fraction.is_empty() {
                        while chars.get(at) == Some(&' ') {
                            at += 1;
                        }
                        if !explicit_sign && matches!(chars.get(at), Some('-' | '+')) {
                            negative = chars[at] == '-';
                            at += 1;
                        }
                    }
                    if let Some(c) = chars.get(at).filter(|c| c.is_ascii_digit()) {
                        match after_point {
                            true => fraction.push(*c),
                            false => integer.push(*c),
                        }
                        if shifting {
                            shift += 1;
                        }
                        at += 1;
                    }
                }
                Token::Point => {
                    after_point = true;
                    if chars.get(at) == Some(&'.') {
                        at += 1;
                    }
                }
                Token::Group => {
                    if chars.get(at) == Some(&',') {
                        at += 1;
                    }
                }
                Token::Sign | Token::SignAny | Token::Minus | Token::Plus => {
                    while chars.get(at) == Some(&' ') {
                        at += 1;
                    }
                    match chars.get(at) {
                        Some('-') if *token != Token::Plus => {
                            negative = true;
                            at += 1;
                        }
                        Some('+') if *token != Token::Minus => at += 1,
                        _ => {}
                    }
                }
                Token::Brackets => {
                    if chars.get(at) == Some(&'>') {
                        at += 1;
                    }
                }
                Token::Shift => shifting = true,
                Token::Currency | Token::Text(_) => {
                    let skipped = match token {
                        Token::Text(text) => text.chars().count(),
                        _ => 1,
                    };
                    at = (at + skipped).min(chars.len());
                }
                Token::Exponent => return Err("\"EEEE\" for input".to_owned()),
                Token::Roman => return Err("\"RN\" for input".to_owned()),
                Token::Ordinal { .. } => {}
            }
        }
        if integer.is_empty() && fraction.is_empty() {
            return Err("invalid input syntax for type numeric: \" \"".to_owned());
        }
        if shift > 0 {
            // Digits read after `V` divide the number by ten each.
            let digits = format!("{integer}{fraction}");
            let point = digits.len().saturating_sub(shift);
            let (int, frac) = digits.split_at(point);
            integer = int.to_owned();
            fraction = frac.to_owned();
        }
        let integer = integer.trim_start_matches('0');
        let sign = if negative { "-" } else { "" };
        let integer = if integer.is_empty() { "0" } else { integer };
        Ok(match fraction.is_empty() {
            true => format!("{sign}{integer}"),
            false => format!("{sign}{integer}.{fraction}"),
        })
    }

    /// `number` as this template writes it.
    pub(crate) fn format(&self, number: Number<'_>) -> String {
        if self.tokens.contains(&Token::Roman) {
            return self.roman(number);
        }
        if self.tokens.contains(&Token::Exponent) {
            return self.scientific(number);
        }
        let (negative, integer, fraction) = self.digits(number);
        let has_point = self.tokens.contains(&Token::Point);
        // Zero's integer part prints only where no fraction follows (`0` for
        // `9999`, `.10` for `9.99`).
        let integer = match (integer.is_empty(), has_point) {
            (true, false) => "0".to_owned(),
            _ => integer,
        };
        let overflow = integer.len() > self.integer_places;
        let explicit_sign = self.tokens.iter().any(|t| {
            matches!(
                t,
                Token::Sign | Token::Minus | Token::SignAny | Token::Brackets
            )
        });
        let sign_char = if negative { '-' } else { '+' };
        // The first integer place that prints: where the number's digits begin, or
        // the first `0` place before them.
        let blank = self.integer_places.saturating_sub(integer.len());
        let first_zero = self
            .tokens
            .iter()
            .filter(|t| matches!(t, Token::Nine | Token::Zero))
            .take(self.integer_places)
            .position(|t| *t == Token::Zero)
            .unwrap_or(usize::MAX);
        let starts_at = if overflow { 0 } else { blank.min(first_zero) };
        let mut out = String::new();
        let mut place = 0; // integer places seen
        let mut fraction_place = 0;
        let mut printed = false;
        let mut after_point = false;
        let mut integer_digits = integer.chars();
        // Fraction digits to print: in fill mode, trailing zeros in `9` places go.
        let fraction: Vec<char> = fraction.chars().collect();
        let kept_fraction = if self.fill {
            let kinds: Vec<&Token> = self
                .tokens
                .iter()
                .skip_while(|t| **t != Token::Point)
                .filter(|t| matches!(t, Token::Nine | Token::Zero))
                .collect();
            let mut kept = fraction.len();
            while kept > 0 && fraction[kept - 1] == '0' && *kinds[kept - 1] == Token::Nine {
                kept -= 1;
            }
            kept
        } else {
            fraction.len()
        };
        let lead = |out: &mut String, printed: &mut bool| {
            // Before the first printed character of the number: its sign (or a
            // space for a positive one), or PR's bracket.
            if *printed {
                return;
            }
            *printed = true;
            if self.tokens.contains(&Token::Brackets) {
                out.push(if negative { '<' } else { ' ' });
            } else if let Some(s) = self.tokens.iter().position(|t| *t == Token::Sign)
                && self.tokens[..s]
                    .iter()
                    .all(|t| !matches!(t, Token::Nine | Token::Zero | Token::Point))
            {
                out.push(sign_char);
            } else if !explicit_sign && (negative || !self.fill) {
                out.push(if negative { '-' } else { ' ' });
            }
        };
        for token in &self.tokens {
            match token {
                Token::Nine | Token::Zero if !after_point => {
                    if overflow {
                        lead(&mut out, &mut printed);
                        out.push('#');
                    } else if place < starts_at {
                        if !self.fill {
                            out.push(' ');
                        }
                    } else {
                        lead(&mut out, &mut printed);
                        if place < blank {
                            out.push('0');
                        } else {
                            out.push(integer_digits.next().unwrap_or('0'));
                        }
                    }
                    place += 1;
                }
                Token::Nine | Token::Zero => {
                    if overflow {
                        out.push('#');
                    } else if fraction_place < kept_fraction {
                        out.push(fraction[fraction_place]);
                    }
                    fraction_place += 1;
                }
                Token::Point => {
                    lead(&mut out, &mut printed);
                    after_point = true;
                    out.push('.');
                }
                Token::Group => {
                    if printed {
                        out.push(',');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                Token::Sign => {
                    // A sign after the digits; one before them is `lead`'s.
                    if printed || place > 0 {
                        out.push(sign_char);
                    }
                }
                Token::Minus => {
                    if negative {
                        out.push('-');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                Token::Plus => {
                    if !negative {
                        out.push('+');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                Token::SignAny => out.push(sign_char),
                Token::Brackets => {
                    if negative {
                        out.push('>');
                    } else if !self.fill {
                        out.push(' ');
                    }
                }
                Token::Ordinal { upper } => {
                    if !negative || integer != "0" {
                        out.push_str(&ordinal(&integer, *upper));
                    }
                }
                Token::Shift | Token::Exponent | Token::Roman => {}
                Token::Currency => {
                    if !self.fill {
                        out.push(' ');
                    }
                }
                Token::Text(text) => out.push_str(text),
            }
        }
        out
    }

    /// The sign, integer digits (no leading zeros) and fraction digits (as many as
    /// the template's places) of `number`, rounded half away from zero (a float as
    /// C's printf rounds it, as PostgreSQL's float formatting does).
    fn digits(&self, number: Number<'_>) -> (bool, String, String) {
        let places = self.fraction_places;
        let text = match number {
            Number::Float(v) => {
                let v = v * 10f64.powi(self.shift as i32);
                format!("{v:.places$}")
            }
            Number::Exact(text) => round_exact(&shift_exact(text, self.shift), places),
        };
        let negative = text.starts_with('-');
        let unsigned = text.trim_start_matches(['-', '+']);
        let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let integer = integer.trim_start_matches('0').to_owned();
        let negative = negative && (!integer.is_empty() || fraction.chars().any(|c| c != '0'));
        (negative, integer, fraction.to_owned())
    }

    fn scientific(&self, number: Number<'_>) -> String {
        let value = match number {
            Number::Float(v) => v,
            Number::Exact(text) => text.parse().unwrap_or(0.0),
        };
        let places = self.fraction_places;
        let text = format!("{:.places$e}", value.abs());
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let sign = if value < 0.0 {
            "-"
        } else if self.fill {
            ""
        } else {
            " "
        };
        let exp_sign = if exponent < 0 { '-' } else { '+' };
        format!("{sign}{mantissa}e{exp_sign}{:02}", exponent.abs())
    }

    fn roman(&self, number: Number<'_>) -> String {
        let value = match number {
            Number::Float(v) => v.round(),
            Number::Exact(text) => text.parse::<f64>().unwrap_or(0.0).round(),
        };
        let text = if (1.0..=3999.0).contains(&value) {
            to_roman(value as u32)
        } else {
            "#".repeat(15)
        };
        if self.fill {
            text
        } else {
            format!("{text:>15}")
        }
    }
}

/// `text` (a decimal number) multiplied by ten to `shift`.
fn shift_exact(text: &str, shift: usize) -> String {
    if shift == 0 {
        return text.to_owned();
    }
    let (integer, fraction) = text.split_once('.').unwrap_or((text, ""));
    let mut fraction: String = fraction.to_owned();
    while fraction.len() < shift {
        fraction.push('0');
    }
    let (moved, rest) = fraction.split_at(shift);
    match rest.is_empty() {
        true => format!("{integer}{moved}"),
        false => format!("{integer}{moved}.{rest}"),
    }
}

/// `text` (a decimal number) rounded half away from zero to `places` decimals.
fn round_exact(text: &str, places: usize) -> String {
    let negative = text.starts_with('-');
    let unsigned = text.trim_start_matches(['-', '+']);
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let mut digits: Vec<u8> = integer.bytes().map(|b| b - b'0').collect();
    let mut kept: Vec<u8> = fraction.bytes().take(places).map(|b| b - b'0').collect();
    while kept.len() < places {
        kept.push(0);
    }
    let round_up = fraction.as_bytes().get(places).is_some_and(|&b| b >= b'5');
    digits.extend(kept);
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let split = digits.len() - places;
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (integer, fraction) = text.split_at(split);
    let sign = if negative { "-" } else { "" };
    match places {
        0 => format!("{sign}{integer}"),
        _ => format!("{sign}{integer}.{fraction}"),
    }
}

fn ordinal(integer: &str, upper: bool) -> String {
    let n: u64 = integer.parse().unwrap_or(0);
    let suffix = match (n % 100, n % 10) {
        (11..=13, _) => "th",
        (_, 1) => "st",
        (_, 2) => "nd",
        (_, 3) => "rd",
        _ => "th",
    };
    if upper {
        suffix.to_ascii_uppercase()
    } else {
        suffix.to_owned()
    }
}

fn to_roman(mut n: u32) -> String {
    const NUMERALS: [(u32, &str); 13] = [
        (1000, "M"),
        (900, "CM"),
        (500, "D"),
        (400, "CD"),
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, text) in NUMERALS {
        while n >= value {
            out.push_str(text);
            n -= value;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(value: &str, template: &str) -> String {
        Template::parse(template)
            .expect("template")
            .format(Number::Exact(value))
    }

    #[test]
    fn numbers_are_formatted_as_postgresql_formats_them() {
        // PostgreSQL 15's answers (select to_char(value, template)).
        let cases = [
            ("1234.5", "9,999.99", " 1,234.50"),
            ("0.5", "0.00", " 0.50"),
            ("-12.5", "9999.99", "  -12.50"),
            ("12", "FM999.99", "12."),
            ("12.5", "FM999.00", "12.50"),
            ("1234567.891", "FM999G999G990D00", "1,234,567.89"),
            ("5", "000", " 005"),
            ("-5", "000", "-005"),
            ("123456", "9,999", " #,###"),
            ("0", "9999", "    0"),
            ("0", "FM9999", "0"),
            ("0.1", "9.99", "  .10"),
            ("0.1", "FM9.99", ".1"),
            ("-1234.5", "S9999.99", "-1234.50"),
            ("1234.5", "S9999.99", "+1234.50"),
            ("-12", "999MI", " 12-"),
            ("12", "999MI", " 12 "),
            ("-12", "999PR", " <12>"),
            ("12", "999PR", "  12 "),
            ("12", "PL999", "+  12"),
            ("-12", "SG999", "- 12"),
            ("42", "999th", "  42nd"),
            ("1", "FM9TH", "1ST"),
            ("11", "FM99th", "11th"),
            ("12.5", "FM999V9", "125"),
            ("12.45", "999V99", "  1245"),
            ("-0.5", "9.9", " -.5"),
            ("0", "0.00", " 0.00"),
            ("7", "FM00", "07"),
            ("12.3", "99D9S", "12.3+"),
            ("12.3", "S99D9", "+12.3"),
            ("5", "9 9 9", "     5"),
            ("123", "9 9 9", " 1 2 3"),
            ("1234.5", "9999", " 1235"),
            ("-1234.5", "FM9999", "-1235"),
            ("485", "RN", "        CDLXXXV"),
            ("1999", "FMRN", "MCMXCIX"),
            ("12345.678", "9.99EEEE", " 1.23e+04"),
            ("0.00012", "9.9EEEE", " 1.2e-04"),
            ("100", "FM$999", "$100"),
            ("42", "\"Total: \"999", "Total:   42"),
            ("1234.5", "L9999.99", "  1234.50"),
            ("2.5", "9", " 3"),
            ("-2.5", "9", "-3"),
            ("1.005", "9.99", " 1.01"),
            ("99.99", "99.9", " ##.#"),
            ("-99", "FM999,999.00", "-99.00"),
            ("0.25", "FM999,999.00", ".25"),
        ];
        for (value, template, expected) in cases {
            assert_eq!(
                exact(value, template),
                expected,
                "to_char({value}, '{template}')"
            );
        }
        let float = |v: f64, t: &str| Template::parse(t).unwrap().format(Number::Float(v));
        assert_eq!(float(1234.5, "9999.99"), " 1234.50");
        assert_eq!(float(3.14159, "9.999"), " 3.142");
        assert!(Template::parse("99.9V9").is_err());
    }
}
