//! Files for buckets against the emulator: a bucket whose objects are a
//! folder's files, served through a function, synced file by file.

use super::deploy::{deploy, edit, output};
use super::emulator::{account, clients, events, http, run, summary};
use super::support::{copy_dir, repo_root};
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::path::Path;

/// A copy of tests/fixtures/site under an app name of its own (function
/// names derive from it, and the emulator keys its workers by them).
pub(super) fn site(account: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("tests/fixtures/site"), dir.path());
    let app = format!("site{}", &account[account.len() - 6..]);
    edit(
        &dir.path().join("environments/dev.yaml"),
        "app: site",
        &format!("app: {app}"),
    );
    (dir, app)
}

pub(super) fn synced(events: &[Json]) -> Vec<&Json> {
    events
        .iter()
        .filter(|e| e["event"] == "content_synced")
        .collect()
}

pub(super) fn keys(value: &Json) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Json::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn bucket_keys(c: &super::emulator::Clients, bucket: &str) -> BTreeSet<String> {
    c.rt.block_on(c.s3.list_objects_v2().bucket(bucket).send())
        .expect("list objects")
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

fn write(project: &Path, path: &str, text: &str) {
    std::fs::write(project.join("specs/files/public").join(path), text).expect("write");
}

#[test]
fn bucket_content_is_served_after_the_first_deploy_and_synced_file_by_file() {
    let account = account();
    let (project, app) = site(&account);
    let project = project.path();
    let c = clients(&account, "us-east-1");

    // First deploy: the bucket is created, then its three files put, then
    // the check that reads one through the function passes.
    let first = deploy(project, &account, "dev");
    let all = events(&first);
    let sync = synced(&all);
    assert_eq!(sync.len(), 1, "{all:#?}");
    assert_eq!(
        keys(&sync[0]["put"]),
        ["css/site.css", "index.html", "notes.txt"]
    );
    assert_eq!(summary(&first)["stacks"]["objects_put"], 3);
    assert!(
        all.iter()
            .any(|e| e["event"] == "smoke" && e["phase"] == "release" && e["failed"] == 0),
        "the checks ran after the content was in place: {all:#?}"
    );
    let endpoint = output(&c, &format!("{app}-dev-stateless"), "WebEndpoint");
    let css = http(
        "GET",
        &format!("{endpoint}/files/css/site.css"),
        &account,
        None,
    );
    assert_eq!(css.status, 200, "{}", css.body);
    assert!(css.body.contains("teal"), "{}", css.body);
    assert!(
        css.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "text/css; charset=utf-8"),
        "{:?}",
        css.headers
    );
    let bucket = sync[0]["bucket"].as_str().expect("bucket").to_string();

    // Mark the object that stays the same: were it put again, the mark
    // would be gone.
    let index = std::fs::read(project.join("specs/files/public/index.html")).expect("read");
    c.rt.block_on(
        c.s3.put_object()
            .bucket(&bucket)
            .key("index.html")
            .content_type("text/html; charset=utf-8")
            .metadata("mark", "kept")
            .body(index.into())
            .send(),
    )
    .expect("mark index.html");

    // One file changed, one removed: the plan names both, and exits 2.
    write(project, "css/site.css", "h1 { color: crimson; }\n");
    std::fs::remove_file(project.join("specs/files/public/notes.txt")).expect("remove");
    let plan = run(project, &account, &["plan", "dev"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&plan.stdout)
    );
    let planned: Vec<Json> = events(&plan)
        .into_iter()
        .filter(|e| e["event"] == "content_plan")
        .collect();
    assert_eq!(planned.len(), 1);
    let put: Vec<(String, String)> = planned[0]["put"]
        .as_array()
        .expect("put")
        .iter()
        .map(|p| {
            (
                p["key"].as_str().unwrap_or_default().into(),
                p["change"].as_str().unwrap_or_default().into(),
            )
        })
        .collect();
    assert_eq!(put, [("css/site.css".to_string(), "changed".to_string())]);
    assert_eq!(keys(&planned[0]["delete"]), ["notes.txt"]);
    assert_eq!(planned[0]["unchanged"], 1);

    let second = deploy(project, &account, "dev");
    let all = events(&second);
    let sync = synced(&all);
    assert_eq!(keys(&sync[0]["put"]), ["css/site.css"]);
    assert_eq!(keys(&sync[0]["deleted"]), ["notes.txt"]);
    assert!(
        !all.iter().any(|e| e["event"] == "stack_start"),
        "a content change needs no stack operation: {all:#?}"
    );
    assert_eq!(
        bucket_keys(&c, &bucket),
        BTreeSet::from(["css/site.css".to_string(), "index.html".to_string()])
    );
    let head =
        c.rt.block_on(c.s3.head_object().bucket(&bucket).key("index.html").send())
            .expect("head index.html");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("mark"))
            .map(String::as_str),
        Some("kept"),
        "the unchanged file was put again"
    );
    let css = http(
        "GET",
        &format!("{endpoint}/files/css/site.css"),
        &account,
        None,
    );
    assert!(css.body.contains("crimson"), "{}", css.body);
    let gone = http(
        "GET",
        &format!("{endpoint}/files/notes.txt"),
        &account,
        None,
    );
    assert_eq!(gone.status, 404, "{}", gone.body);

    // Nothing left to do.
    let third = deploy(project, &account, "dev");
    assert!(synced(&events(&third)).is_empty());
    assert_eq!(summary(&third)["stacks"]["objects_put"], 0);
}

#[test]
fn objects_outside_the_folder_stay_in_a_bucket_not_owned_whole() {
    let account = account();
    let (project, _) = site(&account);
    let project = project.path();
    edit(
        &project.join("specs/files/unit.yaml"),
        "    owns_all_objects: true\n",
        "",
    );
    let c = clients(&account, "us-east-1");
    let first = deploy(project, &account, "dev");
    let bucket = synced(&events(&first))[0]["bucket"]
        .as_str()
        .expect("bucket")
        .to_string();
    std::fs::remove_file(project.join("specs/files/public/notes.txt")).expect("remove");
    let plan = run(project, &account, &["plan", "dev"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "nothing to put, nothing to delete"
    );
    let planned: Vec<Json> = events(&plan)
        .into_iter()
        .filter(|e| e["event"] == "content_plan")
        .collect();
    assert_eq!(planned[0]["kept"], 1);
    assert!(bucket_keys(&c, &bucket).contains("notes.txt"));
}

#[test]
fn a_large_file_is_put_in_parts_and_found_unchanged_the_next_time() {
    let account = account();
    let (project, _app) = site(&account);
    let project = project.path();
    // Over the 16 MiB threshold: three parts of 8 MiB.
    let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(project.join("specs/files/public/big.bin"), &big).expect("write");
    let first = deploy(project, &account, "dev");
    let sync = synced(&events(&first))
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert!(
        keys(&sync[0]["put"]).contains(&"big.bin".to_string()),
        "{sync:?}"
    );
    let c = clients(&account, "us-east-1");
    let bucket = sync[0]["bucket"].as_str().expect("bucket").to_string();
    let object =
        c.rt.block_on(c.s3.get_object().bucket(&bucket).key("big.bin").send())
            .expect("get the object");
    let body =
        c.rt.block_on(object.body.collect())
            .expect("body")
            .into_bytes();
    assert_eq!(body.len(), big.len());
    assert!(body == big, "the object holds the file's bytes");
    // The next deploy computes the parts' ETag and finds nothing to put.
    let second = deploy(project, &account, "dev");
    assert_eq!(
        summary(&second)["stacks"]["objects_put"],
        0,
        "{:#?}",
        events(&second)
    );
}

#[test]
fn a_key_longer_than_s3_takes_is_refused_before_any_call() {
    let (project, _app) = site(&account());
    let mut dir = project.path().join("specs/files/public");
    for i in 0..5 {
        dir = dir.join(format!("{i}{}", "d".repeat(220)));
    }
    std::fs::create_dir_all(&dir).expect("folders");
    std::fs::write(dir.join("x.txt"), "x").expect("write");
    let out = super::support::driftless(
        project.path(),
        &["--output", "json", "plan", "dev", "--offline"],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        super::support::stdout(&out)
    );
    assert!(super::support::stdout(&out).contains("more than S3's 1024"));
}
