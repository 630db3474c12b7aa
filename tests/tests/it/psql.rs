//! psql, the reference client: the README's promise that
//! `psql -h 127.0.0.1 -p 5433 -U tarn tarn` works, and what it prints.

use tarn_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_psql_create_select_restart_select() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, out, err) = server.psql(&[
        "-c",
        "create table t as select * from (values (1,'a'),(2,'b')) v(id,name)",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "SELECT 2");
    let (ok, out, err) = server.psql(&["-c", "select * from t order by id"]);
    assert!(ok, "{err}");
    let expected = " id | name \n----+------\n  1 | a\n  2 | b\n(2 rows)\n\n";
    assert_eq!(out, expected);
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let (ok, out, err) = server.psql(&["-c", "select * from t order by id"]);
    assert!(ok, "{err}");
    assert_eq!(out, expected, "same rows after a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_psql_reports_sqlstate_and_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    // VERBOSITY verbose makes psql print the SQLSTATE; without ON_ERROR_STOP it goes on.
    let (_, out, err) = server.psql(&[
        "-v",
        "VERBOSITY=verbose",
        "-c",
        "select 1/0",
        "-c",
        "select 42 as answer",
    ]);
    assert!(err.contains("ERROR:  22012: division by zero"), "{err}");
    assert!(
        out.contains(" answer \n--------\n     42\n(1 row)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_psql_three_part_names_and_the_database_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, _, err) = server.psql(&[
        "-c",
        "create schema raw",
        "-c",
        "create table tarn.raw.events (id int)",
        "-c",
        "insert into tarn.raw.events values (7)",
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = server.psql(&["-At", "-c", "select id from \"tarn\".\"raw\".\"events\""]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "7");
    // Another database name is refused at connect, like PostgreSQL does.
    let output = std::process::Command::new("psql")
        .args([
            "-X",
            "-h",
            "127.0.0.1",
            "-p",
            &server.addr.port().to_string(),
            "-U",
            "tarn",
            "-d",
            "other",
            "-c",
            "select 1",
        ])
        .output()
        .expect("psql");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("database \"other\" does not exist"));
}

/// psql's meta-commands (issue #5) list Tarn's real catalog: they run psql's own
/// catalog queries against pg_catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_psql_meta_commands_list_schemas_tables_views_and_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, _, err) = server.psql(&[
        "-c",
        "create schema sales",
        "-c",
        "create table sales.orders (id bigint, city text, amount double precision)",
        "-c",
        "create table t (x int)",
        "-c",
        "create view v as select x from t",
    ]);
    assert!(ok, "{err}");
    let run = |command: &str| {
        let (ok, out, err) = server.psql(&["-c", command]);
        assert!(ok, "{command}: {err}");
        out
    };
    let schemas = run("\\dn");
    assert!(
        schemas.contains(" public | ") && schemas.contains(" sales  | "),
        "{schemas}"
    );
    assert!(schemas.contains("(2 rows)"), "{schemas}");
    let tables = run("\\dt");
    assert!(tables.contains(" public | t      | table |"), "{tables}");
    assert!(tables.contains(" sales  | orders | table |"), "{tables}");
    assert!(tables.contains("(2 rows)"), "{tables}");
    let only_sales = run("\\dt sales.*");
    assert!(
        only_sales.contains("(1 row)") && only_sales.contains("orders"),
        "{only_sales}"
    );
    let views = run("\\dv");
    assert!(views.contains(" public | v    | view |"), "{views}");
    let columns = run("\\d sales.orders");
    assert!(columns.contains("Table \"sales.orders\""), "{columns}");
    for line in [
        " id     | bigint ",
        " city   | text ",
        " amount | double precision ",
    ] {
        assert!(columns.contains(line), "{line:?} in {columns}");
    }
    let version = run("select version()");
    assert!(version.contains("PostgreSQL 15."), "{version}");
    // \du: the superuser PostgreSQL always has, and the user connected (as PostgreSQL
    // 15 prints their attributes); \df: no user functions.
    let roles = run("\\du");
    // (The role list is the server process's: other tests' users may widen it.)
    let role = |name: &str| {
        roles
            .lines()
            .find(|l| l.split('|').next().map(str::trim) == Some(name))
            .map(|l| l.split('|').nth(1).unwrap_or_default().trim().to_owned())
    };
    assert_eq!(
        role("postgres").as_deref(),
        Some("Superuser, Create role, Create DB, Replication, Bypass RLS"),
        "{roles}"
    );
    assert_eq!(role("tarn").as_deref(), Some(""), "{roles}");
    // \\d+: storage and description columns, and a view's definition.
    let detail = run("\\d+ sales.orders");
    assert!(
        detail.contains(" id     | bigint           |           |          |         | plain    |"),
        "{detail}"
    );
    let view = run("\\d+ v");
    assert!(view.contains("View definition:"), "{view}");
    // \\dt+ and \\dv+: sizes (pg_table_size, pg_size_pretty) and descriptions.
    let (ok, _, err) = server.psql(&[
        "-c",
        "insert into t values (1), (2)",
        "-c",
        "comment on table t is 'two rows'",
    ]);
    assert!(ok, "{err}");
    let sized = run("\\dt+ t");
    let row = sized
        .lines()
        .find(|l| l.contains(" t ") && l.contains("two rows"))
        .unwrap_or_else(|| panic!("{sized}"));
    let size = row.split('|').nth(6).map(str::trim).unwrap_or_default();
    assert!(size.ends_with(" bytes") && size != "0 bytes", "{sized}");
    let views_sized = run("\\dv+");
    assert!(views_sized.contains("| 0 bytes |"), "{views_sized}");
    let functions = run("\\df");
    assert!(functions.contains("(0 rows)"), "{functions}");
}

/// Listing tables reads catalog entries, never Delta logs (issue #3): a table whose
/// log is unreadable still lists (information_schema, psql's `\dt` and `\d` through
/// pg_catalog, which reads the columns recorded in the entries), and fails only when
/// read.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_listing_tables_does_not_open_their_delta_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, _, err) = server.psql(&[
        "-c",
        "create table a (x int)",
        "-c",
        "create table b (y int)",
    ]);
    assert!(ok, "{err}");
    server.stop().await;
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("_tarn/catalog/tables/public/b.json")).expect("entry"),
    )
    .expect("json");
    let log = dir
        .path()
        .join(entry["location"].as_str().expect("location"))
        .join("_delta_log");
    std::fs::remove_dir_all(&log).expect("remove b's log");

    let server = TestServer::start(dir.path()).await;
    let (ok, out, err) = server.psql(&[
        "-At",
        "-c",
        "select table_name, table_type from information_schema.tables where table_schema = 'public' order by 1",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "a|BASE TABLE\nb|BASE TABLE\n");
    let (ok, out, err) = server.psql(&["-c", "\\dt"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(" public | a    | table |") && out.contains(" public | b    | table |"),
        "{out}"
    );
    let (ok, out, err) = server.psql(&["-c", "\\d b"]);
    assert!(ok, "{err}");
    assert!(out.contains(" y      | integer "), "{out}");
    let (ok, _, err) = server.psql(&["-c", "select * from b"]);
    assert!(
        !ok && err.contains("ERROR"),
        "reading b needs its log: {err}"
    );
}

/// SQLAlchemy escapes LIKE patterns with `/` (issue #5); DataFusion knows only `\`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_like_with_an_escape_character_other_than_backslash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, out, err) = server.psql(&[
        "-At",
        "-c",
        "select 'pg_toast' like 'pg/_%' escape '/', 'pgxtoast' like 'pg/_%' escape '/', \
         'a\\b' like 'a\\b' escape '/', '100%' like '100/%' escape '/'",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out, "t|f|t|t\n");
}

/// EXPLAIN in PostgreSQL's shape (one `QUERY PLAN` text column, a row per line), as
/// psql, DBeaver and Metabase show it: the plan that runs, or with VERBOSE every
/// stage; ANALYZE runs the query and shows its metrics. The query explained is read
/// as it would run (unqualified pg_catalog names too).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_explain_answers_one_query_plan_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (ok, _, err) = server.psql(&["-c", "create table e (id int, name text)"]);
    assert!(ok, "{err}");
    let plan = |sql: &str| -> Vec<String> {
        let (ok, out, err) = server.psql(&["-A", "-c", sql]);
        assert!(ok, "{sql}: {err}");
        out.lines().map(str::to_owned).collect()
    };
    for sql in [
        "explain select name from e where id = 1",
        "explain verbose select name from e where id = 1",
        "explain analyze select name from e where id = 1",
        // Catalog names resolve as in the query itself (42P01 before).
        "explain select typname from pg_type where oid = 23",
    ] {
        let lines = plan(sql);
        assert_eq!(lines[0], "QUERY PLAN", "{sql}: {lines:?}");
        let rows = lines.len() - 2;
        assert_eq!(
            lines.last().map(String::as_str),
            Some(format!("({rows} rows)").as_str())
        );
        assert!(
            rows > 1,
            "{sql}: a plan of several lines, one per row: {lines:?}"
        );
        let body = lines[1..=rows].join("\n");
        match sql.split(' ').nth(1) {
            Some("verbose") => {
                assert!(
                    body.contains("logical_plan:") && body.contains("physical_plan:"),
                    "{body}"
                );
            }
            Some("analyze") => assert!(body.contains("metrics="), "{body}"),
            _ => {
                assert!(!body.contains("logical_plan"), "{body}");
                assert!(body.contains("Exec"), "the physical plan: {body}");
            }
        }
    }
}

/// `EXPLAIN (FORMAT JSON)` (pgAdmin's and DBeaver's plan viewers ask for it; DataFusion
/// refused the format with 22023) answers one value, a JSON document of PostgreSQL's
/// shape (an array of one object whose `Plan` has a `Node Type` and its inputs under
/// `Plans`), in a column described as `json`, as PostgreSQL 15 describes it. The
/// nodes are DataFusion's. `EXPLAIN (ANALYZE, FORMAT JSON)` (refused with 0A000
/// before) runs the query and answers the plan that ran with each node's `Actual
/// Rows`, also with the options pgAdmin sends (`COSTS true`, which DataFusion refuses
/// with ANALYZE, among them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_explain_format_json_is_one_json_document() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let postgres = tarn_tests::postgres::Postgres::start();
    let create = "create table e (id int, name text)";
    for (ok, _, err) in [server.psql(&["-c", create]), postgres.psql(&["-c", create])] {
        assert!(ok, "{err}");
    }
    let sql = "explain (verbose false, format json) select name, count(*) from e where id > 1 group by name";
    let (ok, out, err) = server.psql(&["-At", "-c", sql]);
    assert!(ok, "{err}");
    let document: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    let plan = &document[0]["Plan"];
    assert!(plan["Node Type"].is_string(), "{document}");
    let inputs = plan["Plans"].as_array().expect("Plans");
    assert!(
        !inputs.is_empty() && inputs[0]["Node Type"].is_string(),
        "{document}"
    );
    // The column's type, as psql's \gdesc shows it, from both.
    let describe = dir.path().join("gdesc.sql");
    std::fs::write(&describe, format!("{sql} \\gdesc\n")).expect("script");
    let describe = describe.to_str().expect("utf-8 path");
    let (ok, tarn_type, err) = server.psql(&["-At", "-f", describe]);
    assert!(ok, "{err}");
    let (ok, postgres_type, err) = postgres.psql(&["-At", "-f", describe]);
    assert!(ok, "{err}");
    assert_eq!(tarn_type, postgres_type);
    assert_eq!(tarn_type.trim(), "QUERY PLAN|json");
    let (ok, _, err) = server.psql(&[
        "-c",
        "insert into e values (1, 'a'), (2, 'b'), (3, 'b'), (4, 'c')",
    ]);
    assert!(ok, "{err}");
    for options in [
        "analyze, format json",
        "FORMAT JSON, ANALYZE true, VERBOSE false, COSTS true, BUFFERS false, TIMING true, \
         SUMMARY true, SETTINGS false, WAL false",
    ] {
        let sql = format!("explain ({options}) select name from e where id > 1");
        let (ok, out, err) = server.psql(&["-At", "-c", &sql]);
        assert!(ok, "{sql}: {err}");
        let document: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
        // The node that filters returned the 3 rows with id > 1.
        let mut nodes = vec![&document[0]["Plan"]];
        let mut filtered = None;
        while let Some(node) = nodes.pop() {
            if node["Node Type"].as_str() == Some("FilterExec") {
                filtered = node["Actual Rows"].as_u64();
            }
            nodes.extend(node["Plans"].as_array().into_iter().flatten());
        }
        assert_eq!(filtered, Some(3), "{document}");
    }
    server.stop().await;
}
