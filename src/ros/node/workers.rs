//! The worker pool: OS threads, each owning a face `Pipeline` (ONNX Runtime sessions), that take
//! the latest frame of a camera from the scheduler (newest first, no camera left waiting), run
//! detect -> align -> embed, report their frame time back to it, name the faces against the
//! shared gallery, offer enrolment samples, tell person searches what each frame shows, and hand
//! the finished messages to the publisher thread. Inference never runs on the tokio executor.
//!
//! With tracking (the default) a frame goes the way replay sends it: `Pipeline::track` with its
//! camera's `Tracker` (locked for the frame, so a camera's frames reach its tracker one at a
//! time), then `People::pending` / `People::update` (anonymous strangers, learning, expiry; a
//! persisted gallery saved when it changed). Lock order everywhere: a tracker, then the gallery.
//!
//! Each face also gets its 3D position when the camera's intrinsics are known (`views`,
//! `crate::locate`), and with `tf.enabled` a `face_<id>` transform; with `hri.enabled` the
//! frame's REP-155 content is built here (`hri::HriFrame`, crops included) for the publisher.
//!
//! Touches the library pipeline, trackers and people rules, the shared gallery (read lock per
//! frame, write lock for people updates) and the node's conversion functions; knows nothing of
//! DDS.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::config::CameraConfig;
use super::convert::{self, FaceOut};
use super::enroll::{dominant_sample, EnrollHub};
use super::finder::FindHub;
use super::hri::{self, HriFrame, HriPerson, TrackedInput};
use super::lifecycle::Lifecycle;
use super::live::{Live, LiveSettings};
use super::services::ServiceError;
use super::slots::{Scheduler, Work};
use super::stats::Stats;
use super::views::CameraViews;
use crate::embed::Embedding;
use crate::frame::{Frame, FrameError, FrameLimits};
use crate::gallery::Gallery;
use crate::locate::{self, FacePosition};
use crate::people::{AnonymousMode, People};
use crate::pipeline::{Pipeline, Recognition};
use crate::ros::dds::RosClock;
use crate::ros::msgs::{
    CompressedImage, Detection2DArray, FaceArray, Header, Image, Quaternion, Transform, TransformStamped, Vector3,
};
use crate::track::{TrackedFace, Tracker};

/// A camera message as it arrived.
#[derive(Debug)]
pub enum Incoming {
    Raw(Image),
    Compressed(CompressedImage),
}

impl Incoming {
    pub fn header(&self) -> &Header {
        match self {
            Self::Raw(m) => &m.header,
            Self::Compressed(m) => &m.header,
        }
    }

    /// Checks and decodes the pixels, refusing images over `limits`.
    pub fn into_frame(self, limits: FrameLimits) -> Result<Frame, FrameError> {
        match self {
            Self::Raw(m) => convert::frame_from_image(m, limits),
            Self::Compressed(m) => convert::frame_from_compressed(&m, limits),
        }
    }
}

/// A camera message waiting in its slot.
#[derive(Debug)]
pub struct CameraFrame {
    pub msg: Incoming,
    pub arrived: Instant,
}

/// An `~/enroll` request that brought its own image.
pub struct EnrollJob {
    pub image: Image,
    pub reply: oneshot::Sender<Result<Embedding, ServiceError>>,
}

/// Everything published for one processed frame.
pub struct Output {
    pub camera: usize,
    pub arrived: Instant,
    /// Time inside the face pipeline (decode excluded).
    pub pipeline: Duration,
    pub detections: Detection2DArray,
    pub faces: FaceArray,
    pub annotated: Option<Image>,
    /// `face_<id>` transforms of the located, tracked faces (`tf.enabled`).
    pub transforms: Vec<TransformStamped>,
    /// The frame's REP-155 content (`hri.enabled`).
    pub hri: Option<HriFrame>,
}

/// State the workers share with the ROS side.
pub struct Shared {
    pub scheduler: Scheduler<CameraFrame, EnrollJob>,
    pub gallery: RwLock<Gallery>,
    pub stats: Stats,
    pub hub: Arc<EnrollHub>,
    /// `~/find_person` searches in progress.
    pub finder: Arc<FindHub>,
    /// Managed-node state: camera frames are processed only while active.
    pub lifecycle: Lifecycle,
    pub cameras: Vec<CameraConfig>,
    /// Match threshold, `publish_annotated` and enroll rules; `ros2 param set` changes them.
    pub live: Arc<LiveSettings>,
    /// Largest image a camera message or request may bring.
    pub frame_limits: FrameLimits,
    /// One tracker per camera, in camera order; empty with tracking off (every frame named on
    /// its own).
    pub trackers: Vec<Mutex<Tracker>>,
    /// Strangers and learning, shared by the cameras (it holds no per-camera state).
    pub people: People,
    /// Each camera's intrinsics and depth images, as they arrive.
    pub views: CameraViews,
    /// Build the REP-155 content of each tracked frame.
    pub hri: bool,
    /// What the node stamps itself (diagnostics, transition events): ROS time, `/clock`'s
    /// while `use_sim_time` is true.
    pub clock: RosClock,
}

impl Shared {
    /// Camera `camera`'s tracker, locked; `None` with tracking off.
    pub fn tracker(&self, camera: usize) -> Option<MutexGuard<'_, Tracker>> {
        self.trackers
            .get(camera)
            .map(|t| t.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether tracking is on.
    pub fn tracking(&self) -> bool {
        !self.trackers.is_empty()
    }
}

/// Runs one worker until the scheduler closes or the publisher goes away.
///
/// A panic while handling one frame or job (a bug, never expected) is caught, logged and
/// counted, so one bad frame cannot take a worker away.
pub fn run(shared: &Shared, pipeline: &mut Pipeline, out: &mpsc::Sender<Output>) {
    while let Some(work) = shared.scheduler.take() {
        match work {
            Work::Frame { camera, frame } => {
                let taken = Instant::now();
                let result = catch_unwind(AssertUnwindSafe(|| process(shared, pipeline, camera, frame)));
                shared.scheduler.record_frame_time(taken.elapsed());
                match result {
                    Ok(Some(output)) => {
                        if out.blocking_send(output).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {}
                    Err(panic) => shared
                        .stats
                        .failed(camera, &format!("internal error: {}", panic_text(&panic))),
                }
            }
            Work::Job(job) => {
                let EnrollJob { image, reply } = job;
                let result = catch_unwind(AssertUnwindSafe(|| enroll_image(shared, pipeline, image)))
                    .unwrap_or_else(|panic| Err(ServiceError::Panic(panic_text(&panic))));
                // The requester may have given up; nothing to do then.
                let _ = reply.send(result);
            }
        }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_owned())
}

fn process(shared: &Shared, pipeline: &mut Pipeline, camera: usize, frame: CameraFrame) -> Option<Output> {
    let CameraFrame { msg, arrived } = frame;
    let header = msg.header().clone();
    let frame = match msg.into_frame(shared.frame_limits) {
        Ok(f) => f,
        Err(e) => {
            shared.stats.malformed(camera, &crate::ros::error_chain(&e));
            return None;
        }
    };
    // Parameters set since the previous frame apply from this one.
    let live = shared.live.get();
    if pipeline.threshold().to_bits() != live.match_threshold.to_bits() {
        pipeline.set_threshold(live.match_threshold);
    }
    let start = Instant::now();
    let topic = shared.cameras.get(camera).map_or("", |c| c.topic.as_str());
    if let Some(mut tracker) = shared.tracker(camera) {
        // The tracker names with the same threshold as the per-frame path, and follows the
        // live tracking limits.
        tracker.set_match_threshold(live.match_threshold);
        tracker.set_limits(&live.track_limits);
        return track(
            shared,
            &live,
            pipeline,
            camera,
            &mut tracker,
            frame,
            header,
            arrived,
            start,
            topic,
        );
    }
    let faces = match pipeline.analyze(&frame) {
        Ok(r) => r.faces,
        Err(e) => {
            shared.stats.failed(camera, &crate::ros::error_chain(&e));
            return None;
        }
    };
    shared
        .hub
        .offer(camera, || dominant_sample(&frame, &faces, &live.enroll.policy));
    // A person search on this camera judges every face's vector (name_faces consumes them).
    let embeddings: Vec<Embedding> = if shared.finder.wants(camera) {
        faces.iter().map(|f| f.embedding.clone()).collect()
    } else {
        Vec::new()
    };
    let (recognitions, anonymous) = {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        let recognitions = pipeline.name_faces(faces, &gallery);
        let anonymous: Vec<bool> = recognitions.iter().map(|r| gallery.is_anonymous(&r.name)).collect();
        (recognitions, anonymous)
    };
    let pipeline_time = start.elapsed();
    let positions = locate_faces(
        shared,
        camera,
        &header,
        &frame,
        recognitions.iter().map(|r| &r.detection),
    );
    let out: Vec<FaceOut<'_>> = recognitions
        .iter()
        .zip(anonymous)
        .zip(positions)
        .map(|((r, anonymous), position)| FaceOut {
            position,
            ..FaceOut::from_recognition(r, anonymous)
        })
        .collect();
    let annotated = live
        .publish_annotated
        .then(|| annotate(frame.into_rgb(), &recognitions, &header));
    let embedded: Vec<Option<&[f32]>> = embeddings.iter().map(|e| Some(e.as_slice())).collect();
    Some(output_of(
        shared,
        camera,
        arrived,
        pipeline_time,
        &out,
        &embedded,
        &header,
        annotated,
        &live,
        None,
    ))
}

/// A processed frame's messages, built the same way with tracking and without; every person
/// search wanting this camera is told what the frame shows (`embeddings`: the faces' vectors
/// embedded in this frame, in order, or empty).
#[allow(clippy::too_many_arguments)]
fn output_of(
    shared: &Shared,
    camera: usize,
    arrived: Instant,
    pipeline: Duration,
    faces: &[FaceOut<'_>],
    embeddings: &[Option<&[f32]>],
    header: &Header,
    annotated: Option<Image>,
    live: &Live,
    hri: Option<HriFrame>,
) -> Output {
    if shared.finder.wants(camera) {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        shared.finder.offer(camera, &header.stamp, faces, embeddings, &gallery);
    }
    let topic = shared.cameras.get(camera).map_or("", |c| c.topic.as_str());
    Output {
        camera,
        arrived,
        pipeline,
        detections: convert::detection_array_of(faces, header),
        faces: convert::face_array_of(faces, header, topic),
        annotated,
        transforms: if live.tf {
            face_transforms(camera, faces, header)
        } else {
            Vec::new()
        },
        hri,
    }
}

/// Each face's position, when the camera's intrinsics are known: from the aligned depth image
/// stamped with the frame when there is one, else monocular. A depth image or intrinsics that do
/// not fit the frame are counted and logged once ([`CameraViews::problem`]); the face then has
/// the monocular position, or none.
fn locate_faces<'d>(
    shared: &Shared,
    camera: usize,
    header: &Header,
    frame: &Frame,
    detections: impl Iterator<Item = &'d crate::detect::Detection>,
) -> Vec<Option<FacePosition>> {
    let (intrinsics, depth) = shared.views.geometry(camera, header.stamp.to_nanos());
    let (w, h) = (frame.width(), frame.height());
    let Some(intrinsics) = intrinsics.and_then(|k| match k.for_frame(w, h) {
        Ok(k) => Some(k),
        Err(e) => {
            shared.views.problem(camera, &e);
            None
        }
    }) else {
        return detections.map(|_| None).collect();
    };
    detections
        .map(|d| match locate::locate(d, &intrinsics, depth.as_deref(), w, h) {
            Ok(p) => p,
            Err(e) => {
                shared.views.problem(camera, &e);
                locate::locate(d, &intrinsics, None, w, h).ok().flatten()
            }
        })
        .collect()
}

/// `face_<face id>` in the image's frame, for each tracked face with a position.
fn face_transforms(camera: usize, faces: &[FaceOut<'_>], header: &Header) -> Vec<TransformStamped> {
    faces
        .iter()
        .filter_map(|f| {
            let (track, p) = (f.track_id?, f.position?);
            let [x, y, z] = p.optical_m;
            let [qx, qy, qz, qw] = p.optical_from_face_rotation();
            Some(TransformStamped {
                header: header.clone(),
                child_frame_id: format!("face_{}", hri::face_id(camera, track)),
                transform: Transform {
                    translation: Vector3 { x, y, z },
                    rotation: Quaternion {
                        x: qx,
                        y: qy,
                        z: qz,
                        w: qw,
                    },
                },
            })
        })
        .collect()
}

fn annotate(mut rgb: image::RgbImage, recognitions: &[Recognition], header: &Header) -> Image {
    crate::annotate::draw(&mut rgb, recognitions);
    convert::image_from_rgb(rgb, header)
}

/// One frame through its camera's tracker and the people rules: the calls replay makes
/// (`crate::replay`), in the same order.
#[allow(clippy::too_many_arguments)]
fn track(
    shared: &Shared,
    live: &Live,
    pipeline: &mut Pipeline,
    camera: usize,
    tracker: &mut Tracker,
    frame: Frame,
    header: Header,
    arrived: Instant,
    start: Instant,
    topic: &str,
) -> Option<Output> {
    let stamp_ns = header.stamp.to_nanos();
    // An enrolment collecting from this camera sees every face embedded, so its dominance
    // rule judges them all (as replay does on enrolment frames).
    let embed_all = shared.hub.wants(camera);
    let tracked = {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        pipeline.track(&frame, stamp_ns, tracker, &gallery, embed_all)
    };
    let tracked: Vec<TrackedFace> = match tracked {
        Ok(t) => t.faces,
        Err(e) => {
            shared.stats.failed(camera, &crate::ros::error_chain(&e));
            return None;
        }
    };
    if embed_all {
        let faces: Vec<crate::pipeline::Face> = tracked
            .iter()
            .filter_map(|f| {
                f.embedding.clone().map(|embedding| crate::pipeline::Face {
                    detection: f.detection.clone(),
                    embedding,
                })
            })
            .collect();
        shared
            .hub
            .offer(camera, || dominant_sample(&frame, &faces, &live.enroll.policy));
    }
    people_update(shared, tracker, topic, live);
    let pipeline_time = start.elapsed();
    let positions = locate_faces(shared, camera, &header, &frame, tracked.iter().map(|f| &f.detection));
    let out: Vec<FaceOut<'_>> = tracked
        .iter()
        .zip(positions)
        .map(|(f, position)| FaceOut {
            position,
            ..FaceOut::from_tracked(f)
        })
        .collect();
    let hri = shared.hri.then(|| hri_frame(shared, camera, &header, &frame, &tracked));
    let annotated = live.publish_annotated.then(|| {
        let recognitions: Vec<Recognition> = tracked
            .iter()
            .map(|f| Recognition {
                name: f.name.clone(),
                score: f.identity_score,
                margin: f.identity_margin,
                best_candidate: None,
                detection: f.detection.clone(),
            })
            .collect();
        annotate(frame.into_rgb(), &recognitions, &header)
    });
    let embedded: Vec<Option<&[f32]>> = tracked.iter().map(|f| f.embedding.as_deref()).collect();
    Some(output_of(
        shared,
        camera,
        arrived,
        pipeline_time,
        &out,
        &embedded,
        &header,
        annotated,
        live,
        hri,
    ))
}

/// The REP-155 content of a tracked frame: its confirmed tracks, with the gallery's permanent
/// person id of the name each carries.
fn hri_frame(shared: &Shared, camera: usize, header: &Header, frame: &Frame, tracked: &[TrackedFace]) -> HriFrame {
    let inputs: Vec<TrackedInput<'_>> = {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        tracked
            .iter()
            .filter(|f| f.confirmed)
            .filter_map(|f| {
                Some(TrackedInput {
                    track: f.track_id?,
                    detection: &f.detection,
                    person: gallery.person_id(&f.name).map(|person_id| HriPerson {
                        person_id,
                        name: (!f.anonymous).then(|| f.name.clone()),
                    }),
                    score: f.identity_score,
                })
            })
            .collect()
    };
    HriFrame::build(camera, header, frame, &inputs)
}

/// After a tracked frame: strangers admitted, "last seen" refreshed, samples learned, anonymous
/// people expired ([`People::update`]); the gallery is saved when that changed what it keeps. A
/// failure is logged and counted; the frame's outputs are published anyway.
fn people_update(shared: &Shared, tracker: &mut Tracker, topic: &str, live: &Live) {
    // The live rules (learning, expiry); the anonymous mode is the one the node started with.
    let people = People::new(live.people.clone());
    let pending = {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        people.pending(tracker, &gallery)
    };
    if !pending {
        return;
    }
    let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
    match people.update(tracker, &mut gallery, topic) {
        Ok(update) => {
            for id in &update.admitted {
                tracing::info!("{topic}: a stranger became anonymous person {id}");
            }
            for id in &update.expired {
                tracing::info!("anonymous person {id} expired (not seen for anonymous.expire_s)");
            }
            for name in &update.learned {
                tracing::debug!("{topic}: learned a sample of {name}");
            }
            // Learned samples are kept in every mode; anonymous people only when persisted (a
            // save in the other modes leaves them out).
            let persisted = shared.people.config().anonymous == AnonymousMode::Persisted;
            if (update.changed && persisted) || !update.learned.is_empty() {
                if let Err(e) = gallery.save() {
                    tracing::warn!(
                        "{topic}: could not save the gallery after a people update (kept in memory, saved with the next change): {}",
                        crate::ros::error_chain(&e)
                    );
                }
            }
        }
        Err(e) => tracing::warn!("{topic}: people update failed: {}", crate::ros::error_chain(&e)),
    }
}

fn enroll_image(shared: &Shared, pipeline: &mut Pipeline, image: Image) -> Result<Embedding, ServiceError> {
    let frame = convert::frame_from_image(image, shared.frame_limits).map_err(ServiceError::RequestImage)?;
    let faces = pipeline.analyze(&frame).map_err(ServiceError::Pipeline)?.faces;
    dominant_sample(&frame, &faces, &shared.live.get().enroll.policy)
        .map(|face| face.embedding)
        .map_err(ServiceError::RequestFace)
}
