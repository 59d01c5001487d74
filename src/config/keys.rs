//! The one table of documented keys (SPEC §2): name, help, default, secrecy
//! and how a value is read (choices, numeric ranges, booleans). Everything
//! that parses or shows a key asks this table, so defaults and ranges are
//! written once.

/// How a key's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Free text (URLs, ids, scopes, paths).
    Text,
    /// `true`/`false` (also yes/no, 1/0, on/off).
    Bool,
    /// A whole number from 0 to `max`; `what` names the unit in errors.
    Number { max: u64, what: &'static str },
    /// One of a fixed set of values.
    Choice(&'static [&'static str]),
}

/// A documented configuration key.
pub struct KeyDef {
    pub name: &'static str,
    pub help: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
    pub kind: KeyKind,
}

const SECONDS_DAY: KeyKind = KeyKind::Number {
    max: 86_400,
    what: "a whole number of seconds",
};

const fn key(name: &'static str, help: &'static str, default: Option<&'static str>) -> KeyDef {
    KeyDef {
        name,
        help,
        default,
        secret: false,
        kind: KeyKind::Text,
    }
}

const fn typed(
    name: &'static str,
    help: &'static str,
    default: Option<&'static str>,
    kind: KeyKind,
) -> KeyDef {
    KeyDef {
        name,
        help,
        default,
        secret: false,
        kind,
    }
}

const fn secret(name: &'static str, help: &'static str) -> KeyDef {
    KeyDef {
        name,
        help,
        default: None,
        secret: true,
        kind: KeyKind::Text,
    }
}

/// Every documented key (SPEC §2), in the order `config show` lists them.
pub const KEYS: &[KeyDef] = &[
    key(
        "DEFAULT_ENVIRONMENT",
        "environment when none is chosen",
        None,
    ),
    typed(
        "OAUTH_GRANT_TYPE",
        "client_credentials, password or token_exchange",
        Some("client_credentials"),
        KeyKind::Choice(&["client_credentials", "password", "token_exchange"]),
    ),
    key("OAUTH_CLIENT_ID", "service client id", None),
    secret("OAUTH_CLIENT_SECRET", "service client secret"),
    typed(
        "OAUTH_CLIENT_AUTH_METHOD",
        "client_secret_basic, client_secret_post or private_key_jwt",
        Some("client_secret_basic"),
        KeyKind::Choice(&[
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ]),
    ),
    // Client authentication without a shared secret (SPEC §4.1) and token
    // exchange (§4.2). The key and assertion files hold secrets, but the
    // keys hold only their paths, which `config show` may print.
    key(
        "OAUTH_CLIENT_KEY_FILE",
        "PEM private key that signs private_key_jwt assertions",
        None,
    ),
    key(
        "OAUTH_CLIENT_KEY_ID",
        "kid header of those assertions",
        None,
    ),
    typed(
        "OAUTH_CLIENT_KEY_ALG",
        "RS256, PS256 or ES256 (default: by key type)",
        None,
        KeyKind::Choice(&["RS256", "PS256", "ES256"]),
    ),
    key(
        "OAUTH_CLIENT_ASSERTION_FILE",
        "file holding a ready-made client assertion (read for each request)",
        None,
    ),
    key(
        "OAUTH_SUBJECT_TOKEN_FILE",
        "token exchange: file holding the subject token (absent: the SSO session)",
        None,
    ),
    key(
        "OAUTH_SUBJECT_TOKEN_TYPE",
        "token exchange: type URI of that file's token",
        Some("urn:ietf:params:oauth:token-type:jwt"),
    ),
    key(
        "OAUTH_EXCHANGE_ORIGINS",
        "token exchange: origins besides the SSO issuer's that may receive the SSO session's token",
        None,
    ),
    key(
        "OAUTH_SERVICE_URL",
        "issuer of the OAuth service, for discovery",
        None,
    ),
    key(
        "OAUTH_TOKEN_URL",
        "token endpoint; wins over discovery",
        None,
    ),
    key("OAUTH_SCOPES", "space-separated scopes to request", None),
    key("OAUTH_AUDIENCE", "audience parameter", None),
    key("OAUTH_USERNAME", "user for the password grant", None),
    secret("OAUTH_PASSWORD", "password for the password grant"),
    typed(
        "OAUTH_DPOP",
        "true: the environment's service tokens are DPoP-bound (RFC 9449)",
        Some("false"),
        KeyKind::Bool,
    ),
    key(
        "API_BASE_URL",
        "base URL of the environment's service",
        None,
    ),
    key(
        "API_ALLOWED_ORIGINS",
        "extra origins that may receive the token",
        None,
    ),
    key(
        "API_GRAPHQL_URL",
        "GraphQL endpoint of `lmi api graphql` (default API_BASE_URL + /graphql)",
        None,
    ),
    typed(
        "REQUIRE_SSO",
        "hand out tokens only during a valid SSO session",
        Some("false"),
        KeyKind::Bool,
    ),
    typed(
        "AGENT_SHARE",
        "true in an environment's file: lmi agent serves its tokens to its clients",
        Some("false"),
        KeyKind::Bool,
    ),
    typed(
        "TOKEN_EXPIRY_SKEW",
        "seconds before expiry at which a token counts as expired",
        Some("60"),
        SECONDS_DAY,
    ),
    typed(
        "HTTP_TIMEOUT",
        "seconds for any one HTTP exchange",
        Some("30"),
        KeyKind::Number {
            max: 3_600,
            what: "a whole number of seconds",
        },
    ),
    key("OAUTH_SSO_ISSUER", "IdP issuer", None),
    key(
        "OAUTH_SSO_CLIENT_ID",
        "lmi's public client id at the IdP",
        None,
    ),
    key(
        "OAUTH_SSO_AUTHORIZATION_URL",
        "explicit authorization endpoint",
        None,
    ),
    key("OAUTH_SSO_TOKEN_URL", "explicit SSO token endpoint", None),
    key(
        "OAUTH_SSO_SCOPES",
        "scopes for the SSO login",
        Some("openid profile email offline_access"),
    ),
    typed(
        "OAUTH_SSO_REDIRECT_PORT",
        "fixed loopback port for the redirect",
        Some("0"),
        KeyKind::Number {
            max: 65_535,
            what: "a port number",
        },
    ),
    typed(
        "OAUTH_SSO_LOGIN_TIMEOUT",
        "seconds to wait for the browser",
        Some("300"),
        SECONDS_DAY,
    ),
    typed(
        "OAUTH_SSO_TOKEN_STORE",
        "keychain or file",
        Some("keychain"),
        KeyKind::Choice(&["keychain", "file"]),
    ),
    typed(
        "OAUTH_SSO_FLOW",
        "login flow: auto, browser or device",
        Some("auto"),
        KeyKind::Choice(&["auto", "browser", "device"]),
    ),
    key(
        "OAUTH_SSO_DEVICE_AUTHORIZATION_URL",
        "explicit device authorization endpoint; wins over discovery",
        None,
    ),
    typed(
        "OAUTH_SSO_PAR",
        "pushed authorization requests: auto, true or false",
        Some("auto"),
        KeyKind::Choice(&["auto", "true", "false"]),
    ),
    typed(
        "OAUTH_SSO_DPOP",
        "true: the SSO session's tokens are DPoP-bound (RFC 9449)",
        Some("false"),
        KeyKind::Bool,
    ),
    key("LOG_FILE", "file log path", None),
    typed(
        "LOG_FILE_ENABLED",
        "false turns the file log off",
        Some("true"),
        KeyKind::Bool,
    ),
    key(
        "LOG_LEVEL",
        "file log level (error, warn, info, debug)",
        Some("info"),
    ),
    key(
        "CREDENTIAL_USERNAME",
        "user name that `lmi credential git` answers with the token",
        Some("oauth2"),
    ),
];

/// The documented key `name` (any case).
pub fn key_def(name: &str) -> Option<&'static KeyDef> {
    KEYS.iter().find(|k| k.name.eq_ignore_ascii_case(name))
}

/// Whether a key's value is a secret: the documented secrets, and any other
/// key (a plugin's) whose name says it holds one.
pub fn is_secret_key(name: &str) -> bool {
    match key_def(name) {
        Some(def) => def.secret,
        None => {
            let upper = name.to_ascii_uppercase();
            [
                "SECRET",
                "PASSWORD",
                "PASSWD",
                "TOKEN",
                "CREDENTIAL",
                "PRIVATE_KEY",
                "API_KEY",
                "APIKEY",
            ]
            .iter()
            .any(|part| upper.contains(part))
                || ["_PASS", "_PAT", "_KEY"]
                    .iter()
                    .any(|end| upper.ends_with(end))
                || upper.contains("COOKIE")
        }
    }
}

/// The documented key that `name` (not itself documented) is a typo of.
pub fn misspelt_key(name: &str) -> Option<&'static str> {
    if key_def(name).is_some() || name.len() < 8 {
        return None;
    }
    crate::suggest::closest(
        name,
        KEYS.iter().map(|k| k.name),
        crate::suggest::Tolerance::Edits(2),
    )
}

/// Reads a boolean as the table's `Bool` keys are read.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_keys_are_masked() {
        assert!(is_secret_key("oauth_client_secret") && is_secret_key("OAUTH_PASSWORD"));
        assert!(is_secret_key("BILLING_API_TOKEN") && is_secret_key("deploy_password"));
        assert!(!is_secret_key("OAUTH_TOKEN_URL") && !is_secret_key("TOKEN_EXPIRY_SKEW"));
        assert!(!is_secret_key("BILLING_REGION"));
        for name in [
            "GH_PAT",
            "NPM_PASS",
            "SIGNING_KEY",
            "SESSION_COOKIE_VALUE",
            "X_TOKEN",
        ] {
            assert!(is_secret_key(name), "{name}");
        }
        assert!(is_secret_key("GH_PAT"));
    }

    #[test]
    fn typos_name_the_documented_key() {
        assert_eq!(misspelt_key("OAUTH_CLEINT_ID"), Some("OAUTH_CLIENT_ID"));
        assert_eq!(misspelt_key("OAUTH_CLIENT_ID"), None);
        assert_eq!(misspelt_key("BILLING_REGION"), None);
    }

    #[test]
    fn every_default_fits_its_kind() {
        for def in KEYS {
            let Some(default) = def.default else { continue };
            match def.kind {
                KeyKind::Text => {}
                KeyKind::Bool => assert!(parse_bool(default).is_some(), "{}", def.name),
                KeyKind::Number { max, .. } => {
                    assert!(
                        default.parse::<u64>().is_ok_and(|n| n <= max),
                        "{}",
                        def.name
                    )
                }
                KeyKind::Choice(values) => assert!(values.contains(&default), "{}", def.name),
            }
        }
    }
}
