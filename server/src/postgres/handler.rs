//! pgwire's query handlers for one connection.
//!
//! ```text
//!  socket ─▶ pgwire codec ─▶ Startup ──────────▶ Session::set (options), auth
//!                         ├▶ Query   ─▶ Session::parse/execute, one statement at a time,
//!                         │             each result streamed before the next runs
//!                         └▶ Parse/Bind/Execute ─▶ Session::prepare / execute_prepared
//!                                       rows: RecordBatch stream ─▶ arrow-pg ─▶ DataRow
//! ```

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use futures::future::{Either, select};
use futures::{Sink, SinkExt, StreamExt};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::cancel::DefaultCancelHandler;
use pgwire::api::copy::{CopyHandler, send_copy_in_response, send_copy_out_response};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{CopyResponse, FieldInfo, QueryResponse, Response, Tag};
use pgwire::api::stmt::{QueryParser, StoredStatement};
use pgwire::api::store::{Entry, PortalStore};
use pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, ConnectionManager, PgWireConnectionState,
    PgWireServerHandlers, Type,
};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::PgWireBackendMessage;
use pgwire::messages::copy::{CopyData, CopyDone, CopyFail};
use pgwire::messages::data::{DataRow, RowDescription};
use pgwire::messages::extendedquery::{
    Bind, BindComplete, Describe, Execute, Parse, ParseComplete, Sync as PgSync,
};
use pgwire::messages::response::{EmptyQueryResponse, ReadyForQuery, TransactionStatus};
use pgwire::messages::simplequery::Query;
use tarn_sql::copy::CopyIn;
use tarn_sql::{CommandTag, Engine, Output, Prepared, Session, SqlError, TransactionState};

use super::deferred::Deferred;
use super::encode::{self, user_error};
use super::sqlstate;
use super::startup::{Parameters, Startup};
use crate::auth::{ITERATIONS, Users};

/// What every connection of a server shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub engine: Arc<Engine>,
    pub manager: Arc<ConnectionManager>,
    /// `None`: trust authentication.
    pub users: Option<Arc<Users>>,
    /// TLS is configured and required: plaintext connections are refused at startup.
    pub tls_required: bool,
    /// Statements running now, so shutdown can wait for them.
    pub active: Arc<AtomicUsize>,
}

/// The handlers of one client connection, around its session.
pub struct Connection {
    queries: Arc<QueryHandler>,
    startup: Arc<Startup>,
    cancel: Arc<DefaultCancelHandler>,
}

impl Connection {
    pub fn new(shared: &Shared) -> Result<Self, SqlError> {
        let session = Arc::new(shared.engine.session()?);
        let scram = shared.users.as_ref().map(|users| {
            let mut scram = ScramAuth::new(Arc::clone(users) as _);
            scram.set_iterations(ITERATIONS);
            SASLAuthStartupHandler::new(Arc::new(Parameters))
                .with_scram(scram)
                .with_connection_manager(Arc::clone(&shared.manager))
        });
        let fields = Arc::new(encode::FieldCache::default());
        Ok(Self {
            queries: Arc::new(QueryHandler {
                session: Arc::clone(&session),
                parser: Arc::new(Parser {
                    session: Arc::clone(&session),
                    fields: Arc::clone(&fields),
                }),
                fields,
                active: Arc::clone(&shared.active),
                copy: tokio::sync::Mutex::new(None),
                terminated: Arc::default(),
                named_statements: Default::default(),
            }),
            startup: Arc::new(Startup::new(
                session,
                shared.users.clone().zip(scram),
                shared.tls_required,
                Arc::clone(&shared.manager),
            )),
            cancel: Arc::new(DefaultCancelHandler::new(Arc::clone(&shared.manager))),
        })
    }
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::clone(&self.queries)
    }

    fn startup_handler(&self) -> Arc<impl pgwire::api::auth::StartupHandler> {
        Arc::clone(&self.startup)
    }

    fn cancel_handler(&self) -> Arc<impl pgwire::api::cancel::CancelHandler> {
        Arc::clone(&self.cancel)
    }

    fn copy_handler(&self) -> Arc<impl CopyHandler> {
        Arc::clone(&self.queries)
    }
}

/// Counts a running statement for the length of its scope.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn new(active: &Arc<AtomicUsize>) -> Self {
        active.fetch_add(1, Ordering::SeqCst);
        Self(Arc::clone(active))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub struct QueryHandler {
    session: Arc<Session>,
    parser: Arc<Parser>,
    /// RowDescription fields, shared with the parser's Describe.
    fields: Arc<encode::FieldCache>,
    active: Arc<AtomicUsize>,
    /// The COPY FROM STDIN in progress, fed by CopyData messages.
    copy: tokio::sync::Mutex<Option<CopyIn>>,
    /// Set by `pg_terminate_backend`: the next message gets FATAL 57P01.
    terminated: Arc<std::sync::atomic::AtomicBool>,
    /// The names of the statements this connection prepared (Parse with a name), for
    /// `DEALLOCATE ALL`.
    named_statements: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// How `pg_cancel_backend` and `pg_terminate_backend` reach a connection: through the
/// same cancel channel a CancelRequest fires.
#[derive(Debug)]
struct Control {
    handle: Arc<ConnectionHandle>,
    terminated: Arc<std::sync::atomic::AtomicBool>,
}

impl tarn_sql::activity::BackendControl for Control {
    fn cancel(&self) {
        let handle = Arc::clone(&self.handle);
        tokio::spawn(async move {
            handle.cancel().await;
        });
    }

    fn terminate(&self) {
        self.terminated.store(true, Ordering::SeqCst);
        self.cancel();
    }
}

impl QueryHandler {
    /// Lists the connection in `pg_stat_activity` (at its first statement, when the
    /// startup exchange has given it a process id and cancel channel), and refuses
    /// to go on once `pg_terminate_backend` ended it.
    fn check_in<C: ClientInfo>(&self, client: &C) -> PgWireResult<()> {
        if self.terminated.load(Ordering::SeqCst) {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "FATAL".to_owned(),
                "57P01".to_owned(),
                "terminating connection due to administrator command".to_owned(),
            ))));
        }
        if self.session.backend_pid().is_none()
            && let Some(handle) = client.session_extensions().get::<Arc<ConnectionHandle>>()
        {
            let metadata = client.metadata();
            let address = client.socket_addr();
            self.session.attach_backend(
                tarn_sql::activity::BackendInfo {
                    pid: client.pid_and_secret_key().0,
                    user: metadata.get("user").cloned().unwrap_or_default(),
                    application_name: self
                        .session
                        .settings()
                        .get("application_name")
                        .unwrap_or_default()
                        .to_owned(),
                    client_addr: Some(address.ip().to_string()),
                    client_port: Some(i32::from(address.port())),
                },
                Arc::new(Control {
                    handle: Arc::clone(&handle),
                    terminated: Arc::clone(&self.terminated),
                }),
            );
        }
        Ok(())
    }
}

fn transaction_status(state: TransactionState) -> TransactionStatus {
    match state {
        TransactionState::Idle => TransactionStatus::Idle,
        TransactionState::InBlock => TransactionStatus::Transaction,
        TransactionState::Failed => TransactionStatus::Error,
    }
}

/// Sends a simple Query's rows: RowDescription, the DataRows, CommandComplete. As
/// pgwire's `send_query_response` does, except for the tag: PostgreSQL counts the rows
/// of `SELECT n` and `FETCH n` but tags `SHOW` and `EXPLAIN` bare, where pgwire counts
/// every command's rows. (An extended-protocol Execute is sent by pgwire through
/// `Deferred`, which makes its tags bare the same way.) Messages are fed, not
/// flushed: the ReadyForQuery that follows
/// flushes them together.
async fn send_rows<C>(
    client: &mut C,
    fields: &[FieldInfo],
    rows: impl futures::Stream<Item = PgWireResult<DataRow>>,
    command: &str,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    let description = RowDescription::new(fields.iter().map(Into::into).collect());
    client
        .feed(PgWireBackendMessage::RowDescription(description))
        .await?;
    let mut rows = std::pin::pin!(rows);
    let mut count = 0;
    while let Some(row) = rows.next().await {
        client.feed(PgWireBackendMessage::DataRow(row?)).await?;
        count += 1;
    }
    let tag = match command {
        "SHOW" | "EXPLAIN" => Tag::new(command),
        _ => Tag::new(command).with_rows(count),
    };
    client
        .feed(PgWireBackendMessage::CommandComplete(tag.into()))
        .await?;
    Ok(())
}

fn tag(command: &CommandTag) -> Tag {
    match command.rows {
        Some(rows) => Tag::new(&command.command).with_rows(rows as usize),
        None => Tag::new(&command.command),
    }
}

fn canceled() -> ErrorInfo {
    ErrorInfo::new(
        "ERROR".to_owned(),
        sqlstate::QUERY_CANCELED.to_owned(),
        "canceling statement due to user request".to_owned(),
    )
}

/// Rows that stop with 57014 when the client's CancelRequest arrives while they are
/// computed and sent, however many Execute messages the portal is read with.
/// (pgwire races the statement's start against CancelRequest; this covers the
/// rows, which DataFusion computes as they are pulled.) The cancel channel is taken
/// on the first pull; if the connection starts another statement meanwhile, the
/// rows go on uncancellable.
fn cancellable<S>(
    rows: S,
    handle: Option<Arc<ConnectionHandle>>,
    session: Arc<Session>,
) -> impl futures::Stream<Item = PgWireResult<pgwire::messages::data::DataRow>> + Send + 'static
where
    S: futures::Stream<Item = PgWireResult<pgwire::messages::data::DataRow>> + Send + 'static,
{
    use futures::StreamExt;
    type Cancel = futures::channel::oneshot::Receiver<()>;
    enum State<S> {
        Start(std::pin::Pin<Box<S>>, Option<Arc<ConnectionHandle>>),
        Running(std::pin::Pin<Box<S>>, Option<Cancel>),
        Done,
    }
    futures::stream::unfold(State::Start(Box::pin(rows), handle), move |state| {
        let session = Arc::clone(&session);
        async move {
            let (mut rows, cancel) = match state {
                State::Done => return None,
                State::Running(rows, cancel) => (rows, cancel),
                State::Start(rows, handle) => match handle {
                    Some(handle) => (rows, Some(handle.start_query().await)),
                    None => (rows, None),
                },
            };
            let Some(mut cancel) = cancel else {
                return rows
                    .next()
                    .await
                    .map(|item| (item, State::Running(rows, None)));
            };
            tokio::select! {
                biased;
                fired = &mut cancel => match fired {
                    Ok(()) => {
                        session.statement_failed();
                        Some((Err(PgWireError::UserError(Box::new(canceled()))), State::Done))
                    }
                    Err(_) => rows.next().await.map(|item| (item, State::Running(rows, None))),
                },
                item = rows.next() => item.map(|item| (item, State::Running(rows, Some(cancel)))),
            }
        }
    })
}

impl QueryHandler {
    /// Keeps a COPY FROM STDIN's loader for the CopyData to come; the response to send.
    async fn start_copy_in(&self, copy: CopyIn) -> CopyResponse {
        let columns = copy.columns();
        *self.copy.lock().await = Some(copy);
        CopyResponse::new(0, columns, futures::stream::empty())
    }

    /// A DECLAREd cursor is also a portal of the same name, as in PostgreSQL: clients
    /// (psycopg 3) Describe it to learn its columns, and may Execute it with a row
    /// limit. The portal runs `FETCH ALL FROM name`, which continues the cursor.
    async fn cursor_portal<C>(&self, client: &mut C, cursor: &str) -> PgWireResult<()>
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore<Statement = Arc<Prepared>>,
    {
        let quoted = format!("\"{}\"", cursor.replace('"', "\"\""));
        let fetch = self
            .session
            .prepare(&format!("FETCH ALL FROM {quoted}"), &[])
            .await
            .map_err(|e| user_error(&e))?;
        let statement = Arc::new(StoredStatement::new(
            String::new(),
            Arc::new(fetch),
            Vec::new(),
        ));
        let bind = Bind::new(
            Some(cursor.to_owned()),
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        let portal = Portal::try_new(&bind, statement)?;
        client.portal_store().put_portal(Arc::new(portal));
        Ok(())
    }

    /// The CopyData stream of a COPY TO STDOUT.
    fn copy_out(
        &self,
        schema: &datafusion::arrow::datatypes::Schema,
        stream: datafusion::execution::SendableRecordBatchStream,
        format: tarn_sql::copy::CopyFormat,
    ) -> PgWireResult<CopyResponse> {
        let columns = schema.fields().len();
        let data = encode::copy_rows(Arc::clone(&self.session), schema, stream, format)?;
        Ok(CopyResponse::new(0, columns, data))
    }

    /// `DEALLOCATE [PREPARE] name | ALL`: forgets statements this connection prepared
    /// over the extended protocol (they live in pgwire's store, not in the session)
    /// or with SQL's `PREPARE` (in the session). `None` if `statement` is something
    /// else.
    fn deallocate<C>(
        &self,
        client: &mut C,
        statement: &datafusion::sql::parser::Statement,
    ) -> Option<Result<Tag, ErrorInfo>>
    where
        C: ClientPortalStore,
        C::PortalStore: PortalStore,
    {
        use datafusion::sql::sqlparser::ast::Statement as Sql;
        let datafusion::sql::parser::Statement::Statement(s) = statement else {
            return None;
        };
        let Sql::Deallocate { name, .. } = s.as_ref() else {
            return None;
        };
        let mut named = self
            .named_statements
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all") {
            for statement in std::mem::take(&mut *named) {
                client.portal_store().rm_statement(&statement);
            }
            self.session.deallocate_sql(None);
            return Some(Ok(Tag::new("DEALLOCATE ALL")));
        }
        let name = match name.quote_style {
            Some(_) => name.value.clone(),
            None => name.value.to_lowercase(),
        };
        if self.session.deallocate_sql(Some(&name)) {
            return Some(Ok(Tag::new("DEALLOCATE")));
        }
        if !named.remove(&name) || client.portal_store().get_statement(&name).is_none() {
            return Some(Err(ErrorInfo::new(
                "ERROR".to_owned(),
                "26000".to_owned(),
                format!("prepared statement \"{name}\" does not exist"),
            )));
        }
        client.portal_store().rm_statement(&name);
        Some(Ok(Tag::new("DEALLOCATE")))
    }

    /// Runs each statement of a simple Query in turn, streaming its result before the
    /// next starts; the first error ends the Query, as in PostgreSQL.
    async fn run_simple<C>(&self, client: &mut C, sql: &str) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = match self.session.parse(sql) {
            Ok(statements) => statements,
            Err(e) => {
                self.session.statement_failed();
                return send_error(client, sqlstate::error_info(&e)).await;
            }
        };
        if statements.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
            return Ok(());
        }
        for statement in statements {
            if let Some(deallocate) = self.deallocate(client, &statement) {
                match deallocate {
                    Ok(tag) => {
                        client
                            .feed(PgWireBackendMessage::CommandComplete(tag.into()))
                            .await?
                    }
                    Err(info) => {
                        self.session.statement_failed();
                        return send_error(client, info).await;
                    }
                }
                continue;
            }
            let output = self.session.execute(statement).await;
            send_notices(client, &self.session).await?;
            let output = match output {
                Ok(output) => output,
                Err(e) => return send_error(client, sqlstate::error_info(&e)).await,
            };
            match output {
                Output::Command(command) => {
                    client
                        .feed(PgWireBackendMessage::CommandComplete(tag(&command).into()))
                        .await?;
                }
                Output::CopyIn(copy) => {
                    send_copy_in_response(client, self.start_copy_in(copy).await).await?;
                    client.set_state(PgWireConnectionState::CopyInProgress(false));
                    // The rest of this Query waits for the data; PostgreSQL, too, ends a
                    // multi-statement Query at COPY FROM STDIN.
                    return Ok(());
                }
                Output::CopyOut {
                    schema,
                    stream,
                    format,
                } => {
                    let sent = match self.copy_out(&schema, stream, format) {
                        Ok(response) => send_copy_out_response(client, response).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = sent {
                        return send_pgwire_error(client, &self.session, e).await;
                    }
                }
                Output::Rows {
                    schema,
                    stream,
                    command,
                } => {
                    let options = encode::format_options(&self.session.settings());
                    let fields = match encode::fields(&schema, &Format::UnifiedText, options) {
                        Ok(fields) => fields,
                        Err(e) => return send_pgwire_error(client, &self.session, e).await,
                    };
                    let rows = encode::rows(Arc::clone(&self.session), Arc::clone(&fields), stream);
                    if let Err(e) = send_rows(client, &fields, rows, command).await {
                        return send_pgwire_error(client, &self.session, e).await;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The NOTICEs and WARNINGs the session's last statement left, sent before its
/// result as PostgreSQL sends them while the statement runs.
async fn send_notices<C>(client: &mut C, session: &Session) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    for notice in session.take_notices() {
        client
            .feed(PgWireBackendMessage::NoticeResponse(
                sqlstate::notice_info(&notice).into(),
            ))
            .await?;
    }
    Ok(())
}

async fn send_error<C>(client: &mut C, info: ErrorInfo) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    client
        .feed(PgWireBackendMessage::ErrorResponse(info.into()))
        .await?;
    Ok(())
}

/// Sends a statement's error to the client, or returns it if it is not the client's
/// (an I/O failure on the socket ends the connection instead).
async fn send_pgwire_error<C>(
    client: &mut C,
    session: &Session,
    error: PgWireError,
) -> PgWireResult<()>
where
    C: Sink<PgWireBackendMessage> + Unpin + Send,
    C::Error: Debug,
    PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
{
    session.statement_failed();
    match error {
        PgWireError::UserError(info) => {
            let mut info = *info;
            // arrow-pg reports types it cannot send as XX000; to the client that is
            // a feature Tarn lacks, not an internal error.
            if info.code == sqlstate::INTERNAL_ERROR && info.message.starts_with("Unsupported") {
                info.code = sqlstate::FEATURE_NOT_SUPPORTED.to_owned();
            }
            send_error(client, info).await
        }
        PgWireError::IoError(e) => Err(PgWireError::IoError(e)),
        other => send_error(client, ErrorInfo::from(other)).await,
    }
}

#[async_trait]
impl SimpleQueryHandler for QueryHandler {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        self.check_in(client)?;
        client.set_state(PgWireConnectionState::QueryInProgress);
        let busy = Busy::new(&self.active);
        let cancel = match client.session_extensions().get::<Arc<ConnectionHandle>>() {
            Some(handle) => Some(handle.start_query().await),
            None => None,
        };
        let result = match cancel {
            Some(cancel) => {
                match select(Box::pin(self.run_simple(client, &query.query)), cancel).await {
                    Either::Left((result, _)) => result,
                    Either::Right((Ok(()), _)) => Err(PgWireError::QueryCanceled),
                    // The sender went away without a cancel: let the statement finish.
                    Either::Right((Err(_), running)) => running.await,
                }
            }
            None => self.run_simple(client, &query.query).await,
        };
        drop(busy);
        match result {
            Ok(()) => {}
            Err(PgWireError::QueryCanceled) => {
                self.session.statement_failed();
                send_error(client, canceled()).await?;
            }
            Err(e) => return Err(e),
        }
        let status = transaction_status(self.session.transaction_state());
        client.set_transaction_status(status);
        if matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            // ReadyForQuery follows the COPY data (see the CopyHandler below).
            return Ok(());
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                status,
            )))
            .await?;
        Ok(())
    }

    async fn do_query<C>(&self, _client: &mut C, _query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // `on_query` above streams statement by statement and never calls this.
        Err(PgWireError::ApiError(
            "simple queries are handled by on_query".into(),
        ))
    }
}

#[async_trait]
impl ExtendedQueryHandler for QueryHandler {
    type Statement = Arc<Prepared>;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        Arc::clone(&self.parser)
    }

    /// pgwire's Parse, remembering the statement's name for `DEALLOCATE ALL`.
    async fn on_parse<C>(&self, client: &mut C, message: Parse) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Before planning: the plan of `pg_backend_pid()` made here may serve the
        // Execute (and, kept, later ones), so the session must know its process id.
        self.check_in(&*client)?;
        let name = message.name.clone().unwrap_or_default();
        match StoredStatement::parse(client, &message, self.query_parser()).await? {
            Some(stmt) => client.portal_store().put_statement(Arc::new(stmt)),
            None => client
                .portal_store()
                .put_empty_statement(if name.is_empty() {
                    pgwire::api::DEFAULT_NAME
                } else {
                    &name
                }),
        }
        if !name.is_empty() {
            self.named_statements
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name);
        }
        // Held, with the replies to Bind, Describe and Execute, until the client's
        // Sync or Flush (see [`Deferred`]).
        client
            .feed(PgWireBackendMessage::ParseComplete(ParseComplete::new()))
            .await?;
        Ok(())
    }

    /// Bind: a portal of the named statement with the message's parameters, its
    /// BindComplete held until Sync or Flush.
    async fn on_bind<C>(&self, client: &mut C, message: Bind) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statement = message
            .statement_name
            .as_deref()
            .unwrap_or(pgwire::api::DEFAULT_NAME);
        match client.portal_store().get_statement(statement) {
            Some(Entry::Value(stored)) => {
                let portal = Portal::try_new(&message, stored)?;
                client.portal_store().put_portal(Arc::new(portal));
            }
            Some(Entry::Empty) if message.parameters.is_empty() => {
                client.portal_store().put_empty_portal(
                    message
                        .portal_name
                        .as_deref()
                        .unwrap_or(pgwire::api::DEFAULT_NAME),
                );
            }
            Some(Entry::Empty) => {
                return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                    "ERROR".to_owned(),
                    "08P01".to_owned(),
                    format!(
                        "bind message supplies {} parameters, but prepared statement \"{statement}\" requires 0",
                        message.parameters.len()
                    ),
                ))));
            }
            None => return Err(PgWireError::StatementNotFound(statement.to_owned())),
        }
        client
            .feed(PgWireBackendMessage::BindComplete(BindComplete::new()))
            .await?;
        Ok(())
    }

    /// pgwire's Describe, its reply held until Sync or Flush.
    async fn on_describe<C>(&self, client: &mut C, message: Describe) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_describe(&mut Deferred(client), message).await
    }

    /// pgwire's Execute, its replies held until Sync or Flush; except a COPY FROM
    /// STDIN's CopyInResponse, which the client waits for before sending its data.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self._on_execute(&mut Deferred(client), message).await?;
        if matches!(client.state(), PgWireConnectionState::CopyInProgress(_)) {
            client.flush().await?;
        }
        Ok(())
    }

    /// pgwire's Sync, which also ends the session's batch: plans made at Parse are
    /// not reused after it (see [`Session::end_batch`]).
    async fn on_sync<C>(&self, client: &mut C, _message: PgSync) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.session.end_batch();
        client.portal_store().rm_portal(pgwire::api::DEFAULT_NAME);
        client
            .send(PgWireBackendMessage::ReadyForQuery(ReadyForQuery::new(
                client.transaction_status(),
            )))
            .await?;
        client.flush().await?;
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Arc<Prepared>>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        self.check_in(client)?;
        let _busy = Busy::new(&self.active);
        let prepared = &portal.statement.statement;
        let declared = &portal.statement.parameter_types;
        let mut values = Vec::with_capacity(portal.parameter_len());
        for (i, raw) in portal.parameters.iter().enumerate() {
            let target = prepared
                .param_types()
                .get(i)
                .cloned()
                .unwrap_or(DataType::Utf8);
            let wire = declared
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| encode::pg_type(&target));
            match encode::parameter(
                i,
                raw.as_deref(),
                portal.parameter_format.is_binary(i),
                &wire,
                &target,
            ) {
                Ok(value) => values.push(value),
                Err(e) => {
                    self.session.statement_failed();
                    return Err(user_error(&e));
                }
            }
        }
        let before = self.session.transaction_state();
        // pgwire's Execute handling races this call against a CancelRequest; the
        // rows, streamed after it returns, are raced by `cancellable`.
        let output = self.session.execute_prepared(prepared, values).await;
        send_notices(client, &self.session).await?;
        let output = output.map_err(|e| user_error(&e))?;
        if let Some(cursor) = prepared.declared_cursor() {
            self.cursor_portal(client, &cursor).await?;
        }
        let after = self.session.transaction_state();
        Ok(match output {
            Output::Rows {
                schema,
                stream,
                command,
            } => {
                let fields = self.fields.fields(
                    &schema,
                    &portal.result_column_format,
                    &self.session.settings(),
                )?;
                let rows = encode::rows(Arc::clone(&self.session), Arc::clone(&fields), stream);
                let handle = client
                    .session_extensions()
                    .get::<Arc<ConnectionHandle>>()
                    .map(|h| Arc::clone(h.as_ref()));
                let rows = cancellable(rows, handle, Arc::clone(&self.session));
                let mut response = QueryResponse::new(fields, rows);
                response.set_command_tag(command);
                Response::Query(response)
            }
            Output::CopyIn(copy) => Response::CopyIn(self.start_copy_in(copy).await),
            Output::CopyOut {
                schema,
                stream,
                format,
            } => Response::CopyOut(self.copy_out(&schema, stream, format)?),
            Output::Command(command) if command.command.is_empty() => Response::EmptyQuery,
            Output::Command(command) => {
                let tag = tag(&command);
                match (before, after) {
                    (TransactionState::Idle, TransactionState::InBlock) => {
                        Response::TransactionStart(tag)
                    }
                    (
                        TransactionState::InBlock | TransactionState::Failed,
                        TransactionState::Idle,
                    ) => Response::TransactionEnd(tag),
                    _ => Response::Execution(tag),
                }
            }
        })
    }
}

#[async_trait]
impl CopyHandler for QueryHandler {
    async fn on_copy_data<C>(&self, _client: &mut C, copy_data: CopyData) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Never an error here: a failed load is reported once, at CopyDone, after the
        // client has sent all its data (as PostgreSQL's clients expect).
        if let Some(copy) = self.copy.lock().await.as_mut() {
            copy.send(copy_data.data).await;
        }
        Ok(())
    }

    async fn on_copy_done<C>(&self, client: &mut C, _done: CopyDone) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let Some(copy) = self.copy.lock().await.take() else {
            return Err(PgWireError::UserError(Box::new(ErrorInfo::new(
                "ERROR".to_owned(),
                sqlstate::PROTOCOL_VIOLATION.to_owned(),
                "CopyDone without a COPY in progress".to_owned(),
            ))));
        };
        let _busy = Busy::new(&self.active);
        match copy.finish().await {
            Ok(rows) => {
                let tag = Tag::new("COPY").with_rows(rows as usize);
                client
                    .send(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
                client.set_transaction_status(transaction_status(self.session.transaction_state()));
                Ok(())
            }
            Err(e) => {
                tracing::debug!(error = ?e, "COPY failed");
                self.session.statement_failed();
                client.set_transaction_status(transaction_status(self.session.transaction_state()));
                Err(user_error(&e))
            }
        }
    }

    async fn on_copy_fail<C>(&self, client: &mut C, fail: CopyFail) -> PgWireError
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if let Some(copy) = self.copy.lock().await.take() {
            let _ = copy.fail(&fail.message).await;
        }
        self.session.statement_failed();
        client.set_transaction_status(transaction_status(self.session.transaction_state()));
        PgWireError::UserError(Box::new(ErrorInfo::new(
            "ERROR".to_owned(),
            sqlstate::QUERY_CANCELED.to_owned(),
            format!("COPY from stdin failed: {}", fail.message),
        )))
    }
}

/// Parses and describes statements for the extended protocol.
pub struct Parser {
    session: Arc<Session>,
    fields: Arc<encode::FieldCache>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Arc<Prepared>;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        types: &[Option<Type>],
    ) -> PgWireResult<Option<Arc<Prepared>>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let declared: Vec<Option<DataType>> = types
            .iter()
            .map(|t| t.as_ref().and_then(encode::arrow_type))
            .collect();
        match self.session.prepare(sql, &declared).await {
            // pgwire keeps an empty statement as such: Describe answers NoData and
            // Execute EmptyQueryResponse, as PostgreSQL does.
            Ok(prepared) if prepared.is_empty() => Ok(None),
            Ok(prepared) => Ok(Some(Arc::new(prepared))),
            Err(e) => {
                self.session.statement_failed();
                Err(user_error(&e))
            }
        }
    }

    fn get_parameter_types(&self, statement: &Arc<Prepared>) -> PgWireResult<Vec<Type>> {
        Ok(statement
            .param_types()
            .iter()
            .map(encode::pg_type)
            .collect())
    }

    fn get_result_schema(
        &self,
        statement: &Arc<Prepared>,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match statement.schema() {
            Some(schema) => {
                let fields = self.fields.fields(
                    schema,
                    format.unwrap_or(&Format::UnifiedText),
                    &self.session.settings(),
                )?;
                Ok(fields.as_ref().clone())
            }
            None => Ok(Vec::new()),
        }
    }
}
