//! Column and table names as SQL users want them: trimmed, lower-case, valid
//! identifiers, unique within their table.

/// A clean identifier for `raw`: a UTF-8 BOM and surrounding space removed,
/// lower-cased, runs of characters other than letters, digits and `_` turned into one
/// `_`, and a leading digit prefixed with `_`. Empty results give `None`.
pub fn clean(raw: &str) -> Option<String> {
    let trimmed = raw.trim_start_matches('\u{feff}').trim();
    let mut out = String::with_capacity(trimmed.len());
    let mut pending_underscore = false;
    for c in trimmed.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() || c == '_' {
            if pending_underscore && !out.is_empty() {
                out.push('_');
            }
            pending_underscore = false;
            out.push(c);
        } else {
            pending_underscore = true;
        }
    }
    if out.is_empty() {
        return None;
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    Some(out)
}

/// Whether `raw` reads as a column name in a header row: after cleaning it is not
/// empty, it holds a letter, and it is not absurdly long.
pub fn looks_like_name(raw: &str) -> bool {
    let trimmed = raw.trim_start_matches('\u{feff}').trim();
    !trimmed.is_empty() && trimmed.len() <= 128 && trimmed.chars().any(char::is_alphabetic)
}

/// Clean, unique names for `raw` (a header row, or `None` for `col1..colN`).
pub fn columns(raw: &[Option<&str>]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    raw.iter()
        .enumerate()
        .map(|(i, name)| {
            let base = name
                .and_then(clean)
                .unwrap_or_else(|| format!("col{}", i + 1));
            unique(base, &mut seen)
        })
        .collect()
}

/// `base`, or `base_2`, `base_3` ... whichever is not yet in `seen`.
pub fn unique(base: String, seen: &mut std::collections::HashSet<String>) -> String {
    if seen.insert(base.clone()) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| seen.insert(candidate.clone()))
        .expect("an unused suffix exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_lowercased_and_unique() {
        assert_eq!(
            clean("\u{feff} Case Number ").as_deref(),
            Some("case_number")
        );
        assert_eq!(
            clean("Primary-Type (FBI)").as_deref(),
            Some("primary_type_fbi")
        );
        assert_eq!(clean("2nd Street").as_deref(), Some("_2nd_street"));
        assert_eq!(clean("  "), None);
        assert_eq!(
            columns(&[Some("ID"), Some("id"), None, Some("")]),
            vec!["id", "id_2", "col3", "col4"]
        );
        assert!(looks_like_name("Date Rptd"));
        assert!(!looks_like_name("12.5"));
    }
}
