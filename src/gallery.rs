//! The gallery: known people and their identity vectors, matched by cosine similarity, stored as
//! YAML. Every change reaches the disk atomically (temporary file, fsync, rename, file mode 0600),
//! and the file records which embedding model made its vectors so vectors of two models never mix.
//! Pure data and file I/O; knows nothing of images or models beyond their fingerprint.
//!
//! Integrity: since format 2 the file says, before its people, how many there are and the sha256
//! of the people section, so a file cut short (even at an entry boundary, where it is still valid
//! YAML) or altered is refused instead of loading fewer people. Format 1 files (no such lines)
//! still load, with a warning, and get them at the next save. A save killed midway leaves a
//! `.<file>.tmp-<pid>` beside the gallery; opening the gallery removes those of dead processes.
//!
//! Several writers (a node, the CLI, a second node) may share one file: every save is a
//! read-modify-write under an exclusive lock, merged with what another writer saved meanwhile,
//! and a long-running reader notices outside changes and reloads ([`Gallery::refresh`]); see
//! `gallery/sync.rs`. The file also keeps a bounded log of the service requests whose effect it
//! holds ([`RequestRecord`]), written in the same atomic save as the effect, so a node restarted
//! between saving and answering can tell a request it executed from one it never saw.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod index;
mod sync;

use index::MatchIndex;
pub use index::COARSE_MIN_ROWS;
pub use sync::REQUEST_LOG_CAPACITY;
use sync::{FileStamp, OnConflict};

/// Identifies the embedding model that produced a gallery's vectors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelTag {
    /// File name of the model, for people reading the file.
    pub file: String,
    /// sha256 of the model file: the actual identity.
    pub sha256: String,
    /// Vector length.
    pub dim: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRecord {
    name: String,
    embeddings: Vec<Vec<f32>>,
    /// A stranger given an id (`person_3f9a`) rather than a name by somebody. The three fields
    /// below are written only when set, so a gallery without them reads and hashes as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    anonymous: bool,
    /// When the person was last seen: a frame stamp in ns (never the wall clock). Anonymous
    /// people expire from it ([`Gallery::expire_anonymous`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_seen_ns: Option<i64>,
    /// Samples learned from confidently identified tracks ([`Gallery::learn`]), capped; matched
    /// like `embeddings`, which they never replace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    learned: Vec<Vec<f32>>,
    /// The person's permanent id (ROS4HRI's `person_id`) when it is not derived from the name:
    /// a stranger keeps their anonymous id when they are named. Written only when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    person_id: Option<String>,
}

impl PersonRecord {
    fn named(name: String, embeddings: Vec<Vec<f32>>) -> Self {
        Self {
            name,
            embeddings,
            anonymous: false,
            last_seen_ns: None,
            learned: Vec::new(),
            person_id: None,
        }
    }

    fn vectors(&self) -> impl Iterator<Item = &Vec<f32>> {
        self.embeddings.iter().chain(&self.learned)
    }
}

/// A service request whose effect the gallery file holds: recorded in the same atomic save as
/// that effect ([`Gallery::set_pending_request`]), so after a crash between saving and answering
/// the request can be answered from here instead of being executed again or called undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestRecord {
    /// The request's identity, unique per client and call (e.g. the client's GID and the
    /// request's sequence number).
    pub id: String,
    /// Which service executed it (`enroll`, `forget`).
    pub service: String,
    /// What it did, as it was answered.
    pub summary: String,
    /// The count it answered with (samples used, vectors removed).
    pub count: u32,
}

/// What [`Gallery::refresh`] took from the file that another writer changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refreshed {
    /// People now held that were not before (enrolled by another writer).
    pub added: Vec<String>,
    /// People no longer held (forgotten by another writer).
    pub removed: Vec<String>,
}

/// What the gallery holds of one person, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonInfo {
    pub name: String,
    /// Enrolled samples (for an anonymous person: those collected from its track).
    pub samples: usize,
    /// Samples learned from confidently identified tracks.
    pub learned: usize,
    /// A stranger with an id, not named by anybody.
    pub anonymous: bool,
    /// Frame stamp (ns) when last seen, when known.
    pub last_seen_ns: Option<i64>,
}

/// What [`Gallery::learn`] did with a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    /// Added; the person had room.
    Added,
    /// Added in place of the least useful learned sample (the one closest to another sample).
    Replaced,
}

/// The prefix of anonymous ids.
pub const ANONYMOUS_PREFIX: &str = "person_";
/// Hex digits of an anonymous id (more when those collide with a person already held).
pub const ANONYMOUS_ID_HEX: usize = 4;

/// Whether `name` has the form of an anonymous id: `person_` and 4 to 64 lowercase hex digits.
pub fn is_anonymous_id(name: &str) -> bool {
    name.strip_prefix(ANONYMOUS_PREFIX).is_some_and(|hex| {
        (ANONYMOUS_ID_HEX..=64).contains(&hex.len())
            && hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    })
}

/// The permanent person id of a named person who never was anonymous: `person_` and 12 hex
/// digits of a sha256 of the name. Stable across runs and machines without being the name
/// (REP-155 asks for ids that are not names); names cannot take this form.
pub fn derived_person_id(name: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("facerec person id\n{name}").as_bytes());
    let text = hex::encode(digest);
    format!("{ANONYMOUS_PREFIX}{}", text.get(..12).unwrap_or(&text))
}

/// The anonymous id of a stranger first seen by `source` (a camera) at `stamp_ns` on track
/// `track_id`, with `hex` digits of the sha256 of those three: deterministic, so a replay gives
/// the same ids every time.
pub fn anonymous_id(source: &str, stamp_ns: i64, track_id: u64, hex: usize) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{source}\n{stamp_ns}\n{track_id}").as_bytes());
    let text = hex::encode(digest);
    format!(
        "{ANONYMOUS_PREFIX}{}",
        text.get(..hex.clamp(ANONYMOUS_ID_HEX, 64)).unwrap_or(&text)
    )
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GalleryFile {
    format: u32,
    model: Option<ModelTag>,
    /// Executed requests ([`RequestRecord`]), written only when there are some. Before the
    /// people, so a file cut short in this list fails the people count check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    requests: Vec<RequestRecord>,
    /// How many entries `people` has (format 2 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    people_count: Option<usize>,
    /// sha256 of the people section as the gallery writes it (format 2 on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    people_sha256: Option<String>,
    #[serde(default)]
    people: Vec<PersonRecord>,
}

/// The format written: 2 adds `people_count` and `people_sha256`.
const FORMAT: u32 = 2;
/// The oldest format still read (without the integrity check).
const OLDEST_FORMAT: u32 = 1;

/// The sha256 of the people section: its YAML as the gallery writes it. The YAML float format is
/// the shortest that reads back to the same `f32`, so a loaded file hashes as it was written.
fn people_sha256(people: &[PersonRecord]) -> Result<String, serde_yaml_ng::Error> {
    use sha2::Digest;
    let text = serde_yaml_ng::to_string(people)?;
    Ok(hex::encode(sha2::Sha256::digest(text.as_bytes())))
}

/// Longest part of a refused name echoed back in an error.
const NAME_ECHO_CHARS: usize = 64;

/// A name as shown in an error: control characters escaped, cut after `NAME_ECHO_CHARS`.
fn shown_name(name: &str) -> String {
    let count = name.chars().count();
    let head: String = name
        .chars()
        .take(NAME_ECHO_CHARS)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if count > NAME_ECHO_CHARS {
        format!("{head}... ({count} characters)")
    } else {
        head
    }
}

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("gallery file {path} is corrupt at line {line}, column {column}: {message}")]
    Corrupt {
        path: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("gallery file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot read gallery file {path}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write gallery file {path}")]
    Write { path: String, source: std::io::Error },
    #[error("gallery file {gallery_path} is incomplete or altered: {message}; it was left untouched (restore it from a backup, or re-enroll into a new file)")]
    Incomplete { gallery_path: String, message: String },
    #[error("gallery {gallery_path}: its vectors come from model {gallery_file} (sha256 {gallery_sha}), but this pipeline uses {model_file} (sha256 {model_sha}); re-enroll into a new gallery for this model")]
    ModelMismatch {
        gallery_path: String,
        gallery_file: String,
        gallery_sha: String,
        model_file: String,
        model_sha: String,
    },
    #[error("invalid name '{}': use 1-64 characters: letters, digits, space, '.', '_', '-' or an apostrophe", shown_name(.0))]
    BadName(String),
    #[error("no embeddings given for '{0}'")]
    NoEmbeddings(String),
    #[error("vector of length {got} does not match the gallery's dimension {expected}")]
    Dimension { got: usize, expected: usize },
    #[error("vector contains a value that is not a finite number")]
    NotFinite,
    #[error("gallery has no file to save to")]
    NoPath,
    #[error("cannot lock gallery file {path} for writing")]
    Lock { path: String, source: std::io::Error },
    #[error("gallery file {path}: another writer enrolled '{}' meanwhile with other samples; nothing was saved (forget one of them, or enroll under another name)", shown_name(.name))]
    WriterConflict { path: String, name: String },
    #[error("nobody called '{}' is in the gallery", shown_name(.0))]
    UnknownPerson(String),
    #[error("'{}' is already in the gallery; choose another name or forget that person first", shown_name(.0))]
    NameTaken(String),
    #[error("'{}' is a named person, not an anonymous id", shown_name(.0))]
    NotAnonymous(String),
    #[error("'{}' is an anonymous person: name them (enroll from the anonymous id) instead of adding to them", shown_name(.0))]
    IsAnonymous(String),
    #[error("'{}' has the form of an anonymous id (person_ and hex digits), which is reserved for strangers", shown_name(.0))]
    ReservedName(String),
}

/// Checks a person's name: 1-64 characters, letters, digits, space and `._-'`, not blank.
pub fn validate_name(name: &str) -> Result<(), GalleryError> {
    let ok = !name.trim().is_empty()
        && name.trim() == name
        && name.chars().count() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '\''));
    if ok && name != crate::UNKNOWN {
        Ok(())
    } else {
        Err(GalleryError::BadName(name.to_owned()))
    }
}

/// As [`validate_name`], for a person about to be created by name: the form of an anonymous id
/// (`person_3f9a`) is reserved for strangers.
pub fn validate_new_name(name: &str) -> Result<(), GalleryError> {
    validate_name(name)?;
    if is_anonymous_id(name) {
        return Err(GalleryError::ReservedName(name.to_owned()));
    }
    Ok(())
}

/// The best gallery match for one vector.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Match {
    pub name: String,
    /// Cosine similarity with the person's closest stored vector.
    pub score: f32,
    /// Score of the best other person, if any.
    pub runner_up: Option<f32>,
}

impl Match {
    /// Lead over the runner-up (the whole score when there is none).
    pub fn margin(&self) -> f32 {
        self.score - self.runner_up.unwrap_or(0.0)
    }
}

#[derive(Debug, Clone)]
pub struct Gallery {
    path: Option<PathBuf>,
    model: Option<ModelTag>,
    people: Vec<PersonRecord>,
    /// Every vector with its person's index, for matching.
    index: MatchIndex,
    /// Whether saves write anonymous people.
    persist_anonymous: bool,
    /// The people as the file held them when this gallery last read or wrote it: the common
    /// ancestor of a merge with another writer's save.
    base: Vec<PersonRecord>,
    /// The file as this gallery last read or wrote it (`None`: no file yet, or in memory).
    synced: Option<FileStamp>,
    /// Executed requests held in the file, oldest first.
    requests: Vec<RequestRecord>,
    /// A request to record with the next successful save.
    pending_request: Option<RequestRecord>,
    /// People another writer forgot, taken in by a refresh or a save and not yet collected by
    /// [`Self::take_removed_elsewhere`] (so trackers can drop their names).
    removed_elsewhere: Vec<String>,
}

impl Default for Gallery {
    fn default() -> Self {
        Self {
            path: None,
            model: None,
            people: Vec::new(),
            index: MatchIndex::default(),
            persist_anonymous: true,
            base: Vec::new(),
            synced: None,
            requests: Vec::new(),
            pending_request: None,
            removed_elsewhere: Vec::new(),
        }
    }
}

/// A gallery file's content, read and checked.
struct FileContent {
    model: Option<ModelTag>,
    people: Vec<PersonRecord>,
    requests: Vec<RequestRecord>,
}

/// Reads and checks a gallery file: format, count and checksum (format 2 on), names, vectors.
fn read_verified(path: &Path) -> Result<FileContent, GalleryError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| GalleryError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: GalleryFile = serde_yaml_ng::from_str(&text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        GalleryError::Corrupt {
            path: shown.clone(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    let invalid = |message: String| GalleryError::Invalid {
        path: shown.clone(),
        message,
    };
    let incomplete = |message: String| GalleryError::Incomplete {
        gallery_path: shown.clone(),
        message,
    };
    if !(OLDEST_FORMAT..=FORMAT).contains(&file.format) {
        return Err(invalid(format!(
            "format {} is not supported (expected {OLDEST_FORMAT} to {FORMAT})",
            file.format
        )));
    }
    if file.format >= 2 {
        let count = file
            .people_count
            .ok_or_else(|| incomplete("`people_count` is missing".to_owned()))?;
        let sha = file
            .people_sha256
            .as_deref()
            .ok_or_else(|| incomplete("`people_sha256` is missing".to_owned()))?;
        if count != file.people.len() {
            return Err(incomplete(format!(
                "it records {count} people but holds {}",
                file.people.len()
            )));
        }
        let actual = people_sha256(&file.people).map_err(|e| invalid(e.to_string()))?;
        if actual != sha {
            return Err(incomplete(format!(
                "the people section's sha256 is {actual}, the file records {sha}"
            )));
        }
    } else {
        tracing::warn!(
            "gallery {shown} is format {} (no count or checksum: a file cut short cannot be told from a \
             complete one); it gets both at the next save",
            file.format
        );
    }
    let dim = file.model.as_ref().map(|m| m.dim);
    let mut names = std::collections::HashSet::with_capacity(file.people.len());
    for person in &file.people {
        validate_name(&person.name).map_err(|e| invalid(e.to_string()))?;
        if !names.insert(person.name.as_str()) {
            return Err(invalid(format!("person '{}' appears twice", person.name)));
        }
        for v in person.vectors() {
            check_vector(dim, v).map_err(|e| invalid(format!("person '{}': {e}", person.name)))?;
        }
        if person.embeddings.is_empty() {
            return Err(invalid(format!("person '{}' has no embeddings", person.name)));
        }
        if person.anonymous && !is_anonymous_id(&person.name) {
            return Err(invalid(format!(
                "person '{}' is marked anonymous but is not an anonymous id (person_ and hex digits)",
                person.name
            )));
        }
    }
    if !file.people.is_empty() && file.model.is_none() {
        return Err(invalid(
            "vectors without a `model` entry: the model that made them is unknown".to_owned(),
        ));
    }
    Ok(FileContent {
        model: file.model,
        people: file.people,
        requests: file.requests,
    })
}

/// The model of this writer's gallery (`own`) merged with the file's (`theirs`, another writer
/// saved it): refused when their vectors come from different models, else whichever is known.
fn merged_model(
    path: &Path,
    own: Option<&ModelTag>,
    theirs: Option<&ModelTag>,
) -> Result<Option<ModelTag>, GalleryError> {
    match (own, theirs) {
        (Some(own), Some(theirs)) if own.sha256 != theirs.sha256 || own.dim != theirs.dim => {
            Err(GalleryError::ModelMismatch {
                gallery_path: path.display().to_string(),
                gallery_file: theirs.file.clone(),
                gallery_sha: theirs.sha256.clone(),
                model_file: own.file.clone(),
                model_sha: own.sha256.clone(),
            })
        }
        (own, theirs) => Ok(own.or(theirs).cloned()),
    }
}

/// Checks one vector: the model's dimension when known, finite values.
fn check_vector(dim: Option<usize>, v: &[f32]) -> Result<(), GalleryError> {
    if let Some(expected) = dim {
        if v.len() != expected {
            return Err(GalleryError::Dimension { got: v.len(), expected });
        }
    }
    if v.iter().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(GalleryError::NotFinite)
    }
}

impl Gallery {
    /// An empty gallery kept in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads a gallery file. A missing file is an error, and so is a file whose people section
    /// does not match its recorded count and checksum (format 2 on).
    pub fn load(path: &Path) -> Result<Self, GalleryError> {
        // The stamp before the read: a save by another writer in between makes the next
        // `refresh` read the file again, never skip a change.
        let synced = FileStamp::of(path);
        let content = read_verified(path)?;
        let mut gallery = Self {
            path: Some(path.to_path_buf()),
            model: content.model,
            base: content.people.clone(),
            people: content.people,
            requests: content.requests,
            synced,
            ..Self::default()
        };
        gallery.rebuild_index();
        Ok(gallery)
    }

    /// Loads `path` if it exists, otherwise starts an empty gallery that will be saved there.
    /// Temporary files left beside it by saves of dead processes are removed first.
    pub fn open_or_create(path: &Path) -> Result<Self, GalleryError> {
        remove_stale_temporaries(path);
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self {
                path: Some(path.to_path_buf()),
                ..Self::default()
            })
        }
    }

    /// Whether another writer changed the file since this gallery last read or wrote it
    /// (a `stat`, no read). Always `false` in memory or while the file does not exist.
    pub fn changed_on_disk(&self) -> bool {
        self.path
            .as_deref()
            .and_then(FileStamp::of)
            .is_some_and(|now| Some(now) != self.synced)
    }

    /// Takes in what other writers saved since this gallery last read or wrote the file (people
    /// enrolled, changed or forgotten), keeping this gallery's own unsaved changes. `None` when
    /// the file did not change (or there is none: a deleted file is not taken as everybody
    /// forgotten; the next save writes it again). A file that cannot be read or checked, or
    /// whose vectors come from another model, is an error and changes nothing.
    pub fn refresh(&mut self) -> Result<Option<Refreshed>, GalleryError> {
        let Some(path) = self.path.clone() else {
            return Ok(None);
        };
        let Some(stamp) = FileStamp::of(&path) else {
            return Ok(None);
        };
        if Some(stamp) == self.synced {
            return Ok(None);
        }
        let content = read_verified(&path)?;
        self.model = merged_model(&path, self.model.as_ref(), content.model.as_ref())?;
        let merged = sync::merge_people(&self.base, &self.people, &content.people, OnConflict::KeepFile)
            .unwrap_or_else(|_| content.people.clone());
        let (added, removed) = sync::added_and_removed(&self.people, &merged);
        self.removed_elsewhere.extend(removed.iter().cloned());
        self.requests = sync::merge_requests(content.requests, &self.requests);
        self.people = merged;
        self.base = content.people;
        self.synced = Some(stamp);
        self.rebuild_index();
        Ok(Some(Refreshed { added, removed }))
    }

    /// The people other writers forgot, not yet taken by [`Self::take_removed_elsewhere`].
    pub fn removed_elsewhere(&self) -> &[String] {
        &self.removed_elsewhere
    }

    /// The people other writers forgot since the last call (taken in by [`Self::refresh`] or a
    /// merging [`Self::save`]): whoever holds tracks should drop those names.
    pub fn take_removed_elsewhere(&mut self) -> Vec<String> {
        std::mem::take(&mut self.removed_elsewhere)
    }

    /// The recorded request `id` (see [`RequestRecord`]), if the file holds it.
    pub fn recorded_request(&self, id: &str) -> Option<&RequestRecord> {
        self.requests.iter().rev().find(|r| r.id == id)
    }

    /// Records `request` with the next successful [`Self::save`], in the same atomic write as
    /// the change it answers; `None` withdraws a request not saved (the change failed).
    pub fn set_pending_request(&mut self, request: Option<RequestRecord>) {
        self.pending_request = request;
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn model(&self) -> Option<&ModelTag> {
        self.model.as_ref()
    }

    /// Fails when the gallery's vectors come from another model; adopts `tag` when it has none.
    pub fn bind_model(&mut self, tag: &ModelTag) -> Result<(), GalleryError> {
        match &self.model {
            Some(own) if own.sha256 != tag.sha256 || own.dim != tag.dim => Err(GalleryError::ModelMismatch {
                gallery_path: self
                    .path
                    .as_deref()
                    .map_or_else(|| "(in memory)".to_owned(), |p| p.display().to_string()),
                gallery_file: own.file.clone(),
                gallery_sha: own.sha256.clone(),
                model_file: tag.file.clone(),
                model_sha: tag.sha256.clone(),
            }),
            Some(_) => Ok(()),
            None => {
                self.model = Some(tag.clone());
                Ok(())
            }
        }
    }

    fn check_vector(&self, v: &[f32]) -> Result<(), GalleryError> {
        check_vector(self.model.as_ref().map(|m| m.dim), v)
    }

    fn rebuild_index(&mut self) {
        let dim = self.model.as_ref().map(|m| m.dim).or_else(|| {
            self.people
                .iter()
                .flat_map(|p| p.embeddings.first())
                .map(Vec::len)
                .next()
        });
        let rows = self
            .people
            .iter()
            .enumerate()
            .flat_map(|(i, person)| person.vectors().map(move |v| (i as u32, v.as_slice())));
        self.index = MatchIndex::build(dim.unwrap_or(0), rows);
    }

    /// Names and sample counts (enrolled and learned), in enrolment order; anonymous people
    /// too ([`Self::person_info`] says which).
    pub fn people(&self) -> impl Iterator<Item = (&str, usize)> {
        self.people
            .iter()
            .map(|p| (p.name.as_str(), p.embeddings.len() + p.learned.len()))
    }

    /// Everything listed about each person, in enrolment order, anonymous people marked.
    pub fn person_info(&self) -> impl Iterator<Item = PersonInfo> + '_ {
        self.people.iter().map(|p| PersonInfo {
            name: p.name.clone(),
            samples: p.embeddings.len(),
            learned: p.learned.len(),
            anonymous: p.anonymous,
            last_seen_ns: p.last_seen_ns,
        })
    }

    /// Whether `name` is held (named or anonymous).
    pub fn contains(&self, name: &str) -> bool {
        self.people.iter().any(|p| p.name == name)
    }

    /// The permanent id (ROS4HRI `person_id`) of `name`: an anonymous person's id, the id a
    /// named stranger kept, or [`derived_person_id`]; `None` when `name` is not held.
    pub fn person_id(&self, name: &str) -> Option<String> {
        let p = self.people.iter().find(|p| p.name == name)?;
        Some(match (&p.person_id, p.anonymous) {
            (Some(id), _) => id.clone(),
            (None, true) => p.name.clone(),
            (None, false) => derived_person_id(&p.name),
        })
    }

    /// Whether `name` is an anonymous person held by the gallery.
    pub fn is_anonymous(&self, name: &str) -> bool {
        self.people.iter().any(|p| p.name == name && p.anonymous)
    }

    /// Anonymous people held.
    pub fn anonymous_count(&self) -> usize {
        self.people.iter().filter(|p| p.anonymous).count()
    }

    /// Whether [`Self::save`] writes anonymous people (the default; `false` keeps them in memory
    /// only: the anonymous mode `in_memory`).
    pub fn set_persist_anonymous(&mut self, persist: bool) {
        self.persist_anonymous = persist;
    }

    /// Adds a stranger under a new anonymous id ([`anonymous_id`] of `source`, `first_seen_ns`
    /// and `track_id`, lengthened while it collides with somebody held), seen at `stamp_ns`.
    /// Never touches another person. Returns the id.
    pub fn add_anonymous(
        &mut self,
        source: &str,
        first_seen_ns: i64,
        track_id: u64,
        stamp_ns: i64,
        embeddings: Vec<Vec<f32>>,
    ) -> Result<String, GalleryError> {
        let id = (ANONYMOUS_ID_HEX..=64)
            .map(|hex| anonymous_id(source, first_seen_ns, track_id, hex))
            .find(|id| !self.contains(id))
            .ok_or_else(|| GalleryError::NameTaken(anonymous_id(source, first_seen_ns, track_id, 64)))?;
        let normalized = self.checked(&id, embeddings)?;
        self.people.push(PersonRecord {
            anonymous: true,
            last_seen_ns: Some(stamp_ns),
            ..PersonRecord::named(id.clone(), normalized)
        });
        self.rebuild_index();
        Ok(id)
    }

    /// Notes that `name` was seen at `stamp_ns` (a frame stamp; never moves back). Returns
    /// whether the person is held.
    pub fn touch(&mut self, name: &str, stamp_ns: i64) -> bool {
        match self.people.iter_mut().find(|p| p.name == name) {
            Some(p) => {
                p.last_seen_ns = Some(p.last_seen_ns.map_or(stamp_ns, |t| t.max(stamp_ns)));
                true
            }
            None => false,
        }
    }

    /// Removes anonymous people not seen for longer than `max_age_ns` before `now_ns` (frame
    /// stamps). Named people never expire. Returns the ids removed.
    pub fn expire_anonymous(&mut self, now_ns: i64, max_age_ns: i64) -> Vec<String> {
        let expired: Vec<String> = self
            .people
            .iter()
            .filter(|p| p.anonymous && p.last_seen_ns.is_some_and(|t| now_ns.saturating_sub(t) > max_age_ns))
            .map(|p| p.name.clone())
            .collect();
        if !expired.is_empty() {
            self.people.retain(|p| !expired.contains(&p.name));
            self.rebuild_index();
        }
        expired
    }

    /// Whether [`Self::expire_anonymous`] would remove somebody now (read-only).
    pub fn any_anonymous_expired(&self, now_ns: i64, max_age_ns: i64) -> bool {
        self.people
            .iter()
            .any(|p| p.anonymous && p.last_seen_ns.is_some_and(|t| now_ns.saturating_sub(t) > max_age_ns))
    }

    /// Gives the anonymous person `id` the name `name` ("the person you are looking at is
    /// Ada"): their samples, and `more` (e.g. those a track collected since), become `name`'s,
    /// with no re-capture. Refused, with the gallery untouched, when `id` is unknown or named,
    /// or `name` is malformed, reserved or already used. Returns the samples `name` now has.
    pub fn name_anonymous(&mut self, id: &str, name: &str, more: Vec<Vec<f32>>) -> Result<usize, GalleryError> {
        validate_new_name(name)?;
        if self.contains(name) {
            return Err(GalleryError::NameTaken(name.to_owned()));
        }
        let more = if more.is_empty() {
            more
        } else {
            self.checked(name, more)?
        };
        let person = self
            .people
            .iter_mut()
            .find(|p| p.name == id)
            .ok_or_else(|| GalleryError::UnknownPerson(id.to_owned()))?;
        if !person.anonymous {
            return Err(GalleryError::NotAnonymous(id.to_owned()));
        }
        // The same human: their permanent id stays the anonymous one.
        person.person_id = Some(person.person_id.take().unwrap_or_else(|| person.name.clone()));
        person.name = name.to_owned();
        person.anonymous = false;
        person.last_seen_ns = None;
        person.embeddings.extend(more);
        let count = person.embeddings.len() + person.learned.len();
        self.rebuild_index();
        Ok(count)
    }

    /// Adds a person who must be new: as [`Self::add`], but refused with
    /// [`GalleryError::NameTaken`] when `name` is held, so nobody is extended by mistake.
    pub fn add_new(&mut self, name: &str, embeddings: Vec<Vec<f32>>) -> Result<(), GalleryError> {
        validate_new_name(name)?;
        if self.contains(name) {
            return Err(GalleryError::NameTaken(name.to_owned()));
        }
        self.add(name, embeddings)
    }

    /// Highest similarity of a unit vector with any stored vector of `name` (None: not held).
    pub fn best_similarity_to(&self, name: &str, query: &[f32]) -> Option<f32> {
        let person = self.people.iter().find(|p| p.name == name)?;
        person
            .vectors()
            .map(|v| crate::embed::cosine(v, query))
            .max_by(f32::total_cmp)
    }

    /// Adds a learned sample to the named person `name`, keeping at most `cap` learned samples:
    /// when full, the least useful learned sample (the one most similar to another of the
    /// person's vectors) makes room. Enrolled samples are never dropped, and anonymous people
    /// do not learn ([`GalleryError::IsAnonymous`]).
    pub fn learn(&mut self, name: &str, embedding: Vec<f32>, cap: usize) -> Result<Learned, GalleryError> {
        let normalized = self.checked(name, vec![embedding])?;
        let person = self
            .people
            .iter_mut()
            .find(|p| p.name == name)
            .ok_or_else(|| GalleryError::UnknownPerson(name.to_owned()))?;
        if person.anonymous {
            return Err(GalleryError::IsAnonymous(name.to_owned()));
        }
        if cap == 0 {
            return Err(GalleryError::NoEmbeddings(name.to_owned()));
        }
        person.learned.extend(normalized);
        let mut outcome = Learned::Added;
        while person.learned.len() > cap {
            // Redundancy of each learned sample: its best similarity with any other vector.
            let all: Vec<&Vec<f32>> = person.vectors().collect();
            let enrolled = person.embeddings.len();
            let redundancy = |k: usize| -> f32 {
                let Some(v) = all.get(enrolled + k) else {
                    return f32::NEG_INFINITY;
                };
                all.iter()
                    .enumerate()
                    .filter(|(j, _)| *j != enrolled + k)
                    .map(|(_, w)| crate::embed::cosine(v, w))
                    .fold(f32::NEG_INFINITY, f32::max)
            };
            let worst = (0..person.learned.len())
                .max_by(|a, b| redundancy(*a).total_cmp(&redundancy(*b)))
                .unwrap_or(0);
            person.learned.remove(worst.min(person.learned.len().saturating_sub(1)));
            outcome = Learned::Replaced;
        }
        self.rebuild_index();
        Ok(outcome)
    }

    /// Checks and normalises vectors to add for `name`.
    fn checked(&self, name: &str, embeddings: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>, GalleryError> {
        if embeddings.is_empty() {
            return Err(GalleryError::NoEmbeddings(name.to_owned()));
        }
        for v in &embeddings {
            self.check_vector(v)?;
        }
        Ok(embeddings.iter().map(|v| crate::embed::normalize(v)).collect())
    }

    pub fn len(&self) -> usize {
        self.people.len()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Total stored vectors.
    pub fn vector_count(&self) -> usize {
        self.index.rows()
    }

    /// Adds vectors for a person (new or existing) in memory. The gallery must be bound to the
    /// model that made them (`bind_model`).
    /// Anonymous people are not added to this way ([`GalleryError::IsAnonymous`]; name them
    /// with [`Self::name_anonymous`]), and a new person may not take an anonymous id's form.
    pub fn add(&mut self, name: &str, embeddings: Vec<Vec<f32>>) -> Result<(), GalleryError> {
        validate_name(name)?;
        let normalized = self.checked(name, embeddings)?;
        match self.people.iter_mut().find(|p| p.name == name) {
            Some(person) if person.anonymous => return Err(GalleryError::IsAnonymous(name.to_owned())),
            Some(person) => person.embeddings.extend(normalized),
            None => {
                validate_new_name(name)?;
                self.people.push(PersonRecord::named(name.to_owned(), normalized));
            }
        }
        self.rebuild_index();
        Ok(())
    }

    /// As `add` for many people at once, rebuilding the match index once (for large galleries).
    /// Nothing is added when any name or vector is invalid.
    pub fn add_many(&mut self, people: Vec<(String, Vec<Vec<f32>>)>) -> Result<(), GalleryError> {
        for (name, embeddings) in &people {
            validate_new_name(name)?;
            if self.is_anonymous(name) {
                return Err(GalleryError::IsAnonymous(name.clone()));
            }
            if embeddings.is_empty() {
                return Err(GalleryError::NoEmbeddings(name.clone()));
            }
            for v in embeddings {
                self.check_vector(v)?;
            }
        }
        let mut index: std::collections::HashMap<String, usize> = self
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        for (name, embeddings) in people {
            let normalized = embeddings.iter().map(|v| crate::embed::normalize(v));
            match index.get(&name).and_then(|&i| self.people.get_mut(i)) {
                Some(person) => person.embeddings.extend(normalized),
                None => {
                    index.insert(name.clone(), self.people.len());
                    self.people.push(PersonRecord::named(name, normalized.collect()));
                }
            }
        }
        self.rebuild_index();
        Ok(())
    }

    /// Removes a person and every stored vector; returns how many vectors went (0: not known).
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.vector_count();
        self.people.retain(|p| p.name != name);
        self.rebuild_index();
        before - self.vector_count()
    }

    /// Adds and saves; on a failed save the in-memory gallery is left as it was.
    pub fn add_and_save(&mut self, name: &str, embeddings: Vec<Vec<f32>>) -> Result<(), GalleryError> {
        let previous = self.people.clone();
        self.add(name, embeddings)?;
        if let Err(err) = self.save() {
            self.people = previous;
            self.rebuild_index();
            return Err(err);
        }
        Ok(())
    }

    /// Removes and saves; on a failed save the in-memory gallery is left as it was.
    pub fn remove_and_save(&mut self, name: &str) -> Result<usize, GalleryError> {
        let previous = self.people.clone();
        let removed = self.remove(name);
        if removed > 0 {
            if let Err(err) = self.save() {
                self.people = previous;
                self.rebuild_index();
                return Err(err);
            }
        }
        Ok(removed)
    }

    /// The closest person to a unit vector, with the runner-up's score.
    /// Exact; galleries of more than a few thousand vectors first narrow the rows down with an
    /// int8 copy (see `gallery/index.rs`).
    pub fn best_match(&self, query: &[f32]) -> Option<Match> {
        self.named(self.index.best(query)?)
    }

    /// As [`Self::best_match`], always by scoring every stored vector in f32: the reference the
    /// index is tested and benchmarked against.
    pub fn best_match_full_scan(&self, query: &[f32]) -> Option<Match> {
        self.named(self.index.best_full_scan(query)?)
    }

    fn named(&self, top: index::Top) -> Option<Match> {
        let name = self.people.get(top.owner as usize)?.name.clone();
        Some(Match {
            name,
            score: top.score,
            runner_up: top.runner_up,
        })
    }

    /// Writes the gallery to its file atomically, merged with what other writers saved since
    /// this gallery last read or wrote it, under the file's exclusive lock (see `gallery/sync.rs`).
    /// The pending request ([`Self::set_pending_request`]) is recorded in the same write. On
    /// success this gallery holds the merged people; on failure (a file that cannot be read or
    /// checked, another model's file, a name created by two writers with different faces, an
    /// I/O error) neither the file nor this gallery changes.
    pub fn save(&mut self) -> Result<(), GalleryError> {
        let path = self.path.clone().ok_or(GalleryError::NoPath)?;
        let shown = path.display().to_string();
        let _lock = sync::lock(&path).map_err(|source| GalleryError::Lock {
            path: shown.clone(),
            source,
        })?;
        let on_disk = FileStamp::of(&path);
        let (people, mut requests, model) = match on_disk {
            Some(stamp) if Some(stamp) != self.synced => {
                let content = read_verified(&path)?;
                let model = merged_model(&path, self.model.as_ref(), content.model.as_ref())?;
                let merged = sync::merge_people(&self.base, &self.people, &content.people, OnConflict::Refuse)
                    .map_err(|c| GalleryError::WriterConflict {
                        path: shown.clone(),
                        name: c.name,
                    })?;
                let (added, removed) = sync::added_and_removed(&self.people, &merged);
                if !added.is_empty() || !removed.is_empty() {
                    tracing::info!(
                        "gallery {shown} was changed by another writer: kept {added:?} added there, {removed:?} forgotten there"
                    );
                }
                self.removed_elsewhere.extend(removed);
                (merged, sync::merge_requests(content.requests, &self.requests), model)
            }
            _ => (self.people.clone(), self.requests.clone(), self.model.clone()),
        };
        requests.extend(self.pending_request.clone());
        sync::cap_requests(&mut requests);
        let written: Vec<PersonRecord> = people
            .iter()
            .filter(|p| self.persist_anonymous || !p.anonymous)
            .cloned()
            .collect();
        write_file(&path, model.as_ref(), &written, &requests)?;
        self.synced = FileStamp::of(&path);
        let changed = people != self.people;
        self.people = people;
        self.base = written;
        self.requests = requests;
        self.model = model;
        self.pending_request = None;
        if changed {
            self.rebuild_index();
        }
        Ok(())
    }

    /// Writes a copy of the gallery to `path` atomically (no merge, no lock: `path` is another
    /// file, such as a replay's output).
    pub fn save_to(&self, path: &Path) -> Result<(), GalleryError> {
        let people: Vec<PersonRecord> = self
            .people
            .iter()
            .filter(|p| self.persist_anonymous || !p.anonymous)
            .cloned()
            .collect();
        write_file(path, self.model.as_ref(), &people, &self.requests)
    }
}

/// Writes a gallery file atomically: a temporary file beside it (mode 0600), fsync, rename,
/// fsync of the directory. The old file stays intact until the rename.
fn write_file(
    path: &Path,
    model: Option<&ModelTag>,
    people: &[PersonRecord],
    requests: &[RequestRecord],
) -> Result<(), GalleryError> {
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let werr = |source: std::io::Error| GalleryError::Write {
        path: shown.clone(),
        source,
    };
    let yaml_err = |e: serde_yaml_ng::Error| werr(std::io::Error::new(std::io::ErrorKind::InvalidData, e));
    let file = GalleryFile {
        format: FORMAT,
        model: model.cloned(),
        requests: requests.to_vec(),
        people_count: Some(people.len()),
        people_sha256: Some(people_sha256(people).map_err(yaml_err)?),
        people: people.to_vec(),
    };
    let text = serde_yaml_ng::to_string(&file).map_err(yaml_err)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(werr)?;
    let tmp = dir.join(format!("{}{}", temporary_prefix(path), std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(b"# facerec gallery: people and their face vectors (written by facerec; edit with care)\n")?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() && tmp.exists() {
        if let Err(e) = std::fs::remove_file(&tmp) {
            tracing::warn!(
                "cannot remove the temporary file {} of a failed save: {e}",
                tmp.display()
            );
        }
    }
    result.map_err(werr)
}

/// The start of the name of a save's temporary file for `path`: `.<file name>.tmp-`, the pid
/// of the saving process follows.
fn temporary_prefix(path: &Path) -> String {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".{file_name}.tmp-")
}

/// Removes the temporary files that saves of `path` left behind when their process died
/// (`.<file name>.tmp-<pid>` with no running process `<pid>`, or this process's own pid, which
/// cannot be saving yet). Other files are never touched; each removal is logged.
pub fn remove_stale_temporaries(path: &Path) -> Vec<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = temporary_prefix(path);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let alive = pid != std::process::id() && Path::new(&format!("/proc/{pid}")).exists();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if alive || !is_file {
            continue;
        }
        let stale = entry.path();
        match std::fs::remove_file(&stale) {
            Ok(()) => {
                tracing::info!(
                    "removed {}, left by an interrupted save of process {pid}",
                    stale.display()
                );
                removed.push(stale);
            }
            Err(e) => tracing::warn!("cannot remove {}, left by an interrupted save: {e}", stale.display()),
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gallery file in `dir` with `names`, each with one 3-d sample of its own.
    fn shared_file(dir: &Path, names: &[&str]) -> PathBuf {
        let path = dir.join("people.yaml");
        let mut g = Gallery::open_or_create(&path).expect("new");
        g.bind_model(&tag("a")).expect("bind");
        for (i, name) in names.iter().enumerate() {
            g.add(name, vec![vec![1.0, i as f32, 0.5]]).expect("add");
        }
        g.save().expect("save");
        path
    }

    fn names_of(g: &Gallery) -> Vec<String> {
        let mut names: Vec<String> = g.people().map(|(n, _)| n.to_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn two_writers_of_one_file_keep_each_others_people() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = shared_file(dir.path(), &["ann", "bob"]);
        let mut node = Gallery::load(&path).expect("node");
        let mut cli = Gallery::load(&path).expect("cli");
        cli.add("carol", vec![vec![0.0, 1.0, 0.0]]).expect("add");
        cli.save().expect("cli save");
        // The node, which never read carol, saves its own enrolment: carol stays.
        node.add("dan", vec![vec![0.0, 0.0, 1.0]]).expect("add");
        node.save().expect("node save");
        let on_disk = Gallery::load(&path).expect("load");
        assert_eq!(names_of(&on_disk), ["ann", "bob", "carol", "dan"]);
        assert_eq!(names_of(&node), names_of(&on_disk), "the node now holds carol too");
        // carol is matched by the node without a reload.
        assert_eq!(
            node.best_match(&[0.0, 1.0, 0.0]).map(|m| m.name),
            Some("carol".to_owned())
        );
        // The CLI forgets bob; the node, which still holds him, learns ann and saves: bob stays
        // forgotten (not resurrected), ann keeps her learned sample.
        let mut cli = Gallery::load(&path).expect("cli");
        assert!(cli.remove_and_save("bob").expect("forget") > 0);
        node.learn("ann", vec![1.0, 0.1, 0.4], 4).expect("learn");
        node.save().expect("node save");
        let on_disk = Gallery::load(&path).expect("load");
        assert_eq!(names_of(&on_disk), ["ann", "carol", "dan"]);
        assert_eq!(on_disk.people().find(|(n, _)| *n == "ann").map(|(_, c)| c), Some(2));
        assert_eq!(node.take_removed_elsewhere(), ["bob"]);
    }

    #[test]
    fn a_refresh_takes_in_outside_changes_and_keeps_unsaved_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = shared_file(dir.path(), &["ann", "bob"]);
        let mut node = Gallery::load(&path).expect("node");
        node.set_persist_anonymous(false);
        let stranger = node
            .add_anonymous("cam", 5, 1, 5, vec![vec![0.3, 0.3, 0.3]])
            .expect("anonymous");
        assert!(!node.changed_on_disk());
        assert_eq!(node.refresh().expect("refresh"), None);
        let mut cli = Gallery::load(&path).expect("cli");
        cli.add("carol", vec![vec![0.0, 1.0, 0.0]]).expect("add");
        cli.remove("ann");
        cli.save().expect("cli save");
        assert!(node.changed_on_disk());
        let changes = node.refresh().expect("refresh").expect("changed");
        assert_eq!(changes.added, ["carol"]);
        assert_eq!(changes.removed, ["ann"]);
        assert!(node.contains(&stranger), "the in-memory stranger is kept");
        assert!(!node.contains("ann"));
        assert_eq!(
            node.best_match(&[1.0, 1.0, 0.5]).map(|m| m.name),
            Some("bob".to_owned())
        );
        assert!(!node.changed_on_disk());
        // A file that became unreadable changes nothing and is not overwritten.
        std::fs::write(&path, "format: 2\npeople: [").expect("corrupt");
        assert!(node.refresh().is_err());
        assert!(node.contains("carol"));
        assert!(node.save().is_err(), "a save never overwrites a file it cannot read");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "format: 2\npeople: [");
    }

    #[test]
    fn one_name_enrolled_by_two_writers_with_different_faces_is_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = shared_file(dir.path(), &["ann"]);
        let mut node = Gallery::load(&path).expect("node");
        let mut cli = Gallery::load(&path).expect("cli");
        cli.add_and_save("carol", vec![vec![0.0, 1.0, 0.0]]).expect("cli");
        let err = node
            .add_and_save("carol", vec![vec![0.0, 0.0, 1.0]])
            .expect_err("two carols");
        assert!(matches!(err, GalleryError::WriterConflict { .. }), "{err}");
        let on_disk = Gallery::load(&path).expect("load");
        assert_eq!(
            on_disk.best_match(&[0.0, 1.0, 0.0]).map(|m| m.name),
            Some("carol".to_owned())
        );
        assert!(!node.contains("carol"), "the refused enrolment is undone");
    }

    #[test]
    fn concurrent_writers_lose_nobody() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = shared_file(dir.path(), &["ann"]);
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut g = Gallery::load(&path).expect("load");
                    for i in 0..10 {
                        g.add_and_save(&format!("w{w} p{i}"), vec![vec![w as f32, i as f32, 1.0]])
                            .expect("save");
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().expect("writer");
        }
        let on_disk = Gallery::load(&path).expect("load");
        assert_eq!(on_disk.len(), 41);
    }

    #[test]
    fn a_request_is_recorded_with_its_effect_and_only_then() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = shared_file(dir.path(), &["ann"]);
        let mut g = Gallery::load(&path).expect("load");
        let record = |id: &str| RequestRecord {
            id: id.to_owned(),
            service: "enroll".into(),
            summary: "enrolled 'carol'".into(),
            count: 1,
        };
        g.set_pending_request(Some(record("c1:1")));
        g.add_and_save("carol", vec![vec![0.0, 1.0, 0.0]]).expect("save");
        // A refused change records nothing.
        g.set_pending_request(Some(record("c1:2")));
        assert!(g.add_and_save("person_abcd", vec![vec![0.0, 1.0, 0.0]]).is_err());
        g.set_pending_request(None);
        let reloaded = Gallery::load(&path).expect("load");
        assert_eq!(reloaded.recorded_request("c1:1"), Some(&record("c1:1")));
        assert_eq!(reloaded.recorded_request("c1:2"), None);
        assert!(reloaded.contains("carol"));
        // Kept through another writer's save, and the file still checks.
        let mut cli = Gallery::load(&path).expect("cli");
        cli.remove_and_save("ann").expect("forget");
        assert!(Gallery::load(&path).expect("load").recorded_request("c1:1").is_some());
    }

    fn tag(sha: &str) -> ModelTag {
        ModelTag {
            file: "m.onnx".into(),
            sha256: sha.into(),
            dim: 3,
        }
    }

    #[test]
    fn best_match_reports_runner_up_of_another_person() {
        let mut g = Gallery::in_memory();
        g.bind_model(&tag("a")).expect("bind");
        g.add("ann", vec![vec![1.0, 0.0, 0.0], vec![0.9, 0.1, 0.0]])
            .expect("add");
        g.add("bob", vec![vec![0.0, 1.0, 0.0]]).expect("add");
        let m = g.best_match(&[0.8, 0.6, 0.0]).expect("match");
        assert_eq!(m.name, "ann");
        assert!(
            (m.score - crate::embed::cosine(&crate::embed::normalize(&[0.9, 0.1, 0.0]), &[0.8, 0.6, 0.0])).abs() < 1e-6
        );
        assert!((m.runner_up.expect("bob") - 0.6).abs() < 1e-6);
        assert_eq!(g.remove("ann"), 2);
        assert_eq!(g.best_match(&[0.8, 0.6, 0.0]).map(|m| m.name), Some("bob".to_owned()));
    }

    #[test]
    fn add_many_equals_repeated_add_and_is_all_or_nothing() {
        let people = vec![
            ("ann".to_owned(), vec![vec![1.0, 0.0, 0.0]]),
            ("bob".to_owned(), vec![vec![0.0, 2.0, 0.0]]),
            ("ann".to_owned(), vec![vec![0.0, 0.0, 3.0]]),
        ];
        let mut one_by_one = Gallery::in_memory();
        one_by_one.bind_model(&tag("a")).expect("bind");
        for (name, v) in people.clone() {
            one_by_one.add(&name, v).expect("add");
        }
        let mut bulk = Gallery::in_memory();
        bulk.bind_model(&tag("a")).expect("bind");
        bulk.add_many(people).expect("add_many");
        assert_eq!(
            bulk.people().collect::<Vec<_>>(),
            one_by_one.people().collect::<Vec<_>>()
        );
        assert_eq!(bulk.index, one_by_one.index);
        let bad = vec![
            ("cy".to_owned(), vec![vec![1.0, 0.0, 0.0]]),
            ("dee".to_owned(), vec![vec![1.0, 0.0]]),
        ];
        assert!(bulk.add_many(bad).is_err());
        assert_eq!(bulk.len(), 2);
    }

    #[test]
    fn names_are_validated() {
        for bad in ["", " ", " ann", "a\nb", "unknown", "x/y", &"a".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
        for good in ["Ann", "Jean-Luc Picard", "O'Neil", "李雷", "robot_7"] {
            assert!(validate_name(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn model_mismatch_and_bad_vectors_are_refused() {
        let mut g = Gallery::in_memory();
        g.bind_model(&tag("a")).expect("bind");
        assert!(matches!(
            g.bind_model(&tag("b")),
            Err(GalleryError::ModelMismatch { .. })
        ));
        assert!(matches!(
            g.add("ann", vec![vec![1.0, 0.0]]),
            Err(GalleryError::Dimension { .. })
        ));
        assert!(matches!(
            g.add("ann", vec![vec![f32::NAN, 0.0, 0.0]]),
            Err(GalleryError::NotFinite)
        ));
        assert!(matches!(g.add("ann", vec![]), Err(GalleryError::NoEmbeddings(_))));
        assert!(g.is_empty());
    }

    fn two_people(path: &Path) -> Gallery {
        let mut g = Gallery::open_or_create(path).expect("new");
        g.bind_model(&tag("a")).expect("bind");
        g.add("ann", vec![vec![1.0, 0.0, 0.0]]).expect("ann");
        g.add("bob", vec![vec![0.0, 1.0, 0.0], vec![0.0, 0.6, 0.8]])
            .expect("bob");
        g.save().expect("save");
        g
    }

    /// Cuts at entry boundaries still parse as YAML; each must be refused and leave the file as
    /// it was, and a cut anywhere else too.
    #[test]
    fn truncated_or_altered_galleries_are_refused_untouched() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("g.yaml");
        two_people(&path);
        let full = std::fs::read_to_string(&path).expect("read");
        assert_eq!(Gallery::load(&path).expect("complete file loads").len(), 2);
        let after_people = full.find("people:\n").expect("people section") + "people:\n".len();
        let second = full.find("- name: bob").expect("bob's entry");
        let mut cuts = vec![after_people, second];
        cuts.extend((after_people..full.len()).step_by(7));
        for cut in cuts {
            let text = &full[..cut];
            std::fs::write(&path, text).expect("write cut");
            match Gallery::load(&path) {
                Err(GalleryError::Incomplete { .. } | GalleryError::Corrupt { .. } | GalleryError::Invalid { .. }) => {}
                other => panic!("a gallery cut at byte {cut} of {} gave {other:?}", full.len()),
            }
            assert!(Gallery::open_or_create(&path).is_err(), "open_or_create refuses too");
            assert_eq!(std::fs::read_to_string(&path).expect("read"), text, "left untouched");
        }
        let msg = {
            std::fs::write(&path, &full[..second]).expect("write");
            Gallery::load(&path).expect_err("cut").to_string()
        };
        assert!(
            msg.contains("records 2 people but holds 1") && msg.contains("g.yaml"),
            "{msg}"
        );
        // An altered vector, with the count intact.
        std::fs::write(&path, full.replacen("- 1.0", "- 0.5", 1)).expect("write");
        assert!(matches!(Gallery::load(&path), Err(GalleryError::Incomplete { .. })));
    }

    #[test]
    fn format_1_galleries_still_load_and_are_upgraded_on_save() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("old.yaml");
        std::fs::write(
            &path,
            "format: 1\nmodel:\n  file: m.onnx\n  sha256: a\n  dim: 3\npeople:\n- name: ann\n  embeddings:\n  - [1.0, 0.0, 0.0]\n",
        )
        .expect("write");
        let mut g = Gallery::load(&path).expect("format 1 loads");
        assert_eq!(g.people().collect::<Vec<_>>(), vec![("ann", 1)]);
        g.save().expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(text.contains("format: 2") && text.contains("people_count: 1") && text.contains("people_sha256: "));
        assert_eq!(Gallery::load(&path).expect("reloads").len(), 1);
    }

    #[test]
    fn stale_temporaries_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("g.yaml");
        two_people(&path);
        let own = dir.path().join(format!(".g.yaml.tmp-{}", std::process::id()));
        // A pid far above any kernel's pid_max cannot be running.
        let dead = dir.path().join(".g.yaml.tmp-4294967295");
        // pid 1 is always running: its save may be in progress.
        let live = dir.path().join(".g.yaml.tmp-1");
        let others =
            [".g.yaml.tmp-12x", ".other.yaml.tmp-7", "g.yaml.tmp-7", ".g.yaml.bak"].map(|n| dir.path().join(n));
        for f in [&own, &dead, &live].into_iter().chain(&others) {
            std::fs::write(f, "partial").expect("write");
        }
        let g = Gallery::open_or_create(&path).expect("opens");
        assert_eq!(g.len(), 2);
        assert!(!own.exists() && !dead.exists(), "stale temporaries removed");
        assert!(live.exists(), "a running process's temporary is kept");
        for f in &others {
            assert!(f.exists(), "{} is not a temporary of this gallery", f.display());
        }
    }

    #[test]
    fn a_failed_save_leaves_no_temporary_and_the_old_file() {
        let dir = tempfile::tempdir().expect("tmp");
        // The target is a non-empty directory: the rename onto it fails after the write.
        let path = dir.path().join("g.yaml");
        std::fs::create_dir(&path).expect("dir");
        std::fs::write(path.join("keep"), "x").expect("write");
        let mut g = Gallery::open_or_create(&dir.path().join("other.yaml")).expect("new");
        g.bind_model(&tag("a")).expect("bind");
        g.add("ann", vec![vec![1.0, 0.0, 0.0]]).expect("add");
        assert!(matches!(g.save_to(&path), Err(GalleryError::Write { .. })));
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("g.yaml")], "no temporary left");
    }

    #[test]
    fn anonymous_people_round_trip_and_never_overwrite_named_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("g.yaml");
        let mut g = two_people(&path);
        let before = std::fs::read_to_string(&path).expect("read");
        assert!(!before.contains("anonymous"), "named people are written as before");
        let id = g
            .add_anonymous("/cam", 5, 7, 9, vec![vec![0.0, 0.0, 1.0]])
            .expect("anonymous");
        assert_eq!(id, anonymous_id("/cam", 5, 7, ANONYMOUS_ID_HEX));
        assert!(is_anonymous_id(&id) && g.is_anonymous(&id));
        // The same stranger key again: a longer id, nobody replaced.
        let again = g
            .add_anonymous("/cam", 5, 7, 9, vec![vec![0.0, 0.0, 1.0]])
            .expect("anonymous");
        assert_ne!(again, id);
        assert!(again.starts_with(&id) && again.len() == id.len() + 1, "{again}");
        assert!(matches!(
            g.add(&id, vec![vec![1.0, 0.0, 0.0]]),
            Err(GalleryError::IsAnonymous(_))
        ));
        assert!(matches!(
            g.add("person_abcd", vec![vec![1.0, 0.0, 0.0]]),
            Err(GalleryError::ReservedName(_))
        ));
        g.save().expect("save");
        let loaded = Gallery::load(&path).expect("format 2 with anonymous people loads");
        let info: Vec<PersonInfo> = loaded.person_info().collect();
        assert_eq!(info.len(), 4);
        assert!(info.iter().filter(|p| p.anonymous).count() == 2);
        assert_eq!(info.iter().find(|p| p.name == id).and_then(|p| p.last_seen_ns), Some(9));
        // Naming: refused cleanly, then done.
        let mut g = loaded;
        let people_before: Vec<PersonInfo> = g.person_info().collect();
        assert!(matches!(
            g.name_anonymous(&id, "ann", vec![]),
            Err(GalleryError::NameTaken(_))
        ));
        assert!(matches!(
            g.name_anonymous("ann", "cy", vec![]),
            Err(GalleryError::NotAnonymous(_))
        ));
        assert!(matches!(
            g.name_anonymous("person_0000", "cy", vec![]),
            Err(GalleryError::UnknownPerson(_))
        ));
        assert!(matches!(
            g.name_anonymous(&id, "a/b", vec![]),
            Err(GalleryError::BadName(_))
        ));
        assert!(matches!(
            g.name_anonymous(&id, "cy", vec![vec![1.0, 0.0]]),
            Err(GalleryError::Dimension { .. })
        ));
        assert_eq!(g.person_info().collect::<Vec<_>>(), people_before);
        assert_eq!(
            g.name_anonymous(&id, "cy", vec![vec![0.0, 0.1, 1.0]]).expect("named"),
            2
        );
        assert!(g.contains("cy") && !g.is_anonymous("cy") && !g.contains(&id));
        // The named stranger keeps their permanent id, also through a save; named people have
        // one derived from the name, not the name.
        assert_eq!(g.person_id("cy"), Some(id.clone()));
        let ann = g.person_id("ann").expect("held");
        assert!(is_anonymous_id(&ann) && ann != "ann" && ann == derived_person_id("ann"));
        assert_eq!(g.person_id(&again), Some(again.clone()));
        assert_eq!(g.person_id("nobody"), None);
        g.save().expect("save");
        assert_eq!(Gallery::load(&path).expect("load").person_id("cy"), Some(id.clone()));
        // Expiry: only anonymous people, only after the time.
        assert!(g.expire_anonymous(100, 1_000).is_empty());
        assert!(g.any_anonymous_expired(2_000, 1_000));
        assert_eq!(g.expire_anonymous(2_000, 1_000), vec![again]);
        assert_eq!(g.len(), 3);
        // A file marking a named-looking person anonymous is refused.
        g.save().expect("save");
        let text = std::fs::read_to_string(&path).expect("read");
        let forged = text.replacen("- name: cy\n", "- name: cy\n  anonymous: true\n", 1);
        assert_ne!(forged, text);
        std::fs::write(&path, forged).expect("write");
        assert!(Gallery::load(&path).is_err());
    }

    #[test]
    fn learning_is_capped_keeps_enrolled_samples_and_drops_the_most_redundant() {
        let mut g = Gallery::in_memory();
        g.bind_model(&tag("a")).expect("bind");
        g.add("ann", vec![vec![1.0, 0.0, 0.0]]).expect("add");
        assert_eq!(g.learn("ann", vec![0.0, 1.0, 0.0], 2).expect("learn"), Learned::Added);
        assert_eq!(g.learn("ann", vec![0.0, 0.0, 1.0], 2).expect("learn"), Learned::Added);
        // Close to the enrolled vector: the most redundant, dropped at once.
        assert_eq!(
            g.learn("ann", vec![0.99, 0.1, 0.0], 2).expect("learn"),
            Learned::Replaced
        );
        let ann = g.person_info().next().expect("ann");
        assert_eq!((ann.samples, ann.learned), (1, 2));
        assert!(g.best_similarity_to("ann", &[0.0, 0.0, 1.0]).expect("held") > 0.99);
        assert!(matches!(
            g.learn("bob", vec![1.0, 0.0, 0.0], 2),
            Err(GalleryError::UnknownPerson(_))
        ));
        let id = g.add_anonymous("/c", 0, 1, 0, vec![vec![0.0, 1.0, 0.0]]).expect("anon");
        assert!(matches!(
            g.learn(&id, vec![0.0, 1.0, 0.0], 2),
            Err(GalleryError::IsAnonymous(_))
        ));
        assert_eq!(g.vector_count(), 4);
    }

    #[test]
    fn refusals_name_the_file_and_cut_long_names() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("people.yaml");
        let mut g = two_people(&path);
        let msg = g.bind_model(&tag("b")).expect_err("other model").to_string();
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        let long = "x".repeat(10_000);
        let msg = g
            .add(&long, vec![vec![1.0, 0.0, 0.0]])
            .expect_err("long name")
            .to_string();
        assert!(msg.len() < 300 && msg.contains("(10000 characters)"), "{msg}");
        let msg = validate_name("a\nb").expect_err("newline").to_string();
        assert!(msg.contains("a\\nb"), "control characters are escaped: {msg}");
    }
}
