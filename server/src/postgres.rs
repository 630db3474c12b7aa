//! The PostgreSQL wire front end: pgwire handlers over a [`tarn_sql::Session`].
//!
//! Protocol code translates; behaviour lives in the session. One [`Connection`] is made
//! per socket, holding that client's session.

mod deferred;
pub mod encode;
pub mod handler;
pub mod sqlstate;
pub mod startup;
pub mod text;

pub use handler::{Connection, Shared};
