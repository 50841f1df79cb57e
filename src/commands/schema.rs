//! `driftless schema`: the JSON Schemas editors validate the files with.

use crate::manual::{Document, schema};
use std::path::Path;

/// Prints one schema, or writes all three to `out`.
pub fn write(which: Option<&str>, out: Option<&Path>) -> Result<(), String> {
    let text = |document| {
        serde_json::to_string_pretty(&schema(document))
            .map(|t| t + "\n")
            .map_err(|e| format!("the schema was not written: {e}"))
    };
    let Some(dir) = out else {
        let document = which.and_then(Document::from_name).ok_or_else(|| {
            "name a schema (unit, environment or pipeline), or write all with `--out DIR`"
                .to_string()
        })?;
        print!("{}", text(document)?);
        return Ok(());
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| format!("{} could not be created: {e}", dir.display()))?;
    let documents: Vec<Document> = match which.and_then(Document::from_name) {
        Some(one) => vec![one],
        None => Document::ALL.to_vec(),
    };
    for document in documents {
        let path = dir.join(document.schema_file());
        std::fs::write(&path, text(document)?)
            .map_err(|e| format!("{} could not be written: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
