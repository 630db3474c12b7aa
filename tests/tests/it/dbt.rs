//! dbt-postgres, unmodified, against Tarn (issue 6, a start): the smoke project in
//! `tests/dbt/smoke` (a seed, a table model, a view model over it, generic tests)
//! through `dbt debug`, `seed`, `run` twice (the second replaces both relations, as
//! dbt does: rename to a backup, rename the new one in, drop the backup), `test`
//! and `docs generate`, with dbt from its own venv (`TARN_TEST_DBT_VENV`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tarn_tests::TestServer;

fn dbt(project: &Path, port: u16, args: &[&str]) -> String {
    let output = Command::new(tarn_tests::tools::dbt_bin("dbt"))
        .args(args)
        .args(["--profiles-dir", ".", "--no-use-colors"])
        .current_dir(project)
        .env("TARN_PORT", port.to_string())
        .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        .output()
        .expect("dbt must be installed: the README's test command installs it");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "dbt {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A copy of the smoke project, so dbt's target/ and logs/ stay out of the tree.
fn project(dir: &Path) -> PathBuf {
    project_named(dir, "smoke")
}

/// A copy of the project `tests/dbt/<name>`.
fn project_named(dir: &Path, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt").join(name);
    let target = dir.join(name);
    for sub in ["", "models", "seeds", "snapshots"] {
        if !source.join(sub).is_dir() {
            continue;
        }
        std::fs::create_dir_all(target.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(source.join(sub)).expect("read project") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(
                    &path,
                    target.join(sub).join(path.file_name().expect("name")),
                )
                .expect("copy");
            }
        }
    }
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_dbt_debug_seed_run_test_and_docs_on_the_smoke_project() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&dir.path().join("wh")).await;
    let port = server.addr.port();
    let project = project(dir.path());
    let run = {
        let project = project.clone();
        move |args: &'static [&'static str]| {
            let project = project.clone();
            tokio::task::spawn_blocking(move || dbt(&project, port, args))
        }
    };
    let out = run(&["debug"]).await.expect("dbt debug");
    assert!(out.contains("All checks passed"), "{out}");
    let out = run(&["seed"]).await.expect("dbt seed");
    assert!(out.contains("PASS=1"), "{out}");
    for round in 0..2 {
        let out = run(&["run"]).await.expect("dbt run");
        assert!(
            out.contains("PASS=2") && out.contains("ERROR=0"),
            "round {round}: {out}"
        );
    }
    let client = server.client().await;
    let rows = client
        .query(
            "select city, cast(total as double precision), n from dbt_dev.big_cities order by city",
            &[],
        )
        .await
        .expect("the view model");
    let got: Vec<(String, f64, i64)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    // raw_orders.csv: Oslo 10.5 + 3, Lima 7.25 (both above 5).
    assert_eq!(
        got,
        vec![("Lima".to_owned(), 7.25, 1), ("Oslo".to_owned(), 13.5, 2)]
    );
    // The replaced relations are gone, and each model is listed as what it is.
    let kinds: Vec<(String, String)> = client
        .query(
            "select table_name, table_type from information_schema.tables where table_schema = 'dbt_dev' order by 1",
            &[],
        )
        .await
        .expect("tables")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("big_cities".to_owned(), "VIEW".to_owned()),
            ("by_city".to_owned(), "BASE TABLE".to_owned()),
            ("raw_orders".to_owned(), "BASE TABLE".to_owned()),
        ]
    );
    let out = run(&["test"]).await.expect("dbt test");
    assert!(out.contains("PASS=4") && out.contains("ERROR=0"), "{out}");
    let out = run(&["docs", "generate"]).await.expect("dbt docs generate");
    assert!(out.contains("Catalog written"), "{out}");
    let catalog: serde_json::Value = serde_json::from_slice(
        &std::fs::read(project.join("target/catalog.json")).expect("catalog.json"),
    )
    .expect("json");
    assert_eq!(
        catalog["nodes"]["model.tarn_smoke.big_cities"]["metadata"]["type"],
        "VIEW"
    );
    assert!(
        catalog["errors"].is_null(),
        "docs generate reported errors: {}",
        catalog["errors"]
    );
}

/// Rows of `sql` as text, one string per row with `|` between columns.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).unwrap_or("NULL").to_owned())
                    .collect::<Vec<_>>()
                    .join("|"),
            ),
            _ => None,
        })
        .collect()
}

/// The `tests/dbt/incremental` project: an ephemeral staging model, incremental
/// models with the `append`, `delete+insert` and `merge` strategies (dbt makes a
/// temporary table and deletes, inserts or merges from it), and snapshots with the
/// `timestamp` and `check` strategies (UPDATE ... FROM, md5 ids); run, the source
/// changed (one row updated, one added), run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_dbt_incremental_models_ephemeral_and_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&dir.path().join("wh")).await;
    let port = server.addr.port();
    let project = project_named(dir.path(), "incremental");
    let run = {
        let project = project.clone();
        move |args: &'static [&'static str]| {
            let project = project.clone();
            tokio::task::spawn_blocking(move || dbt(&project, port, args))
        }
    };
    let client = server.client().await;
    client
        .batch_execute(
            "create schema raw;
             create table raw.orders (id int, city text, amount numeric(10,2), updated_at timestamp);
             insert into raw.orders values
                 (1, 'oslo', 10.50, '2026-01-01 10:00:00'),
                 (2, 'lima', 7.25, '2026-01-01 11:00:00'),
                 (3, 'oslo', 3, '2026-01-01 12:00:00');",
        )
        .await
        .expect("source data");
    let out = run(&["run"]).await.expect("dbt run");
    assert!(out.contains("PASS=3") && out.contains("ERROR=0"), "{out}");
    let out = run(&["snapshot"]).await.expect("dbt snapshot");
    assert!(out.contains("PASS=2") && out.contains("ERROR=0"), "{out}");
    client
        .batch_execute(
            "update raw.orders set amount = 99, updated_at = '2026-01-02 09:00:00' where id = 2;
             insert into raw.orders values (4, 'rome', 5, '2026-01-02 10:00:00');",
        )
        .await
        .expect("source changes");
    let out = run(&["run"]).await.expect("dbt run, incremental");
    assert!(out.contains("PASS=3") && out.contains("ERROR=0"), "{out}");
    let out = run(&["snapshot"]).await.expect("dbt snapshot, changes");
    assert!(out.contains("PASS=2") && out.contains("ERROR=0"), "{out}");
    let out = run(&["test"]).await.expect("dbt test");
    assert!(out.contains("PASS=4") && out.contains("ERROR=0"), "{out}");

    // Upserts by id: row 2 replaced, row 4 added, cities upper-cased by the
    // ephemeral model.
    let upserted = vec![
        "1|OSLO|10.50|2026-01-01 10:00:00",
        "2|LIMA|99.00|2026-01-02 09:00:00",
        "3|OSLO|3.00|2026-01-01 12:00:00",
        "4|ROME|5.00|2026-01-02 10:00:00",
    ];
    for model in ["orders_di", "orders_merge"] {
        assert_eq!(
            rows(
                &client,
                &format!("select * from dbt_inc.{model} order by id")
            )
            .await,
            upserted,
            "{model}"
        );
    }
    // Append keeps both versions of row 2.
    assert_eq!(
        rows(
            &client,
            "select id, amount from dbt_inc.orders_append order by id, updated_at"
        )
        .await,
        vec!["1|10.50", "2|7.25", "2|99.00", "3|3.00", "4|5.00"]
    );
    // Both snapshots closed row 2's old version and opened the new one.
    assert_eq!(
        rows(
            &client,
            "select id, amount, dbt_valid_from, dbt_valid_to \
             from snapshots.orders_ts order by id, dbt_valid_from"
        )
        .await,
        vec![
            "1|10.50|2026-01-01 10:00:00|NULL",
            "2|7.25|2026-01-01 11:00:00|2026-01-02 09:00:00",
            "2|99.00|2026-01-02 09:00:00|NULL",
            "3|3.00|2026-01-01 12:00:00|NULL",
            "4|5.00|2026-01-02 10:00:00|NULL",
        ]
    );
    assert_eq!(
        rows(
            &client,
            "select id, amount, dbt_valid_to is null from snapshots.orders_check \
             order by id, dbt_valid_from"
        )
        .await,
        vec!["1|10.50|t", "2|7.25|f", "2|99.00|t", "3|3.00|t", "4|5.00|t"]
    );
    // dbt's temporary tables went with its sessions; no __dbt_ leftovers.
    assert_eq!(
        rows(
            &client,
            "select table_schema || '.' || table_name from information_schema.tables \
             where table_name like '%dbt%' or table_schema like 'pg_temp%'"
        )
        .await,
        Vec::<String>::new()
    );
}

/// The dbt-tests-adapter basic suite (`tests/dbt/adapter/test_basic.py`) and its
/// cross-database macro suite (`test_utils.py`): the package's own test classes,
/// unmodified, run with pytest from dbt's venv against a fresh Tarn.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_dbt_tests_adapter_basic_suite_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(&dir.path().join("wh")).await;
    let port = server.addr.port();
    let suite = Path::new(env!("CARGO_MANIFEST_DIR")).join("dbt/adapter");
    let logs = dir.path().join("logs");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(tarn_tests::tools::dbt_bin("pytest"))
            .args([
                "-q",
                "-p",
                "no:cacheprovider",
                "-W",
                "ignore::DeprecationWarning",
            ])
            .arg(&suite)
            .current_dir(logs.parent().expect("tempdir"))
            .env("TARN_PORT", port.to_string())
            .env("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("DBT_LOG_PATH", &logs)
            .output()
            .expect("pytest must be installed: the README's test command installs it")
    })
    .await
    .expect("pytest");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "dbt-tests-adapter failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Every class ran and passed: none skipped or deselected. test_basic.py: 15
    // classes, one test each but BaseDocsGenReferences has two (16); test_utils.py:
    // 37 classes, 44 tests.
    assert!(stdout.contains("60 passed"), "{stdout}");
    assert!(!stdout.contains("skipped"), "{stdout}");
}

/// The example pipeline as the README runs it (`examples/crime/run.sh`): generated raw
/// exports of three cities, crawled, cleaned and deduplicated by dbt into marts, the
/// dashboard queries, and `check.py`, which compares the marts with the answers the
/// generator computed from the raw reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_example_crime_pipeline_runs_from_the_readme() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // The tarn binary cargo built beside this test (target/debug/tarn).
    let tarn = std::env::current_exe()
        .expect("test binary")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("tarn");
    assert!(tarn.exists(), "{} not built", tarn.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/crime/run.sh");
    let work = dir.path().join("work");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg(&script)
            .arg(&work)
            .env("TARN_BIN", &tarn)
            .env("TARN_PORT", port.to_string())
            .env("DBT", tarn_tests::tools::dbt_bin("dbt"))
            .output()
            .expect("run.sh")
    })
    .await
    .expect("pipeline");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the example pipeline failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("PASS=17 WARN=0 ERROR=0"), "{stdout}");
    assert!(
        stdout.contains("ok: 18000 reports after removing 540 duplicates"),
        "{stdout}"
    );
}
