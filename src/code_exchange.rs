//! The headless sign-in's last step: trading the one-time code for a token.

use crate::client::Client;
use crate::error::{Error, Result};
use crate::retry::RetryPolicy;
use crate::signin::{CodeLogin, HandshakeOutcome};
use crate::wire::CliCodeExchangeRequest;

impl CodeLogin {
    /// Trades the code the user pasted (surrounding
    /// whitespace trimmed) and this sign-in's state for a bearer token. Unauthenticated; never
    /// retried (a code works once). A wrong, used or expired code (they last 10 minutes) is
    /// [`Error::CodeRejected`]: ask the user again.
    pub async fn exchange(&self, code: &str) -> Result<HandshakeOutcome> {
        let code = code.trim();
        if code.is_empty() {
            return Err(Error::InvalidInput("the sign-in code is empty".into()));
        }
        let client = Client::builder(self.base_url())
            .retry_policy(RetryPolicy::none())
            .danger_allow_insecure_http(self.allows_insecure_http())
            .build()?;
        let body = CliCodeExchangeRequest {
            code: code.to_owned(),
            state: self.state().to_owned(),
        };
        match client.exchange_cli_code(&body).await {
            Ok(response) => Ok(HandshakeOutcome {
                token: response.token,
                login: response.login,
            }),
            Err(Error::Http { status: 400, .. }) => Err(Error::CodeRejected),
            Err(other) => Err(other),
        }
    }
}
