//! Everything driftless shows and writes about what it did: the printer
//! (human lines or JSON events), the human rendering of a pass's events,
//! the reports written at the end (JUnit, Markdown) and GitHub Actions'
//! workflow commands. It knows nothing of the command line: `main` says
//! which reports to write.

pub mod github;
pub mod junit;
mod live;
pub mod log;
pub mod markdown;
mod printer;
pub mod report;
pub mod show;

pub use printer::{Colour, Format, Printer, SOURCE_COLOURS};
pub use report::{Outcome, Record, ReportSettings, Reports};
