"""GET /hello: a greeting, and one log line per request."""

import json


def main(event, context):
    name = (event.get("queryStringParameters") or {}).get("name", "world")
    print(json.dumps({"path": event.get("rawPath"), "name": name}), flush=True)
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"hello": name}),
    }
