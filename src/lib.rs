//! facerec: face detection, alignment, embedding and gallery matching for robots.
//!
//! The core (`frame`, `runtime`, `detect`, `align`, `embed`, `gallery`, `pipeline`) knows
//! nothing of ROS; the CLI, the node, bag replay, evaluation and benchmarks all call it.

pub mod align;
pub mod annotate;
pub mod bag;
pub mod detect;
pub mod embed;
pub mod enroll;
pub mod eval;
pub mod frame;
pub mod gallery;
pub mod pipeline;
pub mod replay;
pub mod ros;
pub mod runtime;

/// The name given to a face that matches nobody in the gallery.
pub const UNKNOWN: &str = "unknown";

pub use frame::Frame;
pub use gallery::Gallery;
pub use pipeline::{Pipeline, PipelineConfig, Recognition};
