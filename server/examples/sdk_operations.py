# The operations served before issue 15 that the other scripts do not reach, through the V3 SDK
# (alibabacloud-kms20160120) and, for a few, the legacy SDK, against a local kms-server over
# HTTPS trusting KMS_CA: GenerateDataKeyWithoutPlaintext, Encrypt, ReEncrypt, the alias
# operations, ScheduleKeyDeletion and CancelKeyDeletion, each with its success and an error case
# per error code it answers here. One line per check; exits non-zero if any failed. Run by
# server/scripts/sdk-check.sh, which also checks that every operation of the README's table is
# reached by one of its scripts.
import base64
import json
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.ListAliasesRequest import ListAliasesRequest
from aliyunsdkkms.request.v20160120.ReEncryptRequest import ReEncryptRequest

from sdk_common import (UNKNOWN_KEY, check, check_errors, exit_code, legacy, legacy_error,
                        v3_client)

client = v3_client()
context = {"order": "17"}


def new_key():
    return client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id


source, destination = new_key(), new_key()

# Data keys and Encrypt.
sealed = client.generate_data_key_without_plaintext(models.GenerateDataKeyWithoutPlaintextRequest(
    key_id=source, number_of_bytes=24, encryption_context=context)).body
opened = client.decrypt(models.DecryptRequest(
    ciphertext_blob=sealed.ciphertext_blob, encryption_context=context)).body
check("[V3] GenerateDataKeyWithoutPlaintext NumberOfBytes=24, then Decrypt: 24 bytes, no "
      "Plaintext in the first answer", len(base64.b64decode(opened.plaintext)) == 24
      and opened.key_id == source)
secret = base64.b64encode(b"the order of the day").decode()
encrypted = client.encrypt(models.EncryptRequest(
    key_id=source, plaintext=secret, encryption_context=context)).body
check("[V3] Encrypt, then Decrypt: the plaintext back", client.decrypt(models.DecryptRequest(
    ciphertext_blob=encrypted.ciphertext_blob, encryption_context=context)).body.plaintext == secret)
moved = client.re_encrypt(models.ReEncryptRequest(
    ciphertext_blob=encrypted.ciphertext_blob, source_encryption_context=context,
    destination_key_id=destination, destination_encryption_context={"order": "18"})).body
back = client.decrypt(models.DecryptRequest(
    ciphertext_blob=moved.ciphertext_blob, encryption_context={"order": "18"})).body
check("[V3] ReEncrypt to another key and context, then Decrypt: the plaintext, under the "
      "destination key", back.plaintext == secret and back.key_id == destination)

# Aliases.
client.create_alias(models.CreateAliasRequest(alias_name="alias/sdk-ops", key_id=source))
described = client.describe_key(models.DescribeKeyRequest(key_id="alias/sdk-ops")).body
check("[V3] CreateAlias, then DescribeKey by the alias", described.key_metadata.key_id == source)
client.update_alias(models.UpdateAliasRequest(alias_name="alias/sdk-ops", key_id=destination))
aliases = client.list_aliases(models.ListAliasesRequest(page_size=100)).body
named = {a.alias_name: a.key_id for a in aliases.aliases.alias}
check("[V3] UpdateAlias, then ListAliases: the alias names the other key",
      named.get("alias/sdk-ops") == destination, f"{named}")
client.delete_alias(models.DeleteAliasRequest(alias_name="alias/sdk-ops"))
check("[V3] DeleteAlias, then ListAliases: gone", "alias/sdk-ops" not in {
    a.alias_name for a in (client.list_aliases(models.ListAliasesRequest(page_size=100))
                           .body.aliases.alias or [])})

# Deletion.
doomed = new_key()
client.schedule_key_deletion(models.ScheduleKeyDeletionRequest(
    key_id=doomed, pending_window_in_days=7))
state = client.describe_key(models.DescribeKeyRequest(key_id=doomed)).body.key_metadata
check("[V3] ScheduleKeyDeletion PendingWindowInDays=7: PendingDeletion with a DeleteDate",
      state.key_state == "PendingDeletion" and state.delete_date is not None)
client.cancel_key_deletion(models.CancelKeyDeletionRequest(key_id=doomed))
check("[V3] CancelKeyDeletion: Enabled again", client.describe_key(
    models.DescribeKeyRequest(key_id=doomed)).body.key_metadata.key_state == "Enabled")

client.create_alias(models.CreateAliasRequest(alias_name="alias/sdk-taken", key_id=source))
check_errors("[V3]", [
    ("GenerateDataKeyWithoutPlaintext NumberOfBytes=1025",
     lambda: client.generate_data_key_without_plaintext(
         models.GenerateDataKeyWithoutPlaintextRequest(key_id=source, number_of_bytes=1025)),
     "InvalidParameter", 400),
    ("GenerateDataKeyWithoutPlaintext of an unknown key",
     lambda: client.generate_data_key_without_plaintext(
         models.GenerateDataKeyWithoutPlaintextRequest(key_id=UNKNOWN_KEY)),
     "Forbidden.KeyNotFound", 404),
    ("Encrypt without Plaintext",
     lambda: client.encrypt(models.EncryptRequest(key_id=source)), "MissingParameter", 400),
    ("Encrypt under an unknown alias",
     lambda: client.encrypt(models.EncryptRequest(key_id="alias/none", plaintext=secret)),
     "Forbidden.AliasNotFound", 404),
    ("ReEncrypt with the wrong source context",
     lambda: client.re_encrypt(models.ReEncryptRequest(
         ciphertext_blob=encrypted.ciphertext_blob, destination_key_id=destination)),
     "InvalidParameter", 400),
    ("CreateAlias of a name taken", lambda: client.create_alias(
        models.CreateAliasRequest(alias_name="alias/sdk-taken", key_id=destination)),
     "AliasAlreadyExists", 409),
    ("CreateAlias under alias/acs/", lambda: client.create_alias(
        models.CreateAliasRequest(alias_name="alias/acs/mine", key_id=source)),
     "InvalidParameter", 400),
    ("UpdateAlias of an unknown alias", lambda: client.update_alias(
        models.UpdateAliasRequest(alias_name="alias/none", key_id=source)),
     "Forbidden.AliasNotFound", 404),
    ("DeleteAlias of an unknown alias", lambda: client.delete_alias(
        models.DeleteAliasRequest(alias_name="alias/none")), "Forbidden.AliasNotFound", 404),
    ("ListAliases PageSize=101", lambda: client.list_aliases(
        models.ListAliasesRequest(page_size=101)), "InvalidParameter", 400),
    ("ScheduleKeyDeletion PendingWindowInDays=6", lambda: client.schedule_key_deletion(
        models.ScheduleKeyDeletionRequest(key_id=doomed, pending_window_in_days=6)),
     "InvalidParameter", 400),
    ("CancelKeyDeletion of a key not pending deletion", lambda: client.cancel_key_deletion(
        models.CancelKeyDeletionRequest(key_id=doomed)), "Rejected.StateModifiedFailed", 409),
])

# --- legacy SDK
r = ReEncryptRequest()
r.set_CiphertextBlob(moved.ciphertext_blob)
r.set_SourceEncryptionContext(json.dumps({"order": "18"}))
r.set_DestinationKeyId(source)
again = legacy(r)
check("[legacy] ReEncrypt back to the first key", again["KeyId"] == source)
r = ListAliasesRequest()
r.set_PageSize(101)
check_errors("[legacy]", [("ListAliases PageSize=101", r, "InvalidParameter", 400)],
             run=legacy_error)

sys.exit(exit_code())
