#!/usr/bin/env bash
# Runs server/examples/sdk_snippet.py, through the official Python SDK, against a freshly
# started kms-server on a free loopback port, once with signature V3 (the SDK's default) and
# once with V1. Needs python3 with venv and PyPI; installs the SDK in target/sdk-venv.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/sdk-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check alibabacloud-kms20160120

cargo build -q -p kms-server --bin kms-server
log=$(mktemp)
KMS_SERVER_ACCESS_KEYS="LTAI5tDemoAccessKey0001:demo-secret-change-me:1234567890123456" \
  ./target/debug/kms-server --listen 127.0.0.1:0 >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT

endpoint=""
for _ in $(seq 1 100); do
  endpoint=$(sed -n 's|^kms-server: listening on http://\([^ ]*\).*|\1|p' "$log")
  [ -n "$endpoint" ] && break
  sleep 0.1
done
if [ -z "$endpoint" ]; then
  cat "$log"
  echo "kms-server did not start" >&2
  exit 1
fi

echo "--- signature V3 (SDK default)"
KMS_ENDPOINT="$endpoint" "$venv/bin/python" server/examples/sdk_snippet.py
echo "--- signature V1 (signature_algorithm=v2)"
KMS_ENDPOINT="$endpoint" KMS_SDK_SIGNATURE_ALGORITHM=v2 "$venv/bin/python" server/examples/sdk_snippet.py
