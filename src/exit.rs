//! Exit codes, as the manual documents them (docs/src/reference/exit-codes.md).

/// Success; for `plan`, also "no changes".
pub const OK: u8 = 0;
/// Something failed (an I/O or cloud error).
pub const FAILURE: u8 = 1;
/// `plan`: there are changes to apply (terraform's `-detailed-exitcode`).
pub const CHANGES: u8 = 2;
/// `drift`/`status`: what runs differs from the templates (drift), or
/// from the specs (`status`: out of sync). The same code as `CHANGES`: in
/// both, a deploy has work to do.
pub const DRIFTED: u8 = 2;
/// The specs or environment are invalid; the diagnostics say where.
pub const INVALID: u8 = 3;
/// `plan`/`deploy`: a retained resource would be replaced or removed, and
/// the user did not allow it; nothing was changed.
pub const REFUSED: u8 = 4;
/// `deploy`: another deployer holds the environment's lock.
pub const LOCKED: u8 = 5;
/// `deploy`: a smoke check failed after the pass; every stack it changed
/// is back on the previous release, and the checks pass there.
pub const SMOKE_ROLLED_BACK: u8 = 6;
/// A smoke check failed and the environment is not back on a release that
/// passes: rollback is off, nothing changed, a stack was left as the pass
/// made it, or the checks fail on the previous release too. For `smoke`:
/// a check failed.
pub const SMOKE_FAILED: u8 = 7;
/// `status`: the environment is degraded (a stack failed, a check fails,
/// an alarm fires) or missing (a stack is not deployed).
pub const UNHEALTHY: u8 = 8;
/// The command line is wrong.
pub const USAGE: u8 = 64;
/// Interrupted (Ctrl-C).
pub const INTERRUPTED: u8 = 130;
