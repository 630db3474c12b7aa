//! Where the README's test command installs the tools tests start: a Python venv
//! (`TARN_TEST_VENV`, default `~/.cache/tarn/venv`, from `tests/requirements.txt`) and
//! an npm prefix (`TARN_TEST_NPM`, default `~/.cache/tarn/npm`). A test that needs a
//! tool fails, never skips, when it is missing.

use std::path::PathBuf;

fn install_dir(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(default)))
        .unwrap_or_else(|| panic!("HOME or {variable} must be set"))
}

fn existing(path: PathBuf) -> PathBuf {
    assert!(
        path.exists(),
        "{} not found: run the README's test command (scripts/test.sh), which installs it",
        path.display()
    );
    path
}

/// A program of the test venv (`moto_server`, `python` ...).
pub fn venv_bin(name: &str) -> PathBuf {
    existing(
        install_dir("TARN_TEST_VENV", ".cache/tarn/venv")
            .join("bin")
            .join(name),
    )
}

/// A program of the dbt venv (`dbt`), kept apart from the test venv.
pub fn dbt_bin(name: &str) -> PathBuf {
    existing(
        install_dir("TARN_TEST_DBT_VENV", ".cache/tarn/dbt-venv")
            .join("bin")
            .join(name),
    )
}

/// The test venv's site-packages folder.
pub fn venv_site_packages() -> PathBuf {
    let lib = install_dir("TARN_TEST_VENV", ".cache/tarn/venv").join("lib");
    let python = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("python"))
        })
        .unwrap_or_else(|| panic!("no python folder in {}", lib.display()));
    existing(python.join("site-packages"))
}

/// A program installed from npm (`azurite-blob` ...).
pub fn npm_bin(name: &str) -> PathBuf {
    existing(
        install_dir("TARN_TEST_NPM", ".cache/tarn/npm")
            .join("node_modules/.bin")
            .join(name),
    )
}

/// A free TCP port on 127.0.0.1 for a server a test starts as a separate process.
///
/// The port is taken below the kernel's ephemeral range when there is room: a port the
/// kernel handed out for `127.0.0.1:0` and that was then released is handed out again to
/// the next in-process server or outgoing connection, which raced the process starting on
/// it (PostgreSQL once failed with "Address already in use" that way). Ports below the
/// range are only ever handed out by this function, which does not repeat one within a
/// process. Callers still retry on a bind failure: another test run may be beside this one.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let ephemeral_start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse::<u32>().ok())
        .unwrap_or(32_768);
    if ephemeral_start > LOWEST + 1_000 {
        let span = ephemeral_start - LOWEST;
        let seed = std::process::id().wrapping_mul(7_919)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
        for _ in 0..span {
            let step = NEXT.fetch_add(1, Ordering::Relaxed);
            let port = LOWEST + seed.wrapping_add(step) % span;
            if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
                return port as u16;
            }
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until something accepts connections on `port`.
pub fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A program of the Superset venv (`superset`), kept apart from the test venv.
pub fn superset_bin(name: &str) -> PathBuf {
    existing(
        install_dir("TARN_TEST_SUPERSET_VENV", ".cache/tarn/superset-venv")
            .join("bin")
            .join(name),
    )
}
