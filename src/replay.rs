//! Bag replay for regression tests: every image message of a rosbag2 bag, in bag order, through
//! the same face pipeline the node uses, into one deterministic [`ReplayRecord`] per message;
//! and the comparison of a replay with a golden one under tolerances ([`compare`]).
//!
//! ROS-free: reads bags with [`crate::bag`], never a ROS installation. Touches no files itself:
//! the caller reads the bag (an iterator of messages) and writes or reads JSON lines.
//!
//! Tracking (on by default, [`Replayer::without_tracking`] for the per-frame baseline): one
//! [`Tracker`] per topic, fed the header stamps, through [`Pipeline::track`], the path the node
//! uses; faces then carry their `track_id` and `name` / `score` are the track's identity.
//!
//! Determinism: floats in records are rounded (pixels to 2 decimals, scores to 4) so that the
//! same bag replayed twice gives byte-identical JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bag::{BagError, BagImage};
use crate::detect::{BBox, Detection};
use crate::enroll::EnrollPolicy;
use crate::gallery::{Gallery, GalleryError};
use crate::people::{People, PeopleConfig};
use crate::pipeline::{Pipeline, PipelineError};
use crate::track::{TrackedFace, Tracker, TrackerConfig, TrackerStats};

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

/// After frame `frame` (0-based, per topic) of `topic`, name the track of its dominant face
/// `name` (enrolment by track: "the person you are looking at is Ada").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTrackSpec {
    pub name: String,
    pub topic: String,
    pub frame: usize,
}

impl std::str::FromStr for NameTrackSpec {
    type Err = ReplayError;

    /// Parses `NAME:TOPIC:FRAME` (topic names hold no `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ReplayError::NameTrackSpec(s.to_owned());
        let (name, rest) = s.split_once(':').ok_or_else(bad)?;
        let (topic, n) = rest.rsplit_once(':').ok_or_else(bad)?;
        let frame: usize = n.parse().map_err(|_| bad())?;
        if name.is_empty() || topic.is_empty() {
            return Err(bad());
        }
        crate::gallery::validate_new_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            topic: topic.to_owned(),
            frame,
        })
    }
}

/// Enrol the dominant face of the first `frames` messages of `topic` under `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollSpec {
    pub name: String,
    pub topic: String,
    pub frames: usize,
}

impl std::str::FromStr for EnrollSpec {
    type Err = ReplayError;

    /// Parses `NAME:TOPIC:N` (topic names hold no `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ReplayError::EnrollSpec(s.to_owned());
        let (name, rest) = s.split_once(':').ok_or_else(bad)?;
        let (topic, n) = rest.rsplit_once(':').ok_or_else(bad)?;
        let frames: usize = n.parse().map_err(|_| bad())?;
        if name.is_empty() || topic.is_empty() || frames == 0 {
            return Err(bad());
        }
        crate::gallery::validate_name(name)?;
        Ok(Self {
            name: name.to_owned(),
            topic: topic.to_owned(),
            frames,
        })
    }
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

    fn describe(&self) -> String {
        format!(
            "{} at bag time {}",
            self.topic.as_deref().unwrap_or("?"),
            self.bag_time_ns.map_or_else(|| "?".to_owned(), |t| t.to_string())
        )
    }
}

fn px(v: f32) -> f64 {
    (f64::from(v) * 100.0).round() / 100.0
}

fn sc(v: f32) -> f64 {
    (f64::from(v) * 10_000.0).round() / 10_000.0
}

fn face_record(name: String, score: f32, d: &Detection) -> ReplayFace {
    let b = d.bbox;
    ReplayFace {
        name,
        score: sc(score),
        track_id: None,
        confirmed: None,
        frame_score: None,
        anonymous: false,
        det_score: sc(d.score),
        bbox: [px(b.x), px(b.y), px(b.width), px(b.height)],
        landmarks: d.landmarks.map(|p| [px(p.x), px(p.y)]),
    }
}

fn tracked_record(f: &TrackedFace) -> ReplayFace {
    ReplayFace {
        track_id: f.track_id,
        confirmed: Some(f.confirmed),
        frame_score: f.frame_score.map(sc),
        anonymous: f.anonymous,
        ..face_record(f.name.clone(), f.identity_score, &f.detection)
    }
}

/// Counts for the end-of-replay summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplaySummary {
    /// Records written (image messages and errors).
    pub frames: usize,
    pub faces: usize,
    pub errors: usize,
    /// Faces per name given (including `unknown`).
    pub names: BTreeMap<String, usize>,
    /// Embeddings enrolled per `--enroll` name.
    pub enrolled: BTreeMap<String, usize>,
    /// Faces embedded (with tracking on, fewer than `faces`).
    pub embedded: usize,
    /// Anonymous people made (ids, in order), with tracking and an anonymous mode.
    pub anonymous: Vec<String>,
    /// Anonymous people expired.
    pub expired: Vec<String>,
    /// Samples learned per person (careful learning).
    pub learned: BTreeMap<String, usize>,
    /// Per `--name-track` name, the track it named (None: refused, see the warnings).
    pub named_tracks: BTreeMap<String, Option<u64>>,
}

/// Replays messages one at a time: names faces against the gallery, enrolling as asked.
pub struct Replayer<'p> {
    pipeline: &'p mut Pipeline,
    gallery: Gallery,
    enroll: Vec<EnrollSpec>,
    policy: EnrollPolicy,
    seen_per_topic: BTreeMap<String, usize>,
    /// `None`: the per-frame baseline.
    tracking: Option<TrackerConfig>,
    trackers: BTreeMap<String, Tracker>,
    /// Tracking, but every face embedded on every frame (the reference for embedding cadence).
    embed_every_frame: bool,
    /// Strangers and learning (with tracking).
    people: People,
    name_tracks: Vec<NameTrackSpec>,
    summary: ReplaySummary,
    /// Warnings since the last [`Replayer::take_warnings`] (enrolment refusals, bad messages).
    warnings: Vec<String>,
}

impl<'p> Replayer<'p> {
    /// A replayer naming faces with `gallery` (bound here to the pipeline's model) and
    /// enrolling per `enroll` into it (in memory only).
    pub fn new(pipeline: &'p mut Pipeline, mut gallery: Gallery, enroll: Vec<EnrollSpec>) -> Result<Self, ReplayError> {
        gallery.bind_model(pipeline.model_tag())?;
        let threshold = pipeline.threshold();
        let mut summary = ReplaySummary::default();
        for spec in &enroll {
            summary.enrolled.insert(spec.name.clone(), 0);
        }
        Ok(Self {
            pipeline,
            gallery,
            enroll,
            policy: EnrollPolicy::default(),
            seen_per_topic: BTreeMap::new(),
            tracking: Some(TrackerConfig {
                match_threshold: threshold,
                ..TrackerConfig::default()
            }),
            trackers: BTreeMap::new(),
            embed_every_frame: false,
            people: People::default(),
            name_tracks: Vec::new(),
            summary,
            warnings: Vec::new(),
        })
    }

    /// Names every frame on its own (the per-frame baseline), without trackers.
    pub fn without_tracking(mut self) -> Self {
        self.tracking = None;
        self.trackers.clear();
        self
    }

    /// Tracks with this configuration (one tracker per topic).
    pub fn with_tracking(mut self, config: TrackerConfig) -> Self {
        self.tracking = Some(config);
        self.trackers.clear();
        self
    }

    /// With tracking, embeds every face of every frame instead of only those the tracker asks
    /// for: what embedding cadence saves is measured against this.
    pub fn embed_every_frame(mut self, yes: bool) -> Self {
        self.embed_every_frame = yes;
        self
    }

    /// With tracking: anonymous ids for strangers and careful learning per `config` (the
    /// gallery stays in memory).
    pub fn with_people(mut self, config: PeopleConfig) -> Self {
        self.people = People::new(config);
        self.people.attach(&mut self.gallery);
        self
    }

    /// With tracking: names tracks as the specs say (enrolment by track).
    pub fn name_tracks(mut self, specs: Vec<NameTrackSpec>) -> Self {
        for spec in &specs {
            self.summary.named_tracks.insert(spec.name.clone(), None);
        }
        self.name_tracks = specs;
        self
    }

    /// Tracker statistics per topic (empty without tracking).
    pub fn tracker_stats(&self) -> BTreeMap<String, TrackerStats> {
        self.trackers
            .iter()
            .map(|(topic, t)| (topic.clone(), t.stats().clone()))
            .collect()
    }

    pub fn summary(&self) -> &ReplaySummary {
        &self.summary
    }

    pub fn gallery(&self) -> &Gallery {
        &self.gallery
    }

    /// Warnings produced since the last call.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Processes one item of [`crate::bag::Images`] into its record.
    pub fn process(&mut self, item: Result<BagImage, BagError>) -> ReplayRecord {
        let record = match item {
            Ok(image) => self.process_image(&image),
            Err(err) => {
                let (bag_time_ns, topic) = match &err {
                    BagError::Malformed { topic, log_time_ns, .. } => (Some(*log_time_ns), Some(topic.clone())),
                    _ => (None, None),
                };
                ReplayRecord {
                    bag_time_ns,
                    topic,
                    frame_id: None,
                    stamp_ns: None,
                    faces: Vec::new(),
                    error: Some(crate::error_chain(&err).trim_end().to_owned()),
                }
            }
        };
        self.summary.frames += 1;
        self.summary.faces += record.faces.len();
        for face in &record.faces {
            *self.summary.names.entry(face.name.clone()).or_insert(0) += 1;
        }
        if let Some(error) = &record.error {
            self.summary.errors += 1;
            self.warnings.push(format!("{}: {error}", record.describe()));
        }
        record
    }

    fn process_image(&mut self, image: &BagImage) -> ReplayRecord {
        let mut record = ReplayRecord {
            bag_time_ns: Some(image.log_time_ns),
            topic: Some(image.topic.clone()),
            frame_id: Some(image.frame_id.clone()),
            stamp_ns: Some(image.header_stamp_ns),
            faces: Vec::new(),
            error: None,
        };
        let index = {
            let seen = self.seen_per_topic.entry(image.topic.clone()).or_insert(0);
            let i = *seen;
            *seen += 1;
            i
        };
        let frame = match image.to_frame() {
            Ok(frame) => frame,
            Err(e) => {
                record.error = Some(
                    format!("cannot convert the image: {}", crate::error_chain(&e))
                        .trim_end()
                        .to_owned(),
                );
                return record;
            }
        };
        let names: Vec<String> = self
            .enroll
            .iter()
            .filter(|s| s.topic == image.topic && index < s.frames)
            .map(|s| s.name.clone())
            .collect();
        // Name first, then enrol: an enrolment frame is named with the gallery as it was before it.
        let faces = match &self.tracking {
            Some(config) => {
                let tracker = self
                    .trackers
                    .entry(image.topic.clone())
                    .or_insert_with(|| Tracker::new(config.clone()));
                // Enrolment frames embed every face, so the enrolment policy sees them all.
                match self.pipeline.track(
                    &frame,
                    image.header_stamp_ns,
                    tracker,
                    &self.gallery,
                    self.embed_every_frame || !names.is_empty(),
                ) {
                    Ok(crate::pipeline::Timed { faces: tracked, .. }) => {
                        record.faces = tracked.iter().map(tracked_record).collect();
                        if self.people.pending(tracker, &self.gallery) {
                            match self.people.update(tracker, &mut self.gallery, &image.topic) {
                                Ok(u) => {
                                    for name in u.learned {
                                        *self.summary.learned.entry(name).or_insert(0) += 1;
                                    }
                                    self.summary.anonymous.extend(u.admitted);
                                    self.summary.expired.extend(u.expired);
                                }
                                Err(e) => self.warnings.push(format!(
                                    "{}: people update: {}",
                                    record.describe(),
                                    crate::error_chain(&e)
                                )),
                            }
                        }
                        let wanted: Vec<String> = self
                            .name_tracks
                            .iter()
                            .filter(|s| s.topic == image.topic && s.frame == index)
                            .map(|s| s.name.clone())
                            .collect();
                        for name in wanted {
                            let detections: Vec<Detection> = tracked.iter().map(|f| f.detection.clone()).collect();
                            let chosen = self
                                .policy
                                .choose(&detections)
                                .map(|i| tracked.get(i).and_then(|f| f.track_id));
                            let result = match chosen {
                                Ok(Some(id)) => self
                                    .people
                                    .enroll_track(tracker, &mut self.gallery, id, &name, false)
                                    .map(|done| (id, done))
                                    .map_err(|e| crate::error_chain(&e)),
                                Ok(None) => Err("the dominant face has no track (tracker cap)".to_owned()),
                                Err(refusal) => Err(refusal.to_string()),
                            };
                            match result {
                                Ok((id, done)) => {
                                    self.summary.named_tracks.insert(name, Some(id));
                                    if let Some(anon) = done.was_anonymous {
                                        self.warnings.push(format!(
                                            "{}: named {anon} (track {id}) {}",
                                            record.describe(),
                                            done.name
                                        ));
                                    }
                                }
                                Err(e) => self
                                    .warnings
                                    .push(format!("{}: cannot name a track {name}: {e}", record.describe())),
                            }
                        }
                        tracked
                            .into_iter()
                            .filter_map(|f| {
                                f.embedding.map(|embedding| crate::pipeline::Face {
                                    detection: f.detection,
                                    embedding,
                                })
                            })
                            .collect()
                    }
                    Err(e) => {
                        record.error = Some(format!("pipeline failed: {}", crate::error_chain(&e)));
                        return record;
                    }
                }
            }
            None => match self.pipeline.analyze(&frame) {
                Ok(crate::pipeline::Timed { faces, .. }) => {
                    record.faces = faces
                        .iter()
                        .map(|f| {
                            let id = crate::pipeline::identify(&self.gallery, &f.embedding, self.pipeline.threshold());
                            face_record(id.name, id.score, &f.detection)
                        })
                        .collect();
                    faces
                }
                Err(e) => {
                    record.error = Some(format!("pipeline failed: {}", crate::error_chain(&e)));
                    return record;
                }
            },
        };
        self.summary.embedded += faces.len();
        if names.is_empty() {
            return record;
        }
        let chosen = self.policy.select_face(&frame, &faces);
        for name in names {
            match &chosen {
                Ok(face) => match self.gallery.add(&name, vec![face.embedding.clone()]) {
                    Ok(()) => *self.summary.enrolled.entry(name).or_insert(0) += 1,
                    Err(e) => self.warnings.push(format!(
                        "{}: cannot enrol {name}: {}",
                        record.describe(),
                        crate::error_chain(&e)
                    )),
                },
                Err(refusal) => self.warnings.push(format!(
                    "{}: not enrolling {name} from this frame: {refusal}",
                    record.describe()
                )),
            }
        }
        record
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
    fn enroll_spec_parses_topic_with_slashes() {
        let s: EnrollSpec = "id02:/camera/image_raw:2".parse().expect("parses");
        assert_eq!(
            s,
            EnrollSpec {
                name: "id02".into(),
                topic: "/camera/image_raw".into(),
                frames: 2
            }
        );
        assert!("id02:/camera".parse::<EnrollSpec>().is_err());
        assert!("id02:/camera:x".parse::<EnrollSpec>().is_err());
        assert!(":/camera:2".parse::<EnrollSpec>().is_err());
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
