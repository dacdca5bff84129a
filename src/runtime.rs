//! The ONNX Runtime: finding its shared library, choosing the execution provider, thread counts
//! and building sessions from model files.
//!
//! The only module that talks to `ort` setup APIs. Detectors and embedders receive sessions built
//! here and know nothing about libraries or providers.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which execution provider runs the models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// Plain CPU.
    #[default]
    Cpu,
    /// NVIDIA CUDA; failing to load it is an error.
    Cuda,
    /// NVIDIA TensorRT (with CUDA for the nodes it does not take); failing to load is an error.
    Tensorrt,
    /// CUDA when it loads, otherwise CPU, saying so in the log.
    Auto,
}

impl std::str::FromStr for Provider {
    type Err = RuntimeError;

    /// `cpu`, `cuda`, `tensorrt` or `auto`, any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "tensorrt" => Ok(Self::Tensorrt),
            "auto" => Ok(Self::Auto),
            _ => Err(RuntimeError::UnknownProvider(s.to_owned())),
        }
    }
}

impl Provider {
    /// The provider the test suites run on: `FACEREC_TEST_PROVIDER` (`cpu`, `cuda`, `tensorrt`,
    /// `auto`), CPU when unset, so the same tests exercise the GPU path on a machine with one.
    pub fn for_tests() -> Result<Self, RuntimeError> {
        match std::env::var("FACEREC_TEST_PROVIDER") {
            Ok(v) if !v.trim().is_empty() => v.trim().parse(),
            _ => Ok(Self::Cpu),
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Tensorrt => "tensorrt",
            Self::Auto => "auto",
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Requested execution provider.
    pub provider: Provider,
    /// Threads used inside one operator (0 = ONNX Runtime's default: one per core).
    pub intra_threads: usize,
    /// Path of `libonnxruntime.so`; when unset, `ORT_DYLIB_PATH`, then the installed ROS
    /// package's `lib/facerec/libonnxruntime.so` ([`install_prefixes`]), then `.ort/` beside the
    /// working directory or the executable, then the system loader path are tried.
    pub library: Option<PathBuf>,
    /// TensorRT only: let it build fp16 engines (faster on GPUs with fp16 units; results
    /// differ from fp32 in the last digits). Off: fp32, as the other providers.
    pub tensorrt_fp16: bool,
    /// TensorRT only: keep built engines (and the timing cache) in this folder and reuse them at
    /// the next start instead of building them again (minutes on a robot's GPU). A changed model
    /// gets new engines: file names start with the model's sha256.
    pub tensorrt_cache_dir: Option<PathBuf>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            provider: Provider::Cpu,
            intra_threads: 0,
            library: None,
            tensorrt_fp16: false,
            tensorrt_cache_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found; looked for: {tried}. Run `bash scripts/setup_ort.sh` (and rebuild the colcon package, which installs it as lib/facerec/libonnxruntime.so) or set ORT_DYLIB_PATH"
    )]
    LibraryNotFound { tried: String },
    #[error("ONNX Runtime library {path} could not be loaded: {reason}")]
    LibraryLoad { path: String, reason: String },
    #[error("ONNX Runtime library already loaded from elsewhere; cannot also load {0}")]
    LibraryConflict(String),
    #[error("execution provider {provider} could not be used: {reason}")]
    Provider { provider: Provider, reason: String },
    #[error("cannot read model {path}")]
    ModelRead { path: String, source: std::io::Error },
    #[error("cannot load model {path}: {reason}")]
    ModelLoad { path: String, reason: String },
    #[error("ONNX Runtime error")]
    Ort(#[from] ort::Error),
    #[error("unknown execution provider '{0}' (expected cpu, cuda, tensorrt or auto)")]
    UnknownProvider(String),
}

static LOADED: OnceLock<(PathBuf, ort::environment::Environment)> = OnceLock::new();

/// The ROS package this library is installed as (`<prefix>/lib/facerec`, `<prefix>/share/facerec`).
pub const ROS_PACKAGE: &str = "facerec";

/// File name of the ONNX Runtime library in an installed package's `lib/facerec/`.
pub const INSTALLED_LIBRARY: &str = "libonnxruntime.so";

/// Install prefixes that may hold the facerec ROS package, most specific first: each entry of
/// `AMENT_PREFIX_PATH` (how ROS finds package files; with `colcon build --symlink-install` the
/// installed node is a link into cargo's target folder, so only this finds the install tree),
/// then the prefix of the executable as it was called (`<prefix>/lib/facerec/facerec_node`, the
/// path `ros2 run` and `ros2 launch` use) and as it is on disk.
pub fn install_prefixes(
    ament_prefix_path: Option<&OsStr>,
    called_as: Option<&Path>,
    exe: Option<&Path>,
) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    let mut push = |p: PathBuf| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(list) = ament_prefix_path {
        for prefix in std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()) {
            push(prefix);
        }
    }
    for path in [called_as, exe].into_iter().flatten() {
        let dir = path.parent();
        let is = |p: Option<&Path>, name: &str| p.and_then(Path::file_name) == Some(OsStr::new(name));
        if is(dir, ROS_PACKAGE) && is(dir.and_then(Path::parent), "lib") {
            if let Some(prefix) = dir.and_then(Path::parent).and_then(Path::parent) {
                push(prefix.to_path_buf());
            }
        }
    }
    out
}

/// [`install_prefixes`] of this process (`AMENT_PREFIX_PATH`, `argv[0]`, the executable).
pub fn process_install_prefixes() -> Vec<PathBuf> {
    let called_as = std::env::args_os().next().map(PathBuf::from).and_then(|p| {
        if p.is_absolute() {
            Some(p)
        } else if p.components().count() > 1 {
            std::env::current_dir().ok().map(|cwd| cwd.join(p))
        } else {
            None // found on PATH: current_exe covers it
        }
    });
    let exe = std::env::current_exe().ok();
    install_prefixes(
        std::env::var_os("AMENT_PREFIX_PATH").as_deref(),
        called_as.as_deref(),
        exe.as_deref(),
    )
}

/// Candidate locations of the ONNX Runtime library, most specific first.
fn library_candidates(config: &RuntimeConfig) -> Vec<PathBuf> {
    library_candidates_in(config, std::env::var_os("ORT_DYLIB_PATH"), &process_install_prefixes())
}

fn library_candidates_in(
    config: &RuntimeConfig,
    ort_dylib_path: Option<std::ffi::OsString>,
    prefixes: &[PathBuf],
) -> Vec<PathBuf> {
    if let Some(path) = &config.library {
        return vec![path.clone()];
    }
    if let Some(path) = ort_dylib_path.filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(path)];
    }
    let mut out: Vec<PathBuf> = prefixes
        .iter()
        .map(|p| p.join("lib").join(ROS_PACKAGE).join(INSTALLED_LIBRARY))
        .collect();
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    if let Ok(exe) = std::env::current_exe() {
        roots.extend(exe.ancestors().skip(1).map(Path::to_path_buf));
    }
    for root in roots {
        let candidate = root.join(".ort").join("libonnxruntime.so");
        if !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// Loads the ONNX Runtime shared library once per process; returns the path it came from.
fn load_library(config: &RuntimeConfig) -> Result<(PathBuf, ort::environment::Environment), RuntimeError> {
    if let Some((path, env)) = LOADED.get() {
        if let Some(wanted) = &config.library {
            if wanted != path {
                return Err(RuntimeError::LibraryConflict(wanted.display().to_string()));
            }
        }
        return Ok((path.clone(), env.clone()));
    }
    let candidates = library_candidates(config);
    let explicit = config.library.is_some() || std::env::var_os("ORT_DYLIB_PATH").is_some_and(|p| !p.is_empty());
    let found = candidates.iter().find(|p| p.exists()).cloned();
    let path = match (found, explicit) {
        (Some(p), _) => p,
        // Explicit but missing: report exactly that path.
        (None, true) => {
            return Err(RuntimeError::LibraryNotFound {
                tried: candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
        // Last resort: the system loader's search path.
        (None, false) => PathBuf::from("libonnxruntime.so.1"),
    };
    let env = match ort::init_from(&path) {
        Ok(builder) => builder.with_name("facerec").build()?,
        Err(err) => {
            let tried = candidates
                .iter()
                .map(|p| p.display().to_string())
                .chain(std::iter::once("libonnxruntime.so.1 (system loader path)".to_owned()))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(if path.exists() {
                RuntimeError::LibraryLoad {
                    path: path.display().to_string(),
                    reason: err.to_string(),
                }
            } else {
                RuntimeError::LibraryNotFound { tried }
            });
        }
    };
    let loaded = LOADED.get_or_init(|| (path, env));
    Ok((loaded.0.clone(), loaded.1.clone()))
}

/// A loaded ONNX Runtime with a resolved execution provider; builds sessions.
#[derive(Clone)]
pub struct Runtime {
    config: RuntimeConfig,
    /// The provider sessions actually run on (never `Auto`).
    active: Provider,
    library: PathBuf,
    env: ort::environment::Environment,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("provider", &self.active)
            .field("library", &self.library)
            .finish()
    }
}

impl Runtime {
    /// Loads the library and resolves the provider. `Auto` tries CUDA and falls back to CPU with a
    /// warning; `Cuda`/`Tensorrt` fail when the provider is unavailable.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let (library, env) = load_library(&config)?;
        let active = match config.provider {
            Provider::Cpu => Provider::Cpu,
            Provider::Cuda | Provider::Tensorrt => {
                check_gpu_available(config.provider)?;
                config.provider
            }
            Provider::Auto => match check_gpu_available(Provider::Cuda) {
                Ok(()) => Provider::Cuda,
                Err(err) => {
                    tracing::warn!("execution provider auto: CUDA unavailable ({err}); falling back to CPU");
                    Provider::Cpu
                }
            },
        };
        Ok(Self {
            config,
            active,
            library,
            env,
        })
    }

    /// The provider in use (`cpu`, `cuda` or `tensorrt`).
    pub fn provider(&self) -> Provider {
        self.active
    }

    pub fn library(&self) -> &Path {
        &self.library
    }

    pub fn intra_threads(&self) -> usize {
        self.config.intra_threads
    }

    /// Builds a session for a model file on the active provider. For `Auto` a CUDA registration
    /// failure at session level also falls back to CPU, with a warning.
    pub fn session(&self, model: &Path) -> Result<Session, RuntimeError> {
        let bytes = std::fs::read(model).map_err(|source| RuntimeError::ModelRead {
            path: model.display().to_string(),
            source,
        })?;
        match self.session_on(self.active, &bytes, model) {
            Err(err) if self.config.provider == Provider::Auto && self.active != Provider::Cpu => {
                tracing::warn!(
                    "execution provider auto: {err}; falling back to CPU for {}",
                    model.display()
                );
                self.session_on(Provider::Cpu, &bytes, model)
            }
            other => other,
        }
    }

    fn session_on(&self, provider: Provider, bytes: &[u8], model: &Path) -> Result<Session, RuntimeError> {
        let load_err = |e: ort::Error| RuntimeError::ModelLoad {
            path: model.display().to_string(),
            reason: e.to_string(),
        };
        let mut builder = Session::builder(&self.env).map_err(load_err)?;
        if self.config.intra_threads > 0 {
            builder = builder
                .with_intra_threads(self.config.intra_threads)
                .map_err(|e| load_err(e.into()))?;
        }
        if provider == Provider::Cpu {
            // Fold DequantizeLinear of constant weights into float weights once, at load: the
            // block-quantised SFace has no int8 CPU kernels and otherwise dequantises its weights
            // on every run. Same outputs (checked to 2e-6). And let idle worker threads sleep
            // instead of spinning: they compete with the rest of the node for a robot's few
            // cores. Before/after figures: docs/BENCHMARKS.md.
            builder = builder.with_quant_qdq(false).map_err(|e| load_err(e.into()))?;
            builder = builder.with_intra_op_spinning(false).map_err(|e| load_err(e.into()))?;
        }
        let providers = match provider {
            Provider::Cpu | Provider::Auto => vec![],
            Provider::Cuda => vec![ep::CUDA::default().build().error_on_failure()],
            Provider::Tensorrt => vec![
                self.tensorrt(bytes).build().error_on_failure(),
                ep::CUDA::default().build().error_on_failure(),
            ],
        };
        if !providers.is_empty() {
            builder = builder
                .with_execution_providers(providers)
                .map_err(|e| RuntimeError::Provider {
                    provider,
                    reason: ort::Error::<()>::from(e).to_string(),
                })?;
        }
        builder.commit_from_memory(bytes).map_err(load_err)
    }

    /// The TensorRT provider as configured: fp16 when asked, and an engine + timing cache in
    /// `tensorrt_cache_dir` named by the model's sha256 (so a changed model never reuses a stale
    /// engine).
    fn tensorrt(&self, model_bytes: &[u8]) -> ep::TensorRT {
        let mut trt = ep::TensorRT::default().with_fp16(self.config.tensorrt_fp16);
        if let Some(dir) = &self.config.tensorrt_cache_dir {
            let dir = dir.display().to_string();
            let sha256 = hex::encode(Sha256::digest(model_bytes));
            let prefix: String = sha256.chars().take(16).collect();
            trt = trt
                .with_engine_cache(true)
                .with_engine_cache_path(dir.clone())
                .with_engine_cache_prefix(prefix)
                .with_timing_cache(true)
                .with_timing_cache_path(dir);
        }
        trt
    }
}

fn check_gpu_available(provider: Provider) -> Result<(), RuntimeError> {
    let available = match provider {
        Provider::Tensorrt => ep::TensorRT::is_available(),
        _ => ep::CUDA::is_available(),
    };
    match available {
        Ok(true) => Ok(()),
        Ok(false) => Err(RuntimeError::Provider {
            provider,
            reason: "this ONNX Runtime build has no such provider (install the onnxruntime-gpu library: FACEREC_ORT_GPU=1 bash scripts/setup_ort.sh)".to_owned(),
        }),
        Err(err) => Err(RuntimeError::Provider { provider, reason: err.to_string() }),
    }
}

/// Hex sha256 of a file: the identity of a model, recorded in galleries and caches.
pub fn file_sha256(path: &Path) -> Result<String, RuntimeError> {
    let bytes = std::fs::read(path).map_err(|source| RuntimeError::ModelRead {
        path: path.display().to_string(),
        source,
    })?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_prefixes_come_from_ament_and_the_called_path() {
        let ament =
            std::env::join_paths(["/ws/install/facerec", "/ws/install/vision_msgs", "/opt/ros/jazzy"]).expect("join");
        let got = install_prefixes(
            Some(&ament),
            Some(Path::new("/ws/install/facerec/lib/facerec/facerec_node")),
            Some(Path::new("/src/facerec/target/release/facerec_node")),
        );
        assert_eq!(
            got,
            vec![
                PathBuf::from("/ws/install/facerec"),
                PathBuf::from("/ws/install/vision_msgs"),
                PathBuf::from("/opt/ros/jazzy"),
            ],
            "the called path's prefix is already listed; cargo's target folder is no prefix"
        );
        let got = install_prefixes(None, Some(Path::new("/other/lib/facerec/facerec_node")), None);
        assert_eq!(got, vec![PathBuf::from("/other")]);
        assert!(install_prefixes(None, Some(Path::new("/usr/bin/facerec_node")), None).is_empty());
    }

    #[test]
    fn the_installed_library_is_found_through_the_prefixes() {
        let prefixes = [
            PathBuf::from("/ws/install/vision_msgs"),
            PathBuf::from("/ws/install/facerec"),
        ];
        let c = library_candidates_in(&RuntimeConfig::default(), None, &prefixes);
        assert_eq!(
            c.first(),
            Some(&PathBuf::from("/ws/install/vision_msgs/lib/facerec/libonnxruntime.so"))
        );
        assert_eq!(
            c.get(1),
            Some(&PathBuf::from("/ws/install/facerec/lib/facerec/libonnxruntime.so"))
        );
        // Explicit choices win, an empty ORT_DYLIB_PATH counts as unset.
        let explicit = library_candidates_in(
            &RuntimeConfig::default(),
            Some("/x/libonnxruntime.so".into()),
            &prefixes,
        );
        assert_eq!(explicit, vec![PathBuf::from("/x/libonnxruntime.so")]);
        let empty = library_candidates_in(&RuntimeConfig::default(), Some("".into()), &prefixes);
        assert_eq!(empty.first(), c.first());
    }
}
