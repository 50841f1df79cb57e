//! Integration tests: one binary, one module per area.

mod assets;
mod cli;
mod corpus;
mod golden;
mod lint;
mod support;
