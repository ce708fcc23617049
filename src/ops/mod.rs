//! Operations: what an operator (or a nightly job) runs to know the station
//! is healthy — `lofiever status` (runway, gaps, schedule, catalog) and
//! `lofiever verify` (the published stream checked as a player uses it).

pub mod status;
pub mod verify;
