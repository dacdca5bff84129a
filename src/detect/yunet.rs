//! YuNet (2023mar) output decoding: anchor-free heads per stride, score = sqrt(cls * obj).
//!
//! Outputs `cls_S` [1,P,1], `obj_S` [1,P,1], `bbox_S` [1,P,4], `kps_S` [1,P,10] for S in 8, 16, 32.

use super::{output, BBox, DetectError, Detection, FrameFromInput, Point};

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
        for (idx, ((&c, &o), (b, k))) in
            cls.iter().zip(obj.iter()).zip(bbox.chunks_exact(4).zip(kps.chunks_exact(10))).enumerate()
        {
            let score = (c.clamp(0.0, 1.0) * o.clamp(0.0, 1.0)).sqrt();
            if score < score_threshold {
                continue;
            }
            let &[b0, b1, b2, b3] = b else { continue };
            let col = (idx % cols) as f32;
            let row = (idx / cols) as f32;
            let cx = (col + b0) * s;
            let cy = (row + b1) * s;
            let w = b2.exp() * s;
            let h = b3.exp() * s;
            let top_left = frame_from_input.point(cx - w / 2.0, cy - h / 2.0);
            let bottom_right = frame_from_input.point(cx + w / 2.0, cy + h / 2.0);
            let mut points = [Point { x: 0.0, y: 0.0 }; 5];
            for (point, xy) in points.iter_mut().zip(k.chunks_exact(2)) {
                if let &[kx, ky] = xy {
                    *point = frame_from_input.point((kx + col) * s, (ky + row) * s);
                }
            }
            faces.push(Detection {
                bbox: BBox {
                    x: top_left.x,
                    y: top_left.y,
                    width: bottom_right.x - top_left.x,
                    height: bottom_right.y - top_left.y,
                },
                score,
                landmarks: points,
            });
        }
    }
    Ok(faces)
}
