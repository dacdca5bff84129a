//! `rosgraph_msgs`: the message of the `/clock` topic (facerec patch).

use serde::{Deserialize, Serialize};

use crate::{builtin_interfaces::Time, message::Message};

/// `rosgraph_msgs/msg/Clock`: the time a simulator or `ros2 bag play --clock`
/// publishes on `/clock`, which a node follows while its `use_sim_time`
/// parameter is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
  pub clock: Time,
}

impl Message for Clock {}
