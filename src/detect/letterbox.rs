//! Resizing a frame into a detector's input tensor: scale, place inside a border (`Placement`:
//! right and bottom only for the plain pass, all sides for the bordered one), convert packed RGB8
//! to planar float (NCHW) in the model's channel order, `(pixel - mean) * scale`; the border is
//! the mean colour (0).
//! Buffers are reused between frames.

use fast_image_resize::{
    images::{Image, ImageRef},
    FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer,
};

use super::{DetectError, InputNorm, Placement};
use crate::frame::Frame;

#[derive(Default)]
pub struct Letterbox {
    resizer: Resizer,
    resized: Vec<u8>,
    tensor: Vec<f32>,
}

impl Letterbox {
    /// Fills the input tensor `[1, 3, input_height, input_width]` from `frame` as `placement`
    /// says, normalised as `norm` says.
    pub fn prepare(&mut self, frame: &Frame, placement: &Placement, norm: InputNorm) -> Result<(), DetectError> {
        let (w, h) = (frame.width(), frame.height());
        let (in_w, in_h) = (placement.input_width, placement.input_height);
        let (rw, rh) = (placement.resized_width, placement.resized_height);
        let (x0, y0) = (placement.x0 as usize, placement.y0 as usize);
        debug_assert!(placement.x0 + rw <= in_w && placement.y0 + rh <= in_h, "{placement:?}");

        let rgb = frame.rgb();
        let resized: &[u8] = if (rw, rh) == (w, h) {
            rgb.as_raw()
        } else {
            let src = ImageRef::new(w, h, rgb.as_raw(), PixelType::U8x3).map_err(|e| DetectError::Resize(e.into()))?;
            self.resized.resize(rw as usize * rh as usize * 3, 0);
            let mut dst = Image::from_slice_u8(rw, rh, &mut self.resized, PixelType::U8x3)
                .map_err(|e| DetectError::Resize(e.into()))?;
            let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
            self.resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| DetectError::Resize(e.into()))?;
            &self.resized
        };

        let plane = in_w as usize * in_h as usize;
        self.tensor.clear();
        self.tensor.resize(plane * 3, 0.0);
        let (first, rest) = self.tensor.split_at_mut(plane);
        let (g_plane, last) = rest.split_at_mut(plane);
        let (r_plane, b_plane) = if norm.rgb { (first, last) } else { (last, first) };
        let ([mr, mg, mb], scale) = (norm.mean, norm.scale);
        let row_len = rw as usize * 3;
        for (y, row) in resized.chunks_exact(row_len).take(rh as usize).enumerate() {
            let start = (y0 + y) * in_w as usize + x0;
            let end = start + rw as usize;
            let (Some(b), Some(g), Some(r)) = (
                b_plane.get_mut(start..end),
                g_plane.get_mut(start..end),
                r_plane.get_mut(start..end),
            ) else {
                debug_assert!(false, "row {y} of {placement:?} is outside the tensor");
                continue;
            };
            for (((&[pr, pg, pb], bo), go), ro) in row.as_chunks::<3>().0.iter().zip(b).zip(g).zip(r) {
                *bo = (f32::from(pb) - mb) * scale;
                *go = (f32::from(pg) - mg) * scale;
                *ro = (f32::from(pr) - mr) * scale;
            }
        }
        Ok(())
    }

    /// The prepared tensor data, planar in the model's channel order.
    pub fn tensor(&self) -> &[f32] {
        &self.tensor
    }
}
