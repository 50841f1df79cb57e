//! Zipping, walking, building and the shipping checks.

use super::checks::handler_files;
use super::*;

#[test]
fn zipping_twice_gives_the_same_hash_and_ignores_caches() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("b.py"), "print('b')\n").unwrap();
    std::fs::create_dir(dir.path().join("pkg")).unwrap();
    std::fs::write(dir.path().join("pkg/a.py"), "x = 1\n").unwrap();
    std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
    std::fs::write(dir.path().join("__pycache__/b.pyc"), "junk").unwrap();
    let first = zip_dir(dir.path(), dir.path(), Rules::Project).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("b.py"), "print('b')\n").unwrap();
    let second = zip_dir(dir.path(), dir.path(), Rules::Project).unwrap();
    assert_eq!(first.names, ["b.py", "pkg/a.py"]);
    assert_eq!(
        crate::digest::sha256_hex(&first.bytes),
        crate::digest::sha256_hex(&second.bytes)
    );
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_project_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir(&code).unwrap();
    std::os::unix::fs::symlink("/etc", code.join("etc")).unwrap();
    let err = zip_dir(&code, dir.path(), Rules::Project).unwrap_err();
    assert!(err.to_string().contains("outside the project"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlink_loop_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let code = dir.path().join("code");
    std::fs::create_dir(&code).unwrap();
    std::os::unix::fs::symlink(&code, code.join("again")).unwrap();
    let err = zip_dir(&code, dir.path(), Rules::Project).unwrap_err();
    assert!(err.to_string().contains("loop"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_fifo_in_a_code_folder_is_refused_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), "x = 1\n").unwrap();
    let fifo = dir.path().join("pipe");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()));
    let err = zip_dir(dir.path(), dir.path(), Rules::Project).expect_err("refused");
    assert!(matches!(err, AssetError::NotRegular { .. }), "{err}");
    assert!(err.to_string().contains("pipe"), "{err}");
}

#[test]
fn code_over_lambdas_unzipped_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(dir.path().join("data.bin")).unwrap();
    // Sparse: nothing is written, and nothing must be read.
    big.set_len(MAX_UNZIPPED_BYTES + 1).unwrap();
    let err = zip_dir(dir.path(), dir.path(), Rules::Project).expect_err("refused");
    assert!(matches!(err, AssetError::TooLarge { .. }), "{err}");
}

#[test]
fn a_large_file_is_streamed_into_the_zip() {
    let dir = tempfile::tempdir().unwrap();
    let big = std::fs::File::create(dir.path().join("zeros.bin")).unwrap();
    big.set_len(64 << 20).unwrap();
    let zip = zip_dir(dir.path(), dir.path(), Rules::Project).unwrap();
    assert_eq!(zip.names, ["zeros.bin"]);
    assert!(zip.bytes.len() < 1 << 20, "{} bytes", zip.bytes.len());
}

#[test]
fn handler_modules_are_the_files_runtimes_load() {
    let py = handler_files("python3.13", "pkg.app.handler").unwrap();
    assert!(py.contains(&"pkg/app.py".to_string()), "{py:?}");
    let node = handler_files("nodejs22.x", "src/index.main").unwrap();
    assert!(node.contains(&"src/index.mjs".to_string()), "{node:?}");
    assert!(handler_files("java21", "a.B::handle").is_none());
    assert!(handler_files("provided.al2023", "bootstrap").is_none());
}

#[test]
fn ignore_files_keep_out_what_git_would_not_commit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join(".gitignore"), ".env\nvenv/\n").unwrap();
    let code = root.join("specs/api/code");
    std::fs::create_dir_all(code.join("venv/lib")).unwrap();
    std::fs::create_dir_all(code.join("tests")).unwrap();
    std::fs::write(code.join("app.py"), "x = 1\n").unwrap();
    std::fs::write(code.join(".env"), "TOKEN=1\n").unwrap();
    std::fs::write(code.join("venv/lib/dep.py"), "y = 2\n").unwrap();
    std::fs::write(code.join("tests/test_app.py"), "z = 3\n").unwrap();
    std::fs::write(code.join(IGNORE_FILE), "tests/\n").unwrap();
    let zip = zip_dir(&code, root, Rules::Project).unwrap();
    assert_eq!(zip.names, [".driftlessignore", "app.py"]);
    let everything = zip_dir(&code, root, Rules::Everything).unwrap();
    assert_eq!(everything.names.len(), 5, "{:?}", everything.names);
    let (files, folders) = kept_out_of(&code, root, &zip.kept_out);
    assert_eq!(files, 3);
    assert_eq!(folders, ["tests", "venv"]);
}

#[test]
fn a_link_into_the_projects_git_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/config"), "[http] extraheader = token\n").unwrap();
    let content = root.join("specs/site/public");
    std::fs::create_dir_all(&content).unwrap();
    std::os::unix::fs::symlink("../../../.git/config", content.join("config.txt")).unwrap();
    let err = collect(&content, root, Rules::Project).unwrap_err();
    assert!(matches!(err, AssetError::OutsideProject { .. }), "{err}");
}

#[test]
fn a_name_that_is_not_utf8_is_named_in_the_error() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let name = std::ffi::OsStr::from_bytes(b"bad-\xff.txt");
    if std::fs::write(dir.path().join(name), "x").is_err() {
        return; // a file system that refuses such names has none to ship
    }
    let err = collect(dir.path(), dir.path(), Rules::Project).unwrap_err();
    assert!(matches!(err, AssetError::NotUtf8 { .. }), "{err}");
    assert!(err.to_string().contains("bad-"), "{err}");
}
