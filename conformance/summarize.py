#!/usr/bin/env python3
"""Summarizes an Autobahn|Testsuite fuzzingclient report (reports/index.json).

Prints how many cases got each outcome, for the case's behavior and for its closing
behavior, lists every case that FAILED or got the WRONG CODE, and exits 1 if there is any
(2 if the report is missing or empty).

One check of our own on top of the suite's: where the server is the one to fail the
connection (the case expects a close code and does not expect the client to close), it must
say why with a close frame (RFC 6455 7.1.7 SHOULD) rather than drop the TCP connection
silently. The suite counts a silent drop as OK; this counts it as SILENT DROP, a failure."""

import json
import os
import sys
from collections import Counter

OUTCOMES = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "WRONG CODE"]
BAD = {"FAILED", "WRONG CODE"}
SILENT = "SILENT DROP"


def case_key(case):
    return [int(part) for part in case.split(".")]


def main(path):
    try:
        with open(path) as f:
            index = json.load(f)
    except (OSError, ValueError) as err:
        print(f"autobahn: no report at {path}: {err}")
        return 2
    cases = {}
    for agent_cases in index.values():
        cases.update(agent_cases)
    if not cases:
        print("autobahn: the report has no cases")
        return 2
    behavior = Counter(c["behavior"] for c in cases.values())
    closing = Counter(c["behaviorClose"] for c in cases.values())
    print(f"autobahn: {len(cases)} cases")
    print(f"  {'outcome':<14}{'behavior':>9}{'close':>7}")
    for outcome in OUTCOMES + sorted((set(behavior) | set(closing)) - set(OUTCOMES)):
        print(f"  {outcome:<14}{behavior[outcome]:>9}{closing[outcome]:>7}")
    silent = silent_drops(os.path.dirname(path), cases)
    print(f"  {SILENT:<14}{'':>9}{len(silent):>7}")
    bad = [
        (case, c)
        for case, c in sorted(cases.items(), key=lambda kv: case_key(kv[0]))
        if c["behavior"] in BAD or c["behaviorClose"] in BAD or case in silent
    ]
    for case, c in bad:
        close = SILENT if case in silent else c["behaviorClose"]
        print(
            f"  case {case}: behavior {c['behavior']}, close {close}, "
            f"remote close code {c.get('remoteCloseCode')} ({c.get('reportfile')})"
        )
    if bad:
        print(f"autobahn: {len(bad)} cases FAILED, got the WRONG CODE or were a SILENT DROP")
        return 1
    print(f"autobahn: 0 FAILED, 0 WRONG CODE, 0 {SILENT}")
    return 0


def silent_drops(directory, cases):
    """The cases where the server had to fail the connection and sent no close code."""
    silent = set()
    for case, c in cases.items():
        with open(os.path.join(directory, c["reportfile"])) as f:
            report = json.load(f)
        expected = report.get("expectedClose") or {}
        if (
            expected.get("closeCode")
            and not expected.get("closedByMe")
            and report.get("remoteCloseCode") is None
        ):
            silent.add(case)
    return silent


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reports/index.json"))
