"""What IAM sees of a recorded request: the action it authorizes, the
resource's ARN and the condition keys it carries. The services and
operations driftless calls are mapped; any other request is reported as
unmapped, so a new call cannot pass unseen."""

import json
import re
import urllib.parse

SCOPE = re.compile(r"Credential=([^/]+)/\d+/([^/]+)/([^/]+)/aws4_request")
SERVICES = {"monitoring": "cloudwatch", "email": "ses"}


class Unmapped(Exception):
    pass


def scope(request):
    found = SCOPE.search(request["headers"].get("authorization", ""))
    if not found:
        raise Unmapped(f"an unsigned request: {request['method']} {request['path']}")
    account, region, service = found.groups()
    return account, region, SERVICES.get(service, service)


def _form(request):
    return dict(urllib.parse.parse_qsl(request.get("body") or "", keep_blank_values=True))


def _cloudformation(form, region, account):
    action = form["Action"]
    stack = form.get("StackName")
    change_set = form.get("ChangeSetName", "")
    if not stack and change_set.startswith("arn:"):
        stack = change_set
    if not stack:
        return action, "*"
    if stack.startswith("arn:"):
        # A change set's ARN names its stack by id only: IAM asks for the stack.
        return action, stack
    return action, f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/recorded"


def _s3(request):
    method = request["method"]
    parts = request["path"].lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    query = dict(urllib.parse.parse_qsl(request.get("query") or "", keep_blank_values=True))
    context = {}
    for header in ("if-none-match", "if-match"):
        if header in request["headers"]:
            context[f"s3:{header}"] = request["headers"][header]
    if not key:
        resource = f"arn:aws:s3:::{bucket}"
        if "location" in query:
            return "GetBucketLocation", resource, context
        if "versioning" in query:
            return "GetBucketVersioning", resource, context
        if method == "POST" and "delete" in query:
            return "DeleteObject", f"{resource}/*", context
        if method in ("GET", "HEAD"):
            return "ListBucket", resource, context
        raise Unmapped(f"S3 {method} on bucket {bucket} ?{request.get('query')}")
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        return "GetObject", resource, context
    if method == "DELETE":
        return ("AbortMultipartUpload" if "uploadId" in query else "DeleteObject"), resource, context
    if method in ("PUT", "POST"):
        return "PutObject", resource, context
    raise Unmapped(f"S3 {method} {request['path']}")


LAMBDA = [
    ("GET", r"/2015-03-31/functions/([^/]+)$", "GetFunction"),
    ("GET", r"/2015-03-31/functions/([^/]+)/configuration$", "GetFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/([^/]+)/configuration$", "UpdateFunctionConfiguration"),
    ("PUT", r"/2015-03-31/functions/([^/]+)/code$", "UpdateFunctionCode"),
    ("PUT", r"/2017-10-31/functions/([^/]+)/concurrency$", "PutFunctionConcurrency"),
    ("DELETE", r"/2017-10-31/functions/([^/]+)/concurrency$", "DeleteFunctionConcurrency"),
    ("POST", r"/2015-03-31/functions/([^/]+)/invocations$", "InvokeFunction"),
]


def _lambda(request, region, account):
    for method, pattern, action in LAMBDA:
        found = re.match(pattern, request["path"])
        if request["method"] == method and found:
            name = found.group(1)
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
            return action, arn
    raise Unmapped(f"Lambda {request['method']} {request['path']}")


def _json_target(request, service, region, account):
    target = request["headers"].get("x-amz-target", "")
    action = target.rsplit(".", 1)[-1]
    body = json.loads(request.get("body") or "{}")
    if service == "codepipeline":
        name = body.get("name") or body.get("pipelineName") or (body.get("pipeline") or {}).get("name")
        if "resourceArn" in body:
            return action, body["resourceArn"]
        return action, f"arn:aws:codepipeline:{region}:{account}:{name}" if name else "*"
    if service == "states":
        return action, body.get("stateMachineArn", "*")
    if service == "codebuild":
        names = body.get("names") or body.get("ids") or []
        return action, f"arn:aws:codebuild:{region}:{account}:project/{names[0].split(':')[0]}" if names else "*"
    raise Unmapped(f"{service} {target}")


def authorize(request):
    """(account, "service:Action", resource ARN, condition keys)."""
    account, region, service = scope(request)
    if service == "s3":
        action, resource, context = _s3(request)
        return account, f"s3:{action}", resource, context
    if service == "lambda":
        action, resource = _lambda(request, region, account)
        return account, f"lambda:{action}", resource, {}
    rpc = re.match(r"^/service/[^/]+/operation/([A-Za-z]+)$", request["path"])
    if rpc:
        # Smithy's RPC v2 (CloudWatch): the operation in the path; the
        # ones driftless sends name no resource.
        return account, f"{service}:{rpc.group(1)}", "*", {}
    if request["headers"].get("x-amz-target"):
        action, resource = _json_target(request, service, region, account)
        return account, f"{service}:{action}", resource, {}
    form = _form(request)
    if "Action" not in form:
        raise Unmapped(f"{service} {request['method']} {request['path']}")
    if service == "cloudformation":
        action, resource = _cloudformation(form, region, account)
        return account, f"cloudformation:{action}", resource, {}
    if service == "sns":
        return account, f"sns:{form['Action']}", form.get("TopicArn", "*"), {}
    if service == "iam":
        role = form.get("RoleName")
        resource = f"arn:aws:iam::{account}:role/{role}" if role else "*"
        return account, f"iam:{form['Action']}", resource, {}
    # sts:GetCallerIdentity, cloudwatch:DescribeAlarms: no resource.
    return account, f"{service}:{form['Action']}", "*", {}
