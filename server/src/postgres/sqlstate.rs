//! The one place where errors become SQLSTATE codes.
//!
//! Every error a client can see passes through [`error_info`]. A user mistake must
//! never surface as `XX000` (internal error): that code is kept for bugs.

use datafusion::arrow::error::ArrowError;
use datafusion::common::SchemaError;
use datafusion::error::DataFusionError;
use datafusion::sql::sqlparser::parser::ParserError;
use pgwire::error::ErrorInfo;
use tarn_catalog::CatalogError;
use tarn_catalog::error::DeltaFailure;
use tarn_sql::SqlError;

pub const SYNTAX_ERROR: &str = "42601";
pub const UNDEFINED_TABLE: &str = "42P01";
pub const UNDEFINED_COLUMN: &str = "42703";
pub const UNDEFINED_FUNCTION: &str = "42883";
pub const UNDEFINED_OBJECT: &str = "42704";
pub const AMBIGUOUS_FUNCTION: &str = "42725";
pub const DUPLICATE_TABLE: &str = "42P07";
pub const DUPLICATE_SCHEMA: &str = "42P06";
pub const DUPLICATE_COLUMN: &str = "42701";
pub const AMBIGUOUS_COLUMN: &str = "42702";
pub const DATATYPE_MISMATCH: &str = "42804";
pub const GROUPING_ERROR: &str = "42803";
pub const INVALID_SCHEMA_NAME: &str = "3F000";
pub const INVALID_CATALOG_NAME: &str = "3D000";
pub const DEPENDENT_OBJECTS_STILL_EXIST: &str = "2BP01";
pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
pub const DIVISION_BY_ZERO: &str = "22012";
pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
pub const UNTRANSLATABLE_CHARACTER: &str = "22P05";
pub const STRING_DATA_RIGHT_TRUNCATION: &str = "22001";
pub const INVALID_PARAMETER_VALUE: &str = "22023";
pub const DATA_EXCEPTION: &str = "22000";
pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
pub const SERIALIZATION_FAILURE: &str = "40001";
pub const PROTOCOL_VIOLATION: &str = "08P01";
pub const INVALID_AUTHORIZATION_SPECIFICATION: &str = "28000";
pub const QUERY_CANCELED: &str = "57014";
pub const OUT_OF_MEMORY: &str = "53200";
pub const IO_ERROR: &str = "58030";
pub const INSUFFICIENT_PRIVILEGE: &str = "42501";
pub const SYNTAX_OR_ACCESS_RULE: &str = "42000";
pub const INTERNAL_ERROR: &str = "XX000";
pub const INVALID_CURSOR_NAME: &str = "34000";
pub const INVALID_SQL_STATEMENT_NAME: &str = "26000";
pub const DUPLICATE_PREPARED_STATEMENT: &str = "42P05";
pub const DUPLICATE_CURSOR: &str = "42P03";
pub const OBJECT_NOT_IN_PREREQUISITE_STATE: &str = "55000";
pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
pub const NOT_NULL_VIOLATION: &str = "23502";

/// The ErrorResponse fields for `err`.
pub fn error_info(err: &SqlError) -> ErrorInfo {
    if let SqlError::AtPosition { error, position } = err {
        let mut info = error_info(error);
        info.position = Some(position.to_string());
        return info;
    }
    let mut info = ErrorInfo::new("ERROR".to_owned(), sqlstate(err).to_owned(), message(err));
    if let Some(reworded) = reworded(err) {
        info.hint = reworded.hint.map(str::to_owned);
    }
    if let Some(SqlError::Datetime { detail, hint, .. }) = own_error(err) {
        info.detail = detail.clone();
        info.hint = hint.clone();
    }
    if let SqlError::CannotCastColumn { column, type_name } = err {
        info.hint = Some(format!(
            "You might need to specify \"USING {column}::{type_name}\"."
        ));
    }
    if let SqlError::DependentObjects { detail, .. }
    | SqlError::DependentObjectsOfSeveral { detail } = err
    {
        info.detail = Some(detail.clone());
        info.hint = Some("Use DROP ... CASCADE to drop the dependent objects too.".to_owned());
    }
    if let SqlError::ViewUsesColumn { view, column } = err {
        info.detail = Some(format!(
            "rule _RETURN on view {view} depends on column \"{column}\""
        ));
    }
    if let SqlError::DropOfWrongKind { found, .. } = err {
        info.hint = Some(format!(
            "Use DROP {} to remove a {found}.",
            found.to_ascii_uppercase()
        ));
    }
    if matches!(err, SqlError::ConflictRowTwice) {
        info.hint = Some(
            "Ensure that no rows proposed for insertion within the same command have \
             duplicate constrained values."
                .to_owned(),
        );
    }
    if let SqlError::DataFusion(e) = err
        && let DataFusionError::SchemaError(schema_error, _) = e.find_root()
        && let SchemaError::FieldNotFound { valid_fields, .. } = schema_error.as_ref()
        && !valid_fields.is_empty()
    {
        let names: Vec<String> = valid_fields.iter().map(|c| c.flat_name()).collect();
        info.hint = Some(format!("Columns in scope: {}.", names.join(", ")));
    }
    info
}

/// `err` itself, or the SqlError a function raised inside DataFusion's error.
fn own_error(err: &SqlError) -> Option<&SqlError> {
    match err {
        SqlError::DataFusion(e) => match e.find_root() {
            DataFusionError::External(inner) => inner.downcast_ref::<SqlError>(),
            _ => None,
        },
        other => Some(other),
    }
}

/// A statement's NOTICE or WARNING as PostgreSQL sends it (NoticeResponse), with
/// the SQLSTATE of its condition.
pub fn notice_info(notice: &tarn_sql::Notice) -> ErrorInfo {
    use tarn_sql::Condition;
    let state = match notice.condition {
        Condition::Completion => "00000",
        Condition::DuplicateTable => "42P07",
        Condition::DuplicateSchema => "42P06",
        Condition::DuplicateColumn => "42701",
        Condition::NoActiveTransaction => "25P01",
        Condition::ActiveTransaction => "25001",
    };
    let mut info = ErrorInfo::new(
        notice.severity.word().to_owned(),
        state.to_owned(),
        notice.message.clone(),
    );
    info.detail = notice.detail.clone();
    info
}

/// The SQLSTATE for `err`.
pub fn sqlstate(err: &SqlError) -> &'static str {
    if let SqlError::AtPosition { error, .. } = err {
        return sqlstate(error);
    }
    if let Some((state, _)) = own_error_in_delta_write(err) {
        return state;
    }
    if let Some(reworded) = reworded(err) {
        return reworded.state;
    }
    if integer_out_of_range(&err.to_string()).is_some() {
        return NUMERIC_VALUE_OUT_OF_RANGE;
    }
    match err {
        SqlError::AtPosition { error, .. } => sqlstate(error),
        SqlError::DataFusion(e) => datafusion_state(e),
        SqlError::Catalog(e) => catalog_state(e),
        SqlError::Connector(e) => connector_state(e),
        SqlError::NotSupported { .. } | SqlError::CrossDatabase { .. } => FEATURE_NOT_SUPPORTED,
        SqlError::InFailedTransaction => IN_FAILED_SQL_TRANSACTION,
        SqlError::LocationNotAllowed { .. } => INSUFFICIENT_PRIVILEGE,
        SqlError::CopyData { .. } => INVALID_TEXT_REPRESENTATION,
        SqlError::MultipleCommands | SqlError::Syntax { .. } => SYNTAX_ERROR,
        SqlError::InvalidParameter { .. } => INVALID_TEXT_REPRESENTATION,
        SqlError::ValueTooLong { .. } => STRING_DATA_RIGHT_TRUNCATION,
        SqlError::ParameterCount { .. } => PROTOCOL_VIOLATION,
        SqlError::UnknownSetting { .. } => UNDEFINED_OBJECT,
        SqlError::SubqueryRows | SqlError::ConflictRowTwice => "21000",
        SqlError::ArrayDimensions => "2202E",
        SqlError::TooManyDimensions(_) => "54000",
        SqlError::InvalidRegex(_) => "2201B",
        SqlError::ReadOnlyTransaction(_) => "25006",
        SqlError::Datetime { failure, .. } => match failure {
            tarn_sql::DatetimeFailure::Format => "22007",
            tarn_sql::DatetimeFailure::FieldOverflow => "22008",
            tarn_sql::DatetimeFailure::ZoneDisplacement => "22009",
            tarn_sql::DatetimeFailure::OnlyInToChar => FEATURE_NOT_SUPPORTED,
        },
        SqlError::IntervalOutOfRange => "22008",
        SqlError::InvalidEscape => "22025",
        SqlError::InvalidWidthBucket(_) => "2201G",
        SqlError::InvalidText { .. } | SqlError::InvalidInput(_) => INVALID_TEXT_REPRESENTATION,
        SqlError::UnsupportedUnicodeEscape => UNTRANSLATABLE_CHARACTER,
        SqlError::NumericOverflow | SqlError::IntegerOutOfRange { .. } => {
            NUMERIC_VALUE_OUT_OF_RANGE
        }
        SqlError::TemporaryInSchema(_) => "42P16",
        SqlError::StatementTimeout => QUERY_CANCELED,
        SqlError::UnknownCursor(_) => INVALID_CURSOR_NAME,
        SqlError::DuplicateCursor(_) => DUPLICATE_CURSOR,
        SqlError::CursorNoScroll => OBJECT_NOT_IN_PREREQUISITE_STATE,
        SqlError::NoActiveTransaction(_) => NO_ACTIVE_SQL_TRANSACTION,
        SqlError::UnknownSavepoint(_) => INVALID_SAVEPOINT_SPECIFICATION,
        SqlError::UnknownPreparedStatement(_) => INVALID_SQL_STATEMENT_NAME,
        SqlError::PreparedStatementExists(_) => DUPLICATE_PREPARED_STATEMENT,
        SqlError::UndefinedParameter(_) => "42P02",
        SqlError::PreparedParameterCount { .. } => SYNTAX_ERROR,
        SqlError::SavepointWrites { .. } => FEATURE_NOT_SUPPORTED,
        SqlError::RowsNotUndone(_) => SERIALIZATION_FAILURE,
        SqlError::InvalidSettingValue { .. }
        | SqlError::UnknownTimeZone(_)
        | SqlError::InvalidRegexOption(_)
        | SqlError::InvalidParameterValue(_)
        | SqlError::InvalidOption { .. }
        | SqlError::NotAnArray { .. }
        | SqlError::WrongJsonKind(_) => INVALID_PARAMETER_VALUE,
        SqlError::UnknownColumn { .. } | SqlError::NoSuchColumn(_) => UNDEFINED_COLUMN,
        SqlError::CannotCastColumn { .. } => "42804",
        SqlError::DependentObjects { .. } | SqlError::DependentObjectsOfSeveral { .. } => {
            DEPENDENT_OBJECTS_STILL_EXIST
        }
        SqlError::NothingToDrop { .. } => UNDEFINED_TABLE,
        SqlError::DropOfWrongKind { .. } => "42809",
        SqlError::ViewUsesColumn { .. } => FEATURE_NOT_SUPPORTED,
        SqlError::NotMaterializedView(_) => FEATURE_NOT_SUPPORTED,
        SqlError::UndefinedRelation(_) => UNDEFINED_TABLE,
        SqlError::ColumnListedTwice(_) => DUPLICATE_COLUMN,
        SqlError::NotNullViolation { .. } | SqlError::ColumnHasNulls { .. } => NOT_NULL_VIOLATION,
    }
}

fn catalog_state(err: &CatalogError) -> &'static str {
    match err {
        CatalogError::SchemaNotFound { .. } => INVALID_SCHEMA_NAME,
        CatalogError::SchemaExists { .. } => DUPLICATE_SCHEMA,
        CatalogError::SchemaNotEmpty { .. } => DEPENDENT_OBJECTS_STILL_EXIST,
        CatalogError::TableNotFound { .. } => UNDEFINED_TABLE,
        CatalogError::TableExists { .. } => DUPLICATE_TABLE,
        CatalogError::UnsupportedType { .. } => FEATURE_NOT_SUPPORTED,
        CatalogError::ColumnExists { .. } => DUPLICATE_COLUMN,
        CatalogError::ColumnNotFound { .. } => UNDEFINED_COLUMN,
        CatalogError::WrongKind { .. } => "42809",
        CatalogError::NoSuchVersion { .. } => INVALID_PARAMETER_VALUE,
        CatalogError::PartitionColumn { .. } => UNDEFINED_COLUMN,
        CatalogError::ViewNotFound { .. } => UNDEFINED_TABLE,
        CatalogError::InvalidEntry { .. } => "XX001",
        CatalogError::Delta { source, .. } => match err.delta_failure() {
            Some(DeltaFailure::Data) => delta_data_state(source),
            Some(failure) => delta_state(failure),
            None => IO_ERROR,
        },
        CatalogError::ObjectStore(e) => object_store_state(e),
        CatalogError::Connector(e) => connector_state(e),
        CatalogError::DataFusion(e) => datafusion_state(e),
    }
}

fn connector_state(err: &tarn_connectors::ConnectorError) -> &'static str {
    use tarn_connectors::ConnectorError as C;
    match err {
        C::ObjectStore(e) => object_store_state(e),
        C::InvalidLocation { .. } | C::UnsupportedScheme { .. } | C::InvalidOption { .. } => {
            INVALID_PARAMETER_VALUE
        }
        C::LocalFolder { .. } => IO_ERROR,
    }
}

fn delta_state(failure: DeltaFailure) -> &'static str {
    match failure {
        DeltaFailure::Conflict => SERIALIZATION_FAILURE,
        DeltaFailure::NotATable => UNDEFINED_TABLE,
        DeltaFailure::Unsupported => FEATURE_NOT_SUPPORTED,
        DeltaFailure::Data => DATA_EXCEPTION,
        DeltaFailure::Permission => INSUFFICIENT_PRIVILEGE,
        DeltaFailure::Storage => IO_ERROR,
    }
}

fn object_store_state(err: &object_store::Error) -> &'static str {
    match err {
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => INSUFFICIENT_PRIVILEGE,
        object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. } => {
            SERIALIZATION_FAILURE
        }
        _ => IO_ERROR,
    }
}

fn arrow_state(err: &ArrowError) -> &'static str {
    match err {
        ArrowError::DivideByZero => DIVISION_BY_ZERO,
        ArrowError::ArithmeticOverflow(_) => NUMERIC_VALUE_OUT_OF_RANGE,
        ArrowError::CastError(msg) => text_cast(msg).map_or(INVALID_TEXT_REPRESENTATION, |c| c.0),
        ArrowError::ParseError(msg) => {
            timestamp_parse(msg).map_or(INVALID_TEXT_REPRESENTATION, |c| c.0)
        }
        ArrowError::MemoryError(_) => OUT_OF_MEMORY,
        ArrowError::ExternalError(e) => external_state(e.as_ref()),
        ArrowError::IoError(..) => IO_ERROR,
        // arrow-string's regexp kernels (DataFusion's regexp_match, regexp_like, ~).
        ArrowError::ComputeError(msg) if msg.starts_with("Regular expression did not compile") => {
            "2201B"
        }
        _ => DATA_EXCEPTION,
    }
}

fn datafusion_state(err: &DataFusionError) -> &'static str {
    match err.find_root() {
        DataFusionError::SQL(e, _) => match e.as_ref() {
            ParserError::RecursionLimitExceeded => "54001",
            _ => SYNTAX_ERROR,
        },
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            SchemaError::FieldNotFound { .. } => UNDEFINED_COLUMN,
            SchemaError::AmbiguousReference { .. } => AMBIGUOUS_COLUMN,
            SchemaError::DuplicateQualifiedField { .. }
            | SchemaError::DuplicateUnqualifiedField { .. } => DUPLICATE_COLUMN,
        },
        DataFusionError::ArrowError(e, _) => arrow_state(e),
        DataFusionError::ParquetError(_) => DATA_EXCEPTION,
        DataFusionError::ObjectStore(e) => object_store_state(e),
        DataFusionError::IoError(_) => IO_ERROR,
        DataFusionError::NotImplemented(_) => FEATURE_NOT_SUPPORTED,
        DataFusionError::ResourcesExhausted(_) => OUT_OF_MEMORY,
        DataFusionError::Plan(msg) => plan_state(msg),
        DataFusionError::Execution(msg) => execution_state(msg),
        DataFusionError::External(e) => external_state(e.as_ref()),
        DataFusionError::Configuration(_) => INVALID_PARAMETER_VALUE,
        DataFusionError::Internal(_) | DataFusionError::Substrait(_) => INTERNAL_ERROR,
        _ => INTERNAL_ERROR,
    }
}

/// DataFusion's refusal to store lists of lists (a multidimensional array) in a
/// column of lists (`INSERT INTO t (int_array) VALUES (ARRAY[[1,2]])`): PostgreSQL's
/// `int[]` column takes arrays of any dimensions, a Delta column of lists one depth,
/// a limit of Tarn's, not the user's mistake.
fn is_deeper_list(msg: &str) -> bool {
    (msg.starts_with("Types don't match and no valid cast exists")
        || msg.starts_with("Cannot automatically convert"))
        && msg.contains("List(List(")
}

/// DataFusion reports several user mistakes as plan errors distinguished only by text.
fn plan_state(msg: &str) -> &'static str {
    if is_deeper_list(msg) {
        FEATURE_NOT_SUPPORTED
    } else if msg.starts_with("table '") && msg.ends_with("not found") {
        UNDEFINED_TABLE
    } else if msg.contains("table function") && msg.contains("not found")
        || msg.contains("Invalid function")
        || msg.contains("No function matches")
        || msg.starts_with("operator does not exist")
        || msg.starts_with("function ") && msg.contains("does not exist")
    {
        UNDEFINED_FUNCTION
    } else if msg.starts_with("type \"") && msg.ends_with("\" does not exist") {
        UNDEFINED_OBJECT
    } else if msg.starts_with("schema \"") && msg.ends_with("\" does not exist") {
        INVALID_SCHEMA_NAME
    } else if msg.starts_with("more than one function named") {
        AMBIGUOUS_FUNCTION
    } else if msg.contains("Cannot infer common")
        || msg.contains("Cannot coerce")
        || msg.contains("does not support") && msg.contains("type")
    {
        DATATYPE_MISMATCH
    } else if msg.contains("Divide by zero") {
        DIVISION_BY_ZERO
    } else if msg.ends_with("are not currently supported")
        || msg.starts_with("Correlated ")
        || msg.ends_with("-returning clause not supported")
        || msg == "EXPLAIN VERBOSE with FORMAT is not supported"
    {
        // DataFusion's CREATE TABLE: CHECK, REFERENCES, indexes; its analyzer's
        // refusals of correlated subqueries where it cannot plan them (ORDER BY), which
        // PostgreSQL runs; INSERT ... RETURNING and EXPLAIN (VERBOSE, FORMAT JSON),
        // which Tarn does not do yet.
        FEATURE_NOT_SUPPORTED
    } else {
        SYNTAX_OR_ACCESS_RULE
    }
}

fn execution_state(msg: &str) -> &'static str {
    if is_deeper_list(msg) {
        FEATURE_NOT_SUPPORTED
    } else if msg.contains("Divide by zero") || msg.contains("division by zero") {
        DIVISION_BY_ZERO
    } else if msg.contains("overflow") {
        NUMERIC_VALUE_OUT_OF_RANGE
    } else if msg.starts_with("regex parse error") {
        "2201B"
    } else if let Some((state, _)) = text_cast(msg) {
        state
    } else if msg.contains("Cast error") || msg.contains("Cannot cast") {
        INVALID_TEXT_REPRESENTATION
    } else {
        DATA_EXCEPTION
    }
}

fn external_state(err: &(dyn std::error::Error + Send + Sync + 'static)) -> &'static str {
    if let Some(e) = err.downcast_ref::<CatalogError>() {
        return catalog_state(e);
    }
    if let Some(e) = err.downcast_ref::<SqlError>() {
        return sqlstate(e);
    }
    // Errors from libraries Tarn does not map by type (deltalake's, wrapped by
    // DataFusion) are classified by the first known error in their source chain.
    match tarn_catalog::delta_failure_in(err) {
        Some(DeltaFailure::Data) => return delta_data_state(err),
        Some(failure) => return delta_state(failure),
        None => {}
    }
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(e) = e.downcast_ref::<DataFusionError>() {
            return datafusion_state(e);
        }
        if let Some(e) = e.downcast_ref::<ArrowError>() {
            return arrow_state(e);
        }
        if let Some(e) = e.downcast_ref::<object_store::Error>() {
            return object_store_state(e);
        }
        current = e.source();
    }
    // The regex crate's own error, as DataFusion's `~` and regexp functions pass it on
    // when they compile a constant pattern.
    if err.to_string().starts_with("regex parse error") {
        return "2201B";
    }
    DATA_EXCEPTION
}

/// A Delta write that failed on its data carries the cause (a division by zero in the
/// query feeding it, a bad cast) either as a typed source or, where deltalake
/// stringified it, only as text: the cause's code is more precise than 22000.
fn delta_data_state(err: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut current = err.source();
    let mut text = err.to_string();
    while let Some(e) = current {
        if let Some(e) = e.downcast_ref::<DataFusionError>() {
            return datafusion_state(e);
        }
        if let Some(e) = e.downcast_ref::<ArrowError>() {
            return arrow_state(e);
        }
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    execution_state(&text)
}

/// The innermost Arrow error in `err`'s source chain, if any.
fn arrow_root<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a ArrowError> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut found = None;
    while let Some(e) = current {
        if let Some(arrow) = e.downcast_ref::<ArrowError>() {
            found = Some(arrow);
        }
        current = e.source();
    }
    found
}

/// Tarn's own error raised while deltalake writes a table (a value that does not fit
/// its column: too long, not JSON, not a jsonb value): deltalake keeps only the error's text, so it is
/// found by its text. Its SQLSTATE, and the part of the text from Tarn's message on.
fn own_error_in_delta_write(err: &SqlError) -> Option<(&'static str, String)> {
    if matches!(
        err,
        SqlError::ValueTooLong { .. }
            | SqlError::InvalidText { .. }
            | SqlError::UnsupportedUnicodeEscape
            | SqlError::NumericOverflow
            | SqlError::IntegerOutOfRange { .. }
            | SqlError::NotNullViolation { .. }
    ) {
        return None;
    }
    let text = err.to_string();
    [
        (
            tarn_sql::error::VALUE_TOO_LONG,
            STRING_DATA_RIGHT_TRUNCATION,
        ),
        (tarn_sql::error::INVALID_JSON, INVALID_TEXT_REPRESENTATION),
        (tarn_sql::error::INVALID_UUID, INVALID_TEXT_REPRESENTATION),
        (tarn_sql::error::NOT_NULL_VIOLATION, NOT_NULL_VIOLATION),
        (
            tarn_sql::error::UNSUPPORTED_ESCAPE,
            UNTRANSLATABLE_CHARACTER,
        ),
        (
            tarn_sql::error::NUMERIC_OVERFLOW,
            NUMERIC_VALUE_OUT_OF_RANGE,
        ),
    ]
    .into_iter()
    .chain(
        tarn_sql::error::INTEGER_OUT_OF_RANGE.map(|message| (message, NUMERIC_VALUE_OUT_OF_RANGE)),
    )
    .find_map(|(start, state)| {
        let at = text.find(start)?;
        Some((
            state,
            text[at..].lines().next().unwrap_or_default().to_owned(),
        ))
    })
}

/// PostgreSQL's message for Arrow's cast of a number beyond an integer type
/// ("Can't cast value 2147483648.0 to type Int32" from a float, "value of 2147483648
/// is out of range Int32" from a decimal: `integer out of range`), found anywhere in
/// `text`: an error's whole text, since deltalake keeps only the text of an error in
/// a write.
fn integer_out_of_range(text: &str) -> Option<&'static str> {
    let to = match text.split_once("Can't cast value ") {
        Some((_, rest)) => rest.split_once(" to type ")?.1,
        None => {
            let (_, rest) = text.split_once("Cast error: value of ")?;
            rest.split_once(" is out of range ")?.1
        }
    };
    [
        ("Int16", "smallint out of range"),
        ("Int32", "integer out of range"),
        ("Int64", "bigint out of range"),
    ]
    .into_iter()
    .find(|(arrow, _)| to.starts_with(arrow))
    .map(|(_, message)| message)
}

/// The message shown to the client: DataFusion's backtraces and context wrappers
/// are stripped, since clients show the message verbatim.
fn message(err: &SqlError) -> String {
    if let Some(message) = integer_out_of_range(&err.to_string()) {
        return message.to_owned();
    }
    if let Some((_, message)) = own_error_in_delta_write(err) {
        return message;
    }
    // A text that does not read as the column's type, met while deltalake writes the
    // rows of a query (CREATE TABLE AS, ALTER TABLE's rewrite), which keeps only the
    // text of the error.
    if let SqlError::Catalog(CatalogError::Delta { .. }) = err
        && let Some((_, message)) = text_cast(&err.to_string())
    {
        return message;
    }
    if let Some(reworded) = reworded(err) {
        return reworded.message;
    }
    match err {
        SqlError::DataFusion(e) => datafusion_message(e),
        SqlError::Catalog(CatalogError::DataFusion(e)) => datafusion_message(e),
        other => other.to_string(),
    }
}

fn datafusion_message(err: &DataFusionError) -> String {
    let root = err.find_root();
    match root {
        DataFusionError::External(e) => match arrow_root(e.as_ref()) {
            Some(ArrowError::DivideByZero) => "division by zero".to_owned(),
            _ => e.to_string(),
        },
        DataFusionError::ArrowError(e, _) => match e.as_ref() {
            ArrowError::DivideByZero => "division by zero".to_owned(),
            ArrowError::CastError(msg) if text_cast(msg).is_some() => {
                text_cast(msg).map(|c| c.1).unwrap_or_default()
            }
            ArrowError::ParseError(msg) if timestamp_parse(msg).is_some() => {
                timestamp_parse(msg).map(|c| c.1).unwrap_or_default()
            }
            ArrowError::ExternalError(inner) => inner.to_string(),
            other => other.to_string(),
        },
        DataFusionError::SQL(e, _) => match e.as_ref() {
            ParserError::ParserError(msg) => syntax_error(msg),
            other => other.to_string(),
        },
        DataFusionError::SchemaError(e, _) => match e.as_ref() {
            SchemaError::FieldNotFound { field, .. } => {
                format!("column \"{}\" does not exist", field.flat_name())
            }
            other => other.to_string(),
        },
        DataFusionError::Plan(msg) => match msg
            .strip_prefix("table '")
            .and_then(|rest| rest.strip_suffix("' not found"))
        {
            Some(table) => format!("relation \"{table}\" does not exist"),
            None => msg.clone(),
        },
        DataFusionError::Execution(msg) => text_cast(msg).map_or_else(|| msg.clone(), |c| c.1),
        DataFusionError::NotImplemented(msg) => msg.clone(),
        other => other.strip_backtrace(),
    }
}

/// The parser's "Expected: ..., found: limit at Line: 6, Column: 3" in PostgreSQL's
/// words, which clients and tools match on: `syntax error at or near "limit"`, or `at
/// end of input` where the statement ended early. Other parser messages are kept.
fn syntax_error(msg: &str) -> String {
    let Some((_, found)) = msg.split_once(", found: ") else {
        return msg.to_owned();
    };
    let found = match found.rfind(" at Line: ") {
        Some(at) => &found[..at],
        None => found,
    };
    match found {
        "EOF" => "syntax error at end of input".to_owned(),
        token => format!("syntax error at or near \"{token}\""),
    }
}

const FUNCTION_HINT: &str = "No function matches the given name and argument types. You might need to add explicit type casts.";
const OPERATOR_HINT: &str = "No operator matches the given name and argument types. You might need to add explicit type casts.";

/// A planning error in PostgreSQL's words, where DataFusion's name Arrow types and
/// its own internals (a call whose argument types match no signature was even
/// reported as an internal error, "please file a bug report").
struct Reworded {
    state: &'static str,
    message: String,
    hint: Option<&'static str>,
}

/// DataFusion's refusals of a function call, an operator's operand types and a
/// column outside GROUP BY, as PostgreSQL 15 words them (`function upper(integer)
/// does not exist`, `operator does not exist: integer + text`, `column "t.id" must
/// appear in the GROUP BY clause or be used in an aggregate function`), with its
/// SQLSTATE and hint. Types are named as PostgreSQL names them; where DataFusion
/// typed a literal (`'month'` is `text` here, `unknown` there; `5` is `bigint`, there
/// `integer`) the names follow DataFusion's types.
fn reworded(err: &SqlError) -> Option<Reworded> {
    let (SqlError::DataFusion(e) | SqlError::Catalog(CatalogError::DataFusion(e))) = err else {
        return None;
    };
    let text = e.to_string();
    if let Some(signature) = after(
        &text,
        "No function matches the given name and argument types '",
    )
    .and_then(|rest| rest.split_once("'.").map(|(s, _)| s))
        && let Some((name, args)) = signature.split_once('(')
        && let Some(args) = args.strip_suffix(')')
    {
        let types: Vec<String> = split_top(args, ',').into_iter().map(pg_type).collect();
        return Some(Reworded {
            state: UNDEFINED_FUNCTION,
            message: format!("function {name}({}) does not exist", types.join(", ")),
            hint: Some(FUNCTION_HINT),
        });
    }
    if let Some(name) = after(&text, "Invalid function '").and_then(|r| r.split_once('\'')) {
        return Some(Reworded {
            state: UNDEFINED_FUNCTION,
            message: format!("function {} does not exist", name.0),
            hint: Some(FUNCTION_HINT),
        });
    }
    let operation = after(&text, "Cannot coerce arithmetic expression ")
        .and_then(|r| r.split_once(" to valid types").map(|(o, _)| o))
        .or_else(|| {
            after(
                &text,
                "Cannot infer common argument type for comparison operation ",
            )
        })
        .or_else(|| {
            after(
                &text,
                "Cannot infer common string type for string concat operation ",
            )
        });
    if let Some(operation) = operation
        && let [left, op, right] = split_top(operation.lines().next().unwrap_or(""), ' ').as_slice()
    {
        return Some(Reworded {
            state: UNDEFINED_FUNCTION,
            message: format!(
                "operator does not exist: {} {op} {}",
                pg_type(left),
                pg_type(right)
            ),
            hint: Some(OPERATOR_HINT),
        });
    }
    if text.contains("must appear in the GROUP BY clause or must be part of an aggregate function")
        && let Some(column) = after(&text, "column \"").and_then(|r| r.split_once('"'))
    {
        return Some(Reworded {
            state: GROUPING_ERROR,
            message: format!(
                "column \"{}\" must appear in the GROUP BY clause or be used in an aggregate function",
                column.0
            ),
            hint: None,
        });
    }
    None
}

/// The text after the first `marker` in `text`.
fn after<'a>(text: &'a str, marker: &str) -> Option<&'a str> {
    text.find(marker).map(|at| &text[at + marker.len()..])
}

/// `text` split at each `separator` outside parentheses and double quotes (Arrow's
/// `Timestamp(ns, "+00:00")` and `Decimal128(10, 2)` hold commas and spaces).
fn split_top(text: &str, separator: char) -> Vec<&str> {
    let (mut parts, mut depth, mut quoted, mut start) = (Vec::new(), 0i32, false, 0);
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == separator && depth == 0 && !quoted => {
                parts.push(text[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}

/// An Arrow type as DataFusion prints it, named as PostgreSQL names the type Tarn
/// shows for it (the Arrow text itself if it does not parse).
fn pg_type(arrow: &str) -> String {
    match arrow
        .trim()
        .parse::<datafusion::arrow::datatypes::DataType>()
    {
        Ok(data_type) => tarn_sql::pg::type_name(&data_type),
        Err(_) => arrow.trim().to_owned(),
    }
}

/// Arrow's refusal to read a text as a number, boolean or date ("Cannot cast string
/// 'x' to value of Int32 type") as PostgreSQL words it: `invalid input syntax for type
/// integer: "x"` (22P02), or, for a whole number too big for the type, `value "..." is
/// out of range for type integer` (22003).
fn text_cast(msg: &str) -> Option<(&'static str, String)> {
    let rest = &msg[msg.find("Cannot cast string '")? + "Cannot cast string '".len()..];
    let (value, rest) = rest.rsplit_once("' to value of ")?;
    let arrow = rest.split_whitespace().next()?;
    let pg = match arrow {
        "Int16" => "smallint",
        "Int32" => "integer",
        "Int64" => "bigint",
        "Float32" => "real",
        "Float64" => "double precision",
        "Boolean" => "boolean",
        "Date32" => "date",
        "Time64(ns)" | "Time64(µs)" | "Time64(Nanosecond)" | "Time64(Microsecond)" => "time",
        _ if arrow.starts_with("Time64") => "time",
        _ => return None,
    };
    if matches!(pg, "date" | "time") {
        return Some(datetime_input(pg, value));
    }
    let whole = value.trim().parse::<i128>().is_ok();
    Some(match whole && arrow.starts_with("Int") {
        true => (
            NUMERIC_VALUE_OUT_OF_RANGE,
            format!("value \"{value}\" is out of range for type {pg}"),
        ),
        false => (
            INVALID_TEXT_REPRESENTATION,
            format!("invalid input syntax for type {pg}: \"{value}\""),
        ),
    })
}

/// A date or time text that did not read, as PostgreSQL reports it: written as one
/// (digits and separators only) but naming a day or time that does not exist, 22008
/// `date/time field value out of range` (`2024-02-30`, `25:00`); otherwise 22007
/// `invalid input syntax for type ...`.
fn datetime_input(type_name: &str, value: &str) -> (&'static str, String) {
    let shaped = !value.trim().is_empty()
        && value
            .trim()
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '/' | ':' | '.' | ' ' | 'T' | '+'))
        && value.chars().filter(char::is_ascii_digit).count() >= 3;
    match shaped {
        true => (
            "22008",
            format!("date/time field value out of range: \"{value}\""),
        ),
        false => (
            "22007",
            format!("invalid input syntax for type {type_name}: \"{value}\""),
        ),
    }
}

/// Arrow's timestamp parser's error (`Error parsing timestamp from 'abc': ...`) as
/// PostgreSQL reports a timestamp that does not read.
fn timestamp_parse(msg: &str) -> Option<(&'static str, String)> {
    let rest = &msg
        [msg.find("Error parsing timestamp from '")? + "Error parsing timestamp from '".len()..];
    let (value, _) = rest.split_once("': ")?;
    Some(datetime_input("timestamp", value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A correlated subquery DataFusion cannot plan (in ORDER BY) is a feature Tarn
    /// lacks, not the user's mistake (PostgreSQL runs it): 0A000, not 42000.
    #[test]
    fn correlated_subqueries_datafusion_refuses_are_not_supported() {
        let refused = "Correlated scalar subquery can only be used in Projection, Filter, \
                       Aggregate plan nodes";
        assert_eq!(plan_state(refused), FEATURE_NOT_SUPPORTED);
        // Lists of lists into a column of lists: a limit of Tarn's.
        assert_eq!(
            plan_state(
                "Cannot automatically convert List(List(Int32, field: 'element'), field: \
                 'element') to List(Int32, field: 'element')"
            ),
            FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            execution_state(
                "Types don't match and no valid cast exists, received data of type \
                 List(List(Int32)) for field of type List(Int32, field: 'element')"
            ),
            FEATURE_NOT_SUPPORTED
        );
        // INSERT ... RETURNING: not the user's syntax error either.
        assert_eq!(
            plan_state("Insert-returning clause not supported"),
            FEATURE_NOT_SUPPORTED
        );
        assert_eq!(
            plan_state("EXPLAIN VERBOSE with FORMAT is not supported"),
            FEATURE_NOT_SUPPORTED
        );
        assert_eq!(plan_state("some other plan error"), SYNTAX_OR_ACCESS_RULE);
    }

    /// PostgreSQL 15's messages for the same statements (psql).
    #[test]
    fn parser_errors_read_as_postgres_syntax_errors() {
        let cases = [
            // select 1 from t limit 1 limit 2
            (
                "Expected: end of statement, found: limit at Line: 1, Column: 25",
                "syntax error at or near \"limit\"",
            ),
            // select (1
            ("Expected: ), found: EOF", "syntax error at end of input"),
            ("Unexpected token", "Unexpected token"),
        ];
        for (parser, postgres) in cases {
            assert_eq!(syntax_error(parser), postgres);
        }
    }

    #[test]
    fn catalog_errors_map_to_postgres_codes() {
        let missing = SqlError::Catalog(CatalogError::TableNotFound {
            schema: "s".into(),
            name: "t".into(),
        });
        assert_eq!(sqlstate(&missing), "42P01");
        let dup = SqlError::Catalog(CatalogError::TableExists {
            schema: "s".into(),
            name: "t".into(),
        });
        assert_eq!(sqlstate(&dup), "42P07");
    }

    #[test]
    fn wrapped_divide_by_zero_is_22012() {
        let inner = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        let wrapped = DataFusionError::Context("while planning".into(), Box::new(inner));
        let err = SqlError::DataFusion(wrapped);
        assert_eq!(sqlstate(&err), "22012");
        assert_eq!(error_info(&err).message, "division by zero");
    }

    #[test]
    fn catalog_error_inside_datafusion_keeps_its_code() {
        let err = SqlError::DataFusion(DataFusionError::External(Box::new(
            CatalogError::SchemaNotFound { name: "x".into() },
        )));
        assert_eq!(sqlstate(&err), "3F000");
    }

    #[test]
    fn division_by_zero_inside_a_delta_write_is_22012() {
        // deltalake sometimes keeps the cause only as text.
        let delta =
            deltalake::DeltaTableError::Generic("Arrow error: Divide by zero error".to_owned());
        let err = SqlError::DataFusion(DataFusionError::External(Box::new(delta)));
        assert_eq!(sqlstate(&err), "22012");
        let typed = deltalake::DeltaTableError::Arrow {
            source: ArrowError::DivideByZero,
        };
        let err = SqlError::DataFusion(DataFusionError::External(Box::new(typed)));
        assert_eq!(sqlstate(&err), "22012");
        let other = deltalake::DeltaTableError::Generic("bad row".to_owned());
        let err = SqlError::DataFusion(DataFusionError::External(Box::new(other)));
        assert_eq!(sqlstate(&err), "22000");
    }

    #[test]
    fn storage_errors_keep_their_meaning() {
        let denied =
            tarn_connectors::ConnectorError::ObjectStore(object_store::Error::PermissionDenied {
                path: "raw/x.csv".into(),
                source: "403".into(),
            });
        assert_eq!(sqlstate(&SqlError::Connector(denied)), "42501");
        let bad = tarn_connectors::ConnectorError::UnsupportedScheme {
            scheme: "ftp".into(),
        };
        assert_eq!(sqlstate(&SqlError::Connector(bad)), "22023");
    }

    #[test]
    fn not_supported_is_0a000() {
        let err = SqlError::NotSupported {
            feature: "COPY".into(),
        };
        assert_eq!(sqlstate(&err), "0A000");
        assert_eq!(error_info(&err).message, "COPY is not supported yet");
        let check = SqlError::DataFusion(DataFusionError::Plan(
            "Check constraints are not currently supported".into(),
        ));
        assert_eq!(sqlstate(&check), "0A000");
    }

    #[test]
    fn a_null_in_a_not_null_column_is_23502_also_as_deltalake_keeps_it() {
        let violation = SqlError::NotNullViolation {
            column: "b".into(),
            table: "t".into(),
        };
        let message = "null value in column \"b\" of relation \"t\" violates not-null constraint";
        assert_eq!(sqlstate(&violation), "23502");
        assert_eq!(error_info(&violation).message, message);
        // An UPDATE's check fails inside deltalake, which keeps only the text.
        let kept = deltalake::DeltaTableError::Generic(format!(
            "Execution error: External error: {violation}"
        ));
        let err = SqlError::DataFusion(DataFusionError::External(Box::new(kept)));
        assert_eq!(sqlstate(&err), "23502");
        assert_eq!(error_info(&err).message, message);
    }
}
