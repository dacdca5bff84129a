//! The node's services, as plain async handlers from request to response: `~/enroll` (from an
//! image in the request, or by collecting frames from a camera while processing continues),
//! `~/forget` and `~/list_people`. Every failure becomes `success = false` with a message.
//! Gallery changes are saved (atomically) before the handler returns, so a person enrolled is
//! on disk and matched from the next processed frame on.
//!
//! Touches the shared gallery, the scheduler (enrolment images) and the enrolment hub; the DDS
//! servers that call these live in `node`.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::config::EnrollDefaults;
use super::enroll::collect;
use super::workers::{EnrollJob, Shared};
use crate::gallery::{validate_name, GalleryError};
use crate::ros::msgs::{
    EnrollRequest, EnrollResponse, ForgetRequest, ForgetResponse, ListPeopleRequest, ListPeopleResponse,
};

/// Longest collection a request may ask for.
pub const MAX_ENROLL_TIMEOUT: Duration = Duration::from_secs(600);
/// Most samples a request may ask for.
pub const MAX_ENROLL_SAMPLES: u32 = 100;
/// How long an image in a request may wait for a worker.
pub const IMAGE_JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// What the service handlers need.
#[derive(Clone)]
pub struct Services {
    pub shared: Arc<Shared>,
    pub defaults: EnrollDefaults,
}

fn refuse(message: impl Into<String>) -> EnrollResponse {
    EnrollResponse {
        success: false,
        message: message.into(),
        samples_used: 0,
    }
}

impl Services {
    /// Runs a gallery change on a blocking thread (it writes and fsyncs the file).
    async fn with_gallery<T: Send + 'static>(
        &self,
        change: impl FnOnce(&mut crate::gallery::Gallery) -> Result<T, GalleryError> + Send + 'static,
    ) -> Result<T, String> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
            change(&mut gallery)
        })
        .await
        .map_err(|e| format!("internal error: {e}"))?
        .map_err(|e| e.to_string())
    }

    /// Which camera a request names: `Ok(None)` for any.
    fn camera_index(&self, requested: &str) -> Result<Option<usize>, String> {
        let requested = requested.trim();
        if requested.is_empty() {
            return Ok(None);
        }
        let cameras = &self.shared.cameras;
        cameras
            .iter()
            .position(|c| c.topic == requested || c.configured == requested)
            .map(Some)
            .ok_or_else(|| {
                let known: Vec<&str> = cameras.iter().map(|c| c.topic.as_str()).collect();
                format!(
                    "unknown camera '{requested}'; this node listens to: {}",
                    known.join(", ")
                )
            })
    }

    /// `~/enroll`.
    pub async fn enroll(&self, req: EnrollRequest) -> EnrollResponse {
        if let Err(e) = validate_name(&req.name) {
            return refuse(e.to_string());
        }
        let (samples, source) = if req.image.data.is_empty() {
            match self.collect_from_camera(&req).await {
                Ok(r) => r,
                Err(message) => return refuse(message),
            }
        } else {
            match self.embed_request_image(req.image).await {
                Ok(v) => (vec![v], "the image in the request".to_owned()),
                Err(message) => return refuse(message),
            }
        };
        let used = samples.len();
        let name = req.name.clone();
        let result = self
            .with_gallery(move |g| {
                g.add_and_save(&name, samples)?;
                Ok(g.people().find(|(n, _)| *n == name).map_or(0, |(_, c)| c))
            })
            .await;
        match result {
            Ok(total) => {
                tracing::info!(
                    "enrolled '{}': {used} sample(s) from {source}; {total} stored",
                    req.name
                );
                EnrollResponse {
                    success: true,
                    message: format!(
                        "enrolled '{}': {used} sample(s) from {source}; {total} stored in total",
                        req.name
                    ),
                    samples_used: u32::try_from(used).unwrap_or(u32::MAX),
                }
            }
            Err(e) => refuse(format!("could not store '{}': {e}", req.name)),
        }
    }

    async fn embed_request_image(&self, image: crate::ros::msgs::Image) -> Result<Vec<f32>, String> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .scheduler
            .submit(EnrollJob { image, reply })
            .map_err(|_| "the node is busy with other enrolment images; try again".to_owned())?;
        match tokio::time::timeout(IMAGE_JOB_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err("the node is shutting down".to_owned()),
            Err(_) => Err(format!(
                "no worker took the image within {} s",
                IMAGE_JOB_TIMEOUT.as_secs()
            )),
        }
    }

    async fn collect_from_camera(&self, req: &EnrollRequest) -> Result<(Vec<Vec<f32>>, String), String> {
        let camera = self.camera_index(&req.camera)?;
        let wanted = match req.num_samples {
            0 => self.defaults.samples,
            n if n > MAX_ENROLL_SAMPLES => return Err(format!("num_samples {n} is more than {MAX_ENROLL_SAMPLES}")),
            n => n,
        };
        let timeout = if req.timeout_s == 0.0 {
            self.defaults.timeout
        } else if req.timeout_s.is_finite() && req.timeout_s > 0.0 {
            Duration::from_secs_f32(req.timeout_s).min(MAX_ENROLL_TIMEOUT)
        } else {
            return Err(format!(
                "timeout_s {} must be a positive number of seconds (or 0 for the default)",
                req.timeout_s
            ));
        };
        let where_ = match camera.and_then(|i| self.shared.cameras.get(i)) {
            Some(c) => c.topic.clone(),
            None => "any camera".to_owned(),
        };
        let mut registration = self.shared.hub.register(camera);
        let got = collect(&mut registration, camera.is_none(), wanted as usize, timeout).await;
        drop(registration);
        if got.samples.is_empty() {
            let why = match (&got.last_refusal, got.frames) {
                (Some(refusal), _) => refusal.to_string(),
                (None, 0) => format!("no frames were processed from {where_}"),
                (None, _) => "no usable face".to_owned(),
            };
            return Err(format!(
                "no usable face from {where_} within {:.1} s ({} frame(s) seen): {why}",
                timeout.as_secs_f32(),
                got.frames
            ));
        }
        let from = got
            .cameras
            .first()
            .and_then(|&i| self.shared.cameras.get(i))
            .map_or(where_, |c| c.topic.clone());
        let source = if got.samples.len() < wanted as usize {
            format!(
                "{from} ({} of {wanted} requested before the timeout)",
                got.samples.len()
            )
        } else {
            from
        };
        Ok((got.samples, source))
    }

    /// `~/forget`.
    pub async fn forget(&self, req: ForgetRequest) -> ForgetResponse {
        let name = req.name.clone();
        match self.with_gallery(move |g| g.remove_and_save(&name)).await {
            Ok(0) => ForgetResponse {
                success: false,
                message: format!("nobody named '{}' is enrolled", req.name),
                removed: 0,
            },
            Ok(n) => {
                tracing::info!("forgot '{}' ({n} vectors)", req.name);
                ForgetResponse {
                    success: true,
                    message: format!("forgot '{}' and {n} stored face vector(s)", req.name),
                    removed: u32::try_from(n).unwrap_or(u32::MAX),
                }
            }
            Err(e) => ForgetResponse {
                success: false,
                message: format!("could not forget '{}': {e}", req.name),
                removed: 0,
            },
        }
    }

    /// `~/list_people`.
    pub fn list_people(&self, _req: ListPeopleRequest) -> ListPeopleResponse {
        let gallery = self.shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        let mut people: Vec<(String, u32)> = gallery
            .people()
            .map(|(n, c)| (n.to_owned(), u32::try_from(c).unwrap_or(u32::MAX)))
            .collect();
        people.sort();
        let (names, sample_counts) = people.into_iter().unzip();
        ListPeopleResponse { names, sample_counts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enroll::EnrollPolicy;
    use crate::gallery::{Gallery, ModelTag};
    use crate::ros::node::config::{CameraConfig, CameraKind};
    use crate::ros::node::enroll::EnrollHub;
    use crate::ros::node::slots::Scheduler;
    use crate::ros::node::stats::Stats;
    use std::sync::RwLock;

    fn services(dir: &std::path::Path) -> Services {
        let mut gallery = Gallery::open_or_create(&dir.join("g.yaml")).expect("new");
        gallery
            .bind_model(&ModelTag {
                file: "m".into(),
                sha256: "s".into(),
                dim: 2,
            })
            .expect("bind");
        gallery
            .add_and_save("zoe", vec![vec![1.0, 0.0], vec![0.0, 1.0]])
            .expect("save");
        gallery.add_and_save("al", vec![vec![1.0, 1.0]]).expect("save");
        let cameras = vec![CameraConfig {
            configured: "image_raw".into(),
            topic: "/robot/image_raw".into(),
            kind: CameraKind::Raw,
        }];
        Services {
            shared: Arc::new(Shared {
                scheduler: Scheduler::new(1, 2),
                gallery: RwLock::new(gallery),
                stats: Stats::new(&["/robot/image_raw".to_owned()]),
                hub: Arc::new(EnrollHub::default()),
                cameras,
                policy: EnrollPolicy::default(),
                publish_annotated: false,
            }),
            defaults: EnrollDefaults {
                samples: 2,
                timeout: Duration::from_millis(50),
                policy: EnrollPolicy::default(),
            },
        }
    }

    #[tokio::test]
    async fn list_and_forget() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let l = s.list_people(ListPeopleRequest::default());
        assert_eq!(
            (l.names, l.sample_counts),
            (vec!["al".to_owned(), "zoe".to_owned()], vec![1, 2])
        );

        let f = s.forget(ForgetRequest { name: "zoe".into() }).await;
        assert!(f.success, "{}", f.message);
        assert_eq!(f.removed, 2);
        let on_disk = Gallery::load(&dir.path().join("g.yaml")).expect("saved");
        assert_eq!(
            on_disk.people().map(|(n, _)| n.to_owned()).collect::<Vec<_>>(),
            vec!["al".to_owned()]
        );

        let f = s.forget(ForgetRequest { name: "zoe".into() }).await;
        assert!(!f.success);
        assert!(f.message.contains("nobody named 'zoe'"), "{}", f.message);
    }

    #[tokio::test]
    async fn bad_enroll_requests_are_refused_with_reasons() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let req = |name: &str, camera: &str, num_samples: u32, timeout_s: f32| EnrollRequest {
            name: name.into(),
            camera: camera.into(),
            num_samples,
            timeout_s,
            ..EnrollRequest::default()
        };
        for (r, expect) in [
            (req("", "", 0, 0.0), "invalid name"),
            (req("a/b", "", 0, 0.0), "invalid name"),
            (req("unknown", "", 0, 0.0), "invalid name"),
            (req("ann", "/nope", 0, 0.0), "unknown camera '/nope'"),
            (req("ann", "", 1000, 0.0), "num_samples 1000"),
            (req("ann", "", 0, -1.0), "timeout_s -1"),
            (req("ann", "", 0, f32::NAN), "timeout_s NaN"),
            // No frames arrive: the collection times out (default 50 ms here).
            (
                req("ann", "image_raw", 0, 0.0),
                "no frames were processed from /robot/image_raw",
            ),
            (req("ann", "", 1, 0.05), "no frames were processed from any camera"),
        ] {
            let resp = s.enroll(r).await;
            assert!(!resp.success);
            assert_eq!(resp.samples_used, 0);
            assert!(resp.message.contains(expect), "{:?} lacks {expect:?}", resp.message);
        }
        assert_eq!(s.shared.hub.active(), 0, "collectors unregister");
        assert_eq!(
            s.list_people(ListPeopleRequest::default()).names.len(),
            2,
            "gallery unchanged"
        );
    }

    #[tokio::test]
    async fn camera_samples_are_stored_before_the_answer() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let hub = Arc::clone(&s.shared.hub);
        // A stand-in worker: offers two good samples once the request is collecting.
        let feeder = tokio::spawn(async move {
            while !hub.wants(0) {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            hub.offer(0, || Err(crate::enroll::EnrollRefusal::NoFace));
            hub.offer(0, || Ok(vec![0.6, 0.8]));
            hub.offer(0, || Ok(vec![0.8, 0.6]));
        });
        let resp = s
            .enroll(EnrollRequest {
                name: "Ann Lee".into(),
                timeout_s: 5.0,
                ..EnrollRequest::default()
            })
            .await;
        feeder.await.expect("feeder");
        assert!(resp.success, "{}", resp.message);
        assert_eq!(resp.samples_used, 2);
        assert!(resp.message.contains("from /robot/image_raw"), "{}", resp.message);
        let on_disk = Gallery::load(&dir.path().join("g.yaml")).expect("saved");
        assert_eq!(on_disk.people().find(|(n, _)| *n == "Ann Lee").map(|(_, c)| c), Some(2));
    }
}
