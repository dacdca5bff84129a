#!/usr/bin/env python3
"""The RIHS01 type hashes facerec_node announces, as `ros2 topic info -v` reads them.

rclpy (the graph API `ros2 topic info -v` uses) lists every topic the node publishes and
subscribes and every service it serves (its own, the parameter services, the actions'
services and topics). For each endpoint type, this peer creates the same kind of endpoint
itself on a probe name, so real rmw_fastrtps announces the type's hash, and compares: the
node's hash must be a RIHS01 hash equal to rclpy's, never INVALID. Service endpoints are
compared on their request/response topics (`rq/...Request`, `rr/...Reply`).
Each event is one JSON line; the exit status says whether every endpoint matched.
"""

import argparse
import importlib
import sys
import time

import rclpy
from rclpy.node import Node

from rclpy_peer import emit


def interface(type_name):
    """The rclpy class of `pkg/msg|srv|action/Name` (an action's parts through its Impl)."""
    package, kind, name = type_name.split("/")
    module = importlib.import_module(f"{package}.{kind}")
    if hasattr(module, name):
        return getattr(module, name)
    base, _, part = name.partition("_")
    impl = getattr(module, base).Impl
    return {"SendGoal": impl.SendGoalService, "GetResult": impl.GetResultService,
            "FeedbackMessage": impl.FeedbackMessage}[part]


def hash_text(info):
    return str(info.topic_type_hash)


def node_endpoints(infos, node_name, namespace):
    return [i for i in infos if i.node_name == node_name and i.node_namespace == namespace]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--node", default="/facerec")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--min-topics", type=int, default=4, help="topics expected at least")
    args = parser.parse_args()
    namespace, _, name = args.node.rpartition("/")
    namespace = namespace or "/"

    rclpy.init()
    peer = Node("type_hash_peer")
    deadline = time.monotonic() + args.timeout
    pubs = subs = services = []
    while time.monotonic() < deadline:
        rclpy.spin_once(peer, timeout_sec=0.2)
        try:
            pubs = peer.get_publisher_names_and_types_by_node(name, namespace)
            subs = peer.get_subscriber_names_and_types_by_node(name, namespace)
            services = peer.get_service_names_and_types_by_node(name, namespace)
        except Exception:  # the node is not discovered yet
            continue
        if len(pubs) + len(subs) >= args.min_topics and services:
            break
    emit("type_hash_graph", publishes=len(pubs), subscribes=len(subs), services=len(services))

    probes = []  # keep the probe endpoints alive
    expected = {}  # (kind, type) -> rclpy's own hash

    def own_hash(kind, type_name, probe_topic, infos_of):
        key = (kind, type_name)
        if key not in expected:
            end = time.monotonic() + 10
            while time.monotonic() < end:
                rclpy.spin_once(peer, timeout_sec=0.1)
                mine = [i for i in infos_of(probe_topic) if i.node_name == "type_hash_peer"]
                if mine:
                    expected[key] = hash_text(mine[0])
                    break
            else:
                expected[key] = None
        return expected[key]

    checked, bad = 0, []

    def compare(what, topic, type_name, node_infos, mine):
        nonlocal checked
        theirs = sorted({hash_text(i) for i in node_infos})
        ok = bool(theirs) and theirs == [mine] and mine is not None and mine.startswith("RIHS01_")
        checked += 1
        if not ok:
            bad.append({"endpoint": what, "topic": topic, "type": type_name, "node": theirs, "rclpy": mine})

    kinds = (
        ("publisher", pubs, peer.get_publishers_info_by_topic,
         lambda cls, topic: peer.create_publisher(cls, topic, 10)),
        ("subscription", subs, peer.get_subscriptions_info_by_topic,
         lambda cls, topic: peer.create_subscription(cls, topic, lambda _m: None, 10)),
    )
    for kind, endpoints, infos_of, create in kinds:
        for index, (topic, types) in enumerate(endpoints):
            type_name = types[0]
            probe = f"/type_hash_probe/{kind}{index}"
            probes.append(create(interface(type_name), probe))
            mine = own_hash(kind, type_name, probe, infos_of)
            compare(kind, topic, type_name, node_endpoints(infos_of(topic), name, namespace), mine)
    for index, (service, types) in enumerate(services):
        type_name = types[0]
        probe = f"/type_hash_probe/srv{index}"
        probes.append(peer.create_service(interface(type_name), probe, lambda _req, resp: resp))
        for suffix, infos_of, part in (("Request", peer.get_subscriptions_info_by_topic, "request reader"),
                                       ("Reply", peer.get_publishers_info_by_topic, "response writer")):
            mine = own_hash(f"srv-{suffix}", type_name, f"rq{probe}Request" if suffix == "Request" else f"rr{probe}Reply",
                            lambda t, f=infos_of: f(t, no_mangle=True))
            dds_topic = f"rq{service}Request" if suffix == "Request" else f"rr{service}Reply"
            infos = [i for i in infos_of(dds_topic, no_mangle=True) if i.node_name != "type_hash_peer"]
            compare(f"service {part}", dds_topic, type_name, infos, mine)

    some = {}
    for topic, types in pubs[:3]:
        infos = node_endpoints(peer.get_publishers_info_by_topic(topic), name, namespace)
        some[topic] = [types[0], hash_text(infos[0]) if infos else None]
    emit("type_hash_examples", **some)
    emit("type_hash_summary", endpoints_checked=checked, mismatched=len(bad), first_mismatches=bad[:5])
    peer.destroy_node()
    rclpy.shutdown()
    ok = checked >= args.min_topics and not bad
    emit("done", ok=ok)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
