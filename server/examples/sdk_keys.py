# Rotation policy, DescribeKey's fields and ListKeys' Filters through both official Python SDKs
# (the V3 SDK alibabacloud-kms20160120 and the legacy aliyun-python-sdk-kms), against a local
# kms-server over HTTPS trusting KMS_CA: CreateKey's EnableAutomaticRotation, RotationInterval
# and ProtectionLevel, UpdateRotationPolicy on and off, what DescribeKey reports
# (AutomaticRotation, RotationInterval, LastRotationDate, NextRotationDate, ProtectionLevel,
# DeletionProtection), ListKeys Filters, and one call per error code the operations answer.
# (Rotations made by the server's housekeeping need the clock to pass a NextRotationDate:
# server/tests/rotation.rs advances a test clock for that.) One line per check; exits non-zero
# if any failed. Run by server/scripts/sdk-check.sh.
import sys
from datetime import datetime, timedelta

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.CreateKeyRequest import CreateKeyRequest
from aliyunsdkkms.request.v20160120.DescribeKeyRequest import DescribeKeyRequest
from aliyunsdkkms.request.v20160120.UpdateRotationPolicyRequest import UpdateRotationPolicyRequest

from sdk_common import (UNKNOWN_AK, UNKNOWN_KEY, check, check_errors, exit_code, legacy,
                        legacy_error, v3_client)


def when(iso):
    return datetime.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")


client = v3_client()


def describe(key_id):
    return client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body.key_metadata


# --- V3 SDK
made = client.create_key(models.CreateKeyRequest(
    enable_automatic_rotation=True, rotation_interval="30d", protection_level="HSM",
)).body.key_metadata
m = describe(made.key_id)
check("[V3] CreateKey EnableAutomaticRotation=True RotationInterval=30d ProtectionLevel=HSM: "
      "DescribeKey AutomaticRotation Enabled, RotationInterval 2592000s, ProtectionLevel HSM",
      (m.automatic_rotation, m.rotation_interval, m.protection_level)
      == ("Enabled", "2592000s", "HSM"), f"{m.automatic_rotation} {m.rotation_interval}")
check("[V3] DescribeKey: LastRotationDate = CreationDate, NextRotationDate 30 days later",
      m.last_rotation_date == m.creation_date
      and when(m.next_rotation_date) - when(m.last_rotation_date) == timedelta(days=30),
      f"{m.last_rotation_date} {m.next_rotation_date}")
check("[V3] DescribeKey: DeletionProtection Disabled, no MaterialExpireTime",
      m.deletion_protection == "Disabled" and m.material_expire_time is None)

plain = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
m = describe(plain)
check("[V3] a key without a policy: AutomaticRotation Disabled, ProtectionLevel SOFTWARE, "
      "no RotationInterval or NextRotationDate, LastRotationDate = CreationDate",
      (m.automatic_rotation, m.protection_level, m.rotation_interval, m.next_rotation_date)
      == ("Disabled", "SOFTWARE", None, None) and m.last_rotation_date == m.creation_date)
for interval, expected in (("720h", "2592000s"), ("604800s", "604800s"), ("365d", "31536000s")):
    client.update_rotation_policy(models.UpdateRotationPolicyRequest(
        key_id=plain, enable_automatic_rotation=True, rotation_interval=interval))
    m = describe(plain)
    check(f"[V3] UpdateRotationPolicy EnableAutomaticRotation=True RotationInterval={interval}: "
          f"RotationInterval {expected}", (m.automatic_rotation, m.rotation_interval)
          == ("Enabled", expected), f"{m.automatic_rotation} {m.rotation_interval}")
client.update_rotation_policy(models.UpdateRotationPolicyRequest(
    key_id=plain, enable_automatic_rotation=False))
m = describe(plain)
check("[V3] UpdateRotationPolicy EnableAutomaticRotation=False: AutomaticRotation Disabled",
      (m.automatic_rotation, m.rotation_interval, m.next_rotation_date) == ("Disabled", None, None))
client.update_rotation_policy(models.UpdateRotationPolicyRequest(
    key_id=plain, enable_automatic_rotation=True, rotation_interval="7d"))
client.disable_key(models.DisableKeyRequest(key_id=plain))
check("[V3] a key with a policy, disabled: AutomaticRotation Suspended",
      describe(plain).automatic_rotation == "Suspended")
client.enable_key(models.EnableKeyRequest(key_id=plain))

external = client.create_key(models.CreateKeyRequest(origin="EXTERNAL")).body.key_metadata.key_id
disabled = client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id
client.disable_key(models.DisableKeyRequest(key_id=disabled))


def update(key_id, enable=True, interval="30d"):
    return lambda: client.update_rotation_policy(models.UpdateRotationPolicyRequest(
        key_id=key_id, enable_automatic_rotation=enable, rotation_interval=interval))


check_errors("[V3]", [
    ("UpdateRotationPolicy RotationInterval=6d", update(plain, interval="6d"),
     "InvalidParameter", 400),
    ("UpdateRotationPolicy RotationInterval=366d", update(plain, interval="366d"),
     "InvalidParameter", 400),
    ("UpdateRotationPolicy EnableAutomaticRotation=True without RotationInterval",
     update(plain, interval=None), "InvalidParameter", 400),
    ("UpdateRotationPolicy without EnableAutomaticRotation", update(plain, enable=None),
     "MissingParameter", 400),
    ("UpdateRotationPolicy on an EXTERNAL key", update(external),
     "Rejected.UnsupportedOperation", 400),
    ("UpdateRotationPolicy on a Disabled key", update(disabled),
     "Rejected.UnsupportedOperation", 400),
    ("UpdateRotationPolicy of an unknown key", update(UNKNOWN_KEY), "Forbidden.KeyNotFound", 404),
    ("UpdateRotationPolicy of an unknown alias", update("alias/none"),
     "Forbidden.AliasNotFound", 404),
    ("UpdateRotationPolicy with an unknown AccessKey",
     lambda: v3_client(UNKNOWN_AK).update_rotation_policy(models.UpdateRotationPolicyRequest(
         key_id=plain, enable_automatic_rotation=False)), "InvalidAccessKeyId.NotFound", 404),
    ("CreateKey EnableAutomaticRotation=True RotationInterval=1d",
     lambda: client.create_key(models.CreateKeyRequest(
         enable_automatic_rotation=True, rotation_interval="1d")), "InvalidParameter", 400),
    ("CreateKey EXTERNAL with automatic rotation",
     lambda: client.create_key(models.CreateKeyRequest(
         origin="EXTERNAL", enable_automatic_rotation=True, rotation_interval="30d")),
     "InvalidParameter", 400),
    ("ListKeys Filters with an unknown property",
     lambda: client.list_keys(models.ListKeysRequest(filters='[{"Key":"Colour","Values":[]}]')),
     "InvalidParameter", 400),
    ("ListKeys Filters that are not JSON",
     lambda: client.list_keys(models.ListKeysRequest(filters="KeyState=Enabled")),
     "InvalidParameter", 400),
    ("CreateKey ProtectionLevel=FIPS",
     lambda: client.create_key(models.CreateKeyRequest(protection_level="FIPS")),
     "InvalidParameter", 400),
])

# ListKeys Filters: AND across conditions, OR within one.
def listed(filters):
    body = client.list_keys(models.ListKeysRequest(filters=filters, page_size=100)).body
    return [k.key_id for k in body.keys.key], body.total_count


hsm = made.key_id
keys, total = listed('[{"Key":"ProtectionLevel","Values":["HSM"]}]')
check("[V3] ListKeys Filters ProtectionLevel=HSM: the HSM key alone", keys == [hsm] and total == 1,
      f"{keys}")
keys, _ = listed('[{"Key":"KeyState","Values":["Disabled","PendingImport"]}]')
check("[V3] ListKeys Filters KeyState in (Disabled, PendingImport): the disabled and the EXTERNAL "
      "keys", keys == [external, disabled], f"{keys}")
keys, _ = listed('[{"Key":"KeyState","Values":["Enabled"]},{"Key":"ProtectionLevel",'
                 '"Values":["SOFTWARE"]}]')
check("[V3] ListKeys Filters KeyState=Enabled AND ProtectionLevel=SOFTWARE: neither the HSM key "
      "nor the disabled one", hsm not in keys and disabled not in keys and plain in keys, f"{keys}")

# --- legacy SDK
r = CreateKeyRequest()
r.set_EnableAutomaticRotation(True)
r.set_RotationInterval("604800s")
key_id = legacy(r)["KeyMetadata"]["KeyId"]
r = DescribeKeyRequest()
r.set_KeyId(key_id)
m = legacy(r)["KeyMetadata"]
check("[legacy] CreateKey EnableAutomaticRotation=True RotationInterval=604800s: DescribeKey "
      "AutomaticRotation Enabled, RotationInterval 604800s, NextRotationDate 7 days on",
      (m["AutomaticRotation"], m["RotationInterval"]) == ("Enabled", "604800s")
      and when(m["NextRotationDate"]) - when(m["LastRotationDate"]) == timedelta(days=7))
r = UpdateRotationPolicyRequest()
r.set_KeyId(key_id)
r.set_EnableAutomaticRotation(False)
legacy(r)
r = DescribeKeyRequest()
r.set_KeyId(key_id)
m = legacy(r)["KeyMetadata"]
check("[legacy] UpdateRotationPolicy EnableAutomaticRotation=False: AutomaticRotation Disabled",
      m["AutomaticRotation"] == "Disabled" and "NextRotationDate" not in m)
r = UpdateRotationPolicyRequest()
r.set_KeyId(key_id)
r.set_EnableAutomaticRotation(True)
r.set_RotationInterval("1h")
bad_interval = r
r = UpdateRotationPolicyRequest()
r.set_KeyId(external)
r.set_EnableAutomaticRotation(True)
r.set_RotationInterval("30d")
check_errors("[legacy]", [
    ("UpdateRotationPolicy RotationInterval=1h", bad_interval, "InvalidParameter", 400),
    ("UpdateRotationPolicy on an EXTERNAL key", r, "Rejected.UnsupportedOperation", 400),
], run=legacy_error)

sys.exit(exit_code())
