//! Engine errors.

/// Placeholder while the engine is written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input.
    #[error(transparent)]
    InvalidInput(#[from] InvalidInput),
}

/// A value that failed validation, naming the field.
#[derive(Debug, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidInput {
    /// The offending field.
    pub field: &'static str,
    /// Why it was rejected.
    pub reason: String,
}

impl InvalidInput {
    /// A new validation failure.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self { field, reason: reason.into() }
    }
}
