//! Messages and topics of one MCAP bag file, through the `mcap` crate.
//!
//! A file with a summary section is read through its chunk index, chunk by chunk in log-time
//! order (bounded memory). A file without a usable summary (truncated, or written without one)
//! is streamed linearly from memory, what it holds is sorted, and the error that stopped the
//! stream (if any) comes last.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mcap::sans_io::{
    IndexedReadEvent, IndexedReader, IndexedReaderOptions, SummaryReadEvent, SummaryReader, SummaryReaderOptions,
};
use mcap::{McapError, Summary};

use super::{io_error, BagError, Record, Source, TopicInfo};

/// Largest chunk or record accepted (compressed or not), so that a damaged index cannot ask
/// for an absurd allocation.
const MAX_RECORD_BYTES: usize = 1 << 30;

/// Reads the summary section; `Ok(None)` when the file has none.
fn read_summary(path: &Path) -> Result<Result<Option<Summary>, McapError>, BagError> {
    let mut file = File::open(path).map_err(|source| io_error(path, source))?;
    let size = file.metadata().map_err(|source| io_error(path, source))?.len();
    let mut reader = SummaryReader::new_with_options(
        SummaryReaderOptions::default()
            .with_file_size(size)
            .with_record_length_limit(MAX_RECORD_BYTES),
    );
    while let Some(event) = reader.next_event() {
        let step = match event {
            Ok(SummaryReadEvent::ReadRequest(n)) => file.read(reader.insert(n)).map(|read| reader.notify_read(read)),
            Ok(SummaryReadEvent::SeekRequest(to)) => file.seek(to).map(|pos| reader.notify_seeked(pos)),
            Err(e) => return Ok(Err(e)),
        };
        step.map_err(|source| io_error(path, source))?;
    }
    Ok(Ok(reader.finish()))
}

/// A summary worth reading by index: one with chunks (files whose messages sit outside chunks
/// are read linearly).
fn usable_summary(path: &Path) -> Result<Option<Summary>, BagError> {
    match read_summary(path)? {
        Ok(Some(summary)) if !summary.chunk_indexes.is_empty() => Ok(Some(summary)),
        Ok(Some(_)) | Ok(None) => Ok(None),
        Err(e) => {
            tracing::warn!(
                file = %path.display(),
                error = %e,
                "MCAP file has no readable summary (truncated?); reading it linearly"
            );
            Ok(None)
        }
    }
}

fn channel_type(channel: &mcap::Channel) -> String {
    channel.schema.as_ref().map(|s| s.name.clone()).unwrap_or_default()
}

fn add_topic(topics: &mut Vec<TopicInfo>, channel: &mcap::Channel, count: Option<u64>) {
    if let Some(existing) = topics.iter_mut().find(|t| t.name == channel.topic) {
        existing.message_count = match (existing.message_count, count) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    } else {
        topics.push(TopicInfo {
            name: channel.topic.clone(),
            type_name: channel_type(channel),
            serialization_format: channel.message_encoding.clone(),
            message_count: count,
        });
    }
}

/// The topics of one file: from the summary when there is one, otherwise by reading all of it.
pub(crate) fn topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let mut topics = Vec::new();
    if let Some(summary) = usable_summary(path)? {
        let mut channels: Vec<_> = summary.channels.values().collect();
        channels.sort_by_key(|c| c.id);
        for channel in channels {
            let count = summary
                .stats
                .as_ref()
                .map(|s| s.channel_message_counts.get(&channel.id).copied().unwrap_or(0));
            add_topic(&mut topics, channel, count);
        }
        return Ok(topics);
    }
    let bytes = std::fs::read(path).map_err(|source| io_error(path, source))?;
    let stream = mcap::MessageStream::new(&bytes).map_err(|e| stream_error(path, 0, e))?;
    let mut counts: Vec<(Arc<mcap::Channel>, u64)> = Vec::new();
    for message in stream {
        // A damaged tail is reported when the messages are read; the topics before it count.
        let Ok(message) = message else { break };
        match counts.iter_mut().find(|(c, _)| Arc::ptr_eq(c, &message.channel)) {
            Some((_, n)) => *n += 1,
            None => counts.push((message.channel.clone(), 1)),
        }
    }
    counts.sort_by_key(|(c, _)| c.id);
    for (channel, n) in counts {
        add_topic(&mut topics, &channel, Some(n));
    }
    Ok(topics)
}

/// Maps an MCAP error met after `messages_read` messages to a bag error naming the file.
fn stream_error(path: &Path, messages_read: u64, e: McapError) -> BagError {
    match e {
        McapError::UnexpectedEof | McapError::UnexpectedEoc | McapError::BadFooter => BagError::Truncated {
            path: path.to_owned(),
            messages_read,
            reason: e.to_string(),
        },
        McapError::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => BagError::Truncated {
            path: path.to_owned(),
            messages_read,
            reason: io.to_string(),
        },
        other => BagError::Mcap {
            path: path.to_owned(),
            messages_read,
            reason: other.to_string(),
        },
    }
}

/// Opens one file for reading the messages of the `wanted` topics.
pub(crate) fn open(path: &Path, wanted: &BTreeSet<String>) -> Result<Box<dyn Source>, BagError> {
    match usable_summary(path)? {
        Some(summary) => Ok(Box::new(IndexedSource::new(path, summary, wanted)?)),
        None => Ok(Box::new(LinearSource::read(path, wanted)?)),
    }
}

/// Reads through the chunk index, in log-time order; equal log times are sorted by topic and
/// sequence (the index yields them in file order, kept as the last tie-break).
struct IndexedSource {
    path: PathBuf,
    file: File,
    /// `None` when no wanted topic is in this file.
    reader: Option<IndexedReader>,
    /// channel id -> (topic, type)
    channels: HashMap<u16, (Arc<str>, Arc<str>)>,
    buf: Vec<u8>,
    /// Sorted records of one log time, ready to yield.
    pending: VecDeque<Record>,
    /// The first record of the next log time.
    lookahead: Option<Record>,
    /// An error to yield once `pending` is empty.
    deferred: Option<BagError>,
    messages_read: u64,
    done: bool,
}

impl IndexedSource {
    fn new(path: &Path, summary: Summary, wanted: &BTreeSet<String>) -> Result<Self, BagError> {
        let file = File::open(path).map_err(|source| io_error(path, source))?;
        let channels: HashMap<u16, (Arc<str>, Arc<str>)> = summary
            .channels
            .iter()
            .filter(|(_, c)| wanted.contains(&c.topic))
            .map(|(id, c)| (*id, (Arc::from(c.topic.as_str()), Arc::from(channel_type(c)))))
            .collect();
        // An empty topic filter means "everything" to the mcap crate: build no reader instead.
        let reader = if channels.is_empty() {
            None
        } else {
            let options = IndexedReaderOptions::new()
                .include_topics(wanted.iter().cloned())
                .with_record_length_limit(MAX_RECORD_BYTES);
            Some(IndexedReader::new_with_options(&summary, options).map_err(|e| stream_error(path, 0, e))?)
        };
        Ok(Self {
            path: path.to_owned(),
            file,
            reader,
            channels,
            buf: Vec::new(),
            pending: VecDeque::new(),
            lookahead: None,
            deferred: None,
            messages_read: 0,
            done: false,
        })
    }

    /// The next message of the index, in log-time order.
    fn pull(&mut self) -> Option<Result<Record, BagError>> {
        loop {
            enum Step {
                Read(u64, usize),
                Message(u16, u32, u64, Vec<u8>),
                Fail(McapError),
            }
            let step = match self.reader.as_mut()?.next_event()? {
                Ok(IndexedReadEvent::ReadChunkRequest { offset, length }) => Step::Read(offset, length),
                Ok(IndexedReadEvent::Message { header, data }) => {
                    Step::Message(header.channel_id, header.sequence, header.log_time, data.to_vec())
                }
                Err(e) => Step::Fail(e),
            };
            match step {
                Step::Read(offset, length) => {
                    if let Err(e) = self.read_chunk(offset, length) {
                        return Some(Err(e));
                    }
                }
                Step::Message(channel_id, sequence, log_time_ns, data) => {
                    // Only wanted channels are in the map; the reader filters the rest.
                    let Some((topic, type_name)) = self.channels.get(&channel_id) else {
                        continue;
                    };
                    self.messages_read += 1;
                    return Some(Ok(Record {
                        log_time_ns,
                        topic: topic.clone(),
                        type_name: type_name.clone(),
                        sequence: u64::from(sequence),
                        data,
                    }));
                }
                Step::Fail(e) => return Some(Err(stream_error(&self.path, self.messages_read, e))),
            }
        }
    }

    fn read_chunk(&mut self, offset: u64, length: usize) -> Result<(), BagError> {
        self.buf.resize(length, 0);
        let read = self
            .file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut self.buf));
        if let Err(e) = read {
            return Err(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                BagError::Truncated {
                    path: self.path.clone(),
                    messages_read: self.messages_read,
                    reason: format!("chunk at byte {offset} ({length} bytes) lies past the end"),
                }
            } else {
                io_error(&self.path, e)
            });
        }
        let Some(reader) = self.reader.as_mut() else {
            return Ok(());
        };
        reader
            .insert_chunk_record_data(offset, &self.buf)
            .map_err(|e| stream_error(&self.path, self.messages_read, e))
    }
}

impl Source for IndexedSource {
    fn next_record(&mut self) -> Option<Result<Record, BagError>> {
        if let Some(record) = self.pending.pop_front() {
            return Some(Ok(record));
        }
        if let Some(e) = self.deferred.take() {
            self.done = true;
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let first = match self.lookahead.take() {
            Some(record) => record,
            None => match self.pull() {
                Some(Ok(record)) => record,
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                None => {
                    self.done = true;
                    return None;
                }
            },
        };
        let mut group = vec![first];
        loop {
            match self.pull() {
                Some(Ok(record)) if group.first().map(|f| f.log_time_ns) == Some(record.log_time_ns) => {
                    group.push(record)
                }
                Some(Ok(record)) => {
                    self.lookahead = Some(record);
                    break;
                }
                Some(Err(e)) => {
                    self.deferred = Some(e);
                    break;
                }
                None => {
                    self.done = true;
                    break;
                }
            }
        }
        // Stable: equal (topic, sequence) keep file order.
        group.sort_by(|a, b| a.key().cmp(&b.key()));
        self.pending = group.into();
        self.next_record()
    }
}

/// Reads a whole file linearly (no index), sorts what it holds, then yields the error that
/// stopped the reading, if any.
struct LinearSource {
    records: std::vec::IntoIter<Record>,
    error: Option<BagError>,
}

impl LinearSource {
    fn read(path: &Path, wanted: &BTreeSet<String>) -> Result<Self, BagError> {
        let bytes = std::fs::read(path).map_err(|source| io_error(path, source))?;
        let mut records = Vec::new();
        let mut error = None;
        let mut names: HashMap<u16, (Arc<str>, Arc<str>)> = HashMap::new();
        match mcap::MessageStream::new(&bytes) {
            Err(e) => error = Some(stream_error(path, 0, e)),
            Ok(stream) => {
                for message in stream {
                    let message = match message {
                        Ok(m) => m,
                        Err(e) => {
                            error = Some(stream_error(path, records.len() as u64, e));
                            break;
                        }
                    };
                    if !wanted.contains(&message.channel.topic) {
                        continue;
                    }
                    let (topic, type_name) = names
                        .entry(message.channel.id)
                        .or_insert_with(|| {
                            (
                                Arc::from(message.channel.topic.as_str()),
                                Arc::from(channel_type(&message.channel)),
                            )
                        })
                        .clone();
                    records.push(Record {
                        log_time_ns: message.log_time,
                        topic,
                        type_name,
                        sequence: u64::from(message.sequence),
                        data: message.data.into_owned(),
                    });
                }
            }
        }
        // Stable: equal keys keep file order.
        records.sort_by(|a, b| a.key().cmp(&b.key()));
        Ok(Self {
            records: records.into_iter(),
            error,
        })
    }
}

impl Source for LinearSource {
    fn next_record(&mut self) -> Option<Result<Record, BagError>> {
        match self.records.next() {
            Some(record) => Some(Ok(record)),
            None => self.error.take().map(Err),
        }
    }
}
