#!/usr/bin/env python3
"""examples/tcp_echo against socat, on each reactor backend named on the command line.

Server mode: tcp_echo listens on a free 127.0.0.1 port with two shards; several socat
clients at once pipe random data through it, and each must read back exactly what it
sent. Client mode: socat is the echo server (a PIPE per connection) and tcp_echo's
client checks every echo. Then SIGTERM stops the server, which must exit with 0.

usage: tcp_echo_socat.py TCP_ECHO SOCAT BACKEND...
Prints one TAP line per check and a final 'N passed, N failed' line; exits 1 on failure.
"""

import concurrent.futures
import os
import random
import signal
import socket
import subprocess
import sys
import time

CLIENTS = 6
BYTES = 512 * 1024

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    if not ok and detail:
        for line in str(detail).splitlines():
            print(f"# {line}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_connectable(port, deadline):
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def start_server(tcp_echo, backend):
    proc = subprocess.Popen(
        [tcp_echo, "--port", "0", "--address", "127.0.0.1", "--smp", "2", "--overprovisioned",
         "--reactor-backend", backend],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on 127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"tcp_echo did not start: {line!r} {proc.stderr.read()}")
    return proc, int(line.rsplit(":", 1)[1])


def socat_round_trip(socat, port, seed):
    data = random.Random(seed).randbytes(BYTES)
    # -t: after its stdin ends, socat half-closes and still reads the rest of the echo.
    out = subprocess.run([socat, "-t", "20", "-", f"TCP:127.0.0.1:{port}"], input=data,
                         capture_output=True, timeout=60)
    return out.returncode == 0 and out.stdout == data, f"rc={out.returncode} got {len(out.stdout)} bytes " \
        f"of {len(data)}; {out.stderr.decode(errors='replace')}"


def server_mode(tcp_echo, socat, backend):
    proc, port = start_server(tcp_echo, backend)
    try:
        with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
            runs = list(pool.map(lambda i: socat_round_trip(socat, port, i), range(CLIENTS)))
        bad = [detail for ok, detail in runs if not ok]
        check(not bad, f"{backend}: {CLIENTS} socat clients at once get their {BYTES} bytes back",
              "\n".join(bad))
        # A client still connected when the server stops: it reads the end of stream.
        idle = socket.create_connection(("127.0.0.1", port), timeout=20)
        idle.sendall(b"still here")
        check(idle.recv(100) == b"still here", f"{backend}: a plain socket client gets its echo")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = "killed after 20 s"
    check(rc == 0, f"{backend}: the server stops on SIGTERM with exit code 0", f"rc={rc} {proc.stderr.read()}")
    check(idle.recv(100) == b"", f"{backend}: a connection open at the stop sees its end")
    idle.close()


def client_mode(tcp_echo, socat, backend):
    port = free_port()
    server = subprocess.Popen([socat, f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "PIPE"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not wait_connectable(port, time.monotonic() + 10):
            check(False, f"{backend}: socat echo server started", server.stderr.read().decode())
            return
        out = subprocess.run(
            [tcp_echo, "--connect", f"127.0.0.1:{port}", "--connections", "4", "--count", "200", "--size", "1000",
             "--smp", "2", "--overprovisioned", "--reactor-backend", backend],
            capture_output=True, text=True, timeout=60)
        check(out.returncode == 0 and "800 round trips" in out.stdout,
              f"{backend}: the client's echoes from a socat server come back byte for byte",
              f"rc={out.returncode} {out.stdout} {out.stderr}")
    finally:
        server.terminate()
        server.wait(timeout=10)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    tcp_echo, socat, backends = sys.argv[1], sys.argv[2], sys.argv[3:]
    for backend in backends:
        try:
            server_mode(tcp_echo, socat, backend)
            client_mode(tcp_echo, socat, backend)
        except Exception as e:  # a crash of the harness is a failure too
            check(False, f"{backend}: harness", repr(e))
    print(f"1..{len(results)}")
    passed = sum(results)
    print(f"# {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
