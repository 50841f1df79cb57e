"""Every CodePipeline request checked against botocore's service model:
required members, types, unknown members, and what botocore's own
validator leaves out: string and list lengths, number ranges, patterns
and enums."""

import json
import re

import botocore.session

_SESSION = botocore.session.get_session()


def service(name="codepipeline"):
    return _SESSION.get_service_model(name)


def _java_pattern(pattern):
    # The models' patterns are Java regular expressions; the few constructs
    # they use read the same in Python's, anchored on the whole value.
    return re.compile(pattern.replace(r"\p{Alnum}", "[A-Za-z0-9]"), re.DOTALL)


def walk(shape, value, path, problems):
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{path}: a {shape.name} must be an object, not {type(value).__name__}")
            return
        for member in shape.required_members:
            if member not in value:
                problems.append(f"{path}.{member}: required by {shape.name}, missing")
        for key, item in value.items():
            if key not in shape.members:
                problems.append(f"{path}.{key}: {shape.name} has no such member")
                continue
            walk(shape.members[key], item, f"{path}.{key}", problems)
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"{path}: a list expected")
            return
        _length(meta, len(value), path, problems, "items")
        for i, item in enumerate(value):
            walk(shape.member, item, f"{path}[{i}]", problems)
        return
    if kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{path}: a map expected")
            return
        _length(meta, len(value), path, problems, "entries")
        for key, item in value.items():
            walk(shape.key, key, f"{path}{{{key}}}", problems)
            walk(shape.value, item, f"{path}[{key!r}]", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: a string expected, got {value!r}")
            return
        _length(meta, len(value), path, problems, "characters")
        if "pattern" in meta and not _java_pattern(meta["pattern"]).fullmatch(value):
            problems.append(f"{path}: {value!r} does not match {shape.name}'s pattern {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        return
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: an integer expected, got {value!r}")
            return
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: {value} is below {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: {value} is above {meta['max']}")
        return
    if kind == "boolean" and not isinstance(value, bool):
        problems.append(f"{path}: a boolean expected, got {value!r}")


def _length(meta, length, path, problems, unit):
    if "min" in meta and length < meta["min"]:
        problems.append(f"{path}: {length} {unit}, fewer than {meta['min']}")
    if "max" in meta and length > meta["max"]:
        problems.append(f"{path}: {length} {unit}, more than {meta['max']}")


def check(operation, body, name="codepipeline"):
    """The problems of one request (`body` as sent, JSON)."""
    model = service(name).operation_model(operation)
    problems = []
    walk(model.input_shape, json.loads(body or "{}"), operation, problems)
    return problems
