//! `facerec replay`: every image message of a rosbag2 bag through the pipeline, as JSON lines,
//! optionally compared with (or written as) a golden file. Thin over `facerec::replay`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use facerec::bag::BagReader;
use facerec::gallery::Gallery;
use facerec::people::{AnonymousMode, LearningConfig, PeopleConfig};
use facerec::replay::{self, EnrollSpec, NameTrackSpec, Replayer, Tolerance};
use facerec::track::TrackerConfig;

use super::common::PipelineOpts;

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Bag directory (with metadata.yaml) or a single .mcap / .db3 file.
    pub bag: PathBuf,
    /// Image topic to replay (repeatable; default: every image topic).
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Gallery file to name faces with (read only; default: an empty in-memory gallery).
    #[arg(long)]
    pub gallery: Option<PathBuf>,
    /// NAME:TOPIC:N: enrol the dominant face of the first N frames of TOPIC under NAME (in
    /// memory; those frames are still output). Repeatable.
    #[arg(long = "enroll")]
    pub enroll: Vec<String>,
    /// Write the JSON lines here instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Compare with this golden file; exit non-zero with a diff when they differ.
    #[arg(long)]
    pub golden: Option<PathBuf>,
    /// Record this replay as a golden file.
    #[arg(long)]
    pub write_golden: Option<PathBuf>,
    /// Smallest box IoU for a face to match its golden face.
    #[arg(long, default_value_t = 0.9)]
    pub iou: f32,
    /// Largest score change allowed against the golden file.
    #[arg(long, default_value_t = 0.02)]
    pub score_tol: f64,
    /// Name every frame on its own (the per-frame baseline) instead of tracking faces per topic.
    #[arg(long)]
    pub no_tracking: bool,
    /// With tracking, embed every face of every frame (no embedding cadence): the reference
    /// that cadence is measured against.
    #[arg(long, conflicts_with = "no_tracking")]
    pub embed_every_frame: bool,
    /// With tracking, strangers (confirmed tracks that match nobody) get an anonymous id
    /// (`person_3f9a`, reproducible), kept in the in-memory gallery and recognised again.
    #[arg(long, conflicts_with = "no_tracking")]
    pub anonymous: bool,
    /// Anonymous people unseen for this long (bag time, seconds) are forgotten.
    #[arg(long, default_value_t = 86_400.0)]
    pub anonymous_expire_s: f64,
    /// NAME:TOPIC:FRAME: after frame FRAME (from 0) of TOPIC, name the track of its dominant
    /// face NAME (enrolment by track: its collected samples become NAME's). Repeatable.
    #[arg(long = "name-track", conflicts_with = "no_tracking")]
    pub name_tracks: Vec<String>,
    /// With tracking, careful learning: samples of confidently identified tracks are added to
    /// their person (capped, never from ambiguous matches).
    #[arg(long, conflicts_with = "no_tracking")]
    pub learn: bool,
    /// With tracking, how long (seconds of stamps) an ended track can be given back to a
    /// returning person by embedding.
    #[arg(long)]
    pub reid_window_s: Option<f64>,
    /// Write the gallery as it is at the end (enrolled, learned and anonymous people) to this
    /// file, e.g. to name another replay with what this one learned.
    #[arg(long)]
    pub save_gallery: Option<PathBuf>,
}

pub fn run(opts: &PipelineOpts, args: &ReplayArgs) -> anyhow::Result<()> {
    let enroll: Vec<EnrollSpec> = args
        .enroll
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .context("bad --enroll")?;
    let golden = match &args.golden {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(replay::parse_records(&text).with_context(|| format!("{}", path.display()))?)
        }
        None => None,
    };
    let reader = BagReader::open(&args.bag)?;
    let images = reader.images(&args.topics)?;
    let gallery = match &args.gallery {
        Some(path) => Gallery::load(path)?,
        None => Gallery::in_memory(),
    };
    let mut pipeline = opts.pipeline()?;
    let pipeline_threshold = pipeline.threshold();
    let mut replayer = Replayer::new(&mut pipeline, gallery, enroll)?;
    let name_tracks: Vec<NameTrackSpec> = args
        .name_tracks
        .iter()
        .map(|s| s.parse())
        .collect::<Result<_, _>>()
        .context("bad --name-track")?;
    if args.no_tracking {
        replayer = replayer.without_tracking();
    } else {
        if let Some(window) = args.reid_window_s {
            if !(window.is_finite() && window >= 0.0) {
                bail!("--reid-window-s must be a number of seconds >= 0, got {window}");
            }
            replayer = replayer.with_tracking(TrackerConfig {
                match_threshold: pipeline_threshold,
                reid_window_ns: (window * 1e9) as i64,
                ..TrackerConfig::default()
            });
        }
        if !(args.anonymous_expire_s.is_finite() && args.anonymous_expire_s >= 0.0) {
            bail!("--anonymous-expire-s must be a number of seconds >= 0");
        }
        replayer = replayer
            .with_people(PeopleConfig {
                anonymous: if args.anonymous {
                    AnonymousMode::InMemory
                } else {
                    AnonymousMode::Off
                },
                anonymous_expire_ns: (args.anonymous_expire_s * 1e9) as i64,
                learning: LearningConfig {
                    enabled: args.learn,
                    ..LearningConfig::default()
                },
                ..PeopleConfig::default()
            })
            .name_tracks(name_tracks);
    }
    replayer = replayer.embed_every_frame(args.embed_every_frame);

    let total: u64 = reader
        .image_topics()
        .iter()
        .filter(|t| args.topics.is_empty() || args.topics.contains(&t.name))
        .filter_map(|t| t.message_count)
        .sum();
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} frames {per_sec} {eta}") {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };

    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut records = Vec::new();
    let started = Instant::now();
    for item in images {
        let record = replayer.process(item);
        for warning in replayer.take_warnings() {
            match &progress {
                Some(bar) => bar.println(format!("facerec: warning: {warning}")),
                None => eprintln!("facerec: warning: {warning}"),
            }
        }
        writeln!(out, "{}", record.to_json_line())?;
        records.push(record);
        if let Some(bar) = &progress {
            bar.inc(1);
        }
    }
    out.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(bar) = &progress {
        bar.finish_and_clear();
    }
    let s = replayer.summary();
    let names: Vec<String> = s.names.iter().map(|(n, c)| format!("{n} x{c}")).collect();
    let enrolled: Vec<String> = s.enrolled.iter().map(|(n, c)| format!("{n} ({c} frame(s))")).collect();
    eprintln!(
        "replay: {} frames, {} faces, {} errors; names seen: {}{}; {:.2} frames/s ({:.2} s)",
        s.frames,
        s.faces,
        s.errors,
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        },
        if enrolled.is_empty() {
            String::new()
        } else {
            format!("; enrolled: {}", enrolled.join(", "))
        },
        if elapsed > 0.0 { s.frames as f64 / elapsed } else { 0.0 },
        elapsed
    );
    eprintln!("replay: {} of {} faces embedded", s.embedded, s.faces);
    for (topic, t) in replayer.tracker_stats() {
        eprintln!(
            "replay: tracker {topic}: {} tracks started, {} confirmed, {} re-identified, {} stamps backwards, \
             {} restarts, {} faces untracked (cap) in {} frames, {} continuity checks, {} identity splits",
            t.tracks_started,
            t.tracks_confirmed,
            t.reidentified,
            t.backwards_stamps,
            t.resets,
            t.untracked_faces,
            t.capped_frames,
            t.continuity_checks,
            t.identity_splits
        );
    }
    if !s.anonymous.is_empty() {
        eprintln!("replay: anonymous people: {}", s.anonymous.join(", "));
    }
    if !s.expired.is_empty() {
        eprintln!("replay: anonymous people expired: {}", s.expired.join(", "));
    }
    if !s.learned.is_empty() {
        let learned: Vec<String> = s.learned.iter().map(|(n, c)| format!("{n} x{c}")).collect();
        eprintln!("replay: samples learned: {}", learned.join(", "));
    }
    for (name, track) in &s.named_tracks {
        match track {
            Some(id) => eprintln!("replay: --name-track {name}: named track {id}"),
            None => eprintln!("facerec: warning: --name-track {name}: no track was named"),
        }
    }
    for (name, count) in &s.enrolled {
        if *count == 0 {
            eprintln!("facerec: warning: --enroll {name}: no frame was accepted, nobody is enrolled under that name");
        }
    }

    if let Some(path) = &args.save_gallery {
        let mut gallery = replayer.gallery().clone();
        gallery.set_persist_anonymous(true);
        gallery.save_to(path)?;
        eprintln!(
            "replay: gallery ({} people) written to {}",
            gallery.len(),
            path.display()
        );
    }
    if let Some(path) = &args.write_golden {
        let mut text = String::new();
        for r in &records {
            text.push_str(&r.to_json_line());
            text.push('\n');
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("replay: golden written to {}", path.display());
    }
    if let (Some(golden), Some(path)) = (golden, &args.golden) {
        let diffs = replay::compare(
            &golden,
            &records,
            Tolerance {
                iou: args.iou,
                score: args.score_tol,
            },
        );
        if diffs.is_empty() {
            eprintln!("replay: matches golden {} ({} frames)", path.display(), golden.len());
        } else {
            for d in &diffs {
                eprintln!("golden diff: {d}");
            }
            bail!(
                "replay differs from golden {} in {} place(s)",
                path.display(),
                diffs.len()
            );
        }
    }
    Ok(())
}
