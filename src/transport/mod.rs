//! Doors that speak MCP. Each translates wire messages into pipeline calls
//! and back; none checks a scope or writes an audit row.
pub mod channel;
pub mod http;
pub mod mcp;
pub mod stdio;
