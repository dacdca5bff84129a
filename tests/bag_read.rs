//! Reading the committed rosbag2 bags (tests/fixtures/bags, written by scripts/make_test_bags.py
//! from MIT photos) with `facerec::bag`: every message is compared with what the writer recorded
//! in manifest.json, both storages must agree, and damaged bags must give the expected errors
//! while their good messages still come.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::fs;
use std::path::{Path, PathBuf};

use facerec::bag::{BagError, BagImage, BagReader, ImagePayload, Storage};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn bags() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bags")
}

fn manifest(bag: &str) -> Vec<Value> {
    let text = fs::read_to_string(bags().join("manifest.json")).expect("manifest.json");
    let manifest: Value = serde_json::from_str(&text).expect("manifest parses");
    manifest["bags"][bag].as_array().expect("bag in manifest").clone()
}

/// The manifest entries a reader yields (images and malformed messages, not other topics).
fn expected_items(bag: &str) -> Vec<Value> {
    manifest(bag).into_iter().filter(|e| e["kind"] != "skipped").collect()
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn read_all(path: &Path) -> Vec<Result<BagImage, BagError>> {
    BagReader::open(path)
        .expect("bag opens")
        .images(&[])
        .expect("images")
        .collect()
}

fn ok_images(path: &Path) -> Vec<BagImage> {
    read_all(path)
        .into_iter()
        .map(|r| r.expect("no error in a good bag"))
        .collect()
}

/// Checks one read image against its manifest entry, including the pixels after conversion.
fn check_image(image: &BagImage, expect: &Value) {
    let at = format!("{} @ {}", expect["topic"], expect["log_time_ns"]);
    assert_eq!(image.log_time_ns, expect["log_time_ns"].as_u64().unwrap(), "{at}");
    assert_eq!(image.topic, expect["topic"].as_str().unwrap(), "{at}");
    assert_eq!(
        image.header_stamp_ns,
        expect["header_stamp_ns"].as_i64().unwrap(),
        "{at}"
    );
    assert_eq!(image.frame_id, expect["frame_id"].as_str().unwrap(), "{at}");
    let frame = image.to_frame();
    match (&image.payload, expect["kind"].as_str().unwrap()) {
        (
            ImagePayload::Raw {
                width,
                height,
                step,
                encoding,
                is_bigendian,
                data,
            },
            "raw",
        ) => {
            assert_eq!(u64::from(*width), expect["width"].as_u64().unwrap(), "{at}");
            assert_eq!(u64::from(*height), expect["height"].as_u64().unwrap(), "{at}");
            assert_eq!(u64::from(*step), expect["step"].as_u64().unwrap(), "{at}");
            assert_eq!(encoding, expect["encoding"].as_str().unwrap(), "{at}");
            assert!(!is_bigendian);
            assert_eq!(data.len() as u64, expect["data_len"].as_u64().unwrap(), "{at}");
            assert_eq!(sha(data), expect["data_sha256"].as_str().unwrap(), "{at}");
            if expect["frame"] == "ok" {
                // rgb8 and bgr8 (and padded rows) all come out as the photo's RGB pixels.
                let frame = frame.unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(
                    sha(frame.rgb().as_raw()),
                    expect["rgb_sha256"].as_str().unwrap(),
                    "{at}"
                );
            } else {
                assert!(frame.is_err(), "{at}: frame conversion should fail");
            }
        }
        (ImagePayload::Compressed { format, data }, "compressed") => {
            assert_eq!(format, expect["format"].as_str().unwrap(), "{at}");
            assert_eq!(data.len() as u64, expect["data_len"].as_u64().unwrap(), "{at}");
            assert_eq!(sha(data), expect["data_sha256"].as_str().unwrap(), "{at}");
            if expect["frame"] == "ok" {
                let frame = frame.unwrap_or_else(|e| panic!("{at}: {e}"));
                assert!(frame.width() > 0 && frame.height() > 0);
            } else {
                assert!(frame.is_err(), "{at}: JPEG decoding should fail");
            }
        }
        (payload, kind) => panic!("{at}: manifest says {kind}, read {payload:?}"),
    }
}

fn check_against_manifest(items: &[Result<BagImage, BagError>], bag: &str, file: &str) {
    let expected = expected_items(bag);
    assert_eq!(items.len(), expected.len(), "{bag}: number of items");
    for (item, expect) in items.iter().zip(&expected) {
        if expect["kind"] == "malformed" {
            match item {
                Err(e @ BagError::Malformed { topic, log_time_ns, .. }) => {
                    assert_eq!(topic, expect["topic"].as_str().unwrap());
                    assert_eq!(*log_time_ns, expect["log_time_ns"].as_u64().unwrap());
                    assert!(e.to_string().contains(file), "error names the file: {e}");
                }
                other => panic!("{bag}: expected a Malformed error for {expect}, got {other:?}"),
            }
        } else {
            let image = item.as_ref().unwrap_or_else(|e| panic!("{bag}: {e}"));
            check_image(image, expect);
        }
    }
}

#[test]
fn scenario_bags_match_what_was_written() {
    for (bag, file) in [
        ("scenario_mcap", "scenario_mcap.mcap"),
        ("scenario_db3", "scenario_db3.db3"),
    ] {
        let items = read_all(&bags().join(bag));
        assert_eq!(items.len(), 12, "{bag}: 6 raw + 6 compressed frames");
        check_against_manifest(&items, bag, file);
    }
}

#[test]
fn both_storages_give_the_same_messages_in_the_same_order() {
    let mcap = ok_images(&bags().join("scenario_mcap"));
    let db3 = ok_images(&bags().join("scenario_db3"));
    assert_eq!(mcap, db3);
    // Order: log time, then topic name (raw and compressed frames share log times).
    let keys: Vec<(u64, &str)> = mcap.iter().map(|i| (i.log_time_ns, i.topic.as_str())).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(keys[0], (1_767_225_600_000_000_000, "/camera/image_raw"));
    assert_eq!(keys[1], (1_767_225_600_000_000_000, "/camera/image_raw/compressed"));
    // Reading again gives the same.
    assert_eq!(mcap, ok_images(&bags().join("scenario_mcap")));
}

#[test]
fn topics_are_listed_and_non_image_topics_skipped() {
    for (bag, storage) in [("scenario_mcap", Storage::Mcap), ("scenario_db3", Storage::Sqlite3)] {
        let reader = BagReader::open(&bags().join(bag)).unwrap();
        assert_eq!(reader.storage(), storage);
        let topics: Vec<(&str, &str, Option<u64>)> = reader
            .topics()
            .iter()
            .map(|t| (t.name.as_str(), t.type_name.as_str(), t.message_count))
            .collect();
        assert_eq!(
            topics,
            [
                ("/camera/image_raw", "sensor_msgs/msg/Image", Some(6)),
                (
                    "/camera/image_raw/compressed",
                    "sensor_msgs/msg/CompressedImage",
                    Some(6)
                ),
                ("/robot/status", "std_msgs/msg/String", Some(3)),
                ("/robot/telemetry", "acme_msgs/msg/Telemetry", Some(2)),
            ]
        );
        assert_eq!(reader.image_topics().len(), 2);

        let raw: Vec<BagImage> = reader
            .images(&["/camera/image_raw".to_owned()])
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(raw.len(), 6);
        assert!(raw.iter().all(|i| matches!(i.payload, ImagePayload::Raw { .. })));

        let err = reader.images(&["/robot/status".to_owned()]).err().unwrap();
        assert!(matches!(err, BagError::NotAnImageTopic { .. }), "{err}");
        assert!(err.to_string().contains("std_msgs/msg/String"), "{err}");
        let err = reader.images(&["/robot/telemetry".to_owned()]).err().unwrap();
        assert!(matches!(err, BagError::NotAnImageTopic { .. }), "{err}");
        let err = reader.images(&["/camera/depth".to_owned()]).err().unwrap();
        assert!(matches!(err, BagError::NoSuchTopic { .. }), "{err}");
        assert!(
            err.to_string().contains("/camera/image_raw/compressed"),
            "lists what exists: {err}"
        );
    }
}

#[test]
fn single_files_and_directories_without_metadata_read_the_same() {
    let expected = ok_images(&bags().join("scenario_mcap"));
    for file in ["scenario_mcap/scenario_mcap.mcap", "scenario_db3/scenario_db3.db3"] {
        let reader = BagReader::open(&bags().join(file)).unwrap();
        assert_eq!(reader.topics().len(), 4, "{file}");
        assert_eq!(reader.topics()[0].message_count, Some(6), "{file}");
        assert_eq!(ok_images(&bags().join(file)), expected, "{file}");
    }
    // A recording whose metadata.yaml was never written.
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        bags().join("scenario_db3/scenario_db3.db3"),
        dir.path().join("rec_0.db3"),
    )
    .unwrap();
    assert_eq!(ok_images(dir.path()), expected);
}

#[test]
fn split_bag_files_are_merged_in_time_order() {
    let path = bags().join("split_mcap");
    let reader = BagReader::open(&path).unwrap();
    assert_eq!(reader.files().len(), 2);
    assert_eq!(reader.topics()[0].message_count, Some(5));
    let items = read_all(&path);
    check_against_manifest(&items, "split_mcap", "split_mcap");
    let times: Vec<u64> = items.iter().map(|i| i.as_ref().unwrap().log_time_ns).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
}

#[test]
fn malformed_messages_are_one_error_each_and_the_rest_still_come() {
    for (bag, file) in [
        ("malformed_mcap", "malformed_mcap.mcap"),
        ("malformed_db3", "malformed_db3.db3"),
    ] {
        let items = read_all(&bags().join(bag));
        check_against_manifest(&items, bag, file);
        assert_eq!(items.iter().filter(|i| i.is_err()).count(), 3, "{bag}");
        // The last message, after all the broken ones, is a good frame.
        assert!(items.last().unwrap().as_ref().unwrap().to_frame().is_ok());
    }
}

#[test]
fn unknown_storage_format_is_a_clear_error() {
    let err = BagReader::open(&bags().join("unknown_storage")).unwrap_err();
    assert!(
        matches!(&err, BagError::UnknownStorage { storage, .. } if storage == "foo"),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("unknown_storage/metadata.yaml") && text.contains("'foo'"),
        "{text}"
    );
}

#[test]
fn missing_and_foreign_files_are_clear_errors() {
    let err = BagReader::open(&bags().join("no_such_bag")).unwrap_err();
    assert!(matches!(err, BagError::NotFound { .. }), "{err}");

    // metadata.yaml lists a file that is not there.
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        bags().join("split_mcap/metadata.yaml"),
        dir.path().join("metadata.yaml"),
    )
    .unwrap();
    fs::copy(
        bags().join("split_mcap/split_mcap_0.mcap"),
        dir.path().join("split_mcap_0.mcap"),
    )
    .unwrap();
    let err = BagReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, BagError::MissingFile { .. }), "{err}");
    assert!(err.to_string().contains("split_mcap_1.mcap"), "{err}");

    // metadata.yaml says mcap, the file is a sqlite database.
    fs::copy(
        bags().join("scenario_db3/scenario_db3.db3"),
        dir.path().join("split_mcap_1.mcap"),
    )
    .unwrap();
    let err = BagReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, BagError::WrongFileFormat { .. }), "{err}");

    // A file that is neither.
    let junk = dir.path().join("notes.mcap");
    fs::write(&junk, "just some text, not a bag").unwrap();
    let err = BagReader::open(&junk).unwrap_err();
    assert!(matches!(err, BagError::NotABag { .. }), "{err}");
    assert!(err.to_string().contains("notes.mcap"), "{err}");
}

#[test]
fn truncated_mcap_yields_the_readable_messages_then_one_error() {
    let full = ok_images(&bags().join("scenario_mcap"));
    let bytes = fs::read(bags().join("scenario_mcap/scenario_mcap.mcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    for keep in [
        bytes.len() - 1,
        bytes.len() * 9 / 10,
        bytes.len() * 6 / 10,
        bytes.len() / 4,
        100,
    ] {
        let path = dir.path().join(format!("cut_{keep}.mcap"));
        fs::write(&path, &bytes[..keep]).unwrap();
        let reader = BagReader::open(&path).unwrap_or_else(|e| panic!("cut at {keep}: {e}"));
        let items: Vec<_> = reader.images(&[]).unwrap().collect();
        let (last, good) = items.split_last().expect("at least the error");
        let good: Vec<BagImage> = good.iter().map(|i| i.as_ref().unwrap().clone()).collect();
        assert_eq!(
            good[..],
            full[..good.len()],
            "cut at {keep}: good messages are a prefix"
        );
        let err = last.as_ref().unwrap_err();
        assert!(matches!(err, BagError::Truncated { .. }), "cut at {keep}: {err}");
        assert!(err.to_string().contains(&format!("cut_{keep}.mcap")), "{err}");
        counts.push(good.len());
    }
    eprintln!("messages read after truncation: {counts:?} of {}", full.len());
    // Losing only the footer loses no message; cutting into the data loses the damaged chunk.
    assert_eq!(counts[0], full.len(), "{counts:?}");
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(counts[2] > 0 && counts[2] < full.len(), "{counts:?}");
    assert_eq!(counts[4], 0, "{counts:?}");

    // A few bytes of magic only.
    let path = dir.path().join("stub.mcap");
    fs::write(&path, &bytes[..5]).unwrap();
    let err = BagReader::open(&path).unwrap_err();
    assert!(matches!(err, BagError::Truncated { .. }), "{err}");
}

#[test]
fn truncated_or_corrupt_db3_is_a_clear_error() {
    let bytes = fs::read(bags().join("scenario_db3/scenario_db3.db3")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for keep in [bytes.len() / 2, 8192] {
        let path = dir.path().join(format!("cut_{keep}.db3"));
        fs::write(&path, &bytes[..keep]).unwrap();
        // Either opening fails or reading reports the damage; never a panic, always the file.
        let err = match BagReader::open(&path) {
            Err(e) => e,
            Ok(reader) => reader
                .images(&[])
                .err()
                .or_else(|| reader.images(&[]).unwrap().find_map(Result::err))
                .unwrap_or_else(|| panic!("cut at {keep}: no error")),
        };
        assert!(matches!(err, BagError::Sqlite { .. }), "cut at {keep}: {err}");
        assert!(err.to_string().contains(&format!("cut_{keep}.db3")), "{err}");
    }
    // SQLite magic followed by garbage.
    let path = dir.path().join("garbage.db3");
    let mut junk = b"SQLite format 3\0".to_vec();
    junk.extend(std::iter::repeat_n(0xA5u8, 4096));
    fs::write(&path, junk).unwrap();
    let err = BagReader::open(&path).unwrap_err();
    assert!(matches!(err, BagError::Sqlite { .. }), "{err}");
    assert!(err.to_string().contains("garbage.db3"), "{err}");
}

/// Rewrites the scenario MCAP with the `mcap` crate's writer: lz4 chunks (rosbags only writes
/// zstd), small chunks, messages in reverse order. The reader must still give bag-time order.
#[test]
fn lz4_chunks_written_out_of_order_read_in_time_order() {
    let expected = ok_images(&bags().join("scenario_mcap"));
    let bytes = fs::read(bags().join("scenario_mcap/scenario_mcap.mcap")).unwrap();
    let mut messages: Vec<mcap::Message> = mcap::MessageStream::new(&bytes).unwrap().map(Result::unwrap).collect();
    assert_eq!(messages.len(), 17);
    messages.reverse();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reversed_lz4.mcap");
    let mut writer = mcap::WriteOptions::new()
        .compression(Some(mcap::Compression::Lz4))
        .chunk_size(Some(200_000))
        .profile("ros2")
        .create(std::io::BufWriter::new(fs::File::create(&path).unwrap()))
        .unwrap();
    for message in &messages {
        writer.write(message).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);

    let reader = BagReader::open(&path).unwrap();
    assert_eq!(reader.topics().len(), 4);
    assert_eq!(ok_images(&path), expected);

    // Without its index (cut short), the file is read linearly and sorted: what is left is in
    // time order, all of it from the original, and one error ends it.
    let lz4 = fs::read(&path).unwrap();
    let cut = dir.path().join("reversed_lz4_cut.mcap");
    fs::write(&cut, &lz4[..lz4.len() * 7 / 10]).unwrap();
    let items = read_all(&cut);
    let (last, good) = items.split_last().unwrap();
    assert!(matches!(last, Err(BagError::Truncated { .. })), "{last:?}");
    let good: Vec<&BagImage> = good.iter().map(|i| i.as_ref().unwrap()).collect();
    assert!(!good.is_empty() && good.len() < expected.len(), "{} read", good.len());
    assert!(good.iter().all(|g| expected.contains(g)));
    assert!(good
        .windows(2)
        .all(|w| (w[0].log_time_ns, &w[0].topic) < (w[1].log_time_ns, &w[1].topic)));
}

#[test]
fn per_message_zstd_compression_is_undone() {
    let path = bags().join("zstd_messages_db3");
    let items = read_all(&path);
    assert_eq!(items.len(), 5);
    check_against_manifest(&items, "zstd_messages_db3", "zstd_messages_db3.db3");

    // The file alone has no metadata.yaml to say so: each message is a clear error.
    let items = read_all(&path.join("zstd_messages_db3.db3"));
    assert_eq!(items.len(), 5);
    for item in items {
        let err = item.unwrap_err();
        assert!(matches!(err, BagError::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("zstd-compressed"), "{err}");
    }

    // Whole-file compression is refused when opening, naming the mode.
    let dir = tempfile::tempdir().unwrap();
    let meta = fs::read_to_string(path.join("metadata.yaml")).unwrap();
    assert!(meta.contains("compression_mode: message"));
    fs::write(
        dir.path().join("metadata.yaml"),
        meta.replace("compression_mode: message", "compression_mode: file"),
    )
    .unwrap();
    let err = BagReader::open(dir.path()).unwrap_err();
    assert!(matches!(err, BagError::UnsupportedCompression { .. }), "{err}");
    assert!(err.to_string().contains("'file'"), "{err}");
}
