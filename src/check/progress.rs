//! The progress bar of a long check, on standard error (indicatif): lines
//! and megabytes read, the rate, and the time left from the bytes of the
//! input when its size is known. It appears only once a check has run for
//! a second, only when standard error is a terminal and `--quiet` is not
//! given; it is cleared before the report is written.
//!
//! The loader updates it once per chunk it reads (a 64th of a file, at most
//! 4 MiB), never per line: the hot path pays two atomic stores a chunk
//! while the bar is hidden.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::mpsc;
use std::time::Duration;

/// How long a check runs before its bar appears: a short check (an
/// example block, a batch of candidates) never flashes one.
pub const DELAY: Duration = Duration::from_secs(1);

/// Whether a check shows its progress: on a terminal, unless `--quiet`.
pub fn shows(quiet: bool, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && !quiet
}

/// A check's progress: off, or a bar drawn once the check has run for
/// [`DELAY`].
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Dropped to tell the thread that would reveal the bar that the
    /// check is over.
    done: Option<mpsc::Sender<()>>,
    reveal: Option<std::thread::JoinHandle<()>>,
}

impl Progress {
    /// No bar, nothing drawn (library calls, tests, `--quiet`, a pipe).
    pub fn off() -> Progress {
        Progress { bar: None, done: None, reveal: None }
    }

    /// The bar for `check` on standard error, as [`shows`] decides;
    /// `total` is the input's size in bytes when it is known.
    pub fn on_stderr(quiet: bool, total: Option<u64>) -> Progress {
        use std::io::IsTerminal;
        if !shows(quiet, std::io::stderr().is_terminal()) {
            return Progress::off();
        }
        let (template, bar) = match total {
            Some(total) => (
                "{spinner} {elapsed} [{bar:30}] {decimal_bytes}/{decimal_total_bytes} read, {msg} ({decimal_bytes_per_sec}, {eta} left)",
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()),
            ),
            None => ("{spinner} {elapsed} {decimal_bytes} read, {msg} ({decimal_bytes_per_sec})", ProgressBar::hidden()),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message("0 lines");
        let (done, over) = mpsc::channel::<()>();
        let shown = bar.clone();
        // Revealed by a thread of its own, so a check whose loading is
        // quick but whose rules are slow gets its bar too.
        let reveal = std::thread::Builder::new().name("progress".into()).spawn(move || {
            if over.recv_timeout(DELAY) == Err(mpsc::RecvTimeoutError::Timeout) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        Progress { bar: Some(bar), done: Some(done), reveal: reveal.ok() }
    }

    /// Everything read so far: `bytes` of input, `lines` of it (blank
    /// ones included).
    pub fn read(&self, bytes: u64, lines: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
            bar.set_message(format!("{lines} lines"));
        }
    }

    /// The input is read; the rules are being checked.
    pub fn loaded(&self, lines: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{lines} lines, checking the rules"));
        }
    }

    /// Clears the bar (before the report is written to the same terminal).
    pub fn finish(&mut self) {
        drop(self.done.take());
        if let Some(reveal) = self.reveal.take() {
            let _ = reveal.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bar_shows_on_a_terminal_unless_quiet() {
        assert!(shows(false, true));
        assert!(!shows(true, true), "--quiet turns it off");
        assert!(!shows(false, false), "off when standard error is not a terminal");
        assert!(!shows(true, false));
    }
}
