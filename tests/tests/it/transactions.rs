//! Issue #6: temporary tables, and catalog changes inside transaction blocks (dbt's
//! table swap) as readers on other connections see them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tarn_tests::TestServer;
use tokio_postgres::error::SqlState;

async fn count_files(dir: &std::path::Path) -> usize {
    fn walk(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .map(|e| {
                        let path = e.path();
                        if path.is_dir() { walk(&path) } else { 1 }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(dir)
}

/// The warehouse folders of schemas named `pg_temp_*` that still hold files.
async fn temp_files(warehouse: &std::path::Path) -> usize {
    let mut total = 0;
    for entry in std::fs::read_dir(warehouse).expect("warehouse").flatten() {
        if entry.file_name().to_string_lossy().starts_with("pg_temp_") {
            total += count_files(&entry.path()).await;
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_temporary_tables_belong_to_their_session_and_vanish_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let a = server.client().await;
    let b = server.client().await;
    a.batch_execute(
        "create table t (v int);
         insert into t values (1), (2), (3);
         create temporary table t as select 10 as v;
         insert into t values (20);
         create temp table u (id bigint, name text);
         insert into u values (1, 'one'), (2, 'two');
         delete from u where id = 1;",
    )
    .await
    .expect("temporary tables");
    // The temporary t hides the permanent one in its session, as in PostgreSQL.
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from t order by v").await,
        vec![10, 20]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from pg_temp.t order by v").await,
        vec![10, 20]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from public.t order by v").await,
        vec![1, 2, 3]
    );
    // A temporary table joins permanent ones and feeds writes to them (dbt's
    // incremental delete+insert).
    a.batch_execute(
        "delete from public.t where v in (select v - 9 from t);
         insert into public.t select v from t where v > 15;",
    )
    .await
    .expect("write through a temporary table");
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from public.t order by v").await,
        vec![2, 3, 20]
    );
    // Another session sees only the permanent table.
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from t order by v").await,
        vec![2, 3, 20]
    );
    let err = b
        .simple_query("select * from pg_temp.u")
        .await
        .expect_err("no temporary tables in session b");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    let err = a
        .batch_execute("create temporary table public.w (x int)")
        .await
        .expect_err("temporary table in a named schema");
    assert_eq!(err.code(), Some(&SqlState::INVALID_TABLE_DEFINITION));
    // information_schema shows the session's temporary table in its pg_temp_ schema,
    // where dbt looks up a temporary relation's columns by name alone.
    let schemas = tarn_tests::column::<String>(
        &a,
        "select table_schema from information_schema.columns where table_name = 'u' \
         and column_name = 'name'",
    )
    .await;
    assert_eq!(schemas.len(), 1, "{schemas:?}");
    assert!(schemas[0].starts_with("pg_temp_"), "{schemas:?}");
    assert!(temp_files(&server.warehouse).await > 0);

    // DISCARD ALL drops them (pools reset connections with it).
    a.batch_execute("discard all").await.expect("discard");
    let err = a
        .simple_query("select * from u")
        .await
        .expect_err("u went with DISCARD");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    assert_eq!(temp_files(&server.warehouse).await, 0);

    // And so does the end of the session.
    a.batch_execute("create temp table gone as select 1 as x")
        .await
        .expect("temp again");
    assert!(temp_files(&server.warehouse).await > 0);
    drop(a);
    let mut left = usize::MAX;
    for _ in 0..100 {
        let schemas = tarn_tests::column::<String>(
            &b,
            "select schema_name from information_schema.schemata \
             where schema_name like 'pg_temp_%'",
        )
        .await;
        left = temp_files(&server.warehouse).await;
        if schemas.is_empty() && left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "temporary files left after the session ended");
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select count(*)::int from t").await,
        vec![3]
    );
}

/// dbt's table materialization, while another connection queries the table in a
/// loop: every query answers, with the old rows or the new, never an error or none.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_a_table_swapped_in_a_transaction_is_never_missing_for_readers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let writer = server.client().await;
    writer
        .batch_execute("create table model as select value as id, 0 as gen from range(1000)")
        .await
        .expect("first build");
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let client = server.client().await;
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            let mut generations = std::collections::BTreeSet::new();
            let mut queries = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let row = client
                    .query_one("select count(*), min(gen), max(gen) from model", &[])
                    .await
                    .unwrap_or_else(|e| panic!("reader query {queries} failed: {e:?}"));
                let (n, lo, hi): (i64, i32, i32) = (row.get(0), row.get(1), row.get(2));
                assert_eq!(n, 1000, "reader saw {n} rows at query {queries}");
                assert_eq!(lo, hi, "reader saw two builds mixed");
                generations.insert(lo);
                queries += 1;
            }
            (queries, generations)
        })
    };
    const BUILDS: i32 = 12;
    for generation in 1..=BUILDS {
        // What dbt-postgres 1.11 sends for a table model (../shared/client-traces).
        writer
            .batch_execute(&format!(
                "begin;
                 create table \"tarn\".\"public\".\"model__dbt_tmp\" as (
                     select value as id, {generation} as gen from range(1000));
                 alter table \"tarn\".\"public\".\"model\" rename to \"model__dbt_backup\";
                 alter table \"tarn\".\"public\".\"model__dbt_tmp\" rename to \"model\";
                 commit;
                 drop table if exists \"tarn\".\"public\".\"model__dbt_backup\" cascade;"
            ))
            .await
            .unwrap_or_else(|e| panic!("build {generation}: {e:?}"));
    }
    // Let the reader run a little past the last swap.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let (queries, generations) = reader.await.expect("reader");
    assert!(queries >= 10, "the reader ran only {queries} queries");
    assert!(
        generations.len() >= 2,
        "the reader saw only builds {generations:?}"
    );
    assert!(generations.contains(&BUILDS), "{generations:?}");
    let names = tarn_tests::column::<String>(
        &writer,
        "select table_name from information_schema.tables where table_schema = 'public' \
         order by 1",
    )
    .await;
    assert_eq!(names, vec!["model"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_rollback_undoes_catalog_changes_and_commit_publishes_drops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let a = server.client().await;
    let b = server.client().await;
    a.batch_execute(
        "create table keep as select 1 as v;
         create view keep_v as select v + 1 as w from keep;",
    )
    .await
    .expect("setup");

    a.batch_execute(
        "begin;
         create table fresh as select 5 as v;
         alter table keep rename to keep_old;
         alter table fresh rename to keep;
         drop view keep_v;",
    )
    .await
    .expect("changes in a block");
    // Inside the block: the session sees its changes...
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from keep").await,
        vec![5]
    );
    let err = a
        .simple_query("select * from keep_v")
        .await
        .expect_err("dropped in this block");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    a.batch_execute("rollback").await.expect("rollback");
    // ...and after ROLLBACK nothing of it is left.
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from keep").await,
        vec![1]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select w from keep_v").await,
        vec![2]
    );
    let names = tarn_tests::column::<String>(
        &b,
        "select table_name from information_schema.tables where table_schema = 'public' \
         order by 1",
    )
    .await;
    assert_eq!(names, vec!["keep", "keep_v"]);

    // A DROP inside a block: other sessions read the table until COMMIT (and, with
    // CASCADE, the view that uses it).
    a.batch_execute("begin; drop table keep cascade;")
        .await
        .expect("drop in a block");
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from keep").await,
        vec![1]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select w from keep_v").await,
        vec![2]
    );
    a.batch_execute("commit").await.expect("commit");
    for dropped in ["keep", "keep_v"] {
        let err = b
            .simple_query(&format!("select * from {dropped}"))
            .await
            .expect_err("dropped at commit");
        assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE), "{dropped}");
    }

    // A session that ends inside a block rolls back.
    a.batch_execute("create table lasting as select 1 as v; begin; drop table lasting;")
        .await
        .expect("open block");
    drop(a);
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = tarn_tests::column::<i32>(&b, "select v from lasting").await;
        if seen == vec![1] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, vec![1]);
}

/// A table or view dropped in a block can be created again in it, as dbt's `seed
/// --full-refresh` and `--store-failures` do (`drop table if exists x cascade; create
/// table x ...`; refused before, 0A000): the name is never missing for other
/// sessions, ROLLBACK puts the old table back, and no staging name shows in the
/// catalog.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_a_name_dropped_in_a_block_can_be_created_again_in_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let a = server.client().await;
    let b = server.client().await;
    a.batch_execute("create table seed as select 1 as v; create view seen as select 1 as w;")
        .await
        .expect("setup");

    a.batch_execute(
        "begin;
         drop table if exists seed cascade;
         create table seed (v int, note text);
         insert into seed values (2, 'new');
         drop view seen;
         create view seen as select 2 as w;",
    )
    .await
    .expect("drop and create again in a block");
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select v from seed").await,
        vec![2]
    );
    // Another session finds the name throughout (the new table from the CREATE on:
    // no isolation between sessions, as for rows).
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from seed").await,
        vec![2]
    );
    a.batch_execute("rollback").await.expect("rollback");
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from seed").await,
        vec![1]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select w from seen").await,
        vec![1]
    );

    a.batch_execute(
        "begin;
         drop table if exists seed cascade;
         create table seed as select 3 as v, 'x' as note;
         commit;",
    )
    .await
    .expect("drop and create again, committed");
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from seed").await,
        vec![3]
    );
    let names = tarn_tests::column::<String>(
        &b,
        "select table_name from information_schema.tables where table_schema = 'public' \
         order by 1",
    )
    .await;
    assert_eq!(names, vec!["seed", "seen"]);
}

/// Files of a dropped table outlive its entry for `dropped_files_kept`, then go.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_6_dropped_tables_files_are_kept_for_readers_then_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warehouse = dir.path().join("wh");
    let config = tarn_tests::config_from_toml(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = \"{}\"\ndropped_files_kept = \"2s\"\n",
            warehouse.display()
        ),
    );
    let server = TestServer::start_with(config).await;
    let client = server.client().await;
    client
        .batch_execute("create table d as select value from range(10); drop table d;")
        .await
        .expect("create and drop");
    let public = warehouse.join("public");
    let files = count_files(&public).await;
    assert!(files > 0, "files went at once");
    let mut left = files;
    for _ in 0..100 {
        left = count_files(&public).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "files still there 10 s after a 2 s grace");
    let retired = count_files(&warehouse.join("_tarn/retired")).await;
    assert_eq!(retired, 0, "the retired-files record stays");
}

/// ROLLBACK takes back exactly the block's own row changes: another session's INSERT
/// into the same table between them stays, a row the block deleted comes back, and
/// the undo is one commit. A block whose rows another session rewrote since (an
/// UPDATE of them) cannot take those back: ROLLBACK says so with 40001, ends the
/// block, and undoes the rest. A session that closes inside a block is rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_rollback_takes_back_only_the_blocks_own_row_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let a = server.client().await;
    let b = server.client().await;
    a.batch_execute("create table ev (id int, v int); insert into ev values (1, 10), (2, 20)")
        .await
        .expect("setup");
    a.batch_execute("begin; insert into ev values (3, 30), (4, 40)")
        .await
        .expect("insert in a block");
    b.batch_execute("insert into ev values (100, 0)")
        .await
        .expect("another session's insert");
    a.batch_execute("delete from ev where id = 1; update ev set v = v + 1 where id = 2")
        .await
        .expect("delete and update in the block");
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select id from ev order by id").await,
        vec![2, 3, 4, 100]
    );
    a.batch_execute("rollback").await.expect("rollback");
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select id from ev order by id").await,
        vec![1, 2, 100]
    );
    assert_eq!(
        tarn_tests::column::<i32>(&b, "select v from ev order by id").await,
        vec![10, 20, 0]
    );

    // Rows the block wrote, then rewritten by another session: not all can go back.
    a.batch_execute("begin; insert into ev values (5, 50); insert into ev values (6, 60)")
        .await
        .expect("inserts in a block");
    b.batch_execute("update ev set v = v + 1 where id = 5")
        .await
        .expect("another session rewrites the block's rows");
    let err = a
        .simple_query("rollback")
        .await
        .expect_err("cannot take back row 5");
    assert_eq!(
        err.code(),
        Some(&SqlState::T_R_SERIALIZATION_FAILURE),
        "{err:?}"
    );
    let message = err
        .as_db_error()
        .map(|e| e.message().to_owned())
        .unwrap_or_default();
    assert!(message.contains("another session rewrote"), "{message}");
    // The block has ended; row 6 (its own file) is gone, row 5 as rewritten stays.
    assert_eq!(
        tarn_tests::column::<i32>(&a, "select id from ev order by id").await,
        vec![1, 2, 5, 100]
    );

    // A session that closes inside a block takes its rows with it.
    a.batch_execute("begin; insert into ev values (7, 70)")
        .await
        .expect("open block");
    drop(a);
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = tarn_tests::column::<i32>(&b, "select id from ev order by id").await;
        if seen == vec![1, 2, 5, 100] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, vec![1, 2, 5, 100]);
}

/// An isolation level above read committed is refused (0A000), however it is asked
/// for: `BEGIN`/`START TRANSACTION ... ISOLATION LEVEL`, `SET TRANSACTION`, `SET SESSION
/// CHARACTERISTICS`, `SET default_transaction_isolation`. Tarn accepted them all and ran
/// at read committed, promising what it does not do. Read committed and read
/// uncommitted (which PostgreSQL runs as read committed) are accepted, a level that
/// is none is 22023 as in PostgreSQL, and the session goes on after each refusal.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_isolation_levels_tarn_does_not_give_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let code = |r: Result<(), tokio_postgres::Error>| r.err().and_then(|e| e.code().cloned());
    for refused in [
        "begin isolation level serializable",
        "start transaction isolation level repeatable read, read only",
        "set session characteristics as transaction isolation level serializable",
        "set default_transaction_isolation = 'serializable'",
        "set transaction_isolation = 'repeatable read'",
    ] {
        assert_eq!(
            code(client.batch_execute(refused).await),
            Some(SqlState::FEATURE_NOT_SUPPORTED),
            "{refused}"
        );
    }
    // A refused BEGIN started no block.
    let status = client
        .simple_query("show transaction_isolation")
        .await
        .expect("show");
    assert!(
        matches!(&status[..], [tokio_postgres::SimpleQueryMessage::RowDescription(_), tokio_postgres::SimpleQueryMessage::Row(row), ..] if row.get(0) == Some("read committed"))
    );
    client
        .batch_execute("begin isolation level read committed; select 1; commit")
        .await
        .expect("read committed");
    client
        .batch_execute(
            "start transaction isolation level read uncommitted; commit; \
             set session characteristics as transaction isolation level read uncommitted; \
             set default_transaction_isolation = 'read committed'",
        )
        .await
        .expect("read uncommitted");
    client.batch_execute("begin").await.expect("begin");
    assert_eq!(
        code(
            client
                .batch_execute("set transaction isolation level serializable")
                .await
        ),
        Some(SqlState::FEATURE_NOT_SUPPORTED)
    );
    client.batch_execute("rollback").await.expect("rollback");
    assert_eq!(
        code(
            client
                .batch_execute("set default_transaction_isolation = 'foo'")
                .await
        ),
        Some(SqlState::INVALID_PARAMETER_VALUE)
    );
    server.stop().await;
}
