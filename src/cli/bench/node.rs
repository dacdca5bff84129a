//! `facerec bench-node`: the whole node under camera load, over ROS 2.
//!
//! Starts `facerec_node` as its own process on a private ROS domain (localhost only), then
//! from this process publishes N cameras at a fixed rate (composed VGA frames of fixture
//! portraits, restamped with the wall clock) and listens to `~/detections` and `/diagnostics`.
//! Reports, for a measured window: frames sent, received and processed by the node, frames the
//! node replaced before processing (dropped) and lost on the way, and image-to-detection latency
//! from the headers (p50/p99), next to one frame's processing time measured here beforehand.
//! Queue growth shows as latency rising over the window, so the first and last quarters are
//! compared.
//!
//! Soak mode (`--soak-minutes M`): the same load for M minutes while this process enrolls a
//! person through `~/enroll` (from an image in the request) and forgets the previous one
//! through `~/forget` every `--churn-s` seconds; the report adds, per minute, the node's
//! resident memory and the detection latency, so drift shows. Binary-only: a benchmark
//! harness, no library logic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use facerec::frame::{Frame, FrameLimits};
use facerec::gallery::Gallery;
use facerec::ros::dds;
use facerec::ros::msgs::{
    CompressedImage, Detection2DArray, DiagnosticArray, Enroll, EnrollRequest, Forget, ForgetRequest, Header, Image,
    Time,
};
use facerec::ros::play::{image_qos, ImageMessage, ImagePublisher};
use facerec::ros::RosEnv;
use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{QosProfile, ServiceMapping};
use serde::Serialize;
use tokio::sync::mpsc;

use super::{compose, face_crops, parse_size, stat, Stat};
use crate::cli::common::PipelineOpts;

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
    /// Soak: run the load this many minutes (instead of --seconds) with gallery changes, and
    /// report memory and latency per minute.
    #[arg(long, default_value_t = 0.0)]
    pub soak_minutes: f64,
    /// Soak: seconds between gallery changes (each enrolls a new person and forgets the one
    /// before).
    #[arg(long, default_value_t = 5.0)]
    pub churn_s: f64,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    soak: Option<SoakReport>,
}

/// One minute of a soak run.
#[derive(Debug, Serialize, Clone)]
struct SoakMinute {
    minute: usize,
    /// The node's resident memory at the end of the minute (VmRSS).
    node_rss_mib: f64,
    /// Detections received for frames stamped in this minute, and their latency.
    detections: usize,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
}

#[derive(Debug, Serialize, Clone, Default)]
struct SoakReport {
    minutes: Vec<SoakMinute>,
    enrolls_ok: u64,
    enrolls_failed: u64,
    forgets_ok: u64,
    forgets_failed: u64,
    /// Time from request to answer, enrolls and forgets together.
    service: Option<Stat>,
    node_rss_start_mib: f64,
    node_rss_end_mib: f64,
    node_rss_max_mib: f64,
    /// Last minute's p50 latency minus the first minute's.
    latency_p50_drift_ms: f64,
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
            // The node's own conversion, so the single-frame time includes what the node does.
            ImageMessage::Raw(i) => {
                Frame::from_image_message_bytes(&i.encoding, i.width, i.height, i.step, &i.data, FrameLimits::default())
            }
            ImageMessage::Compressed(c) => Frame::from_compressed_message(&c.format, &c.data, FrameLimits::default()),
        })
        .collect::<Result<_, _>>()?;
    let mut samples = Vec::new();
    for round in 0..11 {
        for frame in &frames {
            let start = Instant::now();
            let faces = pipeline.analyze(frame)?.faces;
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
             model: \"{}\"\n    diagnostics_period_s: 0.5\n    service_mapping: enhanced\n",
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

/// The load a run sends: each camera's frames, the soak's enrolment images, and one frame's
/// time through the pipeline alone (the baseline the node's latency is compared with).
struct Load {
    messages: Vec<Vec<ImageMessage>>,
    enroll_images: Vec<Image>,
    single_frame: Stat,
    provider: String,
}

/// Step 0: frames composed from the portraits, as messages, and the single-frame baseline.
fn prepare_load(opts: &PipelineOpts, args: &NodeBenchArgs, size: (u32, u32)) -> anyhow::Result<Load> {
    let mut pipeline = opts.pipeline()?;
    let crops = face_crops(&mut pipeline, &args.portraits)?;
    drop(pipeline);
    // Soak enrolments: one portrait per request, VGA, in turn.
    let enroll_images: Vec<Image> = (0..crops.len().min(8))
        .map(|k| {
            let mut rotated = crops.clone();
            rotated.rotate_left(k);
            let rgb = compose(&rotated, 640, 480, 1);
            Image {
                header: Header::default(),
                height: 480,
                width: 640,
                encoding: "rgb8".to_owned(),
                is_bigendian: 0,
                step: 640 * 3,
                data: rgb.into_raw(),
            }
        })
        .collect();
    let messages: Vec<Vec<ImageMessage>> = (0..args.cameras)
        .map(|c| camera_messages(&crops, c, size, args.faces, args.compressed))
        .collect::<Result<_, _>>()?;
    let (single_frame, provider) = single_frame_time(opts, &messages)?;
    Ok(Load {
        messages,
        enroll_images,
        single_frame,
        provider,
    })
}

pub fn run(opts: &PipelineOpts, args: &NodeBenchArgs) -> anyhow::Result<()> {
    if args.cameras == 0 || args.fps.is_nan() || args.fps <= 0.0 || args.seconds.is_nan() || args.seconds <= 0.0 {
        bail!("--cameras, --fps and --seconds must be positive");
    }
    if args.soak_minutes.is_nan() || args.soak_minutes < 0.0 || args.churn_s.is_nan() || args.churn_s <= 0.0 {
        bail!("--soak-minutes must be 0 or more and --churn-s positive");
    }
    let size = parse_size(&args.size)?;
    let load = prepare_load(opts, args, size)?;
    let single = load.single_frame;
    let provider = &load.provider;
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
    let result = runtime.block_on(measure(args, &load, &topics, domain, &mut node));
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

/// This process's end of the ROS graph during a run: one publisher per camera topic, the
/// node's `~/detections` (as `(camera, stamp ns, arrival ns)`) and the newest `/diagnostics`
/// counters and windows per camera topic.
struct Peer {
    context: ros2_client::Context,
    node: ros2_client::Node,
    spin: tokio::task::JoinHandle<()>,
    publishers: Vec<Arc<ImagePublisher>>,
    detections: mpsc::UnboundedReceiver<(usize, i64, i64)>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    counters: Arc<std::sync::Mutex<BTreeMap<String, NodeCounters>>>,
    windows: Arc<std::sync::Mutex<BTreeMap<String, Vec<NodeWindow>>>>,
}

impl Peer {
    /// Joins the run's private domain (localhost only) as `/facerec_bench_cameras`.
    fn join(args: &NodeBenchArgs, topics: &[String], domain: u16) -> anyhow::Result<Self> {
        let env = RosEnv::from_lookup(|k| match k {
            "ROS_DOMAIN_ID" => Some(domain.to_string()),
            "ROS_LOCALHOST_ONLY" => Some("1".to_owned()),
            _ => None,
        })?;
        let context = dds::context(&env)?;
        let mut node = dds::node(&context, "/", "facerec_bench_cameras")?;
        let spinner = dds::spinner(&mut node)?;
        let spin = tokio::spawn(async move {
            let _ = spinner.spin().await;
        });
        let publishers: Vec<Arc<ImagePublisher>> = topics
            .iter()
            .map(|t| ImagePublisher::new(&mut node, t, !args.compressed, image_qos(true)).map(Arc::new))
            .collect::<Result<_, _>>()?;
        let reliable = QosProfile::subscription_default()
            .reliability_reliable(WhenFull::DEFAULT)
            .durability(Durability::Volatile)
            .history(History::KeepLast { depth: 100 });
        let detections =
            dds::subscription::<Detection2DArray>(&mut node, &format!("{NS}/facerec/detections"), reliable.clone())?;
        let diagnostics = dds::subscription::<DiagnosticArray>(&mut node, "/diagnostics", reliable)?;

        let (det_tx, det_rx) = mpsc::unbounded_channel::<(usize, i64, i64)>();
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
        Ok(Self {
            context,
            node,
            spin,
            publishers,
            detections: det_rx,
            tasks: vec![det_task, diag_task],
            counters,
            windows,
        })
    }

    /// The newest node counters per camera topic.
    fn snapshot(&self) -> BTreeMap<String, NodeCounters> {
        self.counters.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Publishes every camera's frames at `args.fps` for `duration` (cameras offset within a
    /// period), counting successful writes per camera in `sent`.
    fn publish_for(
        &self,
        args: &NodeBenchArgs,
        messages: &[Vec<ImageMessage>],
        duration: Duration,
        sent: &Arc<Vec<AtomicU64>>,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let period = Duration::from_secs_f64(1.0 / args.fps);
        let mut tasks = Vec::new();
        for (c, publisher) in self.publishers.iter().enumerate() {
            let publisher = Arc::clone(publisher);
            let frames: Vec<ImageMessage> = messages.get(c).cloned().unwrap_or_default();
            let sent = Arc::clone(sent);
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
    }

    /// Stops the tasks holding DDS entities, then drops the entities before the context.
    /// Returns the diagnostics windows received per camera topic.
    async fn leave(self) -> BTreeMap<String, Vec<NodeWindow>> {
        let Self {
            context,
            node,
            spin,
            publishers,
            tasks,
            windows,
            ..
        } = self;
        for task in tasks.into_iter().chain([spin]) {
            task.abort();
            let _ = task.await;
        }
        drop(publishers);
        drop(node);
        drop(context);
        windows.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

fn new_counts(cameras: usize) -> Arc<Vec<AtomicU64>> {
    Arc::new((0..cameras).map(|_| AtomicU64::new(0)).collect())
}

/// Step 1: full rate until every camera has been answered, then 3 s more; then quiet, so the
/// counters snapshot taken next is exact.
async fn warm_up(
    peer: &mut Peer,
    args: &NodeBenchArgs,
    messages: &[Vec<ImageMessage>],
    domain: u16,
) -> anyhow::Result<()> {
    eprintln!("waiting for facerec_node (domain {domain}) to answer every camera ...");
    let warm = peer.publish_for(args, messages, START_TIMEOUT, &new_counts(args.cameras));
    let started = Instant::now();
    let mut answered = vec![false; args.cameras];
    while !answered.iter().all(|a| *a) {
        if started.elapsed() > START_TIMEOUT {
            warm.iter().for_each(|t| t.abort());
            bail!("the node did not answer every camera within {START_TIMEOUT:?}");
        }
        if let Ok(Some((c, _, _))) = tokio::time::timeout(Duration::from_secs(1), peer.detections.recv()).await {
            if let Some(a) = answered.get_mut(c) {
                *a = true;
            }
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    warm.iter().for_each(|t| t.abort());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    while peer.detections.try_recv().is_ok() {}
    Ok(())
}

/// What the measured window produced, before it is summarised.
struct Window {
    start_ns: i64,
    end_ns: i64,
    sent: Arc<Vec<AtomicU64>>,
    before: BTreeMap<String, NodeCounters>,
    after: BTreeMap<String, NodeCounters>,
    /// Per camera: (stamp ns, image-to-detection latency) of the frames sent in the window.
    latencies: Vec<Vec<(i64, Duration)>>,
    soak: Option<SoakReport>,
}

/// Step 2: the measured window (with the soak's gallery changes), then a drain of the
/// answers in flight and two diagnostics periods.
async fn measured_window(
    peer: &mut Peer,
    args: &NodeBenchArgs,
    messages: &[Vec<ImageMessage>],
    enroll_images: &[Image],
    node_process: &NodeProcess,
) -> anyhow::Result<Window> {
    let before = peer.snapshot();
    let soaking = args.soak_minutes > 0.0;
    let window = if soaking {
        Duration::from_secs_f64(args.soak_minutes * 60.0)
    } else {
        Duration::from_secs_f64(args.seconds)
    };
    eprintln!(
        "measuring {:.0} s: {} camera(s) x {} frames/s{} ...",
        window.as_secs_f64(),
        args.cameras,
        args.fps,
        if soaking {
            format!(", a gallery change every {} s", args.churn_s)
        } else {
            String::new()
        }
    );
    let start_ns = wall_ns();
    let sent = new_counts(args.cameras);
    let tasks = peer.publish_for(args, messages, window, &sent);
    let mut soak = None;
    if soaking {
        let pid = node_process.child.id();
        soak = Some(churn(&mut peer.node, enroll_images, args.churn_s, window, pid).await?);
    }
    for t in tasks {
        let _ = t.await;
    }
    let end_ns = wall_ns();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = peer.snapshot();
    let mut latencies: Vec<Vec<(i64, Duration)>> = vec![Vec::new(); args.cameras];
    while let Ok((c, stamp, arrival)) = peer.detections.try_recv() {
        if (start_ns..=end_ns).contains(&stamp) {
            if let Some(l) = latencies.get_mut(c) {
                l.push((stamp, Duration::from_nanos(u64::try_from(arrival - stamp).unwrap_or(0))));
            }
        }
    }
    Ok(Window {
        start_ns,
        end_ns,
        sent,
        before,
        after,
        latencies,
        soak,
    })
}

/// Step 3: each camera's frames sent, received, processed, dropped and lost, and its
/// latencies, next to the node's own diagnostics of the window.
fn camera_reports(topics: &[String], w: &Window, diagnostics: &BTreeMap<String, Vec<NodeWindow>>) -> Vec<CameraReport> {
    let mut per_camera = Vec::new();
    for (c, topic) in topics.iter().enumerate() {
        let b = w.before.get(topic).copied().unwrap_or_default();
        let a = w.after.get(topic).copied().unwrap_or_default();
        let mut l = w.latencies.get(c).cloned().unwrap_or_default();
        l.sort_by_key(|(stamp, _)| *stamp);
        let sent = w.sent.get(c).map_or(0, |n| n.load(Ordering::Relaxed));
        let node_received = a.received.saturating_sub(b.received);
        // Diagnostics windows that ended inside the measured window (plus the drain).
        let node_windows: Vec<&NodeWindow> = diagnostics
            .get(topic)
            .into_iter()
            .flatten()
            .filter(|nw| nw.at_ns > w.start_ns && nw.processed_hz > 0.0)
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
    per_camera
}

/// Step 4 (soak): the detection latency of each minute, and its drift over the soak.
fn soak_latencies(s: &mut SoakReport, latencies: &[Vec<(i64, Duration)>], start_ns: i64) {
    let mut stamped: Vec<(i64, Duration)> = latencies.iter().flatten().copied().collect();
    stamped.sort_by_key(|(stamp, _)| *stamp);
    for m in &mut s.minutes {
        let from = start_ns + i64::try_from(m.minute).unwrap_or(0) * 60_000_000_000;
        let part: Vec<Duration> = stamped
            .iter()
            .filter(|(stamp, _)| (from..from + 60_000_000_000).contains(stamp))
            .map(|(_, d)| *d)
            .collect();
        let st = stat(&part);
        m.detections = part.len();
        m.latency_p50_ms = st.median_ms;
        m.latency_p99_ms = st.p99_ms;
    }
    let p50s: Vec<f64> = s
        .minutes
        .iter()
        .filter(|m| m.detections > 0)
        .map(|m| m.latency_p50_ms)
        .collect();
    s.latency_p50_drift_ms = match (p50s.first(), p50s.last()) {
        (Some(a), Some(b)) => b - a,
        _ => f64::NAN,
    };
}

/// The node under camera load, in steps: join the graph, warm up, the measured window, leave
/// the graph, then the per-camera, soak and overall figures.
async fn measure(
    args: &NodeBenchArgs,
    load: &Load,
    topics: &[String],
    domain: u16,
    node_process: &mut NodeProcess,
) -> anyhow::Result<Report> {
    let mut peer = Peer::join(args, topics, domain)?;
    warm_up(&mut peer, args, &load.messages, domain).await?;
    let mut window = measured_window(&mut peer, args, &load.messages, &load.enroll_images, node_process).await?;
    let diagnostics = peer.leave().await;
    let per_camera = camera_reports(topics, &window, &diagnostics);
    if !matches!(node_process.child.try_wait(), Ok(None)) {
        bail!("facerec_node exited during the run");
    }
    if let Some(s) = window.soak.as_mut() {
        soak_latencies(s, &window.latencies, window.start_ns);
    }
    let all: Vec<Duration> = window.latencies.iter().flatten().map(|(_, d)| *d).collect();
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
        seconds: (window.end_ns - window.start_ns) as f64 / 1e9,
        provider: load.provider.clone(),
        single_frame: load.single_frame,
        per_camera,
        latency_all,
        p99_over_single_frame: p99 / load.single_frame.median_ms.max(1e-9),
        p99_over_node_pipeline: if n > 0.0 { p99 / (sum / n) } else { f64::NAN },
        soak: window.soak,
    })
}

/// The node's resident memory (VmRSS), MiB; NaN when it cannot be read.
fn node_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Soak: for `window`, every `every_s` seconds enroll `soak-<k>` from one of `images` (in the
/// request) and forget `soak-<k-1>`; samples the node's memory each minute.
async fn churn(
    node: &mut ros2_client::Node,
    images: &[Image],
    every_s: f64,
    window: Duration,
    pid: u32,
) -> anyhow::Result<SoakReport> {
    let qos = QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 10 });
    let enroll = dds::client::<Enroll>(
        node,
        ServiceMapping::Enhanced,
        &format!("{NS}/facerec/enroll"),
        qos.clone(),
    )?;
    let forget = dds::client::<Forget>(node, ServiceMapping::Enhanced, &format!("{NS}/facerec/forget"), qos)?;
    let wait = Duration::from_secs(60);
    tokio::time::timeout(wait, enroll.wait_for_service(node))
        .await
        .context("~/enroll did not appear")?;
    tokio::time::timeout(wait, forget.wait_for_service(node))
        .await
        .context("~/forget did not appear")?;

    let mut report = SoakReport {
        node_rss_start_mib: node_rss_mib(pid),
        ..SoakReport::default()
    };
    let mut rss_max = report.node_rss_start_mib;
    let mut service_times = Vec::new();
    let start = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(every_s));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut k = 0usize;
    let mut next_minute = 1usize;
    while start.elapsed() < window {
        ticker.tick().await;
        if let Some(image) = images.get(k % images.len().max(1)) {
            let t0 = Instant::now();
            let req = EnrollRequest {
                name: format!("soak-{k}"),
                image: image.clone(),
                ..EnrollRequest::default()
            };
            match tokio::time::timeout(wait, enroll.async_call_service(req)).await {
                Ok(Ok(r)) if r.success => report.enrolls_ok += 1,
                other => {
                    report.enrolls_failed += 1;
                    eprintln!("soak: enroll soak-{k} failed: {other:?}");
                }
            }
            service_times.push(t0.elapsed());
        }
        if k > 0 {
            let t0 = Instant::now();
            let req = ForgetRequest {
                name: format!("soak-{}", k - 1),
            };
            match tokio::time::timeout(wait, forget.async_call_service(req)).await {
                Ok(Ok(r)) if r.success => report.forgets_ok += 1,
                other => {
                    report.forgets_failed += 1;
                    eprintln!("soak: forget soak-{} failed: {other:?}", k - 1);
                }
            }
            service_times.push(t0.elapsed());
        }
        k += 1;
        let rss = node_rss_mib(pid);
        rss_max = rss_max.max(rss);
        if start.elapsed() >= Duration::from_secs(60 * next_minute as u64) || start.elapsed() >= window {
            report.minutes.push(SoakMinute {
                minute: next_minute - 1,
                node_rss_mib: rss,
                detections: 0,
                latency_p50_ms: f64::NAN,
                latency_p99_ms: f64::NAN,
            });
            eprintln!(
                "soak: minute {next_minute}: node RSS {rss:.1} MiB, {} enrolls / {} forgets ok, {} failed",
                report.enrolls_ok,
                report.forgets_ok,
                report.enrolls_failed + report.forgets_failed
            );
            next_minute += 1;
        }
    }
    report.node_rss_end_mib = node_rss_mib(pid);
    report.node_rss_max_mib = rss_max.max(report.node_rss_end_mib);
    report.service = (!service_times.is_empty()).then(|| stat(&service_times));
    // The last soak person is still enrolled: forget it so the gallery ends as it began.
    if k > 0 {
        let req = ForgetRequest {
            name: format!("soak-{}", k - 1),
        };
        if let Ok(Ok(r)) = tokio::time::timeout(wait, forget.async_call_service(req)).await {
            report.forgets_ok += u64::from(r.success);
        }
    }
    Ok(report)
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
    if let Some(s) = &r.soak {
        println!("\nsoak: per minute");
        println!("| minute | node RSS MiB | detections | latency p50 ms | p99 ms |");
        println!("| --- | --- | --- | --- | --- |");
        for m in &s.minutes {
            println!(
                "| {} | {:.1} | {} | {:.1} | {:.1} |",
                m.minute + 1,
                m.node_rss_mib,
                m.detections,
                m.latency_p50_ms,
                m.latency_p99_ms
            );
        }
        let (sp50, smax) = s
            .service
            .as_ref()
            .map_or((f64::NAN, f64::NAN), |x| (x.median_ms, x.p99_ms));
        println!(
            "soak: node RSS {:.1} -> {:.1} MiB (max {:.1}); latency p50 drift {:+.1} ms (last minute - first); \
             enrolls {} ok / {} failed, forgets {} ok / {} failed; service answer p50 {:.0} ms, p99 {:.0} ms",
            s.node_rss_start_mib,
            s.node_rss_end_mib,
            s.node_rss_max_mib,
            s.latency_p50_drift_ms,
            s.enrolls_ok,
            s.enrolls_failed,
            s.forgets_ok,
            s.forgets_failed,
            sp50,
            smax
        );
    }
}
