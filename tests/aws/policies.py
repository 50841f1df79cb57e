"""A role's policies as IAM holds them once CloudFormation has made the
stack: its inline policies, the managed policies attached to it and the
role policies naming it, with `Fn::Sub`, `Ref` and `Fn::GetAtt` resolved
from the stack's physical ids (or, for a stack not yet made, the names
CloudFormation would give)."""

import re

ARN_OF = {
    "AWS::IAM::Role": "arn:{partition}:iam::{account}:role/{id}",
    "AWS::S3::Bucket": "arn:{partition}:s3:::{id}",
    "AWS::CodeBuild::Project": "arn:{partition}:codebuild:{region}:{account}:project/{id}",
    "AWS::Events::Rule": "arn:{partition}:events:{region}:{account}:rule/{id}",
    "AWS::CloudTrail::Trail": "arn:{partition}:cloudtrail:{region}:{account}:trail/{id}",
}


class Stack:
    def __init__(self, template, physical, account, region, partition="aws"):
        self.template = template
        self.resources = template.get("Resources", {})
        self.physical = physical
        self.names = {"account": account, "region": region, "partition": partition}

    def ref(self, name):
        pseudo = {
            "AWS::AccountId": self.names["account"],
            "AWS::Region": self.names["region"],
            "AWS::Partition": self.names["partition"],
            "AWS::StackName": self.physical.get("AWS::StackName", "stack"),
        }
        if name in pseudo:
            return pseudo[name]
        if self.resources.get(name, {}).get("Type") == "AWS::IAM::ManagedPolicy" and not self.physical[name].startswith("arn:"):
            return f"arn:{self.names['partition']}:iam::{self.names['account']}:policy/{self.physical[name]}"
        return self.physical[name]

    def arn(self, name):
        kind = self.resources[name]["Type"]
        return ARN_OF[kind].format(id=self.physical[name], **self.names)

    def resolve(self, value):
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            name, attribute = value["Fn::GetAtt"]
            assert attribute == "Arn", attribute
            return self.arn(name)
        if set(value) == {"Fn::Sub"}:
            def one(found):
                inner = found.group(1)
                if inner.endswith(".Arn"):
                    return self.arn(inner[: -len(".Arn")])
                return self.ref(inner)

            return re.sub(r"\$\{([^}!]+)\}", one, value["Fn::Sub"])
        return {k: self.resolve(v) for k, v in value.items()}

    def role_policies(self, role):
        """{policy name: document} of every policy that applies to `role`."""
        out = {}
        body = self.resources[role]["Properties"]
        for policy in body.get("Policies", []):
            out[f"{role}/{policy['PolicyName']}"] = self.resolve(policy["PolicyDocument"])
        for name, resource in self.resources.items():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::IAM::ManagedPolicy" and {"Ref": role} in props.get("Roles", []):
                out[name] = self.resolve(props["PolicyDocument"])
            if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in props.get("Roles", []):
                out[name] = self.resolve(props["PolicyDocument"])
        return out

    def roles(self):
        return [n for n, r in self.resources.items() if r["Type"] == "AWS::IAM::Role"]


def statements(documents):
    out = []
    for document in documents.values():
        listed = document["Statement"]
        out.extend(listed if isinstance(listed, list) else [listed])
    return out


LIMITS = {"AWS::IAM::Role": 64, "AWS::S3::Bucket": 63, "AWS::IAM::ManagedPolicy": 128}


def would_name(stack_name, template):
    """The physical ids CloudFormation would give a stack's resources:
    `<stack>-<logical id>-<suffix>`, lowercase for buckets; a name set in
    the template is kept."""
    out = {"AWS::StackName": stack_name}
    for name, resource in template.get("Resources", {}).items():
        props = resource.get("Properties", {})
        given = props.get("Name") or props.get("RoleName") or props.get("BucketName")
        if isinstance(given, str):
            out[name] = given
            continue
        limit = LIMITS.get(resource["Type"], 255)
        generated = f"{stack_name}-{name}"[: limit - 13] + "-ABCDEFGHIJKL"
        out[name] = generated.lower() if resource["Type"] == "AWS::S3::Bucket" else generated
    return out
