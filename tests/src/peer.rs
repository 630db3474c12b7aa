//! Other Delta engines, run through `tests/python/delta_peer.py` in the test venv: the
//! `deltalake` package (delta-rs) and DuckDB's Delta extension (delta-kernel-rs).

use std::path::Path;
use std::process::Command;

/// Runs `delta_peer.py` with `args` and parses the JSON it prints.
pub fn delta_peer(args: &[&str]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/delta_peer.py");
    let output = Command::new(crate::tools::venv_bin("python"))
        .arg(script)
        .args(args)
        .output()
        .expect("run delta_peer.py");
    assert!(
        output.status.success(),
        "delta_peer.py {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("delta_peer.py prints JSON")
}

/// A table as another engine reads it: column names (sorted) and rows (values as
/// text in those columns' order, sorted).
pub fn read(engine: &str, table: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let value = delta_peer(&["read", engine, &table.display().to_string()]);
    serde_json::from_value::<(Vec<String>, Vec<Vec<String>>)>(serde_json::json!([
        value["columns"],
        value["rows"]
    ]))
    .expect("columns and rows")
}
