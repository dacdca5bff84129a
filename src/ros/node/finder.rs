//! Searches in progress for the `~/find_person` action: a goal registers a search here (a name
//! and the cameras to look at); workers tell every search that wants a camera what each frame
//! they publish from it shows (the faces as named for publication, so a search succeeds exactly
//! when the node publishes the person), and the goal's task reads those glances until the
//! person is seen, time runs out or the goal is cancelled.
//!
//! Touches only the faces the workers publish (and the gallery, read, to say how close a face
//! embedded in that frame came to the person); the action itself lives in `node::actions`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc;

use super::convert::FaceOut;
use crate::detect::BBox;
use crate::gallery::Gallery;
use crate::locate::FacePosition;
use crate::ros::msgs::Time;

/// The person, seen in one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The image's header stamp.
    pub stamp: Time,
    /// The face in that image's pixels.
    pub bbox_px: BBox,
    /// Identity score, as published.
    pub score: f32,
    pub track_id: Option<u64>,
    /// Where the face was, when the camera's intrinsics were known.
    pub position: Option<FacePosition>,
}

/// What one published frame of a searched camera showed.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    pub camera: usize,
    /// Faces in the frame.
    pub faces: usize,
    /// The person's face, when named in this frame (the best-scoring one if named twice).
    pub sighting: Option<Sighting>,
    /// The highest similarity to the person's gallery vectors of the faces embedded in this
    /// frame (`None` when none was).
    pub best_score: Option<f32>,
}

struct Search {
    id: u64,
    name: String,
    /// Only these cameras, or all when `None`.
    cameras: Option<Vec<usize>>,
    tx: mpsc::UnboundedSender<Glance>,
}

impl Search {
    fn wants(&self, camera: usize) -> bool {
        self.cameras.as_ref().is_none_or(|c| c.contains(&camera))
    }
}

/// The searches in progress, shared by the action tasks and the workers.
#[derive(Default)]
pub struct FindHub {
    next_id: AtomicU64,
    searches: Mutex<Vec<Search>>,
}

/// A registered search; unregisters itself when dropped.
pub struct SearchRegistration {
    hub: Arc<FindHub>,
    id: u64,
    /// One glance per published frame of a searched camera.
    pub glances: mpsc::UnboundedReceiver<Glance>,
}

impl Drop for SearchRegistration {
    fn drop(&mut self) {
        self.hub.lock().retain(|s| s.id != self.id);
    }
}

impl FindHub {
    fn lock(&self) -> MutexGuard<'_, Vec<Search>> {
        self.searches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts looking for `name` on `cameras` (all when `None`).
    pub fn register(self: &Arc<Self>, name: &str, cameras: Option<Vec<usize>>) -> SearchRegistration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, glances) = mpsc::unbounded_channel();
        self.lock().push(Search {
            id,
            name: name.to_owned(),
            cameras,
            tx,
        });
        SearchRegistration {
            hub: Arc::clone(self),
            id,
            glances,
        }
    }

    /// Searches in progress.
    #[cfg(test)]
    pub fn active(&self) -> usize {
        self.lock().len()
    }

    /// Whether any search looks at `camera` (the workers then keep the frame's embeddings).
    pub fn wants(&self, camera: usize) -> bool {
        self.lock().iter().any(|s| s.wants(camera))
    }

    /// Tells every search that wants `camera` what a frame about to be published shows.
    /// `embeddings` are the faces' vectors in the order of `faces` (`None`: not embedded in this
    /// frame; empty: none kept).
    pub fn offer(
        &self,
        camera: usize,
        stamp: &Time,
        faces: &[FaceOut<'_>],
        embeddings: &[Option<&[f32]>],
        gallery: &Gallery,
    ) {
        let searches = self.lock();
        for search in searches.iter().filter(|s| s.wants(camera)) {
            let best_score = embeddings
                .iter()
                .flatten()
                .filter_map(|e| gallery.best_similarity_to(&search.name, e))
                .max_by(f32::total_cmp);
            let sighting = faces
                .iter()
                .filter(|f| f.name == search.name)
                .max_by(|a, b| a.score.total_cmp(&b.score))
                .map(|f| Sighting {
                    stamp: *stamp,
                    bbox_px: f.detection.bbox,
                    score: f.score,
                    track_id: f.track_id,
                    position: f.position,
                });
            // A closed receiver means that goal just finished; nothing to do.
            let _ = search.tx.send(Glance {
                camera,
                faces: faces.len(),
                sighting,
                best_score,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Detection, Point};

    fn detection(x: f32) -> Detection {
        Detection {
            bbox: BBox {
                x,
                y: 5.0,
                width: 50.0,
                height: 60.0,
            },
            score: 0.9,
            landmarks: [Point { x: 0.0, y: 0.0 }; 5],
        }
    }

    fn face<'a>(d: &'a Detection, name: &'a str, score: f32, track_id: Option<u64>) -> FaceOut<'a> {
        FaceOut {
            detection: d,
            name,
            score,
            margin: 0.1,
            track_id,
            confirmed: true,
            anonymous: false,
            frame_score: Some(score),
            position: None,
        }
    }

    #[test]
    fn searches_see_their_cameras_and_the_best_face_of_their_person() {
        let hub = Arc::new(FindHub::default());
        let mut ada_on_1 = hub.register("ada", Some(vec![1]));
        let mut bob_anywhere = hub.register("bob", None);
        let (d1, d2, d3) = (detection(0.0), detection(100.0), detection(200.0));
        let stamp = Time { sec: 7, nanosec: 5 };
        let dir = tempfile::tempdir().expect("tempdir");
        let mut gallery = Gallery::open_or_create(&dir.path().join("g.yaml")).expect("new");
        gallery
            .bind_model(&crate::gallery::ModelTag {
                file: "m".into(),
                sha256: "s".into(),
                dim: 2,
            })
            .expect("bind");
        gallery.add("ada", vec![vec![1.0, 0.0]]).expect("ada");
        gallery.add("bob", vec![vec![0.0, 1.0]]).expect("bob");
        assert!(hub.wants(0) && hub.wants(1), "bob is searched for everywhere");

        hub.offer(0, &stamp, &[face(&d1, "ada", 0.9, Some(3))], &[], &gallery);
        let (e1, e3) = (vec![0.6_f32, 0.8], vec![0.8_f32, 0.6]);
        hub.offer(
            1,
            &stamp,
            &[
                face(&d1, "ada", 0.6, Some(4)),
                face(&d2, "ada", 0.8, Some(5)),
                face(&d3, "unknown", 0.2, None),
            ],
            &[Some(&e1), None, Some(&e3)],
            &gallery,
        );

        let g = ada_on_1.glances.try_recv().expect("camera 1's frame");
        assert_eq!((g.camera, g.faces), (1, 3));
        let seen = g.sighting.expect("ada is in it");
        assert_eq!((seen.track_id, seen.bbox_px.x, seen.stamp), (Some(5), 100.0, stamp));
        // Only the embedded faces count: 0.8 (the third face), not the second's.
        assert!((g.best_score.expect("embedded faces") - 0.8).abs() < 1e-6);
        assert!(ada_on_1.glances.try_recv().is_err(), "camera 0 is not searched");

        let frames: Vec<Glance> = std::iter::from_fn(|| bob_anywhere.glances.try_recv().ok()).collect();
        assert_eq!(frames.len(), 2);
        assert!(frames.iter().all(|g| g.sighting.is_none()), "bob was never in view");
        assert_eq!(frames[0].best_score, None, "no embeddings kept for camera 0's frame");
        assert!((frames[1].best_score.expect("embedded") - 0.8).abs() < 1e-6);

        drop(ada_on_1);
        assert_eq!(hub.active(), 1);
        drop(bob_anywhere);
        assert_eq!(hub.active(), 0);
    }
}
