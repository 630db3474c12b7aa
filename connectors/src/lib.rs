//! tarn-connectors: how Tarn reaches bytes.
//!
//! Owns the object stores (local folders, `s3://`, `gs://`, `az://`) behind one
//! [`StorageLocation`], and later the file formats, schema inference and the crawler.
//! It knows nothing of SQL, catalogs or the wire protocol: it must not import
//! `tarn-catalog`, `tarn-sql` or `tarn-server`.

pub mod error;
pub mod storage;

pub use error::{ConnectorError, Result};
pub use storage::StorageLocation;
