//! Password authentication (SCRAM-SHA-256) against hashed secrets in the config.

use tarn_server::auth::Secret;
use tarn_tests::{TestServer, config_from_toml};
use tokio_postgres::error::SqlState;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_2_password_auth_accepts_the_right_password_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = Secret::hash("correct horse").to_stored();
    let config = config_from_toml(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = \"{}\"\n[auth]\nmethod = \"password\"\n[[auth.users]]\nname = \"alice\"\npassword = \"{secret}\"\n",
            dir.path().join("wh").display()
        ),
    );
    let server = TestServer::start_with(config).await;
    let base = format!("host=127.0.0.1 port={} dbname=tarn", server.addr.port());

    let (client, connection) = tokio_postgres::connect(
        &format!("{base} user=alice password='correct horse'"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("right password");
    tokio::spawn(connection);
    let one: i32 = client
        .query_one("select 1::int", &[])
        .await
        .expect("query")
        .get(0);
    assert_eq!(one, 1);

    let err = tokio_postgres::connect(
        &format!("{base} user=alice password=wrong"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("wrong password refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");

    let err = tokio_postgres::connect(
        &format!("{base} user=mallory password=x"),
        tokio_postgres::NoTls,
    )
    .await
    .err()
    .expect("unknown user refused");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PASSWORD), "{err:?}");
}
