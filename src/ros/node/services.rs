//! The node's services, as plain async handlers from request to response: `~/enroll` (from an
//! image in the request, or by collecting frames from a camera while processing continues),
//! `~/forget` and `~/list_people`. Every failure becomes `success = false` with a message.
//! `~/enroll` can also name a track (`track_id`) or an anonymous person (`person_id`) through
//! the library's `People::enroll_track` / `People::name_anonymous`: a tracker lock, then the
//! gallery's write lock, as the workers take them.
//! Gallery changes are saved (atomically) before the handler returns, so a person enrolled is
//! on disk and matched from the next processed frame on.
//!
//! Touches the shared gallery, the scheduler (enrolment images) and the enrolment hub; the DDS
//! servers that call these live in `node`.

use std::future::Future;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::enroll::{collect, Collected, Sample};
use super::lifecycle::State as LifecycleStateKind;
use super::lifecycle::{GRAPH as LIFECYCLE_GRAPH, STATES as LIFECYCLE_STATES};
use super::workers::{EnrollJob, Shared};
use crate::enroll::EnrollRefusal;
use crate::frame::FrameError;
use crate::gallery::{validate_name, GalleryError, RequestRecord};
use crate::people::{People, PeopleError};
use crate::pipeline::PipelineError;
use crate::ros::error_chain;
use crate::ros::msgs::{
    ChangeStateRequest, ChangeStateResponse, EnrollRequest, EnrollResponse, ForgetRequest, ForgetResponse,
    GetAvailableTransitionsResponse, GetStateResponse, LifecycleState, LifecycleTransition, ListPeopleRequest,
    ListPeopleResponse, TransitionDescription, TransitionEvent,
};
// The lifecycle's own line (the list above is shared with the enroll/forget handlers).
use crate::ros::msgs::GetAvailableStatesResponse;

fn state_msg(state: LifecycleStateKind) -> LifecycleState {
    LifecycleState {
        id: state.id(),
        label: state.label().to_owned(),
    }
}

/// Longest collection a request may ask for.
pub const MAX_ENROLL_TIMEOUT: Duration = Duration::from_secs(600);
/// Most samples a request may ask for.
pub const MAX_ENROLL_SAMPLES: u32 = 100;
/// How long an image in a request may wait for a worker.
pub const IMAGE_JOB_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a service request was not carried out. The answer's `message` is the error with its
/// sources ([`error_chain`]).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the node is busy with other enrolment images; try again")]
    Busy,
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("no worker took the image within {} s", .waited.as_secs())]
    NoWorker { waited: Duration },
    #[error("unknown camera '{requested}'; this node listens to: {}", .known.join(", "))]
    UnknownCamera { requested: String, known: Vec<String> },
    #[error("num_samples {requested} is more than {MAX_ENROLL_SAMPLES}")]
    TooManySamples { requested: u32 },
    /// `zero` says what 0 means for this request (the node's default, or no timeout at all).
    #[error("timeout_s {timeout_s} must be a positive number of seconds, or 0 {zero}")]
    BadTimeout { timeout_s: f32, zero: &'static str },
    #[error("no usable face from {from} within {:.1} s ({frames} frame(s) seen): no frames were processed from {from}", .waited.as_secs_f32())]
    NoFrames {
        from: String,
        waited: Duration,
        frames: usize,
    },
    #[error("no usable face from {from} within {:.1} s ({frames} frame(s) seen){}", .waited.as_secs_f32(), if .last_refusal.is_some() { "" } else { ": no usable face" })]
    NoUsableFace {
        from: String,
        waited: Duration,
        frames: usize,
        /// Why the last face seen was not taken, when one was seen.
        #[source]
        last_refusal: Option<EnrollRefusal>,
    },
    #[error("the image in the request is malformed")]
    RequestImage(#[source] FrameError),
    #[error("face pipeline failed")]
    Pipeline(#[source] PipelineError),
    #[error("the image in the request")]
    RequestFace(#[source] EnrollRefusal),
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    /// Boxed: a `PeopleError` is large and `ServiceError` travels in every `Result` here.
    #[error(transparent)]
    People(Box<PeopleError>),
    #[error("track_id '{0}' is not a track number (use the Face.track_id / Detection2D.id of a face in view)")]
    BadTrackId(String),
    #[error("give at most one of image, track_id and person_id")]
    SeveralSources,
    #[error("tracking is off on this node (tracking.enabled: false): there are no tracks to name")]
    TrackingOff,
    #[error("track {id} is in view on no camera; name a track that is in view (cameras: {})", .cameras.join(", "))]
    TrackNowhere { id: u64, cameras: Vec<String> },
    #[error("track {id} is in view on several cameras ({}); say which one in camera", .cameras.join(", "))]
    TrackAmbiguous { id: u64, cameras: Vec<String> },
    #[error("the node is {state}, not active: camera frames are not processed (activate it with ~/change_state)")]
    NotActive { state: &'static str },
    #[error("'{0}' is not in the gallery (list_people shows who is)")]
    UnknownPerson(String),
    #[error("cancelled after {samples} sample(s) from {from}: nothing stored")]
    Cancelled { from: String, samples: usize },
    #[error("internal error: the gallery change did not finish")]
    Join(#[source] tokio::task::JoinError),
    #[error("internal error: {0}")]
    Panic(String),
}

impl From<PeopleError> for ServiceError {
    fn from(e: PeopleError) -> Self {
        Self::People(Box::new(e))
    }
}

/// What the service handlers need.
#[derive(Clone)]
pub struct Services {
    /// Also holds the enroll defaults (`shared.live`), read at each request.
    pub shared: Arc<Shared>,
}

/// An `~/enroll` answer that nothing was done.
pub fn refused_enroll(message: String) -> EnrollResponse {
    refuse(message)
}

/// A `~/forget` answer that nothing was done.
pub fn refused_forget(message: String) -> ForgetResponse {
    ForgetResponse {
        success: false,
        message,
        removed: 0,
    }
}

/// How an answer from the gallery's record of executed requests starts.
pub const ALREADY_DONE: &str =
    "already done before the restart (answered from the gallery's record, not executed again)";

/// The record of a change made for request `request` (none without an id).
fn recorded(service: &str, request: Option<String>, summary: &str, count: usize) -> Option<RequestRecord> {
    request.map(|id| RequestRecord {
        id,
        service: service.to_owned(),
        summary: summary.to_owned(),
        count: u32::try_from(count).unwrap_or(u32::MAX),
    })
}

/// Takes in what other writers (the CLI, another node) saved to the gallery file since this
/// node last read or wrote it, and logs who came and went. A file that cannot be read is
/// logged and left alone: the node keeps what it holds, and its next save is refused rather
/// than overwriting the file.
pub fn refresh_logged(gallery: &mut crate::gallery::Gallery) {
    match gallery.refresh() {
        Ok(Some(changes)) => {
            let path = gallery.path().map(|p| p.display().to_string()).unwrap_or_default();
            tracing::info!(
                "gallery {path} changed on disk: reloaded ({} people); added {:?}, removed {:?}",
                gallery.len(),
                changes.added,
                changes.removed
            );
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(
            "the gallery file changed on disk but cannot be read again (keeping the people held): {}",
            error_chain(&e)
        ),
    }
}

/// Takes in outside changes of the gallery file (every tracker locked in camera order, then the
/// gallery, as everywhere) and drops the names of people forgotten elsewhere from the tracks, so
/// no track keeps the name of somebody no longer enrolled. The node calls it periodically.
pub fn take_outside_changes(shared: &Shared) {
    let mut trackers: Vec<_> = (0..shared.trackers.len()).filter_map(|c| shared.tracker(c)).collect();
    let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
    refresh_logged(&mut gallery);
    for name in gallery.take_removed_elsewhere() {
        for t in &mut trackers {
            t.forget_person(&name);
        }
    }
}

/// As [`take_outside_changes`] without reading the file: only the names that a save's merge
/// found forgotten elsewhere leave the tracks (cheap: a read lock when there are none).
pub fn drop_names_removed_elsewhere(shared: &Shared) {
    let pending = !shared
        .gallery
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .removed_elsewhere()
        .is_empty();
    if pending {
        take_outside_changes(shared);
    }
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
    ) -> Result<T, ServiceError> {
        let shared = Arc::clone(&self.shared);
        Ok(tokio::task::spawn_blocking(move || {
            let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
            change(&mut gallery)
        })
        .await
        .map_err(ServiceError::Join)??)
    }

    /// Which camera a request names: `Ok(None)` for any.
    pub fn camera_index(&self, requested: &str) -> Result<Option<usize>, ServiceError> {
        let requested = requested.trim();
        if requested.is_empty() {
            return Ok(None);
        }
        let cameras = &self.shared.cameras;
        cameras
            .iter()
            .position(|c| c.topic == requested || c.configured == requested)
            .map(Some)
            .ok_or_else(|| ServiceError::UnknownCamera {
                requested: requested.to_owned(),
                known: cameras.iter().map(|c| c.topic.clone()).collect(),
            })
    }

    /// `~/enroll` without a request id (tests).
    #[cfg(test)]
    pub async fn enroll(&self, req: EnrollRequest) -> EnrollResponse {
        self.enroll_as(req, None).await
    }

    /// `~/enroll` for request `request` ([`super::requests::request_key`]): a change it makes is
    /// recorded under that id in the same save ([`Self::recorded_enroll`]).
    pub async fn enroll_as(&self, req: EnrollRequest, request: Option<String>) -> EnrollResponse {
        self.enroll_with(req, request, std::future::pending(), |_, _, _| {})
            .await
    }

    /// The answer to an `~/enroll` request executed before (by this run of the node or a
    /// previous one), from the gallery's record; `None` when it was never executed.
    pub fn recorded_enroll(&self, request: &str) -> Option<EnrollResponse> {
        let gallery = self.shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        let done = gallery.recorded_request(request).filter(|r| r.service == "enroll")?;
        Some(EnrollResponse {
            success: true,
            message: format!("{ALREADY_DONE}: {}", done.summary),
            samples_used: done.count,
        })
    }

    /// The answer to a `~/forget` request executed before, from the gallery's record.
    pub fn recorded_forget(&self, request: &str) -> Option<ForgetResponse> {
        let gallery = self.shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        let done = gallery.recorded_request(request).filter(|r| r.service == "forget")?;
        Some(ForgetResponse {
            success: true,
            message: format!("{ALREADY_DONE}: {}", done.summary),
            removed: done.count,
        })
    }

    /// `~/enroll`, and the `~/enroll_person` action: a collection from a camera stops with
    /// nothing stored when `cancel` completes, and reports each frame it judges to `on_frame`
    /// (see [`collect`]). Naming a track or an anonymous person, or an image in the request,
    /// is answered at once and cannot be cancelled.
    pub async fn enroll_with(
        &self,
        req: EnrollRequest,
        request: Option<String>,
        cancel: impl Future<Output = ()>,
        on_frame: impl FnMut(&Collected, usize, &Sample),
    ) -> EnrollResponse {
        if let Err(e) = validate_name(&req.name) {
            return refuse(e.to_string());
        }
        let (track, person) = (req.track_id.trim(), req.person_id.trim());
        let sources =
            usize::from(!req.image.data.is_empty()) + usize::from(!track.is_empty()) + usize::from(!person.is_empty());
        if sources > 1 {
            return refuse(ServiceError::SeveralSources.to_string());
        }
        if !track.is_empty() {
            return self.enroll_track(&req.name, &req.camera, track, request).await;
        }
        if !person.is_empty() {
            return self.enroll_anonymous(&req.name, person, request).await;
        }
        let (samples, source) = if req.image.data.is_empty() {
            match self.collect_from_camera(&req, cancel, on_frame).await {
                Ok(r) => r,
                Err(e) => return refuse(error_chain(&e)),
            }
        } else {
            match self.embed_request_image(req.image).await {
                Ok(v) => (vec![v], "the image in the request".to_owned()),
                Err(e) => return refuse(error_chain(&e)),
            }
        };
        let used = samples.len();
        let name = req.name.clone();
        let summary = format!("enrolled '{}': {used} sample(s) from {source}", req.name);
        let record = recorded("enroll", request, &summary, used);
        let result = self
            .with_gallery(move |g| {
                refresh_logged(g);
                g.set_pending_request(record);
                let saved = g.add_and_save(&name, samples);
                g.set_pending_request(None);
                saved?;
                Ok(g.people().find(|(n, _)| *n == name).map_or(0, |(_, c)| c))
            })
            .await;
        match result {
            Ok(total) => {
                tracing::info!("{summary}; {total} stored");
                EnrollResponse {
                    success: true,
                    message: format!("{summary}; {total} stored in total"),
                    // At most MAX_ENROLL_SAMPLES; saturating keeps the u32 field honest anyway.
                    samples_used: u32::try_from(used).unwrap_or(u32::MAX),
                }
            }
            Err(e) => refuse(format!("could not store '{}': {}", req.name, error_chain(&e))),
        }
    }

    /// Runs a people change (tracker locks, then the gallery's write lock) on a blocking thread.
    async fn with_people<T: Send + 'static>(
        &self,
        change: impl FnOnce(&Shared) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || change(&shared))
            .await
            .map_err(ServiceError::Join)?
    }

    /// Which camera holds live track `id`: the one named, else the only camera where it is in
    /// view (with one camera: that camera, whose tracker then says why the track is unusable).
    fn camera_of_track(&self, shared: &Shared, requested: &str, id: u64) -> Result<usize, ServiceError> {
        if let Some(camera) = self.camera_index(requested)? {
            return Ok(camera);
        }
        if shared.cameras.len() == 1 {
            return Ok(0);
        }
        let live: Vec<usize> = (0..shared.cameras.len())
            .filter(|&c| shared.tracker(c).is_some_and(|t| t.track(id).is_ok()))
            .collect();
        let topics = |cams: &[usize]| -> Vec<String> {
            cams.iter()
                .filter_map(|&c| shared.cameras.get(c).map(|c| c.topic.clone()))
                .collect()
        };
        match live.as_slice() {
            [one] => Ok(*one),
            [] => Err(ServiceError::TrackNowhere {
                id,
                cameras: shared.cameras.iter().map(|c| c.topic.clone()).collect(),
            }),
            several => Err(ServiceError::TrackAmbiguous {
                id,
                cameras: topics(several),
            }),
        }
    }

    /// `~/enroll` with `track_id`: the track's collected samples become `name`'s, saved before
    /// the answer ([`People::enroll_track`]).
    async fn enroll_track(&self, name: &str, camera: &str, track: &str, request: Option<String>) -> EnrollResponse {
        let Ok(id) = track.parse::<u64>() else {
            return refuse(error_chain(&ServiceError::BadTrackId(track.to_owned())));
        };
        let this = self.clone();
        let (name_owned, camera_owned) = (name.to_owned(), camera.to_owned());
        let result = self
            .with_people(move |shared| {
                if !shared.tracking() {
                    return Err(ServiceError::TrackingOff);
                }
                let index = this.camera_of_track(shared, &camera_owned, id)?;
                let topic = shared.cameras.get(index).map(|c| c.topic.clone()).unwrap_or_default();
                let mut tracker = shared.tracker(index).ok_or(ServiceError::TrackingOff)?;
                let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
                refresh_logged(&mut gallery);
                let summary = format!("enrolled '{name_owned}' from track {id} of {topic}");
                let count = tracker.track_samples(id).map_or(0, |s| s.len());
                gallery.set_pending_request(recorded("enroll", request, &summary, count));
                let done = shared
                    .people
                    .enroll_track(&mut tracker, &mut gallery, id, &name_owned, true);
                gallery.set_pending_request(None);
                Ok((done?, topic))
            })
            .await;
        match result {
            Ok((done, topic)) => {
                let was = done
                    .was_anonymous
                    .as_deref()
                    .map(|a| format!(" (until now anonymous person {a})"))
                    .unwrap_or_default();
                tracing::info!(
                    "enrolled '{name}' from track {id} of {topic}{was}: {} samples",
                    done.samples
                );
                EnrollResponse {
                    success: true,
                    message: format!(
                        "enrolled '{name}' from track {id} of {topic}{was}: {} sample(s) stored",
                        done.samples
                    ),
                    samples_used: u32::try_from(done.samples).unwrap_or(u32::MAX),
                }
            }
            Err(e) => refuse(format!("could not name track {id} '{name}': {}", error_chain(&e))),
        }
    }

    /// `~/enroll` with `person_id`: anonymous person `id` becomes `name`, saved before the
    /// answer, and every tracker's tracks of that person are renamed ([`People::name_anonymous`]).
    async fn enroll_anonymous(&self, name: &str, id: &str, request: Option<String>) -> EnrollResponse {
        let (name_owned, id_owned) = (name.to_owned(), id.to_owned());
        let result = self
            .with_people(move |shared| {
                // Every tracker (in camera order), then the gallery.
                let mut trackers: Vec<_> = (0..shared.trackers.len()).filter_map(|c| shared.tracker(c)).collect();
                let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
                refresh_logged(&mut gallery);
                let count = gallery.people().find(|(n, _)| *n == id_owned).map_or(0, |(_, c)| c);
                let summary = format!("anonymous person {id_owned} is now '{name_owned}'");
                gallery.set_pending_request(recorded("enroll", request, &summary, count));
                let samples = People::name_anonymous(
                    &mut gallery,
                    trackers.iter_mut().map(|t| &mut **t),
                    &id_owned,
                    &name_owned,
                    true,
                );
                gallery.set_pending_request(None);
                Ok(samples?)
            })
            .await;
        match result {
            Ok(samples) => {
                tracing::info!("anonymous person {id} is now '{name}' ({samples} samples)");
                EnrollResponse {
                    success: true,
                    message: format!("anonymous person {id} is now '{name}': {samples} sample(s) stored"),
                    samples_used: u32::try_from(samples).unwrap_or(u32::MAX),
                }
            }
            Err(e) => refuse(format!("could not name {id} '{name}': {}", error_chain(&e))),
        }
    }

    async fn embed_request_image(&self, image: crate::ros::msgs::Image) -> Result<Vec<f32>, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.shared
            .scheduler
            .submit(EnrollJob { image, reply })
            .map_err(|_| ServiceError::Busy)?;
        match tokio::time::timeout(IMAGE_JOB_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ServiceError::ShuttingDown),
            Err(_) => Err(ServiceError::NoWorker {
                waited: IMAGE_JOB_TIMEOUT,
            }),
        }
    }

    /// How many samples a collection wants and for how long: the request's, or the node's
    /// `enroll.*` parameters for 0.
    pub fn collection_limits(&self, num_samples: u32, timeout_s: f32) -> Result<(u32, Duration), ServiceError> {
        let defaults = self.shared.live.get().enroll;
        let wanted = match num_samples {
            0 => defaults.samples,
            n if n > MAX_ENROLL_SAMPLES => return Err(ServiceError::TooManySamples { requested: n }),
            n => n,
        };
        let timeout = if timeout_s == 0.0 {
            defaults.timeout
        } else if timeout_s.is_finite() && timeout_s > 0.0 {
            Duration::from_secs_f32(timeout_s).min(MAX_ENROLL_TIMEOUT)
        } else {
            return Err(ServiceError::BadTimeout {
                timeout_s,
                zero: "for the node's enroll.timeout_s",
            });
        };
        Ok((wanted, timeout))
    }

    async fn collect_from_camera(
        &self,
        req: &EnrollRequest,
        cancel: impl Future<Output = ()>,
        on_frame: impl FnMut(&Collected, usize, &Sample),
    ) -> Result<(Vec<Vec<f32>>, String), ServiceError> {
        let camera = self.camera_index(&req.camera)?;
        let (wanted, timeout) = self.collection_limits(req.num_samples, req.timeout_s)?;
        self.require_active()?;
        let where_ = match camera.and_then(|i| self.shared.cameras.get(i)) {
            Some(c) => c.topic.clone(),
            None => "any camera".to_owned(),
        };
        let mut registration = self.shared.hub.register(camera);
        let got = collect(
            &mut registration,
            camera.is_none(),
            wanted as usize,
            timeout,
            cancel,
            on_frame,
        )
        .await;
        drop(registration);
        if got.cancelled {
            return Err(ServiceError::Cancelled {
                from: where_,
                samples: got.samples.len(),
            });
        }
        if got.samples.is_empty() {
            return Err(match (got.last_refusal, got.frames) {
                (None, 0) => ServiceError::NoFrames {
                    from: where_,
                    waited: timeout,
                    frames: 0,
                },
                (last_refusal, frames) => ServiceError::NoUsableFace {
                    from: where_,
                    waited: timeout,
                    frames,
                    last_refusal,
                },
            });
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

    /// `~/forget` without a request id (tests).
    #[cfg(test)]
    pub async fn forget(&self, req: ForgetRequest) -> ForgetResponse {
        self.forget_as(req, None).await
    }

    /// `~/forget` for request `request`, recorded with its effect ([`Self::recorded_forget`]).
    pub async fn forget_as(&self, req: ForgetRequest, request: Option<String>) -> ForgetResponse {
        let name = req.name.clone();
        let forgotten = self
            .with_people(move |shared| {
                let mut trackers: Vec<_> = (0..shared.trackers.len()).filter_map(|c| shared.tracker(c)).collect();
                let mut gallery = shared.gallery.write().unwrap_or_else(PoisonError::into_inner);
                refresh_logged(&mut gallery);
                let count = gallery.people().find(|(n, _)| *n == name).map_or(0, |(_, c)| c);
                let summary = format!("forgot '{name}' and {count} stored face vector(s)");
                gallery.set_pending_request(recorded("forget", request, &summary, count));
                let removed = gallery.remove_and_save(&name);
                gallery.set_pending_request(None);
                let removed = removed?;
                if removed > 0 {
                    // Tracks named after the person lose the name at once.
                    for t in &mut trackers {
                        t.forget_person(&name);
                    }
                }
                Ok(removed)
            })
            .await;
        match forgotten {
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
                message: format!("could not forget '{}': {}", req.name, error_chain(&e)),
                removed: 0,
            },
        }
    }

    /// `~/change_state`: the transition carried out, with its event for `~/transition_event`,
    /// or refused (logged with the reason; the response has room for `success` only).
    pub fn change_state(&self, req: &ChangeStateRequest) -> (ChangeStateResponse, Option<TransitionEvent>) {
        let lifecycle = &self.shared.lifecycle;
        match lifecycle.change(req.transition.id, &req.transition.label) {
            Ok(t) => {
                tracing::info!(
                    "lifecycle: {} -> {} ({}){}",
                    t.start().label(),
                    t.goal().label(),
                    t.label(),
                    match t.goal() {
                        LifecycleStateKind::Active => ": processing camera frames",
                        LifecycleStateKind::Finalized => ": no more processing until the node is restarted",
                        _ => ": camera frames are ignored",
                    }
                );
                let event = TransitionEvent {
                    // ROS time, as the node's other stamps (`/clock`'s with use_sim_time).
                    timestamp: u64::try_from(self.shared.clock.now_ns()).unwrap_or(0),
                    transition: LifecycleTransition {
                        id: t.id(),
                        label: t.label().to_owned(),
                    },
                    start_state: state_msg(t.start()),
                    goal_state: state_msg(t.goal()),
                };
                (ChangeStateResponse { success: true }, Some(event))
            }
            Err(e) => {
                tracing::warn!("lifecycle: transition refused: {e}");
                (ChangeStateResponse { success: false }, None)
            }
        }
    }

    /// `~/get_state`.
    pub fn get_state(&self) -> GetStateResponse {
        GetStateResponse {
            current_state: state_msg(self.shared.lifecycle.state()),
        }
    }

    /// `~/get_available_transitions`: those the current state allows, each into its transition
    /// state (`deactivate`: `active` -> `deactivating`), as rclcpp_lifecycle describes them.
    pub fn available_transitions(&self) -> GetAvailableTransitionsResponse {
        GetAvailableTransitionsResponse {
            available_transitions: self
                .shared
                .lifecycle
                .available()
                .into_iter()
                .map(|t| TransitionDescription {
                    transition: LifecycleTransition {
                        id: t.id(),
                        label: t.label().to_owned(),
                    },
                    start_state: state_msg(t.start()),
                    goal_state: state_msg(t.via()),
                })
                .collect(),
        }
    }

    /// `~/get_available_states`: every state of the state machine, primary and transition
    /// states (11), as rclcpp_lifecycle answers.
    pub fn available_states(&self) -> GetAvailableStatesResponse {
        GetAvailableStatesResponse {
            available_states: LIFECYCLE_STATES.into_iter().map(state_msg).collect(),
        }
    }

    /// `~/get_transition_graph`: every transition of the state machine (25), callback outcomes
    /// and error handling included, as rclcpp_lifecycle answers (`ros2 lifecycle list -a`).
    pub fn transition_graph(&self) -> GetAvailableTransitionsResponse {
        GetAvailableTransitionsResponse {
            available_transitions: LIFECYCLE_GRAPH
                .iter()
                .map(|e| TransitionDescription {
                    transition: LifecycleTransition {
                        id: e.id,
                        label: e.label.to_owned(),
                    },
                    start_state: state_msg(e.start),
                    goal_state: state_msg(e.goal),
                })
                .collect(),
        }
    }

    /// Refuses camera work while the node is not active.
    pub fn require_active(&self) -> Result<(), ServiceError> {
        let state = self.shared.lifecycle.state();
        if state == LifecycleStateKind::Active {
            Ok(())
        } else {
            Err(ServiceError::NotActive { state: state.label() })
        }
    }

    /// `~/list_people` (the gallery file read again first when another writer changed it).
    pub fn list_people(&self, _req: ListPeopleRequest) -> ListPeopleResponse {
        if self
            .shared
            .gallery
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .changed_on_disk()
        {
            refresh_logged(&mut self.shared.gallery.write().unwrap_or_else(PoisonError::into_inner));
        }
        let gallery = self.shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        let mut people: Vec<(String, u32, bool)> = gallery
            .person_info()
            .map(|p| {
                let stored = p.samples.saturating_add(p.learned);
                (p.name, u32::try_from(stored).unwrap_or(u32::MAX), p.anonymous)
            })
            .collect();
        people.sort();
        let mut response = ListPeopleResponse::default();
        for (name, samples, anonymous) in people {
            response.names.push(name);
            response.sample_counts.push(samples);
            response.anonymous.push(anonymous);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enroll::EnrollPolicy;
    use crate::gallery::{Gallery, ModelTag};
    use crate::ros::node::config::{CameraConfig, CameraKind, EnrollDefaults};
    use crate::ros::node::enroll::{sample_of, EnrollHub};
    use crate::ros::node::live::{Live, LiveSettings};
    use crate::ros::node::slots::Scheduler;
    use crate::ros::node::stats::Stats;
    use crate::track::{Observation, Tracker, TrackerConfig};
    use std::sync::RwLock;

    fn services(dir: &std::path::Path) -> Services {
        services_with(dir, Vec::new(), People::default())
    }

    fn services_with(dir: &std::path::Path, trackers: Vec<Tracker>, people: People) -> Services {
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
        people.attach(&mut gallery);
        let cameras = vec![CameraConfig {
            configured: "image_raw".into(),
            topic: "/robot/image_raw".into(),
            kind: CameraKind::Raw,
            camera_info: "/robot/camera_info".into(),
            depth: None,
        }];
        Services {
            shared: Arc::new(Shared {
                scheduler: Scheduler::new(1, 2),
                gallery: RwLock::new(gallery),
                stats: Stats::new(&["/robot/image_raw".to_owned()]),
                hub: Arc::new(EnrollHub::default()),
                finder: Arc::default(),
                lifecycle: Default::default(),
                cameras,
                live: Arc::new(LiveSettings::new(Live {
                    match_threshold: 0.455,
                    publish_annotated: false,
                    enroll: EnrollDefaults {
                        samples: 2,
                        timeout: Duration::from_millis(50),
                        policy: EnrollPolicy::default(),
                    },
                    track_limits: crate::track::TrackLimits::of(&crate::track::TrackerConfig::default()),
                    people: crate::people::PeopleConfig::default(),
                    tf: false,
                })),
                frame_limits: crate::frame::FrameLimits::default(),
                trackers: trackers.into_iter().map(std::sync::Mutex::new).collect(),
                people,
                views: super::super::views::CameraViews::new(1),
                hri: false,
                clock: crate::ros::dds::RosClock::system(),
            }),
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

    fn observation(x: f32, e: [f32; 2]) -> Observation {
        use crate::detect::{BBox, Detection, Point};
        Observation {
            detection: Detection {
                bbox: BBox {
                    x,
                    y: 20.0,
                    width: 60.0,
                    height: 72.0,
                },
                score: 0.9,
                landmarks: [Point { x: x + 30.0, y: 50.0 }; 5],
            },
            embedding: Some(crate::embed::normalize(&e)),
        }
    }

    fn enroll_by(name: &str, track_id: &str, person_id: &str) -> EnrollRequest {
        EnrollRequest {
            name: name.into(),
            track_id: track_id.into(),
            person_id: person_id.into(),
            ..EnrollRequest::default()
        }
    }

    /// Two strangers (unlike zoe and al) get anonymous ids; the first one's track is named
    /// through `~/enroll` with `track_id`; refusals leave the gallery as it was; the other
    /// anonymous person is named with `person_id`, then forgotten.
    #[tokio::test]
    async fn enroll_names_tracks_and_anonymous_people() {
        let dir = tempfile::tempdir().expect("tempdir");
        let anonymous = People::new(crate::people::PeopleConfig {
            anonymous: crate::people::AnonymousMode::Persisted,
            ..crate::people::PeopleConfig::default()
        });
        let s = services_with(dir.path(), vec![Tracker::new(TrackerConfig::default())], anonymous);
        // Two strangers in view for a second (100 ms frames): the first gets an anonymous id.
        let stranger = [-1.0, 0.0];
        let other = [0.0, -1.0];
        let mut ids = (None, None);
        for i in 0..12 {
            let mut tracker = s.shared.tracker(0).expect("tracking");
            let mut g = s.shared.gallery.write().expect("lock");
            let out = tracker.update(
                i * 100_000_000,
                vec![observation(10.0, stranger), observation(300.0, other)],
                &g,
            );
            s.shared
                .people
                .update(&mut tracker, &mut g, "/robot/image_raw")
                .expect("update");
            ids = (out[0].track_id, out[1].track_id);
        }
        let (first, second) = (ids.0.expect("tracked"), ids.1.expect("tracked"));
        let listed = s.list_people(ListPeopleRequest::default());
        let anon: Vec<&String> = listed
            .names
            .iter()
            .zip(&listed.anonymous)
            .filter_map(|(n, a)| a.then_some(n))
            .collect();
        assert_eq!(anon.len(), 2, "{listed:?}");
        assert_eq!(listed.names.len(), listed.anonymous.len());
        let on_disk = || Gallery::load(&dir.path().join("g.yaml")).expect("saved");
        let before = on_disk().person_info().count();

        for (req, expect) in [
            (enroll_by("ann", "x7", ""), "not a track number"),
            (enroll_by("ann", "999", ""), "no track 999 was ever seen"),
            (enroll_by("zoe", &first.to_string(), ""), "already in the gallery"),
            (
                enroll_by("person_beef", &first.to_string(), ""),
                "reserved for strangers",
            ),
            (enroll_by("ann", "1", "person_0000"), "at most one of"),
            (enroll_by("ann", "", "person_0000"), "nobody called 'person_0000'"),
            (enroll_by("ann", "", "al"), "is a named person, not an anonymous id"),
        ] {
            let resp = s.enroll(req.clone()).await;
            assert!(!resp.success, "{req:?}: {}", resp.message);
            assert!(
                resp.message.contains(expect),
                "{req:?}: {:?} lacks {expect:?}",
                resp.message
            );
        }
        assert_eq!(
            on_disk().person_info().count(),
            before,
            "refusals leave the gallery alone"
        );

        // "The person on track `first` is Ann": saved before the answer, the track named.
        let resp = s.enroll(enroll_by("Ann", &first.to_string(), "")).await;
        assert!(resp.success, "{}", resp.message);
        assert!(resp.samples_used > 0);
        assert!(resp.message.contains("until now anonymous person"), "{}", resp.message);
        let g = on_disk();
        assert!(g.contains("Ann") && !g.is_anonymous("Ann"));
        assert_eq!(
            s.shared.tracker(0).expect("tracking").track(first).expect("live").name,
            Some("Ann")
        );
        let again = s.enroll(enroll_by("Ann", &second.to_string(), "")).await;
        assert!(
            !again.success && again.message.contains("already in the gallery"),
            "{}",
            again.message
        );

        // The other anonymous person by id: named, then forgotten (with their tracks' name).
        let other_id = s
            .list_people(ListPeopleRequest::default())
            .names
            .into_iter()
            .find(|n| crate::gallery::is_anonymous_id(n))
            .expect("still anonymous");
        let resp = s.enroll(enroll_by("Bea", "", &other_id)).await;
        assert!(resp.success, "{}", resp.message);
        assert!(on_disk().contains("Bea") && !on_disk().contains(&other_id));
        let f = s.forget(ForgetRequest { name: "Bea".into() }).await;
        assert!(f.success, "{}", f.message);
        assert_eq!(
            s.shared.tracker(0).expect("tracking").track(second).expect("live").name,
            None,
            "the forgotten person's track is unnamed"
        );

        // The track ends (no face for 2 s of stamps): naming it is refused as ended.
        {
            let mut tracker = s.shared.tracker(0).expect("tracking");
            let g = s.shared.gallery.read().expect("lock");
            tracker.update(3_000_000_000, Vec::new(), &g);
        }
        let ended = s.enroll(enroll_by("Cy", &second.to_string(), "")).await;
        assert!(
            !ended.success && ended.message.contains("has ended"),
            "{}",
            ended.message
        );
    }

    #[tokio::test]
    async fn enroll_by_track_needs_tracking() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let resp = s.enroll(enroll_by("ann", "3", "")).await;
        assert!(
            !resp.success && resp.message.contains("tracking is off"),
            "{}",
            resp.message
        );
        let l = s.list_people(ListPeopleRequest::default());
        assert_eq!(l.anonymous, vec![false, false]);
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
            hub.offer(0, || sample_of(vec![0.6, 0.8]));
            hub.offer(0, || sample_of(vec![0.8, 0.6]));
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

    /// Issue 25: a bad `timeout_s` is refused saying what 0 means for that request: the node's
    /// default for an enrolment, no timeout for a search (it said "0 for the default" for both).
    #[test]
    fn bad_timeouts_say_what_zero_means() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let enroll = s.collection_limits(0, -1.0).expect_err("refused").to_string();
        assert!(enroll.contains("or 0 for the node's enroll.timeout_s"), "{enroll}");
        let goal = crate::ros::msgs::FindPersonGoal {
            name: "zoe".into(),
            timeout_s: -1.0,
            cameras: Vec::new(),
        };
        let find = super::super::actions::check_find_person(&s, &goal)
            .expect_err("refused")
            .to_string();
        assert!(
            find.contains("timeout_s -1") && find.contains("or 0 to search until cancelled"),
            "{find}"
        );
        assert!(!find.contains("default"), "{find}");
    }

    #[test]
    fn lifecycle_services_answer_as_rclcpp_lifecycle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = services(dir.path());
        let states = s.available_states().available_states;
        assert_eq!(states.len(), 11);
        assert_eq!((states[0].id, states[0].label.as_str()), (0, "unknown"));
        assert_eq!((states[10].id, states[10].label.as_str()), (15, "errorprocessing"));
        let graph = s.transition_graph().available_transitions;
        assert_eq!(graph.len(), 25);
        let first = &graph[0];
        assert_eq!((first.transition.id, first.transition.label.as_str()), (1, "configure"));
        assert_eq!(
            (first.start_state.label.as_str(), first.goal_state.label.as_str()),
            ("unconfigured", "configuring")
        );
        // Active at start: deactivate and shutdown, into their transition states.
        let available: Vec<(u8, String, String)> = s
            .available_transitions()
            .available_transitions
            .into_iter()
            .map(|t| (t.transition.id, t.start_state.label, t.goal_state.label))
            .collect();
        assert_eq!(
            available,
            [
                (4, "active".to_owned(), "deactivating".to_owned()),
                (7, "active".to_owned(), "shuttingdown".to_owned())
            ]
        );
        // Each available transition is an edge of the graph.
        for t in s.available_transitions().available_transitions {
            assert!(graph.contains(&t), "{t:?}");
        }
    }
}
