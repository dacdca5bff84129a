#!/usr/bin/env python3
"""facerec_node's ROS4HRI (REP-155) output and 3D face positions read by real rclpy (rmw_fastrtps_cpp wheels).

Plays a camera: one photo of a person as sensor_msgs/Image at --rate (header.frame_id
--frame-id, a new stamp per frame) and, with the same header, sensor_msgs/CameraInfo
(fx = fy = --focal px, principal point at the image centre) on the camera_info topic
beside the image topic, and (with --depth-topic) an aligned depth image published just
before each colour frame with its header. It also reads the node's own ~/faces
(facerec/FaceArray: has_position, position, position_source), /tf and /diagnostics.
First, before any good CameraInfo:
  hri_bad_camera_info  frames with a CameraInfo whose K (and P) are all zeros (an uncalibrated
                 driver): the node stays up and keeps publishing ~/faces, every face has
                 has_position false (position_source 0), no face_* transform arrives (none
                 received meanwhile, none stamped with those frames), and /diagnostics counts
                 the refused CameraInfo (camera_info_refused > 0, camera_info_received false).
Then the good CameraInfo; enrolls the person in view through ~/enroll (collecting from
that camera, as rclpy_peer.py --enroll does), then reads what a ROS4HRI consumer reads
(reliable, volatile, depth 10; person topics latched):
  hri_tracked    /humans/faces/tracked (hri_msgs/IdsList): a face id, a valid name token,
                 and every list's header is the header of an image this peer sent;
  hri_roi        /humans/faces/<id>/roi: a box inside [0, 1], the source image's header;
  hri_cropped    /humans/faces/<id>/cropped and /aligned: --face-size square images;
  hri_landmarks  /humans/faces/<id>/landmarks: the pupils, nose and mouth corners set, in
                 [0, 1], the subject's right pupil and mouth corner left of their left ones
                 in the image, the image's size;
  hri_match      /humans/candidate_matches: PERSON <-> FACE, the tracked face, confidence > 0;
  hri_name       /humans/persons/<person id>/name (transient local): the enrolled name, and
                 .../anonymous false, for a person matched with the tracked face;
  hri_tf         /tf: face_<face id> in the camera's frame, 0.2 m < z < 10 m;
  hri_monocular  ~/faces with the good CameraInfo (and no depth image yet): has_position and
                 position_source 1 (monocular), 0.2 m < z < 10 m, and each face_* transform
                 stamped like a frame carries that frame's position.
With --depth-topic (the node started with depth_topics naming it), each phase checked on the
frames stamped while it lasted (a frame whose depth image arrived too late may fall back to
the monocular estimate: counted, and at most a third of the phase's faces):
  hri_depth_size a 32FC1 depth image of half the colour size: refused as misfit, positions
                 stay monocular (position_source 1, the monocular range), the node stays up,
                 /diagnostics counts geometry_misfit_frames > 0;
  hri_depth      a colour-size 32FC1 image of --depth-m metres, then (--depth-mm > 0) a 16UC1
                 image of --depth-mm millimetres: position_source 2 with position.z within
                 1e-3 of the depth, x/z and y/z those of the monocular estimate (the same ray),
                 and the face_* transforms of those frames at the same translation.
Then it stops the camera (images, CameraInfo and depth) and expects, within --lost-timeout:
  hri_lost       the tracked list empty and a confidence-0 match for each face it held.
Each check is one JSON line; the exit status says whether all held.

Needs the facerec interfaces and the test copies of hri_msgs and tf2_msgs built with colcon
and sourced (scripts/interop_test.sh does both); the node runs with hri.enabled and tf.enabled
(and depth_topics naming --depth-topic).
"""

import argparse
import math
import re
import sys
import time
from collections import Counter

import numpy as np
import rclpy
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from diagnostic_msgs.msg import DiagnosticArray
from facerec.msg import FaceArray
from facerec.srv import Enroll
from hri_msgs.msg import FacialLandmarks, IdsList, IdsMatch, NormalizedRegionOfInterest2D
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Bool, String
from tf2_msgs.msg import TFMessage

from rclpy_peer import Checks, Spinning, emit, load_photo, to_image_msg

# Tolerance on a position from a constant depth image, metres.
DEPTH_TOL_M = 1e-3

# A ROS name token: what an id must be to be part of a topic name (no leading digit, no "__").
TOKEN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The slots facerec fills from its detector's five points.
SLOTS = {"right_pupil": FacialLandmarks.RIGHT_PUPIL, "left_pupil": FacialLandmarks.LEFT_PUPIL,
         "nose": FacialLandmarks.NOSE, "mouth_outer_right": FacialLandmarks.MOUTH_OUTER_RIGHT,
         "mouth_outer_left": FacialLandmarks.MOUTH_OUTER_LEFT}


def valid_token(s):
    return bool(TOKEN.match(s)) and "__" not in s


def header_key(h):
    return (h.stamp.sec, h.stamp.nanosec, h.frame_id)


def header_json(h):
    return {"stamp": [h.stamp.sec, h.stamp.nanosec], "frame_id": h.frame_id}


def camera_info_msg(width, height, focal, frame_id):
    cx, cy = width / 2.0, height / 2.0
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = "plumb_bob"
    msg.d = [0.0] * 5
    msg.k = [focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [focal, 0.0, cx, 0.0, 0.0, focal, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def uncalibrated_camera_info_msg(width, height, frame_id):
    """What an uncalibrated driver publishes: the image size, K, R, P and D all zero/empty."""
    msg = CameraInfo()
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = ""
    msg.d = []
    msg.k = [0.0] * 9
    msg.r = [0.0] * 9
    msg.p = [0.0] * 12
    return msg


def depth_msg(width, height, encoding, value, frame_id):
    """A constant depth image: 32FC1 metres or 16UC1 millimetres, little-endian, no row padding."""
    dtype = {"32FC1": "<f4", "16UC1": "<u2"}[encoding]
    pixels = np.full((height, width), value, dtype=dtype)
    msg = Image()
    msg.header.frame_id = frame_id
    msg.height, msg.width = height, width
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = pixels.strides[0]
    msg.data = pixels.tobytes()
    return msg


class Seen:
    """One face of a ~/faces message: its position and how it was found."""

    def __init__(self, f):
        self.has_position = bool(f.has_position)
        self.source = int(f.position_source)
        self.xyz = (f.position.x, f.position.y, f.position.z)
        self.track_id = f.track_id

    def ray(self):
        """x/z and y/z: the direction of the position (the same for a monocular and a depth range)."""
        x, y, z = self.xyz
        return (x / z, y / z) if z else (math.nan, math.nan)


class Face:
    """What arrived on one face id's topics (the first message of each, and counts)."""

    def __init__(self):
        self.roi = None
        self.cropped = None
        self.aligned = None
        self.landmarks = None
        self.counts = {"roi": 0, "cropped": 0, "aligned": 0, "landmarks": 0}


class Person:
    """What arrived on one person id's latched topics."""

    def __init__(self):
        self.name = None
        self.anonymous = None


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_hri_peer")
        self.args = args
        self.fqn = args.node.rstrip("/")
        camera_qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.VOLATILE, history=HistoryPolicy.KEEP_LAST)
        self.latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                                  durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)

        # The camera: one photo, held still (one face, one track, one face id).
        self.image = to_image_msg(load_photo(args.photo, args.max_side), "rgb8", args.frame_id)
        w, h = self.image.width, self.image.height
        self.info = camera_info_msg(w, h, args.focal, args.frame_id)
        self.bad_info = uncalibrated_camera_info_msg(w, h, args.frame_id)
        self.image_pub = self.create_publisher(Image, args.camera, camera_qos)
        info_topic = args.camera_info or args.camera.rsplit("/", 1)[0] + "/camera_info"
        self.info_pub = self.create_publisher(CameraInfo, info_topic, camera_qos)
        # Depth images by phase (published just before the colour frame, with its header).
        self.depths = {}
        self.depth_pub = None
        if args.depth_topic:
            self.depth_pub = self.create_publisher(Image, args.depth_topic, camera_qos)
            self.depths["depth_size"] = depth_msg(w // 2, h // 2, "32FC1", args.depth_m, args.frame_id)
            self.depths["depth_32fc1"] = depth_msg(w, h, "32FC1", args.depth_m, args.frame_id)
            if args.depth_mm > 0:
                self.depths["depth_16uc1"] = depth_msg(w, h, "16UC1", args.depth_mm, args.frame_id)
        self.phase = "bad_info"  # what the frames are sent with: bad_info, good, or a depth phase
        self.phase_of = {}       # header_key of every image sent -> its phase
        self.sent = set()        # header_key of every image sent
        self.frames = 0
        self.first_sent = None   # when the first frame went out
        self.streaming = True
        self.create_timer(1.0 / args.rate, self.publish)

        # What the node says.
        self.lists = []        # (receive time, IdsList)
        self.matches = []      # (receive time, IdsMatch)
        self.transforms = []   # (receive time, TransformStamped)
        self.faces = {}        # face id -> Face
        self.persons = {}      # person id -> Person
        self.bad_ids = set()   # ids that are not name tokens (no topics for those)
        self.face_arrays = []  # (receive time, header_key, [Seen]) from ~/faces
        self.diagnostics = []  # (receive time, {key: value}) of the camera's status
        self.create_subscription(IdsList, "/humans/faces/tracked", self.on_tracked, self.qos)
        self.create_subscription(IdsMatch, "/humans/candidate_matches", self.on_match, self.qos)
        self.create_subscription(TFMessage, "/tf", self.on_tf, self.qos)
        self.create_subscription(FaceArray, f"{self.fqn}/faces", self.on_faces, self.qos)
        self.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, self.qos)
        self.enroll = self.create_client(Enroll, f"{self.fqn}/enroll")

    def publish(self):
        if not self.streaming:
            return
        stamp = self.get_clock().now().to_msg()
        self.image.header.stamp = stamp
        info = self.bad_info if self.phase == "bad_info" else self.info
        info.header.stamp = stamp
        key = header_key(self.image.header)
        self.sent.add(key)
        self.phase_of[key] = self.phase
        self.info_pub.publish(info)
        depth = self.depths.get(self.phase)
        if depth is not None:
            depth.header.stamp = stamp
            self.depth_pub.publish(depth)
        self.image_pub.publish(self.image)
        self.frames += 1
        if self.first_sent is None:
            self.first_sent = time.monotonic()

    def on_faces(self, msg):
        self.face_arrays.append((time.monotonic(), header_key(msg.header), [Seen(f) for f in msg.faces]))

    def on_diagnostics(self, msg):
        now = time.monotonic()
        for s in msg.status:
            values = {kv.key: kv.value for kv in s.values}
            if "camera_info_refused" in values:
                self.diagnostics.append((now, values))

    def on_tracked(self, msg):
        self.lists.append((time.monotonic(), msg))
        for face_id in msg.ids:
            self.watch_face(face_id)

    def on_match(self, msg):
        self.matches.append((time.monotonic(), msg))
        if msg.id1_type == IdsMatch.PERSON and msg.confidence > 0:
            self.watch_person(msg.id1)

    def on_tf(self, msg):
        now = time.monotonic()
        self.transforms.extend((now, t) for t in msg.transforms)

    def watch_face(self, face_id):
        if face_id in self.faces or face_id in self.bad_ids:
            return
        if not valid_token(face_id):
            self.bad_ids.add(face_id)
            return
        face = self.faces[face_id] = Face()
        base = f"/humans/faces/{face_id}"

        def keep(field):
            def on(msg):
                face.counts[field] += 1
                if getattr(face, field) is None:
                    setattr(face, field, msg)
            return on

        self.create_subscription(NormalizedRegionOfInterest2D, f"{base}/roi", keep("roi"), self.qos)
        self.create_subscription(Image, f"{base}/cropped", keep("cropped"), self.qos)
        self.create_subscription(Image, f"{base}/aligned", keep("aligned"), self.qos)
        self.create_subscription(FacialLandmarks, f"{base}/landmarks", keep("landmarks"), self.qos)

    def watch_person(self, person_id):
        if person_id in self.persons or person_id in self.bad_ids:
            return
        if not valid_token(person_id):
            self.bad_ids.add(person_id)
            return
        person = self.persons[person_id] = Person()
        base = f"/humans/persons/{person_id}"
        self.create_subscription(String, f"{base}/name", lambda m: setattr(person, "name", m.data), self.latched)
        self.create_subscription(Bool, f"{base}/anonymous", lambda m: setattr(person, "anonymous", m.data),
                                 self.latched)

    # ------------------------------------------------------------ what the checks look at

    def tracked_ids(self):
        """Every face id a tracked list held."""
        return {i for _, m in self.lists for i in m.ids}

    def foreign_headers(self):
        """Tracked lists whose header is not one of an image sent."""
        return [m for _, m in self.lists if header_key(m.header) not in self.sent]

    def roi_ok(self, face_id):
        r = self.faces[face_id].roi
        return (r is not None and 0.0 <= r.xmin < r.xmax <= 1.0 and 0.0 <= r.ymin < r.ymax <= 1.0 and r.c > 0
                and header_key(r.header) in self.sent)

    def images_ok(self, face_id):
        f = self.faces[face_id]
        size = self.args.face_size
        return all(i is not None and i.width == size and i.height == size and i.encoding
                   and len(i.data) == i.step * i.height for i in (f.cropped, f.aligned))

    def landmarks_ok(self, face_id):
        lm = self.faces[face_id].landmarks
        if lm is None or len(lm.landmarks) != 70:
            return False
        pts = lm.landmarks
        set_slots = all(pts[s].x > 0 and pts[s].y > 0 and pts[s].c > 0 for s in SLOTS.values())
        in_unit = all(0.0 <= p.x <= 1.0 and 0.0 <= p.y <= 1.0 for p in pts)
        sides = (pts[FacialLandmarks.RIGHT_PUPIL].x < pts[FacialLandmarks.LEFT_PUPIL].x
                 and pts[FacialLandmarks.MOUTH_OUTER_RIGHT].x < pts[FacialLandmarks.MOUTH_OUTER_LEFT].x)
        size = (lm.width, lm.height) == (self.image.width, self.image.height)
        return set_slots and in_unit and sides and size and header_key(lm.header) in self.sent

    def positive_matches(self, since):
        """PERSON <-> FACE matches with confidence > 0 for a tracked face, received after since."""
        ids = self.tracked_ids()
        return [m for t, m in self.matches if t >= since and m.id1_type == IdsMatch.PERSON
                and m.id2_type == IdsMatch.FACE and m.id2 in ids and 0.0 < m.confidence <= 1.0]

    def named_person(self, since):
        """A person id matched with a tracked face whose latched name is the enrolled one."""
        for m in self.positive_matches(since):
            p = self.persons.get(m.id1)
            if p is not None and p.name == self.args.enroll and p.anonymous is False:
                return m.id1
        return None

    def phase_faces(self, phase):
        """(header_key, Seen) of every face in ~/faces messages for the frames sent in phase."""
        return [(k, f) for _, k, faces in self.face_arrays if self.phase_of.get(k) == phase for f in faces]

    def phase_transforms(self, phase):
        """header_key -> translation of the face_* transforms stamped like the frames of phase."""
        return {header_key(t.header): (t.transform.translation.x, t.transform.translation.y,
                                       t.transform.translation.z)
                for _, t in self.transforms
                if t.child_frame_id.startswith("face_") and self.phase_of.get(header_key(t.header)) == phase}

    def last_diagnostics(self, since, until=math.inf):
        """The camera's latest /diagnostics values received between since and until, or None."""
        within = [v for t, v in self.diagnostics if since <= t <= until]
        return within[-1] if within else None

    def alive(self):
        base, _, name = self.fqn.rpartition("/")
        return (name, base or "/") in self.get_node_names_and_namespaces()

    def face_tf(self):
        """A face_<tracked face id> transform in the camera's frame at a plausible range."""
        children = {f"face_{i}" for i in self.tracked_ids()}
        for _, t in self.transforms:
            q = t.transform.rotation
            if (t.child_frame_id in children and t.header.frame_id == self.args.frame_id
                    and 0.2 < t.transform.translation.z < 10.0
                    and abs(math.sqrt(q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2) - 1.0) < 1e-3):
                return t
        return None


def landmark_json(lm):
    if lm is None:
        return None
    return {name: [round(lm.landmarks[s].x, 4), round(lm.landmarks[s].y, 4), round(lm.landmarks[s].c, 3)]
            for name, s in SLOTS.items()} | {"width": lm.width, "height": lm.height,
                                              "slots_set": sum(1 for p in lm.landmarks if p.x or p.y)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec", help="fully qualified name of facerec_node (for ~/enroll)")
    p.add_argument("--camera", default="/camera/image_raw", help="image topic the node watches")
    p.add_argument("--camera-info", default="", help="CameraInfo topic (default: camera_info beside --camera)")
    p.add_argument("--frame-id", default="camera_optical", help="header.frame_id of the images")
    p.add_argument("--photo", required=True, help="a photo of one person, published as the camera's frames")
    p.add_argument("--max-side", type=int, default=640)
    p.add_argument("--rate", type=float, default=5.0, help="frames per second")
    p.add_argument("--focal", type=float, default=500.0, help="fx = fy of the CameraInfo, pixels")
    p.add_argument("--enroll", required=True, metavar="NAME", help="enroll the person in view under NAME")
    p.add_argument("--enroll-samples", type=int, default=3)
    p.add_argument("--enroll-timeout", type=float, default=20.0)
    p.add_argument("--face-size", type=int, default=128, help="side of the cropped and aligned images")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for each step")
    p.add_argument("--lost-timeout", type=float, default=10.0,
                   help="seconds after the camera stops for the face to be reported lost")
    p.add_argument("--phase-frames", type=int, default=5,
                   help="faces on ~/faces needed from each phase (bad CameraInfo, monocular, each depth image)")
    p.add_argument("--depth-topic", default="",
                   help="aligned depth image topic the node reads (its depth_topics); empty: no depth checks")
    p.add_argument("--depth-m", type=float, default=1.5, help="the 32FC1 depth images' value, metres")
    p.add_argument("--depth-mm", type=int, default=2000,
                   help="the 16UC1 depth image's value, millimetres (0: no 16UC1 phase)")
    args = p.parse_args()

    rclpy.init()
    peer = Peer(args)
    check = Checks()

    ready = peer.spin_until(lambda: peer.alive() and peer.enroll.service_is_ready(), args.timeout)
    check("hri_graph", ready, node=args.node, frames_sent=peer.frames)
    if not ready:
        emit("done", ok=False, why="the node or its ~/enroll service never showed up")
        return 1

    def sent_in(phase):
        return sum(1 for p in peer.phase_of.values() if p == phase)

    # An uncalibrated camera (the frames so far): CameraInfo with K all zeros. No positions, no
    # face TF, the refusal counted; the node carries on.
    def bad_seen():
        d = peer.last_diagnostics(0.0)
        return (len(peer.phase_faces("bad_info")) >= args.phase_frames and d is not None
                and int(d.get("camera_info_refused", "0")) > 0)

    peer.spin_until(bad_seen, args.timeout)
    peer.phase = "good"
    bad_end = time.monotonic()
    peer.spin_until(lambda: False, 0.5)  # what the node still makes of the frames in flight
    bad = peer.phase_faces("bad_info")
    received = sorted({t.child_frame_id for r, t in peer.transforms
                       if r <= bad_end and t.child_frame_id.startswith("face_")})
    stamped = peer.phase_transforms("bad_info")
    d = peer.last_diagnostics(0.0, bad_end)
    refused = int(d.get("camera_info_refused", "0")) if d else 0
    alive = peer.alive()
    check("hri_bad_camera_info",
          alive and len(bad) >= args.phase_frames and all(not f.has_position and f.source == 0 for _, f in bad)
          and not received and not stamped and refused > 0 and d.get("camera_info_received") == "false",
          faces=len(bad), with_position=sum(1 for _, f in bad if f.has_position),
          sources=dict(Counter(f.source for _, f in bad)), face_tf=len(received) + len(stamped),
          diagnostics=None if d is None else {k: d.get(k) for k in ("camera_info_received", "camera_info_refused")},
          seconds=round(bad_end - (peer.first_sent or bad_end), 2), node_alive=alive, frames_sent=sent_in("bad_info"),
          face_arrays=sum(1 for _, k, _ in peer.face_arrays if peer.phase_of.get(k) == "bad_info"),
          face_tf_received=received, face_tf_stamped_with_these_frames=len(stamped))

    # Name the person in view.
    req = Enroll.Request()
    req.name = args.enroll
    req.camera = args.camera
    req.num_samples = args.enroll_samples
    req.timeout_s = args.enroll_timeout
    t0 = time.monotonic()
    resp = peer.call_client(peer.enroll, req, args.timeout)
    enrolled = time.monotonic()
    check("hri_enroll", resp is not None and resp.success, name=args.enroll, answered=resp is not None,
          message=None if resp is None else resp.message, seconds=round(enrolled - t0, 2))

    # Everything a ROS4HRI consumer needs, for the face in view.
    def face_ids():
        return [i for i in peer.tracked_ids() if i in peer.faces]

    def complete():
        ids = face_ids()
        return (ids and any(peer.roi_ok(i) for i in ids) and any(peer.images_ok(i) for i in ids)
                and any(peer.landmarks_ok(i) for i in ids) and peer.named_person(enrolled) is not None
                and peer.face_tf() is not None)

    peer.spin_until(complete, args.timeout)
    peer.spin_until(lambda: sum(1 for _, f in peer.phase_faces("good") if f.has_position) >= args.phase_frames,
                    args.timeout)
    peer.spin_until(lambda: False, 0.5)  # the lists and matches of frames still in flight
    ids = face_ids()
    nonempty = [m for _, m in peer.lists if m.ids]
    foreign = peer.foreign_headers()
    check("hri_tracked", bool(nonempty) and not foreign and not peer.bad_ids,
          ids=sorted(peer.tracked_ids()), not_name_tokens=sorted(peer.bad_ids), lists=len(peer.lists),
          nonempty_lists=len(nonempty), header=header_json(nonempty[0].header) if nonempty else None,
          headers_not_from_an_image_sent=len(foreign),
          foreign_example=header_json(foreign[0].header) if foreign else None)
    check("hri_roi", any(peer.roi_ok(i) for i in ids),
          rois={i: None if (r := peer.faces[i].roi) is None else
                [round(r.xmin, 4), round(r.ymin, 4), round(r.xmax, 4), round(r.ymax, 4), round(r.c, 3)]
                for i in ids},
          messages={i: peer.faces[i].counts["roi"] for i in ids})
    check("hri_cropped", any(peer.images_ok(i) for i in ids), expect=[args.face_size, args.face_size],
          cropped={i: None if (c := peer.faces[i].cropped) is None else [c.width, c.height, c.encoding]
                   for i in ids},
          aligned={i: None if (a := peer.faces[i].aligned) is None else [a.width, a.height, a.encoding]
                   for i in ids})
    check("hri_landmarks", any(peer.landmarks_ok(i) for i in ids),
          landmarks={i: landmark_json(peer.faces[i].landmarks) for i in ids},
          image=[peer.image.width, peer.image.height])
    positive = peer.positive_matches(enrolled)
    person_id = peer.named_person(enrolled)
    check("hri_match", bool(positive),
          matches=sorted({(m.id1, m.id2) for m in positive}),
          confidence=round(positive[-1].confidence, 3) if positive else None,
          received=len(peer.matches), after_enroll=sum(1 for t, _ in peer.matches if t >= enrolled))
    check("hri_name", person_id is not None, person_id=person_id, expect=args.enroll,
          person_id_is_the_name=person_id == args.enroll,
          persons={pid: {"name": q.name, "anonymous": q.anonymous} for pid, q in peer.persons.items()})
    tf = peer.face_tf()
    shown = tf if tf is not None else (peer.transforms[-1][1] if peer.transforms else None)  # what was wrong
    check("hri_tf", tf is not None, transforms=len(peer.transforms),
          children=sorted({t.child_frame_id for _, t in peer.transforms})[:10],
          child=None if shown is None else shown.child_frame_id,
          parent=None if shown is None else shown.header.frame_id,
          xyz=None if shown is None else [round(v, 3) for v in (shown.transform.translation.x,
                                                                shown.transform.translation.y,
                                                                shown.transform.translation.z)],
          rotation=None if shown is None else [round(v, 4) for v in (shown.transform.rotation.x,
                                                                     shown.transform.rotation.y,
                                                                     shown.transform.rotation.z,
                                                                     shown.transform.rotation.w)])

    # With the good CameraInfo and no depth image: monocular positions, and the same in the TF.
    def tf_mismatches(phase, faces):
        """Frames of phase whose face_* transform is not at their face's position; and how many paired."""
        tfs = peer.phase_transforms(phase)
        paired = [(k, f) for k, f in faces if k in tfs]
        return [k for k, f in paired if max(abs(a - b) for a, b in zip(tfs[k], f.xyz)) > 1e-6], len(paired)

    def rounded(xyz):
        return [round(v, 4) for v in xyz]

    good = peer.phase_faces("good")
    located = [(k, f) for k, f in good if f.has_position]
    mono = [f for _, f in located if f.source == 1]
    mismatched, paired = tf_mismatches("good", located)
    mono_z = sorted(f.xyz[2] for f in mono)[len(mono) // 2] if mono else None
    mono_ray = sorted(f.ray() for f in mono)[len(mono) // 2] if mono else None
    check("hri_monocular",
          len(located) >= args.phase_frames and len(located) == len(good) and len(mono) == len(located)
          and all(0.2 < f.xyz[2] < 10.0 for f in mono) and paired > 0 and not mismatched,
          faces=len(good), with_position=len(located), sources=dict(Counter(f.source for _, f in good)),
          z_range=[round(min(f.xyz[2] for f in mono), 4), round(max(f.xyz[2] for f in mono), 4)] if mono else None,
          tf_paired=paired, tf_not_at_the_position=len(mismatched), frames_sent=sent_in("good"),
          xyz=rounded(mono[-1].xyz) if mono else None)

    # Depth: one phase per depth image kind, each published with the colour frames' headers.
    for phase, encoding, expect_z in [("depth_size", "32FC1", None), ("depth_32fc1", "32FC1", args.depth_m),
                                      ("depth_16uc1", "16UC1", args.depth_mm / 1000.0)]:
        depth = peer.depths.get(phase)
        if depth is None:
            continue
        peer.phase = phase
        t0 = time.monotonic()
        if expect_z is None:
            def enough():
                d = peer.last_diagnostics(t0)
                return (len(peer.phase_faces(phase)) >= args.phase_frames and d is not None
                        and int(d.get("geometry_misfit_frames", "0")) > 0)
        else:
            def enough():
                return sum(1 for _, f in peer.phase_faces(phase) if f.source == 2) >= args.phase_frames
        peer.spin_until(enough, args.timeout)
        seconds = round(time.monotonic() - t0, 2)
        faces = peer.phase_faces(phase)
        by_source = Counter(f.source for _, f in faces)
        alive = peer.alive()
        d = peer.last_diagnostics(t0)
        diag = None if d is None else {k: d.get(k) for k in ("depth_refused", "geometry_misfit_frames")}
        mismatched, paired = tf_mismatches(phase, [(k, f) for k, f in faces if f.has_position])
        rest = dict(size=[depth.width, depth.height], frames_sent=sent_in(phase), diagnostics=diag,
                    tf_paired=paired, tf_not_at_the_position=len(mismatched))
        if expect_z is None:
            # Another size than the colour frames: refused as misfit, the monocular estimate kept.
            zs = [f.xyz[2] for _, f in faces if f.has_position]
            check("hri_depth_size",
                  alive and len(faces) >= args.phase_frames and by_source == Counter({1: len(faces)})
                  and mono_z is not None and all(abs(z - mono_z) < DEPTH_TOL_M for z in zs)
                  and diag is not None and int(diag["geometry_misfit_frames"] or 0) > 0 and not mismatched,
                  encoding=encoding, faces=len(faces), sources=dict(by_source),
                  z_range=[round(min(zs), 4), round(max(zs), 4)] if zs else None,
                  monocular_z=None if mono_z is None else round(mono_z, 4), node_alive=alive, seconds=seconds, **rest)
        else:
            from_depth = [f for _, f in faces if f.source == 2]
            off_z = [f.xyz[2] for f in from_depth if abs(f.xyz[2] - expect_z) > DEPTH_TOL_M]
            off_ray = [f.ray() for f in from_depth if mono_ray is None
                       or max(abs(a - b) for a, b in zip(f.ray(), mono_ray)) > 1e-3]
            tfs = peer.phase_transforms(phase)
            depth_tf = [tfs[k] for k, f in faces if f.source == 2 and k in tfs]
            fallbacks = by_source.get(1, 0)
            check("hri_depth",
                  alive and len(from_depth) >= args.phase_frames and not off_z and not off_ray
                  and 3 * fallbacks <= len(faces) and by_source.keys() <= {1, 2}
                  and bool(depth_tf) and all(abs(t[2] - expect_z) < DEPTH_TOL_M for t in depth_tf)
                  and not mismatched,
                  encoding=encoding, expect_z=expect_z,
                  z=[round(min(f.xyz[2] for f in from_depth), 6), round(max(f.xyz[2] for f in from_depth), 6)]
                  if from_depth else None,
                  tf_z=[round(min(t[2] for t in depth_tf), 6), round(max(t[2] for t in depth_tf), 6)]
                  if depth_tf else None,
                  from_depth=len(from_depth), faces=len(faces), monocular_fallbacks=fallbacks, seconds=seconds,
                  node_alive=alive, sources=dict(by_source), z_off=len(off_z), ray_off=len(off_ray),
                  xyz=rounded(from_depth[-1].xyz) if from_depth else None,
                  tf_xyz=rounded(depth_tf[-1]) if depth_tf else None, tf_count=len(depth_tf), **rest)

    # The camera stops: the face is lost.
    nonempty = [m for _, m in peer.lists if m.ids]
    held = set(nonempty[-1].ids) if nonempty else set()
    peer.streaming = False
    stopped = time.monotonic()

    def lost():
        after = [m for t, m in peer.lists if t >= stopped]
        zero = {m.id2 for t, m in peer.matches if t >= stopped and m.id2_type == IdsMatch.FACE
                and m.id1_type == IdsMatch.PERSON and m.confidence == 0.0}
        return bool(after) and not after[-1].ids and held <= zero

    peer.spin_until(lost, args.lost_timeout)
    after = [(t, m) for t, m in peer.lists if t >= stopped]
    empty_at = next((t for t, m in after if not m.ids), None)
    zero = sorted({m.id2 for t, m in peer.matches if t >= stopped and m.id2_type == IdsMatch.FACE
                   and m.id1_type == IdsMatch.PERSON and m.confidence == 0.0})
    check("hri_lost", bool(held) and lost(), held=sorted(held), lists_after_stop=len(after),
          last_ids=list(after[-1][1].ids) if after else None,
          seconds_to_empty=None if empty_at is None else round(empty_at - stopped, 2), zero_confidence=zero)

    emit("done", ok=bool(check.ok), frames_sent=peer.frames, lists=len(peer.lists), matches=len(peer.matches),
         transforms=len(peer.transforms))
    peer.destroy_node()
    rclpy.shutdown()
    return 0 if check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
