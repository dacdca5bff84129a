//! Accuracy evaluation: how well a detector + embedder pair verifies pairs of photos (LFW
//! protocol) and identifies enrolled people while rejecting strangers (open-set), and which match
//! threshold to run. Runs the same `pipeline` the node runs; adds the protocol parsing
//! (`protocol`), the face taken from each photo (`faces`), an embedding cache (`cache`), the
//! metrics (`metrics`), the two evaluations (`verify`, `identify`) and an SVG plot (`plot`).
//! Reads dataset files; writes only the cache and the reports it is asked to.

pub mod cache;
pub mod faces;
pub mod identify;
pub mod metrics;
pub mod plot;
pub mod protocol;
pub mod sequence;
pub mod sizes;
pub mod verify;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::frame::Frame;
use crate::pipeline::{Pipeline, PipelineError};
use cache::EmbeddingCache;
use faces::{FacePolicy, ImageFace};

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("protocol: {0}")]
    Protocol(String),
    #[error("{path}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {message}")]
    Image { path: String, message: String },
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("embedding cache: {0}")]
    Cache(String),
    #[error("{0}")]
    Empty(String),
}

/// Counts of what the detector did on the evaluated photos.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FaceStats {
    pub images: usize,
    /// A face reached the configured detector threshold.
    pub found: usize,
    /// No face reached it; one was taken at the lower retry threshold.
    pub found_on_retry: usize,
    /// No face at all: every comparison with the photo is a rejection.
    pub not_found: usize,
    /// Photos with more than one face at the threshold used (the one nearest the centre is taken).
    pub several_faces: usize,
    pub not_found_images: Vec<String>,
    pub retried_images: Vec<String>,
}

impl FaceStats {
    pub fn of<'a>(faces: impl IntoIterator<Item = (&'a PathBuf, &'a ImageFace)>) -> Self {
        let mut s = Self::default();
        let mut items: Vec<(&PathBuf, &ImageFace)> = faces.into_iter().collect();
        items.sort_by(|a, b| a.0.cmp(b.0));
        for (path, face) in items {
            s.images += 1;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match face {
                ImageFace::Found {
                    retried, candidates, ..
                } => {
                    if *retried {
                        s.found_on_retry += 1;
                        s.retried_images.push(name);
                    } else {
                        s.found += 1;
                    }
                    if *candidates > 1 {
                        s.several_faces += 1;
                    }
                }
                ImageFace::NotFound => {
                    s.not_found += 1;
                    s.not_found_images.push(name);
                }
            }
        }
        s
    }
}

/// How the faces of an evaluation were obtained.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExtractStats {
    /// Photos run through the pipeline now.
    pub computed: usize,
    /// Photos taken from the cache.
    pub cached: usize,
    /// Wall time of the extraction, seconds.
    pub seconds: f64,
    /// Cache file used, if any.
    pub cache_file: Option<String>,
}

/// Runs the pipeline over photos (or takes them from the cache): the evaluated face of each.
pub struct Extractor<'a> {
    pub pipeline: &'a mut Pipeline,
    pub policy: FacePolicy,
    pub cache: Option<EmbeddingCache>,
}

/// Cache saves happen at least this often, so an interrupted run keeps most of its work.
const SAVE_EVERY: usize = 250;

impl Extractor<'_> {
    /// The face of every photo in `paths` (duplicates computed once). `progress` is called with
    /// the number done after each photo.
    pub fn faces(
        &mut self,
        paths: &[PathBuf],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(HashMap<PathBuf, ImageFace>, ExtractStats), EvalError> {
        let start = Instant::now();
        let mut out: HashMap<PathBuf, ImageFace> = HashMap::with_capacity(paths.len());
        let mut stats = ExtractStats {
            cache_file: self.cache.as_ref().map(|c| c.path().display().to_string()),
            ..Default::default()
        };
        for (done, path) in paths.iter().enumerate() {
            if !out.contains_key(path) {
                let face = match self.cache.as_ref().and_then(|c| c.get(path)) {
                    Some(face) => {
                        stats.cached += 1;
                        face.clone()
                    }
                    None => {
                        let frame = Frame::open(path).map_err(|e| EvalError::Image {
                            path: path.display().to_string(),
                            message: crate::error_chain(&e),
                        })?;
                        let face = faces::face_for_frame(self.pipeline, &frame, &self.policy)?;
                        stats.computed += 1;
                        if let Some(cache) = self.cache.as_mut() {
                            cache.put(path, face.clone());
                            if cache.unsaved() >= SAVE_EVERY {
                                cache.save()?;
                            }
                        }
                        face
                    }
                };
                out.insert(path.clone(), face);
            }
            progress(done + 1);
        }
        if let Some(cache) = self.cache.as_mut() {
            if cache.unsaved() > 0 {
                cache.save()?;
            }
        }
        stats.seconds = start.elapsed().as_secs_f64();
        Ok((out, stats))
    }
}

/// Describes the models of a pipeline for reports.
#[derive(Debug, Clone, Serialize)]
pub struct ModelInfo {
    pub detector: String,
    pub detector_model: String,
    pub detector_sha256: String,
    pub detector_input_size: u32,
    pub detector_max_upscale: f32,
    pub detector_border_pad: f32,
    pub embedder_model: String,
    pub embedder_sha256: String,
    pub face_policy: FacePolicy,
    pub provider: String,
    pub threads: usize,
}

impl ModelInfo {
    pub fn of(pipeline: &Pipeline, policy: &FacePolicy) -> Result<Self, EvalError> {
        let setting = cache::CacheSetting::of(pipeline, policy)?;
        Ok(Self {
            detector: setting.detector_kind,
            detector_model: setting.detector_file,
            detector_sha256: setting.detector_sha256,
            detector_input_size: setting.detector_input_size,
            detector_max_upscale: setting.detector_max_upscale,
            detector_border_pad: setting.detector_border_pad,
            embedder_model: setting.embedder_file,
            embedder_sha256: setting.embedder_sha256,
            face_policy: *policy,
            provider: pipeline.runtime().provider().to_string(),
            threads: pipeline.runtime().intra_threads(),
        })
    }
}

/// File name of a path, for short report lines.
pub fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
