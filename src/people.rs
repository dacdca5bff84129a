//! People over time, between a camera's [`Tracker`] and the [`Gallery`]: strangers who get an
//! anonymous id (`person_3f9a`), enrolment by track or by anonymous id ("the person you are
//! looking at is Ada": the samples the track collected become Ada's, with no re-capture), and a
//! gallery that learns carefully from confidently identified tracks.
//!
//! Owns: the rules for when a track becomes an anonymous person, when a sample is learned, and
//! when anonymous people expire ([`PeopleConfig`]). May touch: `track` (its views, naming a
//! track), `gallery` (adding, renaming, learning, expiring; in memory: the caller saves).
//! Knows nothing of ROS, files or the wall clock: time is the frames' `stamp_ns`.
//!
//! Per camera, after [`crate::Pipeline::track`] (or [`Tracker::update`]) for a frame:
//! [`People::pending`] (read-only, cheap) says whether [`People::update`] has anything to do
//! with the gallery; `update` then admits strangers, notes who was seen, learns and expires,
//! and says whether the gallery changed so a persisted one can be saved.
//!
//! ```
//! use facerec::gallery::Gallery;
//! use facerec::people::{AnonymousMode, People, PeopleConfig};
//! use facerec::track::{Tracker, TrackerConfig};
//!
//! let people = People::new(PeopleConfig { anonymous: AnonymousMode::InMemory, ..PeopleConfig::default() });
//! let mut gallery = Gallery::in_memory();
//! people.attach(&mut gallery);
//! let mut tracker = Tracker::new(TrackerConfig::default());
//! // ... for each frame: pipeline.track(&frame, stamp_ns, &mut tracker, &gallery, false)?, then
//! if people.pending(&tracker, &gallery) {
//!     let changes = people.update(&mut tracker, &mut gallery, "/camera/image_raw").unwrap();
//!     assert!(changes.admitted.is_empty());
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::gallery::{Gallery, GalleryError, Learned};
use crate::track::{TrackError, TrackView, Tracker};

/// A track sample this similar to a vector a person holds is that vector (not added twice).
const HELD_SIMILARITY: f32 = 0.999;

/// What happens to a confirmed track that matches nobody.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnonymousMode {
    /// Strangers stay `unknown`.
    #[default]
    Off,
    /// Strangers get an anonymous id, held in the gallery in memory only (never saved).
    InMemory,
    /// As `InMemory`, and saved with the gallery, so they are known again after a restart.
    Persisted,
}

impl std::str::FromStr for AnonymousMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(Self::Off),
            "in_memory" => Ok(Self::InMemory),
            "persisted" => Ok(Self::Persisted),
            other => Err(format!("anonymous mode '{other}': use off, in_memory or persisted")),
        }
    }
}

/// Careful learning: which samples of a confidently identified track may be added to its person.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Off by default.
    pub enabled: bool,
    /// The track's identity score (its template against the person) must be at least this ...
    pub min_score: f32,
    /// ... and the frame's own embedding must match the same person at least this well ...
    pub min_frame_score: f32,
    /// ... both with this lead over the runner-up person (never from ambiguous matches).
    pub min_margin: f32,
    /// Smallest face quality ([`crate::track::face_quality`]: eye distance in frame pixels times
    /// frontality) of the learned face.
    pub min_quality: f32,
    /// A sample this similar to one the person already holds shows a pose already held: not
    /// learned.
    pub max_similarity: f32,
    /// Learned samples kept per person (the least useful is dropped beyond).
    pub max_per_person: usize,
    /// At most one sample per track in this time (ns of frame stamps).
    pub min_interval_ns: i64,
}

impl Default for LearningConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_score: 0.55,
            min_frame_score: 0.5,
            min_margin: 0.15,
            min_quality: 15.0,
            max_similarity: 0.8,
            max_per_person: 8,
            min_interval_ns: 1_000_000_000,
        }
    }
}

/// Strangers and learning. Times are ns of frame stamps.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PeopleConfig {
    pub anonymous: AnonymousMode,
    /// Embedded frames a confirmed, unmatched track needs before it becomes an anonymous person
    /// (fewer: a known person seen badly for a moment could become a stranger).
    pub anonymous_min_samples: usize,
    /// ... and for at least this long since it was first seen.
    pub anonymous_min_age_ns: i64,
    /// An anonymous person not seen for this long is removed, unless named meanwhile.
    pub anonymous_expire_ns: i64,
    /// How often a tracked person's "last seen" is refreshed in the gallery.
    pub touch_period_ns: i64,
    pub learning: LearningConfig,
}

impl Default for PeopleConfig {
    fn default() -> Self {
        Self {
            anonymous: AnonymousMode::Off,
            anonymous_min_samples: 3,
            anonymous_min_age_ns: 500_000_000,
            anonymous_expire_ns: 24 * 3_600 * 1_000_000_000,
            touch_period_ns: 1_000_000_000,
            learning: LearningConfig::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error(transparent)]
    Track(#[from] TrackError),
    #[error(transparent)]
    Gallery(#[from] GalleryError),
    #[error("track {id} is already named '{name}'; forget '{name}' first, or name another track")]
    TrackNamed { id: u64, name: String },
    #[error("the gallery could not be saved, nothing was changed")]
    Save {
        #[source]
        source: GalleryError,
    },
}

/// What [`People::update`] changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeopleUpdate {
    /// New anonymous people (their ids), one per stranger track.
    pub admitted: Vec<String>,
    /// Anonymous people removed after `anonymous_expire_ns` unseen.
    pub expired: Vec<String>,
    /// People who learned a sample.
    pub learned: Vec<String>,
    /// The gallery's people or vectors changed (a persisted gallery should be saved);
    /// "last seen" refreshes alone do not count.
    pub changed: bool,
}

/// What [`People::enroll_track`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackEnrolled {
    pub name: String,
    pub track_id: u64,
    /// Samples the person has now.
    pub samples: usize,
    /// The anonymous id the person had until now, if any.
    pub was_anonymous: Option<String>,
}

/// The people rules of one camera (or of all: it holds no per-camera state).
#[derive(Debug, Clone, Default)]
pub struct People {
    config: PeopleConfig,
}

impl People {
    pub fn new(config: PeopleConfig) -> Self {
        Self { config }
    }

    pub fn config(&self) -> &PeopleConfig {
        &self.config
    }

    /// Sets up `gallery` for the anonymous mode: saves write anonymous people only when
    /// `Persisted`.
    pub fn attach(&self, gallery: &mut Gallery) {
        gallery.set_persist_anonymous(self.config.anonymous == AnonymousMode::Persisted);
    }

    fn stranger(&self, t: &TrackView<'_>, now: i64) -> bool {
        self.config.anonymous != AnonymousMode::Off
            && t.confirmed
            && t.name.is_none()
            && t.no_match
            && t.last_seen_ns == now
            && t.samples > 0
            && t.embeddings as usize >= self.config.anonymous_min_samples.max(1)
            && now.saturating_sub(t.first_seen_ns) >= self.config.anonymous_min_age_ns
    }

    fn touch_due(&self, t: &TrackView<'_>, now: i64) -> bool {
        t.name.is_some()
            && t.last_seen_ns == now
            && t.touched_ns
                .is_none_or(|at| now.saturating_sub(at) >= self.config.touch_period_ns)
    }

    /// The sample of `t` to learn for its person, if the rules allow one.
    fn learnable<'t>(&self, t: &TrackView<'t>, gallery: &Gallery, now: i64) -> Option<(String, &'t [f32])> {
        let c = &self.config.learning;
        if !c.enabled || !t.confirmed || t.anonymous || t.contested || t.last_seen_ns != now {
            return None;
        }
        let name = t.name?;
        let e = t.fresh_embedding?;
        if t.identity_score < c.min_score || t.identity_margin < c.min_margin || t.fresh_quality < c.min_quality {
            return None;
        }
        if t.learned_at_ns
            .is_some_and(|at| now.saturating_sub(at) < c.min_interval_ns)
        {
            return None;
        }
        // The frame's own evidence must be as clear: the same person, well ahead of the next.
        let m = gallery.best_match(e)?;
        if m.name != name || m.score < c.min_frame_score || m.margin() < c.min_margin {
            return None;
        }
        if gallery.is_anonymous(name) {
            return None;
        }
        let held = gallery.best_similarity_to(name, e)?;
        (held < c.max_similarity).then(|| (name.to_owned(), e))
    }

    /// Whether [`Self::update`] would change anything after the tracker's latest frame: a
    /// stranger to admit, a "last seen" to refresh, a sample to learn or anonymous people who
    /// may have expired. Read-only, so the node can hold the gallery's read lock for it.
    pub fn pending(&self, tracker: &Tracker, gallery: &Gallery) -> bool {
        let Some(now) = tracker.now_ns() else { return false };
        gallery.any_anonymous_expired(now, self.config.anonymous_expire_ns)
            || tracker.tracks().any(|t| {
                self.stranger(&t, now) || self.touch_due(&t, now) || self.learnable(&t, gallery, now).is_some()
            })
    }

    /// After the tracker's latest frame (from camera `source`): strangers become anonymous
    /// people (ids from `source`, the track's first stamp and id: reproducible), named tracks
    /// refresh their person's "last seen", careful learning adds samples, and anonymous people
    /// unseen for `anonymous_expire_ns` are removed. In memory; save a persisted gallery when
    /// [`PeopleUpdate::changed`].
    pub fn update(
        &self,
        tracker: &mut Tracker,
        gallery: &mut Gallery,
        source: &str,
    ) -> Result<PeopleUpdate, PeopleError> {
        let mut out = PeopleUpdate::default();
        let Some(now) = tracker.now_ns() else { return Ok(out) };
        let strangers: Vec<(u64, i64)> = tracker
            .tracks()
            .filter(|t| self.stranger(t, now))
            .map(|t| (t.id, t.first_seen_ns))
            .collect();
        for (id, first_seen_ns) in strangers {
            let samples = tracker.track_samples(id)?;
            let person = gallery.add_anonymous(source, first_seen_ns, id, now, samples)?;
            tracker.set_name(id, &person, true)?;
            tracker.mark_touched(id, now);
            out.admitted.push(person);
            out.changed = true;
        }
        let touch: Vec<(u64, String)> = tracker
            .tracks()
            .filter(|t| self.touch_due(t, now))
            .filter_map(|t| t.name.map(|n| (t.id, n.to_owned())))
            .collect();
        for (id, name) in touch {
            gallery.touch(&name, now);
            tracker.mark_touched(id, now);
        }
        let learn: Vec<(u64, String, Vec<f32>)> = tracker
            .tracks()
            .filter_map(|t| self.learnable(&t, gallery, now).map(|(n, e)| (t.id, n, e.to_vec())))
            .collect();
        for (id, name, e) in learn {
            match gallery.learn(&name, e, self.config.learning.max_per_person)? {
                Learned::Added | Learned::Replaced => {
                    tracker.mark_learned(id, now);
                    out.learned.push(name);
                    out.changed = true;
                }
            }
        }
        out.expired = gallery.expire_anonymous(now, self.config.anonymous_expire_ns);
        if !out.expired.is_empty() {
            out.changed = true;
        }
        Ok(out)
    }

    /// "The person on track `track_id` is `name`": the track's collected samples become
    /// `name`'s (with an anonymous person's, when the track had an anonymous id), and the track
    /// is named at once. Refused with a typed error, the gallery and the track untouched, when
    /// the track ended, was never seen, is not confirmed or has no samples, when it already has
    /// a given name, or when `name` is malformed, reserved (`person_...`) or already used. With
    /// `save`, the gallery is written before the answer; a failed save undoes the change.
    pub fn enroll_track(
        &self,
        tracker: &mut Tracker,
        gallery: &mut Gallery,
        track_id: u64,
        name: &str,
        save: bool,
    ) -> Result<TrackEnrolled, PeopleError> {
        crate::gallery::validate_new_name(name)?;
        let view = tracker.track(track_id)?;
        let current = view.name.map(str::to_owned);
        let anonymous = view.anonymous;
        let samples = tracker.track_samples(track_id)?;
        if let Some(current) = current.as_deref().filter(|_| !anonymous) {
            return Err(PeopleError::TrackNamed {
                id: track_id,
                name: current.to_owned(),
            });
        }
        if gallery.contains(name) {
            return Err(GalleryError::NameTaken(name.to_owned()).into());
        }
        let before = gallery.clone();
        let was_anonymous = match current.filter(|_| anonymous).filter(|id| gallery.is_anonymous(id)) {
            Some(id) => {
                // The samples the track collected since it got its id (the others are held).
                let new: Vec<Vec<f32>> = samples
                    .into_iter()
                    .filter(|s| {
                        gallery
                            .best_similarity_to(&id, s)
                            .is_none_or(|held| held < HELD_SIMILARITY)
                    })
                    .collect();
                gallery.name_anonymous(&id, name, new)?;
                Some(id)
            }
            None => {
                gallery.add_new(name, samples)?;
                None
            }
        };
        if save {
            if let Err(source) = gallery.save() {
                *gallery = before;
                return Err(PeopleError::Save { source });
            }
        }
        tracker.set_name(track_id, name, false)?;
        if let Some(id) = &was_anonymous {
            tracker.rename_person(id, name, false);
        }
        let samples = gallery.people().find(|(n, _)| *n == name).map_or(0, |(_, c)| c);
        Ok(TrackEnrolled {
            name: name.to_owned(),
            track_id,
            samples,
            was_anonymous,
        })
    }

    /// "Anonymous person `id` is `name`", without a track in view (the CLI's `enroll
    /// --from-anonymous`, the node's enroll naming an id): as [`Gallery::name_anonymous`], then
    /// every track of `trackers` with that id is renamed. With `save`, written before the answer;
    /// a failed save undoes the change. Returns the samples `name` has.
    pub fn name_anonymous<'t>(
        gallery: &mut Gallery,
        trackers: impl IntoIterator<Item = &'t mut Tracker>,
        id: &str,
        name: &str,
        save: bool,
    ) -> Result<usize, PeopleError> {
        let before = gallery.clone();
        let samples = gallery.name_anonymous(id, name, Vec::new())?;
        if save {
            if let Err(source) = gallery.save() {
                *gallery = before;
                return Err(PeopleError::Save { source });
            }
        }
        for tracker in trackers {
            tracker.rename_person(id, name, false);
        }
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{BBox, Detection, Point};
    use crate::embed::Embedding;
    use crate::track::{Observation, TrackedFace, TrackerConfig};

    const MS: i64 = 1_000_000;

    fn det(x: f32, size: f32) -> Detection {
        let y = 50.0;
        let p = |fx: f32, fy: f32| Point {
            x: x + fx * size,
            y: y + fy * size,
        };
        Detection {
            bbox: BBox {
                x,
                y,
                width: size,
                height: size * 1.2,
            },
            score: 0.9,
            landmarks: [p(0.3, 0.45), p(0.7, 0.45), p(0.5, 0.65), p(0.35, 0.85), p(0.65, 0.85)],
        }
    }

    /// A unit vector near axis `axis` of 8 dimensions, tilted by `noise` along axis 7.
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

    fn gallery() -> Gallery {
        let mut g = Gallery::in_memory();
        g.add("ada", vec![person(0, 0.0)]).expect("add");
        g.add("bob", vec![person(1, 0.0)]).expect("add");
        g
    }

    fn anonymous() -> People {
        People::new(PeopleConfig {
            anonymous: AnonymousMode::InMemory,
            ..PeopleConfig::default()
        })
    }

    /// One frame at `i` x 100 ms: each face (x, embedding); then the people update.
    fn step(
        people: &People,
        t: &mut Tracker,
        g: &mut Gallery,
        i: i64,
        faces: &[(f32, Option<Embedding>)],
    ) -> (Vec<TrackedFace>, PeopleUpdate) {
        let obs = faces
            .iter()
            .map(|(x, e)| Observation {
                detection: det(*x, 80.0),
                embedding: e.clone(),
            })
            .collect();
        let out = t.update(i * 100 * MS, obs, g);
        let pending = people.pending(t, g);
        let update = people.update(t, g, "/cam").expect("update");
        assert!(
            pending || update == PeopleUpdate::default(),
            "pending missed {update:?}"
        );
        (out, update)
    }

    #[test]
    fn a_stranger_gets_a_stable_anonymous_id_and_is_known_again_on_another_track() {
        let people = anonymous();
        let mut g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let mut admitted = Vec::new();
        let mut last = Vec::new();
        for i in 0..12 {
            let (out, u) = step(
                &people,
                &mut t,
                &mut g,
                i,
                &[(100.0 + i as f32, Some(person(3, 0.05 * (i % 3) as f32)))],
            );
            admitted.extend(u.admitted);
            last = out;
        }
        assert_eq!(admitted.len(), 1, "{admitted:?}");
        let id = admitted[0].clone();
        assert!(crate::gallery::is_anonymous_id(&id), "{id}");
        assert_eq!(last[0].name, id);
        assert!(last[0].anonymous);
        assert!(g.is_anonymous(&id));
        assert_eq!(g.len(), 3, "named people untouched");
        // Another camera (another tracker) sees them later: the same id from the gallery.
        let mut other = Tracker::new(TrackerConfig::default());
        let mut names = Vec::new();
        for i in 100..106 {
            let (out, u) = step(&people, &mut other, &mut g, i, &[(300.0, Some(person(3, 0.1)))]);
            assert!(u.admitted.is_empty());
            names.push(out[0].name.clone());
        }
        assert!(names.iter().all(|n| *n == id), "{names:?}");
        // Known people are never made anonymous.
        let mut t = Tracker::new(TrackerConfig::default());
        for i in 200..215 {
            let (out, u) = step(&people, &mut t, &mut g, i, &[(50.0, Some(person(0, 0.1)))]);
            assert!(u.admitted.is_empty());
            assert_eq!(out[0].name, "ada");
        }
        // The same replay gives the same id.
        let mut g2 = gallery();
        let mut t2 = Tracker::new(TrackerConfig::default());
        let mut again = Vec::new();
        for i in 0..12 {
            let (_, u) = step(
                &people,
                &mut t2,
                &mut g2,
                i,
                &[(100.0 + i as f32, Some(person(3, 0.05 * (i % 3) as f32)))],
            );
            again.extend(u.admitted);
        }
        assert_eq!(again, vec![id]);
    }

    #[test]
    fn off_mode_admits_nobody_and_anonymous_people_expire_unless_named() {
        let off = People::default();
        let mut g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        for i in 0..12 {
            let (out, u) = step(&off, &mut t, &mut g, i, &[(100.0, Some(person(3, 0.0)))]);
            assert!(u.admitted.is_empty());
            assert_eq!(out[0].name, crate::UNKNOWN);
        }
        let people = People::new(PeopleConfig {
            anonymous: AnonymousMode::InMemory,
            anonymous_expire_ns: 10_000 * MS,
            ..PeopleConfig::default()
        });
        let mut t = Tracker::new(TrackerConfig::default());
        let mut ids = Vec::new();
        for i in 0..12 {
            let (_, u) = step(
                &people,
                &mut t,
                &mut g,
                i,
                &[(100.0, Some(person(3, 0.0))), (300.0, Some(person(4, 0.0)))],
            );
            ids.extend(u.admitted);
        }
        assert_eq!(ids.len(), 2, "{ids:?}");
        assert_ne!(ids[0], ids[1]);
        // Name one of them by id; then nobody is seen for longer than the expiry.
        People::name_anonymous(&mut g, [&mut t], &ids[0], "cy", false).expect("named");
        let (_, u) = step(&people, &mut t, &mut g, 300, &[]);
        assert_eq!(u.expired, vec![ids[1].clone()]);
        assert!(g.contains("cy") && !g.contains(&ids[0]) && !g.contains(&ids[1]));
        assert!(g.contains("ada") && g.contains("bob"));
    }

    #[test]
    fn enroll_by_track_names_the_track_with_its_samples_and_refuses_bad_input_cleanly() {
        let people = anonymous();
        let mut g = gallery();
        let mut t = Tracker::new(TrackerConfig::default());
        let mut stranger_track = None;
        let mut ada_track = None;
        for i in 0..12 {
            let (out, _) = step(
                &people,
                &mut t,
                &mut g,
                i,
                &[
                    (100.0, Some(person(3, 0.05 * (i % 4) as f32))),
                    (400.0, Some(person(0, 0.1))),
                ],
            );
            stranger_track = out[0].track_id;
            ada_track = out[1].track_id;
        }
        let (stranger_track, ada_track) = (stranger_track.expect("tracked"), ada_track.expect("tracked"));
        let anon = t
            .track(stranger_track)
            .expect("live")
            .name
            .map(str::to_owned)
            .expect("anonymous id");
        let before: Vec<_> = g.person_info().collect();
        let refused = |r: Result<TrackEnrolled, PeopleError>| r.expect_err("refused");
        // Bad input: each a typed error, the gallery as it was.
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, 999, "dee", false)),
            PeopleError::Track(TrackError::Unknown { id: 999 })
        ));
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, stranger_track, "ada", false)),
            PeopleError::Gallery(GalleryError::NameTaken(_))
        ));
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, ada_track, "dee", false)),
            PeopleError::TrackNamed { .. }
        ));
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, stranger_track, "person_abcd", false)),
            PeopleError::Gallery(GalleryError::ReservedName(_))
        ));
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, stranger_track, "bad/name", false)),
            PeopleError::Gallery(GalleryError::BadName(_))
        ));
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, stranger_track, "dee", true)),
            PeopleError::Save { .. }
        ));
        assert!(matches!(
            People::name_anonymous(&mut g, [&mut t], "person_0000", "dee", false).expect_err("refused"),
            PeopleError::Gallery(GalleryError::UnknownPerson(_))
        ));
        assert!(matches!(
            People::name_anonymous(&mut g, [&mut t], "ada", "dee", false).expect_err("refused"),
            PeopleError::Gallery(GalleryError::NotAnonymous(_))
        ));
        assert_eq!(g.person_info().collect::<Vec<_>>(), before, "gallery intact");
        assert_eq!(t.track(stranger_track).expect("live").name, Some(anon.as_str()));

        // "The person you are looking at is Dee": the anonymous person becomes Dee.
        let done = people
            .enroll_track(&mut t, &mut g, stranger_track, "dee", false)
            .expect("enrolled");
        assert_eq!(done.was_anonymous.as_deref(), Some(anon.as_str()));
        let held = before.iter().find(|p| p.name == anon).map(|p| p.samples);
        assert_eq!(
            Some(done.samples),
            held,
            "the track's samples are the anonymous person's: {done:?}"
        );
        assert!(g.contains("dee") && !g.contains(&anon) && !g.is_anonymous("dee"));
        let (out, _) = step(
            &people,
            &mut t,
            &mut g,
            12,
            &[(100.0, Some(person(3, 0.1))), (400.0, Some(person(0, 0.1)))],
        );
        assert_eq!(out[0].name, "dee");
        assert!(!out[0].anonymous);
        // Dee is recognised on a new track later.
        let mut t2 = Tracker::new(TrackerConfig::default());
        let (out, _) = step(&people, &mut t2, &mut g, 20, &[(200.0, Some(person(3, 0.12)))]);
        assert_eq!(out[0].name, "dee");
        // The track ends: naming it is refused as ended.
        for i in 40..42 {
            step(&people, &mut t, &mut g, i, &[]);
        }
        assert!(matches!(
            refused(people.enroll_track(&mut t, &mut g, stranger_track, "eve", false)),
            PeopleError::Track(TrackError::Ended { .. })
        ));
        // A tentative track is refused as not confirmed, without an anonymous mode too.
        let off = People::default();
        let (out, _) = step(&off, &mut t, &mut g, 43, &[(100.0, Some(person(5, 0.0)))]);
        let new_track = out[0].track_id.expect("tracked");
        assert!(matches!(
            refused(off.enroll_track(&mut t, &mut g, new_track, "eve", false)),
            PeopleError::Track(TrackError::NotConfirmed { .. })
        ));
        for i in 44..47 {
            step(&off, &mut t, &mut g, i, &[(100.0, Some(person(5, 0.0)))]);
        }
        let done = off
            .enroll_track(&mut t, &mut g, new_track, "eve", false)
            .expect("enrolled");
        assert_eq!(done.was_anonymous, None);
        assert!(g.contains("eve"));
    }

    #[test]
    fn learning_adds_novel_confident_samples_capped_and_never_from_strangers() {
        let people = People::new(PeopleConfig {
            anonymous: AnonymousMode::Off,
            learning: LearningConfig {
                enabled: true,
                min_interval_ns: 0,
                max_per_person: 2,
                ..LearningConfig::default()
            },
            ..PeopleConfig::default()
        });
        let mut g = gallery();
        let mut t = Tracker::new(TrackerConfig {
            reembed_every: 1,
            ..TrackerConfig::default()
        });
        // Ada turning: views that still match her clearly (0.71) but are new to the gallery and
        // to each other (0.5).
        let turned = |i: i64| {
            let mut v = vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
            if let Some(x) = v.get_mut(4 + (i % 4) as usize) {
                *x = if i % 4 == 0 { 0.0 } else { 1.0 };
            }
            crate::embed::normalize(&v)
        };
        let mut learned = Vec::new();
        for i in 0..30 {
            let (out, u) = step(&people, &mut t, &mut g, i, &[(100.0, Some(turned(i)))]);
            assert_eq!(out[0].name, "ada", "frame {i}");
            learned.extend(u.learned);
        }
        assert!(!learned.is_empty());
        assert!(learned.iter().all(|n| n == "ada"));
        let ada = g.person_info().find(|p| p.name == "ada").expect("ada");
        assert_eq!((ada.samples, ada.learned), (1, 2), "capped at 2, enrolled sample kept");
        // A stranger (and an ambiguous face between Ada and Bob) never teaches anybody.
        let mut t = Tracker::new(TrackerConfig::default());
        let between = crate::embed::normalize(&[1.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        for i in 100..130 {
            let (_, u) = step(
                &people,
                &mut t,
                &mut g,
                i,
                &[(100.0, Some(person(4, 0.1))), (400.0, Some(between.clone()))],
            );
            assert!(u.learned.is_empty(), "{u:?}");
        }
        let bob = g.person_info().find(|p| p.name == "bob").expect("bob");
        assert_eq!(bob.learned, 0);
    }

    #[test]
    fn in_memory_anonymous_people_are_not_saved_and_persisted_ones_are() {
        let dir = tempfile::tempdir().expect("tmp");
        for (mode, kept) in [(AnonymousMode::InMemory, false), (AnonymousMode::Persisted, true)] {
            let path = dir.path().join(format!("{mode:?}.yaml"));
            let mut g = Gallery::open_or_create(&path).expect("new");
            g.bind_model(&crate::gallery::ModelTag {
                file: "m.onnx".into(),
                sha256: "a".into(),
                dim: 8,
            })
            .expect("bind");
            g.add("ada", vec![person(0, 0.0)]).expect("add");
            let people = People::new(PeopleConfig {
                anonymous: mode,
                ..PeopleConfig::default()
            });
            people.attach(&mut g);
            let mut t = Tracker::new(TrackerConfig::default());
            let mut ids = Vec::new();
            for i in 0..12 {
                let (_, u) = step(&people, &mut t, &mut g, i, &[(100.0, Some(person(3, 0.0)))]);
                ids.extend(u.admitted);
            }
            assert_eq!(ids.len(), 1);
            g.save().expect("save");
            let loaded = Gallery::load(&path).expect("loads");
            assert_eq!(loaded.contains(&ids[0]), kept, "{mode:?}");
            assert_eq!(loaded.is_anonymous(&ids[0]), kept);
            assert!(loaded.contains("ada"));
        }
    }
}
