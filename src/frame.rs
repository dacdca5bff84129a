//! Frames: the pixels one image brings into the pipeline, whatever their source.
//!
//! Converts camera encodings (rgb8, bgr8, rgba8, bgra8, mono8), encoded files (JPEG, PNG) and
//! image files into one packed RGB8 buffer, validating every size on the way so that a malformed
//! message becomes an error, never a panic. Knows nothing of models, ROS or bags.
//!
//! What a raw image must look like, exactly (anything else is refused):
//! - `encoding` is one of `rgb8`, `bgr8`, `rgba8`, `bgra8`, `mono8`, `8UC1`, spelled as in
//!   `sensor_msgs/image_encodings.hpp` (case matters: `RGB8` is not an encoding);
//! - `step` (bytes per row) is at least `width x bytes per pixel`; a larger step is row padding,
//!   accepted on purpose (cameras and drivers align rows) and skipped;
//! - `data` holds exactly `height x step` bytes, no more and no less;
//! - width and height are 1..=[`MAX_SIDE`] and `width x height` is at most
//!   [`FrameLimits::max_pixels`].
//!
//! Encoded images (JPEG, PNG) are bounded before they are decoded: their header's size must be
//! within the same limits, and the decoder's allocations are capped (`image::Limits`), so a
//! small file that claims a huge image (a decompression bomb) is refused without the memory.
//!
//! Camera messages: [`Frame::from_image_message`] and [`Frame::from_compressed_message`] take the
//! fields of a `sensor_msgs/Image` / `CompressedImage` and are the one conversion every front
//! end uses (the node's subscriptions and enroll requests, bag replay, `facerec play`'s
//! checks), so a message the node refuses is refused by replay too. A compressed message's
//! `format` must be empty or name JPEG or PNG (not `compressedDepth`); its bytes decide which.

use std::io::Cursor;
use std::path::Path;

use image::RgbImage;

/// Raw pixel layouts a camera message may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    Rgb8,
    Bgr8,
    Rgba8,
    Bgra8,
    Mono8,
}

impl PixelFormat {
    /// Parses a `sensor_msgs/Image` encoding string.
    pub fn from_encoding(encoding: &str) -> Result<Self, FrameError> {
        match encoding {
            "rgb8" => Ok(Self::Rgb8),
            "bgr8" => Ok(Self::Bgr8),
            "rgba8" => Ok(Self::Rgba8),
            "bgra8" => Ok(Self::Bgra8),
            "mono8" | "8UC1" => Ok(Self::Mono8),
            other => Err(FrameError::UnsupportedEncoding(other.to_owned())),
        }
    }

    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            Self::Rgb8 | Self::Bgr8 => 3,
            Self::Rgba8 | Self::Bgra8 => 4,
            Self::Mono8 => 1,
        }
    }
}

/// Largest side accepted, in pixels: anything bigger is treated as a malformed message.
pub const MAX_SIDE: u32 = 16_384;

/// How large a decoded image may be. The default, 40 megapixels, takes 8K UHD (33.2 MP) and
/// refuses what no camera sends (a 16000x16000 PNG would need 768 MB as RGB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Most pixels (width x height) an image may have.
    pub max_pixels: u64,
}

impl FrameLimits {
    /// The default bound on `width x height`.
    pub const DEFAULT_MAX_PIXELS: u64 = 40_000_000;

    /// Bytes the decoder may allocate for an image of `max_pixels`: four bytes a pixel (RGBA, the
    /// widest 8-bit layout) plus room for the decoder's own buffers.
    fn max_alloc_bytes(self) -> u64 {
        self.max_pixels.saturating_mul(4).saturating_add(64 << 20)
    }

    fn check(self, width: u32, height: u32) -> Result<(), FrameError> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(FrameError::BadDimensions { width, height });
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(FrameError::TooManyPixels {
                width,
                height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_pixels: Self::DEFAULT_MAX_PIXELS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("unsupported image encoding '{0}' (expected rgb8, bgr8, rgba8, bgra8 or mono8)")]
    UnsupportedEncoding(String),
    #[error("image dimensions {width}x{height} are out of range (1..={MAX_SIDE} per side)")]
    BadDimensions { width: u32, height: u32 },
    #[error("image of {width}x{height} pixels is larger than the limit of {max_pixels} pixels")]
    TooManyPixels { width: u32, height: u32, max_pixels: u64 },
    #[error("image step {step} is smaller than width {width} x {channels} bytes per pixel")]
    BadStep { step: usize, width: u32, channels: usize },
    #[error("image data has {actual} bytes, but height {height} x step {step} is {needed}")]
    DataLength {
        actual: usize,
        needed: usize,
        height: u32,
        step: usize,
    },
    #[error("image step {step} does not fit in memory")]
    StepOverflow { step: u32 },
    #[error("compressed format '{0}' is not supported (expected jpeg or png)")]
    UnsupportedCompressedFormat(String),
    #[error("empty image data")]
    EmptyData,
    #[error("cannot decode image")]
    Decode(#[from] image::ImageError),
    #[error("cannot read image file {path}")]
    Read { path: String, source: std::io::Error },
}

/// One image as packed RGB8, the only layout the rest of the pipeline sees.
#[derive(Debug, Clone)]
pub struct Frame {
    rgb: RgbImage,
}

impl Frame {
    /// Wraps an RGB image without copying.
    pub fn from_rgb(rgb: RgbImage) -> Self {
        Self { rgb }
    }

    /// Builds a frame from raw camera bytes (a `sensor_msgs/Image`), checking that size, step and
    /// data length agree (see the module comment for the exact rules), within the default limits.
    pub fn from_raw(
        width: u32,
        height: u32,
        step: usize,
        format: PixelFormat,
        data: &[u8],
    ) -> Result<Self, FrameError> {
        Self::from_raw_limited(width, height, step, format, data, FrameLimits::default())
    }

    /// As [`Self::from_raw`], within `limits`.
    pub fn from_raw_limited(
        width: u32,
        height: u32,
        step: usize,
        format: PixelFormat,
        data: &[u8],
        limits: FrameLimits,
    ) -> Result<Self, FrameError> {
        let row_bytes = check_raw_layout(width, height, step, format, data.len(), limits)?;
        let channels = format.channels();
        let mut out = Vec::with_capacity(width as usize * height as usize * 3);
        for row in data.chunks_exact(step).take(height as usize) {
            let row = row
                .get(..row_bytes)
                .ok_or(FrameError::BadStep { step, width, channels })?;
            match format {
                PixelFormat::Rgb8 => out.extend_from_slice(row),
                PixelFormat::Bgr8 => {
                    // Grow once per row and swap in place (1080p: ~2.3 ms vs ~2.6-3.5 ms pushing per pixel).
                    let start = out.len();
                    out.resize(start + row_bytes, 0);
                    if let Some(dst) = out.get_mut(start..) {
                        for ([dr, dg, db], &[b, g, r]) in
                            dst.as_chunks_mut::<3>().0.iter_mut().zip(row.as_chunks::<3>().0)
                        {
                            (*dr, *dg, *db) = (r, g, b);
                        }
                    }
                }
                PixelFormat::Rgba8 => {
                    for &[r, g, b, _] in row.as_chunks::<4>().0 {
                        out.extend_from_slice(&[r, g, b]);
                    }
                }
                PixelFormat::Bgra8 => {
                    for &[b, g, r, _] in row.as_chunks::<4>().0 {
                        out.extend_from_slice(&[r, g, b]);
                    }
                }
                PixelFormat::Mono8 => {
                    for &v in row {
                        out.extend_from_slice(&[v, v, v]);
                    }
                }
            }
        }
        RgbImage::from_raw(width, height, out)
            .map(Self::from_rgb)
            .ok_or(FrameError::BadDimensions { width, height })
    }

    /// As `from_raw`, taking ownership of the bytes: tightly packed rgb8 data becomes the frame
    /// without a copy (the common camera case).
    pub fn from_raw_owned(
        width: u32,
        height: u32,
        step: usize,
        format: PixelFormat,
        data: Vec<u8>,
    ) -> Result<Self, FrameError> {
        Self::from_raw_owned_limited(width, height, step, format, data, FrameLimits::default())
    }

    /// As [`Self::from_raw_owned`], within `limits`.
    pub fn from_raw_owned_limited(
        width: u32,
        height: u32,
        step: usize,
        format: PixelFormat,
        data: Vec<u8>,
        limits: FrameLimits,
    ) -> Result<Self, FrameError> {
        let row_bytes = check_raw_layout(width, height, step, format, data.len(), limits)?;
        if format == PixelFormat::Rgb8 && step == row_bytes {
            return RgbImage::from_raw(width, height, data)
                .map(Self::from_rgb)
                .ok_or(FrameError::BadDimensions { width, height });
        }
        Self::from_raw_limited(width, height, step, format, &data, limits)
    }

    /// Decodes an encoded image (JPEG or PNG, as in a `sensor_msgs/CompressedImage`) within the
    /// default limits.
    pub fn decode(bytes: &[u8]) -> Result<Self, FrameError> {
        Self::decode_limited(bytes, FrameLimits::default())
    }

    /// Decodes an encoded image, refusing one whose header claims more than `limits` allow
    /// before any pixel is decoded, and capping the decoder's allocations.
    pub fn decode_limited(bytes: &[u8], limits: FrameLimits) -> Result<Self, FrameError> {
        let reader = || image::ImageReader::new(Cursor::new(bytes)).with_guessed_format();
        let reader = reader().map_err(|e| FrameError::Decode(image::ImageError::IoError(e)))?;
        let (width, height) = reader.into_dimensions()?;
        limits.check(width, height)?;
        let mut reader = image::ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| FrameError::Decode(image::ImageError::IoError(e)))?;
        let mut decoder_limits = image::Limits::default();
        decoder_limits.max_image_width = Some(width);
        decoder_limits.max_image_height = Some(height);
        decoder_limits.max_alloc = Some(limits.max_alloc_bytes());
        reader.limits(decoder_limits);
        Self::from_dynamic(reader.decode()?, limits)
    }

    /// The pixels of a `sensor_msgs/Image` (its `encoding`, `width`, `height`, `step` and
    /// `data` fields), checked by the module's rules and within `limits`. Tightly packed rgb8
    /// becomes the frame without a copy.
    pub fn from_image_message(
        encoding: &str,
        width: u32,
        height: u32,
        step: u32,
        data: Vec<u8>,
        limits: FrameLimits,
    ) -> Result<Self, FrameError> {
        let format = PixelFormat::from_encoding(encoding)?;
        let step = usize::try_from(step).map_err(|_| FrameError::StepOverflow { step })?;
        Self::from_raw_owned_limited(width, height, step, format, data, limits)
    }

    /// As [`Self::from_image_message`], from borrowed bytes (always copied).
    pub fn from_image_message_bytes(
        encoding: &str,
        width: u32,
        height: u32,
        step: u32,
        data: &[u8],
        limits: FrameLimits,
    ) -> Result<Self, FrameError> {
        let format = PixelFormat::from_encoding(encoding)?;
        let step = usize::try_from(step).map_err(|_| FrameError::StepOverflow { step })?;
        Self::from_raw_limited(width, height, step, format, data, limits)
    }

    /// The pixels of a `sensor_msgs/CompressedImage` (its `format` and `data` fields). The
    /// `format` string only refuses what certainly is not a colour JPEG/PNG (`compressedDepth`,
    /// other codecs); the bytes decide between JPEG and PNG. Bounded by `limits` before
    /// decoding ([`Self::decode_limited`]).
    pub fn from_compressed_message(format: &str, data: &[u8], limits: FrameLimits) -> Result<Self, FrameError> {
        let lower = format.to_ascii_lowercase();
        let known = lower.is_empty() || lower.contains("jpeg") || lower.contains("jpg") || lower.contains("png");
        if !known || lower.contains("compresseddepth") {
            return Err(FrameError::UnsupportedCompressedFormat(format.to_owned()));
        }
        if data.is_empty() {
            return Err(FrameError::EmptyData);
        }
        Self::decode_limited(data, limits)
    }

    /// Reads and decodes an image file within the default limits.
    pub fn open(path: &Path) -> Result<Self, FrameError> {
        Self::open_limited(path, FrameLimits::default())
    }

    /// Reads and decodes an image file within `limits`.
    pub fn open_limited(path: &Path, limits: FrameLimits) -> Result<Self, FrameError> {
        let bytes = std::fs::read(path).map_err(|source| FrameError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::decode_limited(&bytes, limits)
    }

    fn from_dynamic(img: image::DynamicImage, limits: FrameLimits) -> Result<Self, FrameError> {
        limits.check(img.width(), img.height())?;
        Ok(Self::from_rgb(img.into_rgb8()))
    }

    pub fn width(&self) -> u32 {
        self.rgb.width()
    }

    pub fn height(&self) -> u32 {
        self.rgb.height()
    }

    /// The packed RGB8 pixels.
    pub fn rgb(&self) -> &RgbImage {
        &self.rgb
    }

    pub fn into_rgb(self) -> RgbImage {
        self.rgb
    }
}

/// Checks a raw image's layout against the module's rules; returns the bytes of pixels a row.
fn check_raw_layout(
    width: u32,
    height: u32,
    step: usize,
    format: PixelFormat,
    data_len: usize,
    limits: FrameLimits,
) -> Result<usize, FrameError> {
    limits.check(width, height)?;
    let channels = format.channels();
    let row_bytes = width as usize * channels;
    if step < row_bytes {
        return Err(FrameError::BadStep { step, width, channels });
    }
    let needed = step
        .checked_mul(height as usize)
        .ok_or(FrameError::BadStep { step, width, channels })?;
    if data_len != needed {
        return Err(FrameError::DataLength {
            actual: data_len,
            needed,
            height,
            step,
        });
    }
    Ok(row_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bgr_with_padding_is_converted() {
        // 2x2 BGR image with a 2-byte row padding.
        let data = [1, 2, 3, 4, 5, 6, 0, 0, 7, 8, 9, 10, 11, 12, 0, 0];
        let f = Frame::from_raw(2, 2, 8, PixelFormat::Bgr8, &data).expect("valid frame");
        assert_eq!(f.rgb().as_raw(), &vec![3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
    }

    #[test]
    fn owned_rgb_is_taken_as_is_and_checked() {
        let f = Frame::from_raw_owned(2, 1, 6, PixelFormat::Rgb8, vec![1, 2, 3, 4, 5, 6]).expect("rgb");
        assert_eq!(f.rgb().as_raw(), &vec![1, 2, 3, 4, 5, 6]);
        assert!(matches!(
            Frame::from_raw_owned(2, 2, 6, PixelFormat::Rgb8, vec![0; 6]),
            Err(FrameError::DataLength { .. })
        ));
    }

    /// The module comment's rules, both ways: what is accepted on purpose and what is refused.
    #[test]
    fn raw_layout_rules_are_exact() {
        // Row padding (step > width x channels) is accepted and skipped, owned or borrowed.
        let padded = vec![1, 2, 3, 4, 5, 6, 0xAA, 7, 8, 9, 10, 11, 12, 0xBB];
        let f = Frame::from_raw_owned(2, 2, 7, PixelFormat::Rgb8, padded.clone()).expect("padded rgb8");
        assert_eq!(f.rgb().as_raw(), &vec![1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        // Data must be exactly height x step: one byte more or one less is refused, also when
        // the missing byte is only the last row's padding.
        let mut longer = padded.clone();
        longer.push(0);
        for (data, what) in [(longer, "longer"), (padded[..13].to_vec(), "shorter")] {
            assert!(
                matches!(
                    Frame::from_raw_owned(2, 2, 7, PixelFormat::Rgb8, data.clone()),
                    Err(FrameError::DataLength { needed: 14, .. })
                ),
                "{what}"
            );
            assert!(matches!(
                Frame::from_raw(2, 2, 7, PixelFormat::Rgb8, &data),
                Err(FrameError::DataLength { .. })
            ));
        }
        // Encodings are spelled as in sensor_msgs/image_encodings.hpp; case matters.
        for ok in ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1"] {
            assert!(PixelFormat::from_encoding(ok).is_ok(), "{ok}");
        }
        for bad in ["RGB8", "Bgr8", "MONO8", "8uc1", " rgb8", "rgb8 ", ""] {
            assert!(
                matches!(PixelFormat::from_encoding(bad), Err(FrameError::UnsupportedEncoding(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn raw_images_over_the_pixel_limit_are_refused() {
        let limits = FrameLimits { max_pixels: 6 };
        assert!(Frame::from_raw_limited(3, 2, 9, PixelFormat::Rgb8, &[0; 18], limits).is_ok());
        assert!(matches!(
            Frame::from_raw_limited(4, 2, 12, PixelFormat::Rgb8, &[0; 24], limits),
            Err(FrameError::TooManyPixels {
                width: 4,
                height: 2,
                max_pixels: 6
            })
        ));
        assert!(matches!(
            Frame::from_raw_owned_limited(7, 1, 21, PixelFormat::Rgb8, vec![0; 21], limits),
            Err(FrameError::TooManyPixels { .. })
        ));
    }

    /// A real decompression bomb: a PNG of about 250 KB that decodes to 16000x16000 (the size an
    /// outside peer sent the node). It must be refused from its header, within the default limits.
    #[test]
    fn decompression_bomb_is_refused() {
        let side = 16_000u32;
        let mut png_bytes = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut png_bytes, side, side);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Eight);
            encoder.set_compression(png::Compression::Fast);
            let mut writer = encoder.write_header().expect("png header");
            let mut stream = writer.stream_writer().expect("png stream");
            let row = vec![0u8; side as usize];
            for _ in 0..side {
                std::io::Write::write_all(&mut stream, &row).expect("png row");
            }
            stream.finish().expect("png end");
        }
        assert!(
            png_bytes.len() < 2 << 20,
            "the bomb is small: {} bytes",
            png_bytes.len()
        );
        let err = Frame::decode(&png_bytes).expect_err("a 256-megapixel image must be refused");
        assert!(
            matches!(
                err,
                FrameError::TooManyPixels {
                    width: 16_000,
                    height: 16_000,
                    ..
                }
            ),
            "refused for its size, not another reason: {err}"
        );
        // The same file is fine when the limit allows it (decoding is not what fails): use a
        // small image of the same kind to keep the test light.
        let mut small = Vec::new();
        image::GrayImage::new(64, 48)
            .write_to(&mut Cursor::new(&mut small), image::ImageFormat::Png)
            .expect("small png");
        let f = Frame::decode_limited(&small, FrameLimits { max_pixels: 64 * 48 }).expect("within limit");
        assert_eq!((f.width(), f.height()), (64, 48));
        assert!(matches!(
            Frame::decode_limited(
                &small,
                FrameLimits {
                    max_pixels: 64 * 48 - 1
                }
            ),
            Err(FrameError::TooManyPixels { .. })
        ));
    }

    #[test]
    fn mono_and_rgba_are_converted() {
        let f = Frame::from_raw(2, 1, 2, PixelFormat::Mono8, &[10, 20]).expect("mono");
        assert_eq!(f.rgb().as_raw(), &vec![10, 10, 10, 20, 20, 20]);
        let f = Frame::from_raw(1, 1, 4, PixelFormat::Bgra8, &[1, 2, 3, 4]).expect("bgra");
        assert_eq!(f.rgb().as_raw(), &vec![3, 2, 1]);
    }

    #[test]
    fn inconsistent_sizes_are_errors() {
        assert!(matches!(
            Frame::from_raw(4, 4, 12, PixelFormat::Rgb8, &[0; 40]),
            Err(FrameError::DataLength { .. })
        ));
        assert!(matches!(
            Frame::from_raw(4, 4, 8, PixelFormat::Rgb8, &[0; 64]),
            Err(FrameError::BadStep { .. })
        ));
        assert!(matches!(
            Frame::from_raw(0, 4, 12, PixelFormat::Rgb8, &[]),
            Err(FrameError::BadDimensions { .. })
        ));
        assert!(matches!(
            Frame::from_raw(100_000, 1, 300_000, PixelFormat::Rgb8, &[]),
            Err(FrameError::BadDimensions { .. })
        ));
        assert!(PixelFormat::from_encoding("yuv422").is_err());
    }

    #[test]
    fn garbage_bytes_do_not_decode() {
        assert!(matches!(
            Frame::decode(b"\xff\xd8\xff\xe0 not really a jpeg"),
            Err(FrameError::Decode(_))
        ));
    }
}
