//! YuNet (2023mar) output decoding: anchor-free heads per stride, score = sqrt(cls * obj).
//!
//! Outputs `cls_S` [1,P,1], `obj_S` [1,P,1], `bbox_S` [1,P,4], `kps_S` [1,P,10] for S in 8, 16, 32.

use super::{output, DetectError, Detection, FrameFromInput};

const STRIDES: [u32; 3] = [8, 16, 32];

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
        let rows = (in_h / stride) as usize;
        let n = cols * rows;
        let cls = output(outputs, &format!("cls_{stride}"), n)?;
        let obj = output(outputs, &format!("obj_{stride}"), n)?;
        let bbox = output(outputs, &format!("bbox_{stride}"), n * 4)?;
        let kps = output(outputs, &format!("kps_{stride}"), n * 10)?;
        let s = stride as f32;
        for (idx, ((&c, &o), (b, k))) in cls
            .iter()
            .zip(obj.iter())
            .zip(bbox.as_chunks::<4>().0.iter().zip(kps.as_chunks::<10>().0))
            .enumerate()
        {
            let score = (c.clamp(0.0, 1.0) * o.clamp(0.0, 1.0)).sqrt();
            if score < score_threshold {
                continue;
            }
            let &[b0, b1, b2, b3] = b;
            let col = (idx % cols) as f32;
            let row = (idx / cols) as f32;
            let cx = (col + b0) * s;
            let cy = (row + b1) * s;
            let w = b2.exp() * s;
            let h = b3.exp() * s;
            let mut points = [[0.0; 2]; 5];
            for (point, &[kx, ky]) in points.iter_mut().zip(k.as_chunks::<2>().0) {
                *point = [(kx + col) * s, (ky + row) * s];
            }
            let corners = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
            faces.push(frame_from_input.detection(corners, points, score));
        }
    }
    Ok(faces)
}
