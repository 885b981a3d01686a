//! Platform tools (SPEC §3): the platform's own state.
pub mod audit_trail;
pub mod store;
