//! The device authorization request (RFC 8628 §3.1) and its response
//! (§3.2; errors §3.2 and RFC 6749 §5.2). Polling, the prompt and what the
//! response may ask lmi to show are the SSO device flow's.

use serde_json::Value as Json;
use url::Url;

use crate::error::{Error, Result};
use crate::http::Transport;
use crate::redact;
use crate::secret::Secret;

use super::error::{parse_error, snippet, ErrorBody};
use super::response::check_size;

/// A device authorization response (RFC 8628 §3.2).
#[derive(Debug, Clone)]
pub struct DeviceAuthorization {
    pub device_code: Secret,
    /// Shown to the person, never logged.
    pub user_code: Secret,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Option<u64>,
    pub interval: Option<u64>,
}

/// What to check when the device authorization response is unusable.
pub const CHECK_ENDPOINT: &str = "the IdP's device authorization endpoint does not answer as RFC 8628 says; check OAUTH_SSO_DEVICE_AUTHORIZATION_URL (or the IdP's metadata)";

/// The device authorization request (RFC 8628 §3.1) as a public client.
pub fn request_authorization(
    transport: &dyn Transport,
    endpoint: &Url,
    client_id: &str,
    scopes: &str,
) -> Result<DeviceAuthorization> {
    let shown = redact::url(endpoint);
    let form = [("client_id", client_id), ("scope", scopes)];
    let response = transport.post_form(endpoint, &[], &form).map_err(|e| {
        Error::auth(format!(
            "the device authorization request failed: {}",
            e.describe(transport.timeout())
        ))
        .with_hint("check OAUTH_SSO_ISSUER (or OAUTH_SSO_DEVICE_AUTHORIZATION_URL) and your network, then try again")
        .with_cause(e)
    })?;
    parse_authorization(&shown, response.status, &response.body)
}

fn json_type(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// The error for a refused or failed device authorization request.
fn refused(shown: &str, status: u16, body: &[u8]) -> Error {
    match parse_error(status, body, &[]) {
        ErrorBody::OAuth(e) => {
            let hint = match e.code.as_str() {
                "invalid_scope" => "check OAUTH_SSO_SCOPES: the IdP refuses one of them for this client",
                "invalid_client" | "unauthorized_client" => "check OAUTH_SSO_CLIENT_ID, and that the IdP allows this client the device flow (grant type urn:ietf:params:oauth:grant-type:device_code); or use the browser flow (OAUTH_SSO_FLOW=browser)",
                _ => "check OAUTH_SSO_CLIENT_ID and the client's settings at the IdP",
            };
            Error::auth(format!(
                "the device authorization endpoint {shown} refused the request (HTTP {status}): {}",
                e.summary()
            ))
            .with_hint(hint)
        }
        ErrorBody::Other(_) => {
            // The body trimmed before it is cleaned: a lone line break is
            // no text worth quoting.
            let snippet = snippet(String::from_utf8_lossy(body).trim(), &[]);
            Error::auth(format!(
                "the device authorization endpoint {shown} answered HTTP {status}{}",
                if snippet.is_empty() { String::new() } else { format!(": {snippet}") }
            ))
            .with_hint("the IdP's device authorization endpoint is not working; try again later, or check OAUTH_SSO_DEVICE_AUTHORIZATION_URL")
        }
    }
}

/// Reads a device authorization response (RFC 8628 §3.2).
pub fn parse_authorization(shown: &str, status: u16, body: &[u8]) -> Result<DeviceAuthorization> {
    if check_size(body).is_err() {
        return Err(Error::auth(format!(
            "the device authorization response from {shown} is larger than 1 MiB; refused"
        ))
        .with_hint(CHECK_ENDPOINT));
    }
    if !(200..300).contains(&status) {
        return Err(refused(shown, status, body));
    }
    let text = String::from_utf8_lossy(body);
    let Ok(Json::Object(obj)) = serde_json::from_str::<Json>(&text) else {
        return Err(Error::auth(format!(
            "the device authorization endpoint {shown} returned a response that is not a JSON object; nothing was stored"
        ))
        .with_hint(CHECK_ENDPOINT));
    };
    let mut missing = Vec::new();
    let mut wrong = Vec::new();
    let mut text_field = |name: &'static str, required: bool| match obj.get(name) {
        Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Json::Null) if !required => None,
        None | Some(Json::Null) => {
            missing.push(name);
            None
        }
        Some(Json::String(_)) => {
            wrong.push(format!("{name} is empty"));
            None
        }
        Some(other) => {
            wrong.push(format!("{name} is {}, not a string", json_type(other)));
            None
        }
    };
    let device_code = text_field("device_code", true);
    let user_code = text_field("user_code", true);
    // Google's endpoint names it `verification_url` (an earlier draft's name).
    let verification_uri =
        if obj.contains_key("verification_uri") || !obj.contains_key("verification_url") {
            text_field("verification_uri", true)
        } else {
            text_field("verification_url", true)
        };
    let verification_uri_complete = text_field("verification_uri_complete", false);
    let mut number = |name: &'static str| match obj.get(name) {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) if n.as_u64().is_some() => n.as_u64(),
        Some(other) => {
            wrong.push(format!(
                "{name} is {}, not a whole number of seconds",
                json_type(other)
            ));
            None
        }
    };
    let expires_in = number("expires_in");
    let interval = number("interval");
    if !missing.is_empty() || !wrong.is_empty() {
        let mut problems = Vec::new();
        if !missing.is_empty() {
            problems.push(format!("it lacks {}", missing.join(", ")));
        }
        problems.extend(wrong);
        return Err(Error::auth(format!(
            "the device authorization response from {shown} is not usable: {}; nothing was stored",
            problems.join("; ")
        ))
        .with_hint(CHECK_ENDPOINT));
    }
    match (device_code, user_code, verification_uri) {
        (Some(device_code), Some(user_code), Some(verification_uri)) => Ok(DeviceAuthorization {
            device_code: Secret::new(device_code),
            user_code: Secret::new(user_code),
            verification_uri,
            verification_uri_complete,
            expires_in,
            interval,
        }),
        // Each `None` was recorded as missing or wrong just above.
        _ => Err(Error::internal(
            "a device authorization field went unchecked",
        )),
    }
}
