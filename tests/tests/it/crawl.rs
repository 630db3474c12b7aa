//! The crawler (issue #4) on data like our users': crime reports from three cities
//! with different schemas and `MM/dd/yyyy hh:mm:ss a` timestamps, messy e-commerce
//! orders, a hive-partitioned folder, a headerless folder, JSON lines, a gzip CSV, a
//! Delta table written by the `deltalake` package, and a junk binary file; then a
//! partition with an extra column that arrives in a later crawl.

use std::io::Write;
use std::path::Path;

use tarn_server::config::{Config, RawConfig};
use tarn_tests::{TestServer, column, pairs, peer};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::SqlState;

fn write(path: &Path, body: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, body).expect("write");
}

/// Lays out the raw landing zone under `raw`.
pub fn landing_zone(raw: &Path) {
    write(
        &raw.join("crimes/chicago/2024-01.csv"),
        b"\xef\xbb\xbfID,Case Number,Date,Primary Type,Arrest,Latitude\n\
          1,JA100001,01/15/2024 08:30:00 PM,THEFT,true,41.7512\n\
          2,JA100002,01/16/2024 11:05:12 AM,BATTERY,false,41.8801\n\
          3,JA100003,01/16/2024 12:00:00 AM,THEFT,false,\n",
    );
    write(
        &raw.join("crimes/chicago/2024-02.csv"),
        b"ID,Case Number,Date,Primary Type,Arrest,Latitude\n\
          4,JA100004,02/01/2024 07:45:00 PM,ROBBERY,true,41.79\n",
    );
    write(
        &raw.join("crimes/los_angeles/crimes.csv"),
        b"DR_NO,Date Rptd,AREA NAME,Crm Cd Desc,Vict Age\n\
          240100001,03/02/2024 12:00:00 AM,Central,VEHICLE - STOLEN,34\n\
          240100002,03/05/2024 12:00:00 AM,Hollywood,BURGLARY,0\n",
    );
    write(
        &raw.join("crimes/nyc/complaints.csv"),
        b"CMPLNT_NUM,RPT_DT,BORO_NM,OFNS_DESC\n\
          100,12/31/2023 23:05,BROOKLYN,PETIT LARCENY\n\
          101,1/2/2024 8:15,QUEENS,HARRASSMENT 2\n",
    );
    write(
        &raw.join("orders/orders.csv"),
        b"order_id , Customer Name,amount,status,order_date\n\
          1001,Ann Lee,19.99,shipped,2024-03-01\n\
          1002,  bo smith ,5.00,SHIPED,2024-03-02\n\
          1003,,12.50,,2024-03-02\n\
          1003,,12.50,,2024-03-02\n\
          1004,Cy,,pending,\n",
    );
    for (year, month, rows) in [
        ("2023", "12", "1,tent,120.00\n2,stove,45.50\n"),
        ("2024", "01", "3,tent,125.00\n"),
    ] {
        write(
            &raw.join(format!("sales/year={year}/month={month}/part-0.csv")),
            format!("sale_id,item,price\n{rows}").as_bytes(),
        );
    }
    write(
        &raw.join("customers/a.txt"),
        b"1|alice|2024-01-05\n2|bob|2024-02-11\n",
    );
    write(&raw.join("customers/b.txt"), b"3|carol|2024-03-20\n");
    write(
        &raw.join("tracks/tracks.jsonl"),
        b"{\"track_id\": 1, \"title\": \"Intro\", \"ms\": 61000, \"explicit\": false}\n\
          {\"track_id\": 2, \"title\": \"Song\", \"ms\": 215500, \"explicit\": true}\n",
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"rental_id,car,days,daily_rate\n1,Civic,3,39.90\n2,Golf,1,45.00\n")
        .expect("gzip");
    write(
        &raw.join("rentals/rentals.csv.gz"),
        &gz.finish().expect("gzip"),
    );
    write(
        &raw.join("junk/blob.bin"),
        &[0u8, 159, 146, 150, 0, 255, 1, 2, 3, 0],
    );
    write(&raw.join("sales/_SUCCESS"), b"");
    peer::delta_peer(&[
        "write",
        &raw.join("payments").display().to_string(),
        "partitioned",
    ]);
}

fn config(warehouse: &Path, allowed: &Path) -> Config {
    let mut raw = RawConfig::default();
    raw.server.listen = "127.0.0.1:0".to_owned();
    raw.warehouse.url = warehouse.display().to_string();
    raw.warehouse.allowed_locations = vec![allowed.display().to_string()];
    Config::validate(raw).expect("config")
}

/// The CRAWL answer: (action, object, detail) rows.
pub async fn crawl(client: &tokio_postgres::Client, sql: &str) -> Vec<(String, String, String)> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"))
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((
                r.get(0).unwrap_or_default().to_owned(),
                r.get(1).unwrap_or_default().to_owned(),
                r.get(2).unwrap_or_default().to_owned(),
            )),
            _ => None,
        })
        .collect()
}

fn action<'a>(rows: &'a [(String, String, String)], object: &str) -> &'a str {
    rows.iter()
        .find(|(_, o, _)| o == object)
        .map(|(a, _, _)| a.as_str())
        .unwrap_or_else(|| panic!("no row for {object} in {rows:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_crawl_a_landing_zone_into_tables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = dir.path().join("landing/raw");
    landing_zone(&raw);
    let server =
        TestServer::start_with(config(&dir.path().join("wh"), &dir.path().join("landing"))).await;
    let client = server.client().await;
    let statement = format!("crawl '{}' into schema raw", raw.display());

    // The dry run proposes and changes nothing.
    let plan = crawl(&client, &format!("{statement} with (dry_run = true)")).await;
    for table in [
        "raw.chicago",
        "raw.los_angeles",
        "raw.nyc",
        "raw.orders",
        "raw.sales",
        "raw.customers",
        "raw.tracks",
        "raw.rentals",
        "raw.payments",
    ] {
        assert_eq!(action(&plan, table), "create", "{table} in {plan:#?}");
    }
    assert_eq!(action(&plan, "junk/blob.bin"), "skip");
    assert!(
        plan.iter()
            .any(|(a, _, d)| a == "plan" && d.contains("dry run")),
        "{plan:#?}"
    );
    let err = client
        .simple_query("select count(*) from raw.chicago")
        .await
        .expect_err("dry run created nothing");
    assert!(
        matches!(err.code(), Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::INVALID_SCHEMA_NAME),
        "{err:?}"
    );

    let applied = crawl(&client, &statement).await;
    assert_eq!(action(&applied, "raw.chicago"), "create", "{applied:#?}");

    // Timestamps written as MM/dd/yyyy hh:mm:ss a read as timestamps; the BOM and
    // spaces are not part of names.
    let dates: Vec<chrono::NaiveDateTime> =
        column(&client, "select \"date\" from raw.chicago order by id").await;
    assert_eq!(dates.len(), 4);
    assert_eq!(dates[0].to_string(), "2024-01-15 20:30:00");
    assert_eq!(dates[2].to_string(), "2024-01-16 00:00:00");
    let types: Vec<(String, String)> = pairs(
        &client,
        "select case_number, primary_type from raw.chicago where arrest order by id",
    )
    .await;
    assert_eq!(
        types,
        vec![
            ("JA100001".to_owned(), "THEFT".to_owned()),
            ("JA100004".to_owned(), "ROBBERY".to_owned())
        ]
    );
    let latitude: Vec<Option<f64>> =
        column(&client, "select latitude from raw.chicago order by id").await;
    assert_eq!(
        latitude,
        vec![Some(41.7512), Some(41.8801), None, Some(41.79)]
    );
    let la: Vec<(i64, String)> = pairs(
        &client,
        "select dr_no, area_name from raw.los_angeles order by dr_no",
    )
    .await;
    assert_eq!(la[0], (240100001, "Central".to_owned()));
    let nyc: Vec<chrono::NaiveDateTime> =
        column(&client, "select rpt_dt from raw.nyc order by cmplnt_num").await;
    assert_eq!(nyc[1].to_string(), "2024-01-02 08:15:00");

    // Messy orders: missing values are nulls, the duplicate row is still there for
    // the user to dedupe, dates are dates.
    let orders: Vec<(i64, Option<String>)> = pairs(
        &client,
        "select order_id, customer_name from raw.orders order by order_id, customer_name",
    )
    .await;
    assert_eq!(orders.len(), 5);
    assert_eq!(orders[2], (1003, None));
    let amounts: Vec<String> = column(
        &client,
        "select cast(sum(amount) as varchar) from raw.orders",
    )
    .await;
    assert_eq!(amounts, vec!["49.99".to_owned()]);

    // Hive partitions become typed columns.
    let sales: Vec<(i64, i64)> = pairs(
        &client,
        "select year, count(*) from raw.sales group by year order by year",
    )
    .await;
    assert_eq!(sales, vec![(2023, 2), (2024, 1)]);

    // Headerless text gets col1..colN; JSON lines, gzip CSV and the Delta table read.
    let customers: Vec<(String, chrono::NaiveDate)> = pairs(
        &client,
        "select col2, col3 from raw.customers order by col1",
    )
    .await;
    assert_eq!(customers.len(), 3);
    assert_eq!(customers[2].1.to_string(), "2024-03-20");
    let ms: Vec<i64> = column(&client, "select ms from raw.tracks order by track_id").await;
    assert_eq!(ms, vec![61000, 215500]);
    // sum of a bigint is numeric, as in PostgreSQL.
    let days: Vec<rust_decimal::Decimal> =
        column(&client, "select sum(days) from raw.rentals").await;
    assert_eq!(days, vec![rust_decimal::Decimal::from(4)]);
    let payments: Vec<i64> = column(&client, "select count(*) from raw.payments").await;
    assert_eq!(payments, vec![5]);

    // Nothing changed: nothing is read again.
    let again = crawl(&client, &statement).await;
    let summary = &again
        .iter()
        .find(|(a, _, _)| a == "done")
        .expect("summary")
        .2;
    assert!(summary.contains(" 0 read"), "{summary}");
    assert_eq!(action(&again, "raw.sales"), "unchanged");

    // A new partition with an extra column: the column is added, old files are not
    // read again, and old rows read it as null.
    write(
        &raw.join("sales/year=2024/month=02/part-0.csv"),
        b"sale_id,item,price,discount\n4,lamp,30.00,0.10\n",
    );
    let later = crawl(&client, &statement).await;
    let summary = &later
        .iter()
        .find(|(a, _, _)| a == "done")
        .expect("summary")
        .2;
    assert!(summary.contains(" 1 read"), "{summary}");
    assert_eq!(action(&later, "raw.sales"), "update", "{later:#?}");
    let detail = &later
        .iter()
        .find(|(_, o, _)| o == "raw.sales")
        .expect("sales")
        .2;
    assert!(
        detail.contains("discount") && detail.contains("year=2024/month=02"),
        "{detail}"
    );
    let discounts: Vec<(i64, Option<f64>)> = pairs(
        &client,
        "select sale_id, cast(discount as double) from raw.sales order by sale_id",
    )
    .await;
    assert_eq!(
        discounts,
        vec![(1, None), (2, None), (3, None), (4, Some(0.1))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_crawl_errors_are_clear_and_confined() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server =
        TestServer::start_with(config(&dir.path().join("wh"), &dir.path().join("landing"))).await;
    let client = server.client().await;
    let err = client
        .simple_query("crawl '/etc/' into schema raw")
        .await
        .expect_err("outside the allowed locations");
    assert_eq!(err.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
    let err = client
        .simple_query("crawl '/tmp/x' into raw")
        .await
        .expect_err("syntax");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    let err = client
        .simple_query(&format!(
            "crawl '{}' into schema raw with (sample_rowz = 5)",
            dir.path().join("landing").display()
        ))
        .await
        .expect_err("unknown option");
    assert_eq!(err.code(), Some(&SqlState::INVALID_PARAMETER_VALUE));
    let message = err
        .as_db_error()
        .expect("server error")
        .message()
        .to_owned();
    assert!(message.contains("sample_rowz"), "{message}");
    let n: Vec<i64> = column(&client, "select 1::bigint").await;
    assert_eq!(n, vec![1], "the session goes on");
}

/// Polls `sql` until it answers, for up to 60 s.
async fn eventually<T: tokio_postgres::types::FromSqlOwned>(
    client: &tokio_postgres::Client,
    sql: &str,
) -> Vec<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match client.query(sql, &[]).await {
            Ok(rows) => return rows.iter().map(|r| r.get(0)).collect(),
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{sql}: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_scheduled_crawler_runs_inside_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    write(
        &landing.join("trips/2024-03.csv"),
        b"trip_id,city,fare\n1,Oslo,12.5\n2,Lima,7.25\n",
    );
    write(&landing.join("trips/draft.tmp"), b"not data");
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = {:?}\nallowed_locations = [{:?}]\n\
         [[crawlers]]\nname = \"landing\"\nlocation = {:?}\nschema = \"raw\"\nevery = \"1h\"\n\
         [crawlers.options]\nexclude = [\"**/*.tmp\"]\n",
        dir.path().join("wh").display().to_string(),
        landing.display().to_string(),
        landing.display().to_string(),
    );
    let server = TestServer::start_with(tarn_tests::config_from_toml(dir.path(), &toml)).await;
    let client = server.client().await;
    let fares: Vec<f64> =
        eventually(&client, "select cast(sum(fare) as double) from raw.trips").await;
    assert_eq!(fares, vec![19.75]);
    // The run's record (and, on the first run, the table holding it) is written
    // after its tables are registered: wait for it, then make sure no second run
    // follows.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let recorded_runs = || async {
        match client.query("select count(*) from tarn.crawls", &[]).await {
            Ok(rows) => rows.iter().map(|r| r.get(0)).collect::<Vec<i64>>(),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                vec![0]
            }
            Err(e) => panic!("select count(*) from tarn.crawls: {e}"),
        }
    };
    let mut runs = recorded_runs().await;
    while runs == vec![0] && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        runs = recorded_runs().await;
    }
    assert_eq!(runs, vec![1], "one run at start");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let runs: Vec<i64> = column(&client, "select count(*) from tarn.crawls").await;
    assert_eq!(runs, vec![1], "one run at start; the next in an hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_crawl_an_s3_prefix() {
    use object_store::ObjectStoreExt;
    let s3 = tarn_tests::s3::S3Server::start();
    s3.create_bucket("landing");
    let dir = tempfile::tempdir().expect("tempdir");
    let local = dir.path().join("raw");
    landing_zone(&local);
    let mut builder = object_store::aws::AmazonS3Builder::new().with_bucket_name("landing");
    for (key, value) in s3.storage_options() {
        builder = builder.with_config(key.parse().expect("s3 key"), value);
    }
    let store = builder.build().expect("s3 store");
    let mut pending = vec![local.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let key = path
                .strip_prefix(&local)
                .expect("under raw")
                .to_string_lossy()
                .replace('\\', "/");
            store
                .put(
                    &object_store::path::Path::from(format!("raw/{key}")),
                    std::fs::read(&path).expect("read").into(),
                )
                .await
                .expect("upload");
        }
    }
    let mut section = String::from("[storage.\"s3://landing\"]\n");
    for (key, value) in s3.storage_options() {
        section.push_str(&format!("{key} = {value:?}\n"));
    }
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[warehouse]\nurl = {:?}\n{section}",
        dir.path().join("wh").display().to_string()
    );
    let server = TestServer::start_with(tarn_tests::config_from_toml(dir.path(), &toml)).await;
    let client = server.client().await;
    let rows = crawl(&client, "crawl 's3://landing/raw/' into schema raw").await;
    for table in [
        "raw.chicago",
        "raw.sales",
        "raw.payments",
        "raw.tracks",
        "raw.rentals",
    ] {
        assert_eq!(action(&rows, table), "create", "{table}: {rows:#?}");
    }
    let dates: Vec<chrono::NaiveDateTime> =
        column(&client, "select \"date\" from raw.chicago order by id").await;
    assert_eq!(dates[0].to_string(), "2024-01-15 20:30:00");
    let sales: Vec<(i64, i64)> = pairs(
        &client,
        "select year, count(*) from raw.sales group by year order by year",
    )
    .await;
    assert_eq!(sales, vec![(2023, 2), (2024, 1)]);
    let payments: Vec<i64> = column(&client, "select count(*) from raw.payments").await;
    assert_eq!(payments, vec![5]);

    store
        .put(
            &object_store::path::Path::from("raw/sales/year=2024/month=02/part-0.csv"),
            b"sale_id,item,price,discount\n4,lamp,30.00,0.10\n"
                .to_vec()
                .into(),
        )
        .await
        .expect("upload");
    let later = crawl(&client, "crawl 's3://landing/raw/' into schema raw").await;
    assert_eq!(action(&later, "raw.sales"), "update", "{later:#?}");
    let summary = &later
        .iter()
        .find(|(a, _, _)| a == "done")
        .expect("summary")
        .2;
    assert!(summary.contains(" 1 read"), "{summary}");
    let n: Vec<i64> = column(&client, "select count(discount) from raw.sales").await;
    assert_eq!(n, vec![1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_values_past_the_sample_that_do_not_parse_read_as_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    let mut body = String::from("order_id,amount,shipped_at\n");
    for i in 1..=30 {
        body.push_str(&format!(
            "{i},{i}.50,03/{:02}/2024 10:00:00 AM\n",
            i % 28 + 1
        ));
    }
    body.push_str("31,N/A,unknown\n32,7.25,not yet\n");
    write(&landing.join("orders/orders.csv"), body.as_bytes());
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    crawl(
        &client,
        &format!(
            "crawl '{}' into schema raw with (sample_rows = 10)",
            landing.display()
        ),
    )
    .await;
    let counts: Vec<(i64, i64)> = pairs(
        &client,
        "select count(amount), count(shipped_at) from raw.orders",
    )
    .await;
    assert_eq!(counts, vec![(31, 30)], "N/A and 'unknown' read as NULL");
    let rows: Vec<i64> = column(&client, "select count(*) from raw.orders").await;
    assert_eq!(rows, vec![32]);
}

/// `../shared/data` (real exports, not committed): crawled as a user would.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_crawl_the_shared_real_world_exports() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    if !shared.join("spotify_songs.csv").exists() {
        eprintln!(
            "skipped: {} is absent (the shared data is not committed)",
            shared.display()
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    for (file, folder) in [
        ("spotify_songs.csv", "spotify"),
        ("olist_orders_subset.csv", "olist_orders"),
        ("olist_products.csv", "olist_products"),
    ] {
        std::fs::create_dir_all(landing.join(folder)).expect("mkdir");
        std::fs::copy(shared.join(file), landing.join(folder).join(file)).expect("copy");
    }
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let rows = crawl(
        &client,
        &format!("crawl '{}' into schema raw", landing.display()),
    )
    .await;
    for table in ["raw.spotify", "raw.olist_orders", "raw.olist_products"] {
        assert_eq!(action(&rows, table), "create", "{rows:#?}");
    }
    // Counts are the files' data lines (wc -l minus the header).
    let n: Vec<i64> = column(&client, "select count(*) from raw.spotify").await;
    assert_eq!(n, vec![32505]);
    let n: Vec<i64> = column(&client, "select count(*) from raw.olist_orders").await;
    assert_eq!(n, vec![4998]);
    // M/D/YYYY H:MM timestamps read as timestamps; undelivered orders have none.
    let delivered: Vec<(i64, i64)> = pairs(
        &client,
        "select count(order_delivered_customer_date), count(*) - count(order_delivered_customer_date) from raw.olist_orders",
    )
    .await;
    assert_eq!(delivered, vec![(4856, 142)]);
    let first: Vec<chrono::NaiveDateTime> = column(
        &client,
        "select order_purchase_timestamp from raw.olist_orders where order_id = 'e481f51cbdc54678b7cc49136f2d6af7'",
    )
    .await;
    assert_eq!(first[0].to_string(), "2017-10-02 10:56:00");
    // Release dates mix DD-MM-YYYY with bare years within the sample (26 of the first
    // 1,000 rows): the column stays text rather than losing the years.
    let releases: Vec<String> = column(
        &client,
        "select album_release from raw.spotify where album_release in ('14-06-2019', '2012') group by album_release order by 1",
    )
    .await;
    assert_eq!(releases, vec!["14-06-2019".to_owned(), "2012".to_owned()]);
    let misspelled: Vec<i64> = column(
        &client,
        "select count(product_name_lenght) from raw.olist_products",
    )
    .await;
    // 32,951 products, 610 without a name length (counted in the file with Python's
    // csv module): the misspelled column is read under its own name.
    assert_eq!(misspelled, vec![32341]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_unnamed_date_levels_become_partition_columns() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    write(
        &landing.join("clicks/2024/01/15/a.csv"),
        b"user_id,page\n1,home\n2,cart\n",
    );
    write(
        &landing.join("clicks/2024/01/16/b.csv"),
        b"user_id,page\n3,home\n",
    );
    write(
        &landing.join("clicks/2024/02/01/c.csv"),
        b"user_id,page\n4,checkout\n",
    );
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let rows = crawl(
        &client,
        &format!("crawl '{}' into schema raw", landing.display()),
    )
    .await;
    let detail = &rows
        .iter()
        .find(|(_, o, _)| o == "raw.clicks")
        .expect("clicks")
        .2;
    assert!(
        detail.contains("partition_0, partition_1, partition_2"),
        "{detail}"
    );
    let days: Vec<(String, i64)> = pairs(
        &client,
        "select partition_1 || '/' || partition_2, count(*) from raw.clicks group by 1 order by 1",
    )
    .await;
    assert_eq!(
        days,
        vec![
            ("01/15".to_owned(), 2),
            ("01/16".to_owned(), 1),
            ("02/01".to_owned(), 1)
        ]
    );
    let january: Vec<i64> = column(
        &client,
        "select user_id from raw.clicks where partition_1 = '01' and page = 'home' order by user_id",
    )
    .await;
    assert_eq!(january, vec![1, 3]);
    // A new day shows up on the next query, before any re-crawl.
    write(
        &landing.join("clicks/2024/02/02/d.csv"),
        b"user_id,page\n5,home\n",
    );
    let n: Vec<i64> = column(&client, "select count(*) from raw.clicks").await;
    assert_eq!(n, vec![5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_combine_sibling_folders_into_one_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    write(
        &landing.join("crimes/boston/a.csv"),
        b"id,kind\n1,theft\n2,fraud\n",
    );
    write(
        &landing.join("crimes/denver/b.csv"),
        b"id,kind,arrest\n3,fraud,true\n",
    );
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let rows = crawl(
        &client,
        &format!(
            "crawl '{}' into schema raw with (combine = true)",
            landing.display()
        ),
    )
    .await;
    assert_eq!(action(&rows, "raw.crimes"), "create", "{rows:#?}");
    let cities: Vec<(String, i64)> = pairs(
        &client,
        "select partition_0, count(*) from raw.crimes group by 1 order by 1",
    )
    .await;
    assert_eq!(
        cities,
        vec![("boston".to_owned(), 2), ("denver".to_owned(), 1)]
    );
    let arrests: Vec<(i64, Option<bool>)> =
        pairs(&client, "select id, arrest from raw.crimes order by id").await;
    assert_eq!(arrests, vec![(1, None), (2, None), (3, Some(true))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_deleted_files_mark_a_table_deprecated_until_they_return() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    let file = landing.join("rentals/jan.csv");
    write(&file, b"rental_id,days\n1,3\n");
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let statement = format!(
        "crawl '{}' into schema raw with (deleted = 'deprecate')",
        landing.display()
    );
    crawl(&client, &statement).await;
    let entry_path = dir.path().join("wh/_tarn/catalog/tables/raw/rentals.json");
    let property = || -> Option<String> {
        let entry: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&entry_path).expect("entry")).expect("json");
        entry["properties"]["deprecated_by_crawler"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(property(), None);
    std::fs::remove_file(&file).expect("rm");
    let gone = crawl(&client, &statement).await;
    assert_eq!(action(&gone, "raw.rentals"), "deprecate", "{gone:#?}");
    assert!(property().is_some(), "marked in the catalog entry");
    write(&file, b"rental_id,days\n1,3\n");
    let back = crawl(&client, &statement).await;
    assert_eq!(action(&back, "raw.rentals"), "update", "{back:#?}");
    assert_eq!(property(), None, "no longer deprecated");
    let days: Vec<i64> = column(&client, "select days from raw.rentals").await;
    assert_eq!(days, vec![3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_json_arrays_and_zstd_json_lines() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    write(
        &landing.join("songs/2024.json"),
        b"[{\"song_id\": 1, \"title\": \"Intro\"},\n {\"song_id\": 2, \"title\": \"Outro\"}]\n",
    );
    let mut zst = zstd::stream::write::Encoder::new(Vec::new(), 3).expect("zstd");
    zst.write_all(b"{\"play_id\": 1, \"ms\": 1500}\n{\"play_id\": 2, \"ms\": 2500}\n")
        .expect("zstd");
    write(
        &landing.join("plays/p.json.zst"),
        &zst.finish().expect("zstd"),
    );
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let rows = crawl(
        &client,
        &format!("crawl '{}' into schema raw", landing.display()),
    )
    .await;
    assert_eq!(action(&rows, "raw.songs"), "create", "{rows:#?}");
    assert_eq!(action(&rows, "raw.plays"), "create", "{rows:#?}");
    let ids: Vec<i64> = column(&client, "select song_id from raw.songs order by song_id").await;
    assert_eq!(ids, vec![1, 2]);
    let ms: Vec<rust_decimal::Decimal> = column(&client, "select sum(ms) from raw.plays").await;
    assert_eq!(ms, vec![rust_decimal::Decimal::from(4000)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_4_a_crawl_that_lost_its_state_re_registers_and_avro_becomes_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let landing = dir.path().join("landing");
    write(&landing.join("cars/a.csv"), b"car_id,model\n1,Civic\n");
    // Avro files written by fastavro (tests/python/avro_files.py): ids 1, 2 and 3,
    // amounts 10.5, 2.25 and 100.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/avro_files.py");
    let status = std::process::Command::new(tarn_tests::tools::venv_bin("python"))
        .arg(script)
        .arg(landing.join("events"))
        .status()
        .expect("run avro_files.py (fastavro from tests/requirements.txt)");
    assert!(status.success(), "avro_files.py failed");
    let server = TestServer::start_with(config(&dir.path().join("wh"), &landing)).await;
    let client = server.client().await;
    let statement = format!("crawl '{}' into schema raw", landing.display());
    let first = crawl(&client, &statement).await;
    assert_eq!(action(&first, "raw.cars"), "create");
    assert_eq!(action(&first, "raw.events"), "create", "{first:#?}");
    let sums: Vec<f64> = column(&client, "select sum(amount) from raw.events").await;
    assert_eq!(sums, vec![112.75]);
    let ids: Vec<i64> = column(&client, "select id from raw.events order by id").await;
    assert_eq!(ids, vec![1, 2, 3]);
    // The state is lost (a crawl stopped before saving it): the next crawl registers
    // the same table again without an error.
    std::fs::remove_dir_all(dir.path().join("wh/_tarn/crawls/raw")).expect("rm state");
    let again = crawl(&client, &statement).await;
    assert_eq!(action(&again, "raw.cars"), "create", "{again:#?}");
    let n: Vec<i64> = column(&client, "select count(*) from raw.cars").await;
    assert_eq!(n, vec![1]);
}
