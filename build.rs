//! Build script: records what `clawmetry --version` prints besides the version.
//!
//! * `CLAWMETRY_TARGET`: the target triple the binary was compiled for.
//! * `CLAWMETRY_GIT_COMMIT`: the short commit of the source tree, or `unknown` when git or the
//!   repository is missing (a source tarball, a vendored copy). Packagers can set
//!   `CLAWMETRY_GIT_COMMIT` in the environment to override it.
//!
//! It never fails the build.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CLAWMETRY_GIT_COMMIT");

    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=CLAWMETRY_TARGET={target}");

    let commit = match std::env::var("CLAWMETRY_GIT_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => {
            let commit = git(&["rev-parse", "--short=7", "HEAD"]);
            if commit.is_some() {
                // Rebuild when HEAD moves: HEAD itself (checkout), the branch it points to
                // (commit) and packed-refs (gc). Only existing paths: a missing one would make
                // cargo rerun this script on every build.
                let mut watch = vec!["HEAD".to_string(), "packed-refs".to_string()];
                if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    watch.push(r);
                }
                for w in watch {
                    // --path-format needs git 2.31; older ones print a path relative to the
                    // package root, which is also what cargo resolves relative paths against.
                    let p = git(&["rev-parse", "--path-format=absolute", "--git-path", &w])
                        .or_else(|| git(&["rev-parse", "--git-path", &w]));
                    if let Some(p) = p {
                        if PathBuf::from(&p).exists() {
                            println!("cargo:rerun-if-changed={p}");
                        }
                    }
                }
            }
            commit.unwrap_or_else(|| "unknown".into())
        }
    };
    println!("cargo:rustc-env=CLAWMETRY_GIT_COMMIT={commit}");
}
