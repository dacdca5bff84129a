//! `facerec`: the face pipeline from the command line.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::common::PipelineOpts;

#[derive(Parser)]
#[command(
    name = "facerec",
    version,
    about = "Face detection and recognition on images, bags and datasets"
)]
struct Cli {
    #[command(flatten)]
    pipeline: PipelineOpts,
    /// More log output (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Detect faces; one JSON line per image.
    Detect { images: Vec<PathBuf> },
    /// Add the dominant face of each image to a gallery under a name; or, with
    /// --from-anonymous, give an anonymous person (a stranger with an id) that name.
    Enroll {
        #[arg(long)]
        gallery: PathBuf,
        #[arg(long)]
        name: String,
        /// The anonymous id (e.g. person_3f9a) whose samples become NAME's, no images needed.
        #[arg(long, conflicts_with = "images")]
        from_anonymous: Option<String>,
        #[arg(required_unless_present = "from_anonymous")]
        images: Vec<PathBuf>,
    },
    /// List a gallery's people (anonymous ones marked); --forget removes one (named or anonymous).
    People {
        #[arg(long)]
        gallery: PathBuf,
        /// Remove this person (a name or an anonymous id) and save.
        #[arg(long)]
        forget: Option<String>,
        /// One JSON line per person.
        #[arg(long)]
        json: bool,
    },
    /// Name every face of each image from a gallery.
    Identify {
        #[arg(long)]
        gallery: PathBuf,
        /// Write the (single) image with boxes and names drawn on it.
        #[arg(long)]
        annotate: Option<PathBuf>,
        /// One JSON line per image instead of text.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        images: Vec<PathBuf>,
    },
    /// Similarity of the main faces of two images, and same/different at the threshold.
    Compare {
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Accuracy on a labelled dataset (LFW layout): pair verification and open-set identification.
    Eval {
        #[command(subcommand)]
        command: cli::eval::EvalCommand,
    },
    /// Time every stage on composed frames, the overhead over bare ONNX Runtime calls, and
    /// gallery matching at scale.
    Bench(cli::bench::pipeline::BenchArgs),
    /// The node under camera load over ROS 2: starts facerec_node, publishes N cameras from this
    /// process, reports received/processed/dropped frames and header-to-detection latency.
    BenchNode(cli::bench::node::NodeBenchArgs),
    /// Every image message of a rosbag2 bag through the pipeline, as JSON lines; golden files.
    Replay(cli::replay::ReplayArgs),
    /// Publish a rosbag2 bag's image messages over ROS 2 at their recorded pace (to drive a
    /// running node from a recording). Honours ROS_DOMAIN_ID and ROS_LOCALHOST_ONLY.
    Play(cli::play::PlayArgs),
    /// Print the named boxes a running node publishes on ~/detections (and save its
    /// ~/annotated frames with --annotated DIR). Honours ROS_DOMAIN_ID and ROS_LOCALHOST_ONLY.
    Watch(cli::watch::WatchArgs),
    /// Aligned 112x112 training crops and a manifest for a folder-per-identity dataset.
    Crops(cli::crops::CropsArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Detect { images } => cli::faces::detect(&mut cli.pipeline.pipeline()?, &images),
        Command::Enroll {
            gallery,
            name,
            from_anonymous: Some(id),
            ..
        } => cli::faces::enroll_from_anonymous(&gallery, &name, &id),
        Command::Enroll {
            gallery, name, images, ..
        } => cli::faces::enroll(&mut cli.pipeline.pipeline()?, &gallery, &name, &images),
        Command::People { gallery, forget, json } => cli::faces::people(&gallery, forget.as_deref(), json),
        Command::Identify {
            gallery,
            annotate,
            json,
            images,
        } => cli::faces::identify(
            &mut cli.pipeline.pipeline()?,
            &gallery,
            &images,
            annotate.as_deref(),
            json,
        ),
        Command::Compare { a, b, json } => cli::faces::compare(&mut cli.pipeline.pipeline()?, &a, &b, json),
        Command::Eval { command } => cli::eval::run(&cli.pipeline, command),
        Command::Bench(args) => cli::bench::pipeline::run(&cli.pipeline, &args),
        Command::BenchNode(args) => cli::bench::node::run(&cli.pipeline, &args),
        Command::Replay(args) => cli::replay::run(&cli.pipeline, &args),
        Command::Play(args) => cli::play::run(&args),
        Command::Watch(args) => cli::watch::run(&args),
        Command::Crops(args) => cli::crops::run(&cli.pipeline, &args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // The DDS crates log teardown noise (leaving multicast groups, stopping spinners) as errors
    // when `play` and `bench-node` exit; RUST_LOG brings them back for debugging.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("facerec={default_level},rustdds=off,ros2_client=off,warn"))
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("facerec: error: {}", facerec::error_chain(err.as_ref()));
            ExitCode::FAILURE
        }
    }
}
