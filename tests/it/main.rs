//! lofiever's integration tests: one binary, modules by purpose. They run the
//! real pipeline on a synthetic catalog and check the output with real,
//! independent components (ffmpeg/ffprobe, Chromium with dash.js). Install
//! those with `bash ci/setup.sh`.

mod analyze;
mod browser;
mod cli;
mod publish;
mod render;
mod stream;
mod util;
