//! The listener's HTTP/1.1 answers and pages: every answer closes the connection, carries an exact
//! `Content-Length`, and forbids caching, referrers, sniffing and any active content.

/// An HTTP answer from the listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) reason: &'static str,
    pub(super) body: String,
    /// `Allow: GET` (on 405).
    pub(super) allow_get: bool,
    /// Headers only (answering `HEAD`).
    pub(super) head_only: bool,
    /// `Location` (on a redirect); always a fixed local path, never request data.
    pub(super) location: Option<&'static str>,
}

impl Reply {
    /// A short text answer whose body is the reason phrase.
    pub(super) fn plain(status: u16, reason: &'static str) -> Reply {
        Reply::html(status, reason, reason.to_owned())
    }

    /// An answer with an HTML page.
    pub(super) fn html(status: u16, reason: &'static str, body: String) -> Reply {
        Reply {
            status,
            reason,
            body,
            allow_get: false,
            head_only: false,
            location: None,
        }
    }

    /// `405`, with `Allow: GET`; without a body when answering `HEAD`.
    pub(super) fn method_not_allowed(head_only: bool) -> Reply {
        Reply {
            allow_get: true,
            head_only,
            ..Reply::plain(405, "method not allowed")
        }
    }

    /// `303 See Other` to the local path `location`, with no body.
    pub(super) fn see_other(location: &'static str) -> Reply {
        Reply {
            location: Some(location),
            ..Reply::html(303, "See Other", String::new())
        }
    }

    /// The bytes on the wire.
    pub(super) fn render(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\n\
             Content-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\n\
             Connection: close\r\n\
             Cache-Control: no-store\r\n\
             Referrer-Policy: no-referrer\r\n\
             X-Content-Type-Options: nosniff\r\n\
             Content-Security-Policy: default-src 'none'\r\n",
            self.status,
            self.reason,
            self.body.len(),
        );
        if self.allow_get {
            out.push_str("Allow: GET\r\n");
        }
        if let Some(location) = self.location {
            out.push_str("Location: ");
            out.push_str(location);
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        if !self.head_only {
            out.push_str(&self.body);
        }
        out.into_bytes()
    }
}

fn page(title: &str, heading: &str, paragraphs: &[&str]) -> String {
    let mut body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head>\
         <body><h1>{heading}</h1>"
    );
    for paragraph in paragraphs {
        body.push_str("<p>");
        body.push_str(paragraph);
        body.push_str("</p>");
    }
    body.push_str("</body></html>\n");
    body
}

/// The page served at `/done` once the sign-in succeeded.
pub(super) fn signed_in_page() -> Reply {
    Reply::html(
        200,
        "OK",
        page(
            "WaveKat sign-in complete",
            "You're signed in.",
            &["You can close this tab and return to the app."],
        ),
    )
}

/// The page for a callback carrying the platform's `error` (escaped: it is request data).
pub(super) fn cancelled_page(reason: &str) -> Reply {
    let reason = format!("Reason: {}", crate::html::escape(reason));
    Reply::html(
        200,
        "OK",
        page(
            "WaveKat sign-in cancelled",
            "Login cancelled",
            &[
                "Nothing was signed in. You can close this tab and start the sign-in again.",
                &reason,
            ],
        ),
    )
}

/// The page for a callback whose `state` is missing or wrong; the sign-in keeps waiting.
pub(super) fn state_mismatch_page() -> Reply {
    Reply::html(
        400,
        "bad state",
        page(
            "WaveKat sign-in refused",
            "State mismatch",
            &[
                "This answer does not belong to the sign-in that is waiting, so it was refused. \
                 The app is still waiting for its own sign-in; finish that one, or re-run the \
                 sign-in to start over.",
            ],
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_reply_has_content_length_but_no_body() {
        let text = String::from_utf8(Reply::method_not_allowed(true).render()).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 405 method not allowed\r\n"));
        assert!(text.contains("Content-Length: 18\r\n"));
        assert!(text.contains("Allow: GET\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn see_other_names_the_location_and_has_an_empty_body() {
        let text = String::from_utf8(Reply::see_other("/done").render()).unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 303 See Other\r\n"));
        assert!(text.contains("\r\nLocation: /done\r\n"));
        assert!(text.contains("\r\nContent-Length: 0\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn html_escape_escapes_every_metacharacter() {
        assert_eq!(
            crate::html::escape("<a href=\"x\">it's & ok</a>"),
            "&lt;a href=&quot;x&quot;&gt;it&#39;s &amp; ok&lt;/a&gt;"
        );
    }
}
