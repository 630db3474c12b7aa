//! Replays of recorded client sessions (issue #5): what psql, pgjdbc, psqlODBC,
//! psycopg 2 and 3, asyncpg, pg8000, node-postgres, SQLAlchemy 2.1 and 1.4 and
//! Superset sent to PostgreSQL 15, message by message (`../shared/client-traces`),
//! sent to Tarn over the same data; `tests/python/replay.py` compares each answer
//! with PostgreSQL's (message kinds, columns, types, errors, row counts over the user
//! tables) and fails on any difference not in its list of known ones, or when a
//! known one is gone.
//!
//! The traces are not part of this repository; when `../shared/client-traces` is
//! absent the test says so and checks nothing. The dbt traces are not replayed
//! here: dbt itself runs against Tarn in `dbt.rs`.

use std::path::Path;
use std::process::Command;

use tarn_tests::TestServer;

const TRACES: &[&str] = &[
    "psql",
    "pgjdbc",
    "psqlodbc",
    "psqlodbc_declarefetch",
    "psycopg2",
    "psycopg3",
    "asyncpg",
    "asyncpg_introspect",
    "pg8000",
    "node",
    "sqlalchemy",
    "sqlalchemy14",
    "superset_testdb",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_recorded_client_sessions_replay_as_postgres_answered() {
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/client-traces");
    let Ok(traces) = traces.canonicalize() else {
        eprintln!(
            "SKIPPED: {} is absent; no client session was replayed",
            traces.display()
        );
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/replay.py");
    let python = tarn_tests::tools::venv_bin("python");
    let fixture = Command::new(&python)
        .arg(&script)
        .arg("--fixture")
        .output()
        .expect("run replay.py --fixture");
    assert!(fixture.status.success(), "replay.py --fixture failed");

    // The traces were recorded against a database named `warehouse`.
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tarn_tests::config_from_toml(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = \"{}\"\ncatalog = \"warehouse\"\n",
            dir.path().join("wh").display()
        ),
    );
    let server = TestServer::start_with(config).await;
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} dbname=warehouse user=postgres",
            server.addr.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&String::from_utf8_lossy(&fixture.stdout))
        .await
        .expect("load the traces' data");

    let port = server.addr.port();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = Command::new(python);
        command.arg(script).arg(port.to_string());
        for name in TRACES {
            command.arg(traces.join(format!("{name}.trace")));
        }
        command.output().expect("run replay.py")
    })
    .await
    .expect("replay task");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "replayed sessions differ from PostgreSQL's beyond the known differences:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every trace was replayed and compared something.
    for name in TRACES {
        assert!(
            stdout.contains(&format!("ok {name}.trace: ")),
            "{name}.trace was not replayed: {stdout}"
        );
    }
    server.stop().await;
}
