//! Where a face is in 3D: the point between the eyes in a camera's optical frame (metres), from
//! an aligned depth image when one covers the face, else from the landmarks' apparent size and the
//! camera's intrinsics (monocular). Also the face's frame for REP-155's `face_<id>` transform.
//!
//! Pure math on detections, intrinsics and depth pixels: no ROS (the node turns
//! `sensor_msgs/CameraInfo` and depth images into [`Intrinsics`] and [`DepthMap`]).
//!
//! Coordinate spaces: `frame` pixels (x right, y down, origin top-left, as detections);
//! `optical` metres (x right, y down, z forward from the camera's centre, REP-103's optical
//! convention); `face` frame axes (x from the face towards the camera, z up, y to the face's
//! left), as REP-155 asks of `face_<id>`.

use nalgebra::{Matrix3, Rotation3, UnitQuaternion, Vector3};

use crate::align::TEMPLATE;
use crate::detect::{Detection, Point};

/// An average adult's distance between the pupils, metres (anthropometric surveys give about
/// 61-65 mm; the monocular range is proportional to it).
pub const EYE_DISTANCE_M: f32 = 0.063;

/// Distance from the eyes' midpoint to the mouth's midpoint, metres: the template's proportion
/// (the 112x112 alignment template, an average face) applied to [`EYE_DISTANCE_M`].
pub fn eye_to_mouth_m() -> f32 {
    EYE_DISTANCE_M * template_eye_to_mouth_px() / template_eye_distance_px()
}

fn template_eye_distance_px() -> f32 {
    distance(TEMPLATE[0], TEMPLATE[1])
}

fn template_eye_to_mouth_px() -> f32 {
    distance(midpoint(TEMPLATE[0], TEMPLATE[1]), midpoint(TEMPLATE[3], TEMPLATE[4]))
}

fn distance(a: Point, b: Point) -> f32 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn midpoint(a: Point, b: Point) -> Point {
    Point {
        x: 0.5 * (a.x + b.x),
        y: 0.5 * (a.y + b.y),
    }
}

/// What is wrong with a camera's intrinsics or depth image.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocateError {
    #[error("camera intrinsics: focal length fx={fx_px} fy={fy_px} px (must be finite and positive)")]
    FocalLength { fx_px: f64, fy_px: f64 },
    #[error("camera intrinsics: principal point cx={cx_px} cy={cy_px} px is not finite")]
    PrincipalPoint { cx_px: f64, cy_px: f64 },
    #[error("camera intrinsics are for {info_width}x{info_height} images, the frame is {frame_width}x{frame_height} (another aspect ratio)")]
    IntrinsicsSize {
        info_width: u32,
        info_height: u32,
        frame_width: u32,
        frame_height: u32,
    },
    #[error("depth image is {depth_width}x{depth_height}, the camera frame {frame_width}x{frame_height}: an aligned depth image must have the colour image's size")]
    DepthSize {
        depth_width: u32,
        depth_height: u32,
        frame_width: u32,
        frame_height: u32,
    },
    #[error("depth image: {pixels} values for {width}x{height}")]
    DepthData { pixels: usize, width: u32, height: u32 },
}

/// A pinhole camera's intrinsics for images of `width` x `height` pixels (lens distortion is not
/// modelled: the error it brings at a face's scale is far below the monocular range error).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intrinsics {
    pub fx_px: f64,
    pub fy_px: f64,
    pub cx_px: f64,
    pub cy_px: f64,
    /// Image size the intrinsics are for; 0 when unknown (then they are used for any size).
    pub width: u32,
    pub height: u32,
}

impl Intrinsics {
    /// Checked intrinsics: focal lengths finite and positive, principal point finite.
    pub fn new(fx_px: f64, fy_px: f64, cx_px: f64, cy_px: f64, width: u32, height: u32) -> Result<Self, LocateError> {
        if !(fx_px.is_finite() && fy_px.is_finite() && fx_px > 0.0 && fy_px > 0.0) {
            return Err(LocateError::FocalLength { fx_px, fy_px });
        }
        if !(cx_px.is_finite() && cy_px.is_finite()) {
            return Err(LocateError::PrincipalPoint { cx_px, cy_px });
        }
        Ok(Self {
            fx_px,
            fy_px,
            cx_px,
            cy_px,
            width,
            height,
        })
    }

    /// The intrinsics for a frame of `width` x `height`: the same when the sizes agree (or the
    /// intrinsics' size is unknown), scaled when the frame is the same view resized (aspect
    /// ratio within 1 %), an error otherwise.
    pub fn for_frame(&self, width: u32, height: u32) -> Result<Self, LocateError> {
        if self.width == 0 || self.height == 0 || (self.width == width && self.height == height) {
            return Ok(*self);
        }
        let sx = f64::from(width) / f64::from(self.width);
        let sy = f64::from(height) / f64::from(self.height);
        if (sx / sy - 1.0).abs() > 0.01 {
            return Err(LocateError::IntrinsicsSize {
                info_width: self.width,
                info_height: self.height,
                frame_width: width,
                frame_height: height,
            });
        }
        Ok(Self {
            fx_px: self.fx_px * sx,
            fy_px: self.fy_px * sy,
            cx_px: self.cx_px * sx,
            cy_px: self.cy_px * sy,
            width,
            height,
        })
    }
}

/// A depth image aligned with the colour frame (same size, same viewpoint), in metres; 0, NaN
/// and infinities are "no reading".
#[derive(Debug, Clone, PartialEq)]
pub struct DepthMap {
    width: u32,
    height: u32,
    metres: Vec<f32>,
}

impl DepthMap {
    /// A depth map of `width` x `height` metres, row-major.
    pub fn new(width: u32, height: u32, metres: Vec<f32>) -> Result<Self, LocateError> {
        let expected = usize::try_from(u64::from(width) * u64::from(height)).unwrap_or(usize::MAX);
        if metres.len() != expected {
            return Err(LocateError::DepthData {
                pixels: metres.len(),
                width,
                height,
            });
        }
        Ok(Self { width, height, metres })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// Median of the valid readings in the central half of `det`'s box (the face's skin, not the
    /// background around it); `None` when there is none.
    fn face_depth_m(&self, det: &Detection) -> Option<f32> {
        let b = det.bbox;
        let clamp_x = |x: f32| (x.max(0.0) as u32).min(self.width);
        let clamp_y = |y: f32| (y.max(0.0) as u32).min(self.height);
        let (x0, x1) = (clamp_x(b.x + 0.25 * b.width), clamp_x(b.x + 0.75 * b.width));
        let (y0, y1) = (clamp_y(b.y + 0.25 * b.height), clamp_y(b.y + 0.75 * b.height));
        let mut readings: Vec<f32> = Vec::new();
        for y in y0..y1 {
            let row = y as usize * self.width as usize;
            if let Some(line) = self.metres.get(row + x0 as usize..row + x1 as usize) {
                readings.extend(line.iter().copied().filter(|d| d.is_finite() && *d > 0.0));
            }
        }
        if readings.is_empty() {
            return None;
        }
        let mid = readings.len() / 2;
        let (_, median, _) = readings.select_nth_unstable_by(mid, f32::total_cmp);
        Some(*median)
    }
}

/// How a position was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionSource {
    /// The median depth over the face in the aligned depth image.
    Depth,
    /// The landmarks' apparent size and an average adult face.
    Monocular,
}

/// Where a face is: the point between its eyes in the camera's optical frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FacePosition {
    /// Metres: x right, y down, z forward (REP-103 optical frame).
    pub optical_m: [f64; 3],
    pub source: PositionSource,
}

impl FacePosition {
    /// Rotation of the face frame (x towards the camera, z up, as REP-155's `face_<id>`, turned
    /// to face the camera: head pose is not estimated) in the optical frame, as a unit
    /// quaternion (x, y, z, w).
    pub fn optical_from_face_rotation(&self) -> [f64; 4] {
        let p = Vector3::new(self.optical_m[0], self.optical_m[1], self.optical_m[2]);
        let Some(to_camera) = (-p).try_normalize(1e-9) else {
            return [0.0, 0.0, 0.0, 1.0];
        };
        // "Up" in the optical frame is -y; made orthogonal to the face's x axis.
        let up = Vector3::new(0.0, -1.0, 0.0);
        let z = (up - to_camera * up.dot(&to_camera))
            .try_normalize(1e-9)
            .unwrap_or_else(|| Vector3::new(0.0, 0.0, 1.0));
        let y = z.cross(&to_camera);
        let rotation = Rotation3::from_matrix_unchecked(Matrix3::from_columns(&[to_camera, y, z]));
        let q = UnitQuaternion::from_rotation_matrix(&rotation);
        [q.i, q.j, q.k, q.w]
    }
}

/// The face's position from `depth` when given and it has readings over the face, else from
/// the landmarks' apparent size (monocular). `intrinsics` must be for this frame's size (see
/// [`Intrinsics::for_frame`]); `depth`, when given, must have the frame's size.
pub fn locate(
    det: &Detection,
    intrinsics: &Intrinsics,
    depth: Option<&DepthMap>,
    frame_width: u32,
    frame_height: u32,
) -> Result<Option<FacePosition>, LocateError> {
    let lm = &det.landmarks;
    let eyes = midpoint(lm[0], lm[1]);
    let depth_z = match depth {
        Some(map) if map.width != frame_width || map.height != frame_height => {
            return Err(LocateError::DepthSize {
                depth_width: map.width,
                depth_height: map.height,
                frame_width,
                frame_height,
            });
        }
        Some(map) => map.face_depth_m(det),
        None => None,
    };
    let (z_m, source) = match depth_z {
        Some(z) => (f64::from(z), PositionSource::Depth),
        None => match monocular_range_m(det, intrinsics) {
            Some(z) => (z, PositionSource::Monocular),
            None => return Ok(None),
        },
    };
    let x_m = (f64::from(eyes.x) - intrinsics.cx_px) * z_m / intrinsics.fx_px;
    let y_m = (f64::from(eyes.y) - intrinsics.cy_px) * z_m / intrinsics.fy_px;
    Ok(Some(FacePosition {
        optical_m: [x_m, y_m, z_m],
        source,
    }))
}

/// Depth (along the optical axis) of a face from its landmarks: the eye distance (horizontal,
/// shrinks when the head turns) and the eye-to-mouth distance (vertical, shrinks when it nods)
/// each give a range; the nearer one is the less foreshortened. `None` for degenerate landmarks.
fn monocular_range_m(det: &Detection, intrinsics: &Intrinsics) -> Option<f64> {
    let lm = &det.landmarks;
    let eye_px = f64::from(distance(lm[0], lm[1]));
    let eye_mouth_px = f64::from(distance(midpoint(lm[0], lm[1]), midpoint(lm[3], lm[4])));
    let from_eyes = (eye_px > 1.0).then(|| intrinsics.fx_px * f64::from(EYE_DISTANCE_M) / eye_px);
    let from_mouth = (eye_mouth_px > 1.0).then(|| intrinsics.fy_px * f64::from(eye_to_mouth_m()) / eye_mouth_px);
    match (from_eyes, from_mouth) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

    use super::*;
    use crate::detect::BBox;

    /// A frontal face whose landmarks are the template scaled by `scale` and moved to `at`.
    fn face(scale: f32, at: Point) -> Detection {
        let landmarks = TEMPLATE.map(|p| Point {
            x: at.x + scale * (p.x - 56.0),
            y: at.y + scale * (p.y - 56.0),
        });
        Detection {
            bbox: BBox {
                x: at.x - 56.0 * scale,
                y: at.y - 56.0 * scale,
                width: 112.0 * scale,
                height: 112.0 * scale,
            },
            score: 0.9,
            landmarks,
        }
    }

    fn camera() -> Intrinsics {
        Intrinsics::new(600.0, 600.0, 320.0, 240.0, 640, 480).unwrap()
    }

    #[test]
    fn monocular_range_follows_apparent_size() {
        // Eyes 63 mm apart seen 35.24 px apart by a 600 px lens: 600 * 0.063 / 35.24 = 1.07 m.
        let at = Point { x: 320.0, y: 240.0 };
        let near = locate(&face(1.0, at), &camera(), None, 640, 480).unwrap().unwrap();
        let far = locate(&face(0.5, at), &camera(), None, 640, 480).unwrap().unwrap();
        let expected = 600.0 * f64::from(EYE_DISTANCE_M) / f64::from(template_eye_distance_px());
        assert!((near.optical_m[2] - expected).abs() < 1e-3, "{near:?} vs {expected}");
        assert!((far.optical_m[2] - 2.0 * expected).abs() < 2e-3, "{far:?}");
        assert_eq!(near.source, PositionSource::Monocular);
    }

    #[test]
    fn off_axis_faces_are_to_the_side_in_the_optical_frame() {
        // Eyes' midpoint 100 px right of and 50 px above the principal point.
        let lm_mid_y = 0.5 * (TEMPLATE[0].y + TEMPLATE[1].y) - 56.0;
        let at = Point {
            x: 420.0 - (0.5 * (TEMPLATE[0].x + TEMPLATE[1].x) - 56.0),
            y: 190.0 - lm_mid_y,
        };
        let p = locate(&face(1.0, at), &camera(), None, 640, 480).unwrap().unwrap();
        let z = p.optical_m[2];
        assert!((p.optical_m[0] - 100.0 * z / 600.0).abs() < 1e-3, "{p:?}");
        assert!((p.optical_m[1] + 50.0 * z / 600.0).abs() < 1e-3, "{p:?}");
    }

    #[test]
    fn a_turned_head_keeps_its_range_through_the_eye_to_mouth_distance() {
        let at = Point { x: 320.0, y: 240.0 };
        let frontal = locate(&face(1.0, at), &camera(), None, 640, 480).unwrap().unwrap();
        // Yaw: the eyes come closer together (horizontal squeeze to 60 %).
        let mut turned = face(1.0, at);
        for p in &mut turned.landmarks {
            p.x = at.x + 0.6 * (p.x - at.x);
        }
        let turned = locate(&turned, &camera(), None, 640, 480).unwrap().unwrap();
        assert!((turned.optical_m[2] - frontal.optical_m[2]).abs() < 1e-3, "{turned:?}");
    }

    #[test]
    fn depth_wins_when_it_covers_the_face_and_ignores_holes() {
        let at = Point { x: 320.0, y: 240.0 };
        let mut metres = vec![1.8_f32; 640 * 480];
        // Holes (0 and NaN) over part of the face.
        for v in metres.iter_mut().skip(240 * 640).take(640) {
            *v = 0.0;
        }
        for v in metres.iter_mut().skip(250 * 640).take(640) {
            *v = f32::NAN;
        }
        let depth = DepthMap::new(640, 480, metres).unwrap();
        let p = locate(&face(1.0, at), &camera(), Some(&depth), 640, 480)
            .unwrap()
            .unwrap();
        assert_eq!(p.source, PositionSource::Depth);
        assert!((p.optical_m[2] - 1.8).abs() < 1e-6);
        // No readings at all: the monocular estimate.
        let empty = DepthMap::new(640, 480, vec![0.0; 640 * 480]).unwrap();
        let p = locate(&face(1.0, at), &camera(), Some(&empty), 640, 480)
            .unwrap()
            .unwrap();
        assert_eq!(p.source, PositionSource::Monocular);
    }

    #[test]
    fn bad_intrinsics_and_depth_sizes_are_errors() {
        assert!(matches!(
            Intrinsics::new(0.0, 600.0, 320.0, 240.0, 640, 480),
            Err(LocateError::FocalLength { .. })
        ));
        assert!(Intrinsics::new(f64::NAN, 600.0, 320.0, 240.0, 640, 480).is_err());
        assert!(Intrinsics::new(600.0, 600.0, f64::INFINITY, 240.0, 640, 480).is_err());
        assert!(DepthMap::new(4, 4, vec![1.0; 15]).is_err());
        let small = DepthMap::new(320, 240, vec![1.0; 320 * 240]).unwrap();
        let at = Point { x: 320.0, y: 240.0 };
        assert!(matches!(
            locate(&face(1.0, at), &camera(), Some(&small), 640, 480),
            Err(LocateError::DepthSize { .. })
        ));
    }

    #[test]
    fn intrinsics_scale_with_a_resized_frame_but_not_to_another_aspect() {
        let half = camera().for_frame(320, 240).unwrap();
        assert!((half.fx_px - 300.0).abs() < 1e-9 && (half.cy_px - 120.0).abs() < 1e-9);
        assert!(camera().for_frame(640, 640).is_err());
        let unknown = Intrinsics::new(600.0, 600.0, 320.0, 240.0, 0, 0).unwrap();
        assert_eq!(unknown.for_frame(1280, 720).unwrap(), unknown);
    }

    #[test]
    fn the_face_frame_looks_back_at_the_camera_with_z_up() {
        let p = FacePosition {
            optical_m: [0.0, 0.0, 2.0],
            source: PositionSource::Monocular,
        };
        let [x, y, z, w] = p.optical_from_face_rotation();
        let q = UnitQuaternion::from_quaternion(nalgebra::Quaternion::new(w, x, y, z));
        let face_x = q * Vector3::x();
        let face_z = q * Vector3::z();
        assert!((face_x - Vector3::new(0.0, 0.0, -1.0)).norm() < 1e-9, "{face_x}");
        assert!((face_z - Vector3::new(0.0, -1.0, 0.0)).norm() < 1e-9, "{face_z}");
    }
}
