//! Password authentication against hashed secrets from the config.
//!
//! Three exchanges, as PostgreSQL has them, chosen per connection by [`Users::method_for`]
//! (rules like `pg_hba.conf` lines, first match wins; SCRAM-SHA-256 otherwise):
//!
//! | method          | on the wire                         | secret it needs            |
//! |-----------------|-------------------------------------|----------------------------|
//! | `scram-sha-256` | SASL; the password never crosses   | SCRAM                      |
//! | `md5`           | `md5(md5(password‖user)‖salt)`      | MD5, or SCRAM (then SCRAM) |
//! | `password`      | the password itself (use TLS)       | SCRAM or MD5               |
//!
//! Secrets are stored as `tarn-scram-sha-256$<iterations>$<salt>$<salted password>`
//! (base64; PBKDF2-HMAC-SHA-256 as SCRAM defines it) or, for drivers that cannot do
//! SCRAM (QuickSight's), `md5<hex of md5(password‖user)>` as PostgreSQL's `pg_authid`
//! keeps them. `tarn hash-password [--md5 --user NAME]` makes both. The server never
//! stores the password itself. Like PostgreSQL, `md5` with a SCRAM secret runs SCRAM.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use pgwire::api::auth::{AuthSource, LoginInfo, Password};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};

const PREFIX: &str = "tarn-scram-sha-256";
/// Iterations for new secrets; pgwire's SCRAM exchange uses one count for all users.
pub const ITERATIONS: usize = 4096;

/// A hashed password.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Scram {
        salt: Vec<u8>,
        salted_password: Vec<u8>,
    },
    /// Lowercase hex of `md5(password || user)`, without the `md5` prefix.
    Md5(String),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Scram { .. } => f.write_str("Secret::Scram(..)"),
            Self::Md5(_) => f.write_str("Secret::Md5(..)"),
        }
    }
}

impl Secret {
    /// Hashes `password` for SCRAM-SHA-256 with a fresh random salt.
    pub fn hash(password: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        let salted_password =
            pgwire::api::auth::sasl::scram::gen_salted_password(password, &salt, ITERATIONS);
        Self::Scram {
            salt: salt.to_vec(),
            salted_password,
        }
    }

    /// PostgreSQL's MD5 secret for `user`: md5 salts with the user name, so the
    /// secret is only valid for that name.
    pub fn md5(user: &str, password: &str) -> Self {
        Self::Md5(format!("{:x}", md5::compute(format!("{password}{user}"))))
    }

    /// Parses the stored form; the error says what is wrong without echoing it.
    pub fn parse(stored: &str) -> Result<Self, String> {
        if let Some(hex) = stored.strip_prefix("md5") {
            if hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Self::Md5(hex.to_ascii_lowercase()));
            }
            return Err("an md5 secret is `md5` and 32 hex digits".to_owned());
        }
        let parts: Vec<&str> = stored.split('$').collect();
        let [prefix, iterations, salt, salted] = parts.as_slice() else {
            return Err(format!(
                "password must be a hashed secret ({PREFIX}$... or md5...), made by `tarn hash-password`"
            ));
        };
        if *prefix != PREFIX {
            return Err(format!("password secret must start with {PREFIX}$ or md5"));
        }
        if iterations.parse::<usize>().ok() != Some(ITERATIONS) {
            return Err(format!("password secret must use {ITERATIONS} iterations"));
        }
        let decode = |s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| "password secret is not valid base64".to_owned())
        };
        Ok(Self::Scram {
            salt: decode(salt)?,
            salted_password: decode(salted)?,
        })
    }

    pub fn to_stored(&self) -> String {
        match self {
            Self::Scram {
                salt,
                salted_password,
            } => format!(
                "{PREFIX}${ITERATIONS}${}${}",
                STANDARD.encode(salt),
                STANDARD.encode(salted_password)
            ),
            Self::Md5(hex) => format!("md5{hex}"),
        }
    }

    /// Checks a password sent in clear (the `password` method).
    pub fn verify_cleartext(&self, user: &str, password: &str) -> bool {
        match self {
            Self::Scram {
                salt,
                salted_password,
            } => {
                let candidate =
                    pgwire::api::auth::sasl::scram::gen_salted_password(password, salt, ITERATIONS);
                constant_time_eq(&candidate, salted_password)
            }
            Self::Md5(_) => constant_time_eq(
                Self::md5(user, password).to_stored().as_bytes(),
                self.to_stored().as_bytes(),
            ),
        }
    }

    /// The answer an md5 exchange with `salt` expects: `md5` + hex(md5(secret hex ‖ salt)).
    pub fn md5_response(&self, salt: &[u8; 4]) -> Option<String> {
        let Self::Md5(hex) = self else { return None };
        let mut input = hex.as_bytes().to_vec();
        input.extend_from_slice(salt);
        Some(format!("md5{:x}", md5::compute(input)))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An authentication exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    ScramSha256,
    Md5,
    /// Cleartext password.
    Password,
}

impl Method {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name {
            "scram-sha-256" => Ok(Self::ScramSha256),
            "md5" => Ok(Self::Md5),
            "password" => Ok(Self::Password),
            other => Err(format!(
                "unknown method {other:?} (expected \"scram-sha-256\", \"md5\" or \"password\")"
            )),
        }
    }
}

/// A network in CIDR form (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("address {text:?} is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("address {text:?}: prefix length must be 0..={max}"))?,
        };
        Ok(Self { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let (net, ip, bits) = match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(i)) => {
                (u128::from(n.to_bits()), u128::from(i.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(i)) => (n.to_bits(), i.to_bits(), 128),
            _ => return false,
        };
        let shift = bits - u32::from(self.prefix);
        shift >= 128 || (net >> shift) == (ip >> shift)
    }
}

/// One `[[auth.rules]]` entry: the method for connections from `address` (any when
/// unset) as `user` (any when unset).
#[derive(Debug, Clone)]
pub struct Rule {
    pub user: Option<String>,
    pub address: Option<Network>,
    pub method: Method,
}

/// The configured users and rules.
#[derive(Debug)]
pub struct Users {
    users: HashMap<String, Secret>,
    rules: Vec<Rule>,
}

impl Users {
    pub fn new(users: HashMap<String, Secret>, rules: Vec<Rule>) -> Arc<Self> {
        Arc::new(Self { users, rules })
    }

    pub fn secret(&self, user: &str) -> Option<&Secret> {
        self.users.get(user)
    }

    /// The exchange for `user` connecting from `ip`: the first matching rule's, else
    /// SCRAM-SHA-256. `md5` becomes SCRAM when the user's secret is a SCRAM secret.
    pub fn method_for(&self, user: &str, ip: IpAddr) -> Method {
        let method = self
            .rules
            .iter()
            .find(|r| {
                r.user.as_deref().is_none_or(|u| u == user)
                    && r.address.is_none_or(|n| n.contains(ip))
            })
            .map_or(Method::ScramSha256, |r| r.method);
        match (method, self.users.get(user)) {
            (Method::Md5, Some(Secret::Scram { .. })) => Method::ScramSha256,
            (method, _) => method,
        }
    }
}

pub fn password_failed(user: &str) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".to_owned(),
        "28P01".to_owned(),
        format!("password authentication failed for user \"{user}\""),
    )))
}

/// For pgwire's SCRAM exchange. A user with only an MD5 secret cannot do SCRAM, and
/// fails as an unknown user does (PostgreSQL too).
#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.users.get(user) {
            Some(Secret::Scram {
                salt,
                salted_password,
            }) => Ok(Password::new(Some(salt.clone()), salted_password.clone())),
            _ => Err(password_failed(user)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_secret_round_trips_and_never_contains_the_password() {
        let secret = Secret::hash("s3cret-pass");
        let stored = secret.to_stored();
        assert!(!stored.contains("s3cret-pass"));
        assert_eq!(Secret::parse(&stored).expect("parses"), secret);
    }

    #[test]
    fn plaintext_is_rejected() {
        let err = Secret::parse("hunter2").expect_err("plaintext");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(Secret::parse("md5nothex").is_err());
    }

    #[test]
    fn md5_secret_is_postgres_form() {
        // Values from Python's hashlib: md5(b"secretalice"), then md5(hex + salt 01020304),
        // the form PostgreSQL keeps in pg_authid and the answer libpq sends.
        let secret = Secret::md5("alice", "secret");
        assert_eq!(secret.to_stored(), "md54a0a68b43b6cd5cf266fa02f196e2371");
        assert_eq!(
            secret.md5_response(&[1, 2, 3, 4]).as_deref(),
            Some("md598a0412b9c31436fc53776e863350083")
        );
    }

    #[test]
    fn cleartext_checks_either_secret() {
        assert!(Secret::hash("pw").verify_cleartext("bob", "pw"));
        assert!(!Secret::hash("pw").verify_cleartext("bob", "pW"));
        assert!(Secret::md5("bob", "pw").verify_cleartext("bob", "pw"));
        assert!(!Secret::md5("bob", "pw").verify_cleartext("eve", "pw"));
    }

    #[test]
    fn rules_pick_the_method_first_match_wins() {
        let users = Users::new(
            HashMap::from([
                ("qs".to_owned(), Secret::md5("qs", "x")),
                ("ana".to_owned(), Secret::hash("x")),
            ]),
            vec![
                Rule {
                    user: Some("qs".to_owned()),
                    address: None,
                    method: Method::Md5,
                },
                Rule {
                    user: None,
                    address: Some(Network::parse("10.0.0.0/8").expect("cidr")),
                    method: Method::Password,
                },
                Rule {
                    user: None,
                    address: None,
                    method: Method::Md5,
                },
            ],
        );
        let lan: IpAddr = "10.1.2.3".parse().expect("ip");
        let wan: IpAddr = "192.0.2.1".parse().expect("ip");
        assert_eq!(users.method_for("qs", wan), Method::Md5);
        assert_eq!(users.method_for("ana", lan), Method::Password);
        // md5 with a SCRAM secret runs SCRAM, as PostgreSQL does.
        assert_eq!(users.method_for("ana", wan), Method::ScramSha256);
        assert!(Network::parse("::ffff:10.0.0.0/104").is_ok());
        assert!(
            Network::parse("10.0.0.0/8")
                .expect("cidr")
                .contains("::ffff:10.9.9.9".parse().expect("ip"))
        );
        assert!(Network::parse("10.0.0.0/33").is_err());
        assert!(Network::parse("0.0.0.0/0").expect("cidr").contains(wan));
    }
}
