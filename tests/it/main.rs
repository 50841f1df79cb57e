//! Integration tests: one binary, one module per area.

mod assets;
mod cli;
mod corpus;
mod deploy;
mod emulator;
mod golden;
mod lint;
mod lock;
mod safety;
mod support;
