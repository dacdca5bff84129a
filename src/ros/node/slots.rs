//! Work hand-off between the ROS side and the worker threads: one latest-frame slot per camera
//! (a new frame replaces one not yet taken, so a slow pipeline never builds a queue) and a
//! small queue of jobs (enrolment images) served before frames. Workers block in `take` and
//! pick cameras round-robin so no camera starves another.
//!
//! Plain `std::sync` (workers are OS threads); `put` and `submit` never block for long.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// What a worker gets.
#[derive(Debug, PartialEq)]
pub enum Work<F, J> {
    /// The latest frame of camera `camera`.
    Frame { camera: usize, frame: F },
    /// A queued job.
    Job(J),
}

struct State<F, J> {
    slots: Vec<Option<F>>,
    next: usize,
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
                slots: (0..cameras).map(|_| None).collect(),
                next: 0,
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
        let Some(slot) = state.slots.get_mut(camera) else {
            return Err(frame);
        };
        let replaced = slot.replace(frame);
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

    fn pick(state: &mut State<F, J>) -> Option<Work<F, J>> {
        if let Some(job) = state.jobs.pop_front() {
            return Some(Work::Job(job));
        }
        let n = state.slots.len();
        for i in 0..n {
            let camera = (state.next + i) % n;
            if let Some(frame) = state.slots.get_mut(camera).and_then(Option::take) {
                state.next = (camera + 1) % n;
                return Some(Work::Frame { camera, frame });
            }
        }
        None
    }

    /// Waits for work: a job if one is queued, else the next camera (round-robin) with a frame.
    /// `None` once the scheduler is closed.
    pub fn take(&self) -> Option<Work<F, J>> {
        let mut state = self.lock();
        loop {
            if state.closed {
                return None;
            }
            if let Some(work) = Self::pick(&mut state) {
                return Some(work);
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
