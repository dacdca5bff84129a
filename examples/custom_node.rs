//! A ROS 2 node of one's own on the library: subscribes to one camera topic
//! (`sensor_msgs/Image`), names the faces of each frame with the library's `Pipeline` and a
//! gallery, prints them and publishes them as `vision_msgs/Detection2DArray` on `/my_faces`.
//!
//! `cargo run --example custom_node -- /camera/image_raw config/gallery.yaml`
//!
//! Speaks ROS 2 through the crate's typed endpoints (`facerec::ros::dds`), so it needs no ROS
//! installation; `ROS_DOMAIN_ID` and `ROS_LOCALHOST_ONLY` are honoured. The camera message
//! becomes a frame by the same rules as in `facerec_node` (`Frame::from_image_message`), and
//! the names become a message by the node's own mapping (`ros::node::convert`). Unlike
//! `facerec_node` it runs the pipeline on the subscription's task and keeps no latest-frame
//! slot: a slow frame delays the next (see ARCHITECTURE.md for the node's threads and queues).

use std::path::PathBuf;

use facerec::frame::{Frame, FrameLimits};
use facerec::pipeline::Timed;
use facerec::ros::msgs::{Detection2DArray, Image};
use facerec::ros::node::convert;
use facerec::ros::{dds, RosEnv};
use facerec::{Gallery, Pipeline, PipelineConfig};
use futures::StreamExt;
use ros2_client::qos::{Durability, History};
use ros2_client::QosProfile;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let topic = args.next().unwrap_or_else(|| "/camera/image_raw".to_owned());
    let gallery = PathBuf::from(args.next().unwrap_or_else(|| "config/gallery.yaml".to_owned()));

    // The library: models, and a gallery made by the same embedding model.
    let mut pipeline = Pipeline::new(PipelineConfig::default())?;
    let mut gallery = Gallery::load(&gallery)?;
    gallery.bind_model(pipeline.model_tag())?;

    // ROS 2: a node, its spinner, one subscription and one publisher.
    let context = dds::context(&RosEnv::from_process()?)?;
    let mut node = dds::node(&context, "/", "my_face_node")?;
    let spinner = dds::spinner(&mut node)?;
    tokio::spawn(async move {
        if let Err(e) = spinner.spin().await {
            eprintln!("spinner stopped: {e}");
        }
    });
    // Best effort, newest only: matches both reliable and sensor-data camera publishers.
    let camera_qos = QosProfile::subscription_default()
        .reliability_best_effort()
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 1 });
    let images = dds::subscription::<Image>(&mut node, &topic, camera_qos)?;
    let names = dds::publisher::<Detection2DArray>(&mut node, "/my_faces", QosProfile::publisher_default())?;
    println!("listening on {topic}, publishing /my_faces");

    let mut stream = std::pin::pin!(images.async_stream());
    while let Some(item) = stream.next().await {
        let msg = match item {
            Ok((msg, _info)) => msg,
            Err(e) => {
                eprintln!("cannot read a message: {e}");
                continue;
            }
        };
        let header = msg.header.clone();
        let frame = match Frame::from_image_message(
            &msg.encoding,
            msg.width,
            msg.height,
            msg.step,
            msg.data,
            FrameLimits::default(),
        ) {
            Ok(frame) => frame,
            Err(e) => {
                eprintln!("refused a frame: {}", facerec::error_chain(&e));
                continue;
            }
        };
        // Inference blocks for milliseconds: tell tokio, so other tasks move to other threads.
        let Timed { faces, timings } = tokio::task::block_in_place(|| pipeline.recognize(&frame, &gallery))?;
        for face in &faces {
            let b = face.detection.bbox;
            println!(
                "{:<10} score {:.3}  box x {:.0} y {:.0} w {:.0} h {:.0} (frame pixels)",
                face.name, face.score, b.x, b.y, b.width, b.height
            );
        }
        println!(
            "{} face(s) in {:.1} ms",
            faces.len(),
            timings.total().as_secs_f64() * 1e3
        );
        if let Err(e) = names.publish(convert::detection_array(&faces, &header)) {
            eprintln!("publishing failed: {e}");
        }
    }
    Ok(())
}
