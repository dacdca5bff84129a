//! Verification metrics on scored pairs: confusion counts at a threshold, the accuracy-maximising
//! threshold, k-fold cross-validated accuracy (threshold chosen on the other folds, as LFW
//! requires), ROC curve and its area, TAR at a fixed FAR, and histograms. Pure arithmetic on
//! `(score, same)` values; knows nothing of images or models.
//!
//! Convention everywhere: a pair is *accepted* (called "same person") when `score >= threshold`,
//! as the pipeline does when it names a face.

use serde::Serialize;

/// One compared pair: its similarity and whether it truly is one person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scored {
    pub score: f32,
    pub same: bool,
}

/// Counts of a binary decision against the truth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Confusion {
    /// Same person, accepted.
    pub tp: usize,
    /// Different people, accepted.
    pub fp: usize,
    /// Different people, rejected.
    pub tn: usize,
    /// Same person, rejected.
    #[serde(rename = "fn")]
    pub fn_: usize,
}

impl Confusion {
    /// Counts decisions at `threshold` (accept when `score >= threshold`).
    pub fn at(scores: &[Scored], threshold: f32) -> Self {
        let mut c = Self::default();
        for s in scores {
            c.add(s.same, s.score >= threshold);
        }
        c
    }

    /// Adds one decision.
    pub fn add(&mut self, same: bool, accepted: bool) {
        match (same, accepted) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (false, false) => self.tn += 1,
            (true, false) => self.fn_ += 1,
        }
    }

    pub fn merge(&mut self, other: &Confusion) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.tn += other.tn;
        self.fn_ += other.fn_;
    }

    pub fn total(&self) -> usize {
        self.tp + self.fp + self.tn + self.fn_
    }

    /// Fraction of correct decisions (0 when empty).
    pub fn accuracy(&self) -> f64 {
        ratio(self.tp + self.tn, self.total())
    }

    /// Fraction of accepted pairs that are the same person.
    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    /// True acceptance rate (recall): same-person pairs accepted.
    pub fn tar(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    /// False acceptance rate: different-people pairs accepted.
    pub fn far(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }

    /// Harmonic mean of precision and recall, with "same person" as the positive class.
    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// Every threshold that separates the scores differently: below the lowest score, halfway between
/// each two neighbouring distinct scores, and above the highest. Ascending.
pub fn candidate_thresholds(scores: &[Scored]) -> Vec<f32> {
    let mut values: Vec<f32> = scores.iter().map(|s| s.score).filter(|v| v.is_finite()).collect();
    values.sort_by(f32::total_cmp);
    values.dedup();
    let (Some(&lo), Some(&hi)) = (values.first(), values.last()) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(values.len() + 1);
    out.push(lo - 1e-3);
    out.extend(values.windows(2).filter_map(|w| match w {
        [a, b] => Some(a + (b - a) / 2.0),
        _ => None,
    }));
    out.push(hi + 1e-3);
    out
}

/// The threshold with the highest accuracy on `scores`, and that accuracy. When several
/// thresholds tie, the middle one of them is taken (the least arbitrary choice). `None` when
/// there are no scores.
pub fn best_threshold(scores: &[Scored]) -> Option<(f32, f64)> {
    let candidates = candidate_thresholds(scores);
    // Sweep: sort ascending; a threshold between sorted[i-1] and sorted[i] accepts sorted[i..].
    let mut sorted: Vec<Scored> = scores.to_vec();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    let total_pos = sorted.iter().filter(|s| s.same).count();
    let n = sorted.len();
    let mut best_acc = -1.0_f64;
    let mut best: Vec<f32> = Vec::new();
    let mut i = 0; // first index with score >= threshold
    let mut neg_below = 0;
    let mut pos_below = 0;
    for &t in &candidates {
        while let Some(s) = sorted.get(i) {
            if s.score >= t {
                break;
            }
            if s.same {
                pos_below += 1;
            } else {
                neg_below += 1;
            }
            i += 1;
        }
        let correct = (total_pos - pos_below) + neg_below;
        let acc = correct as f64 / n as f64;
        if acc > best_acc {
            best_acc = acc;
            best.clear();
        }
        if acc == best_acc {
            best.push(t);
        }
    }
    best.get(best.len() / 2).map(|&t| (t, best_acc))
}

/// One fold of a cross-validation: the threshold chosen on the other folds and how it did here.
#[derive(Debug, Clone, Serialize)]
pub struct FoldResult {
    pub fold: usize,
    pub threshold: f32,
    /// Accuracy of the threshold on the folds it was chosen on.
    pub train_accuracy: f64,
    /// Accuracy on this (held-out) fold.
    pub accuracy: f64,
    pub confusion: Confusion,
}

/// k-fold cross-validated verification accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct KFold {
    pub folds: Vec<FoldResult>,
    /// Mean of the held-out fold accuracies (the number LFW papers report).
    pub mean_accuracy: f64,
    /// Standard deviation of the fold accuracies (population).
    pub std_accuracy: f64,
    /// Mean of the per-fold thresholds.
    pub mean_threshold: f32,
    /// Held-out decisions of every fold added up.
    pub pooled: Confusion,
}

/// Cross-validates the threshold: for each fold, picks the best threshold on the other folds and
/// scores it on that fold. `fold_of[i]` is the fold of `scores[i]`; folds are `0..k`.
/// `None` when the lengths differ, `k < 2`, or some fold or its complement is empty.
pub fn kfold(scores: &[Scored], fold_of: &[usize], k: usize) -> Option<KFold> {
    if scores.len() != fold_of.len() || k < 2 {
        return None;
    }
    let mut folds = Vec::with_capacity(k);
    let mut pooled = Confusion::default();
    for fold in 0..k {
        let pick = |held_out: bool| -> Vec<Scored> {
            scores
                .iter()
                .zip(fold_of)
                .filter(|(_, &f)| (f == fold) == held_out)
                .map(|(s, _)| *s)
                .collect()
        };
        let (test, train) = (pick(true), pick(false));
        if test.is_empty() || train.is_empty() {
            return None;
        }
        let (threshold, train_accuracy) = best_threshold(&train)?;
        let confusion = Confusion::at(&test, threshold);
        pooled.merge(&confusion);
        folds.push(FoldResult {
            fold,
            threshold,
            train_accuracy,
            accuracy: confusion.accuracy(),
            confusion,
        });
    }
    let accs: Vec<f64> = folds.iter().map(|f| f.accuracy).collect();
    let (mean_accuracy, std_accuracy) = mean_std(&accs);
    let mean_threshold = (folds.iter().map(|f| f64::from(f.threshold)).sum::<f64>() / k as f64) as f32;
    Some(KFold {
        folds,
        mean_accuracy,
        std_accuracy,
        mean_threshold,
        pooled,
    })
}

/// Mean and population standard deviation (0, 0 when empty).
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Area under the ROC curve: the probability that a random same-person pair scores above a
/// random different-people pair, ties counting one half. `None` without both kinds of pair.
pub fn roc_auc(scores: &[Scored]) -> Option<f64> {
    let mut sorted: Vec<Scored> = scores.to_vec();
    sorted.sort_by(|a, b| a.score.total_cmp(&b.score));
    let pos = sorted.iter().filter(|s| s.same).count();
    let neg = sorted.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Mann-Whitney U: for each group of equal scores, positives beat the negatives below the
    // group and tie with the negatives inside it.
    let mut neg_below = 0usize;
    let mut wins2 = 0u128; // twice the U statistic, to keep halves exact
    let mut i = 0;
    while i < sorted.len() {
        let score = sorted.get(i).map_or(0.0, |s| s.score);
        let mut j = i;
        let (mut p, mut q) = (0usize, 0usize);
        while let Some(s) = sorted.get(j) {
            if s.score != score {
                break;
            }
            if s.same {
                p += 1;
            } else {
                q += 1;
            }
            j += 1;
        }
        wins2 += (2 * p * neg_below + p * q) as u128;
        neg_below += q;
        i = j;
    }
    Some(wins2 as f64 / (2.0 * pos as f64 * neg as f64))
}

/// One point of the ROC curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RocPoint {
    pub threshold: f32,
    pub far: f64,
    pub tar: f64,
}

/// The ROC curve at every candidate threshold, from the strictest (0, 0) to the loosest (1, 1).
pub fn roc_curve(scores: &[Scored]) -> Vec<RocPoint> {
    let mut out: Vec<RocPoint> = candidate_thresholds(scores)
        .into_iter()
        .rev()
        .map(|threshold| {
            let c = Confusion::at(scores, threshold);
            RocPoint {
                threshold,
                far: c.far(),
                tar: c.tar(),
            }
        })
        .collect();
    out.dedup_by(|b, a| a.far == b.far && a.tar == b.tar);
    out
}

/// TAR at a target FAR: the lowest threshold whose FAR does not exceed the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TarAtFar {
    pub target_far: f64,
    pub threshold: f32,
    pub tar: f64,
    /// FAR actually reached at the threshold (at most the target).
    pub far: f64,
    /// Different-people pairs behind the estimate; below `1 / target_far` the target cannot be
    /// resolved and this means "no false acceptance at all".
    pub negatives: usize,
}

/// TAR at the lowest threshold whose FAR is at most `target_far`. `None` without both kinds of
/// pair or for a target outside [0, 1].
pub fn tar_at_far(scores: &[Scored], target_far: f64) -> Option<TarAtFar> {
    if !(0.0..=1.0).contains(&target_far) {
        return None;
    }
    let mut negs: Vec<f32> = scores.iter().filter(|s| !s.same).map(|s| s.score).collect();
    let pos = scores.len() - negs.len();
    if negs.is_empty() || pos == 0 {
        return None;
    }
    negs.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target_far * negs.len() as f64 + 1e-9).floor() as usize;
    let threshold = match negs.get(allowed) {
        // Reject the (allowed+1)-th highest negative and everything tied with it.
        Some(&v) => v.next_up(),
        None => lowest(scores),
    };
    let c = Confusion::at(scores, threshold);
    Some(TarAtFar {
        target_far,
        threshold,
        tar: c.tar(),
        far: c.far(),
        negatives: negs.len(),
    })
}

fn lowest(scores: &[Scored]) -> f32 {
    scores.iter().map(|s| s.score).fold(f32::INFINITY, f32::min)
}

/// Counts of values in `bins` equal-width bins over `[lo, hi)`; values outside are clamped into
/// the first or last bin.
pub fn histogram(values: &[f32], lo: f32, hi: f32, bins: usize) -> Vec<usize> {
    let mut counts = vec![0; bins];
    if bins == 0 || hi <= lo {
        return counts;
    }
    let width = (hi - lo) / bins as f32;
    for &v in values {
        if !v.is_finite() {
            continue;
        }
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        if let Some(c) = counts.get_mut(i) {
            *c += 1;
        }
    }
    counts
}

/// Summary of a score distribution.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub count: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f32,
    pub max: f32,
    /// Lower edge of the first histogram bin.
    pub hist_lo: f32,
    /// Upper edge of the last bin.
    pub hist_hi: f32,
    pub histogram: Vec<usize>,
}

/// Histogram range and bin count used in reports: cosine similarity, 0.025 per bin.
pub const HIST_LO: f32 = -1.0;
pub const HIST_HI: f32 = 1.0;
pub const HIST_BINS: usize = 80;

impl Distribution {
    pub fn of(values: &[f32]) -> Self {
        let as_f64: Vec<f64> = values.iter().map(|&v| f64::from(v)).collect();
        let (mean, std) = mean_std(&as_f64);
        Self {
            count: values.len(),
            mean,
            std,
            min: values.iter().copied().fold(f32::INFINITY, f32::min),
            max: values.iter().copied().fold(f32::NEG_INFINITY, f32::max),
            hist_lo: HIST_LO,
            hist_hi: HIST_HI,
            histogram: histogram(values, HIST_LO, HIST_HI, HIST_BINS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(score: f32, same: bool) -> Scored {
        Scored { score, same }
    }

    #[test]
    fn confusion_counts_and_rates() {
        // accepted at 0.5: 0.9(same) 0.6(diff) 0.5(same); rejected: 0.4(same) 0.1(diff) 0.2(diff)
        let v = [
            s(0.9, true),
            s(0.6, false),
            s(0.5, true),
            s(0.4, true),
            s(0.1, false),
            s(0.2, false),
        ];
        let c = Confusion::at(&v, 0.5);
        assert_eq!(
            c,
            Confusion {
                tp: 2,
                fp: 1,
                tn: 2,
                fn_: 1
            }
        );
        assert!((c.accuracy() - 4.0 / 6.0).abs() < 1e-12);
        assert!((c.f1() - 4.0 / 6.0).abs() < 1e-12); // 2*2 / (4+1+1)
        assert!((c.tar() - 2.0 / 3.0).abs() < 1e-12);
        assert!((c.far() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn candidate_thresholds_are_midpoints() {
        let t = candidate_thresholds(&[s(0.2, true), s(0.6, false), s(0.2, false)]);
        assert_eq!(t.len(), 3);
        assert!((t[1] - 0.4).abs() < 1e-6);
        assert!(t[0] < 0.2 && t[2] > 0.6);
    }
}
