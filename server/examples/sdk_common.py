# What the SDK check scripts share (server/examples/sdk_*.py): the endpoint and CA from the
# environment, a V3 SDK client and a legacy SDK call, the (code, status) of a failing call, and
# one printed line per check. Imported by the scripts, which server/scripts/sdk-check.sh runs.
import json
import os

from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_kms20160120.client import Client
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient

ENDPOINT = os.environ.get("KMS_ENDPOINT", "127.0.0.1:8089")
CA = os.environ["KMS_CA"]
AK = os.environ.get("KMS_AK", "LTAI5tDemoAccessKey0001")
SK = os.environ.get("KMS_SK", "demo-secret-change-me")
UNKNOWN_AK = "LTAI5tNoSuchKey00000"
UNKNOWN_KEY = "key-hzz630494463ejqjx1234"

failures = 0


def check(label, ok, detail=""):
    """Prints `label: ok` or `label: FAILED (detail)` and counts failures."""
    global failures
    print(f"{label}: {'ok' if ok else 'FAILED'}{f' ({detail})' if detail else ''}")
    if not ok:
        failures += 1


def exit_code():
    """Non-zero when a check failed."""
    return 1 if failures else 0


def v3_client(ak=AK):
    """A V3 SDK client over HTTPS, trusting only CA."""
    config = open_api_models.Config(
        access_key_id=ak, access_key_secret=SK, endpoint=ENDPOINT, protocol="HTTPS",
        region_id="cn-hangzhou",
    )
    config.ca = CA
    return Client(config)


def v3_error(call):
    """The (code, status) of a V3 SDK call expected to fail; None if it succeeded."""
    try:
        call()
    except Exception as error:  # the SDK raises for 4xx answers
        status = getattr(error, "status_code", None) or getattr(error, "statusCode", None)
        return error.code, status
    return None


def check_errors(prefix, cases, run=v3_error):
    """One check per (label, call, code, status): the call fails with that code and status."""
    for label, call, code, status in cases:
        got = run(call)
        check(f"{prefix} {label}: {code} {status}", got == (code, status), f"got {got}")


HOST, PORT = ENDPOINT.rsplit(":", 1)


def legacy(request, ak=AK):
    """A legacy SDK (aliyun-python-sdk-kms) call over HTTPS trusting CA; the parsed answer."""
    client = AcsClient(ak, SK, "cn-hangzhou", port=int(PORT), verify=CA)
    request.set_endpoint(HOST)
    return json.loads(client.do_action_with_exception(request))


def legacy_error(request, ak=AK):
    """The (code, status) of a legacy SDK call expected to fail; None if it succeeded."""
    try:
        legacy(request, ak)
    except ServerException as error:
        return error.get_error_code(), error.get_http_status()
    return None
