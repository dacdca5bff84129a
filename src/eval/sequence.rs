//! Sequence metrics: how a replay (tracking on or off) names people over time, against labels
//! saying who each face is. Per topic (one camera, one sequence) and per labelled person: id
//! switches, name flips, frames until the first correct name, wrong-name and unnamed frames, and
//! whether a person who left and came back got their track id back.
//!
//! Reads only [`ReplayRecord`]s and [`SequenceLabels`]; runs no model, so goldens can be scored
//! without replaying. A face's label comes from the first labelled region (time span and box
//! centre in frame pixels) that holds it; faces in no region are `default` (normally a stranger,
//! for whom any gallery name is wrong); the label `?` leaves a face out of the counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::replay::ReplayRecord;

/// Label of a face that must not be named (anybody not in the gallery). `stranger:<who>`
/// labels one stranger in particular (counted on their own, e.g. for their anonymous ids).
pub const STRANGER: &str = "stranger";
/// Label of a face left out of the metrics (too unclear to say).
pub const IGNORE: &str = "?";

/// Who is where, per topic: a list of regions in time and frame pixels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceLabels {
    /// What the labels describe and how they were made.
    #[serde(default)]
    pub note: String,
    /// Label of a face that is in no region.
    #[serde(default = "stranger")]
    pub default: String,
    /// A new presence run of a person starts after a gap longer than this (ns).
    #[serde(default = "default_gap_ns")]
    pub gap_ns: i64,
    pub regions: Vec<LabelRegion>,
}

fn stranger() -> String {
    STRANGER.to_owned()
}

fn default_gap_ns() -> i64 {
    1_000_000_000
}

/// Faces of `topic` with a stamp in `[from_stamp_ns, to_stamp_ns]` whose box centre lies in
/// `centre_in_frame` (`[x0, y0, x1, y1]`, frame pixels) are `identity`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelRegion {
    pub topic: String,
    pub from_stamp_ns: i64,
    pub to_stamp_ns: i64,
    pub centre_in_frame: [f64; 4],
    pub identity: String,
}

impl SequenceLabels {
    /// The label of a face of `topic` at `stamp_ns` with box `[x, y, w, h]`.
    pub fn label(&self, topic: &str, stamp_ns: i64, bbox: &[f64; 4]) -> &str {
        let (cx, cy) = (bbox[0] + bbox[2] / 2.0, bbox[1] + bbox[3] / 2.0);
        self.regions
            .iter()
            .find(|r| {
                r.topic == topic
                    && (r.from_stamp_ns..=r.to_stamp_ns).contains(&stamp_ns)
                    && (r.centre_in_frame[0]..=r.centre_in_frame[2]).contains(&cx)
                    && (r.centre_in_frame[1]..=r.centre_in_frame[3]).contains(&cy)
            })
            .map_or(self.default.as_str(), |r| r.identity.as_str())
    }
}

/// Metrics of one labelled person on one topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PersonMetrics {
    /// Frames in which the person's face was detected (at most one face per frame counted).
    pub frames: usize,
    /// Presence runs (separated by gaps longer than `gap_ns`).
    pub runs: usize,
    /// Changes of track id between consecutive detections of the person.
    pub id_switches: usize,
    /// Distinct track ids the person had.
    pub track_ids: usize,
    /// Changes of the output name between consecutive detections of the person.
    pub name_flips: usize,
    /// Per run, frames before the first correct name (a run never named correctly counts all
    /// its frames); summed over runs. Strangers: 0.
    pub frames_to_first_correct: usize,
    /// Runs never named correctly (known people only).
    pub runs_never_named: usize,
    /// Frames with another gallery person's name (any name, for a stranger).
    pub wrong_name_frames: usize,
    /// Frames of a known person named `unknown`.
    pub unnamed_frames: usize,
    /// Returns (a run after the first) that got the track id the person had before.
    pub returns_same_id: usize,
    pub returns: usize,
    /// Frames named with an anonymous id (`person_3f9a`): right for a stranger, wrong (and
    /// counted in `wrong_name_frames`) for a known person.
    pub anonymous_frames: usize,
    /// Distinct anonymous ids the person was given (a stranger seen again should keep one).
    pub anonymous_ids: usize,
}

/// Metrics of one topic.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SequenceMetrics {
    pub frames: usize,
    pub faces: usize,
    /// Faces labelled `?`, not counted.
    pub ignored_faces: usize,
    /// Faces that had a track id.
    pub tracked_faces: usize,
    pub people: BTreeMap<String, PersonMetrics>,
    /// Name changes between consecutive faces of the same track, summed over tracks.
    pub name_flips_per_track: usize,
    pub tracks: usize,
}

impl SequenceMetrics {
    /// Totals over all people.
    pub fn total(&self) -> PersonMetrics {
        let mut t = PersonMetrics::default();
        for p in self.people.values() {
            t.frames += p.frames;
            t.runs += p.runs;
            t.id_switches += p.id_switches;
            t.track_ids += p.track_ids;
            t.name_flips += p.name_flips;
            t.frames_to_first_correct += p.frames_to_first_correct;
            t.runs_never_named += p.runs_never_named;
            t.wrong_name_frames += p.wrong_name_frames;
            t.unnamed_frames += p.unnamed_frames;
            t.returns_same_id += p.returns_same_id;
            t.returns += p.returns;
            t.anonymous_frames += p.anonymous_frames;
            t.anonymous_ids += p.anonymous_ids;
        }
        t
    }
}

#[derive(Default)]
struct PersonState {
    last_stamp_ns: Option<i64>,
    last_track: Option<u64>,
    last_name: Option<String>,
    tracks: Vec<u64>,
    /// Tracks of the earlier runs.
    earlier_tracks: Vec<u64>,
    run_named: bool,
    run_frames_before: usize,
    anonymous_ids: Vec<String>,
}

fn stranger_label(who: &str, default: &str) -> bool {
    who == default || who == STRANGER || who.starts_with("stranger:")
}

/// Scores `records` (one replay, in bag order) against `labels`, per topic.
pub fn evaluate(records: &[ReplayRecord], labels: &SequenceLabels) -> BTreeMap<String, SequenceMetrics> {
    let mut out: BTreeMap<String, SequenceMetrics> = BTreeMap::new();
    let mut states: BTreeMap<(String, String), PersonState> = BTreeMap::new();
    let mut track_names: BTreeMap<(String, u64), String> = BTreeMap::new();
    for r in records {
        let (Some(topic), Some(stamp_ns)) = (&r.topic, r.stamp_ns) else {
            continue;
        };
        let m = out.entry(topic.clone()).or_default();
        m.frames += 1;
        let mut seen_this_frame: Vec<String> = Vec::new();
        for f in &r.faces {
            m.faces += 1;
            if let Some(id) = f.track_id {
                m.tracked_faces += 1;
                let key = (topic.clone(), id);
                match track_names.get(&key) {
                    Some(prev) if *prev != f.name => m.name_flips_per_track += 1,
                    Some(_) => {}
                    None => m.tracks += 1,
                }
                track_names.insert(key, f.name.clone());
            }
            let who = labels.label(topic, stamp_ns, &f.bbox).to_owned();
            if who == IGNORE {
                m.ignored_faces += 1;
                continue;
            }
            // A person is one face per frame: a second face with the same label is a stranger's
            // region overlap or a label mistake, counted as its own person `who#2`.
            let who = if seen_this_frame.contains(&who) && who != labels.default {
                format!("{who}#2")
            } else {
                who
            };
            seen_this_frame.push(who.clone());
            let is_stranger = stranger_label(&who, &labels.default);
            let p = m.people.entry(who.clone()).or_default();
            let s = states.entry((topic.clone(), who.clone())).or_default();
            let new_run = s
                .last_stamp_ns
                .is_none_or(|t| stamp_ns.saturating_sub(t) > labels.gap_ns);
            if new_run {
                if s.last_stamp_ns.is_some() {
                    p.returns += 1;
                    if f.track_id
                        .is_some_and(|id| s.tracks.contains(&id) || s.earlier_tracks.contains(&id))
                    {
                        p.returns_same_id += 1;
                    }
                    if !is_stranger && !s.run_named {
                        p.runs_never_named += 1;
                        p.frames_to_first_correct += s.run_frames_before;
                    }
                }
                p.runs += 1;
                s.earlier_tracks.append(&mut s.tracks);
                s.run_named = false;
                s.run_frames_before = 0;
            } else {
                if s.last_track != f.track_id {
                    p.id_switches += 1;
                }
                if s.last_name.as_deref() != Some(f.name.as_str()) {
                    p.name_flips += 1;
                }
            }
            if let Some(id) = f.track_id {
                if !s.tracks.contains(&id) && !s.earlier_tracks.contains(&id) {
                    p.track_ids += 1;
                }
                if !s.tracks.contains(&id) {
                    s.tracks.push(id);
                }
            }
            p.frames += 1;
            let unnamed = f.name == crate::UNKNOWN;
            let anonymous = f.anonymous || crate::gallery::is_anonymous_id(&f.name);
            if anonymous {
                p.anonymous_frames += 1;
                if !s.anonymous_ids.contains(&f.name) {
                    s.anonymous_ids.push(f.name.clone());
                    p.anonymous_ids += 1;
                }
            }
            if is_stranger {
                if !unnamed && !anonymous {
                    p.wrong_name_frames += 1;
                }
            } else if unnamed {
                p.unnamed_frames += 1;
            } else if f.name != who.trim_end_matches("#2") {
                p.wrong_name_frames += 1;
            }
            if !is_stranger && !s.run_named {
                if f.name == who {
                    s.run_named = true;
                    p.frames_to_first_correct += s.run_frames_before;
                } else {
                    s.run_frames_before += 1;
                }
            }
            s.last_stamp_ns = Some(stamp_ns);
            s.last_track = f.track_id;
            s.last_name = Some(f.name.clone());
        }
    }
    // Runs still open at the end that were never named.
    for ((topic, who), s) in &states {
        let is_stranger = stranger_label(who, &labels.default);
        if is_stranger || s.run_named || s.last_stamp_ns.is_none() {
            continue;
        }
        if let Some(p) = out.get_mut(topic).and_then(|m| m.people.get_mut(who)) {
            p.runs_never_named += 1;
            p.frames_to_first_correct += s.run_frames_before;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::ReplayFace;

    fn face(name: &str, x: f64, track: Option<u64>) -> ReplayFace {
        ReplayFace {
            name: name.into(),
            score: 0.5,
            track_id: track,
            confirmed: None,
            frame_score: None,
            anonymous: false,
            det_score: 0.9,
            bbox: [x, 10.0, 40.0, 40.0],
            landmarks: [[0.0; 2]; 5],
        }
    }

    fn rec(stamp_ns: i64, faces: Vec<ReplayFace>) -> ReplayRecord {
        ReplayRecord {
            bag_time_ns: Some(stamp_ns as u64),
            topic: Some("/cam".into()),
            frame_id: None,
            stamp_ns: Some(stamp_ns),
            faces,
            error: None,
        }
    }

    fn labels() -> SequenceLabels {
        SequenceLabels {
            note: String::new(),
            default: STRANGER.into(),
            gap_ns: 500,
            regions: vec![
                LabelRegion {
                    topic: "/cam".into(),
                    from_stamp_ns: 0,
                    to_stamp_ns: 10_000,
                    centre_in_frame: [0.0, 0.0, 100.0, 100.0],
                    identity: "ada".into(),
                },
                LabelRegion {
                    topic: "/cam".into(),
                    from_stamp_ns: 0,
                    to_stamp_ns: 10_000,
                    centre_in_frame: [400.0, 0.0, 500.0, 100.0],
                    identity: IGNORE.into(),
                },
            ],
        }
    }

    #[test]
    fn counts_switches_flips_delays_and_returns() {
        let records = vec![
            rec(0, vec![face("unknown", 10.0, Some(1)), face("unknown", 200.0, Some(2))]),
            rec(100, vec![face("ada", 12.0, Some(1)), face("bob", 200.0, Some(2))]),
            rec(200, vec![face("ada", 14.0, Some(3)), face("unknown", 420.0, None)]),
            rec(300, vec![face("bob", 16.0, Some(3))]),
            // Ada gone for 2 s, then back with her first track id.
            rec(2_300, vec![face("ada", 10.0, Some(1))]),
        ];
        let m = evaluate(&records, &labels());
        let cam = &m["/cam"];
        assert_eq!(cam.frames, 5);
        assert_eq!(cam.ignored_faces, 1);
        let ada = &cam.people["ada"];
        assert_eq!(ada.frames, 5);
        assert_eq!(ada.runs, 2);
        assert_eq!(ada.id_switches, 1);
        assert_eq!(ada.track_ids, 2);
        assert_eq!(ada.name_flips, 2);
        assert_eq!(ada.frames_to_first_correct, 1);
        assert_eq!(ada.wrong_name_frames, 1);
        assert_eq!(ada.unnamed_frames, 1);
        assert_eq!((ada.returns, ada.returns_same_id), (1, 1));
        let stranger = &cam.people[STRANGER];
        assert_eq!(stranger.wrong_name_frames, 1);
        assert_eq!(cam.name_flips_per_track, 3);
        assert_eq!(cam.tracks, 3);
    }

    #[test]
    fn anonymous_ids_are_right_for_strangers_and_wrong_for_known_people() {
        let anon = |x: f64| ReplayFace {
            anonymous: true,
            ..face("person_3f9a", x, Some(7))
        };
        let records = vec![
            rec(0, vec![anon(10.0), anon(200.0)]),
            rec(100, vec![anon(12.0), face("person_beef", 200.0, Some(8))]),
        ];
        let m = evaluate(&records, &labels());
        let ada = &m["/cam"].people["ada"];
        assert_eq!(
            (ada.anonymous_frames, ada.anonymous_ids, ada.wrong_name_frames),
            (2, 1, 2)
        );
        let stranger = &m["/cam"].people[STRANGER];
        assert_eq!((stranger.anonymous_frames, stranger.anonymous_ids), (2, 2));
        assert_eq!(stranger.wrong_name_frames, 0);
    }

    #[test]
    fn a_person_never_named_counts_all_frames() {
        let records = vec![
            rec(0, vec![face("unknown", 10.0, None)]),
            rec(100, vec![face("unknown", 10.0, None)]),
        ];
        let m = evaluate(&records, &labels());
        let ada = &m["/cam"].people["ada"];
        assert_eq!((ada.runs_never_named, ada.frames_to_first_correct), (1, 2));
        assert_eq!(ada.id_switches, 0, "no ids, no switches");
    }
}
