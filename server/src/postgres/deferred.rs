//! Replies to the extended protocol's messages, held until the client's Sync or
//! Flush, as PostgreSQL holds them.
//!
//! pgwire's handlers for Bind, Describe and Execute send each reply with
//! `SinkExt::send`, which flushes the connection: a query sent as Parse, Bind,
//! Describe, Execute and Sync (libpq, pgjdbc, asyncpg, node-postgres) took five
//! writes to the socket, and as many wake-ups of the client, where PostgreSQL makes
//! one. `Deferred` is the connection with its flush left to Sync and Flush (whose
//! handlers flush the connection itself); the codec still writes out whenever its
//! buffer fills, so a large result streams as before. It also tags `SHOW` and
//! `EXPLAIN` bare, as PostgreSQL does ([`bare_tag`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Sink;
use pgwire::api::{ClientInfo, ClientPortalStore, PgWireConnectionState, SessionExtensions};
use pgwire::messages::response::TransactionStatus;
use pgwire::messages::startup::SecretKey;
use pgwire::messages::{PgWireBackendMessage, ProtocolVersion};

/// `client`, whose flushes wait for the client's Sync or Flush.
pub(super) struct Deferred<'a, C>(pub &'a mut C);

impl<C> Sink<PgWireBackendMessage> for Deferred<'_, C>
where
    C: Sink<PgWireBackendMessage> + Unpin,
{
    type Error = C::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.get_mut().0).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: PgWireBackendMessage) -> Result<(), Self::Error> {
        let item = match item {
            PgWireBackendMessage::CommandComplete(mut complete) => {
                bare_tag(&mut complete.tag);
                PgWireBackendMessage::CommandComplete(complete)
            }
            other => other,
        };
        Pin::new(&mut *self.get_mut().0).start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut *self.get_mut().0).poll_close(cx)
    }
}

/// PostgreSQL tags the rows of `SHOW` and `EXPLAIN` bare, where pgwire's Execute
/// counts every query's rows (`SHOW 1`). The simple protocol's tags are Tarn's own
/// (`handler::send_rows`); these come from pgwire's Execute.
fn bare_tag(tag: &mut String) {
    for command in ["SHOW", "EXPLAIN"] {
        if let Some(count) = tag.strip_prefix(command).and_then(|t| t.strip_prefix(' '))
            && !count.is_empty()
            && count.bytes().all(|b| b.is_ascii_digit())
        {
            tag.truncate(command.len());
        }
    }
}

impl<C: ClientPortalStore> ClientPortalStore for Deferred<'_, C> {
    type PortalStore = C::PortalStore;

    fn portal_store(&self) -> &Self::PortalStore {
        self.0.portal_store()
    }
}

impl<C: ClientInfo> ClientInfo for Deferred<'_, C> {
    fn socket_addr(&self) -> SocketAddr {
        self.0.socket_addr()
    }

    fn is_secure(&self) -> bool {
        self.0.is_secure()
    }

    fn protocol_version(&self) -> ProtocolVersion {
        self.0.protocol_version()
    }

    fn set_protocol_version(&mut self, version: ProtocolVersion) {
        self.0.set_protocol_version(version)
    }

    fn pid_and_secret_key(&self) -> (i32, SecretKey) {
        self.0.pid_and_secret_key()
    }

    fn set_pid_and_secret_key(&mut self, pid: i32, secret_key: SecretKey) {
        self.0.set_pid_and_secret_key(pid, secret_key)
    }

    fn state(&self) -> PgWireConnectionState {
        self.0.state()
    }

    fn set_state(&mut self, new_state: PgWireConnectionState) {
        self.0.set_state(new_state)
    }

    fn transaction_status(&self) -> TransactionStatus {
        self.0.transaction_status()
    }

    fn set_transaction_status(&mut self, new_status: TransactionStatus) {
        self.0.set_transaction_status(new_status)
    }

    fn metadata(&self) -> &HashMap<String, String> {
        self.0.metadata()
    }

    fn metadata_mut(&mut self) -> &mut HashMap<String, String> {
        self.0.metadata_mut()
    }

    fn session_extensions(&self) -> &SessionExtensions {
        self.0.session_extensions()
    }

    fn sni_server_name(&self) -> Option<&str> {
        self.0.sni_server_name()
    }

    fn client_certificates<'a>(&self) -> Option<&[rustls_pki_types::CertificateDer<'a>]> {
        self.0.client_certificates()
    }
}

#[cfg(test)]
mod tests {
    use super::bare_tag;

    #[test]
    fn show_and_explain_are_tagged_bare_and_others_keep_their_counts() {
        let tags = [
            "SHOW 1",
            "EXPLAIN 12",
            "SELECT 1",
            "SHOW",
            "SHOWS 1",
            "INSERT 0 3",
        ];
        let bare: Vec<String> = tags
            .iter()
            .map(|t| {
                let mut t = (*t).to_owned();
                bare_tag(&mut t);
                t
            })
            .collect();
        assert_eq!(
            bare,
            [
                "SHOW",
                "EXPLAIN",
                "SELECT 1",
                "SHOW",
                "SHOWS 1",
                "INSERT 0 3"
            ]
        );
    }
}
