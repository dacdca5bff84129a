//! Every parameter of the node, declared: name, built-in default, description, whether it can
//! change while the node runs, and its range. The node declares each of them (with the user's
//! value, or this default) so that `ros2 param list/get/describe` show them all, and the
//! built-in defaults are the shipped `config/facerec.yaml` (a test compares the two).
//!
//! Pure data and mapping onto ros2-client's parameter types; opens nothing.

use ros2_client::parameters::{NumericRange, ParameterDescriptor};
use ros2_client::ParameterValue;

use crate::detect::{DetectorConfig, DetectorKind};
use crate::ros::params::Params;

/// A built-in default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(&'static str),
    StrArray(&'static [&'static str]),
}

impl Value {
    /// As a ROS parameter value.
    pub fn to_parameter(self) -> ParameterValue {
        match self {
            Self::Bool(b) => ParameterValue::Boolean(b),
            Self::Int(i) => ParameterValue::Integer(i),
            Self::Double(f) => ParameterValue::Double(f),
            Self::Str(s) => ParameterValue::String(s.to_owned()),
            Self::StrArray(v) => ParameterValue::StringArray(v.iter().map(|s| (*s).to_owned()).collect()),
        }
    }
}

/// When a new value takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// `ros2 param set` applies it from the next frame (or the next enroll request).
    Live,
    /// Read once at start (models, threads, topics, files): `ros2 param set` is refused.
    Restart,
}

/// The numeric range shown by `ros2 param describe` (the node's checks are the same ones; a
/// test holds them together).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    Any,
    Int(i64, i64),
    Double(f64, f64),
}

/// One parameter.
#[derive(Debug, Clone, Copy)]
pub struct Declared {
    pub name: &'static str,
    pub default: Value,
    pub change: Change,
    pub range: Range,
    pub description: &'static str,
    /// Rules the range cannot say (`ros2 param describe`'s "Additional constraints").
    pub constraints: &'static str,
}

const fn p(
    name: &'static str,
    default: Value,
    change: Change,
    range: Range,
    description: &'static str,
    constraints: &'static str,
) -> Declared {
    Declared {
        name,
        default,
        change,
        range,
        description,
        constraints,
    }
}

use Change::{Live, Restart};
use Value::{Bool, Double, Int, Str, StrArray};

/// The node's parameters, in the order of `config/facerec.yaml`.
pub const DECLARED: &[Declared] = &[
    p(
        "cameras",
        StrArray(&["camera/image_raw"]),
        Restart,
        Range::Any,
        "Image topics to watch; relative names resolve in the node's namespace and follow remaps",
        "at least one; a topic ending in /compressed is read as sensor_msgs/CompressedImage, any other as sensor_msgs/Image",
    ),
    p(
        "gallery",
        Str(""),
        Restart,
        Range::Any,
        "Gallery file (YAML; created when missing)",
        "empty: $ROS_HOME/facerec/gallery.yaml (ROS_HOME defaults to ~/.ros); relative paths are taken from the working directory",
    ),
    p(
        "models_dir",
        Str(""),
        Restart,
        Range::Any,
        "Folder searched first for the model files",
        "empty: the installed share/facerec/models of each AMENT_PREFIX_PATH entry, then ./models",
    ),
    p(
        "detector.kind",
        Str("retinaface"),
        Restart,
        Range::Any,
        "Face detector",
        "retinaface, retinaface_mnv2, yunet or scrfd (research licence: scripts/fetch_models.sh --research)",
    ),
    p(
        "detector.model",
        Str("retinaface_mnet025.onnx"),
        Restart,
        Range::Any,
        "Detector model file (relative: looked up in the model folders)",
        "when not given: the detector kind's model (yunet: yunet_2023mar.onnx)",
    ),
    p(
        "detector.input_size",
        Int(640),
        Restart,
        Range::Int(32, 4096),
        "Longest side fed to the detector, pixels",
        "",
    ),
    p(
        "detector.score_threshold",
        Double(0.6),
        Restart,
        Range::Double(0.0, 1.0),
        "Minimum detector confidence",
        "",
    ),
    p(
        "detector.nms_iou",
        Double(0.4),
        Restart,
        Range::Double(0.0, 1.0),
        "Overlap (IoU) above which the weaker of two detections is dropped",
        "",
    ),
    p(
        "detector.max_upscale",
        Double(1.0),
        Restart,
        Range::Double(0.1, 8.0),
        "The most a frame is enlarged to reach input_size (1: small frames at their own size; a fixed-size model input is always filled)",
        "",
    ),
    p(
        "detector.border_pad",
        Double(0.0),
        Restart,
        Range::Double(0.0, 1.0),
        "Close or cut faces: a second pass inside a border of this fraction of the frame per side (0: off)",
        "when not given: the detector kind's default (0; scrfd 0.25)",
    ),
    p(
        "detector.close_face_fraction",
        Double(0.5),
        Restart,
        Range::Double(0.05, 1.0),
        "A face wider or taller than this fraction of the frame counts as close (see detector.border_pad)",
        "",
    ),
    p(
        "embedder.model",
        Str("sface_2021dec_int8bq.onnx"),
        Restart,
        Range::Any,
        "Embedder model file (relative: looked up in the model folders)",
        "",
    ),
    p(
        "embedder.bgr",
        Bool(false),
        Restart,
        Range::Any,
        "Feed the aligned face to the embedder in BGR channel order",
        "",
    ),
    p(
        "embedder.mean",
        Double(0.0),
        Restart,
        Range::Double(0.0, 255.0),
        "Embedder input = (pixel - mean) * scale",
        "",
    ),
    p(
        "embedder.scale",
        Double(1.0),
        Restart,
        Range::Any,
        "Embedder input = (pixel - mean) * scale",
        "a positive number",
    ),
    p(
        "embedder.max_batch",
        Int(4),
        Restart,
        Range::Int(1, 256),
        "Faces per embedder run",
        "",
    ),
    p(
        "match_threshold",
        Double(0.455),
        Live,
        Range::Double(-1.0, 1.0),
        "Cosine similarity needed to put a name on a face; below it the face is unknown",
        "applied from the next frame",
    ),
    p(
        "execution_provider",
        Str("cpu"),
        Restart,
        Range::Any,
        "ONNX Runtime execution provider",
        "cpu, cuda, tensorrt or auto (cuda when it loads, else cpu)",
    ),
    p(
        "threads",
        Int(0),
        Restart,
        Range::Int(0, 1024),
        "Threads per inference (0: one per core)",
        "",
    ),
    p(
        "ort_library",
        Str(""),
        Restart,
        Range::Any,
        "Path of the ONNX Runtime shared library",
        "empty: ORT_DYLIB_PATH, then lib/facerec/libonnxruntime.so of each AMENT_PREFIX_PATH entry and of the executable's install prefix, then .ort/ folders, then the system loader path",
    ),
    p(
        "tensorrt.fp16",
        Bool(false),
        Restart,
        Range::Any,
        "TensorRT provider: build fp16 engines",
        "",
    ),
    p(
        "tensorrt.engine_cache_dir",
        Str(""),
        Restart,
        Range::Any,
        "TensorRT provider: folder where built engines are kept and reused at the next start",
        "empty: engines are built at every start",
    ),
    p(
        "workers",
        Int(1),
        Restart,
        Range::Int(1, 16),
        "Frames processed at once, across all cameras (each worker holds its own models)",
        "",
    ),
    p(
        "publish_annotated",
        Bool(false),
        Live,
        Range::Any,
        "Also publish ~/annotated (sensor_msgs/Image with boxes and names)",
        "applied from the next frame",
    ),
    p(
        "max_image_megapixels",
        Double(40.0),
        Restart,
        Range::Double(0.01, 268.435),
        "Largest image accepted from a camera or an enroll request, megapixels (width x height)",
        "larger images, and compressed ones whose header claims more, are dropped as malformed",
    ),
    p(
        "enroll.samples",
        Int(5),
        Live,
        Range::Int(1, 100),
        "Frames collected by an enroll request that says 0",
        "applied from the next enroll request",
    ),
    p(
        "enroll.timeout_s",
        Double(10.0),
        Live,
        Range::Any,
        "Collecting time of an enroll request that says 0, seconds",
        "a positive number; at most 3600 is used; applied from the next enroll request",
    ),
    p(
        "enroll.min_face_px",
        Double(40.0),
        Live,
        Range::Double(0.0, 10_000.0),
        "Shorter box side an enrolment sample needs, pixels",
        "applied from the next frame",
    ),
    p(
        "enroll.dominance_ratio",
        Double(1.5),
        Live,
        Range::Double(1.0, 100.0),
        "Largest face area / next face area an enrolment sample needs",
        "applied from the next frame",
    ),
    p(
        "enroll.min_sharpness",
        Double(20.0),
        Live,
        Range::Double(0.0, 1.0e6),
        "Variance of the Laplacian of the aligned face an enrolment sample needs",
        "applied from the next frame",
    ),
    // ---- People over time (tracking, anonymous strangers, careful learning).
    p(
        "tracking.enabled",
        Bool(true),
        Restart,
        Range::Any,
        "One tracker per camera: names kept per track, track ids in the outputs",
        "false: every frame named on its own (no track ids)",
    ),
    p(
        "tracking.confirm_hits",
        Int(3),
        Live,
        Range::Int(1, 100),
        "Frames with the face before its track is confirmed",
        "applied from the next frame",
    ),
    p(
        "tracking.max_miss_s",
        Double(1.0),
        Live,
        Range::Double(0.01, 3600.0),
        "A track unseen this long (frame stamps) ends",
        "applied from the next frame",
    ),
    p(
        "tracking.reid_window_s",
        Double(60.0),
        Live,
        Range::Double(0.0, 604_800.0),
        "A person back within this time gets their track back (through the embedding)",
        "applied from the next frame",
    ),
    p(
        "tracking.max_tracks",
        Int(64),
        Live,
        Range::Int(1, 1024),
        "Live tracks per camera; faces beyond get no track (counted in /diagnostics)",
        "applied from the next frame",
    ),
    p(
        "tracking.reembed_every",
        Int(5),
        Live,
        Range::Int(1, 1000),
        "A confidently named track is embedded every N frames (or when the face is clearly better)",
        "applied from the next frame",
    ),
    p(
        "anonymous.mode",
        Str("off"),
        Restart,
        Range::Any,
        "Strangers with ids: off, in_memory (not saved) or persisted (saved with the gallery)",
        "off, in_memory (or memory) or persisted",
    ),
    p(
        "anonymous.expire_s",
        Double(86400.0),
        Live,
        Range::Double(1.0, 604_800.0),
        "An anonymous person unseen this long is removed, unless named",
        "applied from the next frame",
    ),
    p(
        "learning.enabled",
        Bool(false),
        Live,
        Range::Any,
        "Add novel samples of confidently identified tracks to their person (capped per person)",
        "applied from the next frame",
    ),
    // ---- Where faces are, and the ROS4HRI output.
    p(
        "camera_info_topics",
        StrArray(&[""]),
        Restart,
        Range::Any,
        "sensor_msgs/CameraInfo topic of each camera: its intrinsics give every face a 3D position",
        "one per camera, in the order of cameras; \"\" (or all empty): the camera_info topic beside the image topic (/ns/image_raw -> /ns/camera_info)",
    ),
    p(
        "depth_topics",
        StrArray(&[""]),
        Restart,
        Range::Any,
        "Aligned depth image of each camera (sensor_msgs/Image 16UC1 mm or 32FC1 m, the colour image's size): positions from depth instead of the monocular estimate",
        "one per camera, in the order of cameras; \"\" (or all empty): none",
    ),
    p(
        "tf.enabled",
        Bool(false),
        Live,
        Range::Any,
        "Publish each located face as TF frame face_<face id> (child of the image's frame_id) on /tf",
        "applied from the next frame",
    ),
    p(
        "hri.enabled",
        Bool(false),
        Restart,
        Range::Any,
        "Publish the ROS4HRI (REP-155) topics: /humans/faces/tracked, /humans/faces/<id>/{roi,cropped,aligned,landmarks}, /humans/candidate_matches, /humans/persons/<id>/{name,anonymous}",
        "needs tracking.enabled (face ids are tracks)",
    ),
    p(
        "diagnostics_period_s",
        Double(1.0),
        Restart,
        Range::Any,
        "Period of /diagnostics messages, seconds",
        "a positive number, used within 0.05..=3600",
    ),
    p(
        "service_mapping",
        Str("auto"),
        Restart,
        Range::Any,
        "Service wire mapping",
        "auto (from RMW_IMPLEMENTATION: cyclone when it names rmw_cyclonedds_cpp, else enhanced), enhanced (Fast DDS, Connext) or cyclone",
    ),
];

/// The declaration of `name`, if it is one of the node's parameters.
pub fn find(name: &str) -> Option<&'static Declared> {
    DECLARED.iter().find(|d| d.name == name)
}

/// The node's parameter values: the user's (params files, `-p`) where given, the built-in
/// default for every other declared parameter (`detector.model`: the chosen kind's model).
/// Integers given for floating-point parameters are widened (a file may say `1` for `1.0`) and a
/// single string for a string array becomes a one-element array, so each parameter keeps its
/// declared type. Unknown parameters are kept (the node warns about them). Idempotent.
pub fn with_defaults(user: &Params) -> Params {
    let mut out = user.clone();
    for d in DECLARED {
        let value = match (user.get(d.name), d.default) {
            #[allow(clippy::cast_precision_loss)]
            (Some(ParameterValue::Integer(i)), Double(_)) => ParameterValue::Double(*i as f64),
            (Some(ParameterValue::String(s)), StrArray(_)) => ParameterValue::StringArray(vec![s.clone()]),
            (Some(v), _) => v.clone(),
            (None, _) if d.name == "detector.model" => {
                ParameterValue::String(DetectorConfig::for_kind(kind_of(user)).model.display().to_string())
            }
            (None, _) if d.name == "detector.border_pad" => {
                ParameterValue::Double(f64::from(DetectorConfig::for_kind(kind_of(user)).border_pad))
            }
            (None, default) => default.to_parameter(),
        };
        out.set(d.name, value);
    }
    out
}

/// The detector kind the user chose (the kind-dependent defaults follow it); the node's own
/// parsing reports a bad name.
fn kind_of(user: &Params) -> DetectorKind {
    match user.get("detector.kind") {
        Some(ParameterValue::String(k)) => DetectorKind::from_name(k).unwrap_or(DetectorKind::Retinaface),
        _ => DetectorKind::Retinaface,
    }
}

/// What `ros2 param describe` shows for `d` (the type is filled in from the current value).
pub fn descriptor(d: &Declared) -> ParameterDescriptor {
    let mut constraints = d.constraints.to_owned();
    if d.change == Restart {
        if !constraints.is_empty() {
            constraints.push_str("; ");
        }
        constraints.push_str("read at start: restart the node to change it");
    }
    ParameterDescriptor {
        name: d.name.to_owned(),
        param_type: d.default.to_parameter().to_parameter_type(),
        description: d.description.to_owned(),
        additional_constraints: constraints,
        read_only: d.change == Restart,
        dynamic_typing: false,
        range: match d.range {
            Range::Any => NumericRange::NotSpecified,
            Range::Int(from_value, to_value) => NumericRange::IntegerRange {
                from_value,
                to_value,
                step: 0,
            },
            Range::Double(from_value, to_value) => NumericRange::FloatingPointRange {
                from_value,
                to_value,
                step: 0.0,
            },
        },
    }
}
