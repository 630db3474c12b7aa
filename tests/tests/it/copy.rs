//! COPY over the wire (issue #3): `COPY ... FROM STDIN` streams into one Delta
//! commit; `COPY ... TO STDOUT` streams rows out in PostgreSQL's formats.

use futures::{SinkExt, TryStreamExt};
use tarn_tests::TestServer;
use tokio_postgres::error::SqlState;

async fn count(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("select count(*) from c", &[])
        .await
        .expect("count")
        .get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_copy_in_and_out_with_tokio_postgres() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table c (id bigint, name text, amount double precision)")
        .await
        .expect("create");
    let sink = client
        .copy_in("copy c from stdin with (format csv, header)")
        .await
        .expect("copy in starts");
    futures::pin_mut!(sink);
    sink.send(bytes::Bytes::from_static(
        b"id,name,amount\n1,a,1.5\n2,\"b, with comma\",2.5\n",
    ))
    .await
    .expect("send");
    sink.send(bytes::Bytes::from_static(b"3,,\n"))
        .await
        .expect("send");
    let rows = sink.finish().await.expect("copy in done");
    assert_eq!(rows, 3);
    assert_eq!(count(&client).await, 3);

    let stream = client
        .copy_out("copy (select * from c order by id) to stdout with (format csv, header)")
        .await
        .expect("copy out");
    let chunks: Vec<bytes::Bytes> = stream.try_collect().await.expect("copy data");
    let text: String = chunks
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(
        text,
        "id,name,amount\n1,a,1.5\n2,\"b, with comma\",2.5\n3,,\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_psql_copy_round_trip_and_a_bad_row_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let csv = dir.path().join("rows.csv");
    let mut text = String::from("id,name,amount\n");
    // The issue's figures: a million rows in and out, a bad row on line 700,000.
    for i in 1..=1_000_000 {
        text.push_str(&format!("{i},name {i},{}\n", i as f64 * 0.5));
    }
    std::fs::write(&csv, &text).expect("write csv");
    let (ok, out, err) = server.psql(&[
        "-c",
        "create table c (id bigint, name text, amount double precision)",
        "-c",
        &format!(
            "\\copy c from '{}' with (format csv, header)",
            csv.display()
        ),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("COPY 1000000"), "{out}");

    let out_file = dir.path().join("out.csv");
    let (ok, _, err) = server.psql(&[
        "-c",
        &format!(
            "\\copy (select * from c order by id) to '{}' with (format csv, header)",
            out_file.display()
        ),
    ]);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(&out_file).expect("read back"),
        text,
        "COPY out == COPY in"
    );

    // Row 699,999 (line 700,000, counting the header as PostgreSQL does) is bad: the
    // whole COPY fails and the table keeps its million rows.
    let bad = text.replace(
        "699999,name 699999,349999.5\n",
        "699999,name 699999,not-a-number\n",
    );
    assert_ne!(bad, text);
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, bad).expect("write bad csv");
    let (_, _, err) = server.psql(&[
        "-v",
        "VERBOSITY=verbose",
        "-c",
        &format!(
            "\\copy c from '{}' with (format csv, header)",
            bad_csv.display()
        ),
    ]);
    assert!(err.contains("22P02"), "{err}");
    assert!(
        err.contains("not-a-number") && err.contains("line 700000"),
        "{err}"
    );
    let client = server.client().await;
    assert_eq!(count(&client).await, 1_000_000);
    let err = client
        .simple_query("copy c from '/etc/passwd'")
        .await
        .expect_err("server files are not read");
    assert_eq!(err.code(), Some(&SqlState::FEATURE_NOT_SUPPORTED));
}

/// Array columns read PostgreSQL's array literals in CSV and text format; a malformed
/// literal, or an element that is not of the element type, is bad COPY data (22P02,
/// naming what is wrong) and the table keeps the rows it had.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_5_copy_array_columns_and_bad_array_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table c (id int, v int[], t text[])")
        .await
        .expect("create");
    let copy = |sql: &'static str, data: &'static [u8]| {
        let client = &client;
        async move {
            let sink = client.copy_in(sql).await?;
            futures::pin_mut!(sink);
            sink.send(bytes::Bytes::from_static(data)).await?;
            sink.finish().await
        }
    };
    let rows = copy(
        "copy c from stdin with (format csv)",
        b"1,\"{1,2}\",\"{a,\"\"b c\"\",NULL}\"\n2,{},\n",
    )
    .await
    .expect("csv arrays");
    assert_eq!(rows, 2);
    let rows = copy("copy c from stdin", b"3\t{ 7 }\t{x}\n")
        .await
        .expect("text arrays");
    assert_eq!(rows, 1);
    for (data, says) in [
        (&b"4,\"{1,2\",\n"[..], "malformed array literal: \"{1,2\""),
        (&b"4,\"{1,x}\",\n"[..], "column v"),
    ] {
        let sink = client
            .copy_in("copy c from stdin with (format csv)")
            .await
            .expect("copy starts");
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from_static(data))
            .await
            .expect("send");
        let err = sink.finish().await.expect_err("bad array data is refused");
        let db = err.as_db_error().expect("a server error");
        assert_eq!(db.code(), &SqlState::INVALID_TEXT_REPRESENTATION, "{db:?}");
        assert!(db.message().contains(says), "{}", db.message());
    }
    let got: Vec<(i32, Option<Vec<i32>>, Option<Vec<Option<String>>>)> = client
        .query("select id, v, t from c order by id", &[])
        .await
        .expect("rows")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                1,
                Some(vec![1, 2]),
                Some(vec![Some("a".into()), Some("b c".into()), None])
            ),
            (2, Some(vec![]), None),
            (3, Some(vec![7]), Some(vec![Some("x".into())])),
        ]
    );
}

/// A COPY FROM STDIN whose connection closes before the end of its data writes
/// nothing (Tarn committed the rows received so far: the loader took the closed
/// channel for the end of the data), also in a transaction block, and leaves the
/// table free for other writers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn issue_3_a_copy_cut_off_by_a_closed_connection_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = TestServer::start(dir.path()).await;
    let client = server.client().await;
    client
        .batch_execute("create table c (id bigint, name text, amount double precision)")
        .await
        .expect("create");
    for setup in ["", "begin"] {
        let (cut, connection) = tokio_postgres::connect(&server.conn_str(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        let connection = tokio::spawn(connection);
        cut.batch_execute(setup).await.expect("setup");
        let sink = cut
            .copy_in("copy c from stdin with (format csv)")
            .await
            .expect("copy in starts");
        futures::pin_mut!(sink);
        for i in 0..100 {
            sink.send(bytes::Bytes::from(format!("{i},row {i},{i}.5\n")))
                .await
                .expect("send");
        }
        sink.flush().await.expect("flush");
        // The rows have reached the server; then the connection goes, mid-COPY.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        connection.abort();
        let _ = connection.await;
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        assert_eq!(count(&client).await, 0, "after a cut-off COPY ({setup:?})");
        // The abandoned COPY holds nothing: the table takes other writes at once.
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            client.batch_execute("insert into c values (1, 'x', 1); delete from c"),
        )
        .await
        .expect("the table is not held by the cut-off COPY")
        .expect("write after the cut-off COPY");
    }
}
