#!/usr/bin/env python3
"""Reference results of ROS 2's own argument handling, made with real rclpy (rcl).

For each case (a command line after the program name, and the name and namespace
the program gives its node), rcl resolves the node's name and namespace, its
parameters from --params-file and -p, and a set of topic and service names
under the remaps. The results go to tests/fixtures/ros_args/cases.json, which
tests/ros_params.rs compares with facerec::ros::params.

Creating an rclpy node starts DDS discovery, so run it where only loopback exists:
    unshare -n sh -c 'ip link set lo up; .venv-ros-jazzy/bin/python tests/interop/make_args_fixtures.py [--check]'
"""

import argparse
import json
import os
import sys
from pathlib import Path

import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "ros_args" / "cases.json"
SECTIONS = "tests/fixtures/ros_args/sections.yaml"
CONFIG = "config/facerec.yaml"

TOPICS = ["camera/image_raw", "/camera/image_raw", "side/image_raw/compressed", "~/detections",
          "~/faces", "/diagnostics", "{node}/annotated", "people"]
SERVICES = ["~/enroll", "~/forget", "~/list_people", "enroll"]

CASES = [
    ("defaults", "facerec", "/", []),
    ("config_file_and_overrides", "facerec", "/",
     ["--ros-args", "--params-file", CONFIG, "-p", "match_threshold:=0.5",
      "-p", "cameras:=[front/image_raw, back/image_raw/compressed]", "-p", "workers:=3",
      "-p", "publish_annotated:=true", "-p", "enroll.timeout_s:=4"]),
    ("namespace_node_and_remaps", "facerec", "/",
     ["--ros-args", "-r", "__ns:=/robot", "-r", "__node:=faces", "-r", "camera/image_raw:=/head/rgb",
      "-r", "~/faces:=/people/faces", "-r", "/diagnostics:=diag", "-r", "enroll:=/global_enroll",
      "-r", "~/enroll:=/robot/teach"]),
    ("sections_in_robot_namespace", "facerec", "/",
     ["--ros-args", "-r", "__ns:=/robot", "--params-file", SECTIONS]),
    ("sections_at_root", "facerec", "/", ["--ros-args", "--params-file", SECTIONS]),
    ("sections_deep_namespace", "facerec", "/a/b", ["--ros-args", "--params-file", SECTIONS]),
    ("files_then_overrides_in_order", "facerec", "/robot",
     ["--ros-args", "--params-file", CONFIG, "--params-file", SECTIONS, "-p", "source:=command line",
      "-p", "detector.input_size:=320"]),
    ("node_prefixed_rules", "facerec", "/",
     ["--ros-args", "-r", "other:__node:=nope", "-r", "other:__ns:=/nope", "-r", "facerec:__ns:=/mine",
      "-r", "other:people:=/nope", "-r", "facerec:people:=/crowd", "-p", "other:x:=1", "-p", "facerec:y:=2",
      "-p", "z:=three"]),
    ("several_ros_args_sections", "facerec", "/",
     ["--verbose", "--ros-args", "-p", "a:=1", "--", "positional", "--ros-args", "-r", "people:=/p",
      "--log-level", "debug"]),
]


def encode(value):
    """A parameter value as {type, value}, keeping int and double apart."""
    if isinstance(value, bool):
        return {"type": "bool", "value": value}
    if isinstance(value, int):
        return {"type": "integer", "value": value}
    if isinstance(value, float):
        return {"type": "double", "value": value}
    if isinstance(value, str):
        return {"type": "string", "value": value}
    items = list(value)
    kinds = {type(x) for x in items}
    kind = {bool: "bool_array", int: "integer_array", float: "double_array", str: "string_array"}[kinds.pop()]
    return {"type": kind, "value": items}


def run_case(args, name, namespace):
    context = rclpy.Context()
    rclpy.init(args=["facerec_node", *args], context=context)
    try:
        node = Node(name, namespace=namespace, context=context,
                    automatically_declare_parameters_from_overrides=True,
                    start_parameter_services=False, enable_rosout=False)
        params = {}
        for pname, param in sorted(node._parameters.items()):  # noqa: SLF001
            # Parameters rclpy declares for every node are not the command line's doing.
            if pname in ("use_sim_time", "start_type_description_service") or param.type_ == Parameter.Type.NOT_SET:
                continue
            params[pname] = encode(param.value)
        result = {
            "node_name": node.get_name(),
            "namespace": node.get_namespace(),
            "fqn": node.get_fully_qualified_name(),
            "params": params,
            "topics": {t: node.resolve_topic_name(t) for t in TOPICS},
            "services": {s: node.resolve_service_name(s) for s in SERVICES},
            "non_ros_args": rclpy.utilities.remove_ros_args(["facerec_node", *args])[1:],
        }
        node.destroy_node()
        return result
    finally:
        rclpy.shutdown(context=context)


def main():
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    check = parser.parse_args().check
    os.chdir(ROOT)
    cases = [{"id": cid, "default_name": name, "default_namespace": ns, "args": args,
              "expected": run_case(args, name, ns)} for cid, name, ns, args in CASES]
    text = json.dumps({"generator": "tests/interop/make_args_fixtures.py",
                       "rclpy": "ros-jazzy-rclpy 7.1.6", "cases": cases}, indent=1) + "\n"
    if check:
        if OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} differs from what rcl does now", file=sys.stderr)
            return 1
        print(f"ROS argument fixtures match rcl ({len(cases)} cases)")
        return 0
    OUT.write_text(text)
    print(f"wrote {len(cases)} cases to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
