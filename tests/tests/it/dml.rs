//! Writes to Delta tables (issue #3): UPDATE, DELETE, TRUNCATE, and the rule that a
//! failed statement leaves nothing visible.

use tarn_tests::TestServer;
use tokio_postgres::error::SqlState;

async fn ids_and_names(client: &tokio_postgres::Client) -> Vec<(i32, String)> {
    tarn_tests::pairs(client, "select id, name from u order by id").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_update_delete_truncate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table u (id int, name text, score double precision);
             insert into u values (1, 'a', 1.0), (2, 'b', 2.0), (3, 'c', 3.0);",
        )
        .await
        .expect("setup");
    let updated = client
        .execute(
            "update u set name = upper(name), score = score * 10 where id >= $1",
            &[&2i32],
        )
        .await
        .expect("update");
    assert_eq!(updated, 2);
    let deleted = client
        .execute("delete from u where id = 1", &[])
        .await
        .expect("delete");
    assert_eq!(deleted, 1);
    assert_eq!(
        ids_and_names(&client).await,
        vec![(2, "B".to_owned()), (3, "C".to_owned())]
    );
    let score: f64 = client
        .query_one("select score from u where id = 3", &[])
        .await
        .expect("score")
        .get(0);
    assert_eq!(score, 30.0);
    client.batch_execute("truncate u").await.expect("truncate");
    assert!(ids_and_names(&client).await.is_empty());
    let err = client
        .batch_execute("update u set nope = 1")
        .await
        .expect_err("no column");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_failed_insert_leaves_the_table_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table u (id int, name text); insert into u values (1, 'kept');")
        .await
        .expect("setup");
    // Fails at run time, after some rows were produced: nothing may be committed.
    let err = client
        .batch_execute(
            "insert into u select cast(10 / (value - 50000) as int), 'x' from range(100000)",
        )
        .await
        .expect_err("division by zero mid-stream");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
    assert_eq!(ids_and_names(&client).await, vec![(1, "kept".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_alter_table_rename_and_add_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table u (id int, name text);
             insert into u values (1, 'a');
             alter table u add column price numeric(10,2);
             insert into u values (2, 'b', 3.5);
             alter table tarn.public.u rename to v;",
        )
        .await
        .expect("alter");
    let rows = client
        .simple_query("select id, name, price from v order by id")
        .await
        .expect("renamed table");
    let values: Vec<Vec<Option<String>>> = rows
        .iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..3).map(|i| r.get(i).map(str::to_owned)).collect())
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        vec![
            vec![Some("1".into()), Some("a".into()), None],
            vec![Some("2".into()), Some("b".into()), Some("3.50".into())],
        ]
    );
    let err = client
        .simple_query("select * from u")
        .await
        .expect_err("old name gone");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let err = client
        .simple_query("alter table v add column id int")
        .await
        .expect_err("exists");
    assert_eq!(err.code(), Some(&SqlState::DUPLICATE_COLUMN));
    let err = client
        .simple_query("alter table v add constraint c check (id > 0)")
        .await
        .expect_err("not yet");
    assert_eq!(err.code(), Some(&SqlState::FEATURE_NOT_SUPPORTED));
    // Survives a restart.
    drop(client);
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let n: i64 = client
        .query_one("select count(price) from v", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_time_travel_and_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table u (id int, name text);
             insert into u values (1, 'a'), (2, 'b');
             update u set name = 'z' where id = 1;",
        )
        .await
        .expect("three versions");
    let before_update: Vec<String> =
        tarn_tests::column(&client, "select name from \"u@v1\" order by id").await;
    assert_eq!(before_update, vec!["a", "b"]);
    let now: Vec<String> = tarn_tests::column(&client, "select name from u order by id").await;
    assert_eq!(now, vec!["z", "b"]);
    let history: Vec<(i64, String)> = tarn_tests::pairs(
        &client,
        "select version, operation from \"u@history\" order by version",
    )
    .await;
    assert_eq!(
        history,
        vec![
            (0, "CREATE TABLE".to_owned()),
            (1, "WRITE".to_owned()),
            (2, "UPDATE".to_owned())
        ]
    );
    let n: i64 = client
        .query_one("select count(*) from \"u@2999-01-01 00:00:00\"", &[])
        .await
        .expect("latest version at a future instant")
        .get(0);
    assert_eq!(n, 2);
    for bad in ["\"u@v7\"", "\"u@1999-01-01 00:00:00\"", "\"u@bogus\""] {
        let err = client
            .simple_query(&format!("select * from {bad}"))
            .await
            .expect_err(bad);
        assert_eq!(
            err.code(),
            Some(&SqlState::INVALID_PARAMETER_VALUE),
            "{bad}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_optimize_compacts_and_vacuum_keeps_recent_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table u (id int, name text)")
        .await
        .expect("create");
    for i in 0..4 {
        client
            .execute("insert into u values ($1, 'x')", &[&i])
            .await
            .expect("small insert");
    }
    let files_before = count_parquet(&server.warehouse);
    client.batch_execute("optimize u").await.expect("optimize");
    let n: i64 = client
        .query_one("select count(*) from u", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 4, "compaction keeps every row");
    let last: String = client
        .query_one(
            "select operation from \"u@history\" order by version desc limit 1",
            &[],
        )
        .await
        .expect("history")
        .get(0);
    assert_eq!(last, "OPTIMIZE");
    assert_eq!(
        count_parquet(&server.warehouse),
        files_before + 1,
        "one compacted file added"
    );
    // Within the default 7-day retention nothing may be deleted: time travel still works.
    client.batch_execute("vacuum u").await.expect("vacuum");
    assert_eq!(count_parquet(&server.warehouse), files_before + 1);
    let n: i64 = client
        .query_one("select count(*) from \"u@v2\"", &[])
        .await
        .expect("old version")
        .get(0);
    assert_eq!(n, 2);
}

fn count_parquet(dir: &std::path::Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
    {
        let path = entry.path();
        if path.is_dir() {
            count += count_parquet(&path);
        } else if path.extension().is_some_and(|e| e == "parquet") {
            count += 1;
        }
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_partitioned_by_writes_key_value_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table pt (id int, city text) partitioned by (city);
             insert into pt values (1, 'oslo'), (2, 'lima'), (3, 'oslo');
             create table pt2 partitioned by (city) as select * from pt where id > 1;",
        )
        .await
        .expect("partitioned tables");
    let counts: Vec<(String, i64)> = tarn_tests::pairs(
        &client,
        "select city, count(*) from pt group by city order by city",
    )
    .await;
    assert_eq!(counts, vec![("lima".to_owned(), 1), ("oslo".to_owned(), 2)]);
    let folders: Vec<String> = std::fs::read_dir(server.warehouse.join("public"))
        .expect("public")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("pt2-"))
        .flat_map(|e| {
            std::fs::read_dir(e.path())
                .expect("table dir")
                .filter_map(|f| f.ok())
        })
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("city="))
        .collect();
    let mut folders = folders;
    folders.sort();
    assert_eq!(folders, vec!["city=lima", "city=oslo"]);
    let err = client
        .batch_execute("create table bad (id int) partitioned by (nope)")
        .await
        .expect_err("unknown partition column");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_merge_updates_deletes_and_inserts_in_one_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create table stock (id int, name text, qty bigint);
             insert into stock values (1, 'bolt', 10), (2, 'nut', 20), (3, 'gear', 30);
             create table delivery (id int, name text, qty bigint, discontinued boolean);
             insert into delivery values
               (1, 'bolt', 5, false), (2, 'nut', 0, true), (4, 'spring', 7, false);",
        )
        .await
        .expect("setup");
    let versions_before: i64 = client
        .query_one(r#"select count(*) from "stock@history""#, &[])
        .await
        .expect("history")
        .get(0);
    let changed = client
        .execute(
            "merge into stock s
             using delivery d on s.id = d.id
             when matched and d.discontinued then delete
             when matched then update set qty = s.qty + d.qty
             when not matched then insert (id, name, qty) values (d.id, upper(d.name), d.qty)",
            &[],
        )
        .await
        .expect("merge");
    // PostgreSQL counts every row inserted, updated or deleted: 1 + 1 + 1.
    assert_eq!(changed, 3);
    let rows: Vec<(i32, String)> = tarn_tests::pairs(
        &client,
        "select id, name || ':' || qty from stock order by id",
    )
    .await;
    assert_eq!(
        rows,
        vec![
            (1, "bolt:15".to_owned()),
            (3, "gear:30".to_owned()),
            (4, "SPRING:7".to_owned())
        ]
    );
    let versions_after: i64 = client
        .query_one(r#"select count(*) from "stock@history""#, &[])
        .await
        .expect("history")
        .get(0);
    assert_eq!(versions_after, versions_before + 1, "one Delta commit");

    // A subquery source, and NOT MATCHED BY SOURCE (PostgreSQL 17 spelling).
    client
        .execute(
            "merge into stock using (select 1 as id, 100 as qty) as src on stock.id = src.id
             when matched then update set qty = src.qty
             when not matched by source then delete",
            &[],
        )
        .await
        .expect("merge with subquery");
    let rows: Vec<(i32, String)> = tarn_tests::pairs(
        &client,
        "select id, name || ':' || qty from stock order by id",
    )
    .await;
    assert_eq!(rows, vec![(1, "bolt:100".to_owned())]);

    // Bad MERGEs fail cleanly and leave the table alone.
    let err = client
        .batch_execute(
            "merge into stock s using delivery d on s.id = d.id
             when matched then insert values (1, 'x', 1)",
        )
        .await
        .expect_err("insert when matched");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR), "{err:?}");
    let err = client
        .batch_execute(
            "merge into stock s using delivery d on s.id = d.id
             when matched then update set nope = 1",
        )
        .await
        .expect_err("unknown column");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN), "{err:?}");
    let err = client
        .batch_execute(
            "merge into missing m using delivery d on m.id = d.id
             when matched then delete",
        )
        .await
        .expect_err("missing target");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{err:?}");
    let rows: Vec<(i32, String)> = tarn_tests::pairs(
        &client,
        "select id, name || ':' || qty from stock order by id",
    )
    .await;
    assert_eq!(rows, vec![(1, "bolt:100".to_owned())]);
}

/// A CREATE TABLE declaring what Tarn cannot compute is refused with 0A000 naming it,
/// and creates nothing: generated columns (`GENERATED ALWAYS AS (a * 2) STORED`),
/// identity columns and the `serial` types (SQLAlchemy's `create_all` declares an
/// integer primary key `SERIAL`). Tarn created such tables and left NULL where
/// PostgreSQL computes each value (`b` of `insert ... (a) values (3)` was NULL, not 6).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_generated_and_serial_columns_are_refused_not_left_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    for (sql, named) in [
        (
            "create table g (a int, b int generated always as (a * 2) stored)",
            "GENERATED ALWAYS AS (a * 2) STORED (column \"b\")",
        ),
        (
            "create table g (id bigint generated always as identity, a int)",
            "GENERATED ALWAYS AS IDENTITY (column \"id\")",
        ),
        (
            "create table g (id int generated by default as identity (start with 10))",
            "(column \"id\")",
        ),
        (
            "create table g (id serial primary key, a text)",
            "type serial (column \"id\")",
        ),
        (
            "create temp table g (id BIGSERIAL)",
            "type bigserial (column \"id\")",
        ),
        (
            "create table g (a int, id smallserial)",
            "type smallserial (column \"id\")",
        ),
    ] {
        let err = client.simple_query(sql).await.expect_err(sql);
        let db = err.as_db_error().expect("a server error");
        assert_eq!(db.code(), &SqlState::FEATURE_NOT_SUPPORTED, "{sql}");
        assert!(db.message().contains(named), "{sql}: {}", db.message());
        let err = client
            .simple_query("select * from g")
            .await
            .expect_err("no table made");
        assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{sql}");
    }
    // Defaults, NOT NULL and a primary key still are what they were.
    client
        .simple_query("create table g (id int primary key, a int not null default 1, b text)")
        .await
        .expect("plain columns");
    client
        .simple_query("insert into g (id) values (1)")
        .await
        .expect("insert");
    let rows: Vec<(i32, i32)> = tarn_tests::pairs(&client, "select id, a from g").await;
    assert_eq!(rows, [(1, 1)]);
}
