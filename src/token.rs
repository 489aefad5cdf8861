//! The bearer token: an opaque secret that never prints.

use std::fmt;

use zeroize::Zeroize;

/// A platform bearer token (conventionally `wk_…`; treated as opaque).
///
/// `Debug` shows only the prefix up to the first `_` (`wk_***redacted`); there is no `Display`.
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
        let prefix = match self.0.find('_') {
            Some(i) => self.0.get(..=i).unwrap_or(""),
            None => "",
        };
        write!(f, "Token({prefix}***redacted)")
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
}
