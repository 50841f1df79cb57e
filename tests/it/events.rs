//! Event sources end to end against the emulator: a queue, a topic, a
//! bucket, a table's stream, an EventBridge pattern and a function URL each
//! reach the worker of `tests/fixtures/events`, which writes a row per event;
//! what must not reach it (an object outside the prefix, a message the
//! filter drops) does not, and a poison message ends in the dead-letter queue.

use super::deploy::{deploy, edit, output};
use super::emulator::{Clients, account, clients, emulator, http};
use super::support::{copy_dir, python_json, repo_root};
use std::time::{Duration, Instant};

/// A fixture (`tests/fixtures/NAME`, app NAME) under an app name of its own.
fn fixture_app(name: &str, account: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("tests/fixtures").join(name), dir.path());
    let app = format!("{}{}", &name[..2], &account[account.len() - 6..]);
    edit(
        &dir.path().join("environments/dev.yaml"),
        &format!("app: {name}"),
        &format!("app: {app}"),
    );
    (dir, app)
}

/// Runs boto3 (the tests' venv) against the emulator as `account`: the
/// script gets `clients(name)` and the JSON input as `given`, and prints JSON.
fn boto(account: &str, body: &str, given: serde_json::Value) -> serde_json::Value {
    let script = format!(
        "import json, sys, time, boto3\ngiven = json.load(sys.stdin)\ndef clients(name):\n    return boto3.client(name, endpoint_url={endpoint:?}, region_name='us-east-1', aws_access_key_id={account:?}, aws_secret_access_key='test')\n{body}",
        endpoint = emulator().endpoint(),
    );
    python_json(&super::tools::python(), &script, &given.to_string())
}

/// Whether the worker wrote row `id` within `limit`.
fn row_arrives(c: &Clients, table: &str, id: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let got =
            c.rt.block_on(
                c.dynamodb
                    .get_item()
                    .table_name(table)
                    .key("id", aws_sdk_dynamodb::types::AttributeValue::S(id.into()))
                    .send(),
            )
            .expect("get item");
        if got.item().is_some() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn every_event_source_reaches_the_worker_and_only_what_matches() {
    let account = account();
    let (project, app) = fixture_app("events", &account);
    deploy(project.path(), &account, "dev");
    let deployed = Instant::now();
    let c = clients(&account, "us-east-1");
    let work = format!("{app}-dev-work");
    let table = output(&c, &format!("{app}-dev-data"), "StoreTableName");
    let given = serde_json::json!({
        "queue": output(&c, &work, "WorkQueueUrl"),
        "dead_letter": output(&c, &work, "WorkDeadLetterArn"),
        "topic": output(&c, &work, "WorkTopicArn"),
        "audits": output(&c, &work, "WorkAuditsArn"),
        "bucket": output(&c, &work, "WorkBucketName"),
    });
    boto(
        &account,
        r#"
sqs, sns, s3, events = clients('sqs'), clients('sns'), clients('s3'), clients('events')
sqs.send_message(QueueUrl=given['queue'], MessageBody='m1')
sqs.send_message(QueueUrl=given['queue'], MessageBody='poison-1')
s3.put_object(Bucket=given['bucket'], Key='incoming/a.csv', Body=b'a')
s3.put_object(Bucket=given['bucket'], Key='elsewhere/b.csv', Body=b'b')
attribute = lambda kind: {'kind': {'DataType': 'String', 'StringValue': kind}}
sns.publish(TopicArn=given['topic'], Message='n1', MessageAttributes=attribute('import'))
sns.publish(TopicArn=given['topic'], Message='n2', MessageAttributes=attribute('other'))
sns.publish(TopicArn=given['topic'], Message='q1', MessageAttributes=attribute('queue'))
sns.publish(TopicArn=given['audits'], Message='a1')
events.put_events(Entries=[{'Source': 'shop.orders', 'DetailType': 'OrderPlaced', 'Detail': json.dumps({'order': 'o1'})}])
events.put_events(Entries=[{'Source': 'shop.returns', 'DetailType': 'Returned', 'Detail': json.dumps({'order': 'r1'})}])
print('{}')
"#,
        given.clone(),
    );
    let wait = Duration::from_secs(60);
    for row in [
        "sqs-m1",
        "s3-incoming/a.csv",
        "sns-n1",
        "eventbridge-o1",
        // Both topics deliver to the queue, which the worker reads.
        "sqs-q1",
        "sqs-a1",
        // The row the queue's message wrote comes back through the stream.
        "stream-sqs-m1",
    ] {
        assert!(
            row_arrives(&c, &table, row, wait),
            "{row} never reached the worker"
        );
    }
    // What the prefix, the filter policy and the pattern keep out.
    for row in ["s3-elsewhere/b.csv", "sns-n2", "eventbridge-r1"] {
        assert!(
            !row_arrives(&c, &table, row, Duration::from_secs(3)),
            "{row} reached the worker"
        );
    }
    // The poison message is received twice, then lands in the dead-letter queue.
    let dead = boto(
        &account,
        r#"
sqs = clients('sqs')
url = sqs.get_queue_url(QueueName=given['dead_letter'].split(':')[-1])['QueueUrl']
deadline, bodies = time.time() + 90, []
while time.time() < deadline and not bodies:
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, MaxNumberOfMessages=10)
    bodies = [m['Body'] for m in got.get('Messages', [])]
print(json.dumps(bodies))
"#,
        given,
    );
    assert_eq!(dead, serde_json::json!(["poison-1"]));

    // An asynchronous call that fails, not retried, lands in `on_failure`.
    let failed = boto(
        &account,
        r#"
lam, sqs = clients('lambda'), clients('sqs')
lam.invoke(FunctionName=given['function'], InvocationType='Event', Payload=json.dumps({'fail': True}))
deadline, records = time.time() + 60, []
while time.time() < deadline and not records:
    got = sqs.receive_message(QueueUrl=given['failed'], WaitTimeSeconds=2, MaxNumberOfMessages=10)
    records = [json.loads(m['Body']) for m in got.get('Messages', [])]
print(json.dumps([r.get('requestPayload') for r in records]))
"#,
        serde_json::json!({
            "function": output(&c, &work, "WorkFunctionName"),
            "failed": output(&c, &work, "WorkFailedUrl"),
        }),
    );
    assert_eq!(failed, serde_json::json!([{ "fail": true }]));

    // The function URL answers without auth.
    // (AWS's `https://<id>.lambda-url.<region>.on.aws/`, served by the
    // emulator under `<id>.lambda-url.<region>.localhost`.)
    let url = output(&c, &work, "WorkFunctionUrl");
    let host = url
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .replace(".on.aws", ".localhost");
    let port = emulator()
        .endpoint()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_string();
    let answer = http("GET", &format!("http://{host}:{port}/"), &account, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("worker is up"), "{}", answer.body);

    // The one-minute schedule fires within two minutes of the deploy.
    let left = Duration::from_secs(120).saturating_sub(deployed.elapsed());
    assert!(
        row_arrives(&c, &table, "schedule-pulse", left),
        "the rate(1 minute) schedule never fired"
    );
    assert!(!row_arrives(&c, &table, "schedule-nightly", Duration::ZERO));
    // The pollers and the schedule stop with the stateless stack: the
    // emulator serves the other tests without them.
    let destroyed = super::emulator::run(project.path(), &account, &["destroy", "dev", "--yes"]);
    assert_eq!(
        destroyed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&destroyed.stdout)
    );
}

#[test]
fn every_generated_statement_names_the_arn_it_is_for() {
    let (_, rendered, _) =
        driftless::load::load_environment(&repo_root().join("tests/fixtures/events"), "dev")
            .expect("the fixture renders");
    let work = rendered
        .stacks
        .iter()
        .find(|s| s.name.ends_with("-work"))
        .expect("the work stack");
    let template: serde_json::Value = serde_json::from_str(&work.template).expect("json");
    let statements = template["Resources"]["WorkWorkerRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .cloned()
        .expect("the role's statements");
    let actions = |s: &serde_json::Value| -> Vec<String> {
        s["Action"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Only what IAM scopes to no resource has `*`.
    for s in &statements {
        if s["Resource"] == "*" {
            assert_eq!(actions(s), vec!["dynamodb:ListStreams"], "{s}");
        }
    }
    let for_resource = |resource: serde_json::Value| -> Vec<String> {
        statements
            .iter()
            .filter(|s| s["Resource"] == resource)
            .flat_map(actions)
            .collect()
    };
    // Consuming the queue: receive and delete on that queue only.
    let queue = for_resource(serde_json::json!({ "Fn::GetAtt": ["WorkJobs", "Arn"] }));
    for action in [
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    ] {
        assert!(queue.iter().any(|a| a == action), "{queue:?}");
    }
    assert!(!queue.iter().any(|a| a == "sqs:SendMessage"), "{queue:?}");
    // Reading the stream: on the stream parameter's ARN.
    let stream = for_resource(serde_json::json!({ "Ref": "StoreStreamArn" }));
    assert!(
        stream.iter().any(|a| a == "dynamodb:GetRecords"),
        "{stream:?}"
    );
    // What the worker calls itself: PutItem on its table, through its grant.
    assert!(
        statements
            .iter()
            .any(|s| actions(s).iter().any(|a| a == "dynamodb:PutItem")
                && s["Resource"][0] == serde_json::json!({ "Ref": "StoreTableArn" })),
        "{statements:?}"
    );
    // Topic, bucket, rules and URL invoke through resource permissions, each
    // for its own source.
    let resources = template["Resources"].as_object().expect("resources");
    let permissions: Vec<&serde_json::Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Lambda::Permission")
        .collect();
    for p in &permissions {
        let public_url = p["Properties"]["FunctionUrlAuthType"] == "NONE"
            || p["Properties"]["InvokedViaFunctionUrl"] == true;
        assert!(
            public_url || !p["Properties"]["SourceArn"].is_null(),
            "a permission without a source: {p}"
        );
    }
    assert_eq!(permissions.len(), 2 + 5, "{permissions:?}");
    // One policy lets both topics send to the queue: a second would replace it.
    let policies: Vec<&serde_json::Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::SQS::QueuePolicy")
        .collect();
    assert_eq!(policies.len(), 1, "{policies:?}");
    assert_eq!(
        policies[0]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        serde_json::json!([{ "Ref": "WorkAlerts" }, { "Ref": "WorkAudits" }])
    );
}

/// Starts `machine` with `{"day": day}` and waits for it to end: its
/// status and output.
fn execute(account: &str, machine: &str, day: &str) -> serde_json::Value {
    boto(
        account,
        r#"
sfn = clients('stepfunctions')
arn = sfn.start_execution(stateMachineArn=given['machine'], input=json.dumps({'day': given['day']}))['executionArn']
deadline = time.time() + 60
while True:
    run = sfn.describe_execution(executionArn=arn)
    if run['status'] != 'RUNNING' or time.time() > deadline:
        break
    time.sleep(0.5)
print(json.dumps({'status': run['status'], 'output': json.loads(run.get('output') or 'null')}))
"#,
        serde_json::json!({ "machine": machine, "day": day }),
    )
}

#[test]
fn a_definition_edit_under_watch_is_hotswapped_without_a_stack_operation() {
    let account = account();
    let (project, app) = fixture_app("flow", &account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let stack = format!("{app}-dev-jobs");
    let machine = output(&c, &stack, "FlowMachineArn");
    let updated = |c: &Clients| {
        c.rt.block_on(c.cfn.describe_stacks().stack_name(&stack).send())
            .expect("describe")
            .stacks()[0]
            .last_updated_time()
            .map(|t| t.to_string())
    };
    let before = updated(&c);
    let mut watch = super::running::Running::spawn(super::emulator::command(
        project.path(),
        &account,
        &["watch", "dev"],
        &emulator().endpoint(),
    ));
    watch.next(|e| e["event"] == "watch_pass", Duration::from_secs(60));
    edit(
        &project.path().join("specs/flow/nightly.asl.yaml"),
        "OutputPath: $.Payload\n",
        "OutputPath: $.Payload.loaded\n",
    );
    let swapped = watch.next(|e| e["event"] == "hotswapped", Duration::from_secs(60));
    assert_eq!(
        swapped["changed"],
        serde_json::json!(["definition"]),
        "{swapped}"
    );
    let pass = watch.next(|e| e["event"] == "watch_pass", Duration::from_secs(60));
    assert_eq!(pass["result"], "hotswapped", "{pass}");
    assert_eq!(updated(&c), before, "the stack was updated");
    let run = execute(&account, &machine, "d3");
    assert_eq!(run["output"], 3, "{run}");
    drop(watch);
    // The next deploy writes the same definition through CloudFormation.
    deploy(project.path(), &account, "dev");
    assert_eq!(execute(&account, &machine, "d4")["output"], 3);
}

#[test]
fn a_state_machine_from_its_definition_file_runs_both_functions_to_success() {
    let account = account();
    let (project, app) = fixture_app("flow", &account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let machine = output(&c, &format!("{app}-dev-jobs"), "FlowMachineArn");
    let run = execute(&account, &machine, "d1");
    assert_eq!(run["status"], "SUCCEEDED", "{run}");
    // The second function got what the first returned.
    assert_eq!(
        run["output"],
        serde_json::json!({ "loaded": 3, "day": "d1" })
    );
    // The nightly schedule starts it through a role that may start it alone.
    let rule = boto(
        &account,
        r#"
events = clients('events')
rules = [r for r in events.list_rules()['Rules'] if r.get('ScheduleExpression') == 'cron(0 2 * * ? *)']
targets = events.list_targets_by_rule(Rule=rules[0]['Name'])['Targets'] if rules else []
print(json.dumps([{'arn': t['Arn'], 'role': t.get('RoleArn'), 'input': t.get('Input')} for t in targets]))
"#,
        serde_json::json!({}),
    );
    assert_eq!(rule[0]["arn"], machine.as_str(), "{rule}");
    assert!(
        rule[0]["role"]
            .as_str()
            .is_some_and(|r| r.contains("EventsRole")),
        "{rule}"
    );
    assert_eq!(rule[0]["input"], "{\"day\":\"today\"}", "{rule}");
}

#[test]
fn a_raw_function_ships_its_code_folder_with_properties_from_a_file() {
    let account = account();
    let (project, app) = fixture_app("legacy", &account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let stack = format!("{app}-dev-app");
    let legacy = output(&c, &stack, "LegacyLegacyName");
    let answer =
        c.rt.block_on(
            c.lambda
                .invoke()
                .function_name(&legacy)
                .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"day":"d2"}"#))
                .send(),
        )
        .expect("invoke the raw function");
    let payload: serde_json::Value =
        serde_json::from_slice(answer.payload().map(|b| b.as_ref()).unwrap_or_default())
            .expect("json");
    assert_eq!(payload, serde_json::json!({ "rows": 3, "day": "d2" }));
    // Its attributes reach the template: kept on delete, with its metadata.
    let template =
        c.rt.block_on(c.cfn.get_template().stack_name(&stack).send())
            .expect("template");
    let template: serde_json::Value =
        serde_json::from_str(template.template_body().unwrap_or_default()).expect("json");
    let legacy = &template["Resources"]["LegacyLegacy"];
    assert_eq!(legacy["DeletionPolicy"], "Retain", "{legacy}");
    assert_eq!(legacy["Metadata"]["owner"], "data-team", "{legacy}");
}

/// An OpenID issuer on loopback (the tests' venv Python, `cryptography`):
/// its discovery document and JWKS, a token it signed for the
/// `driftless-tests` audience and one signed by a key it does not publish.
struct Issuer {
    child: std::process::Child,
    url: String,
    token: String,
    forged: String,
}

impl Drop for Issuer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const ISSUER: &str = r#"
import base64, json, sys, threading, time
from http.server import BaseHTTPRequestHandler, HTTPServer
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
key, other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
numbers = key.public_key().public_numbers()
as_bytes = lambda n: n.to_bytes((n.bit_length() + 7) // 8, 'big')
jwks = {'keys': [{'kty': 'RSA', 'kid': 'k1', 'use': 'sig', 'alg': 'RS256', 'n': b64(as_bytes(numbers.n)), 'e': b64(as_bytes(numbers.e))}]}

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith('/.well-known/openid-configuration'):
            body = {'issuer': issuer, 'jwks_uri': issuer + '/jwks.json'}
        elif self.path.endswith('/jwks.json'):
            body = jwks
        else:
            self.send_response(404); self.end_headers(); return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass

server = HTTPServer(('127.0.0.1', 0), Handler)
issuer = 'http://127.0.0.1:%d' % server.server_address[1]
def token(signer):
    now = int(time.time())
    head = b64(json.dumps({'alg': 'RS256', 'kid': 'k1', 'typ': 'JWT'}).encode())
    claims = b64(json.dumps({'iss': issuer, 'aud': 'driftless-tests', 'sub': 'u1', 'iat': now, 'exp': now + 3600}).encode())
    signature = signer.sign((head + '.' + claims).encode(), padding.PKCS1v15(), hashes.SHA256())
    return head + '.' + claims + '.' + b64(signature)
threading.Thread(target=server.serve_forever, daemon=True).start()
print(json.dumps({'url': issuer, 'token': token(key), 'forged': token(other)}), flush=True)
sys.stdin.read()
"#;

fn issuer() -> Issuer {
    use std::io::BufRead;
    let mut child = std::process::Command::new(super::tools::python())
        .args(["-c", ISSUER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the issuer");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the issuer's first line");
    let first: serde_json::Value = serde_json::from_str(&line).expect("json");
    let text = |k: &str| first[k].as_str().expect("a string").to_string();
    Issuer {
        url: text("url"),
        token: text("token"),
        forged: text("forged"),
        child,
    }
}

#[test]
fn jwt_and_function_authorizers_guard_their_routes_and_an_open_route_stays_open() {
    let account = account();
    let issuer = issuer();
    let (project, app) = fixture_app("gate", &account);
    edit(
        &project.path().join("environments/dev.yaml"),
        "https://login.example.com",
        &issuer.url,
    );
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let endpoint = output(&c, &format!("{app}-dev-app"), "ApiEndpoint");
    // The emulator reads the account from the query when a bearer token
    // takes the Authorization header.
    let get = |path: &str, headers: &[(&str, &str)]| {
        let url = format!("{endpoint}{path}?AWSAccessKeyId={account}");
        super::emulator::http_as("GET", &url, headers, None)
    };
    let bearer = |t: &str| format!("Bearer {t}");
    let (good, forged) = (bearer(&issuer.token), bearer(&issuer.forged));
    let none: Vec<(&str, &str)> = Vec::new();
    let cases = [
        ("/public", none.clone(), 200),
        ("/private", none.clone(), 401),
        ("/private", vec![("Authorization", forged.as_str())], 401),
        ("/private", vec![("Authorization", good.as_str())], 200),
        ("/keyed", none, 401),
        ("/keyed", vec![("x-key", "wrong")], 403),
        ("/keyed", vec![("x-key", "open-sesame")], 200),
    ];
    for (path, headers, status) in cases {
        let answer = get(path, &headers);
        assert_eq!(
            answer.status, status,
            "{path} with {headers:?}: {}",
            answer.body
        );
        if status == 200 {
            assert!(
                answer.body.contains(&format!("hello from {path}")),
                "{}",
                answer.body
            );
        }
    }
}
