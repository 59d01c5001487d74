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
//!
//! The credential goes only to a cluster lmi knows (SPEC §8): kubectl names
//! the server it is about to call in `spec.cluster.server` (when the
//! kubeconfig's exec block says `provideClusterInfo: true`), and its origin
//! must be one the environment's token may go to, as for `lmi api` and the
//! git helper. A kubeconfig is often someone else's file (a vendor's, a
//! tutorial's); without this check its cluster would receive the token.

use serde::{Deserialize, Serialize};

use url::Url;

use super::Ctx;
use crate::auth::sso::{self, Need};
use crate::clock::rfc3339;
use crate::error::{Error, Result};
use crate::http::{is_loopback, origin};
use crate::redact;

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
/// v1 when it is unset or empty (which [`cluster_server`] then refuses: it
/// names no cluster). Anything lmi cannot answer
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
    let hint = format!("{EXEC_INFO} is set by kubectl (with `{PROVIDE_CLUSTER_INFO}` in the kubeconfig's exec block, it names the cluster lmi answers for)");
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

/// The kubeconfig line that makes kubectl name its cluster.
const PROVIDE_CLUSTER_INFO: &str = "provideClusterInfo: true";

/// The server kubectl names in `spec.cluster.server`, or the error saying
/// it named none and which kubeconfig line fixes that. Called after
/// [`api_version`], so malformed JSON has already been refused.
fn cluster_server(exec_info: Option<&str>) -> Result<String> {
    #[derive(Deserialize)]
    struct Request {
        spec: Option<Spec>,
    }
    #[derive(Deserialize)]
    struct Spec {
        cluster: Option<Cluster>,
    }
    #[derive(Deserialize)]
    struct Cluster {
        server: Option<String>,
    }
    let server = exec_info
        .and_then(|raw| serde_json::from_str::<Request>(raw).ok())
        .and_then(|r| r.spec?.cluster?.server)
        .filter(|s| !s.trim().is_empty());
    server.ok_or_else(|| {
        Error::config(format!(
            "kubectl named no cluster server in {EXEC_INFO}; lmi hands out a credential only for a cluster it knows"
        ))
        .with_hint(format!(
            "add `{PROVIDE_CLUSTER_INFO}` to the kubeconfig's users[].user.exec block"
        ))
    })
}

/// Whether the token may go to `server`: https (or loopback http) and the
/// origin of `API_BASE_URL` or one of `API_ALLOWED_ORIGINS`.
fn check_cluster(ctx: &Ctx, server: &str) -> Result<()> {
    let refused = |shown: &str, why: &str| {
        Error::config(format!(
            "kubectl's cluster {shown} {why}; lmi gives it no credential"
        ))
    };
    let check = "check the cluster's server in the kubeconfig";
    let url = Url::parse(server.trim()).map_err(|e| {
        // Text from a file lmi did not write: cleaned before it is shown.
        let shown = crate::redact::server_text(server, &[]);
        refused(&format!("{shown:?}"), &format!("is not a URL ({e})")).with_hint(check)
    })?;
    let shown = redact::foreign_url(&url);
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => {
            return Err(refused(&shown, "is neither https nor on a loopback host").with_hint(check))
        }
    }
    let api = ctx.config()?.api()?;
    if !api.allows(&url) {
        let wanted = origin(&url);
        return Err(refused(
            &shown,
            &format!("({wanted}) is neither API_BASE_URL's origin nor in API_ALLOWED_ORIGINS"),
        )
        .with_hint(format!(
            "if {wanted} is a cluster of this environment, add it to API_ALLOWED_ORIGINS"
        )));
    }
    Ok(())
}

pub fn run(ctx: &Ctx, sso: bool) -> Result<u8> {
    // Checked before any token is asked for: a request lmi cannot answer,
    // or a cluster it must not answer for, should cost nothing.
    if !sso {
        super::refuse_dpop(ctx, "kubectl")?;
    }
    let exec_info = ctx.env.get(EXEC_INFO);
    let api_version = api_version(exec_info)?;
    check_cluster(ctx, &cluster_server(exec_info)?)?;
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
    fn the_cluster_is_read_from_the_spec_or_its_absence_names_the_fix() {
        let info = r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://k8s.example.com:6443/x"},"interactive":false}}"#;
        assert_eq!(
            cluster_server(Some(info)).unwrap(),
            "https://k8s.example.com:6443/x"
        );
        for none in [
            None,
            Some(""),
            Some(r#"{"apiVersion":"client.authentication.k8s.io/v1"}"#),
            Some(
                r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"interactive":false}}"#,
            ),
            Some(
                r#"{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":" "}}}"#,
            ),
        ] {
            let err = cluster_server(none).unwrap_err();
            assert_eq!(err.exit_code(), 3, "{none:?}");
            assert!(
                err.message().contains("named no cluster"),
                "{}",
                err.message()
            );
            assert!(
                err.hint().is_some_and(|h| h.contains(PROVIDE_CLUSTER_INFO)),
                "{none:?}"
            );
        }
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
