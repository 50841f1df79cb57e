//! Integration tests: one binary, one module per area.

mod assets;
mod browser;
mod cli;
mod content;
mod corpus;
mod deploy;
mod drift;
mod emulator;
mod endings;
mod faults;
mod golden;
mod inputs;
mod limits;
mod lint;
mod lock;
mod pages;
mod proxy;
mod reconcile;
mod running;
mod safety;
mod schedule;
mod secrets;
mod smoke;
mod support;
mod watch;
