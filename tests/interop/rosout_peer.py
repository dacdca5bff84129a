#!/usr/bin/env python3
"""facerec_node's log lines on /rosout, as rqt_console and `ros2 topic echo /rosout` get them.

An rclpy subscriber on /rosout with rcl's rosout QoS (reliable, transient local, depth 1000)
that joins after the node is ready: the node's start-up lines (kept for late joiners; one logged
before the node had a /rosout publisher, queued and then published) arrive with the node's
logger name, INFO, the message, file, function and line; a refused ~/change_state makes the node log
a WARN, which arrives too (printed whole as `rosout_line`); the DDS stack's lines are never
published; the node has one /rosout publisher, with rcl's QoS. Each check is one JSON line; the
exit status says whether all held.
"""

import argparse
import sys
import time

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState
from rcl_interfaces.msg import Log
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

from rclpy_peer import Checks, Spinning, emit


def as_dict(m):
    return {"stamp": f"{m.stamp.sec}.{m.stamp.nanosec:09d}", "level": m.level, "name": m.name, "msg": m.msg,
            "file": m.file, "function": m.function, "line": m.line}


class Peer(Spinning, Node):
    def __init__(self, args):
        super().__init__("facerec_rosout_peer")
        self.fqn = args.node.rstrip("/")
        self.logs = []
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL, history=HistoryPolicy.KEEP_LAST)
        self.create_subscription(Log, "/rosout", self.logs.append, qos)
        self.change = self.create_client(ChangeState, f"{self.fqn}/change_state")

    def node_lines(self, logger):
        return [m for m in self.logs if m.name == logger]

    def first(self, logger, predicate, timeout):
        found = []

        def seen():
            found[:] = [m for m in self.node_lines(logger) if predicate(m)]
            return bool(found)

        return found[0] if self.spin_until(seen, timeout) else None


def filled(m, level):
    return (m is not None and m.level == level and m.msg and m.file.endswith(".rs") and m.line > 0
            and m.function.startswith("facerec::") and m.stamp.sec > 0
            and abs(time.time() - (m.stamp.sec + m.stamp.nanosec / 1e9)) < 600)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec", help="the node's fully qualified name")
    p.add_argument("--logger", default="facerec", help="its logger name (rcl: the name, '.' for '/')")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()
    rclpy.init()
    peer = Peer(args)
    check = Checks()

    # Logged at start, before this subscriber existed (transient local brings them): the line
    # that says the node is ready, and one logged before the node had a /rosout publisher at
    # all (queued, then published).
    ready = peer.first(args.logger, lambda m: "ready on ROS domain" in m.msg, args.timeout)
    early = peer.first(args.logger, lambda m: m.msg.startswith("execution provider"), 5)
    check("rosout_startup", filled(ready, Log.INFO) and filled(early, Log.INFO),
          ready=as_dict(ready) if ready else None, before_publisher=early.msg if early else None,
          lines_so_far=len(peer.node_lines(args.logger)))

    # A refused transition (the node is active) is a WARN of the node's.
    req = ChangeState.Request()
    req.transition = Transition(id=Transition.TRANSITION_ACTIVATE, label="")
    answer = peer.call_client(peer.change, req, args.timeout)
    warn = peer.first(args.logger, lambda m: "transition refused" in m.msg, 15)
    check("rosout_warn", answer is not None and answer.success is False and filled(warn, Log.WARN),
          success=None if answer is None else answer.success)
    if warn is not None:
        emit("rosout_line", **as_dict(warn))

    peer.spin_until(lambda: False, 1.0)
    mine = peer.node_lines(args.logger)
    others = sorted({m.name for m in peer.logs if m.name != args.logger})
    levels = sorted({m.level for m in mine})
    check("rosout_levels_and_names", all(lv >= Log.INFO for lv in levels)
          and not any(n.startswith(("rustdds", "ros2_client")) for n in others),
          lines=len(mine), levels=levels, other_loggers=others)

    # One /rosout publisher of the node, with rcl's QoS (depth is not announced on the wire).
    ns, _, name = peer.fqn.rpartition("/")
    ns = ns or "/"
    pubs = [i for i in peer.get_publishers_info_by_topic("/rosout")
            if i.node_name == name and i.node_namespace == ns]
    q = pubs[0].qos_profile if pubs else None
    lifespan_s = q.lifespan.nanoseconds / 1e9 if q else None
    check("rosout_publisher", len(pubs) == 1 and q.reliability == ReliabilityPolicy.RELIABLE
          and q.durability == DurabilityPolicy.TRANSIENT_LOCAL and lifespan_s == 10.0,
          publishers=len(pubs), reliability=q.reliability.name if q else None,
          durability=q.durability.name if q else None, lifespan_s=lifespan_s)

    emit("done", ok=check.ok)
    peer.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if check.ok else 1)


if __name__ == "__main__":
    main()
