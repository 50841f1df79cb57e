//! The account guard: mutate only the account and region the environment
//! names.

use crate::spec::Target;

/// Refuses when the caller's account or the client's region differs from
/// the target's; the message shows both values. A local target has no
/// account to check.
pub fn check(target: &Target, caller_account: &str, region: &str) -> Result<(), String> {
    let Target::Aws {
        account,
        region: wanted,
        ..
    } = target
    else {
        return Ok(());
    };
    let mut wrong = Vec::new();
    if account != caller_account {
        wrong.push(format!(
            "the credentials act in account {caller_account}, the environment targets account {account}"
        ));
    }
    if wanted != region {
        wrong.push(format!(
            "the region is {region}, the environment targets {wanted}"
        ));
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "refusing to change anything: {}. Use credentials for the right account (AWS_PROFILE, or `profile:` in the target)",
            wrong.join("; ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws() -> Target {
        Target::Aws {
            region: "eu-west-1".into(),
            account: "222222222222".into(),
            profile: None,
            role: None,
        }
    }

    #[test]
    fn the_right_account_and_region_pass() {
        assert_eq!(check(&aws(), "222222222222", "eu-west-1"), Ok(()));
    }

    #[test]
    fn a_wrong_account_shows_both_values() {
        let message = check(&aws(), "111111111111", "eu-west-1").unwrap_err();
        assert!(message.contains("account 111111111111"), "{message}");
        assert!(message.contains("account 222222222222"), "{message}");
    }

    #[test]
    fn a_wrong_region_shows_both_values() {
        let message = check(&aws(), "222222222222", "us-east-1").unwrap_err();
        assert!(message.contains("us-east-1") && message.contains("eu-west-1"));
    }

    #[test]
    fn a_local_target_is_not_checked() {
        let local = Target::Local {
            region: "us-east-1".into(),
        };
        assert_eq!(check(&local, "000000000000", "us-east-1"), Ok(()));
    }
}
