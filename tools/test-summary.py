#!/usr/bin/env python3
"""Sums the results of `meson test` runs into one line: `N passed, N failed`.

Reads BUILD_DIR/meson-logs/testlog.json (one JSON object per test executable). A TAP
test is counted by its test cases: Catch2's TAP reporter prints one `ok`/`not ok` line
per assertion, each after a `# <test case name>` line, so assertions are grouped by that
name and a test case fails if any of its assertions failed. TAP lines without such a
name count one each. An executable whose log has no TAP lines counts as one test. An
executable that failed (crash, timeout, bad exit) without a `not ok` line adds one
failure, so a crash in the middle of a run is never lost.

usage: tools/test-summary.py [--failed-steps N] BUILD_DIR...
Exit status: 0 when nothing failed and at least one test ran, 1 otherwise.
"""

import argparse
import json
import pathlib
import re
import sys

PASS_RESULTS = {"OK", "EXPECTEDFAIL"}
SKIP_RESULTS = {"SKIP"}
TAP_LINE = re.compile(r"^(not ok|ok)\b(?:\s+\d+)?(?:\s*-)?\s*(.*)$")


def count_tap(stdout):
    """Returns (passed, failed, skipped) test cases from TAP output, or None if none."""
    cases = {}  # name -> 'pass' | 'fail' | 'skip', in order of first appearance
    last_comment = None
    anonymous = 0
    seen = False
    for raw in stdout.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            last_comment = line[1:].strip()
            continue
        m = TAP_LINE.match(line)
        if not m:
            continue
        seen = True
        ok = m.group(1) == "ok"
        desc = m.group(2)
        directive = re.search(r"#\s*(SKIP|TODO)\b", desc, re.IGNORECASE)
        if directive and directive.group(1).upper() == "SKIP":
            outcome = "skip"
        elif directive and directive.group(1).upper() == "TODO":
            outcome = "pass"  # an expected failure (or an unexpected pass) is not a failure
        else:
            outcome = "pass" if ok else "fail"
        if last_comment is not None:
            key = ("case", last_comment)
        else:
            anonymous += 1
            key = ("line", anonymous)
        prev = cases.get(key)
        if prev is None or outcome == "fail" or (prev == "skip" and outcome == "pass"):
            cases[key] = outcome
        last_comment = None
    if not seen:
        return None
    values = list(cases.values())
    return values.count("pass"), values.count("fail"), values.count("skip")


def summarize(build_dir):
    log = pathlib.Path(build_dir) / "meson-logs" / "testlog.json"
    if not log.exists():
        print(f"{build_dir}: no test log ({log})")
        return 0, 1, 0
    passed = failed = skipped = 0
    failures = []
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        result = entry.get("result", "ERROR")
        name = entry.get("name", "?")
        tap = count_tap(entry.get("stdout") or "")
        if tap is None:
            if result in PASS_RESULTS:
                passed += 1
            elif result in SKIP_RESULTS:
                skipped += 1
            else:
                failed += 1
                failures.append(f"{name} ({result})")
            continue
        p, f, s = tap
        if result not in PASS_RESULTS | SKIP_RESULTS and f == 0:
            f = 1  # the executable failed after (or instead of) its last TAP line
        passed, failed, skipped = passed + p, failed + f, skipped + s
        if f:
            failures.append(f"{name} ({result}, {f} failed)")
    print(f"{build_dir}: {passed} passed, {failed} failed, {skipped} skipped"
          + (": " + ", ".join(failures) if failures else ""))
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--failed-steps", type=int, default=0,
                    help="steps that failed before any test could run (configure, build)")
    ap.add_argument("build_dirs", nargs="+")
    args = ap.parse_args()
    passed = skipped = 0
    failed = args.failed_steps
    for d in args.build_dirs:
        p, f, s = summarize(d)
        passed, failed, skipped = passed + p, failed + f, skipped + s
    if skipped:
        print(f"({skipped} skipped, counted neither as passed nor as failed)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
