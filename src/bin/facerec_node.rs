//! `facerec_node`: the face-recognition ROS 2 node.
//!
//! `facerec_node --ros-args --params-file config/facerec.yaml -p gallery:=/tmp/g.yaml -r __ns:=/robot`
//! Parameters, remaps and `--log-level` follow ROS 2's `--ros-args` rules; `ROS_DOMAIN_ID`,
//! `ROS_LOCALHOST_ONLY` and `RMW_IMPLEMENTATION` are honoured. Runs until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::Context as _;
use facerec::ros::{RosArgs, RosEnv};

const USAGE: &str = "\
facerec_node: face recognition for ROS 2 (cameras in, named boxes out, enroll/forget/list_people services)

usage: facerec_node [--help] [--version] [--ros-args [-r from:=to] [-p name:=value] [--params-file FILE] [--log-level LEVEL]]

Publishes ~/detections (vision_msgs/Detection2DArray), ~/faces (facerec/FaceArray), ~/annotated
(sensor_msgs/Image, when publish_annotated is true) and /diagnostics; serves ~/enroll, ~/forget,
~/list_people. Parameters are described in config/facerec.yaml. Environment: ROS_DOMAIN_ID,
ROS_LOCALHOST_ONLY, ROS_AUTOMATIC_DISCOVERY_RANGE, RMW_IMPLEMENTATION (service wire mapping),
RCUTILS_CONSOLE_OUTPUT_FORMAT, RCUTILS_COLORIZED_OUTPUT, RCUTILS_LOGGING_USE_STDOUT (console
lines, as rcutils'; every line is also published on /rosout), RUST_LOG (overrides --log-level).";

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = RosArgs::parse(std::env::args().skip(1)).context("command line")?;
    if let Some(arg) = args.other.first() {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            "-V" | "--version" => {
                println!("facerec_node {}", env!("CARGO_PKG_VERSION"));
                return Ok(());
            }
            other => anyhow::bail!("unexpected argument {other:?} (ROS arguments go after --ros-args; see --help)"),
        }
    }
    // Logging as an rclcpp node's (facerec::ros::log): console lines in ROS's format
    // (RCUTILS_CONSOLE_OUTPUT_FORMAT, ...), each also on /rosout under the node's logger name;
    // levels from --log-level (only errors from the DDS stack, which is chatty about every peer
    // it meets, unless a rule names it). RUST_LOG, when set, decides the levels instead.
    let fqn = facerec::ros::NameResolver::new(&args, facerec::ros::node::DEFAULT_NODE_NAME, "/")
        .context("node name")?
        .node_fqn();
    let layer = facerec::ros::log::RosLogLayer::from_args(&args, &fqn, |k| std::env::var(k).ok())
        .map_err(anyhow::Error::msg)
        .context("--log-level")?;
    let rust_log = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.is_empty())
        .map(tracing_subscriber::EnvFilter::new);
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        use tracing_subscriber::util::SubscriberInitExt as _;
        tracing_subscriber::registry().with(rust_log).with(layer).init();
    }
    let env = RosEnv::from_process().context("ROS environment")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("facerec-ros")
        .build()
        .context("tokio runtime")?;
    runtime.block_on(facerec::ros::node::run(args, env, shutdown_signal()))?;
    // DDS and worker threads have been told to stop; do not wait on stragglers.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facerec_node: error: {}", facerec::error_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
