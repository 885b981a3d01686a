//! One module per subcommand. Each calls App services; none writes SQL.
pub mod auth;
pub mod clients;
pub mod docs;
pub mod executions;
pub mod install;
pub mod keys;
pub mod mcp;
pub mod stores;
pub mod tools;
pub mod users;

/// Says on stderr which granted resources no tool of this version needs
/// (SPEC §3 names resources of tools still to come, such as `marketing`):
/// the grant is kept, but an admin who meant `products` learns it now
/// rather than from an agent that sees no tools.
pub fn note_unused_scopes(app: &crate::app::App, scopes: &crate::auth::ScopeSet) {
    let used: std::collections::BTreeSet<&str> = app
        .pipeline
        .registry()
        .tools()
        .iter()
        .map(|t| t.resource)
        .collect();
    let unused: Vec<&str> = scopes.resources().filter(|r| !used.contains(r)).collect();
    if !unused.is_empty() {
        crate::printer::err(&format!(
            "note: no tool of this version needs {}; the scope is kept for tools to come (tools need: {})",
            unused
                .iter()
                .map(|r| format!("`{r}`"))
                .collect::<Vec<_>>()
                .join(", "),
            used.into_iter().collect::<Vec<_>>().join(", ")
        ));
    }
}

/// The error for a new secret (a key, a client secret) that could not be
/// written to stdout — a full disk, a closed pipe — so nobody has it:
/// `undone` is the credential taken back (`how` says what became of it),
/// or why that failed too (then `revoke` is the command that does it).
pub fn unseen(
    e: std::io::Error,
    id: &str,
    undone: Result<(), crate::error::CliError>,
    how: &str,
    revoke: &str,
) -> crate::error::CliError {
    crate::error::CliError::Runtime(match undone {
        Ok(()) => format!("could not write the secret of {id} to stdout ({e}); {how}"),
        Err(u) => format!(
            "could not write the secret of {id} to stdout ({e}), and taking it back failed ({u}); run `{revoke} {id}`"
        ),
    })
}
