//! HTTP benchmark (being written).
fn main() {}
