//! One deployer per environment: the lock in the bootstrap bucket names its
//! holder, a second deployer fails fast or waits, and a stale lock expires.

use super::deploy::{deploy, edit, output, reference_app, stack_ends, stacks};
use super::emulator::{Clients, account, clients, events, run};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn bucket(c: &Clients) -> String {
    output(c, "driftless-bootstrap", "AssetBucketName")
}

fn lock_key(app: &str) -> String {
    format!("locks/{app}-dev.json")
}

fn write_lock(c: &Clients, app: &str, owner: &str, expires: u64) {
    write_holder(
        c,
        app,
        serde_json::json!({
            "owner": owner, "command": "deploy", "acquired": now(), "expires": expires
        }),
    );
}

fn write_holder(c: &Clients, app: &str, body: serde_json::Value) {
    c.rt.block_on(
        c.s3.put_object()
            .bucket(bucket(c))
            .key(lock_key(app))
            .body(body.to_string().into_bytes().into())
            .send(),
    )
    .expect("write lock");
}

fn lock_exists(c: &Clients, app: &str) -> bool {
    c.rt.block_on(
        c.s3.head_object()
            .bucket(bucket(c))
            .key(lock_key(app))
            .send(),
    )
    .is_ok()
}

fn change_memory(project: &Path, to: &str) {
    edit(
        &project.join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        &format!("memory: {{ type: integer, default: {to} }}"),
    );
}

#[test]
fn a_held_lock_stops_a_second_deployer_naming_the_holder_and_a_stale_one_expires() {
    let account = account();
    let (project, app) = reference_app(&account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    assert!(
        !lock_exists(&c, &app),
        "a finished deploy releases its lock"
    );
    change_memory(project.path(), "512");

    write_lock(&c, &app, "alice@build-7 pid 4242", now() + 600);
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "{text}");
    assert!(text.contains("alice@build-7 pid 4242"), "{text}");
    assert!(stack_ends(&out).is_empty(), "nothing was applied: {text}");
    let destroy = run(project.path(), &account, &["destroy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&destroy.stdout).into_owned();
    assert_eq!(
        destroy.status.code(),
        Some(5),
        "destroy waits its turn too: {text}"
    );
    assert!(
        stack_ends(&destroy).is_empty(),
        "nothing was deleted: {text}"
    );

    write_lock(&c, &app, "alice@build-7 pid 4242", now().saturating_sub(1));
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        stack_ends(&out).contains(&(stacks(&app, "dev").1, "updated".into())),
        "{text}"
    );
    assert!(!lock_exists(&c, &app));
}

#[test]
fn two_deployers_at_once_apply_the_change_once() {
    let account = account();
    let (project, app) = reference_app(&account);
    deploy(project.path(), &account, "dev");
    change_memory(project.path(), "384");
    let (p1, p2) = (project.path().to_path_buf(), project.path().to_path_buf());
    let (a1, a2) = (account.clone(), account.clone());
    let args = ["deploy", "dev", "--yes", "--lock-wait", "120"];
    let first = std::thread::spawn(move || run(&p1, &a1, &args));
    let second = std::thread::spawn(move || run(&p2, &a2, &args));
    let outs = [
        first.join().expect("first deployer"),
        second.join().expect("second deployer"),
    ];
    let stateless = stacks(&app, "dev").1;
    let mut updates = 0;
    for out in &outs {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{text}");
        updates += stack_ends(out)
            .iter()
            .filter(|(s, r)| *s == stateless && r == "updated")
            .count();
        // A change set is only ever created under the lock.
        let e = events(out);
        if let Some(wait) = e.iter().position(|e| e["event"] == "lock_wait") {
            assert!(!e[..wait].iter().any(|e| e["event"] == "change_set"));
        }
    }
    assert_eq!(updates, 1, "exactly one deployer applies the change");
}

#[test]
fn a_lock_written_by_a_host_whose_clock_is_a_day_behind_still_holds() {
    let account = account();
    let (project, app) = reference_app(&account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    change_memory(project.path(), "512");
    // Its holder's clock says it expired a day ago; the store wrote it now.
    let behind = now() - 86_400;
    write_holder(
        &c,
        &app,
        serde_json::json!({
            "owner": "bob@skewed pid 7", "command": "deploy",
            "acquired": behind, "expires": behind + 90, "ttl": 90
        }),
    );
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(5), "the lock holds: {text}");
    assert!(text.contains("bob@skewed pid 7"), "{text}");
    assert!(
        text.contains("expiring in 8") || text.contains("expiring in 9"),
        "about 90 s left by the store's clock: {text}"
    );
    assert!(stack_ends(&out).is_empty(), "{text}");
}

#[test]
fn a_release_never_deletes_a_lock_someone_else_took_over() {
    use driftless::cloud::lock::{self, Holder, LockLost};
    let account = account();
    let (project, app) = reference_app(&account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let bucket = bucket(&c);
    let key = lock_key(&app);
    let cloud = c.rt.block_on(driftless::cloud::Cloud::connect_with(
        &driftless::cloud::ConnectSettings {
            region: "us-east-1".into(),
            endpoint: Some(super::emulator::emulator().endpoint()),
            profile: None,
            role: None,
        },
        aws_credential_types::Credentials::new(&account, "test", None, None, "test"),
    ));
    let holder = |owner: &str, ttl: u64| Holder {
        owner: owner.into(),
        command: "deploy".into(),
        acquired: now(),
        expires: now() + ttl,
        host: "elsewhere".into(),
        pid: 0,
        ttl,
    };
    // A takes the lock with no time to live, so B may take it over at once.
    let a =
        c.rt.block_on(lock::try_acquire(&cloud, &bucket, &key, &holder("a", 0)))
            .expect("acquire")
            .expect("free");
    let b =
        c.rt.block_on(lock::try_acquire(&cloud, &bucket, &key, &holder("b", 600)))
            .expect("acquire")
            .expect("a's lock lapsed");
    // A's renewal and release both find it taken over and leave it alone.
    let renewed = c.rt.block_on(lock::renew(&cloud, &a, &holder("a", 90)));
    assert!(matches!(renewed, Err(LockLost::TakenOver)), "{renewed:?}");
    let released = c.rt.block_on(lock::release(&cloud, &a));
    assert!(matches!(released, Err(LockLost::TakenOver)), "{released:?}");
    assert!(lock_exists(&c, &app), "b's lock is still there");
    let busy =
        c.rt.block_on(lock::try_acquire(&cloud, &bucket, &key, &holder("c", 90)))
            .expect("acquire");
    assert!(
        matches!(&busy, Err(busy) if busy.holder.owner == "b"),
        "{busy:?}"
    );
    c.rt.block_on(lock::release(&cloud, &b))
        .expect("b releases its own");
    assert!(!lock_exists(&c, &app));
}
