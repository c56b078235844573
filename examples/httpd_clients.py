#!/usr/bin/env python3
"""examples/httpd against real HTTP clients, on each reactor backend named.

For each backend, httpd runs with two shards on a free 127.0.0.1 port and a static
directory made here. Then: curl (two URLs on one kept-alive connection, a chunked
upload echoed back, HEAD, Expect: 100-continue, a byte range, the metrics endpoint),
Python's http.client (keep-alive, HEAD, a body, 404, a directory's index), a raw socket
that sends its head too slowly (408 while other clients are served), `ab -k -n 2000
-c 10` and a one-second `wrk -t1 -c10` that must see no error. SIGTERM must stop httpd
with exit code 0. A client given as '-' (not installed) is skipped.

usage: httpd_clients.py HTTPD CURL AB WRK BACKEND...
Prints one TAP line per check and a final 'N passed, N failed' line; exits 1 on failure.
"""

import http.client
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    if not ok and detail:
        for line in str(detail).splitlines()[:40]:
            print(f"# {line}")
    sys.stdout.flush()


def skip(what, why):
    results.append(True)
    print(f"ok {len(results)} - {what} # SKIP {why}")


def make_root(base):
    root = os.path.join(base, "www")
    os.makedirs(os.path.join(root, "docs"))
    with open(os.path.join(root, "a.txt"), "w") as f:
        f.write("hello file")
    with open(os.path.join(root, "docs", "index.html"), "w") as f:
        f.write("<p>docs</p>")
    return root


def start_httpd(httpd, backend, root):
    proc = subprocess.Popen(
        [httpd, "--port", "0", "--address", "127.0.0.1", "--smp", "2", "--overprovisioned",
         "--reactor-backend", backend, "--static-dir", root, "--header-timeout-ms", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("listening on 127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"httpd did not start: {line!r} {proc.stderr.read()}")
    return proc, int(line.rsplit(":", 1)[1])


def run(cmd, timeout=60, **kw):
    return subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)


def curl_checks(curl, base, port, backend, tmp):
    url = f"http://127.0.0.1:{port}"
    out = run([curl, "-sS", "-v", f"{url}/", f"{url}/json"])
    err = out.stderr.decode(errors="replace")
    check(out.returncode == 0 and out.stdout == b'Hello, World!{"message":"Hello, World!"}'
          and "Re-using existing connection" in err,
          f"{backend}: curl fetches two URLs over one kept-alive connection", f"{out.stdout!r}\n{err}")

    data = random.Random(7).randbytes(300_000)
    path = os.path.join(tmp, "upload.bin")
    with open(path, "wb") as f:
        f.write(data)
    out = run([curl, "-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{path}", f"{url}/echo"])
    check(out.returncode == 0 and out.stdout == data,
          f"{backend}: curl's chunked upload comes back byte for byte",
          f"rc={out.returncode} got {len(out.stdout)} bytes {out.stderr.decode(errors='replace')}")

    out = run([curl, "-sS", "-I", f"{url}/"])
    head = out.stdout.decode(errors="replace")
    check(out.returncode == 0 and head.startswith("HTTP/1.1 200") and
          re.search(r"(?i)^content-length: 13\r$", head, re.M) is not None,
          f"{backend}: curl -I gets the headers of GET", head)

    small = b"x" * 20_000
    out = run([curl, "-sS", "-v", "--expect100-timeout", "20", "-H", "Expect: 100-continue",
               "--data-binary", "@-", f"{url}/echo"], input=small)
    err = out.stderr.decode(errors="replace")
    check(out.returncode == 0 and out.stdout == small and "HTTP/1.1 100 Continue" in err,
          f"{backend}: curl with Expect: 100-continue gets 100, then its echo", err)

    out = run([curl, "-sS", "--range", "0-4", "-w", "%{http_code}", f"{url}/static/a.txt"])
    check(out.returncode == 0 and out.stdout == b"hello206", f"{backend}: curl --range gets 206 and the bytes",
          out.stdout)

    out = run([curl, "-sS", f"{url}/metrics"])
    text = out.stdout.decode(errors="replace")
    check(out.returncode == 0 and "# TYPE http_requests_total counter" in text and "reactor_tasks_run" in text,
          f"{backend}: curl reads the metrics endpoint", text[:2000])


def python_checks(port, backend):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        conn.request("GET", "/")
        r1 = conn.getresponse()
        b1 = r1.read()
        sock1 = conn.sock
        conn.request("GET", "/json")
        r2 = conn.getresponse()
        b2 = r2.read()
        check(r1.status == 200 and b1 == b"Hello, World!" and r2.status == 200 and
              b2 == b'{"message":"Hello, World!"}' and conn.sock is sock1,
              f"{backend}: http.client sends two requests on one connection")
        conn.request("HEAD", "/static/a.txt")
        r = conn.getresponse()
        body = r.read()
        check(r.status == 200 and body == b"" and r.getheader("Content-Length") == "10" and
              r.getheader("ETag") is not None, f"{backend}: http.client HEAD of a static file")
        conn.request("POST", "/echo", body=b"posted body", headers={"Content-Type": "text/plain"})
        r = conn.getresponse()
        check(r.status == 200 and r.read() == b"posted body", f"{backend}: http.client POST echoed")
        conn.request("GET", "/static/docs/")
        r = conn.getresponse()
        check(r.status == 200 and r.read() == b"<p>docs</p>", f"{backend}: http.client gets a directory's index")
        conn.request("GET", "/static/../a.txt")
        r = conn.getresponse()
        r.read()
        check(r.status in (403, 404), f"{backend}: a path out of the static root is refused", r.status)
        conn.request("GET", "/no/such/page")
        r = conn.getresponse()
        r.read()
        check(r.status == 404, f"{backend}: http.client gets 404 for an unknown path")
    finally:
        conn.close()


def slow_client_check(port, backend):
    slow = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        start = time.monotonic()
        other = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        other.request("GET", "/")
        served = other.getresponse().read() == b"Hello, World!"
        other.close()
        reply = b""
        while True:
            chunk = slow.recv(4096)
            if not chunk:
                break
            reply += chunk
        took = time.monotonic() - start
        check(served and reply.startswith(b"HTTP/1.1 408") and took < 10,
              f"{backend}: a slow head gets 408 after the header timeout while others are served",
              f"served={served} took={took:.2f}s reply={reply[:200]!r}")
    finally:
        slow.close()


def ab_check(ab, port, backend):
    out = run([ab, "-k", "-n", "2000", "-c", "10", f"http://127.0.0.1:{port}/"], timeout=120)
    text = out.stdout.decode(errors="replace")
    complete = re.search(r"Complete requests:\s+(\d+)", text)
    failed = re.search(r"Failed requests:\s+(\d+)", text)
    keep = re.search(r"Keep-Alive requests:\s+(\d+)", text)
    check(out.returncode == 0 and complete and complete.group(1) == "2000" and failed and failed.group(1) == "0" and
          keep and keep.group(1) == "2000" and "Non-2xx" not in text,
          f"{backend}: ab -k -n 2000 -c 10: every request answered on kept-alive connections",
          text + out.stderr.decode(errors="replace"))


def wrk_check(wrk, port, backend):
    out = run([wrk, "-t1", "-c10", "-d1s", f"http://127.0.0.1:{port}/"], timeout=60)
    text = out.stdout.decode(errors="replace")
    requests = re.search(r"(\d+) requests in", text)
    check(out.returncode == 0 and requests and int(requests.group(1)) > 0 and "Socket errors" not in text and
          "Non-2xx" not in text, f"{backend}: wrk -t1 -c10 -d1s sees no error", text)


def one_backend(httpd, curl, ab, wrk, backend):
    tmp = tempfile.mkdtemp(prefix="reef-httpd-test-")
    proc = None
    try:
        root = make_root(tmp)
        proc, port = start_httpd(httpd, backend, root)
        if curl:
            curl_checks(curl, tmp, port, backend, tmp)
        else:
            skip(f"{backend}: curl checks", "curl not installed")
        python_checks(port, backend)
        slow_client_check(port, backend)
        if ab:
            ab_check(ab, port, backend)
        else:
            skip(f"{backend}: ab check", "ab not installed")
        if wrk:
            wrk_check(wrk, port, backend)
        else:
            skip(f"{backend}: wrk check", "wrk not installed")
    finally:
        if proc:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = "killed after 20 s"
            check(rc == 0, f"{backend}: httpd stops on SIGTERM with exit code 0", f"rc={rc} {proc.stderr.read()}")
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if len(sys.argv) < 6:
        sys.exit(__doc__)
    httpd = sys.argv[1]
    curl, ab, wrk = (None if p == "-" else p for p in sys.argv[2:5])
    for backend in sys.argv[5:]:
        try:
            one_backend(httpd, curl, ab, wrk, backend)
        except Exception as e:  # a crash of the harness is a failure too
            check(False, f"{backend}: harness", repr(e))
    print(f"1..{len(results)}")
    passed = sum(results)
    print(f"# {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
