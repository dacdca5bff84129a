//! The smallest use of the library: name the faces of one photo against a gallery.
//!
//! `cargo run --example identify_photo -- tests/fixtures/faces/group/couple.jpg config/gallery.yaml`
//!
//! Uses only the core (frame, pipeline, gallery): the same calls the CLI and the node make.

use std::path::PathBuf;

use facerec::{Frame, Gallery, Pipeline, PipelineConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(photo), Some(gallery)) = (args.next(), args.next()) else {
        return Err("usage: identify_photo PHOTO GALLERY.yaml".into());
    };
    let mut pipeline = Pipeline::new(PipelineConfig::default())?;
    let mut gallery = Gallery::load(&gallery)?;
    // Vectors of another embedding model must not be compared with this one's.
    gallery.bind_model(pipeline.model_tag())?;
    let frame = Frame::open(&photo)?;
    let facerec::pipeline::Timed { faces, timings } = pipeline.recognize(&frame, &gallery)?;
    for face in &faces {
        let b = face.detection.bbox;
        println!(
            "{:<10} score {:.3}  box x {:.0} y {:.0} w {:.0} h {:.0}",
            face.name, face.score, b.x, b.y, b.width, b.height
        );
    }
    println!(
        "{} face(s) in {:.1} ms",
        faces.len(),
        timings.total().as_secs_f64() * 1e3
    );
    Ok(())
}
