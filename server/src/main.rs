//! The `tarn` command: serve the warehouse, run one statement, hash a password.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use tarn_server::config::{Config, Overrides};
use tarn_sql::Output;
use tarn_sql::arrow::util::pretty::pretty_format_batches;

/// mimalloc rather than glibc's malloc, as DataFusion's own CLI does: planning and
/// executing a short query allocate thousands of small objects across threads, and
/// glibc spent a quarter of the server's time in malloc and free under 100
/// connections (bench/short.sh under perf); mimalloc answered 42% more of them. It
/// keeps freed memory longer (TPC-H SF1 peak about 950 MB against 750 MB);
/// `MIMALLOC_PURGE_DELAY=0` returns it at once, more slowly (README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tarn",
    version,
    about = "A SQL warehouse over Delta tables in object storage, speaking PostgreSQL's protocol"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the warehouse to PostgreSQL clients (psql, JDBC, drivers, BI tools).
    Serve(ServeArgs),
    /// Run one SQL statement (or several, separated by `;`) in-process and print the result.
    Sql(SqlArgs),
    /// Crawl files under a location into tables of a schema (like AWS Glue's crawler).
    /// The same as `CRAWL 'url' INTO SCHEMA name WITH (...)` in SQL.
    Crawl(CrawlArgs),
    /// Read a password on standard input and print the hashed secret for [[auth.users]].
    HashPassword(HashPasswordArgs),
}

#[derive(Args)]
struct HashPasswordArgs {
    /// Make PostgreSQL's md5 secret instead of SCRAM-SHA-256, for clients that
    /// cannot do SCRAM (used with an `[[auth.rules]]` method = "md5").
    #[arg(long)]
    md5: bool,
    /// The user the md5 secret is for.
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
}

/// Options shared by every command that opens a warehouse. Each overrides
/// `tarn.toml` and `TARN__SECTION__KEY` environment variables.
#[derive(Args)]
struct WarehouseArgs {
    /// Configuration file [default: ./tarn.toml if present].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Warehouse location: a local folder, or s3://, gs://, az:// URL
    /// [default: ./tarn-data; env TARN__WAREHOUSE__URL].
    #[arg(long, value_name = "URL")]
    warehouse: Option<String>,
    /// Database name clients connect to and use in three-part names
    /// [default: tarn; env TARN__WAREHOUSE__CATALOG].
    #[arg(long, value_name = "NAME")]
    catalog: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on. Any non-loopback address requires [auth] method = "password"
    /// [default: 127.0.0.1:5433; env TARN__SERVER__LISTEN].
    #[arg(long, value_name = "HOST:PORT")]
    listen: Option<String>,
    #[command(flatten)]
    warehouse: WarehouseArgs,
}

#[derive(Args)]
struct SqlArgs {
    /// The SQL to run.
    statement: String,
    #[command(flatten)]
    warehouse: WarehouseArgs,
}

#[derive(Args)]
struct CrawlArgs {
    /// The location to crawl: a folder or s3://, gs://, az:// prefix under the warehouse,
    /// a configured bucket or warehouse.allowed_locations.
    url: String,
    /// The schema the tables go into (created if missing).
    #[arg(long)]
    schema: String,
    /// Print the plan (tables to create or change, and why) and change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Glob of paths (relative to the location) to leave out; repeatable.
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// Other crawler options as KEY=VALUE (sample_rows, sample_bytes, files_per_folder,
    /// table_level, max_tables, schema_change = update|log, deleted = log|delete).
    #[arg(long = "option", short = 'o', value_name = "KEY=VALUE")]
    options: Vec<String>,
    #[command(flatten)]
    warehouse: WarehouseArgs,
}

impl CrawlArgs {
    /// The CRAWL statement these arguments stand for.
    fn statement(&self) -> anyhow::Result<String> {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let mut options = Vec::new();
        if self.dry_run {
            options.push("dry_run = true".to_owned());
        }
        if !self.exclude.is_empty() {
            options.push(format!("exclude = {}", quote(&self.exclude.join(","))));
        }
        for option in &self.options {
            let Some((key, value)) = option.split_once('=') else {
                bail!("--option {option:?}: expected KEY=VALUE");
            };
            let key = key.trim();
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("--option {option:?}: {key:?} is not an option name");
            }
            let value = value.trim();
            let literal = if value.parse::<u64>().is_ok() || value == "true" || value == "false" {
                value.to_owned()
            } else {
                quote(value)
            };
            options.push(format!("{key} = {literal}"));
        }
        let mut sql = format!(
            "CRAWL {} INTO SCHEMA \"{}\"",
            quote(&self.url),
            self.schema.replace('"', "\"\"")
        );
        if !options.is_empty() {
            sql.push_str(&format!(" WITH ({})", options.join(", ")));
        }
        Ok(sql)
    }
}

fn overrides(args: &WarehouseArgs, listen: Option<String>) -> Overrides {
    Overrides {
        config: args.config.clone(),
        listen,
        warehouse: args.warehouse.clone(),
        catalog: args.catalog.clone(),
    }
}

fn environment() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("TARN__"))
        .collect()
}

fn main() -> anyhow::Result<()> {
    // DataFusion plans recursively; deep queries need more than tokio's default 2 MiB.
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(8 * 1024 * 1024)
        .build()?
        .block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // Tarn's own events at info; libraries (deltalake, the Delta kernel,
                // DataFusion) only when they warn: their info is per-file detail.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,tarn=info,tarn_server=info,tarn_sql=info,tarn_catalog=info,tarn_connectors=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Sql(args) => sql(&args.warehouse, &args.statement).await,
        Command::Crawl(args) => sql(&args.warehouse, &args.statement()?).await,
        Command::HashPassword(args) => hash_password(&args),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = Config::load(&overrides(&args.warehouse, args.listen), &environment())?;
    let engine = tarn_server::open_engine(&config)
        .await
        .with_context(|| format!("cannot open warehouse {}", config.warehouse))?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, database = %config.catalog, "tarn is ready");
    tarn_server::run(&config, engine, listener, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutdown requested");
}

async fn sql(warehouse: &WarehouseArgs, text: &str) -> anyhow::Result<()> {
    let config = Config::load(&overrides(warehouse, None), &environment())?;
    let engine = tarn_server::open_engine(&config).await?;
    let session = engine.session()?;
    let mut out = std::io::stdout().lock();
    for statement in session.parse(text)? {
        match session.execute(statement).await? {
            Output::Command(tag) => writeln!(out, "{tag}")?,
            Output::Rows { mut stream, .. } => {
                // Each batch is printed as it arrives, so large results stream.
                let mut rows = 0usize;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows();
                    if batch.num_rows() > 0 {
                        writeln!(out, "{}", pretty_format_batches(&[batch])?)?;
                    }
                }
                writeln!(out, "({rows} {})", if rows == 1 { "row" } else { "rows" })?;
            }
            Output::CopyIn(_) | Output::CopyOut { .. } => {
                bail!("COPY ... STDIN/STDOUT needs a client: use psql")
            }
        }
    }
    Ok(())
}

fn hash_password(args: &HashPasswordArgs) -> anyhow::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        bail!("no password on standard input");
    }
    let secret = match (&args.md5, &args.user) {
        (false, _) => tarn_server::auth::Secret::hash(password),
        (true, Some(user)) => tarn_server::auth::Secret::md5(user, password),
        (true, None) => {
            bail!("--md5 needs --user NAME: an md5 secret is salted with the user name")
        }
    };
    println!("{}", secret.to_stored());
    Ok(())
}
