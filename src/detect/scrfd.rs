//! SCRFD-2.5G-KPS (InsightFace) output decoding: anchor points per stride, two anchors per cell,
//! box as distances from the anchor point to the four sides, keypoints as offsets, all in units
//! of the stride; scores come out of the model already passed through a sigmoid.
//!
//! Outputs `score_S` [1,P,1], `bbox_S` [1,P,4], `kps_S` [1,P,10] for S in 8, 16, 32, with
//! P = 2 * (H/S) * (W/S), the two anchors of a cell next to each other, cells row by row.

use super::{output, DetectError, Detection, FrameFromInput};

const STRIDES: [u32; 3] = [8, 16, 32];
const ANCHORS_PER_CELL: usize = 2;

pub fn decode(
    outputs: &ort::session::SessionOutputs<'_>,
    in_w: u32,
    in_h: u32,
    score_threshold: f32,
    frame_from_input: &FrameFromInput,
) -> Result<Vec<Detection>, DetectError> {
    let mut faces = Vec::new();
    for stride in STRIDES {
        let cols = (in_w / stride) as usize;
        let n = cols * (in_h / stride) as usize * ANCHORS_PER_CELL;
        let heads = Heads {
            score: output(outputs, &format!("score_{stride}"), n)?,
            bbox: output(outputs, &format!("bbox_{stride}"), n * 4)?,
            kps: output(outputs, &format!("kps_{stride}"), n * 10)?,
        };
        decode_stride(&heads, stride, cols, score_threshold, frame_from_input, &mut faces);
    }
    Ok(faces)
}

/// The three heads of one stride, lengths already checked against the feature map.
struct Heads<'a> {
    score: &'a [f32],
    bbox: &'a [f32],
    kps: &'a [f32],
}

fn decode_stride(
    heads: &Heads<'_>,
    stride: u32,
    cols: usize,
    score_threshold: f32,
    frame_from_input: &FrameFromInput,
    faces: &mut Vec<Detection>,
) {
    let s = stride as f32;
    let cols = cols.max(1);
    for (idx, (&p, (b, k))) in heads
        .score
        .iter()
        .zip(heads.bbox.as_chunks::<4>().0.iter().zip(heads.kps.as_chunks::<10>().0))
        .enumerate()
    {
        if p < score_threshold {
            continue;
        }
        let cell = idx / ANCHORS_PER_CELL;
        let ax = (cell % cols) as f32 * s;
        let ay = (cell / cols) as f32 * s;
        let &[left, top, right, bottom] = b;
        let corners = [ax - left * s, ay - top * s, ax + right * s, ay + bottom * s];
        let mut points = [[0.0; 2]; 5];
        for (point, &[kx, ky]) in points.iter_mut().zip(k.as_chunks::<2>().0) {
            *point = [ax + kx * s, ay + ky * s];
        }
        faces.push(frame_from_input.detection(corners, points, p.clamp(0.0, 1.0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_points_distances_and_keypoints_in_stride_units() {
        // A 4x3-cell map at stride 16; the second anchor of cell (row 2, col 1) fires.
        let (cols, rows, stride) = (4_usize, 3_usize, 16_u32);
        let n = cols * rows * ANCHORS_PER_CELL;
        let (mut score, mut bbox, mut kps) = (vec![0.1; n], vec![0.0; n * 4], vec![0.0; n * 10]);
        let idx = (2 * cols + 1) * ANCHORS_PER_CELL + 1;
        score[idx] = 0.9;
        bbox[idx * 4..idx * 4 + 4].copy_from_slice(&[1.0, 0.5, 2.0, 1.5]);
        kps[idx * 10..idx * 10 + 10].copy_from_slice(&[-0.5, -0.25, 0.5, -0.25, 0.0, 0.25, -0.25, 0.75, 0.25, 0.75]);
        // Frame at half the input size, placed at (8, 4) in the input.
        let frame_from_input = FrameFromInput {
            sx: 2.0,
            sy: 2.0,
            x0: 8.0,
            y0: 4.0,
        };
        let mut faces = Vec::new();
        let heads = Heads {
            score: &score,
            bbox: &bbox,
            kps: &kps,
        };
        decode_stride(&heads, stride, cols, 0.5, &frame_from_input, &mut faces);
        assert_eq!(faces.len(), 1);
        let f = &faces[0];
        // Anchor point (16, 32) in input pixels; box (0, 24)..(48, 56); frame = (input - x0) * 2.
        assert_eq!(
            (f.bbox.x, f.bbox.y, f.bbox.width, f.bbox.height),
            (-16.0, 40.0, 96.0, 64.0)
        );
        assert_eq!(
            (f.landmarks[0].x, f.landmarks[0].y),
            ((16.0 - 8.0 - 8.0) * 2.0, (32.0 - 4.0 - 4.0) * 2.0)
        );
        assert_eq!(
            (f.landmarks[4].x, f.landmarks[4].y),
            ((16.0 + 4.0 - 8.0) * 2.0, (32.0 + 12.0 - 4.0) * 2.0)
        );
        assert!((f.score - 0.9).abs() < 1e-6);
    }
}
