//! HTML views: `status --html` against the emulator, read back with a real
//! HTML parser (Python's `html.parser`).

use super::emulator::{account, ok, run};
use super::support::reference_copy;
use serde_json::Value;

/// What a page shows, as Python's HTML parser reads it: the title, the
/// badges, the stacks and arrows of the waves picture, the visible text.
pub fn read_page(html: &str) -> Value {
    let script = r##"
import json, sys
from html.parser import HTMLParser
class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.out = {"title": "", "badges": [], "stacks": [], "feeds": [], "text": [], "external": [],
                    "sections": [], "changes": [], "refusals": []}
        self.stack = []
        self.row = None
        self.cell = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in ("meta", "br", "link", "img", "input", "hr"):
            self.stack.append((tag, a.get("class", "")))
        if tag == "g" and a.get("class") == "stack":
            self.out["stacks"].append([a.get("data-stack"), a.get("data-state")])
        if tag == "section" and a.get("class") == "stack":
            self.out["sections"].append([a.get("data-stack"), a.get("data-action")])
        if tag == "tr" and a.get("class") == "change":
            self.row = []
        if tag == "td" and self.row is not None:
            self.cell = ""
        if tag == "li" and a.get("class") == "refusal":
            self.out["refusals"].append("")
        if tag == "path" and a.get("class") == "feeds":
            self.out["feeds"].append([a.get("data-from"), a.get("data-to")])
        for key in ("src", "href"):
            if key in a and not a[key].startswith("#"):
                self.out["external"].append(a[key])
    def handle_endtag(self, tag):
        if tag == "td" and self.row is not None:
            self.row.append(self.cell)
            self.cell = None
        if tag == "tr" and self.row is not None:
            self.out["changes"].append(self.row)
            self.row = None
        while self.stack and self.stack.pop()[0] != tag:
            pass
    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if any(cls == "refusal" for _, cls in self.stack):
            self.out["refusals"][-1] += data
        if not self.stack:
            return
        tag, cls = self.stack[-1]
        if tag == "title" and len(self.stack) == 3:
            self.out["title"] += data
        elif "badge" in cls.split():
            self.out["badges"].append(data)
        elif data.strip() and tag not in ("style", "title"):
            self.out["text"].append(data.strip())
p = Page()
p.feed(sys.stdin.read())
p.close()
print(json.dumps(p.out))
"##;
    super::support::python_json(std::path::Path::new("python3"), script, html)
}

#[test]
fn status_html_shows_the_environment_its_waves_and_stacks_in_one_self_contained_page() {
    let project = reference_copy();
    let account = account();
    ok(&run(project.path(), &account, &["deploy", "dev", "--yes"]));
    let file = project.path().join("status.html");
    let file_arg = file.to_string_lossy().into_owned();
    let out = run(
        project.path(),
        &account,
        &["status", "dev", "--html", &file_arg],
    );
    ok(&out);
    let html = std::fs::read_to_string(&file).expect("the page was written");
    let page = read_page(&html);
    assert_eq!(page["title"], "user-management dev: synced, healthy");
    // The environment's badges, then the alarm's state in its table.
    assert_eq!(
        page["badges"],
        serde_json::json!(["synced", "healthy", "INSUFFICIENT_DATA"])
    );
    assert_eq!(
        page["stacks"],
        serde_json::json!([
            ["user-management-dev-stateful", "in sync"],
            ["user-management-dev-stateless", "in sync"]
        ])
    );
    assert_eq!(
        page["feeds"],
        serde_json::json!([[
            "user-management-dev-stateful",
            "user-management-dev-stateless"
        ]])
    );
    assert_eq!(page["external"], serde_json::json!([]), "nothing fetched");
    let text = page["text"].as_array().expect("text").clone();
    assert!(text.iter().any(|t| t == "CREATE_COMPLETE"), "{text:?}");
    assert!(html.contains("name=\"viewport\""), "readable on a phone");

    // After a change to the specs, the stateless stack reads out of sync.
    let unit = project.path().join("specs/api/unit.yaml");
    let spec = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, spec.replace("timeout: 20", "timeout: 25")).unwrap();
    let out = run(
        project.path(),
        &account,
        &["status", "dev", "--html", &file_arg],
    );
    assert_eq!(out.status.code(), Some(2), "out of sync exits 2");
    let page = read_page(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(page["badges"][0], "out of sync");
    assert_eq!(
        page["stacks"][1],
        serde_json::json!(["user-management-dev-stateless", "out of sync"])
    );
}

#[test]
fn plan_html_shows_each_changed_property_and_refusals() {
    let project = reference_copy();
    let account = account();
    ok(&run(project.path(), &account, &["deploy", "dev", "--yes"]));
    let unit = project.path().join("specs/api/unit.yaml");
    let spec = std::fs::read_to_string(&unit).unwrap();
    std::fs::write(&unit, spec.replace("timeout: 20", "timeout: 25")).unwrap();
    let file = project.path().join("plan.html");
    let file_arg = file.to_string_lossy().into_owned();
    let out = run(
        project.path(),
        &account,
        &["plan", "dev", "--html", &file_arg],
    );
    assert_eq!(out.status.code(), Some(2), "changes exit 2");
    let page = read_page(&std::fs::read_to_string(&file).expect("the page"));
    assert_eq!(page["title"], "plan user-management dev: 1 stack(s) change");
    assert_eq!(
        page["sections"],
        serde_json::json!([
            ["user-management-dev-stateful", "no change"],
            ["user-management-dev-stateless", "update"]
        ])
    );
    assert_eq!(
        page["changes"],
        serde_json::json!([[
            "ApiHandler",
            "AWS::Lambda::Function",
            "modify",
            "Properties.Timeout",
            "20",
            "25"
        ]])
    );
    assert_eq!(page["stacks"][1][1], "out of sync");
    let Some(mut browser) = super::browser::Browser::start() else {
        return;
    };
    browser.run(&format!("open file://{}", file.display()));
    browser.run("text Properties.Timeout 10");
    let shot = super::browser::screenshots().join("plan.png");
    browser.run(&format!("screenshot {}", shot.display()));
    browser.run("quit");

    // A change that would replace the table is shown as refused.
    let db = project.path().join("specs/database/unit.yaml");
    let spec = std::fs::read_to_string(&db).unwrap();
    std::fs::write(&db, spec.replace("name: username", "name: user_id")).unwrap();
    let out = run(
        project.path(),
        &account,
        &["plan", "dev", "--html", &file_arg],
    );
    assert_eq!(out.status.code(), Some(4), "refused exits 4");
    let page = read_page(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(page["badges"][0], "refused");
    let refusals = page["refusals"].as_array().expect("refusals");
    assert_eq!(refusals.len(), 1, "{refusals:?}");
    assert!(
        refusals[0]
            .as_str()
            .unwrap_or_default()
            .contains("database.users"),
        "{refusals:?}"
    );
}
