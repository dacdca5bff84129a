#!/usr/bin/env python3
"""facerec_node's managed-node switch from rclpy (lifecycle_msgs services and events).

Publishes photos on a camera and watches ~/faces while it walks the node through
its lifecycle as a lifecycle manager or behaviour tree would: active at start
(faces arrive); deactivate (transition event active -> inactive, no faces while
inactive, a transition the state does not allow refused, the available
transitions listed); activate (faces arrive again). Each step is one JSON line;
the exit status says whether all held.
"""

import argparse
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetAvailableTransitions, GetState
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from facerec.msg import FaceArray
from sensor_msgs.msg import Image

from rclpy_peer import Checks, Spinning, emit, load_photo, to_image_msg


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_lifecycle_peer")
        fqn = args.node.rstrip("/")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST)
        self.pub = self.create_publisher(Image, args.camera, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        self.msg = to_image_msg(load_photo(args.photo, 640), "rgb8", "peer_camera")
        self.create_timer(0.2, self.publish)
        self.faces = []
        self.events = []
        self.create_subscription(FaceArray, f"{fqn}/faces", lambda m: self.faces.append(time.monotonic()), qos)
        self.create_subscription(TransitionEvent, f"{fqn}/transition_event", self.events.append, qos)
        self.change = self.create_client(ChangeState, f"{fqn}/change_state")
        self.get = self.create_client(GetState, f"{fqn}/get_state")
        self.available = self.create_client(GetAvailableTransitions, f"{fqn}/get_available_transitions")

    def publish(self):
        self.msg.header.stamp = self.get_clock().now().to_msg()
        self.pub.publish(self.msg)

    def state(self, timeout):
        r = self.call_client(self.get, GetState.Request(), timeout)
        return None if r is None else r.current_state.label

    def transition(self, transition_id, label, timeout):
        req = ChangeState.Request()
        req.transition = Transition(id=transition_id, label=label)
        r = self.call_client(self.change, req, timeout)
        return None if r is None else r.success


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec")
    p.add_argument("--camera", required=True)
    p.add_argument("--photo", required=True)
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    rclpy.init()
    peer = Peer(args)
    check = Checks()

    ready = peer.spin_until(lambda: peer.change.service_is_ready() and peer.get.service_is_ready()
                            and peer.available.service_is_ready(), args.timeout)
    state = peer.state(args.timeout) if ready else None
    faces_at_start = peer.spin_until(lambda: len(peer.faces) >= 2, args.timeout)
    check("lifecycle_start", ready and state == "active" and faces_at_start, state=state, faces=len(peer.faces))

    done = peer.transition(Transition.TRANSITION_DEACTIVATE, "", args.timeout)
    got_event = peer.spin_until(lambda: peer.events, 10)
    event = peer.events[0] if peer.events else None
    state = peer.state(args.timeout)
    # Frames already taken by a worker may still come out; after that, nothing.
    peer.spin_until(lambda: False, 1.0)
    before = len(peer.faces)
    peer.spin_until(lambda: False, 3.0)
    quiet = len(peer.faces) - before
    check("lifecycle_deactivate", done is True and state == "inactive" and got_event
          and event.start_state.label == "active" and event.goal_state.label == "inactive"
          and event.transition.id == Transition.TRANSITION_DEACTIVATE and quiet == 0,
          state=state, faces_while_inactive=quiet,
          transition_event=[event.transition.label, event.start_state.label, event.goal_state.label] if event else None)

    refused = peer.transition(Transition.TRANSITION_DEACTIVATE, "", args.timeout)
    r = peer.call_client(peer.available, GetAvailableTransitions.Request(), args.timeout)
    labels = sorted(t.transition.label for t in r.available_transitions) if r else None
    check("lifecycle_refused_and_available", refused is False and labels == ["activate", "cleanup", "shutdown"]
          and peer.state(args.timeout) == "inactive", refused=refused, available=labels)

    done = peer.transition(0, "activate", args.timeout)  # by label, as `ros2 lifecycle set` may send
    before = len(peer.faces)
    resumed = peer.spin_until(lambda: len(peer.faces) >= before + 2, args.timeout)
    check("lifecycle_activate", done is True and peer.state(args.timeout) == "active" and resumed,
          events=len(peer.events))

    emit("done", ok=check.ok)
    peer.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if check.ok else 1)


if __name__ == "__main__":
    main()
