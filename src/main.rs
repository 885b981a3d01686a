//! whale: one binary that lets AI agents work on a commerce store through the
//! Model Context Protocol, safely. `main` parses the command line, builds the
//! [`app::App`], dispatches to a command and maps errors to exit codes.

mod app;
mod audit;
mod auth;
mod cli;
mod client;
mod commands;
mod error;
mod oauth;
mod outbound;
mod pipeline;
mod printer;
mod ratelimit;
mod settings;
mod store;
mod tools;
mod transport;

use crate::cli::{Cli, Command};
use crate::error::CliError;

fn main() {
    let cli = match cli::parse_from(std::env::args_os()) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    init_logging();
    let code = match run(cli) {
        Ok(()) => 0,
        Err(CliError::Silent(code)) => code,
        Err(e) => {
            // A message may quote a remote server or the database.
            printer::err(&format!("error: {}", printer::visible_lines(&e.to_string())));
            e.exit_code()
        }
    };
    std::process::exit(code);
}

/// Logs go to stderr only (stdout may belong to the MCP protocol);
/// `RUST_LOG` picks the level, warnings by default.
fn init_logging() {
    let fmt = tracing_subscriber::fmt()
        .with_writer(|| RedactingStderr(Vec::new()))
        .with_ansi(false)
        .with_target(false);
    match tracing_subscriber::EnvFilter::try_from_env(settings::RUST_LOG) {
        Ok(filter) => fmt.with_env_filter(filter).init(),
        // The common case needs no directive parsing: a fixed target filter
        // (every process pays for this before it does anything else).
        // rmcp warns about every request it refuses — an unknown tool, a
        // bad header — which is the client's mistake, answered to the client:
        // by default only its errors reach the log (RUST_LOG=rmcp=warn
        // brings the rest back).
        Err(_) => {
            use tracing_subscriber::layer::SubscriberExt;
            use tracing_subscriber::util::SubscriberInitExt;
            let targets = tracing_subscriber::filter::Targets::new()
                .with_default(tracing::Level::WARN)
                .with_target("rmcp", tracing::Level::ERROR);
            fmt.with_max_level(tracing::Level::WARN)
                .finish()
                .with(targets)
                .init()
        }
    }
}

/// One log event on its way to stderr, with any whale key or token cut out
/// first: a library logging a request at debug level (rmcp prints whole
/// JSON-RPC messages, arguments included) must not put a secret in a log.
struct RedactingStderr(Vec<u8>);

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.0);
        let out = audit::redact_text(&text);
        let res = std::io::Write::write_all(&mut std::io::stderr().lock(), out.as_bytes());
        self.0.clear();
        res
    }
}

impl Drop for RedactingStderr {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // Commands that need no database.
    match &cli.command {
        Command::Completions { shell } => return commands::docs::completions(*shell),
        Command::Man { out } => return commands::docs::man(out.as_deref()),
        Command::Install(args) => {
            return commands::install::run(args, cli.db.as_deref(), cli.store.as_deref());
        }
        _ => {}
    }
    // Commands that talk to a remote server and need no local database.
    let remote = match &cli.command {
        Command::Login(_) | Command::Logout(_) | Command::Auth(_) => true,
        Command::Mcp(a) => a.server.is_some(),
        _ => false,
    };
    if remote {
        return run_remote(cli);
    }
    let db_path = match &cli.db {
        Some(p) => p.clone(),
        None => settings::default_db_path()?,
    };
    let app = app::App::open(&db_path, cli.store.as_deref())?;
    // Admin commands act as the local owner; an agent's key in the
    // environment (set for `whale mcp`) does not narrow them. Say so, since
    // the commands that run tools do act as the key.
    if matches!(
        cli.command,
        Command::Keys(_)
            | Command::Executions(_)
            | Command::Stores(_)
            | Command::Users(_)
            | Command::Clients(_)
    ) && settings::api_key().is_some()
    {
        printer::err(&format!(
            "note: {} is set, but admin commands act as the local owner of store `{}` (the key is for agents: `whale mcp`, `whale tools call`, `whale tools test --input`)",
            settings::WHALETOOLS_API_KEY,
            app.store_id
        ));
    }
    // stdio serves one client: one thread runs the protocol and the reads,
    // with no cross-thread hand-offs on the way (see transport/stdio.rs).
    let single = matches!(&cli.command, Command::Mcp(a) if a.transport == cli::Transport::Stdio);
    let mut builder = if single {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the async runtime: {e}")))?;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Mcp(args) => commands::mcp::run(&app, args).await,
            Command::Keys(cmd) => commands::keys::run(&app, cmd),
            Command::Tools(cmd) => commands::tools::run(&app, cmd).await,
            Command::Executions(cmd) => commands::executions::run(&app, cmd),
            Command::Stores(cmd) => commands::stores::run(&app, cmd),
            Command::Users(cmd) => commands::users::run(&app, cmd),
            Command::Clients(cmd) => commands::clients::run(&app, cmd),
            Command::Completions { .. }
            | Command::Man { .. }
            | Command::Install(_)
            | Command::Login(_)
            | Command::Logout(_)
            | Command::Auth(_) => Ok(()),
        }
    });
    app.shutdown();
    result
}

/// Login, logout, auth status and the stdio bridge: no database, a small
/// multi-threaded runtime (keychain calls and file locks go to its blocking
/// pool, bounded, so shutdown does not wait on a stuck keychain).
fn run_remote(cli: Cli) -> Result<(), CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Runtime(format!("cannot start the async runtime: {e}")))?;
    let store = cli.store.as_deref();
    let result = runtime.block_on(async {
        match &cli.command {
            Command::Login(args) => commands::auth::login(args, store).await,
            Command::Logout(args) => commands::auth::logout(args, store).await,
            Command::Auth(cli::AuthCmd::Status { json }) => commands::auth::status(*json).await,
            Command::Mcp(args) => {
                if args.transport != cli::Transport::Stdio {
                    return Err(CliError::Usage(
                        "--server bridges stdio to a remote server; it cannot be combined with --transport sse|http"
                            .into(),
                    ));
                }
                let server = args.server.as_deref().unwrap_or_default();
                client::bridge::run(server, store).await
            }
            _ => Ok(()),
        }
    });
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}
