#!/usr/bin/env python3
"""Writes src/render/resource_types.txt: every AWS:: resource type that
CloudFormation knows in some region, from the resource specification that
cfn-lint ships (its `providers` tables). driftless refuses other AWS:: types
offline. Run with the cfn-lint of the tests' venv:

    target/tools/test-venv/bin/python scripts/resource_types.py
"""
import importlib
import pathlib
import pkgutil

import cfnlint
import cfnlint.data.schemas.providers as providers

types = set()
for module in pkgutil.iter_modules(providers.__path__):
    table = importlib.import_module(f"{providers.__name__}.{module.name}")
    types.update(t for t in getattr(table, "types", {}) if t.startswith("AWS::"))

out = pathlib.Path(__file__).resolve().parent.parent / "src/render/resource_types.txt"
version = getattr(cfnlint, "__version__", None)
if version is None:
    from importlib.metadata import version as dist_version

    version = dist_version("cfn-lint")
header = f"# AWS:: resource types known to CloudFormation in any region (cfn-lint {version}); regenerate with scripts/resource_types.py\n"
out.write_text(header + "".join(f"{t}\n" for t in sorted(types)))
print(f"{len(types)} types -> {out}")
