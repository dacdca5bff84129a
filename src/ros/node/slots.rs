//! Work hand-off between the ROS side and the worker threads: one latest-frame slot per camera
//! (a new frame replaces one not yet taken, so a slow pipeline never builds a queue) and a
//! small queue of jobs (enrolment images) served before frames.
//!
//! Which camera a free worker takes: the one with the **newest frame**, so that when cameras
//! offer more frames than the workers can take, the frame processed is the freshest one and the
//! others are replaced by newer frames instead of waiting (latency is a frame's wait plus its
//! processing). Frames that arrived within a quarter of a frame's processing time of the newest
//! count as equally new, and then the camera served least recently goes first, so cameras that
//! deliver in step take turns. And no camera waits for ever: a camera with a frame that has not
//! been served for 1.5 x (cameras with a frame) x one frame's processing time goes first. Until
//! workers have reported a processing time, cameras are served in turn (least recently served).
//!
//! Plain `std::sync` (workers are OS threads); `put` and `submit` never block for long.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// What a worker gets.
#[derive(Debug, PartialEq)]
pub enum Work<F, J> {
    /// The latest frame of camera `camera`.
    Frame { camera: usize, frame: F },
    /// A queued job.
    Job(J),
}

/// Frames arriving within this fraction of a frame's processing time of the newest one count as
/// equally new.
const SAME_AGE_FRACTION_OF_FRAME_TIME: f64 = 0.25;
/// A camera with a frame waits at most this many frame processing times per camera with a frame.
const MAX_WAIT_FRAME_TIMES_PER_CAMERA: f64 = 1.5;
/// Weight of the newest processing time in the running estimate.
const FRAME_TIME_WEIGHT: f64 = 0.1;

/// A frame waiting in its slot.
struct Waiting<F> {
    frame: F,
    arrived: Instant,
    /// Order of arrival over all cameras (ties between equal `Instant`s broken).
    arrival: u64,
}

/// One camera's latest-frame slot.
struct Slot<F> {
    waiting: Option<Waiting<F>>,
    served_at: Instant,
    /// Order of service over all cameras; 0 for a camera never served.
    service: u64,
}

/// A camera with a frame, as the choice sees it.
#[derive(Clone, Copy)]
struct Candidate {
    camera: usize,
    arrived: Instant,
    arrival: u64,
    served_at: Instant,
    service: u64,
}

/// The slots' part of the state, with the choice of camera (no locking, no waiting).
struct Cameras<F> {
    slots: Vec<Slot<F>>,
    arrivals: u64,
    services: u64,
    /// Running estimate of one frame's processing time; `None` until a worker reports one.
    frame_time: Option<Duration>,
}

impl<F> Cameras<F> {
    fn new(cameras: usize, now: Instant) -> Self {
        Self {
            slots: (0..cameras)
                .map(|_| Slot {
                    waiting: None,
                    served_at: now,
                    service: 0,
                })
                .collect(),
            arrivals: 0,
            services: 0,
            frame_time: None,
        }
    }

    /// Stores a camera's frame; hands back the one it replaced, or the frame when the camera
    /// is unknown.
    fn put(&mut self, camera: usize, frame: F, now: Instant) -> Result<Option<F>, F> {
        let Some(slot) = self.slots.get_mut(camera) else {
            return Err(frame);
        };
        self.arrivals += 1;
        let waiting = Waiting {
            frame,
            arrived: now,
            arrival: self.arrivals,
        };
        Ok(slot.waiting.replace(waiting).map(|old| old.frame))
    }

    fn record_frame_time(&mut self, elapsed: Duration) {
        self.frame_time = Some(match self.frame_time {
            None => elapsed,
            Some(mean) => mean.mul_f64(1.0 - FRAME_TIME_WEIGHT) + elapsed.mul_f64(FRAME_TIME_WEIGHT),
        });
    }

    /// The camera whose frame a free worker should take at `now` (see the module comment).
    fn choose(&self, now: Instant) -> Option<usize> {
        let waiting: Vec<Candidate> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(camera, slot)| {
                slot.waiting.as_ref().map(|w| Candidate {
                    camera,
                    arrived: w.arrived,
                    arrival: w.arrival,
                    served_at: slot.served_at,
                    service: slot.service,
                })
            })
            .collect();
        // Least recently served first; between cameras never served, the frame waiting longest.
        let least_recently_served = |candidates: &mut dyn Iterator<Item = &Candidate>| {
            candidates.min_by_key(|c| (c.service, c.arrival)).map(|c| c.camera)
        };
        let Some(frame_time) = self.frame_time else {
            return least_recently_served(&mut waiting.iter());
        };
        let max_wait = frame_time.mul_f64(MAX_WAIT_FRAME_TIMES_PER_CAMERA * waiting.len() as f64);
        let overdue = least_recently_served(
            &mut waiting
                .iter()
                .filter(|c| now.saturating_duration_since(c.served_at) > max_wait),
        );
        if overdue.is_some() {
            return overdue;
        }
        let newest = waiting.iter().map(|c| c.arrived).max()?;
        let same_age = frame_time.mul_f64(SAME_AGE_FRACTION_OF_FRAME_TIME);
        least_recently_served(
            &mut waiting
                .iter()
                .filter(|c| newest.saturating_duration_since(c.arrived) <= same_age),
        )
    }

    fn take(&mut self, now: Instant) -> Option<(usize, F)> {
        let camera = self.choose(now)?;
        let slot = self.slots.get_mut(camera)?;
        let waiting = slot.waiting.take()?;
        self.services += 1;
        slot.served_at = now;
        slot.service = self.services;
        Some((camera, waiting.frame))
    }
}

struct State<F, J> {
    cameras: Cameras<F>,
    jobs: VecDeque<J>,
    max_jobs: usize,
    closed: bool,
}

/// Latest-frame slots plus a job queue, shared by producers and workers.
pub struct Scheduler<F, J> {
    state: Mutex<State<F, J>>,
    ready: Condvar,
}

impl<F, J> Scheduler<F, J> {
    /// A scheduler for `cameras` cameras and at most `max_jobs` queued jobs.
    pub fn new(cameras: usize, max_jobs: usize) -> Self {
        Self {
            state: Mutex::new(State {
                cameras: Cameras::new(cameras, Instant::now()),
                jobs: VecDeque::new(),
                max_jobs,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<F, J>> {
        // A worker that panicked while holding the lock leaves consistent data behind (every
        // update is a single assignment), so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the latest frame of a camera. Returns the frame it replaced (never processed),
    /// if any. Frames for unknown cameras or after `close` are handed back as `Err`.
    pub fn put(&self, camera: usize, frame: F) -> Result<Option<F>, F> {
        let mut state = self.lock();
        if state.closed {
            return Err(frame);
        }
        let replaced = state.cameras.put(camera, frame, Instant::now())?;
        drop(state);
        self.ready.notify_one();
        Ok(replaced)
    }

    /// Queues a job; hands it back when the queue is full or closed.
    pub fn submit(&self, job: J) -> Result<(), J> {
        let mut state = self.lock();
        if state.closed || state.jobs.len() >= state.max_jobs {
            return Err(job);
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        Ok(())
    }

    /// A worker's time for one frame, from taking it to its messages being ready; it sets what
    /// "equally new" and "waited too long" mean (module comment).
    pub fn record_frame_time(&self, elapsed: Duration) {
        self.lock().cameras.record_frame_time(elapsed);
    }

    /// Waits for work: a job if one is queued, else a camera's latest frame (module comment).
    /// `None` once the scheduler is closed.
    pub fn take(&self) -> Option<Work<F, J>> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(job) = state.jobs.pop_front() {
                return Some(Work::Job(job));
            }
            if let Some((camera, frame)) = state.cameras.take(Instant::now()) {
                return Some(Work::Frame { camera, frame });
            }
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Wakes every worker and makes `take` return `None` from now on.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn latest_frame_wins_and_replaced_frames_are_returned() {
        let s: Scheduler<u32, ()> = Scheduler::new(1, 4);
        assert_eq!(s.put(0, 1), Ok(None));
        assert_eq!(s.put(0, 2), Ok(Some(1)));
        assert_eq!(s.put(0, 3), Ok(Some(2)));
        assert_eq!(s.take(), Some(Work::Frame { camera: 0, frame: 3 }));
        assert_eq!(s.put(5, 9), Err(9));
    }

    #[test]
    fn cameras_are_served_round_robin_and_jobs_first() {
        let s: Scheduler<&str, &str> = Scheduler::new(3, 1);
        for round in 0..3 {
            s.put(0, "a").expect("open");
            s.put(1, "b").expect("open");
            s.put(2, "c").expect("open");
            if round == 1 {
                s.submit("job").expect("room");
                assert_eq!(s.submit("second job"), Err("second job"));
                assert_eq!(s.take(), Some(Work::Job("job")));
            }
            let order: Vec<usize> = (0..3)
                .map(|_| match s.take() {
                    Some(Work::Frame { camera, .. }) => camera,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(order, vec![0, 1, 2]);
        }
        // A busy camera does not starve a quiet one.
        s.put(0, "a").expect("open");
        s.put(1, "b").expect("open");
        assert!(matches!(s.take(), Some(Work::Frame { camera: 0, .. })));
        s.put(0, "a").expect("open");
        assert!(matches!(s.take(), Some(Work::Frame { camera: 1, .. })));
    }

    const MS: Duration = Duration::from_millis(1);

    /// Two cameras, one frame's processing known to take 30 ms.
    fn two_cameras(t0: Instant) -> Cameras<&'static str> {
        let mut c = Cameras::new(2, t0);
        c.record_frame_time(30 * MS);
        c
    }

    #[test]
    fn the_newest_frame_goes_first() {
        let t0 = Instant::now();
        let mut c = two_cameras(t0);
        c.put(0, "a", t0).expect("camera");
        c.put(1, "b", t0 + 17 * MS).expect("camera");
        assert_eq!(c.take(t0 + 20 * MS), Some((1, "b")));
        // Camera 0's frame is replaced by a newer one before a worker is free: it never waited.
        assert_eq!(c.put(0, "a2", t0 + 34 * MS).expect("camera"), Some("a"));
        c.put(1, "b2", t0 + 50 * MS).expect("camera");
        assert_eq!(c.take(t0 + 52 * MS), Some((1, "b2")));
        assert_eq!(c.take(t0 + 82 * MS), Some((0, "a2")));
        assert_eq!(c.take(t0 + 83 * MS), None);
    }

    #[test]
    fn frames_of_about_the_same_age_take_turns() {
        // Cameras delivering in step (1 ms apart, within a quarter of a frame's time): camera 1's
        // frame is always the newer, yet the cameras alternate.
        let t0 = Instant::now();
        let mut c = two_cameras(t0);
        let mut served = [0; 2];
        for k in 0..30u32 {
            let t = t0 + k * 33 * MS;
            c.put(0, "a", t).expect("camera");
            c.put(1, "b", t + MS).expect("camera");
            let (camera, _) = c.take(t + 2 * MS).expect("a frame");
            served[camera] += 1;
        }
        assert_eq!(served, [15, 15]);
    }

    #[test]
    fn a_camera_waiting_too_long_goes_first() {
        // Camera 1's frames are always clearly newer; camera 0 still gets its turn once it has
        // not been served for 1.5 x 2 cameras x 30 ms.
        let t0 = Instant::now();
        let mut c = two_cameras(t0);
        c.put(0, "a", t0).expect("camera");
        let mut order = Vec::new();
        for k in 1..=6u32 {
            let t = t0 + k * 20 * MS;
            c.put(1, "b", t).expect("camera");
            order.push(c.take(t + MS).expect("a frame").0);
        }
        // Takes at 21, 41, 61 and 81 ms serve camera 1 (its frame is newer by more than 7.5 ms);
        // at 101 ms camera 0 has waited more than 1.5 x 2 cameras x 30 ms = 90 ms.
        assert_eq!(order.iter().filter(|&&cam| cam == 0).count(), 1, "{order:?}");
        assert_eq!(order, vec![1, 1, 1, 1, 0, 1]);
    }

    #[test]
    fn without_a_frame_time_cameras_take_turns() {
        let t0 = Instant::now();
        let mut c: Cameras<u8> = Cameras::new(3, t0);
        for k in 0..3u32 {
            let t = t0 + k * 10 * MS;
            c.put(2, 2, t).expect("camera");
            c.put(1, 1, t + MS).expect("camera");
            c.put(0, 0, t + 2 * MS).expect("camera");
            let order: Vec<usize> = (0..3).map(|_| c.take(t + 3 * MS).expect("a frame").0).collect();
            // The first round by how long the frames waited, then least recently served.
            assert_eq!(order, vec![2, 1, 0]);
        }
    }

    #[test]
    fn close_wakes_waiting_workers() {
        let s: Arc<Scheduler<u8, u8>> = Arc::new(Scheduler::new(1, 1));
        let waiter = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.take())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        s.close();
        assert_eq!(waiter.join().expect("no panic"), None);
        assert_eq!(s.put(0, 1), Err(1));
        assert_eq!(s.submit(1), Err(1));
    }

    #[test]
    fn a_waiting_worker_gets_a_new_frame() {
        let s: Arc<Scheduler<u8, u8>> = Arc::new(Scheduler::new(2, 1));
        let waiter = {
            let s = Arc::clone(&s);
            std::thread::spawn(move || s.take())
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        s.put(1, 7).expect("open");
        assert_eq!(
            waiter.join().expect("no panic"),
            Some(Work::Frame { camera: 1, frame: 7 })
        );
    }
}
