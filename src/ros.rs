//! ROS 2 side of facerec: message and service types that mirror `msg/`, `srv/` and the
//! standard definitions, and the node's arguments, parameters and ROS environment.
//!
//! The only module of the crate that imports `ros2_client` / `rustdds`. It converts between
//! ROS messages and the library's types and never reaches into the face pipeline itself.

pub mod dds;
pub mod log;
pub mod msgs;
pub mod node;
pub mod params;
pub mod play;

pub use dds::DdsError;
pub use msgs::{RosMessage, RosService};

/// `err` and its sources joined (moved to the core as [`crate::error_chain`]).
pub use crate::error_chain;

pub use params::{NameResolver, Params, ParamsError, RosArgs, RosEnv};
