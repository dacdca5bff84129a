//! The `facerec` binary end to end: exit codes, one-line errors, enroll -> identify.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::Path;

mod common;

use common::{facerec, fixture, stderr, stdout};

#[test]
fn enroll_identify_and_compare() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gallery = dir.path().join("people.yaml");
    let g = gallery.to_str().expect("utf8");
    let img = |rel: &str| fixture(rel).display().to_string();

    let out = facerec(&[
        "enroll",
        "--gallery",
        g,
        "--name",
        "Ada",
        &img("by_identity/id05/img16.jpg"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    let out = facerec(&[
        "identify",
        "--gallery",
        g,
        &img("by_identity/id05/img17.jpg"),
        &img("by_identity/id08/img22.jpg"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    let ada = lines
        .iter()
        .position(|l| l.contains("img17.jpg"))
        .expect("first image reported");
    let stranger = lines
        .iter()
        .position(|l| l.contains("img22.jpg"))
        .expect("second image reported");
    assert!(
        lines[ada + 1..stranger]
            .iter()
            .any(|l| l.trim_start().starts_with("Ada ")),
        "{text}"
    );
    assert!(
        lines[stranger + 1..]
            .iter()
            .all(|l| l.trim_start().starts_with("unknown ")),
        "{text}"
    );

    let annotated = dir.path().join("annotated.png");
    let out = facerec(&[
        "identify",
        "--gallery",
        g,
        "--annotate",
        annotated.to_str().expect("utf8"),
        &img("group/couple.jpg"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let png = image::open(&annotated).expect("annotated image is a PNG");
    let original = image::open(fixture("group/couple.jpg")).expect("decodes");
    assert_eq!((png.width(), png.height()), (original.width(), original.height()));

    let out = facerec(&[
        "compare",
        "--json",
        &img("by_identity/id02/img13.jpg"),
        &img("by_identity/id02/img14.jpg"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("json");
    assert_eq!(v["same"], serde_json::Value::Bool(true), "{v}");
}

#[test]
fn errors_are_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gallery = dir.path().join("people.yaml");
    std::fs::write(&gallery, "format: 1\npeople: [ {name: x\n").expect("write");
    let not_image = fixture("LICENSE").display().to_string();

    for args in [
        vec!["identify", "--gallery", gallery.to_str().expect("utf8"), &not_image],
        vec!["detect", &not_image],
        vec![
            "enroll",
            "--gallery",
            "/tmp/never-written.yaml",
            "--name",
            "",
            &not_image,
        ],
    ] {
        let out = facerec(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].starts_with("facerec: error: "), "{err}");
    }
    assert!(!Path::new("/tmp/never-written.yaml").exists());
}

/// Issue 25 item 8: `identify --json` used to flatten the detection into the face record, so the
/// detector's `score` overwrote the identity score under the same key (a stranger's 0.130 read
/// 0.962). The JSON now carries both, under distinct names, and `score` is the identity score,
/// as the text output says.
#[test]
fn identify_json_carries_the_identity_and_the_detector_score() {
    let photo = fixture("group/selfie-many-people.jpg").display().to_string();
    let gallery = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/gallery.yaml");
    let g = gallery.to_str().expect("utf8");

    let out = facerec(&["identify", "--gallery", g, &photo]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // "  NAME  score 0.130  box ..." per face, in the pipeline's order.
    let text_scores: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once(" score ").map(|(_, rest)| rest))
        .filter_map(|rest| rest.split_whitespace().next().map(str::to_owned))
        .collect();

    let out = facerec(&["identify", "--gallery", g, "--json", &photo]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON line");
    let faces = v["faces"].as_array().expect("faces");
    assert!(faces.len() >= 2, "{v}");
    assert_eq!(faces.len(), text_scores.len(), "{text}\n{v}");
    for (face, text_score) in faces.iter().zip(&text_scores) {
        let identity = face["identity_score"].as_f64().expect("identity_score");
        let detector = face["detector_score"].as_f64().expect("detector_score");
        assert_eq!(&format!("{identity:.3}"), text_score, "{face}");
        assert_eq!(
            face["score"].as_f64(),
            Some(identity),
            "`score` is the identity score: {face}"
        );
        assert!((identity - detector).abs() > 1e-3, "{face}");
        assert!(
            face["name"].is_string() && face["bbox"].is_object() && face["landmarks"].is_array(),
            "{face}"
        );
    }
}

/// Issue 25: an error's cause is printed once ("Is a directory (os error 21): Is a directory
/// (os error 21)" before): the library's errors keep their cause as their source and leave it
/// out of their own message, and the CLI prints the chain.
#[test]
fn error_causes_are_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A PNG signature and then no IHDR: the image crate's decoding error ends its own message
    // with its source's.
    let bad_png = dir.path().join("bad.png");
    std::fs::write(&bad_png, b"\x89PNG\r\n\x1a\n garbage garbage garbage").expect("write");
    let not_image = fixture("LICENSE").display().to_string();
    let folder = dir.path().display().to_string();
    let photo = fixture("group/couple.jpg").display().to_string();
    for (args, cause) in [
        (vec!["detect", folder.as_str()], "Is a directory"),
        // A folder, and a JPEG, as the gallery.
        (
            vec!["identify", "--gallery", folder.as_str(), photo.as_str()],
            "Is a directory",
        ),
        (
            vec!["identify", "--gallery", photo.as_str(), photo.as_str()],
            "valid UTF-8",
        ),
        (vec!["detect", bad_png.to_str().expect("utf8")], "before IHDR"),
        (vec!["detect", not_image.as_str()], "cannot decode image"),
    ] {
        let out = facerec(&args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = stderr(&out);
        let line = err.trim_end();
        assert_eq!(line.matches(cause).count(), 1, "{args:?}: {err}");
        let parts: Vec<&str> = line.split(": ").collect();
        for pair in parts.windows(2) {
            assert_ne!(pair[0], pair[1], "{args:?}: a cause printed twice: {err}");
        }
    }
}
