//! The `lofiever` binary: parse, run, print the error chain, exit code.
#![forbid(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
