//! ROS4HRI (REP-155) output: the faces a camera's tracker follows as `/humans/faces/tracked`
//! and per face `/humans/faces/<face_id>/{roi,cropped,aligned,landmarks}`, who they are as
//! `/humans/candidate_matches` (person <-> face, confidence 0 when the face is lost), and per
//! person the latched `/humans/persons/<person_id>/{name,anonymous}`.
//!
//! Ids: a face id is a confirmed track (`f<camera>_<track>`: transient, dies with its track,
//! and comes back with it when the tracker re-identifies the person); a person id is the
//! gallery's permanent id ([`crate::gallery::Gallery::person_id`]): never the name.
//!
//! Two halves: [`HriFrame::build`] (worker side: pure conversions of one frame's tracked faces,
//! crops included) and [`HriPublisher`] (publisher thread: owns the node, creates and retires
//! the per-face and per-person publishers as ids come and go).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use image::{imageops, RgbImage};
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Node, Publisher, QosProfile};

use super::convert;
use crate::align;
use crate::detect::Detection;
use crate::frame::Frame;
use crate::ros::dds::{self, DdsError};
use crate::ros::msgs::{
    BoolMsg, FacialLandmarks, Header, IdsList, IdsMatch, Image, NormalizedPointOfInterest2D,
    NormalizedRegionOfInterest2D, StringMsg,
};

/// Side of the `cropped` and `aligned` face images (REP-155's default `/humans/faces/width`
/// and `height`).
pub const FACE_IMAGE_PX: u32 = 128;

/// A face's publishers are kept this long after its last frame (a face missed for a frame or
/// two keeps its topics), then retired.
const FACE_TOPICS_KEPT: Duration = Duration::from_secs(5);

/// At most this many people keep their latched topics (the oldest seen are retired first).
const MAX_PERSONS: usize = 1024;

/// The REP-155 face id of track `track` on camera `camera`.
pub fn face_id(camera: usize, track: u64) -> String {
    format!("f{camera}_{track}")
}

/// One face of a frame, ready to publish.
pub struct HriFace {
    pub face_id: String,
    /// The person the face is, when the track has a name or an anonymous id.
    pub person: Option<HriPerson>,
    /// Identity confidence in 0..1 (the track's identity score, clamped).
    pub confidence: f32,
    pub roi: NormalizedRegionOfInterest2D,
    pub landmarks: FacialLandmarks,
    pub cropped: Image,
    /// Missing when the landmarks are degenerate.
    pub aligned: Option<Image>,
}

/// Who a face is.
#[derive(Debug, Clone, PartialEq)]
pub struct HriPerson {
    pub person_id: String,
    /// A given name; `None` for an anonymous person.
    pub name: Option<String>,
}

/// One camera frame's REP-155 content.
pub struct HriFrame {
    pub camera: usize,
    pub header: Header,
    pub faces: Vec<HriFace>,
}

/// A tracked face as the worker hands it over: its track, detection, identity.
pub struct TrackedInput<'a> {
    pub track: u64,
    pub detection: &'a Detection,
    pub person: Option<HriPerson>,
    pub score: f32,
}

impl HriFrame {
    /// The REP-155 messages of one frame's confirmed tracks.
    pub fn build(camera: usize, header: &Header, frame: &Frame, faces: &[TrackedInput<'_>]) -> Self {
        let (w, h) = (frame.width(), frame.height());
        let faces = faces
            .iter()
            .map(|f| HriFace {
                face_id: face_id(camera, f.track),
                person: f.person.clone(),
                confidence: f.score.clamp(0.0, 1.0),
                roi: roi_of(f.detection, w, h, header),
                landmarks: landmarks_of(f.detection, w, h, header),
                cropped: convert::image_from_rgb(cropped(frame.rgb(), f.detection), header),
                aligned: align::align(frame, &f.detection.landmarks).map(|a| {
                    let big = imageops::resize(&a, FACE_IMAGE_PX, FACE_IMAGE_PX, imageops::FilterType::Triangle);
                    convert::image_from_rgb(big, header)
                }),
            })
            .collect();
        Self {
            camera,
            header: header.clone(),
            faces,
        }
    }
}

fn unit(v: f32, size: u32) -> f32 {
    if size == 0 {
        0.0
    } else {
        (v / size as f32).clamp(0.0, 1.0)
    }
}

/// The face's box in [0, 1] of the image size, the detector's score as confidence.
pub fn roi_of(d: &Detection, width: u32, height: u32, header: &Header) -> NormalizedRegionOfInterest2D {
    let b = d.bbox;
    NormalizedRegionOfInterest2D {
        header: header.clone(),
        xmin: unit(b.x, width),
        ymin: unit(b.y, height),
        xmax: unit(b.x + b.width, width),
        ymax: unit(b.y + b.height, height),
        c: d.score,
    }
}

/// The five landmarks in their FacialLandmarks slots (the image's left eye is the subject's
/// right pupil), in [0, 1] of the image size; the other slots stay zero.
pub fn landmarks_of(d: &Detection, width: u32, height: u32, header: &Header) -> FacialLandmarks {
    let mut out = FacialLandmarks {
        header: header.clone(),
        width,
        height,
        ..FacialLandmarks::default()
    };
    let slots = [
        FacialLandmarks::RIGHT_PUPIL,
        FacialLandmarks::LEFT_PUPIL,
        FacialLandmarks::NOSE,
        FacialLandmarks::MOUTH_OUTER_RIGHT,
        FacialLandmarks::MOUTH_OUTER_LEFT,
    ];
    for (slot, p) in slots.into_iter().zip(&d.landmarks) {
        if let Some(point) = out.landmarks.get_mut(slot) {
            *point = NormalizedPointOfInterest2D {
                x: unit(p.x, width),
                y: unit(p.y, height),
                c: d.score,
            };
        }
    }
    out
}

/// The face's box cut from the frame, scaled to fit [`FACE_IMAGE_PX`] and centred on black.
pub fn cropped(rgb: &RgbImage, d: &Detection) -> RgbImage {
    let mut out = RgbImage::new(FACE_IMAGE_PX, FACE_IMAGE_PX);
    let b = d.bbox;
    let x0 = (b.x.max(0.0) as u32).min(rgb.width());
    let y0 = (b.y.max(0.0) as u32).min(rgb.height());
    let x1 = ((b.x + b.width).max(0.0).ceil() as u32).min(rgb.width());
    let y1 = ((b.y + b.height).max(0.0).ceil() as u32).min(rgb.height());
    if x1 <= x0 || y1 <= y0 {
        return out;
    }
    let (cw, ch) = (x1 - x0, y1 - y0);
    let scale = FACE_IMAGE_PX as f32 / cw.max(ch) as f32;
    let (sw, sh) = (
        ((cw as f32 * scale).round() as u32).clamp(1, FACE_IMAGE_PX),
        ((ch as f32 * scale).round() as u32).clamp(1, FACE_IMAGE_PX),
    );
    let crop = imageops::crop_imm(rgb, x0, y0, cw, ch).to_image();
    let scaled = imageops::resize(&crop, sw, sh, imageops::FilterType::Triangle);
    imageops::replace(
        &mut out,
        &scaled,
        i64::from((FACE_IMAGE_PX - sw) / 2),
        i64::from((FACE_IMAGE_PX - sh) / 2),
    );
    out
}

/// Reliable, volatile (the node's output QoS): how libhri reads face topics.
fn faces_qos(depth: usize) -> QosProfile {
    super::output_qos(depth)
}

/// Reliable, transient-local, the last value: person topics, latched as REP-155 asks.
fn latched_qos() -> QosProfile {
    QosProfile::publisher_default()
        .reliability_reliable(WhenFull::DEFAULT)
        .durability(Durability::TransientLocal)
        .history(History::KeepLast { depth: 1 })
}

struct FaceTopics {
    roi: Publisher<NormalizedRegionOfInterest2D>,
    cropped: Publisher<Image>,
    aligned: Publisher<Image>,
    landmarks: Publisher<FacialLandmarks>,
    /// The person it was last matched with (for the confidence-0 match when lost).
    person: Option<String>,
    last_frame: Instant,
    /// In the last tracked list published.
    tracked: bool,
}

struct PersonTopics {
    name: Publisher<StringMsg>,
    anonymous: Publisher<BoolMsg>,
    /// What was published last (republished on change: a stranger given a name).
    published: Option<HriPerson>,
    last_seen: Instant,
}

/// The REP-155 publishers; lives on the publisher thread with the node.
pub struct HriPublisher {
    tracked: Publisher<IdsList>,
    matches: Publisher<IdsMatch>,
    faces: HashMap<String, FaceTopics>,
    persons: HashMap<String, PersonTopics>,
    /// Face ids of each camera's last frame (the tracked list is their union), with when that
    /// frame was published and its header.
    per_camera: BTreeMap<usize, CameraFaces>,
    /// Stamps the tracked list of a camera gone quiet (no frame header to copy).
    clock: dds::RosClock,
}

struct CameraFaces {
    ids: BTreeSet<String>,
    at: Instant,
    header: Header,
}

impl HriPublisher {
    pub fn new(node: &mut Node) -> Result<Self, DdsError> {
        Ok(Self {
            tracked: dds::publisher(node, "/humans/faces/tracked", faces_qos(10))?,
            matches: dds::publisher(node, "/humans/candidate_matches", faces_qos(10))?,
            faces: HashMap::new(),
            persons: HashMap::new(),
            per_camera: BTreeMap::new(),
            clock: dds::RosClock::of(node),
        })
    }

    /// Publishes one frame: the tracked list (all cameras' faces, this frame's header), each
    /// face's topics, the matches, and the people's latched topics; a face that left gets its
    /// confidence-0 match. Publisher errors are logged, never fatal.
    pub fn publish(&mut self, node: &mut Node, frame: HriFrame) {
        let now = Instant::now();
        let ids: BTreeSet<String> = frame.faces.iter().map(|f| f.face_id.clone()).collect();
        let before = self
            .per_camera
            .insert(
                frame.camera,
                CameraFaces {
                    ids,
                    at: now,
                    header: frame.header.clone(),
                },
            )
            .map(|c| c.ids)
            .unwrap_or_default();
        for face in frame.faces {
            self.publish_face(node, face, now);
        }
        self.publish_tracked(&before, frame.header, now);
    }

    /// A camera that sent no frame for `quiet` (stopped, or its frames are dropped) has lost
    /// its faces: they leave the tracked list and get their confidence-0 match. Called between
    /// frames.
    pub fn expire(&mut self, quiet: Duration) {
        let now = Instant::now();
        let stale: Vec<usize> = self
            .per_camera
            .iter()
            .filter(|(_, c)| !c.ids.is_empty() && now.duration_since(c.at) >= quiet)
            .map(|(camera, _)| *camera)
            .collect();
        for camera in stale {
            let Some(c) = self.per_camera.get_mut(&camera) else {
                continue;
            };
            let before = std::mem::take(&mut c.ids);
            let header = Header {
                stamp: self.clock.now(),
                frame_id: c.header.frame_id.clone(),
            };
            self.publish_tracked(&before, header, now);
        }
    }

    /// The tracked list now, and the confidence-0 match of each face of `before` no camera
    /// holds any more.
    fn publish_tracked(&mut self, before: &BTreeSet<String>, header: Header, now: Instant) {
        let current: BTreeSet<&String> = self.per_camera.values().flat_map(|c| &c.ids).collect();
        for gone in before.iter().filter(|id| !current.contains(id)) {
            if let Some(topics) = self.faces.get_mut(gone) {
                topics.tracked = false;
                if let Some(person) = &topics.person {
                    warn_on_error(
                        "candidate match",
                        self.matches.publish(IdsMatch {
                            id1: person.clone(),
                            id1_type: IdsMatch::PERSON,
                            id2: gone.clone(),
                            id2_type: IdsMatch::FACE,
                            confidence: 0.0,
                        }),
                    );
                }
            }
        }
        warn_on_error(
            "/humans/faces/tracked",
            self.tracked.publish(IdsList {
                header,
                ids: current.into_iter().cloned().collect(),
            }),
        );
        self.faces
            .retain(|_, t| t.tracked || now.duration_since(t.last_frame) < FACE_TOPICS_KEPT);
    }

    fn publish_face(&mut self, node: &mut Node, face: HriFace, now: Instant) {
        let id = face.face_id;
        if !self.faces.contains_key(&id) {
            match face_topics(node, &id, now) {
                Ok(t) => {
                    self.faces.insert(id.clone(), t);
                }
                Err(e) => {
                    tracing::warn!(
                        "ROS4HRI: cannot create the topics of face {id}: {}",
                        crate::error_chain(&e)
                    );
                    return;
                }
            }
        }
        let Some(topics) = self.faces.get_mut(&id) else { return };
        topics.last_frame = now;
        topics.tracked = true;
        warn_on_error("face roi", topics.roi.publish(face.roi));
        warn_on_error("face landmarks", topics.landmarks.publish(face.landmarks));
        warn_on_error("face cropped", topics.cropped.publish(face.cropped));
        if let Some(aligned) = face.aligned {
            warn_on_error("face aligned", topics.aligned.publish(aligned));
        }
        let Some(person) = face.person else {
            topics.person = None;
            return;
        };
        topics.person = Some(person.person_id.clone());
        warn_on_error(
            "candidate match",
            self.matches.publish(IdsMatch {
                id1: person.person_id.clone(),
                id1_type: IdsMatch::PERSON,
                id2: id,
                id2_type: IdsMatch::FACE,
                confidence: face.confidence,
            }),
        );
        self.publish_person(node, person, now);
    }

    fn publish_person(&mut self, node: &mut Node, person: HriPerson, now: Instant) {
        let pid = person.person_id.clone();
        if !self.persons.contains_key(&pid) {
            if self.persons.len() >= MAX_PERSONS {
                let oldest = self
                    .persons
                    .iter()
                    .min_by_key(|(_, t)| t.last_seen)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.persons.remove(&k);
                }
            }
            let topics = (|| -> Result<PersonTopics, DdsError> {
                Ok(PersonTopics {
                    name: dds::publisher(node, &format!("/humans/persons/{pid}/name"), latched_qos())?,
                    anonymous: dds::publisher(node, &format!("/humans/persons/{pid}/anonymous"), latched_qos())?,
                    published: None,
                    last_seen: now,
                })
            })();
            match topics {
                Ok(t) => {
                    self.persons.insert(pid.clone(), t);
                }
                Err(e) => {
                    tracing::warn!(
                        "ROS4HRI: cannot create the topics of person {pid}: {}",
                        crate::error_chain(&e)
                    );
                    return;
                }
            }
        }
        let Some(topics) = self.persons.get_mut(&pid) else {
            return;
        };
        topics.last_seen = now;
        if topics.published.as_ref() == Some(&person) {
            return;
        }
        if let Some(name) = &person.name {
            warn_on_error("person name", topics.name.publish(StringMsg { data: name.clone() }));
        }
        warn_on_error(
            "person anonymous",
            topics.anonymous.publish(BoolMsg {
                data: person.name.is_none(),
            }),
        );
        topics.published = Some(person);
    }
}

fn face_topics(node: &mut Node, id: &str, now: Instant) -> Result<FaceTopics, DdsError> {
    let base = format!("/humans/faces/{id}");
    Ok(FaceTopics {
        roi: dds::publisher(node, &format!("{base}/roi"), faces_qos(1))?,
        cropped: dds::publisher(node, &format!("{base}/cropped"), faces_qos(1))?,
        aligned: dds::publisher(node, &format!("{base}/aligned"), faces_qos(1))?,
        landmarks: dds::publisher(node, &format!("{base}/landmarks"), faces_qos(1))?,
        person: None,
        last_frame: now,
        tracked: true,
    })
}

fn warn_on_error<E: std::fmt::Display>(what: &str, result: Result<(), E>) {
    if let Err(e) = result {
        tracing::debug!("ROS4HRI: publishing {what} failed: {e}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::detect::{BBox, Point};

    fn det() -> Detection {
        Detection {
            bbox: BBox {
                x: 100.0,
                y: 50.0,
                width: 80.0,
                height: 100.0,
            },
            score: 0.93,
            landmarks: [
                Point { x: 120.0, y: 90.0 },
                Point { x: 160.0, y: 90.0 },
                Point { x: 140.0, y: 110.0 },
                Point { x: 125.0, y: 130.0 },
                Point { x: 155.0, y: 130.0 },
            ],
        }
    }

    #[test]
    fn roi_and_landmarks_are_normalised_into_their_slots() {
        let h = Header::default();
        let roi = roi_of(&det(), 400, 200, &h);
        assert_eq!(
            (roi.xmin, roi.ymin, roi.xmax, roi.ymax, roi.c),
            (0.25, 0.25, 0.45, 0.75, 0.93)
        );
        let lm = landmarks_of(&det(), 400, 200, &h);
        assert_eq!((lm.width, lm.height), (400, 200));
        let right = lm.landmarks[FacialLandmarks::RIGHT_PUPIL];
        assert_eq!(
            (right.x, right.y),
            (0.3, 0.45),
            "the image's left eye is the subject's right"
        );
        assert_eq!(lm.landmarks[FacialLandmarks::LEFT_PUPIL].x, 0.4);
        assert_eq!(lm.landmarks[FacialLandmarks::NOSE].y, 0.55);
        assert_eq!(lm.landmarks[FacialLandmarks::MOUTH_OUTER_LEFT].x, 155.0 / 400.0);
        let set = lm.landmarks.iter().filter(|p| p.c > 0.0).count();
        assert_eq!(set, 5, "only the five slots facerec knows");
        // A box hanging over the border is clamped.
        let mut outside = det();
        outside.bbox.x = -20.0;
        assert_eq!(roi_of(&outside, 400, 200, &h).xmin, 0.0);
    }

    #[test]
    fn crops_are_scaled_centred_and_padded() {
        let rgb = RgbImage::from_pixel(400, 200, image::Rgb([200, 10, 10]));
        let c = cropped(&rgb, &det());
        assert_eq!(c.dimensions(), (FACE_IMAGE_PX, FACE_IMAGE_PX));
        // 80x100 -> 102x128: black bars left and right, face in the middle.
        assert_eq!(c.get_pixel(0, 64).0, [0, 0, 0]);
        assert_eq!(c.get_pixel(64, 64).0, [200, 10, 10]);
        assert_eq!(c.get_pixel(64, 0).0, [200, 10, 10]);
        // A box entirely outside the frame gives a black image, no panic.
        let mut gone = det();
        gone.bbox.x = 1000.0;
        assert!(cropped(&rgb, &gone).pixels().all(|p| p.0 == [0, 0, 0]));
    }

    #[test]
    fn frames_build_one_face_per_track_with_stable_ids() {
        let frame = Frame::from_rgb(RgbImage::from_pixel(400, 200, image::Rgb([90, 90, 90])));
        let d = det();
        let person = HriPerson {
            person_id: "person_0123456789ab".into(),
            name: Some("ada".into()),
        };
        let faces = [TrackedInput {
            track: 7,
            detection: &d,
            person: Some(person.clone()),
            score: 1.2,
        }];
        let header = Header {
            frame_id: "cam".into(),
            ..Header::default()
        };
        let out = HriFrame::build(2, &header, &frame, &faces);
        assert_eq!(out.faces.len(), 1);
        let f = &out.faces[0];
        assert_eq!(f.face_id, "f2_7");
        assert_eq!(f.person.as_ref(), Some(&person));
        assert_eq!(f.confidence, 1.0, "clamped");
        assert_eq!((f.cropped.width, f.cropped.height), (128, 128));
        let aligned = f.aligned.as_ref().expect("landmarks are fine");
        assert_eq!(
            (aligned.width, aligned.height, aligned.header.frame_id.as_str()),
            (128, 128, "cam")
        );
    }
}
