#!/usr/bin/env python3
"""facerec_node's parameters from real rclpy (the rcl_interfaces services `ros2 param` uses).

Lists, gets, describes and types every parameter (expected: every parameter of
config/facerec.yaml plus use_sim_time, with the shipped values except those given
with --given), then:
  - a wrong type (match_threshold as a string), out-of-range values
    (match_threshold 1.5, enroll.samples 0, tracking.max_tracks 0 and 5000) and
    restart-only parameters (workers, tracking.enabled, anonymous.mode,
    hri.enabled: "read at start only") are refused with a reason, and the old
    values stay;
  - the live tracking.max_tracks, tracking.confirm_hits, learning.enabled and
    tf.enabled are set (successful, and get returns the new value), then set back;
  - enrolls a person from a photo, publishes another photo of them, reads the
    face's score s, sets match_threshold just above s (the face becomes
    "unknown") and just below (named again): the set takes effect on recognition.
Each event is one JSON line; the exit status says whether every check held.
"""

import argparse
import json
import math
import sys
import time

import rclpy
import yaml
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import (DescribeParameters, GetParameters, GetParameterTypes, ListParameters,
                                SetParameters)
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy

from facerec.msg import FaceArray
from facerec.srv import Enroll
from sensor_msgs.msg import Image

from rclpy_peer import Spinning, emit, load_photo, to_image_msg


def flatten(prefix, value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            flatten(f"{prefix}.{k}" if prefix else k, v, out)
    else:
        out[prefix] = value


def shipped_params(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    out = {}
    flatten("", doc["/**"]["ros__parameters"], out)
    return out


def py_value(v):
    """The Python value of an rcl_interfaces ParameterValue."""
    return {
        ParameterType.PARAMETER_NOT_SET: lambda: None,
        ParameterType.PARAMETER_BOOL: lambda: v.bool_value,
        ParameterType.PARAMETER_INTEGER: lambda: v.integer_value,
        ParameterType.PARAMETER_DOUBLE: lambda: v.double_value,
        ParameterType.PARAMETER_STRING: lambda: v.string_value,
        ParameterType.PARAMETER_BOOL_ARRAY: lambda: list(v.bool_array_value),
        ParameterType.PARAMETER_INTEGER_ARRAY: lambda: list(v.integer_array_value),
        ParameterType.PARAMETER_DOUBLE_ARRAY: lambda: list(v.double_array_value),
        ParameterType.PARAMETER_STRING_ARRAY: lambda: list(v.string_array_value),
    }.get(v.type, lambda: ("type", v.type))()


def param(name, value):
    v = ParameterValue()
    if isinstance(value, bool):
        v.type, v.bool_value = ParameterType.PARAMETER_BOOL, value
    elif isinstance(value, int):
        v.type, v.integer_value = ParameterType.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        v.type, v.double_value = ParameterType.PARAMETER_DOUBLE, value
    else:
        v.type, v.string_value = ParameterType.PARAMETER_STRING, value
    return Parameter(name=name, value=v)


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_params_peer")
        self.args = args
        self.fqn = args.node.rstrip("/")
        self.faces = []  # (receive time, [(name, score)])
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.create_subscription(FaceArray, f"{self.fqn}/faces", self.on_faces, qos)
        self.camera = self.create_publisher(Image, args.camera, QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST))
        self.probe = None
        self.create_timer(0.2, self.publish)

    def on_faces(self, msg):
        self.faces.append((time.monotonic(), [(f.name, float(f.score)) for f in msg.faces]))

    def publish(self):
        if self.probe is not None:
            self.probe.header.stamp = self.get_clock().now().to_msg()
            self.camera.publish(self.probe)

    def call(self, srv_type, name, request):
        r = self.call_client(self.create_client(srv_type, f"{self.fqn}/{name}"), request, self.args.timeout)
        if r is None:
            raise SystemExit(f"service {self.fqn}/{name} was not ready or did not answer")
        return r

    def get(self, names):
        return [py_value(v) for v in self.call(GetParameters, "get_parameters", GetParameters.Request(names=names)).values]

    def set(self, name, value):
        r = self.call(SetParameters, "set_parameters", SetParameters.Request(parameters=[param(name, value)]))
        return r.results[0]

    def faces_after(self, t0, n, timeout):
        """The first n face lists received after t0 that hold a face."""
        self.spin_until(lambda: sum(1 for t, f in self.faces if t > t0 and f) >= n, timeout)
        return [f for t, f in self.faces if t > t0 and f][:n]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec")
    p.add_argument("--shipped", default="config/facerec.yaml")
    p.add_argument("--given", action="append", default=[], help="parameters given on the node's command line")
    p.add_argument("--camera", default="/camera/image_raw")
    p.add_argument("--enroll", required=True, metavar="NAME")
    p.add_argument("--enroll-image", required=True, metavar="PHOTO")
    p.add_argument("--probe-image", required=True, metavar="PHOTO", help="another photo of the same person")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()

    rclpy.init()
    peer = Peer(args)
    ok = True
    shipped = shipped_params(args.shipped)

    # list / get / describe / types of everything.
    listed = sorted(peer.call(ListParameters, "list_parameters", ListParameters.Request(depth=0)).result.names)
    missing = sorted((set(shipped) | {"use_sim_time"}) - set(listed))
    emit("params_list", count=len(listed), missing=missing, names=listed)
    ok &= not missing

    values = dict(zip(listed, peer.get(listed)))
    differ = {n: {"node": values.get(n), "shipped": v} for n, v in shipped.items()
              if n not in args.given and values.get(n) != v}
    emit("params_get", count=len(values), differ_from_shipped=differ,
         sample={n: values.get(n) for n in ["match_threshold", "execution_provider", "detector.model", "enroll.samples"]})
    ok &= not differ and all(v is not None for v in values.values())

    types = peer.call(GetParameterTypes, "get_parameter_types", GetParameterTypes.Request(names=listed)).types
    described = peer.call(DescribeParameters, "describe_parameters", DescribeParameters.Request(names=listed)).descriptors
    get_types = {n: v.type for n, v in zip(listed, peer.call(
        GetParameters, "get_parameters", GetParameters.Request(names=listed)).values)}
    bad_types = [n for n, t in zip(listed, types) if t != get_types[n] or t == ParameterType.PARAMETER_NOT_SET]
    undescribed = [d.name for d in described if d.name != "use_sim_time" and not d.description]
    wrong_desc_type = [d.name for d in described if d.type != get_types.get(d.name)]
    by_name = {d.name: d for d in described}
    mt, wk = by_name.get("match_threshold"), by_name.get("workers")
    emit("params_describe", count=len(described), undescribed=undescribed, wrong_type=wrong_desc_type,
         bad_get_parameter_types=bad_types,
         match_threshold=None if mt is None else {
             "description": mt.description, "read_only": mt.read_only,
             "range": [[r.from_value, r.to_value] for r in mt.floating_point_range]},
         workers=None if wk is None else {
             "description": wk.description, "read_only": wk.read_only, "constraints": wk.additional_constraints,
             "range": [[r.from_value, r.to_value] for r in wk.integer_range]})
    ok &= (not undescribed and not wrong_desc_type and not bad_types and mt is not None and not mt.read_only
           and wk is not None and wk.read_only and len(mt.floating_point_range) == 1)

    # Refusals, old values kept.
    for name, value, why in [("match_threshold", "high", "wrong type"), ("match_threshold", 1.5, "out of range"),
                             ("match_threshold", 1, "integer for a double"),
                             ("workers", 2, "restart only"), ("enroll.samples", 0, "out of range"),
                             ("tracking.enabled", False, "restart only"), ("anonymous.mode", "in_memory", "restart only"),
                             ("hri.enabled", True, "restart only"), ("tracking.max_tracks", 0, "out of range"),
                             ("tracking.max_tracks", 5000, "out of range")]:
        before = peer.get([name])[0]
        r = peer.set(name, value)
        after = peer.get([name])[0]
        emit("param_set_refused", name=name, value=value, case=why, successful=r.successful, reason=r.reason,
             before=before, after=after)
        ok &= (not r.successful) and bool(r.reason) and before == after
        if why == "restart only":
            ok &= "restart" in r.reason and "read at start only" in r.reason

    # Live parameters: each set takes (get says the new value), then the old value is put back.
    for name, value in [("tracking.max_tracks", 8), ("tracking.confirm_hits", 2), ("learning.enabled", True),
                        ("tf.enabled", True)]:
        before = peer.get([name])[0]
        r = peer.set(name, value)
        now = peer.get([name])[0]
        back = peer.set(name, before)
        restored = peer.get([name])[0]
        emit("param_set_applied", name=name, value=value, successful=r.successful, reason=r.reason, before=before,
             now=now, restored=restored, restore_successful=back.successful)
        ok &= (r.successful and now == value and type(now) is type(value) and before != value
               and back.successful and restored == before)

    # A live set that changes recognition: enroll, probe, threshold just above / below the score.
    req = Enroll.Request()
    req.name = args.enroll
    req.image = to_image_msg(load_photo(args.enroll_image, 640), "rgb8", "request")
    resp = peer.call(Enroll, "enroll", req)
    emit("enroll", name=args.enroll, success=resp.success, message=resp.message)
    ok &= resp.success
    peer.probe = to_image_msg(load_photo(args.probe_image, 640), "rgb8", "peer_camera")
    first = peer.faces_after(time.monotonic(), 3, args.timeout)
    named = [s for f in first for n, s in f if n == args.enroll]
    emit("probe", faces=first)
    if not named:
        emit("done", ok=False, why="the probe photo was never named")
        return 1
    score = named[-1]
    steps = []
    for threshold, want in [(min(score + 0.03, 1.0), "unknown"), (max(score - 0.03, -1.0), args.enroll)]:
        r = peer.set("match_threshold", threshold)
        t0 = time.monotonic()
        # Frames already in the pipeline when the set arrived may still use the old value: wait
        # for the first message with the new outcome, then the next three must agree.
        peer.spin_until(lambda: any(t > t0 and f and f[0][0] == want for t, f in peer.faces), args.timeout)
        t_first = next((t for t, f in peer.faces if t > t0 and f and f[0][0] == want), math.inf)
        later = peer.faces_after(t_first, 3, args.timeout) if t_first < math.inf else []
        got = peer.get(["match_threshold"])[0]
        step_ok = (r.successful and abs(got - threshold) < 1e-9 and t_first < math.inf and len(later) == 3
                   and all(f[0][0] == want for f in later))
        steps.append(step_ok)
        emit("param_set_live", name="match_threshold", value=round(threshold, 4), score=round(score, 4),
             successful=r.successful, reason=r.reason, now=got, expect=want,
             seconds_to_effect=None if t_first == math.inf else round(t_first - t0, 2),
             next_names=[f[0][0] for f in later])
    ok &= all(steps)

    emit("done", ok=bool(ok))
    peer.destroy_node()
    rclpy.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
