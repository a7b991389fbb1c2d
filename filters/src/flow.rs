//! What a filter tells the gateway to do next.

/// The outcome of one request-phase filter. The gateway walks its filters in order and
/// stops at the first that did not return [`Flow::Continue`].
#[derive(Debug, PartialEq, Eq)]
pub enum Flow<T> {
    /// Not this filter's business (or it has done its part): go on.
    Continue,
    /// The filter answered; the gateway writes this response and proxies nothing.
    Respond(T),
}
