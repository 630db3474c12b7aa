//! End-to-end suites: Tarn's server driven by real PostgreSQL clients.

mod auth;
mod clients;
mod cloud;
mod copy;
mod crawl;
mod cursors;
mod dbt;
mod dml;
mod external;
mod golden;
mod interop;
mod oracle;
mod psql;
mod s3;
mod shutdown;
mod sqlx_client;
mod traces;
mod transactions;
mod views;
mod wire;
