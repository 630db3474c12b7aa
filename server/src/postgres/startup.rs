//! Connection startup: the database name, startup options, authentication, and the
//! ParameterStatus values clients read (COMPAT.md, Startup).

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use futures::Sink;
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::{
    ServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use pgwire::api::{
    ClientInfo, ConnectionManager, METADATA_APPLICATION_NAME, METADATA_USER, PidSecretKeyGenerator,
    RandomPidSecretKeyGenerator,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use tarn_sql::Session;
use tarn_sql::settings::SERVER_VERSION;

use super::sqlstate;

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

/// Startup for one connection: checks the database, applies startup options to the
/// session, then authenticates (trust, or SCRAM-SHA-256 when users are configured).
pub struct Startup {
    session: Arc<Session>,
    scram: Option<SASLAuthStartupHandler<Parameters>>,
    manager: Arc<ConnectionManager>,
}

impl Startup {
    pub fn new(
        session: Arc<Session>,
        scram: Option<SASLAuthStartupHandler<Parameters>>,
        manager: Arc<ConnectionManager>,
    ) -> Self {
        Self {
            session,
            scram,
            manager,
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

    async fn trust<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let PgWireFrontendMessage::Startup(ref startup) = message {
            protocol_negotiation(client, startup).await?;
            save_startup_parameters_to_metadata(client, startup);
            let (pid, key) = RandomPidSecretKeyGenerator::default().generate(client);
            let (pid, key) = (pid ^ rand::random::<u16>() as i32, key);
            client.set_pid_and_secret_key(pid, key.clone());
            let (handle, guard) = self.manager.register(pid, key);
            client.session_extensions().insert(handle);
            client.session_extensions().insert(guard);
            finish_authentication(client, &Parameters).await?;
        }
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
            self.apply(&startup.parameters)?;
        }
        match &self.scram {
            Some(scram) => scram.on_startup(client, message).await,
            None => self.trust(client, message).await,
        }
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
