//! Which pushes wake the reconcile loop. A verified hook wakes it only for
//! news: a push (not a ping or a pull request), to the branch followed,
//! of a commit not already applied or being applied. A burst of hooks
//! for one push therefore starts one tick, not one each.

use std::collections::BTreeSet;

/// What becomes of a verified hook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hook {
    /// News: the loop fetches now.
    Wake,
    /// Nothing to fetch for, and why.
    Ignore(String),
}

/// The event a forge says a hook is: GitHub's `X-GitHub-Event`, Gitea's
/// and Forgejo's `X-Gitea-Event`, GitLab's `X-Gitlab-Event`.
fn event_of(headers: &hyper::HeaderMap) -> Option<String> {
    ["x-github-event", "x-gitea-event", "x-gitlab-event"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase())
}

/// Decides on a verified hook: `branch` is the branch followed (None: the
/// project's own work tree, any push is news), `current` the commits the
/// environments are at or being brought to.
pub fn decide(
    headers: &hyper::HeaderMap,
    body: &[u8],
    branch: Option<&str>,
    current: &BTreeSet<String>,
) -> Hook {
    match event_of(headers).as_deref() {
        // A forge that names no event: read the body alone.
        None | Some("push") | Some("push hook") => {}
        Some(other) => return Hook::Ignore(format!("a {other} event, not a push")),
    }
    let Ok(push) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Hook::Wake;
    };
    if let (Some(branch), Some(pushed)) = (branch, push["ref"].as_str())
        && pushed != format!("refs/heads/{branch}")
    {
        return Hook::Ignore(format!("a push to {pushed}, not to {branch}"));
    }
    match push["after"].as_str() {
        Some(after) if !current.is_empty() && current.iter().all(|c| c == after) => {
            Hook::Ignore(format!("{after} is applied or being applied already"))
        }
        _ => Hook::Wake,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(event: &str) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        h.insert("x-github-event", event.parse().unwrap());
        h
    }

    fn push(reference: &str, after: &str) -> Vec<u8> {
        serde_json::json!({ "ref": reference, "after": after })
            .to_string()
            .into_bytes()
    }

    #[test]
    fn a_push_of_news_to_the_branch_wakes_the_loop() {
        let current = BTreeSet::from(["aaa".to_string()]);
        assert_eq!(
            decide(
                &headers("push"),
                &push("refs/heads/main", "bbb"),
                Some("main"),
                &current
            ),
            Hook::Wake
        );
    }

    #[test]
    fn a_commit_already_applied_another_branch_or_another_event_does_not() {
        let current = BTreeSet::from(["aaa".to_string()]);
        let again = decide(
            &headers("push"),
            &push("refs/heads/main", "aaa"),
            Some("main"),
            &current,
        );
        assert!(
            matches!(again, Hook::Ignore(ref why) if why.contains("already")),
            "{again:?}"
        );
        let other = decide(
            &headers("push"),
            &push("refs/heads/dev", "bbb"),
            Some("main"),
            &current,
        );
        assert!(
            matches!(other, Hook::Ignore(ref why) if why.contains("refs/heads/dev")),
            "{other:?}"
        );
        let ping = decide(&headers("ping"), b"{}", Some("main"), &current);
        assert!(
            matches!(ping, Hook::Ignore(ref why) if why.contains("ping")),
            "{ping:?}"
        );
        let pr = decide(
            &headers("pull_request"),
            &push("refs/heads/main", "bbb"),
            Some("main"),
            &current,
        );
        assert!(matches!(pr, Hook::Ignore(_)));
    }

    #[test]
    fn one_environment_behind_is_news_and_so_is_a_body_that_says_nothing() {
        let current = BTreeSet::from(["aaa".to_string(), "zzz".to_string()]);
        assert_eq!(
            decide(
                &headers("push"),
                &push("refs/heads/main", "aaa"),
                Some("main"),
                &current
            ),
            Hook::Wake
        );
        assert_eq!(
            decide(
                &hyper::HeaderMap::new(),
                b"not json",
                Some("main"),
                &BTreeSet::new()
            ),
            Hook::Wake
        );
        // GitLab names its pushes its own way.
        let mut gitlab = hyper::HeaderMap::new();
        gitlab.insert("x-gitlab-event", "Push Hook".parse().unwrap());
        assert_eq!(
            decide(
                &gitlab,
                &push("refs/heads/main", "bbb"),
                Some("main"),
                &BTreeSet::from(["aaa".to_string()])
            ),
            Hook::Wake
        );
    }
}
