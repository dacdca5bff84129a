//! The node's ROS message structs against independent CDR bytes.
//!
//! `tests/fixtures/cdr/` holds sample values and the CDR the `rosbags` typestore made
//! from them (standard types from its Jazzy store; vision_msgs, hri_msgs and tf2_msgs
//! from the .msg field lists of their test copies in `tests/interop/`; facerec's from
//! `msg/`, `srv/` and `action/`), written by
//! `tests/interop/make_cdr_fixtures.py`. Every field of a sample has its own value, so
//! a missing, extra, mistyped or misplaced field changes the bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // test code: a panic is a failure report

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use facerec::ros::msgs::{self, cdr, RosAction, RosMessage, RosService};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> Value {
    let path = root().join("tests/fixtures/cdr/samples.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Serialises the sample with the Rust struct, compares with the reference bytes, decodes
/// the reference bytes back and checks the value survived both ways.
fn check<T>(id: &str, value: &Value) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let expected = std::fs::read(root().join(format!("tests/fixtures/cdr/{id}.bin"))).unwrap();
    let rust: T =
        serde_json::from_value(value.clone()).unwrap_or_else(|e| panic!("{id}: sample does not fit the struct: {e}"));
    // Same fields, no more, no fewer: the struct says back exactly the sample.
    assert_eq!(
        &serde_json::to_value(&rust).unwrap(),
        value,
        "{id}: struct fields differ from the definition"
    );

    let bytes = cdr::to_vec(&rust).unwrap();
    if bytes != expected {
        let at = bytes
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(bytes.len().min(expected.len()));
        panic!(
            "{id}: CDR differs from rosbags at byte {at} (rust {} bytes, rosbags {} bytes)\nrust:    {:02x?}\nrosbags: {:02x?}",
            bytes.len(),
            expected.len(),
            &bytes[at.saturating_sub(8)..bytes.len().min(at + 16)],
            &expected[at.saturating_sub(8)..expected.len().min(at + 16)],
        );
    }
    let (decoded, used): (T, usize) = cdr::from_slice(&expected).unwrap();
    assert_eq!(used, expected.len(), "{id}: decoding left bytes over");
    assert_eq!(decoded, rust, "{id}: decoding the reference bytes gave another value");
    rust
}

fn message_type<T: RosMessage>() -> String {
    format!("{}/msg/{}", T::PACKAGE, T::NAME)
}

fn service_types<S: RosService>() -> (String, String) {
    (
        format!("{}/msg/{}_Request", S::PACKAGE, S::NAME),
        format!("{}/msg/{}_Response", S::PACKAGE, S::NAME),
    )
}

#[test]
fn structs_match_reference_cdr() {
    let doc = fixtures();
    let samples = doc["samples"].as_array().unwrap();
    let mut seen_types = std::collections::BTreeSet::new();
    for sample in samples {
        let id = sample["id"].as_str().unwrap();
        let ty = sample["type"].as_str().unwrap();
        let v = &sample["value"];
        seen_types.insert(ty.to_owned());
        macro_rules! msg {
            ($($t:ty),*) => {
                $( if ty == message_type::<$t>() { check::<$t>(id, v); continue; } )*
            };
        }
        msg!(
            msgs::Time,
            msgs::Header,
            msgs::Image,
            msgs::CompressedImage,
            msgs::Point,
            msgs::Quaternion,
            msgs::PoseWithCovariance,
            msgs::Point2D,
            msgs::Pose2D,
            msgs::BoundingBox2D,
            msgs::ObjectHypothesis,
            msgs::ObjectHypothesisWithPose,
            msgs::Detection2D,
            msgs::Detection2DArray,
            msgs::KeyValue,
            msgs::DiagnosticStatus,
            msgs::DiagnosticArray,
            msgs::StringMsg,
            msgs::BoolMsg,
            msgs::RegionOfInterest,
            msgs::CameraInfo,
            msgs::Vector3,
            msgs::Transform,
            msgs::TransformStamped,
            msgs::TfMessage,
            msgs::IdsList,
            msgs::IdsMatch,
            msgs::NormalizedRegionOfInterest2D,
            msgs::NormalizedPointOfInterest2D,
            msgs::FacialLandmarks,
            msgs::Face,
            msgs::FaceArray,
            msgs::LifecycleState,
            msgs::LifecycleTransition,
            msgs::TransitionDescription,
            msgs::TransitionEvent,
            msgs::Log
        );
        macro_rules! srv {
            ($($s:ty),*) => {
                $(
                    let (req, resp) = service_types::<$s>();
                    if ty == req { check::<<$s as RosService>::Request>(id, v); continue; }
                    if ty == resp { check::<<$s as RosService>::Response>(id, v); continue; }
                )*
            };
        }
        srv!(
            msgs::Enroll,
            msgs::Forget,
            msgs::ListPeople,
            msgs::ChangeState,
            msgs::GetState,
            msgs::GetAvailableTransitions,
            msgs::GetAvailableStates
        );
        macro_rules! action {
            ($($a:ty),*) => {
                $(
                    let base = format!("{}/msg/{}", <$a as RosAction>::PACKAGE, <$a as RosAction>::NAME);
                    if ty == format!("{base}_Goal") { check::<<$a as RosAction>::Goal>(id, v); continue; }
                    if ty == format!("{base}_Result") { check::<<$a as RosAction>::Result>(id, v); continue; }
                    if ty == format!("{base}_Feedback") { check::<<$a as RosAction>::Feedback>(id, v); continue; }
                )*
            };
        }
        action!(msgs::EnrollPerson, msgs::FindPerson);
        panic!("sample {id}: no Rust struct for {ty}");
    }
    // Every type the node speaks has at least one sample.
    for ty in [
        "sensor_msgs/msg/Image",
        "sensor_msgs/msg/CompressedImage",
        "vision_msgs/msg/Detection2DArray",
        "diagnostic_msgs/msg/DiagnosticArray",
        "facerec/msg/FaceArray",
        "facerec/msg/Enroll_Request",
        "facerec/msg/Enroll_Response",
        "facerec/msg/Forget_Request",
        "facerec/msg/Forget_Response",
        "facerec/msg/ListPeople_Request",
        "facerec/msg/ListPeople_Response",
        "lifecycle_msgs/msg/TransitionEvent",
        "lifecycle_msgs/msg/ChangeState_Request",
        "lifecycle_msgs/msg/ChangeState_Response",
        "lifecycle_msgs/msg/GetState_Response",
        "lifecycle_msgs/msg/GetAvailableTransitions_Response",
        "lifecycle_msgs/msg/GetAvailableStates_Response",
        "rcl_interfaces/msg/Log",
        "facerec/msg/EnrollPerson_Goal",
        "facerec/msg/EnrollPerson_Result",
        "facerec/msg/EnrollPerson_Feedback",
        "facerec/msg/FindPerson_Goal",
        "facerec/msg/FindPerson_Result",
        "facerec/msg/FindPerson_Feedback",
        "sensor_msgs/msg/CameraInfo",
        "tf2_msgs/msg/TFMessage",
        "hri_msgs/msg/IdsList",
        "hri_msgs/msg/IdsMatch",
        "hri_msgs/msg/NormalizedRegionOfInterest2D",
        "hri_msgs/msg/FacialLandmarks",
        "std_msgs/msg/String",
        "std_msgs/msg/Bool",
    ] {
        assert!(seen_types.contains(ty), "no sample of {ty}");
    }
}

fn sha256_hex(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[test]
fn fixtures_were_made_from_the_current_msg_and_srv_files() {
    let doc = fixtures();
    let sources = doc["sources"].as_object().unwrap();
    for (file, hash) in sources {
        assert_eq!(
            sha256_hex(&root().join(file)),
            hash.as_str().unwrap(),
            "{file} changed since the CDR fixtures were made: update src/ros/msgs.rs and rerun \
             tests/interop/make_cdr_fixtures.py (in .venv-ros-jazzy)"
        );
    }
    for dir in ["msg", "srv", "action"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                sources.contains_key(&name),
                "{name} has no CDR fixture: rerun tests/interop/make_cdr_fixtures.py"
            );
        }
    }
}

#[test]
fn dds_type_names() {
    assert_eq!(
        msgs::Image::type_name().dds_msg_type(),
        "sensor_msgs::msg::dds_::Image_"
    );
    assert_eq!(
        msgs::CompressedImage::type_name().dds_msg_type(),
        "sensor_msgs::msg::dds_::CompressedImage_"
    );
    assert_eq!(
        msgs::Detection2DArray::type_name().dds_msg_type(),
        "vision_msgs::msg::dds_::Detection2DArray_"
    );
    assert_eq!(
        msgs::DiagnosticArray::type_name().dds_msg_type(),
        "diagnostic_msgs::msg::dds_::DiagnosticArray_"
    );
    assert_eq!(
        msgs::FaceArray::type_name().dds_msg_type(),
        "facerec::msg::dds_::FaceArray_"
    );
    assert_eq!(
        msgs::IdsList::type_name().dds_msg_type(),
        "hri_msgs::msg::dds_::IdsList_"
    );
    assert_eq!(
        msgs::FacialLandmarks::type_name().dds_msg_type(),
        "hri_msgs::msg::dds_::FacialLandmarks_"
    );
    assert_eq!(
        msgs::TfMessage::type_name().dds_msg_type(),
        "tf2_msgs::msg::dds_::TFMessage_"
    );
    assert_eq!(
        msgs::StringMsg::type_name().dds_msg_type(),
        "std_msgs::msg::dds_::String_"
    );
    let enroll = msgs::Enroll::type_name();
    assert_eq!((enroll.package_name(), enroll.type_name()), ("facerec", "Enroll"));
    assert_eq!(msgs::ListPeople::type_name().type_name(), "ListPeople");
    assert_eq!(msgs::Forget::type_name().type_name(), "Forget");
}

#[test]
fn time_conversions() {
    let t = msgs::Time::from_nanos(-1_500_000_000);
    assert_eq!((t.sec, t.nanosec), (-2, 500_000_000));
    assert_eq!(t.to_nanos(), -1_500_000_000);
    let t = msgs::Time::from_nanos(1_767_225_600_123_456_789);
    assert_eq!((t.sec, t.nanosec), (1_767_225_600, 123_456_789));
    assert_eq!(msgs::Time::from_nanos(i64::MAX).sec, i32::MAX);
    assert_eq!(msgs::Quaternion::default().w, 1.0);
}
