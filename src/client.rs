//! The platform client (being written).
use progenitor_client::ClientHooks;

/// State the generated client's request hooks read.
#[derive(Debug, Clone, Default)]
pub struct Hooks;

impl ClientHooks<Hooks> for crate::generated::Client {}
