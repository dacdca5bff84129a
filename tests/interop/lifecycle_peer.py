#!/usr/bin/env python3
"""facerec_node's managed-node switch from rclpy (lifecycle_msgs services and events).

Publishes photos on a camera and watches ~/faces while it walks the node through
its lifecycle as a lifecycle manager or behaviour tree would: active at start
(faces arrive); deactivate (transition event active -> inactive, no faces while
inactive, a transition the state does not allow refused, the available
transitions listed); activate (faces arrive again). Also what `ros2 lifecycle list -a`
and a lifecycle manager read: ~/get_available_states (all 11 states of rcl_lifecycle's
default state machine, primary and transition ones) and ~/get_transition_graph (its 25
transitions, callback outcomes and error handling included), answered as rclcpp_lifecycle
does. Each step is one JSON line; the exit status says whether all held.
"""

import argparse
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetAvailableStates, GetAvailableTransitions, GetState
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
        self.states = self.create_client(GetAvailableStates, f"{fqn}/get_available_states")
        self.graph = self.create_client(GetAvailableTransitions, f"{fqn}/get_transition_graph")

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
                            and peer.available.service_is_ready() and peer.states.service_is_ready()
                            and peer.graph.service_is_ready(), args.timeout)
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
    # Each into its transition state, as rclcpp_lifecycle describes them (`ros2 lifecycle list`).
    goals = sorted(t.goal_state.label for t in r.available_transitions) if r else None
    check("lifecycle_refused_and_available", refused is False and labels == ["activate", "cleanup", "shutdown"]
          and goals == ["activating", "cleaningup", "shuttingdown"]
          and peer.state(args.timeout) == "inactive", refused=refused, available=labels, goals=goals)

    # The whole state machine, whatever the state (`ros2 lifecycle list -a`).
    r = peer.call_client(peer.states, GetAvailableStates.Request(), args.timeout)
    states = [(s.id, s.label) for s in r.available_states] if r else None
    primary = [label for i, label in states or [] if i < 10]
    check("lifecycle_states", states is not None and len(states) == 11
          and primary == ["unknown", "unconfigured", "inactive", "active", "finalized"]
          and {i for i, _ in states} == {0, 1, 2, 3, 4, 10, 11, 12, 13, 14, 15}
          and dict(states)[15] == "errorprocessing",
          count=None if states is None else len(states), states=[label for _, label in states or []])
    r = peer.call_client(peer.graph, GetAvailableTransitions.Request(), args.timeout)
    graph = [(t.transition.id, t.transition.label, t.start_state.label, t.goal_state.label)
             for t in r.available_transitions] if r else []
    by_id = {g[0]: g[1:] for g in graph}
    check("lifecycle_graph", len(graph) == 25 and len(by_id) == 25
          and by_id.get(Transition.TRANSITION_CONFIGURE) == ("configure", "unconfigured", "configuring")
          and by_id.get(Transition.TRANSITION_ON_CONFIGURE_SUCCESS) == ("transition_success", "configuring", "inactive")
          and by_id.get(Transition.TRANSITION_ON_ACTIVATE_FAILURE) == ("transition_failure", "activating", "inactive")
          and by_id.get(Transition.TRANSITION_ON_DEACTIVATE_ERROR)
          == ("transition_error", "deactivating", "errorprocessing")
          and by_id.get(Transition.TRANSITION_ACTIVE_SHUTDOWN) == ("shutdown", "active", "shuttingdown")
          and by_id.get(Transition.TRANSITION_ON_ERROR_SUCCESS)
          == ("transition_success", "errorprocessing", "unconfigured")
          and by_id.get(Transition.TRANSITION_ON_ERROR_ERROR) == ("transition_error", "errorprocessing", "finalized"),
          count=len(graph), primary_transitions=sorted(i for i in by_id if i < 10),
          outcomes=len([i for i in by_id if i >= 10]))

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
