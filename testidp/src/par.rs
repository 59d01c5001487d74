//! Pushed authorization requests (RFC 9126): `POST /par` stores a client's
//! authorization parameters and answers a one-time `request_uri`, which
//! `/authorize` then accepts in their place. As the test's [`Par`]
//! behaviour asks, the endpoint is advertised, required (a non-pushed
//! `/authorize` is refused) or refuses every push.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::behaviour::Behaviour;
use crate::client_auth::authenticate;
use crate::http::Reply;
use crate::record::RecordedRequest;
use crate::state::{now_ms, random_token, Shared};
use crate::TestServer;

/// How long a `request_uri` may be used (RFC 9126 §2.2: short-lived).
pub const REQUEST_URI_LIFETIME: u64 = 60;

/// The `request_uri` prefix of RFC 9126 §2.2.
const URN: &str = "urn:ietf:params:oauth:request_uri:";

/// The PAR knobs of [`Behaviour::par`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Par {
    /// Name `pushed_authorization_request_endpoint` in the metadata (the
    /// endpoint is served either way). Default false.
    pub advertised: bool,
    /// Say `require_pushed_authorization_requests: true` in the metadata,
    /// and refuse an `/authorize` without a `request_uri`. Default false.
    pub required: bool,
    /// Answer every push with HTTP 400 and this `(error,
    /// error_description)`. Default `None`.
    pub refusal: Option<(String, String)>,
}

/// A pushed request waiting for its `/authorize`.
#[derive(Debug, Clone)]
pub(crate) struct Pushed {
    pub client_id: String,
    pub params: Vec<(String, String)>,
    pub expires_ms: u128,
}

/// The metadata fields of RFC 9126 §5.
pub(crate) fn advertise(metadata: &mut Value, base: &str, b: &Behaviour) {
    if b.par.advertised {
        metadata["pushed_authorization_request_endpoint"] = json!(format!("{base}/par"));
    }
    if b.par.required {
        metadata["require_pushed_authorization_requests"] = json!(true);
    }
}

/// `POST /par` (RFC 9126 §2.1–2.3).
pub(crate) fn push(shared: &Arc<Shared>, req: RecordedRequest) -> Reply {
    {
        let mut log = shared.log();
        log.par_requests += 1;
        log.last_par = Some(req.clone());
    }
    let b = shared.behaviour();
    if let Some((error, description)) = &b.par.refusal {
        return Reply::oauth_error(400, error, description);
    }
    let client = match authenticate(shared, &b, &req, "par") {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    // RFC 9449 §10.1: a proof's key and `dpop_jkt` must agree.
    if let (Some(proof), Some(jkt)) = (req.header("dpop"), req.param("dpop_jkt")) {
        if proof_jkt(proof).as_deref() != Some(jkt) {
            return Reply::oauth_error(
                400,
                "invalid_dpop_proof",
                "dpop_jkt is not the thumbprint of the proof's key",
            );
        }
    }
    // §2.1: a pushed request cannot carry another request_uri.
    if req.param("request_uri").is_some() {
        return Reply::oauth_error(
            400,
            "invalid_request",
            "request_uri is not allowed in a push",
        );
    }
    let request_uri = format!("{URN}{}", random_token());
    shared.store().pushed.insert(
        request_uri.clone(),
        Pushed {
            client_id: client.id,
            params: req.form.clone(),
            expires_ms: now_ms() + u128::from(REQUEST_URI_LIFETIME) * 1000,
        },
    );
    Reply::json(
        201,
        &json!({ "request_uri": request_uri, "expires_in": REQUEST_URI_LIFETIME }),
    )
    .no_store()
}

/// The thumbprint of the key in a proof's header (its signature is the
/// token endpoint's to check, where the key matters).
fn proof_jkt(proof: &str) -> Option<String> {
    use base64::Engine as _;
    let header = proof.split('.').next()?;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let header: Value = serde_json::from_slice(&header).ok()?;
    crate::dpop::thumbprint(&header["jwk"])
}

/// The authorization request `/authorize` works on: its own query, or the
/// pushed parameters its `request_uri` names (used once, by the client that
/// pushed them). `Err` is the page a refused request gets.
pub(crate) fn resolve(
    shared: &Shared,
    b: &Behaviour,
    req: RecordedRequest,
) -> Result<RecordedRequest, Reply> {
    let refuse = |msg: &str| Reply::text(400, &format!("Bad authorization request: {msg}\n"));
    let Some(request_uri) = req.query_param("request_uri") else {
        if !b.par.required {
            return Ok(req);
        }
        // RFC 6749 §4.1.2.1: to a valid redirect URI, the refusal goes back
        // to the client; else it is shown to the person.
        let redirect = req
            .query_param("redirect_uri")
            .filter(|u| crate::authorize::valid_redirect_uri(u));
        let Some(redirect) = redirect.and_then(|u| url::Url::parse(&u).ok()) else {
            return Err(refuse("this server requires pushed authorization requests"));
        };
        let mut target = redirect;
        {
            let mut pairs = target.query_pairs_mut();
            pairs.append_pair("error", "invalid_request");
            pairs.append_pair(
                "error_description",
                "pushed authorization requests are required",
            );
            if let Some(state) = req.query_param("state") {
                pairs.append_pair("state", &state);
            }
        }
        return Err(Reply::redirect(target.as_str()));
    };
    let pushed = shared.store().pushed.remove(&request_uri);
    let Some(pushed) = pushed.filter(|p| p.expires_ms > now_ms()) else {
        return Err(refuse("unknown, used or expired request_uri"));
    };
    if req.query_param("client_id").as_deref() != Some(pushed.client_id.as_str()) {
        return Err(refuse("client_id differs from the pushed request's"));
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pushed.params)
        .finish();
    Ok(RecordedRequest { query, ..req })
}

impl TestServer {
    /// `POST /par` requests so far (refused ones too).
    pub fn par_requests(&self) -> usize {
        self.shared.log().par_requests
    }

    /// The most recent `POST /par` request.
    pub fn last_par_request(&self) -> Option<RecordedRequest> {
        self.shared.log().last_par.clone()
    }

    /// `idp_url() + "/par"` (RFC 9126 §2).
    pub fn par_url(&self) -> String {
        format!("{}/par", self.shared.idp_url)
    }
}
