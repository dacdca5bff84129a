//! Joining the ROS 2 graph: the DDS participant and ros2-client context for a [`RosEnv`]
//! (domain id, localhost-only discovery), and typed topic endpoints with ROS names.
//!
//! Shared by the node, `facerec play` and the node load benchmark; no message content here.

use std::net::{IpAddr, Ipv4Addr};

use ros2_client::{Context, Name, Node, NodeName, NodeOptions, Publisher, QosProfile, Subscription};

use crate::ros::msgs::RosMessage;
use crate::ros::params::{DiscoveryRange, RosEnv};

/// A fully qualified ROS name (`/ns/topic`), parsed.
pub fn name(resolved: &str) -> Result<Name, String> {
    Name::parse(resolved).map_err(|e| format!("bad ROS name {resolved}: {e:?}"))
}

/// The ros2-client context on the domain and interfaces `env` asks for.
pub fn context(env: &RosEnv) -> Result<Context, String> {
    let mut builder = rustdds::DomainParticipantBuilder::new(env.domain_id);
    if env.discovery == DiscoveryRange::Localhost {
        builder = builder.with_only_networks([IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
    let participant = builder.build().map_err(|e| format!("DDS participant: {e:?}"))?;
    Context::from_domain_participant(participant).map_err(|e| format!("ROS 2 context: {e:?}"))
}

/// A plain node (rosout on, no parameters) named `namespace`/`node`.
pub fn node(context: &Context, namespace: &str, node: &str) -> Result<Node, String> {
    let node_name = NodeName::new(namespace, node).map_err(|e| format!("node name {namespace}/{node}: {e:?}"))?;
    context
        .new_node(node_name, NodeOptions::new().enable_rosout(true))
        .map_err(|e| format!("node {namespace}/{node}: {e:?}"))
}

/// A publisher of `M` on the fully qualified topic `resolved`.
pub fn publisher<M: RosMessage + serde::Serialize>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Publisher<M>, String> {
    let topic = node
        .create_topic(&name(resolved)?, M::type_name(), &qos)
        .map_err(|e| format!("topic {resolved}: {e:?}"))?;
    node.create_publisher::<M>(&topic, Some(qos))
        .map_err(|e| format!("publisher {resolved}: {e:?}"))
}

/// A subscription to `M` on the fully qualified topic `resolved`.
pub fn subscription<M: RosMessage + serde::de::DeserializeOwned + 'static>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Subscription<M>, String> {
    let topic = node
        .create_topic(&name(resolved)?, M::type_name(), &qos)
        .map_err(|e| format!("topic {resolved}: {e:?}"))?;
    node.create_subscription::<M>(&topic, Some(qos))
        .map_err(|e| format!("subscription {resolved}: {e:?}"))
}
