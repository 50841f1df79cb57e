//! The shape of `src/`, read from its `crate::` paths: no two top-level
//! modules import each other through any path, the pure core touches no
//! folder, build or network, the output wing knows nothing of the command
//! line, and no file grows past what one concern needs.

use super::support::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Spec loading, kinds, rendering, planning and ordering: plain data in,
/// plain data out.
const PURE_CORE: &[&str] = &["spec", "kinds", "render", "plan", "schedule", "value"];

/// What reads folders, runs builds, talks to the network or runs commands.
const EFFECTS: &[&str] = &[
    "content",
    "assets",
    "cloud",
    "commands",
    "emulator",
    "reconcile",
    "source",
    "watcher",
    "listener",
    "controller",
    "target",
    "smoke",
    "notify",
    "load",
];

const MOST_LINES: usize = 600;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its unit tests.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules each top-level module names through `crate::`,
/// also inside `use crate::{a, b::c}` groups.
fn imports(src: &Path, tops: &BTreeSet<String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let first = relative.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        let code = code(&std::fs::read_to_string(&file).expect("read"));
        let mut named = BTreeSet::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    named.insert(name);
                }
            } else {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                named.insert(name);
            }
        }
        let entry = edges.entry(module.clone()).or_default();
        entry.extend(
            named
                .into_iter()
                .filter(|n| *n != module && tops.contains(n)),
        );
    }
    edges
}

fn top_level_modules(src: &Path) -> BTreeSet<String> {
    std::fs::read_dir(src)
        .expect("src")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().to_string();
            match p.is_dir() {
                true => Some(name),
                false => name.strip_suffix(".rs").map(str::to_string),
            }
        })
        .filter(|n| n != "main" && n != "lib")
        .collect()
}

/// A path `a -> b -> ... -> a`, if there is one.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == node) {
            let mut found = path[i..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, edges, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|start| visit(start, edges, &mut Vec::new(), &mut done))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join("src");
    imports(&src, &top_level_modules(&src))
}

#[test]
fn no_two_modules_import_each_other_through_any_path() {
    let edges = graph();
    assert!(edges.len() > 10, "the modules were read: {edges:?}");
    if let Some(found) = cycle(&edges) {
        panic!("an import circle: {}", found.join(" -> "));
    }
}

#[test]
fn the_cycle_finder_finds_a_circle_of_three() {
    let edges: BTreeMap<String, BTreeSet<String>> = [("a", "b"), ("b", "c"), ("c", "a")]
        .into_iter()
        .map(|(from, to)| (from.to_string(), BTreeSet::from([to.to_string()])))
        .collect();
    assert_eq!(cycle(&edges).map(|c| c.len()), Some(4));
}

#[test]
fn the_pure_core_reads_no_folder_and_calls_no_network() {
    let edges = graph();
    let mut violations = Vec::new();
    for module in PURE_CORE {
        for imported in edges.get(*module).into_iter().flatten() {
            if EFFECTS.contains(&imported.as_str()) {
                violations.push(format!("{module} imports {imported}"));
            }
        }
    }
    assert!(violations.is_empty(), "{violations:#?}");
    assert!(edges.contains_key("render"), "render was read");
}

#[test]
fn the_output_wing_knows_nothing_of_the_command_line() {
    let edges = graph();
    let output = edges.get("output").expect("src/output");
    for forbidden in ["cli", "commands"] {
        assert!(!output.contains(forbidden), "output imports {forbidden}");
    }
}

#[test]
fn no_source_file_is_longer_than_one_concern_needs() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("src"), &mut files);
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let lines = std::fs::read_to_string(f).ok()?.lines().count();
            (lines > MOST_LINES).then(|| format!("{} ({lines} lines)", f.display()))
        })
        .collect();
    assert!(long.is_empty(), "over {MOST_LINES} lines: {long:#?}");
}
