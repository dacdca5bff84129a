//! The node's actions, for behaviour trees (BehaviorTree.ROS2 `RosActionNode`, py_trees_ros
//! action behaviours): `~/enroll_person` (the `~/enroll` service with feedback after every
//! frame judged, and cancellable: a cancelled collection stores nothing) and `~/find_person`
//! (succeeds on the first published frame that names the person, with where and when).
//!
//! Each action server runs two loops in one task: one takes goals (a goal sent before this node
//! started, as for the services, or a malformed one is rejected with the reason logged; the
//! others are accepted and executed in their own task), one answers cancel requests (the goal's
//! task is told through a watch channel and ends the goal as cancelled). Results are sent one at
//! a time: ros2-client's `AsyncActionServer::send_result_response` reads result requests while
//! it waits for its own, and two at once could each take the other's.
//!
//! Touches the service handlers (`node::services`), the enrolment hub and the person searches
//! (`node::finder`); the DDS servers are created in `node`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ros2_client::action::{ExecutingGoalHandle, GoalEndStatus, GoalId};
use tokio::sync::{mpsc, watch};

use super::enroll::Sample;
use super::inflight::Inflight;
use super::requests::{self, Admission, RequestGate};
use super::services::{ServiceError, Services};
use crate::gallery::validate_name;
use crate::ros::dds::ActionServerOf;
use crate::ros::error_chain;
use crate::ros::msgs::{
    EnrollPerson, EnrollPersonFeedback, EnrollPersonGoal, EnrollPersonResult, EnrollRequest, FindPerson,
    FindPersonFeedback, FindPersonGoal, FindPersonResult, RosAction,
};

/// How long a finished goal waits for its client's result request before its result is
/// dropped (clients ask for it as soon as the goal is accepted).
const RESULT_REQUEST_WAIT: Duration = Duration::from_secs(30);

/// One action server and the goals it executes.
struct Action<A: RosAction> {
    what: &'static str,
    server: ActionServerOf<A>,
    /// Executing goals, with the switch that tells each it was cancelled.
    cancels: Mutex<BTreeMap<GoalId, watch::Sender<bool>>>,
    /// Held while a result is sent (see the module comment).
    sending_result: tokio::sync::Mutex<()>,
}

impl<A: RosAction> Action<A> {
    fn cancels(&self) -> MutexGuard<'_, BTreeMap<GoalId, watch::Sender<bool>>> {
        self.cancels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a goal's execution may use: whether it was cancelled, and its feedback.
pub struct GoalContext<A: RosAction> {
    action: Arc<Action<A>>,
    handle: ExecutingGoalHandle<A::Goal>,
    cancel: watch::Receiver<bool>,
}

impl<A: RosAction> GoalContext<A> {
    /// Completes when the client cancels the goal (never, if it does not).
    pub fn cancelled(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut cancel = self.cancel.clone();
        async move {
            if cancel.wait_for(|c| *c).await.is_err() {
                // The switch is gone only when the goal has finished.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Whether the client has cancelled the goal.
    pub fn is_cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Publishes feedback; a failure is logged (feedback is best effort by nature).
    pub async fn feedback(&self, feedback: A::Feedback) {
        if let Err(e) = self.action.server.publish_feedback(self.handle.clone(), feedback).await {
            tracing::debug!("{}: feedback not published: {e:?}", self.action.what);
        }
    }
}

/// Serves action `A` until the task is aborted: `check` says why a goal is refused, `execute`
/// runs an accepted one to its end status and result, in its own task in `inflight`.
pub fn serve<A, C, E, Fut>(
    server: ActionServerOf<A>,
    what: &'static str,
    life_start_ns: i64,
    inflight: &Inflight,
    check: C,
    execute: E,
) -> tokio::task::JoinHandle<()>
where
    A: RosAction + Send + Sync + 'static,
    A::Goal: Send + Sync,
    A::Result: Send + Sync,
    A::Feedback: Send + Sync,
    ActionServerOf<A>: Send + Sync,
    C: Fn(&A::Goal) -> Result<(), ServiceError> + Send + 'static,
    E: Fn(A::Goal, GoalContext<A>) -> Fut + Send + 'static,
    Fut: Future<Output = (GoalEndStatus, A::Result)> + Send + 'static,
{
    let action = Arc::new(Action::<A> {
        what,
        server,
        cancels: Mutex::new(BTreeMap::new()),
        sending_result: tokio::sync::Mutex::new(()),
    });
    let inflight = inflight.clone();
    tokio::spawn(async move {
        tokio::join!(
            take_goals(Arc::clone(&action), life_start_ns, &inflight, check, execute),
            answer_cancels(action)
        );
    })
}

async fn take_goals<A, C, E, Fut>(action: Arc<Action<A>>, life_start_ns: i64, inflight: &Inflight, check: C, execute: E)
where
    A: RosAction + Send + Sync + 'static,
    A::Goal: Send + Sync,
    A::Result: Send + Sync,
    A::Feedback: Send + Sync,
    ActionServerOf<A>: Send + Sync,
    C: Fn(&A::Goal) -> Result<(), ServiceError>,
    E: Fn(A::Goal, GoalContext<A>) -> Fut,
    Fut: Future<Output = (GoalEndStatus, A::Result)> + Send + 'static,
{
    let what = action.what;
    let mut gate = RequestGate::new(life_start_ns, requests::REMEMBERED_REQUESTS);
    loop {
        let (handle, info) = match action.server.receive_new_goal_with_info().await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!("{what}: bad goal request: {e}");
                continue;
            }
        };
        let sent_ns = info.source_timestamp().map(|t| t.to_nanos());
        let refusal = match gate.admit(handle.request_id(), sent_ns) {
            Admission::Execute | Admission::ExecuteUntimed => None,
            Admission::Duplicate => Some("the same goal request was received before".to_owned()),
            Admission::BeforeThisLife { early_ns } => {
                #[allow(clippy::cast_precision_loss)]
                let early_s = early_ns as f64 / 1e9;
                Some(format!(
                    "it was sent {early_s:.3} s before this node started (to a previous run of the node)"
                ))
            }
        };
        let Some(goal) = action.server.get_new_goal(handle.clone()) else {
            tracing::warn!("{what}: a received goal vanished before it was accepted");
            continue;
        };
        let refusal = refusal.or_else(|| check(&goal).err().map(|e| error_chain(&e)));
        if let Some(reason) = refusal {
            tracing::warn!("{what}: goal rejected: {reason}");
            if let Err(e) = action.server.reject_goal(handle).await {
                tracing::warn!("{what}: could not reject the goal: {e:?}");
            }
            continue;
        }
        let accepted = match action.server.accept_goal(handle).await {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!("{what}: could not accept the goal: {e:?}");
                continue;
            }
        };
        let executing = match action.server.start_executing_goal(accepted).await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("{what}: could not start the goal: {e:?}");
                continue;
            }
        };
        let goal_id = executing.goal_id();
        let (switch, cancel) = watch::channel(false);
        action.cancels().insert(goal_id, switch);
        let context = GoalContext {
            action: Arc::clone(&action),
            handle: executing.clone(),
            cancel,
        };
        let running = execute(goal, context);
        let action = Arc::clone(&action);
        inflight.spawn(async move {
            let (status, result) = running.await;
            // From here on a cancel request is refused: the goal is finishing.
            action.cancels().remove(&goal_id);
            let _sending = action.sending_result.lock().await;
            let sent = tokio::time::timeout(
                RESULT_REQUEST_WAIT,
                action.server.send_result_response(executing, status, result),
            )
            .await;
            match sent {
                Ok(Ok(())) => tracing::debug!("{what}: goal ended {status:?}"),
                Ok(Err(e)) => tracing::warn!("{what}: could not send the result: {e:?}"),
                Err(_) => tracing::warn!(
                    "{what}: the client asked for no result within {} s; result dropped",
                    RESULT_REQUEST_WAIT.as_secs()
                ),
            }
        });
    }
}

async fn answer_cancels<A>(action: Arc<Action<A>>)
where
    A: RosAction,
{
    let what = action.what;
    loop {
        let request = match action.server.receive_cancel_request().await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("{what}: bad cancel request: {e}");
                continue;
            }
        };
        // Goals this server is executing and the request names; the others are refused.
        let cancelling: Vec<GoalId> = {
            let cancels = action.cancels();
            request.goals().filter(|g| cancels.contains_key(g)).collect()
        };
        if let Err(e) = action
            .server
            .respond_to_cancel_requests(&request, cancelling.iter().copied())
            .await
        {
            tracing::warn!("{what}: could not answer a cancel request: {e}");
        }
        let cancels = action.cancels();
        for goal in &cancelling {
            if let Some(switch) = cancels.get(goal) {
                switch.send_replace(true);
            }
        }
        if !cancelling.is_empty() {
            tracing::info!("{what}: {} goal(s) cancelled", cancelling.len());
        }
    }
}

// ---------------------------------------------------------------- ~/enroll_person

fn enroll_request(goal: EnrollPersonGoal) -> EnrollRequest {
    EnrollRequest {
        name: goal.name,
        camera: goal.camera,
        image: crate::ros::msgs::Image::default(),
        num_samples: goal.num_samples,
        timeout_s: goal.timeout_s,
        track_id: goal.track_id,
        person_id: goal.person_id,
    }
}

/// Why an `~/enroll_person` goal is rejected: what `~/enroll` would refuse before collecting.
pub fn check_enroll_person(services: &Services, goal: &EnrollPersonGoal) -> Result<(), ServiceError> {
    validate_name(&goal.name)?;
    if !goal.track_id.trim().is_empty() && !goal.person_id.trim().is_empty() {
        return Err(ServiceError::SeveralSources);
    }
    services.camera_index(&goal.camera)?;
    services.collection_limits(goal.num_samples, goal.timeout_s)?;
    Ok(())
}

/// Runs an accepted `~/enroll_person` goal: the `~/enroll` handler, with a feedback message per
/// frame judged and the goal's cancel.
pub async fn enroll_person(
    services: Services,
    goal: EnrollPersonGoal,
    context: GoalContext<EnrollPerson>,
) -> (GoalEndStatus, EnrollPersonResult) {
    let needed = services
        .collection_limits(goal.num_samples, goal.timeout_s)
        .map_or(0, |(n, _)| n);
    let (feedback_tx, mut feedback_rx) = mpsc::unbounded_channel();
    let cameras = Arc::clone(&services.shared);
    let on_frame = move |so_far: &super::enroll::Collected, camera: usize, sample: &Sample| {
        let topic = cameras.cameras.get(camera).map(|c| c.topic.clone()).unwrap_or_default();
        let (last_rejection, bbox) = match sample {
            Ok(face) => (String::new(), Some(face.bbox_px)),
            Err(refusal) => (refusal.to_string(), None),
        };
        // The receiver lives until the enrolment returns.
        let _ = feedback_tx.send(EnrollPersonFeedback {
            samples_collected: u32::try_from(so_far.samples.len()).unwrap_or(u32::MAX),
            samples_needed: needed,
            last_rejection,
            camera: topic,
            has_box: bbox.is_some(),
            x: bbox.map_or(0.0, |b| b.x),
            y: bbox.map_or(0.0, |b| b.y),
            width: bbox.map_or(0.0, |b| b.width),
            height: bbox.map_or(0.0, |b| b.height),
        });
    };
    let enrolling = services.enroll_with(enroll_request(goal), None, context.cancelled(), on_frame);
    let forwarding = async {
        while let Some(feedback) = feedback_rx.recv().await {
            context.feedback(feedback).await;
        }
    };
    let (response, ()) = tokio::join!(enrolling, forwarding);
    let status = if response.success {
        GoalEndStatus::Succeeded
    } else if context.is_cancelled() {
        GoalEndStatus::Canceled
    } else {
        GoalEndStatus::Aborted
    };
    (
        status,
        EnrollPersonResult {
            success: response.success,
            message: response.message,
            samples_used: response.samples_used,
        },
    )
}

// ---------------------------------------------------------------- ~/find_person

/// The cameras a `~/find_person` goal searches (`None`: all).
fn search_cameras(services: &Services, goal: &FindPersonGoal) -> Result<Option<Vec<usize>>, ServiceError> {
    if goal.cameras.is_empty() {
        return Ok(None);
    }
    let mut indices = Vec::with_capacity(goal.cameras.len());
    for topic in &goal.cameras {
        indices.extend(services.camera_index(topic)?);
    }
    Ok(Some(indices))
}

/// Why a `~/find_person` goal is rejected: a name the gallery does not hold, an unknown camera,
/// a negative or non-finite timeout, a node that is not active.
pub fn check_find_person(services: &Services, goal: &FindPersonGoal) -> Result<(), ServiceError> {
    search_cameras(services, goal)?;
    services.require_active()?;
    if !(goal.timeout_s.is_finite() && goal.timeout_s >= 0.0) {
        return Err(ServiceError::BadTimeout {
            timeout_s: goal.timeout_s,
            zero: "to search until cancelled",
        });
    }
    let held = {
        let gallery = services.shared.gallery.read().unwrap_or_else(PoisonError::into_inner);
        gallery.contains(&goal.name)
    };
    if held {
        Ok(())
    } else {
        Err(ServiceError::UnknownPerson(goal.name.clone()))
    }
}

/// Runs an accepted `~/find_person` goal until the person is published by a searched camera,
/// the timeout passes or the goal is cancelled.
pub async fn find_person(
    services: Services,
    goal: FindPersonGoal,
    context: GoalContext<FindPerson>,
) -> (GoalEndStatus, FindPersonResult) {
    let cameras = match search_cameras(&services, &goal) {
        Ok(c) => c,
        Err(e) => return (GoalEndStatus::Aborted, not_found(error_chain(&e))),
    };
    let mut search = services.shared.finder.register(&goal.name, cameras);
    let started = Instant::now();
    let deadline =
        (goal.timeout_s > 0.0).then(|| tokio::time::Instant::now() + Duration::from_secs_f32(goal.timeout_s));
    let cancelled = context.cancelled();
    tokio::pin!(cancelled);
    let (mut frames, mut faces_seen) = (0_u32, 0_u32);
    let (mut best_score, mut best_camera) = (-1.0_f32, String::new());
    loop {
        let timeout = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let glance = tokio::select! {
            () = &mut cancelled => {
                return (GoalEndStatus::Canceled, not_found(format!(
                    "cancelled after {frames} frame(s) searched: '{}' not seen", goal.name
                )));
            }
            () = timeout => {
                return (GoalEndStatus::Aborted, not_found(format!(
                    "'{}' not seen within {:.1} s ({frames} frame(s) searched, {faces_seen} other face(s) seen, best similarity {best_score:.3})",
                    goal.name, goal.timeout_s
                )));
            }
            glance = search.glances.recv() => glance,
        };
        let Some(glance) = glance else {
            return (
                GoalEndStatus::Aborted,
                not_found("the node is shutting down".to_owned()),
            );
        };
        frames = frames.saturating_add(1);
        let topic = services
            .shared
            .cameras
            .get(glance.camera)
            .map(|c| c.topic.clone())
            .unwrap_or_default();
        if let Some(seen) = glance.sighting {
            tracing::info!("find_person: '{}' seen on {topic} (score {:.3})", goal.name, seen.score);
            return (
                GoalEndStatus::Succeeded,
                FindPersonResult {
                    found: true,
                    message: format!(
                        "'{}' seen on {topic} after {:.1} s ({frames} frame(s) searched)",
                        goal.name,
                        started.elapsed().as_secs_f32()
                    ),
                    camera: topic,
                    stamp: seen.stamp,
                    x: seen.bbox_px.x,
                    y: seen.bbox_px.y,
                    width: seen.bbox_px.width,
                    height: seen.bbox_px.height,
                    score: seen.score,
                    track_id: seen.track_id.map(|t| t.to_string()).unwrap_or_default(),
                    has_position: seen.position.is_some(),
                    position: seen.position.map(super::convert::point_of).unwrap_or_default(),
                },
            );
        }
        faces_seen = faces_seen.saturating_add(u32::try_from(glance.faces).unwrap_or(u32::MAX));
        if let Some(score) = glance.best_score.filter(|s| *s > best_score) {
            best_score = score;
            best_camera = topic;
        }
        context
            .feedback(FindPersonFeedback {
                frames_searched: frames,
                faces_seen,
                best_score,
                best_camera: best_camera.clone(),
                elapsed_s: started.elapsed().as_secs_f32(),
            })
            .await;
    }
}

fn not_found(message: String) -> FindPersonResult {
    FindPersonResult {
        found: false,
        message,
        ..FindPersonResult::default()
    }
}
