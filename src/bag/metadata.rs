//! A rosbag2 bag directory's `metadata.yaml`: storage format, data files, topics, compression.
//!
//! Only the fields a reader needs are parsed; unknown fields are ignored so that metadata from
//! any rosbag2 version (4 to 9 seen in the wild) loads.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::BagError;

#[derive(Debug, Deserialize)]
struct MetadataFile {
    rosbag2_bagfile_information: BagInfo,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BagInfo {
    #[serde(default)]
    pub storage_identifier: String,
    #[serde(default)]
    pub relative_file_paths: Vec<String>,
    #[serde(default)]
    pub topics_with_message_count: Vec<TopicWithCount>,
    #[serde(default)]
    pub compression_format: Option<String>,
    #[serde(default)]
    pub compression_mode: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopicWithCount {
    pub topic_metadata: TopicMetadata,
    #[serde(default)]
    pub message_count: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct TopicMetadata {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    #[serde(default)]
    pub serialization_format: String,
}

/// Reads and parses `dir/metadata.yaml`.
pub(crate) fn read(dir: &Path) -> Result<BagInfo, BagError> {
    let path = dir.join("metadata.yaml");
    let text = std::fs::read_to_string(&path).map_err(|source| BagError::Io {
        path: path.clone(),
        source,
    })?;
    let file: MetadataFile = serde_yaml_ng::from_str(&text).map_err(|e| BagError::Metadata {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    Ok(file.rosbag2_bagfile_information)
}

/// Resolves a `relative_file_paths` entry. Bags from old rosbag2 versions name files with the
/// bag directory in front (`mybag/mybag_0.db3`), newer ones relative to the directory.
pub(crate) fn resolve_file(dir: &Path, relative: &str) -> PathBuf {
    let direct = dir.join(relative);
    if direct.exists() {
        return direct;
    }
    if let Some(parent) = dir.parent() {
        let old_style = parent.join(relative);
        if old_style.exists() {
            return old_style;
        }
    }
    direct
}
