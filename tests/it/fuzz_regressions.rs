//! Every committed fuzz input through the fuzz targets' own bodies (`clawmetry::fuzz_entry`),
//! without cargo-fuzz: the seeds (`fuzz/seeds/<target>/`) and the inputs that once crashed a
//! target or are nasty in a way worth keeping (`fuzz/regressions/<target>/`, README there).
//! A panic fails the test naming the files; an abort or a stack overflow kills the test binary
//! (`it`, with every other integration test in it), which fails the run too.

use std::path::{Path, PathBuf};

/// The files of `fuzz/<kind>/<target>/`, sorted; a missing folder is a failure, not an empty
/// list, so a renamed target cannot pass by testing nothing.
fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(kind).join(target);
    let rd = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut out: Vec<PathBuf> = rd.map(|e| e.expect("directory entry").path()).filter(|p| p.is_file()).collect();
    out.sort();
    assert!(!out.is_empty(), "{} has no inputs", dir.display());
    out
}

fn check(target: &str) {
    let mut inputs = files("seeds", target);
    inputs.extend(files("regressions", target));
    let mut failed = Vec::new();
    for path in &inputs {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let ran = std::panic::catch_unwind(|| clawmetry::fuzz_entry::run(target, &data));
        match ran {
            Ok(true) => {}
            Ok(false) => panic!("no fuzz target called {target} in clawmetry::fuzz_entry"),
            Err(_) => failed.push(path.display().to_string()),
        }
    }
    assert!(failed.is_empty(), "{target}: {} of {} inputs panicked: {failed:?}", failed.len(), inputs.len());
}

#[test]
fn transcript_inputs() {
    check("transcript");
}

#[test]
fn json5_inputs() {
    check("json5");
}

#[test]
fn otlp_inputs() {
    check("otlp");
}

/// One test for the three targets that share the router's temp dir, so its temp dir can go after both.
#[test]
fn router_and_http_inputs() {
    check("router");
    check("http");
    check("query");
    let _ = std::fs::remove_dir_all(clawmetry::fuzz_entry::router_dir());
}

/// The test list above and the targets cargo-fuzz builds stay the same.
#[test]
fn every_target_is_tested() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"))
        .expect("fuzz/Cargo.toml");
    let bins: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name = \"")?.strip_suffix('"'))
        .filter(|n| *n != "clawmetry-fuzz")
        .collect();
    assert_eq!(bins, clawmetry::fuzz_entry::TARGETS, "fuzz/Cargo.toml [[bin]] names");
}
