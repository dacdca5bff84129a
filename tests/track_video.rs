//! Tracking on the real video bag (tests/fixtures/bags/video_mcap, made from the MIT clip by
//! scripts/make_test_bags.sh): `facerec replay` with tracking on and off must match their
//! goldens, and scored against the hand labels (video_mcap.labels.json) tracking must keep the
//! performer on one track per shot, and name him no worse than the per-frame baseline while
//! embedding fewer faces.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use facerec::eval::sequence::{evaluate, SequenceLabels};
use facerec::replay::parse_records;

const ENROLL: [&str; 4] = [
    "--enroll",
    "lin:/meet/lin/compressed:1",
    "--enroll",
    "alex:/meet/alex/compressed:1",
];
const CAMERA: &str = "/camera/image_raw/compressed";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bags")
        .join(name)
}

fn replay(extra: &[&str]) -> Output {
    let bag = fixture("video_mcap");
    let out = Command::new(env!("CARGO_BIN_EXE_facerec"))
        .arg("replay")
        .arg(&bag)
        .args(ENROLL)
        .args(extra)
        .output()
        .expect("facerec runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn labels() -> SequenceLabels {
    let text = std::fs::read_to_string(fixture("video_mcap.labels.json")).expect("labels");
    serde_json::from_str(&text).expect("labels parse")
}

#[test]
fn video_bag_tracking_matches_goldens_and_beats_the_per_frame_baseline() {
    let on_golden = fixture("video_mcap.golden.jsonl");
    let off_golden = fixture("video_mcap.per_frame.golden.jsonl");
    let on = replay(&["--golden", on_golden.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&on.stderr);
    assert!(err.contains("matches golden"), "{err}");
    let off = replay(&["--no-tracking", "--golden", off_golden.to_str().expect("utf8")]);
    assert!(String::from_utf8_lossy(&off.stderr).contains("matches golden"));

    let on = parse_records(&String::from_utf8_lossy(&on.stdout)).expect("records");
    let off = parse_records(&String::from_utf8_lossy(&off.stdout)).expect("records");
    assert_eq!(on.len(), off.len());
    // Every face of the camera has a track with tracking on, none without.
    let camera_faces = |r: &[facerec::replay::ReplayRecord]| {
        r.iter()
            .filter(|r| r.topic.as_deref() == Some(CAMERA))
            .flat_map(|r| r.faces.clone())
            .collect::<Vec<_>>()
    };
    assert!(camera_faces(&on).iter().all(|f| f.track_id.is_some()));
    assert!(camera_faces(&off).iter().all(|f| f.track_id.is_none()));
    // Detection is the same either way: same faces in every frame.
    for (a, b) in on.iter().zip(&off) {
        assert_eq!(a.faces.len(), b.faces.len());
    }

    let labels = labels();
    let m_on = evaluate(&on, &labels);
    let m_off = evaluate(&off, &labels);
    let lin_on = &m_on[CAMERA].people["lin"];
    let lin_off = &m_off[CAMERA].people["lin"];
    assert!(lin_on.frames > 50, "{lin_on:?}");
    assert_eq!(lin_on.frames, lin_off.frames);
    // Stable: one track per presence run, no switches inside a run.
    assert_eq!(lin_on.id_switches, 0, "{lin_on:?}");
    assert!(lin_on.track_ids <= lin_on.runs, "{lin_on:?}");
    // Names: no more flips, wrong names or unnamed frames than the baseline, named at all.
    assert!(lin_on.name_flips <= lin_off.name_flips, "on {lin_on:?} off {lin_off:?}");
    assert!(
        lin_on.wrong_name_frames <= lin_off.wrong_name_frames,
        "on {lin_on:?} off {lin_off:?}"
    );
    assert!(
        lin_on.unnamed_frames <= lin_off.unnamed_frames,
        "on {lin_on:?} off {lin_off:?}"
    );
    assert!(lin_on.unnamed_frames < lin_on.frames / 2, "{lin_on:?}");
    let total_on = m_on[CAMERA].total();
    let total_off = m_off[CAMERA].total();
    assert!(
        total_on.wrong_name_frames <= total_off.wrong_name_frames,
        "on {total_on:?} off {total_off:?}"
    );
}

#[test]
fn video_bag_embedding_cadence_embeds_fewer_faces_with_the_same_names() {
    // Same bag, tracking with every face embedded vs the default cadence: the replay summary
    // says how many faces were embedded.
    let embedded = |out: &Output| -> (usize, usize) {
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = err
            .lines()
            .find(|l| l.contains("faces embedded"))
            .unwrap_or_else(|| panic!("{err}"))
            .to_owned();
        let nums: Vec<usize> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
        (nums[0], nums[1])
    };
    let cadence = replay(&[]);
    let (embedded_cadence, faces) = embedded(&cadence);
    assert!(embedded_cadence < faces, "{embedded_cadence} of {faces}");
    let all = Command::new(env!("CARGO_BIN_EXE_facerec"))
        .arg("replay")
        .arg(fixture("video_mcap"))
        .args(ENROLL)
        .arg("--embed-every-frame")
        .output()
        .expect("facerec runs");
    assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
    let (embedded_all, faces_all) = embedded(&all);
    assert_eq!((embedded_all, faces_all), (faces, faces));
    let a = parse_records(&String::from_utf8_lossy(&cadence.stdout)).expect("records");
    let b = parse_records(&String::from_utf8_lossy(&all.stdout)).expect("records");
    let labels = labels();
    let (ma, mb) = (evaluate(&a, &labels), evaluate(&b, &labels));
    let (lin_a, lin_b) = (&ma[CAMERA].people["lin"], &mb[CAMERA].people["lin"]);
    assert_eq!(lin_a.wrong_name_frames, lin_b.wrong_name_frames);
    assert!(
        lin_a.unnamed_frames <= lin_b.unnamed_frames + 2,
        "cadence {lin_a:?} all {lin_b:?}"
    );
}
