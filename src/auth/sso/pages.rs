//! The HTML pages the loopback listener answers the browser with, and the
//! cleaning of IdP text shown on them.

/// One answer to the browser: status, reason phrase and page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub reason: &'static str,
    pub body: String,
}

impl Reply {
    /// A page titled `title` saying `message`.
    pub fn page(status: u16, reason: &'static str, title: &str, message: &str) -> Reply {
        Reply {
            status,
            reason,
            body: page(title, message),
        }
    }

    /// 400 to what is not lmi's business.
    pub fn not_ours() -> Reply {
        Reply::page(
            400,
            "Bad Request",
            "Bad request",
            "This is lmi's login listener.",
        )
    }
}

/// The most characters of an IdP's text a page or an error quotes
/// (through [`crate::redact::excerpt`]).
pub const SHOWN_CHARS: usize = 300;

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small HTML page; both texts are escaped.
pub fn page(title: &str, message: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>lmi: {t}</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>{t}</h1><p>{m}</p></body></html>\n",
        t = html_escape(title),
        m = html_escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_and_quoted_text_is_cleaned_and_bounded() {
        let p = page("A & B", "<script>'x'</script>");
        assert!(p.contains("<title>lmi: A &amp; B</title>"), "{p}");
        assert!(
            p.contains("&lt;script&gt;&#39;x&#39;&lt;/script&gt;"),
            "{p}"
        );
        let shown = crate::redact::excerpt("a\u{1b}[2Jb", SHOWN_CHARS);
        assert!(!shown.contains('\u{1b}'), "{shown}");
        let long = crate::redact::excerpt(&"x".repeat(1000), SHOWN_CHARS);
        assert_eq!(long.len(), 300);
    }
}
