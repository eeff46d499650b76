//! Persistence adapters for the store traits that the domain crates define.
//!
//! Planned shape (issues 4, 6 and 9): SQLite as the embedded default and PostgreSQL for
//! scale-out, with versioned migrations. Nothing is implemented yet; this crate only reserves its
//! place in the workspace.
