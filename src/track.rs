//! Faces over time, one [`Tracker`] per camera: associates each frame's faces with tracks (box
//! overlap and embedding similarity, greedy by cost under gates), confirms tentative tracks after
//! a few hits, keeps tracks through short misses, ends them after a configurable time, gives a
//! returning person their old track back by embedding, and accumulates identity evidence per
//! track (a quality-weighted running template matched against the gallery, with hysteresis).
//! It also says which faces of a frame are worth embedding ([`Tracker::needs_embedding`]).
//!
//! Owns: track state, identity evidence, tracker statistics. May touch: `detect` (boxes,
//! landmarks), `gallery` (read-only matching). Knows nothing of ROS, files, models or the wall
//! clock: time is the frame's `stamp_ns`, so a replay is deterministic.
//!
//! Coordinates: boxes and landmarks are in frame pixels; times in nanoseconds of the caller's
//! stamps (`header.stamp` for the node and replay).
//!
//! ```
//! use facerec::detect::{BBox, Detection, Point};
//! use facerec::gallery::Gallery;
//! use facerec::track::{Observation, Tracker, TrackerConfig};
//!
//! let mut gallery = Gallery::in_memory();
//! gallery.add("ada", vec![vec![1.0, 0.0, 0.0]]).unwrap();
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! let face = |x: f32| Detection {
//!     bbox: BBox { x, y: 50.0, width: 80.0, height: 100.0 },
//!     score: 0.9,
//!     landmarks: [
//!         Point { x: x + 25.0, y: 90.0 },
//!         Point { x: x + 55.0, y: 90.0 },
//!         Point { x: x + 40.0, y: 110.0 },
//!         Point { x: x + 28.0, y: 130.0 },
//!         Point { x: x + 52.0, y: 130.0 },
//!     ],
//! };
//! let mut ids = Vec::new();
//! for i in 0..4 {
//!     let stamp_ns = i * 33_000_000;
//!     let detection = face(100.0 + 3.0 * i as f32);
//!     // Embed only the faces the tracker asks for (the pipeline does this in `Pipeline::track`).
//!     let wanted = tracker.needs_embedding(stamp_ns, std::slice::from_ref(&detection));
//!     let embedding = wanted[0].then(|| vec![0.9, 0.1, 0.0]);
//!     let out = tracker.update(stamp_ns, vec![Observation { detection, embedding }], &gallery);
//!     ids.push(out[0].track_id);
//!     assert_eq!(out[0].name, "ada");
//! }
//! assert!(ids.iter().all(|id| *id == ids[0] && id.is_some()));
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::detect::{BBox, Detection};
use crate::embed::Embedding;
use crate::gallery::Gallery;
use crate::pipeline::DEFAULT_MATCH_THRESHOLD;

/// Tracker settings. Times are in nanoseconds of the frame stamps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackerConfig {
    /// Hits (frames with a matched face) before a track is confirmed.
    pub confirm_hits: u32,
    /// A track not seen for longer than this ends (it is remembered for re-identification when
    /// it was confirmed).
    pub max_miss_ns: i64,
    /// An ended confirmed track can be given back to a face that matches it by embedding within
    /// this time after it was last seen.
    pub reid_window_ns: i64,
    /// At most this many live tracks; faces beyond get no track (counted in [`TrackerStats`]).
    pub max_tracks: usize,
    /// At most this many ended tracks remembered for re-identification (the oldest are dropped).
    pub max_departed: usize,
    /// Smallest box IoU (predicted track box vs face box) for a pair that also has embeddings.
    pub iou_gate: f32,
    /// Smallest box IoU for a pair where the face was not embedded this frame.
    pub iou_gate_no_embedding: f32,
    /// Smallest embedding similarity for a pair that overlaps: below it the face is somebody
    /// else, however well the boxes agree (a person walking in front of another).
    pub similarity_gate: f32,
    /// Embedding similarity at which a pair is allowed whatever the boxes (a face that jumped
    /// during a miss).
    pub appearance_match: f32,
    /// Smallest similarity between a new face and an ended track's template to give the track
    /// back (a person who left and returned).
    pub reid_similarity: f32,
    /// Weight of `1 - IoU` in a pair's cost (the rest is `1 - similarity`).
    pub iou_weight: f32,
    /// Cosine similarity with the gallery needed for a name (the pipeline's threshold).
    pub match_threshold: f32,
    /// Lead over the runner-up person needed for a name to appear.
    pub name_margin: f32,
    /// A named track keeps its name while its score stays above `match_threshold - keep_drop`.
    pub keep_drop: f32,
    /// Lead a contrary name needs over the runner-up to take over a named track ...
    pub switch_margin: f32,
    /// ... on this many embedded frames in a row.
    pub switch_updates: u32,
    /// Per embedded frame, older evidence in the template is weighted by this factor.
    pub template_decay: f32,
    /// A confidently identified track is re-embedded every this many frames ...
    pub reembed_every: u32,
    /// ... or when a face's quality (landmarks: size and frontality) is this many times the best
    /// quality the track holds.
    pub better_quality_ratio: f32,
    /// A stamp this far behind the last one is taken as a new recording: the tracker restarts.
    pub backwards_reset_ns: i64,
    /// Embeddings a track keeps as its samples (for enrolment by track, anonymous people and
    /// learning): the most different ones, the best face of near-duplicates.
    pub max_samples: usize,
    /// Weak continuity: a face is embedded at once, whatever the cadence, when its track was
    /// last seen longer ago than this ...
    pub continuity_gap_ns: i64,
    /// ... or its box's width or height changed by more than this fraction since the track's
    /// last face ...
    pub continuity_scale_change: f32,
    /// ... or the detector's score fell by more than this ...
    pub continuity_score_drop: f32,
    /// ... or the landmarks moved within the box by more than this fraction of the box width
    /// (mean over the five points: another face's geometry) ...
    pub continuity_landmark_shift: f32,
    /// ... or the box overlaps another live track's box (IoU above [`TOUCHING_IOU`]: two people
    /// crossing, not two boxes grazing each other). In each case the frame's embedding
    /// decides: a face closer to somebody else than to the track's name starts a track of its
    /// own instead of inheriting the name.
    pub continuity_touching: bool,
}

/// The part of [`TrackerConfig`] that may change while a tracker runs ([`Tracker::set_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackLimits {
    pub confirm_hits: u32,
    pub max_miss_ns: i64,
    pub reid_window_ns: i64,
    pub max_tracks: usize,
    pub reembed_every: u32,
}

impl TrackLimits {
    pub fn of(config: &TrackerConfig) -> Self {
        Self {
            confirm_hits: config.confirm_hits,
            max_miss_ns: config.max_miss_ns,
            reid_window_ns: config.reid_window_ns,
            max_tracks: config.max_tracks,
            reembed_every: config.reembed_every,
        }
    }

    /// Writes these limits into `config`, leaving its other settings.
    pub fn apply_to(&self, config: &mut TrackerConfig) {
        config.confirm_hits = self.confirm_hits;
        config.max_miss_ns = self.max_miss_ns;
        config.reid_window_ns = self.reid_window_ns;
        config.max_tracks = self.max_tracks;
        config.reembed_every = self.reembed_every;
    }
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            confirm_hits: 3,
            max_miss_ns: 1_000_000_000,
            reid_window_ns: 60_000_000_000,
            max_tracks: 64,
            max_departed: 256,
            iou_gate: 0.1,
            iou_gate_no_embedding: 0.3,
            similarity_gate: 0.3,
            appearance_match: 0.5,
            reid_similarity: 0.5,
            iou_weight: 0.5,
            match_threshold: DEFAULT_MATCH_THRESHOLD,
            name_margin: 0.03,
            keep_drop: 0.05,
            switch_margin: 0.08,
            switch_updates: 3,
            template_decay: 0.9,
            reembed_every: 5,
            better_quality_ratio: 1.3,
            backwards_reset_ns: 5_000_000_000,
            max_samples: 8,
            continuity_gap_ns: 250_000_000,
            continuity_scale_change: 0.2,
            continuity_score_drop: 0.15,
            continuity_landmark_shift: 0.1,
            continuity_touching: true,
        }
    }
}

/// One face of a frame given to [`Tracker::update`]: its detection and, when it was embedded
/// in this frame, its unit embedding.
#[derive(Debug, Clone)]
pub struct Observation {
    pub detection: Detection,
    pub embedding: Option<Embedding>,
}

/// A face of the frame with its track and the track's identity.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedFace {
    #[serde(flatten)]
    pub detection: Detection,
    /// The track's id (stable over the track's life and over a re-identification); `None` when
    /// the face could not get a track because `max_tracks` tracks are live.
    pub track_id: Option<u64>,
    /// The track has had `confirm_hits` hits.
    pub confirmed: bool,
    /// The track's name, or `unknown`.
    pub name: String,
    /// Similarity of the track's template with its name (with the best match while unnamed);
    /// while a contrary candidate leads, the runner-up score (an upper bound of the name's).
    pub identity_score: f32,
    /// Lead of the track's best match over the runner-up person.
    pub identity_margin: f32,
    /// This frame's own embedding against the gallery: best match's name (or `unknown`) and
    /// score; `None` when the face was not embedded in this frame.
    pub frame_name: Option<String>,
    pub frame_score: Option<f32>,
    /// This frame's embedding, when the face was embedded.
    #[serde(skip)]
    pub embedding: Option<Embedding>,
    /// The track came back from the ended tracks in this frame (a returning person).
    pub reidentified: bool,
    /// `name` is an anonymous person's id (a stranger, `person_3f9a`), not a given name.
    pub anonymous: bool,
}

/// Why a track cannot be used (enrolment by track, naming).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrackError {
    #[error("no track {id} was ever seen by this camera")]
    Unknown { id: u64 },
    #[error("track {id} has ended (the person left the view); name a track that is in view")]
    Ended { id: u64 },
    #[error("track {id} is not confirmed yet (seen in too few frames); try again in a moment")]
    NotConfirmed { id: u64 },
    #[error("track {id} holds no face samples yet (no embedded frame)")]
    NoSamples { id: u64 },
}

/// A live track as seen from outside: its state and identity.
#[derive(Debug, Clone)]
pub struct TrackView<'a> {
    pub id: u64,
    pub confirmed: bool,
    /// The track's name, when it has one (a given name or an anonymous id).
    pub name: Option<&'a str>,
    pub anonymous: bool,
    pub identity_score: f32,
    pub identity_margin: f32,
    /// Contrary evidence is pending against the name (hysteresis in progress).
    pub contested: bool,
    /// The track's template matches nobody (clearly below the threshold, or an empty gallery).
    pub no_match: bool,
    pub first_seen_ns: i64,
    pub last_seen_ns: i64,
    /// Embedded frames so far.
    pub embeddings: u32,
    pub samples: usize,
    /// The embedding taken in the frame the track was last seen in, if it was embedded there,
    /// with its face's quality ([`face_quality`]).
    pub fresh_embedding: Option<&'a [f32]>,
    pub fresh_quality: f32,
    /// Stamp of the last sample learned from this track (careful learning).
    pub learned_at_ns: Option<i64>,
    /// Stamp of the last time the gallery was told this track's person was seen.
    pub touched_ns: Option<i64>,
}

/// Counters since the tracker was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrackerStats {
    pub frames: u64,
    /// Frames whose stamp was behind the previous one (processed at the previous time).
    pub backwards_stamps: u64,
    /// Restarts after a stamp jumped back by more than `backwards_reset_ns`.
    pub resets: u64,
    pub tracks_started: u64,
    pub tracks_confirmed: u64,
    pub reidentified: u64,
    /// Faces left without a track because `max_tracks` tracks were live.
    pub untracked_faces: u64,
    /// Frames in which that happened.
    pub capped_frames: u64,
    /// Observations whose embedding had a different dimension than the track's (ignored).
    pub bad_embeddings: u64,
    /// Embedded faces whose continuity with their track was weak (a gap in time, a jump in
    /// scale, score or landmarks): the embedding checked who they are.
    pub continuity_checks: u64,
    /// Faces that contradicted their track's name (closer to somebody else) and started a
    /// track of their own instead of inheriting the name.
    pub identity_splits: u64,
}

#[derive(Debug, Clone, PartialEq)]
enum Naming {
    Unnamed,
    Named { name: String, contrary: u32 },
}

#[derive(Debug, Clone)]
struct Identity {
    naming: Naming,
    score: f32,
    margin: f32,
    /// Best match's score is clearly below the threshold (a settled stranger).
    settled_unknown: bool,
    /// As `settled_unknown`, or nobody to match at all.
    no_match: bool,
    /// The name is an anonymous person's id.
    anonymous: bool,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            naming: Naming::Unnamed,
            score: 0.0,
            margin: 0.0,
            settled_unknown: false,
            no_match: false,
            anonymous: false,
        }
    }
}

/// Boxes overlapping by more than this IoU count as touching for [`TrackerConfig::continuity_touching`].
pub const TOUCHING_IOU: f32 = 0.05;

/// One embedding a track keeps, with its face's quality.
#[derive(Debug, Clone)]
struct Sample {
    embedding: Embedding,
    quality: f32,
}

/// Above this similarity two samples of a track count as the same view (only the better face
/// is kept).
const SAME_VIEW_SIMILARITY: f32 = 0.97;

#[derive(Debug, Clone)]
struct Track {
    id: u64,
    hits: u32,
    confirmed: bool,
    bbox: BBox,
    /// Box centre velocity, frame pixels per second.
    velocity_px_s: (f32, f32),
    last_seen_ns: i64,
    /// Quality-weighted, decayed sum of the track's embeddings (not normalised).
    template_sum: Vec<f32>,
    embeddings: u32,
    last_embedding: Option<Embedding>,
    /// Frames since the last embedding was taken.
    frames_since_embedding: u32,
    best_quality: f32,
    identity: Identity,
    first_seen_ns: i64,
    /// Quality of the face embedded in the frame the track was last seen in (0: not embedded).
    fresh_quality: f32,
    samples: Vec<Sample>,
    learned_at_ns: Option<i64>,
    touched_ns: Option<i64>,
    /// The face the track was last seen with (continuity checks compare the next one with it).
    last_detection: Option<Detection>,
}

impl Track {
    fn view(&self) -> TrackView<'_> {
        let fresh = self.frames_since_embedding == 0 && self.embeddings > 0;
        TrackView {
            id: self.id,
            confirmed: self.confirmed,
            name: self.named(),
            anonymous: self.identity.anonymous,
            identity_score: self.identity.score,
            identity_margin: self.identity.margin,
            contested: matches!(self.identity.naming, Naming::Named { contrary, .. } if contrary > 0),
            no_match: self.identity.no_match,
            first_seen_ns: self.first_seen_ns,
            last_seen_ns: self.last_seen_ns,
            embeddings: self.embeddings,
            samples: self.samples.len(),
            fresh_embedding: if fresh { self.last_embedding.as_deref() } else { None },
            fresh_quality: if fresh { self.fresh_quality } else { 0.0 },
            learned_at_ns: self.learned_at_ns,
            touched_ns: self.touched_ns,
        }
    }

    /// Keeps `e` among the samples when it shows a view the track does not hold yet, or a
    /// better face of one it holds; at most `max` samples (the poorest face makes room).
    fn keep_sample(&mut self, e: &[f32], quality: f32, max: usize) {
        if max == 0 {
            return;
        }
        let nearest = self
            .samples
            .iter()
            .enumerate()
            .map(|(k, s)| (k, dot(&s.embedding, e)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let sample = Sample {
            embedding: e.to_vec(),
            quality,
        };
        if let Some((k, sim)) = nearest {
            if sim >= SAME_VIEW_SIMILARITY {
                if let Some(held) = self.samples.get_mut(k) {
                    if quality > held.quality {
                        *held = sample;
                    }
                }
                return;
            }
        }
        if self.samples.len() < max {
            self.samples.push(sample);
            return;
        }
        let poorest = self.samples.iter_mut().min_by(|a, b| a.quality.total_cmp(&b.quality));
        if let Some(poorest) = poorest {
            if quality > poorest.quality {
                *poorest = sample;
            }
        }
    }

    fn template(&self) -> Option<Embedding> {
        if self.embeddings == 0 {
            return None;
        }
        Some(crate::embed::normalize(&self.template_sum))
    }

    fn predicted(&self, stamp_ns: i64, max_dt_ns: i64) -> BBox {
        let dt_s = ((stamp_ns - self.last_seen_ns).clamp(0, max_dt_ns.max(0)) as f64 / 1e9) as f32;
        BBox {
            x: self.bbox.x + self.velocity_px_s.0 * dt_s,
            y: self.bbox.y + self.velocity_px_s.1 * dt_s,
            ..self.bbox
        }
    }

    /// Best similarity of `e` with the track's template or its last embedding.
    fn similarity(&self, e: &[f32]) -> Option<f32> {
        let t = self.template().map(|t| dot(&t, e));
        let l = self.last_embedding.as_ref().map(|l| dot(l, e));
        match (t, l) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn named(&self) -> Option<&str> {
        match &self.identity.naming {
            Naming::Named { name, .. } => Some(name),
            Naming::Unnamed => None,
        }
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Quality of a face from its landmarks: eye distance in frame pixels times frontality (1 when
/// the nose is midway between the eyes, 0 when it is beside an eye).
pub fn face_quality(detection: &Detection) -> f32 {
    let [le, re, nose, _, _] = detection.landmarks;
    let (dx, dy) = (re.x - le.x, re.y - le.y);
    let eye_px = (dx * dx + dy * dy).sqrt();
    if !(eye_px.is_finite() && eye_px > 1.0) {
        return 0.0;
    }
    // Nose position along the eye axis, 0 at the left eye, 1 at the right eye.
    let t = ((nose.x - le.x) * dx + (nose.y - le.y) * dy) / (eye_px * eye_px);
    let frontal = (1.0 - 2.0 * (t - 0.5).abs()).clamp(0.0, 1.0);
    eye_px * frontal
}

/// Associates faces with tracks for one camera. See the module documentation.
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    tracks: Vec<Track>,
    /// Ended confirmed tracks, oldest first, for re-identification.
    departed: VecDeque<Track>,
    next_id: u64,
    last_stamp_ns: Option<i64>,
    stats: TrackerStats,
}

impl Tracker {
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            tracks: Vec::new(),
            departed: VecDeque::new(),
            next_id: 1,
            last_stamp_ns: None,
            stats: TrackerStats::default(),
        }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// A new match threshold (a live `match_threshold` change), applied from the next update:
    /// a track named with an identity score below it loses the name, and a track settled as a
    /// stranger is judged again, both embedded at their next frame. The same value again
    /// changes nothing (the node calls this every frame).
    pub fn set_match_threshold(&mut self, threshold: f32) {
        if self.config.match_threshold.to_bits() == threshold.to_bits() {
            return;
        }
        let lowered = threshold < self.config.match_threshold;
        self.config.match_threshold = threshold;
        for t in self.tracks.iter_mut().chain(self.departed.iter_mut()) {
            let stale = match t.identity.naming {
                Naming::Named { .. } => t.identity.score < threshold,
                Naming::Unnamed => lowered && t.identity.settled_unknown,
            };
            if stale {
                t.identity = Identity::default();
            }
        }
    }

    /// The settings an operator may change while the tracker runs (`ros2 param set
    /// tracking.*`), applied from the next update. Tracks keep what they have: a lower
    /// `max_tracks` ends none (new faces wait for a free slot), a new `confirm_hits` confirms
    /// the tentative tracks that already have the hits at their next frame, the time limits
    /// judge every track from then on.
    pub fn set_limits(&mut self, limits: &TrackLimits) {
        limits.apply_to(&mut self.config);
    }

    /// The settings [`Tracker::set_limits`] changes, as they are now.
    pub fn limits(&self) -> TrackLimits {
        TrackLimits::of(&self.config)
    }

    pub fn stats(&self) -> &TrackerStats {
        &self.stats
    }

    /// Live tracks (confirmed or tentative).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// The time this frame is processed at: stamps never move the tracker's clock back.
    fn effective_now(&self, stamp_ns: i64) -> i64 {
        match self.last_stamp_ns {
            Some(last) if stamp_ns < last => last,
            _ => stamp_ns,
        }
    }

    /// Which of `detections` should be embedded this frame: every face except one that overlaps
    /// exactly one live, confidently identified track (and nothing else competes for either) whose
    /// last embedding is recent (`reembed_every`), whose best face is not clearly worse than this
    /// one, and whose continuity with this face is strong ([`Self::weak_continuity`]). Tracks
    /// that this frame will end (unseen for longer than `max_miss_ns`) count as gone, so a face
    /// after a long gap is embedded in its first frame. Does not change the tracker.
    pub fn needs_embedding(&self, stamp_ns: i64, detections: &[Detection]) -> Vec<bool> {
        let now = self.effective_now(stamp_ns);
        let live: Vec<(usize, BBox)> = self
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| now.saturating_sub(t.last_seen_ns) <= self.config.max_miss_ns)
            .map(|(ti, t)| (ti, t.predicted(now, self.config.max_miss_ns)))
            .collect();
        let gate = self.config.iou_gate;
        detections
            .iter()
            .enumerate()
            .map(|(di, d)| {
                let overlapping: Vec<&(usize, BBox)> = live.iter().filter(|(_, p)| p.iou(&d.bbox) >= gate).collect();
                let [(ti, p)] = overlapping.as_slice() else {
                    return true;
                };
                let Some(track) = self.tracks.get(*ti) else {
                    return true;
                };
                if p.iou(&d.bbox) < self.config.iou_gate_no_embedding.max(0.5) {
                    return true;
                }
                let contested = detections
                    .iter()
                    .enumerate()
                    .any(|(dj, other)| dj != di && p.iou(&other.bbox) >= gate);
                if contested || !self.confident(track) {
                    return true;
                }
                let touching = self.config.continuity_touching
                    && live
                        .iter()
                        .any(|(tj, q)| tj != ti && (q.iou(&d.bbox) > TOUCHING_IOU || q.iou(p) > TOUCHING_IOU));
                if touching || self.weak_continuity(track, now, d) {
                    return true;
                }
                track.frames_since_embedding + 1 >= self.config.reembed_every.max(1)
                    || face_quality(d) > track.best_quality * self.config.better_quality_ratio
            })
            .collect()
    }

    /// Whether face `d` may not be the face `track` was last seen with, judged without an
    /// embedding: a gap in time, or a change of box scale, detector score or landmark geometry
    /// beyond the `continuity_*` limits.
    fn weak_continuity(&self, track: &Track, now: i64, d: &Detection) -> bool {
        let c = &self.config;
        if now.saturating_sub(track.last_seen_ns) > c.continuity_gap_ns {
            return true;
        }
        let Some(last) = &track.last_detection else {
            return true;
        };
        let ratio = |a: f32, b: f32| {
            if a > 0.0 && b > 0.0 {
                (a / b).max(b / a)
            } else {
                f32::INFINITY
            }
        };
        let scale = ratio(d.bbox.width, last.bbox.width).max(ratio(d.bbox.height, last.bbox.height));
        if scale.is_nan() || scale > 1.0 + c.continuity_scale_change {
            return true;
        }
        if d.score < last.score - c.continuity_score_drop {
            return true;
        }
        let shape = |det: &Detection, k: usize| {
            det.landmarks.get(k).map(|p| {
                (
                    (p.x - det.bbox.x) / det.bbox.width.max(1.0),
                    (p.y - det.bbox.y) / det.bbox.width.max(1.0),
                )
            })
        };
        let shift = (0..5)
            .filter_map(|k| {
                let (a, b) = (shape(d, k)?, shape(last, k)?);
                Some(((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt())
            })
            .sum::<f32>()
            / 5.0;
        shift.is_nan() || shift > c.continuity_landmark_shift
    }

    fn confident(&self, track: &Track) -> bool {
        if !track.confirmed || track.last_embedding.is_none() {
            return false;
        }
        match &track.identity.naming {
            Naming::Named { contrary, .. } => {
                *contrary == 0
                    && track.identity.score >= self.config.match_threshold + self.config.keep_drop
                    && track.identity.margin >= self.config.switch_margin
            }
            Naming::Unnamed => track.identity.settled_unknown && track.embeddings >= self.config.confirm_hits,
        }
    }

    /// Takes one frame's faces (stamp from the frame header, ns) and returns them, in the same
    /// order, with their tracks and identities.
    pub fn update(&mut self, stamp_ns: i64, observations: Vec<Observation>, gallery: &Gallery) -> Vec<TrackedFace> {
        self.stats.frames += 1;
        if let Some(last) = self.last_stamp_ns {
            if stamp_ns < last {
                if last.saturating_sub(stamp_ns) > self.config.backwards_reset_ns {
                    self.reset();
                } else {
                    self.stats.backwards_stamps += 1;
                }
            }
        }
        let now = self.effective_now(stamp_ns);
        self.last_stamp_ns = Some(now);
        self.expire(now);

        let n_det = observations.len();
        let mut assigned: Vec<Option<usize>> = vec![None; n_det];
        let mut reidentified = vec![false; n_det];
        self.associate(now, &observations, &mut assigned);
        self.split_contradicted(&observations, &mut assigned, gallery);
        self.reidentify(now, &observations, &mut assigned, &mut reidentified);

        // New tentative tracks for faces left over, within the cap.
        let mut capped = false;
        for (di, obs) in observations.iter().enumerate() {
            if assigned.get(di).copied().flatten().is_some() {
                continue;
            }
            if self.tracks.len() >= self.config.max_tracks {
                self.stats.untracked_faces += 1;
                capped = true;
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            self.stats.tracks_started += 1;
            self.tracks.push(Track {
                id,
                hits: 0,
                confirmed: false,
                bbox: obs.detection.bbox,
                velocity_px_s: (0.0, 0.0),
                last_seen_ns: now,
                template_sum: Vec::new(),
                embeddings: 0,
                last_embedding: None,
                frames_since_embedding: 0,
                best_quality: 0.0,
                identity: Identity::default(),
                first_seen_ns: now,
                fresh_quality: 0.0,
                samples: Vec::new(),
                learned_at_ns: None,
                touched_ns: None,
                last_detection: None,
            });
            if let Some(a) = assigned.get_mut(di) {
                *a = Some(self.tracks.len() - 1);
            }
        }
        if capped {
            self.stats.capped_frames += 1;
        }

        let mut out = Vec::with_capacity(n_det);
        for (di, obs) in observations.into_iter().enumerate() {
            let frame_match = obs
                .embedding
                .as_ref()
                .map(|e| crate::pipeline::identify(gallery, e, self.config.match_threshold));
            let (frame_name, frame_score) = match frame_match {
                Some(crate::pipeline::Identity { name, score, .. }) => (Some(name), Some(score)),
                None => (None, None),
            };
            let track = assigned
                .get(di)
                .copied()
                .flatten()
                .and_then(|ti| self.tracks.get(ti).map(|_| ti));
            let Some(ti) = track else {
                out.push(TrackedFace {
                    track_id: None,
                    confirmed: false,
                    name: frame_name.clone().unwrap_or_else(|| crate::UNKNOWN.to_owned()),
                    identity_score: frame_score.unwrap_or(0.0),
                    identity_margin: 0.0,
                    frame_name,
                    frame_score,
                    detection: obs.detection,
                    embedding: obs.embedding,
                    reidentified: false,
                    anonymous: false,
                });
                continue;
            };
            if obs.embedding.is_some()
                && self
                    .tracks
                    .get(ti)
                    .is_some_and(|t| t.hits > 0 && self.weak_continuity(t, now, &obs.detection))
            {
                self.stats.continuity_checks += 1;
            }
            self.observe(ti, now, &obs);
            let embedded = obs.embedding.is_some();
            self.update_identity(ti, gallery, embedded);
            let Some(track) = self.tracks.get(ti) else { continue };
            out.push(TrackedFace {
                track_id: Some(track.id),
                confirmed: track.confirmed,
                name: track.named().unwrap_or(crate::UNKNOWN).to_owned(),
                identity_score: track.identity.score,
                identity_margin: track.identity.margin,
                frame_name,
                frame_score,
                detection: obs.detection,
                embedding: obs.embedding,
                reidentified: reidentified.get(di).copied().unwrap_or(false),
                anonymous: track.identity.anonymous,
            });
        }
        out
    }

    fn reset(&mut self) {
        self.tracks.clear();
        self.departed.clear();
        self.last_stamp_ns = None;
        self.stats.resets += 1;
    }

    /// Ends tracks unseen for longer than `max_miss_ns`; forgets departed ones past the window.
    fn expire(&mut self, now: i64) {
        let max_miss = self.config.max_miss_ns;
        let (ended, live): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.tracks)
            .into_iter()
            .partition(|t| now.saturating_sub(t.last_seen_ns) > max_miss);
        self.tracks = live;
        for t in ended {
            if t.confirmed && t.embeddings > 0 {
                self.departed.push_back(t);
            }
        }
        let window = self.config.reid_window_ns;
        self.departed.retain(|t| now.saturating_sub(t.last_seen_ns) <= window);
        while self.departed.len() > self.config.max_departed {
            self.departed.pop_front();
        }
    }

    /// Greedy assignment by cost over the gated pairs of live tracks and faces.
    fn associate(&self, now: i64, observations: &[Observation], assigned: &mut [Option<usize>]) {
        let c = &self.config;
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (ti, track) in self.tracks.iter().enumerate() {
            let p = track.predicted(now, c.max_miss_ns);
            for (di, obs) in observations.iter().enumerate() {
                let iou = p.iou(&obs.detection.bbox);
                let sim = obs.embedding.as_ref().and_then(|e| track.similarity(e));
                let cost = match sim {
                    Some(sim) => {
                        let overlapping = iou >= c.iou_gate && sim >= c.similarity_gate;
                        if !(overlapping || sim >= c.appearance_match) {
                            continue;
                        }
                        c.iou_weight * (1.0 - iou) + (1.0 - c.iou_weight) * (1.0 - sim)
                    }
                    None => {
                        if iou < c.iou_gate_no_embedding {
                            continue;
                        }
                        // No appearance evidence: charged as a middling similarity.
                        c.iou_weight * (1.0 - iou) + (1.0 - c.iou_weight) * 0.5
                    }
                };
                if cost.is_finite() {
                    pairs.push((cost, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut track_used = vec![false; self.tracks.len()];
        for (_, ti, di) in pairs {
            let (Some(tu), Some(slot)) = (track_used.get_mut(ti), assigned.get_mut(di)) else {
                continue;
            };
            if *tu || slot.is_some() {
                continue;
            }
            *tu = true;
            *slot = Some(ti);
        }
    }

    /// Unassigns each embedded face that contradicts its named track: the frame's own match is
    /// somebody else, clearly (`match_threshold` and `name_margin`), and the track's person
    /// scores clearly below the threshold for this face. Such a face is another person in the
    /// track's place (a swap, a replacement, a crossing): it starts a track of its own and is
    /// named for itself, instead of the name being kept by hysteresis, which is for a bad frame
    /// of the same person (their own name still close).
    fn split_contradicted(&mut self, observations: &[Observation], assigned: &mut [Option<usize>], gallery: &Gallery) {
        let c = &self.config;
        for (di, obs) in observations.iter().enumerate() {
            let Some(slot) = assigned.get_mut(di) else { continue };
            let Some(ti) = *slot else { continue };
            let (Some(e), Some(track)) = (&obs.embedding, self.tracks.get(ti)) else {
                continue;
            };
            let Some(name) = track.named() else { continue };
            let Some(m) = gallery.best_match(e) else { continue };
            if m.name == name || m.score < c.match_threshold || m.margin() < c.name_margin {
                continue;
            }
            let own = gallery.best_similarity_to(name, e).unwrap_or(f32::NEG_INFINITY);
            if own < c.match_threshold - c.keep_drop {
                *slot = None;
                self.stats.identity_splits += 1;
            }
        }
    }

    /// Gives ended tracks back to unassigned embedded faces that match their template.
    fn reidentify(
        &mut self,
        _now: i64,
        observations: &[Observation],
        assigned: &mut [Option<usize>],
        reidentified: &mut [bool],
    ) {
        if self.departed.is_empty() {
            return;
        }
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        for (k, t) in self.departed.iter().enumerate() {
            let Some(template) = t.template() else { continue };
            for (di, obs) in observations.iter().enumerate() {
                if assigned.get(di).copied().flatten().is_some() {
                    continue;
                }
                let Some(e) = &obs.embedding else { continue };
                let sim = dot(&template, e);
                if sim >= self.config.reid_similarity {
                    pairs.push((sim, k, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
        let mut taken: Vec<usize> = Vec::new();
        for (_, k, di) in pairs {
            if self.tracks.len() >= self.config.max_tracks {
                break;
            }
            if taken.contains(&k) || assigned.get(di).copied().flatten().is_some() {
                continue;
            }
            let Some(mut t) = self.departed.get(k).cloned() else {
                continue;
            };
            taken.push(k);
            // Position history is stale after a departure.
            t.velocity_px_s = (0.0, 0.0);
            if let Some(obs) = observations.get(di) {
                t.bbox = obs.detection.bbox;
            }
            self.tracks.push(t);
            self.stats.reidentified += 1;
            if let Some(a) = assigned.get_mut(di) {
                *a = Some(self.tracks.len() - 1);
            }
            if let Some(r) = reidentified.get_mut(di) {
                *r = true;
            }
        }
        // Remove the revived tracks from the departed list (highest index first).
        taken.sort_unstable_by(|a, b| b.cmp(a));
        for k in taken {
            self.departed.remove(k);
        }
    }

    /// Folds a matched observation into its track.
    fn observe(&mut self, ti: usize, now: i64, obs: &Observation) {
        let c = &self.config;
        let Some(track) = self.tracks.get_mut(ti) else { return };
        let dt_ns = now - track.last_seen_ns;
        if track.hits > 0 && dt_ns > 0 {
            let old = track.bbox.center();
            let new = obs.detection.bbox.center();
            let dt_s = (dt_ns as f64 / 1e9) as f32;
            let v = ((new.x - old.x) / dt_s, (new.y - old.y) / dt_s);
            if v.0.is_finite() && v.1.is_finite() {
                track.velocity_px_s = (
                    0.5 * track.velocity_px_s.0 + 0.5 * v.0,
                    0.5 * track.velocity_px_s.1 + 0.5 * v.1,
                );
            }
        }
        track.bbox = obs.detection.bbox;
        track.last_seen_ns = now;
        track.last_detection = Some(obs.detection.clone());
        track.hits = track.hits.saturating_add(1);
        if !track.confirmed && track.hits >= c.confirm_hits {
            track.confirmed = true;
            self.stats.tracks_confirmed += 1;
        }
        match &obs.embedding {
            Some(e) if track.template_sum.is_empty() || track.template_sum.len() == e.len() => {
                let quality = face_quality(&obs.detection);
                // Weight in [0.25, 1]: a poor face still counts, a good one counts more.
                let weight = 0.25 + 0.75 * (quality / 40.0).clamp(0.0, 1.0) * obs.detection.score.clamp(0.0, 1.0);
                if track.template_sum.is_empty() {
                    track.template_sum = vec![0.0; e.len()];
                }
                for (s, x) in track.template_sum.iter_mut().zip(e) {
                    *s = *s * c.template_decay + weight * x;
                }
                track.embeddings = track.embeddings.saturating_add(1);
                track.last_embedding = Some(e.clone());
                track.frames_since_embedding = 0;
                track.best_quality = track.best_quality.max(quality);
                track.fresh_quality = quality;
                track.keep_sample(e, quality, c.max_samples);
            }
            Some(_) => {
                self.stats.bad_embeddings += 1;
                track.frames_since_embedding = track.frames_since_embedding.saturating_add(1);
            }
            None => track.frames_since_embedding = track.frames_since_embedding.saturating_add(1),
        }
    }

    /// Matches the track's template with the gallery and applies the naming rules (threshold,
    /// margin, hysteresis). Contrary evidence only counts on frames with a new embedding.
    fn update_identity(&mut self, ti: usize, gallery: &Gallery, new_evidence: bool) {
        let c = self.config.clone();
        let Some(track) = self.tracks.get_mut(ti) else { return };
        let Some(template) = track.template() else { return };
        let Some(m) = gallery.best_match(&template) else {
            track.identity = Identity {
                no_match: true,
                ..Identity::default()
            };
            return;
        };
        let margin = m.margin();
        let clears = m.score >= c.match_threshold && margin >= c.name_margin;
        let id = &mut track.identity;
        id.margin = margin;
        id.settled_unknown = m.score < c.match_threshold - 2.0 * c.keep_drop;
        id.no_match = id.settled_unknown;
        let naming = std::mem::replace(&mut id.naming, Naming::Unnamed);
        id.naming = match naming {
            Naming::Unnamed => {
                id.score = m.score;
                if clears {
                    Naming::Named {
                        name: m.name,
                        contrary: 0,
                    }
                } else {
                    Naming::Unnamed
                }
            }
            Naming::Named { name, .. } if name == m.name => {
                id.score = m.score;
                if m.score >= c.match_threshold - c.keep_drop {
                    Naming::Named { name, contrary: 0 }
                } else {
                    Naming::Unnamed
                }
            }
            Naming::Named { name, contrary } => {
                // Another person leads. The named one scores at most the runner-up.
                let held = m.runner_up.unwrap_or(0.0);
                let still_there = gallery.people().any(|(n, _)| n == name);
                let strong = m.score >= c.match_threshold && margin >= c.switch_margin;
                let contrary = if strong && new_evidence { contrary + 1 } else { contrary };
                if !still_there || held < c.match_threshold - c.keep_drop {
                    id.score = m.score;
                    if clears {
                        Naming::Named {
                            name: m.name,
                            contrary: 0,
                        }
                    } else {
                        Naming::Unnamed
                    }
                } else if contrary >= c.switch_updates {
                    id.score = m.score;
                    Naming::Named {
                        name: m.name,
                        contrary: 0,
                    }
                } else {
                    id.score = held;
                    Naming::Named { name, contrary }
                }
            }
        };
        id.anonymous = match &id.naming {
            Naming::Named { name, .. } => gallery.is_anonymous(name),
            Naming::Unnamed => false,
        };
    }

    /// The live tracks, in the order they were made (re-identified ones last).
    pub fn tracks(&self) -> impl Iterator<Item = TrackView<'_>> {
        self.tracks.iter().map(Track::view)
    }

    /// A live track; [`TrackError::Ended`] for a track that was seen but has ended,
    /// [`TrackError::Unknown`] for an id this tracker never gave.
    pub fn track(&self, id: u64) -> Result<TrackView<'_>, TrackError> {
        self.tracks
            .iter()
            .find(|t| t.id == id)
            .map(Track::view)
            .ok_or(if id > 0 && id < self.next_id {
                TrackError::Ended { id }
            } else {
                TrackError::Unknown { id }
            })
    }

    /// The face samples a live, confirmed track has collected (unit embeddings, the most
    /// different views it saw), for enrolment by track.
    pub fn track_samples(&self, id: u64) -> Result<Vec<Embedding>, TrackError> {
        let view = self.track(id)?;
        if !view.confirmed {
            return Err(TrackError::NotConfirmed { id });
        }
        let track = self
            .tracks
            .iter()
            .find(|t| t.id == id)
            .ok_or(TrackError::Unknown { id })?;
        if track.samples.is_empty() {
            return Err(TrackError::NoSamples { id });
        }
        Ok(track.samples.iter().map(|s| s.embedding.clone()).collect())
    }

    /// Names a live track at once (enrolment by track, a new anonymous person), without
    /// waiting for its next embedding.
    pub fn set_name(&mut self, id: u64, name: &str, anonymous: bool) -> Result<(), TrackError> {
        self.track(id)?;
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.identity.naming = Naming::Named {
                name: name.to_owned(),
                contrary: 0,
            };
            t.identity.anonymous = anonymous;
            t.identity.no_match = false;
            t.identity.settled_unknown = false;
        }
        Ok(())
    }

    /// Every track (live or ended) named `old` is named `new` (an anonymous person who was
    /// given a name); returns how many.
    pub fn rename_person(&mut self, old: &str, new: &str, anonymous: bool) -> usize {
        let mut n = 0;
        for t in self.tracks.iter_mut().chain(self.departed.iter_mut()) {
            if let Naming::Named { name, .. } = &mut t.identity.naming {
                if name == old {
                    *name = new.to_owned();
                    t.identity.anonymous = anonymous;
                    n += 1;
                }
            }
        }
        n
    }

    /// Every track (live or ended) named `name` loses that name (the person was forgotten):
    /// its identity starts over and is found again from the gallery as it is now, from the
    /// track's next embedding. Returns how many tracks were named `name`.
    pub fn forget_person(&mut self, name: &str) -> usize {
        let mut n = 0;
        for t in self.tracks.iter_mut().chain(self.departed.iter_mut()) {
            if matches!(&t.identity.naming, Naming::Named { name: held, .. } if held == name) {
                // Unnamed and not settled: not confident, so embedded again at its next frame.
                t.identity = Identity::default();
                n += 1;
            }
        }
        n
    }

    /// Notes that a sample of track `id` was learned at `stamp_ns`.
    pub fn mark_learned(&mut self, id: u64, stamp_ns: i64) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.learned_at_ns = Some(stamp_ns);
        }
    }

    /// Notes that the gallery was told at `stamp_ns` that track `id`'s person was seen.
    pub fn mark_touched(&mut self, id: u64, stamp_ns: i64) {
        if let Some(t) = self.tracks.iter_mut().find(|t| t.id == id) {
            t.touched_ns = Some(stamp_ns);
        }
    }

    /// The tracker's current time: the latest stamp it processed (None before the first frame).
    pub fn now_ns(&self) -> Option<i64> {
        self.last_stamp_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Point;

    const MS: i64 = 1_000_000;

    fn det(x: f32, y: f32, size: f32) -> Detection {
        Detection {
            bbox: BBox {
                x,
                y,
                width: size,
                height: size * 1.2,
            },
            score: 0.9,
            landmarks: [
                Point {
                    x: x + 0.3 * size,
                    y: y + 0.45 * size,
                },
                Point {
                    x: x + 0.7 * size,
                    y: y + 0.45 * size,
                },
                Point {
                    x: x + 0.5 * size,
                    y: y + 0.65 * size,
                },
                Point {
                    x: x + 0.35 * size,
                    y: y + 0.85 * size,
                },
                Point {
                    x: x + 0.65 * size,
                    y: y + 0.85 * size,
                },
            ],
        }
    }

    /// A unit vector near axis `axis` of an 8-d space, tilted by `noise` along axis 7.
    fn person(axis: usize, noise: f32) -> Embedding {
        let mut v = vec![0.0; 8];
        if let Some(x) = v.get_mut(axis) {
            *x = 1.0;
        }
        if let Some(x) = v.get_mut(7) {
            *x += noise;
        }
        crate::embed::normalize(&v)
    }

    fn obs(d: Detection, e: Option<Embedding>) -> Observation {
        Observation {
            detection: d,
            embedding: e,
        }
    }

    fn gallery() -> Gallery {
        let mut g = Gallery::in_memory();
        g.add("ada", vec![person(0, 0.0)]).expect("add");
        g.add("bob", vec![person(1, 0.0)]).expect("add");
        g
    }

    #[test]
    fn steady_face_keeps_one_track_and_is_confirmed_after_n_hits() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let mut ids = Vec::new();
        for i in 0..6 {
            let out = t.update(
                i * 33 * MS,
                vec![obs(det(100.0 + i as f32 * 2.0, 50.0, 80.0), Some(person(0, 0.2)))],
                &g,
            );
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].name, "ada");
            assert_eq!(out[0].confirmed, i >= 2, "frame {i}");
            ids.push(out[0].track_id.expect("tracked"));
        }
        assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
        assert_eq!(t.stats().tracks_started, 1);
        assert_eq!(t.stats().tracks_confirmed, 1);
    }

    #[test]
    fn crossing_faces_keep_their_tracks_by_embedding() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        // Ada walks right, Bob walks left; they overlap in the middle frames.
        let mut ada_ids = Vec::new();
        let mut bob_ids = Vec::new();
        for i in 0..11 {
            let xa = 100.0 + 20.0 * i as f32;
            let xb = 300.0 - 20.0 * i as f32;
            let out = t.update(
                i * 33 * MS,
                vec![
                    obs(det(xa, 50.0, 80.0), Some(person(0, 0.3))),
                    obs(det(xb, 55.0, 80.0), Some(person(1, 0.3))),
                ],
                &g,
            );
            ada_ids.push(out[0].track_id.expect("tracked"));
            bob_ids.push(out[1].track_id.expect("tracked"));
            assert_eq!(out[0].name, "ada", "frame {i}");
            assert_eq!(out[1].name, "bob", "frame {i}");
        }
        assert!(ada_ids.iter().all(|&id| id == ada_ids[0]), "{ada_ids:?}");
        assert!(bob_ids.iter().all(|&id| id == bob_ids[0]), "{bob_ids:?}");
        assert_ne!(ada_ids[0], bob_ids[0]);
    }

    #[test]
    fn another_face_in_the_same_place_does_not_steal_the_track() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(0, vec![obs(det(100.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        // Ada leaves and Bob steps into exactly her place in the next frame.
        let b = t.update(33 * MS, vec![obs(det(102.0, 50.0, 80.0), Some(person(1, 0.1)))], &g);
        assert_ne!(a[0].track_id, b[0].track_id);
        assert_eq!(b[0].name, "bob");
    }

    #[test]
    fn a_face_that_jumps_keeps_its_track_by_embedding() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(0, vec![obs(det(10.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        let b = t.update(200 * MS, vec![obs(det(400.0, 60.0, 80.0), Some(person(0, 0.2)))], &g);
        assert_eq!(a[0].track_id, b[0].track_id);
    }

    #[test]
    fn short_misses_are_bridged_and_long_ones_end_the_track_but_reid_gives_it_back() {
        let g = Gallery::in_memory();
        let config = TrackerConfig {
            max_miss_ns: 500 * MS,
            reid_window_ns: 10_000 * MS,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(config);
        let stranger = || Some(person(2, 0.1));
        let mut id = None;
        for i in 0..4 {
            id = t.update(i * 33 * MS, vec![obs(det(100.0, 50.0, 80.0), stranger())], &g)[0].track_id;
        }
        // 400 ms without the face: still the same track.
        let out = t.update(500 * MS, vec![obs(det(104.0, 50.0, 80.0), stranger())], &g);
        assert_eq!(out[0].track_id, id);
        assert!(!out[0].reidentified);
        // Gone for 3 s (the track ends), then back somewhere else: same id through re-id.
        assert!(t.update(1_500 * MS, vec![], &g).is_empty());
        assert_eq!(t.live_tracks(), 0);
        let out = t.update(3_500 * MS, vec![obs(det(300.0, 80.0, 70.0), stranger())], &g);
        assert_eq!(out[0].track_id, id);
        assert!(out[0].reidentified);
        assert!(out[0].confirmed);
        // Somebody else after the window: a new id.
        let out = t.update(20_000 * MS, vec![obs(det(300.0, 80.0, 70.0), stranger())], &g);
        assert_ne!(out[0].track_id, id);
    }

    #[test]
    fn tentative_tracks_are_not_remembered() {
        let g = Gallery::in_memory();
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(0, vec![obs(det(100.0, 50.0, 80.0), Some(person(3, 0.0)))], &g);
        let b = t.update(5_000 * MS, vec![obs(det(100.0, 50.0, 80.0), Some(person(3, 0.0)))], &g);
        assert_ne!(a[0].track_id, b[0].track_id);
    }

    #[test]
    fn a_name_needs_a_margin_and_changes_only_on_repeated_strong_contrary_evidence() {
        let mut g = Gallery::in_memory();
        g.add("ada", vec![person(0, 0.0)]).expect("add");
        // Two near-identical people: no margin, no name (per frame each would be named).
        let twin = crate::embed::normalize(&[1.0, 0.05, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        g.add("ada_twin", vec![twin]).expect("add");
        g.add("bob", vec![person(1, 0.0)]).expect("add");
        let mut t = Tracker::new(TrackerConfig::default());
        let out = t.update(0, vec![obs(det(100.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        assert_eq!(out[0].name, crate::UNKNOWN);
        assert_ne!(out[0].frame_name.as_deref(), Some(crate::UNKNOWN));

        // Bob, seen steadily: named; one odd frame that looks more like Ada (a turned head: still
        // close enough to Bob's track to stay on it) does not rename him.
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let odd_vector = || Some(crate::embed::normalize(&[0.55, 0.45, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        let bob = || Some(person(1, 0.2));
        let mut stamp = 0;
        let mut step = |t: &mut Tracker, e: Option<Embedding>| {
            stamp += 33 * MS;
            t.update(stamp, vec![obs(det(100.0, 50.0, 80.0), e)], &g).remove(0)
        };
        for _ in 0..5 {
            assert_eq!(step(&mut t, bob()).name, "bob");
        }
        let odd = step(&mut t, odd_vector());
        let track = odd.track_id;
        assert_eq!(odd.frame_name.as_deref(), Some("ada"));
        assert_eq!(odd.name, "bob");
        // Sustained contrary evidence that still resembles Bob (his own score above the keep
        // threshold: the same face, seen differently) wins after a few frames, on the same track.
        let ada_like = || Some(crate::embed::normalize(&[0.8, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]));
        let out: Vec<TrackedFace> = (0..20).map(|_| step(&mut t, ada_like())).collect();
        assert!(out.iter().all(|f| f.track_id == track));
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names.first().copied(), Some("bob"));
        assert!(names.iter().filter(|n| **n == "bob").count() >= 2, "{names:?}");
        assert_eq!(names.last().copied(), Some("ada"), "{names:?}");
    }

    /// Issue 22: a face in a named track's place that is clearly somebody else (named for
    /// itself, its track's name clearly below the threshold) is never given the track's name,
    /// not even for the frames hysteresis would have kept it: it starts a track of its own.
    #[test]
    fn a_face_closer_to_somebody_else_splits_the_track_instead_of_inheriting_its_name() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let mut stamp = 0;
        let mut step = |t: &mut Tracker, e: Embedding| {
            stamp += 33 * MS;
            t.update(stamp, vec![obs(det(100.0, 50.0, 80.0), Some(e))], &g)
                .remove(0)
        };
        let bob = (0..5).map(|_| step(&mut t, person(1, 0.2))).last().expect("frames");
        assert_eq!(bob.name, "bob");
        // Ada-like, Bob's score 0.40 (below 0.455 - 0.05): another person in Bob's place.
        let ada_like = crate::embed::normalize(&[0.8, 0.35, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let newcomer = step(&mut t, ada_like);
        assert_ne!(newcomer.track_id, bob.track_id);
        assert_eq!(newcomer.name, "ada");
        assert_eq!(t.stats().identity_splits, 1);
    }

    /// Drives `t` as the pipeline does: each face is embedded only when the tracker asks.
    fn frame(t: &mut Tracker, g: &Gallery, stamp: i64, faces: Vec<(Detection, Embedding)>) -> Vec<TrackedFace> {
        let detections: Vec<Detection> = faces.iter().map(|(d, _)| d.clone()).collect();
        let wanted = t.needs_embedding(stamp, &detections);
        let observations = faces
            .into_iter()
            .zip(wanted)
            .map(|((d, e), w)| obs(d, w.then_some(e)))
            .collect();
        t.update(stamp, observations, g)
    }

    /// Issue 22: a known face seen again after a long gap (a slow camera) is embedded in its
    /// first frame and named there, not carried as a fresh `unknown` track.
    #[test]
    fn faces_two_seconds_apart_are_named_in_every_frame() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        // A confident track first (a camera at full rate) ...
        for i in 0..10 {
            let out = frame(&mut t, &g, i * 33 * MS, vec![(det(100.0, 50.0, 80.0), person(0, 0.1))]);
            assert_eq!(out[0].name, "ada");
        }
        // ... then the camera slows down: every frame is a new track (the old one ended), and
        // each is embedded and named in its first frame.
        for i in 1..6 {
            let stamp = 300 * MS + i * 2_000 * MS;
            let out = frame(&mut t, &g, stamp, vec![(det(100.0, 50.0, 80.0), person(0, 0.1))]);
            assert_eq!(out[0].name, "ada", "slow frame {i}");
            assert!(out[0].frame_score.is_some(), "slow frame {i} embedded");
        }
    }

    /// Issue 22: weak continuity (another face's geometry, a gap) is checked with an embedding
    /// at once, whatever the cadence; strong continuity keeps the cadence.
    #[test]
    fn weak_continuity_is_checked_at_once_and_a_newcomer_gets_their_own_name() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let mut stamp = 0;
        let mut embedded = 0;
        for _ in 0..10 {
            stamp += 33 * MS;
            let out = frame(&mut t, &g, stamp, vec![(det(100.0, 50.0, 80.0), person(0, 0.1))]);
            assert_eq!(out[0].name, "ada");
            embedded += usize::from(out[0].frame_score.is_some());
        }
        assert!(
            embedded < 10,
            "a steady confident track skips embeddings ({embedded} of 10)"
        );
        // Bob steps into Ada's place with no gap: a bigger face (closer), so continuity is weak.
        stamp += 33 * MS;
        let out = frame(&mut t, &g, stamp, vec![(det(95.0, 45.0, 100.0), person(1, 0.1))]);
        assert_eq!(out[0].name, "bob");
        assert!(out[0].frame_score.is_some());
        // Bob's face with a fallen detector score: checked.
        let mut weak = det(95.0, 45.0, 100.0);
        weak.score = 0.6;
        assert!(t.needs_embedding(stamp + 33 * MS, &[weak])[0]);
        // And after a gap of a few frames.
        assert!(t.needs_embedding(stamp + 400 * MS, &[det(95.0, 45.0, 100.0)])[0]);
    }

    #[test]
    fn confident_tracks_are_embedded_only_every_n_frames_or_for_a_better_face() {
        let g = gallery();
        let config = TrackerConfig::default();
        let n = config.reembed_every as usize;
        let mut t = Tracker::new(config);
        let mut wanted = Vec::new();
        for i in 0..20 {
            let d = det(100.0 + i as f32, 50.0, 80.0);
            let w = t.needs_embedding(i * 33 * MS, std::slice::from_ref(&d))[0];
            wanted.push(w);
            let out = t.update(i * 33 * MS, vec![obs(d, w.then(|| person(0, 0.1)))], &g);
            assert_eq!(out[0].name, "ada", "frame {i}");
        }
        // Every frame until confirmed and confident, then one in n.
        assert!(wanted.iter().take(3).all(|w| *w), "{wanted:?}");
        let later = wanted.iter().skip(5).filter(|w| **w).count();
        assert!(later <= 15_usize.div_ceil(n) + 1 && later >= 15 / n, "{wanted:?}");
        // A clearly larger face is embedded at once.
        let stamp = 20 * 33 * MS;
        let _ = t.update(stamp, vec![obs(det(120.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        let same = det(121.0, 50.0, 80.0);
        assert!(!t.needs_embedding(stamp + 33 * MS, std::slice::from_ref(&same))[0]);
        let big = det(110.0, 40.0, 108.0);
        assert!(t.needs_embedding(stamp + 33 * MS, std::slice::from_ref(&big))[0]);
        // Two faces on one track: both embedded.
        let two = [det(121.0, 50.0, 80.0), det(150.0, 50.0, 80.0)];
        assert_eq!(t.needs_embedding(stamp + 33 * MS, &two), [true, true]);
    }

    #[test]
    fn backwards_stamps_do_not_rewind_and_a_big_jump_back_restarts() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(1_000 * MS, vec![obs(det(100.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        let b = t.update(900 * MS, vec![obs(det(101.0, 50.0, 80.0), Some(person(0, 0.1)))], &g);
        assert_eq!(a[0].track_id, b[0].track_id);
        assert_eq!(t.stats().backwards_stamps, 1);
        let c = t.update(
            -50_000 * MS,
            vec![obs(det(101.0, 50.0, 80.0), Some(person(0, 0.1)))],
            &g,
        );
        assert_eq!(t.stats().resets, 1);
        assert_ne!(c[0].track_id, a[0].track_id, "ids are never reused");
        let d = t.update(i64::MIN, vec![], &g);
        assert!(d.is_empty());
        let e = t.update(i64::MAX, vec![obs(det(1.0, 1.0, 10.0), None)], &g);
        assert!(e[0].track_id.is_some());
    }

    #[test]
    fn limits_set_while_running_apply_from_the_next_update() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig {
            confirm_hits: 5,
            ..TrackerConfig::default()
        });
        let face = |i: i64| obs(det(100.0 + i as f32, 50.0, 80.0), Some(person(0, 0.1)));
        let a = t.update(0, vec![face(0)], &g);
        let b = t.update(33 * MS, vec![face(1)], &g);
        assert!(!a[0].confirmed && !b[0].confirmed, "2 of 5 hits");
        let mut limits = t.limits();
        limits.confirm_hits = 3;
        limits.max_miss_ns = 100 * MS;
        t.set_limits(&limits);
        assert_eq!(t.limits(), limits);
        let c = t.update(66 * MS, vec![face(2)], &g);
        assert!(c[0].confirmed, "the third hit confirms under the new rule");
        // The shorter miss time ends the track: a face 200 ms later opens another one (no
        // re-identification window either).
        limits.reid_window_ns = 0;
        t.set_limits(&limits);
        let d = t.update(300 * MS, vec![face(3)], &g);
        assert_ne!(d[0].track_id, c[0].track_id);
    }

    #[test]
    fn hundreds_of_faces_are_capped_and_counted() {
        let g = gallery();
        let config = TrackerConfig {
            max_tracks: 50,
            ..TrackerConfig::default()
        };
        let mut t = Tracker::new(config);
        let faces: Vec<Observation> = (0..400)
            .map(|i| {
                obs(
                    det((i % 20) as f32 * 30.0, (i / 20) as f32 * 30.0, 25.0),
                    Some(person(i % 7, 0.1)),
                )
            })
            .collect();
        let out = t.update(0, faces.clone(), &g);
        assert_eq!(out.len(), 400);
        assert_eq!(out.iter().filter(|f| f.track_id.is_some()).count(), 50);
        assert_eq!(t.stats().untracked_faces, 350);
        assert_eq!(t.stats().capped_frames, 1);
        let again = t.update(33 * MS, faces, &g);
        assert_eq!(again.iter().filter(|f| f.track_id.is_some()).count(), 50);
        assert_eq!(t.live_tracks(), 50);
    }

    #[test]
    fn odd_embeddings_and_empty_gallery_do_not_panic() {
        let g = Gallery::in_memory();
        let mut t = Tracker::new(TrackerConfig::default());
        let a = t.update(0, vec![obs(det(100.0, 50.0, 80.0), Some(vec![1.0, 0.0]))], &g);
        // Another dimension (another model): no similarity with the track, a track of its own.
        let b = t.update(33 * MS, vec![obs(det(100.0, 50.0, 80.0), Some(vec![0.0; 5]))], &g);
        assert_eq!(b[0].name, crate::UNKNOWN);
        assert_ne!(a[0].track_id, b[0].track_id);
        let nan = Detection {
            bbox: BBox {
                x: f32::NAN,
                y: 0.0,
                width: f32::INFINITY,
                height: -3.0,
            },
            ..det(0.0, 0.0, 10.0)
        };
        let _ = t.needs_embedding(66 * MS, std::slice::from_ref(&nan));
        let _ = t.update(66 * MS, vec![obs(nan, None)], &g);
    }

    #[test]
    fn a_forgotten_person_is_unnamed_and_named_again_from_the_gallery() {
        let mut g = Gallery::in_memory();
        g.add("ada", vec![vec![1.0, 0.0]]).expect("add");
        let mut t = Tracker::new(TrackerConfig::default());
        let mut out = Vec::new();
        for i in 0..6 {
            out = t.update(i * 33 * MS, vec![obs(det(100.0, 50.0, 80.0), Some(vec![1.0, 0.0]))], &g);
        }
        assert_eq!(out[0].name, "ada");
        g.remove("ada");
        assert_eq!(t.forget_person("ada"), 1);
        assert_eq!(t.forget_person("ada"), 0);
        let wanted = t.needs_embedding(6 * 33 * MS, &[det(100.0, 50.0, 80.0)]);
        assert_eq!(wanted, vec![true], "an unnamed track is embedded again");
        let out = t.update(6 * 33 * MS, vec![obs(det(100.0, 50.0, 80.0), Some(vec![1.0, 0.0]))], &g);
        assert_eq!(out[0].name, crate::UNKNOWN);
        assert_eq!(out[0].track_id, Some(1), "the track goes on");
    }

    #[test]
    fn a_raised_threshold_unnames_weaker_tracks_and_a_lowered_one_names_them_again() {
        let g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        // Cosine 0.8 with ada: named at the default threshold.
        let face = || vec![obs(det(100.0, 50.0, 80.0), Some(person(0, 0.75)))];
        let mut out = Vec::new();
        for i in 0..6 {
            out = t.update(i * 33 * MS, face(), &g);
        }
        assert_eq!(out[0].name, "ada");
        t.set_match_threshold(0.9);
        let wanted = t.needs_embedding(6 * 33 * MS, &[det(100.0, 50.0, 80.0)]);
        assert_eq!(wanted, vec![true], "an unnamed track is embedded again");
        let out = t.update(6 * 33 * MS, face(), &g);
        assert_eq!(out[0].name, crate::UNKNOWN, "0.8 is below the new threshold");
        assert_eq!(out[0].track_id, Some(1), "the track goes on");
        t.set_match_threshold(0.5);
        let names: Vec<String> = (7..14)
            .map(|i| t.update(i * 33 * MS, face(), &g)[0].name.clone())
            .collect();
        assert_eq!(names.last().map(String::as_str), Some("ada"), "{names:?}");
        // The same threshold again changes nothing.
        t.set_match_threshold(0.5);
        assert_eq!(t.update(14 * 33 * MS, face(), &g)[0].name, "ada");
    }

    #[test]
    fn quality_prefers_large_frontal_faces() {
        let frontal = det(0.0, 0.0, 100.0);
        let small = det(0.0, 0.0, 50.0);
        let mut profile = det(0.0, 0.0, 100.0);
        profile.landmarks[2].x = profile.landmarks[1].x;
        assert!(face_quality(&frontal) > face_quality(&small));
        assert!(face_quality(&frontal) > 0.0 && face_quality(&profile) < 1e-3);
    }
}
