//! The `facerec_node` runtime: a ROS 2 node over ros2-client/RustDDS under tokio.
//!
//! Cameras (`sensor_msgs/Image` or `CompressedImage`, best-effort, depth 1) fill one latest-frame
//! slot each; a pool of worker threads with their own face pipelines takes the newest frame first
//! (no camera left waiting, `slots`);
//! a publisher thread sends `~/detections` (`vision_msgs/Detection2DArray`), `~/faces`
//! (`facerec/FaceArray`) and, when asked, `~/annotated`; `~/enroll`, `~/forget` and
//! `~/list_people` change the shared gallery; the `~/enroll_person` and `~/find_person` actions
//! serve behaviour trees (enrolment with feedback and cancel, a search for a person); the
//! managed-node services (`~/change_state`, `~/get_state`, `~/get_available_states`,
//! `~/get_available_transitions`, `~/get_transition_graph`, `~/transition_event`) switch frame
//! processing off and on; every log line goes to `/rosout` too (`ros::log`);
//! `/diagnostics` reports rates, latency, drops and
//! malformed input. Bad input is counted and logged, never fatal. With tracking (the default)
//! each camera has its own tracker and people rules, the calls replay makes per topic; faces
//! carry their track id.
//!
//! This file wires DDS entities to the pieces in `node/`; it does no image or face work itself.
//! Callers see [`run`], [`NodeError`] and [`convert`] (the message mappings, for nodes of
//! one's own); the rest of `node/` is private to the node.

mod actions;
mod config;
pub mod convert;
mod declared;
mod enroll;
mod finder;
mod hri;
mod inflight;
mod lifecycle;
mod live;
mod requests;
mod services;
mod slots;
mod stats;
mod views;
mod workers;

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Node, NodeOptions, ParameterValue, Publisher, QosProfile, Server, ServiceMapping};
use tokio::sync::mpsc;

use self::config::{CameraKind, NodeConfig};
use self::enroll::EnrollHub;
use self::inflight::Inflight;
use self::live::{Live, LiveSettings};
use self::requests::{Admission, RequestGate};
use self::services::Services;
use self::slots::Scheduler;
use self::stats::Stats;
use self::views::CameraViews;
use self::workers::{CameraFrame, Incoming, Output, Shared};
use crate::gallery::{Gallery, GalleryError};
use crate::people::People;
use crate::pipeline::{Pipeline, PipelineError};
use crate::ros::dds::{self, DdsError};
use crate::ros::msgs::GetAvailableStates;
use crate::ros::msgs::{
    CameraInfo, ChangeState, CompressedImage, DiagnosticArray, DiagnosticStatus, Enroll, EnrollPerson, FindPerson,
    Forget, GetAvailableTransitions, GetState, Header, Image, KeyValue, ListPeople, RosMessage, RosService, TfMessage,
    TransitionEvent,
};
use crate::ros::params::{DiscoveryRange, NameResolver, Params, ParamsError, RosArgs, RosEnv};
use crate::track::Tracker;

/// The node's name unless remapped with `-r __node:=...`.
pub const DEFAULT_NODE_NAME: &str = "facerec";

/// Enrolment images that may wait for a worker at once.
const MAX_QUEUED_JOBS: usize = 4;
/// Finished frames that may wait for the publisher thread.
const OUTPUT_QUEUE: usize = 8;
/// How often the publisher thread looks for ROS4HRI faces gone quiet while no frame arrives.
const HRI_EXPIRY_CHECK: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error(transparent)]
    Params(#[from] ParamsError),
    #[error("face pipeline")]
    Pipeline(#[from] PipelineError),
    #[error("gallery")]
    Gallery(#[from] GalleryError),
    #[error("ROS 2")]
    Ros(#[from] DdsError),
    #[error("loading the face pipelines did not finish")]
    PipelineLoad(#[source] tokio::task::JoinError),
    #[error("no worker configured")]
    NoWorker,
    #[error("cannot start the {what} thread")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
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
    // The user's values (params files, -p) and the built-in defaults of the rest.
    let params = declared::with_defaults(&Params::for_node(&args, &names.node_name, &fqn)?);
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
            .map_err(NodeError::PipelineLoad)??
    };
    let first = pipelines.first().ok_or(NodeError::NoWorker)?;
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

    // DDS. No request of this life can have been sent before the participant exists.
    let life_start_ns = requests::now_ns();
    let context = dds::context(&env)?;
    // RustDDS's own warning about it is muted with the rest of its log (facerec_node's filter).
    if let Some(warning) = dds::receive_buffer_warning() {
        tracing::warn!("{warning}");
    }
    // Every parameter declared, with its value and description (`ros2 param list/get/describe`);
    // `ros2 param set` goes through `live`: live ones apply from the next frame, the others are
    // refused with the reason. use_sim_time is ros2-client's own: while it is true (given at
    // start or set later) the spinner subscribes `/clock` and the node's clock is `/clock`'s.
    let live = Arc::new(LiveSettings::new(Live::from_config(&config)));
    // The node's /rosout writer is its own (rcl's QoS; ros::log publishes on it), not ros2-client's.
    let mut options = NodeOptions::new()
        .enable_rosout(false)
        .declare_parameter("use_sim_time", ParameterValue::Boolean(config.use_sim_time));
    for d in declared::DECLARED {
        let value = params.get(d.name).cloned().unwrap_or_else(|| d.default.to_parameter());
        options = options
            .declare_parameter(d.name, value)
            .describe_parameter(declared::descriptor(d));
    }
    let (check, apply) = (Arc::clone(&live), Arc::clone(&live));
    options = options
        .parameter_validator(Box::new(move |name: &str, value: &ParameterValue| {
            check.check(name, value)
        }))
        .parameter_set_action(Box::new(move |name: &str, value: &ParameterValue| {
            apply.apply(name, value)
        }));
    let mut node = dds::node_with_options(&context, &names.namespace, &names.node_name, options)?;
    // Log lines on /rosout from here on (those logged since the start too: they were queued);
    // none unless facerec_node installed ros::log's layer.
    let rosout = {
        let publisher = dds::rosout_publisher(&mut node)?;
        crate::ros::log::attach(move |line| publisher.publish(line).map_err(|e| e.forget_data()))
    };
    live.start();
    let spinner = dds::spinner(&mut node)?;
    let spin_task = tokio::spawn(async move {
        if let Err(e) = spinner.spin().await {
            tracing::error!("ROS 2 spinner stopped: {e}");
        }
    });

    // State shared by the ROS side and the workers.
    let topics: Vec<String> = config.cameras.iter().map(|c| c.topic.clone()).collect();
    // People over time: one tracker per camera, the people rules set up on the gallery.
    let people = People::new(config.people.clone());
    people.attach(&mut gallery);
    let trackers = match &config.tracking {
        Some(t) => config
            .cameras
            .iter()
            .map(|_| Mutex::new(Tracker::new(t.clone())))
            .collect(),
        None => Vec::new(),
    };
    tracing::info!(
        "tracking {}; anonymous people: {:?}; learning {}",
        if config.tracking.is_some() {
            "on"
        } else {
            "off (every frame named on its own)"
        },
        config.people.anonymous,
        if config.people.learning.enabled { "on" } else { "off" }
    );
    let shared = Arc::new(Shared {
        scheduler: Scheduler::new(config.cameras.len(), MAX_QUEUED_JOBS),
        gallery: RwLock::new(gallery),
        stats: Stats::new(&topics),
        hub: Arc::new(EnrollHub::default()),
        finder: Arc::default(),
        lifecycle: lifecycle::Lifecycle::default(),
        cameras: config.cameras.clone(),
        live,
        frame_limits: config.frame_limits,
        trackers,
        people,
        views: CameraViews::new(config.cameras.len()),
        hri: config.hri,
        clock: dds::RosClock::of(&node),
    });

    // Outputs.
    let publishers = OutputPublishers::new(&mut node, &names, &config)?;

    let mut tasks = Vec::new();
    // Requests being answered and goals being run, each in its own task.
    let inflight = Inflight::default();

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
        tasks.push(camera_info_task(&mut node, camera, index, Arc::clone(&shared))?);
        if let Some(depth) = &camera.depth {
            tasks.push(depth_task(&mut node, depth, index, Arc::clone(&shared))?);
            tracing::info!("camera {index}: aligned depth from {depth}");
        }
    }

    // Services.
    let handlers = Services {
        shared: Arc::clone(&shared),
    };
    let mapping = config.service_mapping;
    let enroll_server = server::<Enroll>(&mut node, mapping, &names.resolve("~/enroll")?)?;
    let forget_server = server::<Forget>(&mut node, mapping, &names.resolve("~/forget")?)?;
    let list_server = server::<ListPeople>(&mut node, mapping, &names.resolve("~/list_people")?)?;
    tasks.push(serve_recorded(
        enroll_server,
        "enroll",
        life_start_ns,
        &inflight,
        Stale::Refuse(services::refused_enroll),
        Some(Box::new({
            let h = handlers.clone();
            move |key: &str| h.recorded_enroll(key)
        })),
        {
            let h = handlers.clone();
            move |req, key| {
                let h = h.clone();
                async move { h.enroll_as(req, Some(key)).await }
            }
        },
    ));
    tasks.push(serve_recorded(
        forget_server,
        "forget",
        life_start_ns,
        &inflight,
        Stale::Refuse(services::refused_forget),
        Some(Box::new({
            let h = handlers.clone();
            move |key: &str| h.recorded_forget(key)
        })),
        {
            let h = handlers.clone();
            move |req, key| {
                let h = h.clone();
                async move { h.forget_as(req, Some(key)).await }
            }
        },
    ));
    tasks.push(serve(
        list_server,
        "list_people",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |req| {
                let h = h.clone();
                async move { h.list_people(req) }
            }
        },
    ));

    // Lifecycle (the managed-node services and event topic of lifecycle_msgs).
    let transition_events = Arc::new(publisher::<TransitionEvent>(
        &mut node,
        &names.resolve("~/transition_event")?,
        output_qos(10),
    )?);
    let change_state_server = server::<ChangeState>(&mut node, mapping, &names.resolve("~/change_state")?)?;
    let get_state_server = server::<GetState>(&mut node, mapping, &names.resolve("~/get_state")?)?;
    let transitions_server =
        server::<GetAvailableTransitions>(&mut node, mapping, &names.resolve("~/get_available_transitions")?)?;
    let states_server = server::<GetAvailableStates>(&mut node, mapping, &names.resolve("~/get_available_states")?)?;
    let graph_server =
        server::<GetAvailableTransitions>(&mut node, mapping, &names.resolve("~/get_transition_graph")?)?;
    tasks.push(serve(
        change_state_server,
        "change_state",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |req| {
                let (resp, event) = h.change_state(&req);
                if let Some(event) = event {
                    if let Err(e) = transition_events.publish(event) {
                        tracing::warn!("could not publish the transition event: {e}");
                    }
                }
                async move { resp }
            }
        },
    ));
    tasks.push(serve(
        get_state_server,
        "get_state",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |_req| {
                let resp = h.get_state();
                async move { resp }
            }
        },
    ));
    tasks.push(serve(
        transitions_server,
        "get_available_transitions",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |_req| {
                let resp = h.available_transitions();
                async move { resp }
            }
        },
    ));
    tasks.push(serve(
        states_server,
        "get_available_states",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |_req| {
                let resp = h.available_states();
                async move { resp }
            }
        },
    ));
    tasks.push(serve(
        graph_server,
        "get_transition_graph",
        life_start_ns,
        &inflight,
        Stale::Ignore,
        {
            let h = handlers.clone();
            move |_req| {
                let resp = h.transition_graph();
                async move { resp }
            }
        },
    ));

    // Actions.
    let enroll_person = dds::action_server::<EnrollPerson>(
        &mut node,
        mapping,
        &names.resolve("~/enroll_person")?,
        service_qos(),
        output_qos(10),
    )?;
    tasks.push(actions::serve(
        enroll_person,
        "enroll_person",
        life_start_ns,
        &inflight,
        {
            let h = handlers.clone();
            move |goal| actions::check_enroll_person(&h, goal)
        },
        {
            let h = handlers.clone();
            move |goal, context| actions::enroll_person(h.clone(), goal, context)
        },
    ));
    let find_person = dds::action_server::<FindPerson>(
        &mut node,
        mapping,
        &names.resolve("~/find_person")?,
        service_qos(),
        output_qos(10),
    )?;
    tasks.push(actions::serve(
        find_person,
        "find_person",
        life_start_ns,
        &inflight,
        {
            let h = handlers.clone();
            move |goal| actions::check_find_person(&h, goal)
        },
        {
            let h = handlers.clone();
            move |goal, context| actions::find_person(h.clone(), goal, context)
        },
    ));

    // Diagnostics.
    tasks.push(diagnostics_task(
        &mut node,
        Arc::clone(&shared),
        &config,
        &fqn,
        provider.to_string(),
    )?);

    // Other writers of the gallery file (the CLI, another node): their changes taken in.
    tasks.push(gallery_watch_task(Arc::clone(&shared)));

    // Every DDS entity exists: start the publisher thread and the workers.
    let (out_tx, out_rx) = mpsc::channel::<Output>(OUTPUT_QUEUE);
    let mut worker_threads = Vec::new();
    for (i, mut pipeline) in pipelines.into_iter().enumerate() {
        let shared = Arc::clone(&shared);
        let out = out_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("facerec-worker-{i}"))
            .spawn(move || workers::run(&shared, &mut pipeline, &out))
            .map_err(|source| NodeError::Thread { what: "worker", source })?;
        worker_threads.push(handle);
    }
    drop(out_tx);
    let publisher_stats = Arc::clone(&shared);
    let runtime = tokio::runtime::Handle::current();
    // The publisher thread holds the node from here on: ROS4HRI's per-face and per-person
    // topics are created as ids appear. It hands the node back when it ends.
    let publisher_thread = std::thread::Builder::new()
        .name("facerec-publish".to_owned())
        .spawn(move || publishers.run(node, out_rx, &publisher_stats, runtime))
        .map_err(|source| NodeError::Thread {
            what: "publisher",
            source,
        })?;

    tracing::info!(
        "{fqn} ready on ROS domain {} ({}; services in the {:?} mapping): publishing {}, {}, {} ({})",
        env.domain_id,
        match env.discovery {
            DiscoveryRange::Localhost => "localhost only",
            DiscoveryRange::Subnet => "all interfaces",
        },
        mapping,
        names.resolve("~/detections")?,
        names.resolve("~/faces")?,
        names.resolve("~/annotated")?,
        if config.publish_annotated {
            "publish_annotated on"
        } else {
            "only while publish_annotated is true"
        },
    );

    shutdown.await;
    tracing::info!("{fqn} shutting down");
    // Leaving the graph: whatever holds a DDS endpoint ends first (the serving tasks, then the
    // requests and goals they started, the workers and the publisher thread), then the node (its
    // ros_discovery_info entry goes), its spinner and the context. Dropping the context drops
    // the participant, last: RustDDS then disposes it and its remaining readers and writers
    // (SPDP/SEDP) and sends that before its event loop ends, so peers drop the node at once
    // rather than when its lease runs out.
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    inflight.stop().await;
    shared.scheduler.close();
    let joined = tokio::task::spawn_blocking(move || {
        for handle in worker_threads {
            let _ = handle.join();
        }
        publisher_thread.join().ok()
    })
    .await;
    let node = match joined {
        Ok(node) => node,
        Err(e) => {
            tracing::warn!("workers did not stop cleanly: {e}");
            None
        }
    };
    drop(node);
    spin_task.abort();
    let _ = spin_task.await;
    drop(rosout); // publishes what is queued (the shutdown lines), then stops
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
    let subscription = dds::subscription::<M>(node, name, camera_qos())?;
    Ok(tokio::spawn(async move {
        let mut stream = std::pin::pin!(subscription.async_stream());
        let mut gaps = SequenceGaps::default();
        while let Some(item) = stream.next().await {
            match item {
                Ok((msg, info)) => {
                    if !shared.lifecycle.is_active() {
                        // Not active (managed-node switch): the frame is ignored.
                        continue;
                    }
                    shared
                        .stats
                        .lost(index, gaps.lost_before(info.publisher_gid(), info.sequence_number()));
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
                    .malformed(index, &format!("cannot deserialize message: {e}")),
            }
        }
    }))
}

/// Subscribes a camera's `sensor_msgs/CameraInfo`: each message's intrinsics (or why they were
/// refused) go to the camera's view.
fn camera_info_task(
    node: &mut Node,
    camera: &config::CameraConfig,
    index: usize,
    shared: Arc<Shared>,
) -> Result<tokio::task::JoinHandle<()>, NodeError> {
    let topic = camera.camera_info.clone();
    let subscription = dds::subscription::<CameraInfo>(node, &topic, camera_qos())?;
    Ok(tokio::spawn(async move {
        let mut stream = std::pin::pin!(subscription.async_stream());
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok((msg, _)) => convert::intrinsics_of(&msg).map_err(|e| e.to_string()),
                Err(e) => Err(format!("cannot deserialize message: {e}")),
            };
            shared.views.set_intrinsics(index, &topic, info);
        }
    }))
}

/// Subscribes a camera's aligned depth image (`sensor_msgs/Image`, 16UC1 or 32FC1).
fn depth_task(
    node: &mut Node,
    topic: &str,
    index: usize,
    shared: Arc<Shared>,
) -> Result<tokio::task::JoinHandle<()>, NodeError> {
    let subscription = dds::subscription::<Image>(node, topic, camera_qos())?;
    let topic = topic.to_owned();
    Ok(tokio::spawn(async move {
        let mut stream = std::pin::pin!(subscription.async_stream());
        while let Some(item) = stream.next().await {
            if !shared.lifecycle.is_active() {
                continue;
            }
            let (stamp_ns, depth) = match item {
                Ok((msg, _)) => (msg.header.stamp.to_nanos(), convert::depth_of(&msg)),
                Err(e) => (0, Err(format!("cannot deserialize message: {e}"))),
            };
            shared.views.set_depth(index, &topic, stamp_ns, depth);
        }
    }))
}

/// Samples a publisher sent that never arrived, from the writer sequence numbers of the samples
/// that did (a best-effort reader sees gaps; counting starts at each publisher's first arrival,
/// so samples sent before matching are not counted). Bounded: publishers beyond
/// [`SequenceGaps::PUBLISHERS`] replace the one heard from longest ago.
#[derive(Default)]
struct SequenceGaps {
    /// (publisher, last sequence number, arrival counter when last heard from).
    last: Vec<(ros2_client::Gid, i64, u64)>,
    arrivals: u64,
}

impl SequenceGaps {
    const PUBLISHERS: usize = 64;

    /// Frames lost between `publisher`'s previous sample and this one (sequence number `sn`).
    fn lost_before(&mut self, publisher: ros2_client::Gid, sn: i64) -> u64 {
        self.arrivals += 1;
        let now = self.arrivals;
        if let Some(entry) = self.last.iter_mut().find(|(p, _, _)| *p == publisher) {
            // Unsigned: a repeated or out-of-order sample (sn <= last) is no loss.
            let lost = if sn > entry.1 { sn.abs_diff(entry.1) - 1 } else { 0 };
            entry.1 = entry.1.max(sn);
            entry.2 = now;
            return lost;
        }
        if self.last.len() >= Self::PUBLISHERS {
            if let Some(oldest) = self.last.iter().enumerate().min_by_key(|(_, e)| e.2).map(|(i, _)| i) {
                self.last.swap_remove(oldest);
            }
        }
        self.last.push((publisher, sn, now));
        0
    }
}

fn server<S: RosService>(
    node: &mut Node,
    mapping: ServiceMapping,
    resolved: &str,
) -> Result<Server<S::Request, S::Response>, NodeError> {
    Ok(dds::server::<S>(node, mapping, resolved, service_qos())?)
}

/// How often the gallery file is checked for changes by other writers (a `stat`).
const GALLERY_WATCH_PERIOD: Duration = Duration::from_secs(1);

/// Checks the gallery file every [`GALLERY_WATCH_PERIOD`] and, when another writer (the CLI,
/// another node) saved it, reloads it merged with this node's unsaved changes; tracks drop the
/// names of people forgotten there ([`services::take_outside_changes`]).
fn gallery_watch_task(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(GALLERY_WATCH_PERIOD);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let changed = shared
                .gallery
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .changed_on_disk();
            // Also after a save that merged another writer's forget (trackers must drop it).
            let shared = Arc::clone(&shared);
            let sync = tokio::task::spawn_blocking(move || {
                if changed {
                    services::take_outside_changes(&shared);
                } else {
                    services::drop_names_removed_elsewhere(&shared);
                }
            });
            if let Err(e) = sync.await {
                tracing::warn!("gallery watch: {e}");
            }
        }
    })
}

/// What a server does with a request sent before it existed (see [`requests`]).
enum Stale<Resp> {
    /// Answer with this refusal (services that change something: the client learns that its
    /// call was not carried out).
    Refuse(fn(String) -> Resp),
    /// Do not answer (read-only services, whose responses have no room for a refusal).
    Ignore,
}

/// The answer a previous life of the node (or this one) recorded in the gallery for a request
/// id it executed (see [`requests`]): such a request is answered from the record, never
/// executed again.
type Recorded<Resp> = Box<dyn Fn(&str) -> Option<Resp> + Send + Sync>;

/// Answers requests; each request runs in its own task (in `inflight`) so a long enrolment does
/// not hold up the next request. Each request is executed at most once, and never one sent
/// before this server was created (a previous life of the node; see [`requests`]).
fn serve<Req, Resp, F, Fut>(
    server: Server<Req, Resp>,
    what: &'static str,
    life_start_ns: i64,
    inflight: &Inflight,
    stale: Stale<Resp>,
    handler: F,
) -> tokio::task::JoinHandle<()>
where
    Req: ros2_client::Message + Clone + Send + Sync + 'static,
    Resp: ros2_client::Message + Send + Sync + 'static,
    F: Fn(Req) -> Fut + Send + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
    Server<Req, Resp>: Send + Sync,
{
    serve_recorded(server, what, life_start_ns, inflight, stale, None, move |req, _| {
        handler(req)
    })
}

/// As [`serve`], for services whose effects the gallery records with the request's id
/// ([`requests::request_key`], handed to `handler`): a request found in `recorded` is answered
/// from the record (also one from a previous life: it was executed, and only the answer was
/// lost), whatever its timestamp says.
fn serve_recorded<Req, Resp, F, Fut>(
    server: Server<Req, Resp>,
    what: &'static str,
    life_start_ns: i64,
    inflight: &Inflight,
    stale: Stale<Resp>,
    recorded: Option<Recorded<Resp>>,
    handler: F,
) -> tokio::task::JoinHandle<()>
where
    Req: ros2_client::Message + Clone + Send + Sync + 'static,
    Resp: ros2_client::Message + Send + Sync + 'static,
    F: Fn(Req, String) -> Fut + Send + 'static,
    Fut: Future<Output = Resp> + Send + 'static,
    Server<Req, Resp>: Send + Sync,
{
    let server = Arc::new(server);
    let mut gate = RequestGate::new(life_start_ns, requests::REMEMBERED_REQUESTS);
    let mut warned_untimed = false;
    let mut stale_warnings = requests::RateLimit::new(Duration::from_secs(10));
    // A test hook (interop `service_faults.py answered`): wait this long between a request's
    // effect (saved) and its answer, so a test can kill the node in between.
    let pause_before_answer = std::env::var("FACEREC_TEST_PAUSE_BEFORE_ANSWER_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_millis);
    let inflight = inflight.clone();
    tokio::spawn(async move {
        loop {
            let (id, req, info) = match server.async_receive_request_with_info().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("{what}: bad request: {e}");
                    continue;
                }
            };
            let key = requests::request_key(&id);
            let sent_ns = info.source_timestamp().map(|t| t.to_nanos());
            let admission = gate.admit(id, sent_ns);
            if admission != Admission::Duplicate {
                if let Some(resp) = recorded.as_ref().and_then(|r| r(&key)) {
                    tracing::info!(
                        "{what}: request {key} was executed before (its effect is in the gallery); answered from the record, not executed again"
                    );
                    if let Err(e) = server.async_send_response(id, resp).await {
                        tracing::warn!("{what}: could not send the recorded answer: {e}");
                    }
                    continue;
                }
            }
            let answer = match admission {
                Admission::Execute => handler(req, key),
                Admission::ExecuteUntimed => {
                    if !warned_untimed {
                        warned_untimed = true;
                        tracing::warn!(
                            "{what}: a request without a source timestamp (client {:?}); such requests cannot be told apart from ones sent before this node started",
                            id.writer_gid
                        );
                    }
                    handler(req, key)
                }
                Admission::Duplicate => {
                    tracing::debug!("{what}: request {id:?} seen before; not executed again");
                    continue;
                }
                Admission::BeforeThisLife { early_ns } => {
                    #[allow(clippy::cast_precision_loss)]
                    let early_s = early_ns as f64 / 1e9;
                    if let Some(suppressed) = stale_warnings.allow() {
                        tracing::warn!(
                            "{what}: request {} of client {:?} was sent {early_s:.3} s before this node started (to a previous run of the node) and is not in the gallery's record of executed requests; not executed{}",
                            id.sequence_number,
                            id.writer_gid,
                            requests::suppressed_note(suppressed)
                        );
                    }
                    match &stale {
                        Stale::Refuse(refusal) => {
                            let resp = refusal(format!(
                                "not executed: the request was sent {early_s:.3} s before this node started (to a previous run of the node, or the client's clock is behind this host's), and no run of the node recorded executing it; call again"
                            ));
                            if let Err(e) = server.async_send_response(id, resp).await {
                                tracing::warn!("{what}: could not send the refusal: {e}");
                            }
                        }
                        Stale::Ignore => {}
                    }
                    continue;
                }
            };
            let server = Arc::clone(&server);
            inflight.spawn(async move {
                let resp = answer.await;
                if let Some(pause) = pause_before_answer {
                    tokio::time::sleep(pause).await;
                }
                if let Err(e) = server.async_send_response(id, resp).await {
                    tracing::warn!("{what}: could not send the response: {e}");
                }
            });
        }
    })
}

/// The output publishers, driven by their own thread.
struct OutputPublishers {
    detections: Publisher<crate::ros::msgs::Detection2DArray>,
    faces: Publisher<crate::ros::msgs::FaceArray>,
    /// `~/annotated`: created at start when `publish_annotated` is on, else with the first
    /// annotated frame after `ros2 param set` switches it on (so a node that never publishes one
    /// advertises no such topic; its first frames may be sent before subscribers match).
    annotated: Option<Publisher<Image>>,
    annotated_name: String,
    /// `/tf`, likewise: at start with `tf.enabled`, else with the first transforms after it is
    /// switched on at run time.
    tf: Option<Publisher<TfMessage>>,
    /// The REP-155 topics (`hri.enabled`).
    hri: Option<hri::HriPublisher>,
    /// Cameras with a published frame (the first one is logged at info level).
    seen: std::collections::HashSet<usize>,
}

fn publisher<M: RosMessage + serde::Serialize>(
    node: &mut Node,
    resolved: &str,
    qos: QosProfile,
) -> Result<Publisher<M>, NodeError> {
    Ok(dds::publisher(node, resolved, qos)?)
}

impl OutputPublishers {
    fn new(node: &mut Node, names: &NameResolver, config: &NodeConfig) -> Result<Self, NodeError> {
        let annotated_name = names.resolve("~/annotated")?;
        Ok(Self {
            detections: publisher(node, &names.resolve("~/detections")?, output_qos(10))?,
            faces: publisher(node, &names.resolve("~/faces")?, output_qos(10))?,
            annotated: if config.publish_annotated {
                Some(Self::annotated_publisher(node, &annotated_name)?)
            } else {
                None
            },
            annotated_name,
            tf: if config.tf {
                Some(Self::tf_publisher(node)?)
            } else {
                None
            },
            hri: if config.hri {
                Some(hri::HriPublisher::new(node)?)
            } else {
                None
            },
            seen: std::collections::HashSet::new(),
        })
    }

    fn annotated_publisher(node: &mut Node, resolved: &str) -> Result<Publisher<Image>, NodeError> {
        publisher(node, resolved, output_qos(1))
    }

    fn tf_publisher(node: &mut Node) -> Result<Publisher<TfMessage>, NodeError> {
        // tf2's QoS for /tf: reliable, volatile, depth 100.
        publisher(node, "/tf", output_qos(100))
    }

    /// Publishes every finished frame until the workers are gone; gives the node back. Between
    /// frames, ROS4HRI faces of a camera quiet for `tracking.max_miss_s` are reported lost.
    fn run(
        mut self,
        mut node: Node,
        mut rx: mpsc::Receiver<Output>,
        shared: &Shared,
        runtime: tokio::runtime::Handle,
    ) -> Node {
        let stats = &shared.stats;
        loop {
            let next = runtime.block_on(async { tokio::time::timeout(HRI_EXPIRY_CHECK, rx.recv()).await });
            if let Some(hri) = self.hri.as_mut() {
                let quiet_ns = shared.live.get().track_limits.max_miss_ns;
                hri.expire(Duration::from_nanos(u64::try_from(quiet_ns).unwrap_or(0)));
            }
            let out = match next {
                Ok(Some(out)) => out,
                Ok(None) => break,
                Err(_) => continue, // no frame within HRI_EXPIRY_CHECK
            };
            let faces = out.faces.faces.len();
            if !out.transforms.is_empty() {
                if self.tf.is_none() {
                    match Self::tf_publisher(&mut node) {
                        Ok(p) => self.tf = Some(p),
                        Err(e) => tracing::warn!("cannot create the /tf publisher: {}", crate::error_chain(&e)),
                    }
                }
                if let Some(tf) = &self.tf {
                    if let Err(e) = tf.publish(TfMessage {
                        transforms: out.transforms,
                    }) {
                        tracing::debug!("publishing /tf failed: {e}");
                    }
                }
            }
            if let (Some(hri), Some(frame)) = (self.hri.as_mut(), out.hri) {
                hri.publish(&mut node, frame);
            }
            if let Err(e) = self.detections.publish(out.detections) {
                tracing::warn!("publishing detections failed: {e}");
            }
            if let Err(e) = self.faces.publish(out.faces) {
                tracing::warn!("publishing faces failed: {e}");
            }
            if let Some(img) = out.annotated {
                if self.annotated.is_none() {
                    match Self::annotated_publisher(&mut node, &self.annotated_name) {
                        Ok(p) => self.annotated = Some(p),
                        Err(e) => tracing::warn!(
                            "cannot create the {} publisher: {}",
                            self.annotated_name,
                            crate::error_chain(&e)
                        ),
                    }
                }
                if let Some(annotated) = &self.annotated {
                    if let Err(e) = annotated.publish(img) {
                        tracing::debug!("publishing the annotated image failed: {e}");
                    }
                }
            }
            let latency = out.arrived.elapsed();
            stats.processed(out.camera, faces, latency, out.pipeline);
            if self.seen.insert(out.camera) {
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
        node
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
            // Tracker statistics into each camera's status (a tracker lock, then nothing else).
            for (camera, s) in status.iter_mut().enumerate() {
                if let Some(tracker) = shared.tracker(camera) {
                    let (level, message, values) = stats::tracker_values(&tracker);
                    s.values.extend(values);
                    if level > s.level && s.level != DiagnosticStatus::STALE {
                        s.level = level;
                        s.message = message;
                    }
                }
                // Where faces are: intrinsics known, refused CameraInfo / depth messages.
                let (info, depth, misfits) = shared.views.refused(camera);
                for (key, value) in [
                    ("camera_info_received", shared.views.has_intrinsics(camera).to_string()),
                    ("camera_info_refused", info.to_string()),
                    ("depth_refused", depth.to_string()),
                    ("geometry_misfit_frames", misfits.to_string()),
                ] {
                    s.values.push(KeyValue {
                        key: key.to_owned(),
                        value,
                    });
                }
            }
            let (people, vectors, anonymous) = {
                let g = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
                (g.len(), g.vector_count(), g.anonymous_count())
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
                    kv("gallery_anonymous", anonymous.to_string()),
                    kv("tracking", shared.tracking().to_string()),
                    kv("use_sim_time", shared.clock.is_simulated().to_string()),
                    kv("gallery_path", gallery_path.clone()),
                    kv("enrollments_in_progress", shared.hub.active().to_string()),
                    kv("detector_model", detector.clone()),
                    kv("embedder_model", embedder.clone()),
                ],
            });
            let msg = DiagnosticArray {
                header: Header {
                    stamp: shared.clock.now(),
                    frame_id: String::new(),
                },
                status,
            };
            if let Err(e) = publisher.publish(msg) {
                tracing::debug!("publishing diagnostics failed: {e}");
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::SequenceGaps;
    use ros2_client::Gid;

    #[test]
    fn sequence_gaps_count_lost_samples_per_publisher() {
        let (a, b) = (Gid::from([1; 16]), Gid::from([2; 16]));
        let mut gaps = SequenceGaps::default();
        assert_eq!(
            gaps.lost_before(a, 5),
            0,
            "samples before the first arrival are not counted"
        );
        assert_eq!(gaps.lost_before(a, 6), 0);
        assert_eq!(gaps.lost_before(b, 1), 0);
        assert_eq!(gaps.lost_before(a, 9), 2);
        assert_eq!(gaps.lost_before(b, 2), 0);
        assert_eq!(gaps.lost_before(a, 9), 0, "a repeated sample is no loss");
        assert_eq!(gaps.lost_before(a, 8), 0, "nor is one out of order");
        for p in 0..100u8 {
            gaps.lost_before(Gid::from([p.wrapping_add(10); 16]), 1);
        }
        assert!(gaps.last.len() <= SequenceGaps::PUBLISHERS);
    }
}
