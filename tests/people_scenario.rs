//! People over time on the scenario bag made from real photos (tests/fixtures/bags/people_mcap,
//! written by scripts/make_test_bags.sh; see its README): ada leaves and returns, bob crosses in
//! front of her, two strangers appear and get anonymous ids, one of them (carol) is named
//! through enrolment by track, both leave and return. `facerec replay` with tracking (anonymous
//! ids on, carol named by track) and without must match their goldens, and scored against the
//! labels (people_mcap.labels.json) the returning and crossing people keep their tracks, the
//! strangers keep one anonymous id each, and carol is recognised after she was named.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use facerec::eval::sequence::{evaluate, PersonMetrics, SequenceLabels, SequenceMetrics};
use facerec::replay::{parse_records, ReplayRecord};

const CAMERA: &str = "/camera/image_raw/compressed";
const ENROLL: [&str; 4] = [
    "--enroll",
    "ada:/meet/ada/compressed:1",
    "--enroll",
    "bob:/meet/bob/compressed:1",
];
const PEOPLE: [&str; 3] = ["--anonymous", "--name-track", "carol:/camera/image_raw/compressed:80"];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bags")
        .join(name)
}

fn replay(extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_facerec"));
    if let Ok(provider) = std::env::var("FACEREC_TEST_PROVIDER") {
        cmd.args(["--provider", provider.trim()]);
    }
    let out = cmd
        .arg("replay")
        .arg(fixture("people_mcap"))
        .args(ENROLL)
        .args(extra)
        .output()
        .expect("facerec runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn records(out: &Output) -> Vec<ReplayRecord> {
    parse_records(&String::from_utf8_lossy(&out.stdout)).expect("records")
}

fn metrics(records: &[ReplayRecord]) -> SequenceMetrics {
    let text = std::fs::read_to_string(fixture("people_mcap.labels.json")).expect("labels");
    let labels: SequenceLabels = serde_json::from_str(&text).expect("labels parse");
    evaluate(records, &labels).remove(CAMERA).expect("camera scored")
}

fn person<'m>(m: &'m SequenceMetrics, who: &str) -> &'m PersonMetrics {
    m.people
        .get(who)
        .unwrap_or_else(|| panic!("{who} not in {:?}", m.people.keys()))
}

/// The anonymous ids given on the camera, in order of first appearance.
fn anonymous_ids(records: &[ReplayRecord]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for f in records
        .iter()
        .filter(|r| r.topic.as_deref() == Some(CAMERA))
        .flat_map(|r| &r.faces)
    {
        if f.anonymous && !ids.contains(&f.name) {
            ids.push(f.name.clone());
        }
    }
    ids
}

#[test]
fn people_bag_tracks_returns_crossings_and_strangers_and_names_one_by_track() {
    let on_golden = fixture("people_mcap.golden.jsonl");
    let off_golden = fixture("people_mcap.per_frame.golden.jsonl");
    let mut args: Vec<&str> = PEOPLE.to_vec();
    args.extend(["--golden", on_golden.to_str().expect("utf8")]);
    let on = replay(&args);
    let err = String::from_utf8_lossy(&on.stderr).into_owned();
    assert!(err.contains("matches golden"), "{err}");
    assert!(err.contains("--name-track carol: named track"), "{err}");
    let off = replay(&["--no-tracking", "--golden", off_golden.to_str().expect("utf8")]);
    assert!(String::from_utf8_lossy(&off.stderr).contains("matches golden"));

    let (on, off) = (records(&on), records(&off));
    let (m_on, m_off) = (metrics(&on), metrics(&off));
    // ada: left, came back in another photo and got her track back; bob crossed in front of her
    // without taking it (one track each per presence run, no switches).
    let ada = person(&m_on, "ada");
    assert_eq!((ada.runs, ada.returns), (2, 1), "{ada:?}");
    assert_eq!(ada.returns_same_id, 1, "re-identified: {ada:?}");
    assert_eq!((ada.id_switches, ada.track_ids), (0, 1), "{ada:?}");
    let bob = person(&m_on, "bob");
    assert_eq!((bob.id_switches, bob.track_ids), (0, 1), "{bob:?}");
    for who in ["ada", "bob", "carol"] {
        let p = person(&m_on, who);
        assert_eq!(p.wrong_name_frames, 0, "{who}: {p:?}");
        assert_eq!(p.runs_never_named, 0, "{who}: {p:?}");
        // Named no worse than frame by frame.
        let q = person(&m_off, who);
        assert!(p.unnamed_frames <= q.unnamed_frames, "{who}: on {p:?} off {q:?}");
    }
    // The strangers: one anonymous id each, kept when they came back, never a gallery name.
    let ids = anonymous_ids(&on);
    assert_eq!(ids.len(), 2, "{ids:?}");
    for who in ["stranger:carol", "stranger:dee"] {
        let p = person(&m_on, who);
        assert_eq!(p.wrong_name_frames, 0, "{who}: {p:?}");
        assert_eq!(p.anonymous_ids, 1, "{who}: {p:?}");
        assert!(p.anonymous_frames > 0, "{who}: {p:?}");
    }
    let dee = person(&m_on, "stranger:dee");
    assert_eq!(dee.returns, 1, "{dee:?}");
    // carol, after being named by her track, is recognised, also when she comes back.
    let carol = person(&m_on, "carol");
    assert_eq!(carol.runs, 2, "{carol:?}");
    assert!(carol.unnamed_frames + carol.frames_to_first_correct <= 4, "{carol:?}");
    // Frame by frame nobody can be named by track: carol stays unknown, no anonymous ids.
    assert!(anonymous_ids(&off).is_empty());
    let carol_off = person(&m_off, "carol");
    assert_eq!(carol_off.unnamed_frames, carol_off.frames, "{carol_off:?}");
    assert_eq!(m_off.total().wrong_name_frames, 0);
}

#[test]
fn people_bag_strangers_keep_their_ids_through_the_gallery_without_reidentification() {
    // No re-identification window: the returning strangers get new tracks, and the gallery
    // alone gives dee her anonymous id back and carol her name.
    let with_reid = records(&replay(&PEOPLE));
    let mut args: Vec<&str> = PEOPLE.to_vec();
    args.extend(["--reid-window-s", "0"]);
    let out = replay(&args);
    let without = records(&out);
    // Two strangers, two ids either way (the ids differ: they hash the track ids, which differ
    // when ada's return gets a new track).
    assert_eq!(anonymous_ids(&with_reid).len(), 2);
    assert_eq!(anonymous_ids(&without).len(), 2, "{:?}", anonymous_ids(&without));
    let m = metrics(&without);
    let dee = person(&m, "stranger:dee");
    assert_eq!(
        (dee.returns, dee.returns_same_id, dee.anonymous_ids),
        (1, 0, 1),
        "{dee:?}"
    );
    assert_eq!(dee.wrong_name_frames, 0);
    let carol = person(&m, "carol");
    assert_eq!((carol.runs_never_named, carol.wrong_name_frames), (0, 0), "{carol:?}");
    let ada = person(&m, "ada");
    assert_eq!(ada.returns_same_id, 0, "{ada:?}");
    assert_eq!((ada.wrong_name_frames, ada.runs_never_named), (0, 0), "{ada:?}");
}

#[test]
fn people_bag_learning_absorbs_no_stranger() {
    let mut args: Vec<&str> = PEOPLE.to_vec();
    args.push("--learn");
    let out = replay(&args);
    let m = metrics(&records(&out));
    for who in ["stranger:carol", "stranger:dee", "stranger"] {
        if let Some(p) = m.people.get(who) {
            assert_eq!(p.wrong_name_frames, 0, "{who}: {p:?}");
        }
    }
    for who in ["ada", "bob", "carol"] {
        let p = person(&m, who);
        assert_eq!((p.wrong_name_frames, p.runs_never_named), (0, 0), "{who}: {p:?}");
    }
}
