#!/usr/bin/env python3
"""Checks the declared MSRV against the lock file.

Reads `cargo metadata --format-version 1 --locked` on stdin: every workspace
crate must declare the same rust-version, and no locked package may declare
a newer one (then the workspace cannot build on the declared MSRV).
"""

import json
import sys


def version(text):
    """`1.89` and `1.89.0` compare equal."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def main():
    meta = json.load(sys.stdin)
    members = [p for p in meta["packages"] if p["id"] in meta["workspace_members"]]
    msrvs = {p.get("rust_version") for p in members}
    if len(msrvs) != 1 or None in msrvs:
        sys.exit(f"workspace crates declare different rust-versions: {sorted(map(str, msrvs))}")
    msrv = msrvs.pop()
    newer = sorted(
        "{} {} needs {}".format(p["name"], p["version"], p["rust_version"])
        for p in meta["packages"]
        if p.get("rust_version") and version(p["rust_version"]) > version(msrv)
    )
    if newer:
        sys.exit(f"rust-version {msrv} is too old for: " + "; ".join(newer))
    newest = max((p["rust_version"] for p in meta["packages"] if p.get("rust_version")), key=version)
    print(f"rust-version {msrv}: the {len(meta['packages'])} locked packages need at most {newest}")


if __name__ == "__main__":
    main()
