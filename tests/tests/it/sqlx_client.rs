//! SQLx (crates.io `sqlx` 0.9, its PostgreSQL driver, which COMPAT.md lists) as a Rust
//! service uses it, against Tarn and against a real PostgreSQL 15 given the same
//! script: SQLx prepares every query as a named statement, describes it, asks for
//! binary results, keeps the statement per connection and reuses it, binds typed
//! parameters (arrays and JSON among them), streams rows, runs transactions on a
//! pool, copies in and out, and prepares a statement ahead, reading where its columns
//! come from. What each step got is written down as one line; the two servers' lines
//! must be the same.
//!
//! Not here: what the `query!` macros ask at build time (`Executor::describe`), which
//! runs `EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE` of the prepared statement; Tarn has
//! neither SQL-level `EXECUTE` nor PostgreSQL's JSON plans.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use futures::TryStreamExt;
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Column, ConnectOptions, Connection, Executor, Row, TypeInfo};
use tarn_tests::TestServer;
use tarn_tests::postgres::Postgres;

const SETUP: &str = "
create schema shop;
create table shop.orders (id bigint not null, customer varchar, amount numeric(10,2), placed timestamp, paid boolean);
insert into shop.orders
  select g, 'c' || cast(g % 7 as varchar), cast(g * 1.25 as numeric(10,2)),
         timestamp '2024-01-01 00:00:00' + g * interval '1 minute', g % 2 = 0
  from generate_series(1, 2500) as s(g);
create view shop.big_orders as select * from shop.orders where amount > 3000;
create table shop.events (id int, body jsonb, tags text[], at timestamptz, day date);
";

/// A row of shop.events as read back: id, body, tags, at, day, body's kind, tags' count.
type Event = (
    i32,
    Option<sqlx::types::Json<serde_json::Value>>,
    Option<Vec<String>>,
    Option<DateTime<Utc>>,
    Option<NaiveDate>,
    Option<String>,
    Option<i32>,
);

fn options(port: u16) -> PgConnectOptions {
    PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("tarn")
        .database("tarn")
}

/// Writes a database error as its SQLSTATE and message.
fn error(e: sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => format!("error {} {}", db.code().unwrap_or_default(), db.message()),
        None => format!("not a database error: {e}"),
    }
}

/// Runs the script on the server at `port` and returns what each step got.
async fn transcript(port: u16) -> Vec<String> {
    let mut out = Vec::new();
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect_with(options(port))
        .await
        .expect("pool connects");
    sqlx::raw_sql(SETUP).execute(&pool).await.expect("setup");

    // One typed row, the statement reused more times than any client's threshold.
    for id in [7_i64, 8, 9, 10, 11, 12, 13, 2500] {
        let row =
            sqlx::query("select id, customer, amount, placed, paid from shop.orders where id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("one order");
        let values: (
            i64,
            Option<String>,
            Option<Decimal>,
            Option<NaiveDateTime>,
            Option<bool>,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        out.push(format!("order {id}: {values:?}"));
    }
    let count: i64 = sqlx::query_scalar("select count(*) from shop.big_orders where customer = $1")
        .bind("c3")
        .fetch_one(&pool)
        .await
        .expect("count");
    out.push(format!("big orders of c3: {count}"));
    let missing: Option<i64> = sqlx::query_scalar("select id from shop.orders where id = $1")
        .bind(-1_i64)
        .fetch_optional(&pool)
        .await
        .expect("fetch_optional");
    out.push(format!("no such order: {missing:?}"));

    // Rows streamed, not collected by the driver.
    let mut stream = sqlx::query("select id, amount from shop.orders order by id").fetch(&pool);
    let (mut rows, mut sum, mut last) = (0_u64, Decimal::ZERO, 0_i64);
    while let Some(row) = stream.try_next().await.expect("streamed row") {
        rows += 1;
        last = row.get::<i64, _>(0);
        sum += row.get::<Decimal, _>(1);
    }
    drop(stream);
    out.push(format!("streamed {rows} rows, last {last}, amounts {sum}"));

    // Parameters of the other types a service binds, stored and read back.
    let tz: DateTime<Utc> = "2024-05-06T07:08:09.123456Z".parse().expect("timestamptz");
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).expect("date");
    let body = serde_json::json!({"kind": "click", "n": [1, 2.5, null], "ok": true});
    let inserted = sqlx::query(
        "insert into shop.events values ($1, $2, $3, $4, $5), ($6, null, null, null, null)",
    )
    .bind(1_i32)
    .bind(sqlx::types::Json(&body))
    .bind(vec!["a".to_owned(), "b c".to_owned(), "\"q\"".to_owned()])
    .bind(tz)
    .bind(day)
    .bind(2_i32)
    .execute(&pool)
    .await
    .expect("insert events");
    out.push(format!("inserted {}", inserted.rows_affected()));
    let rows = sqlx::query("select id, body, tags, at, day, body->>'kind' as kind, cardinality(tags) as n from shop.events order by id")
        .fetch_all(&pool)
        .await
        .expect("events");
    for row in rows {
        let values: Event = (
            row.get(0),
            row.get(1),
            row.get(2),
            row.get(3),
            row.get(4),
            row.get(5),
            row.get(6),
        );
        out.push(format!("event: {values:?}"));
    }
    let any: Vec<i64> =
        sqlx::query_scalar("select id from shop.orders where id = any($1) order by id")
            .bind(vec![3_i64, 5, 4000])
            .fetch_all(&pool)
            .await
            .expect("any($1)");
    out.push(format!("any: {any:?}"));
    let floats: (f64, f32, i16) = sqlx::query_as("select $1::float8 / 3, $2::float4, $3::int2")
        .bind(1.0_f64)
        .bind(0.1_f32)
        .bind(-7_i16)
        .fetch_one(&pool)
        .await
        .expect("floats");
    out.push(format!("floats: {floats:?}"));

    // Transactions on a pooled connection.
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("insert into shop.events (id) values (3)")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    tx.rollback().await.expect("rollback");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("insert into shop.events (id) values (4)")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    let failed = sqlx::query("select 1 / $1")
        .bind(0_i32)
        .fetch_one(&mut *tx)
        .await;
    out.push(format!(
        "in a transaction: {}",
        failed.map(|_| "no error".to_owned()).unwrap_or_else(error)
    ));
    let after = sqlx::query("select 1").fetch_one(&mut *tx).await;
    out.push(format!(
        "after the error: {}",
        after.map(|_| "no error".to_owned()).unwrap_or_else(error)
    ));
    tx.rollback().await.expect("rollback failed transaction");
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("insert into shop.events (id) values (5)")
        .execute(&mut *tx)
        .await
        .expect("insert in tx");
    tx.commit().await.expect("commit");
    let ids: Vec<i32> = sqlx::query_scalar("select id from shop.events order by id")
        .fetch_all(&pool)
        .await
        .expect("ids");
    out.push(format!("event ids: {ids:?}"));

    // Errors keep their SQLSTATE; the pool's connections go on.
    for sql in [
        "select * from shop.nope",
        "select nope from shop.orders",
        "insert into shop.orders (id) values (null)",
        "select cast('x' as int)",
    ] {
        let result = sqlx::query(sql).execute(&pool).await;
        out.push(format!(
            "{sql}: {}",
            result
                .map(|r| format!("ok {}", r.rows_affected()))
                .unwrap_or_else(error)
        ));
    }

    // COPY in and out on one connection.
    let mut conn = pool.acquire().await.expect("acquire");
    let mut copy = conn
        .copy_in_raw("copy shop.events (id, tags) from stdin with (format csv)")
        .await
        .expect("copy in");
    copy.send(b"10,\"{x,y}\"\n11,\n".as_slice())
        .await
        .expect("copy data");
    let copied = copy.finish().await.expect("copy finish");
    out.push(format!("copied in {copied}"));
    let chunks: Vec<_> = conn
        .copy_out_raw(
            "copy (select id, tags from shop.events where id >= 10 order by id) to stdout",
        )
        .await
        .expect("copy out")
        .try_collect()
        .await
        .expect("copy out data");
    out.push(format!(
        "copied out {:?}",
        String::from_utf8_lossy(&chunks.concat())
    ));

    // A statement prepared ahead, as a service keeps one: its columns' types and the
    // table column each comes from (SQLx looks those up in pg_attribute).
    let prepared = conn
        .prepare(sqlx::SqlSafeStr::into_sql_str(
            "select customer, paid from shop.big_orders where id = $1",
        ))
        .await
        .expect("prepare");
    for column in sqlx::Statement::columns(&prepared) {
        out.push(format!(
            "prepared column {} {} from {:?}",
            column.name(),
            column.type_info().name(),
            column.origin()
        ));
    }
    drop(conn);
    pool.close().await;
    out
}

/// Where Tarn answers otherwise, by a documented limitation (README): PostgreSQL's
/// line, Tarn's (`#` stands for a number: an OID), and why. Each must still be seen, so
/// the list shrinks as they go.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[];

/// Whether `line` is `pattern` with its `#`, if any, standing for one or more digits.
fn like(pattern: &str, line: &str) -> bool {
    match pattern.split_once('#') {
        None => pattern == line,
        Some((before, after)) => line
            .strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(after))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_sqlx_as_postgres_15() {
    let postgres = Postgres::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let tarn = TestServer::start(dir.path()).await;
    let expected = transcript(postgres.port).await;
    let actual = transcript(tarn.addr.port()).await;
    // The script itself must have seen what it tests (PostgreSQL's answers).
    assert!(
        expected.iter().any(|l| l.starts_with("streamed 2500 rows")),
        "{expected:#?}"
    );
    assert!(
        expected.iter().any(|l| l.contains("error 22012")),
        "{expected:#?}"
    );
    let known = |e: &str, a: &str| {
        KNOWN_DIFFERENCES
            .iter()
            .any(|(pg, tarn, _)| *pg == e && like(tarn, a))
    };
    let differences: Vec<String> = expected
        .iter()
        .zip(&actual)
        .filter(|(e, a)| e != a && !known(e, a))
        .map(|(e, a)| format!("PostgreSQL: {e}\nTarn:       {a}"))
        .collect();
    for (pg, tarn, why) in KNOWN_DIFFERENCES {
        assert!(
            expected
                .iter()
                .zip(&actual)
                .any(|(e, a)| e == pg && like(tarn, a)),
            "a known difference is gone ({why}): remove it from KNOWN_DIFFERENCES\nPostgreSQL:\n{}\nTarn:\n{}",
            expected.join("\n"),
            actual.join("\n")
        );
    }
    assert!(
        differences.is_empty() && expected.len() == actual.len(),
        "SQLx sees Tarn differ from PostgreSQL 15:\n{}\n(PostgreSQL {} lines, Tarn {})",
        differences.join("\n"),
        expected.len(),
        actual.len()
    );
}

/// A server requiring a password: SQLx logs in with the right one (SCRAM-SHA-256) and
/// is refused, with 28P01, with a wrong one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_sqlx_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = tarn_tests::password_config(dir.path(), "tarn", "sqlx pass");
    let server = TestServer::start_with(config).await;
    let port = server.addr.port();
    let mut conn = options(port)
        .password("sqlx pass")
        .connect()
        .await
        .expect("the right password logs in");
    let one: i32 = sqlx::query_scalar("select 1")
        .fetch_one(&mut conn)
        .await
        .expect("select 1");
    assert_eq!(one, 1);
    conn.close().await.expect("close");
    let refused = options(port)
        .password("wrong")
        .connect()
        .await
        .map(|_| ())
        .expect_err("a wrong password is refused");
    assert_eq!(
        refused
            .as_database_error()
            .and_then(|e| e.code())
            .as_deref(),
        Some("28P01"),
        "{refused}"
    );
    server.stop().await;
}
