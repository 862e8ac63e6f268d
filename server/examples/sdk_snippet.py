# GenerateDataKey and Decrypt through Alibaba Cloud's official Python SDK
# (pip install alibabacloud-kms20160120), pointed at a local kms-server: over plain HTTP, or,
# with KMS_CA set to the CA certificate the server's --tls-self-signed wrote, over HTTPS
# trusting that CA (Config.ca: the CA bundle the SDK verifies the server with).
import os

from alibabacloud_kms20160120 import models
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi import models as open_api_models

config = open_api_models.Config(
    access_key_id=os.environ.get("KMS_AK", "LTAI5tDemoAccessKey0001"),
    access_key_secret=os.environ.get("KMS_SK", "demo-secret-change-me"),
    endpoint=os.environ.get("KMS_ENDPOINT", "127.0.0.1:8089"),
    protocol="HTTPS" if os.environ.get("KMS_CA") else "HTTP",
    region_id="cn-hangzhou",
)
if os.environ.get("KMS_CA"):
    config.ca = os.environ["KMS_CA"]
# The SDK signs with V3 (ACS3-HMAC-SHA256) by default; "v2" selects the older HMAC-SHA1 (V1).
if os.environ.get("KMS_SDK_SIGNATURE_ALGORITHM"):
    config.signature_algorithm = os.environ["KMS_SDK_SIGNATURE_ALGORITHM"]
client = Client(config)

context = {"table": "orders", "tenant": "42"}
key = client.generate_data_key(
    models.GenerateDataKeyRequest(key_id="alias/demo", encryption_context=context)
)
print("GenerateDataKey:", key.body.key_id, key.body.key_version_id,
      len(key.body.plaintext), "chars of Base64 plaintext,",
      len(key.body.ciphertext_blob), "chars of CiphertextBlob")

opened = client.decrypt(
    models.DecryptRequest(ciphertext_blob=key.body.ciphertext_blob, encryption_context=context)
)
print("Decrypt:", opened.body.key_id, "plaintext matches:",
      opened.body.plaintext == key.body.plaintext)
assert opened.body.plaintext == key.body.plaintext

try:
    client.decrypt(models.DecryptRequest(ciphertext_blob=key.body.ciphertext_blob))
except Exception as error:  # the SDK raises ClientException for 4xx answers
    print("Decrypt without the context:", error.code, error.status_code)
    assert error.code == "InvalidParameter"
