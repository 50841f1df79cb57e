//! The spec loader and reference resolver on arbitrary input: the bytes
//! become a unit file and an environment file (split at the first NUL), and
//! the whole project is validated and rendered. Any panic is a bug; every
//! input must end in a result or in diagnostics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn project() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = std::env::temp_dir().join(format!("driftless-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(root.join("specs/fuzz")).expect("project folder");
        std::fs::create_dir_all(root.join("environments")).expect("environments folder");
        root
    })
}

fuzz_target!(|data: &[u8]| {
    let (unit, environment) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let root = project();
    if std::fs::write(root.join("specs/fuzz/unit.yaml"), unit).is_err()
        || std::fs::write(root.join("environments/dev.yaml"), environment).is_err()
    {
        return;
    }
    if let Ok(text) = std::str::from_utf8(unit) {
        let _ = driftless::spec::reference::parse(text);
    }
    let _ = driftless::load::validate_project(root);
});
