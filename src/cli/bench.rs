//! The benchmark commands, apart from the user's commands: `facerec bench` ([`pipeline`]:
//! where a frame's time goes, gallery matching at scale) and `facerec bench-node` ([`node`]:
//! the whole node under camera load over ROS 2, and the soak). This file holds what both
//! use: timing statistics, frame sizes, and test frames composed from the fixture portraits.
//! Binary-only: reads fixtures and models, writes reports; no library logic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use facerec::{Frame, Pipeline};
use image::{Rgb, RgbImage};
use serde::Serialize;

pub mod node;
pub mod pipeline;

/// Median, 99th percentile (nearest rank) and mean of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Stat {
    pub median_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

pub(crate) fn stat(samples: &[Duration]) -> Stat {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let pick = |q: f64| -> f64 {
        if ms.is_empty() {
            return 0.0;
        }
        let rank = ((q * ms.len() as f64).ceil() as usize).clamp(1, ms.len());
        ms.get(rank - 1).copied().unwrap_or(0.0)
    };
    let mean = if ms.is_empty() {
        0.0
    } else {
        ms.iter().sum::<f64>() / ms.len() as f64
    };
    Stat {
        median_ms: pick(0.5),
        p99_ms: pick(0.99),
        mean_ms: mean,
    }
}

pub(crate) fn parse_size(s: &str) -> anyhow::Result<(u32, u32)> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "vga" => (640, 480),
        "720p" => (1280, 720),
        "1080p" => (1920, 1080),
        other => {
            let (w, h) = other
                .split_once('x')
                .with_context(|| format!("size '{s}': use vga, 720p, 1080p or WxH"))?;
            (w.parse()?, h.parse()?)
        }
    })
}

/// Image files under a folder, recursively, sorted by path.
pub(crate) fn image_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("cannot list {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| {
                let e = e.to_string_lossy().to_ascii_lowercase();
                e == "jpg" || e == "jpeg" || e == "png"
            }) {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One square crop per portrait around its best-scoring face: side 2x the larger box side,
/// centred on the box, shifted to stay inside the photo.
pub(crate) fn face_crops(pipeline: &mut Pipeline, dir: &Path) -> anyhow::Result<Vec<RgbImage>> {
    let mut crops = Vec::new();
    for path in image_files(dir)? {
        let frame = Frame::open(&path).with_context(|| path.display().to_string())?;
        let faces = pipeline.detect(&frame)?.faces;
        let Some(face) = faces.first() else { continue };
        let (w, h) = (frame.width() as f32, frame.height() as f32);
        let side = (2.0 * face.bbox.width.max(face.bbox.height)).min(w).min(h).max(1.0);
        let c = face.bbox.center();
        let x = (c.x - side / 2.0).clamp(0.0, w - side);
        let y = (c.y - side / 2.0).clamp(0.0, h - side);
        let rgb = frame.into_rgb();
        crops.push(image::imageops::crop_imm(&rgb, x as u32, y as u32, side as u32, side as u32).to_image());
    }
    if crops.is_empty() {
        bail!("no face found in the photos under {}", dir.display());
    }
    Ok(crops)
}

/// A `width`x`height` frame with `n` face crops on a grid of ceil(sqrt(n*W/H)) columns, each
/// crop resized (bilinear) to the square cell, grid centred, grey (114) background. Crops are
/// used in order and repeat when there are fewer than `n`.
pub(crate) fn compose(crops: &[RgbImage], width: u32, height: u32, n: usize) -> RgbImage {
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([114, 114, 114]));
    if n == 0 || crops.is_empty() {
        return canvas;
    }
    let aspect = f64::from(width) / f64::from(height);
    let cols = ((n as f64 * aspect).sqrt().ceil() as usize).max(1);
    let rows = n.div_ceil(cols);
    let cell = (width as usize / cols).min(height as usize / rows) as u32;
    let x0 = (width - cell * cols as u32) / 2;
    let y0 = (height - cell * rows as u32) / 2;
    for (i, crop) in crops.iter().cycle().take(n).enumerate() {
        let resized = image::imageops::resize(crop, cell, cell, image::imageops::FilterType::Triangle);
        let (col, row) = ((i % cols) as u32, (i / cols) as u32);
        image::imageops::replace(
            &mut canvas,
            &resized,
            i64::from(x0 + col * cell),
            i64::from(y0 + row * cell),
        );
    }
    canvas
}
