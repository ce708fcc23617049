//! indicatif progress bars behind the library's [`Progress`] trait.

use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lofiever::progress::{Progress, Unit};

/// Progress bars on stderr (hidden when stderr is not a terminal, or `quiet`).
pub struct Bars {
    bar: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl Bars {
    /// Bars on stderr; `quiet` hides them and the finish lines.
    pub fn new(quiet: bool) -> Bars {
        Bars {
            bar: Mutex::new(None),
            quiet,
        }
    }

    fn with_bar(&self, f: impl FnOnce(&ProgressBar)) {
        if let Ok(guard) = self.bar.lock() {
            if let Some(b) = guard.as_ref() {
                f(b);
            }
        }
    }
}

impl Progress for Bars {
    fn start(&self, label: &str, total: u64, unit: Unit) {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        if self.quiet {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let template = match unit {
            Unit::Items => "{msg:24} [{bar:30}] {pos}/{len} ({eta} left)",
            Unit::ProgrammeSeconds => {
                "{msg:24} [{bar:30}] {pos}/{len} s of programme, {per_sec} ({eta} left)"
            }
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        if let Ok(mut guard) = self.bar.lock() {
            *guard = Some(bar);
        }
    }

    fn advance(&self, n: u64) {
        self.with_bar(|b| b.inc(n));
    }

    fn finish(&self, summary: &str) {
        if let Ok(mut guard) = self.bar.lock() {
            if let Some(b) = guard.take() {
                b.finish_and_clear();
            }
        }
        if !self.quiet {
            eprintln!("  {summary}");
        }
    }
}
