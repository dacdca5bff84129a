//! Options every subcommand shares (models, provider, threads, threshold) and the pipeline they
//! build.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use facerec::detect::DetectorKind;
use facerec::runtime::Provider;
use facerec::{Pipeline, PipelineConfig};

#[derive(Debug, Clone, Args)]
pub struct PipelineOpts {
    /// Pipeline configuration file (YAML); flags below override it.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Face detector.
    #[arg(long, global = true, value_enum)]
    pub detector: Option<DetectorKind>,
    /// Detector model file (default: the shipped one for --detector).
    #[arg(long, global = true)]
    pub detector_model: Option<PathBuf>,
    /// Embedder model file (default: the shipped SFace).
    #[arg(long, global = true)]
    pub embedder_model: Option<PathBuf>,
    /// Execution provider.
    #[arg(long, global = true, value_enum)]
    pub provider: Option<Provider>,
    /// Intra-op threads for ONNX Runtime (0: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
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
            config = config.with_detector(kind);
        }
        if let Some(model) = &self.detector_model {
            config.detector.model = model.clone();
        }
        if let Some(model) = &self.embedder_model {
            config.embedder.model = model.clone();
        }
        if let Some(provider) = self.provider {
            config.runtime.provider = provider;
        }
        if let Some(threads) = self.threads {
            config.runtime.intra_threads = threads;
        }
        if let Some(t) = self.threshold {
            config.match_threshold = t;
        }
        if let Some(s) = self.min_score {
            config.detector.score_threshold = s;
        }
        Ok(config)
    }

    pub fn pipeline(&self) -> anyhow::Result<Pipeline> {
        let config = self.config()?;
        Pipeline::new(config).context("cannot start the face pipeline")
    }
}
