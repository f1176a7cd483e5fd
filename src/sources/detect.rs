//! Finds the OpenClaw installation: the state dir, its config, its agents and their stores.
//!
//! Pure look-up: it reads the config and lists directories, and never writes. A missing
//! installation is a normal result (`found: false`), not an error: the watcher calls
//! [`detect`] again until one appears.

use crate::cli::Config;
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One agent and where its data lives.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    /// The agent id; for an agent of another OpenClaw profile `<profile>/<agent>`, so that the
    /// `main` agents of two profiles stay apart everywhere (usage by agent, budgets, filters).
    pub id: String,
    /// The OpenClaw profile (`~/.openclaw-<profile>`, `openclaw --profile NAME`) it belongs to;
    /// `default` for `~/.openclaw`.
    pub profile: String,
    /// Legacy store: `agents/<id>/sessions/` with `*.jsonl` and `sessions.json`.
    pub sessions_dir: PathBuf,
    /// Current store (2026.7+): `agents/<id>/agent/openclaw-agent.sqlite`.
    pub db_path: PathBuf,
    pub workspace: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Install {
    pub state_dir: PathBuf,
    pub found: bool,
    /// Which rule chose the state dir, for /api/health and the log.
    pub chosen_by: String,
    pub config_path: Option<PathBuf>,
    pub config_error: Option<String>,
    #[serde(skip)]
    pub config: Option<Value>,
    pub gateway_port: u16,
    #[serde(skip)]
    pub gateway_token: Option<String>,
    pub agents: Vec<Agent>,
    /// `state/openclaw.sqlite` (crons, sub-agent runs), when present.
    pub state_db: Option<PathBuf>,
    /// Where gateway logs are: a configured file, or dated files in a dir.
    pub log_file: Option<PathBuf>,
    pub log_dirs: Vec<PathBuf>,
    /// Legacy file-era stores of sub-agent runs and crons.
    pub subagent_runs_file: Option<PathBuf>,
    pub cron_jobs_file: Option<PathBuf>,
    /// The primary installation's profile name, and the other profiles whose transcripts are
    /// indexed too (their agents are in `agents`, named `<profile>/<agent>`).
    pub profile: String,
    pub other_profiles: Vec<Profile>,
}

/// Another OpenClaw profile found beside the primary installation.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub name: String,
    pub state_dir: PathBuf,
    pub found: bool,
    pub agents: usize,
    pub config_error: Option<String>,
}

/// A profile's name from its state dir: `~/.openclaw-work` is `work`, `~/.openclaw` is `default`.
pub fn profile_name(dir: &Path) -> String {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match name {
        ".openclaw" | ".clawdbot" | ".moltbot" | "" => "default".into(),
        _ => name
            .strip_prefix(".openclaw-")
            .map(str::to_string)
            .unwrap_or_else(|| name.trim_start_matches('.').to_string()),
    }
}

/// The other profiles: each further `--openclaw-dir`, else every `~/.openclaw-<name>` (and
/// `~/.openclaw`) that is not the primary installation.
fn other_profile_dirs(cfg: &Config, primary: &Path) -> Vec<PathBuf> {
    let same = |a: &Path, b: &Path| {
        a == b || (a.canonicalize().ok().is_some() && a.canonicalize().ok() == b.canonicalize().ok())
    };
    let mut out: Vec<PathBuf> = Vec::new();
    if cfg.openclaw_dir.is_some() {
        out.extend(cfg.more_openclaw_dirs.iter().cloned());
    } else if let Some(h) = home() {
        let mut found: Vec<PathBuf> = std::fs::read_dir(&h)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .filter(|e| e.file_name().to_str().is_some_and(|n| n == ".openclaw" || n.starts_with(".openclaw-")))
                    .map(|e| e.path())
                    .filter(|p| looks_like_state_dir(p))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        out.extend(found);
    }
    out.retain(|d| !same(d, primary));
    out.dedup();
    out
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// The candidate state dirs, in the order they are tried, with the rule that names each.
pub fn candidates(cfg: &Config) -> Vec<(PathBuf, String)> {
    let mut c = Vec::new();
    if let Some(d) = &cfg.openclaw_dir {
        c.push((d.clone(), "--openclaw-dir".to_string()));
        return c;
    }
    if let Some(d) = std::env::var_os("OPENCLAW_STATE_DIR").filter(|v| !v.is_empty()) {
        c.push((PathBuf::from(d), "$OPENCLAW_STATE_DIR".into()));
    }
    if let Some(d) = std::env::var_os("OPENCLAW_HOME").filter(|v| !v.is_empty()) {
        let d = PathBuf::from(d);
        c.push((d.join(".openclaw"), "$OPENCLAW_HOME/.openclaw".into()));
        c.push((d, "$OPENCLAW_HOME".into()));
    }
    if let Some(h) = home() {
        for name in [".openclaw", ".clawdbot", ".moltbot"] {
            c.push((h.join(name), format!("~/{name}")));
        }
    }
    c
}

fn looks_like_state_dir(d: &Path) -> bool {
    ["openclaw.json", "clawdbot.json", "moltbot.json", "agents", "state"].iter().any(|n| d.join(n).exists())
}

/// Finds the installation now.
pub fn detect(cfg: &Config) -> Install {
    let cands = candidates(cfg);
    let (state_dir, chosen_by, found) = match cands.iter().find(|(d, _)| looks_like_state_dir(d)) {
        Some((d, why)) => (d.clone(), why.clone(), true),
        None => {
            let (d, why) = cands.first().cloned().unwrap_or_else(|| (PathBuf::from(".openclaw"), "no $HOME".into()));
            (d, why, false)
        }
    };
    let mut install = Install {
        state_dir: state_dir.clone(),
        found,
        chosen_by,
        config_path: None,
        config_error: None,
        config: None,
        gateway_port: 18789,
        gateway_token: None,
        agents: Vec::new(),
        state_db: None,
        log_file: None,
        log_dirs: Vec::new(),
        subagent_runs_file: None,
        cron_jobs_file: None,
        profile: profile_name(&state_dir),
        other_profiles: Vec::new(),
    };
    let config_path = std::env::var_os("OPENCLAW_CONFIG_PATH")
        .filter(|_| cfg.openclaw_dir.is_none())
        .map(PathBuf::from)
        .into_iter()
        .chain(["openclaw.json", "clawdbot.json", "moltbot.json"].iter().map(|n| state_dir.join(n)))
        .find(|p| p.is_file());
    if let Some(p) = &config_path {
        match std::fs::read_to_string(p).map_err(|e| e.to_string()).and_then(|t| crate::sources::json5::parse(&t)) {
            Ok(v) => install.config = Some(v),
            Err(e) => install.config_error = Some(format!("{}: {e}", p.display())),
        }
    }
    install.config_path = config_path;
    let conf = install.config.clone().unwrap_or(Value::Null);
    install.gateway_port = std::env::var("OPENCLAW_GATEWAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .or_else(|| conf.pointer("/gateway/port").and_then(Value::as_u64).map(|p| p as u16))
        .unwrap_or(18789);
    install.gateway_token = std::env::var("OPENCLAW_GATEWAY_TOKEN")
        .ok()
        .or_else(|| conf.pointer("/gateway/auth/token").and_then(Value::as_str).map(expand_env));
    install.agents = find_agents(&state_dir, &conf, &install.profile, None);
    // Other profiles: their transcripts count too; one broken or missing hides nothing else.
    let mut names = vec![install.profile.clone()];
    for dir in other_profile_dirs(cfg, &state_dir) {
        // Two dirs with one name (`/a/home`, `/b/home`) stay two profiles.
        let base = profile_name(&dir);
        let name = (1..)
            .map(|i| if i == 1 { base.clone() } else { format!("{base}-{i}") })
            .find(|n| !names.contains(n))
            .unwrap_or(base);
        names.push(name.clone());
        let found = looks_like_state_dir(&dir);
        let mut p = Profile { name: name.clone(), state_dir: dir.clone(), found, agents: 0, config_error: None };
        if found {
            let conf = ["openclaw.json", "clawdbot.json", "moltbot.json"]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
                .map(|path| {
                    std::fs::read_to_string(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|t| crate::sources::json5::parse(&t))
                        .map_err(|e| format!("{}: {e}", path.display()))
                });
            let conf = match conf {
                Some(Ok(v)) => v,
                Some(Err(e)) => {
                    p.config_error = Some(e);
                    Value::Null
                }
                None => Value::Null,
            };
            let agents = find_agents(&dir, &conf, &name, Some(&name));
            p.agents = agents.len();
            install.agents.extend(agents);
        }
        install.other_profiles.push(p);
    }
    let state_db = state_dir.join("state/openclaw.sqlite");
    install.state_db = state_db.is_file().then_some(state_db);
    let runs = state_dir.join("subagents/runs.json");
    install.subagent_runs_file = runs.is_file().then_some(runs);
    let jobs = state_dir.join("cron/jobs.json");
    install.cron_jobs_file = jobs.is_file().then_some(jobs);
    install.log_file = conf.pointer("/logging/file").and_then(Value::as_str).map(|f| PathBuf::from(expand_env(f)));
    install.log_dirs = match &cfg.log_dir {
        Some(d) => vec![d.clone()],
        None => ["/tmp/openclaw", "/tmp/moltbot", "/tmp/clawdbot"].iter().map(PathBuf::from).collect(),
    };
    install
}

/// `${VAR}` in config strings.
fn expand_env(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        match rest[start..].find('}') {
            Some(end) => {
                let name = &rest[start + 2..start + end];
                out.push_str(&std::env::var(name).unwrap_or_default());
                rest = &rest[start + end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The agents of one state dir; `prefix` names them `<prefix>/<id>` (another profile's).
fn find_agents(state_dir: &Path, conf: &Value, profile: &str, prefix: Option<&str>) -> Vec<Agent> {
    let mut ids: Vec<String> = Vec::new();
    if let Ok(rd) = std::fs::read_dir(state_dir.join("agents")) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if let Some(n) = e.file_name().to_str() {
                    ids.push(n.to_string());
                }
            }
        }
    }
    let configured: Vec<(String, Option<String>)> = configured_agents(conf);
    for (id, _) in &configured {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids.sort();
    let default_ws = conf.pointer("/agents/defaults/workspace").and_then(Value::as_str).map(expand_env);
    ids.into_iter()
        .map(|id| {
            let dir = state_dir.join("agents").join(&id);
            let ws = configured
                .iter()
                .find(|(c, _)| *c == id)
                .and_then(|(_, w)| w.clone())
                .or_else(|| if id == "main" { default_ws.clone() } else { None })
                .map(PathBuf::from)
                .or_else(|| {
                    let guess = if id == "main" {
                        state_dir.join("workspace")
                    } else {
                        state_dir.join(format!("workspace-{id}"))
                    };
                    guess.is_dir().then_some(guess)
                });
            Agent {
                sessions_dir: dir.join("sessions"),
                db_path: dir.join("agent/openclaw-agent.sqlite"),
                workspace: ws,
                profile: profile.to_string(),
                id: match prefix {
                    Some(p) => format!("{p}/{id}"),
                    None => id,
                },
            }
        })
        .collect()
}

/// Agents named in the config: `agents.entries.<id>` (2026.9) or `agents.list[]` (2026.3).
fn configured_agents(conf: &Value) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    if let Some(entries) = conf.pointer("/agents/entries").and_then(Value::as_object) {
        for (id, e) in entries {
            out.push((id.clone(), e.get("workspace").and_then(Value::as_str).map(expand_env)));
        }
    }
    for e in conf.pointer("/agents/list").and_then(Value::as_array).into_iter().flatten() {
        if let Some(id) = e.get("id").and_then(Value::as_str) {
            out.push((id.to_string(), e.get("workspace").and_then(Value::as_str).map(expand_env)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_wins_and_missing_is_not_fatal() {
        let cfg = Config { openclaw_dir: Some("/nonexistent/oc".into()), ..Default::default() };
        let i = detect(&cfg);
        assert!(!i.found);
        assert_eq!(i.chosen_by, "--openclaw-dir");
        assert_eq!(i.gateway_port, 18789);
        assert!(i.agents.is_empty());
    }

    #[test]
    fn env_expansion() {
        std::env::set_var("CLAWMETRY_TEST_TOKEN_X", "abc");
        assert_eq!(expand_env("t-${CLAWMETRY_TEST_TOKEN_X}-${NOPE_UNSET_Q}"), "t-abc-");
    }
}
