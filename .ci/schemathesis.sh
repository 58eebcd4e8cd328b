#!/usr/bin/env bash
# Runs schemathesis (PyPI) against a live server and the API's own OpenAPI document, with a fixed
# seed: no 5xx, status codes and content types as documented, responses matching the schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
# Use the python3 on PATH if it has (or can install) schemathesis; a Debian system Python refuses
# pip (PEP 668), so then a virtual environment under target/ holds it.
py=python3
if ! "$py" -c 'import schemathesis' 2>/dev/null && ! "$py" -m pip install -q schemathesis 2>/dev/null; then
  if [ ! -x target/st-venv/bin/python ]; then
    "$py" -m venv target/st-venv 2>/dev/null || {
      if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
      $SUDO apt-get update -q >/dev/null 2>&1 || true
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q python3-venv >/dev/null 2>&1 || true
      "$py" -m venv target/st-venv
    }
  fi
  py=target/st-venv/bin/python
  "$py" -c 'import schemathesis' 2>/dev/null || "$py" -m pip install -q schemathesis
fi
schemathesis="$("$py" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/schemathesis"
cargo build -q --bin sonae
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/debug/sonae --data-dir "$data" demo >/dev/null
token=$(./target/debug/sonae --data-dir "$data" token --login admin --name schemathesis | tail -n 1)
./target/debug/sonae --data-dir "$data" --bind "127.0.0.1:$port" >"$data/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$data"' EXIT
# Wait for the server (python, not curl: one tool less to need on a fresh machine).
"$py" - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(100):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=1)
        break
    except Exception:
        time.sleep(0.2)
PY
# /api/v1/events is a stream that never ends; tests/api/json_api.rs covers it.
"$schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" --seed 1 --max-examples 50 --request-timeout 10 \
  --exclude-path /api/v1/events \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
