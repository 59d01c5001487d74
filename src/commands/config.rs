//! `lmi config show`: the effective configuration with each value's source.
//! Secrets are shown as `********`.

use serde::Serialize;
use std::collections::BTreeMap;

use super::Ctx;
use crate::config::{shown_value, KEYS};
use crate::error::Result;

#[derive(Serialize)]
struct Shown {
    /// `None` for a documented key that is set nowhere.
    value: Option<String>,
    /// The file, `command line`, `environment variable`, `default` or `unset`.
    source: String,
}

#[derive(Serialize)]
struct ConfigShow {
    environment: Option<String>,
    values: BTreeMap<String, Shown>,
}

pub fn show(ctx: &Ctx) -> Result<u8> {
    let config = ctx.config()?;
    let settings = config.settings();
    let mut values = BTreeMap::new();
    for (key, value) in &settings.values {
        let shown = shown_value(key, &value.value);
        values.insert(
            key.clone(),
            Shown {
                value: Some(shown),
                source: value.source.to_string(),
            },
        );
    }
    // The log's built-in path depends on the machine, so it is not in the key
    // table; show it all the same.
    values.entry("LOG_FILE".to_owned()).or_insert(Shown {
        value: Some(ctx.paths.default_log_file().display().to_string()),
        source: "default".to_owned(),
    });
    // Every documented key is listed, also when it is set nowhere.
    for def in KEYS {
        values.entry(def.name.to_owned()).or_insert(Shown {
            value: None,
            source: "unset".to_owned(),
        });
    }
    let result = ConfigShow {
        environment: config.environment().map(ToString::to_string),
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
            match &v.value {
                Some(value) => lines.push(format!("{k}={value}  # {}", v.source)),
                None => lines.push(format!("# {k} is not set")),
            }
        }
        lines.join("\n")
    })?;
    Ok(0)
}
