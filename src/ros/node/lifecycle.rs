//! The node's managed lifecycle (the `lifecycle_msgs` state machine of ROS 2 managed nodes, as
//! ROS4HRI's nodes have), used as the switch a behaviour tree or lifecycle manager turns to save
//! CPU/GPU between tasks: only an `active` node processes camera frames. The node starts
//! `active` (as if configured and activated at launch), so it works without a manager;
//! `deactivate` stops the processing, `activate` resumes it, `cleanup` / `configure` pass
//! through `unconfigured` (models and gallery stay loaded: reconfiguring is instant), and
//! `shutdown` ends in `finalized`, where nothing is processed until the process is restarted.
//!
//! Pure state bookkeeping; the `~/change_state`, `~/get_state`, `~/get_available_transitions`
//! services and the `~/transition_event` topic are wired in `node`.

use std::sync::atomic::{AtomicU8, Ordering};

/// A primary state (`lifecycle_msgs/msg/State` ids and labels).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unconfigured,
    Inactive,
    Active,
    Finalized,
}

impl State {
    pub fn id(self) -> u8 {
        match self {
            Self::Unconfigured => 1,
            Self::Inactive => 2,
            Self::Active => 3,
            Self::Finalized => 4,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Unconfigured => "unconfigured",
            Self::Inactive => "inactive",
            Self::Active => "active",
            Self::Finalized => "finalized",
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        [Self::Unconfigured, Self::Inactive, Self::Active, Self::Finalized]
            .into_iter()
            .find(|s| s.id() == id)
    }
}

/// A transition (`lifecycle_msgs/msg/Transition` ids and labels); shutdown has one id per
/// starting state, as in rcl_lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Configure,
    Cleanup,
    Activate,
    Deactivate,
    UnconfiguredShutdown,
    InactiveShutdown,
    ActiveShutdown,
}

const TRANSITIONS: [Transition; 7] = [
    Transition::Configure,
    Transition::Cleanup,
    Transition::Activate,
    Transition::Deactivate,
    Transition::UnconfiguredShutdown,
    Transition::InactiveShutdown,
    Transition::ActiveShutdown,
];

impl Transition {
    pub fn id(self) -> u8 {
        match self {
            Self::Configure => 1,
            Self::Cleanup => 2,
            Self::Activate => 3,
            Self::Deactivate => 4,
            Self::UnconfiguredShutdown => 5,
            Self::InactiveShutdown => 6,
            Self::ActiveShutdown => 7,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Configure => "configure",
            Self::Cleanup => "cleanup",
            Self::Activate => "activate",
            Self::Deactivate => "deactivate",
            Self::UnconfiguredShutdown | Self::InactiveShutdown | Self::ActiveShutdown => "shutdown",
        }
    }

    /// The state it starts from.
    pub fn start(self) -> State {
        match self {
            Self::Configure | Self::UnconfiguredShutdown => State::Unconfigured,
            Self::Cleanup | Self::Activate | Self::InactiveShutdown => State::Inactive,
            Self::Deactivate | Self::ActiveShutdown => State::Active,
        }
    }

    /// The state it ends in.
    pub fn goal(self) -> State {
        match self {
            Self::Configure | Self::Deactivate => State::Inactive,
            Self::Cleanup => State::Unconfigured,
            Self::Activate => State::Active,
            Self::UnconfiguredShutdown | Self::InactiveShutdown | Self::ActiveShutdown => State::Finalized,
        }
    }
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("no transition with id {id} / label '{label}'")]
    Unknown { id: u8, label: String },
    #[error("transition '{}' (id {}) does not start from state '{}'", .transition.label(), .transition.id(), .state.label())]
    NotFrom { transition: Transition, state: State },
}

/// The node's current state, shared by the services and the camera tasks.
#[derive(Debug)]
pub struct Lifecycle {
    state_id: AtomicU8,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Self {
            state_id: AtomicU8::new(State::Active.id()),
        }
    }
}

impl Lifecycle {
    pub fn state(&self) -> State {
        State::from_id(self.state_id.load(Ordering::Acquire)).unwrap_or(State::Finalized)
    }

    /// Whether camera frames are processed.
    pub fn is_active(&self) -> bool {
        self.state() == State::Active
    }

    /// The transitions the current state allows.
    pub fn available(&self) -> Vec<Transition> {
        let state = self.state();
        TRANSITIONS.into_iter().filter(|t| t.start() == state).collect()
    }

    /// Carries out the transition a `~/change_state` request names: by `id`, or by `label`
    /// when `id` is 0 (as rclcpp's lifecycle nodes do; "shutdown" picks the current state's).
    pub fn change(&self, id: u8, label: &str) -> Result<Transition, LifecycleError> {
        let state = self.state();
        let transition = if id == 0 {
            TRANSITIONS
                .into_iter()
                .find(|t| t.label() == label && t.start() == state)
                .or_else(|| TRANSITIONS.into_iter().find(|t| t.label() == label))
        } else {
            TRANSITIONS.into_iter().find(|t| t.id() == id)
        }
        .ok_or_else(|| LifecycleError::Unknown {
            id,
            label: label.to_owned(),
        })?;
        self.state_id
            .compare_exchange(
                transition.start().id(),
                transition.goal().id(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .map(|_| transition)
            .map_err(|now| LifecycleError::NotFrom {
                transition,
                state: State::from_id(now).unwrap_or(State::Finalized),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_active_and_follows_the_managed_node_graph() {
        let l = Lifecycle::default();
        assert!(l.is_active());
        let ids = |l: &Lifecycle| l.available().iter().map(|t| t.id()).collect::<Vec<_>>();
        assert_eq!(ids(&l), vec![4, 7], "deactivate or shut down");

        assert_eq!(l.change(4, ""), Ok(Transition::Deactivate));
        assert_eq!((l.state(), l.is_active()), (State::Inactive, false));
        assert_eq!(ids(&l), vec![2, 3, 6]);
        // By label, as `ros2 lifecycle set` and BehaviorTree nodes may send it.
        assert_eq!(l.change(0, "cleanup"), Ok(Transition::Cleanup));
        assert_eq!(l.change(0, "configure"), Ok(Transition::Configure));
        assert_eq!(l.change(3, "ignored when the id is set"), Ok(Transition::Activate));
        assert!(l.is_active());
    }

    #[test]
    fn refused_transitions_leave_the_state_alone() {
        let l = Lifecycle::default();
        assert_eq!(
            l.change(3, ""),
            Err(LifecycleError::NotFrom {
                transition: Transition::Activate,
                state: State::Active
            })
        );
        assert!(matches!(l.change(42, ""), Err(LifecycleError::Unknown { id: 42, .. })));
        assert!(matches!(l.change(0, "explode"), Err(LifecycleError::Unknown { .. })));
        assert!(l.is_active());

        // Shutdown by label picks the active state's transition; finalized is the end.
        assert_eq!(l.change(0, "shutdown"), Ok(Transition::ActiveShutdown));
        assert_eq!(l.state(), State::Finalized);
        assert!(l.available().is_empty());
        assert!(l.change(0, "activate").is_err());
        assert!(!l.is_active());
    }
}
