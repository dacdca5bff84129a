//! Which service requests a server may execute: each request at most once (by its
//! `RmwRequestId`, client GID and sequence number, remembered in bounded memory), and never one
//! sent before this server existed.
//!
//! Why the second rule: when a reliable RustDDS reader matches a client's request writer, it asks
//! for every sequence number that the writer's heartbeat still announces, whatever the reader's
//! durability, and the writer re-sends its history (KEEP_LAST 10 by default). A node restarted
//! after `kill -9` therefore receives the requests its previous life already answered. Those
//! carry the client's source timestamp from before this server was created, which is how they
//! are recognised here. Clocks: the comparison is between the client's clock and this host's; a
//! client on another host whose clock is behind by `d` has its requests of the first `d` after
//! the node's start refused (it is told so and may call again), one whose clock is ahead by `d`
//! may have requests sent up to `d` before the start executed.
//!
//! What makes the first rule hold across a crash: a request that changes the gallery is recorded
//! there, by its [`request_key`], in the same atomic save as its effect
//! (`Gallery::set_pending_request`). A restarted node that receives a request again looks it up
//! first: found, it was executed and only the answer was lost, so it is answered from the record;
//! not found and sent before the start, it was provably not executed (its effect and its record
//! are written together) and is refused with "call again".
//!
//! Pure bookkeeping; the servers that consult it live in `node`.

use std::collections::{BTreeSet, VecDeque};

use ros2_client::RmwRequestId;

/// Request ids remembered per server for duplicate detection.
pub const REMEMBERED_REQUESTS: usize = 4096;

/// What to do with one received request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Execute it.
    Execute,
    /// Execute it, although it carries no source timestamp (the writer sent none).
    ExecuteUntimed,
    /// Already seen in this life: do nothing (it was or is being answered).
    Duplicate,
    /// Sent this many nanoseconds before the server was created: from a previous life of the
    /// node (or for a server that did not exist yet). Not executed.
    BeforeThisLife { early_ns: i64 },
}

/// Per-server admission of requests.
#[derive(Debug)]
pub struct RequestGate {
    created_ns: i64,
    seen: BTreeSet<RmwRequestId>,
    order: VecDeque<RmwRequestId>,
    capacity: usize,
}

impl RequestGate {
    /// A gate for a server created at `created_ns` (nanoseconds since the Unix epoch, this
    /// host's clock), remembering the last `capacity` request ids.
    pub fn new(created_ns: i64, capacity: usize) -> Self {
        Self {
            created_ns,
            seen: BTreeSet::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Decides about request `id`, sent at `sent_ns` by the client's clock if it said.
    pub fn admit(&mut self, id: RmwRequestId, sent_ns: Option<i64>) -> Admission {
        if self.seen.contains(&id) {
            return Admission::Duplicate;
        }
        if let Some(sent) = sent_ns {
            if sent < self.created_ns {
                // Remembered too, so a re-sent copy is not logged again.
                self.remember(id);
                return Admission::BeforeThisLife {
                    early_ns: self.created_ns.saturating_sub(sent),
                };
            }
        }
        self.remember(id);
        if sent_ns.is_some() {
            Admission::Execute
        } else {
            Admission::ExecuteUntimed
        }
    }

    fn remember(&mut self, id: RmwRequestId) {
        self.seen.insert(id);
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.seen.remove(&old);
            }
        }
    }

    /// Request ids remembered now (at most the capacity); for tests.
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.seen.len()
    }
}

/// The id a request is recorded under: the client's GID in hex and the sequence number.
pub fn request_key(id: &RmwRequestId) -> String {
    format!("{}:{}", hex::encode(id.writer_gid.as_bytes()), id.sequence_number)
}

/// At most one message per `period`; counts what it held back.
#[derive(Debug)]
pub struct RateLimit {
    period: std::time::Duration,
    last: Option<std::time::Instant>,
    suppressed: u64,
}

impl RateLimit {
    pub fn new(period: std::time::Duration) -> Self {
        Self {
            period,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(held back since the last one)` when a message may go out now, else `None` (and
    /// one more is counted as held back).
    pub fn allow(&mut self) -> Option<u64> {
        let now = std::time::Instant::now();
        if self.last.is_some_and(|t| now.duration_since(t) < self.period) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

/// " (N more like it held back)" after a rate-limited message, or nothing.
pub fn suppressed_note(suppressed: u64) -> String {
    if suppressed == 0 {
        String::new()
    } else {
        format!(" ({suppressed} more like it since the last such warning)")
    }
}

/// Nanoseconds since the Unix epoch by this host's clock (0 if the clock is before 1970).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ros2_client::Gid;

    fn id(client: u8, seq: i64) -> RmwRequestId {
        RmwRequestId {
            writer_gid: Gid::from([client; 16]),
            sequence_number: seq,
        }
    }

    #[test]
    fn each_request_once() {
        let mut gate = RequestGate::new(1_000, 16);
        assert_eq!(gate.admit(id(1, 1), Some(2_000)), Admission::Execute);
        assert_eq!(gate.admit(id(1, 1), Some(2_000)), Admission::Duplicate);
        assert_eq!(gate.admit(id(1, 2), Some(2_001)), Admission::Execute);
        assert_eq!(gate.admit(id(2, 1), None), Admission::ExecuteUntimed);
        assert_eq!(gate.admit(id(2, 1), None), Admission::Duplicate);
    }

    #[test]
    fn requests_from_before_the_server_are_not_executed() {
        let mut gate = RequestGate::new(1_000, 16);
        assert_eq!(
            gate.admit(id(1, 7), Some(400)),
            Admission::BeforeThisLife { early_ns: 600 }
        );
        assert_eq!(gate.admit(id(1, 7), Some(400)), Admission::Duplicate);
        assert_eq!(gate.admit(id(1, 8), Some(1_000)), Admission::Execute);
    }

    #[test]
    fn request_keys_tell_clients_and_calls_apart() {
        assert_ne!(request_key(&id(1, 7)), request_key(&id(2, 7)));
        assert_ne!(request_key(&id(1, 7)), request_key(&id(1, 8)));
        assert_eq!(request_key(&id(1, 7)), request_key(&id(1, 7)));
    }

    #[test]
    fn a_rate_limit_lets_one_through_per_period_and_counts_the_rest() {
        let mut limit = RateLimit::new(std::time::Duration::from_secs(3600));
        assert_eq!(limit.allow(), Some(0));
        assert_eq!(limit.allow(), None);
        assert_eq!(limit.allow(), None);
        let mut open = RateLimit::new(std::time::Duration::ZERO);
        assert_eq!(open.allow(), Some(0));
        assert_eq!(open.allow(), Some(0));
    }

    #[test]
    fn memory_is_bounded() {
        let mut gate = RequestGate::new(0, 3);
        for seq in 0..10 {
            assert_eq!(gate.admit(id(1, seq), Some(1)), Admission::Execute);
        }
        assert_eq!(gate.remembered(), 3);
        assert_eq!(gate.admit(id(1, 9), Some(1)), Admission::Duplicate);
    }
}
