//! `lmi credential kubectl [--sso]`: a kubectl exec credential plugin
//! (client-go's `client.authentication.k8s.io`, v1 and v1beta1).
//!
//! kubectl runs the plugin with `KUBERNETES_EXEC_INFO` holding an
//! `ExecCredential` whose `apiVersion` says which version to answer in; the
//! answer is `{"apiVersion","kind":"ExecCredential","status":{"token",
//! "expirationTimestamp"}}`. kubectl keeps the credential in memory until
//! `expirationTimestamp` (RFC 3339); without one it asks again only after a
//! 401. `--sso` answers with the SSO session's ID token, for clusters whose
//! API server authenticates OIDC ID tokens (`--oidc-issuer-url`).

use serde::{Deserialize, Serialize};

use super::Ctx;
use crate::auth::sso::{self, Need};
use crate::error::{Error, Result};
use crate::output::rfc3339;

pub const V1: &str = "client.authentication.k8s.io/v1";
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";
/// The variable kubectl passes its request in.
pub const EXEC_INFO: &str = "KUBERNETES_EXEC_INFO";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential<'a> {
    api_version: &'static str,
    kind: &'static str,
    status: Status<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration_timestamp: Option<String>,
}

/// The answer's `apiVersion`: the one `KUBERNETES_EXEC_INFO` asks for, or
/// v1 when it is unset or empty (run by hand). Anything lmi cannot answer
/// in is a usage error naming the variable.
pub fn api_version(exec_info: Option<&str>) -> Result<&'static str> {
    #[derive(Deserialize)]
    struct Request {
        #[serde(rename = "apiVersion")]
        api_version: Option<String>,
    }
    let Some(raw) = exec_info.filter(|v| !v.trim().is_empty()) else {
        return Ok(V1);
    };
    let hint = format!("{EXEC_INFO} is set by kubectl; unset it to run lmi credential kubectl by hand (the answer is then {V1})");
    let request: Request = serde_json::from_str(raw).map_err(|e| {
        Error::usage(format!(
            "{EXEC_INFO} is not an ExecCredential in JSON ({e})"
        ))
        .with_hint(hint.clone())
    })?;
    match request.api_version.as_deref() {
        Some(V1) => Ok(V1),
        Some(V1BETA1) => Ok(V1BETA1),
        other => Err(Error::usage(format!(
            "{EXEC_INFO} asks for apiVersion {}; lmi answers {V1} or {V1BETA1}",
            other.map_or_else(|| "(none)".to_owned(), |v| format!("{v:?}"))
        ))
        .with_hint(format!(
            "set `apiVersion: {V1}` (or v1beta1) in the kubeconfig's users[].user.exec"
        ))),
    }
}

pub fn run(ctx: &Ctx, sso: bool) -> Result<u8> {
    // Checked before any token is asked for: a request lmi cannot answer
    // should cost nothing.
    let api_version = api_version(ctx.env.get(EXEC_INFO))?;
    let (token, expires_at) = if sso {
        let session = ctx.with_sso(|deps, config| {
            sso::current_session(
                &deps,
                config,
                "`lmi credential kubectl --sso` needs an SSO session",
                Need::IdToken,
            )
        })?;
        // `current_session` with `Need::IdToken` returns a session that
        // holds a valid ID token; the check is repeated, not assumed.
        let id_token = session
            .id_token
            .ok_or_else(|| Error::internal("the SSO session lost its ID token"))?;
        let expires = crate::auth::jwt_expiry(id_token.expose());
        (id_token, expires)
    } else {
        let (token, _) = ctx.with_service(|auth| auth.token())?;
        (token.access_token, token.expires_at)
    };
    let credential = ExecCredential {
        api_version,
        kind: "ExecCredential",
        status: Status {
            // The one place this command prints a token: it is the result.
            token: token.expose(),
            expiration_timestamp: expires_at.and_then(rfc3339),
        },
    };
    let mut json = serde_json::to_string(&credential)
        .map_err(|e| Error::internal(format!("cannot encode the ExecCredential: {e}")))?;
    json.push('\n');
    ctx.out.raw(json.as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_follows_the_requested_version() {
        assert_eq!(api_version(None).unwrap(), V1);
        assert_eq!(api_version(Some("")).unwrap(), V1);
        let v1beta1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1beta1","spec":{"interactive":false}}"#;
        assert_eq!(api_version(Some(v1beta1)).unwrap(), V1BETA1);
        let v1 = r#"{"kind":"ExecCredential","apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":true}}"#;
        assert_eq!(api_version(Some(v1)).unwrap(), V1);
    }

    #[test]
    fn a_request_lmi_cannot_answer_is_a_usage_error_naming_the_variable() {
        for bad in [
            "not json",
            "[1,2]",
            r#"{"apiVersion":"client.authentication.k8s.io/v1alpha1"}"#,
            r#"{"kind":"ExecCredential"}"#,
        ] {
            let err = api_version(Some(bad)).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            assert!(err.message().contains(EXEC_INFO), "{}", err.message());
        }
        let err = api_version(Some(r#"{"apiVersion":"v2"}"#)).unwrap_err();
        assert!(err.message().contains("\"v2\""), "{}", err.message());
    }

    #[test]
    fn expiry_is_left_out_when_unknown() {
        let json = |expiration_timestamp| {
            serde_json::to_value(ExecCredential {
                api_version: V1,
                kind: "ExecCredential",
                status: Status {
                    token: "t",
                    expiration_timestamp,
                },
            })
            .unwrap()
        };
        assert_eq!(
            json(None),
            serde_json::json!({"apiVersion": V1, "kind": "ExecCredential", "status": {"token": "t"}})
        );
        assert_eq!(
            json(rfc3339(0))["status"]["expirationTimestamp"],
            "1970-01-01T00:00:00Z"
        );
    }
}
