"""The escalation lint: a finding is contained only while every scopable
action of it stays on the role's own resources."""

import unittest

from lint import lint


def escalations(statements, prefixes):
    return [(name, contained) for name, contained, _ in lint(statements, prefixes) if name.startswith("PRIVILEGE_ESCALATION")]


class Escalation(unittest.TestCase):
    def test_editing_any_function_is_an_escalation(self):
        found = escalations([{"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": "*"}], ["app-dev-api"])
        self.assertEqual(len(found), 1)
        self.assertFalse(found[0][1])

    def test_editing_the_roles_own_functions_is_contained(self):
        own = "arn:aws:lambda:eu-west-1:111111111111:function:app-dev-api-*"
        found = escalations([{"Effect": "Allow", "Action": "lambda:UpdateFunctionCode", "Resource": own}], ["app-dev-api"])
        self.assertEqual(len(found), 1)
        self.assertTrue(found[0][1])

    def test_an_action_newer_than_parliament_does_not_silence_it(self):
        statements = [
            {"Effect": "Allow", "Action": ["dynamodb:DeleteResourcePolicy", "iam:CreatePolicyVersion"], "Resource": "*"},
        ]
        found = escalations(statements, ["app-dev-api"])
        self.assertEqual(found, [("PRIVILEGE_ESCALATION CreateNewPolicyVersion ['iam:createpolicyversion']", False)])


if __name__ == "__main__":
    unittest.main()
