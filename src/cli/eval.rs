//! `eval pairs` and `eval identify`: accuracy of the configured detector + embedder on a labelled
//! dataset (LFW layout), with the embedding cache, progress bars, a text summary on stdout and a
//! JSON report + SVG plot on disk. Thin over `facerec::eval`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use facerec::eval::cache::{CacheSetting, EmbeddingCache};
use facerec::eval::faces::{FacePolicy, DEFAULT_RETRY_MIN_SCORE};
use facerec::eval::protocol::{parse_pairs, scan_people, DEFAULT_FOLDS};
use facerec::eval::{identify, plot, verify, Extractor, FaceStats, ModelInfo};
use facerec::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use serde_json::json;

use super::common::PipelineOpts;

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Pair verification on an LFW pair list (pairsDevTest.txt or pairs.txt layout):
    /// k-fold accuracy, F1, ROC AUC, TAR@FAR, the calibrated threshold.
    Pairs(PairsArgs),
    /// Open-set identification: one enrolled photo per person with >= 2 photos; probes are their
    /// other photos and the photos of people with one photo (strangers).
    Identify(IdentifyArgs),
    /// Sequence metrics of replays (`facerec replay` JSON lines, tracking on or off) against
    /// labels of who is where: id switches, name flips, frames to the first correct name,
    /// wrong-name frames, returns that kept their track id. Runs no model.
    Sequence(SequenceArgs),
    /// Far faces: detection and match rate against face size. Each person's first photo is
    /// scaled so its face is N px wide and pasted into a grey camera-sized frame; a face counts as
    /// matched when it is above the match threshold against the same face at full size.
    Sizes(SizesArgs),
}

#[derive(Debug, Clone, Args)]
pub struct SizesArgs {
    /// Dataset images: DIR/<Name>/<Name>_NNNN.jpg (the first photo of each person is used).
    #[arg(long)]
    pub images: PathBuf,
    /// Frame sizes the faces are pasted into, WxH.
    #[arg(long = "frame", value_delimiter = ',', default_values_t = vec!["1280x720".to_owned(), "1920x1080".to_owned()])]
    pub frames: Vec<String>,
    /// Face box widths tried, frame pixels.
    #[arg(long, value_delimiter = ',', default_values_t = vec![12, 16, 20, 24, 32, 40, 48, 64, 96])]
    pub sizes: Vec<u32>,
    /// People used (their first photo each), in name order.
    #[arg(long, default_value_t = 200)]
    pub max_photos: usize,
    /// Match rate that counts as reliable for the "smallest face" line.
    #[arg(long, default_value_t = 0.9)]
    pub reliable_rate: f64,
    /// Write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SequenceArgs {
    /// Labels (JSON, see `facerec::eval::sequence::SequenceLabels`).
    #[arg(long)]
    pub labels: PathBuf,
    /// Replay outputs to score (JSON lines), each reported on its own.
    #[arg(required = true)]
    pub records: Vec<PathBuf>,
    /// Print the metrics as one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CommonEvalArgs {
    /// Dataset images: DIR/<Name>/<Name>_NNNN.jpg.
    #[arg(long)]
    pub images: PathBuf,
    /// Folder for the JSON report and the SVG plot.
    #[arg(long, default_value = "eval-out")]
    pub out: PathBuf,
    /// Name stem of the report files (default: `<command>-<detector>`).
    #[arg(long)]
    pub name: Option<String>,
    /// Embedding cache folder (one file per model setting).
    #[arg(long, default_value = ".cache/embeddings")]
    pub cache_dir: PathBuf,
    /// Run every photo through the pipeline, neither reading nor writing the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Detector score threshold tried when no face reaches the configured one.
    #[arg(long, default_value_t = DEFAULT_RETRY_MIN_SCORE)]
    pub retry_min_score: f32,
}

#[derive(Debug, Clone, Args)]
pub struct PairsArgs {
    /// LFW pair list.
    #[arg(long)]
    pub pairs: PathBuf,
    #[command(flatten)]
    pub common: CommonEvalArgs,
    /// Folds for a file holding a single set of pairs (pairsDevTest.txt).
    #[arg(long, default_value_t = DEFAULT_FOLDS)]
    pub folds: usize,
    /// FAR targets for TAR@FAR.
    #[arg(long = "far", default_values_t = vec![1e-3, 1e-2])]
    pub far: Vec<f64>,
    /// Exit with an error when the k-fold accuracy is below this (0..1), for CI.
    #[arg(long)]
    pub min_accuracy: Option<f64>,
}

#[derive(Debug, Clone, Args)]
pub struct IdentifyArgs {
    #[command(flatten)]
    pub common: CommonEvalArgs,
    /// Stranger acceptance rate the recommended threshold must not exceed.
    #[arg(long, default_value_t = 0.01)]
    pub stranger_rate: f64,
}

pub fn run(opts: &PipelineOpts, command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Pairs(args) => pairs(opts, &args),
        EvalCommand::Identify(args) => identify(opts, &args),
        EvalCommand::Sequence(args) => sequence(&args),
        EvalCommand::Sizes(args) => sizes(opts, &args),
    }
}

fn sizes(opts: &PipelineOpts, args: &SizesArgs) -> anyhow::Result<()> {
    use facerec::eval::sizes::face_sizes;
    require_dir(&args.images, "--images")?;
    let mut people = scan_people(&args.images)?;
    people.sort_by(|a, b| a.name.cmp(&b.name));
    let photos: Vec<PathBuf> = people
        .iter()
        .filter_map(|p| p.images.first().cloned())
        .take(args.max_photos)
        .collect();
    if photos.is_empty() {
        bail!("no people (sub-folders with images) under {}", args.images.display());
    }
    let (policy, config) = FacePolicy::for_config(opts.config()?, DEFAULT_RETRY_MIN_SCORE);
    let mut pipeline = Pipeline::new(config).context("cannot start the face pipeline")?;
    let models = ModelInfo::of(&pipeline, &policy)?;
    let mut reports = Vec::new();
    for frame in &args.frames {
        let (w, h) = frame
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
            .with_context(|| format!("--frame {frame:?}: expected WxH, e.g. 1920x1080"))?;
        let bar = progress_bar(photos.len(), &format!("sizes {frame}"));
        let report = face_sizes(
            &mut pipeline,
            &policy,
            &photos,
            &args.sizes,
            (w, h),
            progress(&bar, photos.len()),
        )?;
        bar.finish_and_clear();
        println!(
            "{} (input_size {}, max_upscale {}, border_pad {}) + {}, {w}x{h} frames, {} photos ({} without a face at full size), threshold {:.3}",
            models.detector,
            models.detector_input_size,
            models.detector_max_upscale,
            models.detector_border_pad,
            models.embedder_model,
            report.photos_read,
            report.photos_without_reference,
            report.threshold
        );
        println!("| face px | photos | detected | matched | mean similarity | passes |");
        println!("| --- | --- | --- | --- | --- | --- |");
        for row in &report.rows {
            println!(
                "| {} | {} | {:.1} % | {:.1} % | {:.3} | {:.2} |",
                row.face_px,
                row.photos,
                100.0 * row.detected_rate(),
                100.0 * row.matched_rate(),
                row.mean_similarity,
                row.mean_detect_passes
            );
        }
        match report.smallest_reliable(args.reliable_rate) {
            Some(px) => println!(
                "smallest face matched reliably (>= {:.0} % at it and every larger size): {px} px",
                100.0 * args.reliable_rate
            ),
            None => println!("no size listed is matched at >= {:.0} %", 100.0 * args.reliable_rate),
        }
        reports.push(report);
    }
    if let Some(path) = &args.json {
        let full = json!({ "models": models, "reports": reports });
        std::fs::write(path, serde_json::to_vec_pretty(&full)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn sequence(args: &SequenceArgs) -> anyhow::Result<()> {
    use facerec::eval::sequence::{evaluate, SequenceLabels};
    let text =
        std::fs::read_to_string(&args.labels).with_context(|| format!("cannot read {}", args.labels.display()))?;
    let labels: SequenceLabels =
        serde_json::from_str(&text).with_context(|| format!("{}: not sequence labels", args.labels.display()))?;
    let mut all = serde_json::Map::new();
    for path in &args.records {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let records = facerec::replay::parse_records(&text).with_context(|| format!("{}", path.display()))?;
        let metrics = evaluate(&records, &labels);
        if args.json {
            all.insert(path.display().to_string(), serde_json::to_value(&metrics)?);
            continue;
        }
        println!("{}", path.display());
        for (topic, m) in &metrics {
            println!(
                "  {topic}: {} frames, {} faces ({} tracked, {} ignored), {} tracks, {} name flips within tracks",
                m.frames, m.faces, m.tracked_faces, m.ignored_faces, m.tracks, m.name_flips_per_track
            );
            println!(
                "    {:<16} {:>6} {:>5} {:>9} {:>6} {:>6} {:>14} {:>11} {:>7} {:>8} {:>10}",
                "person",
                "frames",
                "runs",
                "id-switch",
                "ids",
                "flips",
                "to-first-name",
                "wrong-name",
                "unnamed",
                "returns",
                "anon(ids)"
            );
            let total = m.total();
            for (who, p) in m.people.iter().chain(std::iter::once((&"(all)".to_owned(), &total))) {
                println!(
                    "    {:<16} {:>6} {:>5} {:>9} {:>6} {:>6} {:>14} {:>11} {:>7} {:>8} {:>10}",
                    who,
                    p.frames,
                    p.runs,
                    p.id_switches,
                    p.track_ids,
                    p.name_flips,
                    format!("{} ({} never)", p.frames_to_first_correct, p.runs_never_named),
                    p.wrong_name_frames,
                    p.unnamed_frames,
                    format!("{}/{}", p.returns_same_id, p.returns),
                    format!("{} ({})", p.anonymous_frames, p.anonymous_ids)
                );
            }
        }
    }
    if args.json {
        println!("{}", serde_json::Value::Object(all));
    }
    Ok(())
}

/// The pipeline built for evaluation, its face policy, and the cache for that setting.
fn setup(
    opts: &PipelineOpts,
    common: &CommonEvalArgs,
) -> anyhow::Result<(Pipeline, FacePolicy, Option<EmbeddingCache>)> {
    let (policy, config) = FacePolicy::for_config(opts.config()?, common.retry_min_score);
    let pipeline = Pipeline::new(config).context("cannot start the face pipeline")?;
    let cache = if common.no_cache {
        None
    } else {
        let setting = CacheSetting::of(&pipeline, &policy)?;
        let cache = EmbeddingCache::open(&common.cache_dir, setting);
        eprintln!(
            "embedding cache {} ({} photos cached)",
            cache.path().display(),
            cache.len()
        );
        Some(cache)
    };
    Ok((pipeline, policy, cache))
}

fn progress_bar(len: usize, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    let style = ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} photos, {per_sec}, eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

/// Progress callback: a bar on a terminal, a line every 10 % otherwise.
fn progress(bar: &ProgressBar, total: usize) -> impl FnMut(usize) + '_ {
    let terminal = !bar.is_hidden();
    let mut next_line = total / 10;
    move |done| {
        if terminal {
            bar.set_position(done as u64);
        } else if done >= next_line.max(1) && total >= 100 {
            eprintln!("  {done}/{total} photos");
            next_line += total / 10;
        }
    }
}

fn write_outputs<T: Serialize>(
    common: &CommonEvalArgs,
    stem: &str,
    report: &T,
    svg: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(&common.out).with_context(|| format!("cannot create {}", common.out.display()))?;
    let json_path = common.out.join(format!("{stem}.json"));
    let svg_path = common.out.join(format!("{stem}.svg"));
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(&json_path, text + "\n").with_context(|| format!("cannot write {}", json_path.display()))?;
    std::fs::write(&svg_path, svg).with_context(|| format!("cannot write {}", svg_path.display()))?;
    Ok((json_path, svg_path))
}

fn require_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    if !dir.is_dir() {
        bail!(
            "{what} {} is not a folder (expected DIR/<Name>/<Name>_NNNN.jpg)",
            dir.display()
        );
    }
    Ok(())
}

fn pairs(opts: &PipelineOpts, args: &PairsArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let common = &args.common;
    let text = std::fs::read_to_string(&args.pairs)
        .with_context(|| format!("cannot read pair list {}", args.pairs.display()))?;
    let list = parse_pairs(&text, args.folds).with_context(|| format!("{}", args.pairs.display()))?;
    require_dir(&common.images, "--images")?;
    let mut paths: Vec<PathBuf> = list
        .pairs
        .iter()
        .flat_map(|p| [p.a.path(&common.images), p.b.path(&common.images)])
        .collect();
    paths.sort();
    paths.dedup();
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        bail!(
            "{} is listed in {} but does not exist",
            missing.display(),
            args.pairs.display()
        );
    }
    let (mut pipeline, policy, cache) = setup(opts, common)?;
    let models = ModelInfo::of(&pipeline, &policy)?;
    let bar = progress_bar(paths.len(), "pairs");
    let mut extractor = Extractor {
        pipeline: &mut pipeline,
        policy,
        cache,
    };
    let (faces, extract) = extractor.faces(&paths, &mut progress(&bar, paths.len()))?;
    bar.finish_and_clear();
    let face_stats = FaceStats::of(&faces);
    let scores = verify::score_pairs(&list, &common.images, &faces)?;
    let report = verify::evaluate(scores, list.folds, &list.folds_note, &args.far)?;
    let seconds = start.elapsed().as_secs_f64();
    let stem = common
        .name
        .clone()
        .unwrap_or_else(|| format!("pairs-{}", models.detector));
    let title = format!(
        "{} + {} on {} ({} pairs)",
        models.detector_model,
        models.embedder_model,
        facerec::eval::file_label(&args.pairs),
        report.pairs
    );
    let svg = plot::verification_svg(&report, &title);
    let full = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "pairs_file": args.pairs.display().to_string(),
        "images": common.images.display().to_string(),
        "layout": list.layout,
        "models": models,
        "faces": face_stats,
        "extraction": extract,
        "seconds": seconds,
        "verification": report,
    });
    let (json_path, svg_path) = write_outputs(common, &stem, &full, &svg)?;

    println!("{title}");
    println!(
        "photos: {} ({} computed, {} from cache, {:.1} s); faces: {} found, {} only at retry score {:.2}, {} not found; {} photos with several faces",
        face_stats.images,
        extract.computed,
        extract.cached,
        extract.seconds,
        face_stats.found,
        face_stats.found_on_retry,
        policy.retry_min_score,
        face_stats.not_found,
        face_stats.several_faces
    );
    if face_stats.not_found > 0 {
        println!("  no face: {}", face_stats.not_found_images.join(", "));
    }
    println!(
        "pairs: {} ({} same, {} different); pairs with a photo without a face: {} same, {} different (rejected)",
        report.pairs, report.same_pairs, report.different_pairs, report.missing.same, report.missing.different
    );
    println!("folds: {} ({})", report.folds, report.folds_note);
    println!(
        "accuracy ({}-fold): {:.2}% ± {:.2}   F1: {:.4}   ROC AUC: {:.4}",
        report.folds,
        report.kfold.mean_accuracy * 100.0,
        report.kfold.std_accuracy * 100.0,
        report.f1,
        report.roc_auc
    );
    if let Some(acc) = report
        .found_only_accuracy
        .filter(|_| report.missing.same + report.missing.different > 0)
    {
        println!("accuracy on pairs with both faces found: {:.2}%", acc * 100.0);
    }
    for t in &report.tar_at_far {
        let note = if (t.negatives as f64) * t.target_far < 1.0 {
            format!(
                " ({} different-people pairs: this means no false acceptance at all)",
                t.negatives
            )
        } else {
            String::new()
        };
        println!(
            "TAR @ FAR {:.0e}: {:.2}% at threshold {:.3} (FAR {:.4}){note}",
            t.target_far,
            t.tar * 100.0,
            t.threshold,
            t.far
        );
    }
    println!(
        "threshold: {:.3} (best accuracy on all pairs: {:.2}%, F1 {:.4}); fold thresholds: mean {:.3}, {}",
        report.threshold,
        report.all_pairs_accuracy * 100.0,
        report.all_pairs_f1,
        report.kfold.mean_threshold,
        report
            .kfold
            .folds
            .iter()
            .map(|f| format!("{:.3}", f.threshold))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let (s, d) = (&report.same_scores, &report.different_scores);
    println!(
        "same-person scores: mean {:.3} sd {:.3} [{:.3}, {:.3}]",
        s.mean, s.std, s.min, s.max
    );
    println!(
        "different-people scores: mean {:.3} sd {:.3} [{:.3}, {:.3}]",
        d.mean, d.std, d.min, d.max
    );
    println!("errors at the threshold: {}", report.errors.len());
    for e in report.errors.iter().take(10) {
        let kind = if e.same {
            "same, rejected"
        } else {
            "different, accepted"
        };
        let missing = if e.missing_face { " (no face)" } else { "" };
        println!("  {:.3} {} / {}: {kind}{missing}", e.score, e.a, e.b);
    }
    println!("seconds: {seconds:.1}");
    println!("report: {}  plot: {}", json_path.display(), svg_path.display());
    if let Some(min) = args.min_accuracy {
        if report.kfold.mean_accuracy < min {
            bail!(
                "accuracy {:.2}% is below the required {:.2}% ({})",
                report.kfold.mean_accuracy * 100.0,
                min * 100.0,
                args.pairs.display()
            );
        }
    }
    Ok(())
}

fn identify(opts: &PipelineOpts, args: &IdentifyArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let common = &args.common;
    require_dir(&common.images, "--images")?;
    if !(0.0..=1.0).contains(&args.stranger_rate) {
        bail!("--stranger-rate must be within 0..1");
    }
    let people = scan_people(&common.images)?;
    if people.is_empty() {
        bail!("no people (sub-folders with images) under {}", common.images.display());
    }
    let paths: Vec<PathBuf> = people.iter().flat_map(|p| p.images.iter().cloned()).collect();
    let (mut pipeline, policy, cache) = setup(opts, common)?;
    let configured_threshold = pipeline.threshold();
    let models = ModelInfo::of(&pipeline, &policy)?;
    let bar = progress_bar(paths.len(), "identify");
    let mut extractor = Extractor {
        pipeline: &mut pipeline,
        policy,
        cache,
    };
    let (faces, extract) = extractor.faces(&paths, &mut progress(&bar, paths.len()))?;
    bar.finish_and_clear();
    let face_stats = FaceStats::of(&faces);
    let report = identify::evaluate(&people, &faces, args.stranger_rate, configured_threshold)?;
    let seconds = start.elapsed().as_secs_f64();
    let stem = common
        .name
        .clone()
        .unwrap_or_else(|| format!("identify-{}", models.detector));
    let title = format!(
        "{} + {} on {}",
        models.detector_model,
        models.embedder_model,
        common.images.display()
    );
    let svg = plot::identification_svg(&report, &title);
    let full = json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "images": common.images.display().to_string(),
        "models": models,
        "faces": face_stats,
        "extraction": extract,
        "seconds": seconds,
        "identification": report,
    });
    let (json_path, svg_path) = write_outputs(common, &stem, &full, &svg)?;

    println!("{title}");
    println!(
        "photos: {} ({} computed, {} from cache, {:.1} s); faces: {} found, {} only at retry score {:.2}, {} not found",
        face_stats.images,
        extract.computed,
        extract.cached,
        extract.seconds,
        face_stats.found,
        face_stats.found_on_retry,
        policy.retry_min_score,
        face_stats.not_found
    );
    println!(
        "people: {}; enrolled (one photo each): {}; not enrollable (no face in any photo): {}",
        report.people,
        report.enrolled,
        report.not_enrollable.len()
    );
    println!(
        "probes: {} known ({} without a face: counted as rejected), {} strangers ({} without a face: left out)",
        report.known_probes, report.known_probes_without_face, report.strangers, report.strangers_without_face
    );
    println!(
        "rank-1 identification (known probes with a face, no threshold): {:.2}%",
        report.rank1_rate * 100.0
    );
    let row = |label: &str, o: &identify::OperatingPoint| {
        println!(
            "{label:<34} threshold {:.3}: strangers accepted {:6.2}%  known named correctly {:6.2}%  rejected {:6.2}%  misnamed {:6.2}%",
            o.threshold,
            o.stranger_acceptance * 100.0,
            o.known_identified * 100.0,
            o.known_rejected * 100.0,
            o.known_misidentified * 100.0
        )
    };
    row(
        &format!("recommended (strangers <= {:.2}%)", args.stranger_rate * 100.0),
        &report.recommended,
    );
    row("configured", &report.at_configured_threshold);
    for o in report
        .sweep
        .iter()
        .filter(|o| (o.threshold * 100.0).round() as i32 % 5 == 0 && o.threshold >= 0.2 && o.threshold <= 0.7)
    {
        row("", o);
    }
    println!("seconds: {seconds:.1}");
    println!("report: {}  plot: {}", json_path.display(), svg_path.display());
    Ok(())
}
