//! Session settings: what `SET`, `SHOW` and the startup packet change.
//!
//! Names are case-insensitive; `SHOW` answers with PostgreSQL's canonical spelling
//! (`TimeZone`, `DateStyle`), because clients read the column name back. Only a few
//! settings change behaviour today (`search_path` picks the default schema; the wire
//! front end formats values by `DateStyle`, `IntervalStyle`, `TimeZone`,
//! `extra_float_digits`, `bytea_output`); the rest are remembered and reported so
//! clients that set them at connect time work.

use std::collections::BTreeMap;

use crate::error::{Result, SqlError};

/// PostgreSQL major.minor Tarn answers as, for clients that switch on it.
pub const SERVER_VERSION: &str = "15.8";

/// (canonical name, default value).
const DEFAULTS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("bytea_output", "hex"),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("DateStyle", "ISO, MDY"),
    ("default_transaction_isolation", "read committed"),
    ("default_transaction_read_only", "off"),
    ("extra_float_digits", "1"),
    ("integer_datetimes", "on"),
    ("IntervalStyle", "postgres"),
    ("is_superuser", "on"),
    // Tarn compiles no expressions: JIT is off (asyncpg turns it off and back).
    ("jit", "off"),
    ("lc_messages", "C"),
    ("max_identifier_length", "63"),
    ("search_path", "\"$user\", public"),
    ("server_encoding", "UTF8"),
    ("server_version", SERVER_VERSION),
    ("server_version_num", "150008"),
    ("session_authorization", "tarn"),
    ("standard_conforming_strings", "on"),
    ("statement_timeout", "0"),
    ("TimeZone", "UTC"),
    ("transaction_isolation", "read committed"),
    ("transaction_read_only", "off"),
];

/// PostgreSQL 15's short description of each setting `SHOW ALL` lists (pg_settings'
/// `short_desc`); settings PostgreSQL leaves out of `SHOW ALL` (`is_superuser`,
/// `session_authorization`, custom ones) have none.
const DESCRIPTIONS: &[(&str, &str)] = &[
    (
        "application_name",
        "Sets the application name to be reported in statistics and logs.",
    ),
    ("bytea_output", "Sets the output format for bytea."),
    (
        "client_encoding",
        "Sets the client's character set encoding.",
    ),
    (
        "client_min_messages",
        "Sets the message levels that are sent to the client.",
    ),
    (
        "DateStyle",
        "Sets the display format for date and time values.",
    ),
    (
        "default_transaction_isolation",
        "Sets the transaction isolation level of each new transaction.",
    ),
    (
        "default_transaction_read_only",
        "Sets the default read-only status of new transactions.",
    ),
    (
        "extra_float_digits",
        "Sets the number of digits displayed for floating-point values.",
    ),
    (
        "integer_datetimes",
        "Shows whether datetimes are integer based.",
    ),
    (
        "IntervalStyle",
        "Sets the display format for interval values.",
    ),
    ("jit", "Allow JIT compilation."),
    (
        "lc_messages",
        "Sets the language in which messages are displayed.",
    ),
    (
        "max_identifier_length",
        "Shows the maximum identifier length.",
    ),
    (
        "search_path",
        "Sets the schema search order for names that are not schema-qualified.",
    ),
    (
        "server_encoding",
        "Shows the server (database) character set encoding.",
    ),
    ("server_version", "Shows the server version."),
    (
        "server_version_num",
        "Shows the server version as an integer.",
    ),
    (
        "standard_conforming_strings",
        "Causes '...' strings to treat backslashes literally.",
    ),
    (
        "statement_timeout",
        "Sets the maximum allowed duration of any statement.",
    ),
    (
        "TimeZone",
        "Sets the time zone for displaying and interpreting time stamps.",
    ),
    (
        "transaction_isolation",
        "Sets the current transaction's isolation level.",
    ),
    (
        "transaction_read_only",
        "Sets the current transaction's read-only status.",
    ),
];

/// Settings a client may not change.
const READ_ONLY: &[&str] = &[
    "integer_datetimes",
    "is_superuser",
    "max_identifier_length",
    "server_encoding",
    "server_version",
    "server_version_num",
];

/// A session's parameters. Copies share one map until one of them changes (a
/// session's settings are copied for every kept plan and every result's encoding,
/// and change only at `SET`), and copies that share it compare equal at once.
#[derive(Debug, Clone, Eq)]
pub struct Settings {
    /// lower-cased name -> (canonical name, value)
    values: std::sync::Arc<BTreeMap<String, (String, String)>>,
}

impl PartialEq for Settings {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.values, &other.values) || self.values == other.values
    }
}

impl Default for Settings {
    fn default() -> Self {
        let values = DEFAULTS
            .iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    ((*name).to_owned(), (*value).to_owned()),
                )
            })
            .collect();
        Self {
            values: std::sync::Arc::new(values),
        }
    }
}

impl Settings {
    /// The value of `name`, if it is a known or previously set parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        let found = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.values.get(&name.to_ascii_lowercase())
        } else {
            self.values.get(name)
        };
        found.map(|(_, v)| v.as_str())
    }

    /// The canonical spelling of `name` and its value, for `SHOW`.
    pub fn show(&self, name: &str) -> Result<(String, String)> {
        self.values
            .get(&name.to_ascii_lowercase())
            .cloned()
            .ok_or_else(|| SqlError::UnknownSetting {
                name: name.to_owned(),
            })
    }

    /// Every setting, in name order, for `SHOW ALL`.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.values().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// `SHOW ALL`'s rows: name, value and description of each setting PostgreSQL lists
    /// there, ordered by name as PostgreSQL orders them (ignoring case).
    pub fn show_all(&self) -> Vec<(String, String, &'static str)> {
        let mut rows: Vec<(String, String, &'static str)> = DESCRIPTIONS
            .iter()
            .filter_map(|(name, description)| {
                let (canonical, value) = self.show(name).ok()?;
                Some((canonical, value, *description))
            })
            .collect();
        rows.sort_by_key(|(name, _, _)| name.to_ascii_lowercase());
        rows
    }

    /// Sets `name`. Unknown names are accepted only when qualified (`myapp.flag`),
    /// as PostgreSQL does for custom settings.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let key = name.to_ascii_lowercase();
        if READ_ONLY.contains(&key.as_str()) {
            return Err(SqlError::InvalidSettingValue {
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
        if matches!(
            key.as_str(),
            "default_transaction_isolation" | "transaction_isolation"
        ) && matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "repeatable read" | "serializable"
        ) {
            return Err(isolation_not_supported(value.trim()));
        }
        let value = normalize(&key, value).ok_or_else(|| SqlError::InvalidSettingValue {
            name: name.to_owned(),
            value: value.to_owned(),
        })?;
        let values = std::sync::Arc::make_mut(&mut self.values);
        match values.get_mut(&key) {
            Some((_, v)) => *v = value,
            None if key.contains('.') => {
                values.insert(key, (name.to_owned(), value));
            }
            None => {
                return Err(SqlError::UnknownSetting {
                    name: name.to_owned(),
                });
            }
        }
        Ok(())
    }

    /// Restores `name` to its default (`RESET name`).
    pub fn reset(&mut self, name: &str) -> Result<()> {
        let key = name.to_ascii_lowercase();
        match DEFAULTS.iter().find(|(n, _)| n.eq_ignore_ascii_case(&key)) {
            Some((canonical, value)) => {
                std::sync::Arc::make_mut(&mut self.values)
                    .insert(key, ((*canonical).to_owned(), (*value).to_owned()));
                Ok(())
            }
            None if self.values.contains_key(&key) => {
                std::sync::Arc::make_mut(&mut self.values).remove(&key);
                Ok(())
            }
            None => Err(SqlError::UnknownSetting {
                name: name.to_owned(),
            }),
        }
    }

    /// `RESET ALL`.
    pub fn reset_all(&mut self) {
        *self = Self::default();
    }

    /// `statement_timeout`, or `None` when it is 0 (no limit).
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        self.get("statement_timeout")
            .and_then(parse_duration_ms)
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    }

    /// The schemas of `search_path`, in order, unquoted, with `$user` left out.
    pub fn search_path(&self) -> Vec<String> {
        self.get("search_path")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().trim_matches('"').to_owned())
            .filter(|s| !s.is_empty() && s != "$user")
            .collect()
    }
}

/// Validates and normalizes a value; `None` when it is not acceptable.
/// Whether `name` (a boolean setting, normalized) is on.
pub(crate) fn is_on(settings: &Settings, name: &str) -> bool {
    settings.get(name) == Some("on")
}

/// The error for an isolation level above read committed, at which Tarn runs every
/// transaction (0A000): accepting it would promise what Tarn does not do.
pub(crate) fn isolation_not_supported(level: &str) -> SqlError {
    SqlError::not_supported(format!(
        "transaction isolation level {} (Tarn runs every transaction at read committed)",
        level.to_ascii_lowercase()
    ))
}

fn normalize(key: &str, value: &str) -> Option<String> {
    match key {
        "extra_float_digits" => {
            let n: i32 = value.trim().parse().ok()?;
            (-15..=3).contains(&n).then(|| n.to_string())
        }
        "statement_timeout" => parse_duration_ms(value).map(show_duration_ms),
        "client_encoding" => {
            let v = value
                .trim()
                .trim_matches('\'')
                .to_ascii_uppercase()
                .replace('-', "");
            (v == "UTF8" || v == "UNICODE").then(|| "UTF8".to_owned())
        }
        "datestyle" => {
            // Tarn formats dates in ISO style only; the ordering part is kept for
            // clients that read it back.
            let upper = value.to_ascii_uppercase();
            let order = if upper.contains("DMY") {
                "DMY"
            } else if upper.contains("YMD") {
                "YMD"
            } else {
                "MDY"
            };
            (upper.contains("ISO")
                || !upper.contains(|c: char| c.is_ascii_alphabetic() && !"DMY, ".contains(c)))
            .then(|| format!("ISO, {order}"))
        }
        "timezone" => {
            let v = value.trim();
            (!v.is_empty()).then(|| v.to_owned())
        }
        "default_transaction_read_only" | "transaction_read_only" => {
            match value
                .trim()
                .trim_matches('\'')
                .to_ascii_lowercase()
                .as_str()
            {
                "on" | "true" | "yes" | "1" => Some("on".to_owned()),
                "off" | "false" | "no" | "0" => Some("off".to_owned()),
                _ => None,
            }
        }
        // PostgreSQL's levels Tarn runs at (the higher two are refused in `set`).
        "default_transaction_isolation" | "transaction_isolation" => {
            let v = value.trim().to_ascii_lowercase();
            matches!(v.as_str(), "read committed" | "read uncommitted").then_some(v)
        }
        _ => Some(value.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_uses_canonical_names() {
        let s = Settings::default();
        assert_eq!(s.show("timezone").expect("known").0, "TimeZone");
        assert_eq!(s.show("DATESTYLE").expect("known").1, "ISO, MDY");
    }

    #[test]
    fn unknown_plain_names_fail_but_qualified_ones_are_custom() {
        let mut s = Settings::default();
        assert!(matches!(
            s.set("no_such", "1"),
            Err(SqlError::UnknownSetting { .. })
        ));
        s.set("myapp.flag", "x").expect("custom setting");
        assert_eq!(s.get("MYAPP.FLAG"), Some("x"));
    }

    #[test]
    fn copies_share_their_values_until_one_changes() {
        let a = Settings::default();
        let mut b = a.clone();
        assert_eq!(a, b);
        b.set("DateStyle", "ISO, DMY").expect("set");
        assert_ne!(a, b);
        assert_eq!(a.get("datestyle"), Settings::default().get("DateStyle"));
        assert_eq!(b.get("DATESTYLE"), Some("ISO, DMY"));
        b.reset("datestyle").expect("reset");
        assert_eq!(a, b, "equal values, no longer shared");
    }

    #[test]
    fn search_path_is_parsed_and_reset_restores_default() {
        let mut s = Settings::default();
        assert_eq!(s.search_path(), vec!["public"]);
        s.set("search_path", "\"Analytics\", raw").expect("set");
        assert_eq!(s.search_path(), vec!["Analytics", "raw"]);
        s.reset("search_path").expect("reset");
        assert_eq!(s.search_path(), vec!["public"]);
    }

    #[test]
    fn read_only_and_invalid_values_are_refused() {
        let mut s = Settings::default();
        assert!(s.set("server_version", "9").is_err());
        assert!(s.set("extra_float_digits", "9").is_err());
        assert!(s.set("client_encoding", "LATIN1").is_err());
        s.set("client_encoding", "'utf-8'")
            .expect("utf-8 spelled as asyncpg does");
        assert_eq!(s.get("client_encoding"), Some("UTF8"));
    }
}

/// A time setting in milliseconds, as PostgreSQL reads one: a bare number is
/// milliseconds; units `us`, `ms`, `s`, `min`, `h`, `d` may follow (with or without a
/// space, quoted or not).
fn parse_duration_ms(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches('\'').trim();
    let split = v
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        _ => return None,
    };
    let ms = (number * factor).round();
    (ms >= 0.0 && ms <= f64::from(i32::MAX)).then_some(ms as u64)
}

/// How PostgreSQL shows a time setting: in the largest unit that divides it.
fn show_duration_ms(ms: u64) -> String {
    if ms == 0 {
        return "0".to_owned();
    }
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("min", 60_000),
        ("s", 1000),
    ] {
        if ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}
