# The asymmetric operations (GetPublicKey, AsymmetricSign, AsymmetricVerify, AsymmetricEncrypt,
# AsymmetricDecrypt) through both official Python SDKs (the V3 SDK alibabacloud-kms20160120 and
# the legacy aliyun-python-sdk-kms), against a local kms-server over HTTPS trusting KMS_CA. Every
# key spec with each of its algorithms; the cross-checks with Python's `cryptography`: each RSA
# and ECDSA signature verified there against GetPublicKey's PEM, a ciphertext made there with
# that key opened by AsymmetricDecrypt; SM2 (which `cryptography` lacks) round trips through the
# server. One call per error code the operations answer. Prints one line per check with its
# outcome; exits non-zero on any failure. Run by server/scripts/sdk-check.sh.
import base64
import hashlib
import json
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.AsymmetricDecryptRequest import AsymmetricDecryptRequest
from aliyunsdkkms.request.v20160120.AsymmetricEncryptRequest import AsymmetricEncryptRequest
from aliyunsdkkms.request.v20160120.AsymmetricSignRequest import AsymmetricSignRequest
from aliyunsdkkms.request.v20160120.AsymmetricVerifyRequest import AsymmetricVerifyRequest
from aliyunsdkkms.request.v20160120.GetPublicKeyRequest import GetPublicKeyRequest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from sdk_common import UNKNOWN_KEY, check, check_errors, exit_code, legacy, legacy_error, v3_client, v3_error

client = v3_client()
message = b"the message a deployment signs"
digest = hashlib.sha256(message).digest()
digest64 = base64.b64encode(digest).decode()


def create(spec, usage):
    meta = client.create_key(models.CreateKeyRequest(key_spec=spec, key_usage=usage)).body.key_metadata
    return meta.key_id, meta.primary_key_version


def pem_of(key_id, version):
    r = client.get_public_key(models.GetPublicKeyRequest(key_id=key_id, key_version_id=version)).body
    return r.public_key, r


def verify_locally(public, algorithm, signature):
    """Verifies with `cryptography` over the message (it hashes it itself)."""
    try:
        if algorithm == "RSA_PSS_SHA_256":
            public.verify(signature, message,
                          padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                          hashes.SHA256())
        elif algorithm == "RSA_PKCS1_SHA_256":
            public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            public.verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        return True
    except InvalidSignature:
        return False


SIGNING = [("RSA_2048", ["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"]),
           ("RSA_3072", ["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"]),
           ("EC_P256", ["ECDSA_SHA_256"]),
           ("EC_P256K", ["ECDSA_SHA_256"]),
           ("EC_SM2", ["SM2DSA"])]

keys = {}
for spec, algorithms in SIGNING:
    key_id, version = create(spec, "SIGN/VERIFY")
    keys[spec] = (key_id, version)
    pem, body = pem_of(key_id, version)
    public = None
    if spec != "EC_SM2":
        public = serialization.load_pem_public_key(pem.encode())
    check(f"[V3] GetPublicKey {spec}: a PEM SubjectPublicKeyInfo"
          + (" that cryptography loads" if public else ""),
          pem.startswith("-----BEGIN PUBLIC KEY-----\n") and pem.endswith("-----END PUBLIC KEY-----\n")
          and body.key_id == key_id and body.key_version_id == version)
    for algorithm in algorithms:
        signed = client.asymmetric_sign(models.AsymmetricSignRequest(
            key_id=key_id, key_version_id=version, algorithm=algorithm, digest=digest64)).body
        signature = base64.b64decode(signed.value)
        if public is not None:
            check(f"[V3] AsymmetricSign {spec} {algorithm}: verifies with cryptography",
                  verify_locally(public, algorithm, signature))
        verified = client.asymmetric_verify(models.AsymmetricVerifyRequest(
            key_id=key_id, key_version_id=version, algorithm=algorithm, digest=digest64,
            value=signed.value)).body
        other = base64.b64encode(hashlib.sha256(b"another message").digest()).decode()
        refused = client.asymmetric_verify(models.AsymmetricVerifyRequest(
            key_id=key_id, key_version_id=version, algorithm=algorithm, digest=other,
            value=signed.value)).body
        check(f"[V3] AsymmetricVerify {spec} {algorithm}: true for the signature, false for "
              "another digest", verified.value is True and refused.value is False)

ENCRYPTING = [("RSA_2048", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]),
              ("RSA_3072", ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"]),
              ("EC_SM2", ["SM2PKE"])]
OAEP = {"RSAES_OAEP_SHA_256": hashes.SHA256, "RSAES_OAEP_SHA_1": hashes.SHA1}
for spec, algorithms in ENCRYPTING:
    key_id, version = create(spec, "ENCRYPT/DECRYPT")
    keys[spec + " E/D"] = (key_id, version)
    pem, _ = pem_of(key_id, version)
    for algorithm in algorithms:
        plaintext = base64.b64encode(b"a database password").decode()
        enc = client.asymmetric_encrypt(models.AsymmetricEncryptRequest(
            key_id=key_id, key_version_id=version, algorithm=algorithm, plaintext=plaintext)).body
        dec = client.asymmetric_decrypt(models.AsymmetricDecryptRequest(
            key_id=key_id, key_version_id=version, algorithm=algorithm,
            ciphertext_blob=enc.ciphertext_blob)).body
        check(f"[V3] AsymmetricEncrypt then AsymmetricDecrypt {spec} {algorithm}",
              dec.plaintext == plaintext and enc.key_version_id == version)
        if algorithm in OAEP:
            public = serialization.load_pem_public_key(pem.encode())
            h = OAEP[algorithm]()
            outside = public.encrypt(b"sealed by cryptography",
                                     padding.OAEP(mgf=padding.MGF1(algorithm=h), algorithm=h, label=None))
            dec = client.asymmetric_decrypt(models.AsymmetricDecryptRequest(
                key_id=key_id, key_version_id=version, algorithm=algorithm,
                ciphertext_blob=base64.b64encode(outside).decode())).body
            check(f"[V3] AsymmetricDecrypt {spec} {algorithm} of a ciphertext made by cryptography",
                  base64.b64decode(dec.plaintext) == b"sealed by cryptography")

# --- Errors, one per code the operations answer (docs/asymmetric.md).
ec_key, ec_version = keys["EC_P256"]
rsa_key, rsa_version = keys["RSA_2048 E/D"]
sym_key = client.create_key(models.CreateKeyRequest()).body.key_metadata
disabled_key, disabled_version = create("EC_P256", "SIGN/VERIFY")
client.disable_key(models.DisableKeyRequest(key_id=disabled_key))


def sign(**kw):
    args = dict(key_id=ec_key, key_version_id=ec_version, algorithm="ECDSA_SHA_256", digest=digest64)
    args.update(kw)
    return lambda: client.asymmetric_sign(models.AsymmetricSignRequest(**args))


check_errors("[V3] AsymmetricSign", [
    ("digest of 31 bytes", sign(digest=base64.b64encode(b"x" * 31).decode()), "InvalidParameter", 400),
    ("an RSA algorithm on an EC key", sign(algorithm="RSA_PSS_SHA_256"), "InvalidParameter", 400),
    ("KeyVersionId missing", sign(key_version_id=None), "MissingParameter", 400),
    ("KeyVersionId of another key", sign(key_version_id=keys["EC_P256K"][1]), "Forbidden.KeyNotFound", 404),
    ("unknown key", sign(key_id=UNKNOWN_KEY), "Forbidden.KeyNotFound", 404),
    ("unknown alias", sign(key_id="alias/no-such-alias"), "Forbidden.AliasNotFound", 404),
    ("a disabled key", sign(key_id=disabled_key, key_version_id=disabled_version), "Rejected.Disabled", 409),
    ("an ENCRYPT/DECRYPT key", sign(key_id=rsa_key, key_version_id=rsa_version, algorithm="RSA_PSS_SHA_256"),
     "Rejected.UnsupportedOperation", 400),
    ("a symmetric key", sign(key_id=sym_key.key_id, key_version_id=sym_key.primary_key_version),
     "Rejected.UnsupportedOperation", 400),
    ("DryRun", sign(dry_run="true"), "DryRunOperationError", 412),
])


def encrypt(**kw):
    args = dict(key_id=rsa_key, key_version_id=rsa_version, algorithm="RSAES_OAEP_SHA_256",
                plaintext=base64.b64encode(b"x").decode())
    args.update(kw)
    return lambda: client.asymmetric_encrypt(models.AsymmetricEncryptRequest(**args))


def decrypt(**kw):
    args = dict(key_id=rsa_key, key_version_id=rsa_version, algorithm="RSAES_OAEP_SHA_256",
                ciphertext_blob=base64.b64encode(b"\x01" * 256).decode())
    args.update(kw)
    return lambda: client.asymmetric_decrypt(models.AsymmetricDecryptRequest(**args))


check_errors("[V3] AsymmetricEncrypt / AsymmetricDecrypt", [
    ("Encrypt: 191 bytes with OAEP SHA-256 on RSA-2048", encrypt(plaintext=base64.b64encode(b"x" * 191).decode()),
     "InvalidParameter", 400),
    ("Encrypt: a SIGN/VERIFY key", encrypt(key_id=ec_key, key_version_id=ec_version), "Rejected.UnsupportedOperation", 400),
    ("Encrypt: unknown alias", encrypt(key_id="alias/no-such-alias"), "Forbidden.AliasNotFound", 404),
    ("Decrypt: a ciphertext that does not decrypt", decrypt(), "InvalidParameter", 400),
    ("Decrypt: unknown key", decrypt(key_id=UNKNOWN_KEY), "Forbidden.KeyNotFound", 404),
    ("Decrypt: a SIGN/VERIFY key", decrypt(key_id=ec_key, key_version_id=ec_version), "Rejected.UnsupportedOperation", 400),
])
check_errors("[V3] GetPublicKey / AsymmetricVerify", [
    ("GetPublicKey: malformed KeyVersionId", lambda: client.get_public_key(models.GetPublicKeyRequest(
        key_id=ec_key, key_version_id="not-a-version")), "InvalidParameter", 400),
    ("GetPublicKey: unknown key", lambda: client.get_public_key(models.GetPublicKeyRequest(
        key_id=UNKNOWN_KEY, key_version_id=ec_version)), "Forbidden.KeyNotFound", 404),
    ("AsymmetricVerify: Value not Base64", lambda: client.asymmetric_verify(models.AsymmetricVerifyRequest(
        key_id=ec_key, key_version_id=ec_version, algorithm="ECDSA_SHA_256", digest=digest64, value="@@")),
     "InvalidParameter", 400),
    ("AsymmetricVerify: unknown alias", lambda: client.asymmetric_verify(models.AsymmetricVerifyRequest(
        key_id="alias/no-such-alias", key_version_id=ec_version, algorithm="ECDSA_SHA_256", digest=digest64,
        value=digest64)), "Forbidden.AliasNotFound", 404),
])

# --- The legacy SDK: the five operations.
r = GetPublicKeyRequest()
r.set_KeyId(ec_key)
r.set_KeyVersionId(ec_version)
pem = legacy(r)["PublicKey"]
r = AsymmetricSignRequest()
r.set_KeyId(ec_key)
r.set_KeyVersionId(ec_version)
r.set_Algorithm("ECDSA_SHA_256")
r.set_Digest(digest64)
value = legacy(r)["Value"]
public = serialization.load_pem_public_key(pem.encode())
check("[legacy] GetPublicKey and AsymmetricSign ECDSA_SHA_256: verifies with cryptography",
      verify_locally(public, "ECDSA_SHA_256", base64.b64decode(value)))
r = AsymmetricVerifyRequest()
r.set_KeyId(ec_key)
r.set_KeyVersionId(ec_version)
r.set_Algorithm("ECDSA_SHA_256")
r.set_Digest(digest64)
r.set_Value(value)
check("[legacy] AsymmetricVerify: true", legacy(r)["Value"] is True)
r = AsymmetricEncryptRequest()
r.set_KeyId(rsa_key)
r.set_KeyVersionId(rsa_version)
r.set_Algorithm("RSAES_OAEP_SHA_1")
r.set_Plaintext(base64.b64encode(b"legacy").decode())
blob = legacy(r)["CiphertextBlob"]
r = AsymmetricDecryptRequest()
r.set_KeyId(rsa_key)
r.set_KeyVersionId(rsa_version)
r.set_Algorithm("RSAES_OAEP_SHA_1")
r.set_CiphertextBlob(blob)
check("[legacy] AsymmetricEncrypt then AsymmetricDecrypt RSAES_OAEP_SHA_1",
      base64.b64decode(legacy(r)["Plaintext"]) == b"legacy")
r = AsymmetricSignRequest()
r.set_KeyId(ec_key)
r.set_KeyVersionId(ec_version)
r.set_Algorithm("SM2DSA")
r.set_Digest(digest64)
check("[legacy] AsymmetricSign SM2DSA on an EC_P256 key: InvalidParameter 400",
      legacy_error(r) == ("InvalidParameter", 400))

sys.exit(exit_code())
