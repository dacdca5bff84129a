//! The gallery: known people and their identity vectors, matched by cosine similarity, stored as
//! YAML. Every change reaches the disk atomically (temporary file, fsync, rename, file mode 0600),
//! and the file records which embedding model made its vectors so vectors of two models never mix.
//! Pure data and file I/O; knows nothing of images or models beyond their fingerprint.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod index;

use index::MatchIndex;
pub use index::COARSE_MIN_ROWS;

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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonRecord {
    name: String,
    embeddings: Vec<Vec<f32>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GalleryFile {
    format: u32,
    model: Option<ModelTag>,
    #[serde(default)]
    people: Vec<PersonRecord>,
}

const FORMAT: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum GalleryError {
    #[error("gallery file {path} is corrupt at line {line}, column {column}: {message}")]
    Corrupt { path: String, line: usize, column: usize, message: String },
    #[error("gallery file {path} is invalid: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot read gallery file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write gallery file {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("gallery vectors come from model {gallery_file} (sha256 {gallery_sha}), but this pipeline uses {model_file} (sha256 {model_sha}); re-enroll into a new gallery for this model")]
    ModelMismatch { gallery_file: String, gallery_sha: String, model_file: String, model_sha: String },
    #[error("invalid name '{0}': use 1-64 characters: letters, digits, space, '.', '_', '-' or an apostrophe")]
    BadName(String),
    #[error("no embeddings given for '{0}'")]
    NoEmbeddings(String),
    #[error("vector of length {got} does not match the gallery's dimension {expected}")]
    Dimension { got: usize, expected: usize },
    #[error("vector contains a value that is not a finite number")]
    NotFinite,
    #[error("gallery has no file to save to")]
    NoPath,
}

/// Checks a person's name: 1-64 characters, letters, digits, space and `._-'`, not blank.
pub fn validate_name(name: &str) -> Result<(), GalleryError> {
    let ok = !name.trim().is_empty()
        && name.trim() == name
        && name.chars().count() <= 64
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '\''));
    if ok && name != crate::UNKNOWN {
        Ok(())
    } else {
        Err(GalleryError::BadName(name.to_owned()))
    }
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

#[derive(Debug, Clone, Default)]
pub struct Gallery {
    path: Option<PathBuf>,
    model: Option<ModelTag>,
    people: Vec<PersonRecord>,
    /// Every vector with its person's index, for matching.
    index: MatchIndex,
}

impl Gallery {
    /// An empty gallery kept in memory only.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// Loads a gallery file. A missing file is an error.
    pub fn load(path: &Path) -> Result<Self, GalleryError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| GalleryError::Read { path: shown.clone(), source })?;
        let file: GalleryFile = serde_yaml_ng::from_str(&text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            GalleryError::Corrupt { path: shown.clone(), line, column, message: e.to_string() }
        })?;
        let invalid = |message: String| GalleryError::Invalid { path: shown.clone(), message };
        if file.format != FORMAT {
            return Err(invalid(format!("format {} is not supported (expected {FORMAT})", file.format)));
        }
        let mut gallery = Self { path: Some(path.to_path_buf()), model: file.model, ..Self::default() };
        for person in file.people {
            validate_name(&person.name).map_err(|e| invalid(e.to_string()))?;
            if gallery.people.iter().any(|p| p.name == person.name) {
                return Err(invalid(format!("person '{}' appears twice", person.name)));
            }
            for v in &person.embeddings {
                gallery.check_vector(v).map_err(|e| invalid(format!("person '{}': {e}", person.name)))?;
            }
            if person.embeddings.is_empty() {
                return Err(invalid(format!("person '{}' has no embeddings", person.name)));
            }
            gallery.people.push(person);
        }
        if !gallery.people.is_empty() && gallery.model.is_none() {
            return Err(invalid("vectors without a `model` entry: the model that made them is unknown".to_owned()));
        }
        gallery.rebuild_index();
        Ok(gallery)
    }

    /// Loads `path` if it exists, otherwise starts an empty gallery that will be saved there.
    pub fn open_or_create(path: &Path) -> Result<Self, GalleryError> {
        if path.exists() {
            Self::load(path)
        } else {
            Ok(Self { path: Some(path.to_path_buf()), ..Self::default() })
        }
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
        if let Some(model) = &self.model {
            if v.len() != model.dim {
                return Err(GalleryError::Dimension { got: v.len(), expected: model.dim });
            }
        }
        if v.iter().all(|x| x.is_finite()) {
            Ok(())
        } else {
            Err(GalleryError::NotFinite)
        }
    }

    fn rebuild_index(&mut self) {
        let dim = self.model.as_ref().map(|m| m.dim).or_else(|| {
            self.people.iter().flat_map(|p| p.embeddings.first()).map(Vec::len).next()
        });
        let rows = self
            .people
            .iter()
            .enumerate()
            .flat_map(|(i, person)| person.embeddings.iter().map(move |v| (i as u32, v.as_slice())));
        self.index = MatchIndex::build(dim.unwrap_or(0), rows);
    }

    /// Names and sample counts, in enrolment order.
    pub fn people(&self) -> impl Iterator<Item = (&str, usize)> {
        self.people.iter().map(|p| (p.name.as_str(), p.embeddings.len()))
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
    pub fn add(&mut self, name: &str, embeddings: Vec<Vec<f32>>) -> Result<(), GalleryError> {
        validate_name(name)?;
        if embeddings.is_empty() {
            return Err(GalleryError::NoEmbeddings(name.to_owned()));
        }
        for v in &embeddings {
            self.check_vector(v)?;
        }
        let normalized: Vec<Vec<f32>> = embeddings.iter().map(|v| crate::embed::normalize(v)).collect();
        match self.people.iter_mut().find(|p| p.name == name) {
            Some(person) => person.embeddings.extend(normalized),
            None => self.people.push(PersonRecord { name: name.to_owned(), embeddings: normalized }),
        }
        self.rebuild_index();
        Ok(())
    }

    /// As `add` for many people at once, rebuilding the match index once (for large galleries).
    /// Nothing is added when any name or vector is invalid.
    pub fn add_many(&mut self, people: Vec<(String, Vec<Vec<f32>>)>) -> Result<(), GalleryError> {
        for (name, embeddings) in &people {
            validate_name(name)?;
            if embeddings.is_empty() {
                return Err(GalleryError::NoEmbeddings(name.clone()));
            }
            for v in embeddings {
                self.check_vector(v)?;
            }
        }
        let mut index: std::collections::HashMap<String, usize> =
            self.people.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        for (name, embeddings) in people {
            let normalized = embeddings.iter().map(|v| crate::embed::normalize(v));
            match index.get(&name).and_then(|&i| self.people.get_mut(i)) {
                Some(person) => person.embeddings.extend(normalized),
                None => {
                    index.insert(name.clone(), self.people.len());
                    self.people.push(PersonRecord { name, embeddings: normalized.collect() });
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
        Some(Match { name, score: top.score, runner_up: top.runner_up })
    }

    /// Writes the gallery to its file atomically.
    pub fn save(&self) -> Result<(), GalleryError> {
        let path = self.path.as_deref().ok_or(GalleryError::NoPath)?;
        self.save_to(path)
    }

    /// Writes to `path` atomically: a temporary file beside it (mode 0600), fsync, rename, fsync
    /// of the directory. The old file stays intact until the rename.
    pub fn save_to(&self, path: &Path) -> Result<(), GalleryError> {
        use std::os::unix::fs::OpenOptionsExt;
        let shown = path.display().to_string();
        let werr = |source: std::io::Error| GalleryError::Write { path: shown.clone(), source };
        let file = GalleryFile { format: FORMAT, model: self.model.clone(), people: self.people.clone() };
        let text = serde_yaml_ng::to_string(&file)
            .map_err(|e| werr(std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string())))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(werr)?;
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
        let result = (|| {
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
            f.write_all(b"# facerec gallery: people and their face vectors (written by facerec; edit with care)\n")?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(werr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(sha: &str) -> ModelTag {
        ModelTag { file: "m.onnx".into(), sha256: sha.into(), dim: 3 }
    }

    #[test]
    fn best_match_reports_runner_up_of_another_person() {
        let mut g = Gallery::in_memory();
        g.bind_model(&tag("a")).expect("bind");
        g.add("ann", vec![vec![1.0, 0.0, 0.0], vec![0.9, 0.1, 0.0]]).expect("add");
        g.add("bob", vec![vec![0.0, 1.0, 0.0]]).expect("add");
        let m = g.best_match(&[0.8, 0.6, 0.0]).expect("match");
        assert_eq!(m.name, "ann");
        assert!((m.score - crate::embed::cosine(&crate::embed::normalize(&[0.9, 0.1, 0.0]), &[0.8, 0.6, 0.0])).abs() < 1e-6);
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
        assert_eq!(bulk.people().collect::<Vec<_>>(), one_by_one.people().collect::<Vec<_>>());
        assert_eq!(bulk.index, one_by_one.index);
        let bad = vec![("cy".to_owned(), vec![vec![1.0, 0.0, 0.0]]), ("dee".to_owned(), vec![vec![1.0, 0.0]])];
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
        assert!(matches!(g.bind_model(&tag("b")), Err(GalleryError::ModelMismatch { .. })));
        assert!(matches!(g.add("ann", vec![vec![1.0, 0.0]]), Err(GalleryError::Dimension { .. })));
        assert!(matches!(g.add("ann", vec![vec![f32::NAN, 0.0, 0.0]]), Err(GalleryError::NotFinite)));
        assert!(matches!(g.add("ann", vec![]), Err(GalleryError::NoEmbeddings(_))));
        assert!(g.is_empty());
    }
}
