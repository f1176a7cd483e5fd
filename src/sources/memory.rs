//! Workspace memory files: `<workspace>/MEMORY.md` (also `memory.md`) and `<workspace>/memory/*.md`.
//! Only names found by listing are ever opened, so a name from a URL cannot walk the disk.

use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemoryFile {
    pub agent: String,
    /// Path relative to the workspace, e.g. `memory/2026-11-24.md`.
    pub name: String,
    pub size: u64,
    pub modified_ms: Option<i64>,
    #[serde(skip)]
    pub path: PathBuf,
}

/// Lists the memory files of one workspace.
pub fn list(agent: &str, workspace: &Path) -> Vec<MemoryFile> {
    let mut out = Vec::new();
    let mut add = |name: String, path: PathBuf| {
        let Ok(md) = std::fs::symlink_metadata(&path) else { return };
        if !md.is_file() {
            return; // symlinks and dirs are not followed
        }
        let modified_ms =
            md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_millis() as i64);
        out.push(MemoryFile { agent: agent.to_string(), name, size: md.len(), modified_ms, path });
    };
    for top in ["MEMORY.md", "memory.md", "USER.md"] {
        add(top.to_string(), workspace.join(top));
    }
    if let Ok(rd) = std::fs::read_dir(workspace.join("memory")) {
        let mut names: Vec<String> = rd
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|n| n.ends_with(".md"))
            .collect();
        names.sort();
        names.reverse(); // dated notes: newest first
        for n in names {
            add(format!("memory/{n}"), workspace.join("memory").join(&n));
        }
    }
    out
}

/// One listed file's bytes, through `open_file` (a file swapped for a symlink since it was listed
/// is an error, not the link's target).
pub fn read(f: &MemoryFile) -> std::io::Result<Vec<u8>> {
    let mut b = Vec::new();
    std::io::Read::read_to_end(&mut super::open_file(&f.path)?, &mut b)?;
    Ok(b)
}
