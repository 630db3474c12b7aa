//! The warehouse on S3 (issue #3), against a real S3 server (moto) on 127.0.0.1: the
//! same statements as on a local folder, a restart, and two servers racing on DDL.

use tarn_server::config::{Config, RawConfig};
use tarn_tests::TestServer;
use tarn_tests::s3::S3Server;
use tokio_postgres::error::SqlState;

fn s3_config(s3: &S3Server, bucket: &str) -> Config {
    let mut raw = RawConfig::default();
    raw.server.listen = "127.0.0.1:0".to_owned();
    raw.warehouse.url = format!("s3://{bucket}/lake");
    raw.warehouse.storage = s3.storage_options().into_iter().collect();
    Config::validate(raw).expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_warehouse_on_s3_survives_restart() {
    let s3 = S3Server::start();
    s3.create_bucket("tarn-wh");
    let server = TestServer::start_with(s3_config(&s3, "tarn-wh")).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create schema sales;
             create table sales.orders (id bigint, city text, amount double precision) partitioned by (city);
             insert into sales.orders values (1, 'oslo', 1.5), (2, 'lima', 2.5), (3, 'oslo', 4.0);
             update sales.orders set amount = amount * 2 where city = 'oslo';
             delete from sales.orders where id = 2;
             create table sales.summary as select city, sum(amount) as total from sales.orders group by city;",
        )
        .await
        .expect("DDL and DML on S3");
    drop(client);
    server.stop().await;

    let server = TestServer::start_with(s3_config(&s3, "tarn-wh")).await;
    let client = server.client().await;
    let rows: Vec<(String, f64)> = client
        .query("select city, total from sales.summary order by city", &[])
        .await
        .expect("after restart")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows, vec![("oslo".to_owned(), 11.0)]);
    let n: i64 = client
        .query_one("select count(*) from \"sales\".\"orders@v1\"", &[])
        .await
        .expect("time travel on S3")
        .get(0);
    assert_eq!(n, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_two_servers_racing_on_one_s3_warehouse() {
    let s3 = S3Server::start();
    s3.create_bucket("tarn-race");
    let a = TestServer::start_with(s3_config(&s3, "tarn-race")).await;
    let b = TestServer::start_with(s3_config(&s3, "tarn-race")).await;
    let (ca, cb) = (a.client().await, b.client().await);
    // Different names from both servers: all survive.
    let (ra, rb) = tokio::join!(
        async {
            for i in 0..5 {
                ca.batch_execute(&format!("create table a{i} as select {i} as v"))
                    .await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        },
        async {
            for i in 0..5 {
                cb.batch_execute(&format!("create table b{i} as select {i} as v"))
                    .await?;
            }
            Ok::<_, tokio_postgres::Error>(())
        }
    );
    ra.expect("server a");
    rb.expect("server b");
    for i in 0..5 {
        for prefix in ["a", "b"] {
            // `select 3 as v` makes an integer column, as in PostgreSQL.
            let v: i32 = cb
                .query_one(&format!("select v from {prefix}{i}"), &[])
                .await
                .expect("table from either server")
                .get(0);
            assert_eq!(v, i);
        }
    }
    // The same name from both: exactly one wins, the other gets 42P07.
    let (ra, rb) = tokio::join!(
        ca.batch_execute("create table same as select 'a' as who"),
        cb.batch_execute("create table same as select 'b' as who")
    );
    let outcomes = [ra, rb];
    let wins = outcomes.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{outcomes:?}");
    let loser = outcomes
        .iter()
        .find_map(|r| r.as_ref().err())
        .expect("one error");
    assert_eq!(loser.code(), Some(&SqlState::DUPLICATE_TABLE), "{loser:?}");
    let who: String = ca
        .query_one("select who from same", &[])
        .await
        .expect("winner")
        .get(0);
    assert!(who == "a" || who == "b");
}
