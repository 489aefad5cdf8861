//! The platform client: bearer auth, user agent, timeouts, retries, tracing.
//!
//! Every call goes through the generated progenitor client in [`crate::generated`]; the public
//! methods of [`Client`] for the spec's operations are generated too (`src/operations.rs`). The
//! cross-cutting behaviour (auth header, user agent, per-request timeout, request signing,
//! retries, tracing) lives once, in the request hooks below (`prepare` and `send`, behind the
//! [`ClientHooks`] implementation), and every per-operation decision they make comes from the
//! spec's table in `operation_facts.rs`. What every call shares (the call's scope, the error
//! mapping) is in `Client::settle`; both are compiled once in this crate, not per operation.
//!
//! `hooks` holds the request hooks and the retry loop, `builder` the [`ClientBuilder`], `settle`
//! the mapping of a call's outcome to [`Error`]; this file the spec's facts and [`Client`].
//!
//! ```no_run
//! # async fn run() -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::{Client, Token};
//!
//! let client = Client::new("https://platform.wavekat.com", Token::new("wk_…"))?;
//! let me = client.get_me().await?;
//! let page = client.list_voice_calls(None, None, None).await?;
//! println!("{} has {} recent calls", me.login, page.items.len());
//! # Ok(()) }
//! ```

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use progenitor_client::{ClientInfo, ResponseValue};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::generated;
use crate::token::Token;

mod builder;
mod hooks;
mod settle;

pub(crate) use builder::refuse_api_suffix;
pub use builder::ClientBuilder;
pub use hooks::Hooks;
pub(crate) use hooks::{BoxFuture, ReplayBody};
use hooks::{CallScope, Sent, CALL};
use settle::{map_error, no_response, transport_error, Settled};

const DEFAULT_USER_AGENT: &str = concat!("wavekat-platform-client/", env!("CARGO_PKG_VERSION"));

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes of an error body read to classify it (the kept part is cut to 500 bytes).
const ERROR_BODY_READ_LIMIT: usize = 64 * 1024;

/// What the hooks decide per operation, read from the spec by the build script (`build/`).
#[derive(Debug)]
pub(crate) struct OperationFacts {
    /// The operationId, as progenitor names its method (snake_case).
    pub(crate) id: &'static str,
    /// The HTTP method.
    #[allow(dead_code)]
    pub(crate) method: &'static str,
    /// The path template, e.g. `/api/voice/calls`.
    pub(crate) path: &'static str,
    /// Safe to send twice: `x-wavekat-idempotent`, else GET/HEAD/PUT/DELETE yes, POST/PATCH no.
    pub(crate) idempotent: bool,
    /// `x-wavekat-signing: release`: signed with a release credential, no bearer, no user agent,
    /// never retried (a resend would carry a used nonce).
    pub(crate) release_signed: bool,
    /// The spec's `security` requires a credential: a 401 for a request without a token means
    /// none was sent, not that one was refused.
    pub(crate) bearer: bool,
    /// The request body's media type from the spec's `requestBody.content`.
    pub(crate) content_type: Option<&'static str>,
}

include!(concat!(env!("OUT_DIR"), "/operation_facts.rs"));

/// The spec's facts for an operation.
pub(crate) fn operation(id: &str) -> Option<&'static OperationFacts> {
    OPERATIONS.iter().find(|op| op.id == id)
}

/// Whether a request path still has the shape of its operation's template: the same number of
/// segments, the literal ones equal, each `{param}` one segment that is neither empty nor a dot
/// segment. A URL normaliser rewrites a `.` or `..` argument (`/recordings/../bytes` becomes
/// `/bytes`), which would carry the request, token and body, to another route; the shape check
/// catches that for every operation at once.
fn path_fits_template(path: &str, template: &str) -> bool {
    let mut actual = path.split('/');
    let mut expected = template.split('/');
    loop {
        match (actual.next(), expected.next()) {
            (None, None) => return true,
            (Some(got), Some(want)) if want.starts_with('{') && want.ends_with('}') => {
                if got.is_empty() || got == "." || got == ".." {
                    return false;
                }
            }
            (Some(got), Some(want)) if got == want => {}
            _ => return false,
        }
    }
}

impl OperationFacts {
    /// A body that is not JSON is a byte stream: bounded by the read timeout, not a whole-request
    /// deadline (a 1 GiB upload must not hit it).
    fn streams_body(&self) -> bool {
        self.content_type
            .is_some_and(|t| t != "application/json" && !t.ends_with("+json"))
    }
}

/// The WaveKat platform client. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) api: generated::Client,
    pub(crate) sync_batch_size: usize,
}

impl Client {
    /// The default `User-Agent`: `wavekat-platform-client/<crate version>`.
    pub const DEFAULT_USER_AGENT: &'static str = DEFAULT_USER_AGENT;

    /// A client for `base_url` (trailing `/` stripped) that authenticates with `token`, with
    /// default timeouts and retries.
    pub fn new(base_url: &str, token: Token) -> Result<Client> {
        Client::builder(base_url).token(token).build()
    }

    /// A builder for `base_url`, to set the token, user agent, timeouts and retry policy.
    pub fn builder(base_url: &str) -> ClientBuilder {
        ClientBuilder::new(base_url)
    }

    /// The base URL requests go to, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.api.baseurl()
    }

    /// The URL of an operation's path template, for errors that have no request of their own.
    pub(crate) fn operation_url(&self, operation_id: &str) -> String {
        let path = operation(operation_id).map_or("", |f| f.path);
        format!("{}{path}", self.base_url())
    }

    /// Runs `call` with the scope its hooks report what they sent into, and settles it: the
    /// call's own success, a 2xx progenitor did not expect (its body read whole when `read` is
    /// set, else the response handed back), or every failure mapped to [`Error`]. Not generic and `#[inline(never)]`: the call
    /// wrappers below are instantiated once per operation, so everything that does not depend on
    /// the response type lives here, compiled once.
    #[inline(never)]
    fn settle<'a>(
        &'a self,
        body: Option<Arc<dyn ReplayBody>>,
        call: BoxFuture<'a, std::result::Result<(), progenitor_client::Error<()>>>,
        read: bool,
    ) -> BoxFuture<'a, Result<Settled>> {
        Box::pin(async move {
            let unsent = || Sent {
                url: self.base_url().to_owned(),
                ..Sent::default()
            };
            let scope = CallScope {
                sent: Mutex::new(unsent()),
                body,
            };
            let (output, sent) = CALL
                .scope(scope, async move {
                    let output = call.await;
                    let sent = CALL
                        .try_with(|s| s.sent.lock().ok().map(|sent| sent.clone()))
                        .ok()
                        .flatten();
                    (output, sent)
                })
                .await;
            let sent = sent.unwrap_or_else(unsent);
            match output {
                Ok(()) => Ok(Settled::Done),
                Err(progenitor_client::Error::UnexpectedResponse(response))
                    if response.status().is_success() =>
                {
                    if read {
                        match response.bytes().await {
                            Ok(bytes) => Ok(Settled::Body(bytes, sent.url)),
                            Err(e) => Err(transport_error(&sent, e)),
                        }
                    } else {
                        Ok(Settled::Response(response))
                    }
                }
                Err(err) => Err(map_error(&sent, err).await),
            }
        })
    }

    /// [`Client::settle`] for a call that answers a value: how it settled, and the value when
    /// the generated call returned one.
    async fn settle_value<T: Send>(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>>
            + Send,
        read: bool,
    ) -> Result<(Settled, Option<T>)> {
        let mut value = None;
        let settled = self
            .settle(
                None,
                Box::pin(async {
                    value = Some(call.await?.into_inner());
                    Ok(())
                }),
                read,
            )
            .await?;
        Ok((settled, value))
    }

    /// Awaits a generated call that answers JSON, mapping every failure to [`Error`].
    pub(crate) async fn call_json<T: DeserializeOwned + Send>(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<T>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<T> {
        match self.settle_value(call, true).await? {
            (Settled::Done, Some(value)) => Ok(value),
            (Settled::Body(bytes, url), _) => {
                serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
                    url,
                    message: e.to_string(),
                })
            }
            _ => Err(no_response()),
        }
    }

    /// Awaits a generated call that answers a non-JSON body, handed over as a stream.
    #[allow(dead_code)]
    pub(crate) async fn call_bytes(
        &self,
        call: impl Future<
                Output = std::result::Result<
                    ResponseValue<progenitor_client::ByteStream>,
                    progenitor_client::Error<()>,
                >,
            > + Send,
    ) -> Result<progenitor_client::ByteStream> {
        match self.settle_value(call, false).await? {
            (Settled::Done, Some(value)) => Ok(value),
            (Settled::Response(response), _) => Ok(progenitor_client::ByteStream::new(Box::pin(
                response.bytes_stream(),
            ))),
            _ => Err(no_response()),
        }
    }

    /// Awaits a generated call whose success body is ignored (any 2xx is success).
    pub(crate) async fn call_unit(
        &self,
        call: impl Future<Output = std::result::Result<ResponseValue<()>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<()> {
        self.call_unit_replaying(None, call).await
    }

    /// [`Client::call_unit`] for a streamed body that `body` can rebuild for a retry.
    pub(crate) async fn call_unit_replaying(
        &self,
        body: Option<Arc<dyn ReplayBody>>,
        call: impl Future<Output = std::result::Result<ResponseValue<()>, progenitor_client::Error<()>>>
            + Send,
    ) -> Result<()> {
        self.settle(body, Box::pin(async { call.await.map(drop) }), false)
            .await
            .map(drop)
    }

    /// The records per sync request this client sends.
    pub fn sync_batch_size(&self) -> usize {
        self.sync_batch_size
    }
}
