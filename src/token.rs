//! The bearer token: an opaque secret that never prints.

use std::fmt;

use zeroize::Zeroize;

/// A platform bearer token (conventionally `wk_…`; treated as opaque).
///
/// `Debug` shows at most a kind marker shaped like `wk_` (1 to 8 lowercase letters then `_`),
/// as `Token(wk_***redacted)`, and nothing of any other token; there is no `Display`.
/// The string is zeroized when the token is dropped. Use [`Token::expose`] only to hand the value
/// to storage you control.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token string.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    /// The secret value, for the caller to persist (keychain, config file, …).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({}***redacted)", shown_prefix(&self.0))
    }
}

/// Longest run of letters shown as a token's kind (`wk`, `wkcli`).
const MAX_PREFIX_LETTERS: usize = 8;

/// The part of `token` that `Debug` may show: a `wk_`-like kind marker (1 to 8 lowercase ASCII
/// letters then `_`, followed by more characters), else nothing. An opaque token whose first `_`
/// comes late would otherwise print most of its secret.
fn shown_prefix(token: &str) -> &str {
    let letters = token
        .bytes()
        .take_while(u8::is_ascii_lowercase)
        .take(MAX_PREFIX_LETTERS + 1)
        .count();
    let shaped = (1..=MAX_PREFIX_LETTERS).contains(&letters)
        && token.as_bytes().get(letters) == Some(&b'_')
        && token.len() > letters + 1;
    if shaped {
        token.get(..=letters).unwrap_or("")
    } else {
        ""
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl From<String> for Token {
    fn from(token: String) -> Self {
        Token(token)
    }
}

impl From<&str> for Token {
    fn from(token: &str) -> Self {
        Token(token.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_only_the_prefix() {
        let t = Token::new("wk_s3cr3tvalue");
        let shown = format!("{t:?}");
        assert_eq!(shown, "Token(wk_***redacted)");
        assert!(!shown.contains("s3cr3t"));
    }

    #[test]
    fn debug_of_a_token_without_prefix_shows_nothing_of_it() {
        assert_eq!(format!("{:?}", Token::new("abcdef")), "Token(***redacted)");
    }

    #[test]
    fn an_opaque_token_with_a_late_underscore_shows_nothing_of_its_secret() {
        for secret in [
            "9f8e7d6c5b4a39281706_f5e4",
            "abcdefghijkl_mnop",
            "Wk_SecretPart",
            "wk-secret_rest",
            "a1_secret",
            "_secret",
            "wk_",
            "eyJhbGciOiJIUzI1NiJ9_payload",
        ] {
            let shown = format!("{:?}", Token::new(secret));
            assert_eq!(shown, "Token(***redacted)", "{secret}");
        }
    }

    #[test]
    fn kind_markers_of_up_to_eight_letters_are_shown() {
        assert_eq!(
            format!("{:?}", Token::new("wkcli_s3cr3t")),
            "Token(wkcli_***redacted)"
        );
        assert_eq!(
            format!("{:?}", Token::new("abcdefgh_s3cr3t")),
            "Token(abcdefgh_***redacted)"
        );
        assert_eq!(
            format!("{:?}", Token::new("abcdefghi_s3cr3t")),
            "Token(***redacted)"
        );
    }
}
