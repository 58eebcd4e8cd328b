#!/usr/bin/env bash
# Runs every check and test on a fresh machine, installing what is missing first.
# README: "bash .ci/test-all.sh". CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for p in chromium chromium-driver fonts-noto-cjk; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_apt+=("$p")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== installing: ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

# PostgreSQL: installed (or installed now), started, with a superuser role for whoever runs this.
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "== installing PostgreSQL"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql postgresql-contrib
fi
if [ "$(id -u)" = 0 ]; then AS_PG="su postgres -c"; else AS_PG="sudo -u postgres sh -c"; fi
cluster=$(pg_lsclusters -h 2>/dev/null | head -n 1 || true)
if [ -z "$cluster" ]; then
  ver=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_createcluster "$ver" main
  cluster=$(pg_lsclusters -h | head -n 1)
fi
read -r pg_ver pg_name _ <<<"$cluster"
if ! pg_isready -q; then
  echo "== starting PostgreSQL $pg_ver/$pg_name"
  pg_ctlcluster "$pg_ver" "$pg_name" start 2>/dev/null || true
fi
for _ in $(seq 1 30); do pg_isready -q && break; sleep 1; done
me=$(id -un)
if ! $AS_PG "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\"" | grep -q 1; then
  echo "== creating the PostgreSQL role $me"
  $AS_PG "createuser -s $me"
fi
export SONAE_TEST_PG_URL="${SONAE_TEST_PG_URL:-postgres://$me@localhost/postgres?host=/var/run/postgresql}"
# Databases left by earlier runs (each test makes its own).
psql -d postgres -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'sonae_t_%'" | while read -r db; do
  [ -n "$db" ] && psql -d postgres -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
done

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
# Browser tests and the object store tests must run here; plain `cargo test` elsewhere skips
# them with a message. The S3-compatible test server is moto (PyPI).
export SONAE_REQUIRE_BROWSER=1
. .ci/py.sh
echo "== moto[server] for the object store tests"
py_ensure 'moto[server]'
export SONAE_MOTO_SERVER="$py_scripts/moto_server"
export SONAE_REQUIRE_S3=1
echo "== cargo test (SQLite)"
cargo test --all-targets
echo "== schemathesis against the API"
bash .ci/schemathesis.sh
echo "== cargo test (PostgreSQL)"
SONAE_TEST_DATABASE=postgres cargo test --test api
