"""User management API: CRUD on /users, backed by a DynamoDB table.

Works with API Gateway HTTP API payloads (2.0) and REST payloads (1.0).
The table name comes from DYNAMODB_TABLE_NAME. DynamoDB is reached through
boto3, which every Lambda Python runtime ships.
"""

import json
import os
import time
from decimal import Decimal

import boto3
from botocore.exceptions import BotoCoreError, ClientError

_table = None


def table():
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["DYNAMODB_TABLE_NAME"])
    return _table


def _error_code(error):
    return error.response.get("Error", {}).get("Code")


def _json_default(value):
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def respond(status, body=None, headers=None):
    response = {"statusCode": status, "headers": {"content-type": "application/json", **(headers or {})}}
    response["body"] = "" if body is None else json.dumps(body, default=_json_default)
    return response


def request_of(event):
    """(method, path, username, body) from either payload format."""
    http = (event.get("requestContext") or {}).get("http") or {}
    method = http.get("method") or event.get("httpMethod") or "GET"
    path = event.get("rawPath") or event.get("path") or "/"
    params = event.get("pathParameters") or {}
    username = params.get("username")
    if username is None:
        parts = [p for p in path.split("/") if p]
        if len(parts) == 2 and parts[0] == "users":
            username = parts[1]
    body = event.get("body")
    if body and event.get("isBase64Encoded"):
        import base64

        body = base64.b64decode(body).decode("utf-8")
    return method.upper(), path, username, body


def parse_user(body, username=None):
    try:
        user = json.loads(body or "{}")
    except json.JSONDecodeError:
        return None, "body is not valid JSON"
    if not isinstance(user, dict):
        return None, "body must be a JSON object"
    if username is not None:
        user["username"] = username
    name = user.get("username")
    if not isinstance(name, str) or not 0 < len(name) <= 128:
        return None, "username must be a string of 1 to 128 characters"
    return user, None


def create_user(body):
    user, error = parse_user(body)
    if error:
        return respond(400, {"error": error})
    try:
        table().put_item(Item=user, ConditionExpression="attribute_not_exists(username)")
    except ClientError as e:
        if _error_code(e) == "ConditionalCheckFailedException":
            return respond(409, {"error": f"user {user['username']} already exists"})
        raise
    return respond(201, user, {"location": f"/users/{user['username']}"})


def get_user(username):
    item = table().get_item(Key={"username": username}).get("Item")
    if item is None:
        return respond(404, {"error": f"no user {username}"})
    return respond(200, item)


def update_user(username, body):
    user, error = parse_user(body, username)
    if error:
        return respond(400, {"error": error})
    try:
        table().put_item(Item=user, ConditionExpression="attribute_exists(username)")
    except ClientError as e:
        if _error_code(e) == "ConditionalCheckFailedException":
            return respond(404, {"error": f"no user {username}"})
        raise
    return respond(200, user)


def delete_user(username):
    old = table().delete_item(Key={"username": username}, ReturnValues="ALL_OLD").get("Attributes")
    if old is None:
        return respond(404, {"error": f"no user {username}"})
    return respond(204)


def list_users():
    result = table().scan(Limit=100)
    return respond(200, {"users": result.get("Items", [])})


def route(method, path, username, body):
    if username is None and path.rstrip("/") == "/users":
        if method == "GET":
            return list_users()
        if method == "POST":
            return create_user(body)
    elif username is not None:
        if method == "GET":
            return get_user(username)
        if method == "PUT":
            return update_user(username, body)
        if method == "DELETE":
            return delete_user(username)
    return respond(404, {"error": f"no route for {method} {path}"})


def lambda_handler(event, context):
    started = time.monotonic()
    method, path, username, body = request_of(event)
    error = None
    try:
        response = route(method, path, username, body)
    except (BotoCoreError, ClientError) as e:
        error = str(e)
        response = respond(500, {"error": "internal error"})
    # One structured line per request, for the function's log group.
    record = {
        "method": method,
        "path": path,
        "status": response["statusCode"],
        "ms": round((time.monotonic() - started) * 1000, 1),
    }
    if error:
        record["error"] = error
    print(json.dumps(record), flush=True)
    return response
