#!/usr/bin/env python3
"""examples/dns_lookup against a dnsmasq started here, on each reactor backend given.

dnsmasq listens on 127.0.0.1 and a free port, answering only from its own hosts file
and records (no upstream, no /etc/hosts). dns_lookup must print the A, AAAA, PTR and SRV
answers, follow a CNAME, fail an unknown name with exit code 1 and a message naming it,
and do the same over TCP. dnsmasq is killed at the end, whatever happened.

usage: dns_lookup_dnsmasq.py DNS_LOOKUP DNSMASQ BACKEND...
Prints one TAP line per check and a final 'N passed, N failed' line; exits 1 on failure.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HOSTS = "10.1.2.3 alpha.test\nfd00::5 alpha.test\n10.9.9.9 beta.test\n"
RECORDS = [
    "--srv-host=_http._tcp.svc.test,alpha.test,8080,10,60",
    "--ptr-record=5.4.3.10.in-addr.arpa,ptr.test",
    "--cname=www.test,alpha.test",
]

results = []


def check(ok, what, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}")
    if not ok and detail:
        for line in str(detail).splitlines():
            print(f"# {line}")


def free_port():
    """A port of 127.0.0.1 free for both UDP and TCP."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket() as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue
    raise RuntimeError("no free port")


def start_dnsmasq(dnsmasq, workdir):
    hosts = os.path.join(workdir, "hosts")
    with open(hosts, "w") as f:
        f.write(HOSTS)
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(
            [dnsmasq, "--no-daemon", "--conf-file=/dev/null", "--pid-file=", "--no-resolv",
             "--no-hosts", f"--addn-hosts={hosts}", "--local=/test/", "--bogus-priv",
             "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={port}",
             "--user=root", "--group=root", f"--log-facility={os.path.join(workdir, 'log')}"]
            + RECORDS,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    return proc, port
            except OSError:
                time.sleep(0.01)
        proc.kill()
        proc.wait()
    raise RuntimeError("dnsmasq did not start")


def lookup(tool, backend, port, *args):
    cmd = [tool, "--smp", "1", "--overprovisioned", "--reactor-backend", backend,
           "--server", f"127.0.0.1:{port}", "--timeout-ms", "1000"] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


def expect(tool, backend, port, args, want_lines, what):
    r = lookup(tool, backend, port, *args)
    got = r.stdout.splitlines()
    ok = r.returncode == 0 and all(w in got for w in want_lines)
    check(ok, f"{backend}: {what}", f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    tool, dnsmasq, backends = sys.argv[1], sys.argv[2], sys.argv[3:]
    workdir = tempfile.mkdtemp(prefix="reef-dns-lookup-")
    proc = None
    try:
        proc, port = start_dnsmasq(dnsmasq, workdir)
        for b in backends:
            expect(tool, b, port, ["--type", "A", "alpha.test", "beta.test"],
                   ["alpha.test has IPv4 address 10.1.2.3", "beta.test has IPv4 address 10.9.9.9"],
                   "A records of two names")
            expect(tool, b, port, ["--type", "AAAA", "alpha.test"],
                   ["alpha.test has IPv6 address fd00::5"], "an AAAA record")
            expect(tool, b, port, ["alpha.test"],
                   ["alpha.test has IPv4 address 10.1.2.3", "alpha.test has IPv6 address fd00::5"],
                   "both families by default")
            expect(tool, b, port, ["--type", "A", "www.test"],
                   ["www.test is an alias for alpha.test", "www.test has IPv4 address 10.1.2.3"],
                   "a CNAME is followed")
            expect(tool, b, port, ["--type", "PTR", "10.3.4.5", "10.1.2.3"],
                   ["10.3.4.5 has name ptr.test", "10.1.2.3 has name alpha.test"], "PTR records")
            expect(tool, b, port, ["--type", "SRV", "_http._tcp.svc.test"],
                   ["_http._tcp.svc.test has SRV record 10 60 8080 alpha.test"], "an SRV record")
            expect(tool, b, port, ["--tcp", "--type", "A", "alpha.test"],
                   ["alpha.test has IPv4 address 10.1.2.3"], "a lookup over TCP")

            r = lookup(tool, b, port, "--type", "A", "nope.test", "beta.test")
            ok = (r.returncode == 1 and "nope.test" in r.stderr and "not found" in r.stderr
                  and "beta.test has IPv4 address 10.9.9.9" in r.stdout.splitlines())
            check(ok, f"{b}: an unknown name fails with exit code 1, the others still print",
                  f"exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    except Exception as e:  # report, then clean up
        check(False, "the test ran", repr(e))
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            if any(not ok for ok in results):
                try:
                    print("# dnsmasq log:")
                    with open(os.path.join(workdir, "log")) as f:
                        for line in f:
                            print("# " + line.rstrip())
                except OSError:
                    pass
        shutil.rmtree(workdir, ignore_errors=True)
    passed = sum(results)
    print(f"1..{len(results)}")
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
