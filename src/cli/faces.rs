//! `detect`, `enroll`, `identify` and `compare`: the face pipeline on image files.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use facerec::enroll::EnrollPolicy;
use facerec::frame::Frame;
use facerec::gallery::Gallery;
use facerec::pipeline::{Face, Timed};
use facerec::Pipeline;
use serde_json::json;

fn open(path: &Path) -> anyhow::Result<Frame> {
    Frame::open(path).with_context(|| format!("{}", path.display()))
}

/// `facerec detect`: faces of each image as JSON lines.
pub fn detect(pipeline: &mut Pipeline, images: &[PathBuf]) -> anyhow::Result<()> {
    for path in images {
        let frame = open(path)?;
        let Timed { faces, timings } = pipeline.detect(&frame)?;
        let line = json!({
            "image": path.display().to_string(),
            "width": frame.width(),
            "height": frame.height(),
            "faces": faces,
            "timings_ms": timings,
        });
        println!("{line}");
    }
    Ok(())
}

/// The dominant face of an image, embedded, following the enrolment policy.
pub fn dominant_face(pipeline: &mut Pipeline, policy: &EnrollPolicy, path: &Path) -> anyhow::Result<Face> {
    let frame = open(path)?;
    let Timed {
        faces: detections,
        mut timings,
    } = pipeline.detect(&frame)?;
    let index = policy
        .select(&frame, &detections)
        .with_context(|| format!("{}", path.display()))?;
    let detection = detections.into_iter().nth(index).context("dominant face vanished")?;
    let mut faces = pipeline.embed_detections(&frame, vec![detection], &mut timings)?;
    faces
        .pop()
        .with_context(|| format!("{}: face landmarks cannot be aligned", path.display()))
}

/// `facerec enroll`: adds the dominant face of each image under one name and saves the gallery.
pub fn enroll(pipeline: &mut Pipeline, gallery_path: &Path, name: &str, images: &[PathBuf]) -> anyhow::Result<()> {
    facerec::gallery::validate_name(name)?;
    let mut gallery = Gallery::open_or_create(gallery_path)?;
    gallery.bind_model(pipeline.model_tag())?;
    let policy = EnrollPolicy::default();
    let mut vectors = Vec::with_capacity(images.len());
    for path in images {
        vectors.push(dominant_face(pipeline, &policy, path)?.embedding);
    }
    let count = vectors.len();
    gallery.add_and_save(name, vectors)?;
    let total = gallery.people().find(|(n, _)| *n == name).map_or(count, |(_, c)| c);
    println!(
        "enrolled {name}: {count} new sample(s), {total} in total; gallery {} has {} people",
        gallery_path.display(),
        gallery.len()
    );
    Ok(())
}

/// `facerec enroll --from-anonymous ID --name NAME`: the anonymous person ID becomes NAME, with
/// the samples collected while they were a stranger; saved before the answer.
pub fn enroll_from_anonymous(gallery_path: &Path, name: &str, id: &str) -> anyhow::Result<()> {
    let mut gallery = Gallery::load(gallery_path)?;
    let samples = facerec::people::People::name_anonymous(&mut gallery, [], id, name, true)?;
    println!(
        "enrolled {name} from anonymous {id}: {samples} sample(s); gallery {} has {} people",
        gallery_path.display(),
        gallery.len()
    );
    Ok(())
}

/// `facerec people`: lists a gallery's people, anonymous ones marked; `--forget` removes one.
pub fn people(gallery_path: &Path, forget: Option<&str>, as_json: bool) -> anyhow::Result<()> {
    let mut gallery = Gallery::load(gallery_path)?;
    if let Some(name) = forget {
        let removed = gallery.remove_and_save(name)?;
        if removed == 0 {
            bail!("nobody called '{name}' is in {}", gallery_path.display());
        }
        eprintln!("forgot {name} ({removed} sample(s))");
    }
    for p in gallery.person_info() {
        if as_json {
            println!("{}", serde_json::to_string(&p)?);
        } else {
            println!(
                "{}{}: {} sample(s){}",
                p.name,
                if p.anonymous { " (anonymous)" } else { "" },
                p.samples,
                if p.learned > 0 {
                    format!(", {} learned", p.learned)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(())
}

/// `facerec identify`: names every face of each image.
pub fn identify(
    pipeline: &mut Pipeline,
    gallery_path: &Path,
    images: &[PathBuf],
    annotate: Option<&Path>,
    as_json: bool,
) -> anyhow::Result<()> {
    let mut gallery = Gallery::load(gallery_path)?;
    // Refuses vectors of another model; binding is in memory only, nothing is written.
    gallery.bind_model(pipeline.model_tag())?;
    if annotate.is_some() && images.len() != 1 {
        bail!("--annotate takes exactly one image");
    }
    for path in images {
        let frame = open(path)?;
        let Timed { faces, timings } = pipeline.recognize(&frame, &gallery)?;
        if as_json {
            let line = json!({ "image": path.display().to_string(), "faces": faces, "timings_ms": timings });
            println!("{line}");
        } else {
            println!("{}: {} face(s)", path.display(), faces.len());
            for f in &faces {
                let b = f.detection.bbox;
                println!(
                    "  {:<20} score {:.3}  box {:.0},{:.0} {:.0}x{:.0}",
                    f.name, f.score, b.x, b.y, b.width, b.height
                );
            }
        }
        if let Some(out) = annotate {
            let mut image = frame.into_rgb();
            facerec::annotate::draw(&mut image, &faces);
            image
                .save(out)
                .with_context(|| format!("cannot write {}", out.display()))?;
        }
    }
    Ok(())
}

/// `facerec compare`: similarity of the dominant faces of two images.
pub fn compare(pipeline: &mut Pipeline, a: &Path, b: &Path, as_json: bool) -> anyhow::Result<()> {
    let policy = EnrollPolicy {
        min_face_px: 0.0,
        min_sharpness: 0.0,
        ..EnrollPolicy::default()
    };
    let fa = dominant_face(pipeline, &policy, a)?;
    let fb = dominant_face(pipeline, &policy, b)?;
    let similarity = facerec::embed::cosine(&fa.embedding, &fb.embedding);
    let same = similarity >= pipeline.threshold();
    if as_json {
        println!(
            "{}",
            json!({ "similarity": similarity, "threshold": pipeline.threshold(), "same": same })
        );
    } else {
        let verdict = if same { "same person" } else { "different people" };
        println!(
            "similarity {similarity:.3} (threshold {:.3}): {verdict}",
            pipeline.threshold()
        );
    }
    Ok(())
}
