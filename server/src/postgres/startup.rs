//! Connection startup: the database name, startup options, authentication, and the
//! ParameterStatus values clients read (COMPAT.md, Startup).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::{Sink, SinkExt};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionManager, METADATA_APPLICATION_NAME, METADATA_USER, PgWireConnectionState,
    PidSecretKeyGenerator, RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::startup::Authentication;
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tarn_sql::Session;
use tarn_sql::settings::SERVER_VERSION;
use tokio::sync::Mutex;

use super::sqlstate;
use crate::auth::{self, Method, Users};

/// The ParameterStatus values sent after authentication, as PostgreSQL 15 sends them.
#[derive(Debug, Default)]
pub struct Parameters;

impl ServerParameterProvider for Parameters {
    fn server_parameters<C>(&self, client: &C) -> Option<HashMap<String, String>>
    where
        C: ClientInfo,
    {
        let user = client
            .metadata()
            .get(METADATA_USER)
            .cloned()
            .unwrap_or_default();
        let application = client
            .metadata()
            .get(METADATA_APPLICATION_NAME)
            .cloned()
            .unwrap_or_default();
        let params = [
            ("server_version", SERVER_VERSION.to_owned()),
            ("server_encoding", "UTF8".to_owned()),
            ("client_encoding", "UTF8".to_owned()),
            ("DateStyle", "ISO, MDY".to_owned()),
            ("IntervalStyle", "postgres".to_owned()),
            ("TimeZone", "UTC".to_owned()),
            ("integer_datetimes", "on".to_owned()),
            ("standard_conforming_strings", "on".to_owned()),
            ("is_superuser", "on".to_owned()),
            ("in_hot_standby", "off".to_owned()),
            ("default_transaction_read_only", "off".to_owned()),
            ("application_name", application),
            ("session_authorization", user),
        ];
        Some(params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }
}

/// The password exchange under way, between the startup message and the password.
enum Pending {
    None,
    Scram,
    /// The answer expected; `None` for an unknown user, who fails the same way.
    Md5 {
        user: String,
        expected: Option<String>,
    },
    Cleartext {
        user: String,
    },
}

/// Startup for one connection: refuses plaintext when TLS is required, checks the
/// database, applies startup options to the session, then authenticates: trust, or
/// the password exchange [`Users::method_for`] picks.
pub struct Startup {
    session: Arc<Session>,
    password: Option<(Arc<Users>, SASLAuthStartupHandler<Parameters>)>,
    tls_required: bool,
    manager: Arc<ConnectionManager>,
    pending: Mutex<Pending>,
}

impl Startup {
    pub fn new(
        session: Arc<Session>,
        password: Option<(Arc<Users>, SASLAuthStartupHandler<Parameters>)>,
        tls_required: bool,
        manager: Arc<ConnectionManager>,
    ) -> Self {
        Self {
            session,
            password,
            tls_required,
            manager,
            pending: Mutex::new(Pending::None),
        }
    }

    fn fatal(code: &str, message: String) -> PgWireError {
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "FATAL".to_owned(),
            code.to_owned(),
            message,
        )))
    }

    /// Validates the startup packet and applies its settings to the session.
    fn apply(&self, parameters: &std::collections::BTreeMap<String, String>) -> PgWireResult<()> {
        let user = parameters.get("user").cloned().unwrap_or_default();
        let database = parameters
            .get("database")
            .cloned()
            .unwrap_or_else(|| user.clone());
        let catalog = self.session.engine().catalog_name();
        if database != catalog {
            return Err(Self::fatal(
                sqlstate::INVALID_CATALOG_NAME,
                format!(
                    "database \"{database}\" does not exist (this server's database is \"{catalog}\")"
                ),
            ));
        }
        let set = |name: &str, value: &str| {
            self.session
                .set(name, value)
                .map_err(|e| Self::fatal(sqlstate::sqlstate(&e), e.to_string()))
        };
        set("session_authorization", &user)?;
        tarn_sql::pg::register_role(&user);
        for (name, value) in parameters {
            match name.as_str() {
                "user" | "database" | "replication" => {}
                "options" => {
                    for (k, v) in parse_options(value)? {
                        set(&k, &v)?;
                    }
                }
                // Unknown startup parameters are session settings in PostgreSQL too;
                // ones Tarn does not know are ignored rather than refused, as
                // drivers send extras (e.g. `extra_float_digits`, `geqo`).
                other => {
                    let _ = self.session.set(other, value);
                }
            }
        }
        Ok(())
    }

    /// Authentication succeeded (or was not needed): a backend key for
    /// CancelRequest, the connection registered, ParameterStatus and ReadyForQuery.
    async fn admit<C>(&self, client: &mut C) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (pid, key) = RandomPidSecretKeyGenerator::default().generate(client);
        let (pid, key) = (pid ^ rand::random::<u16>() as i32, key);
        client.set_pid_and_secret_key(pid, key.clone());
        let (handle, guard) = self.manager.register(pid, key);
        client.session_extensions().insert(handle);
        client.session_extensions().insert(guard);
        finish_authentication(client, &Parameters).await
    }

    async fn ask<C>(&self, client: &mut C, request: Authentication) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        client.set_state(PgWireConnectionState::AuthenticationInProgress);
        client
            .send(PgWireBackendMessage::Authentication(request))
            .await?;
        Ok(())
    }
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            if self.tls_required && !client.is_secure() {
                return Err(Self::fatal(
                    sqlstate::INVALID_AUTHORIZATION_SPECIFICATION,
                    "this server requires TLS: connect with sslmode=require (or verify-full)"
                        .to_owned(),
                ));
            }
            self.apply(&startup.parameters)?;
            let Some((users, scram)) = &self.password else {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                return self.admit(client).await;
            };
            let user = startup.parameters.get("user").cloned().unwrap_or_default();
            let method = users.method_for(&user, client.socket_addr().ip());
            match method {
                Method::ScramSha256 => {
                    *self.pending.lock().await = Pending::Scram;
                    return scram.on_startup(client, message).await;
                }
                Method::Md5 => {
                    protocol_negotiation(client, startup).await?;
                    save_startup_parameters_to_metadata(client, startup);
                    let salt: [u8; 4] = rand::random();
                    let expected = users.secret(&user).and_then(|s| s.md5_response(&salt));
                    *self.pending.lock().await = Pending::Md5 { user, expected };
                    return self
                        .ask(client, Authentication::MD5Password(salt.to_vec()))
                        .await;
                }
                Method::Password => {
                    protocol_negotiation(client, startup).await?;
                    save_startup_parameters_to_metadata(client, startup);
                    *self.pending.lock().await = Pending::Cleartext { user };
                    return self.ask(client, Authentication::CleartextPassword).await;
                }
            }
        }
        let mut pending = self.pending.lock().await;
        match std::mem::replace(&mut *pending, Pending::None) {
            Pending::None => Ok(()),
            Pending::Scram => {
                *pending = Pending::Scram;
                drop(pending);
                // libpq leaves the SCRAM user name empty (the startup packet has it):
                // name the startup user in the error, as PostgreSQL does.
                let user = client.metadata().get("user").cloned().unwrap_or_default();
                match &self.password {
                    Some((_, scram)) => {
                        scram
                            .on_startup(client, message)
                            .await
                            .map_err(|e| match e {
                                PgWireError::InvalidPassword(_) => auth::password_failed(&user),
                                other => other,
                            })
                    }
                    None => Ok(()),
                }
            }
            Pending::Md5 { user, expected } => {
                drop(pending);
                let sent = password_of(message)?;
                match expected {
                    Some(expected) if expected.as_bytes() == sent.as_bytes() => {
                        self.admit(client).await
                    }
                    _ => Err(auth::password_failed(&user)),
                }
            }
            Pending::Cleartext { user } => {
                drop(pending);
                let sent = password_of(message)?;
                let users = self.password.as_ref().map(|(users, _)| users);
                match users.and_then(|u| u.secret(&user)) {
                    Some(secret) if secret.verify_cleartext(&user, &sent) => {
                        self.admit(client).await
                    }
                    _ => Err(auth::password_failed(&user)),
                }
            }
        }
    }
}

fn password_of(message: PgWireFrontendMessage) -> PgWireResult<String> {
    match message {
        PgWireFrontendMessage::PasswordMessageFamily(p) => Ok(p.into_password()?.password),
        _ => Err(Startup::fatal(
            sqlstate::PROTOCOL_VIOLATION,
            "expected a password message".to_owned(),
        )),
    }
}

/// `-c name=value` and `--name=value` pairs from the `options` startup parameter.
fn parse_options(options: &str) -> PgWireResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut words = split_words(options).into_iter();
    while let Some(word) = words.next() {
        let assignment = if word == "-c" {
            words.next().unwrap_or_default()
        } else if let Some(rest) = word.strip_prefix("-c") {
            rest.to_owned()
        } else if let Some(rest) = word.strip_prefix("--") {
            rest.to_owned()
        } else {
            return Err(Startup::fatal(
                sqlstate::PROTOCOL_VIOLATION,
                format!("invalid command-line argument for server process: {word}"),
            ));
        };
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(Startup::fatal(
                sqlstate::SYNTAX_ERROR,
                format!("-c {assignment} requires a value"),
            ));
        };
        out.push((name.replace('-', "_"), value.to_owned()));
    }
    Ok(out)
}

/// Splits on unescaped whitespace; `\ ` keeps a space inside a word, as libpq does.
fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_accept_dash_c_forms_and_escaped_spaces() {
        let parsed =
            parse_options("-c search_path=analytics --statement-timeout=5 -cDateStyle=ISO,\\ MDY")
                .expect("valid options");
        assert_eq!(
            parsed,
            vec![
                ("search_path".to_owned(), "analytics".to_owned()),
                ("statement_timeout".to_owned(), "5".to_owned()),
                ("DateStyle".to_owned(), "ISO, MDY".to_owned()),
            ]
        );
    }

    #[test]
    fn options_without_value_are_refused() {
        assert!(parse_options("-c search_path").is_err());
        assert!(parse_options("bogus").is_err());
    }
}
