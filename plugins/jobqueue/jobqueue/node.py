"""One process of the job-queue cluster: the broker, a worker or the producer.

    node.py broker   --run RUN --lease SECONDS --max-deliveries N
    node.py worker   --run RUN --name worker-1 --broker HOST:PORT --work SECONDS
    node.py producer --run RUN --broker HOST:PORT --rate JOBS_PER_SECOND

The broker keeps jobs in memory and leases each to one worker at a time: a
job not acknowledged within its lease (the worker died or froze) goes back
to the queue, and one delivered max-deliveries times without success goes
to the dead-letter queue. It speaks one JSON object per line over TCP on
loopback and prints "ready PORT" on stdout once it listens.

Every node dies with the plugin that started it: it asks the kernel for
SIGKILL when its parent ends, and exits if its parent is not the plugin
(--run carries the plugin's pid). Standard library only.
"""

import argparse
import collections
import ctypes
import json
import os
import signal
import socket
import socketserver
import sys
import threading
import time

PR_SET_PDEATHSIG = 1


def die_with_parent(plugin_pid):
    """SIGKILL when the parent ends; exit now if it already has."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != plugin_pid:
        sys.exit(0)

    def watch():  # belt and braces: the kernel's signal is per thread
        while True:
            time.sleep(0.2)
            if os.getppid() != plugin_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def log(role, level, message, **fields):
    fields.update({"@level": level, "@message": message, "node": role})
    try:
        sys.stderr.write(json.dumps(fields) + "\n")
        sys.stderr.flush()
    except OSError:
        pass


class Broker:
    def __init__(self, run, lease, max_deliveries):
        self.run = run
        self.lease = lease
        self.max_deliveries = max_deliveries
        self.lock = threading.Lock()
        self.queue = collections.deque()  # ready job ids
        self.jobs = {}  # id -> {"poison": bool, "batch": str, "deliveries": int}
        self.leases = {}  # id -> (worker, deadline)
        self.dead = []  # dead-lettered ids
        self.seen = {}  # worker -> last time it asked for work
        self.next_id = 1
        self.counts = collections.Counter()  # enqueued, processed, redelivered, dead_lettered, failed
        self.done_times = collections.deque()  # when each of the last jobs was processed

    def expire(self):
        while True:
            time.sleep(0.05)
            now = time.monotonic()
            with self.lock:
                for jid, (worker, deadline) in list(self.leases.items()):
                    if deadline <= now:
                        del self.leases[jid]
                        self._retry(jid)

    def _retry(self, jid):
        """Puts a job back, or in the dead-letter queue after its last try."""
        job = self.jobs[jid]
        if job["deliveries"] >= self.max_deliveries:
            self.dead.append(jid)
            self.counts["dead_lettered"] += 1
        else:
            self.queue.appendleft(jid)
            self.counts["redelivered"] += 1

    def handle(self, req):
        op = req.get("op")
        now = time.monotonic()
        with self.lock:
            if op == "put":
                for j in req.get("jobs", []):
                    jid = self.next_id
                    self.next_id += 1
                    self.jobs[jid] = {"poison": bool(j.get("poison")), "batch": j.get("batch", ""), "deliveries": 0}
                    self.queue.append(jid)
                    self.counts["enqueued"] += 1
                return {"ok": True}
            if op == "get":
                worker = req.get("worker", "")
                self.seen[worker] = now
                out = []
                while self.queue and len(out) < req.get("max", 1):
                    jid = self.queue.popleft()
                    if jid not in self.jobs:
                        continue
                    self.jobs[jid]["deliveries"] += 1
                    self.leases[jid] = (worker, now + self.lease)
                    out.append({"id": jid, "poison": self.jobs[jid]["poison"]})
                return {"jobs": out}
            if op == "ack":
                jid = req.get("id")
                if self.leases.pop(jid, None) is not None:
                    self.jobs.pop(jid, None)
                    self.counts["processed"] += 1
                    self.done_times.append(now)
                return {"ok": True}
            if op == "nack":
                jid = req.get("id")
                if self.leases.pop(jid, None) is not None:
                    self.counts["failed"] += 1
                    self._retry(jid)
                return {"ok": True}
            if op == "purge":
                batch = req.get("batch")
                ids = {jid for jid, j in self.jobs.items() if batch and j["batch"] == batch}
                dead = sum(1 for jid in self.dead if jid in ids)
                self.dead = [jid for jid in self.dead if jid not in ids]
                self.queue = collections.deque(jid for jid in self.queue if jid not in ids)
                for jid in ids:
                    self.leases.pop(jid, None)
                    self.jobs.pop(jid, None)
                return {"purged": len(ids), "dead": dead}
            if op == "stats":
                while self.done_times and self.done_times[0] < now - 1:
                    self.done_times.popleft()
                held = collections.Counter(worker for worker, _ in self.leases.values())
                return {
                    "run": self.run,
                    "backlog": len(self.queue),
                    "in_flight": len(self.leases),
                    "dead": len(self.dead),
                    "throughput": len(self.done_times),
                    "counts": dict(self.counts),
                    "workers": {w: {"idle": round(now - t, 3), "held": held.get(w, 0)} for w, t in self.seen.items()},
                }
        return {"error": "unknown op %r" % op}


def serve_broker(args):
    broker = Broker(args.run, args.lease, args.max_deliveries)
    threading.Thread(target=broker.expire, daemon=True).start()

    class Handler(socketserver.StreamRequestHandler):
        def handle(self):
            for line in self.rfile:
                try:
                    resp = broker.handle(json.loads(line))
                except (ValueError, AttributeError) as e:
                    resp = {"error": str(e)}
                self.wfile.write((json.dumps(resp) + "\n").encode())
                self.wfile.flush()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    print("ready %d" % server.server_address[1], flush=True)
    log("broker", "info", "broker listening", port=server.server_address[1])
    server.serve_forever()


class Client:
    """A connection to the broker that reconnects when it breaks."""

    def __init__(self, addr, timeout=1.0):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.timeout = timeout
        self.sock = None
        self.rfile = None

    def call(self, req):
        try:
            if self.sock is None:
                self.sock = socket.create_connection(self.addr, timeout=self.timeout)
                self.rfile = self.sock.makefile("rb")
            self.sock.sendall((json.dumps(req) + "\n").encode())
            line = self.rfile.readline()
            if not line:
                raise OSError("broker closed the connection")
            return json.loads(line)
        except (OSError, ValueError):
            self.close()
            raise OSError("broker unreachable")

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = self.rfile = None


# A node waits this long for the broker: through a freeze, rather than
# giving up on a request the broker may still carry out (a retried put
# would enqueue its jobs twice).
NODE_TIMEOUT = 10.0


def run_worker(args):
    client = Client(args.broker, NODE_TIMEOUT)
    while True:
        try:
            jobs = client.call({"op": "get", "worker": args.name, "max": 2})["jobs"]
        except OSError:
            time.sleep(0.1)
            continue
        if not jobs:
            time.sleep(0.02)
            continue
        for job in jobs:
            time.sleep(args.work)
            op = "ack"
            if job["poison"]:
                log(args.name, "warn", "job failed: poison", job=job["id"])
                op = "nack"
            try:
                client.call({"op": op, "worker": args.name, "id": job["id"]})
            except OSError:
                pass


def run_producer(args):
    """Offers rate jobs a second, open loop: jobs the broker cannot take
    wait here and go out when it answers again."""
    client = Client(args.broker, NODE_TIMEOUT)
    pending = 0
    tick = 0.1
    next_at = time.monotonic()
    while True:
        next_at += tick
        pending += args.rate * tick
        whole = int(pending)
        if whole:
            try:
                client.call({"op": "put", "jobs": [{}] * whole})
                pending -= whole
            except OSError:
                pass
        time.sleep(max(0.0, next_at - time.monotonic()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("role", choices=["broker", "worker", "producer"])
    p.add_argument("--run", required=True, help="PLUGINPID-RANDOM: the plugin run this node belongs to")
    p.add_argument("--name", default="")
    p.add_argument("--broker", default="")
    p.add_argument("--lease", type=float, default=1.0)
    p.add_argument("--max-deliveries", type=int, default=3)
    p.add_argument("--work", type=float, default=0.1)
    p.add_argument("--rate", type=float, default=20.0)
    args = p.parse_args()
    die_with_parent(int(args.run.split("-")[0]))
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    {"broker": serve_broker, "worker": run_worker, "producer": run_producer}[args.role](args)


if __name__ == "__main__":
    main()
