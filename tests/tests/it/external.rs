//! External tables (issue #3): files read in place, locations confined to the
//! warehouse and `warehouse.allowed_locations`.

use tarn_server::config::{Config, RawConfig};
use tarn_tests::TestServer;
use tokio_postgres::error::SqlState;

fn config(warehouse: &std::path::Path, allowed: &[&std::path::Path]) -> Config {
    let mut raw = RawConfig::default();
    raw.server.listen = "127.0.0.1:0".to_owned();
    raw.warehouse.url = warehouse.display().to_string();
    raw.warehouse.allowed_locations = allowed.iter().map(|p| p.display().to_string()).collect();
    Config::validate(raw).expect("config")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_external_csv_table_reads_files_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("landing/crimes");
    std::fs::create_dir_all(&raw).expect("mkdir");
    std::fs::write(raw.join("a.csv"), "id,city,amount\n1,Oslo,12.5\n2,Lima,7\n").expect("write");
    std::fs::write(raw.join("b.csv"), "id,city,amount\n3,Pune,1.25\n").expect("write");
    let warehouse = dir.path().join("wh");
    let landing = dir.path().join("landing");
    let server = TestServer::start_with(config(&warehouse, &[&landing])).await;
    let client = server.client().await;
    client
        .batch_execute(&format!(
            "create external table crimes stored as csv options ('header' 'true') location '{}/'",
            raw.display()
        ))
        .await
        .expect("create external");
    let total: f64 = client
        .query_one("select sum(amount) from crimes", &[])
        .await
        .expect("sum")
        .get(0);
    assert_eq!(total, 20.75);
    // New files are seen by the next query: nothing was copied.
    std::fs::write(raw.join("c.csv"), "id,city,amount\n4,Kyiv,0.25\n").expect("write");
    let n: i64 = client
        .query_one("select count(*) from crimes", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 4);
    // A managed Delta table made from it survives the external table's drop.
    client
        .batch_execute(
            "create table clean as select id, upper(city) as city from crimes; drop table crimes;",
        )
        .await
        .expect("ctas and drop");
    assert!(
        raw.join("a.csv").exists(),
        "dropping an external table leaves its files"
    );
    let n: i64 = client
        .query_one("select count(*) from clean", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_locations_outside_the_allowed_roots_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warehouse = dir.path().join("wh");
    let server = TestServer::start_with(config(&warehouse, &[])).await;
    let client = server.client().await;
    for location in [
        "/etc/",
        "file:///etc/passwd",
        &format!("{}/../secret/", warehouse.display()),
    ] {
        let err = client
            .batch_execute(&format!(
                "create external table x stored as csv location '{location}'"
            ))
            .await
            .expect_err(location);
        assert_eq!(
            err.code(),
            Some(&SqlState::INSUFFICIENT_PRIVILEGE),
            "{location}: {err:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_external_delta_table_is_registered_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warehouse = dir.path().join("wh");
    let server = TestServer::start_with(config(&warehouse, &[])).await;
    let client = server.client().await;
    client
        .batch_execute("create table src as select value as v from range(5)")
        .await
        .expect("managed table");
    // Find the managed table's folder and register it a second time, as external.
    let folder = std::fs::read_dir(warehouse.join("public"))
        .expect("public folder")
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("src-"))
        .expect("table folder")
        .path();
    client
        .batch_execute(&format!(
            "create external table ext stored as delta location '{}'",
            folder.display()
        ))
        .await
        .expect("external delta");
    let n: rust_decimal::Decimal = client
        .query_one("select sum(v) from ext", &[])
        .await
        .expect("sum")
        .get(0);
    assert_eq!(n, rust_decimal::Decimal::from(10));
    client
        .batch_execute("drop table ext")
        .await
        .expect("drop external");
    assert!(
        folder.join("_delta_log").exists(),
        "external Delta files stay"
    );
    let n: i64 = client
        .query_one("select count(*) from src", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(n, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_external_avro_table_reads_files_another_writer_made() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    let events = landing.join("reports");
    // fastavro writes part-0.avro (deflate: ids 1 and 2, city of 2 NULL) and
    // part-1.avro (no codec: id 3), see tests/python/avro_files.py.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/avro_files.py");
    let status = std::process::Command::new(tarn_tests::tools::venv_bin("python"))
        .arg(script)
        .arg(&events)
        .status()
        .expect("run avro_files.py (fastavro from tests/requirements.txt)");
    assert!(status.success(), "avro_files.py failed");
    let server = TestServer::start_with(config(&dir.path().join("wh"), &[&landing])).await;
    let client = server.client().await;
    client
        .batch_execute(&format!(
            "create external table reports stored as avro location '{}/'",
            events.display()
        ))
        .await
        .expect("create external avro table");
    let rows = client
        .query(
            "select id, city, amount, reported, cleared from reports order by id",
            &[],
        )
        .await
        .expect("select");
    // Avro's timestamp-micros is an instant: timestamptz.
    let at = |day: u32, hour: u32| {
        chrono::NaiveDate::from_ymd_opt(2024, 3, day)
            .and_then(|d| d.and_hms_opt(hour, 0, 0))
            .expect("date")
            .and_utc()
    };
    let got: Vec<(
        i64,
        Option<String>,
        f64,
        chrono::DateTime<chrono::Utc>,
        bool,
    )> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some("Chicago".to_owned()), 10.5, at(1, 9), true),
            (2, None, 2.25, at(2, 10), false),
            (3, Some("Seattle".to_owned()), 100.0, at(3, 11), false),
        ]
    );
    // Its definition survives a restart, and it feeds a managed Delta table.
    drop(client);
    server.stop().await;
    let server = TestServer::start_with(config(&dir.path().join("wh"), &[&landing])).await;
    let client = server.client().await;
    client
        .batch_execute("create table cleared as select id from reports where cleared")
        .await
        .expect("ctas from avro");
    let ids: Vec<i64> = client
        .query("select id from cleared", &[])
        .await
        .expect("select")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1]);
}
