//! The face pipeline on real photos (tests/fixtures/faces, MIT) with the shipped models.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};

use facerec::embed::cosine;
use facerec::gallery::{Gallery, GalleryError};
use facerec::pipeline::Timed;
use facerec::{Frame, Pipeline, PipelineConfig};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/faces")
        .join(rel)
}

fn pipeline() -> Pipeline {
    let mut config = PipelineConfig::default();
    config.runtime.provider = facerec::runtime::Provider::for_tests().expect("FACEREC_TEST_PROVIDER");
    match Pipeline::new(config) {
        Ok(p) => p,
        Err(e) => panic!("pipeline must load (run `bash scripts/setup_ort.sh` first): {e}"),
    }
}

fn main_face(p: &mut Pipeline, rel: &str) -> Vec<f32> {
    let frame = Frame::open(&fixture(rel)).expect("fixture decodes");
    let mut faces = p.analyze(&frame).expect("pipeline runs").faces;
    faces.sort_by(|a, b| b.detection.bbox.area().total_cmp(&a.detection.bbox.area()));
    faces
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no face found in {rel}"))
        .embedding
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
    let faces = p.detect(&frame).expect("runs").faces;
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
    g.add_and_save("alice", vec![main_face(&mut p, "by_identity/id01/img1.jpg")])
        .expect("saved");
    g.add_and_save("bob", vec![main_face(&mut p, "by_identity/id02/img13.jpg")])
        .expect("saved");

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
        let faces = p.recognize(&frame, &reloaded).expect("runs").faces;
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
    g.add_and_save("ann", vec![main_face(&mut p, "by_identity/id01/img1.jpg")])
        .expect("save");
    let mut reloaded = Gallery::load(&path).expect("loads");
    assert!(matches!(
        reloaded.bind_model(p.model_tag()),
        Err(GalleryError::ModelMismatch { .. })
    ));
}

#[test]
fn a_file_that_is_not_an_image_is_an_error() {
    let err = Frame::open(&fixture("LICENSE")).expect_err("not an image");
    assert!(err.to_string().contains("decode"), "{err}");
    let err = Frame::open(Path::new("/nonexistent/face.jpg")).expect_err("missing");
    assert!(err.to_string().contains("/nonexistent/face.jpg"), "{err}");
}

/// Mean landmark distance between two detections, in units of the reference's eye distance.
fn landmark_error(found: &facerec::detect::Detection, truth: &[facerec::detect::Point; 5]) -> f32 {
    let eyes = (truth[0].x - truth[1].x).hypot(truth[0].y - truth[1].y);
    let sum: f32 = found
        .landmarks
        .iter()
        .zip(truth)
        .map(|(a, b)| (a.x - b.x).hypot(a.y - b.y))
        .sum();
    sum / 5.0 / eyes
}

/// The face as a robot sees a person stepping up to it: the photo cropped to inside the face's
/// own box, so the face fills the frame and is cut by its edges. The landmarks found on the whole
/// photo (where the face is neither close nor cut) are the reference.
#[test]
fn a_face_that_fills_the_frame_gets_the_bordered_pass_and_sound_landmarks() {
    let mut plain = pipeline();
    let mut config = plain.config().clone();
    assert_eq!(config.detector.border_pad, 0.0, "RetinaFace runs one pass by default");
    config.detector.border_pad = 0.25;
    let mut with_border = Pipeline::new(config).expect("pipeline with the bordered pass");
    let mut report = Vec::new();
    let (mut sum_bordered, mut sum_plain) = (0.0, 0.0);
    let list = std::fs::read_to_string(fixture("by_identity/identities.csv")).expect("fixture list");
    for rel in list.lines().skip(1).filter_map(|l| l.split(',').nth(1)) {
        let photo = Frame::open(&fixture(rel)).expect("fixture decodes");
        let Timed { faces, timings } = with_border.detect(&photo).expect("runs");
        let face = faces.first().unwrap_or_else(|| panic!("no face in {rel}"));
        if timings.detect_passes != 1 {
            // The face is already close or cut in the photo: no reference landmarks from it.
            continue;
        }
        // Crop to the box shrunk by 15% per side.
        let b = face.bbox;
        let (x0, y0) = (
            (b.x + 0.15 * b.width).round() as u32,
            (b.y + 0.15 * b.height).round() as u32,
        );
        let (w, h) = ((0.7 * b.width).round() as u32, (0.7 * b.height).round() as u32);
        let crop = image::imageops::crop_imm(photo.rgb(), x0, y0, w, h).to_image();
        let truth = face.landmarks.map(|p| facerec::detect::Point {
            x: p.x - x0 as f32,
            y: p.y - y0 as f32,
        });
        let close = Frame::from_rgb(crop);
        let Timed {
            faces: bordered,
            timings,
        } = with_border.detect(&close).expect("runs");
        assert_eq!(
            timings.detect_passes, 2,
            "{rel}: a face filling the frame gets the bordered pass"
        );
        let found = bordered
            .first()
            .unwrap_or_else(|| panic!("{rel}: no face in the close crop"));
        let err = landmark_error(found, &truth);
        let plain_faces = plain.detect(&close).expect("runs").faces;
        // A face the plain pass misses counts as one eye distance off.
        let plain_err = plain_faces.first().map_or(1.0, |f| landmark_error(f, &truth));
        report.push(format!("{rel}: bordered {err:.3}, plain {plain_err:.3}"));
        assert!(err < 0.15, "{rel}: landmarks off by {err:.3} eye distances: {report:?}");
        sum_bordered += err;
        sum_plain += plain_err;
    }
    eprintln!("landmark error in eye distances: {report:#?}");
    assert!(
        report.len() >= 10,
        "too few fixture faces with reference landmarks: {report:?}"
    );
    // On these crops both passes are close (0.08 eye distances on average); what the bordered
    // pass is for shows on cfp-dev's profiles (docs/ACCURACY.md), so no ordering is asserted.
    eprintln!(
        "mean: bordered {:.3}, plain {:.3}",
        sum_bordered / report.len() as f32,
        sum_plain / report.len() as f32
    );
}

/// The permissive MobileNetV2 RetinaFace (models/retinaface_mnv2.onnx, converted from TensorFlow)
/// through the same decoder: it finds both faces of the couple and, on every identity photo, the
/// main face with landmarks where MobileNet-0.25 puts them (a wrong input normalisation or colour
/// order shows as missed faces or displaced points).
#[test]
fn retinaface_mnv2_agrees_with_mobilenet025_on_real_faces() {
    let mut reference = pipeline();
    let config = reference
        .config()
        .clone()
        .with_detector(facerec::detect::DetectorKind::RetinafaceMnv2);
    let mut mnv2 = Pipeline::new(config).expect("pipeline with retinaface_mnv2.onnx");

    let couple = Frame::open(&fixture("group/couple.jpg")).expect("decodes");
    let faces = mnv2.detect(&couple).expect("runs").faces;
    assert_eq!(faces.len(), 2, "{faces:?}");

    let list = std::fs::read_to_string(fixture("by_identity/identities.csv")).expect("fixture list");
    let mut errors = Vec::new();
    for rel in list.lines().skip(1).filter_map(|l| l.split(',').nth(1)) {
        let photo = Frame::open(&fixture(rel)).expect("fixture decodes");
        let largest = |faces: Vec<facerec::detect::Detection>| {
            faces.into_iter().max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        };
        let truth = largest(reference.detect(&photo).expect("runs").faces)
            .unwrap_or_else(|| panic!("{rel}: MobileNet-0.25 finds no face"));
        let found = largest(mnv2.detect(&photo).expect("runs").faces)
            .unwrap_or_else(|| panic!("{rel}: MobileNetV2 finds no face"));
        let err = landmark_error(&found, &truth.landmarks);
        errors.push(format!("{rel}: {err:.3} (score {:.3})", found.score));
        assert!(
            err < 0.12,
            "{rel}: landmarks {err:.3} eye distances from MobileNet-0.25's: {errors:?}"
        );
    }
    eprintln!("MobileNetV2 vs MobileNet-0.25 landmarks, in eye distances: {errors:#?}");
    assert!(errors.len() >= 10, "too few fixture photos: {errors:?}");
}
