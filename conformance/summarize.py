#!/usr/bin/env python3
"""Summarizes an Autobahn|Testsuite fuzzingclient report (reports/index.json).

Prints how many cases got each outcome, for the case's behavior and for its closing
behavior, lists every case that FAILED or got the WRONG CODE, and exits 1 if there is any
(2 if the report is missing or empty)."""

import json
import sys
from collections import Counter

OUTCOMES = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED", "WRONG CODE"]
BAD = {"FAILED", "WRONG CODE"}


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
    bad = [
        (case, c)
        for case, c in sorted(cases.items(), key=lambda kv: case_key(kv[0]))
        if c["behavior"] in BAD or c["behaviorClose"] in BAD
    ]
    for case, c in bad:
        print(
            f"  case {case}: behavior {c['behavior']}, close {c['behaviorClose']}, "
            f"remote close code {c.get('remoteCloseCode')} ({c.get('reportfile')})"
        )
    if bad:
        print(f"autobahn: {len(bad)} cases FAILED or got the WRONG CODE")
        return 1
    print("autobahn: 0 FAILED, 0 WRONG CODE")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "reports/index.json"))
