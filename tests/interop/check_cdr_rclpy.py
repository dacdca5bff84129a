#!/usr/bin/env python3
"""Checks the committed CDR fixtures against real ROS 2 serialization.

rclpy.serialization.serialize_message runs the message's rmw_fastrtps typesupport,
the code a real ROS 2 node uses on the wire. For every sample in
tests/fixtures/cdr/samples.json this builds the rclpy message from the sample's
value, serialises it and compares with <sample>.bin (which tests/ros_msgs.rs
compares with the Rust structs); then deserialises the bytes and compares the
fields back. Needs the facerec interfaces and the test copies of vision_msgs,
hri_msgs and tf2_msgs (tests/interop/*_msgs: no wheels on PyPI) built with
colcon and sourced (scripts/interop_test.sh does both); std_msgs, sensor_msgs,
geometry_msgs, diagnostic_msgs and lifecycle_msgs come from the wheels.
"""

import importlib
import json
import re
import sys
from pathlib import Path

import numpy as np
from rclpy.serialization import deserialize_message, serialize_message
from rosbags.typesys import Stores, get_typestore

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_cdr_fixtures import build, register_local_types  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "cdr"
SEQ = re.compile(r"^sequence<(.+?)(?:, \d+)?>$")
ARR = re.compile(r"^(.+)\[(\d+)\]$")


def message_class(ros_type):
    """The rclpy class of 'pkg/msg/Type', 'pkg/Type', facerec's 'facerec/msg/Srv_Request' or 'facerec/msg/Action_Goal'."""
    parts = ros_type.split("/")
    pkg, name = parts[0], parts[-1]
    m = re.match(r"^(\w+)_(Request|Response)$", name)
    if m:
        srv = getattr(importlib.import_module(f"{pkg}.srv"), m.group(1))
        return getattr(srv, m.group(2))
    m = re.match(r"^(\w+)_(Goal|Result|Feedback)$", name)
    if pkg == "facerec" and m:
        action = getattr(importlib.import_module("facerec.action"), m.group(1))
        return getattr(action, m.group(2))
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


def fill(msg, value):
    types = msg.get_fields_and_field_types()
    for name, v in value.items():
        if name not in types:
            if name == "structure_needs_at_least_one_member" and v == 0:
                continue  # rosidl's hidden member of an empty structure
            raise SystemExit(f"{type(msg).__name__} has no field {name}")
        setattr(msg, name, convert(types[name], v))
    missing = set(types) - set(value)
    if missing:
        raise SystemExit(f"{type(msg).__name__}: sample lacks {sorted(missing)}")
    return msg


def convert(ftype, v):
    m = SEQ.match(ftype)
    if m:
        inner = m.group(1)
        if "/" in inner:
            return [fill(message_class(inner)(), x) for x in v]
        return bytes(v) if inner in ("uint8", "octet") else v
    m = ARR.match(ftype)
    if m:
        inner = m.group(1)
        if "/" in inner:
            return [fill(message_class(inner)(), x) for x in v]
        return np.array(v, dtype={"float": np.float32, "double": np.float64}.get(inner, None))
    if "/" in ftype:
        return fill(message_class(ftype)(), v)
    if ftype == "octet":
        return bytes([v])
    return v


# Packages PyPI has no wheel of: the colcon build of tests/interop/<pkg> (or a ROS install's).
TEST_PACKAGES = ("vision_msgs", "hri_msgs", "tf2_msgs")


def main():
    doc = json.loads((FIXTURES / "samples.json").read_text())
    for pkg in TEST_PACKAGES:
        print(f"{pkg}: {Path(importlib.import_module(f'{pkg}.msg').__file__).resolve().parents[1]}")
    store = get_typestore(Stores.ROS2_JAZZY)
    register_local_types(store)
    failures = 0
    for sample in doc["samples"]:
        sid, typename = sample["id"], sample["type"]
        cls = message_class(typename)
        msg = fill(cls(), sample["value"])
        expected = b"\x00\x01\x00\x00" + (FIXTURES / f"{sid}.bin").read_bytes()
        problem = None
        if deserialize_message(expected, cls) != msg:
            problem = "rclpy reads the fixture as another message"
        real = serialize_message(msg)
        if problem is None:
            try:
                again = bytes(store.serialize_cdr(store.deserialize_cdr(real, typename), typename))
            except Exception as e:  # noqa: BLE001 - report any decoding failure as a mismatch
                again, problem = b"", f"rosbags cannot read rclpy's bytes: {e}"
            if problem is None and again != expected:
                at = next((i for i, (a, b) in enumerate(zip(again, expected)) if a != b),
                          min(len(again), len(expected)))
                problem = (f"rclpy's layout differs at byte {at}: {again[max(0, at - 8):at + 16].hex()} "
                           f"vs fixture {expected[max(0, at - 8):at + 16].hex()}")
        # The same values must build the same rosbags message as the fixture came from.
        if problem is None and bytes(store.serialize_cdr(build(store, typename, sample["value"]), typename)) != expected:
            problem = "the fixture is stale (rerun make_cdr_fixtures.py)"
        if problem:
            print(f"FAIL {sid} ({typename}): {problem}")
            failures += 1
        else:
            print(f"ok   {sid} ({typename}: {len(expected)} bytes; rclpy wrote {len(real)})")
    total = len(doc["samples"])
    print(f"{total - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
