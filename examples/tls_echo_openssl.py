#!/usr/bin/env python3
"""examples/tls_echo driven by openssl s_client, on each reactor backend given.

Certificates are made here with openssl: a CA, a server leaf for localhost and
127.0.0.1 (served with its chain), and a client certificate. tls_echo runs with two
shards on a free 127.0.0.1 port and requires client certificates from the CA. Several
s_client sessions at once verify the server (-verify_return_error), send lines and must
read each back; each ends with close_notify, which the server must take as a clean
end (it reports unclean ends on stderr). A client without a certificate must get no
echo. Then SIGTERM stops the server, which must exit with 0. The server is killed at
the end whatever happened.

usage: tls_echo_openssl.py TLS_ECHO OPENSSL BACKEND...
Prints one TAP line per check and a final 'N passed, N failed' line; exits 1 on failure.
"""

import base64
import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading

SESSIONS = 4
LINES = 400

outcomes = []


def report(passed, title, why=""):
    outcomes.append(passed)
    print(("ok" if passed else "not ok"), len(outcomes), "-", title)
    for line in ([] if passed else str(why).splitlines()):
        print("#", line)


def make_certificates(openssl, d):
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    leaf = ["-days", "30", "-addext", "basicConstraints=critical,CA:FALSE", "-CA", "ca.pem", "-CAkey", "ca.key"]
    steps = [
        ["req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=Reef Example CA"],
        ["req", "-x509", *key, "-keyout", "server.key", "-out", "server.pem", *leaf, "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        ["req", "-x509", *key, "-keyout", "client.key", "-out", "client.pem", *leaf, "-subj", "/CN=echo-client",
         "-addext", "extendedKeyUsage=clientAuth"],
    ]
    for args in steps:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True)
    with open(os.path.join(d, "chain.pem"), "w") as out:
        for name in ("server.pem", "ca.pem"):
            with open(os.path.join(d, name)) as f:
                out.write(f.read())


def start_server(tls_echo, backend, d):
    proc = subprocess.Popen(
        [tls_echo, "--port", "0", "--address", "127.0.0.1", "--smp", "2", "--overprovisioned",
         "--reactor-backend", backend, "--cert", os.path.join(d, "chain.pem"), "--key",
         os.path.join(d, "server.key"), "--client-ca", os.path.join(d, "ca.pem")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()
    if not first.startswith("listening on 127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"tls_echo did not start: {first!r} {proc.stderr.read()}")
    return proc, int(first.rsplit(":", 1)[1])


def s_client(openssl, port, d, with_cert):
    args = [openssl, "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
            "-verify_hostname", "localhost", "-verify_return_error", "-CAfile", os.path.join(d, "ca.pem"),
            "-quiet", "-no_ign_eof", "-nocommands"]
    if with_cert:
        args += ["-cert", os.path.join(d, "client.pem"), "-key", os.path.join(d, "client.key")]
    return subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def session(openssl, port, d, seed):
    """Sends LINES lines and reads each back before closing stdin (s_client then sends
    close_notify and exits)."""
    rng = random.Random(seed)
    data = b"".join(base64.b64encode(rng.randbytes(rng.randint(1, 300))) + b"\n" for _ in range(LINES))
    proc = s_client(openssl, port, d, True)
    timer = threading.Timer(60, proc.kill)
    timer.start()
    try:
        writer = threading.Thread(target=lambda: (proc.stdin.write(data), proc.stdin.flush()))
        writer.start()
        got = b""
        while len(got) < len(data):
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            got += chunk
        writer.join()
        proc.stdin.close()
        rc = proc.wait()
        return got == data and rc == 0, f"rc={rc}, {len(got)} of {len(data)} bytes back; " \
            f"{proc.stderr.read().decode(errors='replace')}"
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()


def without_certificate(openssl, port, d):
    proc = s_client(openssl, port, d, False)
    try:
        out, err = proc.communicate(b"anyone there?\n", timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return b"anyone there?" not in out, f"rc={proc.returncode} out={out!r} err={err.decode(errors='replace')}"


def run_backend(tls_echo, openssl, backend, d):
    proc, port = start_server(tls_echo, backend, d)
    try:
        with concurrent.futures.ThreadPoolExecutor(SESSIONS) as pool:
            runs = list(pool.map(lambda i: session(openssl, port, d, i), range(SESSIONS)))
        bad = [why for ok, why in runs if not ok]
        report(not bad, f"{backend}: {SESSIONS} s_client sessions at once verify the server and get their "
               f"{LINES} lines back", "\n".join(bad))
        ok, why = without_certificate(openssl, port, d)
        report(ok, f"{backend}: a client without a certificate gets no echo", why)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            rc = "killed after 20 s"
    err = proc.stderr.read()
    report(rc == 0, f"{backend}: the server stops on SIGTERM with exit code 0", f"rc={rc} {err}")
    unclean = [line for line in err.splitlines() if "close_notify" in line]
    report(not unclean, f"{backend}: every s_client session ended with close_notify", "\n".join(unclean))
    refused = [line for line in err.splitlines() if "no certificate" in line]
    report(len(refused) == 1, f"{backend}: the server reports the client without a certificate", err)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tls_echo, openssl, backends = sys.argv[1], sys.argv[2], sys.argv[3:]
    d = tempfile.mkdtemp(prefix="reef-tls-echo-")
    try:
        make_certificates(openssl, d)
        for b in backends:
            try:
                run_backend(tls_echo, openssl, b, d)
            except Exception as e:  # a crash of the harness is a failure too
                report(False, f"{b}: harness", repr(e))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    failed = outcomes.count(False)
    print(f"1..{len(outcomes)}")
    print(f"# {len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
