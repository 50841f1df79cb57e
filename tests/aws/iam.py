"""A small IAM policy evaluator: explicit deny, then allow, else the
implicit deny; Action/NotAction, Resource/NotResource with `*` and `?`;
the condition operators the project's policies use. Its tests
(test_iam.py) are AWS's documented examples."""

import re

ALLOW, DENY, IMPLICIT = "allow", "deny", "implicit deny"


def _pattern(text, fold):
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{regex}$", (re.IGNORECASE if fold else 0) | re.DOTALL)


def matches(pattern, value, fold=False):
    return bool(_pattern(pattern, fold).match(value))


def _listed(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _action_matches(statement, action):
    if "Action" in statement:
        return any(matches(p, action, fold=True) for p in _listed(statement["Action"]))
    return not any(matches(p, action, fold=True) for p in _listed(statement.get("NotAction")))


def _resource_matches(statement, resource):
    if "Resource" in statement:
        return any(matches(p, resource) for p in _listed(statement["Resource"]))
    if "NotResource" in statement:
        return not any(matches(p, resource) for p in _listed(statement["NotResource"]))
    return False


def _operator(name, actual, expected):
    values = _listed(expected)
    if name in ("StringEquals", "ArnEquals"):
        return actual in values
    if name == "StringEqualsIgnoreCase":
        return actual.lower() in [v.lower() for v in values]
    if name in ("StringLike", "ArnLike"):
        return any(matches(v, actual) for v in values)
    if name in ("StringNotEquals", "ArnNotEquals"):
        return actual not in values
    if name in ("StringNotLike", "ArnNotLike"):
        return not any(matches(v, actual) for v in values)
    if name == "Bool":
        return str(actual).lower() in [str(v).lower() for v in values]
    raise ValueError(f"condition operator {name} is not known to this evaluator")


def _conditions_hold(statement, context):
    for operator, pairs in statement.get("Condition", {}).items():
        for key, expected in pairs.items():
            actual = context.get(key.lower())
            if operator == "Null":
                if (actual is None) != (str(expected).lower() == "true"):
                    return False
                continue
            name = operator[: -len("IfExists")] if operator.endswith("IfExists") else operator
            if actual is None:
                if operator.endswith("IfExists"):
                    continue
                return False
            if not _operator(name, actual, expected):
                return False
    return True


def evaluate(statements, action, resource, context=None):
    """The decision for `action` on `resource`, and the statement that made it."""
    context = {k.lower(): v for k, v in (context or {}).items()}
    allowed = None
    for statement in statements:
        if not (_action_matches(statement, action) and _resource_matches(statement, resource)):
            continue
        if not _conditions_hold(statement, context):
            continue
        if statement.get("Effect") == "Deny":
            return DENY, statement
        if allowed is None:
            allowed = statement
    if allowed is not None:
        return ALLOW, allowed
    return IMPLICIT, None
