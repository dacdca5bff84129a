//! Criterion: the embedders side by side on the same aligned real faces, in one run: the shipped
//! SFace (128-d) and, when `FACEREC_BENCH_EMBEDDER` names one, another ONNX embedder such as the
//! 64-d model `scripts/train.sh` trains (issue 12). Batches of 1 and 4 faces; the figure to read
//! is time per batch divided by its faces. Only the embedder's run is timed (alignment and
//! detection are outside). Run with
//! `FACEREC_BENCH_EMBEDDER=training/runs/celeba/facerec_effnetlite0_64d.onnx cargo bench --bench embedders`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // bench code: a panic is a failure report

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use facerec::detect::{DetectorConfig, DetectorKind};
use facerec::embed::{Embedder, EmbedderConfig};
use facerec::frame::Frame;
use facerec::runtime::{Runtime, RuntimeConfig};
use facerec::{align, detect::Detector};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Four aligned 112x112 faces of different people, from the fixture photos through the shipped
/// detector and the alignment the node uses.
fn aligned_faces(runtime: &Runtime) -> Vec<image::RgbImage> {
    let mut config = DetectorConfig::for_kind(DetectorKind::Retinaface);
    config.model = root().join("models").join(&config.model);
    let mut detector = Detector::new(runtime, config).expect("detector");
    ["id01/img1.jpg", "id02/img13.jpg", "id05/img16.jpg", "id08/img22.jpg"]
        .iter()
        .map(|p| {
            let frame = Frame::open(&root().join("tests/fixtures/faces/by_identity").join(p)).expect("photo");
            let (faces, _) = detector.detect(&frame).expect("detect");
            align::align(&frame, &faces[0].landmarks).expect("aligned")
        })
        .collect()
}

fn embedders(c: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig::default()).expect("ONNX Runtime (bash scripts/setup_ort.sh)");
    let faces = aligned_faces(&runtime);
    let mut models: Vec<(String, PathBuf)> = vec![(
        "sface".to_owned(),
        root().join("models").join(EmbedderConfig::default().model),
    )];
    match std::env::var("FACEREC_BENCH_EMBEDDER") {
        Ok(other) if !other.is_empty() => {
            let path = Path::new(&other).to_path_buf();
            let stem = path
                .file_stem()
                .map_or("other".into(), |s| s.to_string_lossy().into_owned());
            models.push((stem, path));
        }
        _ => eprintln!("FACEREC_BENCH_EMBEDDER not set: SFace alone (name a second ONNX embedder to compare)"),
    }
    let mut group = c.benchmark_group("embed");
    for (name, model) in models {
        let mut embedder = Embedder::new(
            &runtime,
            EmbedderConfig {
                model,
                ..EmbedderConfig::default()
            },
        )
        .expect("embedder");
        let label = format!("{name}_{}d", embedder.dim());
        for batch in [1_usize, 4] {
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(label.clone(), batch), &batch, |b, &n| {
                b.iter(|| embedder.embed(&faces[..n]).expect("embedded"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, embedders);
criterion_main!(benches);
