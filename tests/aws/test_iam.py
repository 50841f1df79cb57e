"""The evaluator against AWS's documented examples (IAM User Guide:
policy evaluation logic, the Action, NotAction, Resource, NotResource and
Condition elements)."""

import unittest

from iam import ALLOW, DENY, IMPLICIT, evaluate


class Documented(unittest.TestCase):
    def test_an_explicit_deny_overrides_an_allow(self):
        statements = [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket"},
        ]
        self.assertEqual(evaluate(statements, "s3:DeleteBucket", "arn:aws:s3:::amzn-s3-demo-bucket")[0], DENY)
        self.assertEqual(evaluate(statements, "s3:ListBucket", "arn:aws:s3:::amzn-s3-demo-bucket")[0], ALLOW)

    def test_what_no_statement_allows_is_implicitly_denied(self):
        statements = [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]
        self.assertEqual(evaluate(statements, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-2:123456789012:table/Books")[0], IMPLICIT)

    def test_actions_match_without_case_and_with_wildcards(self):
        statements = [{"Effect": "Allow", "Action": ["iam:*AccessKey*", "s3:getobject"], "Resource": "*"}]
        for action in ("iam:CreateAccessKey", "iam:ListAccessKeys", "s3:GetObject"):
            self.assertEqual(evaluate(statements, action, "*")[0], ALLOW, action)
        self.assertEqual(evaluate(statements, "iam:CreateUser", "*")[0], IMPLICIT)

    def test_not_action_with_allow_allows_everything_else(self):
        statements = [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::b/k")[0], ALLOW)
        self.assertEqual(evaluate(statements, "iam:CreateUser", "*")[0], IMPLICIT)

    def test_not_resource_with_deny_denies_everything_else(self):
        statements = [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:*", "NotResource": ["arn:aws:s3:::HRBucket/Payroll", "arn:aws:s3:::HRBucket/Payroll/*"]},
        ]
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::HRBucket/Payroll/jan.csv")[0], ALLOW)
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::HRBucket/Other/x")[0], DENY)

    def test_resource_wildcards_span_path_parts_and_question_marks_one_character(self):
        statements = [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/*"},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::amzn-s3-demo-bucket/???.txt"},
        ]
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::amzn-s3-demo-bucket/a/b/c")[0], ALLOW)
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::other/a")[0], IMPLICIT)
        self.assertEqual(evaluate(statements, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/abc.txt")[0], ALLOW)
        self.assertEqual(evaluate(statements, "s3:PutObject", "arn:aws:s3:::amzn-s3-demo-bucket/abcd.txt")[0], IMPLICIT)

    def test_resources_match_with_case(self):
        statements = [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::Bucket/*"}]
        self.assertEqual(evaluate(statements, "s3:GetObject", "arn:aws:s3:::bucket/x")[0], IMPLICIT)

    def test_a_condition_on_a_missing_key_does_not_hold_unless_if_exists(self):
        region = {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
        statements = [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": region}]
        self.assertEqual(evaluate(statements, "ec2:RunInstances", "*", {"aws:RequestedRegion": "us-east-1"})[0], ALLOW)
        self.assertEqual(evaluate(statements, "ec2:RunInstances", "*", {"aws:RequestedRegion": "eu-west-1"})[0], IMPLICIT)
        self.assertEqual(evaluate(statements, "ec2:RunInstances", "*")[0], IMPLICIT)
        if_exists = [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"ec2:InstanceType": ["t2.micro"]}}}]
        self.assertEqual(evaluate(if_exists, "ec2:DescribeInstances", "*")[0], ALLOW)
        self.assertEqual(evaluate(if_exists, "ec2:RunInstances", "*", {"ec2:InstanceType": "m5.large"})[0], IMPLICIT)

    def test_the_null_operator_asks_whether_a_key_is_absent(self):
        statements = [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*", "Condition": {"Null": {"s3:if-none-match": "true"}}},
                      {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]
        self.assertEqual(evaluate(statements, "s3:PutObject", "arn:aws:s3:::b/k")[0], DENY)
        self.assertEqual(evaluate(statements, "s3:PutObject", "arn:aws:s3:::b/k", {"s3:if-none-match": "*"})[0], ALLOW)


if __name__ == "__main__":
    unittest.main()
