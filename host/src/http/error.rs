//! The one place where errors become HTTP responses: a status, a stable code
//! and a message in the `ErrorBody` shape. Internal causes are logged here,
//! once, and never reach the response.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::api::{ErrorBody, ErrorDetail};
use crate::bootstrap::SetupError;
use crate::flow::FlowError;
use crate::identity::IdentityError;
use crate::store::StoreError;

/// An error answered by the admin API.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    field: Option<String>,
}

impl ApiError {
    /// A 400 `invalid_request` about `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_request",
            message: message.into(),
            field: Some(field.to_owned()),
        }
    }

    /// A 401: no usable bearer token.
    pub fn unauthorized() -> Self {
        ApiError::plain(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    /// A 403: the token may not do this.
    pub fn forbidden() -> Self {
        ApiError::plain(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this token may not use this endpoint",
        )
    }

    /// A 404 for an unknown route or resource.
    pub fn not_found(what: &str) -> Self {
        ApiError::plain(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("{what} not found"),
        )
    }

    /// A 405 for a known endpoint and another method.
    pub fn method_not_allowed() -> Self {
        ApiError::plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint does not take this method",
        )
    }

    /// A 503: the database is away.
    pub fn unavailable() -> Self {
        ApiError::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the service is temporarily unavailable; try again",
        )
    }

    /// A 500. The cause goes to the log, not to the client.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        ApiError::plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error",
        )
    }

    fn plain(status: StatusCode, code: &'static str, message: &str) -> Self {
        ApiError {
            status,
            code,
            message: message.to_owned(),
            field: None,
        }
    }

    fn rejection(status: StatusCode, message: String) -> Self {
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            _ => "invalid_request",
        };
        let status = if status.is_client_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        let status = if status == StatusCode::UNPROCESSABLE_ENTITY {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        ApiError {
            status,
            code,
            message,
            field: None,
        }
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"castellan\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                ApiError::unavailable()
            }
            StoreError::InvalidValue => ApiError::rejection(
                StatusCode::BAD_REQUEST,
                "a value contains a character that cannot be stored".to_owned(),
            ),
            other => ApiError::internal(&other),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::NotFound(what) => ApiError::not_found(what),
            IdentityError::Invalid { field, message } => ApiError::invalid(field, message),
            IdentityError::PasswordHash(cause) => {
                ApiError::invalid("password_hash", cause.to_string())
            }
            IdentityError::Conflict(_) => {
                let message = error.to_string();
                let field = message.split_once(':').map(|(field, _)| field.to_owned());
                ApiError {
                    status: StatusCode::CONFLICT,
                    code: "conflict",
                    message,
                    field,
                }
            }
            IdentityError::Store(store) => store.into(),
            IdentityError::Internal(cause) => ApiError::internal(&cause),
        }
    }
}

impl From<FlowError> for ApiError {
    fn from(error: FlowError) -> Self {
        let message = error.to_string();
        let (status, code) = match &error {
            FlowError::UnknownFlow(_) => (StatusCode::NOT_FOUND, "not_found"),
            FlowError::NotAllowed(_) => (StatusCode::FORBIDDEN, "forbidden"),
            FlowError::Denied(_) => (StatusCode::FORBIDDEN, "access_denied"),
            FlowError::ExecutionGone => (StatusCode::GONE, "flow_expired"),
            FlowError::Stale => (StatusCode::CONFLICT, "stale_answer"),
            FlowError::Csrf | FlowError::BadAnswer(_) => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            FlowError::Mail(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            FlowError::Store(_) | FlowError::Identity(_) | FlowError::Misconfigured(_) => {
                return match error {
                    FlowError::Store(store) => store.into(),
                    FlowError::Identity(identity) => identity.into(),
                    other => ApiError::internal(&other),
                };
            }
        };
        ApiError {
            status,
            code,
            message,
            field: None,
        }
    }
}

impl From<SetupError> for ApiError {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::LinkInvalid => ApiError::not_found("setup link"),
            SetupError::Identity(error) => error.into(),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        ApiError::rejection(rejection.status(), rejection.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        ApiError::rejection(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::rejection(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::rejection(StatusCode::BAD_REQUEST, rejection.body_text())
    }
}
