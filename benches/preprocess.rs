//! Criterion: the model-free per-frame work: bgr8 -> frame conversion, the detector letterbox
//! (resize + planar float), and one face alignment warp, on a 1080p fixture-derived frame.
//! Run with `cargo bench --bench preprocess`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion};
use facerec::align::{self, TEMPLATE};
use facerec::detect::{DetectorConfig, DetectorKind, Letterbox, Point};
use facerec::frame::{Frame, PixelFormat};

fn preprocess(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/faces/group/couple.jpg");
    let photo = Frame::open(&path).expect("fixture photo");
    let rgb = image::imageops::resize(photo.rgb(), 1920, 1080, image::imageops::FilterType::Triangle);
    let bgr: Vec<u8> = rgb.as_raw().chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect();
    let frame = Frame::from_raw(1920, 1080, 1920 * 3, PixelFormat::Bgr8, &bgr).expect("frame");

    c.bench_function("convert_bgr8_1080p", |b| {
        b.iter(|| Frame::from_raw(1920, 1080, 1920 * 3, PixelFormat::Bgr8, &bgr).expect("frame"))
    });
    let mut letterbox = Letterbox::default();
    // Plain-pass placements: into a model file with a fixed 640x640 input (SCRFD's, or OpenCV's
    // own YuNet file), and the 640x384 input that RetinaFace and the shipped YuNet file take.
    let yunet = DetectorConfig::for_kind(DetectorKind::Yunet).placement_for(1920, 1080, 0.0, Some((640, 640)));
    let retinaface = DetectorConfig::for_kind(DetectorKind::Retinaface).placement(1920, 1080, 0.0);
    assert_eq!((yunet.input_width, yunet.input_height), (640, 640));
    assert_eq!((retinaface.input_width, retinaface.input_height), (640, 384));
    c.bench_function("letterbox_1080p_to_640x640", |b| {
        b.iter(|| {
            letterbox
                .prepare(&frame, &yunet, DetectorKind::Yunet.input_norm())
                .expect("letterbox")
        })
    });
    c.bench_function("letterbox_1080p_to_640x384", |b| {
        b.iter(|| {
            letterbox
                .prepare(&frame, &retinaface, DetectorKind::Retinaface.input_norm())
                .expect("letterbox")
        })
    });
    // A face of about 200 px somewhere in the middle of the frame.
    let landmarks: [Point; 5] = TEMPLATE.map(|p| Point {
        x: p.x * 2.0 + 800.0,
        y: p.y * 2.0 + 400.0,
    });
    c.bench_function("align_one_face", |b| {
        b.iter(|| align::align(&frame, &landmarks).expect("aligned"))
    });
}

criterion_group!(benches, preprocess);
criterion_main!(benches);
