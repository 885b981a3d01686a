
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'whale' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'whale'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'whale' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve the store''s tools over MCP (stdio for desktop hosts)')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, rotate and revoke API keys')
            [CompletionResult]::new('tools', 'tools', [CompletionResultType]::ParameterValue, 'List tools, show schemas, and run tools through the pipeline')
            [CompletionResult]::new('executions', 'executions', [CompletionResultType]::ParameterValue, 'The audit trail: every tool execution')
            [CompletionResult]::new('stores', 'stores', [CompletionResultType]::ParameterValue, 'List, create and choose stores')
            [CompletionResult]::new('users', 'users', [CompletionResultType]::ParameterValue, 'People who sign in on the OAuth authorization page (store members)')
            [CompletionResult]::new('clients', 'clients', [CompletionResultType]::ParameterValue, 'OAuth clients: machine agents (client_credentials) and registered apps')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in to a remote whale server in the browser (OAuth) and keep the tokens')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke and delete the tokens of a login')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Show stored logins')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Add whale to a desktop host''s MCP configuration')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (or write all of them with --out)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;mcp' {
            [CompletionResult]::new('--transport', '--transport', [CompletionResultType]::ParameterName, 'How clients reach the server')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on in HTTP mode (0 picks a free one)')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to bind in HTTP mode; anything but loopback exposes the server')
            [CompletionResult]::new('--allowed-host', '--allowed-host', [CompletionResultType]::ParameterName, 'Also accept this Host name (a deployment''s DNS name; repeatable)')
            [CompletionResult]::new('--allowed-origin', '--allowed-origin', [CompletionResultType]::ParameterName, 'Accept browser requests from this Origin, e.g. https://app.example.com (repeatable)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute per credential in HTTP mode (a key''s own --rate-limit wins)')
            [CompletionResult]::new('--max-body', '--max-body', [CompletionResultType]::ParameterName, 'Largest request body accepted in HTTP mode, in bytes')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'The origin clients reach this server at behind a proxy (scheme://host[:port]); its host and origin are allowed')
            [CompletionResult]::new('--tools', '--tools', [CompletionResultType]::ParameterName, 'Only these tools (comma-separated names)')
            [CompletionResult]::new('--categories', '--categories', [CompletionResultType]::ParameterName, 'Only tools of these categories (commerce, operations, platform)')
            [CompletionResult]::new('--tool-mode', '--tool-mode', [CompletionResultType]::ParameterName, 'How tools are listed to clients')
            [CompletionResult]::new('--page-size', '--page-size', [CompletionResultType]::ParameterName, 'Tools per tools/list page')
            [CompletionResult]::new('--trusted-proxy', '--trusted-proxy', [CompletionResultType]::ParameterName, 'A reverse proxy in front of whale (address or CIDR network; repeatable): for requests from it, the client''s address for per-address limits is taken from X-Forwarded-For')
            [CompletionResult]::new('--session-idle', '--session-idle', [CompletionResultType]::ParameterName, 'Close a Streamable HTTP session no request has used for this long')
            [CompletionResult]::new('--max-sessions-per-credential', '--max-sessions-per-credential', [CompletionResultType]::ParameterName, 'Streamable HTTP sessions one credential may hold open; a new one beyond this closes the credential''s least recently used session (its client starts another)')
            [CompletionResult]::new('--access-token-ttl', '--access-token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of OAuth access tokens issued by the embedded authorization server (at most 1d)')
            [CompletionResult]::new('--refresh-token-ttl', '--refresh-token-ttl', [CompletionResultType]::ParameterName, 'Lifetime of OAuth refresh tokens (each use rotates the token; at most 365d)')
            [CompletionResult]::new('--auth-server', '--auth-server', [CompletionResultType]::ParameterName, 'Trust this external OAuth authorization server instead of the embedded one (tokens are checked by RFC 7662 introspection; API keys keep working)')
            [CompletionResult]::new('--introspection-endpoint', '--introspection-endpoint', [CompletionResultType]::ParameterName, 'Introspection endpoint of --auth-server (default: from its RFC 8414 metadata)')
            [CompletionResult]::new('--introspection-client-id', '--introspection-client-id', [CompletionResultType]::ParameterName, 'Client id whale introspects with at --auth-server (its secret comes from WHALE_INTROSPECTION_CLIENT_SECRET)')
            [CompletionResult]::new('--introspection-cache-ttl', '--introspection-cache-ttl', [CompletionResultType]::ParameterName, 'How long an active introspection answer is trusted (at most 60s)')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'Close a connection whose client takes longer than this to send a request''s headers (or, kept alive, to begin its next request); a request''s body gets as long again (408)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Connections served at once (default: from the open-file limit); more wait to be accepted')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Bridge stdio to this remote whale server (its /mcp endpoint), signed in with `whale login`')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'Expose only actions that read')
            [CompletionResult]::new('--insecure-client-metadata', '--insecure-client-metadata', [CompletionResultType]::ParameterName, 'Accept http:// and loopback client ID metadata documents (local development only)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'whale;keys' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key (shown once) for one agent of the store')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s keys (never the keys themselves)')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Issue a replacement with the same agent and scopes, and revoke the old key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a key at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;keys;create' {
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Agent name the key acts as (recorded in the audit trail)')
            [CompletionResult]::new('--scopes', '--scopes', [CompletionResultType]::ParameterName, 'Scopes, space- or comma-separated: `products:read orders` (bare resource = read and write)')
            [CompletionResult]::new('--expires-in', '--expires-in', [CompletionResultType]::ParameterName, 'Expire after this long (e.g. 30d, 12h)')
            [CompletionResult]::new('--rate-limit', '--rate-limit', [CompletionResultType]::ParameterName, 'Requests per minute this key may make in HTTP mode (default: the server''s --rate-limit)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--test', '--test', [CompletionResultType]::ParameterName, 'Create a sandbox key (wt_test_) that sees only test data')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the key and its metadata as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;keys;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Include revoked keys')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;keys;rotate' {
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Keep the old key working this long (e.g. 1h, at most 30d) so clients can switch')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;keys;revoke' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;keys;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key (shown once) for one agent of the store')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s keys (never the keys themselves)')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Issue a replacement with the same agent and scopes, and revoke the old key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a key at once')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;keys;help;create' {
            break
        }
        'whale;keys;help;list' {
            break
        }
        'whale;keys;help;rotate' {
            break
        }
        'whale;keys;help;revoke' {
            break
        }
        'whale;keys;help;help' {
            break
        }
        'whale;tools' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tools and their actions')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print a tool''s (or one action''s) input and output JSON Schema')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action''s example against a scratch copy of the store')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Print the tool catalog as Markdown (the source of docs/tools.md)')
            [CompletionResult]::new('call', 'call', [CompletionResultType]::ParameterValue, 'Run an action and print only its result as JSON (for scripts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;tools;list' {
            [CompletionResult]::new('--category', '--category', [CompletionResultType]::ParameterName, 'Only this category')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--actions', '--actions', [CompletionResultType]::ParameterName, 'One row per action')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'whale;tools;schema' {
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Action of the tool (not needed with a `{tool}_{action}` name)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;tools;test' {
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Action of the tool (not needed with a `{tool}_{action}` name)')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Input as JSON (`-` reads it from stdin, `@FILE` from a file), run on the store''s own data (live, unless a test key is set); without it the action''s example runs on a scratch copy of the test data')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Test every action''s example input on the test mode of a scratch copy')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;tools;docs' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;tools;call' {
            [CompletionResult]::new('--action', '--action', [CompletionResultType]::ParameterName, 'Action of the tool (not needed with a `{tool}_{action}` name)')
            [CompletionResult]::new('--input', '--input', [CompletionResultType]::ParameterName, 'Input as JSON (`-` reads it from stdin, `@FILE` from a file)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;tools;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tools and their actions')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print a tool''s (or one action''s) input and output JSON Schema')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action''s example against a scratch copy of the store')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Print the tool catalog as Markdown (the source of docs/tools.md)')
            [CompletionResult]::new('call', 'call', [CompletionResultType]::ParameterValue, 'Run an action and print only its result as JSON (for scripts)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;tools;help;list' {
            break
        }
        'whale;tools;help;schema' {
            break
        }
        'whale;tools;help;test' {
            break
        }
        'whale;tools;help;docs' {
            break
        }
        'whale;tools;help;call' {
            break
        }
        'whale;tools;help;help' {
            break
        }
        'whale;executions' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List executions, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one execution with its input and output')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Average latency, success rate, executions today, unique tools')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;executions;list' {
            [CompletionResult]::new('--tool', '--tool', [CompletionResultType]::ParameterName, 'Only this tool (orders), or one action (orders.create_order or orders_create_order)')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent (name or id)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'success | error | timeout | pending_approval | rejected')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From this time (RFC 3339; YYYY-MM-DD, a day in the store''s time zone; YYYY-MM-DDTHH:MM, store time; or an age like 24h)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Until this time (same forms; a date includes that whole day)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'Rows per page, 1–1000')
            [CompletionResult]::new('--offset', '--offset', [CompletionResultType]::ParameterName, 'Rows to skip (for paging)')
            [CompletionResult]::new('--before', '--before', [CompletionResultType]::ParameterName, 'Only executions listed after this one (an exec_… id, e.g. the last of the previous page): pages that stay put while new calls arrive')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--test', '--test', [CompletionResultType]::ParameterName, 'Sandbox (test mode) executions instead of live')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;executions;show' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--test', '--test', [CompletionResultType]::ParameterName, 'Look in the test (sandbox) mode')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;executions;stats' {
            [CompletionResult]::new('--tool', '--tool', [CompletionResultType]::ParameterName, 'Only this tool (orders), or one action (orders.create_order or orders_create_order)')
            [CompletionResult]::new('--agent', '--agent', [CompletionResultType]::ParameterName, 'Only this agent (name or id)')
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'success | error | timeout | pending_approval | rejected')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'From this time (RFC 3339; YYYY-MM-DD, a day in the store''s time zone; YYYY-MM-DDTHH:MM, store time; or an age like 24h)')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'Until this time (same forms; a date includes that whole day)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--test', '--test', [CompletionResultType]::ParameterName, 'Sandbox (test mode) executions instead of live')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;executions;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List executions, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one execution with its input and output')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Average latency, success rate, executions today, unique tools')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;executions;help;list' {
            break
        }
        'whale;executions;help;show' {
            break
        }
        'whale;executions;help;stats' {
            break
        }
        'whale;executions;help;help' {
            break
        }
        'whale;stores' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stores')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a store')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a store the default for later commands')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;stores;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;stores;create' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name of the store')
            [CompletionResult]::new('--currency', '--currency', [CompletionResultType]::ParameterName, 'ISO 4217 currency code')
            [CompletionResult]::new('--timezone', '--timezone', [CompletionResultType]::ParameterName, 'IANA time zone, e.g. America/New_York')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'Fill it with demo catalog data')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;stores;use' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;stores;help' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stores')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a store')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a store the default for later commands')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;stores;help;list' {
            break
        }
        'whale;stores;help;create' {
            break
        }
        'whale;stores;help;use' {
            break
        }
        'whale;stores;help;help' {
            break
        }
        'whale;users' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a person who may sign in and grant agents access to stores')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users and the stores they belong to')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a user from the store and revoke every token they granted agents there')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Set a user''s password')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;users;add' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Display name (default: the part of the email before @)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin instead of prompting')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;users;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;users;remove' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;users;passwd' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--password-stdin', '--password-stdin', [CompletionResultType]::ParameterName, 'Read the password from the first line of stdin instead of prompting')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;users;help' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a person who may sign in and grant agents access to stores')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users and the stores they belong to')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a user from the store and revoke every token they granted agents there')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Set a user''s password')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;users;help;add' {
            break
        }
        'whale;users;help;list' {
            break
        }
        'whale;users;help;remove' {
            break
        }
        'whale;users;help;passwd' {
            break
        }
        'whale;users;help;help' {
            break
        }
        'whale;clients' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a confidential client for a machine agent (client_credentials); the secret is shown once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s machine clients and the apps that registered themselves (which belong to no store)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client of the store (or a registered app) and every token issued to it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;clients;create' {
            [CompletionResult]::new('--scopes', '--scopes', [CompletionResultType]::ParameterName, 'The most it may ask for, e.g. "products:read orders"')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--test', '--test', [CompletionResultType]::ParameterName, 'Bind it to the store''s test mode instead of live')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;clients;list' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;clients;revoke' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;clients;help' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a confidential client for a machine agent (client_credentials); the secret is shown once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s machine clients and the apps that registered themselves (which belong to no store)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client of the store (or a registered app) and every token issued to it')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;clients;help;create' {
            break
        }
        'whale;clients;help;list' {
            break
        }
        'whale;clients;help;revoke' {
            break
        }
        'whale;clients;help;help' {
            break
        }
        'whale;login' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The whale server to sign in to (its base URL)')
            [CompletionResult]::new('--scopes', '--scopes', [CompletionResultType]::ParameterName, 'Scopes to ask for, space- or comma-separated (default: what the server grants)')
            [CompletionResult]::new('--client-id', '--client-id', [CompletionResultType]::ParameterName, 'Use this OAuth client id instead of registering one')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Seconds to wait for the browser to come back')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--no-browser', '--no-browser', [CompletionResultType]::ParameterName, 'Do not open a browser; print the URL to open elsewhere')
            [CompletionResult]::new('--insecure-storage', '--insecure-storage', [CompletionResultType]::ParameterName, 'Keep the tokens in a file readable only by you (0600) instead of the OS keychain')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;logout' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The server to log out of (needed when several are stored)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'Log out of every stored login')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;auth' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;auth;status' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print JSON (for scripts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;auth;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;auth;help;status' {
            break
        }
        'whale;auth;help;help' {
            break
        }
        'whale;install' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Config file to edit (default: the host''s usual location)')
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Server name in the host''s config')
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'Connect the host to this remote whale server (sign in first with `whale login`)')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('--print', '--print', [CompletionResultType]::ParameterName, 'Print the entry instead of writing it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;completions' {
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;man' {
            [CompletionResult]::new('--out', '--out', [CompletionResultType]::ParameterName, 'Write whale.1 and one page per subcommand into this directory')
            [CompletionResult]::new('--db', '--db', [CompletionResultType]::ParameterName, 'Database file (default: whale.db under the platform data directory)')
            [CompletionResult]::new('--store', '--store', [CompletionResultType]::ParameterName, 'Store to act on (default: the one chosen by `whale stores use`, else `demo`)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'whale;help' {
            [CompletionResult]::new('mcp', 'mcp', [CompletionResultType]::ParameterValue, 'Serve the store''s tools over MCP (stdio for desktop hosts)')
            [CompletionResult]::new('keys', 'keys', [CompletionResultType]::ParameterValue, 'Create, list, rotate and revoke API keys')
            [CompletionResult]::new('tools', 'tools', [CompletionResultType]::ParameterValue, 'List tools, show schemas, and run tools through the pipeline')
            [CompletionResult]::new('executions', 'executions', [CompletionResultType]::ParameterValue, 'The audit trail: every tool execution')
            [CompletionResult]::new('stores', 'stores', [CompletionResultType]::ParameterValue, 'List, create and choose stores')
            [CompletionResult]::new('users', 'users', [CompletionResultType]::ParameterValue, 'People who sign in on the OAuth authorization page (store members)')
            [CompletionResult]::new('clients', 'clients', [CompletionResultType]::ParameterValue, 'OAuth clients: machine agents (client_credentials) and registered apps')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Sign in to a remote whale server in the browser (OAuth) and keep the tokens')
            [CompletionResult]::new('logout', 'logout', [CompletionResultType]::ParameterValue, 'Revoke and delete the tokens of a login')
            [CompletionResult]::new('auth', 'auth', [CompletionResultType]::ParameterValue, 'Show stored logins')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Add whale to a desktop host''s MCP configuration')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (or write all of them with --out)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'whale;help;mcp' {
            break
        }
        'whale;help;keys' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create an API key (shown once) for one agent of the store')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s keys (never the keys themselves)')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Issue a replacement with the same agent and scopes, and revoke the old key')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a key at once')
            break
        }
        'whale;help;keys;create' {
            break
        }
        'whale;help;keys;list' {
            break
        }
        'whale;help;keys;rotate' {
            break
        }
        'whale;help;keys;revoke' {
            break
        }
        'whale;help;tools' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List tools and their actions')
            [CompletionResult]::new('schema', 'schema', [CompletionResultType]::ParameterValue, 'Print a tool''s (or one action''s) input and output JSON Schema')
            [CompletionResult]::new('test', 'test', [CompletionResultType]::ParameterValue, 'Run an action through the pipeline and report result, duration and execution id; with --all, run every action''s example against a scratch copy of the store')
            [CompletionResult]::new('docs', 'docs', [CompletionResultType]::ParameterValue, 'Print the tool catalog as Markdown (the source of docs/tools.md)')
            [CompletionResult]::new('call', 'call', [CompletionResultType]::ParameterValue, 'Run an action and print only its result as JSON (for scripts)')
            break
        }
        'whale;help;tools;list' {
            break
        }
        'whale;help;tools;schema' {
            break
        }
        'whale;help;tools;test' {
            break
        }
        'whale;help;tools;docs' {
            break
        }
        'whale;help;tools;call' {
            break
        }
        'whale;help;executions' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List executions, newest first')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show one execution with its input and output')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Average latency, success rate, executions today, unique tools')
            break
        }
        'whale;help;executions;list' {
            break
        }
        'whale;help;executions;show' {
            break
        }
        'whale;help;executions;stats' {
            break
        }
        'whale;help;stores' {
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List stores')
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a store')
            [CompletionResult]::new('use', 'use', [CompletionResultType]::ParameterValue, 'Make a store the default for later commands')
            break
        }
        'whale;help;stores;list' {
            break
        }
        'whale;help;stores;create' {
            break
        }
        'whale;help;stores;use' {
            break
        }
        'whale;help;users' {
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a person who may sign in and grant agents access to stores')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List users and the stores they belong to')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a user from the store and revoke every token they granted agents there')
            [CompletionResult]::new('passwd', 'passwd', [CompletionResultType]::ParameterValue, 'Set a user''s password')
            break
        }
        'whale;help;users;add' {
            break
        }
        'whale;help;users;list' {
            break
        }
        'whale;help;users;remove' {
            break
        }
        'whale;help;users;passwd' {
            break
        }
        'whale;help;clients' {
            [CompletionResult]::new('create', 'create', [CompletionResultType]::ParameterValue, 'Create a confidential client for a machine agent (client_credentials); the secret is shown once')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List the store''s machine clients and the apps that registered themselves (which belong to no store)')
            [CompletionResult]::new('revoke', 'revoke', [CompletionResultType]::ParameterValue, 'Revoke a client of the store (or a registered app) and every token issued to it')
            break
        }
        'whale;help;clients;create' {
            break
        }
        'whale;help;clients;list' {
            break
        }
        'whale;help;clients;revoke' {
            break
        }
        'whale;help;login' {
            break
        }
        'whale;help;logout' {
            break
        }
        'whale;help;auth' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every stored login: server, store, scopes, expiry, and where the tokens are kept (exit 1 when there is neither a login nor an API key, when the API key set is empty or malformed, or when the credential file cannot be used and no API key is set)')
            break
        }
        'whale;help;auth;status' {
            break
        }
        'whale;help;install' {
            break
        }
        'whale;help;completions' {
            break
        }
        'whale;help;man' {
            break
        }
        'whale;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
