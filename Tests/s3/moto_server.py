"""moto's S3 server with presigned URLs checked too.

moto 5.2.5 with authentication enforced verifies the Authorization header of every request,
but a presigned URL (its signature in the query, no Authorization header) makes it fail
with a 500 (it reads the missing header). This launcher adds the missing check before
moto's own: a request with `X-Amz-Signature` in its query and no Authorization header is
verified by botocore's query signer (the reference implementation, not Iris's): the key's
secret from moto's IAM, the canonical request rebuilt from what arrived, the expiry
enforced. A valid one is let through; anything else is S3's 403 SignatureDoesNotMatch (or
AccessDenied when expired). Every other request is moto's as before.

Usage: python moto_server.py -H 127.0.0.1 -p PORT (moto_server's arguments).
"""

import datetime
import hmac
import sys
from urllib.parse import parse_qsl, quote, urlsplit

from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import settings
from moto.core import authorization
from moto.iam.access_control import create_access_key
from moto.s3.exceptions import S3ClientError, S3SignatureDoesNotMatchError
from moto.utilities.utils import get_partition

original = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action


def query_pairs(uri):
    return parse_qsl(urlsplit(uri).query, keep_blank_values=True)


def check_presigned(handler):
    pairs = query_pairs(handler.uri)
    fields = dict(pairs)
    try:
        access_key, day, region, service, _ = fields["X-Amz-Credential"].split("/")
        stamp = fields["X-Amz-Date"]
        expires = int(fields["X-Amz-Expires"])
        given = fields["X-Amz-Signature"]
    except (KeyError, ValueError):
        raise S3SignatureDoesNotMatchError()
    signed_at = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if not 1 <= expires <= 604800 or datetime.datetime.now(datetime.timezone.utc) > signed_at + datetime.timedelta(
        seconds=expires
    ):
        raise S3ClientError("AccessDenied", "Request has expired")
    key = create_access_key(
        account_id=handler.current_account, partition=get_partition(region), access_key_id=access_key,
        headers=handler.headers,
    )
    secret = getattr(key, "_secret_access_key", None)
    if secret is None:
        raise S3SignatureDoesNotMatchError()
    rest = "&".join(
        f"{quote(name, safe='-_.~')}={quote(value, safe='-_.~')}" for name, value in pairs if name != "X-Amz-Signature"
    )
    host = handler.headers.get("Host", "")
    request = AWSRequest(method=handler.method, url=f"http://{host}{handler.raw_path}?{rest}", headers={"host": host})
    request.context["timestamp"] = stamp
    signer = S3SigV4QueryAuth(Credentials(access_key, secret), service, region, expires=expires)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, given):
        raise S3SignatureDoesNotMatchError()


def authenticate(self, iam_request_cls, resource="*"):
    enforced = authorization.ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
    if enforced and "Authorization" not in self.headers and "X-Amz-Signature" in dict(query_pairs(self.uri)):
        check_presigned(self)
        return
    original(self, iam_request_cls, resource)


authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])
