//! The `tarn` binary as a user runs it.

use std::process::Command;

fn tarn() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tarn"));
    command.env_remove("RUST_LOG");
    command
}

#[test]
fn issue_2_tarn_sql_runs_statements_in_process_and_prints_a_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wh = dir.path().join("wh");
    let wh = wh.to_str().expect("utf8");
    let out = tarn()
        .args([
            "sql",
            "--warehouse",
            wh,
            "create table t as select * from (values (1,'a'),(2,'b')) v(id,name)",
        ])
        .output()
        .expect("run tarn sql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "SELECT 2");

    let out = tarn()
        .args(["sql", "--warehouse", wh, "select name from t order by id"])
        .output()
        .expect("run tarn sql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
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
    let out = tarn()
        .args([
            "sql",
            "--warehouse",
            dir.path().to_str().expect("utf8"),
            "select * from missing",
        ])
        .output()
        .expect("run tarn sql");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
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
