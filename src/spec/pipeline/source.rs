//! Where a pipeline's releases come from: a connection to GitHub, GitLab
//! or Bitbucket, a CodeCommit repository, or a zip in a versioned bucket.

use crate::kinds::{FieldSpec, FieldType, opt, req};
use crate::spec::read::Reader;
use crate::yaml::Node;

const SOURCE_KINDS: &[&str] = &["codestar", "codecommit", "s3"];

/// `source:` names exactly one of these.
pub(super) const FIELDS: &[FieldSpec] = &[
    opt("codestar", FieldType::Object(CODESTAR_FIELDS))
        .doc("A GitHub, GitLab or Bitbucket repository reached through a CodeStar connection."),
    opt("codecommit", FieldType::Object(CODECOMMIT_FIELDS)).doc("A CodeCommit repository."),
    opt("s3", FieldType::Object(S3_FIELDS)).doc("A zip of the project in a versioned bucket."),
];

const CODESTAR_FIELDS: &[FieldSpec] = &[
    req("connection", FieldType::Str).doc("ARN of the connection."),
    req("repository", FieldType::Str).doc("The repository, `owner/name`."),
    req("branch", FieldType::Str).doc("The branch whose commits are released."),
    opt("provider", FieldType::Enum(Provider::NAMES))
        .doc("The host the connection reaches.")
        .default("github"),
];

const CODECOMMIT_FIELDS: &[FieldSpec] = &[
    req("repository", FieldType::Str).doc("Name of the repository."),
    req("branch", FieldType::Str).doc("The branch whose commits are released."),
];

const S3_FIELDS: &[FieldSpec] = &[
    req("bucket", FieldType::Str).doc("The versioned bucket."),
    req("key", FieldType::Str).doc("Key of the zip."),
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A CodeStar (CodeConnections) connection to GitHub, GitLab or Bitbucket.
    CodeStar {
        connection: String,
        repository: String,
        branch: String,
        provider: Provider,
    },
    CodeCommit {
        repository: String,
        branch: String,
    },
    /// A zip of the project in a versioned bucket.
    S3 {
        bucket: String,
        key: String,
    },
}

/// The host a connection reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Bitbucket,
}

impl Provider {
    pub const NAMES: &[&str] = &["github", "gitlab", "bitbucket"];

    fn from_name(name: &str) -> Option<Provider> {
        Some(match name {
            "github" => Provider::GitHub,
            "gitlab" => Provider::GitLab,
            "bitbucket" => Provider::Bitbucket,
            _ => return None,
        })
    }

    /// CodeBuild's source type for a checkout through the connection.
    pub fn codebuild_type(self) -> &'static str {
        match self {
            Provider::GitHub => "GITHUB",
            Provider::GitLab => "GITLAB",
            Provider::Bitbucket => "BITBUCKET",
        }
    }

    /// The repository's clone URL.
    pub fn clone_url(self, repository: &str) -> String {
        let host = match self {
            Provider::GitHub => "github.com",
            Provider::GitLab => "gitlab.com",
            Provider::Bitbucket => "bitbucket.org",
        };
        format!("https://{host}/{repository}.git")
    }
}

fn text(r: &mut Reader<'_>, node: &Node, key: &str, what: &str) -> Option<String> {
    let value = node.get(key).and_then(|n| r.string(n, what))?;
    if value.trim().is_empty() {
        if let Some(n) = node.get(key) {
            r.error(n.span, format!("{what} is empty"), crate::diag::write::TEXT);
        }
        return None;
    }
    Some(value)
}

pub(super) fn read_source(node: &Node, r: &mut Reader<'_>) -> Option<Source> {
    if !r.keys(node, "source", FIELDS) {
        return None;
    }
    let entries = node.entries().unwrap_or_default();
    if entries.len() != 1 {
        r.error(
            node.span,
            format!(
                "source must name exactly one of {}",
                SOURCE_KINDS.join(", ")
            ),
            "for example `source: { codecommit: { repository: users, branch: main } }`",
        );
        return None;
    }
    let entry = &entries[0];
    let n = &entry.value;
    match entry.key.as_str() {
        "codestar" => {
            r.keys(n, "a codestar source", CODESTAR_FIELDS);
            let provider = match n.get("provider") {
                None => Provider::GitHub,
                Some(p) => {
                    let name = r.string(p, "provider")?;
                    let Some(provider) = Provider::from_name(&name) else {
                        r.error(
                            p.span,
                            format!("provider `{name}` is not one of {}", Provider::NAMES.join(", ")),
                            "name the host the connection reaches: github (the default), gitlab or bitbucket",
                        );
                        return None;
                    };
                    provider
                }
            };
            let connection = text(r, n, "connection", "connection")?;
            if !connection.starts_with("arn:")
                && let Some(c) = n.get("connection")
            {
                r.error(
                    c.span,
                    format!("connection `{connection}` is not an ARN"),
                    "copy the connection's ARN from the console (arn:aws:codestar-connections:... or arn:aws:codeconnections:...)",
                );
                return None;
            }
            let repository = text(r, n, "repository", "repository")?;
            if !repository.contains('/')
                && let Some(c) = n.get("repository")
            {
                r.error(
                    c.span,
                    format!("repository `{repository}` is not `owner/name`"),
                    "write the full repository id, for example `acme/users`",
                );
                return None;
            }
            Some(Source::CodeStar {
                connection,
                repository,
                branch: text(r, n, "branch", "branch")?,
                provider,
            })
        }
        "codecommit" => {
            r.keys(n, "a codecommit source", CODECOMMIT_FIELDS);
            Some(Source::CodeCommit {
                repository: text(r, n, "repository", "repository")?,
                branch: text(r, n, "branch", "branch")?,
            })
        }
        _ => {
            r.keys(n, "an s3 source", S3_FIELDS);
            Some(Source::S3 {
                bucket: text(r, n, "bucket", "bucket")?,
                key: text(r, n, "key", "key")?,
            })
        }
    }
}
