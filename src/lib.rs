//! # lofiever
//!
//! A 24/7 lo-fi radio that needs no running server. A batch tool, run
//! nightly, turns a music catalog into a pre-rendered, wall-clock-anchored
//! MPEG-DASH stream on any static host or CDN; every listener hears the same
//! moment of the programme at the same wall-clock time.
//!
//! ```text
//! catalog/ ──analyze──▶ features.csv ──schedule──▶ schedule/*.json
//!          ──render───▶ out/<rendition>/<N>.m4s + stream.mpd + page ──publish──▶ target
//! ```
//!
//! The time model lives in [`time`]: one integer clock of programme samples
//! at 48 kHz since the station epoch; segment `N` holds samples `[N·D, (N+1)·D)`.
//!
//! Glossary (used the same way everywhere):
//! - **programme**: the continuous mixed audio of the station, a pure function
//!   of the schedule.
//! - **track**: an audio file in the catalog. **item**: one scheduled play of a
//!   track, with absolute start on the programme clock.
//! - **segment**: `D` samples of the programme encoded as one CMAF fragment.
//! - **chunk**: `C` consecutive segments on the epoch grid, the unit of
//!   parallel rendering.
//! - **rendition**: one bitrate of the ABR ladder.
//! - **target**: where the station is published (a directory or a bucket).
//! - **runway**: how much programme is rendered ahead of now.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod analyze;
pub mod audio;
pub mod catalog;
pub mod chart;
pub mod demo;
pub mod error;
pub mod fsutil;
pub mod job;
pub mod listeners;
pub mod music;
pub mod ops;
pub mod package;
pub mod page;
pub mod preview;
pub mod progress;
pub mod publish;
pub mod render;
pub mod schedule;
pub mod station;
pub mod time;

pub use error::{Error, Result};
pub use station::Station;
