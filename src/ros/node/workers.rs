//! The worker pool: OS threads, each owning a face `Pipeline` (ONNX Runtime sessions), that take
//! the latest frame of each camera round-robin from the scheduler, run detect -> align -> embed,
//! name the faces against the shared gallery, offer enrolment samples, and hand the finished
//! messages to the publisher thread. Inference never runs on the tokio executor.
//!
//! Touches the library pipeline, the shared gallery (read lock per frame) and the node's
//! conversion functions; knows nothing of DDS.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::config::CameraConfig;
use super::convert::{self, ConvertError};
use super::enroll::{dominant_sample, EnrollHub};
use super::slots::{Scheduler, Work};
use super::stats::Stats;
use crate::embed::Embedding;
use crate::enroll::EnrollPolicy;
use crate::frame::Frame;
use crate::gallery::Gallery;
use crate::pipeline::Pipeline;
use crate::ros::msgs::{CompressedImage, Detection2DArray, FaceArray, Header, Image};

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

    /// Checks and decodes the pixels.
    pub fn into_frame(self) -> Result<Frame, ConvertError> {
        match self {
            Self::Raw(m) => convert::frame_from_image(m),
            Self::Compressed(m) => convert::frame_from_compressed(&m),
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
    pub reply: oneshot::Sender<Result<Embedding, String>>,
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
}

/// State the workers share with the ROS side.
pub struct Shared {
    pub scheduler: Scheduler<CameraFrame, EnrollJob>,
    pub gallery: RwLock<Gallery>,
    pub stats: Stats,
    pub hub: Arc<EnrollHub>,
    pub cameras: Vec<CameraConfig>,
    pub policy: EnrollPolicy,
    pub publish_annotated: bool,
}

/// Runs one worker until the scheduler closes or the publisher goes away.
///
/// A panic while handling one frame or job (a bug, never expected) is caught, logged and
/// counted, so one bad frame cannot take a worker away.
pub fn run(shared: &Shared, pipeline: &mut Pipeline, out: &mpsc::Sender<Output>) {
    while let Some(work) = shared.scheduler.take() {
        match work {
            Work::Frame { camera, frame } => {
                let result = catch_unwind(AssertUnwindSafe(|| process(shared, pipeline, camera, frame)));
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
                    .unwrap_or_else(|panic| Err(format!("internal error: {}", panic_text(&panic))));
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
    let frame = match msg.into_frame() {
        Ok(f) => f,
        Err(e) => {
            shared.stats.malformed(camera, &e.to_string());
            return None;
        }
    };
    let start = Instant::now();
    let (faces, _timings) = match pipeline.analyze(&frame) {
        Ok(r) => r,
        Err(e) => {
            shared.stats.failed(camera, &e.to_string());
            return None;
        }
    };
    shared
        .hub
        .offer(camera, || dominant_sample(&frame, &faces, &shared.policy));
    let recognitions = {
        let gallery = shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        pipeline.name_faces(faces, &gallery)
    };
    let pipeline_time = start.elapsed();
    let topic = shared.cameras.get(camera).map_or("", |c| c.topic.as_str());
    let annotated = shared.publish_annotated.then(|| {
        let mut rgb = frame.into_rgb();
        crate::annotate::draw(&mut rgb, &recognitions);
        convert::image_from_rgb(rgb, &header)
    });
    Some(Output {
        camera,
        arrived,
        pipeline: pipeline_time,
        detections: convert::detection_array(&recognitions, &header),
        faces: convert::face_array(&recognitions, &header, topic),
        annotated,
    })
}

fn enroll_image(shared: &Shared, pipeline: &mut Pipeline, image: Image) -> Result<Embedding, String> {
    let frame = convert::frame_from_image(image).map_err(|e| format!("the image in the request is malformed: {e}"))?;
    let (faces, _) = pipeline
        .analyze(&frame)
        .map_err(|e| format!("face pipeline failed: {e}"))?;
    dominant_sample(&frame, &faces, &shared.policy).map_err(|e| format!("the image in the request: {e}"))
}
