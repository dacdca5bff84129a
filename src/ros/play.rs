//! `facerec play`: publishes the image messages of a rosbag2 bag over ROS 2, paced by their bag
//! times, so that a running node (ours or anyone's) is exercised from a recording.
//!
//! Reads through [`crate::bag`], turns each [`BagImage`] back into `sensor_msgs/Image` or
//! `CompressedImage` (raw stays raw, compressed stays compressed, pixels untouched) and publishes
//! it on its topic (or a remapped one). Bad messages are skipped with a warning, like replay.
//! Optionally restamps `header.stamp` with the wall clock at publication, so a subscriber can
//! measure image-to-output latency from the headers it gets back.

use std::collections::BTreeMap;
use std::time::Duration;

use ros2_client::qos::{Durability, History, WhenFull};
use ros2_client::{Node, Publisher, QosProfile};
use tokio::time::Instant;

use crate::bag::{BagError, BagImage, BagReader, ImagePayload};
use crate::ros::dds::{self, DdsError};
use crate::ros::msgs::{CompressedImage, Header, Image, RosMessage, Time};
use crate::ros::params::RosEnv;

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error(transparent)]
    Bag(#[from] BagError),
    #[error("ROS 2")]
    Ros(#[from] DdsError),
    #[error("bad option: {0}")]
    Options(String),
}

/// How to play a bag.
#[derive(Debug, Clone)]
pub struct PlayOptions {
    /// Image topics to play (empty: every image topic).
    pub topics: Vec<String>,
    /// `(from, to)` topic renames.
    pub remap: Vec<(String, String)>,
    /// Speed factor on bag time (2.0 plays twice as fast). Must be positive and finite.
    pub rate: f64,
    /// How many times to play the bag; 0 loops until stopped.
    pub repeat: u32,
    /// Before the first message: wait up to this long for every topic to have a subscriber.
    pub wait_for_subscribers: Option<Duration>,
    /// Pause before the first message (after any wait), for DDS matching to settle.
    pub delay: Duration,
    /// Replace `header.stamp` with the wall clock at publication.
    pub restamp: bool,
    /// Best-effort publishers (sensor-data style) instead of reliable ones.
    pub best_effort: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        Self {
            topics: Vec::new(),
            remap: Vec::new(),
            rate: 1.0,
            repeat: 1,
            wait_for_subscribers: None,
            delay: Duration::from_millis(500),
            restamp: false,
            best_effort: false,
        }
    }
}

impl PlayOptions {
    /// The topic a bag topic is published on.
    pub fn output_topic<'a>(&'a self, bag_topic: &'a str) -> &'a str {
        self.remap
            .iter()
            .find(|(from, _)| from == bag_topic)
            .map_or(bag_topic, |(_, to)| to.as_str())
    }

    fn check(&self) -> Result<(), PlayError> {
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err(PlayError::Options(format!("rate must be positive, got {}", self.rate)));
        }
        Ok(())
    }
}

/// What a play did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlayStats {
    /// Messages published, per output topic.
    pub published: BTreeMap<String, u64>,
    /// Messages skipped because they could not be read.
    pub skipped: u64,
    /// Messages read but not published because DDS refused the write.
    pub failed: u64,
    /// Complete passes over the bag.
    pub loops: u32,
}

/// One image message ready to publish.
#[derive(Debug, Clone)]
pub enum ImageMessage {
    Raw(Image),
    Compressed(CompressedImage),
}

impl ImageMessage {
    /// The ROS message for a bag image, with `stamp` (the recorded one unless restamped).
    pub fn from_bag(image: BagImage, stamp: Time) -> Self {
        let header = Header {
            stamp,
            frame_id: image.frame_id,
        };
        match image.payload {
            ImagePayload::Raw {
                width,
                height,
                step,
                encoding,
                is_bigendian,
                data,
            } => Self::Raw(Image {
                header,
                height,
                width,
                encoding,
                is_bigendian: u8::from(is_bigendian),
                step,
                data,
            }),
            ImagePayload::Compressed { format, data } => Self::Compressed(CompressedImage { header, format, data }),
        }
    }
}

/// QoS of the image publishers: keep the last few frames, like a camera driver.
pub fn image_qos(best_effort: bool) -> QosProfile {
    let qos = QosProfile::publisher_default()
        .durability(Durability::Volatile)
        .history(History::KeepLast { depth: 5 });
    if best_effort {
        qos.reliability_best_effort()
    } else {
        qos.reliability_reliable(WhenFull::DEFAULT)
    }
}

/// A publisher for one topic of either image type.
pub enum ImagePublisher {
    Raw(Publisher<Image>),
    Compressed(Publisher<CompressedImage>),
}

impl ImagePublisher {
    /// A publisher of `raw` (`sensor_msgs/Image`) or compressed images on `topic`.
    pub fn new(node: &mut Node, topic: &str, raw: bool, qos: QosProfile) -> Result<Self, DdsError> {
        Ok(if raw {
            Self::Raw(dds::publisher(node, topic, qos)?)
        } else {
            Self::Compressed(dds::publisher(node, topic, qos)?)
        })
    }

    /// Publishes `msg`; a message of the other type is refused.
    pub fn publish(&self, msg: ImageMessage) -> Result<(), DdsError> {
        match (self, msg) {
            (Self::Raw(p), ImageMessage::Raw(m)) => p.publish(m).map_err(|e| DdsError::publish(Image::NAME, e)),
            (Self::Compressed(p), ImageMessage::Compressed(m)) => {
                p.publish(m).map_err(|e| DdsError::publish(CompressedImage::NAME, e))
            }
            (Self::Raw(_), ImageMessage::Compressed(_)) => Err(DdsError::WrongMessageType {
                got: CompressedImage::NAME,
                topic_type: Image::NAME,
            }),
            (Self::Compressed(_), ImageMessage::Raw(_)) => Err(DdsError::WrongMessageType {
                got: Image::NAME,
                topic_type: CompressedImage::NAME,
            }),
        }
    }

    fn subscription_count(&self, node: &Node) -> usize {
        match self {
            Self::Raw(p) => p.get_subscription_count(node),
            Self::Compressed(p) => p.get_subscription_count(node),
        }
    }
}

/// Plays `reader` on the ROS graph of `env` as node `/facerec_play`. `on_event` sees every
/// published and skipped message and the end of each pass, e.g. for a progress display.
/// Returns after `repeat` passes, or early (with what was done so far) when `stop` completes.
pub async fn play(
    reader: &BagReader,
    env: &RosEnv,
    options: &PlayOptions,
    mut on_event: impl FnMut(PlayEvent<'_>),
    stop: impl std::future::Future<Output = ()>,
) -> Result<PlayStats, PlayError> {
    options.check()?;
    // The topics first, so that a wrong name fails before joining the network.
    let chosen: Vec<_> = reader
        .image_topics()
        .into_iter()
        .filter(|t| options.topics.is_empty() || options.topics.contains(&t.name))
        .collect();
    for wanted in &options.topics {
        if !chosen.iter().any(|t| &t.name == wanted) {
            // Let the reader produce its own clear error (missing or not an image topic).
            reader.images(std::slice::from_ref(wanted))?;
        }
    }
    if chosen.is_empty() {
        return Err(PlayError::Options(format!(
            "{} has no image topic to play",
            reader.path().display()
        )));
    }
    let context = dds::context(env)?;
    let mut node = dds::node(&context, "/", "facerec_play")?;
    let spinner = dds::spinner(&mut node)?;
    let spin_task = tokio::spawn(async move {
        if let Err(e) = spinner.spin().await {
            tracing::warn!("ROS 2 spinner stopped: {e}");
        }
    });

    // One publisher per chosen topic, made before the first message so that matching can
    // start while we wait.
    let mut publishers: BTreeMap<String, (String, ImagePublisher)> = BTreeMap::new();
    for topic in chosen {
        let raw = matches!(topic.image_kind(), Some(crate::bag::ImageKind::Raw));
        let out = options.output_topic(&topic.name).to_owned();
        let publisher = ImagePublisher::new(&mut node, &out, raw, image_qos(options.best_effort))?;
        publishers.insert(topic.name.clone(), (out, publisher));
    }

    let mut stats = PlayStats::default();
    let result = tokio::select! {
        r = run(reader, options, &node, &publishers, &mut on_event, &mut stats) => r,
        () = stop => Ok(()),
    };
    drop(publishers);
    drop(node);
    spin_task.abort();
    let _ = spin_task.await;
    drop(context);
    result.map(|()| stats)
}

/// What happened to one message of the bag.
#[derive(Debug)]
pub enum PlayEvent<'a> {
    Published {
        topic: &'a str,
        frame_id: &'a str,
    },
    Skipped(&'a BagError),
    /// A pass over the bag ended (1-based count).
    LoopDone(u32),
}

async fn run(
    reader: &BagReader,
    options: &PlayOptions,
    node: &Node,
    publishers: &BTreeMap<String, (String, ImagePublisher)>,
    on_event: &mut impl FnMut(PlayEvent<'_>),
    stats: &mut PlayStats,
) -> Result<(), PlayError> {
    if let Some(limit) = options.wait_for_subscribers {
        let deadline = Instant::now() + limit;
        while publishers.values().any(|(_, p)| p.subscription_count(node) == 0) {
            if Instant::now() >= deadline {
                let missing: Vec<&str> = publishers
                    .values()
                    .filter(|(_, p)| p.subscription_count(node) == 0)
                    .map(|(t, _)| t.as_str())
                    .collect();
                tracing::warn!(
                    "no subscriber after {limit:?} on {}; playing anyway",
                    missing.join(", ")
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    tokio::time::sleep(options.delay).await;

    let topics: Vec<String> = publishers.keys().cloned().collect();
    let mut pass_start = Instant::now();
    loop {
        let mut first_ns: Option<u64> = None;
        let mut last_offset = Duration::ZERO;
        let mut gap = Duration::ZERO;
        for item in reader.images(&topics)? {
            let image = match item {
                Ok(image) => image,
                Err(e) => {
                    stats.skipped += 1;
                    tracing::warn!("skipping a message: {}", crate::error_chain(&e));
                    on_event(PlayEvent::Skipped(&e));
                    continue;
                }
            };
            let t0 = *first_ns.get_or_insert(image.log_time_ns);
            let offset = Duration::from_nanos(image.log_time_ns.saturating_sub(t0)).div_f64(options.rate);
            if offset > last_offset {
                gap = offset - last_offset;
            }
            last_offset = offset;
            tokio::time::sleep_until(pass_start + offset).await;
            // The reader yields only the topics asked for, and there is a publisher for each.
            let Some((out, publisher)) = publishers.get(&image.topic) else {
                debug_assert!(false, "no publisher for {}", image.topic);
                continue;
            };
            let stamp = if options.restamp {
                Time::now()
            } else {
                Time::from_nanos(image.header_stamp_ns)
            };
            let frame_id = image.frame_id.clone();
            if let Err(e) = publisher.publish(ImageMessage::from_bag(image, stamp)) {
                // One failed write (e.g. a momentarily full DDS queue) should not end the play.
                stats.failed += 1;
                tracing::warn!("publishing on {out} failed: {}", crate::ros::error_chain(&e));
                continue;
            }
            *stats.published.entry(out.clone()).or_default() += 1;
            on_event(PlayEvent::Published {
                topic: out,
                frame_id: &frame_id,
            });
        }
        stats.loops += 1;
        on_event(PlayEvent::LoopDone(stats.loops));
        if options.repeat != 0 && stats.loops >= options.repeat {
            // Reliable samples go out from DDS threads; give the last ones a moment.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return Ok(());
        }
        if first_ns.is_none() {
            return Err(PlayError::Options(
                "the bag has no readable image message to loop over".to_owned(),
            ));
        }
        // The next pass starts one frame interval after the last message of this one.
        pass_start += last_offset + gap;
    }
}
