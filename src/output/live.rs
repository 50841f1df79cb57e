//! The live progress view on a terminal: one line per stack in flight with
//! its elapsed time and latest event, redrawn in place below the lines
//! already printed (which are written with the view lifted, so nothing is
//! overdrawn). Off the terminal there is no view, only the lines.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::time::Duration;

/// How often the spinners and elapsed times move.
const TICK: Duration = Duration::from_millis(120);

pub struct LiveView {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    style: ProgressStyle,
}

impl LiveView {
    /// The view; its spinner and stack names painted when `colour`.
    pub fn new(colour: bool) -> LiveView {
        let template = if colour {
            "{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg}"
        } else {
            "{spinner} {prefix} {elapsed:>4} {wide_msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        LiveView {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: BTreeMap::new(),
            style,
        }
    }

    /// A stack's operation began.
    pub fn start(&mut self, stack: &str, what: &str) {
        self.end(stack);
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(self.style.clone());
        bar.set_prefix(stack.to_string());
        bar.set_message(what.to_string());
        bar.enable_steady_tick(TICK);
        self.bars.insert(stack.to_string(), bar);
    }

    /// The stack's latest event; false when the stack has no line.
    pub fn event(&mut self, stack: &str, text: &str) -> bool {
        match self.bars.get(stack) {
            Some(bar) => {
                bar.set_message(text.to_string());
                true
            }
            None => false,
        }
    }

    /// The stack's operation ended: its line goes.
    pub fn end(&mut self, stack: &str) {
        if let Some(bar) = self.bars.remove(stack) {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Runs `write` with the view lifted off the screen, then redraws it.
    pub fn around<R>(&self, write: impl FnOnce() -> R) -> R {
        if self.bars.is_empty() {
            write()
        } else {
            self.multi.suspend(write)
        }
    }

    /// Removes every line (the command ends).
    pub fn clear(&mut self) {
        let stacks: Vec<String> = self.bars.keys().cloned().collect();
        for stack in stacks {
            self.end(&stack);
        }
    }
}
