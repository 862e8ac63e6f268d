# A week later, through the official SDKs, against a kms-server on a store over HTTPS trusting
# KMS_CA. Run twice by server/scripts/sdk-check.sh: `before` on a server started normally, then
# `after` on the same store restarted with --key-clock-ahead 8d (the time keys see, eight days
# on; signatures keep the wall clock), the state in between kept in KMS_STATE.
#   before: a key with automatic rotation every 7 days and a blob sealed under it; an EXTERNAL
#           key's ImportToken and material wrapped for it, not yet imported; and the legacy
#           SDK's GetParametersForImport, ImportKeyMaterial and DeleteKeyMaterial.
#   after:  housekeeping has rotated the key (a new primary version, LastRotationDate and
#           NextRotationDate moved on), the old blob decrypts and new ones seal under the new
#           version; the week-old ImportToken is ExpiredImportToken 400, a fresh one imports.
# One line per check; exits non-zero if any failed.
import base64
import json
import os
import sys
import time
from datetime import datetime, timedelta

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.DeleteKeyMaterialRequest import DeleteKeyMaterialRequest
from aliyunsdkkms.request.v20160120.GetParametersForImportRequest import (
    GetParametersForImportRequest,
)
from aliyunsdkkms.request.v20160120.ImportKeyMaterialRequest import ImportKeyMaterialRequest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sdk_common import check, check_errors, exit_code, legacy, v3_client

STATE = os.environ["KMS_STATE"]
CONTEXT = {"week": "one"}
client = v3_client()


def when(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")


def describe(key_id):
    return client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata


def wrap(public_key_b64, material):
    public_key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    return base64.b64encode(public_key.encrypt(material, oaep)).decode()


def token_for(key_id):
    return client.get_parameters_for_import(models.GetParametersForImportRequest(
        key_id=key_id, wrapping_algorithm="RSAES_OAEP_SHA_256", wrapping_key_spec="RSA_2048")).body


if sys.argv[1] == "before":
    key = client.create_key(models.CreateKeyRequest(
        enable_automatic_rotation=True, rotation_interval="7d")).body.key_metadata
    made = client.generate_data_key(models.GenerateDataKeyRequest(
        key_id=key.key_id, encryption_context=CONTEXT)).body
    external = client.create_key(models.CreateKeyRequest(origin="EXTERNAL")).body.key_metadata
    params = token_for(external.key_id)
    material = os.urandom(32)
    check("[V3] before: a key rotating every 7 days, a blob, an ImportToken valid 24 hours",
          made.key_version_id == key.primary_key_version
          and when(params.token_expire_time) - datetime.utcnow() > timedelta(hours=23))

    # The legacy SDK's import operations.
    legacy_key = client.create_key(models.CreateKeyRequest(origin="EXTERNAL")).body.key_metadata
    r = GetParametersForImportRequest()
    r.set_KeyId(legacy_key.key_id)
    r.set_WrappingAlgorithm("RSAES_OAEP_SHA_256")
    r.set_WrappingKeySpec("RSA_2048")
    p = legacy(r)
    r = ImportKeyMaterialRequest()
    r.set_KeyId(legacy_key.key_id)
    r.set_ImportToken(p["ImportToken"])
    r.set_EncryptedKeyMaterial(wrap(p["PublicKey"], os.urandom(32)))
    legacy(r)
    check("[legacy] GetParametersForImport, ImportKeyMaterial: the key is Enabled",
          describe(legacy_key.key_id).key_state == "Enabled")
    r = DeleteKeyMaterialRequest()
    r.set_KeyId(legacy_key.key_id)
    legacy(r)
    check("[legacy] DeleteKeyMaterial: the key is PendingImport",
          describe(legacy_key.key_id).key_state == "PendingImport")

    with open(STATE, "w") as f:
        json.dump({
            "key": key.key_id, "first": key.primary_key_version, "created": key.creation_date,
            "blob": made.ciphertext_blob, "plaintext": made.plaintext,
            "external": external.key_id, "token": params.import_token,
            "wrapped": wrap(params.public_key, material),
            "material": base64.b64encode(material).decode(),
        }, f)
    sys.exit(exit_code())

with open(STATE) as f:
    state = json.load(f)
key = state["key"]
primary = state["first"]
for _ in range(100):  # housekeeping runs every second
    primary = describe(key).primary_key_version
    if primary != state["first"]:
        break
    time.sleep(0.1)
m = describe(key)
check("[V3] eight days on: housekeeping made a new primary version", primary != state["first"],
      primary)
check("[V3] LastRotationDate at least 7 days after creation, NextRotationDate 7 days after it",
      when(m.last_rotation_date) - when(state["created"]) >= timedelta(days=7)
      and when(m.next_rotation_date) - when(m.last_rotation_date) == timedelta(days=7),
      f"{state['created']} {m.last_rotation_date} {m.next_rotation_date}")
versions = client.list_key_versions(models.ListKeyVersionsRequest(key_id=key)).body
check("[V3] ListKeyVersions: two versions, the new one last", versions.total_count == 2
      and versions.key_versions.key_version[-1].key_version_id == primary)
opened = client.decrypt(models.DecryptRequest(
    ciphertext_blob=state["blob"], encryption_context=CONTEXT)).body
check("[V3] the blob of the week before decrypts, under the first version",
      opened.plaintext == state["plaintext"] and opened.key_version_id == state["first"])
made = client.generate_data_key(models.GenerateDataKeyRequest(
    key_id=key, encryption_context=CONTEXT)).body
check("[V3] GenerateDataKey now seals under the new version", made.key_version_id == primary)

external = state["external"]
check_errors("[V3]", [
    ("ImportKeyMaterial with an ImportToken of the week before", lambda: client.import_key_material(
        models.ImportKeyMaterialRequest(key_id=external, import_token=state["token"],
                                        encrypted_key_material=state["wrapped"])),
     "ExpiredImportToken", 400),
])
fresh = token_for(external)
client.import_key_material(models.ImportKeyMaterialRequest(
    key_id=external, import_token=fresh.import_token,
    encrypted_key_material=wrap(fresh.public_key, base64.b64decode(state["material"]))))
check("[V3] a fresh ImportToken imports the same material: Enabled",
      describe(external).key_state == "Enabled")
sys.exit(exit_code())
