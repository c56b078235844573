#!/usr/bin/env python3
"""Runs a libFuzzer target for a bounded time and reports the result.

usage: run_fuzz.py FUZZER CORPUS_DIR DICT ARTIFACT_DIR

The seed corpus is read, never written: new inputs go to a temporary directory that is
removed afterwards. Crashes are written to ARTIFACT_DIR. The run lasts REEF_FUZZ_SECONDS
seconds (default 20). Prints libFuzzer's final statistics, then one line
"N passed, N failed" for CI.
"""
import os
import re
import subprocess
import sys
import tempfile


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    fuzzer, corpus, dictionary, artifacts = sys.argv[1:]
    seconds = int(os.environ.get('REEF_FUZZ_SECONDS', '20'))
    with tempfile.TemporaryDirectory(prefix='reef-fuzz-') as work:
        cmd = [fuzzer,
               f'-max_total_time={seconds}',
               f'-dict={dictionary}',
               '-max_len=2048',
               '-timeout=10',
               '-rss_limit_mb=1024',
               '-print_final_stats=1',
               f'-artifact_prefix={artifacts}/',
               work, corpus]
        print(' '.join(cmd), flush=True)
        run = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors='replace', timeout=seconds + 60)
    out = run.stdout
    lines = out.splitlines()
    # Keep the log short on success: the start, the final statistics.
    if run.returncode == 0:
        shown = lines[:12] + ['...'] + [l for l in lines if l.startswith(('stat::', 'Done'))]
    else:
        shown = lines
    print('\n'.join(shown))
    execs = re.search(r'stat::number_of_executed_units:\s*(\d+)', out)
    if execs:
        print(f'executed {execs.group(1)} inputs in {seconds} s')
    ok = run.returncode == 0
    print(f'{1 if ok else 0} passed, {0 if ok else 1} failed')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
