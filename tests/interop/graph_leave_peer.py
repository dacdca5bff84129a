#!/usr/bin/env python3
"""How fast facerec_node leaves the ROS graph, as rclpy (rmw_fastrtps) sees it.

For each trial the peer starts the node (--node-cmd), waits until rclpy's graph lists it
(`get_node_names_and_namespaces`) with its ~/detections publisher and ~/enroll service, sends
it a signal and measures the seconds until the graph drops the node, the topic's publisher and
the service. After SIGINT or SIGTERM the node must exit 0, be gone from the graph in under
--limit seconds (an rclpy node leaves in well under that: it disposes its participant and
endpoints) and have printed no ERROR line; the next life, started at once, must be the only
publisher of ~/detections (no stale copy of the previous life counted). A trial whose signal
is given as `INT+busy` first leaves the node busy: an ~/enroll_person goal and an ~/enroll call,
both collecting frames for a minute from a camera that sends none (their tasks hold the action
server and the service, which must still leave with the node). After SIGKILL
nothing is announced and the participant's lease decides: that time is measured and reported,
not checked. Each trial is one JSON line; the exit status says whether every check held.

  graph_leave_peer.py --node /facerec --node-cmd "facerec_node --ros-args ..." --logs /tmp/leave \
      --signals INT,INT+busy,TERM,KILL --limit 2.0
"""

import argparse
import re
import signal
import subprocess
import sys
import time

import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node

from facerec.action import EnrollPerson
from service_faults import NodeLife
from facerec.srv import Enroll
from rclpy_peer import Checks, emit

SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "KILL": signal.SIGKILL}
# An ERROR line of the node's console, tracing's format (`... ERROR target: ...`) or ROS's
# (`[ERROR] [stamp] [facerec]: ...`).
ERROR_LINE = re.compile(r"(^|\s|\[)ERROR(\]|\s)")


class NodeProcess(NodeLife):
    """The node under test, its console in a file (started and read as service_faults' node)."""

    poll_s = 0.05

    def finish(self, timeout):
        """The exit code, or None (and the process killed) when it did not exit in time."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.log.close()
        return code


class Graph(Node):
    def __init__(self, fqn):
        super().__init__("graph_leave_peer")
        self.namespace, _, self.name = fqn.rpartition("/")
        self.namespace = self.namespace or "/"
        self.fqn = fqn
        self.topic = f"{fqn}/detections"
        self.service = f"{fqn}/enroll"

    def spin(self, seconds):
        rclpy.spin_once(self, timeout_sec=seconds)

    def node_listed(self):
        return (self.name, self.namespace) in self.get_node_names_and_namespaces()

    def publishers(self):
        return self.count_publishers(self.topic)

    def service_listed(self):
        return any(name == self.service for name, _ in self.get_service_names_and_types())

    def present(self):
        return self.node_listed() and self.publishers() > 0 and self.service_listed()


def make_busy(graph, camera, timeout):
    """An enroll_person goal and an enroll call collecting frames: the clients (to destroy once
    the signal is sent, so that only the node's endpoints are watched) and whether the goal was
    accepted."""
    find = ActionClient(graph, EnrollPerson, f"{graph.fqn}/enroll_person")
    enroll = graph.create_client(Enroll, f"{graph.fqn}/enroll")
    ready = wait_until(graph, lambda: find.server_is_ready() and enroll.service_is_ready(), timeout)
    accepted = False
    if ready:
        sent = find.send_goal_async(EnrollPerson.Goal(name="busy_goal", camera=camera, num_samples=3,
                                                      timeout_s=60.0))
        if wait_until(graph, sent.done, timeout) and sent.result() is not None:
            accepted = sent.result().accepted
        enroll.call_async(Enroll.Request(name="busy_enroll", camera=camera, num_samples=3, timeout_s=60.0))
        end = time.monotonic() + 1.0  # the enroll request reaches the node and starts collecting
        while time.monotonic() < end:
            graph.spin(0.05)
    return (find, enroll), accepted


def wait_until(graph, predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        graph.spin(0.02)
    return predicate()


def trial(args, graph, index, sig_name, busy, checks, previous_left):
    node = NodeProcess(args.node_cmd, f"{args.logs}.leave{index}.log")
    if not node.wait_ready(args.timeout):
        node.proc.kill()
        node.finish(5)
        checks("leave_start", False, trial=index, log_tail=node.text()[-600:])
        return False
    if not wait_until(graph, graph.present, args.timeout):
        node.proc.kill()
        node.finish(5)
        checks("leave_discovered", False, trial=index, node=graph.node_listed(), publishers=graph.publishers(),
               service=graph.service_listed())
        return False
    # A previous life that left cleanly is not counted again: one publisher, this life's (watched
    # for a moment, as a stale copy would be announced by nobody and only time out).
    publishers = graph.publishers()
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        graph.spin(0.05)
        publishers = max(publishers, graph.publishers())

    clients, goal_accepted = make_busy(graph, args.camera, args.timeout) if busy else (None, None)

    sent = time.monotonic()
    node.proc.send_signal(SIGNALS[sig_name])
    if clients:
        find, enroll = clients
        find.destroy()
        graph.destroy_client(enroll)
    gone = {}
    exited = None
    limit = args.kill_timeout if sig_name == "KILL" else args.measure
    end = sent + limit
    while time.monotonic() < end and (len(gone) < 3 or exited is None):
        graph.spin(0.01)
        now = time.monotonic() - sent
        if exited is None and node.proc.poll() is not None:
            exited = now
        if "node" not in gone and not graph.node_listed():
            gone["node"] = now
        if "topic" not in gone and graph.publishers() == 0:
            gone["topic"] = now
        if "service" not in gone and not graph.service_listed():
            gone["service"] = now
    code = node.finish(20)
    if exited is None:
        exited = time.monotonic() - sent
    text = node.text()
    errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
    fields = dict(trial=index, signal=sig_name + ("+busy" if busy else ""),
                  node_gone_s=round(gone["node"], 3) if "node" in gone else None,
                  topic_gone_s=round(gone["topic"], 3) if "topic" in gone else None,
                  service_gone_s=round(gone["service"], 3) if "service" in gone else None,
                  exit_code=code, exit_s=round(exited, 3), error_lines=len(errors),
                  publishers_at_start=publishers, previous_life_left=previous_left)
    if busy:
        fields["busy_goal_accepted"] = goal_accepted
    if errors:
        fields["first_errors"] = [e[-200:] for e in errors[:3]]
    if sig_name == "KILL":
        # Nothing is announced: the participant's lease decides. Reported, not checked.
        emit("leave_kill", **fields)
        return len(gone) == 3
    ok = (all(k in gone and gone[k] < args.limit for k in ("node", "topic", "service"))
          and code == 0 and not errors and (publishers == 1 or not previous_left)
          and goal_accepted is not False)
    checks("leave", ok, **fields)
    return len(gone) == 3


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--node", default="/facerec")
    p.add_argument("--node-cmd", required=True)
    p.add_argument("--logs", required=True, help="prefix of the node's log files")
    p.add_argument("--signals", default="INT,INT+busy,TERM,KILL",
                   help="one trial per signal, in order; SIG+busy: the node busy with a goal and a request")
    p.add_argument("--camera", default="/camera/image_raw", help="the node's camera (busy trials enroll from it)")
    p.add_argument("--limit", type=float, default=2.0, help="seconds the graph may take to drop the node")
    p.add_argument("--measure", type=float, default=10.0, help="seconds watched after SIGINT/SIGTERM")
    p.add_argument("--kill-timeout", type=float, default=90.0, help="seconds watched after SIGKILL")
    p.add_argument("--timeout", type=float, default=60.0)
    args = p.parse_args()

    rclpy.init()
    graph = Graph(args.node.rstrip("/"))
    checks = Checks()
    signals = [s.strip().upper() for s in args.signals.split(",") if s.strip()]
    left = True  # no previous life at the start
    times = {}
    for i, spec in enumerate(signals):
        sig_name, _, extra = spec.partition("+")
        if sig_name not in SIGNALS or extra not in ("", "BUSY"):
            checks("leave_signal", False, signal=spec)
            continue
        left = trial(args, graph, i, sig_name, extra == "BUSY", checks, left)
        if not left:
            # Still listed: wait until it is gone, so the next trial starts from a clean graph.
            wait_until(graph, lambda: not (graph.node_listed() or graph.publishers() or graph.service_listed()),
                       args.kill_timeout)
        times[spec] = times.get(spec, 0) + 1
    emit("leave_summary", ok=checks.ok, trials=times)
    graph.destroy_node()
    rclpy.shutdown()
    sys.exit(0 if checks.ok else 1)


if __name__ == "__main__":
    main()
