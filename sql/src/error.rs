//! SQL-layer errors. The server maps them (and the DataFusion and catalog errors they
//! wrap) to SQLSTATE codes in one place; variants here carry what that needs.

use datafusion::error::DataFusionError;
use tarn_catalog::CatalogError;

#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    #[error(transparent)]
    DataFusion(#[from] DataFusionError),

    #[error(transparent)]
    Catalog(#[from] CatalogError),

    #[error(transparent)]
    Connector(#[from] tarn_connectors::ConnectorError),

    /// A statement or clause Tarn does not implement yet; the message names it.
    #[error("{feature} is not supported yet")]
    NotSupported { feature: String },

    /// SQL asked to read or write a location outside the allowed roots.
    #[error(
        "location {location} is outside the locations this server allows (the warehouse and warehouse.allowed_locations)"
    )]
    LocationNotAllowed { location: String },

    /// COPY input that does not parse as the table's columns.
    #[error("invalid COPY data: {message}")]
    CopyData { message: String },

    /// A statement that parses but is not valid SQL (PostgreSQL's 42601).
    #[error("{message}")]
    Syntax { message: String },

    #[error("current transaction is aborted, commands ignored until end of transaction block")]
    InFailedTransaction,

    /// `CREATE TEMPORARY TABLE s.t` with `s` other than `pg_temp` (PostgreSQL's 42P16).
    #[error("cannot create temporary relation in non-temporary schema \"{0}\"")]
    TemporaryInSchema(String),

    #[error("cannot insert multiple commands into a prepared statement")]
    MultipleCommands,

    #[error("cross-database references are not implemented: {name}")]
    CrossDatabase { name: String },

    #[error("invalid input for parameter ${index}: {reason}")]
    InvalidParameter { index: usize, reason: String },

    #[error("bind message supplies {given} parameters, but prepared statement requires {expected}")]
    ParameterCount { given: usize, expected: usize },

    #[error("unrecognized configuration parameter \"{name}\"")]
    UnknownSetting { name: String },

    #[error("more than one row returned by a subquery used as an expression")]
    SubqueryRows,

    /// A list of lists whose sub-lists differ in length, or one of them NULL, which
    /// PostgreSQL's rectangular arrays cannot hold (2202E).
    #[error("multidimensional arrays must have array expressions with matching dimensions")]
    ArrayDimensions,

    /// An array literal deeper than PostgreSQL's limit of 6 dimensions (54000).
    #[error("number of array dimensions ({0}) exceeds the maximum allowed (6)")]
    TooManyDimensions(usize),

    /// INSERT ... ON CONFLICT DO UPDATE with a key the source gives twice (21000).
    #[error("ON CONFLICT DO UPDATE command cannot affect row a second time")]
    ConflictRowTwice,

    /// A text value that does not read as `type_name` (22P02).
    #[error("invalid input syntax for type {type_name}: {message}")]
    InvalidText {
        type_name: &'static str,
        message: String,
    },

    /// Text that does not read as what it stands for (22P02), in PostgreSQL's words.
    #[error("{0}")]
    InvalidInput(String),

    /// A value longer than its `varchar(n)` / `char(n)` column allows (22001). The
    /// message starts with [`VALUE_TOO_LONG`].
    #[error("value too long for type {type_name}")]
    ValueTooLong { type_name: String },

    /// `\u0000` in text for jsonb, which a text value cannot hold (22P05). The message
    /// starts with [`UNSUPPORTED_ESCAPE`].
    #[error("unsupported Unicode escape sequence: \\u0000 cannot be converted to text")]
    UnsupportedUnicodeEscape,

    /// `json[b]_array_length` of an object or a scalar (22023), as PostgreSQL says it.
    #[error("cannot get array length of a {}", if *scalar { "scalar" } else { "non-array" })]
    NotAnArray { scalar: bool },

    /// A relation that does not exist (42P01), named as the statement wrote it.
    #[error("relation \"{0}\" does not exist")]
    UndefinedRelation(String),

    /// A column list (`COPY t (a, x)`) naming a column the table does not have (42703).
    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    UnknownColumn { column: String, table: String },

    /// A column list naming a column twice (42701).
    #[error("column \"{0}\" specified more than once")]
    ColumnListedTwice(String),

    /// A JSON set-returning function given a value of the wrong kind (22023), in
    /// PostgreSQL's words (`cannot extract elements from an object`).
    #[error("{0}")]
    WrongJsonKind(String),

    /// Integer arithmetic whose answer does not fit its type (22003); the message is
    /// one of [`INTEGER_OUT_OF_RANGE`].
    #[error("{type_name} out of range")]
    IntegerOutOfRange { type_name: &'static str },

    /// A number beyond `numeric`'s range (22003); the message is [`NUMERIC_OVERFLOW`].
    #[error("value overflows numeric format")]
    NumericOverflow,

    #[error("invalid value for parameter \"{name}\": \"{value}\"")]
    InvalidSettingValue { name: String, value: String },

    /// A write in a read-only transaction (25006).
    #[error("cannot execute {0} in a read-only transaction")]
    ReadOnlyTransaction(String),

    /// A regular expression that does not compile (2201B).
    #[error("invalid regular expression: {0}")]
    InvalidRegex(String),

    /// A text `to_timestamp`/`to_date` cannot read with its template, worded as
    /// PostgreSQL words it, with its DETAIL and HINT.
    #[error("{message}")]
    Datetime {
        failure: DatetimeFailure,
        message: String,
        detail: Option<String>,
        hint: Option<String>,
    },

    /// A regular-expression function's flag PostgreSQL does not know (22023).
    #[error("invalid regular expression option: \"{0}\"")]
    InvalidRegexOption(char),

    /// `width_bucket` with a count or bounds it cannot bucket by (2201G), in
    /// PostgreSQL's words.
    #[error("{0}")]
    InvalidWidthBucket(String),

    /// A function's argument it cannot take (22023), in PostgreSQL's words.
    #[error("{0}")]
    InvalidParameterValue(String),

    /// An escape string of more than one character (22025).
    #[error("invalid escape string")]
    InvalidEscape,

    /// An interval whose months, days or time do not fit (22008).
    #[error("interval out of range")]
    IntervalOutOfRange,

    /// `AT TIME ZONE` / `timezone()` with a zone Tarn does not know (22023).
    #[error("time zone \"{0}\" not recognized")]
    UnknownTimeZone(String),

    #[error("canceling statement due to statement timeout")]
    StatementTimeout,

    #[error("cursor \"{0}\" does not exist")]
    UnknownCursor(String),

    #[error("cursor \"{0}\" already exists")]
    DuplicateCursor(String),

    #[error("cursor can only scan forward")]
    CursorNoScroll,

    /// `DECLARE` without `WITH HOLD`, `SAVEPOINT` ... outside `BEGIN ... COMMIT`.
    #[error("{0} can only be used in transaction blocks")]
    NoActiveTransaction(&'static str),

    #[error("savepoint \"{0}\" does not exist")]
    UnknownSavepoint(String),

    #[error("prepared statement \"{0}\" does not exist")]
    UnknownPreparedStatement(String),

    #[error("prepared statement \"{0}\" already exists")]
    PreparedStatementExists(String),

    /// `$n` where the statement has no parameters (`EXECUTE q($1)`).
    #[error("there is no parameter {0}")]
    UndefinedParameter(String),

    /// `EXECUTE name(...)` with a number of values other than the statement's.
    #[error(
        "wrong number of parameters for prepared statement \"{name}\": expected {expected}, got {given}"
    )]
    PreparedParameterCount {
        name: String,
        expected: usize,
        given: usize,
    },

    /// `ROLLBACK TO SAVEPOINT` after catalog changes, which only a whole block's
    /// ROLLBACK takes back.
    #[error(
        "ROLLBACK TO SAVEPOINT {name} cannot undo the {writes} catalog change(s) (CREATE, ALTER, DROP) made since the savepoint: only ROLLBACK of the whole transaction block takes them back"
    )]
    SavepointWrites { name: String, writes: u64 },

    /// A rollback that could not take back every row its block wrote.
    #[error(
        "ROLLBACK could not take back rows that another session rewrote since they were written: {0}"
    )]
    RowsNotUndone(String),

    /// A NULL stored into a `NOT NULL` column (23502). The message starts with
    /// [`NOT_NULL_VIOLATION`].
    #[error(
        "null value in column \"{column}\" of relation \"{table}\" violates not-null constraint"
    )]
    NotNullViolation { column: String, table: String },

    /// `ALTER TABLE ... RENAME COLUMN` of a column the table does not have (42703).
    #[error("column \"{0}\" does not exist")]
    NoSuchColumn(String),

    /// `ALTER TABLE ... ALTER COLUMN ... TYPE` to a type PostgreSQL has no assignment
    /// cast to from the column's type, without `USING` (42804).
    #[error("column \"{column}\" cannot be cast automatically to type {type_name}")]
    CannotCastColumn { column: String, type_name: String },

    /// `DROP TABLE` / `DROP VIEW` without `CASCADE` of a relation views use (2BP01);
    /// `detail` names them as PostgreSQL's DETAIL does.
    #[error("cannot drop {kind} {name} because other objects depend on it")]
    DependentObjects {
        kind: &'static str,
        name: String,
        detail: String,
    },

    /// A DROP of several relations without `CASCADE` that views not named use
    /// (2BP01), in PostgreSQL's words; `detail` names them.
    #[error("cannot drop desired object(s) because other objects depend on them")]
    DependentObjectsOfSeveral { detail: String },

    /// ALTER COLUMN ... TYPE of a column a view uses (PostgreSQL: 0A000, the DETAIL
    /// naming the view's rule).
    #[error("cannot alter type of a column used by a view or rule")]
    ViewUsesColumn { view: String, column: String },

    /// A statement that does not parse, with where (a 1-based character index into
    /// the query as sent: PostgreSQL's error position).
    #[error("{error}")]
    AtPosition {
        error: Box<SqlError>,
        position: usize,
    },

    /// DROP of a relation that is not there (42P01), in PostgreSQL's words: `table
    /// "t" does not exist`, unqualified.
    #[error("{kind} \"{name}\" does not exist")]
    NothingToDrop { kind: &'static str, name: String },

    /// DROP of a relation of another kind (42809); `found` is its kind, which the HINT
    /// names the right DROP for.
    #[error("\"{name}\" is not {expected}")]
    DropOfWrongKind {
        name: String,
        expected: &'static str,
        found: &'static str,
    },

    /// `REFRESH MATERIALIZED VIEW` of a relation that is not one (PostgreSQL: 0A000).
    #[error("\"{0}\" is not a materialized view")]
    NotMaterializedView(String),

    /// `ALTER TABLE ... ADD COLUMN ... NOT NULL` on a table with rows (23502).
    #[error("column \"{column}\" of relation \"{table}\" contains null values")]
    ColumnHasNulls { column: String, table: String },

    /// A statement's option that is unknown or has a bad value (PostgreSQL's 22023).
    #[error("{statement}: {reason}")]
    InvalidOption {
        statement: &'static str,
        reason: String,
    },
}

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// The start of [`SqlError::ValueTooLong`]'s message, by which the server recognizes
/// it where a library kept only an error's text.
pub const VALUE_TOO_LONG: &str = "value too long for type ";

/// The start of [`SqlError::InvalidText`]'s message for JSON, likewise.
pub const INVALID_JSON: &str = "invalid input syntax for type json";

/// The start of [`SqlError::InvalidText`]'s message for a uuid, likewise.
pub const INVALID_UUID: &str = "invalid input syntax for type uuid";

/// [`SqlError::UnsupportedUnicodeEscape`]'s message, likewise.
pub const UNSUPPORTED_ESCAPE: &str = "unsupported Unicode escape sequence";

/// [`SqlError::IntegerOutOfRange`]'s messages, likewise.
pub const INTEGER_OUT_OF_RANGE: [&str; 3] = [
    "smallint out of range",
    "integer out of range",
    "bigint out of range",
];

/// The start of [`SqlError::NotNullViolation`]'s message, likewise.
pub const NOT_NULL_VIOLATION: &str = "null value in column \"";

/// [`SqlError::NumericOverflow`]'s message, likewise.
pub const NUMERIC_OVERFLOW: &str = "value overflows numeric format";

/// What kind of [`SqlError::Datetime`] a text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatetimeFailure {
    /// The text does not match its template (22007).
    Format,
    /// A field out of its range: month 13, February 30, hour 25 (22008).
    FieldOverflow,
    /// An offset beyond 15 hours (22009).
    ZoneDisplacement,
    /// A pattern only `to_char` writes (`TZ`, `OF`; 0A000).
    OnlyInToChar,
}

impl SqlError {
    pub(crate) fn not_supported(feature: impl Into<String>) -> Self {
        Self::NotSupported {
            feature: feature.into(),
        }
    }
}
