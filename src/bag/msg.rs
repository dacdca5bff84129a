//! The two ROS 2 image messages a bag replay reads, decoded from their CDR bytes.
//!
//! Own serde structs for `sensor_msgs/msg/Image` and `sensor_msgs/msg/CompressedImage` with
//! their `std_msgs/Header` and `builtin_interfaces/Time` (field order as in the official .msg
//! files), free of ROS crates. They are the crate's only definition of these messages:
//! `ros::msgs` re-exports them with their ROS names for the node (checked byte for byte
//! against rosbags' CDR in `tests/ros_msgs.rs`).
//! Decoding checks the 4-byte encapsulation header and that nothing but alignment padding
//! follows the message; every failure is a `String` reason that the caller wraps into a
//! [`super::BagError::Malformed`] naming file, topic and time.

use serde::{Deserialize, Serialize};

/// `sensor_msgs/msg/Image`.
pub const IMAGE_TYPE: &str = "sensor_msgs/msg/Image";
/// `sensor_msgs/msg/CompressedImage`.
pub const COMPRESSED_IMAGE_TYPE: &str = "sensor_msgs/msg/CompressedImage";

/// Which image message a topic carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// `sensor_msgs/msg/Image`.
    Raw,
    /// `sensor_msgs/msg/CompressedImage`.
    Compressed,
}

impl ImageKind {
    /// The kind for a ROS 2 type name (`sensor_msgs/msg/Image`; the ROS 1 style
    /// `sensor_msgs/Image` is accepted too), or `None` for any other type.
    pub fn from_type_name(type_name: &str) -> Option<Self> {
        match type_name {
            IMAGE_TYPE | "sensor_msgs/Image" => Some(Self::Raw),
            COMPRESSED_IMAGE_TYPE | "sensor_msgs/CompressedImage" => Some(Self::Compressed),
            _ => None,
        }
    }
}

/// `builtin_interfaces/msg/Time`: seconds and nanoseconds since the Unix epoch (or
/// since the simulation start, under sim time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    /// Sub-second part, `0..1_000_000_000`.
    pub nanosec: u32,
}

impl Time {
    /// From nanoseconds since the epoch; negative times keep `nanosec` positive,
    /// as ROS does (-1.5 s is `sec = -2, nanosec = 500_000_000`). Saturates at
    /// the `i32` seconds range.
    pub fn from_nanos(nanos: i64) -> Self {
        let sec = nanos.div_euclid(1_000_000_000);
        let nanosec = nanos.rem_euclid(1_000_000_000);
        let sec = sec.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
        Self {
            sec: i32::try_from(sec).unwrap_or(if sec < 0 { i32::MIN } else { i32::MAX }),
            nanosec: u32::try_from(nanosec).unwrap_or(0),
        }
    }

    /// Nanoseconds since the epoch.
    pub fn to_nanos(self) -> i64 {
        i64::from(self.sec) * 1_000_000_000 + i64::from(self.nanosec)
    }

    /// The system clock now.
    pub fn now() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Self::from_nanos(nanos)
    }
}

/// `std_msgs/msg/Header`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub stamp: Time,
    /// Coordinate frame of the data (for an image: the camera's optical frame).
    pub frame_id: String,
}

/// `sensor_msgs/msg/Image`: raw pixels, `step` bytes per row.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub header: Header,
    /// Rows.
    pub height: u32,
    /// Columns.
    pub width: u32,
    /// Pixel encoding, e.g. `rgb8`, `bgr8`, `mono8` (see `sensor_msgs/image_encodings.hpp`).
    pub encoding: String,
    pub is_bigendian: u8,
    /// Bytes per row, at least `width * bytes_per_pixel`.
    pub step: u32,
    /// `step * height` bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `sensor_msgs/msg/CompressedImage`: an encoded image (`jpeg`, `png`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressedImage {
    pub header: Header,
    /// Compression format; image_transport writes e.g. `rgb8; jpeg compressed bgr8`.
    pub format: String,
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// The first bytes of a zstd frame (rosbag2 per-message compression).
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Decodes one serialized message (encapsulation header + CDR body) into `T`.
///
/// Accepted encapsulations: plain CDR (`00 00` big endian, `00 01` little endian) and plain
/// XCDR2 (`00 06` / `00 07`), which for these two messages (no 8-byte fields, final types) lays
/// out the same bytes. Parameter-list and delimited encodings are refused.
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    let Some((header, body)) = bytes.split_first_chunk::<4>() else {
        return Err(format!(
            "{} bytes, too short for the 4-byte CDR encapsulation header",
            bytes.len()
        ));
    };
    let [kind_hi, kind_lo, _, _] = *header;
    let (value, consumed) = match [kind_hi, kind_lo] {
        [0x00, 0x00] | [0x00, 0x06] => cdr_encoding::from_bytes::<T, byteorder::BigEndian>(body),
        [0x00, 0x01] | [0x00, 0x07] => cdr_encoding::from_bytes::<T, byteorder::LittleEndian>(body),
        _ if bytes.starts_with(ZSTD_MAGIC) => {
            return Err("the message is zstd-compressed, but the bag's metadata.yaml does not \
                        say so (open the bag directory rather than the file)"
                .to_owned())
        }
        [a, b] => {
            return Err(format!(
                "unsupported CDR encapsulation {a:02x} {b:02x} (expected 00 00/00 01 plain CDR)"
            ))
        }
    }
    .map_err(|e| format!("CDR decoding failed: {e}"))?;
    let trailing = body.len().saturating_sub(consumed);
    // A serializer may pad the end to a multiple of 4; more than that means a wrong type.
    if trailing > 3 {
        return Err(format!("{trailing} bytes left over after the message"));
    }
    Ok(value)
}
