//! The manual in `docs/`: its generated parts say what the field specs
//! and the command line say (set UPDATE_GOLDEN=1 to rewrite them after an
//! intended change), every page is in its table of contents, and every
//! YAML example is a project file `driftless validate` accepts.
//!
//! A generated part sits between `<!-- generated: WHAT -->` and
//! `<!-- end generated -->`. A YAML example that is part of a file names
//! which with `<!-- fragment: environment -->` or `<!-- fragment: unit -->`
//! on the line before it; it is checked inside the reference project.

use super::support::{reference_copy, repo_root};
use driftless::kinds::{KIND_NAMES, Kind};
use driftless::manual::{Document, document_fields, fields_table, kind_fields};
use std::path::{Path, PathBuf};

const BEGIN: &str = "<!-- generated: ";
const END: &str = "<!-- end generated -->";

fn pages() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![repo_root().join("docs/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// What a generated part holds.
fn generate(what: &str) -> Result<String, String> {
    let words: Vec<&str> = what.split_whitespace().collect();
    let arg = |key: &str| {
        words
            .iter()
            .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
            .ok_or_else(|| format!("`{what}` names no {key}="))
    };
    let kind = || {
        let name = arg("kind")?;
        Kind::from_name(name)
            .or((name == "raw").then_some(Kind::Raw))
            .ok_or_else(|| format!("no kind `{name}`"))
    };
    Ok(match words.first().copied() {
        Some("summary") => {
            let summary = kind()?.summary();
            format!("{}{}.\n", summary[..1].to_uppercase(), &summary[1..])
        }
        Some("fields") if words.get(1) == Some(&"event") => {
            fields_table(driftless::kinds::EVENT_FIELDS)
        }
        Some("fields") if arg("kind").is_ok() => kind_fields(kind()?),
        Some("fields") => {
            let name = arg("file")?;
            document_fields(Document::from_name(name).ok_or_else(|| format!("no file `{name}`"))?)
        }
        Some("kinds") => {
            let mut text = String::from("| Kind | What it is |\n| --- | --- |\n");
            for name in KIND_NAMES.iter().copied().chain(["raw"]) {
                let kind = Kind::from_name(name).unwrap_or(Kind::Raw);
                let label = if name == "raw" {
                    "raw (`type:`)".to_string()
                } else {
                    format!("`{name}`")
                };
                text.push_str(&format!("| [{label}]({name}.md) | {} |\n", kind.summary()));
            }
            text
        }
        Some("help") => {
            let name = arg("command")?;
            let mut command = driftless::cli::command();
            let sub = command
                .find_subcommand_mut(name)
                .ok_or_else(|| format!("no command `{name}`"))?;
            let help = sub.render_long_help().to_string();
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            format!(
                "{about}\n\n```text\n$ driftless {name} --help\n{}\n```\n",
                help.trim_end()
            )
        }
        _ => return Err(format!("nothing generates `{what}`")),
    })
}

#[test]
fn the_generated_parts_of_the_book_match_the_field_specs_and_the_help() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let mut regions = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let mut rewritten = String::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find(BEGIN) {
            let after = &rest[start + BEGIN.len()..];
            let close = after.find("-->").expect("a closed marker");
            let what = after[..close].trim().to_string();
            let body_start = start + BEGIN.len() + close + "-->\n".len();
            let end = rest[body_start..]
                .find(END)
                .map(|e| body_start + e)
                .expect("an end marker");
            let generated = match generate(&what) {
                Ok(g) => g,
                Err(e) => {
                    failures.push(format!("{}: {e}", page.display()));
                    String::new()
                }
            };
            if rest[body_start..end] != generated {
                failures.push(format!("{}: `{what}` is out of date", page.display()));
            }
            rewritten.push_str(&rest[..body_start]);
            rewritten.push_str(&generated);
            rest = &rest[end..];
            regions += 1;
        }
        rewritten.push_str(rest);
        if update && rewritten != text {
            std::fs::write(&page, rewritten).unwrap();
        }
    }
    assert!(regions > 30, "only {regions} generated parts");
    assert!(
        update || failures.is_empty(),
        "{}\nreview, then run with UPDATE_GOLDEN=1",
        failures.join("\n")
    );
}

#[test]
fn every_kind_command_and_page_has_its_place_in_the_book() {
    let src = repo_root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    for page in pages() {
        let relative = page
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .to_string();
        if relative != "SUMMARY.md" {
            assert!(
                summary.contains(&format!("]({relative})")),
                "{relative} is not in SUMMARY.md"
            );
        }
    }
    for name in KIND_NAMES.iter().chain(&["raw"]) {
        let page = std::fs::read_to_string(src.join(format!("kinds/{name}.md"))).unwrap();
        assert!(
            page.contains(&format!("<!-- generated: fields kind={name} -->")),
            "{name}"
        );
    }
    for command in driftless::cli::command().get_subcommands() {
        let name = command.get_name();
        let page = std::fs::read_to_string(src.join(format!("commands/{name}.md")))
            .unwrap_or_else(|_| panic!("commands/{name}.md is missing"));
        assert!(
            page.contains(&format!("<!-- generated: help command={name} -->")),
            "{name}"
        );
    }
}

/// A YAML example, where it is, and what it is part of.
struct Example {
    at: String,
    text: String,
    fragment: Option<String>,
}

fn examples() -> Vec<Example> {
    let mut found = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            if lines[i].trim_start() == "```yaml" {
                let indent = lines[i].len() - lines[i].trim_start().len();
                let fragment = lines[..i]
                    .iter()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .and_then(|l| l.trim().strip_prefix("<!-- fragment: "))
                    .and_then(|l| l.strip_suffix(" -->"))
                    .map(str::to_string);
                let start = i + 1;
                i += 1;
                while i < lines.len() && lines[i].trim_start() != "```" {
                    i += 1;
                }
                let body: Vec<&str> = lines[start..i]
                    .iter()
                    .map(|l| l.get(indent..).unwrap_or("").trim_end())
                    .collect();
                found.push(Example {
                    at: format!(
                        "{}:{}",
                        page.strip_prefix(repo_root()).unwrap().display(),
                        start
                    ),
                    text: body.join("\n") + "\n",
                    fragment,
                });
            }
            i += 1;
        }
    }
    found
}

/// Top-level keys of a YAML text, as written.
fn top_keys(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with([' ', '#', '-']) && !l.trim().is_empty())
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.trim().to_string()))
        .collect()
}

/// `base` without the top-level keys `keys` names (each with what is
/// indented below it).
fn without_keys(base: &str, keys: &[String]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in base.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            skipping = line
                .split_once(':')
                .is_some_and(|(k, _)| keys.iter().any(|x| x == k.trim()));
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Puts a new unit in the reference project, in a stack of its own in
/// every environment.
fn add_unit(project: &Path, name: &str, text: &str) {
    let folder = project.join("specs").join(name);
    std::fs::create_dir_all(folder.join("src")).unwrap();
    std::fs::write(
        folder.join("src/index.py"),
        "def handler(event, context):\n    return {}\n",
    )
    .unwrap();
    // The folders it ships: `content: public/`.
    for line in text.lines() {
        if let Some(dir) = line.trim().strip_prefix("content: ") {
            let dir = folder.join(dir.split_whitespace().next().unwrap_or_default());
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("index.html"), "<h1>home</h1>\n").unwrap();
        }
    }
    std::fs::write(folder.join("unit.yaml"), text).unwrap();
    for env in ["dev", "prod"] {
        let path = project.join(format!("environments/{env}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap();
        let text = text.replacen("stacks:\n", &format!("stacks:\n  example: [{name}]\n"), 1);
        std::fs::write(path, text).unwrap();
    }
}

/// Every string a node holds.
fn scalars(node: &driftless::yaml::Node, out: &mut Vec<String>) {
    match &node.value {
        driftless::yaml::Value::Str(s) => out.push(s.clone()),
        driftless::yaml::Value::Seq(items) => items.iter().for_each(|n| scalars(n, out)),
        driftless::yaml::Value::Map(entries) => entries.iter().for_each(|e| scalars(&e.value, out)),
        _ => {}
    }
}

/// Places the example in a copy of the reference project.
fn place(example: &Example, project: &Path) -> Result<(), String> {
    let document = driftless::yaml::parse(&example.text).map_err(|e| format!("not YAML: {e:?}"))?;
    let name_of = |key: &str| {
        document
            .get(key)
            .and_then(|n| n.as_str())
            .map(str::to_string)
    };
    match example.fragment.as_deref() {
        Some("environment") => {
            let path = project.join("environments/prod.yaml");
            let base = std::fs::read_to_string(&path).unwrap();
            let merged = without_keys(&base, &top_keys(&example.text)) + &example.text;
            std::fs::write(path, merged).unwrap();
        }
        Some("unit") => add_unit(
            project,
            "example",
            &format!("unit: example\ntier: stateless\n{}", example.text),
        ),
        Some(other) => return Err(format!("no fragment of `{other}`")),
        None => {
            if let Some(unit) = name_of("unit") {
                let existing = project.join("specs").join(&unit).join("unit.yaml");
                if existing.exists() {
                    std::fs::write(existing, &example.text).unwrap();
                } else {
                    add_unit(project, &unit, &example.text);
                }
            } else if let Some(env) = name_of("environment") {
                std::fs::write(
                    project.join(format!("environments/{env}.yaml")),
                    &example.text,
                )
                .unwrap();
            } else if let Some(pipeline) = document.get("pipeline") {
                // Stages may name environments beyond dev and prod: copies of dev.
                let dev = std::fs::read_to_string(project.join("environments/dev.yaml")).unwrap();
                let mut names = Vec::new();
                if let Some(stages) = pipeline.get("stages") {
                    scalars(stages, &mut names);
                }
                for name in names {
                    let path = project.join(format!("environments/{name}.yaml"));
                    if !path.exists() && name.chars().all(|c| c.is_ascii_lowercase()) {
                        let copy =
                            dev.replacen("environment: dev", &format!("environment: {name}"), 1);
                        std::fs::write(path, copy).unwrap();
                    }
                }
                std::fs::write(project.join("pipeline.yaml"), &example.text).unwrap();
            } else {
                return Err("neither a whole unit, environment or pipeline file nor marked `<!-- fragment: ... -->`".into());
            }
        }
    }
    Ok(())
}

#[test]
fn every_yaml_example_in_the_book_is_valid() {
    let examples = examples();
    assert!(examples.len() >= 20, "only {} examples", examples.len());
    let mut failures = Vec::new();
    for example in &examples {
        let project = reference_copy();
        if let Err(e) = place(example, project.path()) {
            failures.push(format!("{}: {e}", example.at));
            continue;
        }
        match driftless::load::validate_project(project.path()) {
            Ok(report) if report.diagnostics.is_empty() => {}
            Ok(report) => failures.push(format!(
                "{}:\n    {}",
                example.at,
                report
                    .diagnostics
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n    ")
            )),
            Err(e) => failures.push(format!("{}: {e}", example.at)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
