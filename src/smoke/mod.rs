//! Smoke checks: resolved against the deployed outputs, run concurrently in
//! the order `after` asks, each with a timeout and bounded retries, and
//! judged against what the environment expects.

mod expect;
pub mod http;
mod resolve;
mod run;

pub use resolve::{Check, Expected, Values, resolve};
pub use run::{CheckResult, Planned, Report, Runner};
