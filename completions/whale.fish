# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_whale_global_optspecs
    string join \n db= store= h/help V/version
end

function __fish_whale_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_whale_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_whale_using_subcommand
    set -l cmd (__fish_whale_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c whale -n "__fish_whale_needs_command" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_needs_command" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whale -n "__fish_whale_needs_command" -s V -l version -d 'Print version'
complete -c whale -n "__fish_whale_needs_command" -f -a "mcp" -d 'Serve the store\'s tools over MCP (stdio for desktop hosts)'
complete -c whale -n "__fish_whale_needs_command" -f -a "keys" -d 'Create, list, rotate and revoke API keys'
complete -c whale -n "__fish_whale_needs_command" -f -a "tools" -d 'List tools, show schemas, and run tools through the pipeline'
complete -c whale -n "__fish_whale_needs_command" -f -a "executions" -d 'The audit trail: every tool execution'
complete -c whale -n "__fish_whale_needs_command" -f -a "stores" -d 'List, create and choose stores'
complete -c whale -n "__fish_whale_needs_command" -f -a "users" -d 'People who sign in on the OAuth authorization page (store members)'
complete -c whale -n "__fish_whale_needs_command" -f -a "clients" -d 'OAuth clients: machine agents (client_credentials) and registered apps'
complete -c whale -n "__fish_whale_needs_command" -f -a "login" -d 'Sign in to a remote whale server in the browser (OAuth) and keep the tokens'
complete -c whale -n "__fish_whale_needs_command" -f -a "logout" -d 'Revoke and delete the tokens of a login'
complete -c whale -n "__fish_whale_needs_command" -f -a "auth" -d 'Show stored logins'
complete -c whale -n "__fish_whale_needs_command" -f -a "install" -d 'Add whale to a desktop host\'s MCP configuration'
complete -c whale -n "__fish_whale_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c whale -n "__fish_whale_needs_command" -f -a "man" -d 'Print the man page (or write all of them with --out)'
complete -c whale -n "__fish_whale_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand mcp" -l transport -d 'How clients reach the server' -r -f -a "stdio\t'JSON-RPC over stdin/stdout, for a host that launches whale'
sse\t'HTTP server: Streamable HTTP at /mcp and legacy HTTP+SSE at /sse + /messages'
http\t'Same as sse (both transports on one port)'"
complete -c whale -n "__fish_whale_using_subcommand mcp" -l port -d 'Port to listen on in HTTP mode (0 picks a free one)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l host -d 'Address to bind in HTTP mode; anything but loopback exposes the server' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l allowed-host -d 'Also accept this Host name (a deployment\'s DNS name; repeatable)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l allowed-origin -d 'Accept browser requests from this Origin, e.g. https://app.example.com (repeatable)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l rate-limit -d 'Requests per minute per credential in HTTP mode (a key\'s own --rate-limit wins)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l max-body -d 'Largest request body accepted in HTTP mode, in bytes' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l public-url -d 'The origin clients reach this server at behind a proxy (scheme://host[:port]); its host and origin are allowed' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l tools -d 'Only these tools (comma-separated names)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l categories -d 'Only tools of these categories (commerce, operations, platform)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l tool-mode -d 'How tools are listed to clients' -r -f -a "grouped\t'One MCP tool per whale tool, with an `action` argument'
flat\t'One MCP tool per action, named `{tool}_{action}`'"
complete -c whale -n "__fish_whale_using_subcommand mcp" -l page-size -d 'Tools per tools/list page' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l trusted-proxy -d 'A reverse proxy in front of whale (address or CIDR network; repeatable): for requests from it, the client\'s address for per-address limits is taken from X-Forwarded-For' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l session-idle -d 'Close a Streamable HTTP session no request has used for this long' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l max-sessions-per-credential -d 'Streamable HTTP sessions one credential may hold open; a new one beyond this closes the credential\'s least recently used session (its client starts another)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l access-token-ttl -d 'Lifetime of OAuth access tokens issued by the embedded authorization server (at most 1d)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l refresh-token-ttl -d 'Lifetime of OAuth refresh tokens (each use rotates the token; at most 365d)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l auth-server -d 'Trust this external OAuth authorization server instead of the embedded one (tokens are checked by RFC 7662 introspection; API keys keep working)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l introspection-endpoint -d 'Introspection endpoint of --auth-server (default: from its RFC 8414 metadata)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l introspection-client-id -d 'Client id whale introspects with at --auth-server (its secret comes from WHALE_INTROSPECTION_CLIENT_SECRET)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l introspection-cache-ttl -d 'How long an active introspection answer is trusted (at most 60s)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l header-timeout -d 'Close a connection whose client takes longer than this to send a request\'s headers (or, kept alive, to begin its next request); a request\'s body gets as long again (408)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l max-connections -d 'Connections served at once (default: from the open-file limit); more wait to be accepted' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l server -d 'Bridge stdio to this remote whale server (its /mcp endpoint), signed in with `whale login`' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand mcp" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand mcp" -l read-only -d 'Expose only actions that read'
complete -c whale -n "__fish_whale_using_subcommand mcp" -l insecure-client-metadata -d 'Accept http:// and loopback client ID metadata documents (local development only)'
complete -c whale -n "__fish_whale_using_subcommand mcp" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -f -a "create" -d 'Create an API key (shown once) for one agent of the store'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -f -a "list" -d 'List the store\'s keys (never the keys themselves)'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -f -a "rotate" -d 'Issue a replacement with the same agent and scopes, and revoke the old key'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -f -a "revoke" -d 'Revoke a key at once'
complete -c whale -n "__fish_whale_using_subcommand keys; and not __fish_seen_subcommand_from create list rotate revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l agent -d 'Agent name the key acts as (recorded in the audit trail)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l scopes -d 'Scopes, space- or comma-separated: `products:read orders` (bare resource = read and write)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l expires-in -d 'Expire after this long (e.g. 30d, 12h)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l rate-limit -d 'Requests per minute this key may make in HTTP mode (default: the server\'s --rate-limit)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l test -d 'Create a sandbox key (wt_test_) that sees only test data'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -l json -d 'Print the key and its metadata as JSON'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from list" -l all -d 'Include revoked keys'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from rotate" -l grace -d 'Keep the old key working this long (e.g. 1h, at most 30d) so clients can switch' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from rotate" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from rotate" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from rotate" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from revoke" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create an API key (shown once) for one agent of the store'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the store\'s keys (never the keys themselves)'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Issue a replacement with the same agent and scopes, and revoke the old key'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a key at once'
complete -c whale -n "__fish_whale_using_subcommand keys; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "list" -d 'List tools and their actions'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "schema" -d 'Print a tool\'s (or one action\'s) input and output JSON Schema'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "test" -d 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action\'s example against a scratch copy of the store'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "docs" -d 'Print the tool catalog as Markdown (the source of docs/tools.md)'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "call" -d 'Run an action and print only its result as JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand tools; and not __fish_seen_subcommand_from list schema test docs call help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -l category -d 'Only this category' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -l actions -d 'One row per action'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from schema" -l action -d 'Action of the tool (not needed with a `{tool}_{action}` name)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from schema" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from schema" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from schema" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l action -d 'Action of the tool (not needed with a `{tool}_{action}` name)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l input -d 'Input as JSON (`-` reads it from stdin, `@FILE` from a file), run on the store\'s own data (live, unless a test key is set); without it the action\'s example runs on a scratch copy of the test data' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l all -d 'Test every action\'s example input on the test mode of a scratch copy'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from test" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from docs" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from docs" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from docs" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from call" -l action -d 'Action of the tool (not needed with a `{tool}_{action}` name)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from call" -l input -d 'Input as JSON (`-` reads it from stdin, `@FILE` from a file)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from call" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from call" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from call" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "list" -d 'List tools and their actions'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "schema" -d 'Print a tool\'s (or one action\'s) input and output JSON Schema'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "test" -d 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action\'s example against a scratch copy of the store'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "docs" -d 'Print the tool catalog as Markdown (the source of docs/tools.md)'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "call" -d 'Run an action and print only its result as JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand tools; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -f -a "list" -d 'List executions, newest first'
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -f -a "show" -d 'Show one execution with its input and output'
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -f -a "stats" -d 'Average latency, success rate, executions today, unique tools'
complete -c whale -n "__fish_whale_using_subcommand executions; and not __fish_seen_subcommand_from list show stats help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l tool -d 'Only this tool (orders), or one action (orders.create_order or orders_create_order)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l agent -d 'Only this agent (name or id)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l status -d 'success | error | timeout | pending_approval | rejected' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l from -d 'From this time (RFC 3339; YYYY-MM-DD, a day in the store\'s time zone; YYYY-MM-DDTHH:MM, store time; or an age like 24h)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l to -d 'Until this time (same forms; a date includes that whole day)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l limit -d 'Rows per page, 1–1000' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l offset -d 'Rows to skip (for paging)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l before -d 'Only executions listed after this one (an exec_… id, e.g. the last of the previous page): pages that stay put while new calls arrive' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l test -d 'Sandbox (test mode) executions instead of live'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from show" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from show" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from show" -l test -d 'Look in the test (sandbox) mode'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from show" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l tool -d 'Only this tool (orders), or one action (orders.create_order or orders_create_order)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l agent -d 'Only this agent (name or id)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l status -d 'success | error | timeout | pending_approval | rejected' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l from -d 'From this time (RFC 3339; YYYY-MM-DD, a day in the store\'s time zone; YYYY-MM-DDTHH:MM, store time; or an age like 24h)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l to -d 'Until this time (same forms; a date includes that whole day)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l test -d 'Sandbox (test mode) executions instead of live'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from help" -f -a "list" -d 'List executions, newest first'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from help" -f -a "show" -d 'Show one execution with its input and output'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Average latency, success rate, executions today, unique tools'
complete -c whale -n "__fish_whale_using_subcommand executions; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -f -a "list" -d 'List stores'
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -f -a "create" -d 'Create a store'
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -f -a "use" -d 'Make a store the default for later commands'
complete -c whale -n "__fish_whale_using_subcommand stores; and not __fish_seen_subcommand_from list create use help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l name -d 'Display name of the store' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l currency -d 'ISO 4217 currency code' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l timezone -d 'IANA time zone, e.g. America/New_York' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -l seed -d 'Fill it with demo catalog data'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from use" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from use" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from use" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from help" -f -a "list" -d 'List stores'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a store'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from help" -f -a "use" -d 'Make a store the default for later commands'
complete -c whale -n "__fish_whale_using_subcommand stores; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -f -a "add" -d 'Add a person who may sign in and grant agents access to stores'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -f -a "list" -d 'List users and the stores they belong to'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -f -a "remove" -d 'Remove a user from the store and revoke every token they granted agents there'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -f -a "passwd" -d 'Set a user\'s password'
complete -c whale -n "__fish_whale_using_subcommand users; and not __fish_seen_subcommand_from add list remove passwd help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -l name -d 'Display name (default: the part of the email before @)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -l password-stdin -d 'Read the password from the first line of stdin instead of prompting'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from remove" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from remove" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from remove" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from passwd" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from passwd" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from passwd" -l password-stdin -d 'Read the password from the first line of stdin instead of prompting'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from passwd" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "add" -d 'Add a person who may sign in and grant agents access to stores'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "list" -d 'List users and the stores they belong to'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Remove a user from the store and revoke every token they granted agents there'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "passwd" -d 'Set a user\'s password'
complete -c whale -n "__fish_whale_using_subcommand users; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -f -a "create" -d 'Create a confidential client for a machine agent (client_credentials); the secret is shown once'
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -f -a "list" -d 'List the store\'s machine clients and the apps that registered themselves (which belong to no store)'
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -f -a "revoke" -d 'Revoke a client of the store (or a registered app) and every token issued to it'
complete -c whale -n "__fish_whale_using_subcommand clients; and not __fish_seen_subcommand_from create list revoke help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -l scopes -d 'The most it may ask for, e.g. "products:read orders"' -r
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -l test -d 'Bind it to the store\'s test mode instead of live'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from list" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from list" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from list" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from revoke" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from revoke" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from revoke" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from help" -f -a "create" -d 'Create a confidential client for a machine agent (client_credentials); the secret is shown once'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from help" -f -a "list" -d 'List the store\'s machine clients and the apps that registered themselves (which belong to no store)'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from help" -f -a "revoke" -d 'Revoke a client of the store (or a registered app) and every token issued to it'
complete -c whale -n "__fish_whale_using_subcommand clients; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand login" -l server -d 'The whale server to sign in to (its base URL)' -r
complete -c whale -n "__fish_whale_using_subcommand login" -l scopes -d 'Scopes to ask for, space- or comma-separated (default: what the server grants)' -r
complete -c whale -n "__fish_whale_using_subcommand login" -l client-id -d 'Use this OAuth client id instead of registering one' -r
complete -c whale -n "__fish_whale_using_subcommand login" -l timeout -d 'Seconds to wait for the browser to come back' -r
complete -c whale -n "__fish_whale_using_subcommand login" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand login" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand login" -l no-browser -d 'Do not open a browser; print the URL to open elsewhere'
complete -c whale -n "__fish_whale_using_subcommand login" -l insecure-storage -d 'Keep the tokens in a file readable only by you (0600) instead of the OS keychain'
complete -c whale -n "__fish_whale_using_subcommand login" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand logout" -l server -d 'The server to log out of (needed when several are stored)' -r
complete -c whale -n "__fish_whale_using_subcommand logout" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand logout" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand logout" -l all -d 'Log out of every stored login'
complete -c whale -n "__fish_whale_using_subcommand logout" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand auth; and not __fish_seen_subcommand_from status help" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand auth; and not __fish_seen_subcommand_from status help" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand auth; and not __fish_seen_subcommand_from status help" -f -a "status" -d 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)'
complete -c whale -n "__fish_whale_using_subcommand auth; and not __fish_seen_subcommand_from status help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from status" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from status" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from status" -l json -d 'Print JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "status" -d 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)'
complete -c whale -n "__fish_whale_using_subcommand auth; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand install" -l config -d 'Config file to edit (default: the host\'s usual location)' -r -F
complete -c whale -n "__fish_whale_using_subcommand install" -l name -d 'Server name in the host\'s config' -r
complete -c whale -n "__fish_whale_using_subcommand install" -l server -d 'Connect the host to this remote whale server (sign in first with `whale login`)' -r
complete -c whale -n "__fish_whale_using_subcommand install" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand install" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand install" -l print -d 'Print the entry instead of writing it'
complete -c whale -n "__fish_whale_using_subcommand install" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand completions" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand completions" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand completions" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand man" -l out -d 'Write whale.1 and one page per subcommand into this directory' -r -F
complete -c whale -n "__fish_whale_using_subcommand man" -l db -d 'Database file (default: whale.db under the platform data directory)' -r -F
complete -c whale -n "__fish_whale_using_subcommand man" -l store -d 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)' -r
complete -c whale -n "__fish_whale_using_subcommand man" -s h -l help -d 'Print help'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "mcp" -d 'Serve the store\'s tools over MCP (stdio for desktop hosts)'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "keys" -d 'Create, list, rotate and revoke API keys'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "tools" -d 'List tools, show schemas, and run tools through the pipeline'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "executions" -d 'The audit trail: every tool execution'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "stores" -d 'List, create and choose stores'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "users" -d 'People who sign in on the OAuth authorization page (store members)'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "clients" -d 'OAuth clients: machine agents (client_credentials) and registered apps'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "login" -d 'Sign in to a remote whale server in the browser (OAuth) and keep the tokens'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "logout" -d 'Revoke and delete the tokens of a login'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "auth" -d 'Show stored logins'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "install" -d 'Add whale to a desktop host\'s MCP configuration'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "completions" -d 'Print a shell completion script'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "man" -d 'Print the man page (or write all of them with --out)'
complete -c whale -n "__fish_whale_using_subcommand help; and not __fish_seen_subcommand_from mcp keys tools executions stores users clients login logout auth install completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "create" -d 'Create an API key (shown once) for one agent of the store'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "list" -d 'List the store\'s keys (never the keys themselves)'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "rotate" -d 'Issue a replacement with the same agent and scopes, and revoke the old key'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from keys" -f -a "revoke" -d 'Revoke a key at once'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from tools" -f -a "list" -d 'List tools and their actions'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from tools" -f -a "schema" -d 'Print a tool\'s (or one action\'s) input and output JSON Schema'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from tools" -f -a "test" -d 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action\'s example against a scratch copy of the store'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from tools" -f -a "docs" -d 'Print the tool catalog as Markdown (the source of docs/tools.md)'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from tools" -f -a "call" -d 'Run an action and print only its result as JSON (for scripts)'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from executions" -f -a "list" -d 'List executions, newest first'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from executions" -f -a "show" -d 'Show one execution with its input and output'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from executions" -f -a "stats" -d 'Average latency, success rate, executions today, unique tools'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from stores" -f -a "list" -d 'List stores'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from stores" -f -a "create" -d 'Create a store'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from stores" -f -a "use" -d 'Make a store the default for later commands'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "add" -d 'Add a person who may sign in and grant agents access to stores'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "list" -d 'List users and the stores they belong to'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "remove" -d 'Remove a user from the store and revoke every token they granted agents there'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from users" -f -a "passwd" -d 'Set a user\'s password'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from clients" -f -a "create" -d 'Create a confidential client for a machine agent (client_credentials); the secret is shown once'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from clients" -f -a "list" -d 'List the store\'s machine clients and the apps that registered themselves (which belong to no store)'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from clients" -f -a "revoke" -d 'Revoke a client of the store (or a registered app) and every token issued to it'
complete -c whale -n "__fish_whale_using_subcommand help; and __fish_seen_subcommand_from auth" -f -a "status" -d 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)'
