//! Embedding cache for evaluations: what the pipeline got from each photo, stored per model
//! setting so that a re-run (another threshold, another report) needs no inference. One JSON file
//! per setting, `<dir>/<key>.json`, where the key hashes the embedder's and the detector's sha256,
//! their settings and the face policy; entries are keyed by the photo's absolute path and checked
//! against its size and modification time. Code changes to alignment or decoding are not in the
//! key: use `--no-cache` (as CI does) after changing them. Writes only inside its directory,
//! atomically (temporary file + rename).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::faces::{FacePolicy, ImageFace};
use super::EvalError;
use crate::pipeline::Pipeline;
use crate::runtime::file_sha256;

const FORMAT: u32 = 2;

/// Everything the cached results depend on, written into the cache file for people to read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheSetting {
    pub format: u32,
    pub embedder_file: String,
    pub embedder_sha256: String,
    pub embedder_bgr: bool,
    pub embedder_mean: f32,
    pub embedder_scale: f32,
    pub detector_kind: String,
    pub detector_file: String,
    pub detector_sha256: String,
    pub detector_input_size: u32,
    pub detector_nms_iou: f32,
    pub detector_max_upscale: f32,
    pub detector_border_pad: f32,
    pub detector_close_face_fraction: f32,
    pub policy: FacePolicy,
    /// Which detection is taken when a photo has several.
    pub selection: String,
}

impl CacheSetting {
    /// The setting of a pipeline built for evaluation with `policy`.
    pub fn of(pipeline: &Pipeline, policy: &FacePolicy) -> Result<Self, EvalError> {
        let config = pipeline.config();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        Ok(Self {
            format: FORMAT,
            embedder_file: pipeline.model_tag().file.clone(),
            embedder_sha256: pipeline.model_tag().sha256.clone(),
            embedder_bgr: config.embedder.bgr,
            embedder_mean: config.embedder.mean,
            embedder_scale: config.embedder.scale,
            detector_kind: format!("{:?}", config.detector.kind).to_lowercase(),
            detector_file: name(&config.detector.model),
            detector_sha256: file_sha256(&config.detector.model)
                .map_err(|e| EvalError::Cache(format!("cannot hash the detector model: {e}")))?,
            detector_input_size: config.detector.input_size,
            detector_nms_iou: config.detector.nms_iou,
            detector_max_upscale: config.detector.max_upscale,
            detector_border_pad: config.detector.border_pad,
            detector_close_face_fraction: config.detector.close_face_fraction,
            policy: *policy,
            selection: super::faces::SELECTION_RULE.to_owned(),
        })
    }

    /// Short hex key naming the cache file.
    pub fn key(&self) -> String {
        let text = serde_json::to_string(self).unwrap_or_default();
        let digest = hex::encode(Sha256::digest(text.as_bytes()));
        format!("{}-{}", self.detector_kind, digest.get(..16).unwrap_or(&digest))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    size: u64,
    mtime_ns: u128,
    face: ImageFace,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    setting: CacheSetting,
    entries: BTreeMap<String, Entry>,
}

/// Cached faces of one setting.
#[derive(Debug)]
pub struct EmbeddingCache {
    path: PathBuf,
    setting: CacheSetting,
    entries: BTreeMap<String, Entry>,
    unsaved: usize,
}

fn stamp(path: &Path) -> Option<(String, u64, u128)> {
    let abs = std::fs::canonicalize(path).ok()?;
    let meta = std::fs::metadata(&abs).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((abs.to_string_lossy().into_owned(), meta.len(), mtime))
}

impl EmbeddingCache {
    /// Opens (or starts) the cache file for `setting` under `dir`. A file that cannot be parsed
    /// or belongs to another setting is ignored (and replaced on save).
    pub fn open(dir: &Path, setting: CacheSetting) -> Self {
        let path = dir.join(format!("{}.json", setting.key()));
        let entries = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|f| f.setting == setting)
            .map(|f| f.entries)
            .unwrap_or_default();
        Self {
            path,
            setting,
            entries,
            unsaved: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The cached face of a photo, if the photo is unchanged since it was stored.
    pub fn get(&self, image: &Path) -> Option<&ImageFace> {
        let (key, size, mtime_ns) = stamp(image)?;
        self.entries
            .get(&key)
            .filter(|e| e.size == size && e.mtime_ns == mtime_ns)
            .map(|e| &e.face)
    }

    /// Stores the face of a photo (in memory; `save` writes).
    pub fn put(&mut self, image: &Path, face: ImageFace) {
        if let Some((key, size, mtime_ns)) = stamp(image) {
            self.entries.insert(key, Entry { size, mtime_ns, face });
            self.unsaved += 1;
        }
    }

    /// Entries added since the last save.
    pub fn unsaved(&self) -> usize {
        self.unsaved
    }

    /// Writes the cache file atomically.
    pub fn save(&mut self) -> Result<(), EvalError> {
        let io = |source: std::io::Error| EvalError::Io {
            path: self.path.display().to_string(),
            source,
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = CacheFile {
            setting: self.setting.clone(),
            entries: std::mem::take(&mut self.entries),
        };
        let bytes = serde_json::to_vec(&file);
        self.entries = file.entries;
        let bytes = bytes.map_err(|e| EvalError::Cache(e.to_string()))?;
        let tmp = self.path.with_extension(format!("json.tmp{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(io)?;
        self.unsaved = 0;
        Ok(())
    }
}
