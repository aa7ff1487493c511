#!/usr/bin/env python3
"""Runs ops/nats/ as a real three-node JetStream cluster on loopback.

Used by ops/check. It copies nats-1.conf ... nats-3.conf, accounts.conf and
a generated secrets.conf into a temporary directory, rewrites only what must
differ on one machine (host names to 127.0.0.1, ports, paths), makes a CA and
node certificates with openssl, then:

  1. `nats-server -t` accepts every node file;
  2. the three nodes form a cluster over mutual-TLS routes;
  3. steward-admin creates STEWARD_EVENTS from stream-steward-events.json,
     which the cluster accepts with three replicas;
  4. steward publishes events (deduplicated by Nats-Msg-Id, guarded by
     Nats-Expected-Last-Sequence) and reads the stream's last message, but
     cannot touch anything outside its permissions;
  5. steward-reader consumes through a durable pull consumer and cannot
     publish events; a wrong password and the unreplaced placeholder hashes
     of secrets.conf.example are refused;
  6. with OPS_STEWARD_BIN naming a built `steward`, `steward serve` relays
     events under the `steward` user's permissions (see steward_relay);
  7. with one node stopped, the stream still takes writes.

Needs nats-server (2.9+), openssl and the Python packages nats-py and bcrypt.
Contacts nothing but 127.0.0.1. Usage: check_cluster.py [NATS_SERVER_BINARY]
(OPS_KEEP=1 keeps the temporary directory, with the servers' logs.)
"""

import asyncio
import base64
import json
import logging
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from pathlib import Path

import bcrypt
import nats
from nats.errors import TimeoutError as NatsTimeout

HERE = Path(__file__).resolve().parent
SERVER = sys.argv[1] if len(sys.argv) > 1 else shutil.which("nats-server") or "/usr/sbin/nats-server"
# A built `steward` binary: if given, `steward serve` relays through the cluster.
STEWARD_BIN = os.environ.get("OPS_STEWARD_BIN", "")
CLIENT_PORT, ROUTE_PORT, HTTP_PORT = 24220, 26220, 28220
NODES = (1, 2, 3)
failures = []


def check(condition, what):
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def replace_once(text, pattern, replacement, what):
    """Rewrites one line; fails loudly if the file no longer has it."""
    new, count = re.subn(pattern, replacement, text, flags=re.M)
    if count != 1:
        raise SystemExit(f"check_cluster: expected exactly one {what!r} ({pattern}), found {count}")
    return new


def make_certs(tls: Path):
    tls.mkdir()
    run = lambda *args: subprocess.run(args, cwd=tls, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=steward-nats-test-ca")
    (tls / "ext.cnf").write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\n"
        # Routes use the node certificate as client and as server.
        "extendedKeyUsage=serverAuth,clientAuth\n"
        # nats.steward.internal: the name in Steward's nats_url, resolving
        # to all three nodes.
        "subjectAltName=DNS:nats.steward.internal,DNS:nats-1.steward.internal,"
        "DNS:nats-2.steward.internal,DNS:nats-3.steward.internal,IP:127.0.0.1\n")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=nats.steward.internal")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "ext.cnf")


def local_config(n: int, work: Path, tls: Path) -> Path:
    node = work / f"node-{n}"
    node.mkdir()
    text = (HERE / f"nats-{n}.conf").read_text()
    text = replace_once(text, r"^listen: 0\.0\.0\.0:4222$", f"listen: 127.0.0.1:{CLIENT_PORT + n}", "listen")
    text = replace_once(text, r'^client_advertise: "nats-%d\.steward\.internal:4222"$' % n,
                        f'client_advertise: "127.0.0.1:{CLIENT_PORT + n}"', "client_advertise")
    text = replace_once(text, r"^http: 127\.0\.0\.1:8222$", f"http: 127.0.0.1:{HTTP_PORT + n}", "http")
    text = replace_once(text, r'store_dir: "/var/lib/nats/jetstream"', f'store_dir: "{node / "jetstream"}"', "store_dir")
    text = replace_once(text, r"^  listen: 0\.0\.0\.0:6222$", f"  listen: 127.0.0.1:{ROUTE_PORT + n}", "cluster listen")
    for m in NODES:
        text = replace_once(text, r"nats-route://nats-%d\.steward\.internal:6222" % m,
                            f"nats-route://127.0.0.1:{ROUTE_PORT + m}", f"route {m}")
    text = text.replace("/etc/nats/tls/", f"{tls}/")
    # Logs to a file, so that a failure can be shown.
    text += f'\nlog_file: "{node / "nats.log"}"\n'
    (node / "nats.conf").write_text(text)
    shutil.copy(HERE / "accounts.conf", node / "accounts.conf")
    shutil.copy(work / "secrets.conf", node / "secrets.conf")
    return node / "nats.conf"


def start_server(config: Path):
    return subprocess.Popen([SERVER, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for_cluster():
    for n in NODES:
        wait_for(f"nats-{n} routes to both others over TLS",
                 lambda n=n: http_json(n, "/routez")["num_routes"] == 2)
    wait_for("the JetStream meta group has a leader",
             lambda: http_json(1, "/jsz")["meta_cluster"].get("leader"))


def http_json(n: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT + n}{path}", timeout=2) as r:
        return json.load(r)


def wait_for(what, predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except Exception:
            pass
        time.sleep(0.5)
    check(False, what)
    return False


async def connect(user, password, tls: Path, errors=None, port=None):
    """A TLS client for the test cluster; user None connects without credentials."""
    context = ssl.create_default_context(cafile=str(tls / "ca.crt"))
    servers = [f"tls://127.0.0.1:{port}"] if port else [f"tls://127.0.0.1:{CLIENT_PORT + n}" for n in NODES]

    async def on_error(e):
        if errors is not None:
            errors.append(str(e))

    credentials = {"user": user, "password": password} if user is not None else {}
    return await nats.connect(servers=servers, **credentials, tls=context,
                              tls_hostname="nats.steward.internal", connect_timeout=3,
                              allow_reconnect=port is None, max_reconnect_attempts=5,
                              error_cb=on_error)


async def refused(user, password, tls: Path):
    try:
        nc = await connect(user, password, tls, port=CLIENT_PORT + 1)
    except Exception as e:
        return "Authorization Violation" in str(e)
    await nc.close()
    return False


async def denied_request(nc, errors, subject, payload=b"{}"):
    """True if the server refuses to let this user publish to `subject`."""
    errors.clear()
    try:
        await nc.request(subject, payload, timeout=1.5)
    except (NatsTimeout, asyncio.TimeoutError):
        pass
    except Exception:
        pass
    await asyncio.sleep(0.2)
    # nats-py reports the server's -ERR in lower case.
    return any("permissions violation" in e.lower() and subject.lower() in e.lower() for e in errors)


async def clients(work: Path, passwords, tls: Path, servers):
    stream_json = (HERE / "stream-steward-events.json").read_bytes()
    expected = json.loads(stream_json)

    admin = await connect("steward-admin", passwords["steward-admin"], tls)
    reply = json.loads((await admin.request("$JS.API.STREAM.CREATE.STEWARD_EVENTS", stream_json, timeout=10)).data)
    check("error" not in reply, f"steward-admin creates STEWARD_EVENTS from the JSON file {reply.get('error', '')}")
    config = reply.get("config", {})
    for key in ("subjects", "storage", "num_replicas", "duplicate_window", "max_bytes", "max_msg_size",
                "deny_delete", "deny_purge", "allow_direct", "discard", "retention"):
        check(config.get(key) == expected[key], f"stream keeps {key} = {expected[key]!r}")
    cluster = reply.get("cluster", {})
    check(bool(cluster.get("leader")) and len(cluster.get("replicas", [])) == 2,
          f"stream has a leader and two more replicas ({cluster})")
    if failures:
        return

    errors = []
    app = await connect("steward", passwords["steward"], tls, errors)
    js = app.jetstream(timeout=5)
    info = await js.stream_info("STEWARD_EVENTS")
    check(info.config.num_replicas == 3, "steward reads the stream's info")
    ack = await js.publish("steward.events.device.DeviceStateReported", b'{"n":1}',
                           headers={"Nats-Msg-Id": "00000000-0000-0000-0000-000000000001",
                                    "Nats-Expected-Last-Sequence": "0"})
    check(ack.seq == 1 and not ack.duplicate, "steward publishes an event (expected last sequence 0)")
    again = await js.publish("steward.events.device.DeviceStateReported", b'{"n":1}',
                             headers={"Nats-Msg-Id": "00000000-0000-0000-0000-000000000001"})
    check(again.duplicate and again.seq == 1, "a retried publish with the same Nats-Msg-Id is absorbed")
    try:
        await js.publish("steward.events.device.DeviceStateReported", b'{"n":2}',
                         headers={"Nats-Msg-Id": "00000000-0000-0000-0000-000000000002",
                                  "Nats-Expected-Last-Sequence": "0"})
        check(False, "a publish with a stale expected last sequence is refused")
    except Exception as e:
        check("wrong last sequence" in str(e), f"a publish with a stale expected last sequence is refused ({e})")
    ack = await js.publish("steward.events.subject.SubjectErased", b'{"n":2}',
                           headers={"Nats-Msg-Id": "00000000-0000-0000-0000-000000000002",
                                    "Nats-Expected-Last-Sequence": "1"})
    check(ack.seq == 2, "steward publishes the next event")
    last = json.loads((await app.request("$JS.API.STREAM.MSG.GET.STEWARD_EVENTS",
                                          json.dumps({"last_by_subj": "steward.events.>"}).encode(),
                                          timeout=5)).data)
    check(last.get("message", {}).get("seq") == 2, "steward reads the stream's last message (MSG.GET)")
    for subject in ("$JS.API.STREAM.CREATE.OTHER", "$JS.API.STREAM.DELETE.STEWARD_EVENTS",
                    "$JS.API.STREAM.PURGE.STEWARD_EVENTS", "$JS.API.STREAM.UPDATE.STEWARD_EVENTS",
                    "other.subject"):
        check(await denied_request(app, errors, subject), f"steward may not publish to {subject}")

    reader_errors = []
    reader = await connect("steward-reader", passwords["steward-reader"], tls, reader_errors)
    rjs = reader.jetstream(timeout=5)
    sub = await rjs.pull_subscribe("steward.events.>", durable="check-reader", stream="STEWARD_EVENTS")
    msgs = await sub.fetch(2, timeout=5)
    check([m.data for m in msgs] == [b'{"n":1}', b'{"n":2}'], "steward-reader pulls both events in order")
    for m in msgs:
        await m.ack_sync()
    consumer = await rjs.consumer_info("STEWARD_EVENTS", "check-reader")
    check(consumer.num_ack_pending == 0, "steward-reader's acknowledgements arrive")
    check(await denied_request(reader, reader_errors, "steward.events.device.Forged"),
          "steward-reader may not publish events")
    admin_errors = []
    admin2 = await connect("steward-admin", passwords["steward-admin"], tls, admin_errors)
    check(await denied_request(admin2, admin_errors, "steward.events.device.Forged"),
          "steward-admin may not publish events")

    check(await refused("steward", "wrong-password", tls), "a wrong password is refused")
    check(await refused("nobody", "", tls), "an unknown user is refused")
    check(await refused(None, None, tls), "a client without credentials is refused")

    if STEWARD_BIN:
        await steward_relay(admin, passwords, tls, work, stream_json, servers)

    # One node down: the R3 stream keeps a quorum of two.
    victim = next(n for n in NODES if f"nats-{n}" != cluster.get("leader"))
    servers[victim].send_signal(signal.SIGTERM)
    servers[victim].wait(timeout=30)
    ack = None
    for _ in range(20):
        try:
            ack = await js.publish("steward.events.device.DeviceStateReported", b'{"n":3}',
                                   headers={"Nats-Msg-Id": "00000000-0000-0000-0000-000000000003"})
            break
        except Exception:
            await asyncio.sleep(0.5)
    check(ack is not None, f"with nats-{victim} stopped, the stream still takes writes")

    for nc in (app, reader, admin, admin2):
        try:
            await asyncio.wait_for(nc.close(), 5)
        except Exception:
            pass


async def steward_relay(admin, passwords, tls: Path, work: Path, stream_json: bytes, servers):
    """The real `steward serve` relays events logged in as `steward`.

    The relay sends the user and password written in `nats_url` (async-nats
    does not by itself); the cluster admits no anonymous client, so this
    phase fails if the relay does not log in or lacks a permission it needs.
    """
    # A fresh stream, so that the relay finds only its own messages.
    await admin.request("$JS.API.STREAM.DELETE.STEWARD_EVENTS", b"", timeout=10)
    reply = json.loads((await admin.request("$JS.API.STREAM.CREATE.STEWARD_EVENTS", stream_json, timeout=10)).data)
    check("error" not in reply, "steward-admin recreates the stream for the relay check")
    home = work / "steward"
    home.mkdir()
    key = home / "master.key"
    # Steward refuses unknown STEWARD_* variables: start from none of them.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEWARD_") and k != "DATABASE_URL"}
    env = {**env, "STEWARD_DATA_DIR": str(home / "data"), "STEWARD_MASTER_KEY_FILE": str(key),
           # The client trusts the system's CA bundle; this test's CA instead.
           "SSL_CERT_FILE": str(tls / "ca.crt"), "STEWARD_LOG": "info",
           "STEWARD_NATS_URL": f"tls://steward:{passwords['steward']}@127.0.0.1:{CLIENT_PORT + 1}"}
    for n, (stream, kind) in enumerate([("note-1", "NoteTaken"), ("task-7", "TaskAdded"), ("note-1", "NoteTaken")]):
        appended = subprocess.run([STEWARD_BIN, "events", "append", stream, "--type", kind, "--data", '{"n":%d}' % n],
                                  env=env, cwd=home, capture_output=True, text=True)
        if appended.returncode != 0:
            check(False, f"steward events append: {appended.stderr.strip()}")
            return
    log = open(home / "serve.log", "w")
    serve = subprocess.Popen([STEWARD_BIN, "serve"], env=env, cwd=home, stdout=log, stderr=log)
    app = await connect("steward-admin", passwords["steward-admin"], tls)
    state = {}
    for _ in range(60):
        state = json.loads((await app.request("$JS.API.STREAM.INFO.STEWARD_EVENTS", b"", timeout=5)).data).get("state", {})
        if state.get("messages") == 3:
            break
        await asyncio.sleep(0.5)
    check(state.get("messages") == 3, f"steward serve relays its 3 events to STEWARD_EVENTS ({state.get('messages')})")
    subjects, positions = [], []
    for seq in (1, 2, 3):
        msg = json.loads((await app.request("$JS.API.STREAM.MSG.GET.STEWARD_EVENTS",
                                            json.dumps({"seq": seq}).encode(), timeout=5)).data).get("message", {})
        subjects.append(msg.get("subject"))
        headers = base64.b64decode(msg.get("hdrs", "")).decode(errors="replace")
        found = re.search(r"Steward-Position:\s*(\S+)", headers)
        positions.append(found.group(1) if found else None)
    check(subjects == ["steward.events.note.NoteTaken", "steward.events.task.TaskAdded",
                       "steward.events.note.NoteTaken"],
          f"on subjects steward.events.<category>.<event_type> ({subjects})")
    check(positions == ["1", "2", "3"], f"each with its Steward-Position header ({positions})")
    await app.close()
    serve.send_signal(signal.SIGTERM)
    try:
        code = serve.wait(timeout=20)
    except subprocess.TimeoutExpired:
        serve.kill()
        code = None
    log.close()
    text = (home / "serve.log").read_text()
    check(code == 0, f"steward serve stops cleanly on SIGTERM (exit {code})")
    problems = [line for line in text.splitlines() if "ermission" in line or "ERROR" in line or " WARN " in line]
    check(not problems, "steward serve logs no permission error or warning")
    panic = next((line.strip() for line in text.splitlines() if "panicked" in line), None)
    reason = next((line.strip() for line in text.splitlines() if "CryptoProvider" in line), "")
    check(panic is None, "steward serve does not panic" + (f" ({panic} {reason})" if panic else ""))
    if failures:
        print(f"--- steward serve log (tail)\n" + "\n".join(text.splitlines()[-12:]))


def placeholder_refused(work: Path, tls: Path):
    """secrets.conf.example's placeholders must lock everyone out."""
    node = work / "placeholder"
    node.mkdir()
    (node / "nats.conf").write_text(
        f'listen: 127.0.0.1:{CLIENT_PORT + 9}\n'
        f'tls {{ cert_file: "{tls}/server.crt", key_file: "{tls}/server.key" }}\n'
        'include "accounts.conf"\n')
    shutil.copy(HERE / "accounts.conf", node / "accounts.conf")
    shutil.copy(HERE / "secrets.conf.example", node / "secrets.conf")
    server = subprocess.Popen([SERVER, "-c", str(node / "nats.conf")], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1)
        literal = "REPLACE.with.the.bcrypt.hash.of.the.steward.password"

        async def go():
            ok = True
            for password in (literal, "$2a$11$" + literal, ""):
                try:
                    nc = await connect("steward", password, tls, port=CLIENT_PORT + 9)
                    await nc.close()
                    ok = False
                except Exception:
                    pass
            return ok

        check(asyncio.run(go()), "secrets.conf.example's placeholder hashes let nobody in")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    # asyncio warns about every TLS connection the server closes; not ours.
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    work = Path(tempfile.mkdtemp(prefix="steward-nats-check-"))
    servers = {}
    try:
        tls = work / "tls"
        make_certs(tls)
        passwords = {u: secrets.token_urlsafe(18) for u in ("steward", "steward-reader", "steward-admin", "sys")}
        hashes = {u: bcrypt.hashpw(p.encode(), bcrypt.gensalt(11)).decode() for u, p in passwords.items()}
        names = {"steward": "STEWARD_PASSWORD_HASH", "steward-reader": "STEWARD_READER_PASSWORD_HASH",
                 "steward-admin": "STEWARD_ADMIN_PASSWORD_HASH", "sys": "SYS_PASSWORD_HASH"}
        example = (HERE / "secrets.conf.example").read_text()
        for name in names.values():
            check(re.search(rf"^{name}: ", example, re.M) is not None, f"secrets.conf.example defines {name}")
        (work / "secrets.conf").write_text("".join(f'{names[u]}: "{h}"\n' for u, h in hashes.items()))

        configs = {n: local_config(n, work, tls) for n in NODES}
        for n, path in configs.items():
            test = subprocess.run([SERVER, "-t", "-c", str(path)], capture_output=True, text=True)
            check(test.returncode == 0, f"nats-server -t accepts nats-{n}.conf {test.stderr.strip()}")
        if failures:
            return
        for n, path in configs.items():
            servers[n] = start_server(path)
        wait_for_cluster()
        varz = http_json(1, "/varz")
        check(varz["max_payload"] == 4 * 1024 * 1024, f"max_payload is 4 MiB ({varz['max_payload']})")
        check(varz.get("tls_required") is True, "clients must use TLS")
        if not failures:
            try:
                asyncio.run(asyncio.wait_for(clients(work, passwords, tls, servers), 300))
            except Exception as e:  # a timeout of one request, or of the whole
                traceback.print_exc()
                check(False, f"the client checks run to the end ({type(e).__name__})")
        placeholder_refused(work, tls)
    finally:
        for server in servers.values():
            if server.poll() is None:
                server.terminate()
        for server in servers.values():
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        if failures:
            for n in NODES:
                log = work / f"node-{n}" / "nats.log"
                if log.exists():
                    print(f"--- nats-{n} log (tail)\n" + "\n".join(log.read_text().splitlines()[-15:]))
        if not os.environ.get("OPS_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
    for what in failures:  # again, last, where ops/check shows them
        print("failed: " + what.splitlines()[0][:200])
    print(f"nats cluster check: {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
