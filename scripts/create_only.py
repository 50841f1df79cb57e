#!/usr/bin/env python3
"""Writes src/plan/create_only.txt: for every AWS:: resource type, the
properties CloudFormation's resource provider schemas mark createOnly (a
change to one replaces the resource), from the schemas cfn-lint ships. One
line per type: the type, then its properties as JSON pointers under
Properties (`/CidrBlock`, `/Engine/Version`, `*` for any list item). Run
with the cfn-lint of the tests' venv:

    target/tools/test-venv/bin/python scripts/create_only.py
"""
import importlib
import json
import pathlib
import pkgutil

import cfnlint
import cfnlint.data.schemas.providers as providers

schemas = pathlib.Path(cfnlint.__file__).parent / "data/schemas/resources"
hashes = {}
for module in pkgutil.iter_modules(providers.__path__):
    table = importlib.import_module(f"{providers.__name__}.{module.name}")
    for name, digest in getattr(table, "types", {}).items():
        if name.startswith("AWS::"):
            hashes.setdefault(name, set()).add(digest)

lines = []
for name in sorted(hashes):
    paths = set()
    for digest in hashes[name]:
        schema = json.loads((schemas / f"{digest}.json").read_text())
        for path in schema.get("createOnlyProperties", []):
            if path.startswith("/properties/"):
                paths.add(path[len("/properties"):])
    if paths:
        lines.append(" ".join([name, *sorted(paths)]))

out = pathlib.Path(__file__).resolve().parent.parent / "src/plan/create_only.txt"
version = getattr(cfnlint, "__version__", None)
if version is None:
    from importlib.metadata import version as dist_version

    version = dist_version("cfn-lint")
header = f"# createOnlyProperties of every AWS:: type from CloudFormation's resource provider schemas (cfn-lint {version}); regenerate with scripts/create_only.py\n"
out.write_text(header + "".join(f"{line}\n" for line in lines))
print(f"{len(lines)} types -> {out}")
