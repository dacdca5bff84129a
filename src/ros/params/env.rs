//! The ROS 2 environment: `ROS_DOMAIN_ID`, `ROS_LOCALHOST_ONLY`,
//! `ROS_AUTOMATIC_DISCOVERY_RANGE`, `RMW_IMPLEMENTATION` (the service wire mapping) and
//! `ROS_DISTRO`, read from a lookup function so tests need no process environment.

use ros2_client::ServiceMapping;

use super::ParamsError;

/// How this node finds peers on the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscoveryRange {
    /// Only this host (`ROS_LOCALHOST_ONLY=1` or `ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`/`OFF`).
    Localhost,
    /// The DDS default: every interface.
    Subnet,
}

/// The ROS 2 environment variables that shape DDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosEnv {
    /// `ROS_DOMAIN_ID` (default 0).
    pub domain_id: u16,
    pub discovery: DiscoveryRange,
    /// `RMW_IMPLEMENTATION`, when set and non-empty.
    pub rmw_implementation: Option<String>,
    /// `ROS_DISTRO`, when set.
    pub ros_distro: Option<String>,
}

/// Highest domain id that maps to valid UDP ports with the default port parameters.
pub const MAX_DOMAIN_ID: u16 = 232;

impl RosEnv {
    /// Reads the variables from this process's environment.
    pub fn from_process() -> Result<Self, ParamsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the variables through `get` (for tests and embedding).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ParamsError> {
        let nonempty = |k: &str| get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let domain_id = match nonempty("ROS_DOMAIN_ID") {
            None => 0,
            Some(v) => match v.parse::<u16>() {
                Ok(id) if id <= MAX_DOMAIN_ID => id,
                _ => {
                    return Err(ParamsError::BadEnv {
                        var: "ROS_DOMAIN_ID",
                        value: v,
                        why: format!("expected an integer 0..={MAX_DOMAIN_ID}"),
                    })
                }
            },
        };
        let localhost_only = match nonempty("ROS_LOCALHOST_ONLY").as_deref() {
            None | Some("0") => false,
            Some("1") => true,
            Some(other) => {
                return Err(ParamsError::BadEnv {
                    var: "ROS_LOCALHOST_ONLY",
                    value: other.to_owned(),
                    why: "expected 0 or 1".to_owned(),
                })
            }
        };
        let range = match nonempty("ROS_AUTOMATIC_DISCOVERY_RANGE") {
            None => None,
            Some(v) => match v.to_ascii_uppercase().as_str() {
                "LOCALHOST" | "OFF" => Some(DiscoveryRange::Localhost),
                "SUBNET" | "SYSTEM_DEFAULT" => Some(DiscoveryRange::Subnet),
                _ => {
                    return Err(ParamsError::BadEnv {
                        var: "ROS_AUTOMATIC_DISCOVERY_RANGE",
                        value: v,
                        why: "expected LOCALHOST, SUBNET, OFF or SYSTEM_DEFAULT".to_owned(),
                    })
                }
            },
        };
        let discovery = if localhost_only {
            DiscoveryRange::Localhost
        } else {
            range.unwrap_or(DiscoveryRange::Subnet)
        };
        Ok(Self {
            domain_id,
            discovery,
            rmw_implementation: nonempty("RMW_IMPLEMENTATION"),
            ros_distro: nonempty("ROS_DISTRO"),
        })
    }

    /// The service mapping the other nodes most likely speak: Cyclone DDS's when
    /// `RMW_IMPLEMENTATION` names it, otherwise the Enhanced mapping of rmw_fastrtps
    /// (the ROS 2 default) and rmw_connextdds.
    pub fn default_service_mapping(&self) -> ServiceMapping {
        match &self.rmw_implementation {
            Some(rmw) if rmw.to_ascii_lowercase().contains("cyclonedds") => ServiceMapping::Cyclone,
            _ => ServiceMapping::Enhanced,
        }
    }

    /// The service mapping for a `service_mapping` parameter value: `auto` (or unset)
    /// follows [`RosEnv::default_service_mapping`]; `enhanced`/`fastrtps`,
    /// `cyclone`/`cyclonedds` and `basic` force one.
    pub fn service_mapping(&self, parameter: Option<&str>) -> Result<ServiceMapping, ParamsError> {
        match parameter.map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") | Some("auto") => Ok(self.default_service_mapping()),
            Some("enhanced") | Some("fastrtps") | Some("fastdds") => Ok(ServiceMapping::Enhanced),
            Some("cyclone") | Some("cyclonedds") => Ok(ServiceMapping::Cyclone),
            Some("basic") => Ok(ServiceMapping::Basic),
            Some(other) => Err(ParamsError::BadParameter {
                name: "service_mapping".to_owned(),
                why: format!("{other:?}: expected auto, enhanced, cyclone or basic"),
            }),
        }
    }
}
