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
