//! A local, SQLite-backed emulator of the WaveKat platform API, for tests and offline
//! development (feature `dev-platform`).
//!
//! It enforces the contract rather than echoing: bearer auth with revocation and
//! `reauth_required`, the sync batch cap, enum validation, idempotent upserts, sticky call
//! tombstones, account last-write-wins, exact newest-first pagination, recording bytes checked
//! against `sizeBytes`, release-signed heartbeats, the `/cli-login` browser sign-in with loopback
//! redirect or one-time code, and optional deterministic fault injection.
//!
//! Faults ([`Faults`]) fail `/api/*` requests by seed: a `503`, a `429` or a dropped connection
//! before the handler runs, and, opt-in ([`Faults::lose_responses`]), a request the handler
//! carries out whose answer is then lost, the case a durable client must survive. A test can
//! [`pause_faults`](DevPlatform::pause_faults) for a final check and resume the same sequence
//! after, and [`approve_sign_in`](DevPlatform::approve_sign_in) completes a sign-in without a
//! browser.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wavekat_platform_client::dev_platform::{self, DevPlatform, DevPlatformOptions};
//!
//! let platform = DevPlatform::start(DevPlatformOptions::default()).await?;
//! let me = dev_platform::http_client()?
//!     .get(format!("{}/api/me", platform.base_url()))
//!     .bearer_auth(platform.token().expose())
//!     .send()
//!     .await;
//! platform.shutdown().await;
//! # let _ = me;
//! # Ok(())
//! # }
//! ```

mod approval;
mod error;
mod faults;
mod http;
mod login;
mod page_guard;
mod secrets;
mod server;
mod store;
mod time;
mod voice;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use approval::SignInApproval;
pub use error::Error;
pub use faults::Faults;
pub use server::{served_api_routes, ServedRoute};

/// A reqwest client builder for raw HTTP to the emulator: a test playing the browser, or a request
/// the typed [`Client`](crate::Client) would refuse to send.
///
/// This crate builds reqwest with `rustls-no-provider` (rustls on ring, handed to each client), so
/// a bare `reqwest::Client::new()` in the same build has no TLS provider to use; this builder
/// carries the same TLS configuration as [`Client`](crate::Client).
pub fn http_client_builder() -> crate::Result<reqwest::ClientBuilder> {
    crate::tls::http_client_builder()
}

/// [`http_client_builder`] with reqwest's defaults.
pub fn http_client() -> crate::Result<reqwest::Client> {
    http_client_builder()?
        .build()
        .map_err(crate::Error::HttpClient)
}

use crate::signing::{self, ReleaseCredential, ReleaseVerifier, SecretKeyHex};
use crate::Token;
use faults::FaultPlan;
use http::{AppState, Shared};
use secrets::{hash_secret, mint_token, new_uuid, random_bytes, random_hex};
use store::{Store, StoreError, User};

/// The login of the user every emulator starts with.
pub const DEFAULT_LOGIN: &str = "dev";

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// How to start a [`DevPlatform`]. `Default` gives an in-memory database, a temporary blob
/// directory, a fresh token and master key, `127.0.0.1:0`, no auto-approve and no faults.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct DevPlatformOptions {
    listen: Option<SocketAddr>,
    db_path: Option<PathBuf>,
    blobs_dir: Option<PathBuf>,
    token: Option<Token>,
    master_public_key_hex: Option<String>,
    auto_approve: bool,
    faults: Option<Faults>,
    clock: Option<Clock>,
}

impl fmt::Debug for DevPlatformOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevPlatformOptions")
            .field("listen", &self.listen)
            .field("db_path", &self.db_path)
            .field("blobs_dir", &self.blobs_dir)
            .field("token", &self.token)
            .field("master_public_key_hex", &self.master_public_key_hex)
            .field("auto_approve", &self.auto_approve)
            .field("faults", &self.faults)
            .field("clock", &self.clock.as_ref().map(|_| "<custom>"))
            .finish()
    }
}

impl DevPlatformOptions {
    /// The address to listen on (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// A SQLite file to keep state in across runs (default: in memory).
    pub fn db_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_path = Some(path.into());
        self
    }

    /// Where recording bytes are stored (default: a temporary directory removed on shutdown).
    pub fn blobs_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.blobs_dir = Some(dir.into());
        self
    }

    /// A known bearer token to seed for the default user (default: a freshly minted one).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Verify heartbeats against this release master public key (64 hex characters) instead of
    /// one the emulator mints; the emulator then cannot issue credentials itself.
    pub fn master_public_key_hex(mut self, hex: impl Into<String>) -> Self {
        self.master_public_key_hex = Some(hex.into());
        self
    }

    /// Approve every `/cli-login` request at once, as if the user pressed Approve.
    pub fn auto_approve(mut self, on: bool) -> Self {
        self.auto_approve = on;
        self
    }

    /// Fail `/api/*` requests on purpose, deterministically (see [`Faults`]; pause and resume at
    /// run time with [`DevPlatform::pause_faults`] and [`DevPlatform::resume_faults`]).
    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = Some(faults);
        self
    }

    /// The clock (Unix seconds) the heartbeat verifier's freshness window is judged by.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }
}

/// A running emulator. Stops when [`shutdown`](DevPlatform::shutdown) is awaited or when dropped.
pub struct DevPlatform {
    base_url: String,
    local_addr: SocketAddr,
    token: Token,
    default_user: User,
    master_public_key_hex: String,
    master_private: Option<SecretKeyHex>,
    store: Store,
    blobs: PathBuf,
    owns_blobs: bool,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    faults: Option<Arc<FaultPlan>>,
    /// What the handlers share, for the operations that act as a user of the pages would.
    state: Shared,
}

impl fmt::Debug for DevPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevPlatform")
            .field("base_url", &self.base_url)
            .field("login", &self.default_user.login)
            .field("token", &self.token)
            .field("master_public_key_hex", &self.master_public_key_hex)
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl DevPlatform {
    /// Starts the emulator on the current tokio runtime and returns once it accepts connections.
    pub async fn start(options: DevPlatformOptions) -> Result<DevPlatform, Error> {
        if let Some(f) = &options.faults {
            for (option, value) in [
                ("faults.rate", f.rate),
                ("faults.lose_responses", f.lose_responses),
            ] {
                if !(0.0..=1.0).contains(&value) {
                    return Err(Error::InvalidOption {
                        option,
                        reason: format!("must be between 0.0 and 1.0, not {value}"),
                    });
                }
            }
        }
        if options
            .token
            .as_ref()
            .is_some_and(|t| t.expose().is_empty())
        {
            return Err(Error::InvalidOption {
                option: "token",
                reason: "must not be empty".to_owned(),
            });
        }

        let (master_private, master_public_key_hex) = match &options.master_public_key_hex {
            Some(hex) => (None, hex.trim().to_ascii_lowercase()),
            None => {
                let (private, public) = signing::generate_master()?;
                (Some(private), public)
            }
        };
        let mut verifier = ReleaseVerifier::new(&master_public_key_hex)?;
        if let Some(clock) = options.clock.clone() {
            verifier = verifier.with_clock(move || clock());
        }

        let db_path = options.db_path.clone();
        let store = tokio::task::spawn_blocking(move || Store::open(db_path.as_deref()))
            .await
            .map_err(|e| Error::Database(e.to_string()))??;

        let token = match options.token.clone() {
            Some(t) => t,
            None => mint_token()?,
        };
        let token_hash = hash_secret(token.expose());
        let user_id = new_uuid()?;
        let default_user = store
            .call(move |conn| {
                let candidate = User {
                    id: user_id,
                    login: DEFAULT_LOGIN.to_owned(),
                    name: Some("Dev User".to_owned()),
                    email: Some("dev@example.invalid".to_owned()),
                    role: "user".to_owned(),
                };
                let now = time::now_rfc3339_millis();
                store::insert_user(conn, &candidate, &now)?;
                let user = store::user_by_login(conn, DEFAULT_LOGIN)?.ok_or_else(|| {
                    StoreError::Corrupt {
                        what: "default user",
                        detail: "missing after insert".to_owned(),
                    }
                })?;
                store::insert_token(conn, &token_hash, &user.id, None, None, &now)?;
                Ok(user)
            })
            .await?;

        let (blobs, owns_blobs) = match &options.blobs_dir {
            Some(dir) => (dir.clone(), false),
            None => (
                std::env::temp_dir().join(format!(
                    "wk-dev-platform-{}-{}",
                    std::process::id(),
                    random_hex(8)?
                )),
                true,
            ),
        };
        tokio::fs::create_dir_all(&blobs)
            .await
            .map_err(|io| Error::Blobs {
                path: blobs.clone(),
                io,
            })?;

        let addr = options
            .listen
            .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|io| Error::Bind { addr, io })?;
        let local_addr = listener
            .local_addr()
            .map_err(|io| Error::Bind { addr, io })?;

        let faults = options.faults.map(|f| Arc::new(FaultPlan::new(f)));
        let state = Arc::new(AppState {
            store: store.clone(),
            verifier,
            blobs: blobs.clone(),
            default_user: default_user.clone(),
            auto_approve: options.auto_approve,
            faults: faults.clone(),
            sign_in_pages: page_guard::PageGuard::new(local_addr)?,
        });
        let app = server::router(state.clone());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = shutdown_rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "dev-platform server stopped");
            }
        });

        Ok(DevPlatform {
            base_url: format!("http://{local_addr}"),
            local_addr,
            token,
            default_user,
            master_public_key_hex,
            master_private,
            store,
            blobs,
            owns_blobs,
            shutdown_tx: Some(shutdown_tx),
            task: Some(task),
            faults,
            state,
        })
    }

    /// How many `/api/*` requests the fault plan has failed on purpose so far (`0` without
    /// [`DevPlatformOptions::faults`]), applied-then-lost ones included, so a test can check that
    /// a fault really fired.
    pub fn injected_faults(&self) -> u64 {
        self.faults.as_ref().map_or(0, |plan| plan.injected())
    }

    /// How many of the [`injected_faults`](Self::injected_faults) were *applied, but the response
    /// was lost* ([`Faults::lose_responses`]): the handler ran to completion and its answer was
    /// then discarded (whether the handler itself had succeeded or refused the request). Counted
    /// before the client sees the dropped connection or the `503`.
    pub fn lost_responses(&self) -> u64 {
        self.faults.as_ref().map_or(0, |plan| plan.lost())
    }

    /// Stops injecting faults until [`resume_faults`](Self::resume_faults): every `/api/*`
    /// request that arrives meanwhile is answered normally, and the fault sequence does not
    /// advance, so after the resume it continues exactly where it stopped (the same seed still
    /// gives the same faults to the same faulted requests). For a test's final check, say. An
    /// atomic switch; does nothing without [`DevPlatformOptions::faults`].
    pub fn pause_faults(&self) {
        if let Some(plan) = &self.faults {
            plan.set_paused(true);
        }
    }

    /// Resumes fault injection after [`pause_faults`](Self::pause_faults).
    pub fn resume_faults(&self) {
        if let Some(plan) = &self.faults {
            plan.set_paused(false);
        }
    }

    /// The base URL, `http://127.0.0.1:<port>`, with no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address the emulator listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The default user's bearer token.
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The default user's login ([`DEFAULT_LOGIN`]).
    pub fn login(&self) -> &str {
        &self.default_user.login
    }

    /// The release master public key heartbeats are verified against, lower-case hex.
    pub fn master_public_key_hex(&self) -> &str {
        &self.master_public_key_hex
    }

    /// The emulator's own master private key, for tests that drive another signer; `None` when
    /// started with an external master public key.
    #[doc(hidden)]
    pub fn master_private_key_hex(&self) -> Option<&str> {
        self.master_private.as_ref().map(SecretKeyHex::expose)
    }

    /// Where recording bytes are stored: the bytes of a recording live at
    /// `blobs_dir().join(r2Key)`.
    pub fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    /// Issues a release credential for `version`, certified by the emulator's own master key.
    pub fn issue_release_credential(&self, version: &str) -> Result<ReleaseCredential, Error> {
        let master = self
            .master_private
            .as_ref()
            .ok_or(Error::NoMasterPrivateKey)?;
        Ok(signing::issue_release_credential(master.expose(), version)?)
    }

    /// Does exactly what pressing Approve on the consent page of `sign_in_url` does, without a
    /// browser or HTML: the URL's parameters are validated as the page validates them, and the
    /// sign-in is approved through the same code (same token minting, same stored code). The
    /// page's CSRF check has nothing to guard here: the caller is the user, in-process.
    ///
    /// For a code sign-in ([`code_login`](crate::signin::code_login)'s URL, `mode=code`) the
    /// answer holds the one-time code the page would show, for
    /// [`CodeLogin::exchange`](crate::signin::CodeLogin::exchange). For a loopback sign-in
    /// ([`loopback_handshake`](crate::signin::loopback_handshake)'s URL) it holds the redirect
    /// the page would send the browser to, token included; it is returned, not delivered, so a
    /// test chooses how to deliver it (see [`SignInApproval::expose_redirect_url`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
    /// use wavekat_platform_client::signin::{code_login, CodeLoginOptions};
    ///
    /// let platform = DevPlatform::start(DevPlatformOptions::default()).await?;
    /// let login = code_login(platform.base_url(), CodeLoginOptions::default())?;
    /// let approval = platform.approve_sign_in(login.url()).await?;
    /// let outcome = login.exchange(approval.expose_code().unwrap_or_default()).await?;
    /// # let _ = outcome;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::ForeignSignInUrl`] when the URL names another origin than this emulator's (its
    /// loopback address, `localhost` or `[::1]` with its port, over `http`);
    /// [`Error::InvalidSignInUrl`] when it is not a URL, not `/cli-login`, or the page would
    /// refuse its parameters; [`Error::Database`] or [`Error::Randomness`] when approving fails.
    pub async fn approve_sign_in(&self, sign_in_url: &str) -> Result<SignInApproval, Error> {
        approval::approve(&self.state, sign_in_url).await
    }

    /// Creates a user with `login` (role `user`, no name or email) and returns a token for it.
    pub async fn add_user(&self, login: &str) -> Result<Token, Error> {
        if login.is_empty() {
            return Err(Error::InvalidOption {
                option: "login",
                reason: "must not be empty".to_owned(),
            });
        }
        let user = User {
            id: new_uuid()?,
            login: login.to_owned(),
            name: None,
            email: None,
            role: "user".to_owned(),
        };
        let token = mint_token()?;
        let hash = hash_secret(token.expose());
        let created = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let now = time::now_rfc3339_millis();
                if !store::insert_user(&tx, &user, &now)? {
                    return Ok(false);
                }
                store::insert_token(&tx, &hash, &user.id, None, None, &now)?;
                tx.commit()?;
                Ok(true)
            })
            .await?;
        if created {
            Ok(token)
        } else {
            Err(Error::LoginTaken {
                login: login.to_owned(),
            })
        }
    }

    /// Mints another token for the existing user `login`.
    pub async fn mint_token(&self, login: &str) -> Result<Token, Error> {
        let token = mint_token()?;
        let hash = hash_secret(token.expose());
        let wanted = login.to_owned();
        let found = self
            .store
            .call(move |conn| {
                let Some(user) = store::user_by_login(conn, &wanted)? else {
                    return Ok(false);
                };
                let now = time::now_rfc3339_millis();
                store::insert_token(conn, &hash, &user.id, None, None, &now)?;
                Ok(true)
            })
            .await?;
        if found {
            Ok(token)
        } else {
            Err(Error::UnknownUser {
                login: login.to_owned(),
            })
        }
    }

    /// Marks `token` as valid but not minted recently enough for destructive actions: syncing a
    /// call or account tombstone with it then answers `401 {"error":"reauth_required"}`; every
    /// other call works as before.
    pub async fn require_reauth(&self, token: &Token) -> Result<(), Error> {
        let hash = hash_secret(token.expose());
        let found = self
            .store
            .call(move |conn| store::require_reauth(conn, &hash))
            .await?;
        if found {
            Ok(())
        } else {
            Err(Error::UnknownToken)
        }
    }

    /// Stops accepting connections, lets in-flight requests finish, and removes a temporary blob
    /// directory.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.remove_owned_blobs();
    }

    fn remove_owned_blobs(&mut self) {
        if self.owns_blobs {
            self.owns_blobs = false;
            if let Err(e) = std::fs::remove_dir_all(&self.blobs) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(error = %e, "could not remove the dev-platform blob directory");
                }
            }
        }
    }
}

impl Drop for DevPlatform {
    fn drop(&mut self) {
        let signalled = self
            .shutdown_tx
            .take()
            .is_some_and(|tx| tx.send(()).is_ok());
        if !signalled {
            if let Some(task) = self.task.take() {
                task.abort();
            }
        }
        self.remove_owned_blobs();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_debug_redacts_the_token() {
        let options = DevPlatformOptions::default().token(Token::new("wk_supersecret"));
        let shown = format!("{options:?}");
        assert!(!shown.contains("supersecret"), "{shown}");
    }
}
