//! `facerec_node` end to end over DDS on loopback: the real binary runs on a private ROS domain
//! with `ROS_LOCALHOST_ONLY=1`; a ros2-client peer in this process publishes real photos
//! (tests/fixtures/faces) as `sensor_msgs/Image` and `CompressedImage`, reads
//! `~/detections`, `~/faces` and `/diagnostics`, and calls `~/enroll` (with an image, and from a
//! camera while frames keep coming), `~/list_people` and `~/forget`.
//!
//! A second test drives the node from the committed scenario bag through `facerec play`; a
//! third plays the people_mcap bag frame by frame into the node (tracking, anonymous ids, a
//! stranger named through `~/enroll` with `track_id`) and compares what it publishes with the
//! replay golden.
//!
//! Samples sent before DDS matching are lost, so every step republishes until the answer for
//! that step's frame (recognised by its `header.frame_id`) arrives, within bounded time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use facerec::ros::msgs::{
    CompressedImage, Detection2DArray, DiagnosticArray, Enroll, EnrollRequest, EnrollResponse, FaceArray, Forget,
    ForgetRequest, ForgetResponse, Header, Image, ListPeople, ListPeopleRequest, ListPeopleResponse, RosMessage,
    RosService,
};
use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Client, Context, Name, Node, NodeName, NodeOptions, Publisher, QosProfile, ServiceMapping};
use tokio::sync::mpsc;

const NS: &str = "/loopback";
const RAW: &str = "/cam_raw/image_raw";
const JPEG: &str = "/cam_jpeg/image_raw/compressed";
/// Longest wait for any one step (model loading, discovery and a frame through the pipeline).
const STEP_TIMEOUT: Duration = Duration::from_secs(90);

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/faces")
        .join(rel)
}

/// A photo as an rgb8 Image, scaled down so its longer side is at most `max_side`.
fn raw_image(rel: &str, max_side: u32, frame_id: &str) -> Image {
    let img = image::open(fixture(rel)).expect("fixture decodes").into_rgb8();
    let (w, h) = img.dimensions();
    let scale = (max_side as f32 / w.max(h) as f32).min(1.0);
    let img = if scale < 1.0 {
        let (nw, nh) = ((w as f32 * scale).round() as u32, (h as f32 * scale).round() as u32);
        image::imageops::resize(&img, nw, nh, image::imageops::FilterType::Triangle)
    } else {
        img
    };
    let (width, height) = img.dimensions();
    Image {
        header: header(frame_id),
        height,
        width,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: width * 3,
        data: img.into_raw(),
    }
}

fn jpeg_image(rel: &str, frame_id: &str) -> CompressedImage {
    CompressedImage {
        header: header(frame_id),
        format: "jpeg".into(),
        data: std::fs::read(fixture(rel)).expect("fixture"),
    }
}

fn header(frame_id: &str) -> Header {
    Header {
        stamp: facerec::ros::msgs::Time {
            sec: 1_700_000_000,
            nanosec: 42,
        },
        frame_id: frame_id.into(),
    }
}

/// The node under test, killed when dropped; its log goes to a file shown on failure.
struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    /// Starts `facerec_node` with the shipped config plus `params`, on `domain` (localhost only)
    /// in namespace `ns`, logging into `dir`.
    fn spawn(domain: u16, ns: &str, params: &Path, gallery: &Path, dir: &Path) -> Self {
        let log = dir.join("node.log");
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let child = Command::new(env!("CARGO_BIN_EXE_facerec_node"))
            .current_dir(manifest)
            .args(["--ros-args", "--params-file"])
            .arg(manifest.join("config/facerec.yaml"))
            .arg("--params-file")
            .arg(params)
            .arg("-p")
            .arg(format!("gallery:={}", gallery.display()))
            .args(["-r", &format!("__ns:={ns}")])
            .env("ROS_DOMAIN_ID", domain.to_string())
            .env("ROS_LOCALHOST_ONLY", "1")
            .env_remove("RMW_IMPLEMENTATION")
            .env_remove("ROS_AUTOMATIC_DISCOVERY_RANGE")
            .env("RUST_LOG", "facerec=debug,warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("facerec_node starts");
        Self { child, log }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("---- facerec_node log (last lines) ----\n{}", self.log_tail());
        }
    }
}

fn reliable(depth: usize) -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth })
}

struct Peer {
    node: Node,
    raw: Publisher<Image>,
    jpeg: Publisher<CompressedImage>,
    detections: mpsc::UnboundedReceiver<Detection2DArray>,
    faces: mpsc::UnboundedReceiver<FaceArray>,
    diagnostics: mpsc::UnboundedReceiver<DiagnosticArray>,
    annotated: mpsc::UnboundedReceiver<Image>,
    _context: Context,
}

fn subscribe<M>(node: &mut Node, topic: &str) -> mpsc::UnboundedReceiver<M>
where
    M: RosMessage + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let qos = reliable(10);
    let t = node
        .create_topic(&Name::parse(topic).expect("name"), M::type_name(), &qos)
        .expect("topic");
    let sub = node.create_subscription::<M>(&t, Some(qos)).expect("subscription");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut stream = std::pin::pin!(sub.async_stream());
        while let Some(item) = stream.next().await {
            if let Ok((msg, _)) = item {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

fn publisher<M: RosMessage + serde::Serialize>(node: &mut Node, topic: &str, qos: QosProfile) -> Publisher<M> {
    let t = node
        .create_topic(&Name::parse(topic).expect("name"), M::type_name(), &qos)
        .expect("topic");
    node.create_publisher::<M>(&t, Some(qos)).expect("publisher")
}

fn client<S: RosService>(node: &mut Node, name: &str) -> Client<S::Request, S::Response> {
    node.create_client::<S::Request, S::Response>(
        ServiceMapping::Enhanced,
        &Name::parse(name).expect("name"),
        &S::type_name(),
        reliable(10),
        reliable(10),
    )
    .expect("client")
}

/// A ros2-client node on `domain`, loopback only, with its spinner running.
fn peer_node(domain: u16, name: &str) -> (Context, Node) {
    let participant = rustdds::DomainParticipantBuilder::new(domain)
        .with_only_networks([IpAddr::V4(Ipv4Addr::LOCALHOST)])
        .build()
        .expect("participant");
    let context = Context::from_domain_participant(participant).expect("context");
    let mut node = context
        .new_node(
            NodeName::new("/", name).expect("name"),
            NodeOptions::new().enable_rosout(false),
        )
        .expect("node");
    let spinner = node.spinner().expect("spinner");
    tokio::spawn(async move {
        let _ = spinner.spin().await;
    });
    (context, node)
}

impl Peer {
    fn new(domain: u16) -> Self {
        let (context, mut node) = peer_node(domain, "loopback_peer");
        // Cameras publish best-effort, like a camera driver's sensor-data profile.
        let camera_qos = QosProfile::publisher_default()
            .reliability_best_effort()
            .history(History::KeepLast { depth: 1 });
        let raw = publisher(&mut node, RAW, camera_qos.clone());
        let jpeg = publisher(&mut node, JPEG, camera_qos);
        let detections = subscribe(&mut node, &format!("{NS}/facerec/detections"));
        let faces = subscribe(&mut node, &format!("{NS}/facerec/faces"));
        let diagnostics = subscribe(&mut node, "/diagnostics");
        let annotated = subscribe(&mut node, &format!("{NS}/facerec/annotated"));
        Self {
            node,
            raw,
            jpeg,
            detections,
            faces,
            diagnostics,
            annotated,
            _context: context,
        }
    }

    /// Publishes `send()` every 300 ms until a detection array for `frame_id` arrives; returns it
    /// with the matching face array.
    async fn frame_result(&mut self, frame_id: &str, send: impl Fn(&Self)) -> (Detection2DArray, FaceArray) {
        let start = Instant::now();
        let detections = loop {
            assert!(
                start.elapsed() < STEP_TIMEOUT,
                "no detections for frame '{frame_id}' within {STEP_TIMEOUT:?}"
            );
            send(self);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
            let mut found = None;
            while let Ok(Some(d)) = tokio::time::timeout_at(deadline, self.detections.recv()).await {
                if d.header.frame_id == frame_id {
                    found = Some(d);
                    break;
                }
            }
            if let Some(d) = found {
                break d;
            }
        };
        let faces = loop {
            let f = tokio::time::timeout(Duration::from_secs(10), self.faces.recv())
                .await
                .expect("faces follow detections")
                .expect("faces channel open");
            if f.header == detections.header {
                break f;
            }
        };
        (detections, faces)
    }

    async fn call<S: RosService>(&self, client: &Client<S::Request, S::Response>, req: S::Request) -> S::Response
    where
        S::Request: Send,
    {
        tokio::time::timeout(STEP_TIMEOUT, client.wait_for_service(&self.node))
            .await
            .expect("service appears");
        tokio::time::timeout(STEP_TIMEOUT, client.async_call_service(req))
            .await
            .expect("service answers in time")
            .expect("service call succeeds")
    }
}

fn names(d: &Detection2DArray) -> Vec<String> {
    let mut n: Vec<String> = d
        .detections
        .iter()
        .map(|d| d.results[0].hypothesis.class_id.clone())
        .collect();
    n.sort();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_over_dds_loopback() {
    let domain = 100 + u16::try_from(std::process::id() % 100).unwrap_or(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let gallery = dir.path().join("people.yaml");
    let params = dir.path().join("params.yaml");
    std::fs::write(
        &params,
        format!(
            "/**:\n  ros__parameters:\n    cameras: [\"{RAW}\", \"{JPEG}\"]\n    execution_provider: cpu\n    workers: 2\n    publish_annotated: true\n    \
             diagnostics_period_s: 0.5\n    enroll:\n      samples: 2\n      timeout_s: 20.0\n"
        ),
    )
    .expect("params file");
    let node = NodeProcess::spawn(domain, NS, &params, &gallery, dir.path());

    let mut peer = Peer::new(domain);
    let enroll = client::<Enroll>(&mut peer.node, &format!("{NS}/facerec/enroll"));
    let forget = client::<Forget>(&mut peer.node, &format!("{NS}/facerec/forget"));
    let list = client::<ListPeople>(&mut peer.node, &format!("{NS}/facerec/list_people"));

    // 1. Two people as a raw rgb8 image: two unknown faces, header copied, boxes in pixels.
    let couple = raw_image("group/couple.jpg", 1024, "couple_raw");
    let (w, h) = (f64::from(couple.width), f64::from(couple.height));
    let (d, f) = peer
        .frame_result("couple_raw", |p| p.raw.publish(couple.clone()).expect("publish"))
        .await;
    assert_eq!(d.detections.len(), 2, "{d:?}");
    assert_eq!(d.header, couple.header);
    assert_eq!(names(&d), vec!["unknown", "unknown"]);
    for det in &d.detections {
        assert_eq!(det.header, couple.header);
        let b = det.bbox;
        assert!(b.size_x > 20.0 && b.size_y > 20.0, "{b:?}");
        assert!(
            b.center.position.x > 0.0
                && b.center.position.x < w
                && b.center.position.y > 0.0
                && b.center.position.y < h
        );
    }
    assert_eq!(f.faces.len(), 2);
    assert!(f
        .faces
        .iter()
        .all(|face| face.camera_topic == RAW && face.name == "unknown" && face.detection_score > 0.5));

    // Issue 25: with tf.enabled false (the default) the node advertises no /tf publisher; its
    // other outputs, ~/annotated included (publish_annotated is on here), are in the graph.
    for topic in ["detections", "faces", "annotated"] {
        let name = format!("{NS}/facerec/{topic}");
        assert!(peer.node.publisher_count(&name) >= 1, "{name} not discovered");
    }
    assert_eq!(
        peer.node.publisher_count("/tf"),
        0,
        "a /tf publisher with tf.enabled false"
    );

    // The annotated image of that frame: same header and size, rgb8, boxes drawn (pixels differ).
    let start = Instant::now();
    let annotated = loop {
        assert!(start.elapsed() < STEP_TIMEOUT, "no annotated image");
        if let Ok(Some(img)) = tokio::time::timeout(Duration::from_secs(5), peer.annotated.recv()).await {
            if img.header == couple.header {
                break img;
            }
        }
    };
    assert_eq!(
        (
            annotated.width,
            annotated.height,
            annotated.step,
            annotated.encoding.as_str()
        ),
        (couple.width, couple.height, couple.step, "rgb8")
    );
    assert_eq!(annotated.data.len(), couple.data.len());
    assert_ne!(annotated.data, couple.data, "boxes are drawn");

    // 2. One person as a JPEG CompressedImage.
    let (d, f) = peer
        .frame_result("id01_jpeg", |p| {
            p.jpeg
                .publish(jpeg_image("by_identity/id01/img10.jpg", "id01_jpeg"))
                .expect("publish")
        })
        .await;
    assert_eq!(names(&d), vec!["unknown"]);
    assert_eq!(f.faces[0].camera_topic, JPEG);

    // 3. Enroll "alice" from an image in the request: stored on disk before the answer.
    let resp: EnrollResponse = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "alice".into(),
                image: raw_image("by_identity/id01/img11.jpg", 800, "req"),
                ..EnrollRequest::default()
            },
        )
        .await;
    assert!(resp.success, "{}", resp.message);
    assert_eq!(resp.samples_used, 1);
    let on_disk = std::fs::read_to_string(&gallery).expect("gallery written before the answer");
    assert!(on_disk.contains("alice"), "{on_disk}");

    // 4. The next frame of the same person (another photo) is named.
    let (d, f) = peer
        .frame_result("id01_named", |p| {
            p.jpeg
                .publish(jpeg_image("by_identity/id01/img10.jpg", "id01_named"))
                .expect("publish")
        })
        .await;
    assert_eq!(names(&d), vec!["alice"], "{d:?}");
    assert!(d.detections[0].results[0].hypothesis.score >= f64::from(facerec::pipeline::DEFAULT_MATCH_THRESHOLD));
    assert_eq!(f.faces[0].name, "alice");
    // Someone else stays unknown.
    let (d, _) = peer
        .frame_result("id02_unknown", |p| {
            p.raw
                .publish(raw_image("by_identity/id02/img14.jpg", 800, "id02_unknown"))
                .expect("publish")
        })
        .await;
    assert_eq!(names(&d), vec!["unknown"]);

    // 5. Refusals: bad name, no face or two similar faces in the request image, unknown camera.
    let refused = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "bad/name".into(),
                ..EnrollRequest::default()
            },
        )
        .await;
    assert!(
        !refused.success && refused.message.contains("invalid name"),
        "{}",
        refused.message
    );
    let blank = Image {
        header: header("blank"),
        height: 240,
        width: 320,
        encoding: "mono8".into(),
        is_bigendian: 0,
        step: 320,
        data: vec![128; 320 * 240],
    };
    let refused = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "nobody".into(),
                image: blank,
                ..EnrollRequest::default()
            },
        )
        .await;
    assert!(
        !refused.success && refused.message.contains("no face"),
        "{}",
        refused.message
    );
    let two = raw_image("group/couple.jpg", 1024, "req");
    let refused = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "pair".into(),
                image: two,
                ..EnrollRequest::default()
            },
        )
        .await;
    assert!(
        !refused.success && refused.message.contains("comparably close"),
        "{}",
        refused.message
    );
    let refused = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "bob".into(),
                camera: "/nope".into(),
                ..EnrollRequest::default()
            },
        )
        .await;
    assert!(
        !refused.success && refused.message.contains("unknown camera"),
        "{}",
        refused.message
    );

    // 6. Enroll "bob" from the raw camera while it keeps streaming; cameras keep being processed.
    let bob_frame = raw_image("by_identity/id02/img14.jpg", 800, "bob_stream");
    let streamer = {
        let raw = publisher::<Image>(
            &mut peer.node,
            RAW,
            QosProfile::publisher_default()
                .reliability_best_effort()
                .history(History::KeepLast { depth: 1 }),
        );
        let frame = bob_frame.clone();
        tokio::spawn(async move {
            loop {
                let _ = raw.publish(frame.clone());
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        })
    };
    let resp = peer
        .call::<Enroll>(
            &enroll,
            EnrollRequest {
                name: "bob".into(),
                camera: RAW.into(),
                num_samples: 2,
                timeout_s: 30.0,
                ..EnrollRequest::default()
            },
        )
        .await;
    streamer.abort();
    assert!(resp.success, "{}", resp.message);
    assert_eq!(resp.samples_used, 2);
    let (d, _) = peer
        .frame_result("id02_named", |p| {
            p.raw
                .publish(raw_image("by_identity/id02/img14.jpg", 800, "id02_named"))
                .expect("publish")
        })
        .await;
    assert_eq!(names(&d), vec!["bob"], "{d:?}");

    // 7. list_people, forget.
    let people: ListPeopleResponse = peer.call::<ListPeople>(&list, ListPeopleRequest::default()).await;
    assert_eq!(people.names, vec!["alice".to_owned(), "bob".to_owned()]);
    assert_eq!(people.sample_counts, vec![1, 2]);
    let gone: ForgetResponse = peer
        .call::<Forget>(&forget, ForgetRequest { name: "alice".into() })
        .await;
    assert!(gone.success && gone.removed == 1, "{}", gone.message);
    let again: ForgetResponse = peer
        .call::<Forget>(&forget, ForgetRequest { name: "alice".into() })
        .await;
    assert!(!again.success, "{}", again.message);
    let people = peer.call::<ListPeople>(&list, ListPeopleRequest::default()).await;
    assert_eq!(people.names, vec!["bob".to_owned()]);
    let (d, _) = peer
        .frame_result("id01_forgotten", |p| {
            p.jpeg
                .publish(jpeg_image("by_identity/id01/img10.jpg", "id01_forgotten"))
                .expect("publish")
        })
        .await;
    assert_eq!(names(&d), vec!["unknown"]);

    // 8. Malformed input is dropped and counted; the node keeps working.
    let mut bad = raw_image("by_identity/id02/img14.jpg", 200, "malformed");
    bad.step -= 1;
    let garbage = CompressedImage {
        header: header("garbage"),
        format: "jpeg".into(),
        data: b"\xff\xd8\xff not a jpeg".to_vec(),
    };
    for _ in 0..5 {
        peer.raw.publish(bad.clone()).expect("publish");
        peer.jpeg.publish(garbage.clone()).expect("publish");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (d, _) = peer
        .frame_result("after_malformed", |p| {
            p.raw
                .publish(raw_image("group/couple.jpg", 1024, "after_malformed"))
                .expect("publish")
        })
        .await;
    assert_eq!(d.detections.len(), 2);
    let start = Instant::now();
    let (mut raw_malformed, mut jpeg_malformed, mut provider) = (0u64, 0u64, String::new());
    let mut latencies = Vec::new();
    while (raw_malformed == 0 || jpeg_malformed == 0 || provider.is_empty()) && start.elapsed() < STEP_TIMEOUT {
        let Ok(Some(diag)) = tokio::time::timeout(Duration::from_secs(5), peer.diagnostics.recv()).await else {
            continue;
        };
        for s in &diag.status {
            let value = |k: &str| s.values.iter().find(|v| v.key == k).map(|v| v.value.clone());
            match value("topic").as_deref() {
                Some(RAW) => raw_malformed = value("malformed").and_then(|v| v.parse().ok()).unwrap_or(0),
                Some(JPEG) => jpeg_malformed = value("malformed").and_then(|v| v.parse().ok()).unwrap_or(0),
                _ => {}
            }
            if let (Some(topic), Some(mean), Some(max)) =
                (value("topic"), value("latency_ms_mean"), value("latency_ms_max"))
            {
                if value("processed_hz").is_some_and(|hz| hz != "0.00") {
                    latencies.push(format!("{topic}: mean {mean} ms, max {max} ms"));
                }
            }
            if let Some(p) = value("execution_provider") {
                provider = p;
            }
        }
    }
    assert!(
        raw_malformed > 0 && jpeg_malformed > 0,
        "malformed counts: raw {raw_malformed}, jpeg {jpeg_malformed}"
    );
    assert_eq!(provider, "cpu");
    // Shown with --nocapture: what the node logged and the latencies /diagnostics reported.
    let log = std::fs::read_to_string(&node.log).unwrap_or_default();
    for line in log.lines().filter(|l| l.contains("facerec")) {
        eprintln!("node: {line}");
    }
    eprintln!("diagnostics latency (arrival to publication): {latencies:?}");
    drop(node);
}

/// `facerec play` drives the node from the committed scenario bag (tests/fixtures/bags): the
/// gallery holds id02, enrolled from the bag's first two frames through the library's replay;
/// the node must name id02 again in frame 5 (a photo not used for enrolment, next to a
/// stranger), with the header recorded in the bag copied onto its detections.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_driven_by_facerec_play() {
    const PLAY_NS: &str = "/recording";
    const T0_MS: i64 = 1_767_225_600_000;
    let bag = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bags/scenario_mcap");
    let domain = 1 + 100 + u16::try_from((std::process::id() + 50) % 100).unwrap_or(0);
    let dir = tempfile::tempdir().expect("tempdir");

    // The gallery: id02 from frames 0-1 of /camera/image_raw, as `facerec replay --enroll` does.
    let gallery = dir.path().join("people.yaml");
    {
        let mut pipeline = facerec::pipeline::Pipeline::new(facerec::pipeline::PipelineConfig {
            runtime: facerec::runtime::RuntimeConfig {
                provider: facerec::runtime::Provider::for_tests().expect("FACEREC_TEST_PROVIDER"),
                ..Default::default()
            },
            ..Default::default()
        })
        .expect("pipeline");
        let spec = "id02:/camera/image_raw:2".parse().expect("enroll spec");
        let mut replayer =
            facerec::replay::Replayer::new(&mut pipeline, facerec::gallery::Gallery::in_memory(), vec![spec])
                .expect("replayer");
        let reader = facerec::bag::BagReader::open(&bag).expect("bag opens");
        for item in reader.images(&[]).expect("images") {
            replayer.process(item);
        }
        assert_eq!(replayer.summary().enrolled.get("id02"), Some(&2));
        replayer.gallery().save_to(&gallery).expect("gallery saved");
    }

    let params = dir.path().join("params.yaml");
    std::fs::write(
        &params,
        "/**:\n  ros__parameters:\n    cameras: [\"/camera/image_raw\", \"/camera/image_raw/compressed\"]\n    \
         execution_provider: cpu\n    workers: 2\n",
    )
    .expect("params file");
    let node = NodeProcess::spawn(domain, PLAY_NS, &params, &gallery, dir.path());

    let (_context, mut peer) = peer_node(domain, "recording_peer");
    let mut detections = subscribe::<Detection2DArray>(&mut peer, &format!("{PLAY_NS}/facerec/detections"));

    // The player, looping the 1.2 s bag until killed, once the node's cameras are matched.
    let play_log = dir.path().join("play.log");
    let player = Command::new(env!("CARGO_BIN_EXE_facerec"))
        .arg("play")
        .arg(&bag)
        .args(["--repeat", "0", "--wait-for-subscribers", "90"])
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&play_log).expect("log file"))
        .spawn()
        .expect("facerec play starts");
    let player = NodeProcess {
        child: player,
        log: play_log,
    };

    // Named detections per recorded stamp (ms after the bag start; stamps are 30 ms before it).
    let mut seen: std::collections::BTreeMap<i64, Vec<String>> = std::collections::BTreeMap::new();
    let start = Instant::now();
    let want = |seen: &std::collections::BTreeMap<i64, Vec<String>>| {
        seen.get(&970) == Some(&vec!["id02".to_owned(), "unknown".to_owned()])
            && seen.get(&570) == Some(&vec!["unknown".to_owned(), "unknown".to_owned()])
            && seen.get(&370) == Some(&Vec::new())
    };
    while !want(&seen) {
        assert!(
            start.elapsed() < STEP_TIMEOUT * 2,
            "node did not name the recording as expected; seen {seen:?}\nplayer: {}",
            player.log_tail()
        );
        if let Ok(Some(d)) = tokio::time::timeout(Duration::from_secs(5), detections.recv()).await {
            assert_eq!(d.header.frame_id, "camera_color_optical_frame");
            let ms = d.header.stamp.to_nanos() / 1_000_000 - T0_MS;
            seen.insert(ms, names(&d));
        }
    }
    // Every frame seen carries one of the recorded stamps (+0..+1000 ms, minus 30 ms).
    assert!(
        seen.keys().all(|ms| (ms + 30) % 200 == 0 && (-30..=970).contains(ms)),
        "{seen:?}"
    );
    eprintln!("named from the recording: {seen:?}");
    // Issue 25: publish_annotated and tf.enabled are off (the defaults): the node advertises
    // neither ~/annotated nor /tf, while its detections publisher is in the graph.
    let annotated = format!("{PLAY_NS}/facerec/annotated");
    assert!(peer.publisher_count(&format!("{PLAY_NS}/facerec/detections")) >= 1);
    assert_eq!(peer.publisher_count(&annotated), 0, "{annotated} advertised while off");
    assert_eq!(peer.publisher_count("/tf"), 0, "/tf advertised while off");
    drop(player);
    drop(node);
}

/// Rounds a score as replay records do (4 decimals).
fn score4(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}

/// What the node published for one frame, as a replay record (for `facerec::replay::compare`).
fn record_of(faces: &FaceArray, topic: &str, bag_time_ns: u64) -> facerec::replay::ReplayRecord {
    let px = |v: f32| (f64::from(v) * 100.0).round() / 100.0;
    facerec::replay::ReplayRecord {
        bag_time_ns: Some(bag_time_ns),
        topic: Some(topic.to_owned()),
        frame_id: Some(faces.header.frame_id.clone()),
        stamp_ns: Some(faces.header.stamp.to_nanos()),
        faces: faces
            .faces
            .iter()
            .map(|f| facerec::replay::ReplayFace {
                name: f.name.clone(),
                score: score4(f.score),
                track_id: (!f.track_id.is_empty()).then(|| f.track_id.parse().expect("a decimal track id")),
                confirmed: Some(f.track_confirmed),
                frame_score: (!f.frame_score.is_nan()).then(|| score4(f.frame_score)),
                anonymous: f.anonymous,
                det_score: score4(f.detection_score),
                bbox: [px(f.x), px(f.y), px(f.width), px(f.height)],
                landmarks: std::array::from_fn(|i| [px(f.landmarks[2 * i]), px(f.landmarks[2 * i + 1])]),
            })
            .collect(),
        error: None,
    }
}

/// People over time through the node, the way `facerec replay` runs them: the people_mcap bag's
/// camera frames published one at a time (each once, the next after the node's answer, so the
/// node's tracker sees exactly the bag), tracking on (the default) with anonymous ids in memory,
/// and after frame 80 the stranger carol named through `~/enroll` with her `track_id`, as
/// `--name-track carol:...:80` does. Every frame the node publishes must match the replay golden
/// (people_mcap.golden.jsonl): the same track ids, names (ada, bob, the anonymous ids, carol
/// after she was named), scores within the golden tolerance; Detection2D.id is the track id.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn node_tracks_people_as_replay_does() {
    const PEOPLE_NS: &str = "/people";
    const CAMERA: &str = "/camera/image_raw/compressed";
    const NAME_AFTER: usize = 80;
    let bags = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bags");
    let bag = bags.join("people_mcap");
    let domain = 2 + 100 + u16::try_from((std::process::id() + 25) % 97).unwrap_or(0);
    let dir = tempfile::tempdir().expect("tempdir");
    let golden = facerec::replay::parse_records(
        &std::fs::read_to_string(bags.join("people_mcap.golden.jsonl")).expect("golden"),
    )
    .expect("golden parses");
    let golden: Vec<_> = golden
        .into_iter()
        .filter(|r| r.topic.as_deref() == Some(CAMERA))
        .collect();
    // The track the golden replay named carol (the dominant face of frame 80).
    let carol_track = golden[NAME_AFTER + 1]
        .faces
        .iter()
        .find(|f| f.name == "carol")
        .and_then(|f| f.track_id)
        .expect("carol named in the golden after frame 80");

    // The gallery: ada and bob from their /meet frames, as the golden's replay enrolled them.
    let gallery = dir.path().join("people.yaml");
    let frames: Vec<facerec::bag::BagImage> = {
        let mut pipeline = facerec::pipeline::Pipeline::new(facerec::pipeline::PipelineConfig {
            runtime: facerec::runtime::RuntimeConfig {
                provider: facerec::runtime::Provider::for_tests().expect("FACEREC_TEST_PROVIDER"),
                ..Default::default()
            },
            ..Default::default()
        })
        .expect("pipeline");
        let specs = ["ada:/meet/ada/compressed:1", "bob:/meet/bob/compressed:1"]
            .map(|s| s.parse().expect("enroll spec"))
            .to_vec();
        let mut replayer = facerec::replay::Replayer::new(&mut pipeline, facerec::gallery::Gallery::in_memory(), specs)
            .expect("replayer");
        let reader = facerec::bag::BagReader::open(&bag).expect("bag opens");
        let mut frames = Vec::new();
        for item in reader.images(&[]).expect("images") {
            let image = item.expect("a good bag");
            if image.topic == CAMERA {
                frames.push(image);
            } else {
                replayer.process(Ok(image));
            }
        }
        assert_eq!(replayer.summary().enrolled.get("ada"), Some(&1));
        assert_eq!(replayer.summary().enrolled.get("bob"), Some(&1));
        replayer.gallery().save_to(&gallery).expect("gallery saved");
        frames
    };
    assert_eq!(frames.len(), golden.len());

    let params = dir.path().join("params.yaml");
    std::fs::write(
        &params,
        format!(
            "/**:\n  ros__parameters:\n    cameras: [\"{CAMERA}\"]\n    execution_provider: cpu\n    workers: 2\n    \
             diagnostics_period_s: 0.5\n    anonymous:\n      mode: in_memory\n"
        ),
    )
    .expect("params file");
    let node = NodeProcess::spawn(domain, PEOPLE_NS, &params, &gallery, dir.path());
    let (_context, mut peer) = peer_node(domain, "people_peer");
    let mut detections = subscribe::<Detection2DArray>(&mut peer, &format!("{PEOPLE_NS}/facerec/detections"));
    let mut faces = subscribe::<FaceArray>(&mut peer, &format!("{PEOPLE_NS}/facerec/faces"));
    let mut diagnostics = subscribe::<DiagnosticArray>(&mut peer, "/diagnostics");
    let camera = publisher::<CompressedImage>(
        &mut peer,
        CAMERA,
        QosProfile::publisher_default()
            .reliability_best_effort()
            .history(History::KeepLast { depth: 1 }),
    );
    let enroll = client::<Enroll>(&mut peer, &format!("{PEOPLE_NS}/facerec/enroll"));
    let list = client::<ListPeople>(&mut peer, &format!("{PEOPLE_NS}/facerec/list_people"));
    let message = |image: &facerec::bag::BagImage| match &image.payload {
        facerec::bag::ImagePayload::Compressed { format, data } => CompressedImage {
            header: Header {
                stamp: facerec::ros::msgs::Time::from_nanos(image.header_stamp_ns),
                frame_id: image.frame_id.clone(),
            },
            format: format.clone(),
            data: data.clone(),
        },
        other => panic!("people_mcap holds compressed images, not {other:?}"),
    };

    // Until the node answers: a frame without faces, stamped a second before the bag (the
    // tracker sees an empty frame; tracks and anonymous ids are unaffected).
    let first_stamp = frames[0].header_stamp_ns;
    let warmup = CompressedImage {
        header: Header {
            stamp: facerec::ros::msgs::Time::from_nanos(first_stamp - 1_000_000_000),
            frame_id: "warmup".into(),
        },
        ..message(&frames[0])
    };
    let mut warm = warmup.clone();
    let backdrop = image::RgbImage::from_pixel(320, 240, image::Rgb([90, 90, 90]));
    warm.data.clear();
    image::DynamicImage::ImageRgb8(backdrop)
        .write_to(&mut std::io::Cursor::new(&mut warm.data), image::ImageFormat::Jpeg)
        .expect("jpeg");
    let start = Instant::now();
    'warm: loop {
        assert!(
            start.elapsed() < STEP_TIMEOUT,
            "the node never answered the warm-up frame"
        );
        camera.publish(warm.clone()).expect("publish");
        let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Some(f)) = tokio::time::timeout_at(deadline, faces.recv()).await {
            if f.header.frame_id == "warmup" {
                assert!(f.faces.is_empty());
                break 'warm;
            }
        }
    }
    // Late copies of the warm-up frame must not be mistaken for answers.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while faces.try_recv().is_ok() {}
    while detections.try_recv().is_ok() {}

    tokio::time::timeout(STEP_TIMEOUT, enroll.wait_for_service(&peer))
        .await
        .expect("enroll appears");
    tokio::time::timeout(STEP_TIMEOUT, list.wait_for_service(&peer))
        .await
        .expect("list_people appears");

    let mut records = Vec::new();
    for (i, image) in frames.iter().enumerate() {
        let msg = message(image);
        camera.publish(msg.clone()).expect("publish");
        let f = loop {
            let f = tokio::time::timeout(Duration::from_secs(30), faces.recv())
                .await
                .unwrap_or_else(|_| panic!("no answer for frame {i} (lost on loopback, or the node is stuck)"))
                .expect("faces channel open");
            if f.header == msg.header {
                break f;
            }
            assert_ne!(
                f.header.frame_id, image.frame_id,
                "frame {i}: an answer for another frame: {:?}",
                f.header
            );
        };
        let d = loop {
            let d = tokio::time::timeout(Duration::from_secs(10), detections.recv())
                .await
                .expect("detections with the faces")
                .expect("detections channel open");
            if d.header == msg.header {
                break d;
            }
        };
        // Detection2D.id and Face.track_id agree, in the same order, with the same names.
        let ids: Vec<(&str, &str)> = d
            .detections
            .iter()
            .map(|d| (d.id.as_str(), d.results[0].hypothesis.class_id.as_str()))
            .collect();
        let from_faces: Vec<(&str, &str)> = f.faces.iter().map(|f| (f.track_id.as_str(), f.name.as_str())).collect();
        assert_eq!(ids, from_faces, "frame {i}");
        records.push(record_of(&f, CAMERA, image.log_time_ns));
        if i == NAME_AFTER {
            // "The person you are looking at is carol": her track's samples, no re-capture.
            let resp: EnrollResponse = tokio::time::timeout(
                STEP_TIMEOUT,
                enroll.async_call_service(EnrollRequest {
                    name: "carol".into(),
                    track_id: carol_track.to_string(),
                    ..EnrollRequest::default()
                }),
            )
            .await
            .expect("enroll answers")
            .expect("enroll call");
            assert!(resp.success, "{}", resp.message);
            assert!(
                resp.samples_used > 0 && resp.message.contains("anonymous person"),
                "{}",
                resp.message
            );
            // A name already used, a track never seen: refused, the node goes on.
            let dee_track = golden[NAME_AFTER]
                .faces
                .iter()
                .filter_map(|f| f.track_id)
                .find(|&t| t != carol_track)
                .expect("dee in view at frame 80");
            for (req, expect) in [
                (("carol", dee_track.to_string()), "already in the gallery"),
                (("cara", carol_track.to_string()), "already named 'carol'"),
                (("eve", "999".to_owned()), "no track 999"),
            ] {
                let resp = enroll
                    .async_call_service(EnrollRequest {
                        name: req.0.into(),
                        track_id: req.1,
                        ..EnrollRequest::default()
                    })
                    .await
                    .expect("enroll call");
                assert!(!resp.success && resp.message.contains(expect), "{}", resp.message);
            }
        }
    }
    let diffs = facerec::replay::compare(&golden, &records, facerec::replay::Tolerance::default());
    assert!(
        diffs.is_empty(),
        "the node differs from the replay golden in {} place(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
    // Stable ids: the golden's track ids are the node's; anonymous ids and carol as replay had them.
    let names: std::collections::BTreeSet<&str> =
        records.iter().flat_map(|r| &r.faces).map(|f| f.name.as_str()).collect();
    assert!(
        names.contains("ada") && names.contains("bob") && names.contains("carol"),
        "{names:?}"
    );

    // list_people: carol named, dee still anonymous.
    let people: ListPeopleResponse =
        tokio::time::timeout(STEP_TIMEOUT, list.async_call_service(ListPeopleRequest::default()))
            .await
            .expect("list answers")
            .expect("list call");
    let listed: Vec<(&str, bool)> = people
        .names
        .iter()
        .map(String::as_str)
        .zip(people.anonymous.iter().copied())
        .collect();
    assert!(listed.contains(&("carol", false)), "{listed:?}");
    assert!(
        listed.iter().any(|(n, a)| *a && n.starts_with("person_")),
        "dee keeps an anonymous id: {listed:?}"
    );
    let on_disk = std::fs::read_to_string(&gallery).expect("gallery");
    assert!(on_disk.contains("carol"), "carol saved before the answer");

    // /diagnostics reports the camera's tracker (earlier messages, queued since the start, are
    // skipped until one from after the bag: dee the one anonymous person left).
    let start = Instant::now();
    let started = loop {
        assert!(start.elapsed() < STEP_TIMEOUT, "no tracker statistics in /diagnostics");
        let Ok(Some(diag)) = tokio::time::timeout(Duration::from_secs(5), diagnostics.recv()).await else {
            continue;
        };
        let value = |k: &str| {
            diag.status
                .iter()
                .flat_map(|s| &s.values)
                .find(|v| v.key == k)
                .map(|v| v.value.clone())
        };
        if let (Some(started), Some(_open), Some(anonymous)) = (
            value("tracks_started"),
            value("tracks_open"),
            value("gallery_anonymous"),
        ) {
            if anonymous == "1" {
                break started.parse::<u64>().expect("a count");
            }
        }
    };
    assert!(started >= 4, "tracks started: {started}");
    drop(node);
}

/// Whether this process holds CAP_NET_ADMIN (bit 12 of CapEff in /proc/self/status).
fn has_cap_net_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// Starts the node (`wrapper` first, e.g. setpriv) until it says it is ready; returns its log.
fn node_start_log(wrapper: &[&str], domain: u16, dir: &Path) -> String {
    let log = dir.join(format!("start-{}.log", wrapper.len()));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let node = env!("CARGO_BIN_EXE_facerec_node");
    let mut command = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(node);
            c
        }
        None => Command::new(node),
    };
    let child = command
        .current_dir(manifest)
        .args(["--ros-args", "-p", "execution_provider:=cpu", "-p", "workers:=1", "-p"])
        .arg(format!("gallery:={}", dir.join("people.yaml").display()))
        .env("ROS_DOMAIN_ID", domain.to_string())
        .env("ROS_LOCALHOST_ONLY", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("facerec_node starts");
    let node = NodeProcess { child, log };
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&node.log).unwrap_or_default();
        if text.contains(" ready on ROS domain") {
            return text;
        }
        assert!(start.elapsed() < STEP_TIMEOUT, "node not ready:\n{}", node.log_tail());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Issue 25: when the kernel grants the DDS sockets less receive buffer than the node asks for
/// (`net.core.rmem_max` and no CAP_NET_ADMIN: big raw frames can then be lost), the node says
/// so at start with its default log filter, which mutes RustDDS's own warning. With
/// CAP_NET_ADMIN (RustDDS forces the size) or a large enough `rmem_max` it says nothing.
#[test]
fn node_says_when_its_socket_receive_buffers_are_clamped() {
    const ASKED: usize = 64 * 1024 * 1024;
    const WARNING: &str = "DDS socket receive buffers are";
    let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
        .expect("Linux")
        .trim()
        .parse()
        .expect("a number");
    // Linux grants twice what it accounts for, at most twice rmem_max without the capability.
    let clamped_without_cap = 2 * rmem_max < ASKED;
    let domain = 200 + u16::try_from(std::process::id() % 30).unwrap_or(0);
    let dir = tempfile::tempdir().expect("tempdir");
    if has_cap_net_admin() {
        let log = node_start_log(&[], domain, dir.path());
        assert!(!log.contains(WARNING), "warned with CAP_NET_ADMIN:\n{log}");
        // The same node without the capability (dropped from its bounding set).
        let log = node_start_log(&["setpriv", "--bounding-set", "-net_admin", "--"], domain, dir.path());
        assert_eq!(
            log.contains(WARNING),
            clamped_without_cap,
            "rmem_max {rmem_max}:\n{log}"
        );
    } else {
        let log = node_start_log(&[], domain, dir.path());
        assert_eq!(
            log.contains(WARNING),
            clamped_without_cap,
            "rmem_max {rmem_max}:\n{log}"
        );
    }
}
