#!/usr/bin/env bash
# Runs Alibaba Cloud's official clients of the KMS-instance API against a freshly started
# kms-server, loopback only, over HTTPS with a local CA (--tls-self-signed), each client
# trusting that CA file:
#   - the instance SDK (alibabacloud-dkms-gcs) with the client key the server issued at its
#     first start (the JSON file and the password file, from --client-key-dir);
#   - the routing SDK (alibabacloud-kms-python-sdk, TransferClient), key management on the
#     gateway listener and cryptography on the instance listener.
# server/examples/instance_sdk_check.py prints each check with its outcome. Needs python3 with
# venv and PyPI; installs the SDKs (pinned) in target/sdk-instance-venv. Bounded: the server
# is stopped on exit, and every step runs under a timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=target/sdk-instance-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
timeout 600 "$venv/bin/pip" install -q --disable-pip-version-check \
  alibabacloud-dkms-gcs==1.0.2 alibabacloud-kms-python-sdk==1.1.3

cargo build -q -p kms-server --bin kms-server
work=$(mktemp -d)
log="$work/server.log"
KMS_SERVER_ACCESS_KEYS="LTAI5tDemoAccessKey0001:demo-secret-change-me:1234567890123456" \
  timeout 900 ./target/debug/kms-server --listen 127.0.0.1:0 --tls-self-signed "$work/tls" \
  --instance-listen 127.0.0.1:0 --client-key-dir "$work/keys" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT

gateway=""
for _ in $(seq 1 300); do
  gateway=$(sed -n 's|^kms-server: listening on https://\([^ ]*\).*|\1|p' "$log")
  [ -n "$gateway" ] && break
  sleep 0.1
done
if [ -z "$gateway" ]; then
  cat "$log"
  echo "kms-server did not start (over HTTPS)" >&2
  exit 1
fi
instance=$(sed -n 's|^kms-server: KMS-instance API listening on https://\([^ ]*\).*|\1|p' "$log")
instance_id=$(sed -n 's|^kms-server: KMS instance: \(kst-[a-z0-9]*\)$|\1|p' "$log")
key_file=$(sed -n 's|^kms-server: client key file: \(.*\)$|\1|p' "$log")
password_file=$(sed -n 's|^kms-server: client key password file: \(.*\)$|\1|p' "$log")
for v in instance instance_id key_file password_file; do
  if [ -z "${!v}" ]; then
    cat "$log"
    echo "no $v in the server's output" >&2
    exit 1
  fi
done
test "$(stat -c %a "$key_file")" = 600
test "$(stat -c %a "$password_file")" = 600
ca="$work/tls/ca.pem"
test -s "$ca"
# Only the CA file: not the environment's bundles.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR ALIBABA_CLOUD_CA_BUNDLE

echo "--- instance API https://$instance ($instance_id), gateway https://$gateway, CA $ca"
KMS_INSTANCE_ENDPOINT="$instance" KMS_GATEWAY_ENDPOINT="$gateway" KMS_CA="$ca" \
  KMS_CLIENT_KEY_FILE="$key_file" KMS_CLIENT_KEY_PASSWORD_FILE="$password_file" \
  KMS_INSTANCE_ID="$instance_id" \
  KMS_AK=LTAI5tDemoAccessKey0001 KMS_SK=demo-secret-change-me \
  timeout 300 "$venv/bin/python" server/examples/instance_sdk_check.py
