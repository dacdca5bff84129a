#!/usr/bin/env python3
"""Big raw frames into facerec_node (issue 14, fault 3): a peer publishes --count
sensor_msgs/Image frames of --size (rgb8) at --rate on the node's camera topic, then reads the
node's /diagnostics and reports how many the node received and how many it counted as lost
(gaps in the publisher's sequence numbers). The peer is rclpy over Fast DDS (--peer rclpy) or
cyclonedds-python (--peer cyclone). It checks that every frame sent after the first one the
node received reached it (or, with --allow-loss, only that each loss is counted).

Loopback only (run it in a network namespace holding only lo, as scripts/interop_test.sh does).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from PIL import Image as PilImage

def emit(event, **fields):
    print(json.dumps({"event": event, "t": round(time.monotonic(), 3), **fields}), flush=True)


def pixels(photo, w, h):
    img = PilImage.open(photo).convert("RGB").resize((w, h), PilImage.BILINEAR)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8)).tobytes()


def camera_status(statuses, topic):
    for s in statuses:
        values = {kv[0]: kv[1] for kv in s}
        if values.get("topic") == topic:
            return values
    return None


class RclpyPeer:
    def __init__(self, topic, best_effort):
        import rclpy
        from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy, qos_profile_sensor_data
        from sensor_msgs.msg import Image
        from diagnostic_msgs.msg import DiagnosticArray
        self.rclpy, self.Image = rclpy, Image
        rclpy.init()
        self.node = rclpy.create_node("facerec_big_frames")
        qos = qos_profile_sensor_data if best_effort else QoSProfile(
            depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.pub = self.node.create_publisher(Image, topic, qos)
        self.diag = []
        self.node.create_subscription(
            DiagnosticArray, "/diagnostics",
            lambda m: self.diag.append([[(kv.key, kv.value) for kv in s.values] for s in m.status]),
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST))

    def matched(self):
        return self.pub.get_subscription_count() > 0

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while True:
            self.rclpy.spin_once(self.node, timeout_sec=0.01)
            if time.monotonic() >= end:
                return

    def publish(self, w, h, data, frame_id):
        msg = self.Image()
        msg.header.frame_id = frame_id
        msg.height, msg.width, msg.encoding, msg.step = h, w, "rgb8", w * 3
        msg.data = data
        self.pub.publish(msg)


class CyclonePeer:
    def __init__(self, topic, best_effort):
        # Imported here: the rclpy peer runs in venvs without cyclonedds.
        import cyclone_types as ct
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        self.Time, self.Header, self.Image = ct.Time, ct.Header, ct.Image
        dp = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
        qos = ct.best_effort_qos(1) if best_effort else ct.reliable_qos(1)
        self.writer = DataWriter(dp, Topic(dp, f"rt{topic}", ct.Image), qos=qos)
        self.reader = DataReader(dp, Topic(dp, "rt/diagnostics", ct.DiagnosticArray), qos=ct.reliable_qos(10))
        self.diag = []

    def matched(self):
        return bool(self.writer.get_matched_subscriptions())

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while True:
            for m in self.reader.take(N=10):
                self.diag.append([[(kv.key, kv.value) for kv in s.values] for s in m.status])
            if time.monotonic() >= end:
                return
            time.sleep(0.01)

    def publish(self, w, h, data, frame_id):
        # cyclonedds-python takes sequence[uint8] as bytes.
        self.writer.write(self.Image(self.Header(self.Time(0, 0), frame_id), h, w, "rgb8", 0, w * 3, data))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peer", choices=["rclpy", "cyclone"], required=True)
    p.add_argument("--topic", default="/camera/image_raw")
    p.add_argument("--size", default="3840x2160")
    p.add_argument("--rate", type=float, default=5.0)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--best-effort", action="store_true", help="publish with sensor-data (best-effort) QoS")
    p.add_argument("--photo", required=True)
    p.add_argument("--allow-loss", action="store_true", help="only check that losses are counted")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    data = pixels(args.photo, w, h)
    peer = RclpyPeer(args.topic, args.best_effort) if args.peer == "rclpy" else CyclonePeer(args.topic, args.best_effort)

    end = time.monotonic() + args.timeout
    while not peer.matched() and time.monotonic() < end:
        peer.spin(0.1)
    # Samples sent before the node's reader has matched this writer are lost on any DDS: prime
    # until the node says it received one, then count from there.
    primed = None
    while time.monotonic() < end:
        peer.publish(w, h, data, "prime")
        peer.spin(1.0)
        s = camera_status(peer.diag[-1], args.topic) if peer.diag else None
        if s and int(s.get("received", "0")) > 0:
            primed = s
            break
    if primed is None:
        emit("frames", ok=False, why="the node never reported a received frame")
        return 1
    peer.spin(1.5)  # a diagnostics period without traffic: counters settle
    base = camera_status(peer.diag[-1], args.topic)
    t0 = time.monotonic()
    for i in range(args.count):
        peer.publish(w, h, data, f"big{i}")
        peer.spin(max(0.0, t0 + (i + 1) / args.rate - time.monotonic()))
    peer.spin(3.0)
    last = camera_status(peer.diag[-1], args.topic)
    received = int(last["received"]) - int(base["received"])
    lost = int(last.get("lost", "0")) - int(base.get("lost", "0"))
    ok = received + lost == args.count if args.allow_loss else received == args.count
    emit("frames", ok=ok, peer=args.peer, size=args.size, rate=args.rate, best_effort=args.best_effort,
         mbytes=round(len(data) / 1e6, 1), sent=args.count, node_received=received, node_counted_lost=lost,
         processed=int(last["processed"]) - int(base["processed"]), dropped=int(last["dropped"]) - int(base["dropped"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
