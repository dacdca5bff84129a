//! Face alignment: a least-squares similarity transform (Umeyama) from the five detected
//! landmarks onto the ArcFace 112x112 template, then a bilinear warp of the frame into an
//! aligned face crop. Pure geometry over `frame` pixels; no models.

use image::RgbImage;
use nalgebra::{Matrix2, Matrix2x3, Vector2};

use crate::detect::Point;
use crate::frame::Frame;

/// Side of the aligned face, in pixels.
pub const ALIGNED_SIZE: u32 = 112;

/// Landmark positions in the aligned 112x112 face (ArcFace template), in detection order.
pub const TEMPLATE: [Point; 5] = [
    Point { x: 38.2946, y: 51.6963 },
    Point { x: 73.5318, y: 51.5014 },
    Point { x: 56.0252, y: 71.7366 },
    Point { x: 41.5493, y: 92.3655 },
    Point { x: 70.7299, y: 92.2041 },
];

/// A 2-D similarity (rotation, uniform scale, translation) as a 2x3 matrix `[sR | t]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Similarity(pub Matrix2x3<f64>);

impl Similarity {
    pub fn apply(&self, p: Point) -> Point {
        let m = &self.0;
        let (x, y) = (f64::from(p.x), f64::from(p.y));
        Point {
            x: (m[(0, 0)] * x + m[(0, 1)] * y + m[(0, 2)]) as f32,
            y: (m[(1, 0)] * x + m[(1, 1)] * y + m[(1, 2)]) as f32,
        }
    }

    /// The inverse transform; `None` when the scale is zero.
    pub fn inverse(&self) -> Option<Self> {
        let a = self.0.fixed_view::<2, 2>(0, 0).into_owned();
        let t = self.0.column(2).into_owned();
        let inv = a.try_inverse()?;
        let t_inv = -(inv * t);
        Some(Self(Matrix2x3::from_columns(&[
            inv.column(0).into_owned(),
            inv.column(1).into_owned(),
            t_inv,
        ])))
    }

    /// Uniform scale factor of the transform.
    pub fn scale(&self) -> f64 {
        (self.0.m11.powi(2) + self.0.m21.powi(2)).sqrt()
    }
}

/// Least-squares similarity mapping `src` points onto `dst` points (Umeyama 1991).
/// `None` when the source points are degenerate (all equal).
pub fn umeyama(src: &[Point], dst: &[Point]) -> Option<Similarity> {
    let n = src.len().min(dst.len());
    if n < 2 {
        return None;
    }
    let to_v = |p: &Point| Vector2::new(f64::from(p.x), f64::from(p.y));
    let mean = |pts: &[Point]| pts.iter().take(n).map(to_v).sum::<Vector2<f64>>() / n as f64;
    let (src_mean, dst_mean) = (mean(src), mean(dst));
    let mut cov = Matrix2::zeros();
    let mut src_var = 0.0;
    for (s, d) in src.iter().zip(dst).take(n) {
        let sc = to_v(s) - src_mean;
        let dc = to_v(d) - dst_mean;
        cov += dc * sc.transpose();
        src_var += sc.norm_squared();
    }
    cov /= n as f64;
    src_var /= n as f64;
    if src_var <= f64::EPSILON {
        return None;
    }
    let svd = cov.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let mut d = Matrix2::identity();
    if (u.determinant() * v_t.determinant()) < 0.0 {
        d.m22 = -1.0;
    }
    let rotation = u * d * v_t;
    let scale = (svd.singular_values.x * d.m11 + svd.singular_values.y * d.m22) / src_var;
    let sr = rotation * scale;
    let t = dst_mean - sr * src_mean;
    Some(Similarity(Matrix2x3::from_columns(&[
        sr.column(0).into_owned(),
        sr.column(1).into_owned(),
        t,
    ])))
}

/// The transform from frame pixels to aligned-face pixels for a face's landmarks.
pub fn aligned_from_frame(landmarks: &[Point; 5]) -> Option<Similarity> {
    umeyama(landmarks, &TEMPLATE)
}

/// Warps the face with the given landmarks into a 112x112 aligned crop (bilinear; black outside
/// the frame). `None` when the landmarks are degenerate.
pub fn align(frame: &Frame, landmarks: &[Point; 5]) -> Option<RgbImage> {
    let frame_from_aligned = aligned_from_frame(landmarks)?.inverse()?;
    let mut out = RgbImage::new(ALIGNED_SIZE, ALIGNED_SIZE);
    warp_into(frame.rgb(), &frame_from_aligned, &mut out);
    Some(out)
}

/// Fills `out` by sampling `src` at `frame_from_aligned` of each output pixel.
pub fn warp_into(src: &RgbImage, frame_from_aligned: &Similarity, out: &mut RgbImage) {
    let (w, h) = (src.width() as i64, src.height() as i64);
    let m = frame_from_aligned.0.map(|v| v as f32);
    let raw = src.as_raw();
    let stride = w as usize * 3;
    let pixel = |x: i64, y: i64| -> [f32; 3] {
        if x < 0 || y < 0 || x >= w || y >= h {
            return [0.0; 3];
        }
        let i = y as usize * stride + x as usize * 3;
        match raw.get(i..i + 3) {
            Some(&[r, g, b]) => [f32::from(r), f32::from(g), f32::from(b)],
            _ => [0.0; 3],
        }
    };
    // Coefficients hoisted out of the loop; no `floor`/`round` calls (without SSE4.1 they are
    // library calls, and they dominated this loop): coordinates are floored by truncation with a
    // correction for negatives, and values (in 0..=255 after the clamp) rounded by +0.5.
    let [a, b, c, d, e, f] = [m.m11, m.m12, m.m13, m.m21, m.m22, m.m23];
    let floor = |t: f32| -> i64 {
        let i = t as i64;
        if (i as f32) > t {
            i - 1
        } else {
            i
        }
    };
    for (u, v, px) in out.enumerate_pixels_mut() {
        let (uf, vf) = (u as f32, v as f32);
        let x = a * uf + b * vf + c;
        let y = d * uf + e * vf + f;
        let (xi, yi) = (floor(x), floor(y));
        let (fx, fy) = (x - xi as f32, y - yi as f32);
        let p00 = pixel(xi, yi);
        let p10 = pixel(xi + 1, yi);
        let p01 = pixel(xi, yi + 1);
        let p11 = pixel(xi + 1, yi + 1);
        let corners = p00.into_iter().zip(p10).zip(p01).zip(p11);
        for (out, (((q00, q10), q01), q11)) in px.0.iter_mut().zip(corners) {
            let top = q00 + (q10 - q00) * fx;
            let bottom = q01 + (q11 - q01) * fx;
            *out = ((top + (bottom - top) * fy).clamp(0.0, 255.0) + 0.5) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Similarity {
        // Scale 1.7, rotation 20 degrees, translation (-30, 12).
        let (s, a) = (1.7_f64, 20.0_f64.to_radians());
        Similarity(Matrix2x3::new(
            s * a.cos(),
            -s * a.sin(),
            -30.0,
            s * a.sin(),
            s * a.cos(),
            12.0,
        ))
    }

    #[test]
    fn umeyama_recovers_a_known_similarity() {
        let t = known();
        let src: Vec<Point> = TEMPLATE
            .iter()
            .map(|p| Point {
                x: p.x * 3.0 + 100.0,
                y: p.y * 2.5 + 40.0,
            })
            .collect();
        let dst: Vec<Point> = src.iter().map(|p| t.apply(*p)).collect();
        let fit = umeyama(&src, &dst).expect("non-degenerate");
        for (a, b) in fit.0.iter().zip(t.0.iter()) {
            assert!((a - b).abs() < 1e-3, "{fit:?} vs {t:?}");
        }
    }

    #[test]
    fn umeyama_maps_a_reflection_to_the_best_rotation() {
        // A mirror image cannot be matched by a similarity: the fit must stay a proper rotation.
        let src: Vec<Point> = TEMPLATE.iter().map(|p| Point { x: -p.x, y: p.y }).collect();
        let fit = umeyama(&src, &TEMPLATE).expect("non-degenerate");
        let det = fit.0[(0, 0)] * fit.0[(1, 1)] - fit.0[(0, 1)] * fit.0[(1, 0)];
        assert!(det > 0.0);
    }

    #[test]
    fn inverse_round_trips_and_degenerate_points_fail() {
        let t = known();
        let p = Point { x: 12.0, y: -7.0 };
        let back = t.inverse().expect("invertible").apply(t.apply(p));
        assert!((back.x - p.x).abs() < 1e-4 && (back.y - p.y).abs() < 1e-4);
        assert!(umeyama(&[Point { x: 1.0, y: 1.0 }; 5], &TEMPLATE).is_none());
    }

    #[test]
    fn warp_of_template_landmarks_is_identity_crop() {
        // A frame whose landmarks already sit on the template: the crop equals the frame's corner.
        let mut img = RgbImage::new(200, 150);
        for (x, y, px) in img.enumerate_pixels_mut() {
            *px = image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8]);
        }
        let frame = Frame::from_rgb(img.clone());
        let crop = align(&frame, &TEMPLATE).expect("aligned");
        for (x, y, px) in crop.enumerate_pixels() {
            assert_eq!(px, img.get_pixel(x, y));
        }
    }
}
