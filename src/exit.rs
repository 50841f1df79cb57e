//! Exit codes, as documented in README.md.

/// Success; for `plan`, also "no changes".
pub const OK: u8 = 0;
/// Something failed (an I/O or cloud error).
pub const FAILURE: u8 = 1;
/// `plan`: there are changes to apply (terraform's `-detailed-exitcode`).
pub const CHANGES: u8 = 2;
/// The specs or environment are invalid; the diagnostics say where.
pub const INVALID: u8 = 3;
/// `plan`/`deploy`: a retained resource would be replaced or removed, and
/// the user did not allow it; nothing was changed.
pub const REFUSED: u8 = 4;
/// `deploy`: another deployer holds the environment's lock.
pub const LOCKED: u8 = 5;
/// The command line is wrong.
pub const USAGE: u8 = 64;
/// Interrupted (Ctrl-C).
pub const INTERRUPTED: u8 = 130;
