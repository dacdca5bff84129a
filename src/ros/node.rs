//! The `facerec_node` runtime: a ROS 2 node over ros2-client/RustDDS under tokio.
//!
//! Cameras (`sensor_msgs/Image` or `CompressedImage`, best-effort, depth 1) fill one latest-frame
//! slot each; a pool of worker threads with their own face pipelines takes frames round-robin;
//! a publisher thread sends `~/detections` (`vision_msgs/Detection2DArray`), `~/faces`
//! (`facerec/FaceArray`) and, when asked, `~/annotated`; `~/enroll`, `~/forget` and
//! `~/list_people` change the shared gallery; `/diagnostics` reports rates, latency, drops and
//! malformed input. Bad input is counted and logged, never fatal.
//!
//! This file wires DDS entities to the pieces in `node/`; it does no image or face work itself.

pub mod config;
pub mod convert;
pub mod enroll;
pub mod services;
pub mod slots;
pub mod stats;
pub mod workers;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Name, Node, NodeName, NodeOptions, ParameterValue, Publisher, QosProfile, Server, ServiceMapping};
use tokio::sync::mpsc;

use self::config::{CameraKind, NodeConfig};
use self::enroll::EnrollHub;
use self::services::Services;
use self::slots::Scheduler;
use self::stats::Stats;
use self::workers::{CameraFrame, Incoming, Output, Shared};
use crate::gallery::{Gallery, GalleryError};
use crate::pipeline::{Pipeline, PipelineError};
use crate::ros::dds;
use crate::ros::msgs::{
    CompressedImage, DiagnosticArray, DiagnosticStatus, Enroll, Forget, Header, Image, KeyValue, ListPeople,
    RosMessage, RosService, Time,
};
use crate::ros::params::{DiscoveryRange, NameResolver, Params, ParamsError, RosArgs, RosEnv};

/// The node's name unless remapped with `-r __node:=...`.
pub const DEFAULT_NODE_NAME: &str = "facerec";

/// Enrolment images that may wait for a worker at once.
const MAX_QUEUED_JOBS: usize = 4;
/// Finished frames that may wait for the publisher thread.
const OUTPUT_QUEUE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("face pipeline: {0}")]
    Pipeline(#[from] PipelineError),
    #[error("gallery: {0}")]
    Gallery(#[from] GalleryError),
    #[error("ROS 2: {0}")]
    Ros(String),
    #[error("internal: {0}")]
    Internal(String),
}

fn ros_err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> NodeError + '_ {
    move |e| NodeError::Ros(format!("{what}: {e}"))
}

fn ros_name(resolved: &str) -> Result<Name, NodeError> {
    dds::name(resolved).map_err(NodeError::Ros)
}

/// QoS of camera subscriptions: best-effort keeps only the newest sample and matches both
/// reliable and sensor-data publishers.
fn camera_qos() -> QosProfile {
    QosProfile::subscription_default()
        .reliability_best_effort()
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 1 })
}

fn output_qos(depth: usize) -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth })
}

fn service_qos() -> QosProfile {
    output_qos(10)
}

/// Starts the node from its command line and environment and runs it until `shutdown`
/// completes. Errors are configuration, model or DDS problems found while starting.
pub async fn run(args: RosArgs, env: RosEnv, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let names = NameResolver::new(&args, DEFAULT_NODE_NAME, "/")?;
    let fqn = names.node_fqn();
    let params = Params::for_node(&args, &names.node_name, &fqn)?;
    for unknown in NodeConfig::unknown_parameters(&params) {
        tracing::warn!(
            "parameter '{unknown}' is not used by {fqn} (known: {})",
            config::KNOWN_PARAMETERS.join(", ")
        );
    }
    let config = NodeConfig::from_params(&params, &names, &env, |k| std::env::var(k).ok())?;

    // Models and gallery first: a configuration error should fail before joining the network.
    let mut gallery = Gallery::open_or_create(&config.gallery)?;
    let pipelines = {
        let (n, pc) = (config.workers, config.pipeline.clone());
        tokio::task::spawn_blocking(move || (0..n).map(|_| Pipeline::new(pc.clone())).collect::<Result<Vec<_>, _>>())
            .await
            .map_err(|e| NodeError::Internal(e.to_string()))??
    };
    let first = pipelines
        .first()
        .ok_or_else(|| NodeError::Internal("no worker".to_owned()))?;
    let provider = first.runtime().provider();
    let model_tag = first.model_tag().clone();
    gallery.bind_model(&model_tag)?;
    tracing::info!(
        "execution provider: {provider} (requested {}), {} worker(s), gallery {} with {} people",
        config.pipeline.runtime.provider,
        config.workers,
        config.gallery.display(),
        gallery.len()
    );

    // DDS.
    let context = dds::context(&env).map_err(NodeError::Ros)?;
    let started = Arc::new(AtomicBool::new(false));
    let mut options = NodeOptions::new().enable_rosout(true);
    for (name, value) in params.iter() {
        if name != "use_sim_time" {
            options = options.declare_parameter(name, value.clone());
        }
    }
    let guard = Arc::clone(&started);
    options = options.parameter_validator(Box::new(move |name: &str, _value: &ParameterValue| {
        if guard.load(Ordering::SeqCst) && name != "use_sim_time" {
            Err(format!(
                "parameter '{name}' is read at start only; restart the node to change it"
            ))
        } else {
            Ok(())
        }
    }));
    let node_name = NodeName::new(&names.namespace, &names.node_name)
        .map_err(|e| NodeError::Ros(format!("node name {fqn}: {e:?}")))?;
    let mut node = context
        .new_node(node_name, options)
        .map_err(|e| ros_err("node")(&format!("{e:?}")))?;
    started.store(true, Ordering::SeqCst);
    let spinner = node.spinner().map_err(|e| ros_err("spinner")(&format!("{e:?}")))?;
    let spin_task = tokio::spawn(async move {
        if let Err(e) = spinner.spin().await {
            tracing::error!("ROS 2 spinner stopped: {e:?}");
        }
    });

    // State shared by the ROS side and the workers.
    let topics: Vec<String> = config.cameras.iter().map(|c| c.topic.clone()).collect();
    let shared = Arc::new(Shared {
        scheduler: Scheduler::new(config.cameras.len(), MAX_QUEUED_JOBS),
        gallery: RwLock::new(gallery),
        stats: Stats::new(&topics),
        hub: Arc::new(EnrollHub::default()),
        cameras: config.cameras.clone(),
        policy: config.enroll.policy.clone(),
        publish_annotated: config.publish_annotated,
    });

    // Outputs.
    let publishers = OutputPublishers::new(&mut node, &names, config.publish_annotated)?;

    let mut tasks = Vec::new();

    // Cameras.
    for (index, camera) in config.cameras.iter().enumerate() {
        let name = camera.topic.as_str();
        let task = match camera.kind {
            CameraKind::Raw => camera_task::<Image>(&mut node, name, index, Arc::clone(&shared), Incoming::Raw)?,
            CameraKind::Compressed => {
                camera_task::<CompressedImage>(&mut node, name, index, Arc::clone(&shared), Incoming::Compressed)?
            }
        };
        tasks.push(task);
        let kind = match camera.kind {
            CameraKind::Raw => "sensor_msgs/Image",
            CameraKind::Compressed => "sensor_msgs/CompressedImage",
        };
        tracing::info!("camera {}: {} ({kind})", index, camera.topic);
    }

    // Services.
    let handlers = Services {
        shared: Arc::clone(&shared),
        defaults: config.enroll.clone(),
    };
    let mapping = config.service_mapping;
    let enroll_server = server::<Enroll>(&mut node, mapping, &names.resolve("~/enroll")?)?;
    let forget_server = server::<Forget>(&mut node, mapping, &names.resolve("~/forget")?)?;
    let list_server = server::<ListPeople>(&mut node, mapping, &names.resolve("~/list_people")?)?;
    tasks.push(serve(enroll_server, "enroll", {
        let h = handlers.clone();
        move |req| {
            let h = h.clone();
            async move { h.enroll(req).await }
        }
    }));
    tasks.push(serve(forget_server, "forget", {
        let h = handlers.clone();
        move |req| {
            let h = h.clone();
            async move { h.forget(req).await }
        }
    }));
    tasks.push(serve(list_server, "list_people", {
        let h = handlers.clone();
        move |req| {
            let h = h.clone();
            async move { h.list_people(req) }
        }
    }));

    // Diagnostics.
    tasks.push(diagnostics_task(
        &mut node,
        Arc::clone(&shared),
        &config,
        &fqn,
        provider.to_string(),
    )?);

    // Every DDS entity exists: start the publisher thread and the workers.
    let (out_tx, out_rx) = mpsc::channel::<Output>(OUTPUT_QUEUE);
    let mut worker_threads = Vec::new();
    for (i, mut pipeline) in pipelines.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let out = out_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("facerec-worker-{i}"))
            .spawn(move || workers::run(&shared, &mut pipeline, &out))
            .map_err(|e| NodeError::Internal(format!("worker thread: {e}")))?;
        worker_threads.push(handle);
    }
    drop(out_tx);
    let publisher_stats = Arc::clone(&shared);
    let publisher_thread = std::thread::Builder::new()
        .name("facerec-publish".to_owned())
        .spawn(move || publishers.run(out_rx, &publisher_stats.stats))
        .map_err(|e| NodeError::Internal(format!("publisher thread: {e}")))?;

    tracing::info!(
        "{fqn} ready on ROS domain {} ({}; services in the {:?} mapping): publishing {}, {}{}",
        env.domain_id,
        match env.discovery {
            DiscoveryRange::Localhost => "localhost only",
            DiscoveryRange::Subnet => "all interfaces",
        },
        mapping,
        names.resolve("~/detections")?,
        names.resolve("~/faces")?,
        if config.publish_annotated {
            format!(", {}", names.resolve("~/annotated")?)
        } else {
            String::new()
        },
    );

    shutdown.await;
    tracing::info!("{fqn} shutting down");
    for task in &tasks {
        task.abort();
    }
    shared.scheduler.close();
    let joined = tokio::task::spawn_blocking(move || {
        for handle in worker_threads {
            let _ = handle.join();
        }
        let _ = publisher_thread.join();
    })
    .await;
    if let Err(e) = joined {
        tracing::warn!("workers did not stop cleanly: {e}");
    }
    for task in tasks {
        let _ = task.await;
    }
    drop(node);
    spin_task.abort();
    let _ = spin_task.await;
    drop(context);
    Ok(())
}

/// Subscribes a camera and feeds its messages into its latest-frame slot.
fn camera_task<M>(
    node: &mut Node,
    name: &str,
    index: usize,
    shared: Arc<Shared>,
    wrap: fn(M) -> Incoming,
) -> Result<tokio::task::JoinHandle<()>, NodeError>
where
    M: RosMessage + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    let subscription = dds::subscription::<M>(node, name, camera_qos()).map_err(NodeError::Ros)?;
    Ok(tokio::spawn(async move {
        let mut stream = std::pin::pin!(subscription.async_stream());
        while let Some(item) = stream.next().await {
            match item {
                Ok((msg, _info)) => {
                    let frame = CameraFrame {
                        msg: wrap(msg),
                        arrived: Instant::now(),
                    };
                    match shared.scheduler.put(index, frame) {
                        Ok(replaced) => shared.stats.received(index, replaced.is_some()),
                        Err(_) => return, // closed: shutting down
                    }
                }
                Err(e) => shared
                    .stats
                    .malformed(index, &format!("cannot deserialize message: {e:?}")),
            }
        }
    }))
}

fn server<S: RosService>(
    node: &mut Node,
    mapping: ServiceMapping,
    resolved: &str,
) -> Result<Server<S::Request, S::Response>, NodeError> {
    node.create_server::<S::Request, S::Response>(
        mapping,
        &ros_name(resolved)?,
        &S::type_name(),
        service_qos(),
        service_qos(),
    )
    .map_err(|e| NodeError::Ros(format!("service {resolved}: {e:?}")))
}

/// Answers requests; each request runs in its own task so a long enrolment does not hold up
/// the next request.
fn serve<Req, Resp, F, Fut>(server: Server<Req, Resp>, what: &'static str, handler: F) -> tokio::task::JoinHandle<()>
where
    Req: ros2_client::Message + Clone + Send + Sync + 'static,
    Resp: ros2_client::Message + Send + Sync + 'static,
    F: Fn(Req) -> Fut + Send + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
    Server<Req, Resp>: Send + Sync,
{
    let server = Arc::new(server);
    tokio::spawn(async move {
        loop {
            match server.async_receive_request().await {
                Ok((id, req)) => {
                    let server = Arc::clone(&server);
                    let answer = handler(req);
                    tokio::spawn(async move {
                        let resp = answer.await;
                        if let Err(e) = server.async_send_response(id, resp).await {
                            tracing::warn!("{what}: could not send the response: {e:?}");
                        }
                    });
                }
                Err(e) => tracing::warn!("{what}: bad request: {e:?}"),
            }
        }
    })
}

/// The output publishers, driven by their own thread.
struct OutputPublishers {
    detections: Publisher<crate::ros::msgs::Detection2DArray>,
    faces: Publisher<crate::ros::msgs::FaceArray>,
    annotated: Option<Publisher<Image>>,
    first: Vec<bool>,
}

fn publisher<M: RosMessage + serde::Serialize>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Publisher<M>, NodeError> {
    dds::publisher(node, resolved, qos).map_err(NodeError::Ros)
}

impl OutputPublishers {
    fn new(node: &mut Node, names: &NameResolver, annotated: bool) -> Result<Self, NodeError> {
        Ok(Self {
            detections: publisher(node, &names.resolve("~/detections")?, output_qos(10))?,
            faces: publisher(node, &names.resolve("~/faces")?, output_qos(10))?,
            annotated: if annotated {
                Some(publisher(node, &names.resolve("~/annotated")?, output_qos(1))?)
            } else {
                None
            },
            first: Vec::new(),
        })
    }

    fn run(mut self, mut rx: mpsc::Receiver<Output>, stats: &Stats) {
        while let Some(out) = rx.blocking_recv() {
            let faces = out.faces.faces.len();
            if let Err(e) = self.detections.publish(out.detections) {
                tracing::warn!("publishing detections failed: {e:?}");
            }
            if let Err(e) = self.faces.publish(out.faces) {
                tracing::warn!("publishing faces failed: {e:?}");
            }
            if let (Some(p), Some(img)) = (&self.annotated, out.annotated) {
                if let Err(e) = p.publish(img) {
                    tracing::debug!("publishing the annotated image failed: {e:?}");
                }
            }
            let latency = out.arrived.elapsed();
            stats.processed(out.camera, faces, latency, out.pipeline);
            if self.first.len() <= out.camera {
                self.first.resize(out.camera + 1, true);
            }
            if self.first.get(out.camera).copied().unwrap_or(false) {
                if let Some(f) = self.first.get_mut(out.camera) {
                    *f = false;
                }
                tracing::info!(
                    "first frame of camera {} processed: {faces} face(s), {:.1} ms from arrival to publication ({:.1} ms in the face pipeline)",
                    out.camera,
                    latency.as_secs_f64() * 1e3,
                    out.pipeline.as_secs_f64() * 1e3
                );
            } else {
                tracing::debug!(
                    "camera {}: {faces} face(s), {:.1} ms ({:.1} ms pipeline)",
                    out.camera,
                    latency.as_secs_f64() * 1e3,
                    out.pipeline.as_secs_f64() * 1e3
                );
            }
        }
    }
}

fn diagnostics_task(
    node: &mut Node,
    shared: Arc<Shared>,
    config: &NodeConfig,
    fqn: &str,
    provider: String,
) -> Result<tokio::task::JoinHandle<()>, NodeError> {
    let publisher = publisher::<DiagnosticArray>(node, "/diagnostics", output_qos(10))?;
    let period = config.diagnostics_period;
    let fqn = fqn.to_owned();
    let workers = config.workers;
    let gallery_path = config.gallery.display().to_string();
    let detector = config.pipeline.detector.model.display().to_string();
    let embedder = config.pipeline.embedder.model.display().to_string();
    Ok(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        let mut last = Instant::now();
        loop {
            ticker.tick().await;
            let elapsed = last.elapsed();
            last = Instant::now();
            let mut status = shared.stats.statuses(elapsed, &fqn);
            let (people, vectors) = {
                let g = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
                (g.len(), g.vector_count())
            };
            let kv = |k: &str, v: String| KeyValue {
                key: k.to_owned(),
                value: v,
            };
            status.push(DiagnosticStatus {
                level: DiagnosticStatus::OK,
                name: format!("{fqn}: face pipeline"),
                message: format!("{provider}, {people} people enrolled"),
                hardware_id: fqn.clone(),
                values: vec![
                    kv("execution_provider", provider.clone()),
                    kv("workers", workers.to_string()),
                    kv("gallery_people", people.to_string()),
                    kv("gallery_vectors", vectors.to_string()),
                    kv("gallery_path", gallery_path.clone()),
                    kv("enrollments_in_progress", shared.hub.active().to_string()),
                    kv("detector_model", detector.clone()),
                    kv("embedder_model", embedder.clone()),
                ],
            });
            let msg = DiagnosticArray {
                header: Header {
                    stamp: Time::now(),
                    frame_id: String::new(),
                },
                status,
            };
            if let Err(e) = publisher.publish(msg) {
                tracing::debug!("publishing diagnostics failed: {e:?}");
            }
        }
    }))
}
