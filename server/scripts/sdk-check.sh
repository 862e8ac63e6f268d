#!/usr/bin/env bash
# Runs Alibaba Cloud's official Python SDKs against a freshly started kms-server on a free
# loopback port, over HTTPS with a local CA (--tls-self-signed), each SDK trusting that CA
# file (verification on):
#   - the V3 SDK (alibabacloud-kms20160120): server/examples/sdk_snippet.py, signature V3 (the
#     SDK's default) and V1 (signature_algorithm=v2), with Config.ca;
#   - the legacy SDK (aliyun-python-sdk-kms): server/examples/legacy_sdk_snippet.py, with
#     AcsClient(verify=...);
#   - both SDKs: server/examples/sdk_key_versions.py, ListKeyVersions and DescribeKeyVersion
#     with one error case per error code they answer, one line per check;
#   - the V3 SDK with Python's `cryptography`: server/examples/sdk_import.py, bring your own
#     key (GetParametersForImport per WrappingAlgorithm, ImportKeyMaterial, DeleteKeyMaterial,
#     material expiry by the server's housekeeping, which runs every second here), one line
#     per check;
# and checks that both refuse the server when they trust another CA. Needs python3 with venv
# and PyPI; installs the SDKs in target/sdk-venv.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/sdk-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check \
  alibabacloud-kms20160120 aliyun-python-sdk-kms aliyun-python-sdk-core cryptography==50.0.2

cargo build -q -p kms-server --bin kms-server
work=$(mktemp -d)
log="$work/server.log"
KMS_SERVER_ACCESS_KEYS="LTAI5tDemoAccessKey0001:demo-secret-change-me:1234567890123456" \
  ./target/debug/kms-server --listen 127.0.0.1:0 --tls-self-signed "$work/tls" --tick-seconds 1 \
    >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

endpoint=""
for _ in $(seq 1 100); do
  endpoint=$(sed -n 's|^kms-server: listening on https://\([^ ]*\).*|\1|p' "$log")
  [ -n "$endpoint" ] && break
  sleep 0.1
done
if [ -z "$endpoint" ]; then
  cat "$log"
  echo "kms-server did not start (over HTTPS)" >&2
  exit 1
fi
ca="$work/tls/ca.pem"
test -s "$ca"
# Only the CA file: not the environment's bundles.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR ALIBABA_CLOUD_CA_BUNDLE

echo "--- V3 SDK, HTTPS, signature V3 (SDK default), Config.ca=$ca"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" "$venv/bin/python" server/examples/sdk_snippet.py
echo "--- V3 SDK, HTTPS, signature V1 (signature_algorithm=v2)"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" KMS_SDK_SIGNATURE_ALGORITHM=v2 \
  "$venv/bin/python" server/examples/sdk_snippet.py
echo "--- legacy SDK, HTTPS, AcsClient(verify=$ca)"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" "$venv/bin/python" server/examples/legacy_sdk_snippet.py

echo "--- ListKeyVersions, DescribeKeyVersion: V3 SDK (signature V3) and legacy SDK"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" "$venv/bin/python" server/examples/sdk_key_versions.py

echo "--- bring your own key: V3 SDK, material wrapped with Python's cryptography"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" "$venv/bin/python" server/examples/sdk_import.py

echo "--- both SDKs refuse the server when they trust other CAs (certifi's bundle)"
others=$("$venv/bin/python" -c 'import certifi; print(certifi.where())')
for snippet in server/examples/sdk_snippet.py server/examples/legacy_sdk_snippet.py; do
  if KMS_ENDPOINT="$endpoint" KMS_CA="$others" "$venv/bin/python" "$snippet" >"$work/refused.log" 2>&1; then
    echo "$snippet trusted a server that its CA bundle did not sign" >&2
    exit 1
  fi
  grep -q CERTIFICATE_VERIFY_FAILED "$work/refused.log" || { tail -20 "$work/refused.log"; exit 1; }
  echo "$snippet: refused (CERTIFICATE_VERIFY_FAILED)"
done
