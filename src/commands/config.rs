//! `lmi config show`: the effective configuration with each value's source.
//! Secrets are shown as `********`.

use serde::Serialize;
use std::collections::BTreeMap;

use super::Ctx;
use crate::config::{is_secret_key, Source, KEYS};
use crate::error::Result;

#[derive(Serialize)]
struct Shown {
    value: String,
    source: Source,
}

#[derive(Serialize)]
struct ConfigShow {
    environment: Option<String>,
    values: BTreeMap<String, Shown>,
}

pub fn show(ctx: &Ctx) -> Result<u8> {
    let settings = ctx.settings()?;
    let mut values = BTreeMap::new();
    for (key, value) in &settings.values {
        let shown = if is_secret_key(key) {
            "********".to_owned()
        } else {
            value.value.clone()
        };
        values.insert(
            key.clone(),
            Shown {
                value: shown,
                source: value.source.clone(),
            },
        );
    }
    let result = ConfigShow {
        environment: settings.environment.clone(),
        values,
    };
    ctx.out.result(&result, || {
        let mut lines = vec![format!(
            "environment: {}",
            result.environment.as_deref().unwrap_or("(none)")
        )];
        // Documented keys first, in table order, then the others.
        let mut keys: Vec<&String> = Vec::new();
        for def in KEYS {
            if let Some((k, _)) = result.values.get_key_value(def.name) {
                keys.push(k);
            }
        }
        for k in result.values.keys() {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in keys {
            let v = &result.values[k];
            lines.push(format!("{k}={}  # {}", v.value, v.source));
        }
        lines.join("\n")
    })?;
    Ok(0)
}
