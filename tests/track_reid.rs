//! Re-identification of a returning person on real faces (tests/fixtures/faces, MIT) with the
//! shipped models, through `Pipeline::track`: a person who leaves the view (the track ends) and
//! comes back within `reid_window_ns` gets the same track id back, from another photo of them;
//! after the window, or for somebody else, a new id.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::{Path, PathBuf};

use facerec::gallery::Gallery;
use facerec::track::{TrackedFace, Tracker, TrackerConfig};
use facerec::{Frame, Pipeline, PipelineConfig};

const MS: i64 = 1_000_000;

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

/// The largest face of a tracked frame.
fn main_face(faces: Vec<TrackedFace>) -> TrackedFace {
    faces
        .into_iter()
        .max_by(|a, b| a.detection.bbox.area().total_cmp(&b.detection.bbox.area()))
        .expect("a face")
}

/// Shows `photo` for `frames` frames at 10 frames/s from `start_ns`; returns the main face's
/// track per frame.
fn show(
    p: &mut Pipeline,
    tracker: &mut Tracker,
    gallery: &Gallery,
    photo: &str,
    start_ns: i64,
    frames: i64,
) -> Vec<TrackedFace> {
    let frame = Frame::open(&fixture(photo)).expect("fixture decodes");
    (0..frames)
        .map(|i| {
            let faces = p
                .track(&frame, start_ns + i * 100 * MS, tracker, gallery, false)
                .expect("pipeline runs")
                .faces;
            main_face(faces)
        })
        .collect()
}

fn config() -> TrackerConfig {
    TrackerConfig {
        max_miss_ns: 1_000 * MS,
        reid_window_ns: 10_000 * MS,
        ..TrackerConfig::default()
    }
}

#[test]
fn a_returning_person_gets_the_same_track_id_from_another_photo() {
    let mut p = pipeline();
    // Nobody enrolled: the track identity is the only thing that can bring the id back.
    let gallery = Gallery::in_memory();
    let mut tracker = Tracker::new(config());
    let first = show(&mut p, &mut tracker, &gallery, "by_identity/id01/img1.jpg", 0, 5);
    let id = first[0].track_id.expect("tracked");
    assert!(first.iter().all(|f| f.track_id == Some(id)));
    assert!(first.last().expect("frames").confirmed);
    // Away for 3 s (an empty frame: no face), longer than max_miss: the track ends.
    let empty = Frame::from_rgb(image::RgbImage::from_pixel(320, 240, image::Rgb([40, 40, 40])));
    let faces = p
        .track(&empty, 3_000 * MS, &mut tracker, &gallery, false)
        .expect("pipeline runs")
        .faces;
    assert!(faces.is_empty());
    assert_eq!(tracker.live_tracks(), 0, "the track ended");
    // Back, in another photo (other pose, light, size): the same id, marked re-identified.
    let back = show(
        &mut p,
        &mut tracker,
        &gallery,
        "by_identity/id01/img2.jpg",
        5_000 * MS,
        3,
    );
    assert_eq!(back[0].track_id, Some(id), "{:?}", back[0]);
    assert!(back[0].reidentified && back[0].confirmed);
    assert!(back.iter().all(|f| f.track_id == Some(id)));
    assert_eq!(tracker.stats().reidentified, 1);

    // Somebody else in the same place after the same absence: a new id.
    let faces = p
        .track(&empty, 8_000 * MS, &mut tracker, &gallery, false)
        .expect("pipeline runs")
        .faces;
    assert!(faces.is_empty());
    let other = show(
        &mut p,
        &mut tracker,
        &gallery,
        "by_identity/id02/img13.jpg",
        10_000 * MS,
        2,
    );
    assert_ne!(other[0].track_id, Some(id));
    assert!(!other[0].reidentified);
}

#[test]
fn after_the_window_a_returning_person_gets_a_new_id() {
    let mut p = pipeline();
    let gallery = Gallery::in_memory();
    let mut tracker = Tracker::new(config());
    let first = show(&mut p, &mut tracker, &gallery, "by_identity/id01/img1.jpg", 0, 5);
    let id = first[0].track_id.expect("tracked");
    // 20 s later (window 10 s): not given back.
    let back = show(
        &mut p,
        &mut tracker,
        &gallery,
        "by_identity/id01/img2.jpg",
        20_000 * MS,
        2,
    );
    assert_ne!(back[0].track_id, Some(id));
    assert!(!back[0].reidentified);
}
