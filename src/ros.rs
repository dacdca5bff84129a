//! ROS 2 side of facerec: message and service types that mirror `msg/`, `srv/` and the
//! standard definitions, and the node's arguments, parameters and ROS environment.
//!
//! The only module of the crate that imports `ros2_client` / `rustdds`. It converts between
//! ROS messages and the library's types and never reaches into the face pipeline itself.

pub mod dds;
pub mod msgs;
pub mod node;
pub mod params;
pub mod play;

pub use dds::DdsError;
pub use msgs::{RosMessage, RosService};

/// `err` and its sources, joined by ": " (what `{:#}` prints for an `anyhow::Error`), for log
/// lines, diagnostics and service answers, which have no error chain of their own. A cause
/// whose text the message already ends with is not repeated (several core errors print their
/// source in their own message).
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

pub use params::{NameResolver, Params, ParamsError, RosArgs, RosEnv};

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
