//! Cursors, savepoints and SQL-level prepared statements (issue #5), compared
//! statement by statement with a real PostgreSQL 15: the same script runs on both,
//! and each statement's rows or SQLSTATE must agree.

use tarn_tests::TestServer;
use tarn_tests::postgres::Postgres;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

/// Run on both servers after `create table t (id bigint)` with ids 1..5.
const SCRIPT: &[&str] = &[
    "declare c cursor for select id from t order by id",
    "begin",
    "declare c cursor for select id from t order by id",
    "fetch 2 from c",
    "fetch forward 2 from c",
    "fetch next from c",
    "fetch 2 in c",
    "declare c cursor for select 1",
    "rollback",
    "fetch 1 from c",
    "begin",
    "declare \"Held\" cursor with hold for select id * 10 from t where id > 2 order by id",
    "commit",
    "fetch 1 from \"Held\"",
    "fetch all from \"Held\"",
    "close \"Held\"",
    "close \"Held\"",
    "begin",
    "savepoint a",
    "select 1 / 0",
    "select 1",
    "rollback to savepoint a",
    "select 2",
    "savepoint b",
    "release savepoint a",
    "rollback to b",
    "release a",
    "commit",
    "savepoint x",
    "rollback to x",
    "close all",
    "unlisten *",
    "discard all",
];

/// One statement's outcome: its rows (as text) and row count, or its SQLSTATE.
async fn outcomes(client: &Client) -> Vec<String> {
    client
        .batch_execute("create table t (id bigint); insert into t values (1), (2), (3), (4), (5)")
        .await
        .expect("load t");
    let mut out = Vec::new();
    for sql in SCRIPT {
        let outcome = match client.simple_query(sql).await {
            Ok(messages) => {
                let rows: Vec<String> = messages
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL"))
                                .collect::<Vec<_>>()
                                .join(","),
                        ),
                        _ => None,
                    })
                    .collect();
                format!("{sql} -> ok [{}]", rows.join(" "))
            }
            Err(e) => format!("{sql} -> {}", e.code().map_or("no sqlstate", |c| c.code())),
        };
        out.push(outcome);
    }
    out
}

async fn connect(port: u16) -> Client {
    let (client, connection) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port={port} user=tarn dbname=tarn"),
        NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(connection);
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_cursors_and_savepoints_answer_as_postgres_15() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let tarn = TestServer::start(dir.path()).await;
    let expected = outcomes(&connect(postgres.port).await).await;
    let actual = outcomes(&tarn.client().await).await;
    // The script is meant to exercise both successes and errors.
    assert!(
        expected.iter().any(|o| o.ends_with("-> 25P01")),
        "{expected:#?}"
    );
    assert!(
        expected.iter().any(|o| o.ends_with("-> 34000")),
        "{expected:#?}"
    );
    let differences: Vec<String> = expected
        .iter()
        .zip(&actual)
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("PostgreSQL: {e}\n      Tarn: {a}"))
        .collect();
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

/// ROLLBACK TO SAVEPOINT takes back the rows written since the savepoint (Tarn
/// refused it: each statement had committed); it still refuses after a catalog
/// change since the savepoint, which only a whole block's ROLLBACK takes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_rollback_to_savepoint_takes_back_rows_and_refuses_catalog_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tarn = TestServer::start(dir.path()).await;
    let client = tarn.client().await;
    client
        .batch_execute(
            "create table t (id bigint); begin; insert into t values (1); savepoint a; \
             insert into t values (2); rollback to savepoint a; insert into t values (3); commit",
        )
        .await
        .expect("rows since the savepoint taken back");
    let ids = tarn_tests::column::<i64>(&client, "select id from t order by id").await;
    assert_eq!(ids, vec![1, 3]);
    client
        .batch_execute("begin; savepoint a; create table t2 (x int)")
        .await
        .expect("setup");
    let err = client
        .simple_query("rollback to savepoint a")
        .await
        .expect_err("refused");
    assert_eq!(
        err.code(),
        Some(&SqlState::FEATURE_NOT_SUPPORTED),
        "{err:?}"
    );
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("catalog change"), "{message}");
    client.batch_execute("rollback").await.expect("rollback");
    let err = client
        .simple_query("select * from t2")
        .await
        .expect_err("the block's CREATE is gone");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{err:?}");
}

/// A cursor streams: fetching the first rows of a huge result returns at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_a_cursor_over_a_huge_result_fetches_only_what_is_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tarn = TestServer::start(dir.path()).await;
    let client = tarn.client().await;
    client
        .batch_execute(
            "begin; declare big cursor for select g from generate_series(1, 100000000000) g",
        )
        .await
        .expect("declare");
    let rows = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.simple_query("fetch 3 from big"),
    )
    .await
    .expect("a FETCH of 3 rows must not compute the whole result")
    .expect("fetch");
    let values: Vec<String> = rows
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(values, vec!["1", "2", "3"]);
    client
        .batch_execute("close big; commit")
        .await
        .expect("close");
}

/// `EXECUTE` of a statement prepared in SQL, sent over the extended protocol (as
/// tokio-postgres sends every query): Parse describes the prepared statement's
/// columns, Bind and Execute run it; a value not of its parameter's type and an unknown
/// name are refused. Each step's outcome is compared with PostgreSQL 15's. (`$n` among
/// the values, refused with 42P02 as PostgreSQL does, is seen by tokio-postgres as a
/// statement of no parameters and refused by the client itself.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_sql_prepared_statements_over_the_extended_protocol() {
    async fn steps(client: &Client) -> Vec<String> {
        client
            .batch_execute("prepare q(int) as select $1 as n, 'x'::text as s, $1::text as t")
            .await
            .expect("prepare");
        let mut out = Vec::new();
        match client.prepare("execute q(2)").await {
            Ok(statement) => out.push(format!(
                "described {:?}",
                statement
                    .columns()
                    .iter()
                    .map(|c| format!("{} {}", c.name(), c.type_()))
                    .collect::<Vec<_>>()
            )),
            Err(e) => out.push(format!("describe -> {:?}", e.code())),
        }
        for sql in [
            "execute q(2)",
            "execute q(7 * 6)",
            "execute q('x')",
            "execute nope",
        ] {
            let result = client.query(sql, &[]).await;
            out.push(match result {
                Ok(rows) => format!(
                    "{sql} -> {:?}",
                    rows.iter()
                        .map(|r| (
                            r.get::<_, i32>(0),
                            r.get::<_, String>(1),
                            r.get::<_, String>(2)
                        ))
                        .collect::<Vec<_>>()
                ),
                Err(e) => format!("{sql} -> {}", e.code().map_or("no sqlstate", |c| c.code())),
            });
        }
        out
    }
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let tarn = TestServer::start(dir.path()).await;
    let expected = steps(&connect(postgres.port).await).await;
    let actual = steps(&tarn.client().await).await;
    assert!(
        expected.iter().any(|o| o.ends_with("-> 22P02")),
        "{expected:#?}"
    );
    assert!(
        expected.iter().any(|o| o.ends_with("-> 26000")),
        "{expected:#?}"
    );
    assert_eq!(actual, expected);
}
