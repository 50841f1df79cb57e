//! A gradual release's first stack update, worked out from the template
//! deployed and the one wanted: the new version is published while the
//! alias stays on the version it serves, with a share of the traffic on
//! the new one. The old version's resource stays in the template, so the
//! stack can go back to where it was; the update after the shift (the
//! template as rendered) moves all traffic and lets the old one go (its
//! resource is retained, the version stays in Lambda).

use crate::render::releases::Released;
use serde_json::{Value as Json, json};

/// One function whose new version is shifted gradually.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shift {
    pub function: Released,
    /// The version resource the alias serves now.
    pub from_id: String,
}

/// The version resource an alias of `template` serves.
fn served_by(template: &Json, alias_id: &str) -> Option<String> {
    let version = template.pointer(&format!("/Resources/{alias_id}/Properties/FunctionVersion"))?;
    version
        .get("Fn::GetAtt")
        .and_then(Json::as_array)
        .and_then(|parts| parts.first())
        .and_then(Json::as_str)
        .map(str::to_string)
}

/// The functions of `released` whose version changes between `deployed`
/// and `desired` and that are released gradually. A function new to the
/// stack, or not yet behind its alias, gets all the traffic at once.
pub fn shifts(released: &[Released], deployed: &Json, desired: &Json) -> Vec<Shift> {
    released
        .iter()
        .filter(|f| f.strategy.gradual())
        .filter_map(|f| {
            let from_id = served_by(deployed, &f.alias_id)?;
            let to_id = served_by(desired, &f.alias_id)?;
            (from_id != to_id && deployed.pointer(&format!("/Resources/{from_id}")).is_some()).then(
                || Shift {
                    function: f.clone(),
                    from_id,
                },
            )
        })
        .collect()
}

/// The template of the first update: `desired`, with each shifted
/// function's old version kept and its alias on it, the first step's
/// share of the traffic on the new version.
pub fn first_update(desired: &Json, deployed: &Json, shifts: &[Shift]) -> Json {
    let mut template = desired.clone();
    for shift in shifts {
        let f = &shift.function;
        let weight = f.strategy.steps().first().map_or(1.0, |(w, _)| *w);
        let Some(old) = deployed.pointer(&format!("/Resources/{}", shift.from_id)) else {
            continue;
        };
        if let Some(resources) = template.get_mut("Resources").and_then(Json::as_object_mut) {
            resources.insert(shift.from_id.clone(), old.clone());
        }
        if let Some(alias) = template.pointer_mut(&format!("/Resources/{}/Properties", f.alias_id))
            && let Some(properties) = alias.as_object_mut()
        {
            properties.insert(
                "FunctionVersion".into(),
                json!({ "Fn::GetAtt": [shift.from_id, "Version"] }),
            );
            properties.insert(
                "RoutingConfig".into(),
                json!({ "AdditionalVersionWeights": [{
                    "FunctionVersion": { "Fn::GetAtt": [f.version_id, "Version"] },
                    "FunctionWeight": weight,
                }] }),
            );
        }
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::releases::{Releases, Strategy};

    fn rendered(code: &str, strategy: Strategy) -> (Json, Vec<Released>) {
        let mut t = json!({ "Resources": {
            "Fn": { "Type": "AWS::Lambda::Function", "Properties": { "Code": { "ZipFile": code } } },
            "Permission": { "Type": "AWS::Lambda::Permission", "Properties": { "FunctionName": { "Ref": "Fn" } } }
        }});
        let releases = Releases {
            strategy,
            alias: "live".into(),
            functions: Vec::new(),
            verify: None,
            alarms: Vec::new(),
            span: Default::default(),
        };
        let released = crate::render::releases::put_behind_aliases(
            &mut t,
            &[("Fn".into(), "api.handler".into())],
            &releases,
        );
        (t, released)
    }

    #[test]
    fn the_first_update_keeps_the_old_version_serving_and_weighs_the_new_one() {
        let canary = Strategy::parse("canary 10% 1m").expect("canary");
        let (deployed, old) = rendered("one", canary);
        let (desired, new) = rendered("two", canary);
        let shifts = shifts(&new, &deployed, &desired);
        assert_eq!(shifts.len(), 1);
        assert_eq!(shifts[0].from_id, old[0].version_id);
        let first = first_update(&desired, &deployed, &shifts);
        let r = &first["Resources"];
        assert_eq!(
            r[&old[0].version_id], deployed["Resources"][&old[0].version_id],
            "kept as it was"
        );
        assert_eq!(
            r[&new[0].version_id]["Type"], "AWS::Lambda::Version",
            "published"
        );
        let alias = &r["FnAlias"]["Properties"];
        assert_eq!(
            alias["FunctionVersion"],
            json!({ "Fn::GetAtt": [old[0].version_id, "Version"] })
        );
        assert_eq!(
            alias["RoutingConfig"]["AdditionalVersionWeights"][0]["FunctionWeight"],
            0.1
        );
    }

    #[test]
    fn nothing_shifts_without_a_new_version_a_gradual_strategy_or_an_alias_before() {
        let canary = Strategy::parse("canary 10% 1m").expect("canary");
        let (deployed, _) = rendered("one", canary);
        let (same, released) = rendered("one", canary);
        assert!(
            shifts(&released, &deployed, &same).is_empty(),
            "no new version"
        );
        let (desired, all_at_once) = rendered("two", Strategy::AllAtOnce);
        assert!(
            shifts(&all_at_once, &deployed, &desired).is_empty(),
            "all at once"
        );
        let bare = json!({ "Resources": { "Fn": { "Type": "AWS::Lambda::Function" } } });
        let (desired, released) = rendered("two", canary);
        assert!(
            shifts(&released, &bare, &desired).is_empty(),
            "first release"
        );
    }
}
