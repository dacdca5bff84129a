//! Reading camera images out of rosbag2 bags, for replay. ROS-free: no ROS installation, no
//! ROS crates; only the bag files.
//!
//! A bag is opened with [`BagReader::open`] from any of:
//! - a bag directory with `metadata.yaml` (`storage_identifier: mcap` or `sqlite3`, one or more
//!   files in `relative_file_paths`, e.g. a split recording);
//! - a bag directory without `metadata.yaml` (a recording that stopped before writing it): its
//!   `*.mcap` or `*.db3` files are read in name order, with a warning;
//! - a single `.mcap` or `.db3` file (recognised by its magic bytes, not its name).
//!
//! [`BagReader::images`] then yields every `sensor_msgs/msg/Image` and
//! `sensor_msgs/msg/CompressedImage` message of the chosen topics, decoded into [`BagImage`],
//! across all files in one deterministic order: log time, then topic name, then sequence
//! (MCAP message sequence, sqlite row id), then position in the file. Topics of other types are
//! listed by [`BagReader::topics`] and skipped with a `tracing` warning.
//!
//! Errors never end a replay early where the rest of the bag can still be read:
//! - a message that does not decode (bad CDR, wrong type, empty) is one `Err` item
//!   ([`BagError::Malformed`]) and the next messages still come;
//! - a damaged file (a truncated MCAP, a corrupt chunk, an unreadable sqlite page) yields the
//!   messages that could be read and then one `Err` item for that file; other files of the bag
//!   still come;
//! - problems with the bag as a whole (missing files, unknown storage, unparsable metadata,
//!   whole-file compression) are errors of [`BagReader::open`].
//!
//! Compression: MCAP chunks in zstd or lz4, and rosbag2's per-message zstd compression
//! (`compression_mode: message`, known from metadata.yaml) are undone; whole-file compression
//! (`compression_mode: file`) is refused.
//!
//! Memory: MCAP files with an index (summary) are read chunk by chunk in log-time order; MCAP
//! files without one (truncated, or written without a summary) are read whole into memory and
//! sorted; sqlite3 files hold only a sorted list of message keys in memory and fetch each
//! message's bytes when it is yielded.
//!
//! Touches only the bag files (read-only). Converting a message into pixels is left to
//! [`crate::frame`] ([`BagImage::to_frame`]).

mod mcap_source;
mod metadata;
pub mod msg;
mod sqlite_source;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use msg::{ImageKind, COMPRESSED_IMAGE_TYPE, IMAGE_TYPE};

use crate::frame::{Frame, FrameError, FrameLimits};

/// Everything that can go wrong reading a bag. Every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },
    #[error("{}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a rosbag2 bag: {reason}", path.display())]
    NotABag { path: PathBuf, reason: String },
    #[error("{}: cannot parse: {reason}", path.display())]
    Metadata { path: PathBuf, reason: String },
    #[error(
        "{}: unknown storage format '{storage}' (this reader knows 'mcap' and 'sqlite3')",
        path.display()
    )]
    UnknownStorage { path: PathBuf, storage: String },
    #[error(
        "{}: compression_mode '{mode}' with format '{format}' is not supported (only \
         per-message zstd); decompress the bag first (e.g. `ros2 bag convert`)",
        path.display()
    )]
    UnsupportedCompression {
        path: PathBuf,
        mode: String,
        format: String,
    },
    #[error("{}: listed in metadata.yaml but missing", path.display())]
    MissingFile { path: PathBuf },
    #[error("{}: expected a {expected} file, but its first bytes say otherwise", path.display())]
    WrongFileFormat { path: PathBuf, expected: &'static str },
    #[error(
        "{}: file ends early (truncated?) after {messages_read} readable messages: {reason}",
        path.display()
    )]
    Truncated {
        path: PathBuf,
        messages_read: u64,
        reason: String,
    },
    #[error("{}: damaged MCAP file after {messages_read} readable messages: {reason}", path.display())]
    Mcap {
        path: PathBuf,
        messages_read: u64,
        reason: String,
    },
    #[error("{}: sqlite3 bag file cannot be read", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "{}: malformed {type_name} message on {topic} at log time {log_time_ns} ns: {reason}",
        path.display()
    )]
    Malformed {
        path: PathBuf,
        topic: String,
        type_name: String,
        log_time_ns: u64,
        reason: String,
    },
    #[error("{}: no topic '{topic}' in this bag (image topics: {available})", path.display())]
    NoSuchTopic {
        path: PathBuf,
        topic: String,
        available: String,
    },
    #[error(
        "{}: topic '{topic}' carries {type_name} (serialization '{serialization}'), not a CDR \
         sensor_msgs/msg/Image or CompressedImage",
        path.display()
    )]
    NotAnImageTopic {
        path: PathBuf,
        topic: String,
        type_name: String,
        serialization: String,
    },
}

/// How a bag stores its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// MCAP files (`storage_identifier: mcap`).
    Mcap,
    /// SQLite 3 databases (`storage_identifier: sqlite3`, `.db3` files).
    Sqlite3,
}

impl Storage {
    fn from_identifier(id: &str) -> Option<Self> {
        match id {
            "mcap" => Some(Self::Mcap),
            "sqlite3" => Some(Self::Sqlite3),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Mcap => "MCAP",
            Self::Sqlite3 => "SQLite 3",
        }
    }
}

/// One topic of a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name, e.g. `/camera/image_raw`.
    pub name: String,
    /// ROS 2 type name, e.g. `sensor_msgs/msg/Image`.
    pub type_name: String,
    /// Serialization format; `cdr` for every ROS 2 bag written by rosbag2 or rosbags.
    pub serialization_format: String,
    /// Messages on this topic, where the bag says (metadata.yaml, MCAP statistics, sqlite count).
    pub message_count: Option<u64>,
}

impl TopicInfo {
    /// The image message this topic carries, or `None` when it is not a CDR image topic.
    pub fn image_kind(&self) -> Option<ImageKind> {
        let cdr = self.serialization_format.is_empty() || self.serialization_format == "cdr";
        ImageKind::from_type_name(&self.type_name).filter(|_| cdr)
    }
}

/// One image message from a bag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BagImage {
    /// When the recorder logged the message (bag time), in nanoseconds since the epoch.
    pub log_time_ns: u64,
    /// The topic it was recorded from.
    pub topic: String,
    /// `header.stamp` (usually when the camera took the picture), in ns since the epoch.
    pub header_stamp_ns: i64,
    /// `header.frame_id`.
    pub frame_id: String,
    /// The pixels, raw or encoded.
    pub payload: ImagePayload,
}

/// The image content of a message, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImagePayload {
    /// `sensor_msgs/msg/Image`: `height` rows of `step` bytes in `encoding`.
    Raw {
        width: u32,
        height: u32,
        step: u32,
        encoding: String,
        is_bigendian: bool,
        data: Vec<u8>,
    },
    /// `sensor_msgs/msg/CompressedImage`: an encoded image (`format` e.g. `jpeg`, `png`,
    /// `rgb8; jpeg compressed bgr8`).
    Compressed { format: String, data: Vec<u8> },
}

impl BagImage {
    /// Converts the message into an RGB frame for the pipeline within the default
    /// [`FrameLimits`]: [`Self::to_frame_within`].
    pub fn to_frame(&self) -> Result<Frame, FrameError> {
        self.to_frame_within(FrameLimits::default())
    }

    /// Converts the message into an RGB frame within `limits`, by the node's rules (the same
    /// [`Frame::from_image_message_bytes`] / [`Frame::from_compressed_message`] the node's
    /// subscriptions use). Fails (never panics) when sizes, step and data disagree, the encoding
    /// or compressed format is one the node refuses, or the bytes do not decode.
    pub fn to_frame_within(&self, limits: FrameLimits) -> Result<Frame, FrameError> {
        match &self.payload {
            ImagePayload::Raw {
                width,
                height,
                step,
                encoding,
                data,
                ..
            } => Frame::from_image_message_bytes(encoding, *width, *height, *step, data, limits),
            ImagePayload::Compressed { format, data } => Frame::from_compressed_message(format, data, limits),
        }
    }
}

/// A message as stored, before decoding: what every storage source yields.
pub(crate) struct Record {
    pub log_time_ns: u64,
    pub topic: Arc<str>,
    pub type_name: Arc<str>,
    pub sequence: u64,
    pub data: Vec<u8>,
}

impl Record {
    fn key(&self) -> (u64, &str, u64) {
        (self.log_time_ns, &self.topic, self.sequence)
    }
}

/// The messages of one bag file, in (log time, topic, sequence, file position) order.
/// After an error a source yields nothing more.
pub(crate) trait Source: Send {
    fn next_record(&mut self) -> Option<Result<Record, BagError>>;
}

/// An opened bag: its files and topics. Cheap to keep; reading starts with [`Self::images`].
#[derive(Debug, Clone)]
pub struct BagReader {
    path: PathBuf,
    storage: Storage,
    files: Vec<PathBuf>,
    topics: Vec<TopicInfo>,
    /// rosbag2 `compression_mode: message`, `compression_format: zstd`.
    zstd_messages: bool,
}

const MCAP_MAGIC: &[u8] = b"\x89MCAP0\r\n";
const SQLITE_MAGIC: &[u8] = b"SQLite format 3\0";

/// Reads up to the first 16 bytes of a file.
fn sniff(path: &Path) -> Result<Vec<u8>, BagError> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|source| io_error(path, source))?;
    let mut head = Vec::with_capacity(16);
    file.take(16)
        .read_to_end(&mut head)
        .map_err(|source| io_error(path, source))?;
    Ok(head)
}

fn io_error(path: &Path, source: std::io::Error) -> BagError {
    if source.kind() == std::io::ErrorKind::NotFound {
        BagError::NotFound { path: path.to_owned() }
    } else {
        BagError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The storage a file's first bytes announce.
fn storage_of_file(path: &Path) -> Result<Storage, BagError> {
    let head = sniff(path)?;
    if head.starts_with(MCAP_MAGIC) {
        Ok(Storage::Mcap)
    } else if head.starts_with(SQLITE_MAGIC) {
        Ok(Storage::Sqlite3)
    } else if !head.is_empty() && MCAP_MAGIC.starts_with(&head) {
        Err(BagError::Truncated {
            path: path.to_owned(),
            messages_read: 0,
            reason: format!("only {} bytes, not even the MCAP magic", head.len()),
        })
    } else {
        Err(BagError::NotABag {
            path: path.to_owned(),
            reason: "neither an MCAP nor a SQLite 3 file (first bytes)".to_owned(),
        })
    }
}

/// Sorts bag files the way rosbag2 numbers them (`bag_0`, `bag_1`, ..., `bag_10`).
fn split_order(path: &Path) -> (String, u64, String) {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let (prefix, number) = match stem.rsplit_once('_') {
        Some((prefix, n)) => match n.parse::<u64>() {
            Ok(n) => (prefix.to_owned(), n),
            Err(_) => (stem.to_owned(), 0),
        },
        None => (stem.to_owned(), 0),
    };
    (prefix, number, path.to_string_lossy().into_owned())
}

impl BagReader {
    /// Opens a bag directory (with or without `metadata.yaml`) or a single `.mcap`/`.db3` file.
    /// Checks that every data file is there and of the announced storage, and lists the topics;
    /// reads no messages.
    pub fn open(path: &Path) -> Result<Self, BagError> {
        let meta = std::fs::metadata(path).map_err(|source| io_error(path, source))?;
        if meta.is_dir() {
            if path.join("metadata.yaml").is_file() {
                Self::open_with_metadata(path)
            } else {
                Self::open_dir_without_metadata(path)
            }
        } else {
            let storage = storage_of_file(path)?;
            let files = vec![path.to_owned()];
            let topics = topics_from_files(storage, &files)?;
            Ok(Self {
                path: path.to_owned(),
                storage,
                files,
                topics,
                zstd_messages: false,
            })
        }
    }

    fn open_with_metadata(dir: &Path) -> Result<Self, BagError> {
        let info = metadata::read(dir)?;
        let metadata_path = dir.join("metadata.yaml");
        let storage = Storage::from_identifier(&info.storage_identifier).ok_or_else(|| BagError::UnknownStorage {
            path: metadata_path.clone(),
            storage: info.storage_identifier.clone(),
        })?;
        let mode = info.compression_mode.clone().unwrap_or_default();
        let format = info.compression_format.clone().unwrap_or_default();
        let zstd_messages = match (mode.to_ascii_lowercase().as_str(), format.as_str()) {
            ("" | "none", _) => false,
            ("message", "zstd") => true,
            _ => {
                return Err(BagError::UnsupportedCompression {
                    path: metadata_path,
                    mode,
                    format,
                })
            }
        };
        if info.relative_file_paths.is_empty() {
            return Err(BagError::Metadata {
                path: metadata_path,
                reason: "relative_file_paths lists no files".to_owned(),
            });
        }
        let mut files = Vec::with_capacity(info.relative_file_paths.len());
        for relative in &info.relative_file_paths {
            let file = metadata::resolve_file(dir, relative);
            if !file.is_file() {
                return Err(BagError::MissingFile { path: file });
            }
            if storage_of_file(&file)? != storage {
                return Err(BagError::WrongFileFormat {
                    path: file,
                    expected: storage.name(),
                });
            }
            files.push(file);
        }
        let mut topics: Vec<TopicInfo> = Vec::new();
        for entry in info.topics_with_message_count {
            let t = entry.topic_metadata;
            // Several entries for one topic (e.g. differing QoS) add up.
            if let Some(existing) = topics.iter_mut().find(|x| x.name == t.name) {
                existing.message_count = existing.message_count.map(|c| c + entry.message_count);
            } else {
                topics.push(TopicInfo {
                    name: t.name,
                    type_name: t.type_name,
                    serialization_format: t.serialization_format,
                    message_count: Some(entry.message_count),
                });
            }
        }
        Ok(Self {
            path: dir.to_owned(),
            storage,
            files,
            topics,
            zstd_messages,
        })
    }

    fn open_dir_without_metadata(dir: &Path) -> Result<Self, BagError> {
        let entries = std::fs::read_dir(dir).map_err(|source| io_error(dir, source))?;
        let mut mcap = Vec::new();
        let mut db3 = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| io_error(dir, source))?;
            let file = entry.path();
            match file.extension().and_then(|e| e.to_str()) {
                Some("mcap") => mcap.push(file),
                Some("db3") => db3.push(file),
                _ => {}
            }
        }
        let (storage, mut files) = match (mcap.is_empty(), db3.is_empty()) {
            (false, true) => (Storage::Mcap, mcap),
            (true, false) => (Storage::Sqlite3, db3),
            (true, true) => {
                return Err(BagError::NotABag {
                    path: dir.to_owned(),
                    reason: "no metadata.yaml and no .mcap or .db3 files".to_owned(),
                })
            }
            (false, false) => {
                return Err(BagError::NotABag {
                    path: dir.to_owned(),
                    reason: "no metadata.yaml, and both .mcap and .db3 files".to_owned(),
                })
            }
        };
        files.sort_by_key(|f| split_order(f));
        tracing::warn!(
            bag = %dir.display(),
            files = files.len(),
            "no metadata.yaml; reading the {} files found in the directory",
            storage.name()
        );
        for file in &files {
            if storage_of_file(file)? != storage {
                return Err(BagError::WrongFileFormat {
                    path: file.clone(),
                    expected: storage.name(),
                });
            }
        }
        let topics = topics_from_files(storage, &files)?;
        Ok(Self {
            path: dir.to_owned(),
            storage,
            files,
            topics,
            zstd_messages: false,
        })
    }

    /// The path the bag was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the bag stores its messages.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// The bag's data files, in the order the bag lists them.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// All topics of the bag, images or not, in the order the bag lists them.
    pub fn topics(&self) -> &[TopicInfo] {
        &self.topics
    }

    /// The topics [`Self::images`] reads when given no topic names.
    pub fn image_topics(&self) -> Vec<&TopicInfo> {
        self.topics.iter().filter(|t| t.image_kind().is_some()).collect()
    }

    /// Reads the image messages of `topics` (all image topics when empty) in bag order.
    ///
    /// Fails up front when a named topic is missing or not an image topic, or a file cannot be
    /// opened; after that every problem is one `Err` item (see the module comment).
    pub fn images(&self, topics: &[String]) -> Result<Images, BagError> {
        let wanted = self.choose_topics(topics)?;
        let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(self.files.len());
        for file in &self.files {
            let source: Box<dyn Source> = match self.storage {
                Storage::Mcap => mcap_source::open(file, &wanted)?,
                Storage::Sqlite3 => sqlite_source::open(file, &wanted)?,
            };
            sources.push(source);
        }
        Ok(Images {
            files: self.files.clone(),
            zstd_messages: self.zstd_messages,
            heads: sources.iter().map(|_| Head::Empty).collect(),
            sources,
        })
    }

    fn choose_topics(&self, topics: &[String]) -> Result<BTreeSet<String>, BagError> {
        let mut wanted = BTreeSet::new();
        if topics.is_empty() {
            for topic in &self.topics {
                if topic.image_kind().is_some() {
                    wanted.insert(topic.name.clone());
                } else {
                    tracing::warn!(
                        bag = %self.path.display(),
                        topic = %topic.name,
                        type_name = %topic.type_name,
                        "skipping topic: not a CDR sensor_msgs/msg/Image or CompressedImage"
                    );
                }
            }
            return Ok(wanted);
        }
        for name in topics {
            let topic = self
                .topics
                .iter()
                .find(|t| &t.name == name)
                .ok_or_else(|| BagError::NoSuchTopic {
                    path: self.path.clone(),
                    topic: name.clone(),
                    available: self
                        .image_topics()
                        .iter()
                        .map(|t| t.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            if topic.image_kind().is_none() {
                return Err(BagError::NotAnImageTopic {
                    path: self.path.clone(),
                    topic: topic.name.clone(),
                    type_name: topic.type_name.clone(),
                    serialization: topic.serialization_format.clone(),
                });
            }
            wanted.insert(name.clone());
        }
        Ok(wanted)
    }
}

/// Lists the topics of bag files that have no metadata.yaml, merging topics across files.
fn topics_from_files(storage: Storage, files: &[PathBuf]) -> Result<Vec<TopicInfo>, BagError> {
    let mut topics: Vec<TopicInfo> = Vec::new();
    for file in files {
        let found = match storage {
            Storage::Mcap => mcap_source::topics(file)?,
            Storage::Sqlite3 => sqlite_source::topics(file)?,
        };
        for topic in found {
            if let Some(existing) = topics.iter_mut().find(|t| t.name == topic.name) {
                existing.message_count = match (existing.message_count, topic.message_count) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                };
            } else {
                topics.push(topic);
            }
        }
    }
    Ok(topics)
}

enum Head {
    /// Not pulled yet.
    Empty,
    Item(Result<Record, BagError>),
    Done,
}

/// Iterator over a bag's images, merging its files in (log time, topic, sequence) order.
/// Made by [`BagReader::images`].
pub struct Images {
    files: Vec<PathBuf>,
    zstd_messages: bool,
    sources: Vec<Box<dyn Source>>,
    heads: Vec<Head>,
}

impl Images {
    /// Takes the next record of the merge: errors first (lowest file first), then the record
    /// with the smallest key (ties: lowest file).
    fn next_record(&mut self) -> Option<(usize, Result<Record, BagError>)> {
        for (head, source) in self.heads.iter_mut().zip(self.sources.iter_mut()) {
            if matches!(head, Head::Empty) {
                *head = match source.next_record() {
                    Some(item) => Head::Item(item),
                    None => Head::Done,
                };
            }
        }
        let mut best: Option<usize> = None;
        for (i, head) in self.heads.iter().enumerate() {
            match head {
                Head::Item(Err(_)) => {
                    best = Some(i);
                    break;
                }
                Head::Item(Ok(record)) => {
                    let better = match best.and_then(|b| self.heads.get(b)) {
                        Some(Head::Item(Ok(current))) => record.key() < current.key(),
                        _ => true,
                    };
                    if better {
                        best = Some(i);
                    }
                }
                Head::Empty | Head::Done => {}
            }
        }
        let i = best?;
        let head = self.heads.get_mut(i)?;
        match std::mem::replace(head, Head::Empty) {
            Head::Item(item) => Some((i, item)),
            other => {
                *head = other;
                None
            }
        }
    }
}

impl Iterator for Images {
    type Item = Result<BagImage, BagError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (file, item) = self.next_record()?;
        let record = match item {
            Ok(record) => record,
            Err(e) => return Some(Err(e)),
        };
        // `file` is the index of one of our own sources, one per file.
        debug_assert!(file < self.files.len(), "source {file} of {} files", self.files.len());
        let path = self.files.get(file).cloned().unwrap_or_default();
        Some(decode_record(path, record, self.zstd_messages))
    }
}

/// Largest message accepted after decompression (a 16384 x 16384 rgba8 image is 1 GiB).
const MAX_MESSAGE_BYTES: u64 = 1 << 30;

/// Undoes rosbag2's per-message zstd compression, refusing output over [`MAX_MESSAGE_BYTES`].
fn unzstd(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::new(data).map_err(|e| format!("zstd decompression failed: {e}"))?;
    let mut out = Vec::new();
    decoder
        .take(MAX_MESSAGE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("zstd decompression failed: {e}"))?;
    if out.len() as u64 > MAX_MESSAGE_BYTES {
        return Err(format!("decompresses to more than {MAX_MESSAGE_BYTES} bytes"));
    }
    Ok(out)
}

fn decode_record(path: PathBuf, record: Record, zstd_messages: bool) -> Result<BagImage, BagError> {
    let malformed = |reason: String| BagError::Malformed {
        path: path.clone(),
        topic: record.topic.to_string(),
        type_name: record.type_name.to_string(),
        log_time_ns: record.log_time_ns,
        reason,
    };
    let Some(kind) = ImageKind::from_type_name(&record.type_name) else {
        return Err(malformed("not an image type".to_owned()));
    };
    let decompressed;
    let bytes = if zstd_messages {
        decompressed = unzstd(&record.data).map_err(malformed)?;
        &decompressed
    } else {
        &record.data
    };
    let (header, payload) = match kind {
        ImageKind::Raw => {
            let m: msg::Image = msg::decode(bytes).map_err(malformed)?;
            let payload = ImagePayload::Raw {
                width: m.width,
                height: m.height,
                step: m.step,
                encoding: m.encoding,
                is_bigendian: m.is_bigendian != 0,
                data: m.data,
            };
            (m.header, payload)
        }
        ImageKind::Compressed => {
            let m: msg::CompressedImage = msg::decode(bytes).map_err(malformed)?;
            (
                m.header,
                ImagePayload::Compressed {
                    format: m.format,
                    data: m.data,
                },
            )
        }
    };
    Ok(BagImage {
        log_time_ns: record.log_time_ns,
        topic: record.topic.to_string(),
        header_stamp_ns: header.stamp.to_nanos(),
        frame_id: header.frame_id,
        payload,
    })
}
