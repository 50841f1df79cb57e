"""The release pipeline's checks against what AWS would do, over one JSON
plan the test writes (see `main`): recorded calls evaluated against the
policies of the role each action runs as, CloudFormation's handler calls
on the resources a deploy made, every role linted, every CodePipeline
request walked against botocore's model. Prints one JSON report."""

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

import calls as recorded  # noqa: E402
import iam  # noqa: E402
import lint  # noqa: E402
import model  # noqa: E402
from policies import Stack, statements, would_name  # noqa: E402

HANDLERS = pathlib.Path(__file__).resolve().parents[2] / "src/pipeline/handlers.txt"

ARNS = {
    "AWS::Lambda::Function": "arn:aws:lambda:{region}:{account}:function:{id}",
    "AWS::IAM::Role": "arn:aws:iam::{account}:role/{id}",
    "AWS::DynamoDB::Table": "arn:aws:dynamodb:{region}:{account}:table/{id}",
    "AWS::Logs::LogGroup": "arn:aws:logs:{region}:{account}:log-group:{id}:*",
    "AWS::Events::Rule": "arn:aws:events:{region}:{account}:rule/{id}",
    "AWS::S3::Bucket": "arn:aws:s3:::{id}",
    "AWS::SQS::Queue": "arn:aws:sqs:{region}:{account}:{id}",
    "AWS::CodeBuild::Project": "arn:aws:codebuild:{region}:{account}:project/{id}",
    "AWS::IAM::ManagedPolicy": "arn:aws:iam::{account}:policy/{id}",
}


def arn_of(resource, plan):
    """The resource's ARN under the name AWS would give it: the emulator's
    physical id where it has CloudFormation's form (`<stack>-<logical
    id>-<suffix>`), else that form (MiniStack names log groups its own way)."""
    pattern = ARNS.get(resource["type"])
    if pattern is None:
        return None
    physical = resource["id"]
    if physical.startswith("arn:"):
        return physical
    if not physical.lower().startswith(resource["stack"].lower() + "-"):
        physical = f"{resource['stack']}-{resource['logical']}-ABCDEFGHIJKL"
    return pattern.format(id=physical, region=plan["region"], account=plan["account"])


def handler_actions():
    table = {}
    for line in HANDLERS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, *actions = line.split()
        table[name] = actions
    return table


def read_calls(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def describe(statement):
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    shown = ", ".join(actions[:3]) + (f" (+{len(actions) - 3})" if len(actions) > 3 else "")
    resources = statement.get("Resource")
    resources = resources if isinstance(resources, list) else [resources]
    return f"{statement.get('Effect')} {shown} on {', '.join(map(str, resources[:2]))}{' ...' if len(resources) > 2 else ''}"


def evaluate(stack, role, path, operation_filter=None):
    held = statements(stack.role_policies(role))
    out, unmapped = [], []
    for request in read_calls(path):
        try:
            _, action, resource, context = recorded.authorize(request)
        except recorded.Unmapped as e:
            unmapped.append(str(e))
            continue
        decision, statement = iam.evaluate(held, action, resource, context)
        out.append({
            "action": action,
            "resource": resource,
            "context": context,
            "decision": decision,
            "statement": describe(statement) if statement else None,
        })
    return out, unmapped


def main():
    plan = json.loads(pathlib.Path(sys.argv[1]).read_text())
    template = plan["template"]
    physical = plan.get("physical") or would_name(plan["stack"], template)
    stack = Stack(template, physical, plan["account"], plan["region"])
    report = {"evaluated": [], "expected": [], "handlers": [], "lint": [], "model": []}
    for item in plan.get("evaluate", []):
        calls, unmapped = evaluate(stack, item["role"], item["calls"])
        report["evaluated"].append({**item, "results": calls, "unmapped": unmapped})
    for item in plan.get("expected", []):
        held = statements(stack.role_policies(item["role"]))
        decision, statement = iam.evaluate(held, item["action"], item["resource"], item.get("context"))
        report["expected"].append({**item, "decision": decision, "statement": describe(statement) if statement else None})
    table = handler_actions()
    for item in plan.get("handlers", []):
        held = statements(stack.role_policies(item["role"]))
        results, skipped = [], []
        roles = [arn_of(r, plan) for r in item["resources"] if r["type"] == "AWS::IAM::Role"]
        for resource in item["resources"]:
            arn = arn_of(resource, plan)
            if arn is None:
                skipped.append(resource["type"])
                continue
            service = resource["type"].split("::")[1].lower()
            for action in table.get(resource["type"], []):
                # What a handler calls on the resource itself; roles it
                # hands over are the stacks' own; other services' resources
                # are not known from here.
                if action.lower() == "iam:passrole":
                    targets = roles
                elif action.split(":")[0] == service:
                    targets = [arn]
                else:
                    continue
                for target in targets:
                    decision, _ = iam.evaluate(held, action, target)
                    results.append({"type": resource["type"], "action": action, "resource": target, "decision": decision})
        report["handlers"].append({**item, "resources": len(item["resources"]), "results": results, "skipped": sorted(set(skipped))})
    for item in plan.get("lint", []):
        held = statements(stack.role_policies(item["role"]))
        findings = lint.lint(held, item["prefixes"])
        report["lint"].append({"role": item["role"], "findings": findings})
    for path in plan.get("model", []):
        for request in read_calls(path):
            target = request["headers"].get("x-amz-target", "")
            if not target.startswith("CodePipeline_"):
                continue
            operation = target.rsplit(".", 1)[-1]
            report["model"].append({"operation": operation, "problems": model.check(operation, request.get("body"))})
    for path in plan.get("model_requests", []):
        operation = pathlib.Path(path).name.split(".")[-2]
        report["model"].append({"operation": operation, "problems": model.check(operation, pathlib.Path(path).read_text())})
    print(json.dumps(report))


if __name__ == "__main__":
    main()
