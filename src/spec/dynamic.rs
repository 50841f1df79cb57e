//! CloudFormation's dynamic references, `{{resolve:SERVICE:KEY}}`, checked
//! where they are written: a service CloudFormation has (`ssm`,
//! `ssm-secure`, `secretsmanager`), a key that names something, and, where
//! nothing substitutes `${...}` (an environment's param values), no
//! reference that would reach CloudFormation as written.

/// What CloudFormation would refuse or read other than meant in `text`:
/// (the message, what to do). `substituted` says whether `${...}` in
/// `text` is replaced before CloudFormation reads it.
pub fn problem(text: &str, substituted: bool) -> Option<(String, String)> {
    let mut rest = text;
    while let Some(start) = rest.find("{{resolve:") {
        let after = &rest[start + "{{resolve:".len()..];
        let Some(end) = closing(after) else {
            return Some((
                format!(
                    "`{}` opens a dynamic reference it never closes",
                    clip(&rest[start..])
                ),
                "end it with `}}`: `{{resolve:secretsmanager:NAME}}`".into(),
            ));
        };
        let body = &after[..end];
        if let Some(why) = body_problem(body, substituted) {
            return Some(why);
        }
        rest = &after[end + 2..];
    }
    None
}

/// Where the `}}` that closes a dynamic reference is, past any `${...}`.
fn closing(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 1 < bytes.len() {
        match (bytes[i], bytes[i + 1]) {
            (b'$', b'{') => i += text[i..].find('}')? + 1,
            (b'}', b'}') => return Some(i),
            _ => i += 1,
        }
    }
    None
}

fn clip(text: &str) -> String {
    text.chars().take(60).collect()
}

fn body_problem(body: &str, substituted: bool) -> Option<(String, String)> {
    let shown = format!("{{{{resolve:{body}}}}}");
    let (service, key) = body.split_once(':').unwrap_or((body, ""));
    let help = "write `{{resolve:secretsmanager:NAME-OR-ARN}}`, `{{resolve:ssm:NAME}}` or `{{resolve:ssm-secure:NAME}}`";
    if !matches!(service, "ssm" | "ssm-secure" | "secretsmanager") {
        return Some((
            format!("`{shown}`: CloudFormation has no dynamic references to `{service}`"),
            help.into(),
        ));
    }
    if body.contains("${") && !substituted {
        return Some((
            format!("`{shown}`: nothing substitutes `${{...}}` here; CloudFormation would read it as written"),
            "write the literal name or ARN here, or put the reference in the unit's field, where `${...}` is substituted".into(),
        ));
    }
    let name = key.split(':').next().unwrap_or_default();
    if name.trim().is_empty() {
        return Some((
            format!(
                "`{shown}` names no {}",
                match service {
                    "secretsmanager" => "secret",
                    _ => "parameter",
                }
            ),
            help.into(),
        ));
    }
    if service != "secretsmanager"
        && let Some(version) = key.split(':').nth(1)
        && !version.is_empty()
        && !version.bytes().all(|b| b.is_ascii_digit())
    {
        return Some((
            format!("`{shown}`: the parameter's version `{version}` is not a number"),
            "write `{{resolve:ssm:NAME:3}}` for version 3, or leave the version out".into(),
        ));
    }
    // A secret's ARN holds six colons of its own: what follows it counts.
    let after_id = match key.starts_with("arn:") {
        true => key.splitn(8, ':').nth(7).unwrap_or_default(),
        false => key.split_once(':').map_or("", |(_, rest)| rest),
    };
    if service == "secretsmanager"
        && let Some(kind) = after_id.split(':').next()
        && !kind.is_empty()
        && kind != "SecretString"
    {
        return Some((
            format!("`{shown}`: `{kind}` where CloudFormation wants `SecretString` (or nothing)"),
            "write `{{resolve:secretsmanager:NAME:SecretString:KEY}}`, or `{{resolve:secretsmanager:NAME::KEY}}`".into(),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_cloudformation_takes_pass() {
        for good in [
            "{{resolve:secretsmanager:prod/db}}",
            "{{resolve:secretsmanager:arn:aws:secretsmanager:eu-west-1:1:secret:x}}",
            "{{resolve:secretsmanager:prod/db:SecretString:password}}",
            "{{resolve:secretsmanager:prod/db::password}}",
            "{{resolve:ssm:/app/flag}}",
            "{{resolve:ssm:/app/flag:3}}",
            "{{resolve:ssm-secure:/app/token}}",
            "postgres://u:{{resolve:ssm-secure:pw}}@host/db",
            "no reference",
        ] {
            assert_eq!(problem(good, false), None, "{good}");
        }
        assert_eq!(
            problem("{{resolve:secretsmanager:${db.secret}}}", true),
            None
        );
    }

    #[test]
    fn references_cloudformation_refuses_or_misreads_are_named() {
        for bad in [
            "{{resolve:secretsmanager:}}",
            "{{resolve:ssm:}}",
            "{{resolve:vault:x}}",
            "{{resolve:ssm:/a:latest}}",
            "{{resolve:secretsmanager:x:SecretBinary}}",
            "{{resolve:secretsmanager:x",
            "{{resolve:secretsmanager:${db.secret}}}",
        ] {
            assert!(problem(bad, false).is_some(), "{bad}");
        }
    }
}
