"""The job-queue subject: what it is, its chapters, its faults and its
health. protocol.py serves it; cluster.py runs its processes.

The story: a broker leases jobs to workers, each job to one worker at a
time. A worker killed mid-job loses nothing: its jobs come back when their
lease runs out. A frozen broker wakes up to find every lease expired and
delivers in-flight jobs twice (at-least-once). Poison jobs fail on every
delivery and end in the dead-letter queue instead of going round forever.
"""

import json
import secrets
import signal
import sys
import threading
import time

from google.protobuf import duration_pb2

from . import cluster as clusterlib
from . import options as opt
from .node import Client
from .protocol import Fatal, NotFound, Notifier, Refused, log, pb

NAME = "jobqueue"
VERSION = "1.0.0"

# name, type, default, help, choices; checked again in configure.
OPTIONS = [
    ("workers", opt.INT, "3", "worker processes, 1 to 8", ()),
    ("rate", opt.FLOAT, "20", "jobs the producer offers per second, more than 0 and at most 500", ()),
    ("work", opt.DURATION, "50ms", "how long a worker spends on a job, 1ms to 5s", ()),
    ("lease", opt.DURATION, "1s", "how long a worker holds a job before the broker gives it to another, 100ms to 1m", ()),
    ("max_deliveries", opt.INT, "3", "deliveries of a job before it goes to the dead-letter queue, 1 to 10", ()),
    ("backlog_limit", opt.INT, "100", "backlog above which the queue is behind (backlog_high), at least 1", ()),
]

PROCESS_KILL = "PROCESS_KILL"
PROCESS_PAUSE = "PROCESS_PAUSE"
POISON_JOBS = "POISON_JOBS"
FAULTS = [
    pb.FaultKind(kind=PROCESS_KILL, description="SIGKILL a node process; revert starts it again",
                 target="worker-N or producer; empty: the worker holding the most jobs"),
    pb.FaultKind(kind=PROCESS_PAUSE, description="SIGSTOP a node process; revert sends SIGCONT",
                 target="broker, producer or worker-N; empty: the broker"),
    pb.FaultKind(kind=POISON_JOBS,
                 description="enqueue jobs that fail on every delivery until they reach the dead-letter queue; "
                             "revert removes them from the queue and the dead-letter queue",
                 target="the broker (leave empty)",
                 params=[pb.OptionSpec(name="count", type=opt.INT, default="5", help="how many poison jobs, 1 to 1000")]),
]

REDELIVERY_WINDOW = 3.0  # job_redelivered stays raised this long after one
WARMUP_JOBS = 30


def _duration(seconds):
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(seconds * 1e9))
    return d


def _expect(check, mode=pb.EVENTUALLY, within=0.0, **kw):
    e = pb.Expectation(check=check, mode=mode, **kw)
    if within:
        e.within.CopyFrom(_duration(within))
    return e


class JobQueue:
    """The subject, as protocol.Servicer calls it."""

    def __init__(self):
        self.opts = None
        self.cluster = None
        self.lock = threading.Lock()  # guards cluster (Setup, Teardown, faults)
        self.changes = Notifier()
        self.client = None
        self.client_lock = threading.Lock()
        self.health_lock = threading.Lock()  # guards since and redelivered
        self.since = {}  # (invariant, target) -> first seen, for violations
        self.redelivered = (0, 0.0)  # last redelivered count, when it last grew

    # -- Describe, Configure, Chapters --

    def describe(self):
        return pb.DescribeResponse(
            name=NAME, version=VERSION,
            description="a job queue on loopback: a broker leasing jobs to worker processes, a producer, "
                        "a dead-letter queue (Python plugin, docs/PROTOCOL.md)",
            options=[pb.OptionSpec(name=n, type=t, default=d, help=h, choices=c) for n, t, d, h, c in OPTIONS],
            faults=FAULTS)

    def configure(self, values):
        o = {}
        for name, kind, default, _, choices in OPTIONS:
            raw = values.get(name, default)
            try:
                o[name] = opt.parse(kind, raw, choices, default)
            except opt.OptionError as e:
                raise Refused("option %s=%s: %s" % (name, json.dumps(raw), e))
        unknown = sorted(set(values) - {n for n, *_ in OPTIONS})
        if unknown:
            raise Refused('unknown option "%s": known options are %s (see `demohost describe`)'
                          % (unknown[0], ", ".join(n for n, *_ in OPTIONS)))

        def bad(name, want):
            raise Refused("option %s=%s: want %s" % (name, json.dumps(values.get(name, "")), want))

        if not 1 <= o["workers"] <= 8:
            bad("workers", "1 to 8")
        if not 0 < o["rate"] <= 500:
            bad("rate", "more than 0 and at most 500")
        if not 10**6 <= o["work"] <= 5 * 10**9:
            bad("work", "1ms to 5s")
        if not 10**8 <= o["lease"] <= 60 * 10**9:
            bad("lease", "100ms to 1m")
        if not 1 <= o["max_deliveries"] <= 10:
            bad("max_deliveries", "1 to 10")
        if o["backlog_limit"] < 1:
            bad("backlog_limit", "at least 1")
        o["work"] /= 1e9
        o["lease"] /= 1e9
        self.opts = o

    def chapters(self):
        o = self.opts
        rate, lease = o["rate"], o["lease"]
        C = pb.Chapter
        steady = C(
            id="steady", title="A job queue at work", has_action=True, blocks_advance=True,
            narration="A *producer* offers %g jobs a second to a *broker*, which leases each job to one of "
                      "%d *workers*. A job a worker does not finish within its lease (%gs) goes back to the "
                      "queue. _Watch the backlog stay low while the workers keep up._" % (rate, o["workers"], lease),
            key_hint="space: continue once the workers keep up",
            expectations=[
                _expect(pb.ALL_NODES_STATE, state=pb.UP, within=10),
                _expect(pb.METRIC_ABOVE, target="throughput", threshold=rate / 2, within=15),
                _expect(pb.VIOLATION_ABSENT, mode=pb.HOLDS, within=3),
            ])
        kill = C(
            id="kill", title="A worker dies mid-job",
            narration="We [red]SIGKILL[/] the worker holding the most jobs. Nothing is lost: the broker hands "
                      "its jobs to the others once their lease runs out. The worker starts again after 5s.",
            key_hint="space: continue once the jobs came back",
            fault=pb.Fault(kind=PROCESS_KILL, name="kill the busiest worker"),
            expectations=[
                _expect(pb.ALL_NODES_STATE, mode=pb.BEFORE, state=pb.UP, within=10),
                _expect(pb.VIOLATION_PRESENT, invariant="worker_down", within=3),
                _expect(pb.VIOLATION_PRESENT, invariant="job_redelivered", within=lease + 3),
                _expect(pb.VIOLATION_ABSENT, invariant="dead_letter", mode=pb.HOLDS, while_fault=True),
                _expect(pb.ALL_NODES_STATE, mode=pb.AFTER, state=pb.UP, within=10),
            ])
        kill.fault.duration.CopyFrom(_duration(5))
        kill.countdown.CopyFrom(_duration(3))
        freeze = C(
            id="freeze", title="The broker freezes",
            narration="We [red]freeze the broker[/] (SIGSTOP) for 4s. The producer holds its jobs back; the "
                      "workers wait. When the broker wakes, its clock has moved on: every lease looks expired, "
                      "so the jobs in flight are delivered *again* — at-least-once delivery, in front of you.",
            key_hint="space: continue once the backlog drained",
            fault=pb.Fault(kind=PROCESS_PAUSE, name="freeze the broker", target="broker"),
            expectations=[
                _expect(pb.NODE_STATE, target="broker", state=pb.PAUSED, within=3),
                _expect(pb.VIOLATION_PRESENT, invariant="broker_unreachable", within=3),
                _expect(pb.VIOLATION_ABSENT, invariant="broker_unreachable", mode=pb.AFTER, within=5),
                _expect(pb.METRIC_BELOW, target="backlog", threshold=20, mode=pb.AFTER, within=30),
            ])
        freeze.fault.duration.CopyFrom(_duration(4))
        freeze.countdown.CopyFrom(_duration(3))
        poison = C(
            id="poison", title="Poison jobs",
            narration="We enqueue [yellow]5 poison jobs[/]: each fails on every delivery. After %d deliveries "
                      "the broker gives up on a job and moves it to the *dead-letter queue*, so it cannot "
                      "go round forever, and the healthy jobs keep flowing." % o["max_deliveries"],
            key_hint="space: continue, and clean the dead letters up",
            fault=pb.Fault(kind=POISON_JOBS, name="enqueue poison jobs", params={"count": "5"}),
            expectations=[
                _expect(pb.VIOLATION_PRESENT, invariant="dead_letter", within=15),
                _expect(pb.METRIC_ABOVE, target="throughput", threshold=rate / 4, mode=pb.HOLDS, within=5),
            ])
        poison.countdown.CopyFrom(_duration(3))
        clean = C(
            id="clean", title="Drain the dead letters", revert_chaos=True,
            narration="Reverting removes the poison jobs from the dead-letter queue. _The queue is back where "
                      "it started._",
            key_hint="space: finish",
            expectations=[
                _expect(pb.VIOLATION_ABSENT, invariant="dead_letter", mode=pb.AFTER, within=5),
                _expect(pb.VIOLATION_ABSENT, within=15),
            ])
        return [steady, kill, freeze, poison, clean]

    # -- Setup, Teardown, the action --

    def setup(self):
        with self.lock:
            lines = self._reap()
            c = self.cluster
            if c is None:
                # Kept even if a node fails to start: Teardown stops the rest.
                c = self.cluster = clusterlib.Cluster(self.opts, log, self.changes.notify)
                with self.health_lock:
                    self.since.clear()
                try:
                    c.start(lines.append)
                finally:
                    for line in lines:
                        log("info", "setup: " + line)
            else:
                lines.append("the cluster already runs")
        for line in lines:
            yield pb.INFO, line
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stats = self._stats()
            if stats and len(stats["workers"]) >= self.opts["workers"]:
                yield pb.INFO, "broker at %s; %d workers asking for jobs" % (c.broker_addr, len(stats["workers"]))
                return
            time.sleep(0.05)
        yield pb.WARNING, "not every worker asked the broker for a job within 10s"

    def teardown(self, set_up):
        with self.lock:
            c, self.cluster = self.cluster, None
            lines = []
            if c is not None:
                c.stop(lines.append)
            elif not set_up:
                lines = self._reap() or ["nothing left by dead plugin processes"]
        self._close_client()
        self.changes.notify()
        for line in lines:
            yield pb.INFO, line

    def _reap(self):
        lines = []
        n = clusterlib.reap_dead(lines.append)
        if n:
            lines.append("removed what %d dead plugin process%s left" % (n, "" if n == 1 else "es"))
        return lines

    def action(self, chapter_id, active):
        if chapter_id != "steady":
            raise NotFound("no chapter with id %r has an action" % chapter_id)
        if self.cluster is None:
            raise Fatal("the warm-up needs the cluster, and Setup has not run")
        start = None
        while active():
            stats = self._stats()
            if stats is not None:
                done = stats["counts"].get("processed", 0)
                start = done if start is None else start
                if done - start >= WARMUP_JOBS:
                    yield pb.INFO, "warmed up: %d jobs processed, %d a second" % (done - start, stats["throughput"])
                    return
                yield pb.INFO, "warming up: %d of %d jobs processed" % (done - start, WARMUP_JOBS)
            time.sleep(0.5)

    # -- faults --

    def inject(self, fault):
        kinds = {k.kind: k for k in FAULTS}
        if fault.kind not in kinds:
            raise Refused("fault kind %s is not one of %s" % (fault.kind, ", ".join(kinds)))
        with self.lock:
            c = self.cluster
            if c is None:
                raise Refused("%s needs the cluster, and Setup has not run" % fault.kind)
            if fault.kind == POISON_JOBS:
                return self._poison(c, fault)
            target = fault.target or self._default_target(fault.kind)
            ident = c.identity(target)
            if ident is None or (fault.kind == PROCESS_KILL and target == "broker"):
                allowed = [n for n in c.names() if not (fault.kind == PROCESS_KILL and n == "broker")]
                raise Refused("%s target %r: want one of %s" % (fault.kind, target, ", ".join(allowed)))
            handle = json.dumps({"op": fault.kind, "node": target, **ident.to_json()}, sort_keys=True)
            if fault.kind == PROCESS_KILL:
                if not ident.signal(signal.SIGKILL):
                    raise RuntimeError("%s (pid %d) is not running: nothing to kill" % (target, ident.pid))
                _wait(lambda: not ident.alive(), 2.0)
                detail = "killed %s (pid %d, SIGKILL)" % (target, ident.pid)
            else:
                if not ident.signal(signal.SIGSTOP):
                    raise RuntimeError("%s (pid %d) is not running: nothing to freeze" % (target, ident.pid))
                _wait(ident.stopped, 2.0)
                detail = "froze %s (pid %d, SIGSTOP)" % (target, ident.pid)
        self.changes.notify()
        return handle, target, detail

    def _default_target(self, kind):
        if kind == PROCESS_PAUSE:
            return "broker"
        # The worker holding the most jobs, so that killing it loses some.
        deadline = time.monotonic() + 2
        best = "worker-1"
        while time.monotonic() < deadline:
            stats = self._stats() or {"workers": {}}
            held = {w: s["held"] for w, s in stats["workers"].items() if s["held"] > 0}
            if held:
                return max(sorted(held), key=held.get)
            time.sleep(0.02)
        return best

    def _poison(self, c, fault):
        raw = fault.params.get("count", "5")
        try:
            count = opt.parse(opt.INT, raw, example="5")
        except opt.OptionError as e:
            raise Refused("parameter count=%s of fault %s: %s" % (json.dumps(raw), POISON_JOBS, e))
        if not 1 <= count <= 1000:
            raise Refused("parameter count=%s of fault %s: want 1 to 1000" % (json.dumps(raw), POISON_JOBS))
        batch = secrets.token_hex(6)
        client = Client(c.broker_addr)
        try:
            client.call({"op": "put", "jobs": [{"poison": True, "batch": batch}] * count})
        except OSError as e:
            raise RuntimeError("cannot enqueue poison jobs: %s" % e)
        finally:
            client.close()
        handle = json.dumps({"op": POISON_JOBS, "broker": c.broker_addr, "run": c.run, "batch": batch, "count": count},
                            sort_keys=True)
        return handle, "broker", "enqueued %d poison jobs (batch %s)" % (count, batch)

    def revert(self, handle, fault, target):
        try:
            h = json.loads(handle)
            op = h["op"]
        except (ValueError, KeyError, TypeError):
            raise Refused("handle %s is not one this plugin made" % json.dumps(handle[:80]))
        try:
            if op == PROCESS_PAUSE:
                ident = clusterlib.Identity.from_json(h)
                if ident.signal(signal.SIGCONT):
                    self.changes.notify()
                    return "resumed %s (pid %d, SIGCONT)" % (h["node"], ident.pid)
                return "%s (pid %d) is gone: nothing to resume" % (h["node"], ident.pid)
            if op == PROCESS_KILL:
                return self._restart(h)
            if op == POISON_JOBS:
                return self._unpoison(h)
        except KeyError as e:
            raise Refused("handle %s lacks %s" % (json.dumps(handle[:80]), e))
        raise Refused("handle %s names no fault this plugin makes" % json.dumps(handle[:80]))

    def _restart(self, h):
        with self.lock:
            c = self.cluster
            if c is None or c.run != h["run"]:
                return "the cluster %s ran in is gone: nothing to start again" % h["node"]
            current = c.identity(h["node"])
            if current is not None and current.alive() and current.pid != h["pid"]:
                return "%s already runs again (pid %d)" % (h["node"], current.pid)
            if current is not None and current.alive():
                return "%s (pid %d) was not killed: nothing to start again" % (h["node"], current.pid)
            ident = c.start_node(h["node"])
        self.changes.notify()
        return "started %s again (pid %d)" % (h["node"], ident.pid)

    def _unpoison(self, h):
        client = Client(h["broker"], timeout=2.0)
        try:
            if client.call({"op": "stats"}).get("run") != h["run"]:
                return "the broker of batch %s is gone: nothing to remove" % h["batch"]
            r = client.call({"op": "purge", "batch": h["batch"]})
        except OSError:
            return "the broker of batch %s is gone: nothing to remove" % h["batch"]
        finally:
            client.close()
        self.changes.notify()
        if not r.get("purged"):
            return "the %d poison jobs of batch %s were already removed" % (h["count"], h["batch"])
        return "removed %d poison jobs (%d from the dead-letter queue)" % (r["purged"], r["dead"])

    # -- health --

    def _stats(self):
        """The broker's stats, or None when it does not answer (quickly)."""
        c = self.cluster
        if c is None or not c.broker_addr:
            return None
        with self.client_lock:
            if self.client is None or self.client.addr[1] != int(c.broker_addr.rsplit(":", 1)[1]):
                self._close_client_locked()
                self.client = Client(c.broker_addr, timeout=0.3)
            try:
                return self.client.call({"op": "stats"})
            except OSError:
                return None

    def _close_client(self):
        with self.client_lock:
            self._close_client_locked()

    def _close_client_locked(self):
        if self.client is not None:
            self.client.close()
            self.client = None

    def health(self):
        c = self.cluster
        if c is None:
            raise RuntimeError("the cluster is not set up")
        stats = self._stats()
        now = time.time()
        snap = pb.HealthSnapshot()
        snap.taken_at.GetCurrentTime()
        raised = []

        def violation(invariant, severity, target, message):
            raised.append((invariant, severity, target, message))

        seen = (stats or {}).get("workers", {})
        quiet = max(1.0, 5 * self.opts["work"])
        for name in c.names():
            ident = c.identity(name)
            role = c.role(name)
            node = pb.Node(id=name, name=name, role=role, address="pid %d" % ident.pid if ident else "")
            if ident is None or not ident.alive():
                node.state, node.detail = pb.DOWN, "process gone"
                violation(role + "_down", pb.CRITICAL, name, "%s is not running" % name)
            elif ident.stopped():
                node.state, node.detail = pb.PAUSED, "stopped (SIGSTOP)"
                violation("node_paused", pb.WARNING, name, "%s is frozen" % name)
            elif role == "broker":
                node.address = c.broker_addr
                if stats is None:
                    node.state, node.detail = pb.DEGRADED, "not answering"
                else:
                    node.state, node.detail = pb.UP, "%d queued, %d in flight" % (stats["backlog"], stats["in_flight"])
            elif role == "worker" and stats is not None:
                w = seen.get(name)
                if w is None or w["idle"] > quiet:
                    node.state, node.detail = pb.DEGRADED, "not asking for jobs"
                else:
                    node.state, node.detail = pb.UP, "holds %d job%s" % (w["held"], "" if w["held"] == 1 else "s")
            else:
                node.state = pb.UP
            snap.nodes.append(node)
        broker = c.identity("broker")
        if stats is None and broker is not None and broker.alive():
            violation("broker_unreachable", pb.CRITICAL, "broker", "the broker does not answer")
        if stats is not None:
            counts = stats["counts"]
            for name, value, unit, kind in (
                    ("backlog", stats["backlog"], "jobs", pb.GAUGE),
                    ("in_flight", stats["in_flight"], "jobs", pb.GAUGE),
                    ("throughput", stats["throughput"], "jobs/s", pb.RATE),
                    ("processed", counts.get("processed", 0), "jobs", pb.COUNTER),
                    ("redelivered", counts.get("redelivered", 0), "jobs", pb.COUNTER),
                    ("dead_letters", stats["dead"], "jobs", pb.GAUGE)):
                snap.metrics.append(pb.Metric(name=name, value=value, unit=unit, kind=kind))
            snap.counters.append(pb.Counter(key="backlog", count=stats["backlog"], limit=self.opts["backlog_limit"]))
            snap.counters.append(pb.Counter(key="dead letters", count=stats["dead"], limit=0))
            if stats["backlog"] > self.opts["backlog_limit"]:
                violation("backlog_high", pb.WARNING, "", "%d jobs queued, over the limit of %d"
                          % (stats["backlog"], self.opts["backlog_limit"]))
            if stats["dead"]:
                violation("dead_letter", pb.CRITICAL, "", "%d jobs in the dead-letter queue after %d deliveries"
                          % (stats["dead"], self.opts["max_deliveries"]))
            total = counts.get("redelivered", 0)
            with self.health_lock:
                if total > self.redelivered[0]:
                    self.redelivered = (total, now)
                grew_at = self.redelivered[1]
            if now - grew_at < REDELIVERY_WINDOW:
                violation("job_redelivered", pb.WARNING, "",
                          "jobs delivered again: their lease ran out or they failed (%d so far)" % total)
        with self.health_lock:
            keys = {(invariant, target) for invariant, _, target, _ in raised}
            for key in set(self.since) - keys:
                del self.since[key]
            for invariant, severity, target, message in raised:
                v = pb.Violation(invariant=invariant, severity=severity, target=target, message=message)
                v.since.FromNanoseconds(int(self.since.setdefault((invariant, target), now) * 1e9))
                snap.violations.append(v)
        return snap


def _wait(cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)


def main():
    from .protocol import serve

    serve(JobQueue())


if __name__ == "__main__":
    sys.exit(main())
