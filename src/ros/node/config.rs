//! The node's settings, read from its ROS parameters (params-file + `-p`, see `ros::params`):
//! which cameras to subscribe and how, where the gallery lives, the face pipeline
//! configuration, the worker count, outputs, enrolment defaults, diagnostics, and people over
//! time (the tracker per camera, anonymous strangers, careful learning).
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
use crate::frame::FrameLimits;
use crate::people::{AnonymousMode, PeopleConfig};
use crate::pipeline::{PipelineConfig, PipelineError};
use crate::ros::params::{NameResolver, Params, ParamsError, RosEnv};
use crate::runtime::Provider;
use crate::track::{TrackLimits, TrackerConfig};

use super::declared;

/// Every parameter the node reads. Others are reported as unknown (a warning, not an error).
pub const KNOWN_PARAMETERS: &[&str] = &[
    "cameras",
    "gallery",
    "workers",
    "publish_annotated",
    "max_image_megapixels",
    "diagnostics_period_s",
    "service_mapping",
    "match_threshold",
    "execution_provider",
    "threads",
    "ort_library",
    "tensorrt.fp16",
    "tensorrt.engine_cache_dir",
    "models_dir",
    "detector.kind",
    "detector.model",
    "detector.input_size",
    "detector.score_threshold",
    "detector.nms_iou",
    "detector.max_upscale",
    "detector.border_pad",
    "detector.close_face_fraction",
    "embedder.model",
    "embedder.max_batch",
    "embedder.bgr",
    "embedder.mean",
    "embedder.scale",
    "enroll.samples",
    "enroll.timeout_s",
    "enroll.min_face_px",
    "enroll.dominance_ratio",
    "enroll.min_sharpness",
    // People over time (issue 10): tracking, anonymous strangers, careful learning.
    "tracking.enabled",
    "tracking.confirm_hits",
    "tracking.max_miss_s",
    "tracking.reid_window_s",
    "tracking.max_tracks",
    "tracking.reembed_every",
    "anonymous.mode",
    "anonymous.expire_s",
    "learning.enabled",
    // Where faces are (issue 11): intrinsics, depth, TF; ROS4HRI output.
    "camera_info_topics",
    "depth_topics",
    "tf.enabled",
    "hri.enabled",
    // ROS's own (set by launch files for every node, declared by ros2-client): the node's clock
    // is `/clock`'s while true.
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
    /// Resolved `sensor_msgs/CameraInfo` topic of this camera (its intrinsics give faces a 3D
    /// position).
    pub camera_info: String,
    /// Resolved aligned depth image topic (`sensor_msgs/Image`, 16UC1 millimetres or 32FC1
    /// metres, the colour image's size), when configured.
    pub depth: Option<String>,
}

/// The `camera_info` topic beside an image topic, as image_transport and camera drivers name
/// it: `/ns/image_raw` and `/ns/image_raw/compressed` -> `/ns/camera_info`.
pub fn camera_info_beside(resolved_image: &str) -> String {
    let base = resolved_image.strip_suffix("/compressed").unwrap_or(resolved_image);
    match base.rsplit_once('/') {
        Some((ns, _)) => format!("{ns}/camera_info"),
        None => "camera_info".to_owned(),
    }
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
    /// Largest decoded image accepted from a camera or a request (`max_image_megapixels`).
    pub frame_limits: FrameLimits,
    pub enroll: EnrollDefaults,
    pub diagnostics_period: Duration,
    pub service_mapping: ServiceMapping,
    /// One tracker per camera with these settings; `None` (`tracking.enabled: false`): every
    /// frame is named on its own.
    pub tracking: Option<TrackerConfig>,
    /// Anonymous strangers and careful learning (used with tracking).
    pub people: PeopleConfig,
    /// Publish each located face as TF frame `face_<face id>` on `/tf` (live).
    pub tf: bool,
    /// Publish the ROS4HRI (REP-155) topics under `/humans/` (needs tracking).
    pub hri: bool,
    /// `use_sim_time` at start: the node subscribes `/clock` (rosgraph_msgs/Clock) and stamps
    /// with its time. ROS's parameter, changeable at run time like any node's.
    pub use_sim_time: bool,
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

// ---- Live parameters: read at start and by `ros2 param set` (node::live) with these same rules.

/// `match_threshold` when `params` gives it (checked by `PipelineConfig::validate`'s rule),
/// else `current`.
pub fn match_threshold(params: &Params, current: f32) -> Result<f32, ParamsError> {
    let Some(v) = params.get_f64("match_threshold")? else {
        return Ok(current);
    };
    let candidate = PipelineConfig {
        match_threshold: v as f32,
        ..PipelineConfig::default()
    };
    candidate.validate().map_err(pipeline_error)?;
    Ok(candidate.match_threshold)
}

/// The `enroll.*` settings `params` gives, the others from `base`.
pub fn enroll_defaults(params: &Params, base: &EnrollDefaults) -> Result<EnrollDefaults, ParamsError> {
    let samples = params.get_u32("enroll.samples")?.unwrap_or(base.samples);
    if !(1..=100).contains(&samples) {
        return Err(bad("enroll.samples", format!("{samples} is outside 1..=100")));
    }
    let timeout = match params.get_f64("enroll.timeout_s")? {
        None => base.timeout,
        Some(_) => Duration::from_secs_f64(positive_f64(params, "enroll.timeout_s", 10.0)?.min(3600.0)),
    };
    let p = &base.policy;
    Ok(EnrollDefaults {
        samples,
        timeout,
        policy: EnrollPolicy {
            min_face_px: f32_in(params, "enroll.min_face_px", p.min_face_px, 0.0, 10_000.0)?,
            dominance_ratio: f32_in(params, "enroll.dominance_ratio", p.dominance_ratio, 1.0, 100.0)?,
            min_sharpness: f32_in(params, "enroll.min_sharpness", p.min_sharpness, 0.0, 1.0e6)?,
        },
    })
}

/// A pipeline range error named by its parameter.
fn pipeline_error(e: PipelineError) -> ParamsError {
    match e {
        PipelineError::Invalid { field, message } => bad(
            if field == "runtime.intra_threads" {
                "threads"
            } else {
                field
            },
            message,
        ),
        other => bad("pipeline", other.to_string()),
    }
}

/// The `tracking.*` limits `params` gives, the others from `base`.
pub fn track_limits(params: &Params, base: &TrackLimits) -> Result<TrackLimits, ParamsError> {
    Ok(TrackLimits {
        confirm_hits: u32_in(params, "tracking.confirm_hits", base.confirm_hits, 1, 100)?,
        max_miss_ns: seconds_in(params, "tracking.max_miss_s", base.max_miss_ns, 0.01, 3600.0)?,
        reid_window_ns: seconds_in(params, "tracking.reid_window_s", base.reid_window_ns, 0.0, MAX_PEOPLE_S)?,
        max_tracks: u32_in(
            params,
            "tracking.max_tracks",
            u32::try_from(base.max_tracks).unwrap_or(u32::MAX),
            1,
            1024,
        )? as usize,
        reembed_every: u32_in(params, "tracking.reembed_every", base.reembed_every, 1, 1000)?,
    })
}

/// `learning.enabled` and `anonymous.expire_s` when `params` gives them, the rest of `base`.
pub fn people_live(params: &Params, base: &PeopleConfig) -> Result<PeopleConfig, ParamsError> {
    let mut out = base.clone();
    out.learning.enabled = params.get_bool("learning.enabled")?.unwrap_or(base.learning.enabled);
    out.anonymous_expire_ns = seconds_in(
        params,
        "anonymous.expire_s",
        base.anonymous_expire_ns,
        1.0,
        MAX_PEOPLE_S,
    )?;
    Ok(out)
}

// ---- end of live parameters

const NS_PER_S: f64 = 1e9;

/// Seconds as nanoseconds of frame stamps (`s` finite and at most a few days: no overflow).
fn ns(s: f64) -> i64 {
    (s * NS_PER_S).round() as i64
}

fn u32_in(params: &Params, name: &str, default: u32, lo: u32, hi: u32) -> Result<u32, ParamsError> {
    let v = params.get_u32(name)?.unwrap_or(default);
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(bad(name, format!("{v} is outside {lo}..={hi}")))
    }
}

fn seconds_in(params: &Params, name: &str, default_ns: i64, lo: f64, hi: f64) -> Result<i64, ParamsError> {
    match params.get_f64(name)? {
        None => Ok(default_ns),
        Some(v) if v.is_finite() && v >= lo && v <= hi => Ok(ns(v)),
        Some(v) => Err(bad(name, format!("{v} s is outside {lo}..={hi} s"))),
    }
}

/// Longest time settings of the tracker and the anonymous people accept: a week.
const MAX_PEOPLE_S: f64 = 7.0 * 24.0 * 3600.0;

/// The `tracking.*`, `anonymous.*` and `learning.*` parameters onto the library's settings.
/// `match_threshold` is the pipeline's (the tracker names with the same threshold).
fn people_settings(
    params: &Params,
    match_threshold: f32,
) -> Result<(Option<TrackerConfig>, PeopleConfig), ParamsError> {
    let mut tracker = TrackerConfig {
        match_threshold,
        ..TrackerConfig::default()
    };
    track_limits(params, &TrackLimits::of(&tracker))?.apply_to(&mut tracker);
    let tracking = params.get_bool("tracking.enabled")?.unwrap_or(true).then_some(tracker);
    let p = PeopleConfig::default();
    let anonymous = match params.get_str("anonymous.mode")? {
        None => p.anonymous,
        // "memory" as the issue spells it; the library's name is in_memory.
        Some("memory") => AnonymousMode::InMemory,
        Some(m) => m.parse().map_err(|e: String| bad("anonymous.mode", e))?,
    };
    let people = people_live(params, &PeopleConfig { anonymous, ..p })?;
    Ok((tracking, people))
}

/// `hri.enabled`: REP-155's face ids are tracks, so it needs tracking.
fn hri_enabled(params: &Params, tracking: bool) -> Result<bool, ParamsError> {
    let hri = params.get_bool("hri.enabled")?.unwrap_or(false);
    if hri && !tracking {
        return Err(bad(
            "hri.enabled",
            "the ROS4HRI faces are the tracker's tracks: set tracking.enabled to true, or hri.enabled to false",
        ));
    }
    Ok(hri)
}

impl NodeConfig {
    /// Reads the node's parameters; those not given take their built-in defaults
    /// (`declared::DECLARED`, equal to config/facerec.yaml). `env_var` looks up environment
    /// variables (for the default gallery path).
    pub fn from_params(
        params: &Params,
        names: &NameResolver,
        env: &RosEnv,
        env_var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ParamsError> {
        let params = &declared::with_defaults(params);
        let mut pipeline = PipelineConfig::default();
        if let Some(kind) = params.get_str("detector.kind")? {
            let kind = DetectorKind::from_name(kind).ok_or_else(|| {
                bad(
                    "detector.kind",
                    format!("{kind:?}: expected retinaface, retinaface_mnv2, yunet or scrfd"),
                )
            })?;
            pipeline = pipeline.with_detector(kind);
        }
        if let Some(model) = params.get_str("detector.model")? {
            pipeline.detector.model = PathBuf::from(model);
        }
        if let Some(size) = params.get_u32("detector.input_size")? {
            pipeline.detector.input_size = size;
        }
        if let Some(v) = params.get_f64("detector.score_threshold")? {
            pipeline.detector.score_threshold = v as f32;
        }
        if let Some(v) = params.get_f64("detector.nms_iou")? {
            pipeline.detector.nms_iou = v as f32;
        }
        // Unset, these three keep the defaults of the chosen detector kind (YuNet and SCRFD
        // take the bordered pass, RetinaFace does not); `Pipeline::new` checks their ranges.
        if let Some(v) = params.get_f64("detector.max_upscale")? {
            pipeline.detector.max_upscale = v as f32;
        }
        if let Some(v) = params.get_f64("detector.border_pad")? {
            pipeline.detector.border_pad = v as f32;
        }
        if let Some(v) = params.get_f64("detector.close_face_fraction")? {
            pipeline.detector.close_face_fraction = v as f32;
        }
        if let Some(model) = params.get_str("embedder.model")? {
            pipeline.embedder.model = PathBuf::from(model);
        }
        if let Some(batch) = params.get_u32("embedder.max_batch")? {
            pipeline.embedder.max_batch = batch as usize;
        }
        if let Some(bgr) = params.get_bool("embedder.bgr")? {
            pipeline.embedder.bgr = bgr;
        }
        if let Some(v) = params.get_f64("embedder.mean")? {
            pipeline.embedder.mean = v as f32;
        }
        if let Some(v) = params.get_f64("embedder.scale")? {
            pipeline.embedder.scale = v as f32;
        }
        pipeline.match_threshold = match_threshold(params, pipeline.match_threshold)?;
        pipeline.runtime.provider = match params.get_str("execution_provider")? {
            None => Provider::Cpu,
            Some(name) => name
                .parse()
                .map_err(|e: crate::runtime::RuntimeError| bad("execution_provider", e.to_string()))?,
        };
        if let Some(threads) = params.get_u32("threads")? {
            pipeline.runtime.intra_threads = threads as usize;
        }
        if let Some(lib) = params.get_str("ort_library")?.filter(|s| !s.is_empty()) {
            pipeline.runtime.library = Some(PathBuf::from(lib));
        }
        if let Some(fp16) = params.get_bool("tensorrt.fp16")? {
            pipeline.runtime.tensorrt_fp16 = fp16;
        }
        if let Some(dir) = params.get_str("tensorrt.engine_cache_dir")?.filter(|s| !s.is_empty()) {
            pipeline.runtime.tensorrt_cache_dir = Some(PathBuf::from(dir));
        }
        if let Some(dir) = params.get_str("models_dir")?.filter(|s| !s.is_empty()) {
            pipeline.models_dir = Some(PathBuf::from(dir));
        }
        // The same range rules as YAML files and command-line flags, named by the parameter.
        pipeline.validate().map_err(pipeline_error)?;

        let (tracking, people) = people_settings(params, pipeline.match_threshold)?;

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
        let per_camera = |param: &str| -> Result<Vec<String>, ParamsError> {
            // All empty (the default [""]): every camera takes the default.
            let given: Vec<String> = params
                .get_str_array(param)?
                .filter(|v| v.iter().any(|t| !t.is_empty()))
                .unwrap_or_default();
            if !given.is_empty() && given.len() != configured.len() {
                return Err(bad(
                    param,
                    format!(
                        "{} entries for {} cameras: give one per camera (\"\" for the default) or none",
                        given.len(),
                        configured.len()
                    ),
                ));
            }
            Ok(given)
        };
        let info_topics = per_camera("camera_info_topics")?;
        let depth_topics = per_camera("depth_topics")?;
        let mut cameras: Vec<CameraConfig> = Vec::with_capacity(configured.len());
        for (i, name) in configured.into_iter().enumerate() {
            let topic = names.resolve(&name)?;
            if cameras.iter().any(|c| c.topic == topic) {
                return Err(bad(
                    "cameras",
                    format!("{name:?} resolves to {topic}, which is listed twice"),
                ));
            }
            let kind = CameraKind::for_topic(&topic);
            let camera_info = match info_topics.get(i).filter(|t| !t.is_empty()) {
                Some(t) => names.resolve(t)?,
                None => camera_info_beside(&topic),
            };
            let depth = match depth_topics.get(i).filter(|t| !t.is_empty()) {
                Some(t) => Some(names.resolve(t)?),
                None => None,
            };
            cameras.push(CameraConfig {
                configured: name,
                topic,
                kind,
                camera_info,
                depth,
            });
        }

        let workers = params.get_u32("workers")?.unwrap_or(1);
        if !(1..=MAX_WORKERS).contains(&workers) {
            return Err(bad("workers", format!("{workers} is outside 1..={MAX_WORKERS}")));
        }

        let enroll = enroll_defaults(
            params,
            &EnrollDefaults {
                samples: 5,
                timeout: Duration::from_secs(10),
                policy: EnrollPolicy::default(),
            },
        )?;

        Ok(Self {
            pipeline,
            gallery,
            cameras,
            workers: workers as usize,
            publish_annotated: params.get_bool("publish_annotated")?.unwrap_or(false),
            frame_limits: FrameLimits {
                max_pixels: (f64::from(f32_in(
                    params,
                    "max_image_megapixels",
                    FrameLimits::DEFAULT_MAX_PIXELS as f32 / 1e6,
                    0.01,
                    (crate::frame::MAX_SIDE as f32).powi(2) / 1e6,
                )?) * 1e6)
                    .round() as u64,
            },
            enroll,
            diagnostics_period: Duration::from_secs_f64(
                positive_f64(params, "diagnostics_period_s", 1.0)?.clamp(0.05, 3600.0),
            ),
            service_mapping: env.service_mapping(params.get_str("service_mapping")?)?,
            tf: params.get_bool("tf.enabled")?.unwrap_or(false),
            hri: hri_enabled(params, tracking.is_some())?,
            use_sim_time: params.get_bool("use_sim_time")?.unwrap_or(false),
            tracking,
            people,
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
                kind: CameraKind::Raw,
                camera_info: "/camera/camera_info".into(),
                depth: None,
            }]
        );
        assert!(!c.tf && !c.hri);
        assert_eq!(c.workers, 1);
        assert!(!c.publish_annotated);
        assert_eq!(c.pipeline.runtime.provider, Provider::Cpu, "as in config/facerec.yaml");
        assert_eq!(c.enroll.samples, 5);
        assert_eq!(c.diagnostics_period, Duration::from_secs(1));
        assert_eq!(c.service_mapping, ServiceMapping::Enhanced);
        let t = c.tracking.expect("tracking on by default");
        let d = TrackerConfig::default();
        assert_eq!(
            (
                t.confirm_hits,
                t.max_miss_ns,
                t.reid_window_ns,
                t.max_tracks,
                t.reembed_every
            ),
            (
                d.confirm_hits,
                d.max_miss_ns,
                d.reid_window_ns,
                d.max_tracks,
                d.reembed_every
            )
        );
        assert!((t.match_threshold - c.pipeline.match_threshold).abs() < 1e-9);
        assert_eq!(c.people.anonymous, AnonymousMode::Off);
        assert_eq!(
            c.people.anonymous_expire_ns,
            PeopleConfig::default().anonymous_expire_ns
        );
        assert!(!c.people.learning.enabled);
    }

    #[test]
    fn people_parameters() {
        let c = config(
            "--ros-args -p tracking.confirm_hits:=2 -p tracking.max_miss_s:=0.5 -p tracking.reid_window_s:=0.0 \
             -p tracking.max_tracks:=8 -p tracking.reembed_every:=1 -p anonymous.mode:=persisted \
             -p anonymous.expire_s:=60.0 -p learning.enabled:=true -p match_threshold:=0.5",
        )
        .expect("valid");
        let t = c.tracking.expect("tracking");
        assert_eq!(
            (
                t.confirm_hits,
                t.max_miss_ns,
                t.reid_window_ns,
                t.max_tracks,
                t.reembed_every
            ),
            (2, 500_000_000, 0, 8, 1)
        );
        assert!((t.match_threshold - 0.5).abs() < 1e-6);
        assert_eq!(c.people.anonymous, AnonymousMode::Persisted);
        assert_eq!(c.people.anonymous_expire_ns, 60_000_000_000);
        assert!(c.people.learning.enabled);
        let c = config("--ros-args -p tracking.enabled:=false -p anonymous.mode:=memory").expect("valid");
        assert!(c.tracking.is_none());
        assert_eq!(c.people.anonymous, AnonymousMode::InMemory);
        for bad in [
            "-p tracking.confirm_hits:=0",
            "-p tracking.max_miss_s:=0.0",
            "-p tracking.max_miss_s:=-1.0",
            "-p tracking.reid_window_s:=-1.0",
            "-p tracking.max_tracks:=0",
            "-p tracking.reembed_every:=0",
            "-p tracking.enabled:=1",
            "-p anonymous.mode:=forever",
            "-p anonymous.expire_s:=0.0",
            "-p learning.enabled:=yes",
        ] {
            let err = config(&format!("--ros-args {bad}")).expect_err(bad);
            let name = bad.trim_start_matches("-p ").split(":=").next().expect("name");
            assert!(err.to_string().contains(name), "{bad}: {err}");
        }
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
        // Unset front-end settings take the chosen kind's defaults (YuNet: one pass, no
        // enlarging, as RetinaFace; SCRFD's bordered pass below).
        assert!(c.pipeline.detector.border_pad.abs() < 1e-6);
        assert!((c.pipeline.detector.max_upscale - 1.0).abs() < 1e-6);
        // CameraInfo beside each image topic (compressed or not), no depth.
        let info: Vec<&str> = c.cameras.iter().map(|c| c.camera_info.as_str()).collect();
        assert_eq!(
            info,
            ["/head/camera_info", "/hand/camera_info", "/robot/usb/camera_info"]
        );
        assert!(c.cameras.iter().all(|c| c.depth.is_none()));
    }

    #[test]
    fn camera_info_and_depth_topics_are_given_per_camera() {
        let c = config(
            "--ros-args -r __ns:=/robot -p cameras:=[a/image_raw,b/image_raw] \
             -p camera_info_topics:=['',/calib/b] -p depth_topics:=[a/depth/image_raw,''] \
             -p tf.enabled:=true -p hri.enabled:=true",
        )
        .expect("valid");
        let info: Vec<&str> = c.cameras.iter().map(|c| c.camera_info.as_str()).collect();
        assert_eq!(info, ["/robot/a/camera_info", "/calib/b"]);
        let depth: Vec<Option<&str>> = c.cameras.iter().map(|c| c.depth.as_deref()).collect();
        assert_eq!(depth, [Some("/robot/a/depth/image_raw"), None]);
        assert!(c.tf && c.hri);
        // One entry for two cameras is ambiguous; hri needs tracking.
        for bad in [
            "-p cameras:=[a,b] -p depth_topics:=[d]",
            "-p cameras:=[a,b] -p camera_info_topics:=[x,y,z]",
            "-p hri.enabled:=true -p tracking.enabled:=false",
            "-p tf.enabled:=1",
        ] {
            assert!(config(&format!("--ros-args {bad}")).is_err(), "{bad}");
        }
    }

    #[test]
    fn detector_front_end_params_override_the_kind_defaults() {
        let c = config(
            "--ros-args -p detector.kind:=scrfd -p detector.border_pad:=0.1 -p detector.max_upscale:=2.0 \
             -p detector.close_face_fraction:=0.4",
        )
        .expect("valid");
        assert_eq!(c.pipeline.detector.kind, DetectorKind::Scrfd);
        assert_eq!(c.pipeline.detector.model, PathBuf::from("research/scrfd_2.5g_kps.onnx"));
        assert!((c.pipeline.detector.border_pad - 0.1).abs() < 1e-6);
        assert!((c.pipeline.detector.max_upscale - 2.0).abs() < 1e-6);
        assert!((c.pipeline.detector.close_face_fraction - 0.4).abs() < 1e-6);
        let retina = config("--ros-args").expect("valid");
        assert!(retina.pipeline.detector.border_pad.abs() < 1e-6);
        let scrfd = config("--ros-args -p detector.kind:=scrfd").expect("valid");
        assert!((scrfd.pipeline.detector.border_pad - 0.25).abs() < 1e-6);
        // Out-of-range values are refused by the pipeline's own checks, named by parameter.
        match config("--ros-args -p detector.border_pad:=3.0") {
            Err(ParamsError::BadParameter { name, why }) => {
                assert_eq!(name, "detector.border_pad");
                assert!(why.contains("outside"), "{why}");
            }
            other => panic!("border_pad 3 accepted or wrong error: {other:?}"),
        }
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

    // ---- Declared parameters and their defaults (issue 11, fault 5).

    fn shipped_params() -> Params {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/facerec.yaml");
        let args = RosArgs::parse([
            "--ros-args".to_owned(),
            "--params-file".to_owned(),
            path.display().to_string(),
        ])
        .expect("args");
        Params::for_node(&args, "facerec", "/facerec").expect("params file parses")
    }

    #[test]
    fn built_in_defaults_equal_the_shipped_params_file() {
        let shipped = shipped_params();
        for (name, value) in shipped.iter() {
            let d = declared::find(name).unwrap_or_else(|| panic!("{name} in config/facerec.yaml is not declared"));
            assert_eq!(
                &d.default.to_parameter(),
                value,
                "{name}: built-in default vs config/facerec.yaml"
            );
        }
        for d in declared::DECLARED {
            assert!(
                shipped.get(d.name).is_some(),
                "{} is declared but missing from config/facerec.yaml",
                d.name
            );
        }
    }

    #[test]
    fn use_sim_time_is_a_boolean_off_by_default() {
        assert!(!config("").expect("defaults").use_sim_time);
        assert!(config("--ros-args -p use_sim_time:=true").expect("valid").use_sim_time);
        assert!(!config("--ros-args -p use_sim_time:=false").expect("valid").use_sim_time);
        // As rclcpp: a value of another type is refused (ros2-client would refuse it too).
        assert!(config("--ros-args -p use_sim_time:=1").is_err());
    }

    #[test]
    fn runtime_params_reach_the_pipeline() {
        let c = config("--ros-args -p threads:=1 -p tensorrt.fp16:=true -p tensorrt.engine_cache_dir:=/tmp/trt")
            .expect("valid");
        assert_eq!(c.pipeline.runtime.intra_threads, 1);
        assert!(c.pipeline.runtime.tensorrt_fp16);
        assert_eq!(c.pipeline.runtime.tensorrt_cache_dir, Some(PathBuf::from("/tmp/trt")));
        assert!(config("--ros-args -p tensorrt.fp16:=3").is_err());
    }

    #[test]
    fn every_known_parameter_is_declared() {
        let mut known: Vec<&str> = KNOWN_PARAMETERS
            .iter()
            .copied()
            .filter(|n| *n != "use_sim_time")
            .collect();
        let mut declared: Vec<&str> = declared::DECLARED.iter().map(|d| d.name).collect();
        known.sort_unstable();
        declared.sort_unstable();
        assert_eq!(known, declared);
    }

    #[test]
    fn built_in_defaults_are_the_library_defaults() {
        let c = config("").expect("defaults");
        let lib = PipelineConfig::default();
        assert_eq!(c.pipeline.match_threshold, lib.match_threshold);
        assert_eq!(c.pipeline.runtime.provider, lib.runtime.provider);
        assert_eq!(c.pipeline.runtime.intra_threads, lib.runtime.intra_threads);
        assert_eq!(c.pipeline.detector.kind, lib.detector.kind);
        assert_eq!(c.pipeline.detector.model, lib.detector.model);
        assert_eq!(c.pipeline.detector.input_size, lib.detector.input_size);
        assert_eq!(c.pipeline.detector.score_threshold, lib.detector.score_threshold);
        assert_eq!(c.pipeline.detector.nms_iou, lib.detector.nms_iou);
        assert_eq!(c.pipeline.embedder.model, lib.embedder.model);
        assert_eq!(c.pipeline.embedder.max_batch, lib.embedder.max_batch);
        assert_eq!(c.pipeline.embedder.bgr, lib.embedder.bgr);
        assert_eq!(c.pipeline.embedder.mean, lib.embedder.mean);
        assert_eq!(c.pipeline.embedder.scale, lib.embedder.scale);
        assert_eq!(c.pipeline.models_dir, None);
        assert_eq!(c.pipeline.runtime.library, None);
        let policy = EnrollPolicy::default();
        assert_eq!(c.enroll.policy.min_face_px, policy.min_face_px);
        assert_eq!(c.enroll.policy.dominance_ratio, policy.dominance_ratio);
        assert_eq!(c.enroll.policy.min_sharpness, policy.min_sharpness);
        assert_eq!(c.enroll.timeout, Duration::from_secs(10));
        assert_eq!(c.frame_limits.max_pixels, FrameLimits::DEFAULT_MAX_PIXELS);
    }

    #[test]
    fn a_partial_params_file_keeps_the_other_shipped_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mine.yaml");
        std::fs::write(
            &path,
            "/**:\n  ros__parameters:\n    match_threshold: 0.5\n    detector:\n      kind: yunet\n    enroll:\n      samples: 1\n",
        )
        .expect("write");
        let c = config(&format!("--ros-args --params-file {}", path.display())).expect("valid");
        assert_eq!(
            c.pipeline.runtime.provider,
            Provider::Cpu,
            "shipped execution_provider kept"
        );
        assert!((c.pipeline.match_threshold - 0.5).abs() < 1e-6);
        assert_eq!(
            c.pipeline.detector.model,
            PathBuf::from("yunet_2023mar.onnx"),
            "the kind's model"
        );
        assert_eq!(c.enroll.samples, 1);
        assert_eq!(c.enroll.timeout, Duration::from_secs(10));
        let args = RosArgs::parse([
            "--ros-args".to_owned(),
            "--params-file".to_owned(),
            path.display().to_string(),
        ])
        .expect("args");
        let effective = declared::with_defaults(&Params::for_node(&args, "facerec", "/facerec").expect("params"));
        assert_eq!(
            effective.get("detector.model"),
            Some(&ParameterValue::String("yunet_2023mar.onnx".into()))
        );
        assert_eq!(
            effective.get("execution_provider"),
            Some(&ParameterValue::String("cpu".into()))
        );
        for d in declared::DECLARED {
            assert!(effective.get(d.name).is_some(), "{} has a value", d.name);
        }
    }

    #[test]
    fn declared_values_keep_their_types() {
        let args = RosArgs::parse("--ros-args -p match_threshold:=1 -p cameras:=/a/image_raw".split_whitespace())
            .expect("args");
        let p = declared::with_defaults(&Params::for_node(&args, "facerec", "/facerec").expect("params"));
        assert_eq!(p.get("match_threshold"), Some(&ParameterValue::Double(1.0)));
        assert_eq!(
            p.get("cameras"),
            Some(&ParameterValue::StringArray(vec!["/a/image_raw".into()]))
        );
        assert_eq!(declared::with_defaults(&p), p, "idempotent");
    }

    #[test]
    fn described_ranges_are_the_checks() {
        for d in declared::DECLARED {
            let set = |v: ParameterValue| {
                let mut p = Params::default();
                p.set(d.name, v);
                let names = NameResolver::new(&RosArgs::default(), "facerec", "/").expect("names");
                NodeConfig::from_params(&p, &names, &env(), |_| None)
            };
            match d.range {
                declared::Range::Any => {}
                declared::Range::Int(lo, hi) => {
                    set(ParameterValue::Integer(lo)).unwrap_or_else(|e| panic!("{} = {lo}: {e}", d.name));
                    set(ParameterValue::Integer(hi)).unwrap_or_else(|e| panic!("{} = {hi}: {e}", d.name));
                    assert!(set(ParameterValue::Integer(lo - 1)).is_err(), "{} below", d.name);
                    assert!(set(ParameterValue::Integer(hi + 1)).is_err(), "{} above", d.name);
                }
                declared::Range::Double(lo, hi) => {
                    set(ParameterValue::Double(lo)).unwrap_or_else(|e| panic!("{} = {lo}: {e}", d.name));
                    set(ParameterValue::Double(hi)).unwrap_or_else(|e| panic!("{} = {hi}: {e}", d.name));
                    let step = (hi - lo) * 1e-3;
                    assert!(set(ParameterValue::Double(lo - step)).is_err(), "{} below", d.name);
                    assert!(set(ParameterValue::Double(hi + step)).is_err(), "{} above", d.name);
                }
            }
        }
    }

    // ---- end of declared parameters

    #[test]
    fn unknown_parameters_are_listed() {
        let mut p = Params::default();
        p.set("workers", ParameterValue::Integer(1));
        p.set("detector.modle", ParameterValue::String("x".into()));
        assert_eq!(NodeConfig::unknown_parameters(&p), vec!["detector.modle".to_owned()]);
    }
}
