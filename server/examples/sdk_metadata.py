# The metadata and housekeeping operations through both official Python SDKs (the V3 SDK
# alibabacloud-kms20160120 and the legacy aliyun-python-sdk-kms), against a local kms-server over
# HTTPS trusting KMS_CA: UpdateKeyDescription, SetDeletionProtection (and ScheduleKeyDeletion
# refused while it is on), TagResource, UntagResource, ListResourceTags, TagResources,
# UntagResources, ListTagResources, ListAliasesByKeyId, DescribeRegions, GetRandomPassword, each
# with one call per error code it answers. Prints one line per check with its outcome; exits
# non-zero if any failed. Run by server/scripts/sdk-check.sh.
import json
import os
import string
import sys

from alibabacloud_kms20160120 import models
from aliyunsdkkms.request.v20160120 import (
    DescribeRegionsRequest, GetRandomPasswordRequest, ListAliasesByKeyIdRequest,
    ListResourceTagsRequest, ListTagResourcesRequest, SetDeletionProtectionRequest,
    TagResourceRequest, TagResourcesRequest, UntagResourceRequest, UntagResourcesRequest,
    UpdateKeyDescriptionRequest,
)

from sdk_common import (AK, UNKNOWN_AK, UNKNOWN_KEY, check, exit_code, legacy, legacy_error,
                        v3_client, v3_error)

ACCOUNT = os.environ.get("KMS_ACCOUNT", "1234567890123456")
REGION = "cn-hangzhou"
NO_AK = UNKNOWN_AK

client = v3_client()


def new_key():
    return client.create_key(models.CreateKeyRequest()).body.key_metadata.key_id


def tags_of(key_id):
    body = client.list_resource_tags(models.ListResourceTagsRequest(key_id=key_id)).body
    return [(t.tag_key, t.tag_value) for t in (body.tags.tag or [])] if body.tags else []


# --- V3 SDK: the successes
key = new_key()
client.update_key_description(models.UpdateKeyDescriptionRequest(key_id=key, description="orders"))
meta = client.describe_key(models.DescribeKeyRequest(key_id=key)).body.key_metadata
check("[V3] UpdateKeyDescription: DescribeKey shows the new Description",
      meta.description == "orders", meta.description)

client.set_deletion_protection(models.SetDeletionProtectionRequest(
    key_id=key, enable_deletion_protection=True, deletion_protection_description="billing"))
got = v3_error(lambda: client.schedule_key_deletion(
    models.ScheduleKeyDeletionRequest(key_id=key, pending_window_in_days=7)))
check("[V3] SetDeletionProtection on: ScheduleKeyDeletion refused, "
      "Forbidden.ResourceProtected 403", got == ("Forbidden.ResourceProtected", 403), f"got {got}")
arn = f"acs:kms:{REGION}:{ACCOUNT}:key/{key}"
client.set_deletion_protection(models.SetDeletionProtectionRequest(
    protected_resource_arn=arn, enable_deletion_protection=False))
doomed = new_key()
client.schedule_key_deletion(models.ScheduleKeyDeletionRequest(key_id=doomed,
                                                               pending_window_in_days=7))
check("[V3] SetDeletionProtection off (by ProtectedResourceArn): protection removed",
      v3_error(lambda: client.set_deletion_protection(models.SetDeletionProtectionRequest(
          key_id=key, enable_deletion_protection=False))) is None)

client.tag_resource(models.TagResourceRequest(
    key_id=key, tags=json.dumps([{"TagKey": "team", "TagValue": "pay"},
                                 {"TagKey": "env", "TagValue": "prod"}])))
check("[V3] TagResource then ListResourceTags: Tags.Tag[] sorted, TagKey/TagValue",
      tags_of(key) == [("env", "prod"), ("team", "pay")], f"{tags_of(key)}")
client.untag_resource(models.UntagResourceRequest(key_id=key, tag_keys=json.dumps(["team"])))
check("[V3] UntagResource: the tag is gone", tags_of(key) == [("env", "prod")], f"{tags_of(key)}")

other = new_key()
client.tag_resources(models.TagResourcesRequest(
    region_id=REGION, resource_type="key", resource_id=[key, other],
    tag=[models.TagResourcesRequestTag(key="cost", value="42")]))
rows = client.list_tag_resources(models.ListTagResourcesRequest(
    region_id=REGION, resource_type="key", resource_id=[key, other])).body
listed = [(r.resource_id, r.tag_key, r.tag_value) for r in rows.tag_resources.tag_resource]
check("[V3] TagResources on 2 keys, ListTagResources: TagResources.TagResource[] rows, "
      "NextToken empty",
      listed == [(key, "cost", "42"), (key, "env", "prod"), (other, "cost", "42")]
      and rows.next_token == "" and all(r.resource_type == "key"
                                        for r in rows.tag_resources.tag_resource), f"{listed}")
rows = client.list_tag_resources(models.ListTagResourcesRequest(
    region_id=REGION, resource_type="key",
    tag=[models.ListTagResourcesRequestTag(key="env")])).body
check("[V3] ListTagResources filtered by Tag.1.Key: one row",
      [(r.resource_id, r.tag_key) for r in rows.tag_resources.tag_resource] == [(key, "env")])
client.untag_resources(models.UntagResourcesRequest(
    region_id=REGION, resource_type="key", resource_id=[key], tag_key=["cost"]))
client.untag_resources(models.UntagResourcesRequest(
    region_id=REGION, resource_type="key", resource_id=[other], all=True))
check("[V3] UntagResources by TagKey.1 and with All=true",
      tags_of(key) == [("env", "prod")] and tags_of(other) == [])

for alias in ("alias/meta-b", "alias/meta-a"):
    client.create_alias(models.CreateAliasRequest(alias_name=alias, key_id=key))
client.create_alias(models.CreateAliasRequest(alias_name="alias/meta-other", key_id=other))
body = client.list_aliases_by_key_id(models.ListAliasesByKeyIdRequest(key_id=key)).body
names = [a.alias_name for a in body.aliases.alias]
check("[V3] ListAliasesByKeyId: Aliases.Alias[] of that key only, sorted, with paging",
      names == ["alias/meta-a", "alias/meta-b"] and body.total_count == 2
      and body.page_number == 1 and body.page_size == 10
      and all(a.key_id == key and a.alias_arn.endswith(a.alias_name)
              for a in body.aliases.alias), f"{names}")
body = client.list_aliases_by_key_id(models.ListAliasesByKeyIdRequest(
    key_id=key, page_number=2, page_size=1)).body
check("[V3] ListAliasesByKeyId PageNumber=2 PageSize=1",
      [a.alias_name for a in body.aliases.alias] == ["alias/meta-b"])

regions = client.describe_regions().body.regions.region
check("[V3] DescribeRegions: Regions.Region[] with the served RegionId",
      [r.region_id for r in regions] == [REGION], f"{[r.region_id for r in regions]}")

password = client.get_random_password(models.GetRandomPasswordRequest()).body.random_password
check("[V3] GetRandomPassword defaults: 32 characters, every class",
      len(password) == 32 and any(c.islower() for c in password)
      and any(c.isupper() for c in password) and any(c.isdigit() for c in password)
      and any(c in string.punctuation for c in password))
password = client.get_random_password(models.GetRandomPasswordRequest(
    password_length="12", exclude_punctuation=True, exclude_characters="abcABC",
    require_each_included_type=True)).body.random_password
check("[V3] GetRandomPassword PasswordLength=12 ExcludePunctuation ExcludeCharacters",
      len(password) == 12 and password.isalnum() and not set(password) & set("abcABC"))

# --- V3 SDK: one call per error code
tag = json.dumps([{"TagKey": "a", "TagValue": "b"}])
plural = dict(region_id=REGION, resource_type="key")
errors = [
    ("UpdateKeyDescription without Description", lambda: client.update_key_description(
        models.UpdateKeyDescriptionRequest(key_id=key)), "MissingParameter", 400),
    ("UpdateKeyDescription of 8193 characters", lambda: client.update_key_description(
        models.UpdateKeyDescriptionRequest(key_id=key, description="d" * 8193)),
     "InvalidParameter", 400),
    ("UpdateKeyDescription of an unknown key", lambda: client.update_key_description(
        models.UpdateKeyDescriptionRequest(key_id=UNKNOWN_KEY, description="x")),
     "Forbidden.KeyNotFound", 404),
    ("UpdateKeyDescription of an unknown alias", lambda: client.update_key_description(
        models.UpdateKeyDescriptionRequest(key_id="alias/none", description="x")),
     "Forbidden.AliasNotFound", 404),
    ("UpdateKeyDescription with an unknown AccessKey", lambda: v3_client(NO_AK)
     .update_key_description(models.UpdateKeyDescriptionRequest(key_id=key, description="x")),
     "InvalidAccessKeyId.NotFound", 404),
    ("SetDeletionProtection without EnableDeletionProtection", lambda:
     client.set_deletion_protection(models.SetDeletionProtectionRequest(key_id=key)),
     "MissingParameter", 400),
    ("SetDeletionProtection with an 8193-character description", lambda:
     client.set_deletion_protection(models.SetDeletionProtectionRequest(
         key_id=key, enable_deletion_protection=True,
         deletion_protection_description="d" * 8193)), "InvalidParameter", 400),
    ("SetDeletionProtection of a key pending deletion", lambda:
     client.set_deletion_protection(models.SetDeletionProtectionRequest(
         key_id=doomed, enable_deletion_protection=True)), "Rejected.StateModifiedFailed", 409),
    ("SetDeletionProtection of an unknown key", lambda:
     client.set_deletion_protection(models.SetDeletionProtectionRequest(
         key_id=UNKNOWN_KEY, enable_deletion_protection=True)), "Forbidden.KeyNotFound", 404),
    ("TagResource without Tags", lambda: client.tag_resource(
        models.TagResourceRequest(key_id=key)), "MissingParameter", 400),
    ("TagResource with a reserved tag key (acs:)", lambda: client.tag_resource(
        models.TagResourceRequest(key_id=key, tags='[{"TagKey":"acs:x","TagValue":"v"}]')),
     "InvalidParameter", 400),
    ("TagResource of a secret (SecretName)", lambda: client.tag_resource(
        models.TagResourceRequest(secret_name="db", tags=tag)), "UnsupportedOperation", 400),
    ("TagResource of an unknown key", lambda: client.tag_resource(
        models.TagResourceRequest(key_id=UNKNOWN_KEY, tags=tag)), "Forbidden.KeyNotFound", 404),
    ("UntagResource without TagKeys", lambda: client.untag_resource(
        models.UntagResourceRequest(key_id=key)), "MissingParameter", 400),
    ("UntagResource with malformed TagKeys", lambda: client.untag_resource(
        models.UntagResourceRequest(key_id=key, tag_keys="[1]")), "InvalidParameter", 400),
    ("UntagResource of an unknown key", lambda: client.untag_resource(
        models.UntagResourceRequest(key_id=UNKNOWN_KEY, tag_keys='["a"]')),
     "Forbidden.KeyNotFound", 404),
    ("UntagResource of a secret (SecretName)", lambda: client.untag_resource(
        models.UntagResourceRequest(secret_name="db", tag_keys='["a"]')),
     "UnsupportedOperation", 400),
    ("ListResourceTags without KeyId", lambda: client.list_resource_tags(
        models.ListResourceTagsRequest()), "MissingParameter", 400),
    ("ListResourceTags of an unknown key", lambda: client.list_resource_tags(
        models.ListResourceTagsRequest(key_id=UNKNOWN_KEY)), "Forbidden.KeyNotFound", 404),
    ("ListResourceTags of an unknown alias", lambda: client.list_resource_tags(
        models.ListResourceTagsRequest(key_id="alias/none")), "Forbidden.AliasNotFound", 404),
    ("TagResources without Tag", lambda: client.tag_resources(models.TagResourcesRequest(
        resource_id=[key], **plural)), "MissingParameter", 400),
    ("TagResources in another RegionId", lambda: client.tag_resources(models.TagResourcesRequest(
        region_id="cn-shanghai", resource_type="key", resource_id=[key],
        tag=[models.TagResourcesRequestTag(key="a", value="b")])), "InvalidParameter", 400),
    ("TagResources of secrets", lambda: client.tag_resources(models.TagResourcesRequest(
        region_id=REGION, resource_type="secret", resource_id=["db"],
        tag=[models.TagResourcesRequestTag(key="a", value="b")])), "UnsupportedOperation", 400),
    ("TagResources with an unknown key", lambda: client.tag_resources(models.TagResourcesRequest(
        resource_id=[key, UNKNOWN_KEY], tag=[models.TagResourcesRequestTag(key="a", value="b")],
        **plural)), "Forbidden.KeyNotFound", 404),
    ("UntagResources without TagKey or All", lambda: client.untag_resources(
        models.UntagResourcesRequest(resource_id=[key], **plural)), "MissingParameter", 400),
    ("UntagResources with ResourceType=disk", lambda: client.untag_resources(
        models.UntagResourcesRequest(region_id=REGION, resource_type="disk", resource_id=[key],
                                     all=True)), "InvalidParameter", 400),
    ("UntagResources with an unknown key", lambda: client.untag_resources(
        models.UntagResourcesRequest(resource_id=[UNKNOWN_KEY], all=True, **plural)),
     "Forbidden.KeyNotFound", 404),
    ("ListTagResources without ResourceType", lambda: client.list_tag_resources(
        models.ListTagResourcesRequest(region_id=REGION)), "MissingParameter", 400),
    ("ListTagResources with a malformed NextToken", lambda: client.list_tag_resources(
        models.ListTagResourcesRequest(next_token="x", **plural)), "InvalidParameter", 400),
    ("ListTagResources of an unknown key", lambda: client.list_tag_resources(
        models.ListTagResourcesRequest(resource_id=[UNKNOWN_KEY], **plural)),
     "Forbidden.KeyNotFound", 404),
    ("ListAliasesByKeyId PageSize=101", lambda: client.list_aliases_by_key_id(
        models.ListAliasesByKeyIdRequest(key_id=key, page_size=101)), "InvalidParameter", 400),
    ("ListAliasesByKeyId without KeyId", lambda: client.list_aliases_by_key_id(
        models.ListAliasesByKeyIdRequest()), "MissingParameter", 400),
    ("ListAliasesByKeyId of an unknown key", lambda: client.list_aliases_by_key_id(
        models.ListAliasesByKeyIdRequest(key_id=UNKNOWN_KEY)), "Forbidden.KeyNotFound", 404),
    ("DescribeRegions with an unknown AccessKey", lambda: v3_client(NO_AK).describe_regions(),
     "InvalidAccessKeyId.NotFound", 404),
    ("GetRandomPassword PasswordLength=7", lambda: client.get_random_password(
        models.GetRandomPasswordRequest(password_length="7")), "InvalidParameter", 400),
    ("GetRandomPassword with every class excluded", lambda: client.get_random_password(
        models.GetRandomPasswordRequest(exclude_lowercase=True, exclude_uppercase=True,
                                        exclude_numbers=True, exclude_punctuation=True)),
     "InvalidParameter", 400),
]
for label, call, code, status in errors:
    got = v3_error(call)
    check(f"[V3] {label}: {code} {status}", got == (code, status), f"got {got}")

# --- legacy SDK


def make(module, **setters):
    request = getattr(module, module.__name__.rsplit(".", 1)[1])()
    for name, value in setters.items():
        getattr(request, "set_" + name)(value)
    return request


lkey = new_key()
legacy(make(UpdateKeyDescriptionRequest, KeyId=lkey, Description="legacy"))
check("[legacy] UpdateKeyDescription",
      client.describe_key(models.DescribeKeyRequest(key_id=lkey)).body.key_metadata.description
      == "legacy")
larn = f"acs:kms:{REGION}:{ACCOUNT}:key/{lkey}"
legacy(make(SetDeletionProtectionRequest, ProtectedResourceArn=larn,
            EnableDeletionProtection=True, DeletionProtectionDescription="legacy"))
got = v3_error(lambda: client.schedule_key_deletion(
    models.ScheduleKeyDeletionRequest(key_id=lkey, pending_window_in_days=7)))
check("[legacy] SetDeletionProtection (ProtectedResourceArn): ScheduleKeyDeletion refused",
      got == ("Forbidden.ResourceProtected", 403), f"got {got}")
legacy(make(TagResourceRequest, KeyId=lkey, Tags='[{"TagKey":"k1","TagValue":"v1"},'
                                                 '{"TagKey":"k2","TagValue":"v2"}]'))
legacy(make(UntagResourceRequest, KeyId=lkey, TagKeys='["k2"]'))
body = legacy(make(ListResourceTagsRequest, KeyId=lkey))
check("[legacy] TagResource, UntagResource, ListResourceTags",
      [(t["TagKey"], t["TagValue"]) for t in body["Tags"]["Tag"]] == [("k1", "v1")], f"{body}")
legacy(make(TagResourcesRequest, ResourceIds=[lkey], ResourceType="key",
            Tags=[{"Key": "k3", "Value": "v3"}]))
body = legacy(make(ListTagResourcesRequest, ResourceIds=[lkey], ResourceType="key"))
check("[legacy] TagResources, ListTagResources",
      [r["TagKey"] for r in body["TagResources"]["TagResource"]] == ["k1", "k3"], f"{body}")
legacy(make(UntagResourcesRequest, ResourceIds=[lkey], ResourceType="key", TagKeys=["k1"]))
body = legacy(make(ListResourceTagsRequest, KeyId=lkey))
check("[legacy] UntagResources",
      [t["TagKey"] for t in body["Tags"]["Tag"]] == ["k3"], f"{body}")
client.create_alias(models.CreateAliasRequest(alias_name="alias/legacy-meta", key_id=lkey))
body = legacy(make(ListAliasesByKeyIdRequest, KeyId=lkey, PageSize=5))
check("[legacy] ListAliasesByKeyId",
      [a["AliasName"] for a in body["Aliases"]["Alias"]] == ["alias/legacy-meta"]
      and body["TotalCount"] == 1 and body["PageSize"] == 5, f"{body}")
body = legacy(make(DescribeRegionsRequest))
check("[legacy] DescribeRegions",
      [r["RegionId"] for r in body["Regions"]["Region"]] == [REGION], f"{body}")
body = legacy(make(GetRandomPasswordRequest, PasswordLength=20, ExcludeNumbers=True))
check("[legacy] GetRandomPassword PasswordLength=20 ExcludeNumbers",
      len(body["RandomPassword"]) == 20 and not any(c.isdigit() for c in body["RandomPassword"]))

legacy_errors = [
    ("UpdateKeyDescription of an unknown key",
     make(UpdateKeyDescriptionRequest, KeyId=UNKNOWN_KEY, Description="x"), AK,
     "Forbidden.KeyNotFound", 404),
    ("SetDeletionProtection EnableDeletionProtection=maybe",
     make(SetDeletionProtectionRequest, ProtectedResourceArn=larn,
          EnableDeletionProtection="maybe"), AK, "InvalidParameter", 400),
    ("TagResource with Tags that are not JSON", make(TagResourceRequest, KeyId=lkey, Tags="x"),
     AK, "InvalidParameter", 400),
    ("UntagResource without TagKeys", make(UntagResourceRequest, KeyId=lkey), AK,
     "MissingParameter", 400),
    ("ListResourceTags of an unknown alias", make(ListResourceTagsRequest, KeyId="alias/none"),
     AK, "Forbidden.AliasNotFound", 404),
    ("TagResources of secrets", make(TagResourcesRequest, ResourceIds=["db"],
                                     ResourceType="secret", Tags=[{"Key": "a", "Value": "b"}]),
     AK, "UnsupportedOperation", 400),
    ("UntagResources of an unknown key", make(UntagResourcesRequest, ResourceIds=[UNKNOWN_KEY],
                                              ResourceType="key", TagKeys=["a"]),
     AK, "Forbidden.KeyNotFound", 404),
    ("ListTagResources without ResourceType", make(ListTagResourcesRequest), AK,
     "MissingParameter", 400),
    ("ListAliasesByKeyId PageNumber=0", make(ListAliasesByKeyIdRequest, KeyId=lkey,
                                             PageNumber=0), AK, "InvalidParameter", 400),
    ("DescribeRegions with an unknown AccessKey", make(DescribeRegionsRequest), NO_AK,
     "InvalidAccessKeyId.NotFound", 404),
    ("GetRandomPassword PasswordLength=129", make(GetRandomPasswordRequest, PasswordLength=129),
     AK, "InvalidParameter", 400),
]
for label, request, ak, code, status in legacy_errors:
    got = legacy_error(request, ak)
    check(f"[legacy] {label}: {code} {status}", got == (code, status), f"got {got}")

sys.exit(exit_code())
