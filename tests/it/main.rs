//! lofiever's integration tests: one binary, modules by purpose. They run the
//! real pipeline on a synthetic catalog and check the output with real,
//! independent components (ffmpeg/ffprobe; Chromium, Firefox ESR and WebKitGTK
//! with dash.js and Shaka Player). Install those with `bash ci/setup.sh`.

mod analyze;
mod architecture;
mod bad_input;
mod browser;
mod channels;
mod cli;
mod crash;
mod curation;
mod engines;
mod hls;
mod identity;
mod listeners;
mod ops;
mod publish;
mod render;
mod schedule;
mod shard;
mod sharding_engines;
mod stream;
mod util;
