//! A synthetic project: `units` units of `per_unit` resources each. The first
//! fifth are stateful (tables and buckets), the rest stateless (functions,
//! alarms, queues), each stateless unit reading a stateful unit's table and
//! the previous stateless unit's outputs. Eight stacks.

use std::fmt::Write as _;
use std::path::Path;

pub fn write_project(root: &Path, units: usize, per_unit: usize) -> std::io::Result<()> {
    let stateful = (units / 5).max(1);
    let stacks = 8.min(units);
    for u in 0..units {
        let dir = root.join("specs").join(format!("u{u:03}"));
        std::fs::create_dir_all(dir.join("code"))?;
        std::fs::write(
            dir.join("code/handler.py"),
            format!("def handler(event, context):\n    return {u}\n"),
        )?;
        let mut text = String::new();
        let tier = if u < stateful {
            "stateful"
        } else {
            "stateless"
        };
        let _ = writeln!(
            text,
            "unit: u{u:03}\ntier: {tier}\nparams:\n  memory: {{ type: integer, default: 256 }}\nresources:"
        );
        for r in 0..per_unit {
            if u < stateful {
                if r % 5 == 4 {
                    let _ = writeln!(text, "  r{r}:\n    kind: bucket\n    versioned: true");
                } else {
                    let _ = writeln!(
                        text,
                        "  r{r}:\n    kind: table\n    partition_key: {{ name: pk }}\n    sort_key: {{ name: sk, type: N }}\n    ttl: expires"
                    );
                }
            } else {
                match r % 3 {
                    0 => {
                        let table_unit = u % stateful;
                        let _ = writeln!(
                            text,
                            "  r{r}:\n    kind: function\n    runtime: python3.13\n    code: code/\n    handler: handler.handler\n    memory: ${{memory}}\n    environment: {{ TABLE: \"${{u{table_unit:03}.table}}\" }}\n    grants:\n      - {{ table: \"${{u{table_unit:03}.table_arn}}\", access: read }}"
                        );
                    }
                    1 => {
                        let _ = writeln!(
                            text,
                            "  r{r}:\n    kind: alarm\n    namespace: AWS/Lambda\n    metric: Errors\n    threshold: 1\n    dimensions: {{ FunctionName: \"${{r{}.name}}\" }}",
                            r - 1
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            text,
                            "  r{r}:\n    type: AWS::SQS::Queue\n    properties:\n      VisibilityTimeout: 30"
                        );
                    }
                }
            }
        }
        text.push_str("outputs:\n");
        if u < stateful {
            text.push_str("  table: ${r0.name}\n  table_arn: ${r0.arn}\n");
        } else {
            text.push_str("  function: ${r0.name}\n");
            if u > stateful {
                let _ = writeln!(text, "  upstream: ${{u{:03}.function}}", u - 1);
            }
        }
        std::fs::write(dir.join("unit.yaml"), text)?;
    }
    let envs = root.join("environments");
    std::fs::create_dir_all(&envs)?;
    let mut env = String::from("environment: dev\napp: synthetic\ntarget: local\nstacks:\n");
    for s in 0..stacks {
        let members: Vec<String> = (0..units)
            .filter(|u| {
                // Consecutive blocks, so each stack reads only earlier ones.
                if s == 0 {
                    *u < stateful
                } else {
                    *u >= stateful
                        && (u - stateful) / (units - stateful).div_ceil(stacks - 1) == s - 1
                }
            })
            .map(|u| format!("u{u:03}"))
            .collect();
        let _ = writeln!(env, "  s{s}: [{}]", members.join(", "));
    }
    std::fs::write(envs.join("dev.yaml"), env)
}

/// A project of `stacks` stacks of one small unit each, shaped like the
/// reference app scaled out: one function (with reserved concurrency, as the
/// reference api has) in the first stack, whose output every other stack reads.
pub fn write_stacks_project(root: &Path, stacks: usize) -> std::io::Result<()> {
    let specs = root.join("specs");
    let head = specs.join("s000");
    std::fs::create_dir_all(head.join("code"))?;
    std::fs::write(
        head.join("code/handler.py"),
        "def handler(event, context):\n    return 0\n",
    )?;
    std::fs::write(
        head.join("unit.yaml"),
        "unit: s000\ntier: stateless\nresources:\n  fn:\n    kind: function\n    runtime: python3.13\n    code: code/\n    handler: handler.handler\n    reserved_concurrency: 1\noutputs:\n  function: ${fn.name}\n",
    )?;
    for s in 1..stacks {
        let dir = specs.join(format!("s{s:03}"));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("unit.yaml"),
            format!(
                "unit: s{s:03}\ntier: stateless\nresources:\n  queue:\n    type: AWS::SQS::Queue\n    properties:\n      VisibilityTimeout: 30\n      Tags: [{{ Key: reads, Value: \"${{s000.function}}\" }}]\noutputs:\n  queue: ${{queue.ref}}\n"
            ),
        )?;
    }
    let envs = root.join("environments");
    std::fs::create_dir_all(&envs)?;
    let mut env = String::from("environment: dev\napp: stacks\ntarget: local\nstacks:\n");
    for s in 0..stacks {
        let _ = writeln!(env, "  st{s:03}: [s{s:03}]");
    }
    std::fs::write(envs.join("dev.yaml"), env)
}

/// A project of `stacks` one-unit stacks with a mixed graph and mixed
/// resource types, for schedule benchmarks: the first fifth stateful
/// (tables, some with a stream, and buckets), the rest stateless
/// (functions, queues, topics with an alarm, HTTP APIs). Each stateless
/// unit reads one stateful unit; about two thirds also read an earlier
/// stateless unit, so chains of uneven length form.
pub fn write_mixed_project(root: &Path, stacks: usize) -> std::io::Result<()> {
    let stateful = (stacks / 5).max(1);
    let specs = root.join("specs");
    let mut env = String::from("environment: dev\napp: mixed\ntarget: local\nstacks:\n");
    for i in 0..stacks {
        let name = format!("m{i:02}");
        let dir = specs.join(&name);
        std::fs::create_dir_all(&dir)?;
        let mut text = String::new();
        if i < stateful {
            let _ = writeln!(text, "unit: {name}\ntier: stateful\nresources:");
            if i % 3 == 2 {
                let _ = writeln!(text, "  store:\n    kind: bucket\n    versioned: true");
                let _ = writeln!(text, "outputs:\n  id: ${{store.name}}");
            } else {
                let stream = if i % 2 == 0 {
                    "\n    stream: NEW_IMAGE"
                } else {
                    ""
                };
                let _ = writeln!(
                    text,
                    "  store:\n    kind: table\n    partition_key: {{ name: pk }}{stream}"
                );
                let _ = writeln!(text, "outputs:\n  id: ${{store.name}}");
            }
        } else {
            let table = format!("m{:02}", i % stateful);
            let upstream = (i > stateful && i % 3 != 0)
                .then(|| format!("m{:02}", stateful + (i * 7) % (i - stateful)));
            let reads = match &upstream {
                Some(u) => format!("${{{table}.id}}-${{{u}.id}}"),
                None => format!("${{{table}.id}}"),
            };
            let _ = writeln!(text, "unit: {name}\ntier: stateless\nresources:");
            match i % 4 {
                0 | 1 => {
                    std::fs::create_dir_all(dir.join("code"))?;
                    std::fs::write(
                        dir.join("code/handler.py"),
                        format!("def handler(event, context):\n    return {i}\n"),
                    )?;
                    let _ = writeln!(
                        text,
                        "  fn:\n    kind: function\n    runtime: python3.13\n    code: code/\n    handler: handler.handler\n    environment:\n      READS: \"{reads}\""
                    );
                    if i % 4 == 1 {
                        let _ = writeln!(
                            text,
                            "  http:\n    kind: http_api\n    routes:\n      \"GET /items\": fn"
                        );
                    }
                    let _ = writeln!(text, "outputs:\n  id: ${{fn.name}}");
                }
                2 => {
                    let _ = writeln!(
                        text,
                        "  queue:\n    type: AWS::SQS::Queue\n    properties:\n      Tags: [{{ Key: reads, Value: \"{reads}\" }}]"
                    );
                    let _ = writeln!(text, "outputs:\n  id: ${{queue.ref}}");
                }
                _ => {
                    let _ = writeln!(
                        text,
                        "  topic:\n    type: AWS::SNS::Topic\n    properties:\n      Tags: [{{ Key: reads, Value: \"{reads}\" }}]\n  alarm:\n    kind: alarm\n    namespace: AWS/SNS\n    metric: NumberOfNotificationsFailed\n    dimensions: {{ TopicName: \"${{topic.TopicName}}\" }}\n    threshold: 1"
                    );
                    let _ = writeln!(text, "outputs:\n  id: ${{topic.ref}}");
                }
            }
        }
        std::fs::write(dir.join("unit.yaml"), text)?;
        let _ = writeln!(env, "  s{i:02}: [{name}]");
    }
    let envs = root.join("environments");
    std::fs::create_dir_all(&envs)?;
    std::fs::write(envs.join("dev.yaml"), env)
}

/// A project of `functions` functions over units of ten, each function
/// with a queue it consumes, a schedule, an EventBridge pattern and a
/// stream from the one stateful table, for the offline plan benchmark.
pub fn write_events_project(root: &Path, functions: usize) -> std::io::Result<()> {
    let specs = root.join("specs");
    let store = specs.join("store");
    std::fs::create_dir_all(&store)?;
    std::fs::write(
        store.join("unit.yaml"),
        "unit: store\ntier: stateful\nresources:\n  rows:\n    kind: table\n    partition_key: { name: id }\n    stream: NEW_IMAGE\noutputs:\n  stream_arn: ${rows.stream_arn}\n  table_arn: ${rows.arn}\n",
    )?;
    let units = functions.div_ceil(10);
    let mut env =
        String::from("environment: dev\napp: events\ntarget: local\nstacks:\n  data: [store]\n");
    for u in 0..units {
        let name = format!("w{u:02}");
        let dir = specs.join(&name);
        std::fs::create_dir_all(dir.join("code"))?;
        std::fs::write(
            dir.join("code/handler.py"),
            "def handler(event, context):\n    return {}\n",
        )?;
        let mut text = format!("unit: {name}\ntier: stateless\nresources:\n");
        for f in 0..10.min(functions - u * 10) {
            let _ = write!(
                text,
                "  q{f}:\n    kind: queue\n    visibility_timeout: 60\n    dead_letter: {{ max_receives: 3 }}\n  f{f}:\n    kind: function\n    runtime: python3.13\n    code: code/\n    handler: handler.handler\n    grants: [{{ table: \"${{store.table_arn}}\", access: read }}]\n    events:\n      work: {{ sqs: q{f}, batch_size: 10 }}\n      nightly: {{ schedule: \"cron(0 {} * * ? *)\" }}\n      orders: {{ pattern: {{ source: [shop.{name}], detail-type: [f{f}] }} }}\n      changes: {{ stream: \"${{store.stream_arn}}\", filter: {{ eventName: [INSERT] }} }}\n",
                f % 24
            );
        }
        std::fs::write(dir.join("unit.yaml"), text)?;
        let _ = writeln!(env, "  {name}: [{name}]");
    }
    let envs = root.join("environments");
    std::fs::create_dir_all(&envs)?;
    std::fs::write(envs.join("dev.yaml"), env)
}
