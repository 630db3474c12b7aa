//! tarn-server: the `tarn` binary and its PostgreSQL front end.
//!
//! Owns the command line, configuration layers, authentication, and the pgwire
//! protocol handlers. It is the only crate that knows pgwire, clap and the tracing
//! subscriber. Behaviour lives in `tarn-sql`; this crate translates.
//!
//! ```text
//!   psql / JDBC / drivers
//!          │  PostgreSQL wire protocol
//!          ▼
//!   server::postgres  ── Startup (auth, options) ── Query / Parse-Bind-Execute
//!          │
//!          ▼
//!   tarn_sql::Session ── parse ── plan (DataFusion) ──┬── DDL ──▶ tarn_catalog (metastore, Delta)
//!                                                     └── rows ─▶ RecordBatch stream
//!          ▲                                                          │
//!          └──────── arrow-pg encodes each batch as DataRows ◀────────┘
//! ```

pub mod auth;
pub mod config;
pub mod postgres;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pgwire::api::ConnectionManager;
use tarn_sql::{Engine, EngineOptions};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tracing::{info, warn};

use config::Auth;
pub use config::Config;
use postgres::{Connection, Shared};

/// How long shutdown waits for running statements before closing connections.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Opens the warehouse named by `config`.
pub async fn open_engine(config: &Config) -> tarn_sql::Result<Arc<Engine>> {
    Engine::open(
        &config.warehouse,
        EngineOptions {
            catalog_name: config.catalog.clone(),
            storage_options: config.storage_options.clone(),
            datafusion_options: config.datafusion_options.clone(),
            allowed_locations: config.allowed_locations.clone(),
            buckets: config.buckets.clone(),
            dropped_files_kept: config.dropped_files_kept,
            small_file_cache: config.small_file_cache,
        },
    )
    .await
}

/// Runs `crawler` now and then every `crawler.every`, until aborted. A failed run is
/// logged and retried at the next tick; it never stops the server.
async fn scheduled_crawler(engine: Arc<Engine>, crawler: config::Crawler) {
    use futures::StreamExt;
    let mut ticks = tokio::time::interval(crawler.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let outcome = async {
            let session = engine.session()?;
            let output = session
                .crawl_location(
                    &crawler.location,
                    &crawler.schema,
                    crawler.options.clone(),
                    false,
                )
                .await?;
            let mut summary = Vec::new();
            if let tarn_sql::Output::Rows { mut stream, .. } = output {
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    summary.push(
                        tarn_sql::arrow::util::pretty::pretty_format_batches(&[batch])
                            .map(|t| t.to_string())
                            .unwrap_or_default(),
                    );
                }
            }
            Ok::<_, tarn_sql::SqlError>(summary.join("\n"))
        }
        .await;
        match outcome {
            Ok(report) => info!(crawler = %crawler.name, "crawl finished\n{report}"),
            Err(e) => warn!(crawler = %crawler.name, error = %e, "crawl failed"),
        }
    }
}

/// Serves PostgreSQL clients on `listener` until `shutdown` completes.
///
/// On shutdown the listener closes at once; statements that are running are given
/// [`SHUTDOWN_GRACE`] to finish (a write commits or leaves nothing: every write is a
/// single Delta commit), then remaining connections are closed.
pub async fn run(
    config: &Config,
    engine: Arc<Engine>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    if let Auth::Password { users, .. } = &config.auth {
        for name in users.keys() {
            tarn_sql::pg::register_role(name);
        }
    }
    let shared = Shared {
        engine,
        manager: Arc::new(ConnectionManager::new()),
        users: match &config.auth {
            Auth::Trust => None,
            Auth::Password { users, rules } => Some(auth::Users::new(users.clone(), rules.clone())),
        },
        tls_required: config.tls.as_ref().is_some_and(|t| t.required),
        active: Arc::new(AtomicUsize::new(0)),
    };
    let mut connections = JoinSet::new();
    let mut crawlers = JoinSet::new();
    for crawler in &config.crawlers {
        crawlers.spawn(scheduled_crawler(
            Arc::clone(&shared.engine),
            crawler.clone(),
        ));
    }
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => {
                let (socket, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = socket.set_nodelay(true);
                let handlers = match Connection::new(&shared) {
                    Ok(handlers) => handlers,
                    Err(e) => {
                        warn!(%peer, error = %e, "cannot open a session");
                        continue;
                    }
                };
                let tls = config.tls.as_ref().map(|t| t.acceptor.clone());
                connections.spawn(async move {
                    if let Err(e) = pgwire::tokio::process_socket(socket, tls, handlers).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    crawlers.shutdown().await;
    let running = shared.active.load(Ordering::SeqCst);
    if running > 0 {
        info!(running, "shutting down: waiting for running statements");
    }
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    while shared.active.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    connections.shutdown().await;
    info!("server stopped");
    Ok(())
}
