//! Conversions between ROS messages and the library's types: camera messages into frames,
//! recognitions into `vision_msgs/Detection2D` and `facerec/Face`, an RGB image into
//! `sensor_msgs/Image`. Small pure functions; no I/O.

use image::RgbImage;

use crate::frame::{Frame, FrameError, PixelFormat};
use crate::pipeline::Recognition;
use crate::ros::msgs::{
    BoundingBox2D, CompressedImage, Detection2D, Detection2DArray, Face, FaceArray, Header, Image, ObjectHypothesis,
    ObjectHypothesisWithPose, Point2D, Pose2D,
};

/// Why a camera message could not become a frame.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("step {step} does not fit in memory")]
    Step { step: u32 },
    #[error("compressed format '{0}' is not supported (expected jpeg or png)")]
    CompressedFormat(String),
    #[error("empty image data")]
    Empty,
}

/// A `sensor_msgs/Image` as a frame; sizes, step, data length and encoding are checked.
pub fn frame_from_image(msg: Image) -> Result<Frame, ConvertError> {
    let format = PixelFormat::from_encoding(&msg.encoding)?;
    let step = usize::try_from(msg.step).map_err(|_| ConvertError::Step { step: msg.step })?;
    Ok(Frame::from_raw_owned(msg.width, msg.height, step, format, msg.data)?)
}

/// A `sensor_msgs/CompressedImage` (JPEG or PNG) as a frame. The `format` string is only used
/// to refuse what certainly is not a colour JPEG/PNG (`compressedDepth`, other codecs); the
/// bytes themselves decide between JPEG and PNG.
pub fn frame_from_compressed(msg: &CompressedImage) -> Result<Frame, ConvertError> {
    let format = msg.format.to_ascii_lowercase();
    let known = format.is_empty() || format.contains("jpeg") || format.contains("jpg") || format.contains("png");
    if !known || format.contains("compresseddepth") {
        return Err(ConvertError::CompressedFormat(msg.format.clone()));
    }
    if msg.data.is_empty() {
        return Err(ConvertError::Empty);
    }
    Ok(Frame::decode(&msg.data)?)
}

fn hypothesis(r: &Recognition) -> ObjectHypothesisWithPose {
    ObjectHypothesisWithPose {
        hypothesis: ObjectHypothesis {
            class_id: r.name.clone(),
            score: f64::from(r.score),
        },
        ..ObjectHypothesisWithPose::default()
    }
}

/// One face as a `vision_msgs/Detection2D`: the name (or `unknown`) as class id, the similarity
/// as score, the box centre and size in image pixels, the image's header.
pub fn detection_from_recognition(r: &Recognition, header: &Header) -> Detection2D {
    let b = r.detection.bbox;
    let c = b.center();
    Detection2D {
        header: header.clone(),
        results: vec![hypothesis(r)],
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
        id: String::new(),
    }
}

/// All faces of one image as a `vision_msgs/Detection2DArray`.
pub fn detection_array(recognitions: &[Recognition], header: &Header) -> Detection2DArray {
    Detection2DArray {
        header: header.clone(),
        detections: recognitions
            .iter()
            .map(|r| detection_from_recognition(r, header))
            .collect(),
    }
}

/// One face as a `facerec/Face`.
pub fn face_from_recognition(r: &Recognition, camera_topic: &str) -> Face {
    let d = &r.detection;
    let mut landmarks = [0.0f32; 10];
    for (pair, p) in landmarks.chunks_exact_mut(2).zip(&d.landmarks) {
        if let [x, y] = pair {
            *x = p.x;
            *y = p.y;
        }
    }
    Face {
        name: r.name.clone(),
        score: r.score,
        margin: r.margin,
        detection_score: d.score,
        x: d.bbox.x,
        y: d.bbox.y,
        width: d.bbox.width,
        height: d.bbox.height,
        landmarks,
        camera_topic: camera_topic.to_owned(),
    }
}

/// All faces of one image as a `facerec/FaceArray`.
pub fn face_array(recognitions: &[Recognition], header: &Header, camera_topic: &str) -> FaceArray {
    FaceArray {
        header: header.clone(),
        faces: recognitions
            .iter()
            .map(|r| face_from_recognition(r, camera_topic))
            .collect(),
    }
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
            let f = frame_from_image(image(4, 3, 4 * ch, enc, 12 * ch as usize)).expect(enc);
            assert_eq!((f.width(), f.height()), (4, 3), "{enc}");
        }
        // Padded rows.
        let f = frame_from_image(image(4, 3, 16, "bgr8", 48)).expect("padded");
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
            assert!(frame_from_image(msg).is_err(), "{desc}");
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

        let f = frame_from_compressed(&msg("png", &png)).expect("png");
        assert_eq!((f.width(), f.height()), (16, 8));
        assert_eq!(f.rgb().get_pixel(3, 2).0, [30, 40, 7]);
        let f = frame_from_compressed(&msg("rgb8; jpeg compressed bgr8", &jpeg)).expect("jpeg");
        assert_eq!((f.width(), f.height()), (16, 8));

        assert!(
            frame_from_compressed(&msg("jpeg", &jpeg[..jpeg.len() / 3])).is_err(),
            "truncated jpeg"
        );
        assert!(frame_from_compressed(&msg("jpeg", b"not an image at all")).is_err());
        assert!(frame_from_compressed(&msg("jpeg", &[])).is_err());
        assert!(frame_from_compressed(&msg("16UC1; compressedDepth png", &png)).is_err());
        assert!(frame_from_compressed(&msg("theora", &png)).is_err());
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
    }

    #[test]
    fn rgb_image_round_trips_through_an_image_message() {
        let rgb = RgbImage::from_fn(5, 3, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let msg = image_from_rgb(rgb.clone(), &header());
        assert_eq!(
            (msg.width, msg.height, msg.step, msg.encoding.as_str()),
            (5, 3, 15, "rgb8")
        );
        let back = frame_from_image(msg).expect("valid");
        assert_eq!(back.rgb(), &rgb);
    }
}
