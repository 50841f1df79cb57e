//! Headless Chromium (Debian's chromium and chromium-driver, installed by
//! `.ci/run`) driven through Selenium in the tests' venv. Without them a
//! browser test is skipped with its reason, and fails under `CI=true`.

/// Where the tests save their screenshots.
pub fn screenshots() -> std::path::PathBuf {
    let dir = super::support::repo_root().join("target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshots folder");
    dir
}

/// One headless Chromium session driven by `tests/browser/driver.py`.
pub struct Browser {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Browser {
    /// A session, or `None` (saying why) where the machine has no Chromium
    /// and this is not CI.
    pub fn start() -> Option<Browser> {
        if !super::tools::system_tool(
            &["/usr/bin/chromium", "/usr/bin/chromedriver"],
            "this browser test (Debian: apt-get install chromium chromium-driver)",
        ) {
            return None;
        }
        let python = super::tools::python();
        let mut child = std::process::Command::new(python)
            .arg(super::support::repo_root().join("tests/browser/driver.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the browser driver starts");
        let input = child.stdin.take().expect("stdin");
        let output = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        Some(Browser {
            child,
            input,
            output,
        })
    }

    /// Sends one command; panics with the driver's answer unless `ok`.
    pub fn run(&mut self, command: &str) {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{command}").expect("send");
        self.input.flush().expect("flush");
        let mut answer = String::new();
        self.output.read_line(&mut answer).expect("answer");
        assert_eq!(answer.trim(), "ok", "{command}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
