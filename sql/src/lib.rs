//! tarn-sql: Tarn's SQL engine, usable in-process.
//!
//! Owns sessions and statements: parsing (PostgreSQL dialect), routing each statement
//! to the lake catalog (DDL) or to DataFusion (queries, INSERT), parameters of prepared
//! statements, session settings and transaction state. Results are Arrow record-batch
//! streams; nothing here knows the wire protocol. It imports `tarn-catalog` (and through
//! it `tarn-connectors`) and must not import `tarn-server`.
//!
//! ```no_run
//! # async fn demo() -> tarn_sql::Result<()> {
//! let engine = tarn_sql::Engine::open("./tarn-data", Default::default()).await?;
//! let batches = engine.sql("select 1 + 1 as two").await?;
//! # Ok(()) }
//! ```

pub mod activity;
pub mod copy;
pub mod engine;
pub mod error;
mod information_schema;
pub mod params;
pub mod pg;
mod planner;
pub mod session;
pub mod settings;

pub use engine::{Engine, EngineOptions};
pub use error::{DatetimeFailure, Result, SqlError};
pub use session::{
    CommandTag, Condition, Notice, Output, Prepared, Session, Severity, TransactionState,
};

/// Re-exported so embedders and the server use the same Arrow and DataFusion types.
pub use datafusion;
pub use datafusion::arrow;
