//! Commerce tools (SPEC §3).
pub mod customers;
pub mod inventory;
pub mod orders;
pub mod products;
