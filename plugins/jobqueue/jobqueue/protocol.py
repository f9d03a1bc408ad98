"""The plugin side of the demohost plugin protocol (docs/PROTOCOL.md), for a
subject written in Python: the cookie, the handshake line, mutual TLS, the
gRPC services, the call order, errors as one-line statuses, a health
stream that pushes changes and never fails, and the duties on every way
out (revert, tear down, exit in bounded time). subject.py is the subject
itself; this file knows nothing about job queues.
"""

import base64
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from concurrent import futures

import grpc
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "gen"))
from demohost.v2 import subject_pb2 as pb  # noqa: E402  (generated, see generate.sh)
from demohost.v2 import subject_pb2_grpc as pb_grpc  # noqa: E402

COOKIE_KEY = "DEMOHOST_PLUGIN"
COOKIE_VALUE = "subject-v1-5c1e0b7a"
PROTOCOL_VERSION = 2
CLEANUP_TIMEOUT = 20.0  # docs/PROTOCOL.md, "Duties" 4
PARENT_POLL = 0.1
MIN_HEALTH_INTERVAL = 0.01
SAMPLE_EVERY = 0.05  # how often the health stream looks for a change


def log(level, message, **fields):
    """One JSON line on stderr: demohost's log file (docs/PROTOCOL.md, "Logging")."""
    fields.update({"@level": level, "@message": message})
    try:
        sys.stderr.write(json.dumps(fields, default=str) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass  # the host is gone; reverting matters more than this line


def one_line(text):
    return " ".join(str(text).split())


class Refused(Exception):
    """A request refused as invalid: INVALID_ARGUMENT."""


class NotFound(Exception):
    """No such thing (a chapter id): NOT_FOUND."""


class Fatal(Exception):
    """An error that must end the run: ABORTED."""


def _status(exc):
    if isinstance(exc, Refused):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(exc, NotFound):
        return grpc.StatusCode.NOT_FOUND
    if isinstance(exc, Fatal):
        return grpc.StatusCode.ABORTED
    return grpc.StatusCode.UNKNOWN


class Notifier:
    """Wakes every waiter when something changed."""

    def __init__(self):
        self.cond = threading.Condition()
        self.generation = 0

    def notify(self):
        with self.cond:
            self.generation += 1
            self.cond.notify_all()

    def wait(self, since, timeout):
        """Waits up to timeout for a change after generation since."""
        with self.cond:
            self.cond.wait_for(lambda: self.generation != since, timeout)
            return self.generation


class Servicer(pb_grpc.SubjectServicer):
    """demohost.v2.Subject over a subject object (see subject.py for the
    methods it calls). It keeps the call order, turns exceptions into
    one-line statuses and remembers what must be undone on the way out."""

    def __init__(self, subject):
        self.subject = subject
        self.lock = threading.Lock()
        self.configured = False
        self.active = {}  # handle -> (fault, target), in injection order
        self.set_up = False
        self.cleaned = threading.Event()

    # -- helpers --

    def _ready(self, call, context):
        with self.lock:
            if not self.configured:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              "%s before Configure: the host must call Configure first (docs/PROTOCOL.md, call order)" % call)

    def _fail(self, context, exc):
        if not isinstance(exc, (Refused, NotFound, Fatal)):
            log("error", "call failed", error=repr(exc), trace=traceback.format_exc())
        context.abort(_status(exc), one_line(exc) or type(exc).__name__)

    def _stream(self, call, context, lines):
        """Streams (severity, message) pairs from lines as Progress."""
        try:
            for severity, message in lines:
                if not context.is_active():
                    return
                yield pb.Progress(message=one_line(message), severity=severity)
        except Exception as exc:  # noqa: BLE001 (every failure is a status)
            self._fail(context, exc)

    # -- the service --

    def Describe(self, request, context):
        try:
            return self.subject.describe()
        except Exception as exc:  # noqa: BLE001
            self._fail(context, exc)

    def Configure(self, request, context):
        try:
            self.subject.configure(dict(request.options))
        except Exception as exc:  # noqa: BLE001
            self._fail(context, exc if isinstance(exc, (Refused, Fatal)) else Refused(str(exc)))
        with self.lock:
            self.configured = True
        return pb.ConfigureResponse()

    def Chapters(self, request, context):
        self._ready("Chapters", context)
        try:
            return pb.ChaptersResponse(chapters=self.subject.chapters())
        except Exception as exc:  # noqa: BLE001
            self._fail(context, exc)

    def Setup(self, request, context):
        self._ready("Setup", context)
        with self.lock:
            self.set_up = True  # even a failed Setup may have started something
        yield from self._stream("Setup", context, self.subject.setup())

    def Teardown(self, request, context):
        self._ready("Teardown", context)
        with self.lock:
            set_up = self.set_up
        yield from self._stream("Teardown", context, self.subject.teardown(set_up))
        with self.lock:
            self.set_up = False

    def EnterChapter(self, request, context):
        self._ready("EnterChapter", context)
        yield from self._stream("EnterChapter", context, self.subject.action(request.chapter_id, context.is_active))

    def InjectChaos(self, request, context):
        self._ready("InjectChaos", context)
        try:
            handle, target, detail = self.subject.inject(request.fault)
        except Exception as exc:  # noqa: BLE001
            self._fail(context, exc)
        with self.lock:
            self.active[handle] = (request.fault, target)
        log("info", "chaos injected", kind=request.fault.kind, target=target, handle=handle)
        return pb.InjectChaosResponse(handle=handle, target=target, detail=one_line(detail))

    def RevertChaos(self, request, context):
        self._ready("RevertChaos", context)
        try:
            detail = self.subject.revert(request.handle, request.fault, request.target)
        except Exception as exc:  # noqa: BLE001
            self._fail(context, exc)
        with self.lock:
            self.active.pop(request.handle, None)
        log("info", "chaos reverted", kind=request.fault.kind, target=request.target, detail=detail)
        return pb.RevertChaosResponse(detail=one_line(detail))

    def _health(self):
        try:
            return self.subject.health()
        except Exception as exc:  # noqa: BLE001 (an outage is a snapshot, never a failed stream)
            snap = pb.HealthSnapshot(error=one_line(exc))
            snap.taken_at.GetCurrentTime()
            return snap

    def GetHealth(self, request, context):
        self._ready("GetHealth", context)
        return self._health()

    def WatchHealth(self, request, context):
        """A snapshot at once, then on every change the subject reports or
        that sampling sees (states, violations, error), and at least every
        interval."""
        self._ready("WatchHealth", context)
        interval = 0.25
        if request.HasField("interval"):
            interval = max(request.interval.ToTimedelta().total_seconds(), MIN_HEALTH_INTERVAL)
        changes = self.subject.changes
        generation = changes.generation
        last_key, sent_at = None, 0.0
        while context.is_active():
            snap = self._health()
            key = _change_key(snap)
            now = time.monotonic()
            if key != last_key or now - sent_at >= interval:
                yield snap
                last_key, sent_at = key, now
            wait = min(SAMPLE_EVERY, max(interval - (time.monotonic() - sent_at), MIN_HEALTH_INTERVAL))
            generation = changes.wait(generation, wait)

    # -- the way out --

    def cleanup(self, why):
        """Reverts every fault still active, newest first, then tears down
        what Setup brought up. Runs once."""
        if self.cleaned.is_set():
            return
        self.cleaned.set()
        with self.lock:
            pending = list(self.active.items())[::-1]
            set_up = self.set_up
        log("warn", "reverting chaos and tearing down", why=why, faults=len(pending))
        for handle, (fault, target) in pending:
            try:
                detail = self.subject.revert(handle, fault, target)
                log("info", "chaos reverted on exit", kind=fault.kind, target=target, detail=detail)
            except Exception as exc:  # noqa: BLE001
                log("error", "revert on exit failed", kind=fault.kind, target=target, error=one_line(exc))
        if set_up:
            try:
                for _, message in self.subject.teardown(True):
                    log("info", "teardown: " + message)
            except Exception as exc:  # noqa: BLE001
                log("error", "teardown on exit failed", error=one_line(exc))


def _change_key(snap):
    """What makes a snapshot worth sending at once: node states,
    violations and the error (metrics move all the time)."""
    return (tuple((n.id, n.state) for n in snap.nodes),
            tuple(sorted((v.invariant, v.target) for v in snap.violations)),
            snap.error)


def self_signed_localhost():
    """A key and a self-signed CA certificate valid for DNS name localhost
    (docs/PROTOCOL.md, "Mutual TLS"): PEMs, and the DER."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert.public_bytes(serialization.Encoding.DER)


def _raw_handlers(on_shutdown):
    """The go-plugin services served without generated stubs: the health
    check (answer HealthCheckResponse{status: SERVING}, bytes 08 01) and
    GRPCController.Shutdown (empty in, empty out)."""
    health = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(
            lambda request, context: b"\x08\x01",
            request_deserializer=lambda b: b, response_serializer=lambda b: b),
    })

    def shutdown(request, context):
        on_shutdown()
        return b""

    controller = grpc.method_handlers_generic_handler("plugin.GRPCController", {
        "Shutdown": grpc.unary_unary_rpc_method_handler(
            shutdown, request_deserializer=lambda b: b, response_serializer=lambda b: b),
    })
    return (health, controller)


def serve(subject):
    """Runs the plugin until it is told to end or the host dies, then
    reverts, tears down and exits. Call it from main and nothing else:
    stdout carries the handshake line."""
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.stderr.write("this is a demohost subject plugin: run it with `demohost --plugin %s`\n" % sys.argv[0])
        sys.exit(1)
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", "")
    if str(PROTOCOL_VERSION) not in versions.split(","):
        log("error", "the host does not speak this plugin's protocol", host=versions, plugin=PROTOCOL_VERSION)
    client_pem = os.environ.get("PLUGIN_CLIENT_CERT", "").encode()
    if not client_pem:
        sys.stderr.write("PLUGIN_CLIENT_CERT is not set: demohost sets it; run the plugin through demohost\n")
        sys.exit(1)

    key_pem, cert_pem, cert_der = self_signed_localhost()
    workdir = tempfile.mkdtemp(prefix="demohost-jobqueue-plugin-")
    sock = os.path.join(workdir, "plugin.sock")
    stop = threading.Event()
    why = []

    def end(reason):
        if not why:
            why.append(reason)
        stop.set()

    servicer = Servicer(subject)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    pb_grpc.add_SubjectServicer_to_server(servicer, server)
    server.add_generic_rpc_handlers(_raw_handlers(lambda: end("shutdown by the host")))
    creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_pem,
                                        require_client_auth=True)
    if not server.add_secure_port("unix:" + sock, creds):
        sys.stderr.write("cannot listen on %s\n" % sock)
        sys.exit(1)
    server.start()

    signal.signal(signal.SIGTERM, lambda *_: end("SIGTERM"))
    signal.signal(signal.SIGHUP, lambda *_: end("SIGHUP"))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the host's Ctrl-C is the host's to handle
    parent = os.getppid()

    cert_field = base64.b64encode(cert_der).decode().rstrip("=")
    sys.stdout.write("1|%d|unix|%s|grpc|%s\n" % (PROTOCOL_VERSION, sock, cert_field))
    sys.stdout.flush()
    log("debug", "plugin serving", address=sock)

    while not stop.wait(PARENT_POLL):
        if os.getppid() != parent:
            end("the host is gone")

    done = threading.Thread(target=servicer.cleanup, args=(why[0],), daemon=True)
    done.start()
    done.join(CLEANUP_TIMEOUT)
    code = 0
    if done.is_alive():
        log("error", "cleanup did not finish in time; exiting with faults possibly still active",
            timeout=CLEANUP_TIMEOUT)
        code = 1
    server.stop(0.5)
    shutil.rmtree(workdir, ignore_errors=True)
    os._exit(code)
