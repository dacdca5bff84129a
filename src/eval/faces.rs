//! The one face an evaluation takes from each dataset photo, and what happens when the detector
//! finds none. Dataset photos (LFW) show one subject, centred and large; other people may appear
//! around it. So: among detections at the configured score threshold, take the one with the
//! largest `area - 2 * offset^2` (box area in pixels minus twice the squared distance of its centre
//! from the image centre; InsightFace's rule for its recognition benchmarks). Plain
//! closest-to-centre was tried first and picked weak boxes spanning two faces (LFW
//! Diane_Green_0001: a 0.62 box between two faces beat the subject's 1.00 box); see
//! docs/ACCURACY.md. If no face reaches the threshold, retry at a lower one (same rule);
//! if there is still none, the photo has no face and every comparison with it is a rejection
//! (what the robot would do: no face, no name). Calls `pipeline`; nothing else.

use serde::{Deserialize, Serialize};

use crate::detect::{BBox, Detection};
use crate::frame::Frame;
use crate::pipeline::{Pipeline, PipelineConfig, PipelineError, Timed};

/// Score thresholds for picking the evaluated face.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FacePolicy {
    /// The detector threshold the user configured (what the node runs with).
    pub min_score: f32,
    /// Lower threshold tried when nothing reaches `min_score`.
    pub retry_min_score: f32,
}

/// Default of `FacePolicy::retry_min_score`.
pub const DEFAULT_RETRY_MIN_SCORE: f32 = 0.2;

impl FacePolicy {
    /// The policy for a configuration, and the configuration to build the pipeline with: its
    /// detector keeps candidates down to the retry threshold, and the policy applies the
    /// configured one itself (one detector run per photo serves both tries).
    pub fn for_config(mut config: PipelineConfig, retry_min_score: f32) -> (Self, PipelineConfig) {
        let min_score = config.detector.score_threshold;
        let retry_min_score = retry_min_score.min(min_score);
        config.detector.score_threshold = retry_min_score;
        (
            Self {
                min_score,
                retry_min_score,
            },
            config,
        )
    }
}

/// What an evaluation got from one photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ImageFace {
    Found {
        /// Detector score of the face taken.
        score: f32,
        /// True when no face reached the configured threshold and this one came from the retry.
        retried: bool,
        /// Faces detected at or above the threshold that produced this one.
        candidates: usize,
        /// Box of the face taken, frame pixels.
        bbox: BBox,
        embedding: Vec<f32>,
    },
    /// No face even at the retry threshold (or none that could be aligned).
    NotFound,
}

impl ImageFace {
    pub fn embedding(&self) -> Option<&[f32]> {
        match self {
            Self::Found { embedding, .. } => Some(embedding),
            Self::NotFound => None,
        }
    }
}

/// How the evaluated face is chosen among several; part of the cache key.
pub const SELECTION_RULE: &str = "max area - 2 * squared centre offset";

/// Index of the detection with the largest `area - 2 * offset^2`, where `offset` is the distance
/// of its box centre from the frame centre (frame pixels): the large, central subject.
pub fn central_subject(detections: &[&Detection], width: u32, height: u32) -> Option<usize> {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    detections
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let c = d.bbox.center();
            (i, d.bbox.area() - 2.0 * ((c.x - cx).powi(2) + (c.y - cy).powi(2)))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

/// Detects, picks and embeds the evaluated face of one photo. The pipeline must have been built
/// from the configuration `FacePolicy::for_config` returned.
pub fn face_for_frame(pipeline: &mut Pipeline, frame: &Frame, policy: &FacePolicy) -> Result<ImageFace, PipelineError> {
    let Timed {
        faces: detections,
        mut timings,
    } = pipeline.detect(frame)?;
    let strong: Vec<&Detection> = detections.iter().filter(|d| d.score >= policy.min_score).collect();
    let weak: Vec<&Detection> = detections
        .iter()
        .filter(|d| d.score >= policy.retry_min_score)
        .collect();
    let (pool, retried) = if strong.is_empty() {
        (weak, true)
    } else {
        (strong, false)
    };
    let Some(chosen) = central_subject(&pool, frame.width(), frame.height()).and_then(|i| pool.get(i)) else {
        return Ok(ImageFace::NotFound);
    };
    let candidates = pool.len();
    let detection = (*chosen).clone();
    let (score, bbox) = (detection.score, detection.bbox);
    let mut faces = pipeline.embed_detections(frame, vec![detection], &mut timings)?;
    Ok(match faces.pop() {
        Some(face) => ImageFace::Found {
            score,
            retried,
            candidates,
            bbox,
            embedding: face.embedding,
        },
        None => ImageFace::NotFound,
    })
}
