//! Names the build for `driftless --version`: the git commit it was built
//! from and the date it was built (`SOURCE_DATE_EPOCH`, when set, for a
//! reproducible build). `DRIFTLESS_COMMIT` names the commit where there is
//! no .git (a container build); outside git otherwise it is `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn main() {
    // A build without .git (a container's build stage) is told the commit.
    let commit = std::env::var("DRIFTLESS_COMMIT")
        .ok()
        .filter(|c| !c.is_empty() && c != "unknown")
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let date = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(epoch) => Command::new("date")
            .args(["-u", "-d", &format!("@{epoch}"), "+%Y-%m-%d"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Err(_) => Command::new("date")
            .args(["-u", "+%Y-%m-%d"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
    }
    .filter(|d| !d.is_empty())
    .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=DRIFTLESS_COMMIT={commit}");
    println!("cargo:rustc-env=DRIFTLESS_BUILD_DATE={date}");
    // A new commit (or a checkout of another) names the build anew.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-env-changed=DRIFTLESS_COMMIT");
}
