//! Nothing here: see `tests/`, `benches/` and `examples/` of this crate.
