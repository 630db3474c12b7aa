//! Errors raised while resolving and reaching storage.

/// What went wrong reaching storage. Messages never contain credentials: URLs are
/// shown without their query string or user info.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("invalid storage location {location:?}: {reason}")]
    InvalidLocation { location: String, reason: String },

    #[error(
        "unsupported storage scheme {scheme:?} (expected a path, file://, s3://, gs:// or az://)"
    )]
    UnsupportedScheme { scheme: String },

    #[error("cannot create local warehouse folder {path:?}: {source}")]
    LocalFolder {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid storage option {key} = {value:?}: {reason}")]
    InvalidOption {
        key: String,
        value: String,
        reason: String,
    },

    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),
}

pub type Result<T, E = ConnectorError> = std::result::Result<T, E>;
