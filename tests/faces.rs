//! The face pipeline on real photos (tests/fixtures/faces, MIT) with the shipped models.

use std::path::{Path, PathBuf};

use facerec::embed::cosine;
use facerec::gallery::{Gallery, GalleryError};
use facerec::{Frame, Pipeline, PipelineConfig};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faces").join(rel)
}

fn pipeline() -> Pipeline {
    match Pipeline::new(PipelineConfig::default()) {
        Ok(p) => p,
        Err(e) => panic!("pipeline must load (run `bash scripts/setup_ort.sh` first): {e}"),
    }
}

fn main_face(p: &mut Pipeline, rel: &str) -> Vec<f32> {
    let frame = Frame::open(&fixture(rel)).expect("fixture decodes");
    let (mut faces, _) = p.analyze(&frame).expect("pipeline runs");
    faces.sort_by(|a, b| b.detection.bbox.area().total_cmp(&a.detection.bbox.area()));
    faces.into_iter().next().unwrap_or_else(|| panic!("no face found in {rel}")).embedding
}

#[test]
fn same_person_scores_above_threshold_and_different_people_below() {
    let mut p = pipeline();
    let t = p.threshold();
    let same = [
        ("by_identity/id01/img1.jpg", "by_identity/id01/img2.jpg"),
        ("by_identity/id02/img13.jpg", "by_identity/id02/img14.jpg"),
        ("by_identity/id05/img16.jpg", "by_identity/id05/img17.jpg"),
        ("by_identity/id07/img20.jpg", "by_identity/id07/img21.jpg"),
    ];
    let different = [
        ("by_identity/id01/img1.jpg", "by_identity/id02/img13.jpg"),
        ("by_identity/id03/img3.jpg", "by_identity/id04/img8.jpg"),
        ("by_identity/id05/img16.jpg", "by_identity/id06/img18.jpg"),
        ("by_identity/id08/img22.jpg", "by_identity/id09/img24.jpg"),
    ];
    for (a, b) in same {
        let s = cosine(&main_face(&mut p, a), &main_face(&mut p, b));
        assert!(s >= t, "{a} vs {b}: same person scored {s:.3} < threshold {t:.3}");
    }
    for (a, b) in different {
        let s = cosine(&main_face(&mut p, a), &main_face(&mut p, b));
        assert!(s < t, "{a} vs {b}: different people scored {s:.3} >= threshold {t:.3}");
    }
}

#[test]
fn group_photo_yields_each_face() {
    let mut p = pipeline();
    let frame = Frame::open(&fixture("group/couple.jpg")).expect("decodes");
    let (faces, _) = p.detect(&frame).expect("runs");
    assert_eq!(faces.len(), 2, "{faces:?}");
    for f in &faces {
        // Landmarks lie inside their own box.
        for l in &f.landmarks {
            assert!(l.x >= f.bbox.x - 1.0 && l.x <= f.bbox.x + f.bbox.width + 1.0);
            assert!(l.y >= f.bbox.y - 1.0 && l.y <= f.bbox.y + f.bbox.height + 1.0);
        }
    }
}

#[test]
fn enroll_then_identify_round_trip_through_a_saved_gallery() {
    let mut p = pipeline();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("people.yaml");
    let mut g = Gallery::open_or_create(&path).expect("new gallery");
    g.bind_model(p.model_tag()).expect("bind");
    g.add_and_save("alice", vec![main_face(&mut p, "by_identity/id01/img1.jpg")]).expect("saved");
    g.add_and_save("bob", vec![main_face(&mut p, "by_identity/id02/img13.jpg")]).expect("saved");

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let reloaded = Gallery::load(&path).expect("reloads");
    assert_eq!(reloaded.people().collect::<Vec<_>>(), vec![("alice", 1), ("bob", 1)]);
    for (rel, expected) in [
        ("by_identity/id01/img4.jpg", "alice"),
        ("by_identity/id02/img15.jpg", "bob"),
        ("by_identity/id06/img19.jpg", "unknown"),
    ] {
        let frame = Frame::open(&fixture(rel)).expect("decodes");
        let (faces, _) = p.recognize(&frame, &reloaded).expect("runs");
        let main = faces
            .iter()
            .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
            .expect("a face");
        assert_eq!(main.name, expected, "{rel}: {main:?}");
    }
}

#[test]
fn corrupt_gallery_is_a_clear_error_and_the_file_is_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.yaml");
    let text = "format: 1\nmodel:\n  file: m.onnx\n  sha256: ab\n  dim: 2\npeople:\n  - name: ann\n    embeddings: [[1.0, oops\n";
    std::fs::write(&path, text).expect("write");
    let err = Gallery::load(&path).expect_err("corrupt");
    let msg = err.to_string();
    assert!(matches!(err, GalleryError::Corrupt { line, .. } if line > 0), "{msg}");
    assert!(msg.contains("broken.yaml") && msg.contains("line"), "{msg}");
    assert_eq!(std::fs::read_to_string(&path).expect("still there"), text);
}

#[test]
fn gallery_from_another_model_is_refused() {
    let mut p = pipeline();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("g.yaml");
    let mut g = Gallery::open_or_create(&path).expect("new");
    let mut other = p.model_tag().clone();
    other.sha256 = "0".repeat(64);
    g.bind_model(&other).expect("bind other");
    g.add_and_save("ann", vec![main_face(&mut p, "by_identity/id01/img1.jpg")]).expect("save");
    let mut reloaded = Gallery::load(&path).expect("loads");
    assert!(matches!(reloaded.bind_model(p.model_tag()), Err(GalleryError::ModelMismatch { .. })));
}

#[test]
fn a_file_that_is_not_an_image_is_an_error() {
    let err = Frame::open(&fixture("LICENSE")).expect_err("not an image");
    assert!(err.to_string().contains("decode"), "{err}");
    let err = Frame::open(Path::new("/nonexistent/face.jpg")).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/face.jpg"), "{err}");
}
