//! tarn-connectors: how Tarn reaches bytes.
//!
//! Owns the object stores (local folders, `s3://`, `gs://`, `az://`) behind one
//! [`StorageLocation`], and the crawler ([`crawl`]): file classification, schema
//! inference and table proposals, returned as plain data.
//! It knows nothing of SQL, catalogs or the wire protocol: it must not import
//! `tarn-catalog`, `tarn-sql` or `tarn-server`.

pub mod crawl;
pub mod error;
pub mod storage;

pub use error::{ConnectorError, Result};
pub use storage::{StorageConfig, StorageLocation};
