#!/usr/bin/env python3
"""Service faults of facerec_node seen by outside peers (issue 14), in both service mappings:
rclpy over Fast DDS ("fastdds", rmw_fastrtps's mapping) or cyclonedds-python with the request
header of rmw_cyclonedds_cpp ("cyclone"). This script starts and kills the node itself.

  restart   one long-lived client calls ~/enroll and ~/forget on the node's first life; the
            node is killed with SIGKILL and started again on the same gallery; the client's
            request writers keep their history. Checks that the second life executes none of
            the first life's requests (no "enrolled"/"forgot" in its log) and that ~/list_people
            then answers exactly what the first life left (nobody forgotten is back, nobody
            enrolled twice). Repeated --rounds times.
  big-list  the node starts on a generated gallery of --people people (random vectors tagged
            with the shipped model) and ~/list_people must answer all of them.
  answered  (issue 25, Cyclone mapping) the node waits between saving a request's effect and
            answering it (FACEREC_TEST_PAUSE_BEFORE_ANSWER_MS) and is killed with SIGKILL in
            between, --rounds times, alternately during an enroll and a forget; the restarted
            node must answer the waiting client success ("already done"), whether the request
            reaches it from the client writer's history or as the same request sent again (same
            client id and sequence number), and the gallery must hold each person once with one
            sample (before, the answer was "not executed ... call again": a client that did so
            enrolled twice).
  writers   (issue 25, Fast DDS mapping) other writers of a running node's gallery: the CLI
            enrolls and forgets, a second node enrolls; the running node must take their
            changes in (listed within seconds) and its own saves must keep them (nobody lost,
            nobody forgotten brought back).

Each event is one JSON line; the exit status says whether every check held.
Loopback only (run it in a network namespace holding only lo, as scripts/interop_test.sh does).
"""

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time


def emit(event, **fields):
    print(json.dumps({"event": event, "t": round(time.monotonic(), 3), **fields}), flush=True)


def load_rgb(path, max_side=640):
    from PIL import Image as PilImage
    img = PilImage.open(path).convert("RGB")
    scale = max_side / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), PilImage.BILINEAR)
    return img.width, img.height, img.tobytes()


# ----------------------------------------------------------------------------- clients

class FastDdsClient:
    """rclpy clients (rmw_fastrtps_cpp, the Enhanced mapping), kept for the whole run."""

    def __init__(self, fqn):
        import rclpy
        from facerec.srv import Enroll, Forget, ListPeople
        self.rclpy, self.Enroll, self.Forget, self.ListPeople = rclpy, Enroll, Forget, ListPeople
        rclpy.init()
        self.node = rclpy.create_node("facerec_service_faults")
        self.clients = {
            "enroll": self.node.create_client(Enroll, f"{fqn}/enroll"),
            "forget": self.node.create_client(Forget, f"{fqn}/forget"),
            "list_people": self.node.create_client(ListPeople, f"{fqn}/list_people"),
        }

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)

    def _call(self, which, req, timeout):
        client = self.clients[which]
        end = time.monotonic() + timeout
        while not client.service_is_ready() and time.monotonic() < end:
            self.spin(0.1)
        future = client.call_async(req)
        while not future.done() and time.monotonic() < end:
            self.rclpy.spin_once(self.node, timeout_sec=0.05)
        return future.result() if future.done() else None

    def enroll(self, name, image, timeout):
        req = self.Enroll.Request()
        req.name = name
        w, h, data = image
        req.image.height, req.image.width, req.image.encoding = h, w, "rgb8"
        req.image.step, req.image.data = w * 3, data
        r = self._call("enroll", req, timeout)
        return None if r is None else (r.success, r.message)

    def forget(self, name, timeout):
        req = self.Forget.Request()
        req.name = name
        r = self._call("forget", req, timeout)
        return None if r is None else (r.success, r.message)

    def list_people(self, timeout):
        r = self._call("list_people", self.ListPeople.Request(), timeout)
        return None if r is None else (list(r.names), [int(c) for c in r.sample_counts])


class CycloneClient:
    """cyclonedds-python writers/readers in rmw_cyclonedds_cpp's service mapping."""

    def __init__(self, fqn):
        # Imported here: the Fast DDS runs use venvs without cyclonedds.
        import cyclone_types as ct
        from cyclonedds.domain import DomainParticipant
        from cyclonedds.pub import DataWriter
        from cyclonedds.sub import DataReader
        from cyclonedds.topic import Topic

        self.Time, self.Header, self.Image = ct.Time, ct.Header, ct.Image
        self.types = ct.SERVICES
        self.dp = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
        qos = ct.reliable_qos(10)
        self.endpoints = {}
        for which, (req_t, rep_t) in self.types.items():
            base = f"{fqn}/{which}"
            self.endpoints[which] = (DataWriter(self.dp, Topic(self.dp, f"rq{base}Request", req_t), qos=qos),
                                     DataReader(self.dp, Topic(self.dp, f"rr{base}Reply", rep_t), qos=qos))
        self.client_id = [random.randrange(256) for _ in range(8)]
        self.seq = 0

    def spin(self, seconds):
        time.sleep(seconds)

    def _call(self, which, make, timeout, resend_s=None):
        """The reply, or None. With resend_s (read-only calls only), the request is sent again
        under a new sequence number every resend_s seconds without an answer, and any of the
        requests' replies counts; self.sent says how many were sent."""
        writer, reader = self.endpoints[which]
        end = time.monotonic() + timeout
        while time.monotonic() < end and not (writer.get_matched_subscriptions() and reader.get_matched_publications()):
            time.sleep(0.05)
        waiting = set()
        next_send = time.monotonic()
        self.sent = 0
        while time.monotonic() < end:
            if time.monotonic() >= next_send and (resend_s is not None or not waiting):
                self.seq += 1
                waiting.add(self.seq)
                writer.write(make(self.client_id, self.seq))
                self.sent += 1
                next_send = time.monotonic() + (resend_s or timeout)
            for rep in reader.take(N=10):
                if list(rep.client_id) == self.client_id and rep.sequence_number in waiting:
                    return rep
            time.sleep(0.02)
        return None

    def enroll(self, name, image, timeout):
        w, h, data = image
        img = self.Image(self.Header(self.Time(0, 0), "request"), h, w, "rgb8", 0, w * 3, list(data))
        req_t = self.types["enroll"][0]
        r = self._call("enroll", lambda c, s: req_t(c, s, name, "", img, 0, 0.0, "", ""), timeout)
        return None if r is None else (r.success, r.message)

    def forget(self, name, timeout):
        req_t = self.types["forget"][0]
        r = self._call("forget", lambda c, s: req_t(c, s, name), timeout)
        return None if r is None else (r.success, r.message)

    def list_people(self, timeout):
        req_t = self.types["list_people"][0]
        # Read-only, so safe to send again: a reply of ~1.5 MB (100,000 people) lost on a loaded
        # machine is asked for again after 30 s; big_list reports how many requests it took.
        r = self._call("list_people", lambda c, s: req_t(c, s, 0), timeout, resend_s=30.0)
        return None if r is None else (list(r.names), [int(c) for c in r.sample_counts])


# ----------------------------------------------------------------------------- the node

class NodeLife:
    """facerec_node started with `cmd`, its console in `log_path`."""

    # How often wait_ready looks at the console.
    poll_s = 0.1

    def __init__(self, cmd, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(["bash", "-c", "exec " + cmd], stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_ready(self, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if " ready on ROS domain" in self.text():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(self.poll_s)
        return False

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def executions(text):
    enrolled = len(re.findall(r"enrolled '", text))
    forgot = len(re.findall(r"forgot '", text))
    refused = len(re.findall(r"before this node started", text))
    return enrolled, forgot, refused


def restart(args, client):
    image = load_rgb(args.photo)
    ok = True
    totals = {"calls_first_life": 0, "extra_executions": 0, "resurrected": 0, "double_enrolled": 0}
    for rnd in range(args.rounds):
        life1 = NodeLife(args.node_cmd, f"{args.logs}.round{rnd}.life1.log")
        if not life1.wait_ready(args.timeout):
            emit("node", life=1, ready=False, log_tail=life1.text()[-2000:])
            life1.stop()
            return False
        if rnd > 0:
            # The client may still be matched with the killed node: let it meet this one first.
            client.spin(args.settle)
        # First life: keep bob, enroll and forget the others (the forgotten must stay forgotten).
        expected = {}
        calls = 0
        for name in ["bob"] + [f"gone{rnd}x{i}" for i in range(args.forgotten)]:
            r = client.enroll(name, image, args.timeout)
            calls += 1
            emit("enroll", life=1, name=name, answer=r)
            ok &= r is not None and r[0]
            expected[name] = expected.get(name, 0) + 1
        for name in [n for n in expected if n != "bob"]:
            r = client.forget(name, args.timeout)
            calls += 1
            emit("forget", life=1, name=name, answer=r)
            ok &= r is not None and r[0]
            del expected[name]
        before = client.list_people(args.timeout)
        calls += 1
        emit("list_people", life=1, answer=before)
        if rnd == 0:
            ok &= before is not None and tuple(before) == (sorted(expected), [expected[n] for n in sorted(expected)])
        else:
            ok &= before is not None
        life1.kill9()
        emit("kill9", life=1, round=rnd)

        life2 = NodeLife(args.node_cmd, f"{args.logs}.round{rnd}.life2.log")
        ready = life2.wait_ready(args.timeout)
        # Give the new node time to match the client's request writers (and to be offered their
        # history), then ask it what it holds.
        client.spin(args.settle)
        after = client.list_people(args.timeout) if ready else None
        enrolled, forgot, refused = executions(life2.text())
        names = set(after[0]) if after else set()
        resurrected = sorted(n for n in names if n.startswith(f"gone{rnd}x"))
        had = dict(zip(*before)) if before else {}
        double = sum(1 for n, c in (dict(zip(*after)) if after else {}).items() if c > had.get(n, c))
        emit("restart", round=rnd, ready=ready, list_people=after, executed_again=enrolled + forgot,
             enrolled_again=enrolled, forgot_again=forgot, refused_as_old=refused, resurrected=resurrected, more_samples=double)
        totals["calls_first_life"] += calls
        totals["extra_executions"] += enrolled + forgot
        totals["resurrected"] += len(resurrected)
        totals["double_enrolled"] += double
        ok &= ready and after is not None and enrolled + forgot == 0 and not resurrected and double == 0
        ok &= after is not None and before is not None and tuple(after) == tuple(before)
        life2.stop()
    emit("summary", mapping=args.mapping, rounds=args.rounds, **totals)
    return ok


def people_on_disk(cli, gallery):
    """{name: samples} of a gallery file, read by the facerec CLI."""
    out = subprocess.run([cli, "people", "--gallery", gallery, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        return None
    people = {}
    for line in out.stdout.splitlines():
        p = json.loads(line)
        people[p["name"]] = p["samples"] + p.get("learned", 0)
    return people


def wait_for_file(gallery, needle, present, timeout):
    """Whether `needle` is (or is not, per `present`) in the gallery file within `timeout` s."""
    end = time.monotonic() + timeout
    while True:
        try:
            with open(gallery, errors="replace") as f:
                text = f.read()
        except OSError:
            text = ""
        if (needle in text) == present:
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(0.02)


def answered(args, client):
    """Kill -9 between a saved effect and its answer; the next life answers from the record.

    Cyclone mapping: the request's identity (client id, sequence number) is in its payload, so
    the client can wait for the request writer's history to reach the new life and, failing
    that, send the very same request again (same id): the idempotent retry a careful client
    makes. Either way the new life must answer "already done", never execute it again."""
    if args.mapping != "cyclone":
        raise SystemExit("answered: --mapping cyclone (the request id is in the payload)")
    image = load_rgb(args.photo)
    w, h, data = image
    img = client.Image(client.Header(client.Time(0, 0), "request"), h, w, "rgb8", 0, w * 3, list(data))
    ok = True
    answers, how = [], []
    slow = f"env FACEREC_TEST_PAUSE_BEFORE_ANSWER_MS=4000 {args.node_cmd}"
    life = NodeLife(slow, f"{args.logs}.life0.log")
    ok &= life.wait_ready(args.timeout)
    expected = {}
    for rnd in range(args.rounds):
        enrolling = rnd % 2 == 0
        name = f"kept{rnd}" if enrolling else f"kept{rnd - 1}"
        which = "enroll" if enrolling else "forget"
        req_t = client.types[which][0]
        client.seq += 1
        seq = client.seq
        req = req_t(client.client_id, seq, name, "", img, 0, 0.0, "", "") if enrolling else req_t(client.client_id, seq, name)
        writer, reader = client.endpoints[which]
        end = time.monotonic() + args.timeout
        while time.monotonic() < end and not (writer.get_matched_subscriptions() and reader.get_matched_publications()):
            time.sleep(0.05)

        def reply():
            for rep in reader.take(N=10):
                if list(rep.client_id) == client.client_id and rep.sequence_number == seq:
                    return rep
            return None

        writer.write(req)
        # Saved: the gallery file holds the effect; the answer is being held back 4 s.
        saved = wait_for_file(args.gallery, f"name: {name}\n", enrolling, args.timeout)
        early = reply()
        lost = None
        if args.lose_first_answer:
            # A node without the pause hook (an older build) may answer just after the save:
            # take its answer as lost with the killed node, as in a real crash at that point.
            end = time.monotonic() + 5.0 if early is None else 0
            while early is None and time.monotonic() < end:
                early = reply()
                time.sleep(0.05)
            lost = early
            early = None
        life.kill9()
        life = NodeLife(slow, f"{args.logs}.life{rnd + 1}.log")
        ready = life.wait_ready(args.timeout)
        got, path = early, "first life" if early is not None else None
        end = time.monotonic() + 10.0
        while got is None and time.monotonic() < end:
            got = reply()
            path = "history"
            time.sleep(0.05)
        if got is None:
            writer.write(req)  # the same request again: same client id, same sequence number
            end = time.monotonic() + args.timeout
            while got is None and time.monotonic() < end:
                got = reply()
                path = "same-id retry"
                time.sleep(0.05)
        answer = None if got is None else (bool(got.success), got.message)
        answers.append(answer)
        how.append(path if got is not None else None)
        if enrolling:
            expected[name] = 1
        else:
            expected.pop(name, None)
        right = ready and saved and early is None and answer is not None and answer[0] and "already done" in answer[1]
        if args.lose_first_answer:
            emit("lost_answer", round=rnd, answer=None if lost is None else (bool(lost.success), lost.message))
        emit("restart", round=rnd, service=which, name=name, saved_before_kill=saved,
             answered_before_kill=early is not None, answer=answer, answered_via=how[-1], ok=right)
        ok &= right
    time.sleep(1.0)
    held = people_on_disk(args.cli, args.gallery)
    emit("gallery", held=held, expected=expected)
    ok &= held == expected
    life.stop()
    emit("summary", mapping=args.mapping, rounds=args.rounds,
         answered_success=sum(1 for a in answers if a is not None and a[0]),
         answered_already_done=sum(1 for a in answers if a is not None and a[0] and "already done" in a[1]),
         answered_not_done=sum(1 for a in answers if a is not None and not a[0]),
         unanswered=sum(1 for a in answers if a is None),
         via_history=how.count("history"), via_same_id_retry=how.count("same-id retry"))
    return ok


def writers(args, client):
    """The CLI and a second node write a running node's gallery; nobody is lost."""
    import rclpy  # noqa: F401  (the client's context)
    image = load_rgb(args.photo)
    ok = True
    a = NodeLife(args.node_cmd, f"{args.logs}.a.log")
    ok &= a.wait_ready(args.timeout)
    def enroll(c, name):
        r = c.enroll(name, image, args.timeout)
        emit("enroll", name=name, answer=r)
        return r is not None and r[0]

    def listed_within(c, name, present, timeout):
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            r = c.list_people(args.timeout)
            if r is not None and (name in r[0]) == present:
                return round(time.monotonic() - t0, 2)
            client.spin(0.2)
        return None

    def cli(*words):
        out = subprocess.run([args.cli, *words], capture_output=True, text=True)
        emit("cli", args=list(words), rc=out.returncode, stderr=out.stderr.strip()[-300:])
        return out.returncode == 0

    ok &= enroll(client, "ada")
    ok &= cli("enroll", "--gallery", args.gallery, "--name", "carol", args.photo2)
    seen = listed_within(client, "carol", True, 10.0)
    emit("gallery", step="cli enrolled carol", node_lists_carol_after_s=seen)
    ok &= seen is not None
    ok &= enroll(client, "dan")
    ok &= cli("people", "--gallery", args.gallery, "--forget", "carol")
    gone = listed_within(client, "carol", False, 10.0)
    emit("gallery", step="cli forgot carol", node_drops_carol_after_s=gone)
    ok &= gone is not None
    ok &= enroll(client, "eve")
    b = NodeLife(args.node2_cmd, f"{args.logs}.b.log")
    ok &= b.wait_ready(args.timeout)
    client_b = FastDdsClient.__new__(FastDdsClient)
    client_b.rclpy, client_b.node = client.rclpy, client.node
    client_b.Enroll, client_b.Forget, client_b.ListPeople = client.Enroll, client.Forget, client.ListPeople
    client_b.clients = {
        "enroll": client.node.create_client(client.Enroll, f"{args.node2}/enroll"),
        "forget": client.node.create_client(client.Forget, f"{args.node2}/forget"),
        "list_people": client.node.create_client(client.ListPeople, f"{args.node2}/list_people"),
    }
    ok &= enroll(client_b, "finn")
    seen = listed_within(client, "finn", True, 10.0)
    emit("gallery", step="second node enrolled finn", node_lists_finn_after_s=seen)
    ok &= seen is not None
    ok &= enroll(client, "gus")
    seen = listed_within(client_b, "gus", True, 10.0)
    emit("gallery", step="first node enrolled gus", second_node_lists_gus_after_s=seen)
    ok &= seen is not None
    b.stop()
    a.stop()
    held = people_on_disk(args.cli, args.gallery)
    expected = {"ada": 1, "dan": 1, "eve": 1, "finn": 1, "gus": 1}
    emit("gallery", step="end", held=held, expected=expected)
    ok &= held == expected
    return ok


def model_tag(path):
    tag = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"\s+(file|sha256|dim):\s*(\S+)", line)
            if m:
                tag[m.group(1)] = m.group(2)
            if line.startswith("people:"):
                break
    return tag


def write_gallery(path, people, tag, dim):
    rng = random.Random(14)
    with open(path, "w") as f:
        f.write(f"format: 1\nmodel:\n  file: {tag['file']}\n  sha256: {tag['sha256']}\n  dim: {dim}\npeople:\n")
        for i in range(people):
            v = ", ".join(f"{rng.uniform(-1, 1):.2f}" for _ in range(dim))
            f.write(f"- name: person{i:06d}\n  embeddings:\n  - [{v}]\n")


def big_list(args, client):
    tag = model_tag(args.model_tag_from)
    dim = int(tag["dim"])
    t0 = time.monotonic()
    write_gallery(args.gallery, args.people, tag, dim)
    emit("gallery", people=args.people, bytes=os.path.getsize(args.gallery), seconds=round(time.monotonic() - t0, 1))
    life = NodeLife(args.node_cmd, f"{args.logs}.node.log")
    ok = life.wait_ready(args.timeout)
    t0 = time.monotonic()
    r = client.list_people(args.timeout) if ok else None
    n = 0 if r is None else len(r[0])
    emit("list_people", people=args.people, answered=r is not None, names=n,
         seconds=round(time.monotonic() - t0, 2), requests_sent=getattr(client, "sent", 1),
         first=None if not r else r[0][:2], last=None if not r else r[0][-1:])
    ok &= r is not None and n == args.people and r[0] == [f"person{i:06d}" for i in range(args.people)]
    ok &= r is not None and all(c == 1 for c in r[1])
    if not ok:
        emit("node_log_tail", text=life.text()[-3000:])
    life.stop()
    return ok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("what", choices=["restart", "big-list", "answered", "writers"])
    p.add_argument("--mapping", choices=["fastdds", "cyclone"], required=True)
    p.add_argument("--node", default="/facerec", help="fully qualified name of the node")
    p.add_argument("--node-cmd", required=True, help="shell command that starts facerec_node (exec'd)")
    p.add_argument("--logs", required=True, help="prefix of the node log files")
    p.add_argument("--photo", help="restart: a face photo to enroll from (in the request)")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--forgotten", type=int, default=3, help="restart: people enrolled then forgotten per round")
    p.add_argument("--settle", type=float, default=6.0, help="restart: seconds the new life gets before the check")
    p.add_argument("--gallery", help="big-list: gallery file to generate (the node's gallery)")
    p.add_argument("--people", type=int, default=3300)
    p.add_argument("--model-tag-from", default="config/gallery.yaml")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--cli", help="answered/writers: the facerec command line binary")
    p.add_argument("--lose-first-answer", action="store_true",
                   help="answered: drop the first life's answer as lost (for a node built without the pause hook)")
    p.add_argument("--photo2", help="writers: the photo the CLI enrolls carol from")
    p.add_argument("--node2", default="/facerec2", help="writers: the second node's name")
    p.add_argument("--node2-cmd", help="writers: shell command that starts the second node on the same gallery")
    args = p.parse_args()
    client = FastDdsClient(args.node) if args.mapping == "fastdds" else CycloneClient(args.node)
    ok = {"restart": restart, "big-list": big_list, "answered": answered, "writers": writers}[args.what](args, client)
    emit("done", ok=bool(ok))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
