# GenerateAndExportDataKey and ExportDataKey through both official Python SDKs (the V3 SDK
# alibabacloud-kms20160120 and the legacy aliyun-python-sdk-kms), against a local kms-server
# over HTTPS trusting KMS_CA: the data key exported to an RSA-2048 public key with each
# WrappingAlgorithm served, unwrapped with Python's `cryptography`, compared with Decrypt of
# the CiphertextBlob; ExportDataKey of that blob; and one call per error code the operations
# answer. Prints one line per check with its outcome; exits non-zero on any failure. Run by
# server/scripts/sdk-check.sh.
import base64
import json
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.ExportDataKeyRequest import ExportDataKeyRequest
from aliyunsdkkms.request.v20160120.GenerateAndExportDataKeyRequest import (
    GenerateAndExportDataKeyRequest,
)
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from sdk_common import check, exit_code, legacy, legacy_error, v3_client, v3_error


def public_key_blob(private):
    der = private.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


HASHES = {"RSAES_OAEP_SHA_256": hashes.SHA256, "RSAES_OAEP_SHA_1": hashes.SHA1}


def unwrap(private, algorithm, exported):
    h = HASHES[algorithm]()
    oaep = padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None)
    return private.decrypt(base64.b64decode(exported), oaep)


private = rsa.generate_private_key(65537, 2048)
blob = public_key_blob(private)
big = public_key_blob(rsa.generate_private_key(65537, 3072))
context = {"tenant": "acme"}

# --- V3 SDK
client = v3_client()
key_id = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
made = None
for algorithm in HASHES:
    r = client.generate_and_export_data_key(models.GenerateAndExportDataKeyRequest(
        key_id=key_id, encryption_context=context, public_key_blob=blob,
        wrapping_key_spec="RSA_2048", wrapping_algorithm=algorithm)).body
    data_key = unwrap(private, algorithm, r.exported_data_key)
    opened = client.decrypt(models.DecryptRequest(
        ciphertext_blob=r.ciphertext_blob, encryption_context=context)).body
    check(f"[V3] GenerateAndExportDataKey {algorithm}: unwrapped with cryptography = Decrypt "
          "of the CiphertextBlob", len(data_key) == 32 and r.key_id == key_id
          and opened.plaintext == base64.b64encode(data_key).decode()
          and opened.key_version_id == r.key_version_id)
    made = made or (r.ciphertext_blob, data_key)
    e = client.export_data_key(models.ExportDataKeyRequest(
        ciphertext_blob=r.ciphertext_blob, encryption_context=context, public_key_blob=blob,
        wrapping_key_spec="RSA_2048", wrapping_algorithm=algorithm)).body
    check(f"[V3] ExportDataKey {algorithm} of that blob: the same data key",
          unwrap(private, algorithm, e.exported_data_key) == data_key
          and e.key_id == key_id and e.key_version_id == r.key_version_id)
r = client.generate_and_export_data_key(models.GenerateAndExportDataKeyRequest(
    key_id=key_id, number_of_bytes=190, public_key_blob=blob, wrapping_key_spec="RSA_2048",
    wrapping_algorithm="RSAES_OAEP_SHA_256")).body
check("[V3] GenerateAndExportDataKey NumberOfBytes=190 (the most OAEP-SHA-256 carries)",
      len(unwrap(private, "RSAES_OAEP_SHA_256", r.exported_data_key)) == 190)
disabled = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
disabled_blob = client.generate_data_key(models.GenerateDataKeyRequest(
    key_id=disabled)).body.ciphertext_blob
client.disable_key(models.DisableKeyRequest(key_id=disabled))
text_blob = client.encrypt(models.EncryptRequest(key_id=key_id, plaintext="not a key")).body


def gaedk(**kw):
    args = dict(key_id=key_id, public_key_blob=blob, wrapping_key_spec="RSA_2048",
                wrapping_algorithm="RSAES_OAEP_SHA_256")
    args.update(kw)
    return lambda: client.generate_and_export_data_key(
        models.GenerateAndExportDataKeyRequest(**{k: v for k, v in args.items() if v is not None}))


def edk(**kw):
    args = dict(ciphertext_blob=made[0], encryption_context=context, public_key_blob=blob,
                wrapping_key_spec="RSA_2048", wrapping_algorithm="RSAES_OAEP_SHA_256")
    args.update(kw)
    return lambda: client.export_data_key(
        models.ExportDataKeyRequest(**{k: v for k, v in args.items() if v is not None}))


errors = [
    ("GenerateAndExportDataKey without PublicKeyBlob", gaedk(public_key_blob=None),
     "MissingParameter", 400),
    ("GenerateAndExportDataKey with a 3072-bit key for RSA_2048", gaedk(public_key_blob=big),
     "InvalidParameter", 400),
    ("GenerateAndExportDataKey WrappingAlgorithm=RSAES_PKCS1_V1_5",
     gaedk(wrapping_algorithm="RSAES_PKCS1_V1_5"), "InvalidParameter", 400),
    ("GenerateAndExportDataKey NumberOfBytes=191 under OAEP-SHA-256", gaedk(number_of_bytes=191),
     "InvalidParameter", 400),
    ("GenerateAndExportDataKey EC_SM2 / SM2PKE (not modelled)",
     gaedk(wrapping_key_spec="EC_SM2", wrapping_algorithm="SM2PKE"), "UnsupportedOperation", 400),
    ("GenerateAndExportDataKey DryRun=true", gaedk(dry_run="true"), "DryRunOperationError", 412),
    ("GenerateAndExportDataKey DryRun=true, malformed PublicKeyBlob",
     gaedk(dry_run="true", public_key_blob="AAAA"), "ValidationError", 400),
    ("GenerateAndExportDataKey of an unknown key", gaedk(key_id="key-hzz630494463ejqjx1234"),
     "Forbidden.KeyNotFound", 404),
    ("GenerateAndExportDataKey of an unknown alias", gaedk(key_id="alias/none"),
     "Forbidden.AliasNotFound", 404),
    ("GenerateAndExportDataKey of a Disabled key", gaedk(key_id=disabled), "Rejected.Disabled", 409),
    ("ExportDataKey without CiphertextBlob", edk(ciphertext_blob=None), "MissingParameter", 400),
    ("ExportDataKey with another EncryptionContext", edk(encryption_context={"tenant": "other"}),
     "InvalidParameter", 400),
    ("ExportDataKey of Encrypt's blob (not a data key)",
     edk(ciphertext_blob=text_blob.ciphertext_blob, encryption_context=None),
     "InvalidParameter", 400),
    ("ExportDataKey WrappingKeySpec=RSA_3072", edk(wrapping_key_spec="RSA_3072"),
     "InvalidParameter", 400),
    ("ExportDataKey EC_SM2 / SM2PKE (not modelled)",
     edk(wrapping_key_spec="EC_SM2", wrapping_algorithm="SM2PKE"), "UnsupportedOperation", 400),
    ("ExportDataKey DryRun=true", edk(dry_run="true"), "DryRunOperationError", 412),
    ("ExportDataKey of a Disabled key's blob",
     edk(ciphertext_blob=disabled_blob, encryption_context=None), "Rejected.Disabled", 409),
    ("ExportDataKey with an unknown AccessKey", lambda: v3_client("LTAI5tNoSuchKey00000")
     .export_data_key(models.ExportDataKeyRequest(
         ciphertext_blob=made[0], public_key_blob=blob, wrapping_key_spec="RSA_2048",
         wrapping_algorithm="RSAES_OAEP_SHA_256")), "InvalidAccessKeyId.NotFound", 404),
]
for label, call, code, status in errors:
    got = v3_error(call)
    check(f"[V3] {label}: {code} {status}", got == (code, status), f"got {got}")

# --- legacy SDK


def wrapping(request, algorithm="RSAES_OAEP_SHA_256", spec="RSA_2048"):
    request.set_PublicKeyBlob(blob)
    request.set_WrappingKeySpec(spec)
    request.set_WrappingAlgorithm(algorithm)
    return request


for algorithm in HASHES:
    r = wrapping(GenerateAndExportDataKeyRequest(), algorithm)
    r.set_KeyId(key_id)
    r.set_EncryptionContext(json.dumps(context))
    out = legacy(r)
    data_key = unwrap(private, algorithm, out["ExportedDataKey"])
    e = wrapping(ExportDataKeyRequest(), algorithm)
    e.set_CiphertextBlob(out["CiphertextBlob"])
    e.set_EncryptionContext(json.dumps(context))
    exported = legacy(e)
    check(f"[legacy] GenerateAndExportDataKey, then ExportDataKey, {algorithm}: one data key",
          len(data_key) == 32
          and unwrap(private, algorithm, exported["ExportedDataKey"]) == data_key)
r = wrapping(GenerateAndExportDataKeyRequest(), "SM2PKE", "EC_SM2")
r.set_KeyId(key_id)
got = legacy_error(r)
check("[legacy] GenerateAndExportDataKey EC_SM2 / SM2PKE: UnsupportedOperation 400",
      got == ("UnsupportedOperation", 400), f"got {got}")
r = wrapping(ExportDataKeyRequest())
r.set_CiphertextBlob(made[0])
got = legacy_error(r)
check("[legacy] ExportDataKey without the EncryptionContext: InvalidParameter 400",
      got == ("InvalidParameter", 400), f"got {got}")

sys.exit(exit_code())
