"""A small DynamoDB client on the standard library alone.

boto3 takes about half a second to import and build a client, which every
cold start pays; this module takes a few milliseconds. It speaks the DynamoDB
JSON protocol over one kept-alive connection and signs with Signature
Version 4, reading credentials, region and an optional endpoint override
(AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL) from the Lambda environment.
"""

import datetime
import hashlib
import hmac
import http.client
import json
import os
import time
import urllib.parse
from decimal import Decimal

_RETRYABLE = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


class DynamoDBError(Exception):
    """An error answer: `code` is the short error type, as boto3 names it."""

    def __init__(self, code, message, status):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def sign(method, host, path, headers, body, region, service, now, access_key, secret_key, token=None):
    """Signature Version 4 headers (authorization, x-amz-date, token) for a request."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    signed = {k.lower(): " ".join(str(v).split()) for k, v in headers.items()}
    signed["host"] = host
    signed["x-amz-date"] = amz_date
    if token:
        signed["x-amz-security-token"] = token
    names = sorted(signed)
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(path or "/", safe="/~"),
            "",
            "".join(f"{n}:{signed[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
    )
    key = _hmac(("AWS4" + secret_key).encode("utf-8"), day)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out = {
        "authorization": f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}",
        "x-amz-date": amz_date,
    }
    if token:
        out["x-amz-security-token"] = token
    return out


def serialize(value):
    """A Python value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): serialize(v) for k, v in value.items()}}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _number(text):
    try:
        return int(text)
    except ValueError:
        return Decimal(text)


def deserialize(attribute):
    """A DynamoDB attribute value as a Python value."""
    (kind, value), = attribute.items()
    if kind == "S":
        return value
    if kind == "N":
        return _number(value)
    if kind == "BOOL":
        return value
    if kind == "NULL":
        return None
    if kind == "L":
        return [deserialize(v) for v in value]
    if kind == "M":
        return {k: deserialize(v) for k, v in value.items()}
    if kind == "SS":
        return set(value)
    if kind == "NS":
        return {_number(v) for v in value}
    raise ValueError(f"unsupported attribute type {kind}")


def _item(attributes):
    return None if attributes is None else {k: deserialize(v) for k, v in attributes.items()}


def _attributes(item):
    return {k: serialize(v) for k, v in item.items()}


class Table:
    """The operations the API uses, with boto3's names and arguments."""

    def __init__(self, name, environ=None):
        env = os.environ if environ is None else environ
        self.name = name
        self.region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        endpoint = (
            env.get("AWS_ENDPOINT_URL_DYNAMODB")
            or env.get("AWS_ENDPOINT_URL")
            or f"https://dynamodb.{self.region}.amazonaws.com"
        )
        url = urllib.parse.urlsplit(endpoint)
        self.secure = url.scheme == "https"
        self.host = url.netloc
        self.path = url.path or "/"
        self.access_key = env.get("AWS_ACCESS_KEY_ID", "")
        self.secret_key = env.get("AWS_SECRET_ACCESS_KEY", "")
        self.token = env.get("AWS_SESSION_TOKEN") or None
        self._connection = None

    def _connect(self):
        if self._connection is None:
            kind = http.client.HTTPSConnection if self.secure else http.client.HTTPConnection
            self._connection = kind(self.host, timeout=10)
        return self._connection

    def _send(self, target, body):
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amz-target": f"DynamoDB_20120810.{target}",
        }
        now = datetime.datetime.now(datetime.timezone.utc)
        headers.update(
            sign("POST", self.host, self.path, headers, body, self.region, "dynamodb", now,
                 self.access_key, self.secret_key, self.token)
        )
        connection = self._connect()
        try:
            connection.request("POST", self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        except (http.client.HTTPException, OSError):
            # A kept-alive connection the server closed: one fresh try.
            connection.close()
            self._connection = None
            connection = self._connect()
            connection.request("POST", self.path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()

    def call(self, target, payload):
        body = json.dumps(payload).encode("utf-8")
        for attempt in range(4):
            status, raw = self._send(target, body)
            answer = json.loads(raw or b"{}")
            if status < 300:
                return answer
            code = str(answer.get("__type", "")).rsplit("#", 1)[-1] or f"HTTP{status}"
            message = answer.get("message") or answer.get("Message") or ""
            if (code in _RETRYABLE or status >= 500) and attempt < 3:
                time.sleep(0.05 * 2**attempt)
                continue
            raise DynamoDBError(code, message, status)
        raise DynamoDBError("RetriesExhausted", target, 503)

    def put_item(self, Item, ConditionExpression=None):
        payload = {"TableName": self.name, "Item": _attributes(Item)}
        if ConditionExpression:
            payload["ConditionExpression"] = ConditionExpression
        self.call("PutItem", payload)
        return {}

    def get_item(self, Key):
        answer = self.call("GetItem", {"TableName": self.name, "Key": _attributes(Key)})
        item = _item(answer.get("Item"))
        return {} if item is None else {"Item": item}

    def delete_item(self, Key, ReturnValues="NONE"):
        answer = self.call(
            "DeleteItem",
            {"TableName": self.name, "Key": _attributes(Key), "ReturnValues": ReturnValues},
        )
        old = _item(answer.get("Attributes"))
        return {} if old is None else {"Attributes": old}

    def scan(self, Limit=100):
        answer = self.call("Scan", {"TableName": self.name, "Limit": Limit})
        return {"Items": [_item(i) for i in answer.get("Items", [])]}
