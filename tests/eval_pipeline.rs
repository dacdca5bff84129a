//! `facerec eval pairs` and `facerec eval identify` end to end on real photos
//! (tests/fixtures/faces, MIT) laid out as LFW (`<Name>/<Name>_NNNN.jpg`), with the shipped models:
//! reports, the embedding cache, and the accuracy gate CI relies on.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::facerec;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faces/by_identity")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("report is JSON")
}

fn num(v: &serde_json::Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} missing in report"))
}

/// Copies the fixture identities into `dir` in LFW naming; `id09` keeps one photo (a stranger
/// for identification). Returns the identities and their photo counts.
fn lfw_layout(dir: &Path) -> Vec<(String, usize)> {
    let mut ids: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir())
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for id in ids {
        let name = id.file_name().expect("name").to_string_lossy().into_owned();
        let mut files: Vec<PathBuf> = std::fs::read_dir(&id)
            .expect("id dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        if name == "id09" {
            files.truncate(1);
        }
        std::fs::create_dir_all(dir.join(&name)).expect("mkdir");
        for (i, f) in files.iter().enumerate() {
            std::fs::copy(f, dir.join(&name).join(format!("{name}_{:04}.jpg", i + 1))).expect("copy");
        }
        out.push((name, files.len()));
    }
    out
}

/// A `pairs.txt`-layout file with 2 folds of 5 same-person + 5 different-people pairs.
fn pairs_file(ids: &[(String, usize)]) -> String {
    let known: Vec<&str> = ids.iter().filter(|(_, n)| *n >= 2).map(|(id, _)| id.as_str()).collect();
    let mut same: Vec<String> = known.iter().map(|id| format!("{id}\t1\t2")).collect();
    same.push("id01\t3\t4".into());
    same.push("id01\t5\t6".into());
    let mut diff: Vec<String> = Vec::new();
    for w in ids.windows(2) {
        if let [(a, _), (b, nb)] = w {
            diff.push(format!("{a}\t1\t{b}\t{}", if *nb >= 2 { 2 } else { 1 }));
        }
    }
    diff.push("id01\t3\tid09\t1".into());
    diff.push("id02\t2\tid05\t1".into());
    assert_eq!((same.len(), diff.len()), (10, 10), "fixture identities changed");
    let mut text = String::from("2\t5\n");
    for fold in 0..2 {
        for line in same[fold * 5..fold * 5 + 5].iter().chain(&diff[fold * 5..fold * 5 + 5]) {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[test]
fn eval_pairs_reports_uses_its_cache_and_gates_accuracy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let images = tmp.path().join("images");
    let ids = lfw_layout(&images);
    let pairs = tmp.path().join("pairs.txt");
    std::fs::write(&pairs, pairs_file(&ids)).expect("write pairs");
    let out_dir = tmp.path().join("out");
    let cache = tmp.path().join("cache");
    let (p, i, o, c) = (
        pairs.to_str().expect("utf8"),
        images.to_str().expect("utf8"),
        out_dir.to_str().expect("utf8"),
        cache.to_str().expect("utf8"),
    );
    let args = [
        "eval",
        "pairs",
        "--pairs",
        p,
        "--images",
        i,
        "--out",
        o,
        "--cache-dir",
        c,
    ];

    let first = facerec(&args);
    assert!(first.status.success(), "{}", text(&first));
    let report = read_json(&out_dir.join("pairs-retinaface.json"));
    assert_eq!(num(&report, "/verification/pairs"), 20.0);
    assert_eq!(num(&report, "/verification/folds"), 2.0);
    assert_eq!(num(&report, "/faces/not_found"), 0.0, "{}", text(&first));
    let photos = num(&report, "/faces/images");
    assert_eq!(num(&report, "/extraction/computed"), photos);
    let accuracy = num(&report, "/verification/kfold/mean_accuracy");
    let auc = num(&report, "/verification/roc_auc");
    assert!(
        accuracy >= 0.9,
        "2-fold accuracy {accuracy} on clear fixture photos:\n{}",
        text(&first)
    );
    assert!(auc >= 0.95, "ROC AUC {auc}:\n{}", text(&first));
    let svg = std::fs::read_to_string(out_dir.join("pairs-retinaface.svg")).expect("plot written");
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.trim_end().ends_with("</svg>"));

    // Second run: every photo from the cache, same numbers.
    let second = facerec(&args);
    assert!(second.status.success(), "{}", text(&second));
    let again = read_json(&out_dir.join("pairs-retinaface.json"));
    assert_eq!(num(&again, "/extraction/computed"), 0.0);
    assert_eq!(num(&again, "/extraction/cached"), photos);
    assert_eq!(num(&again, "/verification/kfold/mean_accuracy"), accuracy);
    assert_eq!(
        again.pointer("/verification/scores"),
        report.pointer("/verification/scores")
    );

    // The CI gate: an unreachable floor fails with a message naming the numbers.
    let mut gated: Vec<&str> = args.to_vec();
    gated.extend(["--min-accuracy", "1.01"]);
    let failed = facerec(&gated);
    assert!(!failed.status.success());
    assert!(
        text(&failed).contains("below the required 101.00%"),
        "{}",
        text(&failed)
    );
}

#[test]
fn eval_identify_enrolls_one_photo_per_person_and_rejects_the_stranger() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let images = tmp.path().join("images");
    let ids = lfw_layout(&images);
    let out_dir = tmp.path().join("out");
    let (i, o) = (images.to_str().expect("utf8"), out_dir.to_str().expect("utf8"));
    let out = facerec(&[
        "eval",
        "identify",
        "--images",
        i,
        "--out",
        o,
        "--no-cache",
        "--stranger-rate",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report = read_json(&out_dir.join("identify-retinaface.json"));
    let photos: usize = ids.iter().map(|(_, n)| n).sum();
    let known = ids.iter().filter(|(_, n)| *n >= 2).count();
    assert_eq!(num(&report, "/identification/enrolled") as usize, known);
    assert_eq!(num(&report, "/identification/strangers"), 1.0);
    assert_eq!(
        num(&report, "/identification/known_probes") as usize,
        photos - known - 1
    );
    let rank1 = num(&report, "/identification/rank1_rate");
    assert!(rank1 >= 0.9, "rank-1 {rank1}:\n{}", text(&out));
    // With no stranger accepted allowed, the one stranger is rejected.
    assert_eq!(num(&report, "/identification/recommended/stranger_acceptance"), 0.0);
    assert!(out_dir.join("identify-retinaface.svg").is_file());
}

/// `eval sizes` on the fixture people: faces shrunk into a VGA frame are found and match their
/// full-size selves when large, and are lost when far too small for the detector's anchors.
#[test]
fn eval_sizes_finds_large_faces_and_loses_tiny_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let json = tmp.path().join("sizes.json");
    let out = facerec(&[
        "eval",
        "sizes",
        "--images",
        fixtures().to_str().expect("utf8"),
        "--frame",
        "640x480",
        "--sizes",
        "6,80",
        "--max-photos",
        "4",
        "--json",
        json.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let report = read_json(&json);
    assert_eq!(num(&report, "/reports/0/frame_width"), 640.0);
    assert_eq!(num(&report, "/reports/0/photos_read"), 4.0);
    // 6 px is below RetinaFace's smallest anchor (16 px at stride 8): nothing is found.
    assert_eq!(num(&report, "/reports/0/rows/0/face_px"), 6.0);
    assert_eq!(num(&report, "/reports/0/rows/0/detected"), 0.0, "{}", text(&out));
    // 80 px faces are found and match themselves.
    let photos = num(&report, "/reports/0/rows/1/photos");
    assert!(photos >= 3.0, "{}", text(&out));
    assert_eq!(num(&report, "/reports/0/rows/1/matched"), photos, "{}", text(&out));
    assert!(text(&out).contains("| 80 |"), "{}", text(&out));
}
