//! Far faces: detection and recognition rate against face size. Each photo's evaluated face is
//! found and embedded at the photo's own size (the reference), then the photo is scaled so that
//! the face box is `size` pixels wide and pasted into a grey frame of a camera's size (720p,
//! 1080p) at a fixed place; the pipeline runs on that frame. A face counts as *detected* when a
//! box overlaps the expected one (IoU >= 0.4), and as *matched* when that face's embedding is
//! above the match threshold against its own full-size reference, the best a gallery built from
//! a close-up could do for the same person at a distance.
//! Uses `pipeline` and `faces`; reads images, writes nothing.

use std::path::PathBuf;

use image::{imageops, Rgb, RgbImage};
use serde::Serialize;

use super::faces::{face_for_frame, FacePolicy, ImageFace};
use super::EvalError;
use crate::detect::BBox;
use crate::embed::cosine;
use crate::frame::Frame;
use crate::pipeline::Pipeline;

/// Overlap with the expected box that counts as finding the face.
pub const MIN_IOU: f32 = 0.4;

/// One row of the table: all photos at one face size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeRow {
    /// Width of the pasted face's box, frame pixels.
    pub face_px: u32,
    /// Photos tried at this size (those whose face was found at full size).
    pub photos: usize,
    pub detected: usize,
    pub matched: usize,
    /// Mean similarity with the full-size reference over the detected faces.
    pub mean_similarity: f64,
    /// Detector passes per frame, mean (1, or 2 with the bordered pass).
    pub mean_detect_passes: f64,
}

impl SizeRow {
    pub fn detected_rate(&self) -> f64 {
        self.detected as f64 / self.photos.max(1) as f64
    }
    pub fn matched_rate(&self) -> f64 {
        self.matched as f64 / self.photos.max(1) as f64
    }
}

/// The whole measurement for one frame size.
#[derive(Debug, Clone, Serialize)]
pub struct SizeReport {
    pub frame_width: u32,
    pub frame_height: u32,
    pub threshold: f32,
    /// Photos read, and those left out because no face was found at full size.
    pub photos_read: usize,
    pub photos_without_reference: usize,
    pub rows: Vec<SizeRow>,
}

impl SizeReport {
    /// The smallest face size from which every larger size listed is matched at `rate` or more.
    pub fn smallest_reliable(&self, rate: f64) -> Option<u32> {
        let mut smallest = None;
        for row in self.rows.iter().rev() {
            if row.matched_rate() < rate {
                break;
            }
            smallest = Some(row.face_px);
        }
        smallest
    }
}

/// Measures detection and matching at each of `sizes_px` (ascending) in `frame_width` x
/// `frame_height` frames, over `photos`. `progress` is called with the photos done.
pub fn face_sizes(
    pipeline: &mut Pipeline,
    policy: &FacePolicy,
    photos: &[PathBuf],
    sizes_px: &[u32],
    (frame_width, frame_height): (u32, u32),
    mut progress: impl FnMut(usize),
) -> Result<SizeReport, EvalError> {
    let mut sizes: Vec<u32> = sizes_px.to_vec();
    sizes.sort_unstable();
    sizes.dedup();
    let mut rows: Vec<SizeRow> = sizes
        .iter()
        .map(|&face_px| SizeRow {
            face_px,
            photos: 0,
            detected: 0,
            matched: 0,
            mean_similarity: 0.0,
            mean_detect_passes: 0.0,
        })
        .collect();
    let threshold = pipeline.threshold();
    let mut without_reference = 0;
    for (done, path) in photos.iter().enumerate() {
        let photo = Frame::open(path).map_err(|e| EvalError::Image {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let ImageFace::Found {
            bbox,
            embedding: reference,
            ..
        } = face_for_frame(pipeline, &photo, policy)?
        else {
            without_reference += 1;
            progress(done + 1);
            continue;
        };
        for row in rows.iter_mut() {
            let scale = row.face_px as f32 / bbox.width.max(1.0);
            let (w, h) = (
                ((photo.width() as f32 * scale).round() as u32).max(1),
                ((photo.height() as f32 * scale).round() as u32).max(1),
            );
            if w > frame_width || h > frame_height {
                continue;
            }
            let scaled = imageops::resize(photo.rgb(), w, h, imageops::FilterType::Triangle);
            // A fixed place: the photo's centre at 60 % of the width and 45 % of the height.
            let x0 = ((frame_width as f32 * 0.6 - w as f32 / 2.0).max(0.0) as u32).min(frame_width - w);
            let y0 = ((frame_height as f32 * 0.45 - h as f32 / 2.0).max(0.0) as u32).min(frame_height - h);
            let mut canvas = RgbImage::from_pixel(frame_width, frame_height, Rgb([118, 118, 118]));
            imageops::replace(&mut canvas, &scaled, i64::from(x0), i64::from(y0));
            let expected = BBox {
                x: x0 as f32 + bbox.x * scale,
                y: y0 as f32 + bbox.y * scale,
                width: bbox.width * scale,
                height: bbox.height * scale,
            };
            let frame = Frame::from_rgb(canvas);
            let crate::pipeline::Timed { faces, timings } = pipeline.analyze(&frame)?;
            row.photos += 1;
            row.mean_detect_passes += f64::from(timings.detect_passes);
            let best = faces
                .iter()
                .map(|f| (f.detection.bbox.iou(&expected), f))
                .filter(|(iou, _)| *iou >= MIN_IOU)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((_, face)) = best {
                let similarity = cosine(&face.embedding, &reference);
                row.detected += 1;
                row.mean_similarity += f64::from(similarity);
                if similarity >= threshold {
                    row.matched += 1;
                }
            }
        }
        progress(done + 1);
    }
    for row in rows.iter_mut() {
        row.mean_similarity /= row.detected.max(1) as f64;
        row.mean_detect_passes /= row.photos.max(1) as f64;
    }
    Ok(SizeReport {
        frame_width,
        frame_height,
        threshold,
        photos_read: photos.len(),
        photos_without_reference: without_reference,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(face_px: u32, matched: usize) -> SizeRow {
        SizeRow {
            face_px,
            photos: 10,
            detected: matched,
            matched,
            mean_similarity: 0.0,
            mean_detect_passes: 1.0,
        }
    }

    #[test]
    fn smallest_reliable_size_needs_every_larger_size_reliable() {
        let report = |rows| SizeReport {
            frame_width: 1280,
            frame_height: 720,
            threshold: 0.4,
            photos_read: 10,
            photos_without_reference: 0,
            rows,
        };
        // 24 px is good, but 32 px is not: only 48 px and up count.
        let r = report(vec![row(16, 2), row(24, 9), row(32, 8), row(48, 10), row(64, 10)]);
        assert_eq!(r.smallest_reliable(0.9), Some(48));
        assert_eq!(r.smallest_reliable(0.8), Some(24));
        assert_eq!(report(vec![row(16, 2), row(64, 5)]).smallest_reliable(0.9), None);
    }
}
