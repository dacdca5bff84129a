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
use facerec::detect::Letterbox;
use facerec::frame::{Frame, PixelFormat};
use facerec::gallery::{Gallery, ModelTag, COARSE_MIN_ROWS};
use facerec::pipeline::Recognition;
use facerec::ros::msgs;
use facerec::Pipeline;
use image::RgbImage;
use serde::Serialize;
use serde_json::json;

use super::{compose, face_crops, parse_size, stat, Stat};

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
    /// Video-like input: replay this bag (e.g. tests/fixtures/bags/video_mcap) three ways, per
    /// frame, tracking with every face embedded, and tracking with embedding cadence, and report
    /// frames/s, embeddings and whether the names agree.
    #[arg(long)]
    pub video_bag: Option<PathBuf>,
    /// NAME:TOPIC:N enrolments for the video bag (as `facerec replay --enroll`).
    #[arg(long = "video-enroll")]
    pub video_enroll: Vec<String>,
    /// Replays of the video bag per mode (the fastest is reported).
    #[arg(long, default_value_t = 3)]
    pub video_repeats: usize,
}

/// One way of running the video bag.
#[derive(Debug, Serialize)]
struct VideoReport {
    mode: &'static str,
    frames: usize,
    faces: usize,
    embedded: usize,
    /// Fastest of the repeats: whole replay (JPEG decode, detection, embedding, tracking).
    seconds: f64,
    fps: f64,
    /// Faces whose name equals the one the tracker gives with every face embedded.
    same_names_as_embed_all: usize,
}

fn video_bench(
    pipeline: &mut Pipeline,
    bag: &Path,
    enroll: &[String],
    repeats: usize,
) -> anyhow::Result<Vec<VideoReport>> {
    use facerec::bag::BagReader;
    use facerec::replay::{EnrollSpec, ReplayRecord, Replayer};
    let enroll: Vec<EnrollSpec> = enroll
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .context("bad --video-enroll")?;
    let reader = BagReader::open(bag)?;
    let run = |pipeline: &mut Pipeline, mode: &str| -> anyhow::Result<(Vec<ReplayRecord>, usize, f64)> {
        let mut replayer = Replayer::new(pipeline, Gallery::in_memory(), enroll.clone())?;
        replayer = match mode {
            "per_frame" => replayer.without_tracking(),
            "track_embed_all" => replayer.embed_every_frame(true),
            _ => replayer,
        };
        let images: Vec<_> = reader.images(&[])?.collect();
        let t = Instant::now();
        let records: Vec<ReplayRecord> = images.into_iter().map(|i| replayer.process(i)).collect();
        let seconds = t.elapsed().as_secs_f64();
        Ok((records, replayer.summary().embedded, seconds))
    };
    let mut out = Vec::new();
    let mut reference: Option<Vec<ReplayRecord>> = None;
    for mode in ["track_embed_all", "per_frame", "track_cadence"] {
        let mut best: Option<(Vec<ReplayRecord>, usize, f64)> = None;
        for _ in 0..repeats.max(1) {
            let r = run(pipeline, mode)?;
            if best.as_ref().is_none_or(|b| r.2 < b.2) {
                best = Some(r);
            }
        }
        let Some((records, embedded, seconds)) = best else {
            continue;
        };
        let faces: usize = records.iter().map(|r| r.faces.len()).sum();
        let reference_records = reference.get_or_insert_with(|| records.clone());
        let same = records
            .iter()
            .zip(reference_records.iter())
            .map(|(a, b)| {
                a.faces
                    .iter()
                    .zip(&b.faces)
                    .filter(|(x, y)| x.name == y.name && x.bbox == y.bbox)
                    .count()
            })
            .sum();
        let frames = records.len();
        out.push(VideoReport {
            mode: match mode {
                "track_embed_all" => "track_embed_all",
                "per_frame" => "per_frame",
                _ => "track_cadence",
            },
            frames,
            faces,
            embedded,
            seconds,
            fps: if seconds > 0.0 { frames as f64 / seconds } else { 0.0 },
            same_names_as_embed_all: same,
        });
    }
    Ok(out)
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
    /// Detector passes the pipeline ran on this frame (2: a close or cut face took the bordered
    /// pass as well); the bare detector runs the same passes.
    detect_passes: u32,
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
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<f64>().ok()))
        })
        .map_or(0.0, |kib| kib / 1024.0)
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
    let entries = (0..people)
        .map(|i| (format!("p{i:07}"), vec![rng.unit_vector(tag.dim)]))
        .collect();
    gallery.add_many(entries)?;
    Ok(gallery)
}

fn to_bgr(rgb: &RgbImage) -> Vec<u8> {
    rgb.as_raw()
        .as_chunks::<3>()
        .0
        .iter()
        .flat_map(|&[r, g, b]| [b, g, r])
        .collect()
}

/// The node's outputs for a frame: facerec/FaceArray and vision_msgs/Detection2DArray, built by
/// the node's own conversions.
fn ros_messages(recs: &[Recognition]) -> (msgs::FaceArray, msgs::Detection2DArray) {
    use facerec::ros::node::convert;
    let header = msgs::Header {
        stamp: msgs::Time { sec: 1, nanosec: 2 },
        frame_id: "camera_optical".to_owned(),
    };
    (
        convert::face_array(recs, &header, "/camera/image_raw"),
        convert::detection_array(recs, &header),
    )
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
        Ok(Self {
            detector_input: name(&detector),
            embedder_input: name(&embedder),
            detector,
            embedder,
        })
    }

    fn run_detector(&mut self, shape: [i64; 4], data: &[f32]) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let tensor = ort::value::TensorRef::from_array_view((shape, data))?;
        let out = self
            .detector
            .run(ort::inputs![self.detector_input.as_str() => tensor])?;
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
            let out = self
                .embedder
                .run(ort::inputs![self.embedder_input.as_str() => tensor])?;
            elapsed += t.elapsed();
            std::hint::black_box(out.len());
        }
        Ok(elapsed)
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
    let first = pipeline.recognize(&frame0, gallery)?;
    let (recs0, detect_passes) = (first.faces, first.timings.detect_passes);

    // Bare-call inputs: the same tensors the pipeline builds, made once before timing: the plain
    // pass's input and, when the pipeline also took the bordered pass on this frame (a close or
    // cut face, `detector.border_pad`), that pass's input too, so both sides do the same work.
    let detector = &pipeline.config().detector;
    let mut det_inputs = Vec::new();
    let pads = if detect_passes > 1 {
        vec![0.0, detector.border_pad]
    } else {
        vec![0.0]
    };
    for pad in pads {
        let placement = pipeline.detector().placement(w, h, pad);
        let mut letterbox = Letterbox::default();
        letterbox.prepare(&frame0, &placement, detector.kind.input_norm())?;
        let shape = [
            1,
            3,
            i64::from(placement.input_height),
            i64::from(placement.input_width),
        ];
        det_inputs.push((shape, letterbox.tensor().to_vec()));
    }
    let crops: Vec<RgbImage> = recs0
        .iter()
        .filter_map(|r| align::align(&frame0, &r.detection.landmarks))
        .collect();
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
        let facerec::pipeline::Timed {
            faces: recs,
            timings: st,
        } = pipeline.recognize(&frame, gallery)?;
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

        let mut bare_detect = Duration::ZERO;
        for (shape, data) in &det_inputs {
            bare_detect += bare.run_detector(*shape, data)?;
        }
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
    let stages: Vec<(String, Stat)> = STAGES
        .iter()
        .zip(&samples)
        .map(|(n, s)| ((*n).to_owned(), stat(s)))
        .collect();
    let get = |name: &str| stages.iter().find(|(n, _)| n == name).map_or(0.0, |(_, s)| s.median_ms);
    ratios.sort_by(f64::total_cmp);
    Ok(ConfigReport {
        size: label.to_owned(),
        width: w,
        height: h,
        faces_placed: placed,
        faces_detected: recs0.len(),
        detect_passes,
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
            println!(
                "| {} | {}/{} | {} | {:.3} | {:.3} |",
                r.size, r.faces_placed, r.faces_detected, name, s.median_ms, s.p99_ms
            );
        }
        println!(
            "| {} | {}/{} | jpeg_decode (not in end_to_end) | {:.3} | {:.3} |",
            r.size, r.faces_placed, r.faces_detected, r.jpeg_decode.median_ms, r.jpeg_decode.p99_ms
        );
    }
    println!();
    println!("| frame | faces (placed/found) | detector passes | end-to-end median ms | p99 ms | frames/s | bare ORT ms | overhead ratio | per-frame ratio (median) | VmHWM MiB |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in reports {
        let s = |n: &str| r.stages.iter().find(|(k, _)| k == n).map(|(_, s)| *s);
        let (Some(e2e), Some(bare)) = (s("end_to_end"), s("bare_total")) else {
            continue;
        };
        println!(
            "| {} | {}/{} | {} | {:.2} | {:.2} | {:.1} | {:.2} | {:.3} | {:.3} | {:.0} |",
            r.size,
            r.faces_placed,
            r.faces_detected,
            r.detect_passes,
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
pub fn run(opts: &crate::cli::common::PipelineOpts, args: &BenchArgs) -> anyhow::Result<()> {
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
                    canvas
                        .save(&path)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    frames_written.push(json!({ "size": size, "faces": n, "path": path }));
                }
                let report = bench_config(&mut pipeline, &gallery, &mut bare, size, &canvas, n, args)?;
                eprintln!(
                    "{size} {n} faces ({} found, {} detector pass(es)): end-to-end {:.2} ms median, {:.1} frames/s, overhead {:.3}",
                    report.faces_detected,
                    report.detect_passes,
                    report
                        .stages
                        .iter()
                        .find(|(k, _)| k == "end_to_end")
                        .map_or(0.0, |(_, s)| s.median_ms),
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
    let video = match &args.video_bag {
        Some(bag) => {
            let v = video_bench(&mut pipeline, bag, &args.video_enroll, args.video_repeats)?;
            println!("\nvideo-like input: {}", bag.display());
            println!(
                "{:<16} {:>7} {:>6} {:>9} {:>9} {:>8} {:>22}",
                "mode", "frames", "faces", "embedded", "seconds", "frames/s", "names = embed-all"
            );
            for r in &v {
                println!(
                    "{:<16} {:>7} {:>6} {:>9} {:>9.2} {:>8.1} {:>22}",
                    r.mode,
                    r.frames,
                    r.faces,
                    r.embedded,
                    r.seconds,
                    r.fps,
                    format!("{}/{}", r.same_names_as_embed_all, r.faces)
                );
            }
            v
        }
        None => Vec::new(),
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
            "video": video,
            "vm_hwm_mib": proc_status_mib("VmHWM:"),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
