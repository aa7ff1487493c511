#!/usr/bin/env python3
"""Runs ops/caddy/Caddyfile for real on loopback, in front of a fake Steward.

Used by ops/check. The Caddyfile is copied with only what one machine needs
changed (the site name becomes `localhost`, which Caddy serves with its own
internal CA instead of ACME; ports, paths, the Prometheus address becomes
127.0.0.1, the upstream a local fake), then checked through HTTPS:

  * responses carry the security headers and no Server header;
  * /metrics answers only the Prometheus address with the right bearer token;
  * the event stream (SSE) reaches the client event by event, uncompressed;
  * other responses are compressed; oversized request bodies are refused.

Contacts nothing but 127.0.0.1/127.0.0.2. Usage: check_proxy.py [CADDY_BINARY]
"""

import http.client
import http.server
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CADDY = sys.argv[1] if len(sys.argv) > 1 else shutil.which("caddy") or "caddy"
HTTPS_PORT, HTTP_PORT, UPSTREAM_PORT = 24443, 24080, 24880
TOKEN = "check-token-" + os.urandom(8).hex()
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def replace_once(text, old, new):
    if text.count(old) != 1:
        raise SystemExit(f"check_proxy: expected exactly one {old!r} in the Caddyfile")
    return text.replace(old, new)


class FakeSteward(http.server.BaseHTTPRequestHandler):
    """Answers like `steward serve` would: a page, metrics, an SSE stream."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/api/v1/events/stream":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for n in (1, 2):
                self.wfile.write(f"id: {n}\nevent: appended\ndata: {{\"n\":{n}}}\n\n".encode())
                self.wfile.flush()
                time.sleep(1.5)
            return
        body = (b"# TYPE steward_up gauge\nsteward_up 1\n" if self.path == "/metrics"
                else b"<!doctype html><title>Steward</title>" + b"<p>steward</p>" * 200)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain" if self.path == "/metrics" else "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    posted = []  # lengths of the bodies Steward received in full

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        if len(self.rfile.read(length)) == length:
            FakeSteward.posted.append(length)
        self.send_response(204)
        self.end_headers()


class LocalhostTLS(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but asks for the certificate of `localhost`."""

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname="localhost")


def request(method, path, headers=None, body=None, source="127.0.0.1", raw=False):
    context = ssl._create_unverified_context()  # Caddy's throwaway internal CA
    conn = LocalhostTLS("127.0.0.1", HTTPS_PORT, context=context, timeout=10,
                        source_address=(source, 0))
    conn.request(method, path, body=body, headers={"Host": "localhost", **(headers or {})})
    response = conn.getresponse()
    if raw:
        return conn, response
    data = response.read()
    conn.close()
    return response, data


def main():
    work = Path(tempfile.mkdtemp(prefix="steward-caddy-check-"))
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", UPSTREAM_PORT), FakeSteward)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    caddy = None
    try:
        text = (HERE / "Caddyfile").read_text()
        text = replace_once(text, "\tadmin localhost:2019\n",
                            f"\tadmin off\n\tskip_install_trust\n\tstorage file_system {work}/data\n"
                            f"\thttp_port {HTTP_PORT}\n\thttps_port {HTTPS_PORT}\n")
        text = replace_once(text, "\nsteward.example.org {", "\nlocalhost {")
        text = replace_once(text, "/var/log/caddy/steward.access.log", f"{work}/access.log")
        text = replace_once(text, "remote_ip 10.0.0.50/32", "remote_ip 127.0.0.1/32")
        text = text.replace("127.0.0.1:8080", f"127.0.0.1:{UPSTREAM_PORT}")
        (work / "Caddyfile").write_text(text)
        env = {**os.environ, "STEWARD_METRICS_TOKEN": TOKEN, "HOME": str(work),
               "XDG_DATA_HOME": str(work / "data"), "XDG_CONFIG_HOME": str(work / "config")}

        valid = subprocess.run([CADDY, "validate", "--config", str(HERE / "Caddyfile"), "--adapter", "caddyfile"],
                               capture_output=True, text=True, env=env)
        check(valid.returncode == 0, "caddy validate accepts the Caddyfile as written"
              + ("" if valid.returncode == 0 else f": {valid.stderr.strip()[-400:]}"))

        caddy = subprocess.Popen([CADDY, "run", "--config", str(work / "Caddyfile"), "--adapter", "caddyfile"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=open(work / "caddy.log", "w"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                request("GET", "/")
                break
            except OSError:
                time.sleep(0.3)

        response, page = request("GET", "/", {"Accept-Encoding": "gzip"})
        check(response.status == 200, "a page is proxied to Steward")
        headers = {k.lower(): v for k, v in response.getheaders()}
        for name in ("strict-transport-security", "x-content-type-options", "x-frame-options",
                     "referrer-policy", "content-security-policy", "permissions-policy"):
            check(name in headers, f"pages carry {name}")
        check("server" not in headers, "no Server header")
        check(headers.get("content-encoding") == "gzip", "pages are compressed")

        response, body = request("GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"})
        check(response.status == 200 and b"steward_up 1" in body,
              "/metrics answers the Prometheus address with the token")
        response, _ = request("GET", "/metrics")
        check(response.status == 404, "/metrics without a token: 404")
        response, _ = request("GET", "/metrics", {"Authorization": "Bearer wrong"})
        check(response.status == 404, "/metrics with a wrong token: 404")
        response, _ = request("GET", "/metrics", {"Authorization": f"Bearer {TOKEN}"}, source="127.0.0.2")
        check(response.status == 404, "/metrics from another address, even with the token: 404")

        started = time.monotonic()
        conn, response = request("GET", "/api/v1/events/stream",
                                 {"Accept": "text/event-stream", "Accept-Encoding": "gzip"}, raw=True)
        headers = {k.lower(): v for k, v in response.getheaders()}
        check("content-encoding" not in headers, "the event stream is not compressed")
        first = b""
        while not first.endswith(b"\n\n"):
            chunk = response.read1(1024) if hasattr(response, "read1") else response.read(1)
            if not chunk:
                break
            first += chunk
        elapsed = time.monotonic() - started
        check(b'data: {"n":1}' in first and elapsed < 1.2,
              f"the first event arrives before the next is sent ({elapsed:.2f} s): no buffering")
        conn.close()

        response, _ = request("POST", "/api/v1/events", {"Content-Type": "application/json"}, body=b"x" * 1024)
        check(response.status == 204, "a small request body passes")
        FakeSteward.posted.clear()
        response, _ = request("POST", "/api/v1/events", {"Content-Type": "application/json"},
                              body=b"x" * (5 * 1024 * 1024))
        # Caddy 2.6 answers 502 when the limit cuts the proxied body off.
        check(response.status in (413, 502) and not FakeSteward.posted,
              f"a 5 MiB request body is refused and never reaches Steward (status {response.status})")

        log = (work / "access.log").read_text() if (work / "access.log").exists() else ""
        check('"uri":"/metrics"' in log, "requests are written to the JSON access log")
    finally:
        if caddy is not None:
            caddy.terminate()
            try:
                caddy.wait(timeout=15)
            except subprocess.TimeoutExpired:
                caddy.kill()
            if failures and (work / "caddy.log").exists():
                print("--- caddy log (tail)\n" + "\n".join((work / "caddy.log").read_text().splitlines()[-15:]))
        upstream.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"caddy check: {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
