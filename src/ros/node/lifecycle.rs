//! The node's managed lifecycle (the `lifecycle_msgs` state machine of ROS 2 managed nodes, as
//! ROS4HRI's nodes have), used as the switch a behaviour tree or lifecycle manager turns to save
//! CPU/GPU between tasks: only an `active` node processes camera frames. The node starts
//! `active` (as if configured and activated at launch), so it works without a manager;
//! `deactivate` stops the processing, `activate` resumes it, `cleanup` / `configure` pass
//! through `unconfigured` (models and gallery stay loaded: reconfiguring is instant), and
//! `shutdown` ends in `finalized`, where nothing is processed until the process is restarted.
//!
//! The states and transitions are rcl_lifecycle's default state machine's, ids and labels
//! included, so `~/get_available_states` and `~/get_transition_graph` answer what an
//! rclcpp_lifecycle node answers (`ros2 lifecycle list -a`): the transition states
//! (`configuring`, ...) and the callbacks' outcomes (`transition_success` / `_failure` /
//! `_error`, `errorprocessing`) are part of the graph, though this node passes through a
//! transition state at once and its callbacks cannot fail.
//!
//! Pure state bookkeeping; the `~/change_state`, `~/get_state`, `~/get_available_states`,
//! `~/get_available_transitions`, `~/get_transition_graph` services and the
//! `~/transition_event` topic are wired in `node`.

use std::sync::atomic::{AtomicU8, Ordering};

/// A state of the state machine (`lifecycle_msgs/msg/State` ids and labels): the primary
/// states the node rests in, and the transition states rcl_lifecycle passes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Unknown,
    Unconfigured,
    Inactive,
    Active,
    Finalized,
    Configuring,
    CleaningUp,
    ShuttingDown,
    Activating,
    Deactivating,
    ErrorProcessing,
}

/// Every state, in the order rcl_lifecycle registers them (what `~/get_available_states`
/// lists).
pub const STATES: [State; 11] = [
    State::Unknown,
    State::Unconfigured,
    State::Inactive,
    State::Active,
    State::Finalized,
    State::Configuring,
    State::CleaningUp,
    State::ShuttingDown,
    State::Activating,
    State::Deactivating,
    State::ErrorProcessing,
];

impl State {
    pub fn id(self) -> u8 {
        match self {
            Self::Unknown => 0,
            Self::Unconfigured => 1,
            Self::Inactive => 2,
            Self::Active => 3,
            Self::Finalized => 4,
            Self::Configuring => 10,
            Self::CleaningUp => 11,
            Self::ShuttingDown => 12,
            Self::Activating => 13,
            Self::Deactivating => 14,
            Self::ErrorProcessing => 15,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Unconfigured => "unconfigured",
            Self::Inactive => "inactive",
            Self::Active => "active",
            Self::Finalized => "finalized",
            Self::Configuring => "configuring",
            Self::CleaningUp => "cleaningup",
            Self::ShuttingDown => "shuttingdown",
            Self::Activating => "activating",
            Self::Deactivating => "deactivating",
            Self::ErrorProcessing => "errorprocessing",
        }
    }

    fn from_id(id: u8) -> Option<Self> {
        STATES.into_iter().find(|s| s.id() == id)
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

    /// The transition state it passes through (its goal in rcl_lifecycle's graph).
    pub fn via(self) -> State {
        match self {
            Self::Configure => State::Configuring,
            Self::Cleanup => State::CleaningUp,
            Self::Activate => State::Activating,
            Self::Deactivate => State::Deactivating,
            Self::UnconfiguredShutdown | Self::InactiveShutdown | Self::ActiveShutdown => State::ShuttingDown,
        }
    }

    /// The primary state it ends in (its transition state's success).
    pub fn goal(self) -> State {
        match self {
            Self::Configure | Self::Deactivate => State::Inactive,
            Self::Cleanup => State::Unconfigured,
            Self::Activate => State::Active,
            Self::UnconfiguredShutdown | Self::InactiveShutdown | Self::ActiveShutdown => State::Finalized,
        }
    }
}

/// One transition of rcl_lifecycle's default state machine, as `lifecycle_msgs` describes it
/// (`TransitionDescription`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub id: u8,
    pub label: &'static str,
    pub start: State,
    pub goal: State,
}

const fn edge(id: u8, label: &'static str, start: State, goal: State) -> Edge {
    Edge { id, label, start, goal }
}

const SUCCESS: &str = "transition_success";
const FAILURE: &str = "transition_failure";
const ERROR: &str = "transition_error";

/// The whole graph, in the order rcl_lifecycle registers it (what `~/get_transition_graph`
/// lists): each requested transition into its transition state, then that state's callback
/// outcomes (`lifecycle_msgs/msg/Transition` ids: `TRANSITION_ON_<X>_SUCCESS` / `_FAILURE` /
/// `_ERROR`), errors into `errorprocessing`, which ends in `unconfigured` or `finalized`.
pub const GRAPH: [Edge; 25] = {
    use State::*;
    [
        edge(1, "configure", Unconfigured, Configuring),
        edge(10, SUCCESS, Configuring, Inactive),
        edge(11, FAILURE, Configuring, Unconfigured),
        edge(12, ERROR, Configuring, ErrorProcessing),
        edge(2, "cleanup", Inactive, CleaningUp),
        edge(20, SUCCESS, CleaningUp, Unconfigured),
        edge(21, FAILURE, CleaningUp, Inactive),
        edge(22, ERROR, CleaningUp, ErrorProcessing),
        edge(3, "activate", Inactive, Activating),
        edge(30, SUCCESS, Activating, Active),
        edge(31, FAILURE, Activating, Inactive),
        edge(32, ERROR, Activating, ErrorProcessing),
        edge(4, "deactivate", Active, Deactivating),
        edge(40, SUCCESS, Deactivating, Inactive),
        edge(41, FAILURE, Deactivating, Active),
        edge(42, ERROR, Deactivating, ErrorProcessing),
        edge(5, "shutdown", Unconfigured, ShuttingDown),
        edge(6, "shutdown", Inactive, ShuttingDown),
        edge(7, "shutdown", Active, ShuttingDown),
        edge(50, SUCCESS, ShuttingDown, Finalized),
        edge(51, FAILURE, ShuttingDown, Finalized),
        edge(52, ERROR, ShuttingDown, ErrorProcessing),
        edge(60, SUCCESS, ErrorProcessing, Unconfigured),
        edge(61, FAILURE, ErrorProcessing, Finalized),
        edge(62, ERROR, ErrorProcessing, Finalized),
    ]
};

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

    #[test]
    fn states_and_graph_are_rcl_lifecycle_s_default_state_machine() {
        let states: Vec<(u8, &str)> = STATES.iter().map(|s| (s.id(), s.label())).collect();
        assert_eq!(
            states,
            [
                (0, "unknown"),
                (1, "unconfigured"),
                (2, "inactive"),
                (3, "active"),
                (4, "finalized"),
                (10, "configuring"),
                (11, "cleaningup"),
                (12, "shuttingdown"),
                (13, "activating"),
                (14, "deactivating"),
                (15, "errorprocessing"),
            ]
        );
        assert_eq!(GRAPH.len(), 25);
        let ids: Vec<u8> = GRAPH.iter().map(|e| e.id).collect();
        assert_eq!(
            ids,
            [1, 10, 11, 12, 2, 20, 21, 22, 3, 30, 31, 32, 4, 40, 41, 42, 5, 6, 7, 50, 51, 52, 60, 61, 62]
        );
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "an id twice");
        // Every requestable transition is in the graph, into its transition state, whose
        // success ends where the node ends; each transition state has the three outcomes.
        for t in TRANSITIONS {
            let e = GRAPH.iter().find(|e| e.id == t.id()).expect("in the graph");
            assert_eq!((e.label, e.start, e.goal), (t.label(), t.start(), t.via()));
            let outcome = |label: &str| {
                GRAPH
                    .iter()
                    .find(|e| e.start == t.via() && e.label == label)
                    .map(|e| e.goal)
            };
            assert_eq!(outcome("transition_success"), Some(t.goal()), "{t:?}");
            assert!(outcome("transition_failure").is_some() && outcome("transition_error").is_some());
        }
        // Errors go to errorprocessing (whose own error finalizes); failures back to the start.
        for e in GRAPH.iter().filter(|e| e.label == "transition_error") {
            let expected = if e.start == State::ErrorProcessing {
                State::Finalized
            } else {
                State::ErrorProcessing
            };
            assert_eq!(e.goal, expected, "{e:?}");
        }
        let failure = |from: State| {
            GRAPH
                .iter()
                .find(|e| e.start == from && e.label == "transition_failure")
                .map(|e| e.goal)
        };
        assert_eq!(failure(State::Activating), Some(State::Inactive));
        assert_eq!(failure(State::Deactivating), Some(State::Active));
        assert_eq!(failure(State::ShuttingDown), Some(State::Finalized));
        assert_eq!(failure(State::ErrorProcessing), Some(State::Finalized));
        // Every state but unknown is reached or left by some transition.
        for s in STATES.into_iter().skip(1) {
            assert!(GRAPH.iter().any(|e| e.start == s || e.goal == s), "{s:?}");
        }
        // The atomic holds primary states only, and reads back every id.
        for s in STATES {
            assert_eq!(State::from_id(s.id()), Some(s));
        }
    }
}
