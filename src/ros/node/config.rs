//! The node's settings, read from its ROS parameters (params-file + `-p`, see `ros::params`):
//! which cameras to subscribe and how, where the gallery lives, the face pipeline
//! configuration, the worker count, outputs, enrolment defaults and diagnostics.
//!
//! Pure mapping from `Params` to plain settings; opens nothing.
//!
//! Camera rule: a camera whose *resolved* topic name ends in the token `compressed`
//! (image_transport's convention, e.g. `/head/image_raw/compressed`) is subscribed as
//! `sensor_msgs/CompressedImage` (JPEG or PNG); every other camera as `sensor_msgs/Image`.

use std::path::PathBuf;
use std::time::Duration;

use ros2_client::ServiceMapping;

use crate::detect::DetectorKind;
use crate::enroll::EnrollPolicy;
use crate::pipeline::PipelineConfig;
use crate::ros::params::{NameResolver, Params, ParamsError, RosEnv};
use crate::runtime::Provider;

/// Every parameter the node reads. Others are reported as unknown (a warning, not an error).
pub const KNOWN_PARAMETERS: &[&str] = &[
    "cameras",
    "gallery",
    "workers",
    "publish_annotated",
    "diagnostics_period_s",
    "service_mapping",
    "match_threshold",
    "execution_provider",
    "threads",
    "ort_library",
    "models_dir",
    "detector.kind",
    "detector.model",
    "detector.input_size",
    "detector.score_threshold",
    "detector.nms_iou",
    "embedder.model",
    "embedder.max_batch",
    "enroll.samples",
    "enroll.timeout_s",
    "enroll.min_face_px",
    "enroll.dominance_ratio",
    "enroll.min_sharpness",
    // Set by launch files for every node; the node runs on the system clock.
    "use_sim_time",
];

/// Most workers accepted (each holds its own copy of the models).
pub const MAX_WORKERS: u32 = 16;

/// How a camera topic is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraKind {
    /// `sensor_msgs/Image`: raw pixels.
    Raw,
    /// `sensor_msgs/CompressedImage`: JPEG or PNG.
    Compressed,
}

impl CameraKind {
    /// The rule for a resolved topic name: `.../compressed` is compressed.
    pub fn for_topic(resolved: &str) -> Self {
        if resolved.rsplit('/').next() == Some("compressed") {
            Self::Compressed
        } else {
            Self::Raw
        }
    }
}

/// One camera the node listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraConfig {
    /// The name as given in the `cameras` parameter.
    pub configured: String,
    /// The fully resolved topic (namespace and remaps applied).
    pub topic: String,
    pub kind: CameraKind,
}

/// Defaults for `~/enroll` requests that leave them at 0.
#[derive(Debug, Clone)]
pub struct EnrollDefaults {
    pub samples: u32,
    pub timeout: Duration,
    pub policy: EnrollPolicy,
}

/// Everything the node needs to know before it starts.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub pipeline: PipelineConfig,
    pub gallery: PathBuf,
    pub cameras: Vec<CameraConfig>,
    pub workers: usize,
    pub publish_annotated: bool,
    pub enroll: EnrollDefaults,
    pub diagnostics_period: Duration,
    pub service_mapping: ServiceMapping,
}

/// Default camera list: one topic in the node's namespace, to be remapped by launch files.
pub const DEFAULT_CAMERA: &str = "camera/image_raw";

/// The gallery file when the `gallery` parameter is unset or empty: `$ROS_HOME/facerec/gallery.yaml`, `ROS_HOME` defaulting to
/// `~/.ros` as in ROS 2.
pub fn default_gallery_path(get: impl Fn(&str) -> Option<String>) -> PathBuf {
    let ros_home = get("ROS_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            get("HOME")
                .filter(|s| !s.is_empty())
                .map(|h| PathBuf::from(h).join(".ros"))
        })
        .unwrap_or_else(|| PathBuf::from(".ros"));
    ros_home.join("facerec").join("gallery.yaml")
}

fn bad(name: &str, why: impl Into<String>) -> ParamsError {
    ParamsError::BadParameter {
        name: name.to_owned(),
        why: why.into(),
    }
}

fn positive_f64(params: &Params, name: &str, default: f64) -> Result<f64, ParamsError> {
    let v = params.get_f64(name)?.unwrap_or(default);
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(bad(name, format!("{v} must be a positive number")))
    }
}

fn f32_in(params: &Params, name: &str, default: f32, lo: f32, hi: f32) -> Result<f32, ParamsError> {
    match params.get_f64(name)? {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= f64::from(lo) && v <= f64::from(hi) => Ok(v as f32),
        Some(v) => Err(bad(name, format!("{v} is outside {lo}..={hi}"))),
    }
}

impl NodeConfig {
    /// Reads the node's parameters. `env_var` looks up environment variables (for the default
    /// gallery path).
    pub fn from_params(
        params: &Params,
        names: &NameResolver,
        env: &RosEnv,
        env_var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ParamsError> {
        let mut pipeline = PipelineConfig::default();
        if let Some(kind) = params.get_str("detector.kind")? {
            let kind = match kind.to_ascii_lowercase().as_str() {
                "retinaface" => DetectorKind::Retinaface,
                "yunet" => DetectorKind::Yunet,
                other => return Err(bad("detector.kind", format!("{other:?}: expected retinaface or yunet"))),
            };
            pipeline = pipeline.with_detector(kind);
        }
        if let Some(model) = params.get_str("detector.model")? {
            pipeline.detector.model = PathBuf::from(model);
        }
        if let Some(size) = params.get_u32("detector.input_size")? {
            if !(32..=4096).contains(&size) {
                return Err(bad("detector.input_size", format!("{size} is outside 32..=4096")));
            }
            pipeline.detector.input_size = size;
        }
        pipeline.detector.score_threshold = f32_in(
            params,
            "detector.score_threshold",
            pipeline.detector.score_threshold,
            0.0,
            1.0,
        )?;
        pipeline.detector.nms_iou = f32_in(params, "detector.nms_iou", pipeline.detector.nms_iou, 0.0, 1.0)?;
        if let Some(model) = params.get_str("embedder.model")? {
            pipeline.embedder.model = PathBuf::from(model);
        }
        if let Some(batch) = params.get_u32("embedder.max_batch")? {
            if batch == 0 {
                return Err(bad("embedder.max_batch", "must be at least 1"));
            }
            pipeline.embedder.max_batch = batch as usize;
        }
        pipeline.match_threshold = f32_in(params, "match_threshold", pipeline.match_threshold, -1.0, 1.0)?;
        pipeline.runtime.provider = match params
            .get_str("execution_provider")?
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("auto") => Provider::Auto,
            Some("cpu") => Provider::Cpu,
            Some("cuda") => Provider::Cuda,
            Some("tensorrt") => Provider::Tensorrt,
            Some(other) => {
                return Err(bad(
                    "execution_provider",
                    format!("{other:?}: expected auto, cpu, cuda or tensorrt"),
                ))
            }
        };
        if let Some(threads) = params.get_u32("threads")? {
            pipeline.runtime.intra_threads = threads as usize;
        }
        if let Some(lib) = params.get_str("ort_library")?.filter(|s| !s.is_empty()) {
            pipeline.runtime.library = Some(PathBuf::from(lib));
        }
        if let Some(dir) = params.get_str("models_dir")?.filter(|s| !s.is_empty()) {
            pipeline.models_dir = Some(PathBuf::from(dir));
        }

        let gallery = match params.get_str("gallery")? {
            Some(p) if !p.trim().is_empty() => PathBuf::from(p),
            _ => default_gallery_path(&env_var),
        };

        let configured = params
            .get_str_array("cameras")?
            .unwrap_or_else(|| vec![DEFAULT_CAMERA.to_owned()]);
        if configured.is_empty() {
            return Err(bad("cameras", "at least one camera topic is needed"));
        }
        let mut cameras: Vec<CameraConfig> = Vec::with_capacity(configured.len());
        for name in configured {
            let topic = names.resolve(&name)?;
            if cameras.iter().any(|c| c.topic == topic) {
                return Err(bad(
                    "cameras",
                    format!("{name:?} resolves to {topic}, which is listed twice"),
                ));
            }
            let kind = CameraKind::for_topic(&topic);
            cameras.push(CameraConfig {
                configured: name,
                topic,
                kind,
            });
        }

        let workers = params.get_u32("workers")?.unwrap_or(1);
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(bad("workers", format!("{workers} is outside 1..={MAX_WORKERS}")));
        }

        let defaults = EnrollPolicy::default();
        let samples = params.get_u32("enroll.samples")?.unwrap_or(5);
        if !(1..=100).contains(&samples) {
            return Err(bad("enroll.samples", format!("{samples} is outside 1..=100")));
        }
        let enroll = EnrollDefaults {
            samples,
            timeout: Duration::from_secs_f64(positive_f64(params, "enroll.timeout_s", 10.0)?.min(3600.0)),
            policy: EnrollPolicy {
                min_face_px: f32_in(params, "enroll.min_face_px", defaults.min_face_px, 0.0, 10_000.0)?,
                dominance_ratio: f32_in(params, "enroll.dominance_ratio", defaults.dominance_ratio, 1.0, 100.0)?,
                min_sharpness: f32_in(params, "enroll.min_sharpness", defaults.min_sharpness, 0.0, 1.0e6)?,
            },
        };

        Ok(Self {
            pipeline,
            gallery,
            cameras,
            workers: workers as usize,
            publish_annotated: params.get_bool("publish_annotated")?.unwrap_or(false),
            enroll,
            diagnostics_period: Duration::from_secs_f64(
                positive_f64(params, "diagnostics_period_s", 1.0)?.clamp(0.05, 3600.0),
            ),
            service_mapping: env.service_mapping(params.get_str("service_mapping")?)?,
        })
    }

    /// Parameter names set but not read by the node (likely typos).
    pub fn unknown_parameters(params: &Params) -> Vec<String> {
        params
            .iter()
            .map(|(k, _)| k)
            .filter(|k| !KNOWN_PARAMETERS.contains(k))
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::params::RosArgs;
    use ros2_client::ParameterValue;

    fn env() -> RosEnv {
        RosEnv::from_lookup(|_| None).expect("empty env")
    }

    fn config(args: &str) -> Result<NodeConfig, ParamsError> {
        let args = RosArgs::parse(args.split_whitespace())?;
        let names = NameResolver::new(&args, "facerec", "/")?;
        let params = Params::for_node(&args, "facerec", &names.node_fqn())?;
        NodeConfig::from_params(&params, &names, &env(), |k| (k == "HOME").then(|| "/home/r".to_owned()))
    }

    #[test]
    fn defaults() {
        let c = config("").expect("defaults");
        assert_eq!(c.gallery, PathBuf::from("/home/r/.ros/facerec/gallery.yaml"));
        assert_eq!(
            c.cameras,
            vec![CameraConfig {
                configured: "camera/image_raw".into(),
                topic: "/camera/image_raw".into(),
                kind: CameraKind::Raw
            }]
        );
        assert_eq!(c.workers, 1);
        assert!(!c.publish_annotated);
        assert_eq!(c.pipeline.runtime.provider, Provider::Auto);
        assert_eq!(c.enroll.samples, 5);
        assert_eq!(c.diagnostics_period, Duration::from_secs(1));
        assert_eq!(c.service_mapping, ServiceMapping::Enhanced);
    }

    #[test]
    fn cameras_are_resolved_and_kinds_follow_the_topic() {
        let c = config(
            "--ros-args -r __ns:=/robot -r image_raw:=/head/image_raw \
             -p cameras:=[image_raw,/hand/image_raw/compressed,usb/compressed_stream] -p workers:=2 \
             -p execution_provider:=cpu -p detector.kind:=yunet -p match_threshold:=0.5 -p gallery:=/tmp/g.yaml \
             -p service_mapping:=cyclone -p publish_annotated:=true -p enroll.timeout_s:=3",
        )
        .expect("valid");
        let got: Vec<(&str, CameraKind)> = c.cameras.iter().map(|c| (c.topic.as_str(), c.kind)).collect();
        assert_eq!(
            got,
            vec![
                ("/head/image_raw", CameraKind::Raw),
                ("/hand/image_raw/compressed", CameraKind::Compressed),
                ("/robot/usb/compressed_stream", CameraKind::Raw),
            ]
        );
        assert_eq!(c.workers, 2);
        assert_eq!(c.pipeline.runtime.provider, Provider::Cpu);
        assert_eq!(c.pipeline.detector.kind, DetectorKind::Yunet);
        assert_eq!(c.pipeline.detector.model, PathBuf::from("yunet_2023mar.onnx"));
        assert!((c.pipeline.match_threshold - 0.5).abs() < 1e-6);
        assert_eq!(c.gallery, PathBuf::from("/tmp/g.yaml"));
        assert_eq!(c.service_mapping, ServiceMapping::Cyclone);
        assert!(c.publish_annotated);
        assert_eq!(c.enroll.timeout, Duration::from_secs(3));
    }

    #[test]
    fn bad_values_are_errors() {
        for bad in [
            "-p cameras:=[]",
            "-p cameras:=[a,/a]",
            "-p cameras:=[bad-name]",
            "-p workers:=0",
            "-p workers:=99",
            "-p execution_provider:=gpu",
            "-p detector.kind:=haar",
            "-p match_threshold:=2.0",
            "-p match_threshold:=high",
            "-p enroll.timeout_s:=-1",
            "-p enroll.samples:=0",
            "-p diagnostics_period_s:=0",
            "-p service_mapping:=zenoh",
            "-p publish_annotated:=1",
        ] {
            assert!(config(&format!("--ros-args {bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn shipped_params_file_is_read_completely() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/facerec.yaml");
        let args = RosArgs::parse([
            "--ros-args".to_owned(),
            "--params-file".to_owned(),
            path.display().to_string(),
        ])
        .expect("args");
        let names = NameResolver::new(&args, "facerec", "/robot").expect("names");
        let params = Params::for_node(&args, "facerec", &names.node_fqn()).expect("params file parses");
        assert_eq!(NodeConfig::unknown_parameters(&params), Vec::<String>::new());
        let c = NodeConfig::from_params(&params, &names, &env(), |_| None).expect("valid settings");
        assert_eq!(c.cameras[0].topic, "/robot/camera/image_raw");
    }

    #[test]
    fn unknown_parameters_are_listed() {
        let mut p = Params::default();
        p.set("workers", ParameterValue::Integer(1));
        p.set("detector.modle", ParameterValue::String("x".into()));
        assert_eq!(NodeConfig::unknown_parameters(&p), vec!["detector.modle".to_owned()]);
    }
}
