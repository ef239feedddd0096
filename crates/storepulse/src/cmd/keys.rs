//! `storepulse keys create|list`.

use crate::cli::{KeysAction, KeysArgs};
use crate::config::Config;
use anyhow::{Context, Result};
use server::auth::{self, Scope};

pub fn run(cfg: &Config, args: &KeysArgs, json: bool) -> Result<()> {
    match &args.action {
        KeysAction::Create { scopes, shop, name } => {
            let scopes: Vec<Scope> = scopes
                .iter()
                .map(|s| s.parse().map_err(super::usage))
                .collect::<Result<_>>()?;
            if let Some(s) = shop {
                model::check_shop(s).map_err(|r| super::usage(format!("--shop: {}", r.rule)))?;
            }
            let (name, key) =
                auth::create_key(&cfg.data_dir, name.as_deref(), scopes.clone(), shop.clone())
                    .context("creating the key")?;
            let lock = std::sync::Mutex::new(());
            server::audit::append(
                &server::audit::audit_path(&cfg.data_dir),
                &server::audit::AuditEntry {
                    at_ms: collect::now_ms(),
                    actor: "cli".into(),
                    action: "create_key".into(),
                    shop: shop.clone(),
                    details: serde_json::json!({"name": name, "scopes": scopes}),
                },
                &lock,
            )?;
            if json {
                println!("{}", serde_json::json!({"name": name, "key": key}));
            } else {
                println!("{key}");
                eprintln!(
                    "created key `{name}` ({}{}); it is shown only this once — store it now",
                    scopes
                        .iter()
                        .map(|s| format!("{s:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", "),
                    shop.as_deref()
                        .map(|s| format!(", shop {s}"))
                        .unwrap_or_else(|| ", all shops".into())
                );
            }
            Ok(())
        }
        KeysAction::Revoke { name } => {
            let gone = auth::revoke_key(&cfg.data_dir, name)
                .map_err(|e| anyhow::anyhow!("cannot revoke: {e}"))?;
            let lock = std::sync::Mutex::new(());
            server::audit::append(
                &server::audit::audit_path(&cfg.data_dir),
                &server::audit::AuditEntry {
                    at_ms: collect::now_ms(),
                    actor: "cli".into(),
                    action: "revoke_key".into(),
                    shop: gone.shop.clone(),
                    details: serde_json::json!({"name": gone.name, "scopes": gone.scopes}),
                },
                &lock,
            )?;
            if json {
                println!("{}", serde_json::json!({"revoked": gone.name}));
            } else {
                eprintln!(
                    "revoked key `{}`; a running server refuses it from now on",
                    gone.name
                );
            }
            Ok(())
        }
        KeysAction::List => {
            let keys = auth::read_stored(&auth::keys_file(&cfg.data_dir))?;
            let used = auth::read_used(&cfg.data_dir);
            let last = |name: &str| used.get(name).copied();
            if json {
                let v: Vec<serde_json::Value> = keys
                    .iter()
                    .chain(&cfg.server.keys)
                    .map(|k| {
                        let mut v = serde_json::to_value(k).unwrap_or_default();
                        if let Some(o) = v.as_object_mut() {
                            o.insert("last_used_ms".into(), serde_json::json!(last(&k.name)));
                        }
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(());
            }
            if keys.is_empty() && cfg.server.keys.is_empty() {
                println!("No keys. Create one: storepulse keys create --scope admin");
                return Ok(());
            }
            println!(
                "{:<20} {:<22} {:<14} last used (UTC, to the minute)",
                "name", "scopes", "shop"
            );
            for k in keys.iter().chain(&cfg.server.keys) {
                println!(
                    "{:<20} {:<22} {:<14} {}",
                    k.name,
                    k.scopes
                        .iter()
                        .map(|s| format!("{s:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(","),
                    k.shop.as_deref().unwrap_or("(all shops)"),
                    last(&k.name).map_or("never".to_string(), model::time::format_ms)
                );
            }
            Ok(())
        }
    }
}
