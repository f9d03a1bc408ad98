"""The job-queue cluster as child processes of the plugin, and the records
that let a later plugin process clean up after a dead one.

Each plugin process that starts a cluster writes a state file naming itself
(pid and kernel start time) and every node it started. Teardown in a
process that never ran Setup reads the files of plugin processes that are
gone and kills what they left (docs/PROTOCOL.md, "Setup and Teardown").
A process is only ever signalled when its pid, its start time and the run
id on its command line all match: never a process that merely reused a pid.
"""

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

NODE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node.py")
PYTHON = sys.executable or "/usr/bin/python3"


def state_dir():
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "demohost", "jobqueue")


def start_time(pid):
    """The kernel's start time of pid (field 22 of /proc/PID/stat), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])


def proc_state(pid):
    """The state letter of pid (R, S, T, Z, ...), or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


class Identity:
    """One process run: pid, start time and the run id on its command line."""

    def __init__(self, pid, start, run):
        self.pid, self.start, self.run = pid, start, run

    def to_json(self):
        return {"pid": self.pid, "start": self.start, "run": self.run}

    @classmethod
    def from_json(cls, d):
        return cls(int(d["pid"]), int(d["start"]), str(d.get("run", "")))

    def alive(self):
        """Whether this very process still exists (a zombie does not count)."""
        if start_time(self.pid) != self.start or proc_state(self.pid) in (None, "Z", "X"):
            return False
        if not self.run:
            return True
        try:
            with open("/proc/%d/cmdline" % self.pid, "rb") as f:
                return self.run.encode() in f.read().split(b"\0")
        except OSError:
            return False

    def stopped(self):
        return self.alive() and proc_state(self.pid) == "T"

    def signal(self, sig):
        """Signals the process if it is still this one; False if it is gone."""
        if not self.alive():
            return False
        try:
            os.kill(self.pid, sig)
            return True
        except ProcessLookupError:
            return False


class Spawner:
    """Starts every child from one thread that lives as long as the plugin:
    a child's parent-death signal fires when the thread that started it
    ends (docs/PROTOCOL.md, "Duties")."""

    def __init__(self):
        self.requests = queue.Queue()
        threading.Thread(target=self._loop, name="spawner", daemon=True).start()

    def _loop(self):
        while True:
            argv, kwargs, reply = self.requests.get()
            try:
                reply.put((subprocess.Popen(argv, **kwargs), None))
            except OSError as e:
                reply.put((None, e))

    def popen(self, argv, **kwargs):
        reply = queue.Queue(1)
        self.requests.put((argv, kwargs, reply))
        proc, err = reply.get()
        if err is not None:
            raise err
        return proc


SPAWNER = Spawner()


class Cluster:
    """A broker, a producer and N workers on loopback, children of this
    plugin process. changed() is called whenever a node exits."""

    def __init__(self, opts, log, changed):
        self.opts = opts
        self.log = log
        self.changed = changed
        self.run = "%d-%s" % (os.getpid(), secrets.token_hex(4))
        self.dir = tempfile.mkdtemp(prefix="demohost-jobqueue-")
        self.lock = threading.Lock()
        self.nodes = {}  # name -> Identity
        self.procs = {}  # name -> Popen
        self.broker_addr = ""
        me = Identity(os.getpid(), start_time(os.getpid()), "")
        self.state_file = os.path.join(state_dir(), "%d-%d.json" % (me.pid, me.start))
        self.me = me

    def names(self):
        return ["broker", "producer"] + ["worker-%d" % i for i in range(1, self.opts["workers"] + 1)]

    def role(self, name):
        return name.split("-")[0]

    def argv(self, name):
        o = self.opts
        role = self.role(name)
        argv = [PYTHON, NODE, role, "--run", self.run]
        if role == "broker":
            argv += ["--lease", str(o["lease"]), "--max-deliveries", str(o["max_deliveries"])]
        elif role == "worker":
            argv += ["--name", name, "--broker", self.broker_addr, "--work", str(o["work"])]
        else:
            argv += ["--broker", self.broker_addr, "--rate", str(o["rate"])]
        return argv

    def start_node(self, name):
        """Starts (or starts again) one node and records it."""
        logf = open(os.path.join(self.dir, name + ".log"), "ab")
        stdout = subprocess.PIPE if name == "broker" else subprocess.DEVNULL
        proc = SPAWNER.popen(self.argv(name), stdin=subprocess.DEVNULL, stdout=stdout, stderr=logf, close_fds=True)
        logf.close()
        if name == "broker":
            line = _readline(proc.stdout, 5.0)
            if not line.startswith("ready "):
                proc.kill()
                raise RuntimeError("the broker did not start: see %s" % os.path.join(self.dir, "broker.log"))
            self.broker_addr = "127.0.0.1:" + line.split()[1]
        ident = Identity(proc.pid, start_time(proc.pid), self.run)
        with self.lock:
            self.nodes[name] = ident
            self.procs[name] = proc
        self.save()
        threading.Thread(target=self._wait, args=(name, proc), daemon=True).start()
        return ident

    def _wait(self, name, proc):
        code = proc.wait()
        self.log("info", "node exited", node=name, code=code)
        self.changed()

    def start(self, progress):
        os.makedirs(state_dir(), exist_ok=True)
        self.save()
        for name in self.names():
            ident = self.start_node(name)
            progress("started %s (pid %d)" % (name, ident.pid))

    def save(self):
        with self.lock:
            state = {"plugin": self.me.to_json(), "run": self.run, "dir": self.dir,
                     "nodes": {n: i.to_json() for n, i in self.nodes.items()}}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, self.state_file)

    def identity(self, name):
        with self.lock:
            return self.nodes.get(name)

    def stop(self, progress):
        """Stops every node (SIGCONT first, so a frozen one can die), then
        removes the records."""
        with self.lock:
            nodes = dict(self.nodes)
        for name, ident in nodes.items():
            ident.signal(signal.SIGCONT)
            ident.signal(signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(i.alive() for i in nodes.values()) and time.monotonic() < deadline:
            time.sleep(0.02)
        for name, ident in nodes.items():
            progress("stopped %s (pid %d)" % (name, ident.pid))
        shutil.rmtree(self.dir, ignore_errors=True)
        try:
            os.remove(self.state_file)
        except FileNotFoundError:
            pass


def _readline(pipe, timeout):
    """Reads one line from pipe within timeout ("" if none came)."""
    box = queue.Queue(1)
    threading.Thread(target=lambda: box.put(pipe.readline()), daemon=True).start()
    try:
        return box.get(timeout=timeout).decode(errors="replace").strip()
    except queue.Empty:
        return ""


def reap_dead(progress):
    """Kills what plugin processes that are gone left, and removes their
    records; returns how many records it cleaned. Records of live plugin
    processes are left alone."""
    cleaned = 0
    try:
        files = sorted(os.listdir(state_dir()))
    except FileNotFoundError:
        return 0
    for fname in files:
        path = os.path.join(state_dir(), fname)
        if not fname.endswith(".json"):
            continue
        try:
            with open(path) as f:
                state = json.load(f)
            owner = Identity.from_json(state["plugin"])
        except (OSError, ValueError, KeyError):
            continue
        if owner.alive():
            continue
        for name, d in state.get("nodes", {}).items():
            ident = Identity.from_json(d)
            if ident.signal(signal.SIGCONT) and ident.signal(signal.SIGKILL):
                progress("killed %s (pid %d) left by dead plugin process %d" % (name, ident.pid, owner.pid))
        if state.get("dir", "").startswith(tempfile.gettempdir()):
            shutil.rmtree(state["dir"], ignore_errors=True)
        os.remove(path)
        cleaned += 1
    return cleaned
