//! The replay itself (feature `bag`): every image message of a bag through the pipeline, per
//! topic one [`Tracker`] and over them one [`People`], into [`ReplayRecord`]s; enrolment from
//! frames (`--enroll`) and by track (`--name-track`) in memory. Reads the messages it is given,
//! touches no files.

use std::collections::BTreeMap;

use super::{ReplayError, ReplayFace, ReplayRecord};
use crate::bag::{BagError, BagImage};
use crate::detect::Detection;
use crate::enroll::EnrollPolicy;
use crate::gallery::Gallery;
use crate::people::{People, PeopleConfig};
use crate::pipeline::Pipeline;
use crate::track::{TrackedFace, Tracker, TrackerConfig, TrackerStats};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
