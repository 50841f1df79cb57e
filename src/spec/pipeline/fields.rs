//! Fields of pipeline.yaml that CodePipeline and CodeBuild take as they
//! are: stage names, the driftless a build installs, tags.

use super::{Shipping, Stage};
use crate::kinds::{FieldSpec, FieldType, opt};
use crate::spec::read::Reader;
use crate::yaml::{Node, Span};
use std::collections::BTreeMap;

pub(super) const SHIPPING_FIELDS: &[FieldSpec] = &[
    opt("version", FieldType::Str).doc("The release of driftless, `MAJOR.MINOR.PATCH`."),
    opt("url", FieldType::Str).doc("An https URL of the release's gzipped Linux binary."),
    opt("sha256", FieldType::Str)
        .doc("SHA-256 of the artifact at `url`; the build refuses another."),
    opt("image", FieldType::Str)
        .doc("A container image with driftless on PATH, instead of a download."),
];

/// CodePipeline's limit on a stage name.
const MAX_STAGE_NAME: usize = 100;

/// Every stage renders to a name of its own, within CodePipeline's limit
/// (`[dev-a]` and `[dev, a]` would both be `Deploy-dev-a`).
pub(super) fn stage_names_fit(stages: &[Stage], r: &mut Reader<'_>) -> bool {
    let mut fine = true;
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for stage in stages {
        let name = stage.name();
        if name.len() > MAX_STAGE_NAME {
            let d = r
                .diagnostic(
                    stage.span,
                    format!(
                        "the stage's name `{name}` is {} characters, more than CodePipeline's {MAX_STAGE_NAME}",
                        name.len()
                    ),
                )
                .with_help("split the wave into stages of fewer environments");
            r.push(d);
            fine = false;
        }
        if let Some(first) = seen.get(&name) {
            let d = r
                .diagnostic(
                    stage.span,
                    format!(
                        "this stage and the one at line {} are both named `{name}` in CodePipeline",
                        first.line
                    ),
                )
                .with_help("rename an environment, or order the wave so that the names differ");
            r.push(d);
            fine = false;
        }
        seen.entry(name).or_insert(stage.span);
    }
    fine
}

pub(super) fn read_shipping(node: &Node, r: &mut Reader<'_>) -> Option<Shipping> {
    if !r.keys(node, "driftless", SHIPPING_FIELDS) {
        return None;
    }
    let version = match node.get("version") {
        Some(v) => {
            let version = r.string(v, "version")?;
            if !is_version(&version) {
                r.error(
                    v.span,
                    format!("`{version}` is not a version of driftless"),
                    "write a release's version as MAJOR.MINOR.PATCH, such as `0.2.1` (a pre-release such as `0.3.0-rc.1` too)",
                );
                return None;
            }
            Some(version)
        }
        None => None,
    };
    match (node.get("url"), node.get("sha256"), node.get("image")) {
        (Some(u), Some(h), None) => {
            let url = r.string(u, "url")?;
            let sha256 = r.string(h, "sha256")?;
            let plain = |c: char| c.is_ascii_graphic() && !"'\"`$\\".contains(c);
            if !url.starts_with("https://") || !url.chars().all(plain) {
                r.error(
                    u.span,
                    format!("`{url}` is not an https URL a build can fetch as it is"),
                    "give the release artifact's https URL, without quotes, `$` or spaces",
                );
                return None;
            }
            if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                r.error(
                    h.span,
                    "`sha256` is not a SHA-256 (64 hexadecimal digits)",
                    "pin the artifact's checksum: `sha256sum driftless-x86_64-linux.gz`",
                );
                return None;
            }
            Some(Shipping::Release {
                url,
                sha256: sha256.to_ascii_lowercase(),
                version,
            })
        }
        (None, None, Some(i)) if version.is_none() => r.string(i, "image").map(Shipping::Image),
        (None, None, None) if version.is_none() => Some(Shipping::Binary),
        (None, None, None) => {
            r.error(
                node.span,
                "a version alone names nothing a build can fetch and check",
                "add `url:` (the release artifact for the build image's platform) and `sha256:` (its checksum): a build never installs driftless from a registry by name",
            );
            None
        }
        (Some(_), None, _) | (None, Some(_), _) => {
            r.error(
                node.span,
                "a release artifact needs both `url:` and `sha256:`",
                "pin the artifact's checksum beside its URL",
            );
            None
        }
        _ => {
            r.error(
                node.span,
                "driftless comes from a release artifact or an image, not both",
                "keep `url:` and `sha256:` to fetch that release in the build, or `image:` for an image that has driftless",
            );
            None
        }
    }
}

/// A semantic version, `1.2.3` with an optional `-pre.release` and
/// `+build`: what `cargo install --version` takes as one release, and
/// nothing a shell could read as more than a word.
pub(super) fn is_version(text: &str) -> bool {
    let (core, rest) = match text.find(['-', '+']) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let number = |n: &&str| {
        !n.is_empty()
            && n.len() <= 10
            && n.bytes().all(|b| b.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    let tail = |t: &str| {
        t.split('.').all(|part| {
            !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
    };
    let suffix_ok = match rest.strip_prefix('-') {
        Some(pre) => match pre.split_once('+') {
            Some((pre, build)) => tail(pre) && tail(build),
            None => tail(pre),
        },
        None => rest.strip_prefix('+').is_none_or(tail),
    };
    numbers.len() == 3 && numbers.iter().all(number) && suffix_ok && text.len() <= 64
}

/// What CodePipeline would refuse in a tag, or read other than meant:
/// (whether the key is at fault, why).
fn tag_problem(key: &str, value: &str) -> Option<(bool, String)> {
    if key.trim().is_empty() {
        return Some((true, "a tag key is empty".into()));
    }
    if key.chars().count() > 128 {
        return Some((true, format!("tag key `{key}` is over 128 characters")));
    }
    if value.chars().count() > 256 {
        return Some((
            false,
            format!("the value of tag `{key}` is over 256 characters"),
        ));
    }
    if value.contains("${") {
        return Some((
            false,
            format!(
                "the value of tag `{key}` holds `${{...}}`, which tags do not substitute: it would be written as is"
            ),
        ));
    }
    None
}

pub(super) fn read_tags(node: &Node, r: &mut Reader<'_>) -> BTreeMap<String, String> {
    let Some(entries) = node.entries() else {
        r.error(
            node.span,
            format!("tags must be a mapping, found {}", node.type_name()),
            "write `tags: { team: platform }`",
        );
        return BTreeMap::new();
    };
    let mut tags = BTreeMap::new();
    for entry in entries {
        let Some(value) = r.string(&entry.value, "a tag value") else {
            continue;
        };
        if entry.key.starts_with("aws:") {
            r.error(
                entry.key_span,
                format!("tag `{}` starts with `aws:`", entry.key),
                "AWS keeps `aws:` tags for itself; choose another key",
            );
            continue;
        }
        if let Some(why) = tag_problem(&entry.key, &value) {
            r.error(
                if why.0 { entry.key_span } else { entry.value.span },
                why.1,
                "a tag key is 1 to 128 characters, a value at most 256, both as written (tags are not substituted)",
            );
            continue;
        }
        tags.insert(entry.key.clone(), value);
    }
    tags
}
