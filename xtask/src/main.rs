//! Workspace automation (placeholder while building).
fn main() {}
