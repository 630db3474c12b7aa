//! Configuration, in layers: built-in defaults < `tarn.toml` < `TARN__SECTION__KEY`
//! environment variables < command-line flags.
//!
//! The file and the environment are read into [`RawConfig`] (serde, every field
//! optional in spirit, with defaults), then validated into [`Config`]: addresses
//! parsed, authentication checked against the listen address, secrets checked for
//! form. Keys Tarn does not own pass through unchanged: `[warehouse.storage]` to the
//! object store, `[datafusion]` to DataFusion's `SessionConfig`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::auth::{Method, Network, Rule, Secret};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:5433";
pub const DEFAULT_WAREHOUSE: &str = "./tarn-data";
pub const DEFAULT_CATALOG: &str = "tarn";
pub const DEFAULT_CONFIG_FILE: &str = "tarn.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration file {path:?} does not exist")]
    MissingFile { path: PathBuf },
    #[error("server.listen {value:?} is not HOST:PORT: {reason}")]
    Listen { value: String, reason: String },
    #[error(
        "refusing to listen on {addr} without authentication: set [auth] method = \"password\" \
         with [[auth.users]] in the config file, or listen on 127.0.0.1"
    )]
    InsecureListen { addr: SocketAddr },
    #[error("auth.method = \"password\" but no [[auth.users]] are configured")]
    NoUsers,
    #[error("user {user:?}: {reason}")]
    BadSecret { user: String, reason: String },
    #[error("unknown auth.method {0:?} (expected \"trust\" or \"password\")")]
    AuthMethod(String),
    #[error("[[auth.rules]] entry {index}: {reason}")]
    Rule { index: usize, reason: String },
    #[error("{0}")]
    Tls(String),
    #[error("[storage]: {0}")]
    Storage(#[from] tarn_connectors::ConnectorError),
    #[error("crawler {name:?}: {reason}")]
    Crawler { name: String, reason: String },
    #[error("{key}: {reason}")]
    Invalid { key: String, reason: String },
}

/// The configuration as written in files and the environment.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub warehouse: RawWarehouse,
    pub auth: RawAuth,
    /// Object-store options per bucket: `[storage."s3://raw"]` with `aws_region`,
    /// `aws_endpoint`, credentials, `max_retries`, `retry_timeout`, `timeout` ...
    /// Tables and external files in a configured bucket are read with its options,
    /// and configured buckets are allowed locations.
    pub storage: BTreeMap<String, BTreeMap<String, String>>,
    /// Crawlers the server runs on a schedule (`[[crawlers]]`).
    pub crawlers: Vec<RawCrawler>,
    /// DataFusion settings, e.g. `"execution.batch_size" = "8192"` (the `datafusion.`
    /// prefix is added).
    pub datafusion: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    /// `[server.tls]`: serve TLS to clients that ask for it (sslmode=prefer/require).
    pub tls: Option<RawTls>,
}

impl Default for RawServer {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.to_owned(),
            tls: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// PEM certificate chain, server certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Refuse connections that did not negotiate TLS (default true: once TLS is
    /// configured, a plaintext connection is an error, never a silent fallback).
    #[serde(default = "default_true")]
    pub required: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawWarehouse {
    /// A local folder or an `s3://`, `gs://`, `az://` URL.
    pub url: String,
    /// The database name clients connect to and use in three-part names.
    pub catalog: String,
    /// Object-store options (`aws_endpoint`, `aws_region`, ...), passed through.
    pub storage: BTreeMap<String, String>,
    /// Locations external tables may read besides the warehouse (URL or path prefixes).
    pub allowed_locations: Vec<String>,
    /// How long a dropped table's files stay for queries still reading them
    /// (`"10m"`, `"30s"`, `"0s"` to remove them at once).
    pub dropped_files_kept: String,
    /// Memory for decoded columns of small files, which queries reading them again
    /// take from memory (`"128MB"`, `"1GB"`, `"0"` to keep none).
    pub small_file_cache: String,
}

impl Default for RawWarehouse {
    fn default() -> Self {
        Self {
            url: DEFAULT_WAREHOUSE.to_owned(),
            catalog: DEFAULT_CATALOG.to_owned(),
            storage: BTreeMap::new(),
            allowed_locations: Vec::new(),
            dropped_files_kept: "10m".to_owned(),
            small_file_cache: "128MB".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RawAuth {
    /// `trust` (no password; only allowed on loopback) or `password` (SCRAM-SHA-256).
    pub method: String,
    pub users: Vec<RawUser>,
    /// Which exchange a connection uses, like `pg_hba.conf` lines: the first rule whose
    /// `user` and `address` match decides; SCRAM-SHA-256 when none does.
    pub rules: Vec<RawRule>,
}

impl Default for RawAuth {
    fn default() -> Self {
        Self {
            method: "trust".to_owned(),
            users: Vec::new(),
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    pub name: String,
    /// A hashed secret made by `tarn hash-password` (SCRAM, or `--md5 --user NAME`),
    /// never the password itself.
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    /// A user name; any user when absent.
    pub user: Option<String>,
    /// Client address or CIDR network (`10.0.0.0/8`); any address when absent.
    pub address: Option<String>,
    /// `scram-sha-256`, `md5` or `password` (cleartext; use with TLS).
    pub method: String,
}

/// A crawler the server runs at start and then every `every` (`[[crawlers]]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCrawler {
    pub name: String,
    /// The prefix crawled (under the warehouse, a configured bucket or an allowed
    /// location).
    pub location: String,
    /// The schema its tables go into.
    pub schema: String,
    /// How often, as a duration (`15m`, `1h`, `1day`).
    pub every: String,
    /// Crawler options (`exclude`, `table_level`, `schema_change`, ...), as in
    /// `CRAWL ... WITH (...)`.
    #[serde(default)]
    pub options: tarn_connectors::crawl::CrawlOptions,
}

/// A validated scheduled crawler.
#[derive(Debug, Clone)]
pub struct Crawler {
    pub name: String,
    pub location: String,
    pub schema: String,
    pub every: std::time::Duration,
    pub options: tarn_connectors::crawl::CrawlOptions,
}

/// Command-line overrides; `None` leaves the lower layers' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub listen: Option<String>,
    pub warehouse: Option<String>,
    pub catalog: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub warehouse: String,
    pub catalog: String,
    pub storage_options: HashMap<String, String>,
    pub allowed_locations: Vec<String>,
    pub dropped_files_kept: std::time::Duration,
    /// Bytes (see [`RawWarehouse::small_file_cache`]).
    pub small_file_cache: usize,
    pub buckets: tarn_connectors::StorageConfig,
    pub crawlers: Vec<Crawler>,
    pub datafusion_options: HashMap<String, String>,
    pub auth: Auth,
    pub tls: Option<Tls>,
}

#[derive(Debug, Clone)]
pub enum Auth {
    /// Anyone may connect as any user: loopback only.
    Trust,
    /// Passwords checked against the configured users' secrets, with the exchange
    /// the rules choose.
    Password {
        users: HashMap<String, Secret>,
        rules: Vec<Rule>,
    },
}

/// TLS, loaded and checked when the configuration is.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: pgwire::tokio::TlsAcceptor,
    pub required: bool,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Loads the layers. `environment` is the process environment, passed in so tests
    /// can pin the order without touching global state.
    pub fn load(
        overrides: &Overrides,
        environment: &[(String, String)],
    ) -> Result<Self, ConfigError> {
        let raw = Self::load_raw(overrides, environment)?;
        Self::validate(raw)
    }

    pub fn load_raw(
        overrides: &Overrides,
        environment: &[(String, String)],
    ) -> Result<RawConfig, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        match &overrides.config {
            Some(path) if !path.exists() => {
                return Err(ConfigError::MissingFile { path: path.clone() });
            }
            Some(path) => figment = figment.merge(Toml::file(path)),
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE));
            }
            None => {}
        }
        let env: BTreeMap<String, String> = environment
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("TARN__")
                    .map(|rest| (rest.to_ascii_lowercase().replace("__", "."), v.clone()))
            })
            .collect();
        for (key, value) in env {
            figment = figment.merge(Serialized::default(&key, value));
        }
        if let Some(listen) = &overrides.listen {
            figment = figment.merge(Serialized::default("server.listen", listen));
        }
        if let Some(warehouse) = &overrides.warehouse {
            figment = figment.merge(Serialized::default("warehouse.url", warehouse));
        }
        if let Some(catalog) = &overrides.catalog {
            figment = figment.merge(Serialized::default("warehouse.catalog", catalog));
        }
        figment
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }

    pub fn validate(raw: RawConfig) -> Result<Self, ConfigError> {
        let listen: SocketAddr =
            raw.server
                .listen
                .parse()
                .map_err(|e: std::net::AddrParseError| ConfigError::Listen {
                    value: raw.server.listen.clone(),
                    reason: e.to_string(),
                })?;
        let auth = match raw.auth.method.as_str() {
            "trust" => Auth::Trust,
            "password" => {
                if raw.auth.users.is_empty() {
                    return Err(ConfigError::NoUsers);
                }
                let users = raw
                    .auth
                    .users
                    .iter()
                    .map(|u| {
                        Secret::parse(&u.password)
                            .map(|s| (u.name.clone(), s))
                            .map_err(|reason| ConfigError::BadSecret {
                                user: u.name.clone(),
                                reason,
                            })
                    })
                    .collect::<Result<_, _>>()?;
                let rules = raw
                    .auth
                    .rules
                    .iter()
                    .enumerate()
                    .map(|(index, r)| {
                        let error = |reason| ConfigError::Rule {
                            index: index + 1,
                            reason,
                        };
                        Ok(Rule {
                            user: r.user.clone(),
                            address: r
                                .address
                                .as_deref()
                                .map(Network::parse)
                                .transpose()
                                .map_err(error)?,
                            method: Method::parse(&r.method).map_err(error)?,
                        })
                    })
                    .collect::<Result<_, ConfigError>>()?;
                Auth::Password { users, rules }
            }
            other => return Err(ConfigError::AuthMethod(other.to_owned())),
        };
        if matches!(auth, Auth::Trust) && !listen.ip().is_loopback() {
            return Err(ConfigError::InsecureListen { addr: listen });
        }
        let tls = raw
            .server
            .tls
            .as_ref()
            .map(|t| {
                crate::tls::acceptor(&t.cert, &t.key).map(|acceptor| Tls {
                    acceptor,
                    required: t.required,
                })
            })
            .transpose()
            .map_err(ConfigError::Tls)?;
        let datafusion_options = raw
            .datafusion
            .into_iter()
            .map(|(k, v)| {
                let key = if k.starts_with("datafusion.") {
                    k
                } else {
                    format!("datafusion.{k}")
                };
                (key, v)
            })
            .collect();
        let buckets = tarn_connectors::StorageConfig::new(
            raw.storage
                .into_iter()
                .map(|(bucket, options)| (bucket, options.into_iter().collect())),
        )?;
        // The warehouse's own bucket options, where configured, under its
        // `[warehouse.storage]` (which wins).
        let mut storage_options = tarn_connectors::storage::parse_location(&raw.warehouse.url)
            .map(|url| buckets.options_for(&url))
            .unwrap_or_default();
        storage_options.extend(raw.warehouse.storage);
        let crawlers = raw
            .crawlers
            .into_iter()
            .map(|c| {
                let every =
                    humantime::parse_duration(&c.every).map_err(|e| ConfigError::Crawler {
                        name: c.name.clone(),
                        reason: format!("every = {:?}: {e}", c.every),
                    })?;
                if every < std::time::Duration::from_secs(1) {
                    return Err(ConfigError::Crawler {
                        name: c.name,
                        reason: "every must be at least 1s".to_owned(),
                    });
                }
                Ok(Crawler {
                    name: c.name,
                    location: c.location,
                    schema: c.schema,
                    every,
                    options: c.options,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let dropped_files_kept = humantime::parse_duration(&raw.warehouse.dropped_files_kept)
            .map_err(|e| ConfigError::Invalid {
                key: "warehouse.dropped_files_kept".to_owned(),
                reason: e.to_string(),
            })?;
        let small_file_cache = memory_size(&raw.warehouse.small_file_cache).map_err(|reason| {
            ConfigError::Invalid {
                key: "warehouse.small_file_cache".to_owned(),
                reason,
            }
        })?;
        Ok(Self {
            listen,
            dropped_files_kept,
            small_file_cache,
            warehouse: raw.warehouse.url,
            catalog: raw.warehouse.catalog,
            storage_options,
            buckets,
            crawlers,
            allowed_locations: raw.warehouse.allowed_locations,
            datafusion_options,
            auth,
            tls,
        })
    }
}

/// Bytes in a memory size as PostgreSQL's settings spell it: a number with `B`, `kB`,
/// `MB`, `GB` or `TB` (multiples of 1024), or `0`.
fn memory_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a memory size (\"128MB\", \"1GB\", \"0\")"))?;
    let scale: usize = match unit.trim() {
        "" if number == 0 => 1,
        "B" => 1,
        "kB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => {
            return Err(format!(
                "{text:?} is not a memory size: valid units are \"B\", \"kB\", \"MB\", \"GB\" and \"TB\""
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_serve_the_local_warehouse_on_loopback() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("empty.toml");
        std::fs::write(&file, "").expect("write");
        let overrides = Overrides {
            config: Some(file),
            ..Overrides::default()
        };
        let config = Config::load(&overrides, &[]).expect("defaults are valid");
        assert_eq!(config.listen.to_string(), "127.0.0.1:5433");
        assert_eq!(config.warehouse, "./tarn-data");
        assert_eq!(config.catalog, "tarn");
        assert!(matches!(config.auth, Auth::Trust));
        assert_eq!(
            config.dropped_files_kept,
            std::time::Duration::from_secs(600)
        );
        assert_eq!(config.small_file_cache, 128 << 20);
    }

    #[test]
    fn dropped_files_kept_reads_durations_and_refuses_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let load = |value: &str| {
            let file = dir.path().join("tarn.toml");
            std::fs::write(
                &file,
                format!("[warehouse]\ndropped_files_kept = \"{value}\"\n"),
            )
            .expect("write");
            Config::load(
                &Overrides {
                    config: Some(file),
                    ..Overrides::default()
                },
                &[],
            )
        };
        let config = load("30s").expect("30s");
        assert_eq!(
            config.dropped_files_kept,
            std::time::Duration::from_secs(30)
        );
        let err = load("soon").expect_err("not a duration").to_string();
        assert!(err.contains("warehouse.dropped_files_kept"), "{err}");
    }

    #[test]
    fn small_file_cache_reads_memory_sizes_as_postgres_spells_them() {
        assert_eq!(memory_size("128MB"), Ok(128 * 1024 * 1024));
        assert_eq!(memory_size("1GB"), Ok(1 << 30));
        assert_eq!(memory_size("64kB"), Ok(64 * 1024));
        assert_eq!(memory_size("0"), Ok(0));
        assert_eq!(memory_size("4096B"), Ok(4096));
        for bad in ["128", "128 mb", "lots", "-1MB", "99999999999999TB"] {
            assert!(memory_size(bad).is_err(), "{bad}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tarn.toml");
        std::fs::write(&file, "[warehouse]\nsmall_file_cache = \"big\"\n").expect("write");
        let err = Config::load(
            &Overrides {
                config: Some(file),
                ..Overrides::default()
            },
            &[],
        )
        .expect_err("not a size")
        .to_string();
        assert!(err.contains("warehouse.small_file_cache"), "{err}");
    }

    #[test]
    fn layers_override_in_order_file_env_flags() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tarn.toml");
        std::fs::write(
            &file,
            "[server]\nlisten = \"127.0.0.1:7001\"\n[warehouse]\nurl = \"/from/file\"\ncatalog = \"filecat\"\n",
        )
        .expect("write");
        let only_file = Overrides {
            config: Some(file.clone()),
            ..Overrides::default()
        };
        let c = Config::load(&only_file, &[]).expect("file");
        assert_eq!(c.listen.port(), 7001);
        assert_eq!(c.warehouse, "/from/file");

        let environment = env(&[
            ("TARN__SERVER__LISTEN", "127.0.0.1:7002"),
            ("TARN__WAREHOUSE__URL", "/from/env"),
            ("UNRELATED", "x"),
        ]);
        let c = Config::load(&only_file, &environment).expect("env");
        assert_eq!(c.listen.port(), 7002, "env beats file");
        assert_eq!(c.warehouse, "/from/env");
        assert_eq!(c.catalog, "filecat", "file value kept where env is silent");

        let flags = Overrides {
            config: Some(file),
            listen: Some("127.0.0.1:7003".into()),
            warehouse: None,
            catalog: None,
        };
        let c = Config::load(&flags, &environment).expect("flags");
        assert_eq!(c.listen.port(), 7003, "flag beats env");
        assert_eq!(c.warehouse, "/from/env", "env kept where flags are silent");
    }

    #[test]
    fn non_loopback_without_auth_is_refused() {
        let raw = RawConfig {
            server: RawServer {
                listen: "0.0.0.0:5433".into(),
                tls: None,
            },
            ..RawConfig::default()
        };
        let err = Config::validate(raw).expect_err("must refuse");
        assert!(matches!(err, ConfigError::InsecureListen { .. }));
        assert!(err.to_string().contains("without authentication"), "{err}");
    }

    #[test]
    fn unknown_keys_are_errors_not_silently_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tarn.toml");
        std::fs::write(&file, "[server]\nlisten_typo = \"x\"\n").expect("write");
        let overrides = Overrides {
            config: Some(file),
            ..Overrides::default()
        };
        assert!(Config::load(&overrides, &[]).is_err());
    }

    #[test]
    fn bad_rules_are_configuration_errors() {
        let mut raw = RawConfig::default();
        raw.auth.method = "password".into();
        raw.auth.users.push(RawUser {
            name: "alice".into(),
            password: crate::auth::Secret::hash("x").to_stored(),
        });
        raw.auth.rules.push(RawRule {
            user: None,
            address: Some("10.0.0.0/40".into()),
            method: "md5".into(),
        });
        let err = Config::validate(raw.clone()).expect_err("bad prefix");
        assert!(err.to_string().contains("entry 1"), "{err}");
        raw.auth.rules[0].address = None;
        raw.auth.rules[0].method = "ident".into();
        let err = Config::validate(raw).expect_err("bad method");
        assert!(err.to_string().contains("\"ident\""), "{err}");
    }

    #[test]
    fn password_auth_needs_users_with_hashed_secrets() {
        let mut raw = RawConfig::default();
        raw.auth.method = "password".into();
        assert!(matches!(
            Config::validate(raw.clone()),
            Err(ConfigError::NoUsers)
        ));
        raw.auth.users.push(RawUser {
            name: "alice".into(),
            password: "plaintext".into(),
        });
        assert!(matches!(
            Config::validate(raw),
            Err(ConfigError::BadSecret { .. })
        ));
    }

    #[test]
    fn bucket_options_reach_the_warehouse_and_warehouse_storage_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tarn.toml");
        std::fs::write(
            &file,
            r#"
[warehouse]
url = "s3://lake/wh"
[warehouse.storage]
aws_region = "eu-west-1"
[storage."s3://lake"]
aws_region = "us-east-1"
aws_endpoint = "http://127.0.0.1:9000"
[storage."s3://raw"]
max_retries = "2"
"#,
        )
        .expect("write");
        let overrides = Overrides {
            config: Some(file.clone()),
            ..Overrides::default()
        };
        let config = Config::load(&overrides, &[]).expect("valid");
        assert_eq!(config.storage_options["aws_region"], "eu-west-1");
        assert_eq!(
            config.storage_options["aws_endpoint"],
            "http://127.0.0.1:9000"
        );
        let raw = url::Url::parse("s3://raw/crimes/").expect("url");
        assert_eq!(config.buckets.options_for(&raw)["max_retries"], "2");

        std::fs::write(&file, "[storage.\"s3://raw\"]\nretry_timeout = \"soon\"\n").expect("write");
        let err = Config::load(&overrides, &[]).expect_err("bad duration");
        assert!(err.to_string().contains("retry_timeout"), "{err}");
    }

    #[test]
    fn example_config_in_docker_folder_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker/tarn.toml");
        let overrides = Overrides {
            config: Some(path),
            ..Overrides::default()
        };
        let config = Config::load(&overrides, &[]).expect("docker/tarn.toml is valid");
        let Auth::Password { users, rules } = &config.auth else {
            panic!("the example uses passwords");
        };
        assert_eq!(users.len(), 2);
        assert_eq!(rules.len(), 1);
        // The md5 secret is the one the comment says it is made from.
        assert_eq!(
            users["quicksight"],
            crate::auth::Secret::md5("quicksight", "change-me")
        );
        assert_eq!(config.crawlers.len(), 1, "the example declares a crawler");
        assert_eq!(
            config.crawlers[0].every,
            std::time::Duration::from_secs(3600)
        );
    }
}
