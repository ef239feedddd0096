//! API keys with scopes (`ingest`, `read`, `admin`), each bound to one shop or to all. Keys come
//! from the config file (plain or as a SHA-256 hash) and from `storepulse keys create`, which
//! stores only the hash in `state/keys.json` and shows the key once. A key is looked up by its
//! hash, so the key itself is never kept or logged. `admin` implies every other scope.

use crate::error::ApiError;
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::SystemTime;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Send events and dimension rows.
    Ingest,
    /// Read stats, quarantine, results.
    Read,
    /// Everything, including deletion, replay and the audit log.
    Admin,
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        match s {
            "ingest" => Ok(Scope::Ingest),
            "read" => Ok(Scope::Read),
            "admin" => Ok(Scope::Admin),
            _ => Err(format!(
                "unknown scope `{s}`{} (expected ingest, read or admin)",
                model::suggest::hint(s, ["ingest", "read", "admin"])
            )),
        }
    }
}

/// A key as configured or stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// A name for logs and the audit trail.
    pub name: String,
    /// The key itself (config files only; prefer `key_sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Hex SHA-256 of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_sha256: Option<String>,
    /// Scopes granted.
    pub scopes: Vec<Scope>,
    /// The one shop it is bound to; none = all shops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop: Option<String>,
    /// When it was created (UTC ms), for keys made by `keys create`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_ms: Option<i64>,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Key name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// Bound shop, if any.
    pub shop: Option<String>,
}

impl Principal {
    /// Whether the key has `scope` (admin has all).
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope) || self.scopes.contains(&Scope::Admin)
    }

    /// Whether the key may touch `shop`.
    pub fn may_use_shop(&self, shop: &str) -> bool {
        self.shop.as_deref().is_none_or(|s| s == shop)
    }

    /// The shop a request acts on: the asked one if allowed, else the key's own; `None` means
    /// all shops (only for keys bound to none).
    pub fn shop_for(&self, asked: Option<&str>) -> Result<Option<String>, ApiError> {
        match (asked, &self.shop) {
            (Some(a), Some(own)) if a != own => Err(ApiError::forbidden(format!(
                "this key is bound to shop `{own}` and cannot access shop `{a}`"
            ))),
            (Some(a), _) => Ok(Some(a.to_string())),
            (None, own) => Ok(own.clone()),
        }
    }
}

/// Hex SHA-256 of a key.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A fresh random key (`sp_` + 64 hex digits).
pub fn new_key() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("sp_{}", hex::encode(bytes))
}

/// The keys the server accepts; reloads `state/keys.json` when it changes.
pub struct KeyStore {
    config: Vec<KeyConfig>,
    file: PathBuf,
    inner: RwLock<(Option<SystemTime>, HashMap<String, Principal>)>,
    /// Last successful use per key name (UTC ms), written to `state/keys-used.json` at most
    /// once a minute per key, so `storepulse keys list` can show it without a write a request.
    used: std::sync::Mutex<HashMap<String, i64>>,
    used_file: PathBuf,
}

/// How stale a key's recorded last use may get before it is written again.
const USE_RESOLUTION_MS: i64 = 60_000;

/// Path of the last-use record in a data dir.
pub fn used_file(data_dir: &Path) -> PathBuf {
    data_dir.join("state/keys-used.json")
}

/// Reads the last use of each key name (UTC ms); missing or unreadable means none recorded.
pub fn read_used(data_dir: &Path) -> HashMap<String, i64> {
    std::fs::read(used_file(data_dir))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Path of the stored keys in a data dir.
pub fn keys_file(data_dir: &Path) -> PathBuf {
    data_dir.join("state/keys.json")
}

/// Reads stored keys.
pub fn read_stored(file: &Path) -> std::io::Result<Vec<KeyConfig>> {
    match std::fs::read(file) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is corrupt: {e}", file.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Creates a key, stores its hash and returns its name and the key (shown once). Without a
/// `name` it is `key-<n>`, the first free number. Concurrent creators (several `storepulse keys
/// create` at once, a server) are serialised by an exclusive lock on `state/keys.lock`, so each
/// reads the file the previous one wrote and none is lost; the file is replaced atomically, so
/// a reader sees the old or the new list, never half of one.
pub fn create_key(
    data_dir: &Path,
    name: Option<&str>,
    scopes: Vec<Scope>,
    shop: Option<String>,
) -> std::io::Result<(String, String)> {
    let file = keys_file(data_dir);
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("the keys file has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let lock = std::fs::File::create(dir.join("keys.lock"))?;
    lock.lock()?;
    let mut keys = read_stored(&file)?;
    let name = match name {
        Some(n) if keys.iter().any(|k| k.name == n) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("a key named `{n}` exists already; pick another --name"),
            ));
        }
        Some(n) => n.to_string(),
        None => (1..)
            .map(|i| format!("key-{i}"))
            .find(|n| !keys.iter().any(|k| &k.name == n))
            .unwrap_or_else(|| unreachable!("an unbounded range has a free name")),
    };
    let key = new_key();
    keys.push(KeyConfig {
        name: name.clone(),
        key: None,
        key_sha256: Some(hash_key(&key)),
        scopes,
        shop,
        created_ms: Some(collect::now_ms()),
    });
    store::write_atomic(&file, &serde_json::to_vec_pretty(&keys)?)?;
    drop(lock);
    Ok((name, key))
}

/// Revokes the stored key `name` (under the same lock as [`create_key`]) and returns it; a
/// running server stops accepting it on its next request. Keys from the config file are not
/// stored here: remove them from the config.
pub fn revoke_key(data_dir: &Path, name: &str) -> std::io::Result<KeyConfig> {
    let file = keys_file(data_dir);
    let dir = file
        .parent()
        .ok_or_else(|| std::io::Error::other("the keys file has no directory"))?;
    std::fs::create_dir_all(dir)?;
    let lock = std::fs::File::create(dir.join("keys.lock"))?;
    lock.lock()?;
    let mut keys = read_stored(&file)?;
    let Some(at) = keys.iter().position(|k| k.name == name) else {
        let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no stored key is named `{name}`{}; `storepulse keys list` shows them",
                model::suggest::hint(name, names.iter().copied())
            ),
        ));
    };
    let gone = keys.remove(at);
    store::write_atomic(&file, &serde_json::to_vec_pretty(&keys)?)?;
    drop(lock);
    Ok(gone)
}

fn principal(k: &KeyConfig) -> Option<(String, Principal)> {
    let hash = match (&k.key_sha256, &k.key) {
        (Some(h), _) => h.to_ascii_lowercase(),
        (None, Some(key)) => hash_key(key),
        (None, None) => return None,
    };
    Some((
        hash,
        Principal {
            name: k.name.clone(),
            scopes: k.scopes.clone(),
            shop: k.shop.clone(),
        },
    ))
}

impl KeyStore {
    /// Keys from the config plus those stored in the data dir.
    pub fn new(config: Vec<KeyConfig>, data_dir: &Path) -> std::io::Result<KeyStore> {
        let ks = KeyStore {
            config,
            file: keys_file(data_dir),
            inner: RwLock::new((None, HashMap::new())),
            used: std::sync::Mutex::new(read_used(data_dir)),
            used_file: used_file(data_dir),
        };
        ks.reload()?;
        Ok(ks)
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.inner.read().map(|g| g.1.len()).unwrap_or(0)
    }

    /// Whether no key is configured.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.file)
            .and_then(|m| m.modified())
            .ok()
    }

    fn reload(&self) -> std::io::Result<()> {
        let mtime = self.mtime();
        let mut map: HashMap<String, Principal> =
            self.config.iter().filter_map(principal).collect();
        map.extend(read_stored(&self.file)?.iter().filter_map(principal));
        if let Ok(mut g) = self.inner.write() {
            *g = (mtime, map);
        }
        Ok(())
    }

    /// The key's principal. The keys file is checked (one `stat`) on every request, so a key
    /// created or revoked by `storepulse keys` counts from the next request on.
    fn lookup(&self, key: &str) -> Option<Principal> {
        let h = hash_key(key);
        let stale = self.inner.read().ok()?.0 != self.mtime();
        if stale {
            // A keys file that cannot be read now keeps the last good list.
            let _ = self.reload();
        }
        self.inner.read().ok()?.1.get(&h).cloned()
    }

    /// Authenticates a request (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) and checks
    /// its scope: 401 without a known key, 403 with the wrong scope.
    pub fn authorize(&self, headers: &HeaderMap, need: Scope) -> Result<Principal, ApiError> {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
            .map(str::trim);
        let Some(key) = given.filter(|k| !k.is_empty()) else {
            return Err(unauthorized(
                "no API key: send `Authorization: Bearer <key>` (create one with `storepulse keys create`)",
            ));
        };
        let Some(p) = self.lookup(key) else {
            return Err(unauthorized("unknown API key"));
        };
        self.touch(&p.name);
        if !p.has(need) {
            let need = serde_json::to_value(need).unwrap_or_default();
            return Err(ApiError::forbidden(format!(
                "key `{}` lacks the `{}` scope this endpoint needs",
                p.name,
                need.as_str().unwrap_or("?")
            )));
        }
        Ok(p)
    }
}

impl KeyStore {
    /// Records a use of key `name`, writing the record when it was a minute or more stale.
    fn touch(&self, name: &str) {
        let now = model::time::now_ms();
        let Ok(mut used) = self.used.lock() else {
            return;
        };
        if used.get(name).is_some_and(|&t| now - t < USE_RESOLUTION_MS) {
            return;
        }
        used.insert(name.to_string(), now);
        let body = serde_json::to_vec_pretty(&*used).unwrap_or_default();
        // Best effort: a full disk must not fail the request it records.
        if let Err(e) = store::write_atomic(&self.used_file, &body) {
            tracing::debug!(error = %e, "could not record a key's last use");
        }
    }
}

fn unauthorized(msg: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_keys_are_stored_hashed_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let (_, key) = create_key(
            dir.path(),
            Some("k1"),
            vec![Scope::Ingest],
            Some("s1".into()),
        )
        .unwrap();
        let stored = std::fs::read_to_string(keys_file(dir.path())).unwrap();
        assert!(!stored.contains(&key), "the key itself must not be stored");
        assert!(stored.contains(&hash_key(&key)));
        assert!(create_key(dir.path(), Some("k1"), vec![Scope::Read], None).is_err());
        let ks = KeyStore::new(Vec::new(), dir.path()).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {key}").parse().unwrap(),
        );
        let p = ks.authorize(&h, Scope::Ingest).unwrap();
        assert_eq!(p.shop.as_deref(), Some("s1"));
        assert_eq!(ks.authorize(&h, Scope::Read).unwrap_err().status, 403);
        // A key created after the store was loaded is picked up.
        let (_, k2) = create_key(dir.path(), Some("k2"), vec![Scope::Admin], None).unwrap();
        let mut h2 = HeaderMap::new();
        h2.insert("x-api-key", k2.parse().unwrap());
        assert!(ks.authorize(&h2, Scope::Read).is_ok());
    }

    #[test]
    fn concurrent_creators_lose_no_key() {
        let dir = tempfile::tempdir().unwrap();
        let made: Vec<(String, String)> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..10)
                .map(|_| sc.spawn(|| create_key(dir.path(), None, vec![Scope::Read], None)))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
        });
        let mut names: Vec<&str> = made.iter().map(|(n, _)| n.as_str()).collect();
        names.sort_unstable();
        let mut want: Vec<String> = (1..=10).map(|i| format!("key-{i}")).collect();
        want.sort_unstable();
        assert_eq!(names, want.iter().map(String::as_str).collect::<Vec<_>>());
        let ks = KeyStore::new(Vec::new(), dir.path()).unwrap();
        assert_eq!(ks.len(), 10);
        for (name, key) in &made {
            let mut h = HeaderMap::new();
            h.insert("x-api-key", key.parse().unwrap());
            let p = ks.authorize(&h, Scope::Read).unwrap();
            assert_eq!(&p.name, name);
        }
    }
}
