# GenerateDataKey and Decrypt through Alibaba Cloud's legacy Python SDK
# (pip install aliyun-python-sdk-kms aliyun-python-sdk-core), pointed at a local kms-server
# over HTTPS. The SDK's KMS requests are HTTPS by default; AcsClient(verify=...) is the CA
# bundle it trusts (else the ALIBABA_CLOUD_CA_BUNDLE environment variable, else certifi's).
import json
import os

from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkkms.request.v20160120.DecryptRequest import DecryptRequest
from aliyunsdkkms.request.v20160120.GenerateDataKeyRequest import GenerateDataKeyRequest

host, port = os.environ.get("KMS_ENDPOINT", "127.0.0.1:8089").rsplit(":", 1)
client = AcsClient(
    os.environ.get("KMS_AK", "LTAI5tDemoAccessKey0001"),
    os.environ.get("KMS_SK", "demo-secret-change-me"),
    "cn-hangzhou",
    port=int(port),
    verify=os.environ["KMS_CA"],  # the server's CA certificate, e.g. DIR/ca.pem
)

context = json.dumps({"table": "orders", "tenant": "42"})
request = GenerateDataKeyRequest()
request.set_endpoint(host)
request.set_KeyId("alias/demo")
request.set_EncryptionContext(context)
key = json.loads(client.do_action_with_exception(request))
print("GenerateDataKey:", key["KeyId"], key["KeyVersionId"],
      len(key["Plaintext"]), "chars of Base64 plaintext,",
      len(key["CiphertextBlob"]), "chars of CiphertextBlob")

request = DecryptRequest()
request.set_endpoint(host)
request.set_CiphertextBlob(key["CiphertextBlob"])
request.set_EncryptionContext(context)
opened = json.loads(client.do_action_with_exception(request))
print("Decrypt:", opened["KeyId"], "plaintext matches:", opened["Plaintext"] == key["Plaintext"])
assert opened["Plaintext"] == key["Plaintext"]

request = DecryptRequest()
request.set_endpoint(host)
request.set_CiphertextBlob(key["CiphertextBlob"])
try:
    client.do_action_with_exception(request)
    raise AssertionError("Decrypt without the context succeeded")
except ServerException as error:
    print("Decrypt without the context:", error.get_error_code(), error.get_http_status())
    assert error.get_error_code() == "InvalidParameter"
