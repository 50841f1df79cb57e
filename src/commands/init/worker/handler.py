"""Works through a batch of jobs; a job that fails goes back to the queue
alone (partial batch responses), and to the dead-letter queue after three
tries."""

import json


def main(event, context):
    failures = []
    for record in event.get("Records", []):
        try:
            job = json.loads(record["body"])
            print(json.dumps({"job": job}), flush=True)
        except ValueError:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
