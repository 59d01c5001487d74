//! [`RecordedRequest`]: a fully read HTTP request (method, path, query,
//! lowercased headers, decoded form parameters, raw body), as the servers see
//! it and as tests inspect it afterwards.

/// One request as received by a test server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query, e.g. `/token`.
    pub path: String,
    /// Raw query string without `?` (empty when none).
    pub query: String,
    /// Headers in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Form parameters from an `application/x-www-form-urlencoded` body,
    /// decoded; empty for other bodies.
    pub form: Vec<(String, String)>,
    /// The raw body (lossy UTF-8).
    pub body: String,
}

impl RecordedRequest {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First form parameter with this name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// First query parameter with this name, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The `Authorization` header, if any.
    pub fn authorization(&self) -> Option<&str> {
        self.header("authorization")
    }

    /// Reads the whole request (including its body) from tiny_http.
    pub(crate) fn read(req: &mut tiny_http::Request) -> Self {
        let method = req.method().as_str().to_string();
        let (path, query) = match req.url().split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (req.url().to_string(), String::new()),
        };
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect();
        let mut raw = Vec::new();
        // A broken body is recorded as whatever arrived.
        let _ = req.as_reader().read_to_end(&mut raw);
        let is_form = headers.iter().any(|(k, v)| {
            k == "content-type" && v.to_ascii_lowercase().contains("x-www-form-urlencoded")
        });
        let form = if is_form {
            url::form_urlencoded::parse(&raw)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        } else {
            Vec::new()
        };
        RecordedRequest {
            method,
            path,
            query,
            headers,
            form,
            body: String::from_utf8_lossy(&raw).into_owned(),
        }
    }
}
