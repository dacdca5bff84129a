//! `facerec replay` end to end on the committed test bags (tests/fixtures/bags, see its
//! README.md): golden comparison, determinism, a changed gallery failing the comparison, and
//! malformed messages reported while the good frames still replay.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;

use common::{bag, facerec, stderr};

use serde_json::Value;

const T0: u64 = 1_767_225_600_000_000_000;
const MS: u64 = 1_000_000;
const ENROLL_ID02: &str = "id02:/camera/image_raw:2";

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/bags")
        .join(format!("{name}.golden.jsonl"))
}

fn lines(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

fn names(line: &Value) -> Vec<String> {
    let mut n: Vec<String> = line["faces"]
        .as_array()
        .expect("faces")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect();
    n.sort();
    n
}

fn at<'a>(records: &'a [Value], ms: u64, topic: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["bag_time_ns"].as_u64() == Some(T0 + ms * MS) && r["topic"] == topic)
        .unwrap_or_else(|| panic!("no record at +{ms} ms on {topic}"))
}

fn check_scenario(name: &str) {
    let g = golden(name);
    let args = [
        "replay",
        &bag(name),
        "--enroll",
        ENROLL_ID02,
        "--golden",
        g.to_str().expect("utf8"),
    ];
    let first = facerec(&args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stderr(&first).contains("matches golden"), "{}", stderr(&first));
    assert!(stderr(&first).contains("12 frames"), "{}", stderr(&first));

    // Same bag twice: byte-identical JSON.
    let second = facerec(&args);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(first.stdout, second.stdout, "two replays of {name} differ");

    // Every image message, in bag order; names that fit the scenario.
    let records = lines(&first);
    assert_eq!(records.len(), 12);
    let times: Vec<u64> = records
        .iter()
        .map(|r| r["bag_time_ns"].as_u64().expect("time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    for topic in ["/camera/image_raw", "/camera/image_raw/compressed"] {
        assert_eq!(
            names(at(&records, 400, topic)),
            Vec::<String>::new(),
            "empty scene on {topic}"
        );
        assert_eq!(
            names(at(&records, 600, topic)),
            ["unknown", "unknown"],
            "the couple on {topic}"
        );
        assert_eq!(names(at(&records, 800, topic)), ["unknown"], "id05 on {topic}");
        assert_eq!(
            names(at(&records, 1000, topic)),
            ["id02", "unknown"],
            "id02 found again on {topic}"
        );
        assert_eq!(names(at(&records, 200, topic)), ["id02"], "frame 1 on {topic}");
    }
    // The very first frame is named with an empty gallery (enrolment comes after naming).
    assert_eq!(names(at(&records, 0, "/camera/image_raw")), ["unknown"]);
    let r = at(&records, 0, "/camera/image_raw");
    assert_eq!(r["frame_id"], "camera_color_optical_frame");
    assert_eq!(r["stamp_ns"].as_i64(), Some((T0 - 30 * MS) as i64));
}

#[test]
fn scenario_mcap_matches_its_golden() {
    check_scenario("scenario_mcap");
}

#[test]
fn scenario_db3_matches_its_golden() {
    check_scenario("scenario_db3");
}

#[test]
fn changed_gallery_fails_the_golden_comparison() {
    let g = golden("scenario_mcap");
    let g = g.to_str().expect("utf8");
    // id02 enrolled under another name: every id02 face is renamed.
    let out = facerec(&[
        "replay",
        &bag("scenario_mcap"),
        "--enroll",
        "alice:/camera/image_raw:2",
        "--golden",
        g,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("golden diff: frame 10") && err.contains("name id02") && err.contains("alice"),
        "{err}"
    );
    assert!(err.contains("differs from golden"), "{err}");

    // Nobody enrolled: id02 is no longer found.
    let out = facerec(&["replay", &bag("scenario_mcap"), "--golden", g]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("unknown"), "{}", stderr(&out));

    // id02 enrolled from one frame instead of two: same names, but the compressed copy of
    // frame 1 no longer matches an enrolled copy of itself, so its frame score (the frame's own
    // match, beside the track's identity score) drops beyond tolerance.
    let out = facerec(&[
        "replay",
        &bag("scenario_mcap"),
        "--enroll",
        "id02:/camera/image_raw:1",
        "--golden",
        g,
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("golden diff: frame 3") && err.contains("frame score 0.9856 in golden"),
        "{err}"
    );
}

#[test]
fn topic_filter_replays_only_that_topic() {
    let out = facerec(&[
        "replay",
        &bag("scenario_db3"),
        "--topic",
        "/camera/image_raw/compressed",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    assert_eq!(records.len(), 6);
    assert!(records.iter().all(|r| r["topic"] == "/camera/image_raw/compressed"));
}

fn check_malformed(name: &str) {
    let out = facerec(&["replay", &bag(name)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    // 9 image messages: 4 good, 3 that do not decode, 2 whose pixels do not convert.
    assert_eq!(records.len(), 9, "{records:?}");
    let errors: Vec<u64> = records
        .iter()
        .filter(|r| r.get("error").is_some())
        .map(|r| r["bag_time_ns"].as_u64().expect("time"))
        .collect();
    assert_eq!(errors, [400, 600, 800, 1000, 1200].map(|ms| T0 + ms * MS));
    for r in records.iter().filter(|r| r.get("error").is_none()) {
        assert!(
            !r["faces"].as_array().expect("faces").is_empty(),
            "good frame without faces: {r}"
        );
    }
    let err = stderr(&out);
    assert_eq!(err.matches("facerec: warning:").count(), 5, "{err}");
    assert!(err.contains("5 errors"), "{err}");
}

#[test]
fn malformed_mcap_still_replays_good_frames() {
    check_malformed("malformed_mcap");
}

#[test]
fn malformed_db3_still_replays_good_frames() {
    check_malformed("malformed_db3");
}

#[test]
fn bad_enroll_spec_is_a_clear_error() {
    let out = facerec(&["replay", &bag("scenario_mcap"), "--enroll", "id02:/camera/image_raw"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("NAME:TOPIC:N"), "{}", stderr(&out));
}

#[test]
fn play_refuses_bad_options_before_publishing() {
    let b = bag("scenario_mcap");
    let missing = facerec(&["play", &b, "--topic", "/no/such/topic"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/no/such/topic"), "{}", stderr(&missing));
    let not_image = facerec(&["play", &b, "--topic", "/robot/status"]);
    assert!(!not_image.status.success());
    assert!(
        stderr(&not_image).contains("std_msgs/msg/String"),
        "{}",
        stderr(&not_image)
    );
    let rate = facerec(&["play", &b, "--rate", "0"]);
    assert!(!rate.status.success());
    assert!(stderr(&rate).contains("rate must be positive"), "{}", stderr(&rate));
    let remap = facerec(&["play", &b, "--remap", "/camera/image_raw"]);
    assert!(!remap.status.success());
    assert!(stderr(&remap).contains("FROM:=TO"), "{}", stderr(&remap));
    let no_bag = facerec(&["play", "/nonexistent/bag"]);
    assert!(!no_bag.status.success());
}

/// Replay converts camera messages by the node's rules (`Frame::from_compressed_message`, the
/// conversion the node's subscriptions use): a `CompressedImage` whose `format` names a codec the
/// node refuses (`h264` here, over JPEG bytes that would decode) is an error record in replay
/// too, where replay used to decode it and report faces the node would never have seen.
#[test]
fn replay_refuses_compressed_formats_the_node_refuses() {
    const COMPRESSED: &str = "/camera/image_raw/compressed";
    let bytes = std::fs::read(Path::new(&bag("scenario_mcap")).join("scenario_mcap.mcap")).unwrap();
    let messages: Vec<mcap::Message> = mcap::MessageStream::new(&bytes).unwrap().map(Result::unwrap).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h264.mcap");
    let mut writer = mcap::WriteOptions::new()
        .profile("ros2")
        .create(std::io::BufWriter::new(std::fs::File::create(&path).unwrap()))
        .unwrap();
    let (jpeg, h264) = (b"\x05\0\0\0jpeg\0", b"\x05\0\0\0h264\0");
    let mut changed = 0;
    for message in &messages {
        let mut message = message.clone();
        if message.channel.topic == COMPRESSED {
            let mut data = message.data.to_vec();
            let at = data
                .windows(jpeg.len())
                .position(|w| w == jpeg)
                .expect("format 'jpeg' in the CDR");
            data[at..at + h264.len()].copy_from_slice(h264);
            message.data = std::borrow::Cow::Owned(data);
            changed += 1;
        }
        writer.write(&message).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    assert_eq!(changed, 6);

    let out = facerec(&["replay", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let records = lines(&out);
    let (compressed, raw): (Vec<&Value>, Vec<&Value>) = records.iter().partition(|r| r["topic"] == COMPRESSED);
    assert_eq!((compressed.len(), raw.len()), (6, 6), "{records:?}");
    for r in compressed {
        let error = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("decoded a format the node refuses: {r}"));
        assert!(error.contains("compressed format 'h264' is not supported"), "{error}");
        assert!(r["faces"].as_array().is_none_or(Vec::is_empty), "{r}");
    }
    assert!(raw.iter().all(|r| r.get("error").is_none()), "{raw:?}");
    assert!(
        raw.iter().any(|r| !names(r).is_empty()),
        "the raw frames still show faces"
    );
}
