//! facerec: face detection, alignment, embedding and gallery matching for robots.
//!
//! The core (`frame`, `runtime`, `detect`, `align`, `embed`, `gallery`, `pipeline`) knows
//! nothing of ROS; the CLI, the node, bag replay, evaluation and benchmarks all call it.
//!
//! Cargo features add the optional layers on top of the core: `bag` (rosbag2 reading and
//! `replay`), `eval` (accuracy evaluation; with `replay`'s records, not its bag reading), `ros`
//! (the ROS 2 node and its messages; with exactly one wire format, `jazzy` or `humble`) and
//! `cli` (the binaries). `cargo build --no-default-features --lib` builds the core alone, and
//! `--features X --lib` each layer alone on it.
//!
//! One photo through the core, as `examples/identify_photo.rs` does:
//!
//! ```no_run
//! use facerec::{Frame, Gallery, Pipeline, PipelineConfig};
//! use std::path::Path;
//!
//! let mut pipeline = Pipeline::new(PipelineConfig::default())?;
//! let mut gallery = Gallery::load(Path::new("config/gallery.yaml"))?;
//! gallery.bind_model(pipeline.model_tag())?;
//! let frame = Frame::open(Path::new("tests/fixtures/faces/group/couple.jpg"))?;
//! let faces = pipeline.recognize(&frame, &gallery)?.faces;
//! for face in faces {
//!     println!("{} {:.3}", face.name, face.score);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(all(feature = "jazzy", feature = "humble"))]
compile_error!(
    "features `jazzy` and `humble` are both enabled: ros2-client's features chain, so this would \
     silently speak Jazzy's wire format. `jazzy` is a default feature; for Humble build with \
     `--no-default-features --features humble,cli`."
);
#[cfg(all(feature = "ros", not(any(feature = "jazzy", feature = "humble"))))]
compile_error!("feature `ros` needs a ROS 2 wire format: enable `jazzy` or `humble`.");

pub mod align;
pub mod annotate;
#[cfg(feature = "bag")]
pub mod bag;
pub mod detect;
pub mod embed;
pub mod enroll;
#[cfg(feature = "eval")]
pub mod eval;
pub mod frame;
pub mod gallery;
pub mod locate;
pub mod people;
pub mod pipeline;
// The records and golden comparison with `bag` or `eval`; the replay itself with `bag`.
#[cfg(any(feature = "bag", feature = "eval"))]
pub mod replay;
#[cfg(feature = "ros")]
pub mod ros;
pub mod runtime;
pub mod track;

/// The name given to a face that matches nobody in the gallery.
pub const UNKNOWN: &str = "unknown";

pub use frame::Frame;
pub use gallery::Gallery;
pub use pipeline::{Pipeline, PipelineConfig, Recognition};

/// `err` and its sources, joined by ": " (what `{:#}` prints for an `anyhow::Error`), for log
/// lines, diagnostics, replay records and service answers, which have no error chain of their
/// own. The crate's errors say their cause either in their own message or as their source,
/// never both; a cause whose text the message already ends with is still not repeated (an
/// error of another crate may print its source itself).
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::error_chain;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("says its cause: {0}")]
    struct Inline(#[source] std::io::Error);

    #[test]
    fn error_chain_joins_causes_once() {
        let io = || std::io::Error::other("disk on fire");
        assert_eq!(error_chain(&Outer(io())), "outer: disk on fire");
        assert_eq!(error_chain(&Inline(io())), "says its cause: disk on fire");
    }
}
