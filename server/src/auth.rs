//! Password authentication: SCRAM-SHA-256 against hashed secrets from the config.
//!
//! A secret is stored as `tarn-scram-sha-256$<iterations>$<salt>$<salted password>`
//! (base64), made by `tarn hash-password`. The salted password is PBKDF2-HMAC-SHA-256
//! of the password, as SCRAM defines it: the server never stores or sees the password
//! itself, and the client proves knowledge of it without sending it.

use std::collections::HashMap;
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
#[derive(Clone)]
pub struct Secret {
    salt: Vec<u8>,
    salted_password: Vec<u8>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Hashes `password` with a fresh random salt.
    pub fn hash(password: &str) -> Self {
        let salt: [u8; 16] = rand::random();
        let salted_password =
            pgwire::api::auth::sasl::scram::gen_salted_password(password, &salt, ITERATIONS);
        Self {
            salt: salt.to_vec(),
            salted_password,
        }
    }

    /// Parses the stored form; the error says what is wrong without echoing it.
    pub fn parse(stored: &str) -> Result<Self, String> {
        let parts: Vec<&str> = stored.split('$').collect();
        let [prefix, iterations, salt, salted] = parts.as_slice() else {
            return Err(format!(
                "password must be a hashed secret ({PREFIX}$...), made by `tarn hash-password`"
            ));
        };
        if *prefix != PREFIX {
            return Err(format!("password secret must start with {PREFIX}$"));
        }
        if iterations.parse::<usize>().ok() != Some(ITERATIONS) {
            return Err(format!("password secret must use {ITERATIONS} iterations"));
        }
        let decode = |s: &str| {
            STANDARD
                .decode(s)
                .map_err(|_| "password secret is not valid base64".to_owned())
        };
        Ok(Self {
            salt: decode(salt)?,
            salted_password: decode(salted)?,
        })
    }

    pub fn to_stored(&self) -> String {
        format!(
            "{PREFIX}${ITERATIONS}${}${}",
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.salted_password)
        )
    }
}

/// The configured users, as pgwire's SCRAM exchange asks for them.
#[derive(Debug)]
pub struct Users {
    users: HashMap<String, Secret>,
}

impl Users {
    pub fn new(users: HashMap<String, Secret>) -> Arc<Self> {
        Arc::new(Self { users })
    }
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.users.get(user) {
            Some(secret) => Ok(Password::new(
                Some(secret.salt.clone()),
                secret.salted_password.clone(),
            )),
            None => Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "28P01".to_owned(),
                format!("password authentication failed for user \"{user}\""),
            )))),
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
        let parsed = Secret::parse(&stored).expect("parses");
        assert_eq!(parsed.salted_password, secret.salted_password);
    }

    #[test]
    fn plaintext_is_rejected() {
        let err = Secret::parse("hunter2").expect_err("plaintext");
        assert!(!err.contains("hunter2"), "{err}");
    }
}
