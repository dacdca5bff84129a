//! Verification and identification metrics on small inputs whose answers are worked out by hand.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::collections::HashMap;
use std::path::PathBuf;

use facerec::detect::{BBox, Detection, Point};
use facerec::eval::faces::{central_subject, ImageFace};
use facerec::eval::identify::{self, operating_point, threshold_for_stranger_rate, Probe};
use facerec::eval::metrics::{best_threshold, histogram, kfold, roc_auc, roc_curve, tar_at_far, Confusion, Scored};
use facerec::eval::protocol::Person;
use facerec::eval::verify::{self, PairScore};

fn s(score: f32, same: bool) -> Scored {
    Scored { score, same }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn auc_of_a_perfect_separator_is_one_and_of_its_reverse_zero() {
    let perfect = [s(0.9, true), s(0.8, true), s(0.3, false), s(0.1, false)];
    assert_eq!(roc_auc(&perfect), Some(1.0));
    let reversed: Vec<Scored> = perfect.iter().map(|x| s(x.score, !x.same)).collect();
    assert_eq!(roc_auc(&reversed), Some(0.0));
}

#[test]
fn auc_counts_pairwise_wins_and_half_ties() {
    // positives 0.8, 0.4 against negatives 0.6, 0.2: wins 0.8>0.6, 0.8>0.2, 0.4>0.2; loss 0.4<0.6.
    assert_eq!(
        roc_auc(&[s(0.8, true), s(0.4, true), s(0.6, false), s(0.2, false)]),
        Some(0.75)
    );
    // positive 0.5 against negatives 0.5 (tie: one half) and 0.1 (win).
    assert_eq!(roc_auc(&[s(0.5, true), s(0.5, false), s(0.1, false)]), Some(0.75));
    // Everything tied: a coin toss.
    assert_eq!(roc_auc(&[s(0.3, true), s(0.3, false), s(0.3, true)]), Some(0.5));
    assert_eq!(roc_auc(&[s(0.3, true)]), None);
}

#[test]
fn confusion_at_a_threshold_accepts_scores_equal_to_it() {
    let v = [
        s(0.9, true),
        s(0.5, false),
        s(0.5, true),
        s(0.49, true),
        s(0.1, false),
        s(0.7, false),
    ];
    let c = Confusion::at(&v, 0.5);
    assert_eq!(
        c,
        Confusion {
            tp: 2,
            fp: 2,
            tn: 1,
            fn_: 1
        }
    );
    assert!(close(c.accuracy(), 0.5));
    assert!(close(c.precision(), 0.5));
    assert!(close(c.tar(), 2.0 / 3.0));
    assert!(close(c.far(), 2.0 / 3.0));
    // F1 = 2TP / (2TP + FP + FN) = 4 / 7.
    assert!(close(c.f1(), 4.0 / 7.0));
}

#[test]
fn best_threshold_sits_in_the_gap_of_a_separable_set() {
    let (t, acc) = best_threshold(&[s(0.9, true), s(0.7, true), s(0.3, false), s(0.1, false)]).expect("scores");
    assert_eq!(acc, 1.0);
    assert!((t - 0.5).abs() < 1e-6, "threshold {t}");
}

#[test]
fn best_threshold_of_an_overlapping_set() {
    // Sorted: 0.2- 0.4+ 0.5- 0.6+ 0.8+. Best: accept >= 0.55 (4/5 right: only 0.4+ wrong);
    // accept >= 0.3 gets 0.5- wrong, also 4/5: the two tie and the middle one (index 1 of 2) wins.
    let v = [s(0.2, false), s(0.4, true), s(0.5, false), s(0.6, true), s(0.8, true)];
    let (t, acc) = best_threshold(&v).expect("scores");
    assert!(close(acc, 0.8));
    assert!((t - 0.55).abs() < 1e-6, "threshold {t}");
    assert_eq!(best_threshold(&[]), None);
}

#[test]
fn kfold_chooses_each_threshold_on_the_other_folds() {
    // Fold 0: same 0.9, different 0.5. Fold 1: same 0.6, different 0.1.
    // Trained on fold 1 the threshold is 0.35: on fold 0 it accepts 0.5 (a false acceptance).
    // Trained on fold 0 the threshold is 0.7: on fold 1 it rejects 0.6 (a false rejection).
    // Chosen on all four pairs any threshold in (0.5, 0.6) would be perfect: k-fold must not be.
    let v = [s(0.9, true), s(0.5, false), s(0.6, true), s(0.1, false)];
    let k = kfold(&v, &[0, 0, 1, 1], 2).expect("two folds");
    assert!((k.folds[0].threshold - 0.35).abs() < 1e-6);
    assert!((k.folds[1].threshold - 0.7).abs() < 1e-6);
    assert!(close(k.folds[0].accuracy, 0.5));
    assert!(close(k.folds[1].accuracy, 0.5));
    assert!(close(k.mean_accuracy, 0.5));
    assert!(close(k.std_accuracy, 0.0));
    assert_eq!(
        k.pooled,
        Confusion {
            tp: 1,
            fp: 1,
            tn: 1,
            fn_: 1
        }
    );
    assert_eq!(best_threshold(&v).map(|b| b.1), Some(1.0));
    // Unusable fold layouts.
    assert!(kfold(&v, &[0, 0, 0, 0], 2).is_none());
    assert!(kfold(&v, &[0, 1], 2).is_none());
}

#[test]
fn tar_at_far_rejects_the_negative_above_the_allowance() {
    let v = [
        s(0.9, false),
        s(0.5, false),
        s(0.4, false),
        s(0.3, false),
        s(0.95, true),
        s(0.6, true),
        s(0.5, true),
        s(0.2, true),
    ];
    // One false acceptance in four allowed: the threshold must reject 0.5 (and the tied positive).
    let t = tar_at_far(&v, 0.25).expect("both classes");
    assert!(close(t.far, 0.25));
    assert!(close(t.tar, 0.5));
    assert!(t.threshold > 0.5 && t.threshold < 0.5001);
    // None allowed: only 0.95 passes.
    let t = tar_at_far(&v, 0.0).expect("both classes");
    assert!(close(t.far, 0.0));
    assert!(close(t.tar, 0.25));
    // Everything allowed.
    let t = tar_at_far(&v, 1.0).expect("both classes");
    assert!(close(t.tar, 1.0));
    assert!(tar_at_far(&v, 2.0).is_none());
}

#[test]
fn roc_curve_runs_from_strict_to_loose() {
    let curve = roc_curve(&[s(0.8, true), s(0.4, true), s(0.6, false), s(0.2, false)]);
    let points: Vec<(f64, f64)> = curve.iter().map(|p| (p.far, p.tar)).collect();
    assert_eq!(points, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]);
}

#[test]
fn histogram_bins_and_clamps() {
    assert_eq!(
        histogram(&[-5.0, 0.0, 0.24, 0.25, 0.99, 1.0, 7.0, f32::NAN], 0.0, 1.0, 4),
        vec![3, 1, 0, 3]
    );
}

#[test]
fn a_pair_without_a_face_is_rejected_at_every_threshold() {
    let pair = |a: &str, same: bool, fold: usize, score: f32, missing: bool| PairScore {
        a: a.into(),
        b: "x".into(),
        same,
        fold,
        score,
        missing_face: missing,
    };
    let mut scores = Vec::new();
    for fold in 0..2 {
        scores.push(pair("s1", true, fold, 0.8, false));
        scores.push(pair("s2", true, fold, verify::MISSING_FACE_SCORE, true));
        scores.push(pair("d1", false, fold, 0.1, false));
        scores.push(pair("d2", false, fold, verify::MISSING_FACE_SCORE, true));
    }
    let r = verify::evaluate(scores, 2, "test", &[1e-3]).expect("report");
    assert_eq!((r.missing.same, r.missing.different), (2, 2));
    // Each fold: the missing same pair is wrong, the other three are right.
    assert!(close(r.kfold.mean_accuracy, 0.75));
    assert_eq!(r.found_only_accuracy, Some(1.0));
    assert_eq!(r.same_scores.count, 2);
    assert_eq!(r.errors.len(), 2);
}

fn face(v: &[f32]) -> ImageFace {
    ImageFace::Found {
        score: 0.9,
        retried: false,
        candidates: 1,
        bbox: BBox {
            x: 0.0,
            y: 0.0,
            width: 1.0,
            height: 1.0,
        },
        embedding: v.to_vec(),
    }
}

#[test]
fn open_set_rates_by_hand() {
    let p = |truth: Option<usize>, best: Option<(usize, f32)>| Probe {
        image: String::new(),
        truth,
        best,
    };
    let probes = [
        p(Some(0), Some((0, 0.8))), // named correctly above 0.8
        p(Some(1), Some((0, 0.5))), // misnamed at <= 0.5, else rejected
        p(Some(1), None),           // no face: always rejected
        p(None, Some((1, 0.6))),    // stranger
        p(None, Some((0, 0.3))),    // stranger
    ];
    let o = operating_point(&probes, 0.45);
    assert!(close(o.stranger_acceptance, 0.5));
    assert!(close(o.known_identified, 1.0 / 3.0));
    assert!(close(o.known_misidentified, 1.0 / 3.0));
    assert!(close(o.known_rejected, 1.0 / 3.0));
    // At most half the strangers: reject the second-highest (0.3), accept 0.6.
    let t = threshold_for_stranger_rate(&probes, 0.5);
    assert!(t > 0.3 && t < 0.3001);
    // None: above 0.6.
    let t = threshold_for_stranger_rate(&probes, 0.0);
    assert!(t > 0.6 && t < 0.6001);
    assert!(close(operating_point(&probes, t).stranger_acceptance, 0.0));
}

#[test]
fn identification_protocol_enrolls_first_photo_with_a_face() {
    let path = |s: &str| PathBuf::from(s);
    let people = vec![
        // Ann's first photo has no face: she is enrolled from the second.
        Person {
            name: "Ann".into(),
            images: vec![path("a1"), path("a2"), path("a3")],
        },
        Person {
            name: "Bob".into(),
            images: vec![path("b1"), path("b2")],
        },
        Person {
            name: "Stranger".into(),
            images: vec![path("s1")],
        },
    ];
    let faces: HashMap<PathBuf, ImageFace> = [
        ("a1", ImageFace::NotFound),
        ("a2", face(&[1.0, 0.0, 0.0])),
        ("a3", face(&[0.8, 0.6, 0.0])),
        ("b1", face(&[0.0, 1.0, 0.0])),
        ("b2", face(&[0.0, 0.6, 0.8])),
        ("s1", face(&[0.0, 0.8, 0.6])),
    ]
    .into_iter()
    .map(|(k, v)| (path(k), v))
    .collect();
    let r = identify::evaluate(&people, &faces, 0.0, 0.5).expect("report");
    assert_eq!((r.people, r.enrolled, r.strangers), (3, 2, 1));
    // Known probes: a1 (no face), a3 (Ann 0.8 vs Bob 0.6), b2 (Bob 0.6 vs Ann 0).
    assert_eq!((r.known_probes, r.known_probes_without_face), (3, 1));
    assert!(close(r.rank1_rate, 1.0));
    // The stranger's best score is 0.8 (Bob): no stranger accepted needs a threshold above it.
    assert!(r.recommended.threshold > 0.8);
    assert!(close(r.recommended.stranger_acceptance, 0.0));
    assert!(close(r.at_configured_threshold.stranger_acceptance, 1.0));
    assert!(close(r.at_configured_threshold.known_identified, 2.0 / 3.0));
    assert!(close(r.at_configured_threshold.known_rejected, 1.0 / 3.0));
}

#[test]
fn the_central_subject_beats_a_weak_box_nearer_the_centre() {
    // LFW Diane_Green_0001 (250x250) as RetinaFace saw it: the subject (score 1.00), a face to the
    // upper left (0.98), and a 0.62 box spanning both whose centre is nearest the image centre.
    let d = |x: f32, y: f32, w: f32, h: f32, score: f32| Detection {
        bbox: BBox {
            x,
            y,
            width: w,
            height: h,
        },
        score,
        landmarks: [Point { x: 0.0, y: 0.0 }; 5],
    };
    let dets = [
        d(96.0, 71.0, 99.0, 131.0, 1.0),
        d(47.0, 37.0, 73.0, 104.0, 0.98),
        d(72.0, 49.0, 82.0, 125.0, 0.62),
    ];
    let refs: Vec<&Detection> = dets.iter().collect();
    assert_eq!(central_subject(&refs, 250, 250), Some(0));
    // A small face exactly at the centre loses to a large one slightly off it...
    let dets = [d(115.0, 115.0, 20.0, 20.0, 0.9), d(70.0, 80.0, 120.0, 120.0, 0.9)];
    let refs: Vec<&Detection> = dets.iter().collect();
    assert_eq!(central_subject(&refs, 250, 250), Some(1));
    // ...but a large face far in a corner loses to a central one.
    let dets = [d(0.0, 0.0, 90.0, 90.0, 1.0), d(85.0, 85.0, 80.0, 80.0, 0.9)];
    let refs: Vec<&Detection> = dets.iter().collect();
    assert_eq!(central_subject(&refs, 250, 250), Some(1));
    assert_eq!(central_subject(&[], 250, 250), None);
}
