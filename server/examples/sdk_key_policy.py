# GetKeyPolicy and SetKeyPolicy through both official Python SDKs (the V3 SDK
# alibabacloud-kms20160120 and the legacy aliyun-python-sdk-kms), against a local kms-server over
# HTTPS trusting KMS_CA, with two accounts (KMS_AK, and KMS_AK_B for account KMS_ACCOUNT_B):
# account B cannot GenerateDataKey with A's key by ARN until A's SetKeyPolicy grants B
# kms:GenerateDataKey, then can, and cannot again once A revokes it; GetKeyPolicy answers
# Alibaba's default document for a key without grants and the canonical rendering after
# SetKeyPolicy; one call per error code each operation answers. Prints one line per check with
# its outcome; exits non-zero if any failed. Run by server/scripts/sdk-check.sh.
import json
import os
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120 import GetKeyPolicyRequest, SetKeyPolicyRequest

from sdk_common import (AK, UNKNOWN_KEY, check, check_errors, exit_code, legacy, legacy_error,
                        v3_client, v3_error)

ACCOUNT = os.environ.get("KMS_ACCOUNT", "1234567890123456")
AK_B = os.environ.get("KMS_AK_B", "LTAI5tDemoAccessKey0002")
ACCOUNT_B = os.environ.get("KMS_ACCOUNT_B", "6543210987654321")
REGION = "cn-hangzhou"

a = v3_client()
b = v3_client(AK_B)

OWNER = {"Sid": "kms default key policy", "Effect": "Allow",
         "Principal": {"RAM": [f"acs:ram::{ACCOUNT}:*"]}, "Action": ["kms:*"], "Resource": ["*"]}


def granting_b(actions):
    return json.dumps({"Version": "1", "Statement": [{
        "Effect": "Allow", "Principal": {"RAM": [f"acs:ram::{ACCOUNT_B}:root"]},
        "Action": actions, "Resource": ["*"]}]})


def get_policy(key_id):
    body = a.get_key_policy(models.GetKeyPolicyRequest(key_id=key_id, policy_name="default")).body
    return json.loads(body.policy)


def set_policy(key_id, document):
    a.set_key_policy(models.SetKeyPolicyRequest(key_id=key_id, policy_name="default",
                                                policy=document))


key = a.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
arn = f"acs:kms:{REGION}:{ACCOUNT}:key/{key}"


def b_generates():
    return v3_error(lambda: b.generate_data_key(models.GenerateDataKeyRequest(key_id=arn)))


# --- V3 SDK: the cross-account flow
got = b_generates()
check("[V3] B GenerateDataKey with A's key by ARN, no policy: Forbidden.NoPermission 403",
      got == ("Forbidden.NoPermission", 403), f"got {got}")
document = get_policy(key)
check("[V3] GetKeyPolicy of a key without grants: Alibaba's default document (owner, kms:*)",
      document == {"Version": "1", "Statement": [OWNER]}, f"{document}")

set_policy(key, granting_b(["kms:GenerateDataKey"]))
got = b_generates()
check("[V3] SetKeyPolicy grants B kms:GenerateDataKey: B's GenerateDataKey by ARN succeeds",
      got is None, f"got {got}")
blob = b.generate_data_key(models.GenerateDataKeyRequest(key_id=arn)).body.ciphertext_blob
got = v3_error(lambda: b.decrypt(models.DecryptRequest(ciphertext_blob=blob)))
check("[V3] B Decrypt, not granted: Forbidden.NoPermission 403",
      got == ("Forbidden.NoPermission", 403), f"got {got}")
document = get_policy(key)
granted = {"Sid": f"kms cross-account use {ACCOUNT_B}", "Effect": "Allow",
           "Principal": {"RAM": [f"acs:ram::{ACCOUNT_B}:*"]},
           "Action": ["kms:GenerateDataKey"], "Resource": ["*"]}
check("[V3] GetKeyPolicy after SetKeyPolicy: the canonical rendering of the grants",
      document == {"Version": "1", "Statement": [OWNER, granted]}, f"{document}")
text = a.get_key_policy(models.GetKeyPolicyRequest(key_id=key)).body.policy
set_policy(key, text)
again = a.get_key_policy(models.GetKeyPolicyRequest(key_id=key)).body.policy
check("[V3] SetKeyPolicy with GetKeyPolicy's document: the same text back (stable)",
      again == text, again)

set_policy(key, json.dumps({"Version": "1", "Statement": [OWNER]}))
got = b_generates()
check("[V3] SetKeyPolicy naming only the owner revokes: B Forbidden.NoPermission 403",
      got == ("Forbidden.NoPermission", 403), f"got {got}")
check("[V3] A keeps every permission",
      v3_error(lambda: a.generate_data_key(models.GenerateDataKeyRequest(key_id=key))) is None)

deny = granting_b(["kms:GenerateDataKey"]).replace("Allow", "Deny")
user = granting_b(["kms:GenerateDataKey"]).replace(":root", ":user/bob")
check_errors("[V3]", [
    ("GetKeyPolicy without KeyId",
     lambda: a.get_key_policy(models.GetKeyPolicyRequest()), "MissingParameter", 400),
    ("GetKeyPolicy PolicyName=other",
     lambda: a.get_key_policy(models.GetKeyPolicyRequest(key_id=key, policy_name="other")),
     "InvalidParameter", 400),
    ("GetKeyPolicy of an unknown key",
     lambda: a.get_key_policy(models.GetKeyPolicyRequest(key_id=UNKNOWN_KEY)),
     "Forbidden.KeyNotFound", 404),
    ("GetKeyPolicy of an unknown alias",
     lambda: a.get_key_policy(models.GetKeyPolicyRequest(key_id="alias/none")),
     "Forbidden.AliasNotFound", 404),
    ("GetKeyPolicy of A's key by B",
     lambda: b.get_key_policy(models.GetKeyPolicyRequest(key_id=arn)),
     "Forbidden.NoPermission", 403),
    ("SetKeyPolicy without Policy",
     lambda: a.set_key_policy(models.SetKeyPolicyRequest(key_id=key)), "MissingParameter", 400),
    ("SetKeyPolicy with a Deny statement",
     lambda: a.set_key_policy(models.SetKeyPolicyRequest(key_id=key, policy=deny)),
     "InvalidParameter", 400),
    ("SetKeyPolicy granting a RAM user (not a whole account)",
     lambda: a.set_key_policy(models.SetKeyPolicyRequest(key_id=key, policy=user)),
     "InvalidParameter", 400),
    ("SetKeyPolicy of an unknown key",
     lambda: a.set_key_policy(models.SetKeyPolicyRequest(
         key_id=UNKNOWN_KEY, policy=granting_b(["kms:Decrypt"]))),
     "Forbidden.KeyNotFound", 404),
    ("SetKeyPolicy of A's key by B",
     lambda: b.set_key_policy(models.SetKeyPolicyRequest(
         key_id=arn, policy=granting_b(["kms:Decrypt"]))),
     "Forbidden.NoPermission", 403),
])


# --- legacy SDK
def make(cls, **params):
    request = cls.GetKeyPolicyRequest() if cls is GetKeyPolicyRequest else cls.SetKeyPolicyRequest()
    for name, value in params.items():
        getattr(request, f"set_{name}")(value)
    return request


body = legacy(make(SetKeyPolicyRequest, KeyId=key, PolicyName="default",
                   Policy=granting_b(["kms:GenerateDataKey", "kms:Decrypt"])))
check("[legacy] SetKeyPolicy: RequestId", bool(body.get("RequestId")), f"{body}")
body = legacy(make(GetKeyPolicyRequest, KeyId=key, PolicyName="default"))
actions = json.loads(body["Policy"])["Statement"][1]["Action"]
check("[legacy] GetKeyPolicy: Policy as JSON text, B's actions",
      actions == ["kms:GenerateDataKey", "kms:Decrypt"], f"{body}")
check("[legacy] B GenerateDataKey by ARN after the legacy SetKeyPolicy", b_generates() is None)
for label, request, code, status in [
    ("GetKeyPolicy of an unknown key", make(GetKeyPolicyRequest, KeyId=UNKNOWN_KEY),
     "Forbidden.KeyNotFound", 404),
    ("SetKeyPolicy with a Policy that is not JSON",
     make(SetKeyPolicyRequest, KeyId=key, Policy="{"), "InvalidParameter", 400),
    ("SetKeyPolicy PolicyName=other",
     make(SetKeyPolicyRequest, KeyId=key, PolicyName="other", Policy=granting_b(["kms:*"])),
     "InvalidParameter", 400),
]:
    got = legacy_error(request, AK)
    check(f"[legacy] {label}: {code} {status}", got == (code, status), f"got {got}")
got = legacy_error(make(GetKeyPolicyRequest, KeyId=arn), AK_B)
check("[legacy] GetKeyPolicy of A's key by B: Forbidden.NoPermission 403",
      got == ("Forbidden.NoPermission", 403), f"got {got}")

sys.exit(exit_code())
