# ListKeyVersions and DescribeKeyVersion through both official Python SDKs (the V3 SDK
# alibabacloud-kms20160120 and the legacy aliyun-python-sdk-kms), against a local kms-server
# over HTTPS trusting KMS_CA: versions made with CreateKeyVersion listed oldest first and
# paged, each described, and one call per error code the operations answer. Prints one line
# per check with its outcome; exits non-zero on the first failure. Run by
# server/scripts/sdk-check.sh.
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120.DescribeKeyVersionRequest import DescribeKeyVersionRequest
from aliyunsdkkms.request.v20160120.ListKeyVersionsRequest import ListKeyVersionsRequest

from sdk_common import AK, check, exit_code, legacy, legacy_error, v3_client, v3_error

UNKNOWN_VERSION = "2ab1a983-7072-4bbc-a582-584b5bd80000"


# --- V3 SDK
client = v3_client()
key = client.create_key(models.CreateKeyRequest()).body.key_metadata
key_id, first = key.key_id, key.primary_key_version
made = [first]
for _ in range(2):
    v = client.create_key_version(models.CreateKeyVersionRequest(key_id=key_id)).body.key_version
    made.append(v.key_version_id)
other = client.create_key(models.CreateKeyRequest()).body.key_metadata

listed = client.list_key_versions(models.ListKeyVersionsRequest(key_id=key_id)).body
ids = [v.key_version_id for v in listed.key_versions.key_version]
check("[V3] ListKeyVersions after 2 CreateKeyVersion: 3 versions, oldest first, "
      "TotalCount/PageNumber/PageSize", ids == made and listed.total_count == 3
      and listed.page_number == 1 and listed.page_size == 10, f"{ids}")
dates = [v.creation_date for v in listed.key_versions.key_version]
check("[V3] ListKeyVersions: KeyId and ISO 8601 CreationDate on each entry",
      all(v.key_id == key_id for v in listed.key_versions.key_version)
      and all(len(d) == 20 and d[10] == "T" and d.endswith("Z") for d in dates), f"{dates}")
pages = []
for number in (1, 2, 3):
    page = client.list_key_versions(models.ListKeyVersionsRequest(
        key_id=key_id, page_number=number, page_size=2)).body
    pages.append([v.key_version_id for v in (page.key_versions.key_version or [])]
                 if page.key_versions else [])
check("[V3] ListKeyVersions PageSize=2, pages 1..3: [2, 1, 0] entries, in order",
      [len(p) for p in pages] == [2, 1, 0] and sum(pages, []) == made)
primary = client.describe_key(models.DescribeKeyRequest(key_id=key_id)).body
check("[V3] ListKeyVersions: the last entry is DescribeKey's PrimaryKeyVersion",
      primary.key_metadata.primary_key_version == made[-1])
for i, version in enumerate(made):
    d = client.describe_key_version(models.DescribeKeyVersionRequest(
        key_id=key_id, key_version_id=version)).body.key_version
    check(f"[V3] DescribeKeyVersion of version {i + 1}: KeyId, KeyVersionId, CreationDate",
          d.key_id == key_id and d.key_version_id == version and d.creation_date == dates[i])

errors = [
    ("ListKeyVersions PageSize=101", lambda: client.list_key_versions(
        models.ListKeyVersionsRequest(key_id=key_id, page_size=101)), "InvalidParameter", 400),
    ("ListKeyVersions without KeyId", lambda: client.list_key_versions(
        models.ListKeyVersionsRequest()), "MissingParameter", 400),
    ("ListKeyVersions of an unknown key", lambda: client.list_key_versions(
        models.ListKeyVersionsRequest(key_id="key-hzz630494463ejqjx1234")),
     "Forbidden.KeyNotFound", 404),
    ("ListKeyVersions of an unknown alias", lambda: client.list_key_versions(
        models.ListKeyVersionsRequest(key_id="alias/none")), "Forbidden.AliasNotFound", 404),
    ("ListKeyVersions with an unknown AccessKey", lambda: v3_client("LTAI5tNoSuchKey00000").list_key_versions(
        models.ListKeyVersionsRequest(key_id=key_id)), "InvalidAccessKeyId.NotFound", 404),
    ("DescribeKeyVersion of a malformed KeyVersionId", lambda: client.describe_key_version(
        models.DescribeKeyVersionRequest(key_id=key_id, key_version_id="v1")),
     "InvalidParameter", 400),
    ("DescribeKeyVersion without KeyVersionId", lambda: client.describe_key_version(
        models.DescribeKeyVersionRequest(key_id=key_id)), "MissingParameter", 400),
    ("DescribeKeyVersion of an unknown version", lambda: client.describe_key_version(
        models.DescribeKeyVersionRequest(key_id=key_id, key_version_id=UNKNOWN_VERSION)),
     "Forbidden.KeyNotFound", 404),
    ("DescribeKeyVersion of another key's version", lambda: client.describe_key_version(
        models.DescribeKeyVersionRequest(key_id=key_id, key_version_id=other.primary_key_version)),
     "Forbidden.KeyNotFound", 404),
    ("DescribeKeyVersion of an unknown alias", lambda: client.describe_key_version(
        models.DescribeKeyVersionRequest(key_id="alias/none", key_version_id=first)),
     "Forbidden.AliasNotFound", 404),
    ("DescribeKeyVersion with an unknown AccessKey", lambda: v3_client("LTAI5tNoSuchKey00000").describe_key_version(
        models.DescribeKeyVersionRequest(key_id=key_id, key_version_id=first)),
     "InvalidAccessKeyId.NotFound", 404),
]
for label, call, code, status in errors:
    got = v3_error(call)
    check(f"[V3] {label}: {code} {status}", got == (code, status), f"got {got}")

# --- legacy SDK
r = ListKeyVersionsRequest()
r.set_KeyId(key_id)
r.set_PageSize(2)
r.set_PageNumber(2)
page = legacy(r)
check("[legacy] ListKeyVersions PageNumber=2 PageSize=2: the third version, TotalCount 3",
      [v["KeyVersionId"] for v in page["KeyVersions"]["KeyVersion"]] == made[2:]
      and page["TotalCount"] == 3 and page["PageNumber"] == 2 and page["PageSize"] == 2)
r = DescribeKeyVersionRequest()
r.set_KeyId(key_id)
r.set_KeyVersionId(made[1])
d = legacy(r)["KeyVersion"]
check("[legacy] DescribeKeyVersion of version 2", d["KeyId"] == key_id
      and d["KeyVersionId"] == made[1] and d["CreationDate"] == dates[1])

r = ListKeyVersionsRequest()
r.set_KeyId(key_id)
r.set_PageNumber(0)
legacy_errors = [("ListKeyVersions PageNumber=0", r, AK, "InvalidParameter", 400)]
r = ListKeyVersionsRequest()
r.set_KeyId("key-hzz630494463ejqjx1234")
legacy_errors.append(("ListKeyVersions of an unknown key", r, AK, "Forbidden.KeyNotFound", 404))
r = ListKeyVersionsRequest()
r.set_KeyId(key_id)
legacy_errors.append(("ListKeyVersions with an unknown AccessKey", r, "LTAI5tNoSuchKey00000",
                      "InvalidAccessKeyId.NotFound", 404))
r = DescribeKeyVersionRequest()
r.set_KeyId(key_id)
r.set_KeyVersionId(first.upper())
legacy_errors.append(("DescribeKeyVersion of an uppercase KeyVersionId", r, AK,
                      "InvalidParameter", 400))
r = DescribeKeyVersionRequest()
r.set_KeyId(key_id)
r.set_KeyVersionId(other.primary_key_version)
legacy_errors.append(("DescribeKeyVersion of another key's version", r, AK,
                      "Forbidden.KeyNotFound", 404))
r = DescribeKeyVersionRequest()
r.set_KeyId(key_id)
r.set_KeyVersionId(first)
legacy_errors.append(("DescribeKeyVersion with an unknown AccessKey", r, "LTAI5tNoSuchKey00000",
                      "InvalidAccessKeyId.NotFound", 404))
for label, request, ak, code, status in legacy_errors:
    got = legacy_error(request, ak)
    check(f"[legacy] {label}: {code} {status}", got == (code, status), f"got {got}")

sys.exit(exit_code())
