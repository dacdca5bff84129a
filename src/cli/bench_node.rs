//! `facerec bench-node`: the whole node under camera load, over ROS 2.
//!
//! Starts `facerec_node` as its own process on a private ROS domain (localhost only), then
//! from this process publishes N cameras at a fixed rate (composed VGA frames of fixture
//! portraits, restamped with the wall clock) and listens to `~/detections` and `/diagnostics`.
//! Reports, for a measured window: frames sent, received and processed by the node, frames the
//! node replaced before processing (dropped) and lost on the way, and image-to-detection latency
//! from the headers (p50/p99), next to one frame's processing time measured here beforehand.
//! Queue growth shows as latency rising over the window, so the first and last quarters are
//! compared. Binary-only: a benchmark harness, no library logic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use facerec::frame::{Frame, PixelFormat};
use facerec::gallery::Gallery;
use facerec::ros::dds;
use facerec::ros::msgs::{CompressedImage, Detection2DArray, DiagnosticArray, Header, Image, Time};
use facerec::ros::play::{image_qos, ImageMessage, ImagePublisher};
use facerec::ros::RosEnv;
use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::QosProfile;
use serde::Serialize;
use tokio::sync::mpsc;

use super::bench::{compose, face_crops, parse_size, stat, Stat};
use super::common::PipelineOpts;

#[derive(Debug, Clone, Args)]
pub struct NodeBenchArgs {
    /// Cameras publishing at once.
    #[arg(long, default_value_t = 2)]
    pub cameras: usize,
    /// Frames per second per camera.
    #[arg(long, default_value_t = 30.0)]
    pub fps: f64,
    /// Frame size (vga, 720p, 1080p or WxH).
    #[arg(long, default_value = "vga")]
    pub size: String,
    /// Faces per frame.
    #[arg(long, default_value_t = 1)]
    pub faces: usize,
    /// Length of the measured window, seconds.
    #[arg(long, default_value_t = 20.0)]
    pub seconds: f64,
    /// The node's `workers` parameter (the shipped config/facerec.yaml has 1).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Publish JPEG `CompressedImage` (quality 90) instead of raw rgb8 `Image`.
    #[arg(long)]
    pub compressed: bool,
    /// Folder (searched recursively) of one-person photos that the frames are built from.
    #[arg(long, default_value = "tests/fixtures/faces/by_identity")]
    pub portraits: PathBuf,
    /// The node binary (default: `facerec_node` next to this binary).
    #[arg(long)]
    pub node_bin: Option<PathBuf>,
    /// ROS domain for the run (default: one derived from the process id, 150..199).
    #[arg(long)]
    pub domain: Option<u16>,
    /// Write the report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// Distinct frames each camera cycles through.
const FRAMES_PER_CAMERA: usize = 4;
const NS: &str = "/bench";
/// Longest wait for the node to answer its first frames (model loading, discovery).
const START_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Serialize, Default, Clone)]
struct CameraReport {
    topic: String,
    sent: u64,
    /// From the node's /diagnostics counters over the window.
    node_received: u64,
    node_processed: u64,
    node_dropped: u64,
    /// Sent but never seen by the node (lost in transport).
    lost: u64,
    /// Detection arrays received here for frames of the window.
    detections_received: u64,
    latency: Option<Stat>,
    latency_first_quarter_p50_ms: f64,
    latency_last_quarter_p50_ms: f64,
    /// Inside the node, over the window (from /diagnostics, weighted by frames processed):
    /// mean face-pipeline time per frame, and mean time from a frame's arrival to publication.
    node_pipeline_ms_mean: f64,
    node_arrival_to_publish_ms_mean: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    cameras: usize,
    fps_per_camera: f64,
    size: String,
    faces_per_frame: usize,
    transport: &'static str,
    workers: usize,
    seconds: f64,
    provider: String,
    /// One frame's pipeline time in this process, before the node started (no load).
    single_frame: Stat,
    per_camera: Vec<CameraReport>,
    latency_all: Option<Stat>,
    /// p99 latency / median single-frame time alone (target <= 2).
    p99_over_single_frame: f64,
    /// p99 latency / the node's own mean pipeline time per frame during the window (the
    /// processing time under this load, CPU shared with the cameras' process).
    p99_over_node_pipeline: f64,
}

/// The node process, killed when dropped.
struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines
            .get(lines.len().saturating_sub(20)..)
            .unwrap_or_default()
            .join("\n")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counters of one camera from the newest `/diagnostics` message.
#[derive(Debug, Clone, Copy, Default)]
struct NodeCounters {
    received: u64,
    processed: u64,
    dropped: u64,
}

/// One `/diagnostics` window of a camera: when it arrived (wall ns), frames processed per
/// second, mean pipeline time and mean arrival-to-publication time inside the node.
#[derive(Debug, Clone, Copy)]
struct NodeWindow {
    at_ns: i64,
    processed_hz: f64,
    pipeline_ms: f64,
    latency_ms: f64,
}

/// The camera's frames as ready-to-publish messages (stamp and frame id set at publication).
fn camera_messages(
    crops: &[image::RgbImage],
    camera: usize,
    (w, h): (u32, u32),
    faces: usize,
    compressed: bool,
) -> anyhow::Result<Vec<ImageMessage>> {
    let mut out = Vec::new();
    for k in 0..FRAMES_PER_CAMERA {
        let mut rotated = crops.to_vec();
        rotated.rotate_left((camera * FRAMES_PER_CAMERA + k) % crops.len().max(1));
        let rgb = compose(&rotated, w, h, faces);
        out.push(if compressed {
            let mut data = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut data, 90).encode_image(&rgb)?;
            ImageMessage::Compressed(CompressedImage {
                header: Header::default(),
                format: "jpeg".to_owned(),
                data,
            })
        } else {
            ImageMessage::Raw(Image {
                header: Header::default(),
                height: h,
                width: w,
                encoding: "rgb8".to_owned(),
                is_bigendian: 0,
                step: w * 3,
                data: rgb.into_raw(),
            })
        });
    }
    Ok(out)
}

fn stamped(msg: &ImageMessage, frame_id: &str) -> ImageMessage {
    let header = Header {
        stamp: Time::now(),
        frame_id: frame_id.to_owned(),
    };
    match msg {
        ImageMessage::Raw(m) => ImageMessage::Raw(Image { header, ..m.clone() }),
        ImageMessage::Compressed(m) => ImageMessage::Compressed(CompressedImage { header, ..m.clone() }),
    }
}

/// One frame's pipeline time (analyze + naming against an empty gallery), no other load.
/// Compressed frames are decoded beforehand, outside the timing.
fn single_frame_time(opts: &PipelineOpts, messages: &[Vec<ImageMessage>]) -> anyhow::Result<(Stat, String)> {
    let mut pipeline = opts.pipeline()?;
    let provider = pipeline.runtime().provider().to_string();
    let gallery = Gallery::in_memory();
    let frames: Vec<Frame> = messages
        .iter()
        .flatten()
        .map(|m| match m {
            ImageMessage::Raw(i) => Frame::from_raw(i.width, i.height, i.step as usize, PixelFormat::Rgb8, &i.data),
            ImageMessage::Compressed(c) => Frame::decode(&c.data),
        })
        .collect::<Result<_, _>>()?;
    let mut samples = Vec::new();
    for round in 0..11 {
        for frame in &frames {
            let start = Instant::now();
            let (faces, _) = pipeline.analyze(frame)?;
            let _named = pipeline.name_faces(faces, &gallery);
            if round > 0 {
                samples.push(start.elapsed());
            }
        }
    }
    Ok((stat(&samples), provider))
}

fn spawn_node(
    args: &NodeBenchArgs,
    opts: &PipelineOpts,
    topics: &[String],
    domain: u16,
    dir: &Path,
) -> anyhow::Result<NodeProcess> {
    let bin = match &args.node_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()?.with_file_name("facerec_node"),
    };
    if !bin.exists() {
        bail!(
            "{} not found: build it (cargo build --release --bin facerec_node) or pass --node-bin",
            bin.display()
        );
    }
    let config = opts.config()?;
    let cameras: Vec<String> = topics.iter().map(|t| format!("\"{t}\"")).collect();
    let params = dir.join("params.yaml");
    std::fs::write(
        &params,
        format!(
            "/**:\n  ros__parameters:\n    cameras: [{}]\n    gallery: \"{}\"\n    workers: {}\n    threads: {}\n    \
             execution_provider: \"{}\"\n    detector:\n      kind: {}\n      model: \"{}\"\n    embedder:\n      \
             model: \"{}\"\n    diagnostics_period_s: 0.5\n",
            cameras.join(", "),
            dir.join("gallery.yaml").display(),
            args.workers,
            config.runtime.intra_threads,
            config.runtime.provider,
            serde_json::to_string(&config.detector.kind)?,
            config.detector.model.display(),
            config.embedder.model.display(),
        ),
    )?;
    let log = dir.join("node.log");
    let child = Command::new(&bin)
        .args(["--ros-args", "--params-file"])
        .arg(&params)
        .args(["-r", &format!("__ns:={NS}")])
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
        .env("RUST_LOG", "facerec=info,warn")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    Ok(NodeProcess { child, log })
}

fn wall_ns() -> i64 {
    Time::now().to_nanos()
}

fn quarter_p50(latencies: &[(i64, Duration)], from: f64, to: f64) -> f64 {
    let n = latencies.len() as f64;
    let part: Vec<Duration> = latencies
        .iter()
        .enumerate()
        .filter(|(i, _)| (*i as f64) >= from * n && (*i as f64) < to * n)
        .map(|(_, (_, l))| *l)
        .collect();
    stat(&part).median_ms
}

pub fn run(opts: &PipelineOpts, args: &NodeBenchArgs) -> anyhow::Result<()> {
    if args.cameras == 0 || !(args.fps > 0.0) || !(args.seconds > 0.0) {
        bail!("--cameras, --fps and --seconds must be positive");
    }
    let size = parse_size(&args.size)?;
    let (messages, single, provider) = {
        let mut pipeline = opts.pipeline()?;
        let crops = face_crops(&mut pipeline, &args.portraits)?;
        drop(pipeline);
        let messages: Vec<Vec<ImageMessage>> = (0..args.cameras)
            .map(|c| camera_messages(&crops, c, size, args.faces, args.compressed))
            .collect::<Result<_, _>>()?;
        let (single, provider) = single_frame_time(opts, &messages)?;
        (messages, single, provider)
    };
    eprintln!(
        "one frame ({} {}, {} face(s)) alone: median {:.1} ms, p99 {:.1} ms ({provider})",
        args.size,
        if args.compressed { "jpeg" } else { "rgb8" },
        args.faces,
        single.median_ms,
        single.p99_ms
    );

    let suffix = if args.compressed {
        "image_raw/compressed"
    } else {
        "image_raw"
    };
    let topics: Vec<String> = (0..args.cameras).map(|c| format!("/bench/cam{c}/{suffix}")).collect();
    let domain = args
        .domain
        .unwrap_or(150 + u16::try_from(std::process::id() % 50).unwrap_or(0));
    let dir = std::env::temp_dir().join(format!("facerec-bench-node-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut node = spawn_node(args, opts, &topics, domain, &dir)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(args, &messages, &topics, domain, &mut node, single, provider));
    let report = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("---- facerec_node log (last lines) ----\n{}", node.log_tail());
            return Err(e);
        }
    };
    drop(node);
    let _ = std::fs::remove_dir_all(&dir);
    print_report(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

async fn measure(
    args: &NodeBenchArgs,
    messages: &[Vec<ImageMessage>],
    topics: &[String],
    domain: u16,
    node_process: &mut NodeProcess,
    single_frame: Stat,
    provider: String,
) -> anyhow::Result<Report> {
    let env = RosEnv::from_lookup(|k| match k {
        "ROS_DOMAIN_ID" => Some(domain.to_string()),
        "ROS_LOCALHOST_ONLY" => Some("1".to_owned()),
        _ => None,
    })?;
    let context = dds::context(&env).map_err(anyhow::Error::msg)?;
    let mut node = dds::node(&context, "/", "facerec_bench_cameras").map_err(anyhow::Error::msg)?;
    let spinner = node.spinner().map_err(|e| anyhow::anyhow!("spinner: {e:?}"))?;
    let spin = tokio::spawn(async move {
        let _ = spinner.spin().await;
    });
    let publishers: Vec<Arc<ImagePublisher>> = topics
        .iter()
        .map(|t| ImagePublisher::new(&mut node, t, !args.compressed, image_qos(true)).map(Arc::new))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let reliable = QosProfile::subscription_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 100 });
    let detections =
        dds::subscription::<Detection2DArray>(&mut node, &format!("{NS}/facerec/detections"), reliable.clone())
            .map_err(anyhow::Error::msg)?;
    let diagnostics =
        dds::subscription::<DiagnosticArray>(&mut node, "/diagnostics", reliable).map_err(anyhow::Error::msg)?;

    // Detection arrays: (camera, stamp ns, arrival ns).
    let (det_tx, mut det_rx) = mpsc::unbounded_channel::<(usize, i64, i64)>();
    let det_task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(detections.async_stream());
        while let Some(item) = stream.next().await {
            if let Ok((d, _)) = item {
                let now = wall_ns();
                if let Some(c) = d.header.frame_id.strip_prefix("bench_cam").and_then(|c| c.parse().ok()) {
                    if det_tx.send((c, d.header.stamp.to_nanos(), now)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    // Newest node counters per camera topic.
    let counters = Arc::new(std::sync::Mutex::new(BTreeMap::<String, NodeCounters>::new()));
    let windows = Arc::new(std::sync::Mutex::new(BTreeMap::<String, Vec<NodeWindow>>::new()));
    let diag_counters = Arc::clone(&counters);
    let diag_windows = Arc::clone(&windows);
    let diag_task = tokio::spawn(async move {
        let mut stream = std::pin::pin!(diagnostics.async_stream());
        while let Some(item) = stream.next().await {
            let Ok((msg, _)) = item else { continue };
            for status in msg.status {
                let get = |k: &str| status.values.iter().find(|kv| kv.key == k).map(|kv| kv.value.clone());
                let num = |k: &str| get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
                let float = |k: &str| get(k).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
                if let Some(topic) = get("topic") {
                    let w = NodeWindow {
                        at_ns: wall_ns(),
                        processed_hz: float("processed_hz"),
                        pipeline_ms: float("pipeline_ms_mean"),
                        latency_ms: float("latency_ms_mean"),
                    };
                    if let Ok(mut map) = diag_windows.lock() {
                        map.entry(topic.clone()).or_default().push(w);
                    }
                    let c = NodeCounters {
                        received: num("received"),
                        processed: num("processed"),
                        dropped: num("dropped"),
                    };
                    if let Ok(mut map) = diag_counters.lock() {
                        map.insert(topic, c);
                    }
                }
            }
        }
    });
    let snapshot = || counters.lock().map(|m| m.clone()).unwrap_or_default();

    let period = Duration::from_secs_f64(1.0 / args.fps);
    let publish_for = |duration: Duration, sent: Arc<Vec<AtomicU64>>| {
        let mut tasks = Vec::new();
        for (c, publisher) in publishers.iter().enumerate() {
            let publisher = Arc::clone(publisher);
            let frames: Vec<ImageMessage> = messages.get(c).cloned().unwrap_or_default();
            let sent = Arc::clone(&sent);
            let offset = period.mul_f64(c as f64 / args.cameras as f64);
            tasks.push(tokio::spawn(async move {
                let start = tokio::time::Instant::now() + offset;
                let mut ticker = tokio::time::interval_at(start, period);
                ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                let frame_id = format!("bench_cam{c}");
                let mut i = 0usize;
                while start.elapsed() < duration {
                    ticker.tick().await;
                    let Some(frame) = frames.get(i % frames.len().max(1)) else {
                        return;
                    };
                    i += 1;
                    if publisher.publish(stamped(frame, &frame_id)).is_ok() {
                        if let Some(n) = sent.get(c) {
                            n.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
        tasks
    };
    let new_counts = || Arc::new((0..args.cameras).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());

    // Warm-up: full rate until every camera has been answered, then 3 s more.
    eprintln!("waiting for facerec_node (domain {domain}) to answer every camera ...");
    let warm = publish_for(START_TIMEOUT, new_counts());
    let started = Instant::now();
    let mut answered = vec![false; args.cameras];
    while !answered.iter().all(|a| *a) {
        if started.elapsed() > START_TIMEOUT {
            warm.iter().for_each(|t| t.abort());
            bail!("the node did not answer every camera within {START_TIMEOUT:?}");
        }
        if let Ok(Some((c, _, _))) = tokio::time::timeout(Duration::from_secs(1), det_rx.recv()).await {
            if let Some(a) = answered.get_mut(c) {
                *a = true;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    warm.iter().for_each(|t| t.abort());
    // Quiet, so the counters snapshot is exact.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while det_rx.try_recv().is_ok() {}
    let before = snapshot();

    eprintln!(
        "measuring {:.0} s: {} camera(s) x {} frames/s ...",
        args.seconds, args.cameras, args.fps
    );
    let window_start = wall_ns();
    let sent = new_counts();
    let tasks = publish_for(Duration::from_secs_f64(args.seconds), Arc::clone(&sent));
    for t in tasks {
        let _ = t.await;
    }
    let window_end = wall_ns();
    // Drain: answers in flight and two diagnostics periods.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = snapshot();
    let mut latencies: Vec<Vec<(i64, Duration)>> = vec![Vec::new(); args.cameras];
    while let Ok((c, stamp, arrival)) = det_rx.try_recv() {
        if (window_start..=window_end).contains(&stamp) {
            if let Some(l) = latencies.get_mut(c) {
                l.push((stamp, Duration::from_nanos(u64::try_from(arrival - stamp).unwrap_or(0))));
            }
        }
    }
    // Stop the tasks holding DDS entities, and drop everything before the context.
    for task in [det_task, diag_task, spin] {
        task.abort();
        let _ = task.await;
    }
    drop(publishers);
    drop(node);
    drop(context);
    if !matches!(node_process.child.try_wait(), Ok(None)) {
        bail!("facerec_node exited during the run");
    }

    let mut per_camera = Vec::new();
    let mut all = Vec::new();
    for (c, topic) in topics.iter().enumerate() {
        let b = before.get(topic).copied().unwrap_or_default();
        let a = after.get(topic).copied().unwrap_or_default();
        let mut l = latencies.get(c).cloned().unwrap_or_default();
        l.sort_by_key(|(stamp, _)| *stamp);
        all.extend(l.iter().map(|(_, d)| *d));
        let sent = sent.get(c).map_or(0, |n| n.load(Ordering::Relaxed));
        let node_received = a.received.saturating_sub(b.received);
        // Diagnostics windows that ended inside the measured window (plus the drain).
        let node_windows: Vec<NodeWindow> = windows
            .lock()
            .map(|m| m.get(topic).cloned().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .filter(|w| w.at_ns > window_start && w.processed_hz > 0.0)
            .collect();
        let weight: f64 = node_windows.iter().map(|w| w.processed_hz).sum();
        let weighted = |f: fn(&NodeWindow) -> f64| {
            if weight > 0.0 {
                node_windows.iter().map(|w| f(w) * w.processed_hz).sum::<f64>() / weight
            } else {
                f64::NAN
            }
        };
        per_camera.push(CameraReport {
            topic: topic.clone(),
            sent,
            node_received,
            node_processed: a.processed.saturating_sub(b.processed),
            node_dropped: a.dropped.saturating_sub(b.dropped),
            lost: sent.saturating_sub(node_received),
            detections_received: l.len() as u64,
            latency: (!l.is_empty()).then(|| stat(&l.iter().map(|(_, d)| *d).collect::<Vec<_>>())),
            latency_first_quarter_p50_ms: quarter_p50(&l, 0.0, 0.25),
            latency_last_quarter_p50_ms: quarter_p50(&l, 0.75, 1.0),
            node_pipeline_ms_mean: weighted(|w| w.pipeline_ms),
            node_arrival_to_publish_ms_mean: weighted(|w| w.latency_ms),
        });
    }
    let latency_all = (!all.is_empty()).then(|| stat(&all));
    let p99 = latency_all.as_ref().map_or(f64::NAN, |l| l.p99_ms);
    let (mut sum, mut n) = (0.0, 0.0);
    for c in &per_camera {
        if c.node_pipeline_ms_mean.is_finite() {
            sum += c.node_pipeline_ms_mean * c.node_processed as f64;
            n += c.node_processed as f64;
        }
    }
    Ok(Report {
        cameras: args.cameras,
        fps_per_camera: args.fps,
        size: args.size.clone(),
        faces_per_frame: args.faces,
        transport: if args.compressed {
            "CompressedImage (jpeg q90)"
        } else {
            "Image (rgb8)"
        },
        workers: args.workers,
        seconds: (window_end - window_start) as f64 / 1e9,
        provider,
        single_frame,
        per_camera,
        latency_all,
        p99_over_single_frame: p99 / single_frame.median_ms.max(1e-9),
        p99_over_node_pipeline: if n > 0.0 { p99 / (sum / n) } else { f64::NAN },
    })
}

fn print_report(r: &Report) {
    println!(
        "\nnode under load: {} camera(s) x {} frames/s, {} {}, {} face(s)/frame, {} worker(s), {}; window {:.1} s",
        r.cameras, r.fps_per_camera, r.size, r.transport, r.faces_per_frame, r.workers, r.provider, r.seconds
    );
    println!(
        "| camera | sent | node received | processed | dropped (replaced) | lost in transport | latency p50 ms | p99 ms | p50 first/last quarter ms | node: pipeline / arrival-to-publish ms (mean) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for c in &r.per_camera {
        let (p50, p99) = c
            .latency
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |l| (l.median_ms, l.p99_ms));
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
            c.topic,
            c.sent,
            c.node_received,
            c.node_processed,
            c.node_dropped,
            c.lost,
            p50,
            p99,
            c.latency_first_quarter_p50_ms,
            c.latency_last_quarter_p50_ms,
            c.node_pipeline_ms_mean,
            c.node_arrival_to_publish_ms_mean
        );
    }
    if let Some(l) = &r.latency_all {
        println!(
            "all cameras: latency p50 {:.1} ms, p99 {:.1} ms; p99 / one frame alone ({:.1} ms median) = {:.2}; \
             p99 / node pipeline time under load = {:.2} (target <= 2)",
            l.median_ms, l.p99_ms, r.single_frame.median_ms, r.p99_over_single_frame, r.p99_over_node_pipeline
        );
    } else {
        println!("no detections arrived in the window");
    }
}
