# The KMS-instance API of a local kms-server through Alibaba Cloud's official clients, unchanged:
#   - the instance SDK, alibabacloud-dkms-gcs (`sdk.client.Client`), with the client key the
#     server issued (its JSON file and password), over HTTPS trusting the server's CA file;
#   - the routing SDK, alibabacloud-kms-python-sdk (`TransferClient`), which sends key
#     management to the gateway and cryptographic calls to the instance.
# Prints one line per check with its outcome; exits non-zero at the first failure.
#
# Environment: KMS_INSTANCE_ENDPOINT (host:port of --instance-listen), KMS_GATEWAY_ENDPOINT,
# KMS_CA (the CA file of --tls-self-signed), KMS_CLIENT_KEY_FILE, KMS_CLIENT_KEY_PASSWORD_FILE,
# KMS_INSTANCE_ID, KMS_AK, KMS_SK (an AccessKey of the client key's account).
import base64
import datetime
import json
import os
import sys

from alibabacloud_kms20160120 import models as kms_models
from alibabacloud_kms_kms20160120.transfer_client import TransferClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_util.client import Client as UtilClient
from openapi.models import Config
from sdk import models
from sdk.client import Client

INSTANCE = os.environ["KMS_INSTANCE_ENDPOINT"]
GATEWAY = os.environ["KMS_GATEWAY_ENDPOINT"]
CA = os.environ["KMS_CA"]
KEY_FILE = os.environ["KMS_CLIENT_KEY_FILE"]
PASSWORD = open(os.environ["KMS_CLIENT_KEY_PASSWORD_FILE"]).read().strip()
INSTANCE_ID = os.environ["KMS_INSTANCE_ID"]

checks = 0


def check(name, ok, detail=""):
    global checks
    checks += 1
    print(f"{'ok  ' if ok else 'FAIL'} {name}{': ' + detail if detail else ''}", flush=True)
    if not ok:
        sys.exit(1)


def refused(name, call, code, status):
    """`call` raises the SDK's exception with `code` and HTTP `status`."""
    try:
        call()
    except Exception as error:  # TeaException: code, message, data.httpCode
        got_code = getattr(error, "code", None)
        data = getattr(error, "data", None) or {}
        got_status = data.get("httpCode") if isinstance(data, dict) else None
        got_status = got_status or getattr(error, "status_code", None)
        check(name, got_code == code and got_status == status,
              f"{got_code} {got_status} ({getattr(error, 'message', error)})")
        return
    check(name, False, "no exception")


def instance_client(**overrides):
    config = Config(protocol="https", endpoint=INSTANCE, client_key_file=KEY_FILE,
                    password=PASSWORD, ca_file_path=CA)
    for k, v in overrides.items():
        setattr(config, k, v)
    return Client(config)


# The routing client: key management on the gateway, cryptography on the instance.
gateway_config = open_api_models.Config(
    access_key_id=os.environ["KMS_AK"], access_key_secret=os.environ["KMS_SK"],
    endpoint=GATEWAY, protocol="HTTPS", region_id="cn-hangzhou", ca=CA)
transfer = TransferClient(
    config=gateway_config,
    kms_config=Config(protocol="https", endpoint=INSTANCE, client_key_file=KEY_FILE,
                      password=PASSWORD, ca_file_path=CA))

created = transfer.create_key(kms_models.CreateKeyRequest(dkmsinstance_id=INSTANCE_ID))
key_id = created.body.key_metadata.key_id
described = transfer.describe_key(kms_models.DescribeKeyRequest(key_id=key_id))
check("CreateKey with DKMSInstanceId on the gateway (TransferClient), DescribeKey shows it",
      described.body.key_metadata.dkmsinstance_id == INSTANCE_ID, f"{key_id} in {INSTANCE_ID}")

client = instance_client()
aad = b"order=42"

# GenerateDataKey -> Decrypt.
generated = client.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id, aad=aad))
opened = client.decrypt(models.DecryptRequest(
    key_id=key_id, ciphertext_blob=generated.ciphertext_blob, iv=generated.iv, aad=aad))
check("GenerateDataKey -> Decrypt", opened.plaintext == generated.plaintext
      and len(generated.plaintext) == 32, f"{len(generated.plaintext)}-byte data key")

# Encrypt -> Decrypt with Aad.
sealed = client.encrypt(models.EncryptRequest(key_id=key_id, plaintext=b"hello instance", aad=aad))
opened = client.decrypt(models.DecryptRequest(
    key_id=key_id, ciphertext_blob=sealed.ciphertext_blob, iv=sealed.iv, aad=aad))
check("Encrypt -> Decrypt with Aad", opened.plaintext == b"hello instance")

# AdvanceEncrypt -> AdvanceDecrypt with only the blob (and the Aad it was sealed with).
advance = client.advance_encrypt(models.AdvanceEncryptRequest(
    key_id=key_id, plaintext=b"advance", aad=aad))
opened = client.advance_decrypt(models.AdvanceDecryptRequest(
    ciphertext_blob=advance.ciphertext_blob, aad=aad))
check("AdvanceEncrypt -> AdvanceDecrypt with only the blob",
      opened.plaintext == b"advance" and opened.key_id == key_id
      and opened.key_version_id == advance.key_version_id, opened.key_version_id)

# AdvanceGenerateDataKey.
agdk = client.advance_generate_data_key(models.AdvanceGenerateDataKeyRequest(
    key_id=key_id, number_of_bytes=16, aad=aad))
opened = client.advance_decrypt(models.AdvanceDecryptRequest(
    ciphertext_blob=agdk.ciphertext_blob, aad=aad))
check("AdvanceGenerateDataKey -> AdvanceDecrypt",
      len(agdk.plaintext) == 16 and opened.plaintext == agdk.plaintext)

# GenerateRandom.
random = client.generate_random(models.GenerateRandomRequest(length=48))
check("GenerateRandom", len(random.random) == 48, "48 bytes")

# Refusals, each the SDK's exception with the spec's code and HTTP status.
refused("Decrypt with a wrong Aad -> InvalidParameter 400",
        lambda: client.decrypt(models.DecryptRequest(
            key_id=key_id, ciphertext_blob=sealed.ciphertext_blob, iv=sealed.iv,
            aad=b"order=43")),
        "InvalidParameter", 400)
refused("Encrypt with an unknown key -> Forbidden.KeyNotFound 404",
        lambda: client.encrypt(models.EncryptRequest(
            key_id="00000000-0000-4000-8000-000000000000", plaintext=b"x")),
        "Forbidden.KeyNotFound", 404)
transfer.disable_key(kms_models.DisableKeyRequest(key_id=key_id))
refused("Encrypt with a disabled key -> Rejected.Disabled 409",
        lambda: client.encrypt(models.EncryptRequest(key_id=key_id, plaintext=b"x")),
        "Rejected.Disabled", 409)
transfer.enable_key(kms_models.EnableKeyRequest(key_id=key_id))

# A second client key the server never issued: made here with `cryptography`, in the same
# JSON + PKCS#12 form.
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
p12 = pkcs12.serialize_key_and_certificates(
    b"foreign", foreign, None, None,
    serialization.BestAvailableEncryption(b"foreign-password"))
foreign_file = os.path.join(os.path.dirname(KEY_FILE), "foreign-clientKey.json")
with open(foreign_file, "w") as f:
    json.dump({"KeyId": "KAAP.11111111-1111-4111-8111-111111111111",
               "PrivateKeyData": base64.b64encode(p12).decode()}, f)
foreign_client = instance_client(client_key_file=foreign_file, password="foreign-password")
refused("a client key the server never issued -> Unauthorized 401",
        lambda: foreign_client.generate_random(models.GenerateRandomRequest(length=16)),
        "Unauthorized", 401)
issued_id = json.load(open(KEY_FILE))["KeyId"]
# `private_key` as the SDK takes it: the key's Base64 without PEM armour (what it makes of a
# PKCS#12 itself).
bare = base64.b64encode(foreign.private_bytes(
    serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption())).decode()
forged = instance_client(client_key_file=None, access_key_id=issued_id, private_key=bare)
refused("the issued client key's ID signed with another key -> InvalidParam 400",
        lambda: forged.generate_random(models.GenerateRandomRequest(length=16)),
        "InvalidParam", 400)

# A `date` 20 minutes off: the SDK's date function, monkeypatched.
real_date = UtilClient.get_date_utcstring
UtilClient.get_date_utcstring = staticmethod(lambda: (
    datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
).strftime("%a, %d %b %Y %H:%M:%S GMT"))
try:
    refused("a date 20 minutes off -> InvalidParam 400 (The Param Date is invalid.)",
            lambda: client.generate_random(models.GenerateRandomRequest(length=16)),
            "InvalidParam", 400)
finally:
    UtilClient.get_date_utcstring = real_date

# The routing client: GenerateDataKey and Decrypt with an EncryptionContext.
context = {"table": "orders", "tenant": "42"}
routed = transfer.generate_data_key(kms_models.GenerateDataKeyRequest(
    key_id=key_id, encryption_context=context))
back = transfer.decrypt(kms_models.DecryptRequest(
    ciphertext_blob=routed.body.ciphertext_blob, encryption_context=context))
check("TransferClient GenerateDataKey -> Decrypt with an EncryptionContext",
      back.body.plaintext == routed.body.plaintext and back.body.key_id == key_id,
      routed.body.key_version_id)
refused("TransferClient Decrypt with another EncryptionContext -> InvalidParameter 400",
        lambda: transfer.decrypt(kms_models.DecryptRequest(
            ciphertext_blob=routed.body.ciphertext_blob,
            encryption_context={"table": "orders", "tenant": "43"})),
        "InvalidParameter", 400)

# The gateway does not open a TransferClient blob (sealed by AdvanceEncrypt with the hashed
# context as Aad): it goes back through TransferClient.
from alibabacloud_kms20160120.client import Client as GatewayClient

gateway_client = GatewayClient(gateway_config)
refused("gateway Decrypt of a TransferClient blob -> InvalidParameter 400 (back through TransferClient)",
        lambda: gateway_client.decrypt(kms_models.DecryptRequest(
            ciphertext_blob=routed.body.ciphertext_blob, encryption_context=context)),
        "InvalidParameter", 400)

# Asymmetric keys of the instance (docs/asymmetric.md §11), made on the gateway; signatures,
# ciphertexts and keys cross-checked with `cryptography` (SM2: through Verify only).
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import utils as asym_utils


def asymmetric_key(spec, usage):
    made = transfer.create_key(kms_models.CreateKeyRequest(
        dkmsinstance_id=INSTANCE_ID, key_spec=spec, key_usage=usage))
    return made.body.key_metadata.key_id


def public_bytes(key):
    """The SubjectPublicKeyInfo DER of a public key, or of a private key's public half."""
    if hasattr(key, "private_bytes"):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


message = b"signed by the instance"
ec_key = asymmetric_key("EC_P256", "SIGN/VERIFY")
pem = client.get_public_key(models.GetPublicKeyRequest(key_id=ec_key)).public_key
ec_public = serialization.load_pem_public_key(pem.encode())
signed = client.sign(models.SignRequest(key_id=ec_key, algorithm="ECDSA_SHA_256", message=message))
ec_public.verify(signed.signature, message, ec.ECDSA(hashes.SHA256()))
verified = client.verify(models.VerifyRequest(
    key_id=ec_key, algorithm="ECDSA_SHA_256", message=message, signature=signed.signature))
check("GetPublicKey, Sign (RAW) -> cryptography and Verify (EC_P256, ECDSA_SHA_256)",
      verified.value and signed.message_type == "RAW", f"{len(signed.signature)}-byte DER")

rsa_key = asymmetric_key("RSA_2048", "SIGN/VERIFY")
rsa_public = serialization.load_pem_public_key(
    client.get_public_key(models.GetPublicKeyRequest(key_id=rsa_key)).public_key.encode())
digest = hashes.Hash(hashes.SHA256())
digest.update(message)
digest = digest.finalize()
signed = client.sign(models.SignRequest(key_id=rsa_key, algorithm="RSA_PSS_SHA_256",
                                        message=digest, message_type="DIGEST"))
rsa_public.verify(signed.signature, digest,
                  rsa_padding.PSS(mgf=rsa_padding.MGF1(hashes.SHA256()), salt_length=32),
                  asym_utils.Prehashed(hashes.SHA256()))
check("Sign (DIGEST) -> cryptography (RSA_2048, RSA_PSS_SHA_256, salt 32)",
      signed.message_type == "DIGEST" and len(signed.signature) == 256)

sm2_key = asymmetric_key("EC_SM2", "SIGN/VERIFY")
signed = client.sign(models.SignRequest(key_id=sm2_key, algorithm="SM2DSA", message=message))
verified = client.verify(models.VerifyRequest(
    key_id=sm2_key, algorithm="SM2DSA", message=message, signature=signed.signature))
tampered = client.verify(models.VerifyRequest(
    key_id=sm2_key, algorithm="SM2DSA", message=b"another", signature=signed.signature))
check("Sign -> Verify (EC_SM2, SM2DSA, RAW: SM3(Z_A||M)); another message is false",
      verified.value and not tampered.value)

# The routing SDK: the gateway's asymmetric operations sent to the instance (KeyVersionId from
# the x-kms-migrationkeyversionid response header).
routed_pk = transfer.get_public_key(kms_models.GetPublicKeyRequest(
    key_id=ec_key, key_version_id="ignored"))
routed_sig = transfer.asymmetric_sign(kms_models.AsymmetricSignRequest(
    key_id=ec_key, key_version_id=routed_pk.body.key_version_id, algorithm="ECDSA_SHA_256",
    digest=base64.b64encode(digest).decode()))
routed_ok = transfer.asymmetric_verify(kms_models.AsymmetricVerifyRequest(
    key_id=ec_key, key_version_id=routed_pk.body.key_version_id, algorithm="ECDSA_SHA_256",
    digest=base64.b64encode(digest).decode(), value=routed_sig.body.value))
ec_public.verify(base64.b64decode(routed_sig.body.value), digest,
                 ec.ECDSA(asym_utils.Prehashed(hashes.SHA256())))
check("TransferClient GetPublicKey, AsymmetricSign, AsymmetricVerify -> the instance",
      routed_pk.body.public_key == pem and routed_ok.body.value
      and routed_sig.body.key_version_id == routed_pk.body.key_version_id,
      routed_pk.body.key_version_id)

oaep_key = asymmetric_key("RSA_2048", "ENCRYPT/DECRYPT")
oaep_public = serialization.load_pem_public_key(
    client.get_public_key(models.GetPublicKeyRequest(key_id=oaep_key)).public_key.encode())
oaep = rsa_padding.OAEP(mgf=rsa_padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=None)
local = oaep_public.encrypt(b"from cryptography", oaep)
opened = client.decrypt(models.DecryptRequest(
    key_id=oaep_key, ciphertext_blob=local, algorithm="RSAES_OAEP_SHA_256"))
sealed = client.encrypt(models.EncryptRequest(
    key_id=oaep_key, plaintext=b"to the instance", algorithm="RSAES_OAEP_SHA_256"))
routed_enc = transfer.asymmetric_encrypt(kms_models.AsymmetricEncryptRequest(
    key_id=oaep_key, key_version_id="ignored", algorithm="RSAES_OAEP_SHA_256",
    plaintext=base64.b64encode(b"routed").decode()))
routed_dec = transfer.asymmetric_decrypt(kms_models.AsymmetricDecryptRequest(
    key_id=oaep_key, key_version_id="ignored", algorithm="RSAES_OAEP_SHA_256",
    ciphertext_blob=routed_enc.body.ciphertext_blob))
check("Encrypt/Decrypt with RSAES_OAEP_SHA_256 (cryptography's ciphertext opens; "
      "TransferClient AsymmetricEncrypt -> AsymmetricDecrypt)",
      opened.plaintext == b"from cryptography" and len(sealed.ciphertext_blob) == 256
      and not sealed.iv and base64.b64decode(routed_dec.body.plaintext) == b"routed"
      and routed_dec.body.key_version_id == routed_enc.body.key_version_id)

# Data key pairs: the private key sealed under the symmetric key as Encrypt (AdvanceEncrypt)
# would seal it, opened by Decrypt (AdvanceDecrypt) to the private half of the public key.
pair = client.generate_data_key_pair(models.GenerateDataKeyPairRequest(
    key_id=key_id, key_pair_spec="RSA_2048", key_format="PEM", aad=aad))
opened = client.decrypt(models.DecryptRequest(
    key_id=key_id, ciphertext_blob=pair.private_key_ciphertext_blob, iv=pair.iv, aad=aad))
private = serialization.load_pem_private_key(opened.plaintext, None)
check("GenerateDataKeyPair (RSA_2048, PEM) -> Decrypt: the private half of PublicKey",
      opened.plaintext == pair.private_key_plaintext
      and public_bytes(private) == public_bytes(
          serialization.load_pem_public_key(pair.public_key))
      and pair.key_pair_spec == "RSA_2048")
pair = client.advance_generate_data_key_pair_without_plaintext(
    models.AdvanceGenerateDataKeyPairWithoutPlaintextRequest(
        key_id=key_id, key_pair_spec="EC_P256K", key_format="DER", aad=aad))
opened = client.advance_decrypt(models.AdvanceDecryptRequest(
    ciphertext_blob=pair.private_key_ciphertext_blob, aad=aad))
private = serialization.load_der_private_key(opened.plaintext, None)
check("AdvanceGenerateDataKeyPairWithoutPlaintext (EC_P256K, DER) -> AdvanceDecrypt",
      public_bytes(private) == pair.public_key and pair.key_version_id
      and opened.key_version_id == pair.key_version_id, pair.key_version_id)
pair = client.generate_data_key_pair_without_plaintext(
    models.GenerateDataKeyPairWithoutPlaintextRequest(key_id=key_id, key_pair_spec="EC_P256"))
opened = client.decrypt(models.DecryptRequest(
    key_id=key_id, ciphertext_blob=pair.private_key_ciphertext_blob, iv=pair.iv))
private = serialization.load_pem_private_key(opened.plaintext, None)
check("GenerateDataKeyPairWithoutPlaintext (EC_P256, PEM by default) -> Decrypt",
      public_bytes(private) == public_bytes(serialization.load_pem_public_key(pair.public_key)))
pair = client.advance_generate_data_key_pair(models.AdvanceGenerateDataKeyPairRequest(
    key_id=key_id, key_pair_spec="EC_SM2", key_format="DER"))
opened = client.advance_decrypt(models.AdvanceDecryptRequest(
    ciphertext_blob=pair.private_key_ciphertext_blob))
check("AdvanceGenerateDataKeyPair (EC_SM2, DER) -> AdvanceDecrypt",
      opened.plaintext == pair.private_key_plaintext and pair.key_pair_spec == "EC_SM2"
      and pair.private_key_plaintext[:1] == b"\x30")

refused("Sign with an ENCRYPT/DECRYPT key -> Rejected.UnsupportedOperation 400",
        lambda: client.sign(models.SignRequest(key_id=oaep_key, message=message)),
        "Rejected.UnsupportedOperation", 400)
refused("GenerateDataKeyPair with KeyPairSpec RSA_4096 -> InvalidParameter 400",
        lambda: client.generate_data_key_pair(models.GenerateDataKeyPairRequest(
            key_id=key_id, key_pair_spec="RSA_4096")),
        "InvalidParameter", 400)
refused("GenerateDataKeyPair sealed by an asymmetric key -> UnsupportedOperation 400",
        lambda: client.generate_data_key_pair(models.GenerateDataKeyPairRequest(
            key_id=ec_key, key_pair_spec="EC_P256")),
        "UnsupportedOperation", 400)

# A rotation on the gateway; the Advance blob from before still decrypts.
rotated = transfer.create_key_version(kms_models.CreateKeyVersionRequest(key_id=key_id))
new_version = rotated.body.key_version.key_version_id
opened = client.advance_decrypt(models.AdvanceDecryptRequest(
    ciphertext_blob=advance.ciphertext_blob, aad=aad))
after = client.advance_encrypt(models.AdvanceEncryptRequest(key_id=key_id, plaintext=b"after"))
check("after a rotation, an Advance blob from before still decrypts",
      opened.plaintext == b"advance" and opened.key_version_id == advance.key_version_id
      and after.key_version_id == new_version and new_version != advance.key_version_id,
      f"{advance.key_version_id} -> {new_version}")
back = transfer.decrypt(kms_models.DecryptRequest(
    ciphertext_blob=routed.body.ciphertext_blob, encryption_context=context))
check("after a rotation, TransferClient Decrypt of a blob from before",
      back.body.plaintext == routed.body.plaintext)

print(f"{checks} passed, 0 failed")
