#!/usr/bin/env bash
# Starts or stops a throwaway S3 API server for the test suite: moto's server mode on
# 127.0.0.1 with authentication enforced (requests must carry a valid AWS Signature V4 of a
# known user, so a wrong secret is refused; presigned URLs are checked too, by botocore's
# signer: Tests/s3/moto_server.py), a user "iris" allowed s3:*, and a bucket.
#   scripts/s3-test-server.sh start   → prints the settings as shell assignments to eval:
#                                       IRIS_TEST_S3_URL, _BUCKET, _ACCESS_KEY, _SECRET_KEY
#   scripts/s3-test-server.sh stop    → stops it
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state_file="${IRIS_S3_STATE:-/tmp/iris-test-s3.state}"
port="${IRIS_S3_PORT:-54330}"

case "${1:-}" in
  start)
    "$0" stop >/dev/null 2>&1 || true
    venv=$("$root/scripts/python-env.sh" s3)
    log=$(mktemp /tmp/iris-s3.XXXXXX.log)
    # The first three requests (making the user, its key and its policy) need no signature; every later one does.
    INITIAL_NO_AUTH_ACTION_COUNT=3 "$venv/bin/python" "$root/Tests/s3/moto_server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    echo "$! $log" >"$state_file"
    for _ in $(seq 1 100); do
      "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break
      sleep 0.1
    done
    "$venv/bin/python" - "$port" <<'PY'
import json, sys
import boto3
url = f"http://127.0.0.1:{sys.argv[1]}"
iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam.create_user(UserName="iris")
key = iam.create_access_key(UserName="iris")["AccessKey"]
policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
iam.put_user_policy(UserName="iris", PolicyName="iris-s3", PolicyDocument=json.dumps(policy))
s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key["AccessKeyId"],
                  aws_secret_access_key=key["SecretAccessKey"])
s3.create_bucket(Bucket="iris-test")
print(f"IRIS_TEST_S3_URL={url}")
print("IRIS_TEST_S3_BUCKET=iris-test")
print(f"IRIS_TEST_S3_ACCESS_KEY={key['AccessKeyId']}")
print(f"IRIS_TEST_S3_SECRET_KEY={key['SecretAccessKey']}")
PY
    ;;
  stop)
    [ -f "$state_file" ] || exit 0
    read -r pid log <"$state_file" || true
    kill "$pid" 2>/dev/null || true
    rm -f "$log" "$state_file"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
