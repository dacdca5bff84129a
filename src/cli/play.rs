//! `facerec play`: a bag's image messages published over ROS 2 at their recorded pace, for
//! exercising a running node (ours or another) from a recording. Thin over `facerec::ros::play`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use facerec::bag::BagReader;
use facerec::ros::play::{self, PlayEvent, PlayOptions};
use facerec::ros::RosEnv;

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// Bag directory (with metadata.yaml) or a single .mcap / .db3 file.
    pub bag: PathBuf,
    /// Image topic to play (repeatable; default: every image topic).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// FROM:=TO: publish bag topic FROM on TO instead (repeatable).
    #[arg(long = "remap")]
    pub remap: Vec<String>,
    /// Speed factor on bag time.
    #[arg(long, default_value_t = 1.0)]
    pub rate: f64,
    /// Passes over the bag; 0 loops until Ctrl-C.
    #[arg(long, default_value_t = 1)]
    pub repeat: u32,
    /// Before playing, wait up to SECONDS for every topic to have a subscriber.
    #[arg(long, value_name = "SECONDS")]
    pub wait_for_subscribers: Option<f64>,
    /// Pause before the first message, in seconds (after any wait), for DDS matching.
    #[arg(long, default_value_t = 0.5)]
    pub delay: f64,
    /// Stamp every header with the wall clock at publication instead of the recorded stamp.
    #[arg(long)]
    pub restamp: bool,
    /// Publish best-effort (sensor-data style) instead of reliable.
    #[arg(long)]
    pub best_effort: bool,
}

fn seconds(what: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s).with_context(|| format!("--{what} must be a non-negative number of seconds"))
}

fn parse_remap(s: &str) -> anyhow::Result<(String, String)> {
    match s.split_once(":=") {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.to_owned(), to.to_owned())),
        _ => bail!("--remap wants FROM:=TO, got '{s}'"),
    }
}

pub fn run(args: &PlayArgs) -> anyhow::Result<()> {
    let options = PlayOptions {
        topics: args.topics.clone(),
        remap: args.remap.iter().map(|s| parse_remap(s)).collect::<Result<_, _>>()?,
        rate: args.rate,
        repeat: args.repeat,
        wait_for_subscribers: args
            .wait_for_subscribers
            .map(|s| seconds("wait-for-subscribers", s))
            .transpose()?,
        delay: seconds("delay", args.delay)?,
        restamp: args.restamp,
        best_effort: args.best_effort,
    };
    let env = RosEnv::from_process().context("ROS environment")?;
    let reader = BagReader::open(&args.bag)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    let terminal = std::io::stderr().is_terminal();
    let mut count = 0u64;
    let stats = runtime.block_on(play::play(
        &reader,
        &env,
        &options,
        |event| match event {
            PlayEvent::Published { .. } => {
                count += 1;
                if terminal {
                    eprint!("\rplay: {count} messages published");
                }
            }
            PlayEvent::Skipped(e) => eprintln!("\nfacerec: warning: skipped: {}", facerec::error_chain(e)),
            PlayEvent::LoopDone(n) => tracing::info!("pass {n} over the bag done"),
        },
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    if terminal {
        eprintln!();
    }
    let per_topic: Vec<String> = stats.published.iter().map(|(t, n)| format!("{t} x{n}")).collect();
    eprintln!(
        "play: {} pass(es), published {}; {} message(s) skipped (unreadable), {} failed to publish",
        stats.loops,
        if per_topic.is_empty() {
            "nothing".to_owned()
        } else {
            per_topic.join(", ")
        },
        stats.skipped,
        stats.failed
    );
    Ok(())
}
