//! `facerec crops` on the fixture photos: every crop is the library's own aligned face (the bytes
//! `align::align` gives for the dominant detection), the manifest lists each, and photos without
//! one dominant face are recorded as skipped, not cropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod common;

use common::{facerec, fixture};

use facerec::enroll::EnrollPolicy;
use facerec::{Frame, Pipeline, PipelineConfig};

/// CSV rows without the header (the fixture paths hold no commas or quotes).
fn rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_owned).collect())
        .collect()
}

#[test]
fn crops_of_the_fixture_identities_are_the_pipelines_aligned_faces() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("crops-out");
    let dataset = fixture("by_identity");
    let o = facerec(&[
        "crops",
        dataset.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let manifest = rows(&out.join("manifest.csv"));
    let skipped = rows(&out.join("skipped.csv"));
    // 25 photos of 9 people, each with one clear face.
    assert_eq!(manifest.len() + skipped.len(), 25, "{manifest:?} {skipped:?}");
    assert!(manifest.len() >= 23, "too many skipped: {skipped:?}");
    let identities: BTreeSet<&str> = manifest.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(identities.len(), 9, "{identities:?}");

    // The provider the CLI runs on (`common::facerec`), so both see the same detections.
    let mut config = PipelineConfig::default();
    config.runtime.provider = facerec::runtime::Provider::for_tests().expect("FACEREC_TEST_PROVIDER");
    let mut pipeline = Pipeline::new(config).expect("pipeline loads (scripts/setup_ort.sh)");
    let policy = EnrollPolicy {
        min_face_px: 24.0,
        min_sharpness: 0.0,
        ..EnrollPolicy::default()
    };
    for row in &manifest {
        let [identity, source, crop, score] = row.as_slice() else {
            panic!("manifest row {row:?}");
        };
        let source = PathBuf::from(source);
        assert_eq!(
            source.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str()),
            Some(identity.as_str()),
            "identity is the photo's folder"
        );
        assert!(crop.starts_with(&format!("crops/{identity}/")), "{crop}");
        let written = image::open(out.join(crop)).expect("crop decodes").to_rgb8();
        assert_eq!(written.dimensions(), (112, 112));

        let frame = Frame::open(&source).expect("fixture decodes");
        let detections = pipeline.detect(&frame).expect("detects").faces;
        let index = policy.choose(&detections).expect("one dominant face");
        let expected = facerec::align::align(&frame, &detections[index].landmarks).expect("aligns");
        assert!(written == expected, "{crop} differs from the library's aligned face");
        let score: f32 = score.parse().expect("score is a number");
        assert!((score - detections[index].score).abs() < 1e-3);
    }
}

#[test]
fn group_photos_and_unreadable_files_are_skipped_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let person = data.join("someone");
    std::fs::create_dir_all(&person).expect("mkdir");
    std::fs::copy(fixture("group/couple.jpg"), person.join("couple.jpg")).expect("copy");
    std::fs::copy(fixture("by_identity/id05/img16.jpg"), person.join("single.jpg")).expect("copy");
    std::fs::write(person.join("broken.jpg"), b"not a jpeg").expect("write");
    let other = data.join("other");
    std::fs::create_dir_all(&other).expect("mkdir");
    std::fs::copy(fixture("by_identity/id08/img22.jpg"), other.join("a.jpg")).expect("copy");
    let out = dir.path().join("out");

    let o = facerec(&[
        "crops",
        data.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--max-identities",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = rows(&out.join("manifest.csv"));
    let skipped = rows(&out.join("skipped.csv"));
    // Only the first identity ("other" sorts before "someone").
    assert_eq!(manifest.len(), 1, "{manifest:?}");
    assert_eq!(manifest[0][0], "other");
    assert!(skipped.is_empty(), "{skipped:?}");

    let o = facerec(&[
        "crops",
        data.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let manifest = rows(&out.join("manifest.csv"));
    let skipped = rows(&out.join("skipped.csv"));
    let cropped: BTreeSet<&str> = manifest.iter().map(|r| r[2].as_str()).collect();
    assert_eq!(
        cropped,
        BTreeSet::from(["crops/other/a.png", "crops/someone/single.png"]),
        "{manifest:?}"
    );
    let reason = |file: &str| {
        skipped
            .iter()
            .find(|r| r[1].ends_with(file))
            .map(|r| r[2..].join(","))
            .unwrap_or_else(|| panic!("{file} not in skipped.csv: {skipped:?}"))
    };
    assert!(reason("couple.jpg").contains("comparably close"), "{skipped:?}");
    assert!(
        reason("broken.jpg").trim_start_matches('"').starts_with("unreadable"),
        "{skipped:?}"
    );
    assert!(!out.join("crops/someone/couple.png").exists());

    let o = facerec(&[
        "crops",
        dir.path().join("missing").to_str().expect("utf8"),
        "--out",
        "x",
    ]);
    assert!(!o.status.success());
}
