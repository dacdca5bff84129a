//! `facerec bench`: where a frame's time goes, and how gallery matching scales.
//!
//! Builds test frames deterministically from the fixture portraits (one face crop per grid cell),
//! runs the library's own pipeline on them and times every stage, times bare ONNX Runtime calls
//! on the same input tensors in the same loop (the overhead ratio), and times `Gallery::best_match`
//! on large random galleries. Binary-only: reads fixtures and models, writes a report.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use facerec::align;
use facerec::detect::{DetectorKind, Letterbox};
use facerec::frame::{Frame, PixelFormat};
use facerec::gallery::{Gallery, ModelTag, COARSE_MIN_ROWS};
use facerec::pipeline::Recognition;
use facerec::ros::msgs;
use facerec::Pipeline;
use image::{Rgb, RgbImage};
use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Frame sizes (vga = 640x480, 720p = 1280x720, 1080p = 1920x1080, or WxH).
    #[arg(long, value_delimiter = ',', default_value = "vga,720p,1080p")]
    pub sizes: Vec<String>,
    /// Faces per frame.
    #[arg(long, value_delimiter = ',', default_value = "1,5,20")]
    pub faces: Vec<usize>,
    /// Timed frames per configuration.
    #[arg(long, default_value_t = 50)]
    pub iterations: usize,
    /// Untimed frames before timing each configuration.
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Folder (searched recursively) of one-person photos that the frames are built from.
    #[arg(long, default_value = "tests/fixtures/faces/by_identity")]
    pub portraits: PathBuf,
    /// People in the gallery the frames are matched against (random unit vectors).
    #[arg(long, default_value_t = 100)]
    pub gallery_people: usize,
    /// Gallery sizes for the matching-scaling test, e.g. 1000,10000,100000,1000000 (none: skip).
    #[arg(long, value_delimiter = ',')]
    pub gallery_scaling: Vec<usize>,
    /// Queries per gallery size (fewer for the largest galleries).
    #[arg(long, default_value_t = 200)]
    pub gallery_queries: usize,
    /// Skip the pipeline part (only gallery scaling).
    #[arg(long)]
    pub skip_pipeline: bool,
    /// Write the composed frames as PNG (for the OpenCV comparison) into this folder.
    #[arg(long)]
    pub save_frames: Option<PathBuf>,
    /// Write the full report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Median, 99th percentile (nearest rank) and mean of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(super) struct Stat {
    pub median_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

pub(super) fn stat(samples: &[Duration]) -> Stat {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if ms.is_empty() {
            return 0.0;
        }
        let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
        ms.get(rank - 1).copied().unwrap_or(0.0)
    };
    let mean = if ms.is_empty() { 0.0 } else { ms.iter().sum::<f64>() / ms.len() as f64 };
    Stat { median_ms: pick(0.5), p99_ms: pick(0.99), mean_ms: mean }
}

/// Stage names in report order; the samples of one configuration, per stage.
const STAGES: [&str; 15] = [
    "convert",
    "detect_preprocess",
    "detect_inference",
    "detect_postprocess",
    "align",
    "embed_prepost",
    "embed_inference",
    "matching",
    "encode_json",
    "encode_cdr",
    "frame",
    "end_to_end",
    "bare_detect",
    "bare_embed",
    "bare_total",
];

#[derive(Debug, Serialize)]
struct ConfigReport {
    size: String,
    width: u32,
    height: u32,
    faces_placed: usize,
    faces_detected: usize,
    iterations: usize,
    stages: Vec<(String, Stat)>,
    /// JPEG decode of the same frame (the CompressedImage path; not part of end_to_end).
    jpeg_decode: Stat,
    fps: f64,
    /// median(end_to_end) / median(bare_total).
    overhead_ratio: f64,
    /// Median of the per-frame ratio end_to_end / bare_total.
    overhead_ratio_per_frame_median: f64,
    vm_hwm_mib: f64,
    vm_rss_mib: f64,
}

/// A kernel-reported memory figure of this process (`VmHWM`, `VmRSS`), in MiB.
fn proc_status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

pub(super) fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "vga" => (640, 480),
        "720p" => (1280, 720),
        "1080p" => (1920, 1080),
        other => {
            let (w, h) = other.split_once('x').with_context(|| format!("size '{s}': use vga, 720p, 1080p or WxH"))?;
            (w.parse()?, h.parse()?)
        }
    })
}

/// Deterministic pseudo-random numbers (SplitMix64), for galleries and queries.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A random unit vector (normalised Gaussian: uniform on the sphere).
    fn unit_vector(&mut self, dim: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dim)
            .map(|_| {
                let (u1, u2) = (self.uniform(), self.uniform());
                ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect();
        facerec::embed::normalize(&v)
    }
}

fn random_gallery(tag: &ModelTag, people: usize, seed: u64) -> anyhow::Result<Gallery> {
    let mut rng = SplitMix(seed);
    let mut gallery = Gallery::in_memory();
    gallery.bind_model(tag)?;
    let entries = (0..people).map(|i| (format!("p{i:07}"), vec![rng.unit_vector(tag.dim)])).collect();
    gallery.add_many(entries)?;
    Ok(gallery)
}

/// Image files under a folder, recursively, sorted by path.
fn image_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| {
                let e = e.to_string_lossy().to_ascii_lowercase();
                e == "jpg" || e == "jpeg" || e == "png"
            }) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One square crop per portrait around its best-scoring face: side 2x the larger box side,
/// centred on the box, shifted to stay inside the photo.
pub(super) fn face_crops(pipeline: &mut Pipeline, dir: &Path) -> anyhow::Result<Vec<RgbImage>> {
    let mut crops = Vec::new();
    for path in image_files(dir)? {
        let frame = Frame::open(&path).with_context(|| path.display().to_string())?;
        let (faces, _) = pipeline.detect(&frame)?;
        let Some(face) = faces.first() else { continue };
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let side = (2.0 * face.bbox.width.max(face.bbox.height)).min(w).min(h).max(1.0);
        let c = face.bbox.center();
        let x = (c.x - side / 2.0).clamp(0.0, w - side);
        let y = (c.y - side / 2.0).clamp(0.0, h - side);
        let rgb = frame.into_rgb();
        crops.push(image::imageops::crop_imm(&rgb, x as u32, y as u32, side as u32, side as u32).to_image());
    }
    if crops.is_empty() {
        bail!("no face found in the photos under {}", dir.display());
    }
    Ok(crops)
}

/// A `width`x`height` frame with `n` face crops on a grid of ceil(sqrt(n*W/H)) columns, each
/// crop resized (bilinear) to the square cell, grid centred, grey (114) background. Crops are
/// used in order and repeat when there are fewer than `n`.
pub(super) fn compose(crops: &[RgbImage], width: u32, height: u32, n: usize) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([114, 114, 114]));
    if n == 0 || crops.is_empty() {
        return canvas;
    }
    let aspect = f64::from(width) / f64::from(height);
    let cols = ((n as f64 * aspect).sqrt().ceil() as usize).max(1);
    let rows = n.div_ceil(cols);
    let cell = (width as usize / cols).min(height as usize / rows) as u32;
    let x0 = (width - cell * cols as u32) / 2;
    let y0 = (height - cell * rows as u32) / 2;
    for (i, crop) in crops.iter().cycle().take(n).enumerate() {
        let resized = image::imageops::resize(crop, cell, cell, image::imageops::FilterType::Triangle);
        let (col, row) = ((i % cols) as u32, (i / cols) as u32);
        image::imageops::replace(&mut canvas, &resized, i64::from(x0 + col * cell), i64::from(y0 + row * cell));
    }
    canvas
}

fn to_bgr(rgb: &RgbImage) -> Vec<u8> {
    rgb.as_raw().chunks_exact(3).flat_map(|p| [p[2], p[1], p[0]]).collect()
}

/// The node's outputs for a frame: facerec/FaceArray and vision_msgs/Detection2DArray, built by
/// the node's own conversions.
fn ros_messages(recs: &[Recognition]) -> (msgs::FaceArray, msgs::Detection2DArray) {
    use facerec::ros::node::convert;
    let header = msgs::Header { stamp: msgs::Time { sec: 1, nanosec: 2 }, frame_id: "camera_optical".to_owned() };
    (convert::face_array(recs, &header, "/camera/image_raw"), convert::detection_array(recs, &header))
}

/// Bare ONNX Runtime sessions of the same model files, same runtime and thread count, fed
/// tensors built before timing.
struct Bare {
    detector: ort::session::Session,
    detector_input: String,
    embedder: ort::session::Session,
    embedder_input: String,
}

impl Bare {
    fn new(pipeline: &Pipeline) -> anyhow::Result<Self> {
        let runtime = pipeline.runtime();
        let detector = runtime.session(&pipeline.config().detector.model)?;
        let embedder = runtime.session(&pipeline.config().embedder.model)?;
        let name = |s: &ort::session::Session| s.inputs().first().map(|i| i.name().to_owned()).unwrap_or_default();
        Ok(Self { detector_input: name(&detector), embedder_input: name(&embedder), detector, embedder })
    }

    fn run_detector(&mut self, shape: [i64; 4], data: &[f32]) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let tensor = ort::value::TensorRef::from_array_view((shape, data))?;
        let out = self.detector.run(ort::inputs![self.detector_input.as_str() => tensor])?;
        let elapsed = t.elapsed();
        std::hint::black_box(out.len());
        Ok(elapsed)
    }

    /// Runs the embedder on `shape[0]` faces in batches of at most `batch`, as the pipeline's
    /// embedder splits them (`embedder.max_batch`); returns the summed run time.
    fn run_embedder(&mut self, shape: [i64; 4], data: &[f32], batch: usize) -> anyhow::Result<Duration> {
        let per_face = usize::try_from(shape[1] * shape[2] * shape[3])?;
        let mut elapsed = Duration::ZERO;
        for chunk in data.chunks(per_face * batch.max(1)) {
            let n = i64::try_from(chunk.len() / per_face.max(1))?;
            let t = Instant::now();
            let tensor = ort::value::TensorRef::from_array_view(([n, shape[1], shape[2], shape[3]], chunk))?;
            let out = self.embedder.run(ort::inputs![self.embedder_input.as_str() => tensor])?;
            elapsed += t.elapsed();
            std::hint::black_box(out.len());
        }
        Ok(elapsed)
    }
}

/// The detector's input size for a frame, as `Detector` computes it.
fn detector_input_dims(pipeline: &Pipeline, width: u32, height: u32) -> (u32, u32) {
    let cfg = &pipeline.config().detector;
    let s = cfg.input_size.max(32);
    match cfg.kind {
        DetectorKind::Yunet => (s, s),
        DetectorKind::Retinaface => {
            let scale = f64::from(s) / f64::from(width.max(height));
            let round_up = |v: u32| ((f64::from(v) * scale).round().max(1.0) as u32).div_ceil(32) * 32;
            (round_up(width), round_up(height))
        }
    }
}

fn embedder_tensor(pipeline: &Pipeline, crops: &[RgbImage]) -> Vec<f32> {
    let cfg = &pipeline.config().embedder;
    let plane = (align::ALIGNED_SIZE * align::ALIGNED_SIZE) as usize;
    let mut out = vec![0.0_f32; crops.len() * 3 * plane];
    for (crop, slot) in crops.iter().zip(out.chunks_exact_mut(3 * plane)) {
        for (i, px) in crop.pixels().enumerate() {
            let [r, g, b] = px.0;
            let (c0, c2) = if cfg.bgr { (b, r) } else { (r, b) };
            for (c, v) in [c0, g, c2].into_iter().enumerate() {
                if let Some(o) = slot.get_mut(c * plane + i) {
                    *o = (f32::from(v) - cfg.mean) * cfg.scale;
                }
            }
        }
    }
    out
}

fn bench_config(
    pipeline: &mut Pipeline,
    gallery: &Gallery,
    bare: &mut Bare,
    label: &str,
    canvas: &RgbImage,
    placed: usize,
    args: &BenchArgs,
) -> anyhow::Result<ConfigReport> {
    let (w, h) = canvas.dimensions();
    let bgr = to_bgr(canvas);
    let step = w as usize * 3;
    let frame0 = Frame::from_raw(w, h, step, PixelFormat::Bgr8, &bgr)?;
    let (recs0, _) = pipeline.recognize(&frame0, gallery)?;

    // Bare-call inputs: the same tensors the pipeline builds, made once before timing.
    let (in_w, in_h) = detector_input_dims(pipeline, w, h);
    let mean = match pipeline.config().detector.kind {
        DetectorKind::Retinaface => [104.0, 117.0, 123.0],
        DetectorKind::Yunet => [0.0, 0.0, 0.0],
    };
    let mut letterbox = Letterbox::default();
    letterbox.prepare(&frame0, in_w, in_h, mean)?;
    let det_data = letterbox.tensor().to_vec();
    let det_shape = [1, 3, i64::from(in_h), i64::from(in_w)];
    let crops: Vec<RgbImage> = recs0.iter().filter_map(|r| align::align(&frame0, &r.detection.landmarks)).collect();
    let emb_data = embedder_tensor(pipeline, &crops);
    let side = i64::from(align::ALIGNED_SIZE);
    let emb_shape = [crops.len() as i64, 3, side, side];

    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(canvas)?;

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(args.iterations); STAGES.len()];
    let mut ratios = Vec::with_capacity(args.iterations);
    let mut jpeg_samples = Vec::with_capacity(args.iterations);
    for i in 0..args.warmup + args.iterations {
        let t0 = Instant::now();
        let frame = Frame::from_raw(w, h, step, PixelFormat::Bgr8, &bgr)?;
        let convert = t0.elapsed();
        let (recs, st) = pipeline.recognize(&frame, gallery)?;
        let frame_time = t0.elapsed();
        let t1 = Instant::now();
        let json = serde_json::to_vec(&recs)?;
        let encode_json = t1.elapsed();
        let t2 = Instant::now();
        let (face_array, det_array) = ros_messages(&recs);
        let cdr = (msgs::cdr::to_vec(&face_array)?, msgs::cdr::to_vec(&det_array)?);
        let encode_cdr = t2.elapsed();
        let end_to_end = t0.elapsed();
        std::hint::black_box((json.len(), cdr.0.len(), cdr.1.len()));

        let bare_detect = bare.run_detector(det_shape, &det_data)?;
        let bare_embed = bare.run_embedder(emb_shape, &emb_data, pipeline.config().embedder.max_batch)?;

        let t3 = Instant::now();
        let decoded = Frame::decode(&jpeg)?;
        let jpeg_time = t3.elapsed();
        std::hint::black_box(decoded.width());

        if i < args.warmup {
            continue;
        }
        let values = [
            convert,
            st.detect_preprocess,
            st.detect_inference,
            st.detect_postprocess,
            st.align,
            st.embed.saturating_sub(st.embed_inference),
            st.embed_inference,
            st.matching,
            encode_json,
            encode_cdr,
            frame_time,
            end_to_end,
            bare_detect,
            bare_embed,
            bare_detect + bare_embed,
        ];
        for (store, v) in samples.iter_mut().zip(values) {
            store.push(v);
        }
        ratios.push(end_to_end.as_secs_f64() / (bare_detect + bare_embed).as_secs_f64().max(1e-9));
        jpeg_samples.push(jpeg_time);
    }
    let stages: Vec<(String, Stat)> = STAGES.iter().zip(&samples).map(|(n, s)| ((*n).to_owned(), stat(s))).collect();
    let get = |name: &str| stages.iter().find(|(n, _)| n == name).map_or(0.0, |(_, s)| s.median_ms);
    ratios.sort_by(f64::total_cmp);
    Ok(ConfigReport {
        size: label.to_owned(),
        width: w,
        height: h,
        faces_placed: placed,
        faces_detected: recs0.len(),
        iterations: args.iterations,
        jpeg_decode: stat(&jpeg_samples),
        fps: 1e3 / get("end_to_end").max(1e-9),
        overhead_ratio: get("end_to_end") / get("bare_total").max(1e-9),
        overhead_ratio_per_frame_median: ratios.get(ratios.len() / 2).copied().unwrap_or(0.0),
        stages,
        vm_hwm_mib: proc_status_mib("VmHWM:"),
        vm_rss_mib: proc_status_mib("VmRSS:"),
    })
}

#[derive(Debug, Serialize)]
struct ScalingReport {
    identities: usize,
    queries: usize,
    per_face: Stat,
    /// The same queries by scoring every vector in f32 (`best_match_full_scan`), same run.
    per_face_full_scan: Stat,
    /// Resident memory added by building the gallery, per identity (bytes).
    rss_bytes_per_identity: f64,
    /// The match index alone (vector row + owner id), per identity (bytes).
    index_bytes_per_identity: usize,
}

fn gallery_scaling(tag: &ModelTag, sizes: &[usize], queries: usize) -> anyhow::Result<Vec<ScalingReport>> {
    let mut out = Vec::new();
    let mut rng = SplitMix(0x5eed);
    for &n in sizes {
        let rss_before = proc_status_mib("VmRSS:");
        let gallery = random_gallery(tag, n, n as u64)?;
        let rss_after = proc_status_mib("VmRSS:");
        let q = (queries * 100_000 / n.max(1)).clamp(20.min(queries), queries);
        let probes: Vec<Vec<f32>> = (0..q).map(|_| rng.unit_vector(tag.dim)).collect();
        std::hint::black_box(gallery.best_match(probes.first().map_or(&[][..], |p| p)));
        let mut times = Vec::with_capacity(q);
        let mut full_times = Vec::with_capacity(q);
        for p in &probes {
            let t = Instant::now();
            let m = gallery.best_match(p);
            times.push(t.elapsed());
            let t = Instant::now();
            let full = gallery.best_match_full_scan(p);
            full_times.push(t.elapsed());
            if m != full {
                bail!("best_match and the full scan disagree at {n} identities: {m:?} vs {full:?}");
            }
        }
        let report = ScalingReport {
            identities: n,
            queries: q,
            per_face: stat(&times),
            per_face_full_scan: stat(&full_times),
            rss_bytes_per_identity: (rss_after - rss_before).max(0.0) * 1024.0 * 1024.0 / n.max(1) as f64,
            index_bytes_per_identity: tag.dim * 4 + 4 + if n >= COARSE_MIN_ROWS { tag.dim + 4 } else { 0 },
        };
        println!(
            "gallery {:>9} identities: best_match median {:.3} ms, p99 {:.3} ms (full f32 scan {:.3} / {:.3} ms; {} queries); memory {:.0} B/identity (index {} B)",
            n,
            report.per_face.median_ms,
            report.per_face.p99_ms,
            report.per_face_full_scan.median_ms,
            report.per_face_full_scan.p99_ms,
            q,
            report.rss_bytes_per_identity,
            report.index_bytes_per_identity
        );
        out.push(report);
        drop(gallery);
    }
    Ok(out)
}

fn print_table(reports: &[ConfigReport]) {
    println!();
    println!("| frame | faces (placed/found) | stage | median ms | p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    for r in reports {
        for (name, s) in &r.stages {
            println!("| {} | {}/{} | {} | {:.3} | {:.3} |", r.size, r.faces_placed, r.faces_detected, name, s.median_ms, s.p99_ms);
        }
        println!(
            "| {} | {}/{} | jpeg_decode (not in end_to_end) | {:.3} | {:.3} |",
            r.size, r.faces_placed, r.faces_detected, r.jpeg_decode.median_ms, r.jpeg_decode.p99_ms
        );
    }
    println!();
    println!("| frame | faces (placed/found) | end-to-end median ms | p99 ms | frames/s | bare ORT ms | overhead ratio | per-frame ratio (median) | VmHWM MiB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in reports {
        let s = |n: &str| r.stages.iter().find(|(k, _)| k == n).map(|(_, s)| *s);
        let (Some(e2e), Some(bare)) = (s("end_to_end"), s("bare_total")) else { continue };
        println!(
            "| {} | {}/{} | {:.2} | {:.2} | {:.1} | {:.2} | {:.3} | {:.3} | {:.0} |",
            r.size,
            r.faces_placed,
            r.faces_detected,
            e2e.median_ms,
            e2e.p99_ms,
            r.fps,
            bare.median_ms,
            r.overhead_ratio,
            r.overhead_ratio_per_frame_median,
            r.vm_hwm_mib
        );
    }
}

/// `facerec bench`.
pub fn run(opts: &super::common::PipelineOpts, args: &BenchArgs) -> anyhow::Result<()> {
    let mut pipeline = opts.pipeline()?;
    let tag = pipeline.model_tag().clone();
    let mut reports = Vec::new();
    let mut frames_written = Vec::new();
    if !args.skip_pipeline {
        let crops = face_crops(&mut pipeline, &args.portraits)?;
        let gallery = random_gallery(&tag, args.gallery_people, 42)?;
        let mut bare = Bare::new(&pipeline)?;
        if let Some(dir) = &args.save_frames {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        for size in &args.sizes {
            let (w, h) = parse_size(size)?;
            for &n in &args.faces {
                let canvas = compose(&crops, w, h, n);
                if let Some(dir) = &args.save_frames {
                    let path = dir.join(format!("{size}_{n}faces.png"));
                    canvas.save(&path).with_context(|| format!("cannot write {}", path.display()))?;
                    frames_written.push(json!({ "size": size, "faces": n, "path": path }));
                }
                let report = bench_config(&mut pipeline, &gallery, &mut bare, size, &canvas, n, args)?;
                eprintln!(
                    "{size} {n} faces ({} found): end-to-end {:.2} ms median, {:.1} frames/s, overhead {:.3}",
                    report.faces_detected,
                    report.stages.iter().find(|(k, _)| k == "end_to_end").map_or(0.0, |(_, s)| s.median_ms),
                    report.fps,
                    report.overhead_ratio
                );
                reports.push(report);
            }
        }
        print_table(&reports);
    }
    let scaling = if args.gallery_scaling.is_empty() {
        Vec::new()
    } else {
        gallery_scaling(&tag, &args.gallery_scaling, args.gallery_queries)?
    };
    if let Some(path) = &args.json {
        let cfg = pipeline.config();
        let report = json!({
            "detector": cfg.detector.kind,
            "detector_model": cfg.detector.model,
            "embedder_model": cfg.embedder.model,
            "provider": pipeline.runtime().provider().to_string(),
            "intra_threads": pipeline.runtime().intra_threads(),
            "gallery_people": args.gallery_people,
            "configs": reports,
            "frames": frames_written,
            "gallery_scaling": scaling,
            "vm_hwm_mib": proc_status_mib("VmHWM:"),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&report)?).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
