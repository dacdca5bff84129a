#!/usr/bin/env python3
"""facerec_node's actions against a real rclpy ActionClient (rmw_fastrtps_cpp wheels).

Publishes one person's photos on one camera and another person's on a second
camera, then, as a behaviour tree would:
  1. goals the node must reject: ~/enroll_person on an unknown camera,
     ~/find_person for a name the gallery does not hold;
  2. ~/enroll_person for a person it then cancels after the first sample:
     status CANCELED, and ~/list_people shows that nothing was stored;
  3. ~/enroll_person for the first camera's person: SUCCEEDED with the samples
     asked for, feedback after every frame, each with the face's box;
  4. ~/find_person for that person: SUCCEEDED with the first camera, a stamp
     and a box; then restricted to the second camera (where the person is not):
     ABORTED at its timeout, after feedback counting frames and faces searched.
Each step is printed as one JSON line; the exit status says whether all held.
"""

import argparse
import sys
import time

import rclpy
from action_msgs.msg import GoalStatus
from rclpy.action import ActionClient
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from facerec.action import EnrollPerson, FindPerson
from facerec.srv import ListPeople
from sensor_msgs.msg import Image

from rclpy_peer import Checks, Spinning, emit, load_photo, to_image_msg

STATUS = {GoalStatus.STATUS_SUCCEEDED: "SUCCEEDED", GoalStatus.STATUS_ABORTED: "ABORTED",
          GoalStatus.STATUS_CANCELED: "CANCELED"}


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_actions_peer")
        self.fqn = args.node.rstrip("/")
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.sources = []
        for spec in args.image:
            topic, _, paths = spec.partition("=")
            msgs = [to_image_msg(load_photo(p, 640), "rgb8", "peer_camera") for p in paths.split(",")]
            self.sources.append((self.create_publisher(Image, topic, qos), msgs))
        self.frame = 0
        self.create_timer(1.0 / args.rate, self.publish)
        self.enroll = ActionClient(self, EnrollPerson, f"{self.fqn}/enroll_person")
        self.find = ActionClient(self, FindPerson, f"{self.fqn}/find_person")
        self.list_client = self.create_client(ListPeople, f"{self.fqn}/list_people")

    def publish(self):
        stamp = self.get_clock().now().to_msg()
        for pub, msgs in self.sources:
            msg = msgs[self.frame % len(msgs)]
            msg.header.stamp = stamp
            pub.publish(msg)
        self.frame += 1

    def send(self, client, goal, timeout, feedback):
        """The goal handle (None: no answer within timeout)."""
        future = client.send_goal_async(goal, feedback_callback=lambda m: feedback.append(m.feedback))
        if not self.spin_until(future.done, timeout):
            return None
        return future.result()

    def result(self, handle, timeout):
        future = handle.get_result_async()
        if not self.spin_until(future.done, timeout):
            return None
        return future.result()

    def people(self, timeout):
        r = self.call_client(self.list_client, ListPeople.Request(), timeout)
        return None if r is None else list(r.names)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec")
    p.add_argument("--image", action="append", default=[], metavar="TOPIC=PHOTO[,PHOTO...]")
    p.add_argument("--rate", type=float, default=5.0)
    p.add_argument("--person", required=True, help="who the first --image camera shows")
    p.add_argument("--camera", required=True, help="the first --image camera's topic")
    p.add_argument("--other-camera", required=True, help="a camera where --person is not")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()

    rclpy.init()
    peer = Peer(args)
    check = Checks()

    ready = peer.spin_until(lambda: peer.enroll.server_is_ready() and peer.find.server_is_ready()
                            and peer.list_client.service_is_ready(), args.timeout)
    check("action_servers", ready)
    if not ready:
        sys.exit(1)

    # 1. Malformed goals are rejected.
    h = peer.send(peer.enroll, EnrollPerson.Goal(name="x", camera="/nope/image_raw"), args.timeout, [])
    check("reject_unknown_camera", h is not None and not h.accepted)
    h = peer.send(peer.find, FindPerson.Goal(name="nobody_here", timeout_s=5.0), args.timeout, [])
    check("reject_unknown_person", h is not None and not h.accepted)

    # 2. Cancelled after the first sample: nothing stored.
    feedback = []
    h = peer.send(peer.enroll, EnrollPerson.Goal(name="cancel_me", camera=args.camera, num_samples=100,
                                                 timeout_s=120.0), args.timeout, feedback)
    accepted = h is not None and h.accepted
    got_sample = accepted and peer.spin_until(lambda: any(f.samples_collected >= 1 for f in feedback), args.timeout)
    if got_sample:
        cancel = h.cancel_goal_async()
        peer.spin_until(cancel.done, args.timeout)
    r = peer.result(h, args.timeout) if accepted else None
    people = peer.people(args.timeout)
    check("enroll_cancelled", got_sample and r is not None and r.status == GoalStatus.STATUS_CANCELED
          and not r.result.success and people is not None and "cancel_me" not in people,
          status=STATUS.get(r.status) if r else None, message=r.result.message if r else None,
          feedback=len(feedback), people=people)

    # 3. Enrolled with feedback per frame.
    feedback = []
    h = peer.send(peer.enroll, EnrollPerson.Goal(name=args.person, camera=args.camera, num_samples=3,
                                                 timeout_s=float(args.timeout)), args.timeout, feedback)
    r = peer.result(h, args.timeout) if h is not None and h.accepted else None
    peer.spin_until(lambda: False, 0.5)  # feedback sent just before the result
    boxes = [f for f in feedback if f.has_box]
    people = peer.people(args.timeout)
    check("enroll_person", r is not None and r.status == GoalStatus.STATUS_SUCCEEDED and r.result.success
          and r.result.samples_used == 3 and len(boxes) >= 2 and all(f.width > 20 and f.camera == args.camera
                                                                     for f in boxes)
          and people is not None and args.person in people,
          status=STATUS.get(r.status) if r else None, message=r.result.message if r else None,
          feedback=[[f.samples_collected, f.samples_needed, round(f.width), f.last_rejection] for f in feedback],
          people=people)

    # 4. Found on the camera that shows the person; not on the other one.
    feedback = []
    h = peer.send(peer.find, FindPerson.Goal(name=args.person, timeout_s=float(args.timeout)), args.timeout,
                  feedback)
    r = peer.result(h, args.timeout + 5) if h is not None and h.accepted else None
    res = r.result if r else None
    check("find_person", r is not None and r.status == GoalStatus.STATUS_SUCCEEDED and res.found
          and res.camera == args.camera and res.width > 20 and res.stamp.sec > 0 and res.score > 0,
          status=STATUS.get(r.status) if r else None, message=res.message if res else None,
          camera=res.camera if res else None, score=round(res.score, 3) if res else None,
          track_id=res.track_id if res else None, box=[round(res.x), round(res.y), round(res.width)] if res else None)

    feedback = []
    started = time.monotonic()
    h = peer.send(peer.find, FindPerson.Goal(name=args.person, timeout_s=4.0, cameras=[args.other_camera]),
                  args.timeout, feedback)
    r = peer.result(h, args.timeout) if h is not None and h.accepted else None
    waited = time.monotonic() - started
    last = feedback[-1] if feedback else None
    check("find_person_elsewhere", r is not None and r.status == GoalStatus.STATUS_ABORTED and not r.result.found
          and 3.5 <= waited and last is not None and last.frames_searched > 0 and last.faces_seen > 0
          and -1.0 < last.best_score < 0.455 and last.best_camera == args.other_camera,
          status=STATUS.get(r.status) if r else None, message=r.result.message if r else None,
          seconds=round(waited, 1), frames=last.frames_searched if last else 0,
          faces=last.faces_seen if last else 0, best_score=round(last.best_score, 3) if last else None)

    emit("done", ok=check.ok)
    peer.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if check.ok else 1)


if __name__ == "__main__":
    main()
