//! Work in flight: the tasks that answer one service request or run one action goal, spawned
//! by the node's long-lived serving tasks. Each holds its server (a service server, an action
//! server) until it ends, and a goal can run until cancelled, so at shutdown they are aborted and
//! awaited before the DDS participant goes: one left to the runtime's own shutdown would drop
//! its endpoints after the participant, too late to dispose them with it.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::task::JoinSet;

/// The in-flight tasks of a node; clones share them.
#[derive(Clone, Default)]
pub struct Inflight(Arc<Mutex<JoinSet<()>>>);

impl Inflight {
    /// Runs `task` on the current tokio runtime, tracked until it ends (finished tasks are
    /// forgotten as new ones come).
    pub fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }

    /// Tasks not finished yet.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let mut set = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        while set.try_join_next().is_some() {}
        set.len()
    }

    /// Aborts every task and waits until each has ended (its future, and what it held, dropped).
    /// Call after the tasks that spawn them have stopped.
    pub async fn stop(&self) {
        let mut set = std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner));
        set.shutdown().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn stop_drops_what_a_running_task_holds_before_it_returns() {
        let inflight = Inflight::default();
        let dropped = Arc::new(AtomicBool::new(false));
        let held = SetOnDrop(Arc::clone(&dropped));
        inflight.spawn(async move {
            let _held = held;
            std::future::pending::<()>().await;
        });
        inflight.spawn(async {});
        tokio::task::yield_now().await;
        assert!(!dropped.load(Ordering::SeqCst));
        inflight.stop().await;
        assert!(
            dropped.load(Ordering::SeqCst),
            "the task's server would outlive the participant"
        );
        assert_eq!(inflight.len(), 0);
    }

    #[tokio::test]
    async fn finished_tasks_are_forgotten() {
        let inflight = Inflight::default();
        for _ in 0..10 {
            inflight.spawn(async {});
        }
        for _ in 0..100 {
            if inflight.len() == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(inflight.len(), 0);
    }
}
