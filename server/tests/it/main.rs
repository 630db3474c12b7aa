//! The `tarn` binary as a user runs it.

use std::process::Command;

fn tarn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tarn"));
    command.env_remove("RUST_LOG");
    command
}

/// `tarn sql --warehouse <warehouse> <statement>`: (success, stdout, stderr).
fn tarn_sql(warehouse: &std::path::Path, statement: &str) -> (bool, String, String) {
    let out = tarn()
        .args([
            "sql",
            "--warehouse",
            warehouse.to_str().expect("utf8"),
            statement,
        ])
        .output()
        .expect("run tarn sql");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn issue_2_tarn_sql_runs_statements_in_process_and_prints_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = dir.path().join("wh");
    let (ok, stdout, stderr) = tarn_sql(
        &wh,
        "create table t as select * from (values (1,'a'),(2,'b')) v(id,name)",
    );
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), "SELECT 2");

    let (ok, stdout, stderr) = tarn_sql(&wh, "select name from t order by id");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| name |"), "{stdout}");
    assert!(
        stdout.contains("| a    |") && stdout.contains("| b    |"),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("(2 rows)"), "{stdout}");
}

#[test]
fn issue_2_tarn_sql_fails_with_the_error_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, _, stderr) = tarn_sql(dir.path(), "select * from missing");
    assert!(!ok);
    assert!(stderr.contains("missing"), "{stderr}");
}

#[test]
fn issue_2_serve_refuses_a_public_address_without_authentication() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tarn()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--warehouse",
            dir.path().to_str().expect("utf8"),
        ])
        .current_dir(dir.path())
        .output()
        .expect("run tarn serve");
    assert!(!out.status.success(), "must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0 without authentication"),
        "{stderr}"
    );
}

#[test]
fn issue_2_serve_help_documents_each_option() {
    let out = tarn().args(["serve", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--listen",
        "--warehouse",
        "--config",
        "--catalog",
        "127.0.0.1:5433",
        "./tarn-data",
    ] {
        assert!(
            help.contains(option),
            "serve --help lacks {option}:\n{help}"
        );
    }
}

#[test]
fn issue_4_tarn_crawl_dry_run_prints_the_plan_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = dir.path().join("wh");
    let landing = wh.join("landing/rentals");
    std::fs::create_dir_all(&landing).expect("mkdir");
    std::fs::write(
        landing.join("jan.csv"),
        "rental_id,car,picked_up\n1,Civic,01/03/2024 09:15:00 AM\n2,Golf,01/04/2024 05:40:00 PM\n",
    )
    .expect("write");
    std::fs::write(landing.join("notes.tmp"), "scratch").expect("write");
    let crawl = |extra: &[&str]| {
        let out = tarn()
            .args([
                "crawl",
                wh.join("landing").to_str().expect("utf8"),
                "--schema",
                "raw",
            ])
            .args([
                "--warehouse",
                wh.to_str().expect("utf8"),
                "--exclude",
                "**/*.tmp",
            ])
            .args(extra)
            .output()
            .expect("run tarn crawl");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = crawl(&["--dry-run"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| create | raw.rentals"), "{stdout}");
    assert!(stdout.contains("excluded by"), "{stdout}");
    assert!(stdout.contains("dry run: nothing changed"), "{stdout}");
    let (ok, _, stderr) = tarn_sql(&wh, "select count(*) from raw.rentals");
    assert!(!ok, "the dry run created nothing");
    assert!(
        stderr.contains("does not exist") || stderr.contains("not found"),
        "{stderr}"
    );

    let (ok, stdout, stderr) = crawl(&["-o", "sample_rows=100"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("| create | raw.rentals"), "{stdout}");
    let (ok, stdout, stderr) = tarn_sql(
        &wh,
        "select cast(picked_up as varchar) as t from raw.rentals order by rental_id",
    );
    assert!(ok, "{stderr}");
    // As PostgreSQL prints a timestamp cast to text.
    assert!(stdout.contains("2024-01-04 17:40:00"), "{stdout}");

    let (ok, _, stderr) = crawl(&["-o", "sample_rowz=1"]);
    assert!(!ok);
    assert!(stderr.contains("sample_rowz"), "{stderr}");
}
