//! One frame's way through the library: detect -> align -> embed -> match, with the time spent
//! in each stage. The CLI, the node, replay, evaluation and the benchmarks all call this, so they
//! measure and test the same code. Also owns the pipeline configuration and model lookup.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::align;
use crate::detect::{DetectError, Detection, Detector, DetectorConfig, DetectorKind};
use crate::embed::{EmbedError, Embedder, EmbedderConfig, Embedding};
use crate::frame::Frame;
use crate::gallery::{Gallery, ModelTag};
use crate::runtime::{file_sha256, Runtime, RuntimeConfig, RuntimeError};
use crate::track::{Observation, TrackedFace, Tracker};

/// Cosine similarity above which a face is given a gallery name. Calibrated with
/// `facerec eval identify` on LFW DevTest (RetinaFace + SFace, 496 people enrolled from one photo
/// each): the lowest threshold that names at most 1 % of strangers (0.454, rounded up). The
/// accuracy-optimal threshold for a single pair comparison is lower (0.364); see docs/ACCURACY.md.
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.455;

/// Smallest and largest detector input side accepted, pixels.
pub const MIN_DETECTOR_INPUT_PX: u32 = 32;
pub const MAX_DETECTOR_INPUT_PX: u32 = 4096;
/// Largest embedder batch accepted.
pub const MAX_EMBEDDER_BATCH: usize = 256;
/// Most ONNX Runtime intra-op threads accepted.
pub const MAX_INTRA_THREADS: usize = 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Where relative model paths are looked up first.
    pub models_dir: Option<PathBuf>,
    pub runtime: RuntimeConfig,
    pub detector: DetectorConfig,
    pub embedder: EmbedderConfig,
    /// Minimum cosine similarity for a name; below it the face is `unknown`.
    pub match_threshold: f32,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            models_dir: None,
            runtime: RuntimeConfig::default(),
            detector: DetectorConfig::default(),
            embedder: EmbedderConfig::default(),
            match_threshold: DEFAULT_MATCH_THRESHOLD,
        }
    }
}

impl PipelineConfig {
    /// Reads a YAML pipeline configuration file.
    pub fn from_yaml_file(path: &Path) -> Result<Self, PipelineError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| PipelineError::Config(format!("cannot read {}: {e}", path.display())))?;
        serde_yaml_ng::from_str(&text).map_err(|e| {
            let line = e.location().map_or(0, |l| l.line());
            PipelineError::Config(format!("{} line {line}: {e}", path.display()))
        })
    }

    /// Checks every setting's range. [`Pipeline::new`] calls it, so a configuration from YAML,
    /// command-line flags or ROS parameters is held to the same rules; the error names the
    /// setting by its YAML path (`detector.score_threshold`).
    pub fn validate(&self) -> Result<(), PipelineError> {
        let invalid = |field: &'static str, message: String| Err(PipelineError::Invalid { field, message });
        let unit = |field: &'static str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                invalid(field, format!("{v} is outside {lo}..={hi}"))
            }
        };
        unit("match_threshold", self.match_threshold, -1.0, 1.0)?;
        unit("detector.score_threshold", self.detector.score_threshold, 0.0, 1.0)?;
        unit("detector.nms_iou", self.detector.nms_iou, 0.0, 1.0)?;
        unit("detector.max_upscale", self.detector.max_upscale, 0.1, 8.0)?;
        unit("detector.border_pad", self.detector.border_pad, 0.0, 1.0)?;
        unit(
            "detector.close_face_fraction",
            self.detector.close_face_fraction,
            0.05,
            1.0,
        )?;
        if !(MIN_DETECTOR_INPUT_PX..=MAX_DETECTOR_INPUT_PX).contains(&self.detector.input_size) {
            return invalid(
                "detector.input_size",
                format!(
                    "{} is outside {MIN_DETECTOR_INPUT_PX}..={MAX_DETECTOR_INPUT_PX}",
                    self.detector.input_size
                ),
            );
        }
        if !(1..=MAX_EMBEDDER_BATCH).contains(&self.embedder.max_batch) {
            return invalid(
                "embedder.max_batch",
                format!("{} is outside 1..={MAX_EMBEDDER_BATCH}", self.embedder.max_batch),
            );
        }
        if !self.embedder.mean.is_finite() || !(0.0..=255.0).contains(&self.embedder.mean) {
            return invalid("embedder.mean", format!("{} is outside 0..=255", self.embedder.mean));
        }
        if !self.embedder.scale.is_finite() || self.embedder.scale <= 0.0 {
            return invalid(
                "embedder.scale",
                format!("{} must be a positive number", self.embedder.scale),
            );
        }
        if self.runtime.intra_threads > MAX_INTRA_THREADS {
            return invalid(
                "runtime.intra_threads",
                format!("{} is above {MAX_INTRA_THREADS}", self.runtime.intra_threads),
            );
        }
        for (field, path) in [
            ("detector.model", &self.detector.model),
            ("embedder.model", &self.embedder.model),
        ] {
            if path.as_os_str().is_empty() {
                return invalid(field, "is empty".to_owned());
            }
        }
        Ok(())
    }

    /// Switches the detector, keeping its other settings at that kind's defaults.
    pub fn with_detector(mut self, kind: DetectorKind) -> Self {
        if self.detector.kind != kind {
            let threshold = self.detector.score_threshold;
            self.detector = DetectorConfig {
                score_threshold: threshold,
                ..DetectorConfig::for_kind(kind)
            };
        }
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Detect(#[from] DetectError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("model file '{name}' not found; looked in: {tried}")]
    ModelNotFound { name: String, tried: String },
    #[error("configuration: {0}")]
    Config(String),
    #[error("configuration: {field} {message}")]
    Invalid { field: &'static str, message: String },
}

/// Directories searched for models given by a relative path: the configured one,
/// `FACEREC_MODELS_DIR`, the installed package's `share/facerec/models`, `./models`, then beside
/// the executable.
pub fn model_dirs(configured: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    dirs.extend(configured.map(Path::to_path_buf));
    if let Some(env) = std::env::var_os("FACEREC_MODELS_DIR") {
        dirs.push(PathBuf::from(env));
    }
    // The installed ROS package's share/facerec/models, found as ROS finds package files
    // (through AMENT_PREFIX_PATH, also when the node is a symlink into cargo's target folder).
    for prefix in crate::runtime::process_install_prefixes() {
        dirs.push(prefix.join("share").join(crate::runtime::ROS_PACKAGE).join("models"));
    }
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd.join("models"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            // A cargo build (target/<profile>/) or an installed ROS package (lib/facerec/).
            dirs.push(dir.join("models"));
            dirs.push(dir.join("share").join("facerec").join("models"));
        }
    }
    dirs.dedup();
    dirs
}

/// Resolves a model path: as given when it exists, else under the model directories.
pub fn resolve_model(path: &Path, configured_dir: Option<&Path>) -> Result<PathBuf, PipelineError> {
    if path.is_absolute() || path.exists() {
        return if path.exists() {
            Ok(path.to_path_buf())
        } else {
            Err(PipelineError::ModelNotFound {
                name: path.display().to_string(),
                tried: path.display().to_string(),
            })
        };
    }
    let dirs = model_dirs(configured_dir);
    dirs.iter()
        .map(|d| d.join(path))
        .find(|p| p.is_file())
        .ok_or_else(|| PipelineError::ModelNotFound {
            name: path.display().to_string(),
            tried: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Time spent per stage on one frame.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StageTimings {
    /// Resize and tensor conversion for the detector.
    #[serde(serialize_with = "ms")]
    pub detect_preprocess: Duration,
    /// Detector ONNX Runtime call.
    #[serde(serialize_with = "ms")]
    pub detect_inference: Duration,
    /// Detector output decoding and NMS.
    #[serde(serialize_with = "ms")]
    pub detect_postprocess: Duration,
    /// Similarity fits and warps of every face.
    #[serde(serialize_with = "ms")]
    pub align: Duration,
    /// Embedder, whole stage (tensor fill + run + normalisation).
    #[serde(serialize_with = "ms")]
    pub embed: Duration,
    /// Embedder ONNX Runtime calls only.
    #[serde(serialize_with = "ms")]
    pub embed_inference: Duration,
    /// Gallery matching of every face.
    #[serde(serialize_with = "ms")]
    pub matching: Duration,
    /// Detector passes over the frame: 1, or 2 when the bordered pass ran for a close or cut face
    /// (a count, so not among the serialised milliseconds).
    #[serde(skip)]
    pub detect_passes: u32,
}

impl StageTimings {
    /// Sum of all stages.
    pub fn total(&self) -> Duration {
        self.detect_preprocess
            + self.detect_inference
            + self.detect_postprocess
            + self.align
            + self.embed
            + self.matching
    }

    /// Time inside ONNX Runtime calls.
    pub fn inference(&self) -> Duration {
        self.detect_inference + self.embed_inference
    }
}

fn ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}

/// A detected, aligned and embedded face.
#[derive(Debug, Clone)]
pub struct Face {
    pub detection: Detection,
    pub embedding: Embedding,
}

/// What a pipeline call found, one entry per face, with the time each stage took.
#[derive(Debug, Clone)]
pub struct Timed<T> {
    pub faces: Vec<T>,
    pub timings: StageTimings,
}

/// The name a gallery gives one embedding ([`identify`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The best match's name when its score reaches the threshold, else `unknown`.
    pub name: String,
    /// Cosine similarity with the best gallery match (0 when the gallery is empty).
    pub score: f32,
    /// Best match's lead over the runner-up person (0 when the gallery is empty).
    pub margin: f32,
    /// Best gallery match even when below the threshold (`None` when the gallery is empty).
    pub best_candidate: Option<String>,
}

/// A face with the name the gallery gives it.
///
/// As JSON (`facerec identify --json`) the two scores have distinct names: `identity_score`
/// (the similarity behind `name`, also written as `score`) and `detector_score` (the
/// detector's confidence), beside `name`, `margin`, `best_candidate`, `bbox` and `landmarks`.
#[derive(Debug, Clone)]
pub struct Recognition {
    /// Person's name, or `unknown`.
    pub name: String,
    /// Cosine similarity with the best gallery match (0 when the gallery is empty).
    pub score: f32,
    /// Best match's lead over the runner-up person.
    pub margin: f32,
    /// Best gallery match even when below the threshold.
    pub best_candidate: Option<String>,
    pub detection: Detection,
}

/// [`Recognition`]'s JSON record. The detection used to be flattened into it, so its `score`
/// (the detector's) overwrote the identity score under the same key.
#[derive(Serialize)]
struct RecognitionRecord<'a> {
    name: &'a str,
    identity_score: f32,
    score: f32,
    margin: f32,
    best_candidate: Option<&'a str>,
    detector_score: f32,
    bbox: &'a crate::detect::BBox,
    landmarks: &'a [crate::detect::Point; 5],
}

impl Serialize for Recognition {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RecognitionRecord {
            name: &self.name,
            identity_score: self.score,
            score: self.score,
            margin: self.margin,
            best_candidate: self.best_candidate.as_deref(),
            detector_score: self.detection.score,
            bbox: &self.detection.bbox,
            landmarks: &self.detection.landmarks,
        }
        .serialize(s)
    }
}

/// Names a vector against a gallery with a threshold.
pub fn identify(gallery: &Gallery, embedding: &[f32], threshold: f32) -> Identity {
    match gallery.best_match(embedding) {
        Some(m) => Identity {
            name: if m.score >= threshold {
                m.name.clone()
            } else {
                crate::UNKNOWN.to_owned()
            },
            score: m.score,
            margin: m.margin(),
            best_candidate: Some(m.name),
        },
        None => Identity {
            name: crate::UNKNOWN.to_owned(),
            score: 0.0,
            margin: 0.0,
            best_candidate: None,
        },
    }
}

/// Detector, embedder and the settings that join them.
pub struct Pipeline {
    runtime: Runtime,
    detector: Detector,
    embedder: Embedder,
    model_tag: ModelTag,
    config: PipelineConfig,
}

impl Pipeline {
    /// Loads the runtime and both models (warming them up) from a configuration.
    pub fn new(config: PipelineConfig) -> Result<Self, PipelineError> {
        config.validate()?;
        let runtime = Runtime::new(config.runtime.clone())?;
        Self::with_runtime(runtime, config)
    }

    /// As `new`, sharing an already loaded runtime.
    pub fn with_runtime(runtime: Runtime, mut config: PipelineConfig) -> Result<Self, PipelineError> {
        config.validate()?;
        let dir = config.models_dir.clone();
        config.detector.model = resolve_model(&config.detector.model, dir.as_deref())?;
        config.embedder.model = resolve_model(&config.embedder.model, dir.as_deref())?;
        let detector = Detector::new(&runtime, config.detector.clone())?;
        let embedder = Embedder::new(&runtime, config.embedder.clone())?;
        let model_tag = ModelTag {
            file: config
                .embedder
                .model
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: file_sha256(&config.embedder.model)?,
            dim: embedder.dim(),
        };
        tracing::info!(
            provider = %runtime.provider(),
            library = %runtime.library().display(),
            detector = %config.detector.model.display(),
            embedder = %config.embedder.model.display(),
            dim = embedder.dim(),
            "face pipeline ready"
        );
        Ok(Self {
            runtime,
            detector,
            embedder,
            model_tag,
            config,
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The loaded detector (its model file's input placement, for benchmarks' bare calls).
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// Fingerprint of the embedding model, for galleries and caches.
    pub fn model_tag(&self) -> &ModelTag {
        &self.model_tag
    }

    pub fn threshold(&self) -> f32 {
        self.config.match_threshold
    }

    pub fn set_threshold(&mut self, threshold: f32) {
        self.config.match_threshold = threshold;
    }

    /// Detects faces only.
    pub fn detect(&mut self, frame: &Frame) -> Result<Timed<Detection>, PipelineError> {
        let (faces, t) = self.detector.detect(frame)?;
        let timings = StageTimings {
            detect_preprocess: t.preprocess,
            detect_inference: t.inference,
            detect_postprocess: t.postprocess,
            detect_passes: t.passes,
            ..StageTimings::default()
        };
        Ok(Timed { faces, timings })
    }

    /// Aligns and embeds given detections of a frame in one batch. Faces whose landmarks cannot
    /// be aligned (degenerate points) are left out.
    pub fn embed_detections(
        &mut self,
        frame: &Frame,
        detections: Vec<Detection>,
        timings: &mut StageTimings,
    ) -> Result<Vec<Face>, PipelineError> {
        let t = Instant::now();
        let (kept, crops): (Vec<Detection>, Vec<image::RgbImage>) = detections
            .into_iter()
            .filter_map(|d| align::align(frame, &d.landmarks).map(|crop| (d, crop)))
            .unzip();
        timings.align = t.elapsed();
        let t = Instant::now();
        let (embeddings, inference) = self.embedder.embed_timed(&crops)?;
        timings.embed = t.elapsed();
        timings.embed_inference = inference;
        Ok(kept
            .into_iter()
            .zip(embeddings)
            .map(|(detection, embedding)| Face { detection, embedding })
            .collect())
    }

    /// Aligns and embeds the detections marked in `wanted` (one flag per detection; missing flags
    /// count as not wanted) in one batch. Returns one entry per detection: its embedding, or
    /// `None` when it was not wanted or its landmarks cannot be aligned.
    pub fn embed_selected(
        &mut self,
        frame: &Frame,
        detections: &[Detection],
        wanted: &[bool],
        timings: &mut StageTimings,
    ) -> Result<Vec<Option<Embedding>>, PipelineError> {
        let t = Instant::now();
        let (slots, crops): (Vec<usize>, Vec<image::RgbImage>) = detections
            .iter()
            .enumerate()
            .filter(|(i, _)| wanted.get(*i).copied().unwrap_or(false))
            .filter_map(|(i, d)| align::align(frame, &d.landmarks).map(|crop| (i, crop)))
            .unzip();
        timings.align += t.elapsed();
        let mut out: Vec<Option<Embedding>> = vec![None; detections.len()];
        if crops.is_empty() {
            return Ok(out);
        }
        let t = Instant::now();
        let (embeddings, inference) = self.embedder.embed_timed(&crops)?;
        timings.embed += t.elapsed();
        timings.embed_inference += inference;
        for (i, e) in slots.into_iter().zip(embeddings) {
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(e);
            }
        }
        Ok(out)
    }

    /// One frame of a camera through detection and its tracker: every face is detected, only the
    /// faces the tracker asks for are embedded ([`Tracker::needs_embedding`]), and the tracker
    /// names them over time. `embed_all` embeds every face (enrolment frames, the baseline).
    /// `stamp_ns` is the frame's header stamp. The one tracking path of the CLI, replay, the
    /// benchmarks and the node.
    pub fn track(
        &mut self,
        frame: &Frame,
        stamp_ns: i64,
        tracker: &mut Tracker,
        gallery: &Gallery,
        embed_all: bool,
    ) -> Result<Timed<TrackedFace>, PipelineError> {
        let Timed {
            faces: detections,
            mut timings,
        } = self.detect(frame)?;
        let wanted = if embed_all {
            vec![true; detections.len()]
        } else {
            tracker.needs_embedding(stamp_ns, &detections)
        };
        let embeddings = self.embed_selected(frame, &detections, &wanted, &mut timings)?;
        let observations = detections
            .into_iter()
            .zip(embeddings)
            .map(|(detection, embedding)| Observation { detection, embedding })
            .collect();
        let t = Instant::now();
        let faces = tracker.update(stamp_ns, observations, gallery);
        timings.matching = t.elapsed();
        Ok(Timed { faces, timings })
    }

    /// Detects, aligns and embeds every face of a frame.
    pub fn analyze(&mut self, frame: &Frame) -> Result<Timed<Face>, PipelineError> {
        let Timed {
            faces: detections,
            mut timings,
        } = self.detect(frame)?;
        let faces = self.embed_detections(frame, detections, &mut timings)?;
        Ok(Timed { faces, timings })
    }

    /// The whole pipeline: every face of the frame with its gallery name.
    pub fn recognize(&mut self, frame: &Frame, gallery: &Gallery) -> Result<Timed<Recognition>, PipelineError> {
        let Timed { faces, mut timings } = self.analyze(frame)?;
        let t = Instant::now();
        let faces = self.name_faces(faces, gallery);
        timings.matching = t.elapsed();
        Ok(Timed { faces, timings })
    }

    /// Names analysed faces against a gallery.
    pub fn name_faces(&self, faces: Vec<Face>, gallery: &Gallery) -> Vec<Recognition> {
        faces
            .into_iter()
            .map(|face| {
                let Identity {
                    name,
                    score,
                    margin,
                    best_candidate,
                } = identify(gallery, &face.embedding, self.config.match_threshold);
                Recognition {
                    name,
                    score,
                    margin,
                    best_candidate,
                    detection: face.detection,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_file_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/pipeline.yaml");
        let parsed = PipelineConfig::from_yaml_file(&path).expect("example parses");
        let defaults = PipelineConfig::default();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
    }

    #[test]
    fn validate_refuses_out_of_range_settings_by_name() {
        assert!(PipelineConfig::default().validate().is_ok());
        type Change = fn(&mut PipelineConfig);
        let cases: [(&str, Change); 13] = [
            ("match_threshold", |c| c.match_threshold = 1.5),
            ("match_threshold", |c| c.match_threshold = f32::NAN),
            ("detector.score_threshold", |c| c.detector.score_threshold = -0.1),
            ("detector.nms_iou", |c| c.detector.nms_iou = 2.0),
            ("detector.input_size", |c| c.detector.input_size = 16),
            ("detector.max_upscale", |c| c.detector.max_upscale = 0.0),
            ("detector.border_pad", |c| c.detector.border_pad = f32::NAN),
            ("detector.close_face_fraction", |c| c.detector.close_face_fraction = 2.0),
            ("embedder.max_batch", |c| c.embedder.max_batch = 0),
            ("embedder.mean", |c| c.embedder.mean = f32::INFINITY),
            ("embedder.scale", |c| c.embedder.scale = 0.0),
            ("runtime.intra_threads", |c| c.runtime.intra_threads = 100_000),
            ("embedder.model", |c| c.embedder.model = PathBuf::new()),
        ];
        for (field, change) in cases {
            let mut config = PipelineConfig::default();
            change(&mut config);
            match config.validate() {
                Err(PipelineError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
            // The pipeline refuses it before loading anything.
            assert!(
                matches!(Pipeline::new(config), Err(PipelineError::Invalid { .. })),
                "{field}"
            );
        }
    }
}
