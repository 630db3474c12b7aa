//! tarn-tests: end-to-end harness and suites.
//!
//! [`TestServer`] runs Tarn's real server in-process on `127.0.0.1:0` over a
//! temporary warehouse, and stops it (gracefully) when dropped or stopped. Suites in
//! `tests/it` drive it with real clients: tokio-postgres and the `psql` binary, and
//! compare text output with a real PostgreSQL 15 ([`postgres::Postgres`]).

pub mod cloud;
pub mod peer;
pub mod postgres;
pub mod s3;
pub mod tools;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tarn_server::config::{Config, Overrides, RawConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A Tarn server running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    pub warehouse: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with default settings (trust auth) over `warehouse`.
    pub async fn start(warehouse: &Path) -> Self {
        let mut raw = RawConfig::default();
        raw.server.listen = "127.0.0.1:0".to_owned();
        raw.warehouse.url = warehouse.display().to_string();
        Self::start_with(Config::validate(raw).expect("valid test config")).await
    }

    /// Starts a server with `config` (its listen port is replaced by a free one).
    pub async fn start_with(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local addr");
        let engine = tarn_server::open_engine(&config)
            .await
            .expect("open warehouse");
        let warehouse = config.warehouse.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            tarn_server::run(&config, engine, listener, async {
                let _ = rx.await;
            })
            .await
        });
        Self {
            addr,
            warehouse: PathBuf::from(&warehouse),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A `host=... port=... user=tarn dbname=tarn` connection string.
    pub fn conn_str(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=tarn dbname=tarn",
            self.addr.port()
        )
    }

    /// A connected tokio-postgres client (its connection runs on a spawned task).
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.conn_str(), tokio_postgres::NoTls)
            .await
            .expect("connect to tarn");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Runs `psql` against this server with `args`; returns (success, stdout, stderr).
    pub fn psql(&self, args: &[&str]) -> (bool, String, String) {
        psql(self.addr.port(), "tarn", args)
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("server task")
                .expect("server ran cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Loads the configuration of `toml` (a tarn.toml text) with the given listen address.
pub fn config_from_toml(dir: &Path, toml: &str) -> Config {
    let path = dir.join("tarn.toml");
    std::fs::write(&path, toml).expect("write tarn.toml");
    Config::load(
        &Overrides {
            config: Some(path),
            ..Overrides::default()
        },
        &[],
    )
    .expect("valid config")
}

/// The configuration of a server over `dir/wh` on which `user` logs in with
/// `password` (SCRAM-SHA-256 against its hashed secret).
pub fn password_config(dir: &Path, user: &str, password: &str) -> Config {
    let secret = tarn_server::auth::Secret::hash(password).to_stored();
    config_from_toml(
        dir,
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = \"{}\"\n[auth]\nmethod = \"password\"\n[[auth.users]]\nname = \"{user}\"\npassword = \"{secret}\"\n",
            dir.join("wh").display()
        ),
    )
}

/// Runs the `psql` binary (from PostgreSQL 15's client package, which the test
/// command installs) with `-X` (no psqlrc) against 127.0.0.1:`port`.
pub fn psql(port: u16, user: &str, args: &[&str]) -> (bool, String, String) {
    psql_db(port, user, "tarn", args)
}

/// [`psql`] against database `database`.
pub fn psql_db(port: u16, user: &str, database: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            user,
            "-d",
            database,
        ])
        .args(args)
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .expect("psql must be installed: the README's test command installs postgresql-client");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The first column of every row `sql` returns.
pub async fn column<T: tokio_postgres::types::FromSqlOwned>(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Vec<T> {
    client
        .query(sql, &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// The first two columns of every row `sql` returns.
pub async fn pairs<A, B>(client: &tokio_postgres::Client, sql: &str) -> Vec<(A, B)>
where
    A: tokio_postgres::types::FromSqlOwned,
    B: tokio_postgres::types::FromSqlOwned,
{
    client
        .query(sql, &[])
        .await
        .expect(sql)
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}
