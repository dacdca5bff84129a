//! ROS 2 message and service types the node speaks, as serde structs for ros2-client.
//!
//! Each struct mirrors one `.msg` definition field by field, in order: the CDR
//! wire format has no field names, so order and types are the whole contract.
//! Standard types follow the Humble/Jazzy definitions (`builtin_interfaces`,
//! `std_msgs`, `sensor_msgs`, `geometry_msgs`, `vision_msgs` 4.x,
//! `diagnostic_msgs`, `lifecycle_msgs`); the `facerec` types mirror this package's `msg/`,
//! `srv/` and `action/` files. `tests/ros_msgs.rs` checks all of them byte for byte against
//! CDR produced by the `rosbags` typestore. Nothing here touches the network.

use ros2_client::{ActionTypeName, Message, MessageTypeName, ServiceTypeName};
use serde::{Deserialize, Serialize};
use serde_big_array::BigArray;

/// `builtin_interfaces/Time`, `std_msgs/Header`, `sensor_msgs/Image` and `CompressedImage` are
/// defined once, ROS-free, in [`crate::bag::msg`] (replay decodes bags into the same structs);
/// here they get their ROS names.
pub use crate::bag::msg::{CompressedImage, Header, Image, Time};

/// The ROS package that owns the `msg/` and `srv/` definitions of this crate.
pub const PACKAGE: &str = "facerec";

/// A message type with its ROS name (`package/msg/Type`).
pub trait RosMessage: Message + Clone {
    /// ROS package, e.g. `sensor_msgs`.
    const PACKAGE: &'static str;
    /// Type name inside the package, e.g. `Image`.
    const NAME: &'static str;

    /// The name ros2-client needs to create a topic of this type.
    fn type_name() -> MessageTypeName {
        MessageTypeName::new(Self::PACKAGE, Self::NAME)
    }
}

/// A service type: its request, its response and its ROS name (`package/srv/Type`).
pub trait RosService {
    /// Request message (the part of the `.srv` above `---`).
    type Request: Message + Clone + 'static;
    /// Response message (the part below `---`).
    type Response: Message + Clone + 'static;
    /// ROS package.
    const PACKAGE: &'static str;
    /// Service type name inside the package.
    const NAME: &'static str;

    /// The name ros2-client needs to create a server or client of this type.
    fn type_name() -> ServiceTypeName {
        ServiceTypeName::new(Self::PACKAGE, Self::NAME)
    }
}

macro_rules! ros_message {
    ($ty:ty, $pkg:expr, $name:expr) => {
        impl Message for $ty {}
        impl RosMessage for $ty {
            const PACKAGE: &'static str = $pkg;
            const NAME: &'static str = $name;
        }
    };
}

// ---------------------------------------------------------------- builtin_interfaces

ros_message!(Time, "builtin_interfaces", "Time");

// ---------------------------------------------------------------- std_msgs

ros_message!(Header, "std_msgs", "Header");

// ---------------------------------------------------------------- sensor_msgs

ros_message!(Image, "sensor_msgs", "Image");

ros_message!(CompressedImage, "sensor_msgs", "CompressedImage");

// ---------------------------------------------------------------- geometry_msgs

/// `geometry_msgs/msg/Point`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
ros_message!(Point, "geometry_msgs", "Point");

/// `geometry_msgs/msg/Quaternion`; the default is the identity rotation (`w = 1`),
/// as in the `.msg` file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quaternion {
    pub x: f64,
    pub y: f64,
    pub z: f64,
    pub w: f64,
}
ros_message!(Quaternion, "geometry_msgs", "Quaternion");

impl Default for Quaternion {
    fn default() -> Self {
        Self {
            x: 0.0,
            y: 0.0,
            z: 0.0,
            w: 1.0,
        }
    }
}

/// `geometry_msgs/msg/Pose`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub position: Point,
    pub orientation: Quaternion,
}
ros_message!(Pose, "geometry_msgs", "Pose");

/// `geometry_msgs/msg/PoseWithCovariance`: row-major 6x6 covariance of
/// (x, y, z, rot x, rot y, rot z).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoseWithCovariance {
    pub pose: Pose,
    #[serde(with = "BigArray")]
    pub covariance: [f64; 36],
}
ros_message!(PoseWithCovariance, "geometry_msgs", "PoseWithCovariance");

impl Default for PoseWithCovariance {
    fn default() -> Self {
        Self {
            pose: Pose::default(),
            covariance: [0.0; 36],
        }
    }
}

// ---------------------------------------------------------------- vision_msgs (4.x)

/// `vision_msgs/msg/Point2D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Point2D {
    pub x: f64,
    pub y: f64,
}
ros_message!(Point2D, "vision_msgs", "Point2D");

/// `vision_msgs/msg/Pose2D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pose2D {
    pub position: Point2D,
    /// Rotation in radians.
    pub theta: f64,
}
ros_message!(Pose2D, "vision_msgs", "Pose2D");

/// `vision_msgs/msg/BoundingBox2D`: centre and size, in pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox2D {
    pub center: Pose2D,
    pub size_x: f64,
    pub size_y: f64,
}
ros_message!(BoundingBox2D, "vision_msgs", "BoundingBox2D");

/// `vision_msgs/msg/ObjectHypothesis`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectHypothesis {
    /// For faces: the person's name or `unknown`.
    pub class_id: String,
    pub score: f64,
}
ros_message!(ObjectHypothesis, "vision_msgs", "ObjectHypothesis");

/// `vision_msgs/msg/ObjectHypothesisWithPose`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ObjectHypothesisWithPose {
    pub hypothesis: ObjectHypothesis,
    pub pose: PoseWithCovariance,
}
ros_message!(ObjectHypothesisWithPose, "vision_msgs", "ObjectHypothesisWithPose");

/// `vision_msgs/msg/Detection2D`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection2D {
    pub header: Header,
    pub results: Vec<ObjectHypothesisWithPose>,
    pub bbox: BoundingBox2D,
    /// Track id (empty when not tracked).
    pub id: String,
}
ros_message!(Detection2D, "vision_msgs", "Detection2D");

/// `vision_msgs/msg/Detection2DArray`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Detection2DArray {
    pub header: Header,
    pub detections: Vec<Detection2D>,
}
ros_message!(Detection2DArray, "vision_msgs", "Detection2DArray");

// ---------------------------------------------------------------- diagnostic_msgs

/// `diagnostic_msgs/msg/KeyValue`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}
ros_message!(KeyValue, "diagnostic_msgs", "KeyValue");

/// `diagnostic_msgs/msg/DiagnosticStatus`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticStatus {
    /// One of [`DiagnosticStatus::OK`], `WARN`, `ERROR`, `STALE`.
    pub level: u8,
    pub name: String,
    pub message: String,
    pub hardware_id: String,
    pub values: Vec<KeyValue>,
}
ros_message!(DiagnosticStatus, "diagnostic_msgs", "DiagnosticStatus");

impl DiagnosticStatus {
    pub const OK: u8 = 0;
    pub const WARN: u8 = 1;
    pub const ERROR: u8 = 2;
    pub const STALE: u8 = 3;
}

/// `diagnostic_msgs/msg/DiagnosticArray`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosticArray {
    pub header: Header,
    pub status: Vec<DiagnosticStatus>,
}
ros_message!(DiagnosticArray, "diagnostic_msgs", "DiagnosticArray");

// ---------------------------------------------------------------- std_msgs (payloads)

/// `std_msgs/msg/String`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StringMsg {
    pub data: String,
}
ros_message!(StringMsg, "std_msgs", "String");

/// `std_msgs/msg/Bool`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BoolMsg {
    pub data: bool,
}
ros_message!(BoolMsg, "std_msgs", "Bool");

// ---------------------------------------------------------------- sensor_msgs/CameraInfo

/// `sensor_msgs/msg/RegionOfInterest`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionOfInterest {
    pub x_offset: u32,
    pub y_offset: u32,
    pub height: u32,
    pub width: u32,
    pub do_rectify: bool,
}
ros_message!(RegionOfInterest, "sensor_msgs", "RegionOfInterest");

/// `sensor_msgs/msg/CameraInfo`: the intrinsics the node reads are `k` (row-major 3x3:
/// fx 0 cx / 0 fy cy / 0 0 1) with `width` and `height`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CameraInfo {
    pub header: Header,
    pub height: u32,
    pub width: u32,
    pub distortion_model: String,
    pub d: Vec<f64>,
    pub k: [f64; 9],
    pub r: [f64; 9],
    pub p: [f64; 12],
    pub binning_x: u32,
    pub binning_y: u32,
    pub roi: RegionOfInterest,
}
ros_message!(CameraInfo, "sensor_msgs", "CameraInfo");

// ---------------------------------------------------------------- geometry_msgs / tf2_msgs

/// `geometry_msgs/msg/Vector3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Vector3 {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}
ros_message!(Vector3, "geometry_msgs", "Vector3");

/// `geometry_msgs/msg/Transform`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Transform {
    pub translation: Vector3,
    pub rotation: Quaternion,
}
ros_message!(Transform, "geometry_msgs", "Transform");

/// `geometry_msgs/msg/TransformStamped`: `child_frame_id` in `header.frame_id`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TransformStamped {
    pub header: Header,
    pub child_frame_id: String,
    pub transform: Transform,
}
ros_message!(TransformStamped, "geometry_msgs", "TransformStamped");

/// `tf2_msgs/msg/TFMessage`, the type of `/tf`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TfMessage {
    pub transforms: Vec<TransformStamped>,
}
ros_message!(TfMessage, "tf2_msgs", "TFMessage");

// ---------------------------------------------------------------- hri_msgs (ROS4HRI, REP-155)

/// `hri_msgs/msg/IdsList`: the ids currently tracked (e.g. `/humans/faces/tracked`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdsList {
    pub header: Header,
    pub ids: Vec<String>,
}
ros_message!(IdsList, "hri_msgs", "IdsList");

/// `hri_msgs/msg/IdsMatch`: `id1` (of type `id1_type`) is `id2` with `confidence`; 0 means
/// "not associated".
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdsMatch {
    pub id1: String,
    pub id1_type: i8,
    pub id2: String,
    pub id2_type: i8,
    pub confidence: f32,
}
ros_message!(IdsMatch, "hri_msgs", "IdsMatch");

impl IdsMatch {
    pub const UNSET: i8 = 0;
    pub const PERSON: i8 = 1;
    pub const FACE: i8 = 2;
    pub const BODY: i8 = 3;
    pub const VOICE: i8 = 4;
}

/// `hri_msgs/msg/NormalizedRegionOfInterest2D`: a box in [0, 1] of the image's width and
/// height, with a confidence `c`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NormalizedRegionOfInterest2D {
    pub header: Header,
    pub xmin: f32,
    pub ymin: f32,
    pub xmax: f32,
    pub ymax: f32,
    pub c: f32,
}
ros_message!(NormalizedRegionOfInterest2D, "hri_msgs", "NormalizedRegionOfInterest2D");

/// `hri_msgs/msg/NormalizedPointOfInterest2D`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NormalizedPointOfInterest2D {
    pub x: f32,
    pub y: f32,
    pub c: f32,
}
ros_message!(NormalizedPointOfInterest2D, "hri_msgs", "NormalizedPointOfInterest2D");

/// `hri_msgs/msg/FacialLandmarks`: 70 slots (dlib's 68 points and the two pupils), in [0, 1]
/// of the image size; unset slots are zero.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FacialLandmarks {
    pub header: Header,
    #[serde(with = "BigArray")]
    pub landmarks: [NormalizedPointOfInterest2D; 70],
    pub height: u32,
    pub width: u32,
}
ros_message!(FacialLandmarks, "hri_msgs", "FacialLandmarks");

impl FacialLandmarks {
    /// Slot of the nose tip.
    pub const NOSE: usize = 30;
    /// The subject's right mouth corner (left in the image of a face seen from the front).
    pub const MOUTH_OUTER_RIGHT: usize = 48;
    pub const MOUTH_OUTER_LEFT: usize = 54;
    /// The subject's right pupil.
    pub const RIGHT_PUPIL: usize = 68;
    pub const LEFT_PUPIL: usize = 69;
}

impl Default for FacialLandmarks {
    fn default() -> Self {
        Self {
            header: Header::default(),
            landmarks: [NormalizedPointOfInterest2D::default(); 70],
            height: 0,
            width: 0,
        }
    }
}

// ---------------------------------------------------------------- facerec (msg/, srv/)

/// `facerec/msg/Face` (`msg/Face.msg`): one face, in pixels of the source image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Person's name or `unknown`.
    pub name: String,
    /// Cosine similarity to the best-matching person.
    pub score: f32,
    /// `score` minus the runner-up's similarity.
    pub margin: f32,
    /// Detector confidence.
    pub detection_score: f32,
    /// Box top-left corner x.
    pub x: f32,
    /// Box top-left corner y.
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// (x, y) of left eye, right eye, nose tip, left and right mouth corner.
    pub landmarks: [f32; 10],
    /// Resolved topic of the source camera.
    pub camera_topic: String,
    /// The face's track number on its camera in decimal (as `Detection2D.id`); empty when not
    /// tracked.
    pub track_id: String,
    /// The track has had its confirming hits.
    pub track_confirmed: bool,
    /// `name` is an anonymous person's id.
    pub anonymous: bool,
    /// This frame's own best-match similarity; NaN when the face was not embedded this frame.
    pub frame_score: f32,
    /// `position` is known.
    pub has_position: bool,
    /// The point between the eyes in the camera's optical frame, metres.
    pub position: Point,
    /// [`Face::POSITION_NONE`], [`Face::POSITION_MONOCULAR`] or [`Face::POSITION_DEPTH`].
    pub position_source: u8,
}
ros_message!(Face, PACKAGE, "Face");

impl Face {
    pub const POSITION_NONE: u8 = 0;
    pub const POSITION_MONOCULAR: u8 = 1;
    pub const POSITION_DEPTH: u8 = 2;
}

/// `facerec/msg/FaceArray` (`msg/FaceArray.msg`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaceArray {
    /// Copied from the source image.
    pub header: Header,
    pub faces: Vec<Face>,
}
ros_message!(FaceArray, PACKAGE, "FaceArray");

/// Request of `facerec/srv/Enroll` (`srv/Enroll.srv`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub name: String,
    /// Camera topic; empty for the first camera that shows a dominant face.
    pub camera: String,
    /// Used instead of a camera when `image.data` is non-empty.
    pub image: Image,
    /// 0: the node's default.
    pub num_samples: u32,
    /// 0: the node's default.
    pub timeout_s: f32,
    /// Name this track (decimal track number) instead of collecting; empty: not used.
    pub track_id: String,
    /// Name this anonymous person (`person_3f9a`); empty: not used.
    pub person_id: String,
}
impl Message for EnrollRequest {}

/// Response of `facerec/srv/Enroll`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollResponse {
    pub success: bool,
    pub message: String,
    pub samples_used: u32,
}
impl Message for EnrollResponse {}

/// `facerec/srv/Enroll`.
pub struct Enroll;
impl RosService for Enroll {
    type Request = EnrollRequest;
    type Response = EnrollResponse;
    const PACKAGE: &'static str = PACKAGE;
    const NAME: &'static str = "Enroll";
}

/// Request of `facerec/srv/Forget` (`srv/Forget.srv`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetRequest {
    pub name: String,
}
impl Message for ForgetRequest {}

/// Response of `facerec/srv/Forget`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForgetResponse {
    pub success: bool,
    pub message: String,
    /// Stored vectors removed.
    pub removed: u32,
}
impl Message for ForgetResponse {}

/// `facerec/srv/Forget`.
pub struct Forget;
impl RosService for Forget {
    type Request = ForgetRequest;
    type Response = ForgetResponse;
    const PACKAGE: &'static str = PACKAGE;
    const NAME: &'static str = "Forget";
}

/// Request of `facerec/srv/ListPeople` (`srv/ListPeople.srv`): no fields.
///
/// An empty ROS structure still occupies one byte on the wire: rosidl gives
/// every empty message a `uint8 structure_needs_at_least_one_member` field.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPeopleRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl Message for ListPeopleRequest {}

/// Response of `facerec/srv/ListPeople`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListPeopleResponse {
    /// Sorted names.
    pub names: Vec<String>,
    /// Stored vectors per person, in the order of `names`.
    pub sample_counts: Vec<u32>,
    /// Per person, in the order of `names`: an anonymous person (a stranger with an id).
    pub anonymous: Vec<bool>,
}
impl Message for ListPeopleResponse {}

/// `facerec/srv/ListPeople`.
pub struct ListPeople;
impl RosService for ListPeople {
    type Request = ListPeopleRequest;
    type Response = ListPeopleResponse;
    const PACKAGE: &'static str = PACKAGE;
    const NAME: &'static str = "ListPeople";
}

// ---------------------------------------------------------------- rcl_interfaces

/// `rcl_interfaces/msg/Log`, one log line, published on `/rosout` (`ros::log`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Log {
    /// When the line was logged (system time).
    pub stamp: Time,
    /// DEBUG 10, INFO 20, WARN 30, ERROR 40, FATAL 50.
    pub level: u8,
    /// The logger's name (`robot.facerec` for the node `/robot/facerec`).
    pub name: String,
    pub msg: String,
    pub file: String,
    pub function: String,
    pub line: u32,
}
ros_message!(Log, "rcl_interfaces", "Log");

// ---------------------------------------------------------------- lifecycle_msgs

/// `lifecycle_msgs/msg/State`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleState {
    pub id: u8,
    pub label: String,
}
ros_message!(LifecycleState, "lifecycle_msgs", "State");

/// `lifecycle_msgs/msg/Transition`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleTransition {
    pub id: u8,
    pub label: String,
}
ros_message!(LifecycleTransition, "lifecycle_msgs", "Transition");

/// `lifecycle_msgs/msg/TransitionDescription`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionDescription {
    pub transition: LifecycleTransition,
    pub start_state: LifecycleState,
    pub goal_state: LifecycleState,
}
ros_message!(TransitionDescription, "lifecycle_msgs", "TransitionDescription");

/// `lifecycle_msgs/msg/TransitionEvent`, published on `~/transition_event`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitionEvent {
    /// Nanoseconds since the Unix epoch.
    pub timestamp: u64,
    pub transition: LifecycleTransition,
    pub start_state: LifecycleState,
    pub goal_state: LifecycleState,
}
ros_message!(TransitionEvent, "lifecycle_msgs", "TransitionEvent");

/// Request of `lifecycle_msgs/srv/ChangeState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateRequest {
    pub transition: LifecycleTransition,
}
impl Message for ChangeStateRequest {}

/// Response of `lifecycle_msgs/srv/ChangeState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeStateResponse {
    pub success: bool,
}
impl Message for ChangeStateResponse {}

/// `lifecycle_msgs/srv/ChangeState`.
pub struct ChangeState;
impl RosService for ChangeState {
    type Request = ChangeStateRequest;
    type Response = ChangeStateResponse;
    const PACKAGE: &'static str = "lifecycle_msgs";
    const NAME: &'static str = "ChangeState";
}

/// Request of `lifecycle_msgs/srv/GetState`, `GetAvailableStates` and `GetAvailableTransitions`:
/// no fields (one byte on the wire, as [`ListPeopleRequest`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmptyRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl Message for EmptyRequest {}

/// Response of `lifecycle_msgs/srv/GetState`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetStateResponse {
    pub current_state: LifecycleState,
}
impl Message for GetStateResponse {}

/// `lifecycle_msgs/srv/GetState`.
pub struct GetState;
impl RosService for GetState {
    type Request = EmptyRequest;
    type Response = GetStateResponse;
    const PACKAGE: &'static str = "lifecycle_msgs";
    const NAME: &'static str = "GetState";
}

/// Response of `lifecycle_msgs/srv/GetAvailableStates`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableStatesResponse {
    pub available_states: Vec<LifecycleState>,
}
impl Message for GetAvailableStatesResponse {}

/// `lifecycle_msgs/srv/GetAvailableStates` (`~/get_available_states`: every state of the
/// state machine).
pub struct GetAvailableStates;
impl RosService for GetAvailableStates {
    type Request = EmptyRequest;
    type Response = GetAvailableStatesResponse;
    const PACKAGE: &'static str = "lifecycle_msgs";
    const NAME: &'static str = "GetAvailableStates";
}

/// Response of `lifecycle_msgs/srv/GetAvailableTransitions`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetAvailableTransitionsResponse {
    pub available_transitions: Vec<TransitionDescription>,
}
impl Message for GetAvailableTransitionsResponse {}

/// `lifecycle_msgs/srv/GetAvailableTransitions` (`~/get_available_transitions`: those of the
/// current state; `~/get_transition_graph`: all of them).
pub struct GetAvailableTransitions;
impl RosService for GetAvailableTransitions {
    type Request = EmptyRequest;
    type Response = GetAvailableTransitionsResponse;
    const PACKAGE: &'static str = "lifecycle_msgs";
    const NAME: &'static str = "GetAvailableTransitions";
}

/// An action type: its goal, result and feedback and its ROS name (`package/action/Type`).
pub trait RosAction {
    /// Goal message (the part of the `.action` above the first `---`).
    type Goal: Message + Clone + 'static;
    /// Result message (between the two `---`).
    type Result: Message + Clone + 'static;
    /// Feedback message (below the second `---`).
    type Feedback: Message + std::fmt::Debug + 'static;
    /// ROS package.
    const PACKAGE: &'static str;
    /// Action type name inside the package.
    const NAME: &'static str;

    /// The name ros2-client needs to create an action server or client of this type.
    fn type_name() -> ActionTypeName {
        ActionTypeName::new(Self::PACKAGE, Self::NAME)
    }
}

/// Goal of `facerec/action/EnrollPerson` (`action/EnrollPerson.action`): the fields of an
/// `~/enroll` request without the image.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrollPersonGoal {
    pub name: String,
    /// Camera topic; empty for any camera.
    pub camera: String,
    /// 0: the node's default.
    pub num_samples: u32,
    /// 0: the node's default.
    pub timeout_s: f32,
    /// Name this track instead of collecting; empty: not used.
    pub track_id: String,
    /// Name this anonymous person instead of collecting; empty: not used.
    pub person_id: String,
}
impl Message for EnrollPersonGoal {}

/// Result of `facerec/action/EnrollPerson`: as the `~/enroll` response.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollPersonResult {
    pub success: bool,
    pub message: String,
    pub samples_used: u32,
}
impl Message for EnrollPersonResult {}

/// Feedback of `facerec/action/EnrollPerson`, after every frame judged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EnrollPersonFeedback {
    pub samples_collected: u32,
    pub samples_needed: u32,
    /// Why the last frame gave no sample; empty when it gave one.
    pub last_rejection: String,
    /// Camera topic of the last frame judged.
    pub camera: String,
    /// Whether `x`, `y`, `width`, `height` hold the last frame's dominant face (image pixels).
    pub has_box: bool,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}
impl Message for EnrollPersonFeedback {}

/// `facerec/action/EnrollPerson`.
pub struct EnrollPerson;
impl RosAction for EnrollPerson {
    type Goal = EnrollPersonGoal;
    type Result = EnrollPersonResult;
    type Feedback = EnrollPersonFeedback;
    const PACKAGE: &'static str = PACKAGE;
    const NAME: &'static str = "EnrollPerson";
}

/// Goal of `facerec/action/FindPerson` (`action/FindPerson.action`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindPersonGoal {
    /// A name or anonymous id held by the gallery.
    pub name: String,
    /// 0: until cancelled.
    pub timeout_s: f32,
    /// Camera topics; empty: all cameras.
    pub cameras: Vec<String>,
}
impl Message for FindPersonGoal {}

/// Result of `facerec/action/FindPerson`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindPersonResult {
    pub found: bool,
    pub message: String,
    /// Where and when the person was seen: camera topic, the image's header stamp, the face's
    /// box in that image's pixels.
    pub camera: String,
    pub stamp: Time,
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
    /// Identity score of the face.
    pub score: f32,
    /// The face's track (decimal); empty with tracking off.
    pub track_id: String,
    /// `position` is known (the camera's intrinsics were).
    pub has_position: bool,
    pub position: Point,
}
impl Message for FindPersonResult {}

/// Feedback of `facerec/action/FindPerson`, about once per processed frame.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FindPersonFeedback {
    /// Frames searched so far.
    pub frames_searched: u32,
    /// Faces seen in those frames, none of them the person.
    pub faces_seen: u32,
    /// Highest similarity to the person of any face embedded so far; -1 before any.
    pub best_score: f32,
    /// Camera topic of that face; empty before any.
    pub best_camera: String,
    /// Seconds since the goal was accepted.
    pub elapsed_s: f32,
}
impl Message for FindPersonFeedback {}

/// `facerec/action/FindPerson`.
pub struct FindPerson;
impl RosAction for FindPerson {
    type Goal = FindPersonGoal;
    type Result = FindPersonResult;
    type Feedback = FindPersonFeedback;
    const PACKAGE: &'static str = PACKAGE;
    const NAME: &'static str = "FindPerson";
}

/// CDR (little-endian, plain CDR as ROS 2 uses) without the 4-byte
/// encapsulation header, e.g. for a rosbag2 message or a test fixture.
pub mod cdr {
    use byteorder::LittleEndian;
    use serde::{de::DeserializeOwned, Serialize};

    /// Errors from CDR encoding or decoding.
    pub use cdr_encoding::Error;

    /// The CDR encapsulation header for little-endian plain CDR (`CDR_LE`).
    pub const CDR_LE_HEADER: [u8; 4] = [0, 1, 0, 0];

    /// Serialize `value` as little-endian CDR (no encapsulation header).
    pub fn to_vec<T: Serialize>(value: &T) -> Result<Vec<u8>, Error> {
        cdr_encoding::to_vec::<T, LittleEndian>(value)
    }

    /// Deserialize little-endian CDR (no encapsulation header); returns the
    /// value and the number of bytes consumed.
    pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, usize), Error> {
        cdr_encoding::from_bytes::<T, LittleEndian>(bytes)
    }
}
