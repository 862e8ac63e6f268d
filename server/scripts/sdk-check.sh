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
#   - both SDKs: server/examples/sdk_keys.py, CreateKey's rotation policy, UpdateRotationPolicy,
#     DescribeKey's fields and ListKeys' Filters, with one error case per error code;
#   - both SDKs: server/examples/sdk_export.py, GenerateAndExportDataKey and ExportDataKey with
#     each WrappingAlgorithm served, the export unwrapped with Python's `cryptography`, and one
#     error case per error code they answer;
#   - both SDKs: server/examples/sdk_metadata.py, the metadata and housekeeping operations,
#     likewise;
#   - the V3 SDK with Python's `cryptography`: server/examples/sdk_import.py, bring your own
#     key (GetParametersForImport per WrappingAlgorithm, ImportKeyMaterial, DeleteKeyMaterial,
#     material expiry by the server's housekeeping, which runs every second here), one line
#     per check;
#   - both SDKs: server/examples/sdk_key_policy.py, GetKeyPolicy and SetKeyPolicy, account B
#     using account A's key by ARN once A's policy grants it, with one error case per error code;
#   - both SDKs with Python's `cryptography`: server/examples/sdk_asymmetric.py, GetPublicKey,
#     AsymmetricSign/Verify/Encrypt/Decrypt for every key spec and algorithm, signatures
#     verified and ciphertexts made by `cryptography`, one error case per error code;
#   - server/examples/sdk_operations.py, the other operations of the README's table;
# then checks that every operation of server/README.md's table is reached by one of these
# scripts, and that both SDKs refuse the server when they trust another CA; last, a week later
# (server/examples/sdk_later.py): a server on a store, restarted with --key-clock-ahead 8d,
# rotates a key by its policy and refuses an ImportToken of the week before. Needs python3 with
# venv and PyPI; installs the SDKs in target/sdk-venv.
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
pids=()
# On exit: stop the servers, wait until they are gone (one on a store writes it as it stops),
# then remove their files.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts kms-server over HTTPS (the local CA in $work/tls) with housekeeping every second and
# the given extra arguments, logging to $1; sets `pid` and `endpoint`.
start_server() {
  local log=$1
  shift
  KMS_SERVER_ACCESS_KEYS="LTAI5tDemoAccessKey0001:demo-secret-change-me:1234567890123456,LTAI5tDemoAccessKey0002:demo-secret-change-me:6543210987654321" \
    ./target/debug/kms-server --listen 127.0.0.1:0 --tls-self-signed "$work/tls" --tick-seconds 1 \
      "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
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
}

start_server "$work/server.log"

# Runs an SDK script against the server started last, trusting only its CA.
sdk() {
  KMS_ENDPOINT="$endpoint" KMS_CA="$ca" "$venv/bin/python" "$@"
}
ca="$work/tls/ca.pem"
test -s "$ca"
# Only the CA file: not the environment's bundles.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR ALIBABA_CLOUD_CA_BUNDLE

echo "--- V3 SDK, HTTPS, signature V3 (SDK default), Config.ca=$ca"
sdk server/examples/sdk_snippet.py
echo "--- V3 SDK, HTTPS, signature V1 (signature_algorithm=v2)"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" KMS_SDK_SIGNATURE_ALGORITHM=v2 \
  "$venv/bin/python" server/examples/sdk_snippet.py
echo "--- legacy SDK, HTTPS, AcsClient(verify=$ca)"
sdk server/examples/legacy_sdk_snippet.py

echo "--- ListKeyVersions, DescribeKeyVersion: V3 SDK (signature V3) and legacy SDK"
sdk server/examples/sdk_key_versions.py

echo "--- rotation policy, DescribeKey's fields, ListKeys Filters: V3 SDK and legacy SDK"
sdk server/examples/sdk_keys.py

echo "--- GenerateAndExportDataKey, ExportDataKey: V3 SDK (signature V3) and legacy SDK"
sdk server/examples/sdk_export.py

echo "--- metadata and housekeeping (descriptions, deletion protection, tags, ListAliasesByKeyId,"
echo "    DescribeRegions, GetRandomPassword): V3 SDK (signature V3) and legacy SDK"
sdk server/examples/sdk_metadata.py

echo "--- key policies (GetKeyPolicy, SetKeyPolicy, cross-account use): V3 SDK and legacy SDK"
sdk server/examples/sdk_key_policy.py

echo "--- bring your own key: V3 SDK, material wrapped with Python's cryptography"
sdk server/examples/sdk_import.py

echo "--- asymmetric keys (GetPublicKey, AsymmetricSign/Verify/Encrypt/Decrypt): V3 SDK and legacy SDK, cross-checked with Python's cryptography"
sdk server/examples/sdk_asymmetric.py

echo "--- the other operations: GenerateDataKeyWithoutPlaintext, Encrypt, ReEncrypt, aliases, deletion"
sdk server/examples/sdk_operations.py

echo "--- every operation of server/README.md's table is reached by these scripts"
"$venv/bin/python" - "$0" <<'PY'
import re, sys
script = open(sys.argv[1]).read()
readme = open("server/README.md").read()
table = readme.split("Operations served (", 1)[1]
count = int(table.split(")", 1)[0])
rows = table.split("\n\n", 2)[1]
ops = [op.strip().split(" ")[0] for row in rows.splitlines()[2:] for op in row.split("|")[2].split(",")]
scripts = set(re.findall(r"server/examples/[a-z_]+\.py", script))
text = "".join(open(p).read() for p in scripts)
missing = [op for op in ops if f"{op}Request" not in text]
print(f"{len(ops)} operations in the table (heading says {count}); reached by {len(ops) - len(missing)}")
if missing or len(ops) != count or len(set(ops)) != len(ops):
    sys.exit(f"not reached: {missing}")
PY

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

echo "--- a week later, through the V3 SDK: automatic rotation by housekeeping, blobs of every"
echo "    version, an expired ImportToken (a server on a store, restarted with --key-clock-ahead 8d)"
export KMS_KEYRING_KEY
KMS_KEYRING_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
start_server "$work/before.log" --store "$work/later.db"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" KMS_STATE="$work/later.json" \
  "$venv/bin/python" server/examples/sdk_later.py before
kill "$pid"
wait "$pid" 2>/dev/null || true
start_server "$work/after.log" --store "$work/later.db" --key-clock-ahead 8d
grep -q "keys see the clock 8days ahead" "$work/after.log"
KMS_ENDPOINT="$endpoint" KMS_CA="$ca" KMS_STATE="$work/later.json" \
  "$venv/bin/python" server/examples/sdk_later.py after
