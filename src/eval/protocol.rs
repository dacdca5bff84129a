//! Evaluation protocols on disk: LFW pair lists (`pairsDevTest.txt`: first line a count;
//! `pairs.txt`: first line `folds count`), LFW image paths (`DIR/<Name>/<Name>_NNNN.jpg`), and
//! the people-per-folder layout the identification protocol reads. Text and directory listings
//! only; knows nothing of models.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::EvalError;

/// One LFW image: a person's name and the 1-based image number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ImageRef {
    pub name: String,
    pub number: u32,
}

impl ImageRef {
    /// `DIR/<Name>/<Name>_NNNN.jpg`.
    pub fn path(&self, images_dir: &Path) -> PathBuf {
        images_dir
            .join(&self.name)
            .join(format!("{}_{:04}.jpg", self.name, self.number))
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{:04}", self.name, self.number)
    }
}

/// One verification pair and the cross-validation fold it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pair {
    pub a: ImageRef,
    pub b: ImageRef,
    pub same: bool,
    pub fold: usize,
}

/// How the pair file was laid out, and how folds were obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "layout", rename_all = "snake_case")]
pub enum Layout {
    /// `pairsDevTest.txt`-style: one header number `count`, then `count` same-person lines and
    /// `count` different-people lines.
    SingleSet { count: usize },
    /// `pairs.txt`-style: header `folds count`, then per fold `count` same and `count` different.
    Folds { folds: usize, count: usize },
}

/// A parsed pair list.
#[derive(Debug, Clone, Serialize)]
pub struct PairList {
    pub layout: Layout,
    /// Number of cross-validation folds in `pairs[..].fold`.
    pub folds: usize,
    /// How the folds were made.
    pub folds_note: String,
    pub pairs: Vec<Pair>,
}

/// Folds used when a file has only one set of pairs (as LFW's 10-fold protocol).
pub const DEFAULT_FOLDS: usize = 10;

/// Parses an LFW pair list in either layout. A file with a single set is split into `k_single`
/// folds deterministically: each class (same, different) in file order is cut into `k_single`
/// contiguous blocks of (nearly) equal size, and fold `f` takes block `f` of both classes.
pub fn parse_pairs(text: &str, k_single: usize) -> Result<PairList, EvalError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| EvalError::Protocol("pair file is empty".into()))?;
    let head: Vec<&str> = header.split_whitespace().collect();
    let number = |s: &str| -> Result<usize, EvalError> {
        s.parse::<usize>()
            .map_err(|_| EvalError::Protocol(format!("line 1: '{header}' is not a pair-file header")))
    };
    let (layout, sets, count) = match head.as_slice() {
        [count] => {
            let count = number(count)?;
            (Layout::SingleSet { count }, 1, count)
        }
        [folds, count] => {
            let (folds, count) = (number(folds)?, number(count)?);
            (Layout::Folds { folds, count }, folds, count)
        }
        _ => {
            return Err(EvalError::Protocol(format!(
                "line 1: '{header}' is not a pair-file header"
            )))
        }
    };
    if sets == 0 || count == 0 {
        return Err(EvalError::Protocol(format!("line 1: '{header}' announces no pairs")));
    }
    let mut pairs = Vec::with_capacity(2 * sets * count);
    for set in 0..sets {
        for same in [true, false] {
            for _ in 0..count {
                let (line_no, line) = lines.next().ok_or_else(|| {
                    EvalError::Protocol(format!(
                        "file ends early: header '{header}' announces {} pairs, found {}",
                        2 * sets * count,
                        pairs.len()
                    ))
                })?;
                let pair = parse_pair_line(line, line_no, same)?;
                pairs.push(Pair { fold: set, ..pair });
            }
        }
    }
    if let Some((line_no, line)) = lines.next() {
        return Err(EvalError::Protocol(format!(
            "line {line_no}: '{line}' is more than the {} pairs the header announces",
            2 * sets * count
        )));
    }
    let (folds, folds_note) = match layout {
        Layout::Folds { folds, .. } if folds >= 2 => (folds, format!("the file's own {folds} folds")),
        _ => {
            let k = k_single.max(2).min(count);
            for pair in pairs.iter_mut() {
                pair.fold = 0;
            }
            let mut same_i = 0;
            let mut diff_i = 0;
            for pair in pairs.iter_mut() {
                let i = if pair.same { &mut same_i } else { &mut diff_i };
                pair.fold = *i * k / count;
                *i += 1;
            }
            (
                k,
                format!(
                    "the file holds one set; split into {k} folds in file order: fold f takes the f-th contiguous \
                     block of {} same-person and of {} different-people pairs",
                    count / k,
                    count / k
                ),
            )
        }
    };
    Ok(PairList {
        layout,
        folds,
        folds_note,
        pairs,
    })
}

fn parse_pair_line(line: &str, line_no: usize, expect_same: bool) -> Result<Pair, EvalError> {
    let bad = |why: &str| EvalError::Protocol(format!("line {line_no}: '{line}': {why}"));
    let num = |s: &str| {
        s.parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| bad("image numbers are positive integers"))
    };
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let pair = match tokens.as_slice() {
        [name, i, j] => Pair {
            a: ImageRef {
                name: (*name).to_owned(),
                number: num(i)?,
            },
            b: ImageRef {
                name: (*name).to_owned(),
                number: num(j)?,
            },
            same: true,
            fold: 0,
        },
        [n1, i, n2, j] => Pair {
            a: ImageRef {
                name: (*n1).to_owned(),
                number: num(i)?,
            },
            b: ImageRef {
                name: (*n2).to_owned(),
                number: num(j)?,
            },
            same: false,
            fold: 0,
        },
        _ => return Err(bad("expected 'Name i j' or 'NameA i NameB j'")),
    };
    if pair.same != expect_same {
        let want = if expect_same {
            "a same-person line 'Name i j'"
        } else {
            "a different-people line 'NameA i NameB j'"
        };
        return Err(bad(&format!(
            "expected {want} here (the header fixes how many of each come in turn)"
        )));
    }
    Ok(pair)
}

/// A person's folder: the name and the image files in it, sorted by file name.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub name: String,
    pub images: Vec<PathBuf>,
}

/// People as sub-folders of `dir`, each with its JPEG/PNG files; sorted by name, files by name.
/// Folders without images are left out.
pub fn scan_people(dir: &Path) -> Result<Vec<Person>, EvalError> {
    let read = |p: &Path| {
        std::fs::read_dir(p).map_err(|source| EvalError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    let mut people = Vec::new();
    for entry in read(dir)? {
        let entry = entry.map_err(|source| EvalError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let mut images: Vec<PathBuf> = Vec::new();
        for file in read(&path)? {
            let file = file.map_err(|source| EvalError::Io {
                path: path.display().to_string(),
                source,
            })?;
            let p = file.path();
            let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            if p.is_file() && matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
                images.push(p);
            }
        }
        if images.is_empty() {
            continue;
        }
        images.sort();
        let name = entry.file_name().to_string_lossy().into_owned();
        people.push(Person { name, images });
    }
    people.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(people)
}
