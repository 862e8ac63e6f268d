# GenerateDataKey and Decrypt through the KMS-instance SDK (pip install alibabacloud-dkms-gcs),
# pointed at a local kms-server's instance listener over HTTPS: the client key the server
# issued (its JSON file and password file), the CA file of --tls-self-signed, and a key made in
# the instance (CreateKey with DKMSInstanceId on the gateway).
import os

from openapi.models import Config
from sdk import models
from sdk.client import Client

config = Config(
    protocol="https",
    endpoint=os.environ["KMS_INSTANCE_ENDPOINT"],        # e.g. 127.0.0.1:8443
    client_key_file=os.environ["KMS_CLIENT_KEY_FILE"],   # clientKey_KAAP.….json
    password=open(os.environ["KMS_CLIENT_KEY_PASSWORD_FILE"]).read().strip(),
    ca_file_path=os.environ["KMS_CA"],                   # DIR/ca.pem of --tls-self-signed
)
client = Client(config)
key_id = os.environ["KMS_KEY_ID"]
aad = b"order=42"

generated = client.generate_data_key(models.GenerateDataKeyRequest(key_id=key_id, aad=aad))
print("GenerateDataKey:", generated.key_id, len(generated.plaintext), "bytes of data key,",
      len(generated.ciphertext_blob), "bytes of CiphertextBlob,", len(generated.iv), "bytes of Iv")

opened = client.decrypt(models.DecryptRequest(
    key_id=key_id, ciphertext_blob=generated.ciphertext_blob, iv=generated.iv, aad=aad))
print("Decrypt:", opened.key_id, "plaintext matches:", opened.plaintext == generated.plaintext)
assert opened.plaintext == generated.plaintext
