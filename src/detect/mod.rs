//! Face detection: a frame in, boxes with a score and five landmarks out, in frame pixels.
//!
//! Owns the detector models (RetinaFace, YuNet), the resize into the network input
//! (`letterbox`), the model-specific decoders and non-maximum suppression. May touch `frame`
//! and `runtime`; knows nothing of alignment, embeddings or names.

mod letterbox;
mod retinaface;
mod yunet;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ort::session::Session;
use serde::{Deserialize, Serialize};

use crate::frame::Frame;
use crate::runtime::{Runtime, RuntimeError};
pub use letterbox::Letterbox;

/// A point in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// An axis-aligned box in frame pixels: top-left corner and size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x: f32,
    pub y: f32,
    pub width: f32,
    pub height: f32,
}

impl BBox {
    pub fn area(&self) -> f32 {
        self.width.max(0.0) * self.height.max(0.0)
    }

    /// Intersection over union with another box.
    pub fn iou(&self, other: &BBox) -> f32 {
        let x1 = self.x.max(other.x);
        let y1 = self.y.max(other.y);
        let x2 = (self.x + self.width).min(other.x + other.width);
        let y2 = (self.y + self.height).min(other.y + other.height);
        let inter = (x2 - x1).max(0.0) * (y2 - y1).max(0.0);
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    pub fn center(&self) -> Point {
        Point { x: self.x + self.width / 2.0, y: self.y + self.height / 2.0 }
    }
}

/// One detected face in frame pixels. Landmarks in image order: the eye on the image's left, the
/// eye on the image's right, nose tip, left mouth corner, right mouth corner (the ArcFace order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f32,
    pub landmarks: [Point; 5],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// RetinaFace MobileNet-0.25 (any input size).
    Retinaface,
    /// YuNet 2023mar (fixed 640x640 input).
    Yunet,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    pub kind: DetectorKind,
    /// Model file; relative paths are resolved against the models directory.
    pub model: PathBuf,
    /// Longest side of the network input, in pixels (YuNet: the fixed square size of the model).
    pub input_size: u32,
    /// Minimum face score kept.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_iou: f32,
}

impl Default for DetectorConfig {
    fn default() -> Self {
        Self::for_kind(DetectorKind::Retinaface)
    }
}

impl DetectorConfig {
    /// Shipped defaults for a detector kind.
    pub fn for_kind(kind: DetectorKind) -> Self {
        let model = match kind {
            DetectorKind::Retinaface => "retinaface_mnet025.onnx",
            DetectorKind::Yunet => "yunet_2023mar.onnx",
        };
        Self { kind, model: PathBuf::from(model), input_size: 640, score_threshold: 0.6, nms_iou: 0.4 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("detector inference failed: {0}")]
    Inference(#[from] ort::Error),
    #[error("detector model output '{name}' is missing or has an unexpected shape {shape:?}")]
    Output { name: String, shape: Vec<i64> },
    #[error("cannot resize frame: {0}")]
    Resize(String),
}

/// Time spent in each part of one detection.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DetectTimings {
    /// Resize into the network input and conversion to the input tensor.
    pub preprocess: Duration,
    /// The ONNX Runtime call.
    pub inference: Duration,
    /// Decoding the raw outputs and non-maximum suppression.
    pub postprocess: Duration,
}

/// A face detector: a model session plus reusable input buffers.
pub struct Detector {
    config: DetectorConfig,
    session: Session,
    letterbox: Letterbox,
    input_name: String,
    priors: retinaface::PriorCache,
}

impl Detector {
    /// Loads the model (path already resolved) and runs it once so the first real frame is not slow.
    pub fn new(runtime: &Runtime, config: DetectorConfig) -> Result<Self, DetectError> {
        let session = runtime.session(&config.model)?;
        let input_name = session.inputs().first().map(|i| i.name().to_owned()).unwrap_or_else(|| "input".to_owned());
        let mut detector = Self {
            config,
            session,
            letterbox: Letterbox::default(),
            input_name,
            priors: retinaface::PriorCache::default(),
        };
        let warmup = Frame::from_rgb(image::RgbImage::new(320, 240));
        detector.detect(&warmup)?;
        Ok(detector)
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// The input size (width, height) used for a frame of the given size.
    fn input_dims(&self, width: u32, height: u32) -> (u32, u32) {
        let s = self.config.input_size.max(32);
        match self.config.kind {
            DetectorKind::Yunet => (s, s),
            DetectorKind::Retinaface => {
                let scale = f64::from(s) / f64::from(width.max(height));
                let round_up = |v: u32| {
                    let scaled = (f64::from(v) * scale).round().max(1.0) as u32;
                    scaled.div_ceil(32) * 32
                };
                (round_up(width), round_up(height))
            }
        }
    }

    /// Detects the faces of one frame, sorted by score (best first).
    pub fn detect(&mut self, frame: &Frame) -> Result<(Vec<Detection>, DetectTimings), DetectError> {
        let mut timings = DetectTimings::default();
        let t0 = Instant::now();
        let (in_w, in_h) = self.input_dims(frame.width(), frame.height());
        let bgr_mean = match self.config.kind {
            DetectorKind::Retinaface => [104.0, 117.0, 123.0],
            DetectorKind::Yunet => [0.0, 0.0, 0.0],
        };
        self.letterbox.prepare(frame, in_w, in_h, bgr_mean)?;
        timings.preprocess = t0.elapsed();

        let t1 = Instant::now();
        let shape = [1_i64, 3, i64::from(in_h), i64::from(in_w)];
        let tensor = ort::value::TensorRef::from_array_view((shape, self.letterbox.tensor()))?;
        let outputs = self.session.run(ort::inputs![self.input_name.as_str() => tensor])?;
        timings.inference = t1.elapsed();

        let t2 = Instant::now();
        let frame_from_input = self.letterbox.frame_from_input();
        let mut candidates = match self.config.kind {
            DetectorKind::Retinaface => retinaface::decode(
                &outputs,
                &mut self.priors,
                in_w,
                in_h,
                self.config.score_threshold,
                &frame_from_input,
            )?,
            DetectorKind::Yunet => {
                yunet::decode(&outputs, in_w, in_h, self.config.score_threshold, &frame_from_input)?
            }
        };
        drop(outputs);
        clip_to_frame(&mut candidates, frame.width() as f32, frame.height() as f32);
        let faces = nms(candidates, self.config.nms_iou);
        timings.postprocess = t2.elapsed();
        Ok((faces, timings))
    }
}

/// Maps network-input pixels back to frame pixels (separate x and y scale, no offset: the
/// letterbox pads right and bottom only).
#[derive(Debug, Clone, Copy)]
pub struct FrameFromInput {
    pub sx: f32,
    pub sy: f32,
}

impl FrameFromInput {
    pub fn point(&self, x: f32, y: f32) -> Point {
        Point { x: x * self.sx, y: y * self.sy }
    }
}

fn clip_to_frame(faces: &mut [Detection], width: f32, height: f32) {
    for face in faces.iter_mut() {
        let x2 = (face.bbox.x + face.bbox.width).min(width);
        let y2 = (face.bbox.y + face.bbox.height).min(height);
        face.bbox.x = face.bbox.x.max(0.0);
        face.bbox.y = face.bbox.y.max(0.0);
        face.bbox.width = (x2 - face.bbox.x).max(0.0);
        face.bbox.height = (y2 - face.bbox.y).max(0.0);
    }
}

/// Greedy non-maximum suppression; returns survivors best first.
pub fn nms(mut candidates: Vec<Detection>, iou_threshold: f32) -> Vec<Detection> {
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::new();
    for cand in candidates {
        if kept.iter().all(|k| k.bbox.iou(&cand.bbox) <= iou_threshold) {
            kept.push(cand);
        }
    }
    kept
}

/// Looks up a named output as an f32 tensor, checking its element count.
fn output<'a>(
    outputs: &'a ort::session::SessionOutputs<'_>,
    name: &str,
    expected_len: usize,
) -> Result<&'a [f32], DetectError> {
    let value = outputs.get(name).ok_or_else(|| DetectError::Output { name: name.to_owned(), shape: vec![] })?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    if data.len() != expected_len {
        return Err(DetectError::Output { name: name.to_owned(), shape: shape.iter().copied().collect() });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox { x, y: 0.0, width: 10.0, height: 10.0 },
            score,
            landmarks: [Point { x: 0.0, y: 0.0 }; 5],
        }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox { x: 0.0, y: 0.0, width: 10.0, height: 10.0 };
        let b = BBox { x: 5.0, y: 0.0, width: 10.0, height: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox { x: 20.0, ..a }), 0.0);
    }

    #[test]
    fn nms_keeps_best_of_overlaps_and_separate_boxes() {
        let kept = nms(vec![det(1.0, 0.7), det(0.0, 0.9), det(50.0, 0.8)], 0.4);
        let xs: Vec<f32> = kept.iter().map(|d| d.bbox.x).collect();
        assert_eq!(xs, vec![0.0, 50.0]);
    }
}
