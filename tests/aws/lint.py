"""Each role's policies, linted by parliament with its community auditors
(privilege escalation among them).

parliament reads actions and never resources: any role that deploys a
Lambda function holds `lambda:UpdateFunctionCode`, which it reports as an
escalation whatever the function. So a finding is accepted only when it
is contained: every action of it that IAM lets a policy limit to a
resource (by parliament's own IAM definition) is allowed on resources
named for the role's own stacks and nothing else. One action allowed on
`*`, or on another's resources, fails it."""

import json
import pathlib

import parliament
from parliament import analyze_policy_string

from iam import matches

DEFINITION = json.loads((pathlib.Path(parliament.__file__).parent / "iam_definition.json").read_text())
SCOPABLE = {
    f"{service['prefix']}:{p['privilege']}".lower()
    for service in DEFINITION
    for p in service["privileges"]
    if any(r["resource_type"] for r in p["resource_types"])
}


def _allowing(statements, action):
    for statement in statements:
        if statement.get("Effect") != "Allow":
            continue
        listed = statement.get("Action", [])
        listed = listed if isinstance(listed, list) else [listed]
        if any(matches(p, action, fold=True) for p in listed):
            yield statement


def _own(resource, prefixes):
    return any(f"{p}-" in resource or f"{p.lower()}-" in resource for p in prefixes)


KNOWN = {
    f"{service['prefix']}:{p['privilege']}".lower()
    for service in DEFINITION
    for p in service["privileges"]
}


def _known_only(statement):
    """The statement with the actions parliament's IAM definition knows:
    its escalation auditor stops at the first action it does not know
    (newer than its definition) and then reports nothing at all."""
    listed = statement.get("Action")
    if listed is None or listed == "*":
        return statement
    listed = listed if isinstance(listed, list) else [listed]
    kept = [a for a in listed if "*" in a or a.lower() in KNOWN]
    return {**statement, "Action": kept} if kept else None


def lint(statements, prefixes):
    """[(finding, contained, why)] for every finding parliament reports;
    the actions it does not know are reported as one finding, not linted."""
    known = [s for s in map(_known_only, statements) if s is not None]
    unknown = sorted(
        {a for s in statements for a in (s.get("Action") if isinstance(s.get("Action"), list) else [s.get("Action")])
         if a and "*" not in a and a.lower() not in KNOWN}
    )
    document = json.dumps({"Version": "2012-10-17", "Statement": known})
    policy = analyze_policy_string(document, include_community_auditors=True)
    out = [("NEWER_THAN_PARLIAMENT", True, ", ".join(unknown))] if unknown else []
    for finding in policy.findings:
        if finding.issue != "PRIVILEGE_ESCALATION":
            out.append((finding.issue, True, "not an escalation"))
            continue
        actions = finding.location.get("actions", [])
        loose = []
        for action in actions:
            if action.lower() not in SCOPABLE:
                continue
            for statement in _allowing(statements, action):
                resources = statement.get("Resource", [])
                resources = resources if isinstance(resources, list) else [resources]
                loose.extend(f"{action} on {r}" for r in resources if not _own(r, prefixes))
        name = f"PRIVILEGE_ESCALATION {finding.location.get('type')} {actions}"
        out.append((name, not loose, "; ".join(loose) or "every scopable action is on the role's own resources"))
    return out
