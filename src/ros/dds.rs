//! Joining the ROS 2 graph: the DDS participant and ros2-client context for a [`RosEnv`]
//! (domain id, localhost-only discovery, the RIHS01 type hash each endpoint announces), and
//! typed topic endpoints with ROS names.
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

use crate::ros::msgs::{RosAction, RosMessage, RosService, Time};
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

/// The receive buffer the kernel grants a socket of this process that asks for
/// [`SOCKET_RECEIVE_BUFFER`] the way the vendored RustDDS asks for its DDS sockets' (`SO_RCVBUF`,
/// then `SO_RCVBUFFORCE` when that was clamped), measured on a probe socket: the same process,
/// credentials and network namespace get the same answer. In bytes as Linux reports it (twice
/// what it accounts for the data). RustDDS warns when its sockets get less, under a log target
/// the node keeps quiet with the rest of RustDDS's chatter; the node says it itself
/// ([`receive_buffer_warning`]).
#[cfg(target_os = "linux")]
pub fn granted_receive_buffer() -> std::io::Result<usize> {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt};
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    setsockopt(&socket, sockopt::RcvBuf, &SOCKET_RECEIVE_BUFFER)?;
    if getsockopt(&socket, sockopt::RcvBuf)? < SOCKET_RECEIVE_BUFFER {
        // Allowed with CAP_NET_ADMIN only; without it the clamped size stays.
        let _ = setsockopt(&socket, sockopt::RcvBufForce, &SOCKET_RECEIVE_BUFFER);
    }
    Ok(getsockopt(&socket, sockopt::RcvBuf)?)
}

/// The warning to log when the DDS sockets' receive buffers are smaller than
/// [`SOCKET_RECEIVE_BUFFER`] (`net.core.rmem_max` and no CAP_NET_ADMIN), which is why big raw
/// frames can be lost; `None` when they got what they asked for (or on other systems).
pub fn receive_buffer_warning() -> Option<String> {
    #[cfg(target_os = "linux")]
    match granted_receive_buffer() {
        Ok(granted) if granted < SOCKET_RECEIVE_BUFFER => {
            return Some(format!(
                "DDS socket receive buffers are {granted} bytes, not the {SOCKET_RECEIVE_BUFFER} asked for \
                 (net.core.rmem_max, and no CAP_NET_ADMIN): a raw frame bigger than about {granted} bytes \
                 can lose fragments and never arrive (counted as lost in /diagnostics). Raise the limit \
                 (sudo sysctl -w net.core.rmem_max={SOCKET_RECEIVE_BUFFER}) or send CompressedImage"
            ));
        }
        Ok(_) => {}
        Err(e) => tracing::debug!("cannot measure the socket receive buffer: {e}"),
    }
    None
}

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
    let context = Context::from_domain_participant(participant).map_err(DdsError::Context)?;
    context.set_type_hashes(type_hashes());
    Ok(context)
}

/// RIHS01 hashes of the interface types the node speaks (ROS 2 Jazzy definitions; a hash
/// depends on the definition only), generated by `scripts/gen_type_hashes.py` from the type
/// descriptions rosidl installs. Every endpoint announces its type's hash in USER_DATA as rmw
/// does, so `ros2 topic info -v` shows it; CI checks the table against the definitions.
const TYPE_HASHES: &str = include_str!("type_hashes.txt");

/// `(ROS type name, hash)` for each line of [`TYPE_HASHES`], e.g.
/// `("sensor_msgs/msg/Image", "RIHS01_d31d...")`; comments and blank lines skipped.
pub fn type_hashes() -> impl Iterator<Item = (&'static str, &'static str)> {
    TYPE_HASHES
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
}

/// The clock of what a node stamps itself (diagnostics, transition events, ...; not what it
/// copies from an image's header): its ROS time, the latest `/clock` time while the node's
/// `use_sim_time` parameter is true (zero until one arrives, as in rclcpp) and the system clock
/// otherwise; or the system clock alone, for code without a node (tests, tools).
#[derive(Clone, Debug, Default)]
pub struct RosClock(Option<ros2_client::NodeClock>);

impl RosClock {
    /// `node`'s clock; follows `use_sim_time` as it changes.
    pub fn of(node: &Node) -> Self {
        Self(Some(node.clock()))
    }

    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// Nanoseconds since the epoch, by this clock.
    pub fn now_ns(&self) -> i64 {
        match &self.0 {
            Some(clock) => clock.now().to_nanos(),
            None => Time::now().to_nanos(),
        }
    }

    /// Now, as a message stamp.
    pub fn now(&self) -> Time {
        Time::from_nanos(self.now_ns())
    }

    /// Whether the time is `/clock`'s (`use_sim_time` true).
    pub fn is_simulated(&self) -> bool {
        self.0.as_ref().is_some_and(ros2_client::NodeClock::is_simulated)
    }
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

/// rcl's QoS for `/rosout` (`rcl_qos_profile_rosout_default`): reliable, transient local, keep
/// last 1000, lifespan 10 s, so a console or recorder that joins late still gets the recent
/// lines.
pub fn rosout_qos() -> QosProfile {
    use ros2_client::qos::{Durability, History, WhenFull};
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1000 })
        .lifespan(Some(std::time::Duration::from_secs(10)))
}

/// The node's `/rosout` publisher, with [`rosout_qos`]. Create the node with
/// `NodeOptions::enable_rosout(false)`: ros2-client's own rosout writer keeps one line only
/// (depth 1) and would be a second writer of the node on the topic.
pub fn rosout_publisher(node: &mut Node) -> Result<Publisher<crate::ros::msgs::Log>, DdsError> {
    publisher(node, "/rosout", rosout_qos())
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::type_hashes;
    use crate::ros::msgs::{self, RosAction, RosMessage, RosService};

    fn table() -> HashMap<&'static str, &'static str> {
        type_hashes().collect()
    }

    #[test]
    fn every_type_hash_line_is_a_type_name_and_a_rihs01_hash() {
        let lines = super::TYPE_HASHES
            .lines()
            .filter(|line| !line.is_empty() && !line.starts_with('#'));
        let mut count = 0;
        for line in lines {
            let (name, hash) = line.split_once(' ').unwrap_or_else(|| panic!("no space in '{line}'"));
            let parts: Vec<&str> = name.split('/').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert!(["msg", "srv", "action"].contains(&parts[1]), "{name}");
            let hex = hash.strip_prefix("RIHS01_").unwrap_or_else(|| panic!("{name}: {hash}"));
            assert_eq!(hex.len(), 64, "{name}");
            assert!(
                hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{name}"
            );
            count += 1;
        }
        assert_eq!(count, table().len(), "a type is listed twice");
    }

    fn message<M: RosMessage>(table: &HashMap<&str, &str>) {
        let name = format!("{}/msg/{}", M::PACKAGE, M::NAME);
        assert!(table.contains_key(name.as_str()), "no hash for {name}");
    }

    fn service<S: RosService>(table: &HashMap<&str, &str>) {
        for part in ["Request", "Response"] {
            let name = format!("{}/srv/{}_{part}", S::PACKAGE, S::NAME);
            assert!(table.contains_key(name.as_str()), "no hash for {name}");
        }
    }

    fn action<A: RosAction>(table: &HashMap<&str, &str>) {
        for part in [
            "SendGoal_Request",
            "SendGoal_Response",
            "GetResult_Request",
            "GetResult_Response",
            "FeedbackMessage",
        ] {
            let name = format!("{}/action/{}_{part}", A::PACKAGE, A::NAME);
            assert!(table.contains_key(name.as_str()), "no hash for {name}");
        }
    }

    #[test]
    fn the_types_the_node_speaks_have_hashes() {
        let table = table();
        message::<msgs::Image>(&table);
        message::<msgs::CompressedImage>(&table);
        message::<msgs::CameraInfo>(&table);
        message::<msgs::Detection2DArray>(&table);
        message::<msgs::DiagnosticArray>(&table);
        message::<msgs::StringMsg>(&table);
        message::<msgs::BoolMsg>(&table);
        message::<msgs::TfMessage>(&table);
        message::<msgs::IdsList>(&table);
        message::<msgs::IdsMatch>(&table);
        message::<msgs::NormalizedRegionOfInterest2D>(&table);
        message::<msgs::FacialLandmarks>(&table);
        message::<msgs::FaceArray>(&table);
        message::<msgs::TransitionEvent>(&table);
        service::<msgs::Enroll>(&table);
        service::<msgs::Forget>(&table);
        service::<msgs::ListPeople>(&table);
        service::<msgs::ChangeState>(&table);
        service::<msgs::GetState>(&table);
        service::<msgs::GetAvailableTransitions>(&table);
        service::<msgs::GetAvailableStates>(&table);
        message::<msgs::Log>(&table);
        action::<msgs::EnrollPerson>(&table);
        action::<msgs::FindPerson>(&table);
        // what ros2-client creates itself: rosout, parameter events and services, action status
        for name in [
            "rcl_interfaces/msg/Log",
            "rcl_interfaces/msg/ParameterEvent",
            "rcl_interfaces/srv/SetParameters_Request",
            "rcl_interfaces/srv/DescribeParameters_Response",
            "action_msgs/msg/GoalStatusArray",
            "action_msgs/srv/CancelGoal_Request",
        ] {
            assert!(table.contains_key(name), "no hash for {name}");
        }
    }
}
