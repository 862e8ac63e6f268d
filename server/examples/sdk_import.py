# Bring your own key through the official V3 Python SDK (alibabacloud-kms20160120), the
# material wrapped with Python's `cryptography`, against a local kms-server over HTTPS trusting
# KMS_CA: CreateKey Origin=EXTERNAL; for each WrappingAlgorithm GetParametersForImport, wrap
# 32 random bytes, ImportKeyMaterial, GenerateDataKey, Decrypt; DeleteKeyMaterial then
# GenerateDataKey refused (Rejected.PendingImport) and the same material imported again; the
# material imported with KeyMaterialExpireUnix a few seconds ahead, expired by the server's
# housekeeping (start it with --tick-seconds 1) to Rejected.PendingImport, and imported again;
# one call per error code the three operations answer (ExpiredImportToken, which needs a
# token 24 hours old, in sdk_later.py). One line per check; exits non-zero if any failed.
# Run by server/scripts/sdk-check.sh.
import base64
import os
import sys
import time

from alibabacloud_kms20160120 import models
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from sdk_common import check, exit_code, v3_client, v3_error

ALGORITHMS = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "RSAES_PKCS1_V1_5"]
client = v3_client()


def wrap(public_key_b64, algorithm, material):
    """Wraps `material` as Alibaba's import guide does: the PublicKey is Base64 DER
    SubjectPublicKeyInfo; the result is Base64."""
    public_key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
    if algorithm == "RSAES_OAEP_SHA_256":
        pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    elif algorithm == "RSAES_OAEP_SHA_1":
        pad = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    else:
        pad = padding.PKCS1v15()
    return base64.b64encode(public_key.encrypt(material, pad)).decode()


def parameters(key_id, algorithm):
    return client.get_parameters_for_import(models.GetParametersForImportRequest(
        key_id=key_id, wrapping_algorithm=algorithm, wrapping_key_spec="RSA_2048")).body


def import_material(key_id, algorithm, material, expire=None):
    p = parameters(key_id, algorithm)
    return client.import_key_material(models.ImportKeyMaterialRequest(
        key_id=key_id, encrypted_key_material=wrap(p.public_key, algorithm, material),
        import_token=p.import_token, key_material_expire_unix=expire))


def external_key():
    return client.create_key(models.CreateKeyRequest(origin="EXTERNAL")).body.key_metadata.key_id


def gdk(key_id):
    return client.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id)).body


def state(key_id):
    return client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata.key_state


# --- The flow, once per wrapping algorithm.
for algorithm in ALGORITHMS:
    key_id = external_key()
    check(f"CreateKey Origin=EXTERNAL is PendingImport ({algorithm})", state(key_id) == "PendingImport")
    p = parameters(key_id, algorithm)
    check(f"GetParametersForImport {algorithm}: KeyId, ImportToken, PublicKey, TokenExpireTime",
       p.key_id == key_id and p.import_token and p.public_key and p.token_expire_time.endswith("Z"))
    material = os.urandom(32)
    client.import_key_material(models.ImportKeyMaterialRequest(
        key_id=key_id, encrypted_key_material=wrap(p.public_key, algorithm, material),
        import_token=p.import_token))
    check(f"ImportKeyMaterial {algorithm}: Enabled", state(key_id) == "Enabled")
    made = gdk(key_id)
    opened = client.decrypt(models.DecryptRequest(ciphertext_blob=made.ciphertext_blob)).body
    check(f"GenerateDataKey then Decrypt {algorithm}", opened.plaintext == made.plaintext)

# --- DeleteKeyMaterial, then the same material again; other material refused.
key_id = external_key()
material = os.urandom(32)
import_material(key_id, "RSAES_OAEP_SHA_256", material)
blob = gdk(key_id)
client.delete_key_material(models.DeleteKeyMaterialRequest(key_id=key_id))
check("DeleteKeyMaterial: PendingImport", state(key_id) == "PendingImport")
e = v3_error(lambda: gdk(key_id))
check("GenerateDataKey after DeleteKeyMaterial: Rejected.PendingImport 409", e == ("Rejected.PendingImport", 409), e)
e = v3_error(lambda: import_material(key_id, "RSAES_OAEP_SHA_256", os.urandom(32)))
check("ImportKeyMaterial of other material: InvalidKeyMaterial 400", e == ("InvalidKeyMaterial", 400), e)
import_material(key_id, "RSAES_OAEP_SHA_1", material)
opened = client.decrypt(models.DecryptRequest(ciphertext_blob=blob.ciphertext_blob)).body
check("the same material imported again: Enabled, the earlier blob decrypts",
   state(key_id) == "Enabled" and opened.plaintext == blob.plaintext)
import_material(key_id, "RSAES_PKCS1_V1_5", material)
check("the same material imported again while Enabled", state(key_id) == "Enabled")

# --- Expiry: the server's housekeeping removes the material once KeyMaterialExpireUnix passes.
key_id = external_key()
material = os.urandom(32)
expire = int(time.time()) + 3
import_material(key_id, "RSAES_OAEP_SHA_256", material, expire=expire)
blob = gdk(key_id)
e = None
for _ in range(40):
    time.sleep(0.5)
    e = v3_error(lambda: gdk(key_id))
    if e is not None:
        break
check("material past KeyMaterialExpireUnix: GenerateDataKey Rejected.PendingImport 409",
   e == ("Rejected.PendingImport", 409) and time.time() >= expire, e)
import_material(key_id, "RSAES_OAEP_SHA_256", material)
opened = client.decrypt(models.DecryptRequest(ciphertext_blob=blob.ciphertext_blob)).body
check("expired material imported again: the earlier blob decrypts", opened.plaintext == blob.plaintext)

# --- Errors, one per code.
service_key = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
pending = external_key()
unknown = "key-hzz630494463ejqjx1234"


def gpfi(key_id, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048"):
    return lambda: client.get_parameters_for_import(models.GetParametersForImportRequest(
        key_id=key_id, wrapping_algorithm=algorithm, wrapping_key_spec=spec))


def expect(label, call, code, status):
    e = v3_error(call)
    check(f"{label}: {code} {status}", e == (code, status), f"got {e}")


expect("GetParametersForImport of a service key", gpfi(service_key), "Unsupported.Origin", 400)
expect("GetParametersForImport with SM2PKE", gpfi(pending, "SM2PKE", "EC_SM2"), "InvalidParameter", 400)
expect("GetParametersForImport without WrappingKeySpec", gpfi(pending, spec=None), "MissingParameter", 400)
expect("GetParametersForImport of an unknown key", gpfi(unknown), "Forbidden.KeyNotFound", 404)

p = parameters(pending, "RSAES_OAEP_SHA_256")
theirs = parameters(external_key(), "RSAES_OAEP_SHA_256")


def ikm(token, wrapped, key_id=pending, expire=None):
    return lambda: client.import_key_material(models.ImportKeyMaterialRequest(
        key_id=key_id, encrypted_key_material=wrapped, import_token=token,
        key_material_expire_unix=expire))


good = wrap(p.public_key, "RSAES_OAEP_SHA_256", os.urandom(32))
expect("ImportKeyMaterial with another key's token", ikm(theirs.import_token, good), "InvalidImportToken", 400)
expect("ImportKeyMaterial with a malformed token", ikm("bm90IGEgdG9rZW4=", good), "InvalidImportToken", 400)
expect("ImportKeyMaterial of 16 bytes into an AES-256 key",
       ikm(p.import_token, wrap(p.public_key, "RSAES_OAEP_SHA_256", os.urandom(16))), "InvalidKeyMaterial", 400)
expect("ImportKeyMaterial expiring in the past", ikm(p.import_token, good, expire=1), "InvalidParameter", 400)
expect("ImportKeyMaterial without EncryptedKeyMaterial", ikm(p.import_token, None), "MissingParameter", 400)
expect("ImportKeyMaterial into a service key", ikm(p.import_token, good, key_id=service_key), "Unsupported.Origin", 400)
expect("ImportKeyMaterial into an unknown key", ikm(p.import_token, good, key_id=unknown), "Forbidden.KeyNotFound", 404)
# ExpiredImportToken 400 needs a token 24 hours old: sdk_later.py shows it (with a server
# restarted --key-clock-ahead 8d), as server/tests/import.rs does.


def dkm(key_id):
    return lambda: client.delete_key_material(models.DeleteKeyMaterialRequest(key_id=key_id))


expect("DeleteKeyMaterial of a key without material", dkm(pending), "Rejected.StateModifiedFailed", 409)
expect("DeleteKeyMaterial of a service key", dkm(service_key), "UnsupportedOperation", 400)
expect("DeleteKeyMaterial of an unknown key", dkm(unknown), "Forbidden.KeyNotFound", 404)
client.schedule_key_deletion(models.ScheduleKeyDeletionRequest(key_id=pending, pending_window_in_days=7))
expect("GetParametersForImport of a key pending deletion", gpfi(pending), "Rejected.StateModifiedFailed", 409)

sys.exit(exit_code())
