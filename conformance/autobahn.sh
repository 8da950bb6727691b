#!/usr/bin/env bash
# WebSocket conformance: runs Autobahn|Testsuite's fuzzingclient (sections 1-7, 9 and 10)
# against `confab serve --conformance-echo` and prints a summary per outcome. Exits non-zero
# on any FAILED or WRONG CODE case, or a silent drop (see summarize.py). Sections 12 and 13 (permessage-deflate) are not run: the
# server does not offer compression.
#
# Needs Python 2.7 (the testsuite is Python 2 only; by default pyenv's 2.7.18) and Python 3
# (the summary). The testsuite is installed from PyPI into its own prefix,
# $CONFAB_AUTOBAHN_PREFIX (default $HOME/.cache/confab-autobahn), reused when present.
#
# Environment: CONFAB_AUTOBAHN_PYTHON (the Python 2.7), CONFAB_AUTOBAHN_TIMEOUT (seconds,
# default 1200), CONFAB_AUTOBAHN_REPORTS (keep the HTML/JSON reports there instead of a temp
# dir), CONFAB_BIN (a built confab binary; by default this script builds one with cargo).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
cd "$root"

python2="${CONFAB_AUTOBAHN_PYTHON:-$HOME/.pyenv/versions/2.7.18/bin/python}"
prefix="${CONFAB_AUTOBAHN_PREFIX:-$HOME/.cache/confab-autobahn}"
limit="${CONFAB_AUTOBAHN_TIMEOUT:-1200}"
site="$prefix/lib/python2.7/site-packages"
start=$(date +%s)

# 1. The testsuite, in a prefix of its own. setuptools 44.1.1 (the last for Python 2) goes in
#    first and alone, so the testsuite's own install does not pull a newer one.
if [ ! -f "$prefix/.installed" ]; then
    echo "autobahn: installing the testsuite into $prefix"
    rm -rf "$prefix"
    pip=("$python2" -m pip install --quiet --prefix "$prefix" --ignore-installed
        --no-warn-script-location --disable-pip-version-check)
    "${pip[@]}" setuptools==44.1.1
    "${pip[@]}" wsaccel==0.6.3 autobahntestsuite==25.10.1
    touch "$prefix/.installed"
fi

# 2. The server, built now and copied, so another build in a shared target dir cannot
#    replace it under us.
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
if [ -n "${CONFAB_BIN:-}" ]; then
    cp "$CONFAB_BIN" "$work/confab"
else
    cargo build --quiet -p confab
    cp "${CARGO_TARGET_DIR:-$root/target}/debug/confab" "$work/confab"
fi

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$work/confab" serve --conformance-echo --listen "127.0.0.1:$port" \
    --data-dir "$work/data" --config "$here/server.toml" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
    if python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "autobahn: the server did not start:"; cat "$work/server.log"; exit 2
    fi
    sleep 0.1
done

# 3. The fuzzing client, with the prefix loaded through site.addsitedir (plain PYTHONPATH
#    would skip the .pth files the namespace packages need).
reports="${CONFAB_AUTOBAHN_REPORTS:-$work/reports}"
mkdir -p "$reports"
sed -e "s|@URL@|ws://127.0.0.1:$port/conformance/echo|" -e "s|@OUTDIR@|$reports|" \
    "$here/fuzzingclient.json" >"$work/spec.json"
echo "autobahn: fuzzingclient against ws://127.0.0.1:$port/conformance/echo"
status=0
(cd "$work" && timeout "$limit" "$python2" -c "
import site, sys
site.addsitedir('$site')
sys.argv = ['wstest', '-m', 'fuzzingclient', '-s', 'spec.json']
from autobahntestsuite.wstest import run
run()
" >"$work/wstest.log" 2>&1) || status=$?
if [ "$status" -ne 0 ]; then
    echo "autobahn: wstest exited with $status (124: timed out after ${limit}s); its log:"
    tail -n 40 "$work/wstest.log"
fi

# 4. The summary; any FAILED or WRONG CODE fails the run.
summary=0
python3 "$here/summarize.py" "$reports/index.json" || summary=$?
echo "autobahn: took $(( $(date +%s) - start ))s"
if [ "$summary" -ne 0 ] || [ "$status" -ne 0 ]; then
    echo "autobahn: server log tail:"; tail -n 20 "$work/server.log"
    exit 1
fi
