//! Object stores beyond local disk and S3 (issue #3): the warehouse on Azure Blob
//! Storage (Azurite), external tables in configured buckets on Azure and GCS
//! (fake-gcs-server), per-bucket options from `[storage."<url>"]` in tarn.toml, and
//! a clear, secret-free 42501 when a bucket refuses the credentials.
//!
//! fake-gcs-server has no XML upload API (object_store writes through it), so on GCS
//! only reads and listings are tested: the objects are laid out before it starts.

use tarn_tests::cloud::{Azurite, FakeGcs};
use tarn_tests::{TestServer, config_from_toml};
use tokio_postgres::error::SqlState;

/// A tarn.toml `[storage."<bucket>"]` section.
fn storage_section(bucket: &str, options: &std::collections::HashMap<String, String>) -> String {
    let mut section = format!("[storage.\"{bucket}\"]\n");
    let mut keys: Vec<_> = options.iter().collect();
    keys.sort();
    for (key, value) in keys {
        section.push_str(&format!("{key} = {value:?}\n"));
    }
    section
}

fn toml(warehouse: &str, sections: &[String]) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = {warehouse:?}\n{}",
        sections.join("")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_warehouse_on_azure_survives_restart() {
    let azurite = Azurite::start();
    azurite.create_container("lake");
    let dir = tempfile::tempdir().expect("tempdir");
    // The warehouse's options come from its bucket's section.
    let text = toml(
        "az://lake/wh",
        &[storage_section("az://lake", &azurite.storage_options())],
    );
    let server = TestServer::start_with(config_from_toml(dir.path(), &text)).await;
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
        .expect("DDL and DML on Azure");
    drop(client);
    server.stop().await;

    let server = TestServer::start_with(config_from_toml(dir.path(), &text)).await;
    let client = server.client().await;
    let rows: Vec<(String, f64)> = tarn_tests::pairs(
        &client,
        "select city, total from sales.summary order by city",
    )
    .await;
    assert_eq!(rows, vec![("oslo".to_owned(), 11.0)]);
    let n: Vec<i64> = tarn_tests::column(&client, "select count(*) from sales.\"orders@v1\"").await;
    assert_eq!(n, vec![3], "time travel on Azure");
    // Same name twice: one clear error, the first table intact.
    let err = client
        .batch_execute("create table sales.summary (x int)")
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Some(&SqlState::DUPLICATE_TABLE));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_external_tables_in_configured_azure_containers() {
    let azurite = Azurite::start();
    azurite.create_container("raw");
    azurite.create_container("locked");
    let dir = tempfile::tempdir().expect("tempdir");
    // Files land in the `raw` container through a warehouse-independent writer: a
    // first Tarn server whose warehouse is that container.
    let landing = toml(
        "az://raw/landing",
        &[storage_section("az://raw", &azurite.storage_options())],
    );
    let writer = TestServer::start_with(config_from_toml(dir.path(), &landing)).await;
    writer
        .client()
        .await
        .batch_execute(
            "create table trips as select * from (values (1, 'Oslo', 12.5), (2, 'Lima', 7.0)) v(id, city, fare)",
        )
        .await
        .expect("write a Delta table into az://raw");
    writer.stop().await;
    let trips_location = {
        let entry = read_catalog_entry(
            &azurite,
            "raw",
            "landing/_tarn/catalog/tables/public/trips.json",
        )
        .await;
        format!(
            "az://raw/landing/{}",
            entry["location"].as_str().expect("location")
        )
    };

    // The server under test keeps its warehouse on local disk; `raw` is a configured
    // bucket (so an allowed location); `locked` is configured with a wrong key.
    let mut wrong = azurite.storage_options_with_key(
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
    );
    wrong.insert("max_retries".to_owned(), "1".to_owned());
    let text = toml(
        &dir.path().join("wh").display().to_string(),
        &[
            storage_section("az://raw", &azurite.storage_options()),
            storage_section("az://locked", &wrong),
        ],
    );
    let server = TestServer::start_with(config_from_toml(dir.path(), &text)).await;
    let client = server.client().await;
    client
        .batch_execute(&format!(
            "create external table trips stored as delta location '{trips_location}'"
        ))
        .await
        .expect("external Delta table in a configured container");
    let fares: Vec<f64> =
        tarn_tests::column(&client, "select fare::float8 from trips order by id").await;
    assert_eq!(fares, vec![12.5, 7.0]);
    client
        .batch_execute("insert into trips values (3, 'Pune', 3.25)")
        .await
        .expect("write in place");
    let n: Vec<i64> = tarn_tests::column(&client, "select count(*) from trips").await;
    assert_eq!(n, vec![3]);

    let err = client
        .batch_execute("create external table secret stored as delta location 'az://locked/t/'")
        .await
        .expect_err("wrong key");
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code(), &SqlState::INSUFFICIENT_PRIVILEGE, "{db:?}");
    assert!(
        !db.message().contains("AAAAAAAA")
            && !db.message().contains(tarn_tests::cloud::AZURITE_KEY),
        "no secret in the message: {}",
        db.message()
    );
    // Unconfigured containers are not allowed locations.
    let err = client
        .batch_execute("create external table other stored as csv location 'az://elsewhere/x/'")
        .await
        .expect_err("not allowed");
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let n: Vec<i64> = tarn_tests::column(&client, "select count(*) from trips").await;
    assert_eq!(n, vec![3], "the session goes on");
}

/// Reads a JSON object from Azurite through object_store, as Tarn does.
async fn read_catalog_entry(azurite: &Azurite, container: &str, path: &str) -> serde_json::Value {
    use object_store::ObjectStoreExt;
    let mut builder =
        object_store::azure::MicrosoftAzureBuilder::new().with_container_name(container);
    for (key, value) in azurite.storage_options() {
        builder = builder.with_config(key.parse().expect("azure key"), value);
    }
    let store = builder.build().expect("azure store");
    let bytes = store
        .get(&object_store::path::Path::from(path))
        .await
        .expect("catalog entry")
        .bytes()
        .await
        .expect("read");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_external_tables_on_gcs_read_and_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A Delta table written by Tarn on local disk, then laid out in the bucket with
    // two CSV files in a folder.
    let local = dir.path().join("local");
    let writer = TestServer::start(&local).await;
    writer
        .client()
        .await
        .batch_execute(
            "create table tracks partitioned by (genre) as
               select * from (values (1, 'rock', 210), (2, 'jazz', 340), (3, 'rock', 185)) v(id, genre, seconds)",
        )
        .await
        .expect("write locally");
    writer.stop().await;
    let entry: serde_json::Value = serde_json::from_slice(
        &std::fs::read(local.join("_tarn/catalog/tables/public/tracks.json")).expect("entry"),
    )
    .expect("json");
    let data = dir.path().join("gcs");
    let bucket = data.join("music");
    copy_dir(
        &local.join(entry["location"].as_str().expect("location")),
        &bucket.join("delta/tracks"),
    );
    std::fs::create_dir_all(bucket.join("csv/plays")).expect("mkdir");
    std::fs::write(bucket.join("csv/plays/a.csv"), "track,plays\n1,10\n2,5\n").expect("write");
    std::fs::write(bucket.join("csv/plays/b.csv"), "track,plays\n3,7\n1,1\n").expect("write");
    let gcs = FakeGcs::start(&data);

    let text = toml(
        &dir.path().join("wh").display().to_string(),
        &[storage_section("gs://music", &gcs.storage_options())],
    );
    let server = TestServer::start_with(config_from_toml(dir.path(), &text)).await;
    let client = server.client().await;
    client
        .batch_execute(
            "create external table plays stored as csv options ('header' 'true') location 'gs://music/csv/plays/';
             create external table tracks stored as delta location 'gs://music/delta/tracks/';",
        )
        .await
        .expect("external tables on GCS");
    let rows: Vec<(i64, rust_decimal::Decimal)> = tarn_tests::pairs(
        &client,
        "select track, sum(plays) from plays group by track order by track",
    )
    .await;
    let sums = [(1, 11), (2, 5), (3, 7)].map(|(t, n)| (t, rust_decimal::Decimal::from(n)));
    assert_eq!(rows, sums);
    let rows: Vec<(String, i64)> = tarn_tests::pairs(
        &client,
        "select genre, sum(seconds)::bigint from tracks group by genre order by genre",
    )
    .await;
    assert_eq!(
        rows,
        vec![("jazz".to_owned(), 340), ("rock".to_owned(), 395)]
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
