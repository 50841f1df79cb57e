//! The guard around a pass: the first Ctrl-C (or SIGTERM) or the deadline
//! stops it from starting new work and reports what is in flight; a second
//! Ctrl-C quits at once. One piece for every entry point that runs a pass.

use super::{Event, Pass, StopReason};
use std::future::Future;
use std::time::Duration;

/// Runs `work` under the guard. Returns its result; the pass says why it
/// stopped, if it did ([`Pass::stop_reason`]).
pub async fn guarded<T>(
    pass: &Pass<'_>,
    timeout: Option<Duration>,
    work: impl Future<Output = T>,
) -> T {
    tokio::select! {
        result = work => result,
        never = stop_on_signal_or_deadline(pass, timeout) => match never {},
    }
}

/// Which signal asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C: a person stopped it.
    Interrupt,
    /// SIGTERM: a service manager (systemd, Kubernetes) stopped it, as it
    /// stops every service; a clean stop then exits 0.
    Terminate,
}

/// Resolves on Ctrl-C or SIGTERM; never where no signal can be listened to.
pub async fn interrupted() {
    signalled().await;
}

/// [`interrupted`], saying which signal came.
pub async fn signalled() -> Signal {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(term) => {
                    term.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                if signal.is_err() {
                    std::future::pending::<()>().await
                }
                Signal::Interrupt
            }
            _ = term => Signal::Terminate,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
        Signal::Interrupt
    }
}

async fn stop_on_signal_or_deadline(
    pass: &Pass<'_>,
    timeout: Option<Duration>,
) -> std::convert::Infallible {
    let deadline = async {
        match timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    let mut timed_out = false;
    let mut interrupts = 0;
    loop {
        let why = tokio::select! {
            _ = interrupted() => StopReason::Interrupt,
            _ = &mut deadline, if !timed_out => StopReason::Timeout,
        };
        match why {
            StopReason::Timeout => timed_out = true,
            _ => interrupts += 1,
        }
        if interrupts > 1 {
            eprintln!(
                "interrupted again: quitting now; stack operations under way go on in CloudFormation, and the next pass picks them up"
            );
            std::process::exit(i32::from(crate::exit::INTERRUPTED));
        }
        let first = pass.stop_reason().is_none();
        let in_flight = pass.stop(why);
        if first || why == StopReason::Interrupt {
            pass.emit(Event::Stopping {
                reason: why,
                in_flight,
            });
        }
    }
}
