//! Views (issue #3): stored in the lake's metastore, planned when used, kept across
//! restarts.

use tarn_tests::TestServer;
use tokio_postgres::error::SqlState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_views_persist_and_follow_their_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create schema s;
             create table s.u (id bigint);
             insert into s.u values (1), (2);
             create view s.v as select id * 10 as x from s.u;
             create view s.v2 as select x from s.v where x > 10;",
        )
        .await
        .expect("setup");
    assert_eq!(
        tarn_tests::column::<i64>(&client, "select x from s.v2").await,
        vec![20]
    );
    client
        .batch_execute("insert into s.u values (3)")
        .await
        .expect("insert");
    assert_eq!(
        tarn_tests::column::<i64>(&client, "select x from s.v2 order by x").await,
        vec![20, 30]
    );
    client
        .batch_execute("create or replace view s.v as select id * 100 as x from s.u")
        .await
        .expect("replace");
    assert_eq!(
        tarn_tests::column::<i64>(&client, "select x from s.v2 order by x").await,
        vec![100, 200, 300]
    );

    let err = client
        .batch_execute("drop table s.v")
        .await
        .expect_err("a view");
    assert_eq!(err.code(), Some(&SqlState::WRONG_OBJECT_TYPE));
    let err = client
        .batch_execute("create view s.u as select 1")
        .await
        .expect_err("a table");
    assert_eq!(err.code(), Some(&SqlState::WRONG_OBJECT_TYPE));
    let err = client
        .batch_execute("create view s.v2 as select 1")
        .await
        .expect_err("exists");
    assert_eq!(err.code(), Some(&SqlState::DUPLICATE_TABLE));

    drop(client);
    server.stop().await;
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    assert_eq!(
        tarn_tests::column::<i64>(&client, "select x from s.v2 order by x").await,
        vec![100, 200, 300]
    );
    client
        .batch_execute("drop view s.v2")
        .await
        .expect("drop view");
    let err = client
        .simple_query("select * from s.v2")
        .await
        .expect_err("dropped");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_TABLE));
    client
        .batch_execute("drop view if exists s.v2")
        .await
        .expect("if exists");
}
