//! Output writes: what `write_atomic` does with each kind of target (regular file, new file, symbolic link,
//! FIFO, character device, directory, read-only file), same-file checks, and stale temporary files.

#![allow(clippy::unwrap_used)] // Tests assert by unwrapping.

use std::path::Path;

use tessera_tensor::{Error, OutputProblem, check_output, write_atomic, write_atomic_with};

fn write_text(path: &Path, text: &str) -> tessera_tensor::Result<()> {
    write_atomic(path, |w| w.write_all(text.as_bytes()))
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tessera-"))
        .collect()
}

#[test]
fn replaces_a_regular_file_and_keeps_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, "old").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    write_text(&path, "new").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, "old").unwrap();
    let err = write_atomic(&path, |w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn follows_a_symlink_and_replaces_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.csv");
    let link = dir.path().join("link.csv");
    std::fs::write(&target, "old").unwrap();
    std::os::unix::fs::symlink("real.csv", &link).unwrap();
    write_text(&link, "new").unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
    // A dangling link creates its target.
    let dangling = dir.path().join("dangling.csv");
    std::os::unix::fs::symlink("made.csv", &dangling).unwrap();
    write_text(&dangling, "made").unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("made.csv")).unwrap(), "made");
    // A loop is refused.
    let a = dir.path().join("loop_a");
    std::os::unix::fs::symlink("loop_b", &a).unwrap();
    std::os::unix::fs::symlink("loop_a", dir.path().join("loop_b")).unwrap();
    let err = write_text(&a, "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::SymlinkLoop, .. }), "{err}");
}

#[test]
fn writes_through_a_character_device() {
    write_text(Path::new("/dev/null"), "nothing").unwrap();
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
    // The path-based form copies through a temporary file elsewhere.
    write_atomic_with("/dev/null", |tmp| std::fs::write(tmp, b"bytes").map_err(|e| Error::io(tmp, e)))
        .unwrap();
    assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
}

use std::os::unix::fs::FileTypeExt;

#[test]
fn writes_through_a_fifo_to_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("f");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    write_text(&fifo, "through the pipe\n").unwrap();
    assert_eq!(reader.join().unwrap(), "through the pipe\n");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn refuses_directories_read_only_files_and_missing_directories() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let err = write_text(dir.path(), "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::Directory, .. }), "{err}");
    let err = write_text(Path::new("."), "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::Directory, .. }), "{err}");

    let keep = dir.path().join("keep.csv");
    std::fs::write(&keep, "protected").unwrap();
    std::fs::set_permissions(&keep, std::fs::Permissions::from_mode(0o444)).unwrap();
    let err = write_text(&keep, "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::ReadOnly, .. }), "{err}");
    assert!(err.to_string().contains("keep.csv"), "{err}");
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "protected");
    // check_output refuses it before any work is done.
    assert!(matches!(check_output(&keep, &[]), Err(Error::Output { .. })));

    let err = write_text(&dir.path().join("no/such/dir/out.csv"), "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::NoSuchDirectory, .. }), "{err}");
}

#[test]
fn refuses_a_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("s");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let err = write_text(&sock, "x").unwrap_err();
    assert!(matches!(err, Error::Output { problem: OutputProblem::Socket, .. }), "{err}");
}

#[test]
fn an_output_that_is_an_input_is_refused_however_spelt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("same.csv");
    std::fs::write(&data, "a\n1\n").unwrap();
    let other = dir.path().join("other.csv");
    std::fs::write(&other, "a\n1\n").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&data, &link).unwrap();
    let hard = dir.path().join("hard.csv");
    std::fs::hard_link(&data, &hard).unwrap();
    let dotted = dir.path().join(".").join("same.csv");
    for out in [&data, &link, &hard, &dotted] {
        let err = check_output(out, &[other.as_path(), data.as_path()]).unwrap_err();
        match err {
            Error::SameFile { output, input } => {
                assert_eq!(&output, out);
                assert_eq!(input, data);
            }
            e => panic!("{e}"),
        }
    }
    check_output(&other, &[data.as_path()]).unwrap();
    check_output(dir.path().join("new.csv"), &[data.as_path()]).unwrap();
    check_output("-", &[data.as_path()]).unwrap();
}

#[test]
fn stale_temporary_files_of_dead_processes_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    // Process ids never reach 999999999 on Linux (pid_max is at most 2^22).
    let stale = dir.path().join(".tessera-999999999-AbCdEf.tmp");
    let ours = dir.path().join(format!(".tessera-{}-live.tmp", std::process::id()));
    let foreign = dir.path().join(".tessera-notours.tmp");
    for p in [&stale, &ours, &foreign] {
        std::fs::write(p, "partial").unwrap();
    }
    write_text(&dir.path().join("out.csv"), "x").unwrap();
    assert!(!stale.exists());
    assert!(ours.exists() && foreign.exists());
}
