//! `facerec crops`: training data made by the node's own pipeline. For a folder-per-identity
//! dataset (`ROOT/<identity>/<photo>`, VGGFace2/CASIA style; `ROOT/images/<identity>/...` is
//! found too), every photo is run through the library's detector, its dominant face chosen by the
//! enrolment policy's rule and aligned with `align::align` (Umeyama onto the ArcFace template):
//! exactly the 112x112 crop the node would feed its embedder. Crops are written as PNG under
//! `OUT/crops/<identity>/`, with `OUT/manifest.csv` (identity, source, crop, score) and
//! `OUT/skipped.csv` (identity, source, reason) for photos without exactly one dominant face.

use std::fs;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use facerec::enroll::EnrollPolicy;
use facerec::frame::Frame;
use facerec::Pipeline;
use indicatif::{ProgressBar, ProgressStyle};

use super::common::PipelineOpts;

#[derive(Debug, Args)]
pub struct CropsArgs {
    /// Dataset root: one folder per identity holding its photos (or a root with `images/`).
    pub dataset: PathBuf,
    /// Output folder (created): `crops/`, `manifest.csv`, `skipped.csv`.
    #[arg(long)]
    pub out: PathBuf,
    /// Smallest accepted face, shorter box side in photo pixels.
    #[arg(long, default_value_t = 24.0)]
    pub min_face_px: f32,
    /// The largest face's box area must be this many times the next face's.
    #[arg(long, default_value_t = 1.5)]
    pub dominance_ratio: f32,
    /// Take only the first N identities (sorted by name); 0: all.
    #[arg(long, default_value_t = 0)]
    pub max_identities: usize,
    /// Take only the first N photos of each identity (sorted by name); 0: all.
    #[arg(long, default_value_t = 0)]
    pub max_per_identity: usize,
}

/// One photo to process.
struct Photo {
    identity: String,
    path: PathBuf,
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
}

fn sorted_entries(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot read {}", dir.display()))?;
    entries.sort();
    Ok(entries)
}

/// The photos of a folder-per-identity dataset, identities and photos in name order.
fn list_photos(args: &CropsArgs) -> anyhow::Result<Vec<Photo>> {
    let images = args.dataset.join("images");
    let root = if images.is_dir() { images } else { args.dataset.clone() };
    let mut photos = Vec::new();
    let mut identities = 0;
    for dir in sorted_entries(&root)?.into_iter().filter(|p| p.is_dir()) {
        if args.max_identities > 0 && identities >= args.max_identities {
            break;
        }
        let identity = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files: Vec<PathBuf> = sorted_entries(&dir)?
            .into_iter()
            .filter(|p| p.is_file() && is_image(p))
            .collect();
        if files.is_empty() {
            continue;
        }
        identities += 1;
        let take = if args.max_per_identity > 0 {
            args.max_per_identity
        } else {
            files.len()
        };
        photos.extend(files.into_iter().take(take).map(|path| Photo {
            identity: identity.clone(),
            path,
        }));
    }
    if photos.is_empty() {
        bail!(
            "no identity folders with .jpg/.jpeg/.png photos under {}",
            root.display()
        );
    }
    Ok(photos)
}

/// A CSV field, quoted when it needs to be.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The outcome for one photo: the crop written, or why not.
enum Outcome {
    Crop { crop: String, score: f32 },
    Skipped(String),
}

fn crop_one(pipeline: &mut Pipeline, policy: &EnrollPolicy, photo: &Photo, out: &Path) -> anyhow::Result<Outcome> {
    let frame = match Frame::open(&photo.path) {
        Ok(frame) => frame,
        Err(err) => return Ok(Outcome::Skipped(format!("unreadable: {}", facerec::error_chain(&err)))),
    };
    let detections = pipeline.detect(&frame)?.faces;
    let index = match policy.choose(&detections) {
        Ok(index) => index,
        Err(refusal) => return Ok(Outcome::Skipped(refusal.to_string())),
    };
    let Some(detection) = detections.get(index) else {
        return Ok(Outcome::Skipped("no face in view".to_owned()));
    };
    let Some(aligned) = facerec::align::align(&frame, &detection.landmarks) else {
        return Ok(Outcome::Skipped("degenerate landmarks".to_owned()));
    };
    let stem = photo
        .path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rel = Path::new("crops").join(&photo.identity).join(format!("{stem}.png"));
    let path = out.join(&rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    aligned
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Outcome::Crop {
        crop: rel.display().to_string(),
        score: detection.score,
    })
}

pub fn run(opts: &PipelineOpts, args: &CropsArgs) -> anyhow::Result<()> {
    let photos = list_photos(args)?;
    let mut pipeline = opts.pipeline()?;
    let policy = EnrollPolicy {
        min_face_px: args.min_face_px,
        dominance_ratio: args.dominance_ratio,
        min_sharpness: 0.0,
    };
    fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let open = |name: &str| -> anyhow::Result<BufWriter<fs::File>> {
        let path = args.out.join(name);
        let file = fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(BufWriter::new(file))
    };
    let mut manifest = open("manifest.csv")?;
    let mut skipped = open("skipped.csv")?;
    writeln!(manifest, "identity,source,crop,score")?;
    writeln!(skipped, "identity,source,reason")?;

    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(photos.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("crops {bar:40} {pos}/{len} photos, {per_sec}, eta {eta}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let (mut written, mut refused) = (0usize, 0usize);
    let mut identities = std::collections::BTreeSet::new();
    for photo in &photos {
        let source = photo.path.display().to_string();
        match crop_one(&mut pipeline, &policy, photo, &args.out)? {
            Outcome::Crop { crop, score } => {
                writeln!(
                    manifest,
                    "{},{},{},{score:.4}",
                    csv_field(&photo.identity),
                    csv_field(&source),
                    csv_field(&crop)
                )?;
                identities.insert(photo.identity.as_str());
                written += 1;
            }
            Outcome::Skipped(reason) => {
                writeln!(
                    skipped,
                    "{},{},{}",
                    csv_field(&photo.identity),
                    csv_field(&source),
                    csv_field(&reason)
                )?;
                refused += 1;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    manifest.flush()?;
    skipped.flush()?;
    println!(
        "{written} crops of {} identities written to {}; {refused} of {} photos skipped (see skipped.csv)",
        identities.len(),
        args.out.display(),
        photos.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("id01"), "id01");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
