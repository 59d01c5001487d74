//! The typed settings of `lmi api` and every other path that sends the
//! token to the service (SPEC §4): the base URL and the origins that may
//! receive the token.

use std::time::Duration;

use url::Url;

use super::service::http_timeout;
use super::settings::Settings;
use crate::error::{Error, Result};
use crate::http::{origin, secure_endpoint};
use crate::paths::Paths;

/// Where the environment's token may go.
#[derive(Debug)]
pub struct ApiConfig {
    /// `API_BASE_URL`, when set.
    pub base: Option<Url>,
    /// The origins of `API_ALLOWED_ORIGINS` (`scheme://host[:port]`).
    pub allowed: Vec<String>,
    /// `API_GRAPHQL_URL`, when set (else `API_BASE_URL` + `/graphql`).
    pub graphql: Option<Url>,
    pub timeout: Duration,
    /// The error for a relative path without `API_BASE_URL` (names the key
    /// and where to set it).
    missing_base: Error,
}

impl ApiConfig {
    pub fn from_settings(settings: &Settings, paths: &Paths) -> Result<ApiConfig> {
        settings.require_environment(paths)?;
        let timeout = http_timeout(settings)?;
        let base = settings
            .get("API_BASE_URL")
            .map(|raw| secure_endpoint("API_BASE_URL", raw))
            .transpose()?;
        let allowed = origins("API_ALLOWED_ORIGINS", settings)?;
        let graphql = settings
            .get("API_GRAPHQL_URL")
            .map(|raw| secure_endpoint("API_GRAPHQL_URL", raw))
            .transpose()?;
        let missing_base = match settings.require("API_BASE_URL", paths) {
            Err(e) => e,
            Ok(_) => Error::internal("API_BASE_URL is set but was not parsed"),
        };
        Ok(ApiConfig {
            base,
            allowed,
            graphql,
            timeout,
            missing_base,
        })
    }

    /// A configuration for tests of the client: `base` and nothing else.
    #[cfg(test)]
    pub fn for_base(base: Url) -> ApiConfig {
        ApiConfig {
            base: Some(base),
            allowed: Vec::new(),
            graphql: None,
            timeout: Duration::from_secs(5),
            missing_base: Error::config("API_BASE_URL is not set"),
        }
    }

    /// The base URL, or the configuration error naming `API_BASE_URL`.
    pub fn require_base(&self) -> Result<&Url> {
        self.base
            .as_ref()
            .ok_or_else(|| self.missing_base.shallow_clone())
    }

    /// Where `lmi api graphql` posts: `API_GRAPHQL_URL`, else
    /// `API_BASE_URL` + `/graphql` (its path kept: `https://h/v1` gives
    /// `https://h/v1/graphql`).
    pub fn graphql_url(&self) -> Result<Url> {
        if let Some(url) = &self.graphql {
            return Ok(url.clone());
        }
        let base = self.require_base().map_err(|e| {
            e.with_hint("set API_GRAPHQL_URL, or API_BASE_URL (its /graphql is used)")
        })?;
        let mut url = base.clone();
        url.set_query(None);
        url.set_fragment(None);
        let path = format!("{}/graphql", url.path().trim_end_matches('/'));
        url.set_path(&path);
        Ok(url)
    }

    /// Whether the token may be sent to `url`'s origin.
    pub fn allows(&self, url: &Url) -> bool {
        let wanted = origin(url);
        self.base.as_ref().is_some_and(|b| origin(b) == wanted) || self.allowed.contains(&wanted)
    }
}

/// `key` (`API_ALLOWED_ORIGINS`, `OAUTH_EXCHANGE_ORIGINS`): space-separated
/// origins. Each will receive a token, so each must be https or loopback
/// http like any token endpoint.
pub(super) fn origins(key: &str, settings: &Settings) -> Result<Vec<String>> {
    parse_origins(key, settings.get(key).unwrap_or(""))
}

fn parse_origins(key: &str, raw: &str) -> Result<Vec<String>> {
    raw.split_whitespace()
        .map(|entry| {
            secure_endpoint(key, entry)
                .map(|url| origin(&url))
                .map_err(|e| {
                    Error::config(format!("{} (entry {entry:?})", e.message())).with_hint(format!(
                        "{key} lists origins such as https://api.example.com, separated by spaces"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_origins_must_be_secure() {
        assert_eq!(
            parse_origins(
                "API_ALLOWED_ORIGINS",
                " https://a.example  http://127.0.0.1:9/x "
            )
            .unwrap(),
            vec!["https://a.example", "http://127.0.0.1:9"]
        );
        assert!(parse_origins("API_ALLOWED_ORIGINS", "").unwrap().is_empty());
        assert_eq!(
            parse_origins("API_ALLOWED_ORIGINS", "http://a.example")
                .unwrap_err()
                .exit_code(),
            3
        );
        assert_eq!(
            parse_origins("API_ALLOWED_ORIGINS", "not-a-url")
                .unwrap_err()
                .exit_code(),
            3
        );
        // Errors name the key they come from.
        let e = parse_origins(
            "OAUTH_EXCHANGE_ORIGINS",
            "https://ok.example http://a.example",
        )
        .unwrap_err();
        assert!(
            e.message().contains("OAUTH_EXCHANGE_ORIGINS"),
            "{}",
            e.message()
        );
        assert!(e.message().contains("http://a.example"), "{}", e.message());
    }
}
