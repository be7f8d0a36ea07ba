#!/usr/bin/env python3
"""Per-PATCH breakdown of the S3 store's time, from a tus-axum log.

Run tus-load's S3 scenario with the S3 calls logged:

    target/release/tus-load --scenarios s3 --reps 1 --s3-size 64M ... \
        --server-log 'warn,tus_store_s3::calls=debug,tus_axum=info' --server-log-file /tmp/s3.log
    python3 scripts/s3-profile.py /tmp/s3.log

Each PATCH's wall time is the interval between consecutive `request` lines
of one run (PATCHes go back to back on one connection, so this includes the
client sending the body). Within it, the S3 calls the store made (logged
when they end, with their latency) are attributed in the order the store
makes them: the handler's state load (GetObject info || HeadObject tail,
then ListParts), the append's second state load, GetObject of the
incomplete part, UploadPart, PutObject of the incomplete part. Whatever is
left is "rest": receiving the body, HTTP, the handler.
"""

import re
import sys
from collections import defaultdict

LINE = re.compile(r'^(\S+)Z\s+\w+\s+(\S+): (.*)$')
CALL = re.compile(r'op="(\w+)" key="([^"]*)" bytes=(\d+) micros=(\d+)')
REQUEST = re.compile(r'method=(\w+) path="[^"]*" status=(\d+) elapsed_ms=(\d+)')
RUN = re.compile(r'run-\d+-(\d+)/')


def seconds(stamp):
    hms = stamp.split('T')[1]
    h, m, s = hms.split(':')
    return int(h) * 3600 + int(m) * 60 + float(s)


def category(op, key, seen):
    if op == 'GetObject' and key.endswith('.info'):
        return 'GET info'
    if op == 'HeadObject' and key.endswith('.part'):
        return 'HEAD tail'
    if op == 'GetObject' and key.endswith('.part'):
        return 'GET tail'
    if op == 'PutObject' and key.endswith('.part'):
        return 'PUT tail'
    return op


def main(path):
    runs = defaultdict(list)  # run index -> list of PATCH records
    calls = []
    last_end = {}
    for raw in open(path, encoding='utf-8', errors='replace'):
        match = LINE.match(raw.strip())
        if not match:
            continue
        when, target, rest = seconds(match.group(1)), match.group(2), match.group(3)
        call = CALL.search(rest)
        if target.endswith('tus_store_s3::calls') and call:
            op, key, size, micros = call.group(1), call.group(2), int(call.group(3)), int(call.group(4))
            calls.append((category(op, key, None), key, size, micros / 1e6, when))
            continue
        request = REQUEST.search(rest)
        if target.endswith('tus_axum') and request:
            method = request.group(1)
            run = next((RUN.search(c[1]).group(1) for c in calls if RUN.search(c[1])), None)
            if method == 'PATCH' and run is not None:
                start = last_end.get(run)
                if start is not None:
                    runs[run].append((when - start, calls))
                last_end[run] = when
            elif run is not None:
                last_end[run] = when
            calls = []
    names = {'0': 'one PATCH', '1': 'first --s3-chunks size', '2': 'second --s3-chunks size'}
    for run, patches in sorted(runs.items()):
        if not patches:
            continue
        n = len(patches)
        wall = sum(p[0] for p in patches)
        totals = defaultdict(float)
        counts = defaultdict(int)
        volume = defaultdict(int)
        tail_size = 0
        for _, patch_calls in patches:
            loads = [c for c in patch_calls if c[0] in ('GET info', 'HEAD tail', 'ListParts')]
            # Two loads per PATCH: (GET info || HEAD tail) then ListParts, each.
            for i in range(0, len(loads), 3):
                group = loads[i:i + 3]
                parallel = max((c[3] for c in group if c[0] != 'ListParts'), default=0)
                listing = sum(c[3] for c in group if c[0] == 'ListParts')
                totals['state loads (GET info || HEAD tail, ListParts)'] += parallel + listing
            counts['state loads (GET info || HEAD tail, ListParts)'] += len(loads) // 3
            for c in patch_calls:
                if c[0] in ('GET info', 'HEAD tail', 'ListParts'):
                    continue
                size = c[2]
                if c[0] == 'GET tail':
                    # GetObject logs no size: the tail it read is what the last PUT wrote.
                    size = tail_size
                if c[0] == 'PUT tail':
                    tail_size = c[2]
                totals[c[0]] += c[3]
                counts[c[0]] += 1
                volume[c[0]] += size
        accounted = sum(totals.values())
        if n < 2:
            print(f'\nrun {run} ({names.get(run, run)}): {n} PATCH; its part uploads overlap, no breakdown')
            continue
        print(f'\nrun {run} ({names.get(run, run)}): {n} PATCHes, {wall / n * 1e3:.1f} ms per PATCH (wall)')
        print('| where | calls per PATCH | ms per PATCH | share | MiB moved per PATCH |')
        print('|---|---|---|---|---|')
        for name, total in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f'| {name} | {counts[name] / n:.2f} | {total / n * 1e3:.2f} | {total / wall * 100:.0f}% | '
                  f'{volume[name] / n / 2**20:.2f} |')
        rest = wall - accounted
        print(f'| rest (body receipt, HTTP, handler) | - | {rest / n * 1e3:.2f} | {rest / wall * 100:.0f}% | - |')


if __name__ == '__main__':
    main(sys.argv[1])
