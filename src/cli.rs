//! The command-line surface (clap derive). Doc comments are the help text;
//! completions and man pages are generated from this tree.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "whale",
    version,
    about = "Safe, audited access to a commerce store for AI agents, over the Model Context Protocol",
    long_about = "Safe, audited access to a commerce store for AI agents, over the Model Context Protocol.\n\n\
        Add `whale mcp` to a desktop host (Claude Desktop, Cursor) and agents can browse the store, take \
        orders and manage stock; every call is checked against the caller's scopes and recorded in the audit trail. \
        With no configuration whale runs on an embedded SQLite database holding a seeded `demo` store.",
    after_help = "Environment:\n  \
        WHALETOOLS_API_KEY      run tools as this API key (its store, mode and scopes): `mcp`, `tools call`, `tools test --input`; wins over stored logins\n  \
        WHALE_TOOL_TIMEOUT_MS   per-call execution deadline (default 30000)\n  \
        WHALE_CREDENTIAL_STORE  where `login` keeps tokens: keychain (default) or file (0600)\n  \
        WHALE_CONFIG_DIR        logins index, file credential store and locks (default: ~/.config/whale)\n  \
        RUST_LOG                log filter for stderr (default: warn,rmcp=error)\n\n\
        Exit codes: 0 ok (revoking what is already revoked changes nothing and is ok); \
        1 failed (also: a store, key or record that is not there, or a revoked key to rotate); 2 usage error (the command line itself is wrong); 3 auth error (no, expired or insufficient credential)."
)]
pub struct Cli {
    /// Database file (default: whale.db under the platform data directory)
    #[arg(long, global = true, env = crate::settings::WHALE_DB, hide_env_values = true, value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// Store to act on (default: the one chosen by `whale stores use`, else `demo`)
    #[arg(long, global = true, env = crate::settings::WHALE_STORE, hide_env_values = true, value_name = "ID")]
    pub store: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the store's tools over MCP (stdio for desktop hosts)
    Mcp(McpArgs),
    /// Create, list, rotate and revoke API keys
    #[command(subcommand)]
    Keys(KeysCmd),
    /// List tools, show schemas, and run tools through the pipeline
    #[command(subcommand)]
    Tools(ToolsCmd),
    /// The audit trail: every tool execution
    #[command(subcommand)]
    Executions(ExecutionsCmd),
    /// List, create and choose stores
    #[command(subcommand)]
    Stores(StoresCmd),
    /// People who sign in on the OAuth authorization page (store members)
    #[command(subcommand)]
    Users(UsersCmd),
    /// OAuth clients: machine agents (client_credentials) and registered apps
    #[command(subcommand)]
    Clients(ClientsCmd),
    /// Sign in to a remote whale server in the browser (OAuth) and keep the tokens
    Login(LoginArgs),
    /// Revoke and delete the tokens of a login
    Logout(LogoutArgs),
    /// Show stored logins
    #[command(subcommand)]
    Auth(AuthCmd),
    /// Add whale to a desktop host's MCP configuration
    Install(InstallArgs),
    /// Print a shell completion script
    Completions {
        /// Shell to generate for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (or write all of them with --out)
    Man {
        /// Write whale.1 and one page per subcommand into this directory
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ToolMode {
    /// One MCP tool per whale tool, with an `action` argument
    Grouped,
    /// One MCP tool per action, named `{tool}_{action}`
    Flat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout, for a host that launches whale
    Stdio,
    /// HTTP server: Streamable HTTP at /mcp and legacy HTTP+SSE at /sse + /messages
    Sse,
    /// Same as sse (both transports on one port)
    Http,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    /// How clients reach the server
    #[arg(long, value_enum, default_value_t = Transport::Stdio)]
    pub transport: Transport,
    /// Port to listen on in HTTP mode (0 picks a free one)
    #[arg(help_heading = HTTP_HEADING, long, default_value_t = 3100)]
    pub port: u16,
    /// Address to bind in HTTP mode; anything but loopback exposes the server
    #[arg(help_heading = HTTP_HEADING, long, default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Also accept this Host name (a deployment's DNS name; repeatable)
    #[arg(help_heading = HTTP_HEADING, long = "allowed-host", value_name = "NAME")]
    pub allowed_hosts: Vec<String>,
    /// Accept browser requests from this Origin, e.g. https://app.example.com (repeatable)
    #[arg(help_heading = HTTP_HEADING, long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Requests per minute per credential in HTTP mode (a key's own --rate-limit wins)
    #[arg(help_heading = HTTP_HEADING, long, default_value_t = 600, value_name = "N")]
    pub rate_limit: u32,
    /// Largest request body accepted in HTTP mode, in bytes
    #[arg(help_heading = HTTP_HEADING, long, default_value_t = 1024 * 1024, value_name = "BYTES")]
    pub max_body: usize,
    /// The origin clients reach this server at behind a proxy (scheme://host[:port]); its host and origin are allowed
    #[arg(help_heading = HTTP_HEADING, long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Only these tools (comma-separated names)
    #[arg(long, value_delimiter = ',', value_name = "TOOLS")]
    pub tools: Option<Vec<String>>,
    /// Only tools of these categories (commerce, operations, platform)
    #[arg(long, value_delimiter = ',', value_name = "CATEGORIES")]
    pub categories: Option<Vec<String>>,
    /// Expose only actions that read
    #[arg(long)]
    pub read_only: bool,
    /// How tools are listed to clients
    #[arg(long, value_enum, default_value_t = ToolMode::Grouped)]
    pub tool_mode: ToolMode,
    /// Tools per tools/list page
    #[arg(long, default_value_t = 100, value_name = "N", hide = true)]
    pub page_size: usize,
    /// A reverse proxy in front of whale (address or CIDR network; repeatable): for requests
    /// from it, the client's address for per-address limits is taken from X-Forwarded-For
    #[arg(help_heading = HTTP_HEADING, long = "trusted-proxy", value_name = "ADDR", value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Close a Streamable HTTP session no request has used for this long
    #[arg(help_heading = HTTP_HEADING, long, default_value = "30m", value_name = "DURATION", value_parser = parse_duration)]
    pub session_idle: std::time::Duration,
    /// Streamable HTTP sessions one credential may hold open; a new one beyond this closes
    /// the credential's least recently used session (its client starts another)
    #[arg(help_heading = HTTP_HEADING, long, default_value_t = 64, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_sessions_per_credential: u32,
    /// Lifetime of OAuth access tokens issued by the embedded authorization server (at most 1d)
    #[arg(help_heading = HTTP_HEADING, long, default_value = "1h", value_name = "DURATION", value_parser = parse_access_ttl)]
    pub access_token_ttl: std::time::Duration,
    /// Lifetime of OAuth refresh tokens (each use rotates the token; at most 365d)
    #[arg(help_heading = HTTP_HEADING, long, default_value = "30d", value_name = "DURATION", value_parser = parse_refresh_ttl)]
    pub refresh_token_ttl: std::time::Duration,
    /// Trust this external OAuth authorization server instead of the embedded one
    /// (tokens are checked by RFC 7662 introspection; API keys keep working)
    #[arg(help_heading = HTTP_HEADING, long, value_name = "URL")]
    pub auth_server: Option<String>,
    /// Introspection endpoint of --auth-server (default: from its RFC 8414 metadata)
    #[arg(help_heading = HTTP_HEADING, long, value_name = "URL")]
    pub introspection_endpoint: Option<String>,
    /// Client id whale introspects with at --auth-server (its secret comes from
    /// WHALE_INTROSPECTION_CLIENT_SECRET)
    // It needs --auth-server when typed; `parse_from` checks that, since
    // clap's `requires` would also refuse a value from the environment.
    #[arg(help_heading = HTTP_HEADING, long, value_name = "ID", env = crate::settings::WHALE_INTROSPECTION_CLIENT_ID)]
    pub introspection_client_id: Option<String>,
    /// How long an active introspection answer is trusted (at most 60s)
    #[arg(help_heading = HTTP_HEADING, long, default_value = "60s", value_name = "DURATION", value_parser = parse_duration)]
    pub introspection_cache_ttl: std::time::Duration,
    /// Accept http:// and loopback client ID metadata documents (local development only)
    #[arg(help_heading = HTTP_HEADING, long, hide = true)]
    pub insecure_client_metadata: bool,
    /// Close a connection whose client takes longer than this to send a request's
    /// headers (or, kept alive, to begin its next request); a request's body gets as long
    /// again (408)
    #[arg(help_heading = HTTP_HEADING, long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration, hide = true)]
    pub header_timeout: std::time::Duration,
    /// Connections served at once (default: from the open-file limit); more wait to be accepted
    #[arg(help_heading = HTTP_HEADING, long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), hide = true)]
    pub max_connections: Option<u32>,
    /// Bridge stdio to this remote whale server (its /mcp endpoint), signed in with `whale login`
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
}

/// The heading of the `whale mcp` options only the HTTP server reads, in
/// help and in [`parse_from`]'s check: given on the command line with the
/// stdio transport they would be silently ignored, so they are refused.
pub const HTTP_HEADING: &str = "HTTP server (--transport sse|http)";

/// The `whale mcp` options that choose which of this whale's tools are
/// served; the `--server` bridge cannot apply them.
const BRIDGE_IGNORES: &[&str] = &["tools", "categories", "read_only", "tool_mode"];

/// A list of flags for a message, and the verb that agrees with it.
fn list_what(flags: &[String]) -> (String, &'static str) {
    (
        flags.join(", "),
        if flags.len() == 1 { "applies" } else { "apply" },
    )
}

/// Parses the command line like `Cli::try_parse_from`, and also refuses
/// HTTP-only `whale mcp` flags typed with the stdio transport (a usage
/// error, exit 2). Only flags given on the command line count: defaults and
/// values from environment variables are not the user asking for HTTP.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::parser::ValueSource;
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    let matches = cmd.try_get_matches_from_mut(args)?;
    if let Some(("mcp", m)) = matches.subcommand()
        && let Some(mcp) = cmd.find_subcommand_mut("mcp")
    {
        let typed = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
        let flags = |ids: &mut dyn Iterator<Item = &clap::Arg>| -> Vec<String> {
            ids.filter(|a| typed(a.get_id().as_str()))
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect()
        };
        let http = flags(
            &mut mcp
                .get_arguments()
                .filter(|a| a.get_help_heading() == Some(HTTP_HEADING)),
        );
        let stdio = m.get_one::<Transport>("transport") == Some(&Transport::Stdio);
        if stdio && !http.is_empty() {
            let (list, what) = list_what(&http);
            let msg = if typed("server") {
                format!(
                    "{list} only {what} to the HTTP server (`--transport sse` or `http`); \
                     --server bridges stdio to a remote server and takes none of them"
                )
            } else {
                format!(
                    "{list} only {what} to the HTTP server: add `--transport sse` (or `http`), \
                     or leave {} out to serve over stdio",
                    if http.len() == 1 { "it" } else { "them" }
                )
            };
            return Err(mcp.error(clap::error::ErrorKind::ArgumentConflict, msg));
        }
        // The bridge relays the remote server's tools as its key or login
        // allows; a filter here would not be applied, and one that reads as
        // a safety setting (--read-only) must not be silently dropped.
        let filters = flags(
            &mut mcp
                .get_arguments()
                .filter(|a| BRIDGE_IGNORES.contains(&a.get_id().as_str())),
        );
        if typed("server") && !filters.is_empty() {
            let (list, what) = list_what(&filters);
            return Err(mcp.error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "{list} {what} to the tools this whale serves, not to a remote server's: with --server \
                     the remote key or login decides the tools (a key with read scopes only is read-only)"
                ),
            ));
        }
        // Checked here rather than with clap's `requires`, which would also
        // refuse a value from the environment and would fire before the
        // transport check above.
        let external = flags(
            &mut mcp
                .get_arguments()
                .filter(|a| a.get_id().as_str().starts_with("introspection_")),
        );
        if !external.is_empty() && !typed("auth_server") {
            let (list, what) = list_what(&external);
            return Err(mcp.error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!("{list} {what} to an external authorization server: add --auth-server URL"),
            ));
        }
    }
    Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))
}

/// `10.0.0.5` or `10.0.0.0/8` → a network (an address is a network of one).
fn parse_proxy(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|n| n.trunc())
        .map_err(|_| format!("`{s}` is not an IP address or CIDR network (e.g. 10.0.0.5 or 10.0.0.0/8)"))
}

/// `90s`, `30m`, `1h`, `30d` → a duration.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::store::parse_duration_ms(s)
        .filter(|&ms| ms > 0)
        .map(|ms| std::time::Duration::from_millis(ms as u64))
        .ok_or_else(|| format!("`{s}` is not a duration; use e.g. 90s, 30m, 1h, 30d"))
}

/// `--access-token-ttl`: a bearer token cannot be taken back from a
/// resource server that caches it, so it lives a day at most.
fn parse_access_ttl(s: &str) -> Result<std::time::Duration, String> {
    parse_duration_at_most(s, "1d", std::time::Duration::from_secs(86_400))
}

/// `--refresh-token-ttl`: a year at most (a client that keeps refreshing
/// keeps its grant; one unused for a year signs in again).
fn parse_refresh_ttl(s: &str) -> Result<std::time::Duration, String> {
    parse_duration_at_most(s, "365d", std::time::Duration::from_secs(365 * 86_400))
}

fn parse_duration_at_most(
    s: &str,
    max_text: &str,
    max: std::time::Duration,
) -> Result<std::time::Duration, String> {
    let d = parse_duration(s)?;
    if d > max {
        return Err(format!("`{s}` is longer than the maximum, {max_text}"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The whale server to sign in to (its base URL)
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:3100")]
    pub server: String,
    /// Scopes to ask for, space- or comma-separated (default: what the server grants)
    #[arg(long)]
    pub scopes: Option<String>,
    /// Use this OAuth client id instead of registering one
    #[arg(long, value_name = "ID")]
    pub client_id: Option<String>,
    /// Do not open a browser; print the URL to open elsewhere
    #[arg(long)]
    pub no_browser: bool,
    /// Keep the tokens in a file readable only by you (0600) instead of the OS keychain
    #[arg(long)]
    pub insecure_storage: bool,
    /// Seconds to wait for the browser to come back
    #[arg(long, default_value_t = 300, value_name = "SECS", hide = true)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The server to log out of (needed when several are stored)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// Log out of every stored login
    #[arg(long, conflicts_with = "server")]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthCmd {
    /// Every stored login: server, store, scopes, expiry, and where the tokens are kept
    /// (exit 1 when there is neither a login nor an API key, when the API key set is empty or
    /// malformed, or when the credential file cannot be used and no API key is set)
    Status {
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCmd {
    /// Create an API key (shown once) for one agent of the store
    Create {
        /// Agent name the key acts as (recorded in the audit trail)
        #[arg(long)]
        agent: String,
        /// Scopes, space- or comma-separated: `products:read orders` (bare resource = read and write)
        #[arg(long)]
        scopes: String,
        /// Create a sandbox key (wt_test_) that sees only test data
        #[arg(long)]
        test: bool,
        /// Expire after this long (e.g. 30d, 12h)
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
        /// Requests per minute this key may make in HTTP mode (default: the server's --rate-limit)
        #[arg(long, value_name = "N")]
        rate_limit: Option<i64>,
        /// Print the key and its metadata as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the store's keys (never the keys themselves)
    List {
        /// Include revoked keys
        #[arg(long)]
        all: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Issue a replacement with the same agent and scopes, and revoke the old key
    Rotate {
        /// Key id (key_…)
        id: String,
        /// Keep the old key working this long (e.g. 1h, at most 30d) so clients can switch
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key at once
    Revoke {
        /// Key id (key_…)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ToolsCmd {
    /// List tools and their actions
    ///
    /// With `WHALETOOLS_API_KEY` set, only what that key may call (as its
    /// agent's `tools/list` shows it); unset it to list every tool.
    List {
        /// Only this category
        #[arg(long)]
        category: Option<String>,
        /// One row per action
        #[arg(long)]
        actions: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Print a tool's (or one action's) input and output JSON Schema
    Schema {
        /// Tool name (grouped) or `{tool}_{action}`
        tool: String,
        /// Action of the tool (not needed with a `{tool}_{action}` name)
        #[arg(long)]
        action: Option<String>,
    },
    /// Run an action through the pipeline and report result, duration and execution id;
    /// with --all, run every action's example against a scratch copy of the store
    Test {
        /// Tool name (grouped) or `{tool}_{action}`
        #[arg(required_unless_present = "all")]
        tool: Option<String>,
        /// Action of the tool (not needed with a `{tool}_{action}` name)
        #[arg(long)]
        action: Option<String>,
        /// Input as JSON (`-` reads it from stdin, `@FILE` from a file), run on the store's own
        /// data (live, unless a test key is set); without it the action's example runs on a
        /// scratch copy of the test data
        #[arg(long, value_name = "JSON")]
        input: Option<String>,
        /// Test every action's example input on the test mode of a scratch copy
        #[arg(long, conflicts_with_all = ["tool", "action", "input"])]
        all: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Print the tool catalog as Markdown (the source of docs/tools.md)
    #[command(hide = true)]
    Docs,
    /// Run an action and print only its result as JSON (for scripts)
    Call {
        /// Tool name (grouped) or `{tool}_{action}`
        tool: String,
        /// Action of the tool (not needed with a `{tool}_{action}` name)
        #[arg(long)]
        action: Option<String>,
        /// Input as JSON (`-` reads it from stdin, `@FILE` from a file)
        #[arg(long, value_name = "JSON", default_value = "{}")]
        input: String,
    },
}

#[derive(Debug, Args, Clone, Default)]
pub struct ExecFilterArgs {
    /// Only this tool (orders), or one action (orders.create_order or orders_create_order)
    #[arg(long)]
    pub tool: Option<String>,
    /// Only this agent (name or id)
    #[arg(long)]
    pub agent: Option<String>,
    /// success | error | timeout | pending_approval | rejected
    #[arg(long)]
    pub status: Option<String>,
    /// From this time (RFC 3339; YYYY-MM-DD, a day in the store's time zone; YYYY-MM-DDTHH:MM, store time; or an age like 24h)
    #[arg(long)]
    pub from: Option<String>,
    /// Until this time (same forms; a date includes that whole day)
    #[arg(long)]
    pub to: Option<String>,
    /// Sandbox (test mode) executions instead of live
    #[arg(long)]
    pub test: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExecutionsCmd {
    /// List executions, newest first
    List {
        #[command(flatten)]
        filter: ExecFilterArgs,
        /// Rows per page, 1–1000
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Rows to skip (for paging)
        #[arg(long, default_value_t = 0)]
        offset: i64,
        /// Only executions listed after this one (an exec_… id, e.g. the last of the previous
        /// page): pages that stay put while new calls arrive
        #[arg(long, value_name = "EXEC_ID")]
        before: Option<String>,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Show one execution with its input and output
    Show {
        /// Execution id (exec_…)
        id: String,
        /// Look in the test (sandbox) mode
        #[arg(long)]
        test: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Average latency, success rate, executions today, unique tools
    Stats {
        #[command(flatten)]
        filter: ExecFilterArgs,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StoresCmd {
    /// List stores
    List {
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Create a store
    Create {
        /// Short id or slug (lowercase letters, digits, - and _)
        id: String,
        /// Display name of the store
        #[arg(long)]
        name: String,
        /// ISO 4217 currency code
        #[arg(long, default_value = "USD")]
        currency: String,
        /// IANA time zone, e.g. America/New_York
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Fill it with demo catalog data
        #[arg(long)]
        seed: bool,
    },
    /// Make a store the default for later commands
    Use {
        /// Id of the store (see `whale stores list`)
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCmd {
    /// Add a person who may sign in and grant agents access to stores
    Add {
        /// Email address they sign in with
        email: String,
        /// Display name (default: the part of the email before @)
        #[arg(long)]
        name: Option<String>,
        /// Read the password from the first line of stdin instead of prompting
        #[arg(long)]
        password_stdin: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// List users and the stores they belong to
    List {
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Remove a user from the store and revoke every token they granted agents there
    Remove {
        /// Email of the user to remove
        email: String,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password
    Passwd {
        /// Email of the user whose password to set
        email: String,
        /// Read the password from the first line of stdin instead of prompting
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCmd {
    /// Create a confidential client for a machine agent (client_credentials); the secret is shown once
    Create {
        /// Name recorded as the agent in the audit trail
        name: String,
        /// The most it may ask for, e.g. "products:read orders"
        #[arg(long)]
        scopes: String,
        /// Bind it to the store's test mode instead of live
        #[arg(long)]
        test: bool,
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// List the store's machine clients and the apps that registered themselves (which belong to no store)
    List {
        /// Print JSON (for scripts)
        #[arg(long)]
        json: bool,
    },
    /// Revoke a client of the store (or a registered app) and every token issued to it
    Revoke {
        /// The client_id
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Host {
    Claude,
    Cursor,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Desktop host whose MCP config to edit
    #[arg(value_enum)]
    pub host: Host,
    /// Print the entry instead of writing it
    #[arg(long)]
    pub print: bool,
    /// Config file to edit (default: the host's usual location)
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Server name in the host's config
    #[arg(long, default_value = "whale")]
    pub name: String,
    /// Connect the host to this remote whale server (sign in first with `whale login`)
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every visible argument and subcommand says what it is for in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let builtin = matches!(a.get_id().as_str(), "help" | "version");
                if !builtin && !a.is_hide_set() && a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {}", a.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.is_hide_set() || sub.get_name() == "help" {
                    continue;
                }
                let p = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() {
                    missing.push(p.clone());
                }
                walk(sub, &p, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "whale", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    /// The options under the HTTP heading are exactly the ones only the
    /// HTTP server reads; the options both transports read are not there.
    #[test]
    fn the_http_heading_holds_the_http_only_options() {
        let cmd = Cli::command();
        let mcp = cmd.find_subcommand("mcp").expect("mcp");
        let mut http: Vec<&str> = mcp
            .get_arguments()
            .filter(|a| a.get_help_heading() == Some(HTTP_HEADING))
            .map(|a| a.get_id().as_str())
            .collect();
        http.sort_unstable();
        assert_eq!(
            http,
            [
                "access_token_ttl",
                "allowed_hosts",
                "allowed_origins",
                "auth_server",
                "header_timeout",
                "host",
                "insecure_client_metadata",
                "introspection_cache_ttl",
                "introspection_client_id",
                "introspection_endpoint",
                "max_body",
                "max_connections",
                "max_sessions_per_credential",
                "port",
                "public_url",
                "rate_limit",
                "refresh_token_ttl",
                "session_idle",
                "trusted_proxies",
            ]
        );
    }

    #[test]
    fn http_flags_need_the_http_transport() {
        let err =
            parse_from(["whale", "mcp", "--port", "3111", "--host", "0.0.0.0"]).expect_err("stdio + --port");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let text = err.to_string();
        assert!(
            text.contains("--port, --host only apply to the HTTP server"),
            "{text}"
        );
        assert!(text.contains("--transport sse"), "{text}");
        assert!(parse_from(["whale", "mcp", "--transport", "stdio", "--rate-limit", "5"]).is_err());
        assert!(parse_from(["whale", "mcp", "--server", "https://h", "--port", "1"]).is_err());
        let err = parse_from([
            "whale",
            "mcp",
            "--transport",
            "sse",
            "--introspection-client-id",
            "c",
        ])
        .expect_err("--introspection-client-id without --auth-server");
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
        // The other introspection options, the same way (clap's `requires`
        // used to answer first, before the transport was looked at).
        for flag in ["--introspection-endpoint", "--introspection-cache-ttl"] {
            let value = if flag.ends_with("ttl") {
                "30s"
            } else {
                "https://id/introspect"
            };
            let err = parse_from(["whale", "mcp", "--transport", "sse", flag, value]).expect_err(flag);
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument,
                "{flag}"
            );
            assert!(err.to_string().contains("--auth-server"), "{err}");
            let err = parse_from(["whale", "mcp", flag, value]).expect_err(flag);
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::ArgumentConflict,
                "{flag} with stdio"
            );
        }
        // The bridge cannot apply this whale's tool filters: refused, not dropped.
        for filter in [
            &["--read-only"][..],
            &["--tools", "products"],
            &["--categories", "commerce"],
            &["--tool-mode", "flat"],
        ] {
            let mut args = vec!["whale", "mcp", "--server", "https://h"];
            args.extend(filter);
            let err = parse_from(args).expect_err(filter[0]);
            assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict, "{filter:?}");
            assert!(err.to_string().contains(filter[0]), "{err}");
        }
        for ok in [
            &["whale", "mcp"][..],
            &[
                "whale",
                "mcp",
                "--read-only",
                "--tools",
                "products",
                "--tool-mode",
                "flat",
            ],
            &["whale", "mcp", "--server", "https://h"],
            &[
                "whale",
                "mcp",
                "--transport",
                "sse",
                "--port",
                "3111",
                "--rate-limit",
                "5",
            ],
            &["whale", "mcp", "--transport", "http", "--host", "0.0.0.0"],
            &[
                "whale",
                "mcp",
                "--transport",
                "sse",
                "--auth-server",
                "https://as",
                "--introspection-client-id",
                "c",
            ],
        ] {
            parse_from(ok.iter().copied()).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
    }
}
