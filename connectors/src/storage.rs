//! A storage location: a URL plus the object store that serves it.
//!
//! Every warehouse, local or remote, is reached through `object_store`, so the code path
//! that serves `./tarn-data` on a laptop is the one that serves `s3://bucket/lake` in
//! production. Local paths are turned into `file://` URLs (and created if missing) so
//! that Delta log paths and DataFusion object-store registration use one form.

use std::collections::HashMap;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;
use url::Url;

use crate::error::{ConnectorError, Result};

/// A resolved root URL (always ending in `/`) with its object store and the options
/// that were used to build it (passed on to deltalake for tables under this root).
#[derive(Clone)]
pub struct StorageLocation {
    url: Url,
    store: Arc<dyn ObjectStore>,
    prefix: Path,
    options: HashMap<String, String>,
}

impl std::fmt::Debug for StorageLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Options may hold secrets: show only their keys.
        f.debug_struct("StorageLocation")
            .field("url", &redact(&self.url))
            .field("option_keys", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl StorageLocation {
    /// Resolves `location` (a filesystem path or a URL) into a store.
    ///
    /// `options` are object-store keys (`aws_endpoint`, `aws_region`, ...) that
    /// `object_store::parse_url_opts` understands.
    pub fn open(location: &str, options: HashMap<String, String>) -> Result<Self> {
        let url = parse_location(location)?;
        let (store, prefix): (Arc<dyn ObjectStore>, Path) = match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|()| ConnectorError::InvalidLocation {
                        location: location.to_owned(),
                        reason: "not an absolute local path".to_owned(),
                    })?;
                std::fs::create_dir_all(&path).map_err(|source| ConnectorError::LocalFolder {
                    path: path.display().to_string(),
                    source,
                })?;
                // Rooted at `/` so object paths are the file's absolute path, matching
                // the object store deltalake and DataFusion build for `file://` URLs.
                let store = object_store::local::LocalFileSystem::new();
                let prefix = Path::from_url_path(url.path()).map_err(|e| {
                    ConnectorError::InvalidLocation {
                        location: location.to_owned(),
                        reason: e.to_string(),
                    }
                })?;
                (Arc::new(store), prefix)
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" | "azure" => {
                let (store, prefix) = object_store::parse_url_opts(&url, options.iter())?;
                (Arc::from(store), prefix)
            }
            other => {
                return Err(ConnectorError::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        };
        Ok(Self {
            url,
            store,
            prefix,
            options,
        })
    }

    /// The root URL, ending in `/`.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The root URL with credentials and query removed, for messages and logs.
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    pub fn options(&self) -> &HashMap<String, String> {
        &self.options
    }

    /// The object path of `relative` (slash-separated) under this root.
    pub fn path(&self, relative: &str) -> Path {
        let mut path = self.prefix.clone();
        for part in relative.split('/').filter(|p| !p.is_empty()) {
            path = path.join(part);
        }
        path
    }

    /// The URL of `relative` (slash-separated, no leading slash) under this root,
    /// with a trailing slash: the form Delta table roots take.
    pub fn child_url(&self, relative: &str) -> Result<Url> {
        let trimmed = relative.trim_matches('/');
        self.url
            .join(&format!("{trimmed}/"))
            .map_err(|e| ConnectorError::InvalidLocation {
                location: relative.to_owned(),
                reason: e.to_string(),
            })
    }
}

/// Turns a path or URL into a URL that ends in `/`.
pub fn parse_location(location: &str) -> Result<Url> {
    let invalid = |reason: String| ConnectorError::InvalidLocation {
        location: location.to_owned(),
        reason,
    };
    if location.trim().is_empty() {
        return Err(invalid("empty location".to_owned()));
    }
    let mut url = match Url::parse(location) {
        // A single letter before ':' is a Windows drive, not a scheme.
        Ok(url) if url.scheme().len() > 1 => url,
        _ => {
            let path = std::path::Path::new(location);
            let absolute = if path.is_absolute() {
                path.to_path_buf()
            } else {
                std::env::current_dir()
                    .map_err(|e| invalid(e.to_string()))?
                    .join(path)
            };
            let normalized = normalize(&absolute);
            Url::from_directory_path(&normalized)
                .map_err(|()| invalid("not an absolute local path".to_owned()))?
        }
    };
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Removes `.` and `..` components without touching the filesystem (the folder may
/// not exist yet).
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A URL safe to print: no user info, no query, no fragment.
pub fn redact(url: &Url) -> String {
    let mut clean = url.clone();
    let _ = clean.set_username("");
    let _ = clean.set_password(None);
    clean.set_query(None);
    clean.set_fragment(None);
    clean.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStoreExt;

    #[test]
    fn relative_paths_become_file_urls_with_trailing_slash() {
        let url = parse_location("some/dir/../wh").expect("valid path");
        assert_eq!(url.scheme(), "file");
        assert!(url.path().ends_with("/some/wh/"), "{url}");
    }

    #[test]
    fn remote_urls_keep_scheme_and_gain_trailing_slash() {
        let url = parse_location("s3://bucket/lake").expect("valid url");
        assert_eq!(url.as_str(), "s3://bucket/lake/");
    }

    #[test]
    fn unknown_scheme_is_rejected_by_name() {
        let err = StorageLocation::open("ftp://host/x", HashMap::new()).expect_err("ftp");
        assert!(err.to_string().contains("\"ftp\""), "{err}");
    }

    #[test]
    fn redact_drops_credentials_and_query() {
        let url = Url::parse("s3://key:secret@bucket/p?token=abc").expect("url");
        let shown = redact(&url);
        assert!(
            !shown.contains("secret") && !shown.contains("abc"),
            "{shown}"
        );
    }

    #[tokio::test]
    async fn local_location_reads_and_writes_under_its_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("wh");
        let loc = StorageLocation::open(root.to_str().expect("utf8"), HashMap::new())
            .expect("local store");
        let path = loc.path("a/b.txt");
        loc.store()
            .put(&path, bytes_of("hello"))
            .await
            .expect("put");
        assert_eq!(
            std::fs::read_to_string(root.join("a/b.txt")).expect("file written"),
            "hello"
        );
        assert_eq!(
            loc.child_url("s/t").expect("url").as_str(),
            format!("{}s/t/", loc.url())
        );
    }

    fn bytes_of(s: &str) -> object_store::PutPayload {
        object_store::PutPayload::from(s.as_bytes().to_vec())
    }
}
