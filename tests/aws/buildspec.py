"""Runs a CodeBuild buildspec (version 0.2) as CodeBuild would on a Linux
image: in a fresh copy of the source without `.git` (CodePipeline hands
CodeBuild a zip of the source; `--clone` keeps it, for a project that
clones its repository itself), with the variables CodeBuild sets, the
buildspec's `env.variables` under the project's and the action's (which
win, in that order), every phase's commands in order in one bash shell
(so an `export` carries on), stopping at the first command that fails.

    python3 buildspec.py --buildspec FILE --source DIR --work DIR --env JSON

Prints one JSON object: each phase's status, the failing command if any,
and the folder the build ran in."""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import uuid

import yaml

PHASES = ("install", "pre_build", "build", "post_build")


def codebuild_variables(source, project, region, initiator):
    build = f"{project}:{uuid.uuid4()}"
    return {
        "CODEBUILD_SRC_DIR": source,
        "CODEBUILD_BUILD_ID": build,
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{region}:000000000000:build/{build}",
        "CODEBUILD_BUILD_NUMBER": "1",
        "CODEBUILD_BUILD_SUCCEEDING": "1",
        "CODEBUILD_INITIATOR": initiator,
        "CODEBUILD_BUILD_IMAGE": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
        "CODEBUILD_SOURCE_VERSION": "arn:aws:s3:::artifacts/source.zip",
        "CODEBUILD_CI": "true",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }


def script(spec, marks):
    """The phases as one bash script; what happened goes to `marks`."""
    to = shlex.quote(marks)
    lines = ['cd "$CODEBUILD_SRC_DIR"']
    for phase in PHASES:
        commands = ((spec.get("phases") or {}).get(phase) or {}).get("commands") or []
        for command in commands:
            lines.append(command)
            failed = shlex.quote(f"::failed {phase} ") + "$rc" + shlex.quote(" " + command.replace("\n", " "))
            lines.append(f"rc=$?; if [ $rc -ne 0 ]; then echo {failed} >> {to}; exit $rc; fi")
        lines.append(f"echo '::done {phase}' >> {to}")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--buildspec", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--env", required=True, help="JSON: the base environment, then the project's and the action's variables")
    parser.add_argument("--clone", action="store_true", help="the project clones its source itself: `.git` is kept")
    args = parser.parse_args()
    given = json.loads(args.env)
    with open(args.buildspec, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    if str(spec.get("version")) != "0.2":
        print(json.dumps({"error": f"buildspec version {spec.get('version')!r}, not 0.2"}))
        return 1
    source = os.path.join(args.work, "src")
    ignored = None if args.clone else shutil.ignore_patterns(".git")
    shutil.copytree(args.source, source, ignore=ignored, symlinks=True)
    env = dict(given["base"])
    env.update(codebuild_variables(source, given["project"], given["region"], given["initiator"]))
    env.update({k: str(v) for k, v in ((spec.get("env") or {}).get("variables") or {}).items()})
    env.update(given.get("project_variables", {}))
    env.update(given.get("action_variables", {}))
    marks = os.path.join(args.work, "phases")
    with open(os.path.join(args.work, "build.log"), "w", encoding="utf-8") as log:
        code = subprocess.run(["bash", "-c", script(spec, marks)], env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    lines = open(marks, encoding="utf-8").read().splitlines() if os.path.exists(marks) else []
    phases, failed = [], None
    for line in lines:
        if line.startswith("::done "):
            phases.append({"phase": line.split()[1], "status": "SUCCEEDED"})
        elif line.startswith("::failed "):
            _, phase, rc, command = line.split(" ", 3)
            phases.append({"phase": phase, "status": "FAILED", "exit": int(rc)})
            failed = command
    with open(os.path.join(args.work, "build.log"), encoding="utf-8", errors="replace") as log:
        tail = log.read()[-6000:]
    print(json.dumps({"exit": code, "phases": phases, "failed_command": failed, "src": source, "log_tail": tail}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
