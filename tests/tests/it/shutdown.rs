//! Graceful shutdown: a statement running when the server is asked to stop either
//! commits completely or leaves nothing; the table is never half-written.

use tarn_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_shutdown_during_a_write_leaves_no_partial_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    let write = tokio::spawn(async move {
        client
            .batch_execute("create table big as select value as v from range(3000000)")
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    server.stop().await;
    let _ = write.await;

    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    match client.query_one("select count(*) from big", &[]).await {
        Ok(row) => assert_eq!(
            row.get::<_, i64>(0),
            3_000_000,
            "a committed table is complete"
        ),
        Err(e) => assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE),
            "an interrupted write leaves no table: {e:?}"
        ),
    }
}
