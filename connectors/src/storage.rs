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
                let store = remote_store(&url, &options)?;
                // The bucket or container is the URL's host: object paths are its path.
                let prefix = Path::from_url_path(url.path()).map_err(|e| {
                    ConnectorError::InvalidLocation {
                        location: redact(&url),
                        reason: e.to_string(),
                    }
                })?;
                (store, prefix)
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

    /// The file of `relative` (slash-separated) under this root, for a local root;
    /// `None` for an object store.
    pub fn local_file(&self, relative: &str) -> Option<std::path::PathBuf> {
        if self.url.scheme() != "file" {
            return None;
        }
        let mut file = self.url.to_file_path().ok()?;
        file.extend(relative.split('/').filter(|p| !p.is_empty()));
        Some(file)
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

/// Options Tarn reads itself (object_store's keys are passed to its builders).
pub const MAX_RETRIES: &str = "max_retries";
pub const RETRY_TIMEOUT: &str = "retry_timeout";

/// Default retry policy for remote stores: object_store's (10 retries with backoff,
/// within 3 minutes), unless `max_retries` / `retry_timeout` say otherwise. Timeouts of
/// single requests are object_store's `timeout` and `connect_timeout` keys.
fn retry_config(options: &HashMap<String, String>) -> Result<object_store::RetryConfig> {
    let mut retry = object_store::RetryConfig::default();
    let invalid = |key: &str, value: &str, reason: String| ConnectorError::InvalidOption {
        key: key.to_owned(),
        value: value.to_owned(),
        reason,
    };
    if let Some(value) = options.get(MAX_RETRIES) {
        retry.max_retries = value
            .parse()
            .map_err(|e: std::num::ParseIntError| invalid(MAX_RETRIES, value, e.to_string()))?;
    }
    if let Some(value) = options.get(RETRY_TIMEOUT) {
        retry.retry_timeout = humantime::parse_duration(value)
            .map_err(|e| invalid(RETRY_TIMEOUT, value, e.to_string()))?;
    }
    Ok(retry)
}

/// Builds the object store for a remote URL. Credentials and endpoints come from
/// `options` first, then the standard environment variables (`AWS_*`,
/// `GOOGLE_*`, `AZURE_*`). Keys no builder knows are left for deltalake (which reads
/// a few of its own) and logged.
fn remote_store(url: &Url, options: &HashMap<String, String>) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    let retry = retry_config(options)?;
    let own = |key: &str| key == MAX_RETRIES || key == RETRY_TIMEOUT;
    let unknown = |key: &str| {
        if !own(key) {
            tracing::debug!(key, url = %redact(url), "storage option left to deltalake");
        }
    };
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "s3" | "s3a" => {
            let mut builder = AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .with_retry(retry);
            for (key, value) in options {
                match key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
                    Ok(k) => builder = builder.with_config(k, value),
                    Err(_) => unknown(key),
                }
            }
            Arc::new(builder.build()?)
        }
        "gs" => {
            let mut builder = GoogleCloudStorageBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry);
            for (key, value) in options {
                match key.to_ascii_lowercase().parse::<GoogleConfigKey>() {
                    Ok(k) => builder = builder.with_config(k, value),
                    Err(_) => unknown(key),
                }
            }
            Arc::new(builder.build()?)
        }
        _ => {
            let mut builder = MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .with_retry(retry);
            for (key, value) in options {
                match key.to_ascii_lowercase().parse::<AzureConfigKey>() {
                    Ok(k) => builder = builder.with_config(k, value),
                    Err(_) => unknown(key),
                }
            }
            Arc::new(builder.build()?)
        }
    };
    Ok(store)
}

/// Object-store options per bucket (`s3://bucket`, `gs://bucket`, `az://container`),
/// from `[storage."<url>"]` in the configuration. Tables at a configured bucket are
/// opened with its options.
#[derive(Clone, Default)]
pub struct StorageConfig {
    buckets: Vec<(Url, HashMap<String, String>)>,
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Options may hold secrets: show only the buckets.
        f.debug_list()
            .entries(self.buckets.iter().map(|(u, _)| redact(u)))
            .finish()
    }
}

impl StorageConfig {
    /// `buckets`: (URL of a bucket or container, its options).
    pub fn new(
        buckets: impl IntoIterator<Item = (String, HashMap<String, String>)>,
    ) -> Result<Self> {
        let buckets = buckets
            .into_iter()
            .map(|(location, options)| {
                let url = parse_location(&location)?;
                if url.scheme() == "file" {
                    return Err(ConnectorError::InvalidLocation {
                        location,
                        reason: "storage options apply to buckets (s3://, gs://, az://), not local folders"
                            .to_owned(),
                    });
                }
                retry_config(&options)?;
                Ok((url, options))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { buckets })
    }

    /// The configured bucket URLs.
    pub fn buckets(&self) -> impl Iterator<Item = &Url> {
        self.buckets.iter().map(|(u, _)| u)
    }

    /// The options for `url`: those of its bucket (same scheme and host), if configured.
    pub fn options_for(&self, url: &Url) -> HashMap<String, String> {
        self.buckets
            .iter()
            .find(|(bucket, _)| {
                bucket.scheme() == url.scheme() && bucket.host_str() == url.host_str()
            })
            .map(|(_, options)| options.clone())
            .unwrap_or_default()
    }

    /// The store serving each configured bucket, for registration with DataFusion.
    pub fn stores(&self) -> Result<Vec<StorageLocation>> {
        self.buckets
            .iter()
            .map(|(url, options)| {
                let mut bucket = url.clone();
                bucket.set_path("/");
                StorageLocation::open(bucket.as_str(), options.clone())
            })
            .collect()
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

    #[test]
    fn bucket_options_are_found_by_scheme_and_host() {
        let config = StorageConfig::new([(
            "s3://raw".to_owned(),
            HashMap::from([("aws_region".to_owned(), "eu-west-1".to_owned())]),
        )])
        .expect("config");
        let url = Url::parse("s3://raw/crimes/chicago/").expect("url");
        assert_eq!(
            config
                .options_for(&url)
                .get("aws_region")
                .map(String::as_str),
            Some("eu-west-1")
        );
        let other = Url::parse("s3://rawer/x/").expect("url");
        assert!(config.options_for(&other).is_empty());
        let err = StorageConfig::new([(
            "s3://raw".to_owned(),
            HashMap::from([("retry_timeout".to_owned(), "soon".to_owned())]),
        )])
        .expect_err("bad duration");
        assert!(err.to_string().contains("retry_timeout"), "{err}");
        assert!(StorageConfig::new([("/tmp/x".to_owned(), HashMap::new())]).is_err());
    }
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
