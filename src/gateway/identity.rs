//! The device identity: the Ed25519 key clawmetry signs the gateway's challenge with, kept in
//! `<data dir>/gateway-device.json` (0600), and the `connect` request that carries it.

use super::*;
use serde_json::{json, Value};
use std::io::{ErrorKind, Write};
use std::path::Path;

/// public key; on loopback, without an `Origin` header, that happens silently.
pub struct Identity {
    key: ed25519_dalek::SigningKey,
    pub public: [u8; 32],
    /// Hex SHA-256 of the raw public key: what the gateway calls the device id.
    pub id: String,
}

pub const IDENTITY_FILE: &str = "gateway-device.json";

impl Identity {
    pub fn from_seed(seed: [u8; 32]) -> Identity {
        use sha2::Digest;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        let id = crate::codec::hex(&sha2::Sha256::digest(public));
        Identity { key, public, id }
    }

    pub fn sign(&self, msg: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.key.sign(msg).to_bytes()
    }

    /// Reads `<dir>/gateway-device.json`, creating the dir and a new key (mode 0600) if needed.
    pub fn load_or_create(dir: &Path) -> Result<Identity, String> {
        let path = dir.join(IDENTITY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Identity::parse(&text).map_err(|e| {
                format!("{}: {e}; delete the file to make a new device key (it will be paired again)", path.display())
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                let seed = crate::codec::random::<32>().map_err(|e| format!("the device key: {e}"))?;
                let id = Identity::from_seed(seed);
                id.save(&path)?;
                Ok(id)
            }
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    fn parse(text: &str) -> Result<Identity, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let seed = v.get("privateKeySeed").and_then(Value::as_str).ok_or("no privateKeySeed")?;
        let seed = b64url_decode(seed).ok_or("privateKeySeed is not base64url")?;
        let seed: [u8; 32] = seed.try_into().map_err(|_| "privateKeySeed is not 32 bytes".to_string())?;
        Ok(Identity::from_seed(seed))
    }

    fn save(&self, path: &Path) -> Result<(), String> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create {}: {e} (pass --data-dir DIR)", dir.display()))?;
        let body = json!({
            "version": 1,
            "algorithm": "ed25519",
            "deviceId": self.id,
            "publicKey": b64url(&self.public),
            "privateKeySeed": b64url(&self.key.to_bytes()),
            "note": "clawmetry's device key for the OpenClaw gateway; keep it private",
        });
        let tmp = dir.join(format!(".{IDENTITY_FILE}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            f.write_all(serde_json::to_string_pretty(&body).unwrap_or_default().as_bytes())?;
            f.sync_all()?;
            // Never replace a key another process wrote meanwhile: hard-link, don't rename.
            std::fs::hard_link(&tmp, path)
        };
        let r = write();
        let _ = std::fs::remove_file(&tmp);
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(format!("cannot write {}: {e} (pass --data-dir DIR)", path.display())),
        }
    }
}

/// base64url without padding, as the gateway wants keys and signatures.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url as the gateway writes it; standard base64 and `=` padding are accepted too.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    crate::codec::base64_decode_any(s)
}

/// The exact string a device signs (protocol "v3"): it binds the key to this client, role,
/// scopes, token, the server's nonce and the platform.
pub fn signed_payload_v3(
    device_id: &str,
    scopes: &[&str],
    signed_at: i64,
    token: &str,
    nonce: &str,
    platform: &str,
) -> String {
    format!(
        "v3|{device_id}|{CLIENT_ID}|{CLIENT_MODE}|{ROLE}|{}|{signed_at}|{token}|{nonce}|{}|",
        scopes.join(","),
        platform.trim().to_lowercase()
    )
}

/// The `connect` request's params, answering a challenge `{nonce, ts}`.
pub fn connect_params(id: &Identity, token: Option<&str>, nonce: &str, ts: i64) -> Value {
    let platform = std::env::consts::OS;
    let payload = signed_payload_v3(&id.id, &SCOPES, ts, token.unwrap_or(""), nonce, platform);
    let mut p = json!({
        "minProtocol": MIN_PROTOCOL,
        "maxProtocol": MAX_PROTOCOL,
        "client": {
            "id": CLIENT_ID,
            "version": env!("CARGO_PKG_VERSION"),
            "platform": platform,
            "mode": CLIENT_MODE,
            "displayName": "clawmetry",
        },
        "role": ROLE,
        "scopes": SCOPES,
        "caps": [],
        "locale": "en-US",
        "userAgent": concat!("clawmetry/", env!("CARGO_PKG_VERSION")),
        "device": {
            "id": id.id,
            "publicKey": b64url(&id.public),
            "signature": b64url(&id.sign(payload.as_bytes())),
            "signedAt": ts,
            "nonce": nonce,
        },
    });
    if let Some(t) = token {
        p["auth"] = json!({ "token": t });
    }
    p
}
