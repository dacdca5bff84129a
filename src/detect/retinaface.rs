//! RetinaFace (MobileNet-0.25, biubug6 export) output decoding: prior boxes per feature map,
//! box and landmark regression with variances, softmax scores.
//!
//! Outputs: `loc` [1,P,4], `conf` [1,P,2], `landmarks` [1,P,10], P priors over strides 8, 16, 32.

use super::{output, DetectError, Detection, FrameFromInput};

const MIN_SIZES: [[f32; 2]; 3] = [[16.0, 32.0], [64.0, 128.0], [256.0, 512.0]];
const STEPS: [u32; 3] = [8, 16, 32];
const VARIANCES: [f32; 2] = [0.1, 0.2];

/// Prior boxes `[cx, cy, w, h]` in input pixels, cached for the last input size.
#[derive(Default)]
pub struct PriorCache {
    dims: (u32, u32),
    priors: Vec<[f32; 4]>,
}

impl PriorCache {
    fn get(&mut self, in_w: u32, in_h: u32) -> &[[f32; 4]] {
        if self.dims != (in_w, in_h) || self.priors.is_empty() {
            self.priors.clear();
            for (step, sizes) in STEPS.iter().zip(MIN_SIZES.iter()) {
                let rows = in_h.div_ceil(*step);
                let cols = in_w.div_ceil(*step);
                let s = *step as f32;
                for row in 0..rows {
                    for col in 0..cols {
                        for size in sizes {
                            let cx = (col as f32 + 0.5) * s;
                            let cy = (row as f32 + 0.5) * s;
                            self.priors.push([cx, cy, *size, *size]);
                        }
                    }
                }
            }
            self.dims = (in_w, in_h);
        }
        &self.priors
    }
}

pub fn decode(
    outputs: &ort::session::SessionOutputs<'_>,
    priors: &mut PriorCache,
    in_w: u32,
    in_h: u32,
    score_threshold: f32,
    frame_from_input: &FrameFromInput,
) -> Result<Vec<Detection>, DetectError> {
    let priors = priors.get(in_w, in_h);
    let n = priors.len();
    let loc = output(outputs, "loc", n * 4)?;
    let conf = output(outputs, "conf", n * 2)?;
    let landmarks = output(outputs, "landmarks", n * 10)?;
    let mut faces = Vec::new();
    for (((prior, l), c), lm) in priors
        .iter()
        .zip(loc.as_chunks::<4>().0)
        .zip(conf.as_chunks::<2>().0)
        .zip(landmarks.as_chunks::<10>().0)
    {
        let (&[pcx, pcy, pw, ph], &[l0, l1, l2, l3], &[c0, c1]) = (prior, l, c);
        // The export applies softmax; normalising again keeps raw logits working too.
        let score = if (c0 + c1 - 1.0).abs() < 1e-3 && c1 >= 0.0 {
            c1
        } else {
            1.0 / (1.0 + (c0 - c1).exp())
        };
        if score < score_threshold {
            continue;
        }
        let cx = pcx + l0 * VARIANCES[0] * pw;
        let cy = pcy + l1 * VARIANCES[0] * ph;
        let w = pw * (l2 * VARIANCES[1]).exp();
        let h = ph * (l3 * VARIANCES[1]).exp();
        let mut points = [[0.0; 2]; 5];
        for (point, &[dx, dy]) in points.iter_mut().zip(lm.as_chunks::<2>().0) {
            *point = [pcx + dx * VARIANCES[0] * pw, pcy + dy * VARIANCES[0] * ph];
        }
        let corners = [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0];
        faces.push(frame_from_input.detection(corners, points, score));
    }
    Ok(faces)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prior_count_matches_feature_maps() {
        let mut cache = PriorCache::default();
        // 640x480: (80*60 + 40*30 + 20*15) * 2 anchors each.
        assert_eq!(cache.get(640, 480).len(), (4800 + 1200 + 300) * 2);
        let first = cache.get(640, 480).first().copied();
        assert_eq!(first, Some([4.0, 4.0, 16.0, 16.0]));
    }
}
