//! Pair verification (LFW protocol): cosine similarity of the evaluated faces of each pair, then
//! cross-validated accuracy, F1, ROC AUC, TAR at a fixed FAR, the calibrated threshold and the
//! score distributions. Pure computation on faces already extracted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::faces::ImageFace;
use super::metrics::{self, Confusion, Distribution, KFold, RocPoint, Scored, TarAtFar};
use super::protocol::{Pair, PairList};
use super::EvalError;
use crate::embed::cosine;

/// Similarity given to a pair when either photo has no face: the lowest cosine, so every
/// threshold rejects it (a same-person pair then counts as an error).
pub const MISSING_FACE_SCORE: f32 = -1.0;

/// One scored pair, for the report.
#[derive(Debug, Clone, Serialize)]
pub struct PairScore {
    pub a: String,
    pub b: String,
    pub same: bool,
    pub fold: usize,
    pub score: f32,
    /// A face was missing in either photo (score is `MISSING_FACE_SCORE`).
    pub missing_face: bool,
}

/// Pairs that lost a face.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MissingPairs {
    pub same: usize,
    pub different: usize,
    pub policy: String,
}

/// Everything `eval pairs` reports.
#[derive(Debug, Clone, Serialize)]
pub struct VerificationReport {
    pub pairs: usize,
    pub same_pairs: usize,
    pub different_pairs: usize,
    pub folds: usize,
    pub folds_note: String,
    pub missing: MissingPairs,
    /// k-fold accuracy (threshold chosen on the other folds).
    pub kfold: KFold,
    /// F1 of the held-out decisions of all folds ("same person" positive).
    pub f1: f64,
    /// Threshold chosen on all pairs (accuracy-maximising): the calibrated operating point.
    pub threshold: f32,
    /// Accuracy, F1 and counts of `threshold` on all pairs (optimistic: chosen on the same pairs).
    pub all_pairs_accuracy: f64,
    pub all_pairs_f1: f64,
    pub all_pairs_confusion: Confusion,
    pub roc_auc: f64,
    pub tar_at_far: Vec<TarAtFar>,
    /// k-fold accuracy over the pairs where both faces were found (for diagnosis only).
    pub found_only_accuracy: Option<f64>,
    pub same_scores: Distribution,
    pub different_scores: Distribution,
    pub roc: Vec<RocPoint>,
    /// Pairs decided wrongly at `threshold`, worst first.
    pub errors: Vec<PairScore>,
    pub scores: Vec<PairScore>,
}

/// Scores every pair from the faces of its photos (paths as `Pair::a.path(images_dir)`).
pub fn score_pairs(
    list: &PairList,
    images_dir: &Path,
    faces: &HashMap<PathBuf, ImageFace>,
) -> Result<Vec<PairScore>, EvalError> {
    list.pairs
        .iter()
        .map(|pair: &Pair| {
            let get = |p: PathBuf| {
                faces
                    .get(&p)
                    .ok_or_else(|| EvalError::Protocol(format!("no face result for {}", p.display())))
            };
            let fa = get(pair.a.path(images_dir))?;
            let fb = get(pair.b.path(images_dir))?;
            let (score, missing_face) = match (fa.embedding(), fb.embedding()) {
                (Some(x), Some(y)) => (cosine(x, y), false),
                _ => (MISSING_FACE_SCORE, true),
            };
            Ok(PairScore {
                a: pair.a.to_string(),
                b: pair.b.to_string(),
                same: pair.same,
                fold: pair.fold,
                score,
                missing_face,
            })
        })
        .collect()
}

/// The verification metrics of scored pairs in `folds` folds.
pub fn evaluate(
    scores: Vec<PairScore>,
    folds: usize,
    folds_note: &str,
    far_targets: &[f64],
) -> Result<VerificationReport, EvalError> {
    let scored: Vec<Scored> = scores
        .iter()
        .map(|p| Scored {
            score: p.score,
            same: p.same,
        })
        .collect();
    let fold_of: Vec<usize> = scores.iter().map(|p| p.fold).collect();
    let kfold = metrics::kfold(&scored, &fold_of, folds)
        .ok_or_else(|| EvalError::Empty(format!("cannot cross-validate {} pairs in {folds} folds", scored.len())))?;
    let (threshold, _) = metrics::best_threshold(&scored).ok_or_else(|| EvalError::Empty("no pairs".into()))?;
    let all = Confusion::at(&scored, threshold);
    let roc_auc = metrics::roc_auc(&scored)
        .ok_or_else(|| EvalError::Empty("ROC needs both same-person and different-people pairs".into()))?;
    let tar_at_far = far_targets
        .iter()
        .filter_map(|&f| metrics::tar_at_far(&scored, f))
        .collect();
    let found: Vec<(Scored, usize)> = scores
        .iter()
        .filter(|p| !p.missing_face)
        .map(|p| {
            (
                Scored {
                    score: p.score,
                    same: p.same,
                },
                p.fold,
            )
        })
        .collect();
    let found_only_accuracy = if found.len() < scores.len() {
        let (s, f): (Vec<Scored>, Vec<usize>) = found.into_iter().unzip();
        metrics::kfold(&s, &f, folds).map(|k| k.mean_accuracy)
    } else {
        Some(kfold.mean_accuracy)
    };
    let same: Vec<f32> = scores
        .iter()
        .filter(|p| p.same && !p.missing_face)
        .map(|p| p.score)
        .collect();
    let diff: Vec<f32> = scores
        .iter()
        .filter(|p| !p.same && !p.missing_face)
        .map(|p| p.score)
        .collect();
    let missing = MissingPairs {
        same: scores.iter().filter(|p| p.same && p.missing_face).count(),
        different: scores.iter().filter(|p| !p.same && p.missing_face).count(),
        policy: format!(
            "a pair with a photo where no face was found (even at the retry threshold) scores {MISSING_FACE_SCORE} and is \
             rejected at every threshold: an error for a same-person pair, correct for a different-people pair; \
             such pairs are left out of the score distributions"
        ),
    };
    let mut errors: Vec<PairScore> = scores
        .iter()
        .filter(|p| (p.score >= threshold) != p.same)
        .cloned()
        .collect();
    errors.sort_by(|x, y| {
        (x.score - threshold)
            .abs()
            .total_cmp(&(y.score - threshold).abs())
            .reverse()
    });
    Ok(VerificationReport {
        pairs: scores.len(),
        same_pairs: scores.iter().filter(|p| p.same).count(),
        different_pairs: scores.iter().filter(|p| !p.same).count(),
        folds,
        folds_note: folds_note.to_owned(),
        missing,
        f1: kfold.pooled.f1(),
        kfold,
        threshold,
        all_pairs_accuracy: all.accuracy(),
        all_pairs_f1: all.f1(),
        all_pairs_confusion: all,
        roc_auc,
        tar_at_far,
        found_only_accuracy,
        same_scores: Distribution::of(&same),
        different_scores: Distribution::of(&diff),
        roc: metrics::roc_curve(&scored),
        errors,
        scores,
    })
}
