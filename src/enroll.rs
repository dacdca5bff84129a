//! Enrolment policy: which face of a frame may be stored under a name. Takes the dominant face
//! (clearly the largest), and refuses when there is none, when two are comparably large, or when
//! it is too small or too blurred to be useful. Shared by the CLI and the node's enroll service.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use crate::detect::Detection;
use crate::frame::Frame;
use crate::pipeline::Face;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrollPolicy {
    /// Smallest accepted face: the shorter box side, in frame pixels.
    pub min_face_px: f32,
    /// The largest face's area must be at least this many times the next one's.
    pub dominance_ratio: f32,
    /// Smallest accepted sharpness (variance of the Laplacian of the aligned grey face).
    pub min_sharpness: f32,
}

impl Default for EnrollPolicy {
    fn default() -> Self {
        Self {
            min_face_px: 40.0,
            dominance_ratio: 1.5,
            min_sharpness: 20.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EnrollRefusal {
    #[error("no face in view")]
    NoFace,
    #[error("{count} faces are comparably close (largest {largest:.0} px, next {next:.0} px); only one person should face the camera")]
    Ambiguous { count: usize, largest: f32, next: f32 },
    #[error("face too small ({size:.0} px, at least {min:.0} px needed): come closer")]
    TooSmall { size: f32, min: f32 },
    #[error("face too blurred (sharpness {sharpness:.1}, at least {min:.1} needed): hold still")]
    Blurred { sharpness: f32, min: f32 },
}

impl EnrollPolicy {
    /// Index of the dominant face among `detections`, checked for size.
    pub fn choose(&self, detections: &[Detection]) -> Result<usize, EnrollRefusal> {
        let mut by_area: Vec<(usize, f32)> = detections.iter().map(|d| d.bbox.area()).enumerate().collect();
        by_area.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (best, area) = *by_area.first().ok_or(EnrollRefusal::NoFace)?;
        if let Some(&(_, next)) = by_area.get(1) {
            if area < next * self.dominance_ratio {
                return Err(EnrollRefusal::Ambiguous {
                    count: detections.len(),
                    largest: area.sqrt(),
                    next: next.sqrt(),
                });
            }
        }
        let size = detections.get(best).map_or(0.0, |d| d.bbox.width.min(d.bbox.height));
        if size < self.min_face_px {
            return Err(EnrollRefusal::TooSmall {
                size,
                min: self.min_face_px,
            });
        }
        Ok(best)
    }

    /// The dominant face of a frame, checked for size and blur: `choose`, then
    /// `check_sharpness` on its aligned crop. Returns its index in `detections`.
    pub fn select(&self, frame: &Frame, detections: &[Detection]) -> Result<usize, EnrollRefusal> {
        let index = self.choose(detections)?;
        let face = detections.get(index).ok_or(EnrollRefusal::NoFace)?;
        if let Some(crop) = crate::align::align(frame, &face.landmarks) {
            self.check_sharpness(&crop)?;
        }
        Ok(index)
    }

    /// As [`Self::select`] for faces already embedded by the pipeline: the dominant one.
    pub fn select_face<'f>(&self, frame: &Frame, faces: &'f [Face]) -> Result<&'f Face, EnrollRefusal> {
        let detections: Vec<Detection> = faces.iter().map(|f| f.detection.clone()).collect();
        let index = self.select(frame, &detections)?;
        faces.get(index).ok_or(EnrollRefusal::NoFace)
    }

    /// Checks an aligned face crop for blur.
    pub fn check_sharpness(&self, aligned: &RgbImage) -> Result<f32, EnrollRefusal> {
        let s = sharpness(aligned);
        if s < self.min_sharpness {
            Err(EnrollRefusal::Blurred {
                sharpness: s,
                min: self.min_sharpness,
            })
        } else {
            Ok(s)
        }
    }
}

/// Variance of the 4-neighbour Laplacian of the grey image: low for blurred faces.
pub fn sharpness(image: &RgbImage) -> f32 {
    let grey = image::imageops::grayscale(image);
    let (w, h) = grey.dimensions();
    let at = |x: u32, y: u32| f32::from(grey.get_pixel(x, y).0[0]);
    let mut values = Vec::with_capacity((w.saturating_sub(2) * h.saturating_sub(2)) as usize);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            values.push(at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y));
        }
    }
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f32;
    let mean = values.iter().sum::<f32>() / n;
    values.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{BBox, Point};

    fn face(size: f32) -> Detection {
        Detection {
            bbox: BBox {
                x: 0.0,
                y: 0.0,
                width: size,
                height: size,
            },
            score: 0.9,
            landmarks: [Point { x: 0.0, y: 0.0 }; 5],
        }
    }

    #[test]
    fn dominant_face_rules() {
        let p = EnrollPolicy::default();
        assert_eq!(p.choose(&[]), Err(EnrollRefusal::NoFace));
        assert_eq!(p.choose(&[face(50.0), face(120.0)]), Ok(1));
        assert!(matches!(
            p.choose(&[face(100.0), face(95.0)]),
            Err(EnrollRefusal::Ambiguous { .. })
        ));
        assert!(matches!(p.choose(&[face(20.0)]), Err(EnrollRefusal::TooSmall { .. })));
    }

    #[test]
    fn flat_image_is_blurred_and_texture_is_sharp() {
        let p = EnrollPolicy::default();
        let flat = RgbImage::from_pixel(112, 112, image::Rgb([120, 120, 120]));
        assert!(matches!(p.check_sharpness(&flat), Err(EnrollRefusal::Blurred { .. })));
        let checker = RgbImage::from_fn(112, 112, |x, y| {
            image::Rgb(if (x / 4 + y / 4) % 2 == 0 { [0; 3] } else { [255; 3] })
        });
        assert!(p.check_sharpness(&checker).is_ok());
    }
}
