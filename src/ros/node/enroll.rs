//! Enrolment from cameras without stopping them: an `~/enroll` request registers a collector
//! here; workers offer the dominant face of every frame they process from a matching camera
//! (after the enrolment policy: one clearly largest face, big and sharp enough), and the
//! request's task gathers those samples until it has enough or time runs out.
//!
//! Touches only the library's enrolment policy and alignment; the service itself lives in
//! `node::services`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::embed::Embedding;
use crate::enroll::{EnrollPolicy, EnrollRefusal};
use crate::frame::Frame;
use crate::pipeline::Face;

/// One frame's contribution to an enrolment: the dominant face's vector, or why there is none.
pub type Sample = Result<Embedding, EnrollRefusal>;

/// The dominant face of an analysed frame as an enrolment sample.
pub fn dominant_sample(frame: &Frame, faces: &[Face], policy: &EnrollPolicy) -> Sample {
    Ok(policy.select_face(frame, faces)?.embedding.clone())
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
}

/// Gathers up to `wanted` samples within `timeout`. When no camera is named, the first camera
/// that gives a usable sample is kept for the rest of the collection.
pub async fn collect(registration: &mut Registration, any_camera: bool, wanted: usize, timeout: Duration) -> Collected {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Collected::default();
    let mut chosen: Option<usize> = None;
    while out.samples.len() < wanted {
        let next = tokio::time::timeout_at(deadline, registration.samples.recv()).await;
        let Ok(Some((camera, sample))) = next else {
            break;
        };
        if any_camera && chosen.is_some_and(|c| c != camera) {
            continue;
        }
        out.frames += 1;
        match sample {
            Ok(v) => {
                chosen = Some(camera);
                out.samples.push(v);
                out.cameras.push(camera);
            }
            Err(refusal) => out.last_refusal = Some(refusal),
        }
    }
    out
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
            Ok(vec![1.0, 0.0])
        });
        hub.offer(0, || {
            computed += 1;
            Ok(vec![0.0, 1.0])
        });
        hub.offer(1, || {
            computed += 1;
            Ok(vec![0.5, 0.5])
        });
        assert_eq!(computed, 4, "each frame's sample is computed once");

        let got = collect(&mut cam1, false, 5, Duration::from_millis(50)).await;
        assert_eq!(got.samples, vec![vec![1.0, 0.0], vec![0.5, 0.5]]);
        assert_eq!((got.frames, got.cameras), (2, vec![1, 1]));

        // "Any camera" sticks to the first camera that gave a sample (1), after a refusal on 0.
        let got = collect(&mut any, true, 2, Duration::from_millis(50)).await;
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
        let got = collect(&mut reg, true, 3, Duration::from_millis(30)).await;
        assert!(got.samples.is_empty());
        assert_eq!(got.frames, 1);
        assert!(matches!(got.last_refusal, Some(EnrollRefusal::TooSmall { .. })));
    }
}
