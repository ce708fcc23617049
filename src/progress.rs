//! How the library reports progress on long work without knowing about
//! terminals: a small sink trait. The CLI implements it with indicatif bars;
//! tests and library users can pass [`Silent`].

/// Receives progress of one long task. Implementations must be cheap and
/// thread-safe: stage drivers call them from rayon workers.
pub trait Progress: Send + Sync {
    /// A task of `total` units (files, chunks…) named `label` starts.
    fn start(&self, label: &str, total: u64, unit: Unit);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The task is over; `summary` says how it went in one line.
    fn finish(&self, summary: &str);
}

/// What the units of a task are, so a front end can format them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Plain items (files, objects).
    Items,
    /// Seconds of programme audio.
    ProgrammeSeconds,
}

/// A sink that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn start(&self, _: &str, _: u64, _: Unit) {}
    fn advance(&self, _: u64) {}
    fn finish(&self, _: &str) {}
}
