//! `facerec watch`: a subscriber to a running node's `~/detections` (and, when asked, its
//! `~/annotated` frames), printing the named boxes it receives, as an integrator's first look at
//! the node from the outside. Thin over `facerec::ros::dds`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use facerec::frame::FrameLimits;
use facerec::ros::dds;
use facerec::ros::msgs::{Detection2DArray, Image};
use facerec::ros::node::convert::frame_from_image;
use facerec::ros::RosEnv;
use futures::StreamExt;
use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::QosProfile;

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Fully qualified name of the node.
    #[arg(long, default_value = "/facerec")]
    pub node: String,
    /// Stop after this many detection messages (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub count: u64,
    /// Stop after this many seconds without a detection message (0: wait until Ctrl-C).
    #[arg(long, default_value_t = 0.0)]
    pub idle_s: f64,
    /// Also save the node's ~/annotated frames here as PNG files (the node publishes them while
    /// its publish_annotated parameter is true).
    #[arg(long, value_name = "DIR")]
    pub annotated: Option<PathBuf>,
    /// One JSON line per message instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One detection message as printed.
fn describe(msg: &Detection2DArray, json: bool) -> String {
    let stamp = format!("{}.{:09}", msg.header.stamp.sec, msg.header.stamp.nanosec);
    if json {
        let faces: Vec<serde_json::Value> = msg
            .detections
            .iter()
            .map(|d| {
                let best = d.results.first().map(|r| &r.hypothesis);
                serde_json::json!({
                    "name": best.map(|h| h.class_id.as_str()),
                    "score": best.map(|h| h.score),
                    "track_id": d.id,
                    "center": [d.bbox.center.position.x, d.bbox.center.position.y],
                    "size": [d.bbox.size_x, d.bbox.size_y],
                })
            })
            .collect();
        return serde_json::json!({"stamp": stamp, "frame_id": msg.header.frame_id, "faces": faces}).to_string();
    }
    let faces: Vec<String> = msg
        .detections
        .iter()
        .map(|d| {
            let (name, score) = d
                .results
                .first()
                .map_or(("?", 0.0), |r| (r.hypothesis.class_id.as_str(), r.hypothesis.score));
            let track = if d.id.is_empty() {
                String::new()
            } else {
                format!(" track {}", d.id)
            };
            format!(
                "{name} ({score:.2}{track}) at {:.0},{:.0} {:.0}x{:.0}",
                d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x, d.bbox.size_y
            )
        })
        .collect();
    format!(
        "{stamp} {}: {}",
        msg.header.frame_id,
        if faces.is_empty() {
            "no face".to_owned()
        } else {
            faces.join("; ")
        }
    )
}

fn save_annotated(dir: &std::path::Path, index: u64, msg: Image) -> anyhow::Result<PathBuf> {
    let frame = frame_from_image(msg, FrameLimits::default()).context("annotated frame")?;
    let path = dir.join(format!("annotated-{index:04}.png"));
    frame
        .into_rgb()
        .save(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

pub fn run(args: &WatchArgs) -> anyhow::Result<()> {
    if let Some(dir) = &args.annotated {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let env = RosEnv::from_process().context("ROS environment")?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async {
        let context = dds::context(&env)?;
        let mut node = dds::node(&context, "/", "facerec_watch")?;
        let spinner = dds::spinner(&mut node)?;
        let spin = tokio::spawn(async move {
            let _ = spinner.spin().await;
        });
        let qos = QosProfile::subscription_default()
            .reliability_reliable(WhenFull::DEFAULT)
            .durability(Durability::Volatile)
            .history(History::KeepLast { depth: 10 });
        let base = args.node.trim_end_matches('/');
        let detections = dds::subscription::<Detection2DArray>(&mut node, &format!("{base}/detections"), qos.clone())?;
        let annotated = match &args.annotated {
            Some(dir) => Some((
                dir.clone(),
                dds::subscription::<Image>(&mut node, &format!("{base}/annotated"), qos)?,
            )),
            None => None,
        };
        let saved = Arc::new(AtomicU64::new(0));
        let saved_by_task = Arc::clone(&saved);
        let saving = tokio::spawn(async move {
            let Some((dir, sub)) = annotated else { return };
            let mut stream = std::pin::pin!(sub.async_stream());
            while let Some(item) = stream.next().await {
                let Ok((msg, _)) = item else { continue };
                match save_annotated(&dir, saved_by_task.load(Ordering::Relaxed), msg) {
                    Ok(_) => {
                        saved_by_task.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => eprintln!("facerec: warning: {e:#}"),
                }
            }
        });
        eprintln!("watch: listening to {base}/detections (Ctrl-C to stop)");
        let mut stream = std::pin::pin!(detections.async_stream());
        let mut received = 0_u64;
        loop {
            let next = async {
                if args.idle_s > 0.0 && received > 0 {
                    tokio::time::timeout(Duration::from_secs_f64(args.idle_s), stream.next())
                        .await
                        .ok()
                } else {
                    Some(stream.next().await)
                }
            };
            let item = tokio::select! {
                item = next => item,
                _ = tokio::signal::ctrl_c() => break,
            };
            match item {
                None | Some(None) => break,
                Some(Some(Err(e))) => eprintln!("facerec: warning: unreadable detection message: {e}"),
                Some(Some(Ok((msg, _)))) => {
                    received += 1;
                    println!("{}", describe(&msg, args.json));
                    if args.count > 0 && received >= args.count {
                        break;
                    }
                }
            }
        }
        // Annotated frames of the last detections may still be on their way.
        tokio::time::sleep(Duration::from_millis(300)).await;
        saving.abort();
        spin.abort();
        eprintln!(
            "watch: {received} detection message(s){}",
            match &args.annotated {
                Some(dir) => format!(
                    ", {} annotated frame(s) in {}",
                    saved.load(Ordering::Relaxed),
                    dir.display()
                ),
                None => String::new(),
            }
        );
        Ok::<_, anyhow::Error>(())
    })
}
