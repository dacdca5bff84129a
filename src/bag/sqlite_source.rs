//! Messages and topics of one sqlite3 (`.db3`) bag file, through `rusqlite`, read-only.
//!
//! Reading first loads the sorted keys (log time, topic, row id) of the wanted messages, then
//! fetches each message's bytes by row id as it is yielded, so memory holds keys, not images.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::{Connection, OpenFlags};

use super::{BagError, Record, Source, TopicInfo};

fn sqlite_error(path: &Path) -> impl Fn(rusqlite::Error) -> BagError + '_ {
    move |source| BagError::Sqlite {
        path: path.to_owned(),
        source,
    }
}

fn connect(path: &Path) -> Result<Connection, BagError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(sqlite_error(path))?;
    // Opening is lazy: touch the schema now so that a file that is no database, or a bag
    // without rosbag2 tables, fails here with a clear error.
    conn.query_row("SELECT COUNT(*) FROM topics", [], |row| row.get::<_, i64>(0))
        .map_err(sqlite_error(path))?;
    Ok(conn)
}

/// The topics of one file, with their message counts.
pub(crate) fn topics(path: &Path) -> Result<Vec<TopicInfo>, BagError> {
    let conn = connect(path)?;
    let mut statement = conn
        .prepare(
            "SELECT t.name, t.type, t.serialization_format,
                    (SELECT COUNT(*) FROM messages m WHERE m.topic_id = t.id)
             FROM topics t ORDER BY t.id",
        )
        .map_err(sqlite_error(path))?;
    let rows = statement
        .query_map([], |row| {
            Ok(TopicInfo {
                name: row.get(0)?,
                type_name: row.get(1)?,
                serialization_format: row.get(2)?,
                message_count: Some(row.get::<_, i64>(3)?.max(0).unsigned_abs()),
            })
        })
        .map_err(sqlite_error(path))?;
    let mut topics: Vec<TopicInfo> = Vec::new();
    for row in rows {
        let topic = row.map_err(sqlite_error(path))?;
        match topics.iter_mut().find(|t| t.name == topic.name) {
            Some(existing) => {
                existing.message_count = match (existing.message_count, topic.message_count) {
                    (Some(a), Some(b)) => Some(a + b),
                    _ => None,
                }
            }
            None => topics.push(topic),
        }
    }
    Ok(topics)
}

/// Opens one file for reading the messages of the `wanted` topics.
pub(crate) fn open(path: &Path, wanted: &BTreeSet<String>) -> Result<Box<dyn Source>, BagError> {
    let conn = connect(path)?;
    Ok(Box::new(SqliteSource {
        path: path.to_owned(),
        conn,
        wanted: wanted.clone(),
        keys: None,
        done: false,
    }))
}

struct Key {
    timestamp: i64,
    topic: Arc<str>,
    type_name: Arc<str>,
    id: i64,
}

struct SqliteSource {
    path: PathBuf,
    conn: Connection,
    wanted: BTreeSet<String>,
    /// Loaded on the first call, so that a damaged file is an item, not an `open` failure.
    keys: Option<std::vec::IntoIter<Key>>,
    done: bool,
}

impl SqliteSource {
    fn load_keys(&self) -> Result<Vec<Key>, rusqlite::Error> {
        let mut topics: Vec<(i64, Arc<str>, Arc<str>)> = Vec::new();
        let mut statement = self.conn.prepare("SELECT id, name, type FROM topics")?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?;
        for row in rows {
            let (id, name, type_name) = row?;
            if self.wanted.contains(&name) {
                topics.push((id, Arc::from(name), Arc::from(type_name)));
            }
        }
        let mut keys = Vec::new();
        let mut statement = self
            .conn
            .prepare("SELECT topic_id, timestamp, id FROM messages ORDER BY timestamp, id")?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let topic_id: i64 = row.get(0)?;
            if let Some((_, topic, type_name)) = topics.iter().find(|(id, _, _)| *id == topic_id) {
                keys.push(Key {
                    timestamp: row.get(1)?,
                    topic: topic.clone(),
                    type_name: type_name.clone(),
                    id: row.get(2)?,
                });
            }
        }
        // Already in (timestamp, id) order; make ties on timestamp go by topic name too.
        keys.sort_by(|a, b| (a.timestamp, &a.topic, a.id).cmp(&(b.timestamp, &b.topic, b.id)));
        Ok(keys)
    }

    fn fetch(&self, key: Key) -> Result<Record, BagError> {
        let data: Vec<u8> = self
            .conn
            .query_row("SELECT data FROM messages WHERE id = ?1", [key.id], |row| row.get(0))
            .map_err(sqlite_error(&self.path))?;
        let log_time_ns = u64::try_from(key.timestamp).map_err(|_| BagError::Malformed {
            path: self.path.clone(),
            topic: key.topic.to_string(),
            type_name: key.type_name.to_string(),
            log_time_ns: 0,
            reason: format!("negative log time {} ns", key.timestamp),
        })?;
        Ok(Record {
            log_time_ns,
            topic: key.topic,
            type_name: key.type_name,
            sequence: key.id.max(0).unsigned_abs(),
            data,
        })
    }
}

impl Source for SqliteSource {
    fn next_record(&mut self) -> Option<Result<Record, BagError>> {
        if self.done {
            return None;
        }
        if self.keys.is_none() {
            match self.load_keys() {
                Ok(keys) => self.keys = Some(keys.into_iter()),
                Err(e) => {
                    self.done = true;
                    return Some(Err(sqlite_error(&self.path)(e)));
                }
            }
        }
        let key = self.keys.as_mut()?.next()?;
        let record = self.fetch(key);
        // A storage failure ends this file; a bad value in one row does not.
        if matches!(record, Err(BagError::Sqlite { .. })) {
            self.done = true;
        }
        Some(record)
    }
}
