//! Operations tools (SPEC §3).
pub mod locations;
