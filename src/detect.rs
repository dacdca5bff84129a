//! Face detection: a frame in, boxes with a score and five landmarks out, in frame pixels.
//!
//! Owns the detector models (RetinaFace, YuNet, and the research-licence SCRFD when fetched),
//! the resize into the network input (`letterbox`), the model-specific decoders and non-maximum
//! suppression. May touch `frame` and `runtime`; knows nothing of alignment, embeddings or names.

mod letterbox;
mod retinaface;
mod scrfd;
mod yunet;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ort::session::Session;
use ort::value::ValueType;
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
        Point {
            x: self.x + self.width / 2.0,
            y: self.y + self.height / 2.0,
        }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// RetinaFace MobileNet-0.25 (any input size).
    Retinaface,
    /// RetinaFace MobileNetV2 (any input size; PyPI `retinaface` 1.1.1, MIT, converted with
    /// tf2onnx by `scripts/convert_retinaface_mnv2.py`): the same heads and decoder as
    /// [`Self::Retinaface`], a larger backbone, RGB input.
    #[serde(rename = "retinaface_mnv2")]
    RetinafaceMnv2,
    /// YuNet 2023mar (long side 640, the frame's aspect).
    Yunet,
    /// SCRFD-2.5G with keypoints (InsightFace; fixed 640x640 input). Research-only weights,
    /// never shipped: `scripts/fetch_models.sh --research` puts them in `models/research/`.
    Scrfd,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DetectorConfig {
    pub kind: DetectorKind,
    /// Model file; relative paths are resolved against the models directory.
    pub model: PathBuf,
    /// Longest side of the network input, in pixels (SCRFD: the fixed square size of its model).
    pub input_size: u32,
    /// Minimum face score kept.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this IoU are dropped.
    pub nms_iou: f32,
    /// The most a frame is enlarged to reach `input_size` (1: small frames are fed at their own
    /// size, never upscaled; SCRFD's fixed square input is always filled).
    pub max_upscale: f32,
    /// Close and border faces: when a face of the first pass touches the frame's border or is
    /// larger than `close_face_fraction` of the frame, the frame is detected again inside a
    /// border of this fraction of its width and height on each side, and those faces are taken
    /// from the bordered pass (detectors place landmarks badly on faces they see cut or filling
    /// their whole input). 0 turns the second pass off.
    pub border_pad: f32,
    /// A face wider or taller than this fraction of the frame counts as close (see `border_pad`).
    pub close_face_fraction: f32,
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
            DetectorKind::RetinafaceMnv2 => "retinaface_mnv2.onnx",
            DetectorKind::Yunet => "yunet_2023mar.onnx",
            DetectorKind::Scrfd => "research/scrfd_2.5g_kps.onnx",
        };
        Self {
            kind,
            model: PathBuf::from(model),
            input_size: 640,
            score_threshold: 0.6,
            nms_iou: 0.4,
            max_upscale: 1.0,
            // Chosen on cfp-dev's frontal-vs-profile pairs (docs/ACCURACY.md): fed small photos
            // at their own size, RetinaFace and YuNet place landmarks best in one pass
            // (RetinaFace 95.7 % against 95.3 % with the bordered pass, YuNet 93.7 against 93.1).
            // SCRFD's fixed square input enlarges small photos, and the bordered pass gained
            // YuNet 3.4 points when its input was still fixed (89.2 -> 92.6 %): SCRFD keeps it.
            border_pad: match kind {
                DetectorKind::Retinaface | DetectorKind::RetinafaceMnv2 | DetectorKind::Yunet => 0.0,
                DetectorKind::Scrfd => 0.25,
            },
            close_face_fraction: 0.5,
        }
    }
}

impl DetectorConfig {
    /// Where a frame of `width` x `height` goes in the network input, with `pad_fraction` of its
    /// width and height added as a border on each side (0 for the plain pass), for a model file
    /// that takes any input size (or SCRFD's fixed square of `input_size`).
    pub fn placement(&self, width: u32, height: u32, pad_fraction: f32) -> Placement {
        self.placement_for(width, height, pad_fraction, None)
    }

    /// As [`Self::placement`], for a model file whose input is `fixed_input` (width, height)
    /// when it has a fixed size: the frame is then fitted into it, enlarged if need be.
    pub fn placement_for(
        &self,
        width: u32,
        height: u32,
        pad_fraction: f32,
        fixed_input: Option<(u32, u32)>,
    ) -> Placement {
        let s = self.input_size.max(32);
        let pad = f64::from(pad_fraction.max(0.0));
        let (w, h) = (f64::from(width.max(1)), f64::from(height.max(1)));
        let (canvas_w, canvas_h) = (w * (1.0 + 2.0 * pad), h * (1.0 + 2.0 * pad));
        let round_up = |v: f64, scale: f64| ((v * scale).round().max(1.0) as u32).div_ceil(32) * 32;
        // SCRFD's file has a fixed square input; so may a model file the user brings (OpenCV's
        // own YuNet file is 640x640).
        let fixed_input = match self.kind {
            DetectorKind::Scrfd => fixed_input.or(Some((s, s))),
            _ => fixed_input,
        };
        let (in_w, in_h, scale) = match fixed_input {
            Some((in_w, in_h)) => {
                let (in_w, in_h) = (in_w.max(1), in_h.max(1));
                let scale = (f64::from(in_w) / canvas_w).min(f64::from(in_h) / canvas_h);
                (in_w, in_h, scale)
            }
            // Any size: the input follows the frame's aspect.
            None => {
                let scale = (f64::from(s) / canvas_w.max(canvas_h)).min(f64::from(self.max_upscale.max(0.01)));
                (round_up(canvas_w, scale), round_up(canvas_h, scale), scale)
            }
        };
        let resized_w = ((w * scale).round() as u32).clamp(1, in_w);
        let resized_h = ((h * scale).round() as u32).clamp(1, in_h);
        let x0 = ((w * pad * scale).round() as u32).min(in_w - resized_w);
        let y0 = ((h * pad * scale).round() as u32).min(in_h - resized_h);
        Placement {
            input_width: in_w,
            input_height: in_h,
            x0,
            y0,
            resized_width: resized_w,
            resized_height: resized_h,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("detector inference failed")]
    Inference(#[from] ort::Error),
    #[error("detector model output '{name}' is missing or has an unexpected shape {shape:?}")]
    Output { name: String, shape: Vec<i64> },
    #[error("cannot resize the frame into the detector input")]
    Resize(#[source] ResizeFailure),
}

/// What went wrong in `fast_image_resize`, keeping its error.
#[derive(Debug, thiserror::Error)]
pub enum ResizeFailure {
    #[error("the frame or the input buffer does not fit the image size")]
    Buffer(#[from] fast_image_resize::ImageBufferError),
    #[error("resize failed")]
    Resize(#[from] fast_image_resize::ResizeError),
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
    /// Network passes run: 1, or 2 when the bordered pass ran for close or border faces.
    pub passes: u32,
}

/// A face detector: a model session plus reusable input buffers.
pub struct Detector {
    config: DetectorConfig,
    session: Session,
    letterbox: Letterbox,
    input_name: String,
    /// The model file's input (width, height) when both are fixed.
    fixed_input: Option<(u32, u32)>,
    priors: retinaface::PriorCache,
}

impl Detector {
    /// Loads the model (path already resolved) and runs it once so the first real frame is not slow.
    pub fn new(runtime: &Runtime, config: DetectorConfig) -> Result<Self, DetectError> {
        let session = runtime.session(&config.model)?;
        let input = session.inputs().first();
        let input_name = input.map_or_else(|| "input".to_owned(), |i| i.name().to_owned());
        let fixed_input = input.and_then(|i| match i.dtype() {
            ValueType::Tensor { shape, .. } => fixed_height_width(shape),
            _ => None,
        });
        let mut detector = Self {
            config,
            session,
            letterbox: Letterbox::default(),
            input_name,
            fixed_input,
            priors: retinaface::PriorCache::default(),
        };
        let warmup = Frame::from_rgb(image::RgbImage::new(320, 240));
        detector.detect(&warmup)?;
        Ok(detector)
    }

    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Where a `width` x `height` frame goes in this model's input, inside a border of
    /// `pad_fraction` (a model file with a fixed input size gets the frame fitted into it).
    pub fn placement(&self, width: u32, height: u32, pad_fraction: f32) -> Placement {
        self.config.placement_for(width, height, pad_fraction, self.fixed_input)
    }

    /// Detects the faces of one frame, sorted by score (best first): one pass, and a second in a
    /// border when a face is close or cut by the frame's edge (`DetectorConfig::border_pad`), or,
    /// for kinds that lose close-ups entirely ([`DetectorKind::retries_empty_frames`]), when the
    /// first pass found no face at all.
    pub fn detect(&mut self, frame: &Frame) -> Result<(Vec<Detection>, DetectTimings), DetectError> {
        let mut timings = DetectTimings::default();
        let faces = self.detect_pass(frame, 0.0, &mut timings)?;
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let fraction = self.config.close_face_fraction;
        let close = move |d: &Detection| is_close_or_cut(d, w, h, fraction);
        let retry_empty = faces.is_empty() && self.config.kind.retries_empty_frames();
        if self.config.border_pad <= 0.0 || !(retry_empty || faces.iter().any(close)) {
            return Ok((faces, timings));
        }
        let bordered = self.detect_pass(frame, self.config.border_pad, &mut timings)?;
        let t = Instant::now();
        let merged = merge_bordered(faces, bordered, self.config.nms_iou, close);
        timings.postprocess += t.elapsed();
        Ok((merged, timings))
    }

    /// One network pass over the frame placed inside a border of `pad_fraction` (0: none).
    fn detect_pass(
        &mut self,
        frame: &Frame,
        pad_fraction: f32,
        timings: &mut DetectTimings,
    ) -> Result<Vec<Detection>, DetectError> {
        let t0 = Instant::now();
        let placement = self.placement(frame.width(), frame.height(), pad_fraction);
        let (in_w, in_h) = (placement.input_width, placement.input_height);
        self.letterbox
            .prepare(frame, &placement, self.config.kind.input_norm())?;
        timings.preprocess += t0.elapsed();

        let t1 = Instant::now();
        let shape = [1_i64, 3, i64::from(in_h), i64::from(in_w)];
        let tensor = ort::value::TensorRef::from_array_view((shape, self.letterbox.tensor()))?;
        let outputs = self.session.run(ort::inputs![self.input_name.as_str() => tensor])?;
        timings.inference += t1.elapsed();
        timings.passes += 1;

        let t2 = Instant::now();
        let frame_from_input = placement.frame_from_input(frame.width(), frame.height());
        let mut candidates = match self.config.kind {
            DetectorKind::Retinaface | DetectorKind::RetinafaceMnv2 => retinaface::decode(
                &outputs,
                &mut self.priors,
                in_w,
                in_h,
                self.config.score_threshold,
                &frame_from_input,
            )?,
            DetectorKind::Yunet => yunet::decode(&outputs, in_w, in_h, self.config.score_threshold, &frame_from_input)?,
            DetectorKind::Scrfd => scrfd::decode(&outputs, in_w, in_h, self.config.score_threshold, &frame_from_input)?,
        };
        drop(outputs);
        clip_to_frame(&mut candidates, frame.width() as f32, frame.height() as f32);
        let faces = nms(candidates, self.config.nms_iou);
        timings.postprocess += t2.elapsed();
        Ok(faces)
    }
}

impl DetectorKind {
    /// The kind named `name` (`retinaface`, `retinaface_mnv2`, `yunet`, `scrfd`; any case), as in configuration
    /// files and ROS parameters.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "retinaface" => Some(Self::Retinaface),
            "retinaface_mnv2" => Some(Self::RetinafaceMnv2),
            "yunet" => Some(Self::Yunet),
            "scrfd" => Some(Self::Scrfd),
            _ => None,
        }
    }

    /// How the model wants its input tensor filled from 0..255 pixels.
    /// Whether a frame in which the plain pass finds no face is detected again inside the
    /// border (`DetectorConfig::border_pad`). SCRFD: its fixed 640x640 input enlarges a tight
    /// close-up until it scores the face below even the retry score, so the first pass finds
    /// nothing and the close-face rule never fires (docs/ACCURACY.md). The others find such
    /// faces in the first pass; for them an empty frame (most of a robot's frames) costs one pass.
    pub fn retries_empty_frames(self) -> bool {
        matches!(self, DetectorKind::Scrfd)
    }

    pub fn input_norm(self) -> InputNorm {
        match self {
            DetectorKind::Retinaface => InputNorm {
                rgb: false,
                mean: [123.0, 117.0, 104.0],
                scale: 1.0,
            },
            // x / 127.5 - 1 happens inside the model (MobileNetV2 preprocessing).
            DetectorKind::RetinafaceMnv2 => InputNorm {
                rgb: true,
                mean: [0.0; 3],
                scale: 1.0,
            },
            DetectorKind::Yunet => InputNorm {
                rgb: false,
                mean: [0.0; 3],
                scale: 1.0,
            },
            DetectorKind::Scrfd => InputNorm {
                rgb: true,
                mean: [127.5; 3],
                scale: 1.0 / 128.0,
            },
        }
    }
}

/// A detector's input normalisation: planes in RGB or BGR order, each value
/// `(pixel - mean) * scale` with `mean` given per colour as (R, G, B). The border of a placement
/// stays 0, the mean colour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputNorm {
    pub rgb: bool,
    pub mean: [f32; 3],
    pub scale: f32,
}

/// Where the frame lies in the network input: `input_*` is the tensor's size, the frame is
/// resized to `resized_*` and drawn with its top-left corner at (`x0`, `y0`); the rest is border
/// (the mean colour, 0 after subtraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub input_width: u32,
    pub input_height: u32,
    pub x0: u32,
    pub y0: u32,
    pub resized_width: u32,
    pub resized_height: u32,
}

impl Placement {
    /// The mapping from input pixels back to the pixels of a `width` x `height` frame.
    pub fn frame_from_input(&self, width: u32, height: u32) -> FrameFromInput {
        FrameFromInput {
            sx: width as f32 / self.resized_width.max(1) as f32,
            sy: height as f32 / self.resized_height.max(1) as f32,
            x0: self.x0 as f32,
            y0: self.y0 as f32,
        }
    }
}

/// The (width, height) of an NCHW input shape when both are fixed (positive).
fn fixed_height_width(shape: &[i64]) -> Option<(u32, u32)> {
    match shape {
        [_, _, height, width] => {
            Some((u32::try_from(*width).ok()?, u32::try_from(*height).ok()?)).filter(|&(w, h)| w > 0 && h > 0)
        }
        _ => None,
    }
}

/// Whether a face is close (larger than `fraction` of the frame) or cut by the frame's edge
/// (its clipped box reaches the border, within half a percent of the frame's size).
fn is_close_or_cut(d: &Detection, width: f32, height: f32, fraction: f32) -> bool {
    let margin = 0.005 * width.max(height);
    let b = &d.bbox;
    b.width > fraction * width
        || b.height > fraction * height
        || b.x <= margin
        || b.y <= margin
        || b.x + b.width >= width - margin
        || b.y + b.height >= height - margin
}

/// The faces of the plain pass that are neither close nor cut, plus every face of the bordered
/// pass that does not overlap one of those (IoU above `nms_iou`), best first.
fn merge_bordered(
    plain: Vec<Detection>,
    bordered: Vec<Detection>,
    nms_iou: f32,
    close: impl Fn(&Detection) -> bool,
) -> Vec<Detection> {
    let mut kept: Vec<Detection> = plain.into_iter().filter(|d| !close(d)).collect();
    let from_plain = kept.len();
    for d in bordered {
        if kept.iter().take(from_plain).all(|k| k.bbox.iou(&d.bbox) <= nms_iou) {
            kept.push(d);
        }
    }
    kept.sort_by(|a, b| b.score.total_cmp(&a.score));
    kept
}

/// Maps network-input pixels back to frame pixels: the frame's top-left corner is at (`x0`, `y0`)
/// in the input, and one input pixel is `sx` x `sy` frame pixels.
#[derive(Debug, Clone, Copy)]
pub struct FrameFromInput {
    pub sx: f32,
    pub sy: f32,
    pub x0: f32,
    pub y0: f32,
}

impl FrameFromInput {
    pub fn point(&self, x: f32, y: f32) -> Point {
        Point {
            x: (x - self.x0) * self.sx,
            y: (y - self.y0) * self.sy,
        }
    }

    /// A decoded face in frame pixels from its box corners (x1, y1, x2, y2) and five landmarks
    /// (x, y), all in input pixels.
    pub fn detection(&self, corners_in: [f32; 4], landmarks_in: [[f32; 2]; 5], score: f32) -> Detection {
        let [x1, y1, x2, y2] = corners_in;
        let top_left = self.point(x1, y1);
        let bottom_right = self.point(x2, y2);
        Detection {
            bbox: BBox {
                x: top_left.x,
                y: top_left.y,
                width: bottom_right.x - top_left.x,
                height: bottom_right.y - top_left.y,
            },
            score,
            landmarks: landmarks_in.map(|[x, y]| self.point(x, y)),
        }
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
    let value = outputs.get(name).ok_or_else(|| DetectError::Output {
        name: name.to_owned(),
        shape: vec![],
    })?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    if data.len() != expected_len {
        return Err(DetectError::Output {
            name: name.to_owned(),
            shape: shape.iter().copied().collect(),
        });
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        Detection {
            bbox: BBox {
                x,
                y: 0.0,
                width: 10.0,
                height: 10.0,
            },
            score,
            landmarks: [Point { x: 0.0, y: 0.0 }; 5],
        }
    }

    #[test]
    fn iou_of_known_boxes() {
        let a = BBox {
            x: 0.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        };
        let b = BBox {
            x: 5.0,
            y: 0.0,
            width: 10.0,
            height: 10.0,
        };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(a.iou(&BBox { x: 20.0, ..a }), 0.0);
    }

    #[test]
    fn small_frames_are_not_upscaled_and_the_border_is_on_every_side() {
        let retina = DetectorConfig::for_kind(DetectorKind::Retinaface);
        let plain = retina.placement(250, 250, 0.0);
        assert_eq!(
            (
                plain.input_width,
                plain.input_height,
                plain.x0,
                plain.y0,
                plain.resized_width
            ),
            (256, 256, 0, 0, 250)
        );
        let bordered = retina.placement(250, 250, 0.25);
        assert_eq!(
            (bordered.input_width, bordered.x0, bordered.y0, bordered.resized_width),
            (384, 63, 63, 250)
        );
        // Large frames are scaled down to input_size on the long side.
        let hd = retina.placement(1920, 1080, 0.0);
        assert_eq!(
            (hd.input_width, hd.input_height, hd.resized_width, hd.resized_height),
            (640, 384, 640, 360)
        );
        // max_upscale 2: a 250x250 photo goes in at 500x500.
        let up = DetectorConfig {
            max_upscale: 2.0,
            ..retina.clone()
        }
        .placement(250, 250, 0.0);
        assert_eq!((up.input_width, up.resized_width), (512, 500));
        // YuNet's file has a symbolic size: small photos at their own size as RetinaFace...
        let yunet = DetectorConfig::for_kind(DetectorKind::Yunet);
        let photo = yunet.placement(250, 250, 0.0);
        assert_eq!(
            (photo.input_width, photo.input_height, photo.resized_width),
            (256, 256, 250)
        );
        // ...and larger frames at their aspect, not in a 640x640 square: no letterbox rows.
        let vga = yunet.placement(640, 480, 0.0);
        assert_eq!((vga.input_width, vga.input_height, vga.resized_height), (640, 480, 480));
        let hd = yunet.placement(1920, 1080, 0.0);
        assert_eq!((hd.input_width, hd.input_height, hd.resized_height), (640, 384, 360));
        // SCRFD's file is a fixed square, filled even by a small photo.
        let scrfd = DetectorConfig::for_kind(DetectorKind::Scrfd);
        let hd = scrfd.placement(1920, 1080, 0.0);
        assert_eq!((hd.input_width, hd.input_height), (640, 640));
        let photo = scrfd.placement(250, 250, 0.0);
        assert_eq!((photo.input_width, photo.resized_width), (640, 640));
    }

    #[test]
    fn a_model_file_with_a_fixed_input_gets_the_frame_fitted_into_it() {
        // OpenCV's own YuNet file is 1x3x640x640: a VGA frame is letterboxed into it, a small
        // photo enlarged to fill it, whatever `max_upscale` says.
        assert_eq!(fixed_height_width(&[1, 3, 640, 640]), Some((640, 640)));
        assert_eq!(fixed_height_width(&[1, 3, -1, -1]), None);
        assert_eq!(fixed_height_width(&[1, 3, 640]), None);
        let yunet = DetectorConfig::for_kind(DetectorKind::Yunet);
        let vga = yunet.placement_for(640, 480, 0.0, Some((640, 640)));
        assert_eq!((vga.input_width, vga.input_height, vga.resized_height), (640, 640, 480));
        let photo = yunet.placement_for(250, 250, 0.0, Some((640, 640)));
        assert_eq!((photo.input_width, photo.resized_width), (640, 640));
        assert_eq!(yunet.placement_for(250, 250, 0.0, None), yunet.placement(250, 250, 0.0));
    }

    #[test]
    fn input_pixels_map_back_to_frame_pixels_through_the_border() {
        let p = DetectorConfig::default().placement(500, 300, 0.25);
        let frame_from_input = p.frame_from_input(500, 300);
        let corner = frame_from_input.point(p.x0 as f32, p.y0 as f32);
        assert!(corner.x.abs() < 1e-3 && corner.y.abs() < 1e-3, "{corner:?}");
        let far = frame_from_input.point((p.x0 + p.resized_width) as f32, (p.y0 + p.resized_height) as f32);
        assert!((far.x - 500.0).abs() < 1e-3 && (far.y - 300.0).abs() < 1e-3, "{far:?}");
    }

    #[test]
    fn close_or_cut_faces_come_from_the_bordered_pass_and_the_others_stay() {
        let close = |d: &Detection| is_close_or_cut(d, 640.0, 480.0, 0.5);
        let at = |x: f32, width: f32, score: f32| Detection {
            bbox: BBox {
                x,
                y: 100.0,
                width,
                height: width,
            },
            ..det(0.0, score)
        };
        let cut = at(0.0, 120.0, 0.9); // touches the left edge
        let big = at(200.0, 350.0, 0.8); // wider than half the frame
        let small = at(500.0, 40.0, 0.7); // neither
        assert!(close(&cut) && close(&big) && !close(&small));
        let bordered = vec![at(2.0, 125.0, 0.95), at(205.0, 340.0, 0.85), at(501.0, 40.0, 0.6)];
        let merged = merge_bordered(vec![cut, big, small.clone()], bordered, 0.4, close);
        let xs: Vec<f32> = merged.iter().map(|d| d.bbox.x).collect();
        // The bordered versions of the cut and the big face, best first, and the plain small one
        // (the bordered duplicate of it is dropped).
        assert_eq!(xs, vec![2.0, 205.0, 500.0]);
        assert_eq!(merged[2].score, small.score);
    }

    #[test]
    fn nms_keeps_best_of_overlaps_and_separate_boxes() {
        let kept = nms(vec![det(1.0, 0.7), det(0.0, 0.9), det(50.0, 0.8)], 0.4);
        let xs: Vec<f32> = kept.iter().map(|d| d.bbox.x).collect();
        assert_eq!(xs, vec![0.0, 50.0]);
    }
}
