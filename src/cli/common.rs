//! Options every subcommand shares (models, provider, threads, threshold) and the pipeline they
//! build.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use facerec::detect::DetectorKind;
use facerec::runtime::Provider;
use facerec::{Pipeline, PipelineConfig};

/// `--detector`: the library's [`DetectorKind`] as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DetectorArg {
    /// RetinaFace MobileNet-0.25 (any input size).
    Retinaface,
    /// RetinaFace MobileNetV2 (any input size; MIT; larger and slower).
    #[value(name = "retinaface_mnv2")]
    RetinafaceMnv2,
    /// YuNet 2023mar (long side 640, the frame's aspect).
    Yunet,
    /// SCRFD-2.5G-KPS (InsightFace, research-only licence; `scripts/fetch_models.sh --research`).
    Scrfd,
}

impl From<DetectorArg> for DetectorKind {
    fn from(arg: DetectorArg) -> Self {
        match arg {
            DetectorArg::Retinaface => Self::Retinaface,
            DetectorArg::RetinafaceMnv2 => Self::RetinafaceMnv2,
            DetectorArg::Yunet => Self::Yunet,
            DetectorArg::Scrfd => Self::Scrfd,
        }
    }
}

/// `--provider`: the library's [`Provider`] as a command-line value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProviderArg {
    /// Plain CPU.
    Cpu,
    /// NVIDIA CUDA; failing to load it is an error.
    Cuda,
    /// NVIDIA TensorRT (with CUDA for the nodes it does not take); failing to load is an error.
    Tensorrt,
    /// CUDA when it loads, otherwise CPU, saying so in the log.
    Auto,
}

impl From<ProviderArg> for Provider {
    fn from(arg: ProviderArg) -> Self {
        match arg {
            ProviderArg::Cpu => Self::Cpu,
            ProviderArg::Cuda => Self::Cuda,
            ProviderArg::Tensorrt => Self::Tensorrt,
            ProviderArg::Auto => Self::Auto,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PipelineOpts {
    /// Pipeline configuration file (YAML); flags below override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Face detector.
    #[arg(long, global = true, value_enum)]
    pub detector: Option<DetectorArg>,
    /// Detector model file (default: the shipped one for --detector).
    #[arg(long, global = true)]
    pub detector_model: Option<PathBuf>,
    /// Embedder model file (default: the shipped SFace).
    #[arg(long, global = true)]
    pub embedder_model: Option<PathBuf>,
    /// Feed the embedder BGR instead of RGB (for embedders trained on BGR faces).
    #[arg(long, global = true)]
    pub embedder_bgr: Option<bool>,
    /// Embedder input = (pixel - mean) * scale: the mean (0 for SFace, which normalises itself).
    #[arg(long, global = true)]
    pub embedder_mean: Option<f32>,
    /// Embedder input = (pixel - mean) * scale: the scale (1 for SFace).
    #[arg(long, global = true)]
    pub embedder_scale: Option<f32>,
    /// Execution provider.
    #[arg(long, global = true, value_enum)]
    pub provider: Option<ProviderArg>,
    /// Intra-op threads for ONNX Runtime (0: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// TensorRT: build fp16 engines.
    #[arg(long, global = true)]
    pub tensorrt_fp16: bool,
    /// TensorRT: keep built engines in this folder and reuse them at the next start.
    #[arg(long, global = true)]
    pub tensorrt_cache: Option<PathBuf>,
    /// Cosine similarity needed to give a name.
    #[arg(long, global = true)]
    pub threshold: Option<f32>,
    /// Minimum detector score.
    #[arg(long, global = true)]
    pub min_score: Option<f32>,
}

impl PipelineOpts {
    /// The configuration these options describe.
    pub fn config(&self) -> anyhow::Result<PipelineConfig> {
        let mut config = match &self.config {
            Some(path) => PipelineConfig::from_yaml_file(path)?,
            None => PipelineConfig::default(),
        };
        if let Some(kind) = self.detector {
            config = config.with_detector(kind.into());
        }
        if let Some(model) = &self.detector_model {
            config.detector.model = model.clone();
        }
        if let Some(model) = &self.embedder_model {
            config.embedder.model = model.clone();
        }
        if let Some(bgr) = self.embedder_bgr {
            config.embedder.bgr = bgr;
        }
        if let Some(mean) = self.embedder_mean {
            config.embedder.mean = mean;
        }
        if let Some(scale) = self.embedder_scale {
            config.embedder.scale = scale;
        }
        if let Some(provider) = self.provider {
            config.runtime.provider = provider.into();
        }
        if let Some(threads) = self.threads {
            config.runtime.intra_threads = threads;
        }
        if self.tensorrt_fp16 {
            config.runtime.tensorrt_fp16 = true;
        }
        if let Some(dir) = &self.tensorrt_cache {
            config.runtime.tensorrt_cache_dir = Some(dir.clone());
        }
        if let Some(t) = self.threshold {
            config.match_threshold = t;
        }
        if let Some(s) = self.min_score {
            config.detector.score_threshold = s;
        }
        config.validate()?;
        Ok(config)
    }

    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        let config = self.config()?;
        Pipeline::new(config).context("cannot start the face pipeline")
    }
}
