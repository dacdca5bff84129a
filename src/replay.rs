//! Bag replay for regression tests: every image message of a rosbag2 bag, in bag order, through
//! the same face pipeline the node uses, into one deterministic [`ReplayRecord`] per message;
//! and the comparison of a replay with a golden one under tolerances ([`compare`]).
//!
//! This module holds the records, their JSON lines and the golden comparison: plain data, no
//! bag reading, so `eval` (which scores replays over time, `eval::sequence`) needs only this.
//! The replay itself (`Replayer`, in `replay/replayer.rs`) comes with the `bag` feature.
//!
//! ROS-free: reads bags with `crate::bag`, never a ROS installation. Touches no files itself:
//! the caller reads the bag (an iterator of messages) and writes or reads JSON lines.
//!
//! Tracking (on by default, `Replayer::without_tracking` for the per-frame baseline): one
//! `Tracker` per topic, fed the header stamps, through `Pipeline::track`, the path the node
//! uses; faces then carry their `track_id` and `name` / `score` are the track's identity.
//!
//! Determinism: floats in records are rounded (pixels to 2 decimals, scores to 4) so that the
//! same bag replayed twice gives byte-identical JSON.

#[cfg(feature = "bag")]
mod replayer;

use serde::{Deserialize, Serialize};

use crate::detect::BBox;
use crate::gallery::GalleryError;
use crate::pipeline::PipelineError;
#[cfg(feature = "bag")]
pub use replayer::{EnrollSpec, NameTrackSpec, ReplaySummary, Replayer};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("--enroll wants NAME:TOPIC:N (e.g. alice:/camera/image_raw:2), got '{0}'")]
    EnrollSpec(String),
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    #[error("golden file line {line}: {reason}")]
    GoldenParse { line: usize, reason: String },
    #[error("--name-track wants NAME:TOPIC:FRAME (e.g. ada:/camera/image_raw:40, FRAME counted from 0 on that topic), got '{0}'")]
    NameTrackSpec(String),
}

/// One face of a replayed frame, rounded. Box and landmarks are in frame pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayFace {
    /// The track's name with tracking on, else the frame's own.
    pub name: String,
    /// Cosine similarity behind `name`: the track's identity score with tracking on, else the
    /// frame's best gallery match (0 with an empty gallery).
    pub score: f64,
    /// The face's track (tracking on; absent when the tracker's cap was reached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_id: Option<u64>,
    /// Whether the track is confirmed (tracking on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed: Option<bool>,
    /// With tracking on, this frame's own best-match score when the face was embedded in this
    /// frame (absent when the tracker skipped embedding it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_score: Option<f64>,
    /// `name` is an anonymous person's id (`person_3f9a`: a stranger), not a given name
    /// (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymous: bool,
    /// Detector confidence.
    pub det_score: f64,
    /// `[x, y, width, height]` in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
    /// Eyes, nose, mouth corners: `[x, y]` in frame pixels.
    pub landmarks: [[f64; 2]; 5],
}

impl ReplayFace {
    fn frame_box(&self) -> BBox {
        let [x, y, width, height] = self.bbox;
        BBox {
            x: x as f32,
            y: y as f32,
            width: width as f32,
            height: height as f32,
        }
    }
}

/// One image message of the bag and what the pipeline found in it; or why it could not be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayRecord {
    /// Log time in the bag (ns since the epoch); absent only for a damaged-file error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bag_time_ns: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_id: Option<String>,
    /// `header.stamp` in ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp_ns: Option<i64>,
    #[serde(default)]
    pub faces: Vec<ReplayFace>,
    /// Set when the message could not be decoded or processed; replay goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ReplayRecord {
    /// The record as one JSON line (no newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise: {e}\"}}"))
    }

    pub(crate) fn describe(&self) -> String {
        format!(
            "{} at bag time {}",
            self.topic.as_deref().unwrap_or("?"),
            self.bag_time_ns.map_or_else(|| "?".to_owned(), |t| t.to_string())
        )
    }
}

/// Parses replay JSON lines (a golden file); blank lines are skipped.
pub fn parse_records(text: &str) -> Result<Vec<ReplayRecord>, ReplayError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| ReplayError::GoldenParse {
                line: i + 1,
                reason: e.to_string(),
            })
        })
        .collect()
}

/// How far a replay may drift from its golden file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// Smallest box IoU for a face to count as the same face.
    pub iou: f32,
    /// Largest change of a face's gallery score.
    pub score: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Self { iou: 0.9, score: 0.02 }
    }
}

/// Compares a replay with its golden records frame by frame. Returns one readable line per
/// difference (empty when they agree): frame count and order, errors, per frame the number of
/// faces, and each golden face matched to the current face of highest IoU (at least
/// `tol.iou`) with the same name and a score within `tol.score`.
pub fn compare(golden: &[ReplayRecord], current: &[ReplayRecord], tol: Tolerance) -> Vec<String> {
    let mut diffs = Vec::new();
    if golden.len() != current.len() {
        diffs.push(format!(
            "golden has {} frames, this replay {}",
            golden.len(),
            current.len()
        ));
    }
    for (i, (g, c)) in golden.iter().zip(current).enumerate() {
        let at = format!("frame {i} ({})", g.describe());
        if g.bag_time_ns != c.bag_time_ns || g.topic != c.topic {
            diffs.push(format!("{at}: this replay has {} here instead", c.describe()));
            continue;
        }
        match (&g.error, &c.error) {
            (None, Some(e)) => diffs.push(format!("{at}: now fails: {e}")),
            (Some(e), None) => diffs.push(format!("{at}: golden failed ({e}), now succeeds")),
            _ => {}
        }
        if g.faces.len() != c.faces.len() {
            diffs.push(format!(
                "{at}: {} face(s) in golden [{}], {} now [{}]",
                g.faces.len(),
                face_list(&g.faces),
                c.faces.len(),
                face_list(&c.faces)
            ));
            continue;
        }
        let mut used = vec![false; c.faces.len()];
        for (j, gf) in g.faces.iter().enumerate() {
            let gb = gf.frame_box();
            let best = c
                .faces
                .iter()
                .enumerate()
                .filter(|(k, _)| !used.get(*k).copied().unwrap_or(true))
                .map(|(k, cf)| (k, gb.iou(&cf.frame_box()), cf))
                .max_by(|a, b| a.1.total_cmp(&b.1));
            let Some((k, iou, cf)) = best.filter(|(_, iou, _)| *iou >= tol.iou) else {
                diffs.push(format!(
                    "{at}: golden face {j} ({} at {:?}) has no face with box IoU >= {} now (best {:.3})",
                    gf.name,
                    gf.bbox,
                    tol.iou,
                    best.map_or(0.0, |b| b.1)
                ));
                continue;
            };
            if let Some(u) = used.get_mut(k) {
                *u = true;
            }
            if let (Some(gt), Some(ct)) = (gf.track_id, cf.track_id) {
                if gt != ct {
                    diffs.push(format!("{at}: face at {:?}: track {gt} in golden, {ct} now", gf.bbox));
                }
            } else if gf.track_id.is_some() != cf.track_id.is_some() {
                diffs.push(format!(
                    "{at}: face at {:?}: track {:?} in golden, {:?} now (tracking on in one, off in the other?)",
                    gf.bbox, gf.track_id, cf.track_id
                ));
            }
            if gf.name != cf.name {
                diffs.push(format!(
                    "{at}: face at {:?}: name {} (score {}) in golden, {} (score {}) now",
                    gf.bbox, gf.name, gf.score, cf.name, cf.score
                ));
            } else if (gf.score - cf.score).abs() > tol.score {
                diffs.push(format!(
                    "{at}: face {} at {:?}: score {} in golden, {} now (tolerance {})",
                    gf.name, gf.bbox, gf.score, cf.score, tol.score
                ));
            }
            if let (Some(gs), Some(cs)) = (gf.frame_score, cf.frame_score) {
                if (gs - cs).abs() > tol.score {
                    diffs.push(format!(
                        "{at}: face {} at {:?}: frame score {gs} in golden, {cs} now (tolerance {})",
                        gf.name, gf.bbox, tol.score
                    ));
                }
            }
            let _ = iou;
        }
    }
    diffs
}

fn face_list(faces: &[ReplayFace]) -> String {
    faces
        .iter()
        .map(|f| format!("{} {:?}", f.name, f.bbox))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(name: &str, x: f64, score: f64) -> ReplayFace {
        ReplayFace {
            name: name.into(),
            score,
            track_id: None,
            confirmed: None,
            frame_score: None,
            anonymous: false,
            det_score: 0.9,
            bbox: [x, 10.0, 50.0, 60.0],
            landmarks: [[0.0; 2]; 5],
        }
    }

    fn rec(faces: Vec<ReplayFace>) -> ReplayRecord {
        ReplayRecord {
            bag_time_ns: Some(1),
            topic: Some("/cam".into()),
            frame_id: Some("f".into()),
            stamp_ns: Some(0),
            faces,
            error: None,
        }
    }

    #[test]
    fn compare_tolerates_small_drift_and_reports_changes() {
        let golden = vec![rec(vec![face("a", 10.0, 0.6), face("unknown", 200.0, 0.1)])];
        let same = vec![rec(vec![face("unknown", 200.5, 0.11), face("a", 10.4, 0.61)])];
        assert!(compare(&golden, &same, Tolerance::default()).is_empty());
        let renamed = vec![rec(vec![face("b", 10.0, 0.6), face("unknown", 200.0, 0.1)])];
        let d = compare(&golden, &renamed, Tolerance::default());
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].contains("name a") && d[0].contains("b (score"), "{d:?}");
        let moved = vec![rec(vec![face("a", 30.0, 0.6), face("unknown", 200.0, 0.1)])];
        assert_eq!(compare(&golden, &moved, Tolerance::default()).len(), 1);
        let rescored = vec![rec(vec![face("a", 10.0, 0.7), face("unknown", 200.0, 0.1)])];
        assert_eq!(compare(&golden, &rescored, Tolerance::default()).len(), 1);
        assert_eq!(compare(&golden, &[], Tolerance::default()).len(), 1);
        let fewer = vec![rec(vec![face("a", 10.0, 0.6)])];
        assert_eq!(compare(&golden, &fewer, Tolerance::default()).len(), 1);
    }

    #[test]
    fn records_round_trip_through_json() {
        let r = rec(vec![face("a", 10.25, 0.6123)]);
        let line = r.to_json_line();
        assert_eq!(parse_records(&line).expect("parses"), vec![r]);
    }
}
