//! The foundation issue (#2) over the wire with tokio-postgres: tables that survive a
//! restart, parameters, binary results, SQLSTATEs, multi-statement queries, many
//! connections.

use tarn_tests::TestServer;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

fn warehouse() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn simple_rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(
                (0..row.len())
                    .map(|i| row.get(i).map(str::to_owned))
                    .collect(),
            ),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_tables_survive_restart() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create schema sales;
             create table sales.orders (id bigint, city varchar, amount numeric(10,2));
             insert into sales.orders values (1, 'Oslo', 12.5), (2, 'Lima', 7);
             create table t as select * from (values (1,'a'),(2,'b')) v(id,name);",
        )
        .await
        .expect("create and load");
    drop(client);
    server.stop().await;

    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let rows = client
        .simple_query("select id, city, amount from tarn.sales.orders order by id")
        .await
        .expect("select after restart");
    assert_eq!(
        simple_rows(&rows),
        vec![
            vec![Some("1".into()), Some("Oslo".into()), Some("12.50".into())],
            vec![Some("2".into()), Some("Lima".into()), Some("7.00".into())],
        ]
    );
    let rows = client
        .simple_query("select * from t order by id")
        .await
        .expect("ctas table");
    assert_eq!(
        simple_rows(&rows),
        vec![
            vec![Some("1".into()), Some("a".into())],
            vec![Some("2".into()), Some("b".into())]
        ]
    );
    client.batch_execute("drop table t").await.expect("drop");
    let err = client
        .simple_query("select * from t")
        .await
        .expect_err("dropped");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_command_tags_match_postgres() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table t (id int)")
        .await
        .expect("create");
    let inserted = client
        .execute("insert into t values (1), (2), (3)", &[])
        .await
        .expect("insert");
    assert_eq!(inserted, 3);
    let created = client
        .execute("create table t2 as select * from t where id > 1", &[])
        .await
        .expect("ctas");
    assert_eq!(created, 2, "CREATE TABLE AS reports SELECT n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_parameters_are_inferred_and_bound() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table p (id bigint, name text, score double precision)")
        .await
        .expect("create");
    let insert = client
        .prepare("insert into p values ($1, $2, $3)")
        .await
        .expect("prepare insert");
    assert_eq!(insert.params(), &[Type::INT8, Type::TEXT, Type::FLOAT8]);
    for (id, name, score) in [(1i64, "ann", 1.5f64), (2, "bob", 2.25), (3, "cy", -1.0)] {
        client
            .execute(&insert, &[&id, &name, &score])
            .await
            .expect("insert row");
    }
    let select = client
        .prepare("select name, score from p where id = $1")
        .await
        .expect("prepare");
    assert_eq!(
        select.params(),
        &[Type::INT8],
        "type inferred from the column"
    );
    let row = client.query_one(&select, &[&2i64]).await.expect("one row");
    assert_eq!(row.get::<_, String>(0), "bob");
    assert_eq!(row.get::<_, f64>(1), 2.25);
    // Client-declared types win, and are coerced to the column's type.
    let declared = client
        .prepare_typed("select count(*) from p where id >= $1", &[Type::INT4])
        .await
        .expect("prepare typed");
    assert_eq!(declared.params(), &[Type::INT4]);
    let n: i64 = client
        .query_one(&declared, &[&2i32])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_binary_results_decode_to_the_right_values() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    // tokio-postgres asks for every result column in binary.
    let row = client
        .query_one(
            "select 1::smallint, 2::int, 3::bigint, 1.5::real, 0.25::double precision, true, \
             'héllo'::text, 'v'::varchar, date '2024-01-02', timestamp '2024-03-04 03:06:07.5', \
             timestamptz '2024-03-04 03:06:07.123456+00', array[1, 2, 3]",
            &[],
        )
        .await
        .expect("typed row");
    assert_eq!(row.columns()[0].type_(), &Type::INT2);
    assert_eq!(row.get::<_, i16>(0), 1);
    assert_eq!(row.get::<_, i32>(1), 2);
    assert_eq!(row.get::<_, i64>(2), 3);
    assert_eq!(row.get::<_, f32>(3), 1.5);
    assert_eq!(row.get::<_, f64>(4), 0.25);
    assert!(row.get::<_, bool>(5));
    assert_eq!(row.get::<_, String>(6), "héllo");
    assert_eq!(row.get::<_, String>(7), "v");
    assert_eq!(
        row.get::<_, chrono::NaiveDate>(8),
        chrono::NaiveDate::from_ymd_opt(2024, 1, 2).expect("date")
    );
    assert_eq!(
        row.get::<_, chrono::NaiveDateTime>(9).to_string(),
        "2024-03-04 03:06:07.500"
    );
    assert_eq!(
        row.get::<_, chrono::DateTime<chrono::Utc>>(10).to_rfc3339(),
        "2024-03-04T03:06:07.123456+00:00"
    );
    // integer[], as in PostgreSQL 15 (Tarn gave bigint[] until ARRAY[...] typed its
    // small integer literals as integer).
    assert_eq!(row.columns()[11].type_(), &Type::INT4_ARRAY);
    assert_eq!(row.get::<_, Vec<i32>>(11), vec![1, 2, 3]);

    let row = client
        .query_one(
            "select 12.5::numeric(10,2), decode('deadbeef', 'hex'), array['a', null]",
            &[],
        )
        .await
        .expect("numeric, bytea and text[] row");
    assert_eq!(row.columns()[0].type_(), &Type::NUMERIC);
    assert_eq!(row.get::<_, rust_decimal::Decimal>(0).to_string(), "12.50");
    assert_eq!(row.columns()[1].type_(), &Type::BYTEA);
    assert_eq!(row.get::<_, Vec<u8>>(1), vec![0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(
        row.get::<_, Vec<Option<String>>>(2),
        vec![Some("a".to_owned()), None]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_errors_carry_sqlstate_and_the_session_goes_on() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let cases = [
        ("select 1/0", SqlState::DIVISION_BY_ZERO),
        ("selec 1", SqlState::SYNTAX_ERROR),
        ("select * from no_such_table", SqlState::UNDEFINED_TABLE),
        (
            "select no_such_column from (select 1 as a) x",
            SqlState::UNDEFINED_COLUMN,
        ),
        (
            "create temporary view tv as select 1 as a",
            SqlState::FEATURE_NOT_SUPPORTED,
        ),
        ("drop table no_such_table", SqlState::UNDEFINED_TABLE),
        ("create table x.y (a int)", SqlState::INVALID_SCHEMA_NAME),
    ];
    for (sql, expected) in cases {
        // Both protocols: simple and extended.
        let err = client.simple_query(sql).await.expect_err(sql);
        assert_eq!(err.code(), Some(&expected), "{sql}: {err:?}");
        let err = client.query(sql, &[]).await.expect_err(sql);
        assert_eq!(err.code(), Some(&expected), "{sql} (extended): {err:?}");
        let one: i64 = client
            .query_one("select 1::bigint", &[])
            .await
            .expect("session goes on")
            .get(0);
        assert_eq!(one, 1);
    }
    client
        .batch_execute("create table dup (a int)")
        .await
        .expect("create");
    let err = client
        .batch_execute("create table dup (a int)")
        .await
        .expect_err("exists");
    assert_eq!(err.code(), Some(&SqlState::DUPLICATE_TABLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_error_mid_query_stops_the_remaining_statements() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let err = client
        .simple_query("create table before_err (a int); select 1/0; create table after_err (a int)")
        .await
        .expect_err("division by zero");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    client
        .simple_query("select * from before_err")
        .await
        .expect("first statement ran");
    let err = client
        .simple_query("select * from after_err")
        .await
        .expect_err("statement after the error must not run");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    // Several result sets in one Query, one per statement.
    let messages = client
        .simple_query("select 1; select 2, 3; ;")
        .await
        .expect("multi");
    assert_eq!(
        simple_rows(&messages),
        vec![
            vec![Some("1".into())],
            vec![Some("2".into()), Some("3".into())]
        ]
    );
    let completes = messages
        .iter()
        .filter(|m| matches!(m, SimpleQueryMessage::CommandComplete(_)))
        .count();
    assert_eq!(completes, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_transaction_blocks_report_status_and_refuse_after_error() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let mut client = server.client().await;
    let tx = client.transaction().await.expect("begin");
    let err = tx
        .simple_query("select 1/0")
        .await
        .expect_err("error in block");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    let err = tx
        .simple_query("select 1")
        .await
        .expect_err("refused in failed block");
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    tx.rollback().await.expect("rollback");
    client
        .simple_query("select 1")
        .await
        .expect("usable after rollback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_empty_query_and_session_settings() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let messages = client.simple_query("").await.expect("empty query");
    assert!(simple_rows(&messages).is_empty());
    client
        .batch_execute("set application_name = 'probe'; set extra_float_digits = 3")
        .await
        .expect("set");
    let rows = client
        .simple_query("show application_name")
        .await
        .expect("show");
    assert_eq!(simple_rows(&rows), vec![vec![Some("probe".into())]]);
    let err = client
        .simple_query("set no_such_setting = 1")
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_OBJECT));
    client
        .batch_execute("create schema analytics; set search_path = analytics")
        .await
        .expect("search_path");
    client
        .batch_execute("create table in_path (a int)")
        .await
        .expect("create in search_path schema");
    client
        .simple_query("select * from tarn.analytics.in_path")
        .await
        .expect("created in analytics");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_fifty_concurrent_connections() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let setup = server.client().await;
    setup
        .batch_execute("create table shared as select value as v from range(1000)")
        .await
        .expect("create shared table");
    let mut tasks = Vec::new();
    for i in 0..50i64 {
        let conn = server.conn_str();
        tasks.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            // sum of a bigint is numeric, as in PostgreSQL.
            let mut sum = rust_decimal::Decimal::ZERO;
            for _ in 0..5 {
                let row = client
                    .query_one("select sum(v) + $1::bigint from shared", &[&i])
                    .await
                    .expect("query");
                sum = row.get(0);
            }
            sum - rust_decimal::Decimal::from(i)
        }));
    }
    for task in tasks {
        assert_eq!(
            task.await.expect("task"),
            rust_decimal::Decimal::from(499_500)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_backend_key_data_lets_a_client_cancel_a_running_query() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let token = client.cancel_token();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        token.cancel_query(tokio_postgres::NoTls).await
    });
    // Far more work than the test allows: only the cancel can end it in time.
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.simple_query("select count(*) from range(100000000000)"),
    )
    .await
    .expect("the cancel request must stop the query")
    .expect_err("canceled");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    canceller.await.expect("task").expect("cancel request sent");
    let rows = client
        .simple_query("select 1")
        .await
        .expect("session usable after cancel");
    assert_eq!(simple_rows(&rows), vec![vec![Some("1".into())]]);
}

/// A correlated scalar subquery in a SELECT list is computed, never replaced with
/// NULL (the pg_catalog compatibility rewrites once did that to every query).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_correlated_scalar_subqueries_are_computed() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table o (id bigint, grp bigint); \
             insert into o values (1, 10), (2, 10), (3, 20), (4, 10)",
        )
        .await
        .expect("setup");
    let rows = client
        .simple_query(
            "select a.id, (select count(*) from o b where b.grp = a.grp) as same \
             from o a order by a.id",
        )
        .await
        .expect("correlated subquery");
    assert_eq!(
        simple_rows(&rows),
        vec![
            vec![Some("1".into()), Some("3".into())],
            vec![Some("2".into()), Some("3".into())],
            vec![Some("3".into()), Some("1".into())],
            vec![Some("4".into()), Some("3".into())],
        ]
    );
}

/// `statement_timeout` stops a statement that runs too long with 57014; the session
/// goes on, and `0` lifts the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_statement_timeout_cancels_with_57014() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("set statement_timeout = '500ms'")
        .await
        .expect("set");
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.simple_query("select count(*) from range(100000000000)"),
    )
    .await
    .expect("the timeout must stop the query")
    .expect_err("timed out");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    // Over the extended protocol too, while rows stream.
    let err = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        client.query("select g from generate_series(1, 100000000000) g", &[]),
    )
    .await
    .expect("the timeout must stop the query")
    .expect_err("timed out");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    let rows = client
        .simple_query("set statement_timeout = 0; select 1")
        .await
        .expect("session usable");
    assert_eq!(simple_rows(&rows), vec![vec![Some("1".into())]]);
}

/// `pg_stat_activity` lists the server's connections (user, application_name, state,
/// query); `pg_cancel_backend(pid)` from another connection stops a running query
/// with 57014 and the session goes on; `pg_terminate_backend(pid)` ends a connection
/// (FATAL 57P01 at its next message). Superset and Looker stop queries this way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_pg_stat_activity_cancel_and_terminate_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let (busy, connection) = tokio_postgres::connect(
        &format!("{} application_name=dashboards", server.conn_str()),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect");
    tokio::spawn(connection);
    let admin = server.client().await;
    let pid: i32 = busy
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("pid")
        .get(0);
    let me: i32 = admin
        .query_one("select pg_backend_pid()", &[])
        .await
        .expect("my pid")
        .get(0);
    assert_ne!(pid, me);
    // Both connections are listed, the other one idle after its query.
    let rows = admin
        .query(
            "select pid, usename, application_name, state, query from pg_stat_activity \
             where datname = current_database() order by pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("pg_stat_activity");
    assert_eq!(rows.len(), 2);
    let other = &rows[0];
    assert_eq!(other.get::<_, i32>(0), pid);
    assert_eq!(other.get::<_, String>(1), "tarn");
    assert_eq!(other.get::<_, String>(2), "dashboards");
    assert_eq!(other.get::<_, String>(3), "idle");
    assert!(
        other.get::<_, String>(4).contains("pg_backend_pid"),
        "{:?}",
        other.get::<_, String>(4)
    );
    assert_eq!(rows[1].get::<_, String>(3), "active");

    // A long query on `busy`, seen as active, then canceled from `admin`.
    let long = tokio::spawn(async move {
        let result = busy
            .simple_query("select count(*) from range(100000000000)")
            .await;
        (busy, result)
    });
    let mut seen = false;
    for _ in 0..100 {
        let state: Option<String> = admin
            .query_opt(
                "select state from pg_stat_activity where pid = $1 and query like '%range%'",
                &[&pid],
            )
            .await
            .expect("watch")
            .map(|r| r.get(0));
        if state.as_deref() == Some("active") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "the long query never showed as active");
    let canceled: bool = admin
        .query_one("select pg_cancel_backend($1::int4)", &[&pid])
        .await
        .expect("pg_cancel_backend")
        .get(0);
    assert!(canceled);
    let (busy, result) = tokio::time::timeout(std::time::Duration::from_secs(60), long)
        .await
        .expect("the cancel stopped the query")
        .expect("task");
    let err = result.expect_err("canceled");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err:?}");
    let one: i64 = busy
        .query_one("select 1::bigint", &[])
        .await
        .expect("session goes on")
        .get(0);
    assert_eq!(one, 1);
    // An unknown pid: false, as in PostgreSQL.
    let unknown: bool = admin
        .query_one("select pg_cancel_backend(-1)", &[])
        .await
        .expect("unknown pid")
        .get(0);
    assert!(!unknown);

    let terminated: bool = admin
        .query_one("select pg_terminate_backend($1::int4)", &[&pid])
        .await
        .expect("pg_terminate_backend")
        .get(0);
    assert!(terminated);
    let err = busy.simple_query("select 1").await.expect_err("terminated");
    assert_eq!(err.code(), Some(&SqlState::ADMIN_SHUTDOWN), "{err:?}");
    let mut gone = false;
    for _ in 0..100 {
        let n: i64 = admin
            .query_one(
                "select count(*) from pg_stat_activity where pid = $1",
                &[&pid],
            )
            .await
            .expect("count")
            .get(0);
        if n == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(gone, "the terminated connection is still listed");
}

/// The raw binary value of any column, to check the bytes PostgreSQL would send.
struct Raw(Vec<u8>);

impl<'a> tokio_postgres::types::FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_declared_column_types_reach_clients() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create schema s;
             create table s.t (id bigint, code varchar(20), doc jsonb, raw json, note text);
             insert into s.t values (1, 'a1', '{\"k\": [1, 2]}', '[true]', 'n');
             create table s.copy as select code, doc from s.t;",
        )
        .await
        .expect("create");
    // RowDescription: PostgreSQL's types, typmod, and the table's columns.
    let statement = client
        .prepare("select code, doc, raw, note, id + 1 as next from s.t")
        .await
        .expect("prepare");
    let types: Vec<Type> = statement
        .columns()
        .iter()
        .map(|c| c.type_().clone())
        .collect();
    assert_eq!(
        types,
        vec![
            Type::VARCHAR,
            Type::JSONB,
            Type::JSON,
            Type::TEXT,
            Type::INT8
        ]
    );
    let table = statement.columns()[0]
        .table_oid()
        .expect("code comes from s.t");
    assert_eq!(
        statement
            .columns()
            .iter()
            .map(|c| (c.table_oid(), c.column_id()))
            .collect::<Vec<_>>(),
        vec![
            (Some(table), Some(2)),
            (Some(table), Some(3)),
            (Some(table), Some(4)),
            (Some(table), Some(5)),
            (None, None)
        ]
    );
    let oid: u32 = client
        .query_one("select oid from pg_class where relname = 't'", &[])
        .await
        .expect("pg_class")
        .get(0);
    assert_eq!(table, oid, "RowDescription's table OID is pg_class's");
    // Binary jsonb is a version byte before the text; json is the text.
    let row = client.query_one(&statement, &[]).await.expect("query");
    assert_eq!(row.get::<_, Raw>(1).0, b"\x01{\"k\": [1, 2]}".to_vec());
    assert_eq!(row.get::<_, Raw>(2).0, b"[true]".to_vec());
    // The catalog says what was declared, also for a table made by CREATE TABLE AS.
    let rows = client
        .query(
            "select table_name, column_name, data_type, character_maximum_length
             from information_schema.columns where table_schema = 's' and column_name in ('code', 'doc')
             order by 1, 2",
            &[],
        )
        .await
        .expect("information_schema");
    let got: Vec<(String, String, String, Option<i32>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let expected = |t: &str| {
        vec![
            (
                t.to_owned(),
                "code".to_owned(),
                "character varying".to_owned(),
                Some(20),
            ),
            (t.to_owned(), "doc".to_owned(), "jsonb".to_owned(), None),
        ]
    };
    assert_eq!(got, [expected("copy"), expected("t")].concat());
    let (ok, out, err) = server.psql(&["-c", "\\d s.t"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("character varying(20)") && out.contains("jsonb"),
        "{out}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_pg_sleep_and_deallocate() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    // pg_sleep returns void after the wait, and a timeout ends it early.
    let sleep = client
        .prepare("select pg_sleep(0.2)")
        .await
        .expect("prepare");
    assert_eq!(sleep.columns()[0].type_(), &Type::VOID);
    let started = std::time::Instant::now();
    client.query(&sleep, &[]).await.expect("sleep");
    assert!(started.elapsed() >= std::time::Duration::from_millis(200));
    client
        .batch_execute("set statement_timeout = '300ms'")
        .await
        .expect("set");
    let started = std::time::Instant::now();
    let err = client
        .batch_execute("select pg_sleep(30)")
        .await
        .expect_err("times out");
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED));
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    client
        .batch_execute("reset statement_timeout")
        .await
        .expect("reset");

    // DEALLOCATE forgets a statement prepared over the extended protocol (its name
    // is in tokio-postgres's Debug output only).
    let one = client.prepare("select 1::int8").await.expect("prepare");
    assert_eq!(
        client
            .query_one(&one, &[])
            .await
            .expect("run")
            .get::<_, i64>(0),
        1
    );
    let debug = format!("{one:?}");
    let name = debug
        .split("name: \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("statement name in Debug");
    client
        .batch_execute(&format!("DEALLOCATE \"{name}\""))
        .await
        .expect("deallocate");
    let err = client.query(&one, &[]).await.expect_err("gone");
    assert_eq!(err.code(), Some(&SqlState::INVALID_SQL_STATEMENT_NAME));
    let err = client
        .batch_execute("DEALLOCATE nothing_here")
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Some(&SqlState::INVALID_SQL_STATEMENT_NAME));
    let two = client.prepare("select 2::int8").await.expect("prepare");
    client.batch_execute("DEALLOCATE ALL").await.expect("all");
    let err = client.query(&two, &[]).await.expect_err("gone");
    assert_eq!(err.code(), Some(&SqlState::INVALID_SQL_STATEMENT_NAME));
    server.stop().await;
}

/// OIDs of schemas, tables and columns' relations as the catalog shows them, plus
/// the table OID RowDescription gives for `s.b`'s first column.
async fn catalog_oids(
    client: &tokio_postgres::Client,
    pg_attribute_first: bool,
) -> Vec<(String, u32)> {
    let attributes = "select 'attrelid ' || c.relname, a.attrelid::int8 from pg_attribute a
         join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 's' and a.attnum = 1";
    let classes = "select 'class ' || c.relname, c.oid::int8 from pg_class c
         join pg_namespace n on n.oid = c.relnamespace where n.nspname = 's'
         union all select 'namespace ' || nspname, oid::int8 from pg_namespace where nspname in ('s', 'public')
         union all select 'regclass s.a', 's.a'::regclass::int8";
    let mut out = Vec::new();
    let order = if pg_attribute_first {
        [attributes, classes]
    } else {
        [classes, attributes]
    };
    for sql in order {
        for row in client.query(sql, &[]).await.expect(sql) {
            let oid: i64 = row.get(1);
            out.push((row.get::<_, String>(0), u32::try_from(oid).expect("an OID")));
        }
    }
    let described = client.prepare("select x from s.b").await.expect("prepare");
    out.push((
        "RowDescription s.b".to_owned(),
        described.columns()[0].table_oid().expect("attributed"),
    ));
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_oids_are_stable_across_restarts() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create schema s; create table s.b (x int); create table s.a (y int)")
        .await
        .expect("create");
    let before = catalog_oids(&client, false).await;
    assert_eq!(before.len(), 8, "{before:?}");
    assert!(
        before.contains(&("namespace public".to_owned(), 2200)),
        "{before:?}"
    );
    drop(client);
    server.stop().await;

    // Another server on the warehouse, a table created before the catalog is read,
    // and pg_attribute read before pg_class: the same OIDs.
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table s.aa (z int)")
        .await
        .expect("create");
    let after: Vec<(String, u32)> = catalog_oids(&client, true)
        .await
        .into_iter()
        .filter(|(what, _)| !what.ends_with(" aa"))
        .collect();
    assert_eq!(after, before);
    server.stop().await;
}

/// pg_class and pg_attribute are kept between queries while the catalog is
/// unchanged; they must still follow every change, made by this server or by
/// another one on the same warehouse, from the next statement on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_catalog_listings_follow_ddl_from_any_server() {
    let dir = warehouse();
    let a = TestServer::start(dir.path()).await;
    let b = TestServer::start(dir.path()).await;
    let on_a = a.client().await;
    let on_b = b.client().await;
    async fn columns(client: &tokio_postgres::Client) -> Vec<String> {
        let rows = client
            .simple_query(
                "select c.relname || '.' || a.attname || ':' || \
                 pg_catalog.format_type(a.atttypid, a.atttypmod) \
                 from pg_catalog.pg_attribute a join pg_catalog.pg_class c \
                 on a.attrelid = c.oid join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
                 where n.nspname = 'watched' and a.attnum > 0 order by c.relname, a.attnum",
            )
            .await
            .expect("pg_attribute");
        simple_rows(&rows)
            .into_iter()
            .map(|r| r[0].clone().unwrap_or_default())
            .collect()
    }
    on_a.batch_execute("create schema watched; create table watched.t (a int)")
        .await
        .expect("create");
    assert_eq!(columns(&on_a).await, ["t.a:integer"]);
    assert_eq!(columns(&on_a).await, ["t.a:integer"], "read twice");
    assert_eq!(columns(&on_b).await, ["t.a:integer"]);

    on_b.batch_execute("alter table watched.t add column b numeric(10,2)")
        .await
        .expect("alter on b");
    assert_eq!(
        columns(&on_a).await,
        ["t.a:integer", "t.b:numeric(10,2)"],
        "a column added by another server"
    );
    on_a.batch_execute("create table watched.u (c text); alter table watched.t rename to v")
        .await
        .expect("create and rename on a");
    assert_eq!(
        columns(&on_b).await,
        ["u.c:text", "v.a:integer", "v.b:numeric(10,2)"]
    );
    assert_eq!(
        columns(&on_a).await,
        ["u.c:text", "v.a:integer", "v.b:numeric(10,2)"]
    );
    on_b.batch_execute("drop table watched.u")
        .await
        .expect("drop");
    assert_eq!(columns(&on_a).await, ["v.a:integer", "v.b:numeric(10,2)"]);
    a.stop().await;
    b.stop().await;
}

/// npgsql (Power BI's driver) loads the server's types at connect with one query
/// joining pg_type to pg_proc on `typreceive`; it must answer the base types and
/// their arrays (element types included), or npgsql cannot read any column.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_npgsql_type_loading_query() {
    let dir = warehouse();
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let sql = include_str!("../../sql/npgsql_load_types.sql");
    let rows = client.simple_query(sql).await.expect("npgsql's type query");
    let rows = simple_rows(&rows);
    let find = |name: &str| {
        rows.iter()
            .find(|r| r[2].as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing from {rows:?}"))
            .clone()
    };
    let int4 = find("int4");
    assert_eq!(int4[1].as_deref(), Some("23"));
    assert_eq!(int4[3].as_deref(), Some("b"));
    let int4_array = find("_int4");
    assert_eq!(
        int4_array[3].as_deref(),
        Some("a"),
        "an array: {int4_array:?}"
    );
    assert_eq!(
        int4_array[5].as_deref(),
        Some("23"),
        "of int4: {int4_array:?}"
    );
    for name in [
        "text",
        "numeric",
        "timestamptz",
        "jsonb",
        "bytea",
        "_text",
        "record",
    ] {
        find(name);
    }
    server.stop().await;
}
