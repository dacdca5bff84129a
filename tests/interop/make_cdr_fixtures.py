#!/usr/bin/env python3
"""Reference CDR bytes for every ROS type facerec speaks, made by the rosbags typestore.

The standard types (std_msgs, builtin_interfaces, sensor_msgs, geometry_msgs,
diagnostic_msgs, lifecycle_msgs) come from rosbags' own Jazzy typestore;
vision_msgs, hri_msgs (ROS4HRI) and tf2_msgs from the test copies of their
.msg field lists in tests/interop/{vision_msgs,hri_msgs,tf2_msgs}/msg (the
typestore also holds tf2_msgs/TFMessage, and refuses a test copy that differs
from it); facerec's own types from this repository's msg/*.msg, srv/*.srv and
action/*.action. Every sample uses a distinct value per field, so two swapped
fields of the same type change the bytes.

Writes tests/fixtures/cdr/samples.json (type and value of each sample, plus the
sha256 of the .msg/.srv/.action files they were made from) and one <sample>.bin per
sample: the CDR payload without the 4-byte encapsulation header. The Rust test
tests/ros_msgs.rs serialises the same values with the node's structs and
compares byte for byte.

Usage (in .venv-ros-jazzy, see scripts/setup_ros_venv.sh):
    python tests/interop/make_cdr_fixtures.py          # (re)write the fixtures
    python tests/interop/make_cdr_fixtures.py --check  # fail if they are stale
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from rosbags.typesys import Stores, get_typestore, get_types_from_msg
from rosbags.typesys.base import Nodetype

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "cdr"
# Test copies of interface packages PyPI has no wheel of: package name -> folder of .msg files.
TEST_PACKAGES = {pkg: ROOT / "tests" / "interop" / pkg / "msg" for pkg in ("vision_msgs", "hri_msgs", "tf2_msgs")}

NUMPY = {
    "bool": np.bool_, "byte": np.uint8, "char": np.uint8, "uint8": np.uint8, "int8": np.int8,
    "uint16": np.uint16, "int16": np.int16, "uint32": np.uint32, "int32": np.int32,
    "uint64": np.uint64, "int64": np.int64, "float32": np.float32, "float64": np.float64,
}


def srv_parts(text):
    """Request and response definitions of a .srv file."""
    req, resp = text.split("\n---", 1)
    return req, resp.split("\n", 1)[1] if "\n" in resp else ""


# Request and response fields of the lifecycle_msgs services the node serves (lifecycle_msgs
# 2.x, Humble and Jazzy alike).
LIFECYCLE_SERVICES = {
    "ChangeState_Request": "lifecycle_msgs/Transition transition\n",
    "ChangeState_Response": "bool success\n",
    "GetState_Request": "uint8 structure_needs_at_least_one_member\n",
    "GetState_Response": "lifecycle_msgs/State current_state\n",
    "GetAvailableTransitions_Request": "uint8 structure_needs_at_least_one_member\n",
    "GetAvailableTransitions_Response": "lifecycle_msgs/TransitionDescription[] available_transitions\n",
    "GetAvailableStates_Request": "uint8 structure_needs_at_least_one_member\n",
    "GetAvailableStates_Response": "lifecycle_msgs/State[] available_states\n",
}


def register_local_types(store):
    """Registers the test packages' and facerec's types; returns {file: sha256} of their sources."""
    sources = {}
    types = {}
    for pkg, folder in TEST_PACKAGES.items():
        for path in sorted(folder.glob("*.msg")):
            types.update(get_types_from_msg(path.read_text(), f"{pkg}/msg/{path.stem}"))
            sources[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    for path in sorted((ROOT / "msg").glob("*.msg")):
        types.update(get_types_from_msg(path.read_text(), f"facerec/msg/{path.stem}"))
        sources[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    for path in sorted((ROOT / "srv").glob("*.srv")):
        req, resp = srv_parts(path.read_text())
        for part, text in (("Request", req), ("Response", resp)):
            # rosidl gives an empty structure one uint8 member; Fast DDS and Cyclone DDS send it.
            if not [l for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]:
                text = "uint8 structure_needs_at_least_one_member\n"
            types.update(get_types_from_msg(text, f"facerec/msg/{path.stem}_{part}"))
        sources[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    for path in sorted((ROOT / "action").glob("*.action")):
        goal, rest = srv_parts(path.read_text())
        result, feedback = srv_parts(rest)
        for part, text in (("Goal", goal), ("Result", result), ("Feedback", feedback)):
            types.update(get_types_from_msg(text, f"facerec/msg/{path.stem}_{part}"))
        sources[str(path.relative_to(ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()
    # lifecycle_msgs' services, whose messages rosbags' typestore holds but not the services.
    for name, text in LIFECYCLE_SERVICES.items():
        types.update(get_types_from_msg(text, f"lifecycle_msgs/msg/{name}"))
    store.register(types)
    return sources


def build(store, typename, value):
    """A rosbags message object of typename from a JSON-like dict."""
    _, fields = store.fielddefs[typename]
    cls = store.types[typename]
    names = [name for name, _ in fields]
    if set(value) != set(names):
        raise SystemExit(f"{typename}: sample fields {sorted(value)} != definition {names}")
    kwargs = {name: convert(store, desc, value[name]) for name, desc in fields}
    return cls(**kwargs)


def convert(store, desc, value):
    kind, detail = desc
    if kind == Nodetype.BASE:
        base = detail[0]
        if base == "string":
            return value
        return NUMPY[base](value).item() if base != "bool" else bool(value)
    if kind == Nodetype.NAME:
        return build(store, detail, value)
    if kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        (subkind, subdetail), _ = detail
        if subkind == Nodetype.BASE and subdetail[0] != "string":
            return np.array(value, dtype=NUMPY[subdetail[0]])
        return [convert(store, (subkind, subdetail), v) for v in value]
    raise SystemExit(f"unsupported field kind {kind}")


STAMP = {"sec": 1767225600, "nanosec": 123456789}


def cov(start):
    return [start + 0.5 * i for i in range(36)]


def samples():
    """(sample id, ROS type, value): distinct values per field, odd string lengths for padding."""
    image = {
        "header": {"stamp": STAMP, "frame_id": "head_camera_optical"},
        "height": 2, "width": 3, "encoding": "rgb8", "is_bigendian": 7, "step": 9,
        "data": list(range(11, 29)),
    }
    det = {
        "header": {"stamp": {"sec": 5, "nanosec": 6}, "frame_id": "cam"},
        "results": [
            {"hypothesis": {"class_id": "Ada", "score": 0.8125},
             "pose": {"pose": {"position": {"x": 1.5, "y": 2.5, "z": 3.5},
                               "orientation": {"x": 0.125, "y": 0.25, "z": 0.375, "w": 0.5}},
                      "covariance": cov(100.0)}},
            {"hypothesis": {"class_id": "unknown", "score": 0.25},
             "pose": {"pose": {"position": {"x": -1.0, "y": -2.0, "z": -3.0},
                               "orientation": {"x": 0.0, "y": 0.0, "z": 0.0, "w": 1.0}},
                      "covariance": cov(-50.0)}},
        ],
        "bbox": {"center": {"position": {"x": 320.5, "y": 240.25}, "theta": 0.0625},
                 "size_x": 64.75, "size_y": 80.125},
        "id": "track-7",
    }
    face_a = {
        "name": "Grace Hopper", "score": 0.71875, "margin": 0.28125, "detection_score": 0.9375,
        "x": 10.5, "y": 20.25, "width": 30.75, "height": 40.125,
        "landmarks": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5],
        "camera_topic": "/head_camera/image_raw",
        "track_id": "17", "track_confirmed": True, "anonymous": False, "frame_score": 0.59375,
        "has_position": True, "position": {"x": -0.0625, "y": 0.15625, "z": 1.84375}, "position_source": 2,
    }
    face_b = {
        "name": "unknown", "score": -0.125, "margin": 0.0, "detection_score": 0.6875,
        "x": 100.0, "y": 200.0, "width": 50.0, "height": 60.0,
        "landmarks": [11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0],
        "camera_topic": "/c",
        "track_id": "", "track_confirmed": False, "anonymous": True, "frame_score": -0.0625,
        "has_position": False, "position": {"x": 0.0, "y": 0.0, "z": 0.0}, "position_source": 0,
    }
    camera_info = {
        "header": {"stamp": {"sec": 1767225601, "nanosec": 987654321}, "frame_id": "head_camera_optical"},
        "height": 480, "width": 640, "distortion_model": "plumb_bob",
        "d": [-0.28125, 0.09375, 0.0009765625, -0.001953125, 0.015625],
        "k": [500.5, 0.25, 320.75, 0.375, 501.5, 240.25, 0.0625, 0.125, 1.0],
        "r": [1.0 + i / 16 for i in range(9)],
        "p": [600.0 + i * 1.5 for i in range(12)],
        "binning_x": 1, "binning_y": 2,
        "roi": {"x_offset": 3, "y_offset": 4, "height": 5, "width": 6, "do_rectify": True},
    }
    face_tf = {
        "header": {"stamp": STAMP, "frame_id": "head_camera_optical"}, "child_frame_id": "face_a3eb4e",
        "transform": {"translation": {"x": 0.125, "y": -0.25, "z": 1.5},
                      "rotation": {"x": 0.0625, "y": 0.1875, "z": -0.3125, "w": 0.9}},
    }
    gaze_tf = {
        "header": {"stamp": {"sec": 1767225602, "nanosec": 5}, "frame_id": "face_a3eb4e"},
        "child_frame_id": "gaze_a3eb4e",
        "transform": {"translation": {"x": 0.03125, "y": 0.046875, "z": -0.015625},
                      "rotation": {"x": -0.5, "y": 0.5, "z": -0.5, "w": 0.5}},
    }
    # 70 slots, every coordinate its own value (exact in float32, so the JSON survives the Rust f32s).
    landmarks = [{"x": (i + 1) / 128, "y": 0.25 + (i + 1) / 256, "c": 1.0 - (i + 1) / 512} for i in range(70)]
    return [
        ("time", "builtin_interfaces/msg/Time", STAMP),
        ("header", "std_msgs/msg/Header", {"stamp": STAMP, "frame_id": "base_link"}),
        ("image", "sensor_msgs/msg/Image", image),
        ("image_empty", "sensor_msgs/msg/Image",
         {"header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""}, "height": 0, "width": 0,
          "encoding": "", "is_bigendian": 0, "step": 0, "data": []}),
        ("compressed_image", "sensor_msgs/msg/CompressedImage",
         {"header": {"stamp": STAMP, "frame_id": "cam1"}, "format": "rgb8; jpeg compressed bgr8",
          "data": [255, 216, 255, 224, 1, 2, 3]}),
        ("point", "geometry_msgs/msg/Point", {"x": 1.25, "y": -2.5, "z": 3.75}),
        ("quaternion", "geometry_msgs/msg/Quaternion", {"x": 0.1, "y": 0.2, "z": 0.3, "w": 0.4}),
        ("pose_with_covariance", "geometry_msgs/msg/PoseWithCovariance", det["results"][0]["pose"]),
        ("point2d", "vision_msgs/msg/Point2D", {"x": 7.5, "y": 8.25}),
        ("pose2d", "vision_msgs/msg/Pose2D", {"position": {"x": 1.0, "y": 2.0}, "theta": 3.0}),
        ("bounding_box2d", "vision_msgs/msg/BoundingBox2D", det["bbox"]),
        ("object_hypothesis", "vision_msgs/msg/ObjectHypothesis", {"class_id": "Ada", "score": 0.8125}),
        ("object_hypothesis_with_pose", "vision_msgs/msg/ObjectHypothesisWithPose", det["results"][0]),
        ("detection2d", "vision_msgs/msg/Detection2D", det),
        ("detection2d_array", "vision_msgs/msg/Detection2DArray",
         {"header": {"stamp": STAMP, "frame_id": "head_camera_optical"},
          "detections": [det, dict(det, id="", results=[])]}),
        ("detection2d_array_empty", "vision_msgs/msg/Detection2DArray",
         {"header": {"stamp": STAMP, "frame_id": "x"}, "detections": []}),
        ("key_value", "diagnostic_msgs/msg/KeyValue", {"key": "rate_hz", "value": "29.97"}),
        ("diagnostic_status", "diagnostic_msgs/msg/DiagnosticStatus",
         {"level": 1, "name": "facerec: /head_camera/image_raw", "message": "dropping frames",
          "hardware_id": "cpu0", "values": [{"key": "a", "value": "bb"}, {"key": "ccc", "value": ""}]}),
        ("diagnostic_array", "diagnostic_msgs/msg/DiagnosticArray",
         {"header": {"stamp": STAMP, "frame_id": ""},
          "status": [{"level": 2, "name": "n", "message": "m", "hardware_id": "h", "values": []},
                     {"level": 0, "name": "gallery", "message": "ok", "hardware_id": "",
                      "values": [{"key": "people", "value": "3"}]}]}),
        ("string", "std_msgs/msg/String", {"data": "Grace Hopper, Ada"}),
        ("string_empty", "std_msgs/msg/String", {"data": ""}),
        ("bool", "std_msgs/msg/Bool", {"data": True}),
        ("region_of_interest", "sensor_msgs/msg/RegionOfInterest", camera_info["roi"]),
        ("camera_info", "sensor_msgs/msg/CameraInfo", camera_info),
        ("vector3", "geometry_msgs/msg/Vector3", {"x": -4.5, "y": 5.25, "z": 6.125}),
        ("transform", "geometry_msgs/msg/Transform", face_tf["transform"]),
        ("transform_stamped", "geometry_msgs/msg/TransformStamped", face_tf),
        ("tf_message", "tf2_msgs/msg/TFMessage", {"transforms": [face_tf, gaze_tf]}),
        ("ids_list", "hri_msgs/msg/IdsList",
         {"header": {"stamp": STAMP, "frame_id": "head_camera_optical"}, "ids": ["f7b", "a3eb4e", "x1"]}),
        ("ids_list_empty", "hri_msgs/msg/IdsList", {"header": {"stamp": STAMP, "frame_id": "cam"}, "ids": []}),
        ("ids_match", "hri_msgs/msg/IdsMatch",
         {"id1": "person_3f9a", "id1_type": 1, "id2": "f7b", "id2_type": 2, "confidence": 0.71875}),
        ("normalized_region_of_interest2d", "hri_msgs/msg/NormalizedRegionOfInterest2D",
         {"header": {"stamp": STAMP, "frame_id": "head_camera_optical"},
          "xmin": 0.125, "ymin": 0.25, "xmax": 0.625, "ymax": 0.875, "c": 0.9375}),
        ("normalized_point_of_interest2d", "hri_msgs/msg/NormalizedPointOfInterest2D",
         {"x": 0.375, "y": 0.5625, "c": 0.96875}),
        ("facial_landmarks", "hri_msgs/msg/FacialLandmarks",
         {"header": {"stamp": STAMP, "frame_id": "head_camera_optical"}, "landmarks": landmarks,
          "height": 481, "width": 643}),
        ("face", "facerec/msg/Face", face_a),
        ("face_array", "facerec/msg/FaceArray",
         {"header": {"stamp": STAMP, "frame_id": "head_camera_optical"}, "faces": [face_a, face_b]}),
        ("face_array_empty", "facerec/msg/FaceArray", {"header": {"stamp": STAMP, "frame_id": "f"}, "faces": []}),
        ("enroll_request", "facerec/msg/Enroll_Request",
         {"name": "Ada Lovelace", "camera": "/head_camera/image_raw", "image": image,
          "num_samples": 5, "timeout_s": 7.5, "track_id": "", "person_id": ""}),
        ("enroll_request_camera", "facerec/msg/Enroll_Request",
         {"name": "Bo", "camera": "", "image": {"header": {"stamp": {"sec": 0, "nanosec": 0}, "frame_id": ""},
                                                "height": 0, "width": 0, "encoding": "", "is_bigendian": 0,
                                                "step": 0, "data": []},
          "num_samples": 0, "timeout_s": 0.0, "track_id": "12", "person_id": "person_3f9a"}),
        ("enroll_response", "facerec/msg/Enroll_Response",
         {"success": True, "message": "enrolled Ada Lovelace from 5 frames", "samples_used": 5}),
        ("forget_request", "facerec/msg/Forget_Request", {"name": "Ada Lovelace"}),
        ("forget_response", "facerec/msg/Forget_Response",
         {"success": False, "message": "nobody named Zed", "removed": 3}),
        ("list_people_request", "facerec/msg/ListPeople_Request", {"structure_needs_at_least_one_member": 0}),
        ("list_people_response", "facerec/msg/ListPeople_Response",
         {"names": ["Ada", "Bob Smith", "person_3f9a"], "sample_counts": [3, 10, 1],
          "anonymous": [False, False, True]}),
        ("enroll_person_goal", "facerec/msg/EnrollPerson_Goal",
         {"name": "Ada Lovelace", "camera": "/head_camera/image_raw", "num_samples": 5, "timeout_s": 7.5,
          "track_id": "12", "person_id": "person_3f9a"}),
        ("enroll_person_result", "facerec/msg/EnrollPerson_Result",
         {"success": True, "message": "enrolled 'Ada Lovelace'", "samples_used": 4}),
        ("enroll_person_feedback", "facerec/msg/EnrollPerson_Feedback",
         {"samples_collected": 2, "samples_needed": 5, "last_rejection": "face too small",
          "camera": "/head_camera/image_raw", "has_box": True, "x": 10.5, "y": 20.25, "width": 64.0,
          "height": 80.5}),
        ("find_person_goal", "facerec/msg/FindPerson_Goal",
         {"name": "Ada", "timeout_s": 30.5, "cameras": ["/head_camera/image_raw", "/back/image_raw"]}),
        ("find_person_result", "facerec/msg/FindPerson_Result",
         {"found": True, "message": "seen", "camera": "/head_camera/image_raw", "stamp": STAMP,
          "x": 1.5, "y": 2.5, "width": 30.25, "height": 40.75, "score": 0.625, "track_id": "7",
          "has_position": True, "position": {"x": 0.5, "y": -1.25, "z": 2.0}}),
        ("lifecycle_state", "lifecycle_msgs/msg/State", {"id": 3, "label": "active"}),
        ("lifecycle_transition", "lifecycle_msgs/msg/Transition", {"id": 4, "label": "deactivate"}),
        ("transition_description", "lifecycle_msgs/msg/TransitionDescription",
         {"transition": {"id": 2, "label": "cleanup"}, "start_state": {"id": 2, "label": "inactive"},
          "goal_state": {"id": 1, "label": "unconfigured"}}),
        ("transition_event", "lifecycle_msgs/msg/TransitionEvent",
         {"timestamp": 1764000000123456789, "transition": {"id": 4, "label": "deactivate"},
          "start_state": {"id": 3, "label": "active"}, "goal_state": {"id": 2, "label": "inactive"}}),
        ("change_state_request", "lifecycle_msgs/msg/ChangeState_Request",
         {"transition": {"id": 0, "label": "activate"}}),
        ("change_state_response", "lifecycle_msgs/msg/ChangeState_Response", {"success": True}),
        ("get_state_request", "lifecycle_msgs/msg/GetState_Request", {"structure_needs_at_least_one_member": 0}),
        ("get_state_response", "lifecycle_msgs/msg/GetState_Response",
         {"current_state": {"id": 2, "label": "inactive"}}),
        ("get_available_transitions_response", "lifecycle_msgs/msg/GetAvailableTransitions_Response",
         {"available_transitions": [
             {"transition": {"id": 3, "label": "activate"}, "start_state": {"id": 2, "label": "inactive"},
              "goal_state": {"id": 3, "label": "active"}},
             {"transition": {"id": 6, "label": "shutdown"}, "start_state": {"id": 2, "label": "inactive"},
              "goal_state": {"id": 4, "label": "finalized"}}]}),
        ("get_available_states_response", "lifecycle_msgs/msg/GetAvailableStates_Response",
         {"available_states": [{"id": 0, "label": "unknown"}, {"id": 13, "label": "activating"},
                               {"id": 15, "label": "errorprocessing"}]}),
        ("log", "rcl_interfaces/msg/Log",
         {"stamp": STAMP, "level": 30, "name": "robot.facerec", "msg": "camera 0: no frame for 5 s",
          "file": "src/ros/node.rs", "function": "facerec::ros::node", "line": 412}),
        ("find_person_feedback", "facerec/msg/FindPerson_Feedback",
         {"frames_searched": 12, "faces_seen": 3, "best_score": 0.25, "best_camera": "/back/image_raw",
          "elapsed_s": 1.5}),
    ]


def generate():
    """{sample id: bytes} and the samples.json document."""
    store = get_typestore(Stores.ROS2_JAZZY)
    sources = register_local_types(store)
    humble = get_typestore(Stores.ROS2_HUMBLE)
    register_local_types(humble)
    blobs, doc = {}, {"generator": "tests/interop/make_cdr_fixtures.py", "typestore": "rosbags ROS2_JAZZY",
                      "sources": sources, "samples": []}
    for sid, typename, value in samples():
        data = bytes(store.serialize_cdr(build(store, typename, value), typename))
        if data[:4] != b"\x00\x01\x00\x00":
            raise SystemExit(f"{sid}: unexpected encapsulation header {data[:4].hex()}")
        # Humble and Jazzy define these types identically; say so if that ever changes.
        if bytes(humble.serialize_cdr(build(humble, typename, value), typename)) != data:
            raise SystemExit(f"{sid}: Humble and Jazzy typestores disagree on {typename}")
        back = store.deserialize_cdr(data, typename)
        if bytes(store.serialize_cdr(back, typename)) != data:
            raise SystemExit(f"{sid}: rosbags round trip changed the bytes")
        blobs[sid] = data[4:]
        doc["samples"].append({"id": sid, "type": typename, "value": value})
    return blobs, doc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures")
    args = parser.parse_args()
    blobs, doc = generate()
    text = json.dumps(doc, indent=1) + "\n"
    if args.check:
        stale = []
        if (OUT / "samples.json").read_text() != text:
            stale.append("samples.json")
        stale += [f"{sid}.bin" for sid, data in blobs.items()
                  if not (OUT / f"{sid}.bin").exists() or (OUT / f"{sid}.bin").read_bytes() != data]
        if stale:
            print(f"stale CDR fixtures: {', '.join(stale)}; rerun {doc['generator']}", file=sys.stderr)
            return 1
        print(f"CDR fixtures up to date ({len(blobs)} samples)")
        return 0
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.bin"):
        old.unlink()
    for sid, data in blobs.items():
        (OUT / f"{sid}.bin").write_bytes(data)
    (OUT / "samples.json").write_text(text)
    print(f"wrote {len(blobs)} samples to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
