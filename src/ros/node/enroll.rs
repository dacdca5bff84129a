//! Enrolment from cameras without stopping them: an `~/enroll` request registers a collector
//! here; workers offer the dominant face of every frame they process from a matching camera
//! (after the enrolment policy: one clearly largest face, big and sharp enough), and the
//! request's task gathers those samples until it has enough, time runs out or (for the
//! `~/enroll_person` action) the goal is cancelled, reporting each frame as it comes.
//!
//! Touches only the library's enrolment policy and alignment; the service itself lives in
//! `node::services`, the action in `node::actions`.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::detect::BBox;
use crate::embed::Embedding;
use crate::enroll::{EnrollPolicy, EnrollRefusal};
use crate::frame::Frame;
use crate::pipeline::Face;

/// The dominant face of a frame, taken as a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleFace {
    pub embedding: Embedding,
    /// Where the face is, in the frame's pixels.
    pub bbox_px: BBox,
}

/// One frame's contribution to an enrolment: the dominant face, or why there is none.
pub type Sample = Result<SampleFace, EnrollRefusal>;

/// The dominant face of an analysed frame as an enrolment sample.
pub fn dominant_sample(frame: &Frame, faces: &[Face], policy: &EnrollPolicy) -> Sample {
    let face = policy.select_face(frame, faces)?;
    Ok(SampleFace {
        embedding: face.embedding.clone(),
        bbox_px: face.detection.bbox,
    })
}

struct Collector {
    id: u64,
    /// Only this camera, or any when `None`.
    camera: Option<usize>,
    tx: mpsc::UnboundedSender<(usize, Sample)>,
}

/// The enrolments in progress, shared by the service tasks and the workers.
#[derive(Default)]
pub struct EnrollHub {
    next_id: AtomicU64,
    collectors: Mutex<Vec<Collector>>,
}

/// A registered collector; unregisters itself when dropped.
pub struct Registration {
    hub: Arc<EnrollHub>,
    id: u64,
    /// (camera index, sample) per processed frame of a matching camera.
    pub samples: mpsc::UnboundedReceiver<(usize, Sample)>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.hub.lock().retain(|c| c.id != self.id);
    }
}

impl EnrollHub {
    fn lock(&self) -> MutexGuard<'_, Vec<Collector>> {
        self.collectors.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts collecting samples from one camera (or any).
    pub fn register(self: &Arc<Self>, camera: Option<usize>) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, samples) = mpsc::unbounded_channel();
        self.lock().push(Collector { id, camera, tx });
        Registration {
            hub: Arc::clone(self),
            id,
            samples,
        }
    }

    /// Enrolments in progress.
    pub fn active(&self) -> usize {
        self.lock().len()
    }

    /// Whether any enrolment wants samples from this camera (`offer` checks itself; the
    /// tracking path asks first, to embed every face of a frame an enrolment will judge).
    pub fn wants(&self, camera: usize) -> bool {
        self.lock().iter().any(|c| c.camera.is_none_or(|k| k == camera))
    }

    /// Hands a processed frame's sample to every enrolment that wants this camera. `sample` is
    /// computed only when someone wants it.
    pub fn offer(&self, camera: usize, sample: impl FnOnce() -> Sample) {
        let collectors = self.lock();
        let mut wanted = collectors
            .iter()
            .filter(|c| c.camera.is_none_or(|k| k == camera))
            .peekable();
        if wanted.peek().is_none() {
            return;
        }
        let sample = sample();
        for c in wanted {
            // A closed receiver means that request just finished; nothing to do.
            let _ = c.tx.send((camera, sample.clone()));
        }
    }
}

/// What a collection gathered.
#[derive(Debug, Default)]
pub struct Collected {
    pub samples: Vec<Embedding>,
    /// Camera index of each sample.
    pub cameras: Vec<usize>,
    /// Frames seen (with or without a usable face).
    pub frames: usize,
    /// The most recent reason a frame was not usable.
    pub last_refusal: Option<EnrollRefusal>,
    /// Stopped by `cancel` before it had enough samples or ran out of time.
    pub cancelled: bool,
}

/// Gathers up to `wanted` samples within `timeout`, or until `cancel` completes. When no camera
/// is named, the first camera that gives a usable sample is kept for the rest of the
/// collection. `on_frame` sees each frame judged (camera index and its sample) with what was
/// collected so far, that frame included.
pub async fn collect(
    registration: &mut Registration,
    any_camera: bool,
    wanted: usize,
    timeout: Duration,
    cancel: impl Future<Output = ()>,
    mut on_frame: impl FnMut(&Collected, usize, &Sample),
) -> Collected {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Collected::default();
    let mut chosen: Option<usize> = None;
    tokio::pin!(cancel);
    while out.samples.len() < wanted {
        let next = tokio::select! {
            next = tokio::time::timeout_at(deadline, registration.samples.recv()) => next,
            () = &mut cancel => {
                out.cancelled = true;
                break;
            }
        };
        let Ok(Some((camera, sample))) = next else {
            break;
        };
        if any_camera && chosen.is_some_and(|c| c != camera) {
            continue;
        }
        out.frames += 1;
        match &sample {
            Ok(face) => {
                chosen = Some(camera);
                out.samples.push(face.embedding.clone());
                out.cameras.push(camera);
            }
            Err(refusal) => out.last_refusal = Some(refusal.clone()),
        }
        on_frame(&out, camera, &sample);
    }
    out
}

/// A usable sample with this vector and a fixed box, for tests.
#[cfg(test)]
pub(crate) fn sample_of(embedding: Vec<f32>) -> Sample {
    Ok(SampleFace {
        embedding,
        bbox_px: BBox {
            x: 10.0,
            y: 20.0,
            width: 60.0,
            height: 80.0,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn collectors_get_samples_of_their_camera_until_done() {
        let hub = Arc::new(EnrollHub::default());
        let mut cam1 = hub.register(Some(1));
        let mut any = hub.register(None);
        assert_eq!(hub.active(), 2);
        assert!(hub.wants(1) && hub.wants(0));

        let mut computed = 0;
        hub.offer(0, || {
            computed += 1;
            Err(EnrollRefusal::NoFace)
        });
        hub.offer(1, || {
            computed += 1;
            sample_of(vec![1.0, 0.0])
        });
        hub.offer(0, || {
            computed += 1;
            sample_of(vec![0.0, 1.0])
        });
        hub.offer(1, || {
            computed += 1;
            sample_of(vec![0.5, 0.5])
        });
        assert_eq!(computed, 4, "each frame's sample is computed once");

        let mut seen = Vec::new();
        let got = collect(
            &mut cam1,
            false,
            5,
            Duration::from_millis(50),
            std::future::pending(),
            |so_far, camera, sample| seen.push((so_far.samples.len(), camera, sample.is_ok())),
        )
        .await;
        assert_eq!(
            seen,
            vec![(1, 1, true), (2, 1, true)],
            "each frame reported as it comes"
        );
        assert_eq!(got.samples, vec![vec![1.0, 0.0], vec![0.5, 0.5]]);
        assert_eq!((got.frames, got.cameras), (2, vec![1, 1]));

        // "Any camera" sticks to the first camera that gave a sample (1), after a refusal on 0.
        let got = collect(
            &mut any,
            true,
            2,
            Duration::from_millis(50),
            std::future::pending(),
            |_, _, _| {},
        )
        .await;
        assert_eq!(got.samples, vec![vec![1.0, 0.0], vec![0.5, 0.5]]);
        assert_eq!(got.last_refusal, Some(EnrollRefusal::NoFace));

        drop(cam1);
        drop(any);
        assert_eq!(hub.active(), 0);
        assert!(!hub.wants(0));
        hub.offer(0, || panic!("nobody wants this sample"));
    }

    #[tokio::test]
    async fn collection_times_out_with_the_last_refusal() {
        let hub = Arc::new(EnrollHub::default());
        let mut reg = hub.register(None);
        hub.offer(0, || Err(EnrollRefusal::TooSmall { size: 12.0, min: 40.0 }));
        let got = collect(
            &mut reg,
            true,
            3,
            Duration::from_millis(30),
            std::future::pending(),
            |_, _, _| {},
        )
        .await;
        assert!(got.samples.is_empty());
        assert_eq!(got.frames, 1);
        assert!(!got.cancelled);
        assert!(matches!(got.last_refusal, Some(EnrollRefusal::TooSmall { .. })));
    }

    #[tokio::test]
    async fn a_cancelled_collection_stops_at_once_with_what_it_had() {
        let hub = Arc::new(EnrollHub::default());
        let mut reg = hub.register(None);
        hub.offer(0, || sample_of(vec![1.0, 0.0]));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let collecting = collect(
            &mut reg,
            true,
            5,
            Duration::from_secs(600),
            async move {
                let _ = stopped.await;
            },
            |_, _, _| {},
        );
        let (got, ()) = tokio::join!(collecting, async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let _ = stop.send(());
        });
        assert!(got.cancelled, "cancelled long before the 600 s timeout");
        assert_eq!(got.samples, vec![vec![1.0, 0.0]]);
    }
}
