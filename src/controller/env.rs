//! What the loop remembers of one environment between ticks.

use super::reconcile::Prepared;
use super::tracker::Tracker;
use crate::cloud::Cloud;

/// One environment the loop keeps in line.
pub(super) struct Followed {
    pub name: String,
    /// The last pass's wall time, when the tick ran one.
    pub pass_seconds: Option<f64>,
    pub health: &'static str,
    pub drifted: usize,
    /// The environment's app and webhooks, as the last commit read says.
    pub app: String,
    pub hooks: Vec<crate::spec::notify::Webhook>,
    /// The last notification's key: one per change of state.
    pub last_notice: Option<String>,
    pub tracker: Tracker,
    /// Clients by target, made once.
    pub cloud: Option<Cloud>,
    /// The drift last reported, so it is told once.
    pub drift_reported: Option<String>,
    /// What the status pages show.
    pub view: crate::page::live::EnvView,
    /// The stack-level events of this tick's pass, for the pages.
    pub pass_events: Vec<String>,
    /// The last commit applied (or found in sync): drift is watched at it
    /// while a newer one is blocked.
    pub applied: Option<Prepared>,
    /// Whether this tick detects drift: not when a hook woke it before
    /// the interval since the last detection is up.
    pub drift_due: bool,
    /// A `driftless sync --force` asked for this tick: applied even
    /// outside the sync windows, by whom.
    pub forced_by: Option<String>,
    /// How the last tick ended, for when to come back.
    pub last: Option<super::outcome::Outcome>,
}

impl Followed {
    pub fn new(name: &str) -> Followed {
        Followed {
            name: name.to_string(),
            pass_seconds: None,
            health: "missing",
            drifted: 0,
            app: String::new(),
            hooks: Vec::new(),
            last_notice: None,
            tracker: Tracker::default(),
            cloud: None,
            drift_reported: None,
            pass_events: Vec::new(),
            applied: None,
            drift_due: true,
            forced_by: None,
            last: None,
            view: crate::page::live::EnvView {
                name: name.to_string(),
                health: "missing".into(),
                ..Default::default()
            },
        }
    }
}
