#!/usr/bin/env python3
"""An independent DDS peer for facerec_node: Eclipse Cyclone DDS (the `cyclonedds` wheel),
with the ROS types written out here as IDL structs (no ROS code at all).

It reads vision_msgs/Detection2DArray from the node's ~/detections and can call
~/enroll in rmw_cyclonedds_cpp's service mapping (a 16-byte client id + sequence
number header before the request, echoed before the reply). Events are printed
as JSON lines; the exit status says whether every expectation held.

Loopback only: discovery goes to 127.0.0.1 peers without multicast (CYCLONE_URI in
cyclone_types.py), which also works inside a network namespace holding only lo.
"""

import argparse
import json
import os
import random
import sys
import time

from cyclone_types import Detection2DArray, Enroll_Request, Enroll_Response, Header, Image, Time, reliable_qos
from cyclonedds.domain import DomainParticipant
from cyclonedds.pub import DataWriter
from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic


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
    reliable = reliable_qos(10)
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
                                            args.enroll_samples, args.enroll_timeout, "", ""))
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
