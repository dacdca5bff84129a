//! One gallery file, several writers (a node, the CLI, a second node, a script): what keeps
//! them from losing each other's people.
//!
//! - **Lock**: every save holds an exclusive advisory lock (`flock`, through `std::fs::File::lock`)
//!   on a lock file beside the gallery (`.<file>.lock`; the gallery itself cannot carry the lock,
//!   since each save renames a new file over it). The kernel drops the lock when its holder dies,
//!   so a writer killed mid-save blocks nobody.
//! - **Merge**: under the lock the saver reads the file again when it changed since this writer
//!   last read or wrote it (a [`FileStamp`] differs), and merges three versions per person: the
//!   one last synchronised with the file (the base), its own, and the file's. Whoever changed a
//!   person since the base wins; a person forgotten on either side stays forgotten; when both
//!   changed one person, their sample lists are united. Two writers creating one name with
//!   different samples is a [`Conflict`]: the save is refused rather than giving one person's
//!   name to another's face.
//! - **Notice**: [`FileStamp`] (device, inode, size, modification time) tells cheaply whether
//!   somebody else wrote the file, so a long-running reader can reload (`Gallery::refresh`).
//!
//! Pure data and file metadata; the gallery module calls it and does the reading and writing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{PersonRecord, RequestRecord};

/// Executed requests remembered in the gallery file (the oldest are dropped beyond this).
pub const REQUEST_LOG_CAPACITY: usize = 10_000;

/// What identifies one version of the gallery file: replaced by every save (a rename brings a
/// new inode), changed by an edit in place (size or modification time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
}

impl FileStamp {
    /// The stamp of `path` now; `None` when there is no such file.
    pub fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        })
    }
}

/// The lock file of gallery `path`: `.<file name>.lock` beside it.
pub fn lock_path(path: &Path) -> PathBuf {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    dir.join(format!(".{file_name}.lock"))
}

/// Holds the exclusive lock of a gallery until dropped.
#[derive(Debug)]
pub struct WriteLock {
    _file: std::fs::File,
}

/// Takes the exclusive lock of gallery `path`, waiting for another writer to finish its save.
pub fn lock(path: &Path) -> std::io::Result<WriteLock> {
    use std::os::unix::fs::OpenOptionsExt;
    let lock_file = lock_path(path);
    if let Some(dir) = lock_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock_file)?;
    file.lock()?;
    Ok(WriteLock { _file: file })
}

/// Two writers made one new person under the same name with different samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub name: String,
}

/// What to do when two writers created one name with different samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Refuse (a save: its caller reports the refusal and undoes its change).
    Refuse,
    /// Keep the file's version (a reload: the file is what every writer agreed on).
    KeepFile,
}

/// Merges this writer's people (`mine`) with the file's (`file`), both descended from `base`
/// (the people as this writer last read or wrote the file). Order: the file's people in its
/// order, then this writer's new people in theirs.
pub fn merge_people(
    base: &[PersonRecord],
    mine: &[PersonRecord],
    file: &[PersonRecord],
    on_conflict: OnConflict,
) -> Result<Vec<PersonRecord>, Conflict> {
    let by_name = |people: &[PersonRecord]| -> HashMap<String, usize> {
        people.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect()
    };
    let (base_at, mine_at, file_at) = (by_name(base), by_name(mine), by_name(file));
    let get = |people: &'_ [PersonRecord], at: &HashMap<String, usize>, name: &str| -> Option<PersonRecord> {
        at.get(name).and_then(|&i| people.get(i)).cloned()
    };
    let mut names: Vec<&str> = file.iter().map(|p| p.name.as_str()).collect();
    let in_file: HashSet<&str> = names.iter().copied().collect();
    names.extend(mine.iter().map(|p| p.name.as_str()).filter(|n| !in_file.contains(n)));
    let mut merged = Vec::with_capacity(names.len());
    for name in names {
        let b = get(base, &base_at, name);
        let m = get(mine, &mine_at, name);
        let f = get(file, &file_at, name);
        let kept = if m == f {
            m
        } else if m == b {
            // Only the file changed this person (added, changed or forgotten elsewhere).
            f
        } else if f == b {
            // Only this writer changed them.
            m
        } else {
            match (m, f) {
                // Forgotten on one side, changed on the other: forgetting is the explicit act.
                (None, _) | (_, None) => None,
                (Some(m), Some(f)) => match b {
                    Some(b) => Some(merge_person(&b, m, f)),
                    // Both created this name, with different samples.
                    None => match on_conflict {
                        OnConflict::Refuse => return Err(Conflict { name: name.to_owned() }),
                        OnConflict::KeepFile => Some(f),
                    },
                },
            }
        };
        merged.extend(kept);
    }
    Ok(merged)
}

/// One person both writers changed since `base`: each field from the side that changed it; when
/// both changed a sample list, the file's samples and then this writer's new ones.
fn merge_person(base: &PersonRecord, mine: PersonRecord, file: PersonRecord) -> PersonRecord {
    let samples = |b: &Vec<Vec<f32>>, m: Vec<Vec<f32>>, f: Vec<Vec<f32>>| -> Vec<Vec<f32>> {
        if m == *b {
            f
        } else if f == *b {
            m
        } else {
            let mut all = f;
            let extra: Vec<Vec<f32>> = m.into_iter().filter(|v| !all.contains(v)).collect();
            all.extend(extra);
            all
        }
    };
    let pick = |b, m, f| if m == b { f } else { m };
    PersonRecord {
        embeddings: samples(&base.embeddings, mine.embeddings, file.embeddings),
        learned: samples(&base.learned, mine.learned, file.learned),
        anonymous: pick(base.anonymous, mine.anonymous, file.anonymous),
        last_seen_ns: match (mine.last_seen_ns, file.last_seen_ns) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        },
        person_id: if mine.person_id == base.person_id {
            file.person_id
        } else {
            mine.person_id
        },
        name: mine.name,
    }
}

/// The union of two request logs (the file's first, then this writer's entries it lacks), the
/// newest [`REQUEST_LOG_CAPACITY`] kept.
pub fn merge_requests(file: Vec<RequestRecord>, mine: &[RequestRecord]) -> Vec<RequestRecord> {
    let known: HashSet<String> = file.iter().map(|r| r.id.clone()).collect();
    let mut all = file;
    all.extend(mine.iter().filter(|r| !known.contains(&r.id)).cloned());
    cap_requests(&mut all);
    all
}

/// Drops the oldest requests beyond [`REQUEST_LOG_CAPACITY`].
pub fn cap_requests(log: &mut Vec<RequestRecord>) {
    if log.len() > REQUEST_LOG_CAPACITY {
        let excess = log.len() - REQUEST_LOG_CAPACITY;
        log.drain(..excess);
    }
}

/// Names in `after` but not `before`, and in `before` but not `after`.
pub fn added_and_removed(before: &[PersonRecord], after: &[PersonRecord]) -> (Vec<String>, Vec<String>) {
    let names = |people: &[PersonRecord]| -> HashSet<String> { people.iter().map(|p| p.name.clone()).collect() };
    let (b, a) = (names(before), names(after));
    let added = after
        .iter()
        .filter(|p| !b.contains(&p.name))
        .map(|p| p.name.clone())
        .collect();
    let removed = before
        .iter()
        .filter(|p| !a.contains(&p.name))
        .map(|p| p.name.clone())
        .collect();
    (added, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, samples: &[f32]) -> PersonRecord {
        PersonRecord::named(name.to_owned(), samples.iter().map(|&x| vec![x, 1.0]).collect())
    }

    fn names(people: &[PersonRecord]) -> Vec<&str> {
        people.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn each_side_keeps_the_people_the_other_added_or_forgot() {
        let base = vec![person("ann", &[1.0]), person("bob", &[2.0])];
        // This writer enrolled dan; the file meanwhile got carol and lost bob (CLI forget).
        let mine = vec![person("ann", &[1.0]), person("bob", &[2.0]), person("dan", &[4.0])];
        let file = vec![person("ann", &[1.0]), person("carol", &[3.0])];
        let merged = merge_people(&base, &mine, &file, OnConflict::Refuse).expect("no conflict");
        assert_eq!(names(&merged), ["ann", "carol", "dan"]);
        // This writer forgot ann; the file still has her as she was: she stays forgotten.
        let mine = vec![person("bob", &[2.0])];
        let merged = merge_people(&base, &mine, &file, OnConflict::Refuse).expect("no conflict");
        assert_eq!(names(&merged), ["carol"]);
    }

    #[test]
    fn a_person_changed_on_both_sides_keeps_both_samples_and_a_forget_wins() {
        let base = vec![person("ann", &[1.0])];
        let mine = vec![person("ann", &[1.0, 5.0])];
        let file = vec![person("ann", &[1.0, 6.0])];
        let merged = merge_people(&base, &mine, &file, OnConflict::Refuse).expect("no conflict");
        let samples: Vec<f32> = merged.iter().flat_map(|p| p.embeddings.iter().map(|v| v[0])).collect();
        assert_eq!(samples, [1.0, 6.0, 5.0]);
        // Learned here, forgotten there: forgotten.
        let merged = merge_people(&base, &mine, &[], OnConflict::Refuse).expect("no conflict");
        assert!(merged.is_empty());
    }

    #[test]
    fn one_new_name_with_two_faces_is_refused_on_save_and_the_file_kept_on_reload() {
        let mine = vec![person("carol", &[1.0])];
        let file = vec![person("carol", &[2.0])];
        assert_eq!(
            merge_people(&[], &mine, &file, OnConflict::Refuse),
            Err(Conflict { name: "carol".into() })
        );
        let kept = merge_people(&[], &mine, &file, OnConflict::KeepFile).expect("file kept");
        assert_eq!(kept, file);
        // The same samples on both sides are no conflict.
        assert_eq!(merge_people(&[], &file, &file, OnConflict::Refuse), Ok(file.clone()));
    }

    #[test]
    fn request_logs_unite_and_stay_bounded() {
        let record = |i: usize| RequestRecord {
            id: format!("c:{i}"),
            service: "enroll".into(),
            summary: String::new(),
            count: 0,
        };
        let file: Vec<RequestRecord> = (0..REQUEST_LOG_CAPACITY).map(record).collect();
        let mine = vec![record(3), record(REQUEST_LOG_CAPACITY)];
        let merged = merge_requests(file, &mine);
        assert_eq!(merged.len(), REQUEST_LOG_CAPACITY);
        assert_eq!(merged.first().map(|r| r.id.as_str()), Some("c:1"));
        assert_eq!(
            merged.last().map(|r| r.id.clone()),
            Some(format!("c:{REQUEST_LOG_CAPACITY}"))
        );
    }
}
