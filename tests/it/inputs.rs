//! Input taken as written: what a file says is what deploys.

use super::support::reference_copy;
use driftless::load::load_environment;

fn function_environment(project: &std::path::Path) -> serde_json::Value {
    let (_, rendered, _) = load_environment(project, "dev").expect("renders");
    rendered
        .stacks
        .iter()
        .filter_map(|s| serde_json::from_str::<serde_json::Value>(&s.template).ok())
        .find_map(|t| {
            t["Resources"]
                .as_object()?
                .values()
                .find(|r| r["Type"] == "AWS::Lambda::Function")
                .map(|f| f["Properties"]["Environment"]["Variables"].clone())
        })
        .expect("a function with variables")
}

#[test]
fn environment_values_and_keys_are_the_text_written_not_its_numeric_reading() {
    let project = reference_copy();
    let unit = project.path().join("specs/api/unit.yaml");
    let text = std::fs::read_to_string(&unit).unwrap().replace(
        "      DYNAMODB_TABLE_NAME: ${database.table_name}\n",
        "      DYNAMODB_TABLE_NAME: ${database.table_name}\n      ACCOUNT: 012345678901\n      VERSION: 1.10\n      MASK: 0x10\n      DEBUG: True\n      RATIO: 1e3\n",
    );
    std::fs::write(&unit, text).unwrap();
    let variables = function_environment(project.path());
    assert_eq!(variables["ACCOUNT"], "012345678901");
    assert_eq!(variables["VERSION"], "1.10");
    assert_eq!(variables["MASK"], "0x10");
    assert_eq!(variables["DEBUG"], "True");
    assert_eq!(variables["RATIO"], "1e3");
}
