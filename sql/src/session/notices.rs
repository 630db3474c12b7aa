//! Messages a statement sends besides its result, as PostgreSQL's NOTICE and
//! WARNING: `table "t" does not exist, skipping` for `DROP TABLE IF EXISTS`,
//! `drop cascades to view v` for `DROP ... CASCADE`, `there is no transaction in
//! progress` for a `COMMIT` outside a block. A statement leaves them on its session
//! ([`super::Session::take_notices`]), which the server sends before the statement's
//! completion; each names its condition, which the server turns into PostgreSQL's
//! SQLSTATE. `client_min_messages` decides, as in PostgreSQL, which are kept.

use std::sync::Mutex;

/// How severe a [`Notice`] is: PostgreSQL's NOTICE or WARNING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Notice,
    Warning,
}

impl Severity {
    /// The word PostgreSQL's message carries (`S` and `V` fields).
    pub fn word(self) -> &'static str {
        match self {
            Severity::Notice => "NOTICE",
            Severity::Warning => "WARNING",
        }
    }
}

/// What a [`Notice`] reports, for its SQLSTATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Nothing wrong: `... does not exist, skipping`, `drop cascades to ...`.
    Completion,
    /// `relation "t" already exists, skipping`.
    DuplicateTable,
    /// `schema "s" already exists, skipping`.
    DuplicateSchema,
    /// `column "c" of relation "t" already exists, skipping`.
    DuplicateColumn,
    /// `COMMIT` or `ROLLBACK` outside a transaction block.
    NoActiveTransaction,
    /// `BEGIN` inside one.
    ActiveTransaction,
}

/// One message for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub severity: Severity,
    pub condition: Condition,
    pub message: String,
    pub detail: Option<String>,
}

impl Notice {
    /// A NOTICE that a statement did nothing to `what` (`table "t"`), which is not
    /// there.
    pub(crate) fn skipped_absent(what: impl std::fmt::Display) -> Self {
        Self::notice(
            Condition::Completion,
            format!("{what} does not exist, skipping"),
        )
    }

    /// A NOTICE that a statement did nothing to `what`, which is there already.
    pub(crate) fn skipped_present(condition: Condition, what: impl std::fmt::Display) -> Self {
        Self::notice(condition, format!("{what} already exists, skipping"))
    }

    /// `DROP ... CASCADE`'s NOTICE: `objects` (`view v`, in the order they go) went
    /// too; PostgreSQL names one in the message, more in the DETAIL.
    pub(crate) fn cascaded(objects: &[String]) -> Option<Self> {
        match objects {
            [] => None,
            [one] => Some(Self::notice(
                Condition::Completion,
                format!("drop cascades to {one}"),
            )),
            many => Some(Notice {
                detail: Some(
                    many.iter()
                        .map(|o| format!("drop cascades to {o}"))
                        .collect::<Vec<_>>()
                        .join("\n"),
                ),
                ..Self::notice(
                    Condition::Completion,
                    format!("drop cascades to {} other objects", many.len()),
                )
            }),
        }
    }

    pub(crate) fn warning(condition: Condition, message: &str) -> Self {
        Notice {
            severity: Severity::Warning,
            condition,
            message: message.to_owned(),
            detail: None,
        }
    }

    fn notice(condition: Condition, message: String) -> Self {
        Notice {
            severity: Severity::Notice,
            condition,
            message,
            detail: None,
        }
    }
}

/// The notices a session's statement left, not yet taken.
#[derive(Debug, Default)]
pub(crate) struct Notices(Mutex<Vec<Notice>>);

impl Notices {
    /// Keeps `notice` if `client_min_messages` (`least`) lets it through: PostgreSQL
    /// sends a message at or above that level (debug levels and `log` are below
    /// NOTICE; `error` lets neither through).
    pub(crate) fn push(&self, least: &str, notice: Notice) {
        let sent = match least.to_ascii_lowercase().as_str() {
            "warning" => notice.severity >= Severity::Warning,
            "error" | "fatal" | "panic" => false,
            _ => true,
        };
        if sent {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(notice);
        }
    }

    pub(crate) fn take(&self) -> Vec<Notice> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected texts from PostgreSQL 15 (psql, VERBOSITY=verbose) for `DROP TABLE t
    /// CASCADE` with one and with two views over `t`.
    #[test]
    fn cascades_read_as_postgres_words_them() {
        assert_eq!(Notice::cascaded(&[]), None);
        let one = Notice::cascaded(&["view nv2".to_owned()]).expect("one");
        assert_eq!(one.message, "drop cascades to view nv2");
        assert_eq!(one.detail, None);
        let two = Notice::cascaded(&["view nv2".to_owned(), "view nv3".to_owned()]).expect("two");
        assert_eq!(two.message, "drop cascades to 2 other objects");
        assert_eq!(
            two.detail.as_deref(),
            Some("drop cascades to view nv2\ndrop cascades to view nv3")
        );
    }

    #[test]
    fn client_min_messages_filters_as_postgres() {
        let notices = Notices::default();
        let warning = Notice::warning(Condition::NoActiveTransaction, "w");
        let notice = Notice::skipped_absent("table \"t\"");
        notices.push("notice", notice.clone());
        notices.push("warning", notice.clone());
        notices.push("WARNING", warning.clone());
        notices.push("error", warning.clone());
        notices.push("debug1", notice.clone());
        assert_eq!(notices.take(), [notice.clone(), warning, notice]);
        assert!(notices.take().is_empty());
    }
}
