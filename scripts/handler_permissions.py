#!/usr/bin/env python3
"""Writes src/pipeline/handlers.txt: for every AWS:: resource type, the IAM
actions CloudFormation's resource provider schemas list for its create,
read, update and delete handlers (what CloudFormation calls with the
deploying role's rights). One line per type: the type, then its actions.

The schemas come from cfn-lint 1.10.0, the last release that ships them
whole (later releases strip `handlers`); pip fetches its wheel. Actions
IAM does not know (the schemas name a few that do not exist) are left
out, by the action list of the cfn-lint the script runs with. Run with the
tests' venv:

    target/tools/test-venv/bin/python scripts/handler_permissions.py
"""
import json
import pathlib
import subprocess
import sys
import tempfile
import zipfile

import cfnlint

RELEASE = "cfn-lint==1.10.0"
HANDLERS = ("create", "read", "update", "delete")
PREFIX = "cfnlint/data/schemas/providers/us_east_1/"

policies = json.loads((pathlib.Path(cfnlint.__file__).parent / "data/AdditionalSpecs/Policies.json").read_text())
known = {
    f"{prefix}:{action}".lower()
    for prefix, service in policies.items()
    for action in service.get("Actions", {})
}

with tempfile.TemporaryDirectory() as folder:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", RELEASE, "--no-deps", "--quiet", "-d", folder],
        check=True,
    )
    (wheel,) = pathlib.Path(folder).glob("*.whl")
    types = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not (name.startswith(PREFIX) and name.endswith(".json")):
                continue
            schema = json.loads(archive.read(name))
            type_name = schema.get("typeName", "")
            if not type_name.startswith("AWS::"):
                continue
            actions = types.setdefault(type_name, set())
            for handler in HANDLERS:
                for action in schema.get("handlers", {}).get(handler, {}).get("permissions", []):
                    if action.lower() in known:
                        actions.add(action)

lines = [" ".join([name, *sorted(actions, key=str.lower)]) for name, actions in sorted(types.items()) if actions]
out = pathlib.Path(__file__).resolve().parent.parent / "src/pipeline/handlers.txt"
header = (
    "# IAM actions of every AWS:: type's create/read/update/delete handlers, from CloudFormation's "
    f"resource provider schemas ({RELEASE}, us-east-1); regenerate with scripts/handler_permissions.py\n"
)
out.write_text(header + "".join(f"{line}\n" for line in lines))
print(f"{len(lines)} types -> {out}")
