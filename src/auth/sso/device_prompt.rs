//! What the device flow shows the person (RFC 8628 §3.3): where to go and
//! which code to enter, on the terminal; the page opened with their own
//! `$BROWSER` when one is set; and the verification URI as the log shows
//! it, with the code redacted.

use url::Url;

use crate::auth::oauth::DeviceAuthorization;
use crate::http::is_loopback;
use crate::redact;
use crate::secret::Secret;

use super::deps::SsoDeps;
use crate::config::SsoConfig;

/// A verification URI as the file log shows it: the user code redacted
/// wherever it appears (query, path), and the usual secret parameters.
pub fn loggable_verification(uri: &str, user_code: &Secret) -> String {
    let shown = Url::parse(uri).map_or_else(|_| "[not a URL]".to_owned(), |u| redact::url(&u));
    redact::secrets(&shown, &[user_code])
}

/// Tells the person where to go and which code to enter (RFC 8628 §3.3),
/// and opens the page with their own `$BROWSER`.
pub(super) fn show(
    deps: &SsoDeps<'_>,
    config: &SsoConfig,
    auth: &DeviceAuthorization,
    no_browser: bool,
) {
    let clean = |s: &str| redact::server_text(s, &[]);
    let mut text = format!(
        "To log in to {}, open this page in a browser on any device:\n\n    {}\n\nand enter the code:\n\n    {}\n",
        config.issuer_id,
        clean(&auth.verification_uri),
        clean(auth.user_code.expose()),
    );
    if let Some(complete) = &auth.verification_uri_complete {
        text.push_str(&format!(
            "\nor open this address, which carries the code:\n\n    {}\n",
            clean(complete)
        ));
    }
    deps.terminal.notice(&text);
    if no_browser {
        return;
    }
    let target = auth
        .verification_uri_complete
        .as_deref()
        .unwrap_or(&auth.verification_uri);
    let openable = Url::parse(target)
        .is_ok_and(|u| u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)));
    if !openable {
        tracing::warn!(target: "sso", "not opening the verification page in a browser: lmi opens only https:// addresses (or http:// on loopback)");
        return;
    }
    match deps.browser.open_configured(target) {
        Some(true) => {
            deps.terminal
                .notice("Opened the page with $BROWSER; approve the code there.");
        }
        Some(false) => {
            tracing::warn!(target: "sso", "could not start BROWSER; open the page above yourself")
        }
        None => {
            tracing::debug!(target: "sso", "BROWSER is not set; the device flow opens no browser")
        }
    }
}
