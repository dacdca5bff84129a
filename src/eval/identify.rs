//! Open-set identification, as a robot meets people: every person with at least two photos is
//! enrolled from one photo (the first, in file-name order, in which a face was found); probes are
//! their other photos ("known") and the photos of people with a single photo, never enrolled
//! ("strangers"). Each probe is matched against the gallery with the same `Gallery::best_match`
//! the node uses. Reports the closed-set rank-1 rate, and across thresholds the stranger
//! acceptance (FPIR), the correct identification of known people (DIR), their rejection and
//! misidentification, and the threshold meeting a chosen stranger-acceptance rate.
//! Pure computation on faces already extracted.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

use super::faces::ImageFace;
use super::protocol::Person;
use super::EvalError;
use crate::gallery::Gallery;

/// Outcome of one probe: the best gallery person and score (None: no face in the probe).
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub image: String,
    /// The probe's own gallery index (None: a stranger).
    pub truth: Option<usize>,
    pub best: Option<(usize, f32)>,
}

/// Rates at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    /// Strangers given some enrolled name (false positive identification rate).
    pub stranger_acceptance: f64,
    /// Known probes given their own name (detection and identification rate).
    pub known_identified: f64,
    /// Known probes called unknown (score below threshold, or no face found).
    pub known_rejected: f64,
    /// Known probes given someone else's name.
    pub known_misidentified: f64,
}

/// Everything `eval identify` reports.
#[derive(Debug, Clone, Serialize)]
pub struct IdentificationReport {
    pub people: usize,
    /// People enrolled (one photo each).
    pub enrolled: usize,
    /// People with several photos but no photo with a face: not enrolled, not probed.
    pub not_enrollable: Vec<String>,
    pub known_probes: usize,
    /// Known probes without a face; counted as rejected at every threshold.
    pub known_probes_without_face: usize,
    pub strangers: usize,
    /// Stranger photos without a face; left out of the stranger rates (a stranger nobody sees
    /// cannot be misnamed, and counting them would flatter the rates).
    pub strangers_without_face: usize,
    /// Share of known probes with a face whose best match is their own person.
    pub rank1_rate: f64,
    pub target_stranger_acceptance: f64,
    /// The lowest threshold at which stranger acceptance is at most the target.
    pub recommended: OperatingPoint,
    /// Rates at the threshold the pipeline is configured with.
    pub at_configured_threshold: OperatingPoint,
    /// Rates on a grid of thresholds.
    pub sweep: Vec<OperatingPoint>,
    pub protocol: String,
}

/// Builds the gallery and probes from people and their extracted faces.
pub fn probes(
    people: &[Person],
    faces: &HashMap<PathBuf, ImageFace>,
) -> Result<(Gallery, Vec<Probe>, Vec<String>, usize), EvalError> {
    let mut gallery = Gallery::in_memory();
    let mut probes = Vec::new();
    let mut not_enrollable = Vec::new();
    let mut known_people: Vec<(usize, &Person, usize)> = Vec::new(); // (gallery index, person, enrolled image idx)
    let face = |p: &PathBuf| {
        faces
            .get(p)
            .ok_or_else(|| EvalError::Protocol(format!("no face result for {}", p.display())))
    };
    let mut enrolled = 0usize;
    for person in people {
        if person.images.len() < 2 {
            continue;
        }
        let mut chosen = None;
        for (i, img) in person.images.iter().enumerate() {
            if let Some(e) = face(img)?.embedding() {
                chosen = Some((i, e.to_vec()));
                break;
            }
        }
        match chosen {
            Some((i, e)) => {
                // Gallery names are ids: dataset names need not be valid gallery names.
                gallery
                    .add(&format!("p{enrolled}"), vec![e])
                    .map_err(|err| EvalError::Protocol(format!("cannot enroll {}: {err}", person.name)))?;
                known_people.push((enrolled, person, i));
                enrolled += 1;
            }
            None => not_enrollable.push(person.name.clone()),
        }
    }
    let best = |e: Option<&[f32]>| -> Option<(usize, f32)> {
        let m = gallery.best_match(e?)?;
        let idx = m.name.strip_prefix('p')?.parse::<usize>().ok()?;
        Some((idx, m.score))
    };
    for (idx, person, enrolled_image) in &known_people {
        for (i, img) in person.images.iter().enumerate() {
            if i != *enrolled_image {
                probes.push(Probe {
                    image: super::file_label(img),
                    truth: Some(*idx),
                    best: best(face(img)?.embedding()),
                });
            }
        }
    }
    let mut strangers_without_face = 0;
    for person in people.iter().filter(|p| p.images.len() == 1) {
        for img in &person.images {
            let f = face(img)?;
            if f.embedding().is_none() {
                strangers_without_face += 1;
                continue;
            }
            probes.push(Probe {
                image: super::file_label(img),
                truth: None,
                best: best(f.embedding()),
            });
        }
    }
    Ok((gallery, probes, not_enrollable, strangers_without_face))
}

/// Rates of probes at one threshold (accept when `score >= threshold`).
pub fn operating_point(probes: &[Probe], threshold: f32) -> OperatingPoint {
    let (mut strangers, mut accepted_strangers) = (0usize, 0usize);
    let (mut known, mut identified, mut rejected, mut misidentified) = (0usize, 0usize, 0usize, 0usize);
    for p in probes {
        let accepted = p.best.filter(|&(_, s)| s >= threshold);
        match p.truth {
            None => {
                strangers += 1;
                if accepted.is_some() {
                    accepted_strangers += 1;
                }
            }
            Some(truth) => {
                known += 1;
                match accepted {
                    Some((who, _)) if who == truth => identified += 1,
                    Some(_) => misidentified += 1,
                    None => rejected += 1,
                }
            }
        }
    }
    let r = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    OperatingPoint {
        threshold,
        stranger_acceptance: r(accepted_strangers, strangers),
        known_identified: r(identified, known),
        known_rejected: r(rejected, known),
        known_misidentified: r(misidentified, known),
    }
}

/// The lowest threshold with stranger acceptance at most `target`: just above the score of the
/// stranger that would exceed the allowed count.
pub fn threshold_for_stranger_rate(probes: &[Probe], target: f64) -> f32 {
    let mut scores: Vec<f32> = probes
        .iter()
        .filter(|p| p.truth.is_none())
        .filter_map(|p| p.best.map(|b| b.1))
        .collect();
    scores.sort_by(|a, b| b.total_cmp(a));
    let allowed = (target.clamp(0.0, 1.0) * scores.len() as f64 + 1e-9).floor() as usize;
    match scores.get(allowed) {
        Some(&s) => s.next_up(),
        None => -1.0,
    }
}

/// Runs the identification protocol.
pub fn evaluate(
    people: &[Person],
    faces: &HashMap<PathBuf, ImageFace>,
    target_stranger_acceptance: f64,
    configured_threshold: f32,
) -> Result<IdentificationReport, EvalError> {
    let (gallery, probes, not_enrollable, strangers_without_face) = probes(people, faces)?;
    let known: Vec<&Probe> = probes.iter().filter(|p| p.truth.is_some()).collect();
    let strangers = probes.iter().filter(|p| p.truth.is_none()).count();
    if known.is_empty() {
        return Err(EvalError::Empty(
            "no known probes: identification needs people with at least two photos".into(),
        ));
    }
    let with_face: Vec<&&Probe> = known.iter().filter(|p| p.best.is_some()).collect();
    let rank1 = with_face.iter().filter(|p| p.best.map(|b| b.0) == p.truth).count();
    let recommended_t = threshold_for_stranger_rate(&probes, target_stranger_acceptance);
    let sweep = (0..=100).map(|i| operating_point(&probes, i as f32 / 100.0)).collect();
    Ok(IdentificationReport {
        people: people.len(),
        enrolled: gallery.len(),
        not_enrollable,
        known_probes: known.len(),
        known_probes_without_face: known.len() - with_face.len(),
        strangers: strangers + strangers_without_face,
        strangers_without_face,
        rank1_rate: if with_face.is_empty() {
            0.0
        } else {
            rank1 as f64 / with_face.len() as f64
        },
        target_stranger_acceptance,
        recommended: operating_point(&probes, recommended_t),
        at_configured_threshold: operating_point(&probes, configured_threshold),
        sweep,
        protocol: "one enrolment photo per person with >= 2 photos (the first in file-name order with a face); \
                   probes: their other photos (known) and the photos of people with one photo (strangers); \
                   accept when the best cosine similarity >= threshold"
            .into(),
    })
}
