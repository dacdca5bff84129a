#!/usr/bin/env python3
"""facerec_node's clock as a simulator or `ros2 bag play --clock` sees it, from rclpy.

The peer publishes rosgraph_msgs/Clock on /clock (simulated time from --sim-start seconds,
running at wall speed) and checks the node against it:
- with --sim (the node started with use_sim_time:=true): the node subscribes /clock itself
  (its own subscription in the graph, best effort, as rclcpp's ClockQoS) with the real type, so
  /clock has exactly one type, rosgraph_msgs/msg/Clock, and no endpoint of an unknown node;
  /diagnostics headers and ~/transition_event timestamps carry the simulated time; with
  --switch, use_sim_time set to false at run time drops the subscription and the node stamps
  with the system clock again, and set back to true brings both back;
- with --no-sim: the node has no /clock endpoint at all, and stamps with the system clock.
Each check is one JSON line; the exit status says whether all held.
"""

import argparse
import sys
import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from lifecycle_msgs.msg import Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from rclpy_peer import Checks, Spinning, emit

CLOCK_TYPE = "rosgraph_msgs/msg/Clock"


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("clock_peer")
        self.fqn = args.node.rstrip("/")
        ns, _, self.node_name = self.fqn.rpartition("/")
        self.node_ns = ns or "/"
        self.sim_start = args.sim_start
        self.wall_start = time.monotonic()
        # A simulator's clock: reliable, as ros2 bag play and gazebo publish it (a best-effort
        # subscription matches it).
        self.clock_pub = self.create_publisher(Clock, "/clock", QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.create_timer(0.02, self.tick)
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.diagnostics = []  # (receive monotonic, stamp s)
        self.events = []
        self.create_subscription(DiagnosticArray, "/diagnostics", self.on_diagnostics, qos)
        self.create_subscription(TransitionEvent, f"{self.fqn}/transition_event", self.events.append, qos)
        self.change = self.create_client(ChangeState, f"{self.fqn}/change_state")
        self.set_params = self.create_client(SetParameters, f"{self.fqn}/set_parameters")

    def sim_now(self):
        return self.sim_start + (time.monotonic() - self.wall_start)

    def tick(self):
        t = self.sim_now()
        msg = Clock()
        msg.clock.sec = int(t)
        msg.clock.nanosec = int((t - int(t)) * 1e9)
        self.clock_pub.publish(msg)

    def on_diagnostics(self, msg):
        if any(s.hardware_id == self.fqn for s in msg.status):
            self.diagnostics.append((time.monotonic(), msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9))

    def node_listed(self):
        return (self.node_name, self.node_ns) in self.get_node_names_and_namespaces()

    def clock_endpoints(self):
        """The node's /clock subscriptions and publishers, every /clock endpoint, /clock's types."""
        try:
            subs = [t for n, t in self.get_subscriber_names_and_types_by_node(self.node_name, self.node_ns) if n == "/clock"]
            pubs = [t for n, t in self.get_publisher_names_and_types_by_node(self.node_name, self.node_ns) if n == "/clock"]
        except Exception:  # not discovered (yet)
            subs, pubs = [], []
        infos = list(self.get_subscriptions_info_by_topic("/clock")) + list(self.get_publishers_info_by_topic("/clock"))
        types = dict(self.get_topic_names_and_types()).get("/clock", [])
        return subs, pubs, infos, sorted(types)

    def own_clock_subscriptions(self):
        return [i for i in self.get_subscriptions_info_by_topic("/clock")
                if i.node_name == self.node_name and i.node_namespace == self.node_ns]

    def stamp_after(self, since, good, timeout):
        """The first diagnostics stamp received after `since` (monotonic) for which `good`
        holds, else the last one received after it (None if none): a stamp made before the
        node's first /clock sample arrived is zero, so a slow start gets a few periods."""
        def later():
            return [s for t, s in self.diagnostics if t > since]
        self.spin_until(lambda: any(good(s) for s in later()), timeout)
        found = [s for s in later() if good(s)]
        return found[0] if found else (later()[-1] if later() else None)

    def set_use_sim_time(self, value, timeout):
        req = SetParameters.Request()
        req.parameters = [Parameter(name="use_sim_time",
                                    value=ParameterValue(type=ParameterType.PARAMETER_BOOL, bool_value=value))]
        r = self.call_client(self.set_params, req, timeout)
        return None if r is None else (r.results[0].successful, r.results[0].reason)

    def transition(self, transition_id, timeout):
        req = ChangeState.Request()
        req.transition = Transition(id=transition_id, label="")
        r = self.call_client(self.change, req, timeout)
        return None if r is None else r.success


def is_sim(peer, stamp):
    return stamp is not None and peer.sim_start - 1 <= stamp <= peer.sim_now() + 1


def is_wall(stamp):
    return stamp is not None and abs(stamp - time.time()) < 30


def check_sim(peer, check, args, label):
    """The node's clock subscription in the graph, and its stamps, while use_sim_time is true."""
    ok_graph = peer.spin_until(lambda: len(peer.own_clock_subscriptions()) == 1, args.timeout)
    subs, pubs, infos, types = peer.clock_endpoints()
    own = peer.own_clock_subscriptions()
    reliability = [ReliabilityPolicy(i.qos_profile.reliability).name for i in own]
    unknown = [i.node_name for i in infos if i.node_name not in ("clock_peer", peer.node_name)]
    check(f"clock_graph_{label}", ok_graph and subs == [[CLOCK_TYPE]] and not pubs and types == [CLOCK_TYPE]
          and len(own) == 1 and own[0].topic_type == CLOCK_TYPE and reliability == ["BEST_EFFORT"] and not unknown,
          node_clock_subscriptions=subs, node_clock_publishers=pubs, clock_types=types,
          reliability=reliability, other_nodes=unknown)
    # Stamped after the node has had /clock for a moment.
    stamp = peer.stamp_after(time.monotonic(), lambda s: is_sim(peer, s), 10)
    check(f"clock_diagnostics_{label}", is_sim(peer, stamp), stamp=stamp, sim_now=round(peer.sim_now(), 3),
          wall_now=round(time.time(), 3))


def check_wall(peer, check, args, label, settle):
    """No /clock endpoint of the node, and system-clock stamps."""
    peer.spin_until(lambda: False, settle)  # a subscription, if any, would be discovered by now
    gone = peer.spin_until(lambda: not peer.own_clock_subscriptions(), args.timeout)
    subs, pubs, infos, types = peer.clock_endpoints()
    others = [i.node_name for i in infos if i.node_name != "clock_peer"]
    check(f"clock_graph_{label}", gone and not subs and not pubs and not others and types == [CLOCK_TYPE],
          node_clock_subscriptions=subs, node_clock_publishers=pubs, clock_types=types, other_endpoints=others)
    stamp = peer.stamp_after(time.monotonic(), is_wall, 10)
    check(f"clock_diagnostics_{label}", is_wall(stamp), stamp=stamp, wall_now=round(time.time(), 3))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--sim", action="store_true", help="the node runs with use_sim_time:=true")
    mode.add_argument("--no-sim", action="store_true", help="the node runs on the system clock")
    p.add_argument("--switch", action="store_true", help="with --sim: switch use_sim_time off and on at run time")
    p.add_argument("--sim-start", type=float, default=4242.0, help="simulated seconds at the start")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    rclpy.init()
    peer = Peer(args)
    check = Checks()

    listed = peer.spin_until(lambda: peer.node_listed() and peer.change.service_is_ready(), args.timeout)
    check("clock_node", listed, node=peer.fqn)

    if args.sim:
        check_sim(peer, check, args, "sim")
        # A managed-node transition's event carries the simulated time too.
        done = peer.transition(Transition.TRANSITION_DEACTIVATE, args.timeout)
        peer.spin_until(lambda: peer.events, 10)
        stamp = peer.events[-1].timestamp * 1e-9 if peer.events else None
        check("clock_transition_event_sim", done is True and is_sim(peer, stamp), stamp=stamp,
              sim_now=round(peer.sim_now(), 3))
        peer.transition(Transition.TRANSITION_ACTIVATE, args.timeout)
        if args.switch:
            r = peer.set_use_sim_time(False, args.timeout)
            check("clock_switch_off", r is not None and r[0], result=r)
            check_wall(peer, check, args, "switched_off", 0.5)
            r = peer.set_use_sim_time(True, args.timeout)
            check("clock_switch_on", r is not None and r[0], result=r)
            check_sim(peer, check, args, "switched_on")
    else:
        check_wall(peer, check, args, "wall", 3.0)
        done = peer.transition(Transition.TRANSITION_DEACTIVATE, args.timeout)
        peer.spin_until(lambda: peer.events, 10)
        stamp = peer.events[-1].timestamp * 1e-9 if peer.events else None
        check("clock_transition_event_wall", done is True and is_wall(stamp), stamp=stamp)
        peer.transition(Transition.TRANSITION_ACTIVATE, args.timeout)

    emit("done", ok=check.ok)
    peer.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if check.ok else 1)


if __name__ == "__main__":
    main()
