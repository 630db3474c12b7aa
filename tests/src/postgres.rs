//! A real PostgreSQL 15, started for a test as the reference for answers and text
//! output. The README's test command installs Debian's `postgresql` package; a test
//! that needs it fails (never skips) when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL server on 127.0.0.1 with superuser `tarn` and database `tarn`, so the
/// same `psql` arguments reach it and Tarn alike. Stopped on drop.
pub struct Postgres {
    pub port: u16,
    data: PathBuf,
    bin: PathBuf,
    _dir: tempfile::TempDir,
}

fn bin_dir() -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    // Prefer 15, the reference version.
    versions
        .iter()
        .find(|p| p.to_string_lossy().contains("/15/"))
        .or(versions.last())
        .cloned()
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql: the README's test command installs them (apt-get install postgresql)")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a PostgreSQL tool, as the `postgres` user when we are root (initdb refuses root).
fn run(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let program = bin.join(tool);
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&program);
        c
    } else {
        Command::new(&program)
    };
    command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

impl Postgres {
    pub fn start() -> Self {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("tempdir");
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "chown of the PostgreSQL test folder failed"
            );
        }
        let data = dir.path().join("data");
        let data_s = data.to_string_lossy().into_owned();
        let init = run(
            &bin,
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                "tarn",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        );
        assert!(
            init.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let log = dir.path().join("postgres.log");
        let mut attempts = 0;
        let port = loop {
            let port = crate::tools::free_port();
            let options = format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c TimeZone=UTC",
                dir.path().display()
            );
            let start = run(
                &bin,
                "pg_ctl",
                &[
                    "-D",
                    &data_s,
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if start.status.success() {
                break port;
            }
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            attempts += 1;
            // Another process may have taken the port between the check and the bind.
            assert!(
                attempts < 5 && logged.contains("Address already in use"),
                "pg_ctl start failed: {} {logged}",
                String::from_utf8_lossy(&start.stderr),
            );
        };
        let server = Self {
            port,
            data,
            bin,
            _dir: dir,
        };
        let (created, _, err) =
            crate::psql_db(port, "tarn", "postgres", &["-c", "create database tarn"]);
        assert!(created, "create database: {err}");
        server
    }

    /// Runs `psql` against this server.
    pub fn psql(&self, args: &[&str]) -> (bool, String, String) {
        crate::psql(self.port, "tarn", args)
    }

    /// A tokio-postgres client of database `tarn`, its connection driven on the
    /// current runtime.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(
            &format!("host=127.0.0.1 port={} user=tarn dbname=tarn", self.port),
            tokio_postgres::NoTls,
        )
        .await
        .expect("connect to postgres");
        tokio::spawn(connection);
        client
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = run(
            &self.bin,
            "pg_ctl",
            &[
                "-D",
                &self.data.to_string_lossy(),
                "-m",
                "immediate",
                "stop",
            ],
        );
    }
}
