//! Resizing a frame into a detector's input tensor: scale to fit, pad right and bottom, convert
//! packed RGB8 to planar BGR float (NCHW) minus a per-channel mean. Buffers are reused between
//! frames.

use fast_image_resize::{images::{Image, ImageRef}, FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use super::{DetectError, FrameFromInput};
use crate::frame::Frame;

#[derive(Default)]
pub struct Letterbox {
    resizer: Resizer,
    resized: Vec<u8>,
    tensor: Vec<f32>,
    frame_from_input: Option<FrameFromInput>,
}

impl Letterbox {
    /// Fills the input tensor `[1, 3, in_h, in_w]` from `frame`; `bgr_mean` is subtracted per channel.
    pub fn prepare(&mut self, frame: &Frame, in_w: u32, in_h: u32, bgr_mean: [f32; 3]) -> Result<(), DetectError> {
        let (w, h) = (frame.width(), frame.height());
        let scale = (f64::from(in_w) / f64::from(w)).min(f64::from(in_h) / f64::from(h));
        let rw = ((f64::from(w) * scale).round() as u32).clamp(1, in_w);
        let rh = ((f64::from(h) * scale).round() as u32).clamp(1, in_h);
        self.frame_from_input = Some(FrameFromInput { sx: w as f32 / rw as f32, sy: h as f32 / rh as f32 });

        let rgb = frame.rgb();
        let resized: &[u8] = if (rw, rh) == (w, h) {
            rgb.as_raw()
        } else {
            let src = ImageRef::new(w, h, rgb.as_raw(), PixelType::U8x3)
                .map_err(|e| DetectError::Resize(e.to_string()))?;
            self.resized.resize(rw as usize * rh as usize * 3, 0);
            let mut dst = Image::from_slice_u8(rw, rh, &mut self.resized, PixelType::U8x3)
                .map_err(|e| DetectError::Resize(e.to_string()))?;
            let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
            self.resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| DetectError::Resize(e.to_string()))?;
            &self.resized
        };

        let plane = in_w as usize * in_h as usize;
        self.tensor.clear();
        self.tensor.resize(plane * 3, 0.0);
        let (b_plane, rest) = self.tensor.split_at_mut(plane);
        let (g_plane, r_plane) = rest.split_at_mut(plane);
        let row_len = rw as usize * 3;
        for (y, row) in resized.chunks_exact(row_len).take(rh as usize).enumerate() {
            let start = y * in_w as usize;
            let end = start + rw as usize;
            let (Some(b), Some(g), Some(r)) =
                (b_plane.get_mut(start..end), g_plane.get_mut(start..end), r_plane.get_mut(start..end))
            else {
                continue;
            };
            for (i, px) in row.chunks_exact(3).enumerate() {
                if let ([pr, pg, pb], Some(bo), Some(go), Some(ro)) = (px, b.get_mut(i), g.get_mut(i), r.get_mut(i)) {
                    *bo = f32::from(*pb) - bgr_mean[0];
                    *go = f32::from(*pg) - bgr_mean[1];
                    *ro = f32::from(*pr) - bgr_mean[2];
                }
            }
        }
        Ok(())
    }

    /// The prepared tensor data, planar BGR.
    pub fn tensor(&self) -> &[f32] {
        &self.tensor
    }

    /// The mapping from input pixels to frame pixels of the last prepared frame.
    pub fn frame_from_input(&self) -> FrameFromInput {
        self.frame_from_input.unwrap_or(FrameFromInput { sx: 1.0, sy: 1.0 })
    }
}
