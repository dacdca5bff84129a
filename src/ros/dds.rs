//! Joining the ROS 2 graph: the DDS participant and ros2-client context for a [`RosEnv`]
//! (domain id, localhost-only discovery), and typed topic endpoints with ROS names.
//!
//! Shared by the node, `facerec play`, the node load benchmark and `examples/custom_node.rs`;
//! no message content here. Errors are [`DdsError`]s naming the entity, with ros2-client's as
//! the source.

use std::net::{IpAddr, Ipv4Addr};

use ros2_client::names::NameError;
use ros2_client::{
    Client, Context, CreateError, Name, Node, NodeCreateError, NodeName, NodeOptions, Publisher, QosProfile, Server,
    ServiceMapping, Subscription, WriteError,
};

use crate::ros::msgs::{RosAction, RosMessage, RosService};
use crate::ros::params::{DiscoveryRange, RosEnv};

/// What went wrong joining the ROS 2 graph or using an endpoint. Each variant names the entity
/// and keeps the ros2-client / RustDDS error as its source (`{err:#}` prints the whole chain).
#[derive(Debug, thiserror::Error)]
pub enum DdsError {
    #[error("bad ROS name {name}")]
    Name {
        name: String,
        #[source]
        source: NameError,
    },
    #[error("DDS participant on domain {domain_id}")]
    Participant {
        domain_id: u16,
        #[source]
        source: rustdds::dds::CreateError,
    },
    #[error("ROS 2 context")]
    Context(#[source] CreateError),
    #[error("node name {namespace}/{node}")]
    NodeName {
        namespace: String,
        node: String,
        #[source]
        source: NameError,
    },
    #[error("node {fqn}")]
    Node {
        fqn: String,
        #[source]
        source: NodeCreateError,
    },
    #[error("spinner of node {fqn}")]
    Spinner {
        fqn: String,
        #[source]
        source: CreateError,
    },
    #[error("topic {topic}")]
    Topic {
        topic: String,
        #[source]
        source: CreateError,
    },
    #[error("publisher {topic}")]
    Publisher {
        topic: String,
        #[source]
        source: CreateError,
    },
    #[error("subscription {topic}")]
    Subscription {
        topic: String,
        #[source]
        source: CreateError,
    },
    #[error("service {service}")]
    Server {
        service: String,
        #[source]
        source: CreateError,
    },
    #[error("action server {action}")]
    ActionServer {
        action: String,
        #[source]
        source: CreateError,
    },
    #[error("service client {service}")]
    Client {
        service: String,
        #[source]
        source: CreateError,
    },
    #[error("publishing a {type_name}")]
    Publish {
        type_name: &'static str,
        #[source]
        source: WriteError<()>,
    },
    #[error("a {got} cannot be published on a {topic_type} topic")]
    WrongMessageType {
        got: &'static str,
        topic_type: &'static str,
    },
}

impl DdsError {
    /// A failed write of a `M`; the message itself (kept by ros2-client for a retry) is dropped.
    pub fn publish<M>(type_name: &'static str, source: WriteError<M>) -> Self {
        Self::Publish {
            type_name,
            source: source.forget_data(),
        }
    }
}

/// A fully qualified ROS name (`/ns/topic`), parsed.
pub fn name(resolved: &str) -> Result<Name, DdsError> {
    Name::parse(resolved).map_err(|source| DdsError::Name {
        name: resolved.to_owned(),
        source,
    })
}

/// Kernel receive buffer asked for on each DDS socket: room for two raw 4K rgb8 frames (25 MB
/// each) arriving in a burst. Linux grants at most `net.core.rmem_max` (often 208 KiB to 4 MiB;
/// the kernel doubles what it grants) unless the process has CAP_NET_ADMIN (the vendored RustDDS
/// then forces it); a frame bigger than the buffer granted can lose fragments, counted as `lost`
/// in `/diagnostics` (README, "Big frames").
pub const SOCKET_RECEIVE_BUFFER: usize = 64 * 1024 * 1024;

/// The ros2-client context on the domain and interfaces `env` asks for.
pub fn context(env: &RosEnv) -> Result<Context, DdsError> {
    let mut builder =
        rustdds::DomainParticipantBuilder::new(env.domain_id).socket_receive_buffer_size(SOCKET_RECEIVE_BUFFER);
    if env.discovery == DiscoveryRange::Localhost {
        builder = builder.with_only_networks([IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
    let participant = builder.build().map_err(|source| DdsError::Participant {
        domain_id: env.domain_id,
        source,
    })?;
    Context::from_domain_participant(participant).map_err(DdsError::Context)
}

/// A plain node (rosout on, no parameters) named `namespace`/`node`.
pub fn node(context: &Context, namespace: &str, node: &str) -> Result<Node, DdsError> {
    node_with_options(context, namespace, node, NodeOptions::new().enable_rosout(true))
}

/// A node named `namespace`/`node` with `options` (parameters, validators).
pub fn node_with_options(
    context: &Context,
    namespace: &str,
    node: &str,
    options: NodeOptions,
) -> Result<Node, DdsError> {
    let node_name = NodeName::new(namespace, node).map_err(|source| DdsError::NodeName {
        namespace: namespace.to_owned(),
        node: node.to_owned(),
        source,
    })?;
    let fqn = node_name.fully_qualified_name();
    context
        .new_node(node_name, options)
        .map_err(|source| DdsError::Node { fqn, source })
}

/// The spinner of `node` (answers parameter services, keeps the graph view current).
pub fn spinner(node: &mut Node) -> Result<ros2_client::Spinner, DdsError> {
    node.spinner().map_err(|source| DdsError::Spinner {
        fqn: node.fully_qualified_name(),
        source,
    })
}

/// A publisher of `M` on the fully qualified topic `resolved`.
pub fn publisher<M: RosMessage + serde::Serialize>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Publisher<M>, DdsError> {
    let topic = node
        .create_topic(&name(resolved)?, M::type_name(), &qos)
        .map_err(|source| DdsError::Topic {
            topic: resolved.to_owned(),
            source,
        })?;
    node.create_publisher::<M>(&topic, Some(qos))
        .map_err(|source| DdsError::Publisher {
            topic: resolved.to_owned(),
            source,
        })
}

/// A subscription to `M` on the fully qualified topic `resolved`.
pub fn subscription<M: RosMessage + serde::de::DeserializeOwned + 'static>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Subscription<M>, DdsError> {
    let topic = node
        .create_topic(&name(resolved)?, M::type_name(), &qos)
        .map_err(|source| DdsError::Topic {
            topic: resolved.to_owned(),
            source,
        })?;
    node.create_subscription::<M>(&topic, Some(qos))
        .map_err(|source| DdsError::Subscription {
            topic: resolved.to_owned(),
            source,
        })
}

/// A server of service `S` on the fully qualified name `resolved`, requests and responses both
/// with `qos`.
pub fn server<S: RosService>(
    node: &mut Node,
    mapping: ServiceMapping,
    resolved: &str,
    qos: QosProfile,
) -> Result<Server<S::Request, S::Response>, DdsError> {
    node.create_server::<S::Request, S::Response>(mapping, &name(resolved)?, &S::type_name(), qos.clone(), qos)
        .map_err(|source| DdsError::Server {
            service: resolved.to_owned(),
            source,
        })
}

/// A client of service `S` on the fully qualified name `resolved`, requests and responses both
/// with `qos`.
pub fn client<S: RosService>(
    node: &mut Node,
    mapping: ServiceMapping,
    resolved: &str,
    qos: QosProfile,
) -> Result<Client<S::Request, S::Response>, DdsError> {
    node.create_client::<S::Request, S::Response>(mapping, &name(resolved)?, &S::type_name(), qos.clone(), qos)
        .map_err(|source| DdsError::Client {
            service: resolved.to_owned(),
            source,
        })
}

/// The action server ros2-client gives for action `A`.
pub type ActionServerOf<A> =
    ros2_client::AsyncActionServer<<A as RosAction>::Goal, <A as RosAction>::Result, <A as RosAction>::Feedback>;

/// A server of action `A` on the fully qualified name `resolved`: its three services with
/// `service_qos`, feedback with `feedback_qos`, and the goal status topic transient-local with
/// depth 1 (as rcl's action status default, which rclpy's and rclcpp's action clients
/// subscribe with).
pub fn action_server<A: RosAction>(
    node: &mut Node,
    mapping: ServiceMapping,
    resolved: &str,
    service_qos: QosProfile,
    feedback_qos: QosProfile,
) -> Result<ActionServerOf<A>, DdsError> {
    use ros2_client::qos::{Durability, History};
    let status_qos = feedback_qos
        .clone()
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 });
    let qos = ros2_client::action::ActionServerQosPolicies {
        goal_service: service_qos.clone(),
        result_service: service_qos.clone(),
        cancel_service: service_qos,
        feedback_publisher: feedback_qos,
        status_publisher: status_qos,
    };
    node.create_action_server::<A::Goal, A::Result, A::Feedback>(mapping, &name(resolved)?, &A::type_name(), qos)
        .map(ros2_client::AsyncActionServer::new)
        .map_err(|source| DdsError::ActionServer {
            action: resolved.to_owned(),
            source,
        })
}
