//! driftless: deploys AWS serverless backends from declarative per-environment
//! YAML and keeps them reconciled.
//!
//! The core (spec loading, validation, rendering, ordering, planning) is pure
//! and works on plain data; commands wire it to files and the terminal.

pub mod assets;
pub mod cli;
pub mod cloud;
pub mod commands;
pub mod content;
pub mod controller;
pub mod deployed;
pub mod diag;
pub mod digest;
pub mod durations;
pub mod emulator;
pub mod exit;
pub mod graph;
pub mod hooks;
pub mod kinds;
pub mod listener;
pub mod load;
pub mod manual;
pub mod metrics;
pub mod notify;
pub mod output;
pub mod page;
pub mod par;
pub mod pipeline;
pub mod plan;
pub mod process;
pub mod reconcile;
pub mod render;
pub mod retry;
pub mod revision;
pub mod schedule;
pub mod smoke;
pub mod source;
pub mod spec;
pub mod target;
pub mod value;
pub mod watcher;
pub mod yaml;
