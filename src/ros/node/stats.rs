//! Counters behind `/diagnostics`: per camera the frames received, processed, replaced before
//! processing (dropped), malformed and lost before arrival (gaps in a publisher's DDS sequence
//! numbers: lost in transport, e.g. a fragment of a big frame dropped by a full socket buffer), the processing latency, and rate-limited warnings; turned
//! into `diagnostic_msgs/DiagnosticStatus` entries once per diagnostics period.
//!
//! Pure bookkeeping behind a mutex; no I/O besides `tracing` warnings.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::ros::msgs::{DiagnosticStatus, KeyValue};
use crate::track::Tracker;

/// Shortest time between two warnings about bad frames of one camera.
pub const WARN_INTERVAL: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
struct Window {
    received: u64,
    lost: u64,
    processed: u64,
    latency_sum: Duration,
    latency_max: Duration,
    pipeline_sum: Duration,
}

#[derive(Debug, Clone)]
struct Camera {
    topic: String,
    received: u64,
    processed: u64,
    dropped: u64,
    malformed: u64,
    failed: u64,
    lost: u64,
    last_loss_warn: Option<Instant>,
    last_faces: usize,
    last_error: Option<String>,
    last_warn: Option<Instant>,
    suppressed: u64,
    window: Window,
}

/// Per-camera counters.
pub struct Stats {
    cameras: Mutex<Vec<Camera>>,
}

fn kv(key: &str, value: impl ToString) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: value.to_string(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e3)
}

impl Stats {
    pub fn new(topics: &[String]) -> Self {
        let cameras = topics
            .iter()
            .map(|t| Camera {
                topic: t.clone(),
                received: 0,
                processed: 0,
                dropped: 0,
                malformed: 0,
                failed: 0,
                lost: 0,
                last_loss_warn: None,
                last_faces: 0,
                last_error: None,
                last_warn: None,
                suppressed: 0,
                window: Window::default(),
            })
            .collect();
        Self {
            cameras: Mutex::new(cameras),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Camera>> {
        self.cameras.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with(&self, camera: usize, f: impl FnOnce(&mut Camera)) {
        if let Some(c) = self.lock().get_mut(camera) {
            f(c);
        }
    }

    /// A message arrived; `replaced` when it pushed out a frame never processed.
    pub fn received(&self, camera: usize, replaced: bool) {
        self.with(camera, |c| {
            c.received += 1;
            c.window.received += 1;
            if replaced {
                c.dropped += 1;
            }
        });
    }

    /// `n` frames of this camera were sent by a publisher but never arrived (a gap in its
    /// sequence numbers). Logs a warning at most every [`WARN_INTERVAL`] per camera.
    pub fn lost(&self, camera: usize, n: u64) {
        if n == 0 {
            return;
        }
        let now = Instant::now();
        let mut warn = None;
        self.with(camera, |c| {
            c.lost += n;
            c.window.lost += n;
            if c.last_loss_warn.is_none_or(|t| now.duration_since(t) >= WARN_INTERVAL) {
                c.last_loss_warn = Some(now);
                warn = Some((c.topic.clone(), c.lost));
            }
        });
        if let Some((topic, total)) = warn {
            tracing::warn!(
                "{topic}: {n} frame(s) sent by a publisher never arrived ({total} in total): lost in transport, \
                 e.g. a big frame's fragments dropped by a full socket receive buffer (see the README on big frames)"
            );
        }
    }

    /// A frame went through the pipeline; `latency` from arrival to outputs handed over.
    pub fn processed(&self, camera: usize, faces: usize, latency: Duration, pipeline: Duration) {
        self.with(camera, |c| {
            c.processed += 1;
            c.last_faces = faces;
            c.window.processed += 1;
            c.window.latency_sum += latency;
            c.window.latency_max = c.window.latency_max.max(latency);
            c.window.pipeline_sum += pipeline;
        });
    }

    /// A message could not be read (bad sizes, encoding, undecodable data, bad CDR). Logs a
    /// warning at most every [`WARN_INTERVAL`] per camera.
    pub fn malformed(&self, camera: usize, error: &str) {
        self.bad(camera, error, true);
    }

    /// The pipeline failed on a frame (an ONNX Runtime error). Logged like `malformed`.
    pub fn failed(&self, camera: usize, error: &str) {
        self.bad(camera, error, false);
    }

    fn bad(&self, camera: usize, error: &str, malformed: bool) {
        let now = Instant::now();
        let mut warn = None;
        self.with(camera, |c| {
            if malformed {
                c.malformed += 1;
            } else {
                c.failed += 1;
            }
            c.last_error = Some(error.to_owned());
            if c.last_warn.is_none_or(|t| now.duration_since(t) >= WARN_INTERVAL) {
                c.last_warn = Some(now);
                warn = Some((c.topic.clone(), std::mem::take(&mut c.suppressed)));
            } else {
                c.suppressed += 1;
            }
        });
        if let Some((topic, suppressed)) = warn {
            let what = if malformed {
                "dropped a malformed image"
            } else {
                "face pipeline failed on an image"
            };
            if suppressed > 0 {
                tracing::warn!("{topic}: {what}: {error} ({suppressed} more since the last warning)");
            } else {
                tracing::warn!("{topic}: {what}: {error}");
            }
        }
    }

    /// Totals of one camera: (received, processed, dropped, malformed); for tests.
    #[cfg(test)]
    pub fn totals(&self, camera: usize) -> Option<(u64, u64, u64, u64)> {
        self.lock()
            .get(camera)
            .map(|c| (c.received, c.processed, c.dropped, c.malformed))
    }

    /// One status per camera for the window since the last call (which `period` long), and
    /// starts a new window.
    pub fn statuses(&self, period: Duration, node: &str) -> Vec<DiagnosticStatus> {
        let secs = period.as_secs_f64().max(1e-3);
        let mut cameras = self.lock();
        cameras
            .iter_mut()
            .map(|c| {
                let w = std::mem::take(&mut c.window);
                let (level, message) = if c.received == 0 {
                    (DiagnosticStatus::STALE, "no images received yet".to_owned())
                } else if w.received == 0 {
                    (DiagnosticStatus::WARN, "no images in the last period".to_owned())
                } else if c.malformed + c.failed > 0 && c.processed == 0 {
                    (DiagnosticStatus::ERROR, c.last_error.clone().unwrap_or_default())
                } else if w.lost > 0 {
                    (
                        DiagnosticStatus::WARN,
                        format!("{} frame(s) lost before arrival in the last period", w.lost),
                    )
                } else {
                    (DiagnosticStatus::OK, "processing".to_owned())
                };
                let mean = |sum: Duration| {
                    if w.processed > 0 {
                        sum / w.processed as u32
                    } else {
                        Duration::ZERO
                    }
                };
                let mut values = vec![
                    kv("topic", &c.topic),
                    kv("received_hz", format!("{:.2}", w.received as f64 / secs)),
                    kv("processed_hz", format!("{:.2}", w.processed as f64 / secs)),
                    kv("latency_ms_mean", ms(mean(w.latency_sum))),
                    kv("latency_ms_max", ms(w.latency_max)),
                    kv("pipeline_ms_mean", ms(mean(w.pipeline_sum))),
                    kv("received", c.received),
                    kv("processed", c.processed),
                    kv("dropped", c.dropped),
                    kv("malformed", c.malformed),
                    kv("failed", c.failed),
                    kv("lost", c.lost),
                    kv("lost_hz", format!("{:.2}", w.lost as f64 / secs)),
                    kv("faces_last_frame", c.last_faces),
                ];
                if let Some(e) = &c.last_error {
                    values.push(kv("last_error", e));
                }
                DiagnosticStatus {
                    level,
                    name: format!("{node}: camera {}", c.topic),
                    message,
                    hardware_id: c.topic.clone(),
                    values,
                }
            })
            .collect()
    }
}

/// A camera's tracker in `/diagnostics`: its counters as values (`tracks_open`, ...,
/// `untracked_faces` and `capped_frames` for faces left without a track at the
/// `tracking.max_tracks` cap; `continuity_checks` for faces embedded because their continuity
/// with their track was weak, `identity_splits` for faces that were somebody else than their
/// track's name and got a track of their own), and a warning level while the cap is reached.
pub fn tracker_values(tracker: &Tracker) -> (u8, String, Vec<KeyValue>) {
    let s = tracker.stats();
    let open = tracker.live_tracks();
    let cap = tracker.config().max_tracks;
    let values = vec![
        kv("tracks_open", open),
        kv("tracks_max", cap),
        kv("tracks_started", s.tracks_started),
        kv("tracks_confirmed", s.tracks_confirmed),
        kv("tracks_reidentified", s.reidentified),
        kv("untracked_faces", s.untracked_faces),
        kv("capped_frames", s.capped_frames),
        kv("backwards_stamps", s.backwards_stamps),
        kv("tracker_resets", s.resets),
        kv("continuity_checks", s.continuity_checks),
        kv("identity_splits", s.identity_splits),
    ];
    if open >= cap {
        (
            DiagnosticStatus::WARN,
            format!(
                "{open} tracks open, the tracking.max_tracks cap: further faces get no track ({} so far)",
                s.untracked_faces
            ),
            values,
        )
    } else {
        (DiagnosticStatus::OK, "processing".to_owned(), values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracker_counters_and_the_cap_show_in_diagnostics() {
        use crate::detect::{BBox, Detection, Point};
        use crate::track::{Observation, TrackerConfig};
        let mut t = Tracker::new(TrackerConfig {
            max_tracks: 2,
            ..TrackerConfig::default()
        });
        let face = |x: f32| Observation {
            detection: Detection {
                bbox: BBox {
                    x,
                    y: 10.0,
                    width: 40.0,
                    height: 50.0,
                },
                score: 0.9,
                landmarks: [Point { x: x + 20.0, y: 30.0 }; 5],
            },
            embedding: None,
        };
        let g = crate::gallery::Gallery::in_memory();
        t.update(0, vec![face(0.0)], &g);
        let (level, _, values) = tracker_values(&t);
        assert_eq!(level, DiagnosticStatus::OK);
        let get = |values: &[KeyValue], k: &str| values.iter().find(|v| v.key == k).map(|v| v.value.clone());
        assert_eq!(get(&values, "tracks_open").as_deref(), Some("1"));
        t.update(1_000_000, vec![face(0.0), face(100.0), face(200.0)], &g);
        let (level, message, values) = tracker_values(&t);
        assert_eq!(level, DiagnosticStatus::WARN, "{message}");
        assert!(message.contains("max_tracks"), "{message}");
        assert_eq!(get(&values, "untracked_faces").as_deref(), Some("1"));
        assert_eq!(get(&values, "capped_frames").as_deref(), Some("1"));
    }

    fn value<'a>(s: &'a DiagnosticStatus, key: &str) -> &'a str {
        s.values.iter().find(|v| v.key == key).map_or("", |v| v.value.as_str())
    }

    #[test]
    fn counters_and_windows() {
        let s = Stats::new(&["/a".to_owned(), "/b".to_owned()]);
        s.received(0, false);
        s.received(0, true);
        s.received(0, false);
        s.processed(0, 2, Duration::from_millis(30), Duration::from_millis(20));
        s.processed(0, 1, Duration::from_millis(50), Duration::from_millis(40));
        s.malformed(0, "bad step");
        s.malformed(0, "bad step again");
        s.received(7, false); // unknown camera: ignored
        assert_eq!(s.totals(0), Some((3, 2, 1, 2)));

        let st = s.statuses(Duration::from_secs(2), "/facerec");
        assert_eq!(st.len(), 2);
        let a = &st[0];
        assert_eq!(a.level, DiagnosticStatus::OK);
        assert_eq!(a.name, "/facerec: camera /a");
        assert_eq!(value(a, "received_hz"), "1.50");
        assert_eq!(value(a, "processed_hz"), "1.00");
        assert_eq!(value(a, "latency_ms_mean"), "40.0");
        assert_eq!(value(a, "latency_ms_max"), "50.0");
        assert_eq!(value(a, "pipeline_ms_mean"), "30.0");
        assert_eq!(value(a, "dropped"), "1");
        assert_eq!(value(a, "malformed"), "2");
        assert_eq!(value(a, "faces_last_frame"), "1");
        assert_eq!(value(a, "last_error"), "bad step again");
        assert_eq!(st[1].level, DiagnosticStatus::STALE);

        // The next window starts empty; totals stay.
        let st = s.statuses(Duration::from_secs(1), "/facerec");
        assert_eq!(st[0].level, DiagnosticStatus::WARN);
        assert_eq!(value(&st[0], "received_hz"), "0.00");
        assert_eq!(value(&st[0], "received"), "3");
    }

    #[test]
    fn lost_frames_are_counted_and_warned_about() {
        let s = Stats::new(&["/a".to_owned()]);
        s.received(0, false);
        s.lost(0, 3);
        s.lost(0, 0);
        let st = s.statuses(Duration::from_secs(1), "/n");
        assert_eq!(st[0].level, DiagnosticStatus::WARN);
        assert!(st[0].message.contains("3 frame(s) lost"), "{}", st[0].message);
        assert_eq!(value(&st[0], "lost"), "3");
        assert_eq!(value(&st[0], "lost_hz"), "3.00");
        s.received(0, false);
        let st = s.statuses(Duration::from_secs(1), "/n");
        assert_eq!(st[0].level, DiagnosticStatus::OK);
        assert_eq!(value(&st[0], "lost"), "3");
    }

    #[test]
    fn only_malformed_input_is_an_error() {
        let s = Stats::new(&["/a".to_owned()]);
        s.received(0, false);
        s.malformed(0, "unsupported image encoding 'yuv422'");
        let st = s.statuses(Duration::from_secs(1), "/n");
        assert_eq!(st[0].level, DiagnosticStatus::ERROR);
        assert!(st[0].message.contains("yuv422"));
    }
}
