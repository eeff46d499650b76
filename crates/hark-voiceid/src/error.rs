//! The one error type of the crate, shaped like the model's exceptions.

use serde_json::{Value, json};

use crate::records::{ConflictType, ResourceType};

/// Everything that can go wrong in a Voice ID request; each variant is one model exception
/// (or one of the generic AWS JSON errors) and knows its `__type` and HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `ValidationException` (400): a constraint of the model, malformed JSON, a bad token.
    #[error("{0}")]
    Validation(String),
    /// `ServiceQuotaExceededException` (402).
    #[error("{0}")]
    QuotaExceeded(String),
    /// `AccessDeniedException` (403): e.g. the domain's key is no longer in the keyring.
    #[error("{0}")]
    AccessDenied(String),
    /// `ResourceNotFoundException` (404) with its `ResourceType`.
    #[error("{message}")]
    NotFound {
        /// What kind of resource is missing.
        resource: ResourceType,
        /// The human-readable message.
        message: String,
    },
    /// `ConflictException` (409) with its `ConflictType` when one of the model's applies.
    #[error("{message}")]
    Conflict {
        /// The model's conflict type, if one fits.
        conflict: Option<ConflictType>,
        /// The human-readable message.
        message: String,
    },
    /// `ThrottlingException` (429).
    #[error("{0}")]
    Throttling(String),
    /// `InternalServerException` (500); the detail is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// `UnknownOperationException` (400): an `X-Amz-Target` this service does not have.
    #[error("{0}")]
    UnknownOperation(String),
    /// A SigV4 failure, with the code AWS answers it with (`UnrecognizedClientException`,
    /// `InvalidSignatureException`, `IncompleteSignatureException`,
    /// `MissingAuthenticationTokenException`).
    #[error("{message}")]
    Unauthenticated {
        /// The AWS error code.
        code: &'static str,
        /// 400 or 403.
        status: u16,
        /// The AWS message.
        message: String,
    },
}

impl Error {
    /// The `__type` (and `x-amzn-ErrorType`) of the error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Validation(_) => "ValidationException",
            Error::QuotaExceeded(_) => "ServiceQuotaExceededException",
            Error::AccessDenied(_) => "AccessDeniedException",
            Error::NotFound { .. } => "ResourceNotFoundException",
            Error::Conflict { .. } => "ConflictException",
            Error::Throttling(_) => "ThrottlingException",
            Error::Internal(_) => "InternalServerException",
            Error::UnknownOperation(_) => "UnknownOperationException",
            Error::Unauthenticated { code, .. } => code,
        }
    }

    /// The HTTP status the model (Smithy `httpError`) gives the error.
    pub fn status(&self) -> u16 {
        match self {
            Error::Validation(_) | Error::UnknownOperation(_) => 400,
            Error::QuotaExceeded(_) => 402,
            Error::AccessDenied(_) => 403,
            Error::NotFound { .. } => 404,
            Error::Conflict { .. } => 409,
            Error::Throttling(_) => 429,
            Error::Internal(_) => 500,
            Error::Unauthenticated { status, .. } => *status,
        }
    }

    /// The JSON error body: `__type`, `Message` and the modeled extra member.
    pub fn body(&self) -> Value {
        let message = match self {
            // The detail may name tables or files: it goes to the log, not to the client.
            Error::Internal(_) => {
                "An internal error occurred; the service log has the details".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "__type": self.code(), "Message": message });
        match self {
            Error::NotFound { resource, .. } => {
                body["ResourceType"] = json!(resource.as_str());
            }
            Error::Conflict {
                conflict: Some(c), ..
            } => {
                body["ConflictType"] = json!(c.as_str());
            }
            _ => {}
        }
        body
    }

    /// A 404 for a domain id (unknown or soft-deleted: the two are indistinguishable).
    pub fn domain_not_found(domain_id: &str) -> Error {
        Error::NotFound {
            resource: ResourceType::Domain,
            message: format!("Domain {domain_id} not found"),
        }
    }

    pub(crate) fn not_found(resource: ResourceType, message: impl Into<String>) -> Error {
        Error::NotFound {
            resource,
            message: message.into(),
        }
    }

    pub(crate) fn conflict(conflict: ConflictType, message: impl Into<String>) -> Error {
        Error::Conflict {
            conflict: Some(conflict),
            message: message.into(),
        }
    }
}

impl From<crate::store::VoiceIdStoreError> for Error {
    fn from(e: crate::store::VoiceIdStoreError) -> Self {
        Error::Internal(e.to_string())
    }
}
