//! Face embedding: aligned 112x112 crops in, L2-normalised identity vectors out, all faces of a
//! frame in one batched run. The vector dimension is read from the model, so any ONNX embedder
//! with an `[N,3,112,112]` input drops in through config. May touch `runtime`; nothing else.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::RgbImage;
use ort::session::Session;
use ort::value::ValueType;
use serde::{Deserialize, Serialize};

use crate::align::ALIGNED_SIZE;
use crate::runtime::{Runtime, RuntimeError};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Model file; relative paths are resolved against the models directory.
    pub model: PathBuf,
    /// Feed channels as BGR instead of RGB.
    pub bgr: bool,
    /// Input value = (pixel - mean) * scale. SFace normalises inside the model: mean 0, scale 1.
    pub mean: f32,
    pub scale: f32,
    /// Largest batch per run (the model's fixed batch size wins when it has one). 4: on CPU,
    /// ONNX Runtime's per-face time grows with larger SFace batches (docs/BENCHMARKS.md).
    pub max_batch: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        Self {
            model: PathBuf::from("sface_2021dec_int8bq.onnx"),
            bgr: false,
            mean: 0.0,
            scale: 1.0,
            max_batch: 4,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("embedder inference failed")]
    Inference(#[from] ort::Error),
    #[error("embedder model {model}: {reason}")]
    Model { model: String, reason: String },
    #[error("aligned face is {width}x{height}, expected {ALIGNED_SIZE}x{ALIGNED_SIZE}")]
    FaceSize { width: u32, height: u32 },
}

/// A unit-length identity vector.
pub type Embedding = Vec<f32>;

pub struct Embedder {
    config: EmbedderConfig,
    session: Session,
    input_name: String,
    output_name: String,
    dim: usize,
    /// Fixed batch size of the model, if it has one.
    fixed_batch: Option<usize>,
    tensor: Vec<f32>,
}

impl Embedder {
    /// Loads the model (path already resolved), reads its output dimension and warms it up.
    pub fn new(runtime: &Runtime, config: EmbedderConfig) -> Result<Self, EmbedError> {
        let session = runtime.session(&config.model)?;
        let model = config.model.display().to_string();
        let bad = |reason: &str| EmbedError::Model {
            model: model.clone(),
            reason: reason.to_owned(),
        };
        let input = session.inputs().first().ok_or_else(|| bad("has no input"))?;
        let input_name = input.name().to_owned();
        let fixed_batch = match input.dtype() {
            ValueType::Tensor { shape, .. } => {
                let dims: Vec<i64> = shape.iter().copied().collect();
                if dims.len() != 4 || dims.get(1) != Some(&3) {
                    return Err(bad(&format!("input shape {dims:?} is not [N,3,112,112]")));
                }
                dims.first().copied().filter(|&n| n > 0).map(|n| n as usize)
            }
            _ => return Err(bad("input is not a tensor")),
        };
        let output = session.outputs().first().ok_or_else(|| bad("has no output"))?;
        let output_name = output.name().to_owned();
        let dim = match output.dtype() {
            ValueType::Tensor { shape, .. } => shape.iter().last().copied().filter(|&d| d > 0),
            _ => None,
        }
        .ok_or_else(|| bad("output has no fixed last dimension"))? as usize;
        let mut embedder = Self {
            config,
            session,
            input_name,
            output_name,
            dim,
            fixed_batch,
            tensor: Vec::new(),
        };
        embedder.embed(&[RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE)])?;
        Ok(embedder)
    }

    /// Length of the vectors this model produces.
    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn config(&self) -> &EmbedderConfig {
        &self.config
    }

    /// Embeds aligned faces, batching them; one unit vector per face, in order.
    pub fn embed(&mut self, faces: &[RgbImage]) -> Result<Vec<Embedding>, EmbedError> {
        Ok(self.embed_timed(faces)?.0)
    }

    /// As `embed`, also returning the time spent inside ONNX Runtime.
    pub fn embed_timed(&mut self, faces: &[RgbImage]) -> Result<(Vec<Embedding>, Duration), EmbedError> {
        let mut out = Vec::with_capacity(faces.len());
        let mut inference = Duration::ZERO;
        // A model with a fixed batch dimension takes exactly that many crops a run (padded);
        // a dynamic one takes up to `max_batch`.
        let batch = self.fixed_batch.unwrap_or(self.config.max_batch.max(1));
        for chunk in faces.chunks(batch) {
            let n = self.fill_tensor(chunk, batch)?;
            let size = i64::from(ALIGNED_SIZE);
            let shape = [n as i64, 3, size, size];
            let t = Instant::now();
            let tensor = ort::value::TensorRef::from_array_view((shape, self.tensor.as_slice()))?;
            let outputs = self.session.run(ort::inputs![self.input_name.as_str() => tensor])?;
            let value = outputs
                .get(self.output_name.as_str())
                .ok_or_else(|| EmbedError::Model {
                    model: self.config.model.display().to_string(),
                    reason: format!("output '{}' missing", self.output_name),
                })?;
            let (_, data) = value.try_extract_tensor::<f32>()?;
            inference += t.elapsed();
            if data.len() != n * self.dim {
                return Err(EmbedError::Model {
                    model: self.config.model.display().to_string(),
                    reason: format!("returned {} values for {n} faces of dimension {}", data.len(), self.dim),
                });
            }
            out.extend(data.chunks_exact(self.dim).take(chunk.len()).map(normalize));
        }
        Ok((out, inference))
    }

    /// Writes `faces` as planar float into the reusable tensor; returns the batch size used
    /// (padded with zeros up to a fixed model batch).
    fn fill_tensor(&mut self, faces: &[RgbImage], batch: usize) -> Result<usize, EmbedError> {
        let n = if self.fixed_batch.is_some() { batch } else { faces.len() };
        let plane = (ALIGNED_SIZE * ALIGNED_SIZE) as usize;
        self.tensor.clear();
        self.tensor.resize(n * 3 * plane, 0.0);
        let (mean, scale) = (self.config.mean, self.config.scale);
        for (face, slot) in faces.iter().zip(self.tensor.chunks_exact_mut(3 * plane)) {
            if face.width() != ALIGNED_SIZE || face.height() != ALIGNED_SIZE {
                return Err(EmbedError::FaceSize {
                    width: face.width(),
                    height: face.height(),
                });
            }
            let (c0, rest) = slot.split_at_mut(plane);
            let (c1, c2) = rest.split_at_mut(plane);
            let (first, third) = if self.config.bgr { (c2, c0) } else { (c0, c2) };
            for (i, px) in face.pixels().enumerate() {
                let [r, g, b] = px.0;
                if let (Some(o0), Some(o1), Some(o2)) = (first.get_mut(i), c1.get_mut(i), third.get_mut(i)) {
                    *o0 = (f32::from(r) - mean) * scale;
                    *o1 = (f32::from(g) - mean) * scale;
                    *o2 = (f32::from(b) - mean) * scale;
                }
            }
        }
        Ok(n)
    }
}

/// Scales a vector to unit length (a zero vector stays zero).
pub fn normalize(v: &[f32]) -> Embedding {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
