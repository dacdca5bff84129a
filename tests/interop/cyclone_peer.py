#!/usr/bin/env python3
"""An independent DDS peer for facerec_node: Eclipse Cyclone DDS (the `cyclonedds` wheel),
with the ROS types written out here as IDL structs (no ROS code at all).

It reads vision_msgs/Detection2DArray from the node's ~/detections and can call
~/enroll in rmw_cyclonedds_cpp's service mapping (a 16-byte client id + sequence
number header before the request, echoed before the reply). Events are printed
as JSON lines; the exit status says whether every expectation held.

Loopback only: discovery goes to 127.0.0.1 peers without multicast (see
CYCLONEDDS_URI below), which also works inside a network namespace holding only lo.
"""

import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass

CYCLONE_URI = (
    "<CycloneDDS><Domain id='any'><General><Interfaces><NetworkInterface address='127.0.0.1'/></Interfaces>"
    "<AllowMulticast>false</AllowMulticast></General><Discovery><ParticipantIndex>auto</ParticipantIndex>"
    "<MaxAutoParticipantIndex>50</MaxAutoParticipantIndex><Peers><Peer address='127.0.0.1'/></Peers>"
    "</Discovery></Domain></CycloneDDS>"
)
os.environ.setdefault("CYCLONEDDS_URI", CYCLONE_URI)

from cyclonedds.core import Policy, Qos  # noqa: E402
from cyclonedds.domain import DomainParticipant  # noqa: E402
from cyclonedds.idl import IdlStruct  # noqa: E402
from cyclonedds.idl.types import array, float32, float64, int32, int64, sequence, uint8, uint32  # noqa: E402
from cyclonedds.pub import DataWriter  # noqa: E402
from cyclonedds.sub import DataReader  # noqa: E402
from cyclonedds.topic import Topic  # noqa: E402
from cyclonedds.util import duration  # noqa: E402


@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@dataclass
class Point(IdlStruct, typename="geometry_msgs::msg::dds_::Point_"):
    x: float64
    y: float64
    z: float64


@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@dataclass
class Pose(IdlStruct, typename="geometry_msgs::msg::dds_::Pose_"):
    position: Point
    orientation: Quaternion


@dataclass
class PoseWithCovariance(IdlStruct, typename="geometry_msgs::msg::dds_::PoseWithCovariance_"):
    pose: Pose
    covariance: array[float64, 36]


@dataclass
class ObjectHypothesis(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesis_"):
    class_id: str
    score: float64


@dataclass
class ObjectHypothesisWithPose(IdlStruct, typename="vision_msgs::msg::dds_::ObjectHypothesisWithPose_"):
    hypothesis: ObjectHypothesis
    pose: PoseWithCovariance


@dataclass
class Point2D(IdlStruct, typename="vision_msgs::msg::dds_::Point2D_"):
    x: float64
    y: float64


@dataclass
class Pose2D(IdlStruct, typename="vision_msgs::msg::dds_::Pose2D_"):
    position: Point2D
    theta: float64


@dataclass
class BoundingBox2D(IdlStruct, typename="vision_msgs::msg::dds_::BoundingBox2D_"):
    center: Pose2D
    size_x: float64
    size_y: float64


@dataclass
class Detection2D(IdlStruct, typename="vision_msgs::msg::dds_::Detection2D_"):
    header: Header
    results: sequence[ObjectHypothesisWithPose]
    bbox: BoundingBox2D
    id: str


@dataclass
class Detection2DArray(IdlStruct, typename="vision_msgs::msg::dds_::Detection2DArray_"):
    header: Header
    detections: sequence[Detection2D]


@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


# rmw_cyclonedds_cpp puts this header before every request and reply payload.
@dataclass
class Enroll_Request(IdlStruct, typename="facerec::srv::dds_::Enroll_Request_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    name: str
    camera: str
    image: Image
    num_samples: uint32
    timeout_s: float32


@dataclass
class Enroll_Response(IdlStruct, typename="facerec::srv::dds_::Enroll_Response_"):  # noqa: N801
    client_id: array[uint8, 8]
    sequence_number: int64
    success: bool
    message: str
    samples_used: uint32


def emit(event, **fields):
    print(json.dumps({"event": event, "t": round(time.monotonic(), 3), **fields}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec", help="fully qualified name of facerec_node")
    p.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
    p.add_argument("--enroll", metavar="NAME", help="call ~/enroll (Cyclone mapping) for NAME")
    p.add_argument("--enroll-camera", default="")
    p.add_argument("--enroll-samples", type=int, default=3)
    p.add_argument("--enroll-timeout", type=float, default=20.0)
    p.add_argument("--enroll-should-fail", action="store_true")
    p.add_argument("--expect", action="append", default=[], metavar="NAME",
                   help="NAME must appear in ~/detections (after the enroll, if any)")
    p.add_argument("--expect-frames", type=int, default=3)
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()

    fqn = args.node.rstrip("/")
    dp = DomainParticipant(args.domain)
    reliable = Qos(Policy.Reliability.Reliable(duration(seconds=1)), Policy.History.KeepLast(10),
                   Policy.Durability.Volatile)
    det_reader = DataReader(dp, Topic(dp, f"rt{fqn}/detections", Detection2DArray), qos=reliable)
    seen = []  # (time, class ids)

    def poll(seconds):
        end = time.monotonic() + seconds
        while True:
            for sample in det_reader.take(N=20):
                ids = [r.hypothesis.class_id for d in sample.detections for r in d.results]
                seen.append((time.monotonic(), ids))
                if len(seen) <= 3:
                    emit("detections", class_ids=ids, frame_id=sample.header.frame_id)
            if time.monotonic() >= end:
                return
            time.sleep(0.02)

    ok = True
    since = time.monotonic()
    if args.enroll is not None:
        req_writer = DataWriter(dp, Topic(dp, f"rq{fqn}/enrollRequest", Enroll_Request), qos=reliable)
        rep_reader = DataReader(dp, Topic(dp, f"rr{fqn}/enrollReply", Enroll_Response), qos=reliable)
        client_id = [random.randrange(256) for _ in range(8)]
        # Wait until the node's request reader and reply writer are matched.
        end = time.monotonic() + args.timeout
        while time.monotonic() < end and not (req_writer.get_matched_subscriptions() and
                                              rep_reader.get_matched_publications()):
            poll(0.1)
        matched = bool(req_writer.get_matched_subscriptions() and rep_reader.get_matched_publications())
        emit("enroll_service", matched=matched)
        answer = None
        t0 = time.monotonic()
        if matched:
            empty = Image(Header(Time(0, 0), ""), 0, 0, "", 0, 0, [])
            req_writer.write(Enroll_Request(client_id, 1, args.enroll, args.enroll_camera, empty,
                                            args.enroll_samples, args.enroll_timeout))
            while answer is None and time.monotonic() < end:
                for rep in rep_reader.take(N=10):
                    if list(rep.client_id) == client_id and rep.sequence_number == 1:
                        answer = rep
                poll(0.05)
        emit("enroll", name=args.enroll, answered=answer is not None,
             success=None if answer is None else answer.success,
             message=None if answer is None else answer.message,
             samples_used=None if answer is None else answer.samples_used,
             seconds=round(time.monotonic() - t0, 2))
        ok &= answer is not None and answer.success != args.enroll_should_fail
        since = time.monotonic()

    if args.expect:
        end = time.monotonic() + args.timeout
        def enough():
            return all(sum(1 for t, ids in seen if t >= since and n in ids) >= args.expect_frames for n in args.expect)
        while not enough() and time.monotonic() < end:
            poll(0.1)
        for n in args.expect:
            emit("expect", name=n, messages=sum(1 for t, ids in seen if t >= since and n in ids))
        ok &= enough()
    elif not args.enroll:
        poll(min(args.timeout, 5.0))

    emit("done", ok=bool(ok), detections_messages=len(seen))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
