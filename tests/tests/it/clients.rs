//! Real client libraries (issue #5), each run as a new user would run it: Python's
//! psycopg2, psycopg 3, asyncpg, pg8000 and SQLAlchemy 2 with pandas, from the test
//! venv (`tests/requirements.txt`), through `tests/python/clients.py`. The script
//! checks what each client gets against the data loaded here and fails naming the
//! check that did not hold.

use std::path::Path;
use std::process::Command;

use tarn_tests::TestServer;

/// The data clients.py expects (its docstring repeats this): shop.orders with ids
/// 1..2500, comments on it and its `amount`, `paid` defaulting to false, and the view
/// shop.big_orders.
const SHOP: &str = "
create schema shop;
create table shop.orders (id bigint, customer varchar, amount numeric(10,2), placed timestamp, paid boolean default false);
insert into shop.orders
  select value, 'c' || cast(value % 7 as varchar), cast(value * 1.25 as numeric(10,2)),
         cast(to_timestamp(1704067200 + value * 60) as timestamp), value % 2 = 0
  from generate_series(1, 2500) as g(value);
create view shop.big_orders as select * from shop.orders where amount > 3000;
comment on table shop.orders is 'one row per order';
comment on column shop.orders.amount is 'in euros';
";

async fn shop_server(dir: &Path) -> TestServer {
    let server = TestServer::start(dir).await;
    server
        .client()
        .await
        .batch_execute(SHOP)
        .await
        .expect("load shop");
    server
}

/// A server whose user `tarn` logs in with `password` (SCRAM), holding the shop data.
async fn password_shop_server(dir: &Path, password: &str) -> TestServer {
    let config = tarn_tests::password_config(dir, "tarn", password);
    let server = TestServer::start_with(config).await;
    let (client, connection) = tokio_postgres::connect(
        &format!(
            "host=127.0.0.1 port={} dbname=tarn user=tarn password='{password}'",
            server.addr.port()
        ),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(connection);
    client.batch_execute(SHOP).await.expect("load shop");
    server
}

fn run_client(client: &str, port: u16, password: Option<&str>) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/clients.py");
    let mut command = Command::new(tarn_tests::tools::venv_bin("python"));
    command.arg(script).arg(client).arg(port.to_string());
    if let Some(p) = password {
        command.arg(p);
    }
    let output = command.output().expect("run clients.py");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{client} failed after:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok "), "{client} ran no check: {stdout}");
}

async fn client_suite(client: &'static str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = shop_server(dir.path()).await;
    let port = server.addr.port();
    tokio::task::spawn_blocking(move || run_client(client, port, None))
        .await
        .expect("client run");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_psycopg2() {
    client_suite("psycopg2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_asyncpg() {
    client_suite("asyncpg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_pg8000() {
    client_suite("pg8000").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_psycopg3_binary() {
    client_suite("psycopg").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_sqlalchemy_inspector_and_pandas() {
    client_suite("sqlalchemy").await;
}

/// pgjdbc 42.5 (Debian's libpostgresql-jdbc-java, which the test command installs),
/// run as a single-file Java program: `tests/java/JdbcClient.java` checks
/// DatabaseMetaData, prepared statements past the server-prepare threshold,
/// setFetchSize and Statement.cancel().
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_pgjdbc_metadata_prepared_fetch_size_and_cancel() {
    let jar = Path::new("/usr/share/java/postgresql.jar");
    assert!(
        jar.exists(),
        "pgjdbc missing: the README's test command installs libpostgresql-jdbc-java"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = shop_server(dir.path()).await;
    let port = server.addr.port();
    let program = Path::new(env!("CARGO_MANIFEST_DIR")).join("java/JdbcClient.java");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("java")
            .arg("-cp")
            .arg(jar)
            .arg(program)
            .arg(port.to_string())
            .output()
            .expect("java must be installed: the README's test command installs a JDK")
    })
    .await
    .expect("java run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgjdbc failed after:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("ok Statement.cancel() gives 57014"),
        "pgjdbc suite did not reach the end: {stdout}"
    );
}

/// Runs `tests/node/<script>` with node, the test npm prefix's modules
/// (`TARN_TEST_NPM`) on its path, against a server with a password user (so a wrong
/// password is checked too); fails with its output unless it reached its last check.
async fn run_node(script: &str, password: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = password_shop_server(dir.path(), password).await;
    let port = server.addr.port();
    let modules = tarn_tests::tools::npm_bin("azurite-blob")
        .parent()
        .and_then(Path::parent)
        .expect("node_modules")
        .to_path_buf();
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("node")
        .join(script);
    let password = password.to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(path)
            .arg(port.to_string())
            .arg(password)
            .env("NODE_PATH", &modules)
            .output()
            .expect("node must be installed")
    })
    .await
    .expect("node run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed after:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok wrong password refused"), "{stdout}");
}

/// node-postgres and pg-cursor, through `tests/node/clients.js`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_node_postgres_and_pg_cursor() {
    run_node("clients.js", "node pass").await;
}

/// postgres.js (npm `postgres`, which COMPAT.md lists), through
/// `tests/node/postgres_js.js`: named prepared statements reused, its array-type fetch
/// at connect, a cursor, a transaction, a pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_postgres_js() {
    run_node("postgres_js.js", "js pass").await;
}

/// psqlODBC (Debian's odbc-postgresql, which the test command installs) through
/// pyodbc, with `UseDeclareFetch=1;Fetch=100` as Power BI and Tableau set it: SQLTables,
/// SQLColumns, a `?` parameter, 2,500 rows fetched through a cursor, a view, and a
/// wrong password refused (SCRAM through libpq).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_psqlodbc_with_declare_fetch() {
    assert!(
        Path::new("/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so").exists(),
        "psqlODBC missing: the README's test command installs odbc-postgresql"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = password_shop_server(dir.path(), "odbc pass").await;
    let port = server.addr.port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/clients.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(tarn_tests::tools::venv_bin("python"))
            .arg(script)
            .args(["odbc", &port.to_string(), "odbc pass"])
            .output()
            .expect("run clients.py")
    })
    .await
    .expect("odbc run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "psqlODBC failed after:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok odbc wrong password"), "{stdout}");
}

/// `superset test-db` (Apache Superset 6.1 from tests/superset-requirements.txt, in its
/// own venv) against a fresh Tarn holding the shop tables: Superset's engine spec,
/// connectivity, `SELECT 1`, and its PostgreSQL test (create a table with a timestamp
/// column, insert, read the value back).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_superset_test_db() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = shop_server(&dir.path().join("wh")).await;
    let port = server.addr.port();
    let home = dir.path().join("superset");
    std::fs::create_dir_all(&home).expect("superset home");
    let output = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut child = Command::new(tarn_tests::tools::superset_bin("superset"))
            .args([
                "test-db",
                &format!("postgresql://tarn@127.0.0.1:{port}/tarn"),
            ])
            .env("SUPERSET_HOME", &home)
            .env("HOME", &home)
            .env(
                "SUPERSET_SECRET_KEY",
                "tarn-test-only-not-a-secret-0123456789",
            )
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("superset must be installed: the README's test command installs it");
        // "Do you want to configure connection arguments? [y/N]"
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"n\n")
            .expect("answer");
        child.wait_with_output().expect("superset test-db")
    })
    .await
    .expect("superset run");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "superset test-db failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // (test-db's "functions used by the inspector" only checks the dialect has them;
    // the SQLAlchemy suite above runs the inspector against Tarn.)
    for expected in [
        "Connected successfully!",
        "sql> SELECT 1;\n> 1",
        "Creating a table with a timestamp column...",
        "Reading timestamp value...",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    // The engine-specific test ends with Success (and nothing failed on the way).
    assert!(stdout.trim_end().ends_with("Success!"), "{stdout}");
}
