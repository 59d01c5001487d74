//! Helpers shared by the integration tests: a plain HTTP client (no redirect
//! following, statuses are not errors) and small form/URL utilities.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .proxy(None)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build()
        .into()
}

fn finish(resp: ureq::http::Response<ureq::Body>) -> Resp {
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = resp.into_body().read_to_string().unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

pub fn get(url: &str, bearer: Option<&str>) -> Resp {
    let mut req = agent().get(url);
    if let Some(t) = bearer {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    finish(req.call().unwrap())
}

/// POST a form, optionally with an `Authorization` header.
pub fn post_form(url: &str, authorization: Option<&str>, form: &[(&str, &str)]) -> Resp {
    let mut req = agent().post(url);
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    finish(req.send_form(form.iter().copied()).unwrap())
}

/// HTTP Basic per RFC 6749 §2.3.1: id and secret form-urlencoded first.
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let raw = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Query parameter of an absolute URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
