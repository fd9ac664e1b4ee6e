//! Progress display: a spinner on a terminal, nothing when stderr is piped or redirected.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner with a message, drawn on stderr only when stderr is a terminal.
pub fn spinner(message: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
        bar.set_style(style);
    }
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

/// A progress bar over boosting rounds, drawn on stderr only when stderr is a terminal.
pub fn rounds(total: u64) -> ProgressBar {
    counted(total, "round")
}

/// A progress bar over `total` units named `unit` ("round", "step"), drawn on stderr only when stderr
/// is a terminal.
pub fn counted(total: u64, unit: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) = ProgressStyle::with_template(&format!("{unit} {{pos}}/{{len}} {{bar:30}} {{msg}}")) {
        bar.set_style(style);
    }
    bar
}
