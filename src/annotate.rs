//! Drawing recognitions onto an image for people to look at: a box per face, its landmarks and
//! a label with the name and score, in an embedded 8x8 bitmap font. Touches only pixels.

use font8x8::UnicodeFonts;
use image::{Rgb, RgbImage};
use imageproc::drawing::{draw_filled_circle_mut, draw_filled_rect_mut, draw_hollow_rect_mut};
use imageproc::rect::Rect;

use crate::pipeline::Recognition;

const KNOWN: Rgb<u8> = Rgb([40, 200, 60]);
const STRANGER: Rgb<u8> = Rgb([230, 50, 40]);

/// Draws every recognition onto `image` (frame pixels).
pub fn draw(image: &mut RgbImage, faces: &[Recognition]) {
    let scale = (image.width().max(image.height()) / 500).clamp(1, 6);
    for face in faces {
        let colour = if face.name == crate::UNKNOWN { STRANGER } else { KNOWN };
        let b = face.detection.bbox;
        let (x, y) = (b.x.round() as i32, b.y.round() as i32);
        let (w, h) = (b.width.round().max(1.0) as u32, b.height.round().max(1.0) as u32);
        for grow in 0..scale as i32 {
            draw_hollow_rect_mut(
                image,
                Rect::at(x - grow, y - grow).of_size(w + 2 * grow as u32, h + 2 * grow as u32),
                colour,
            );
        }
        for p in &face.detection.landmarks {
            draw_filled_circle_mut(
                image,
                (p.x.round() as i32, p.y.round() as i32),
                scale as i32 + 1,
                colour,
            );
        }
        let label = format!("{} {:.2}", face.name, face.score);
        let text_h = 8 * scale as i32 + 4;
        let ty = if y >= text_h { y - text_h } else { y + h as i32 };
        let text_w = label.chars().count() as u32 * 8 * scale + 4;
        draw_filled_rect_mut(image, Rect::at(x, ty).of_size(text_w, text_h as u32), colour);
        draw_text(image, x + 2, ty + 2, scale, &label, Rgb([255, 255, 255]));
    }
}

/// Writes ASCII/Latin text with the 8x8 font, each font pixel `scale` image pixels wide.
fn draw_text(image: &mut RgbImage, x: i32, y: i32, scale: u32, text: &str, colour: Rgb<u8>) {
    let (w, h) = (image.width() as i32, image.height() as i32);
    for (i, ch) in text.chars().enumerate() {
        let glyph = font8x8::BASIC_FONTS
            .get(ch)
            .or_else(|| font8x8::LATIN_FONTS.get(ch))
            .unwrap_or([0; 8]);
        for (gy, bits) in glyph.iter().enumerate() {
            for gx in 0..8 {
                if bits & (1 << gx) == 0 {
                    continue;
                }
                for dy in 0..scale as i32 {
                    for dx in 0..scale as i32 {
                        let px = x + (i as i32 * 8 + gx) * scale as i32 + dx;
                        let py = y + gy as i32 * scale as i32 + dy;
                        if px >= 0 && py >= 0 && px < w && py < h {
                            image.put_pixel(px as u32, py as u32, colour);
                        }
                    }
                }
            }
        }
    }
}
