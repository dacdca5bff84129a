//! One frame's way through the library: detect -> align -> embed -> match, with the time spent
//! in each stage. The CLI, the node, replay, evaluation and the benchmarks all call this, so they
//! measure and test the same code. Also owns the pipeline configuration and model lookup.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::align;
use crate::detect::{Detection, Detector, DetectorConfig, DetectorKind, DetectError};
use crate::embed::{Embedder, EmbedderConfig, EmbedError, Embedding};
use crate::frame::Frame;
use crate::gallery::{Gallery, ModelTag};
use crate::runtime::{file_sha256, Runtime, RuntimeConfig, RuntimeError};

/// Cosine similarity above which a face is given a gallery name. Calibrated with
/// `facerec eval identify` on LFW DevTest (RetinaFace + SFace, 496 people enrolled from one photo
/// each): the lowest threshold that names at most 1 % of strangers (0.454, rounded up). The
/// accuracy-optimal threshold for a single pair comparison is lower (0.364); see docs/ACCURACY.md.
pub const DEFAULT_MATCH_THRESHOLD: f32 = 0.455;

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

    /// Switches the detector, keeping its other settings at that kind's defaults.
    pub fn with_detector(mut self, kind: DetectorKind) -> Self {
        if self.detector.kind != kind {
            let threshold = self.detector.score_threshold;
            self.detector = DetectorConfig { score_threshold: threshold, ..DetectorConfig::for_kind(kind) };
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
}

/// Directories searched for models given by a relative path.
pub fn model_dirs(configured: Option<&Path>) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    dirs.extend(configured.map(Path::to_path_buf));
    if let Some(env) = std::env::var_os("FACEREC_MODELS_DIR") {
        dirs.push(PathBuf::from(env));
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
            Err(PipelineError::ModelNotFound { name: path.display().to_string(), tried: path.display().to_string() })
        };
    }
    let dirs = model_dirs(configured_dir);
    dirs.iter().map(|d| d.join(path)).find(|p| p.is_file()).ok_or_else(|| PipelineError::ModelNotFound {
        name: path.display().to_string(),
        tried: dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
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
}

impl StageTimings {
    /// Sum of all stages.
    pub fn total(&self) -> Duration {
        self.detect_preprocess + self.detect_inference + self.detect_postprocess + self.align + self.embed + self.matching
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

/// A face with the name the gallery gives it.
#[derive(Debug, Clone, Serialize)]
pub struct Recognition {
    /// Person's name, or `unknown`.
    pub name: String,
    /// Cosine similarity with the best gallery match (0 when the gallery is empty).
    pub score: f32,
    /// Best match's lead over the runner-up person.
    pub margin: f32,
    /// Best gallery match even when below the threshold.
    pub best_candidate: Option<String>,
    #[serde(flatten)]
    pub detection: Detection,
}

/// Names a vector against a gallery with a threshold.
pub fn identify(gallery: &Gallery, embedding: &[f32], threshold: f32) -> (String, f32, f32, Option<String>) {
    match gallery.best_match(embedding) {
        Some(m) if m.score >= threshold => {
            let margin = m.margin();
            (m.name.clone(), m.score, margin, Some(m.name))
        }
        Some(m) => {
            let margin = m.margin();
            (crate::UNKNOWN.to_owned(), m.score, margin, Some(m.name))
        }
        None => (crate::UNKNOWN.to_owned(), 0.0, 0.0, None),
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
        let runtime = Runtime::new(config.runtime.clone())?;
        Self::with_runtime(runtime, config)
    }

    /// As `new`, sharing an already loaded runtime.
    pub fn with_runtime(runtime: Runtime, mut config: PipelineConfig) -> Result<Self, PipelineError> {
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
        Ok(Self { runtime, detector, embedder, model_tag, config })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn config(&self) -> &PipelineConfig {
        &self.config
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
    pub fn detect(&mut self, frame: &Frame) -> Result<(Vec<Detection>, StageTimings), PipelineError> {
        let (faces, t) = self.detector.detect(frame)?;
        let timings = StageTimings {
            detect_preprocess: t.preprocess,
            detect_inference: t.inference,
            detect_postprocess: t.postprocess,
            ..StageTimings::default()
        };
        Ok((faces, timings))
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
        Ok(kept.into_iter().zip(embeddings).map(|(detection, embedding)| Face { detection, embedding }).collect())
    }

    /// Detects, aligns and embeds every face of a frame.
    pub fn analyze(&mut self, frame: &Frame) -> Result<(Vec<Face>, StageTimings), PipelineError> {
        let (detections, mut timings) = self.detect(frame)?;
        let faces = self.embed_detections(frame, detections, &mut timings)?;
        Ok((faces, timings))
    }

    /// The whole pipeline: every face of the frame with its gallery name.
    pub fn recognize(
        &mut self,
        frame: &Frame,
        gallery: &Gallery,
    ) -> Result<(Vec<Recognition>, StageTimings), PipelineError> {
        let (faces, mut timings) = self.analyze(frame)?;
        let t = Instant::now();
        let recognitions = self.name_faces(faces, gallery);
        timings.matching = t.elapsed();
        Ok((recognitions, timings))
    }

    /// Names analysed faces against a gallery.
    pub fn name_faces(&self, faces: Vec<Face>, gallery: &Gallery) -> Vec<Recognition> {
        faces
            .into_iter()
            .map(|face| {
                let (name, score, margin, best_candidate) =
                    identify(gallery, &face.embedding, self.config.match_threshold);
                Recognition { name, score, margin, best_candidate, detection: face.detection }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_file_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pipeline.yaml");
        let parsed = PipelineConfig::from_yaml_file(&path).expect("example parses");
        let defaults = PipelineConfig::default();
        assert_eq!(format!("{parsed:?}"), format!("{defaults:?}"));
    }
}
