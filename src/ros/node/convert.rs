//! Conversions between ROS messages and the library's types: camera messages into frames,
//! recognitions (per frame) and tracked faces (per track, with their track id) into
//! `vision_msgs/Detection2D` and `facerec/Face`, an RGB image into `sensor_msgs/Image`. Small
//! pure functions; no I/O.

use image::RgbImage;

use crate::detect::Detection;
use crate::frame::{Frame, FrameError, FrameLimits};
use crate::locate::{DepthMap, FacePosition, Intrinsics, LocateError, PositionSource};
use crate::pipeline::Recognition;
use crate::ros::msgs::{
    BoundingBox2D, CameraInfo, CompressedImage, Detection2D, Detection2DArray, Face, FaceArray, Header, Image,
    ObjectHypothesis, ObjectHypothesisWithPose, Point, Point2D, Pose2D,
};
use crate::track::TrackedFace;

/// A `sensor_msgs/Image` as a frame: [`Frame::from_image_message`] (sizes, step, data length
/// and encoding checked by `frame`'s rules, within `limits`), the conversion replay uses too.
pub fn frame_from_image(msg: Image, limits: FrameLimits) -> Result<Frame, FrameError> {
    Frame::from_image_message(&msg.encoding, msg.width, msg.height, msg.step, msg.data, limits)
}

/// A `sensor_msgs/CompressedImage` (JPEG or PNG) as a frame: [`Frame::from_compressed_message`],
/// the conversion replay uses too. The decoded size is checked against `limits` from the
/// image's header before decoding.
pub fn frame_from_compressed(msg: &CompressedImage, limits: FrameLimits) -> Result<Frame, FrameError> {
    Frame::from_compressed_message(&msg.format, &msg.data, limits)
}

/// One face as published, from a per-frame [`Recognition`] or a [`TrackedFace`]: what both
/// output messages are made from.
#[derive(Debug, Clone, Copy)]
pub struct FaceOut<'a> {
    pub detection: &'a Detection,
    /// A given name, an anonymous id or `unknown`.
    pub name: &'a str,
    /// The track's identity score with tracking, else the frame's best match.
    pub score: f32,
    pub margin: f32,
    pub track_id: Option<u64>,
    pub confirmed: bool,
    pub anonymous: bool,
    /// This frame's own best-match score; `None` when the face was not embedded this frame.
    pub frame_score: Option<f32>,
    /// Where the face is, when the camera's intrinsics are known.
    pub position: Option<FacePosition>,
}

impl<'a> FaceOut<'a> {
    /// A face named on its own (tracking off): no track; `anonymous` when the gallery holds
    /// `r.name` as an anonymous person.
    pub fn from_recognition(r: &'a Recognition, anonymous: bool) -> Self {
        Self {
            detection: &r.detection,
            name: &r.name,
            score: r.score,
            margin: r.margin,
            track_id: None,
            confirmed: false,
            anonymous,
            frame_score: Some(r.score),
            position: None,
        }
    }

    /// A face with its track and the track's identity.
    pub fn from_tracked(f: &'a TrackedFace) -> Self {
        Self {
            detection: &f.detection,
            name: &f.name,
            score: f.identity_score,
            margin: f.identity_margin,
            track_id: f.track_id,
            confirmed: f.confirmed,
            anonymous: f.anonymous,
            frame_score: f.frame_score,
            position: None,
        }
    }

    /// The track id as published (`Detection2D.id`, `Face.track_id`): decimal, empty untracked.
    pub fn track_id_text(&self) -> String {
        self.track_id.map(|id| id.to_string()).unwrap_or_default()
    }
}

fn hypothesis(f: &FaceOut<'_>) -> ObjectHypothesisWithPose {
    ObjectHypothesisWithPose {
        hypothesis: ObjectHypothesis {
            class_id: f.name.to_owned(),
            score: f64::from(f.score),
        },
        ..ObjectHypothesisWithPose::default()
    }
}

/// One face as a `vision_msgs/Detection2D`: the name (or `unknown`) as class id, the similarity
/// as score, the box centre and size in image pixels, the image's header, the track id as `id`.
pub fn detection_from_face(f: &FaceOut<'_>, header: &Header) -> Detection2D {
    let b = f.detection.bbox;
    let c = b.center();
    Detection2D {
        header: header.clone(),
        results: vec![hypothesis(f)],
        bbox: BoundingBox2D {
            center: Pose2D {
                position: Point2D {
                    x: f64::from(c.x),
                    y: f64::from(c.y),
                },
                theta: 0.0,
            },
            size_x: f64::from(b.width),
            size_y: f64::from(b.height),
        },
        id: f.track_id_text(),
    }
}

/// A per-frame recognition as a `vision_msgs/Detection2D` (no track: `id` empty).
pub fn detection_from_recognition(r: &Recognition, header: &Header) -> Detection2D {
    detection_from_face(&FaceOut::from_recognition(r, false), header)
}

/// All faces of one image as a `vision_msgs/Detection2DArray`.
pub fn detection_array_of(faces: &[FaceOut<'_>], header: &Header) -> Detection2DArray {
    Detection2DArray {
        header: header.clone(),
        detections: faces.iter().map(|f| detection_from_face(f, header)).collect(),
    }
}

/// All per-frame recognitions of one image as a `vision_msgs/Detection2DArray`.
pub fn detection_array(recognitions: &[Recognition], header: &Header) -> Detection2DArray {
    let faces: Vec<FaceOut<'_>> = recognitions
        .iter()
        .map(|r| FaceOut::from_recognition(r, false))
        .collect();
    detection_array_of(&faces, header)
}

/// One face as a `facerec/Face`.
pub fn face_msg(f: &FaceOut<'_>, camera_topic: &str) -> Face {
    let d = f.detection;
    let mut landmarks = [0.0f32; 10];
    for ([x, y], p) in landmarks.as_chunks_mut::<2>().0.iter_mut().zip(&d.landmarks) {
        (*x, *y) = (p.x, p.y);
    }
    Face {
        name: f.name.to_owned(),
        score: f.score,
        margin: f.margin,
        detection_score: d.score,
        x: d.bbox.x,
        y: d.bbox.y,
        width: d.bbox.width,
        height: d.bbox.height,
        landmarks,
        camera_topic: camera_topic.to_owned(),
        track_id: f.track_id_text(),
        track_confirmed: f.confirmed,
        anonymous: f.anonymous,
        frame_score: f.frame_score.unwrap_or(f32::NAN),
        has_position: f.position.is_some(),
        position: f.position.map(point_of).unwrap_or_default(),
        position_source: match f.position.map(|p| p.source) {
            None => Face::POSITION_NONE,
            Some(PositionSource::Monocular) => Face::POSITION_MONOCULAR,
            Some(PositionSource::Depth) => Face::POSITION_DEPTH,
        },
    }
}

/// A located face's optical-frame position as a `geometry_msgs/Point`.
pub fn point_of(p: FacePosition) -> Point {
    let [x, y, z] = p.optical_m;
    Point { x, y, z }
}

/// One per-frame recognition as a `facerec/Face`.
pub fn face_from_recognition(r: &Recognition, camera_topic: &str) -> Face {
    face_msg(&FaceOut::from_recognition(r, false), camera_topic)
}

/// All faces of one image as a `facerec/FaceArray`.
pub fn face_array_of(faces: &[FaceOut<'_>], header: &Header, camera_topic: &str) -> FaceArray {
    FaceArray {
        header: header.clone(),
        faces: faces.iter().map(|f| face_msg(f, camera_topic)).collect(),
    }
}

/// All per-frame recognitions of one image as a `facerec/FaceArray`.
pub fn face_array(recognitions: &[Recognition], header: &Header, camera_topic: &str) -> FaceArray {
    let faces: Vec<FaceOut<'_>> = recognitions
        .iter()
        .map(|r| FaceOut::from_recognition(r, false))
        .collect();
    face_array_of(&faces, header, camera_topic)
}

/// A `sensor_msgs/CameraInfo`'s intrinsics (`k`: fx, cx, fy, cy), for images of its size.
pub fn intrinsics_of(info: &CameraInfo) -> Result<Intrinsics, LocateError> {
    let [fx, _, cx, _, fy, cy, _, _, _] = info.k;
    Intrinsics::new(fx, fy, cx, cy, info.width, info.height)
}

/// An aligned depth image (`16UC1` millimetres, or `32FC1` metres) as a [`DepthMap`]; any other
/// encoding, or data that does not fit its size, is refused with the reason.
pub fn depth_of(msg: &Image) -> Result<DepthMap, String> {
    let (width, height, step) = (msg.width as usize, msg.height as usize, msg.step as usize);
    let bytes_per_px = match msg.encoding.as_str() {
        "16UC1" | "mono16" => 2,
        "32FC1" => 4,
        other => {
            return Err(format!(
                "encoding {other:?}: expected 16UC1 (millimetres) or 32FC1 (metres)"
            ))
        }
    };
    let row_bytes = width
        .checked_mul(bytes_per_px)
        .filter(|r| *r <= step)
        .ok_or_else(|| format!("step {step} is less than {width} pixels of {bytes_per_px} bytes"))?;
    let needed = step
        .checked_mul(height)
        .ok_or_else(|| format!("{width}x{height} is too large"))?;
    if msg.data.len() < needed {
        return Err(format!(
            "{} data bytes for {height} rows of {step} bytes",
            msg.data.len()
        ));
    }
    let big_endian = msg.is_bigendian != 0;
    let mut metres = Vec::with_capacity(width * height);
    for row in msg.data.chunks_exact(step.max(1)).take(height) {
        let pixels = row.get(..row_bytes).unwrap_or_default();
        if bytes_per_px == 2 {
            metres.extend(pixels.chunks_exact(2).map(|b| {
                let a: [u8; 2] = b.try_into().unwrap_or([0; 2]);
                let mm = if big_endian {
                    u16::from_be_bytes(a)
                } else {
                    u16::from_le_bytes(a)
                };
                f32::from(mm) * 1e-3
            }));
        } else {
            metres.extend(pixels.chunks_exact(4).map(|b| {
                let a: [u8; 4] = b.try_into().unwrap_or([0; 4]);
                if big_endian {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                }
            }));
        }
    }
    DepthMap::new(msg.width, msg.height, metres).map_err(|e| e.to_string())
}

/// An RGB image as an `rgb8` `sensor_msgs/Image`.
pub fn image_from_rgb(rgb: RgbImage, header: &Header) -> Image {
    let (width, height) = rgb.dimensions();
    Image {
        header: header.clone(),
        height,
        width,
        encoding: "rgb8".to_owned(),
        is_bigendian: 0,
        step: width.saturating_mul(3),
        data: rgb.into_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{BBox, Detection, Point};
    use crate::ros::msgs::Time;

    fn header() -> Header {
        Header {
            stamp: Time { sec: 12, nanosec: 345 },
            frame_id: "head_camera".into(),
        }
    }

    fn image(width: u32, height: u32, step: u32, encoding: &str, len: usize) -> Image {
        Image {
            header: header(),
            height,
            width,
            encoding: encoding.into(),
            is_bigendian: 0,
            step,
            data: (0..len).map(|i| (i % 251) as u8).collect(),
        }
    }

    fn recognition() -> Recognition {
        Recognition {
            name: "ann".into(),
            score: 0.75,
            margin: 0.25,
            best_candidate: Some("ann".into()),
            detection: Detection {
                bbox: BBox {
                    x: 10.0,
                    y: 20.0,
                    width: 30.0,
                    height: 40.0,
                },
                score: 0.99,
                landmarks: [
                    Point { x: 1.0, y: 2.0 },
                    Point { x: 3.0, y: 4.0 },
                    Point { x: 5.0, y: 6.0 },
                    Point { x: 7.0, y: 8.0 },
                    Point { x: 9.0, y: 10.0 },
                ],
            },
        }
    }

    #[test]
    fn valid_images_convert() {
        for (enc, ch) in [("rgb8", 3), ("bgr8", 3), ("rgba8", 4), ("bgra8", 4), ("mono8", 1)] {
            let f = frame_from_image(image(4, 3, 4 * ch, enc, 12 * ch as usize), FrameLimits::default()).expect(enc);
            assert_eq!((f.width(), f.height()), (4, 3), "{enc}");
        }
        // Padded rows.
        let f = frame_from_image(image(4, 3, 16, "bgr8", 48), FrameLimits::default()).expect("padded");
        assert_eq!(f.rgb().get_pixel(0, 1).0, [18, 17, 16]);
    }

    #[test]
    fn malformed_images_are_errors() {
        let cases = [
            image(4, 3, 12, "rgb8", 35),                     // data too short
            image(4, 3, 11, "rgb8", 36),                     // step below width * 3
            image(0, 3, 0, "rgb8", 0),                       // zero width
            image(4, 0, 12, "rgb8", 0),                      // zero height
            image(100_000, 1, 300_000, "rgb8", 300_000),     // absurd width
            image(4, 3, 12, "yuv422", 36),                   // unknown encoding
            image(4, 3, 12, "16UC1", 36),                    // depth image
            image(u32::MAX, u32::MAX, u32::MAX, "rgb8", 10), // overflow bait
        ];
        for msg in cases {
            let desc = format!(
                "{}x{} step {} {} len {}",
                msg.width,
                msg.height,
                msg.step,
                msg.encoding,
                msg.data.len()
            );
            assert!(frame_from_image(msg, FrameLimits::default()).is_err(), "{desc}");
        }
    }

    #[test]
    fn compressed_images_decode_or_fail_cleanly() {
        let rgb = RgbImage::from_fn(16, 8, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 7]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(rgb.clone())
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode png");
        let mut jpeg = Vec::new();
        image::DynamicImage::ImageRgb8(rgb)
            .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)
            .expect("encode jpeg");
        let msg = |format: &str, data: &[u8]| CompressedImage {
            header: header(),
            format: format.into(),
            data: data.to_vec(),
        };

        let f = frame_from_compressed(&msg("png", &png), FrameLimits::default()).expect("png");
        assert_eq!((f.width(), f.height()), (16, 8));
        assert_eq!(f.rgb().get_pixel(3, 2).0, [30, 40, 7]);
        let f = frame_from_compressed(&msg("rgb8; jpeg compressed bgr8", &jpeg), FrameLimits::default()).expect("jpeg");
        assert_eq!((f.width(), f.height()), (16, 8));

        assert!(
            frame_from_compressed(&msg("jpeg", &jpeg[..jpeg.len() / 3]), FrameLimits::default()).is_err(),
            "truncated jpeg"
        );
        assert!(frame_from_compressed(&msg("jpeg", b"not an image at all"), FrameLimits::default()).is_err());
        assert!(frame_from_compressed(&msg("jpeg", &[]), FrameLimits::default()).is_err());
        assert!(frame_from_compressed(&msg("16UC1; compressedDepth png", &png), FrameLimits::default()).is_err());
        assert!(frame_from_compressed(&msg("theora", &png), FrameLimits::default()).is_err());
    }

    /// Replay (bag images) and the node (camera messages) accept and refuse the same images:
    /// both go through `Frame::from_image_message*` / `Frame::from_compressed_message`.
    #[test]
    fn bag_images_are_accepted_exactly_when_camera_messages_are() {
        use crate::bag::{BagImage, ImagePayload};
        let bag = |payload: ImagePayload| BagImage {
            log_time_ns: 0,
            topic: "/c".into(),
            header_stamp_ns: 0,
            frame_id: String::new(),
            payload,
        };
        let raws = [
            image(4, 3, 12, "rgb8", 36),
            image(4, 3, 16, "bgr8", 48),
            image(4, 3, 4, "8UC1", 12),
            image(4, 3, 12, "rgb8", 35),
            image(4, 3, 12, "RGB8", 36),
            image(4, 3, 12, "yuv422", 36),
            image(4, 3, 8, "16UC1", 24),
        ];
        let mut accepted = 0;
        for msg in raws {
            let from_bag = bag(ImagePayload::Raw {
                width: msg.width,
                height: msg.height,
                step: msg.step,
                encoding: msg.encoding.clone(),
                is_bigendian: false,
                data: msg.data.clone(),
            })
            .to_frame()
            .map(|f| f.into_rgb());
            let desc = format!("{} step {}", msg.encoding, msg.step);
            let from_node = frame_from_image(msg, FrameLimits::default()).map(|f| f.into_rgb());
            assert_eq!(from_bag.as_ref().ok(), from_node.as_ref().ok(), "{desc}");
            accepted += usize::from(from_node.is_ok());
        }
        assert_eq!(accepted, 3);
        let mut png = Vec::new();
        image::DynamicImage::ImageRgb8(RgbImage::new(8, 8))
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .expect("encode png");
        for (format, data, ok) in [
            ("png", &png[..], true),
            ("", &png[..], true),
            ("h264", &png[..], false),
            ("16UC1; compressedDepth png", &png[..], false),
            ("png", &[][..], false),
        ] {
            let from_bag = bag(ImagePayload::Compressed {
                format: format.into(),
                data: data.to_vec(),
            })
            .to_frame();
            let msg = CompressedImage {
                header: header(),
                format: format.into(),
                data: data.to_vec(),
            };
            let from_node = frame_from_compressed(&msg, FrameLimits::default());
            assert_eq!((from_bag.is_ok(), from_node.is_ok()), (ok, ok), "{format:?}");
        }
    }

    #[test]
    fn recognition_to_detection2d() {
        let d = detection_from_recognition(&recognition(), &header());
        assert_eq!(d.header, header());
        assert_eq!(d.results.len(), 1);
        assert_eq!(d.results[0].hypothesis.class_id, "ann");
        assert!((d.results[0].hypothesis.score - 0.75).abs() < 1e-9);
        assert_eq!((d.bbox.center.position.x, d.bbox.center.position.y), (25.0, 40.0));
        assert_eq!((d.bbox.size_x, d.bbox.size_y), (30.0, 40.0));
        assert_eq!(d.bbox.center.theta, 0.0);
        let a = detection_array(&[recognition(), recognition()], &header());
        assert_eq!((a.header.frame_id.as_str(), a.detections.len()), ("head_camera", 2));
        assert!(detection_array(&[], &header()).detections.is_empty());
    }

    #[test]
    fn recognition_to_face() {
        let f = face_from_recognition(&recognition(), "/head/image_raw");
        assert_eq!(f.name, "ann");
        assert_eq!((f.score, f.margin, f.detection_score), (0.75, 0.25, 0.99));
        assert_eq!((f.x, f.y, f.width, f.height), (10.0, 20.0, 30.0, 40.0));
        assert_eq!(f.landmarks, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(f.camera_topic, "/head/image_raw");
        let a = face_array(&[recognition()], &header(), "/c");
        assert_eq!((a.header.stamp.sec, a.faces.len()), (12, 1));
        assert_eq!(
            (f.track_id.as_str(), f.track_confirmed, f.anonymous),
            ("", false, false)
        );
        assert_eq!(f.frame_score, 0.75, "per frame, the frame's score is the score");
    }

    #[test]
    fn tracked_faces_carry_their_track() {
        let r = recognition();
        let tracked = TrackedFace {
            detection: r.detection.clone(),
            track_id: Some(7),
            confirmed: true,
            name: "person_3f9a".into(),
            identity_score: 0.6,
            identity_margin: 0.3,
            frame_name: None,
            frame_score: None,
            embedding: None,
            reidentified: false,
            anonymous: true,
        };
        let out = [FaceOut::from_tracked(&tracked)];
        let f = face_array_of(&out, &header(), "/c").faces.remove(0);
        assert_eq!((f.name.as_str(), f.score, f.margin), ("person_3f9a", 0.6, 0.3));
        assert_eq!((f.track_id.as_str(), f.track_confirmed, f.anonymous), ("7", true, true));
        assert!(f.frame_score.is_nan(), "not embedded in this frame");
        let d = detection_array_of(&out, &header()).detections.remove(0);
        assert_eq!(d.id, "7");
        assert_eq!(d.results[0].hypothesis.class_id, "person_3f9a");
        let untracked = TrackedFace {
            track_id: None,
            frame_score: Some(0.5),
            ..tracked
        };
        let f = face_msg(&FaceOut::from_tracked(&untracked), "/c");
        assert_eq!((f.track_id.as_str(), f.frame_score), ("", 0.5));
    }

    #[test]
    fn rgb_image_round_trips_through_an_image_message() {
        let rgb = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let msg = image_from_rgb(rgb.clone(), &header());
        assert_eq!(
            (msg.width, msg.height, msg.step, msg.encoding.as_str()),
            (5, 3, 15, "rgb8")
        );
        let back = frame_from_image(msg, FrameLimits::default()).expect("valid");
        assert_eq!(back.rgb(), &rgb);
    }

    #[test]
    fn depth_images_convert_in_metres_and_bad_ones_are_refused() {
        let mut msg = Image {
            header: header(),
            height: 2,
            width: 2,
            encoding: "16UC1".into(),
            is_bigendian: 0,
            step: 6, // 2 bytes of padding per row
            data: vec![0xe8, 0x03, 0xd0, 0x07, 0, 0, 0, 0, 0xb8, 0x0b, 0, 0],
        };
        let d = depth_of(&msg).expect("16UC1");
        assert_eq!((d.width(), d.height()), (2, 2));
        let m32 = Image {
            encoding: "32FC1".into(),
            step: 8,
            data: [1.5f32, 2.25, f32::NAN, 4.0]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
            ..msg.clone()
        };
        assert!(depth_of(&m32).is_ok());
        msg.encoding = "rgb8".into();
        assert!(depth_of(&msg).unwrap_err().contains("16UC1"));
        msg.encoding = "16UC1".into();
        msg.step = 3;
        assert!(depth_of(&msg).unwrap_err().contains("step"));
        msg.step = 6;
        msg.data.truncate(7);
        assert!(depth_of(&msg).unwrap_err().contains("data bytes"));
    }

    #[test]
    fn camera_info_gives_intrinsics_and_zero_focal_length_is_refused() {
        let mut info = CameraInfo {
            width: 640,
            height: 480,
            k: [525.0, 0.0, 319.5, 0.0, 526.0, 239.5, 0.0, 0.0, 1.0],
            ..CameraInfo::default()
        };
        let k = intrinsics_of(&info).expect("valid");
        assert_eq!((k.fx_px, k.fy_px, k.cx_px, k.cy_px), (525.0, 526.0, 319.5, 239.5));
        info.k = [0.0; 9];
        assert!(intrinsics_of(&info).is_err(), "an uncalibrated camera's CameraInfo");
    }
}
