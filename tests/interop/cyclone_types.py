"""The ROS 2 types the interop peers speak over Cyclone DDS (the `cyclonedds` wheel), written out
as IDL structs (no ROS code), and the loopback-only Cyclone configuration they run under.

Shared by cyclone_peer.py, big_frames.py and service_faults.py; import it only where Cyclone
is used (it imports cyclonedds). Importing it sets CYCLONEDDS_URI, unless already set, to
discovery among 127.0.0.1 peers without multicast, which also works inside a network namespace
holding only lo. Services follow rmw_cyclonedds_cpp's mapping: an 8-byte client id and a
sequence number before every request and reply payload.
"""

import os
from dataclasses import dataclass

CYCLONE_URI = (
    "<CycloneDDS><Domain id='any'><General><Interfaces><NetworkInterface address='127.0.0.1'/></Interfaces>"
    "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>50</MaxAutoParticipantIndex><Peers><Peer address='127.0.0.1'/></Peers>"
    "</Discovery></Domain></CycloneDDS>"
)
os.environ.setdefault("CYCLONEDDS_URI", CYCLONE_URI)

from cyclonedds.core import Policy, Qos  # noqa: E402
from cyclonedds.idl import IdlStruct  # noqa: E402
from cyclonedds.idl.types import array, float32, float64, int32, int64, sequence, uint8, uint32  # noqa: E402
from cyclonedds.util import duration  # noqa: E402


def reliable_qos(depth=10):
    """Reliable, keep-last `depth`, volatile: what the node's outputs and services use."""
    return Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(depth),
               Policy.Durability.Volatile)


def best_effort_qos(depth=1):
    """Best effort, keep-last `depth`, volatile: sensor-data style camera publishers."""
    return Qos(Policy.Reliability.BestEffort, Policy.History.KeepLast(depth), Policy.Durability.Volatile)


# ------------------------------------------------------------------ builtin_interfaces, std_msgs

@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


# ------------------------------------------------------------------ geometry_msgs

@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@dataclass
class Pose(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point
    orientation: Quaternion


@dataclass
class PoseWithCovariance(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose
    covariance: array[float64, 36]


# ------------------------------------------------------------------ vision_msgs

@dataclass
class ObjectHypothesis(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesis_"):
    class_id: str
    score: float64


@dataclass
class ObjectHypothesisWithPose(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesisWithPose_"):
    hypothesis: ObjectHypothesis
    pose: PoseWithCovariance


@dataclass
class Point2D(IdlStruct, typename="vision_msgs::msg::dds_::Point2D_"):
    x: float64
    y: float64


@dataclass
class Pose2D(IdlStruct, typename="vision_msgs::msg::dds_::Pose2D_"):
    position: Point2D
    theta: float64


@dataclass
class BoundingBox2D(IdlStruct, typename="vision_msgs::msg::dds_::BoundingBox2D_"):
    center: Pose2D
    size_x: float64
    size_y: float64


@dataclass
class Detection2D(IdlStruct, typename="vision_msgs::msg::dds_::Detection2D_"):
    header: Header
    results: sequence[ObjectHypothesisWithPose]
    bbox: BoundingBox2D
    id: str


@dataclass
class Detection2DArray(IdlStruct, typename="vision_msgs::msg::dds_::Detection2DArray_"):
    header: Header
    detections: sequence[Detection2D]


# ------------------------------------------------------------------ sensor_msgs, diagnostic_msgs

@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


@dataclass
class KeyValue(IdlStruct, typename="diagnostic_msgs::msg::dds_::KeyValue_"):
    key: str
    value: str


@dataclass
class DiagnosticStatus(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticStatus_"):
    level: uint8
    name: str
    message: str
    hardware_id: str
    values: sequence[KeyValue]


@dataclass
class DiagnosticArray(IdlStruct, typename="diagnostic_msgs::msg::dds_::DiagnosticArray_"):
    header: Header
    status: sequence[DiagnosticStatus]


# ------------------------------------------------------------------ facerec services (Cyclone mapping)

@dataclass
class Enroll_Request(IdlStruct, typename="facerec::srv::dds_::Enroll_Request_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    name: str
    camera: str
    image: Image
    num_samples: uint32
    timeout_s: float32
    track_id: str
    person_id: str


@dataclass
class Enroll_Response(IdlStruct, typename="facerec::srv::dds_::Enroll_Response_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    success: bool
    message: str
    samples_used: uint32


@dataclass
class Forget_Request(IdlStruct, typename="facerec::srv::dds_::Forget_Request_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    name: str


@dataclass
class Forget_Response(IdlStruct, typename="facerec::srv::dds_::Forget_Response_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    success: bool
    message: str
    removed: uint32


@dataclass
class ListPeople_Request(IdlStruct, typename="facerec::srv::dds_::ListPeople_Request_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    structure_needs_at_least_one_member: uint8


@dataclass
class ListPeople_Response(IdlStruct, typename="facerec::srv::dds_::ListPeople_Response_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    names: sequence[str]
    sample_counts: sequence[uint32]
    anonymous: sequence[bool]


# The service types by service name: (request, reply).
SERVICES = {
    "enroll": (Enroll_Request, Enroll_Response),
    "forget": (Forget_Request, Forget_Response),
    "list_people": (ListPeople_Request, ListPeople_Response),
}
