//! Catalog errors, each naming the object it is about.

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("schema {name:?} does not exist")]
    SchemaNotFound { name: String },

    #[error("schema {name:?} already exists")]
    SchemaExists { name: String },

    #[error(
        "cannot drop schema {name:?} because other objects depend on it ({tables} tables); use DROP SCHEMA ... CASCADE"
    )]
    SchemaNotEmpty { name: String, tables: usize },

    #[error("relation \"{schema}.{name}\" does not exist")]
    TableNotFound { schema: String, name: String },

    /// Named without its schema, as PostgreSQL names it.
    #[error("relation \"{name}\" already exists")]
    TableExists { schema: String, name: String },

    #[error("column \"{column}\" of relation \"{table}\" already exists")]
    ColumnExists { table: String, column: String },

    #[error("column \"{column}\" of relation \"{table}\" does not exist")]
    ColumnNotFound { table: String, column: String },

    #[error("\"{name}\" is not {expected}")]
    WrongKind {
        name: String,
        expected: &'static str,
    },

    #[error("view \"{schema}.{name}\" does not exist")]
    ViewNotFound { schema: String, name: String },

    #[error("table {name:?} has no {at}: {detail}")]
    NoSuchVersion {
        name: String,
        at: String,
        detail: String,
    },

    #[error("partition column \"{column}\" is not a column of the table")]
    PartitionColumn { column: String },

    #[error("catalog entry {path:?} is not valid: {reason}")]
    InvalidEntry { path: String, reason: String },

    #[error("column {column:?} has type {data_type}, which Delta tables cannot store")]
    UnsupportedType { column: String, data_type: String },

    #[error("Delta table at {location}: {source}")]
    Delta {
        location: String,
        #[source]
        source: deltalake::DeltaTableError,
    },

    #[error(transparent)]
    Connector(#[from] tarn_connectors::ConnectorError),

    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),

    #[error(transparent)]
    DataFusion(#[from] DataFusionError),
}

pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

impl From<CatalogError> for DataFusionError {
    fn from(err: CatalogError) -> Self {
        match err {
            CatalogError::DataFusion(inner) => inner,
            other => DataFusionError::External(Box::new(other)),
        }
    }
}

/// What kind of failure a Delta operation hit, so front ends can report it without
/// knowing deltalake's error type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeltaFailure {
    /// Another writer committed first.
    Conflict,
    /// No Delta table at the location.
    NotATable,
    /// The table uses something Tarn cannot read or write.
    Unsupported,
    /// The data did not fit the table (types, nullability, casts).
    Data,
    /// The store refused the credentials (HTTP 401/403).
    Permission,
    /// Storage failed (I/O, network, throttling after retries).
    Storage,
}

impl CatalogError {
    /// For [`CatalogError::Delta`], what kind of failure it was.
    pub fn delta_failure(&self) -> Option<DeltaFailure> {
        match self {
            CatalogError::Delta { source, .. } => Some(classify(source)),
            _ => None,
        }
    }
}

/// What kind of Delta failure `err` is, when a deltalake error is anywhere in its
/// source chain (DataFusion wraps the errors table scans raise).
pub fn delta_failure_in(err: &(dyn std::error::Error + 'static)) -> Option<DeltaFailure> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(delta) = e.downcast_ref::<deltalake::DeltaTableError>() {
            return Some(classify(delta));
        }
        current = e.source();
    }
    None
}

fn classify(err: &deltalake::DeltaTableError) -> DeltaFailure {
    use deltalake::DeltaTableError as D;
    // A refused credential surfaces under several deltalake variants (a table that
    // cannot be listed reads as "not a table"): the store's answer decides.
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. },
        ) = e.downcast_ref::<object_store::Error>()
        {
            return DeltaFailure::Permission;
        }
        current = e.source();
    }
    // delta-kernel keeps only the text of the store's error (object_store's wording).
    let text = err.to_string();
    if text.contains("lacked the necessary privileges")
        || text.contains("lacked valid authentication")
    {
        return DeltaFailure::Permission;
    }
    use deltalake::kernel::transaction::TransactionError as T;
    match err {
        D::NotATable(_) => DeltaFailure::NotATable,
        D::Transaction {
            source: T::UnsupportedTableFeatures(_) | T::TableFeaturesRequired(_),
        } => DeltaFailure::Unsupported,
        D::Transaction { .. } | D::VersionAlreadyExists(_) => DeltaFailure::Conflict,
        D::Generic(_)
        | D::GenericError { .. }
        | D::Arrow { .. }
        | D::SchemaMismatch { .. }
        | D::InvalidData { .. } => DeltaFailure::Data,
        D::MissingFeature { .. } | D::UnsupportedColumnMapping { .. } => DeltaFailure::Unsupported,
        _ => DeltaFailure::Storage,
    }
}
