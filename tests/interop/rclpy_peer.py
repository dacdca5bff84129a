#!/usr/bin/env python3
"""A real ROS 2 peer for facerec_node: rclpy over rmw_fastrtps_cpp (pip wheels).

It publishes photos as sensor_msgs/Image and/or sensor_msgs/CompressedImage,
checks that the node shows up in the ROS graph, optionally calls ~/enroll,
~/list_people and ~/forget (Fast DDS's service mapping), and collects what the
node publishes on ~/faces (facerec/FaceArray) and ~/detections
(vision_msgs/Detection2DArray). Each event is printed as one JSON line; the
exit status says whether every expectation held.

Needs the facerec interfaces (and the test vision_msgs) built with colcon and
sourced; scripts/interop_test.sh does that. Example:
  rclpy_peer.py --node /facerec --image /camera/image_raw=tests/fixtures/faces/by_identity/id01/img1.jpg \
      --enroll id01 --enroll-camera /camera/image_raw --expect id01 --timeout 60
"""

import argparse
import io
import json
import sys
import time

import numpy as np
import rclpy
from PIL import Image as PilImage
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, HistoryPolicy, qos_profile_sensor_data

from facerec.msg import FaceArray
from facerec.srv import Enroll, Forget, ListPeople
from sensor_msgs.msg import CompressedImage, Image
from vision_msgs.msg import Detection2DArray


def emit(event, **fields):
    print(json.dumps({"event": event, "t": round(time.monotonic(), 3), **fields}), flush=True)


def load_photo(path, max_side):
    """RGB pixels of a photo, scaled so its longer side is at most max_side."""
    img = PilImage.open(path).convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), PilImage.BILINEAR)
    return img


def to_image_msg(img, encoding, frame_id):
    pixels = np.asarray(img, dtype=np.uint8)
    if encoding == "bgr8":
        pixels = pixels[:, :, ::-1]
    elif encoding == "mono8":
        pixels = np.asarray(img.convert("L"), dtype=np.uint8)
    elif encoding in ("rgba8", "bgra8"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.uint8)
        pixels = rgba if encoding == "rgba8" else rgba[:, :, [2, 1, 0, 3]]
    elif encoding != "rgb8":
        raise SystemExit(f"unsupported encoding {encoding}")
    pixels = np.ascontiguousarray(pixels)
    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = pixels.shape[0], pixels.shape[1]
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = pixels.strides[0]
    msg.data = pixels.tobytes()
    return msg


def to_compressed_msg(img, fmt, frame_id):
    buf = io.BytesIO()
    img.save(buf, format="JPEG" if fmt == "jpeg" else "PNG", quality=90)
    msg = CompressedImage()
    msg.header.frame_id = frame_id
    msg.format = fmt
    msg.data = buf.getvalue()
    return msg


class Spinning:
    """What every rclpy test peer does (mixed into its Node): spin until something holds, call
    a service client."""

    def spin_until(self, predicate, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            rclpy.spin_once(self, timeout_sec=0.05)
            if predicate():
                return True
        return False

    def call_client(self, client, request, timeout):
        """The response, or None when the service is not ready or does not answer in time."""
        if not self.spin_until(client.service_is_ready, timeout):
            return None
        future = client.call_async(request)
        return future.result() if self.spin_until(future.done, timeout) else None


class Checks:
    """Expectations, each printed as one JSON line; `ok` is whether all held."""

    def __init__(self):
        self.ok = True

    def __call__(self, event, cond, **fields):
        self.ok &= bool(cond)
        emit(event, ok=bool(cond), **fields)


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_test_peer")
        self.args = args
        self.node_fqn = args.node.rstrip("/")
        self.faces = []        # (receive time, names, camera topics, latency ms)
        self.detections = []   # (receive time, class ids)
        self.sources = []      # (publisher, [messages], is_compressed)
        for spec in args.image:
            topic, _, paths = spec.partition("=")
            compressed = topic.endswith("/compressed")
            imgs = [load_photo(p, args.max_side) for p in paths.split(",")]
            if compressed:
                fmt = "png" if args.png else "jpeg"
                msgs = [to_compressed_msg(i, fmt, "peer_camera") for i in imgs]
                pub = self.create_publisher(CompressedImage, topic, self.camera_qos())
            else:
                msgs = [to_image_msg(i, args.encoding, "peer_camera") for i in imgs]
                pub = self.create_publisher(Image, topic, self.camera_qos())
            self.sources.append((topic, pub, msgs))
        self.frame = 0
        if self.sources:
            self.create_timer(1.0 / args.rate, self.publish)
        out_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.create_subscription(FaceArray, f"{self.node_fqn}/faces", self.on_faces, out_qos)
        self.create_subscription(Detection2DArray, f"{self.node_fqn}/detections", self.on_detections, out_qos)

    def camera_qos(self):
        if self.args.best_effort:
            return qos_profile_sensor_data
        return QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)

    def publish(self):
        stamp = self.get_clock().now().to_msg()
        for _topic, pub, msgs in self.sources:
            msg = msgs[self.frame % len(msgs)]
            msg.header.stamp = stamp
            pub.publish(msg)
        self.frame += 1

    def on_faces(self, msg):
        now = self.get_clock().now().nanoseconds
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        latency_ms = (now - stamp) / 1e6
        names = [f.name for f in msg.faces]
        self.faces.append((time.monotonic(), names, [f.camera_topic for f in msg.faces], latency_ms))
        if self.args.verbose or len(self.faces) <= 3:
            emit("faces", names=names, scores=[round(f.score, 3) for f in msg.faces],
                 cameras=[f.camera_topic for f in msg.faces], latency_ms=round(latency_ms, 1),
                 frame_id=msg.header.frame_id)

    def on_detections(self, msg):
        ids = [r.hypothesis.class_id for d in msg.detections for r in d.results]
        self.detections.append((time.monotonic(), ids))
        if self.args.verbose or len(self.detections) <= 3:
            emit("detections", class_ids=ids,
                 boxes=[[round(d.bbox.center.position.x, 1), round(d.bbox.center.position.y, 1),
                         round(d.bbox.size_x, 1), round(d.bbox.size_y, 1)] for d in msg.detections])

    def call(self, srv_type, name, request, timeout):
        return self.call_client(self.create_client(srv_type, f"{self.node_fqn}/{name}"), request, timeout)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec", help="fully qualified name of facerec_node")
    p.add_argument("--image", action="append", default=[], metavar="TOPIC=PHOTO[,PHOTO...]",
                   help="publish these photos in turn on TOPIC (CompressedImage when it ends in /compressed)")
    p.add_argument("--encoding", default="rgb8", choices=["rgb8", "bgr8", "rgba8", "bgra8", "mono8"])
    p.add_argument("--png", action="store_true", help="compressed images as PNG instead of JPEG")
    p.add_argument("--max-side", type=int, default=640)
    p.add_argument("--rate", type=float, default=5.0, help="frames per second per topic")
    p.add_argument("--best-effort", action="store_true", help="publish cameras best-effort (sensor data QoS)")
    p.add_argument("--enroll", metavar="NAME")
    p.add_argument("--enroll-camera", default="")
    p.add_argument("--enroll-image", metavar="PHOTO", help="enroll from this photo in the request")
    p.add_argument("--enroll-samples", type=int, default=3)
    p.add_argument("--enroll-timeout", type=float, default=20.0)
    p.add_argument("--enroll-should-fail", action="store_true")
    p.add_argument("--forget", metavar="NAME")
    p.add_argument("--list", action="store_true", help="call ~/list_people at the end")
    p.add_argument("--expect", action="append", default=[], metavar="NAME",
                   help="NAME must appear in ~/faces and ~/detections (after the enroll, if any)")
    p.add_argument("--expect-frames", type=int, default=3, help="messages naming each expected name")
    p.add_argument("--forbid", action="append", default=[], metavar="CAMERA=NAME",
                   help="no face from CAMERA may ever be named NAME (e.g. another person's photos)")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--duration", type=float, default=0.0,
                   help="keep publishing until this many seconds after start (for other peers' checks)")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()

    rclpy.init()
    started = time.monotonic()
    peer = Peer(args)
    ok = True
    base, _, name = args.node.rstrip("/").rpartition("/")
    in_graph = peer.spin_until(lambda: (name, base or "/") in peer.get_node_names_and_namespaces(), args.timeout)
    emit("graph", node=args.node, found=in_graph,
         nodes=sorted(f"{ns.rstrip('/')}/{n}" for n, ns in peer.get_node_names_and_namespaces()))
    ok &= in_graph
    topics = dict(peer.get_topic_names_and_types())
    emit("topics", faces=topics.get(f"{peer.node_fqn}/faces"), detections=topics.get(f"{peer.node_fqn}/detections"))

    since = time.monotonic()
    if args.enroll is not None:
        req = Enroll.Request()
        req.name = args.enroll
        req.camera = args.enroll_camera
        req.num_samples = args.enroll_samples
        req.timeout_s = args.enroll_timeout
        if args.enroll_image:
            req.image = to_image_msg(load_photo(args.enroll_image, args.max_side), "rgb8", "request")
        t0 = time.monotonic()
        resp = peer.call(Enroll, "enroll", req, args.timeout)
        emit("enroll", name=args.enroll, answered=resp is not None,
             success=None if resp is None else resp.success, message=None if resp is None else resp.message,
             samples_used=None if resp is None else resp.samples_used, seconds=round(time.monotonic() - t0, 2))
        ok &= resp is not None and resp.success != args.enroll_should_fail
        since = time.monotonic()

    if args.expect:
        def enough():
            return all(sum(1 for t, names, _, _ in peer.faces if t >= since and n in names) >= args.expect_frames
                       and sum(1 for t, ids in peer.detections if t >= since and n in ids) >= args.expect_frames
                       for n in args.expect)
        got = peer.spin_until(enough, args.timeout)
        after = [(names, lat) for t, names, _, lat in peer.faces if t >= since]
        for n in args.expect:
            emit("expect", name=n, found=got or any(n in names for names, _ in after),
                 faces_messages=sum(1 for names, _ in after if n in names),
                 detections_messages=sum(1 for t, ids in peer.detections if t >= since and n in ids))
        lat = sorted(l for _, l in after)
        if lat:
            emit("latency", messages=len(lat), median_ms=round(lat[len(lat) // 2], 1), max_ms=round(lat[-1], 1))
        ok &= got

    if args.forget is not None:
        req = Forget.Request()
        req.name = args.forget
        resp = peer.call(Forget, "forget", req, args.timeout)
        emit("forget", name=args.forget, answered=resp is not None,
             success=None if resp is None else resp.success, removed=None if resp is None else resp.removed,
             message=None if resp is None else resp.message)
        ok &= resp is not None and resp.success

    if args.list:
        resp = peer.call(ListPeople, "list_people", ListPeople.Request(), args.timeout)
        emit("list_people", answered=resp is not None, names=None if resp is None else list(resp.names),
             sample_counts=None if resp is None else [int(c) for c in resp.sample_counts])
        ok &= resp is not None

    peer.spin_until(lambda: False, max(0.0, started + args.duration - time.monotonic()))
    for spec in args.forbid:
        camera, _, name = spec.partition("=")
        seen = sum(1 for _, names, cams, _ in peer.faces if camera in cams)
        wrong = sum(1 for _, names, cams, _ in peer.faces
                    if any(c == camera and n == name for n, c in zip(names, cams)))
        emit("forbid", camera=camera, name=name, faces_from_camera=seen, wrongly_named=wrong)
        ok &= seen > 0 and wrong == 0
    emit("done", ok=bool(ok), frames_published=peer.frame, faces_messages=len(peer.faces),
         detections_messages=len(peer.detections))
    peer.destroy_node()
    rclpy.shutdown()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
