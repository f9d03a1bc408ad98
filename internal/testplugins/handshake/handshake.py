#!/usr/bin/python3
"""A test plugin in Python that gets one part of the handshake wrong, as
$HANDSHAKE_FAULT says (docs/PROTOCOL.md), so host tests see what demohost
says to a grpcio server (BoringSSL), not only to Go's:

    python-plaintext   no TLS, and no certificate in the handshake line
    python-client-ca   trusts its own certificate as the client CA, not
                       PLUGIN_CLIENT_CERT
    anything else      nothing wrong

The certificate comes from plugins/jobqueue, the Python plugin in the repo.
"""
import base64
import os
import signal
import sys
import tempfile
import threading
from concurrent import futures

import grpc

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "..", "..", "plugins", "jobqueue"))
from jobqueue.protocol import COOKIE_KEY, COOKIE_VALUE, self_signed_localhost  # noqa: E402


def main():
    fault = os.environ.get("HANDSHAKE_FAULT", "")
    if os.environ.get(COOKIE_KEY) != COOKIE_VALUE:
        sys.exit("handshake.py: started without the demohost cookie")
    key_pem, cert_pem, cert_der = self_signed_localhost()
    workdir = tempfile.mkdtemp(prefix="handshake-py-")
    sock = os.path.join(workdir, "plugin.sock")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(
            lambda request, context: b"\x08\x01", request_deserializer=lambda b: b, response_serializer=lambda b: b),
    }),))
    if fault == "python-plaintext":
        server.add_insecure_port("unix:" + sock)
        cert_field = ""
    else:
        client_ca = cert_pem if fault == "python-client-ca" else os.environ["PLUGIN_CLIENT_CERT"].encode()
        creds = grpc.ssl_server_credentials([(key_pem, cert_pem)], root_certificates=client_ca,
                                            require_client_auth=True)
        server.add_secure_port("unix:" + sock, creds)
        cert_field = base64.b64encode(cert_der).decode().rstrip("=")
    server.start()
    print("1|2|unix|%s|grpc|%s" % (sock, cert_field), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    parent = os.getppid()
    while not stop.wait(0.1) and os.getppid() == parent:
        pass
    server.stop(0)
    os.remove(sock)
    os.rmdir(workdir)


if __name__ == "__main__":
    main()
