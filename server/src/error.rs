//! The errors the server puts on the wire: the core's (spec §8) and the frontend's own
//! (authentication, malformed requests), each an HTTP status, a code and a message.

use std::borrow::Cow;

/// An error response: HTTP status, `Code`, `Message`, and for throttling a retry hint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The `Code`.
    pub code: Cow<'static, str>,
    /// The `Message`.
    pub message: Cow<'static, str>,
    /// For `Rejected.Throttling`: milliseconds until a request would be admitted, sent as the
    /// `x-acs-retry-after` header.
    pub retry_after_ms: Option<u64>,
}

impl ApiError {
    /// An error with a fixed code and message.
    pub fn new(status: u16, code: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
            retry_after_ms: None,
        }
    }

    /// 404 `InvalidAccessKeyId.NotFound`.
    pub fn access_key_not_found() -> Self {
        Self::new(
            404,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        )
    }

    /// 400 `IncompleteSignature`: the signature or a part it needs is missing or malformed.
    pub fn incomplete_signature(what: impl Into<Cow<'static, str>>) -> Self {
        let what = what.into();
        Self::new(
            400,
            "IncompleteSignature",
            format!("The request signature does not conform to Aliyun standards: {what}"),
        )
    }

    /// 400 `SignatureDoesNotMatch`, with the server's string to sign (it holds no secret) so
    /// that a client can see where its canonical form differs.
    pub fn signature_does_not_match(string_to_sign: &str) -> Self {
        Self::new(
            400,
            "SignatureDoesNotMatch",
            format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            ),
        )
    }

    /// 400 `IllegalTimestamp`: missing, malformed, or more than 15 minutes off.
    pub fn illegal_timestamp() -> Self {
        Self::new(
            400,
            "IllegalTimestamp",
            "The input parameter \"Timestamp\" that is mandatory for processing this request is not supplied, malformed, or more than 15 minutes away from the server's time.",
        )
    }

    /// 400 `SignatureNonceUsed`: a replay within the window.
    pub fn nonce_used() -> Self {
        Self::new(
            400,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        )
    }

    /// 400 `IllegalTimestamp`: a timestamp earlier than the second the server began serving
    /// in (a request signed before a restart).
    pub fn timestamp_before_start() -> Self {
        Self::new(
            400,
            "IllegalTimestamp",
            "The input parameter \"Timestamp\" is earlier than the time the server started; sign the request again with the current time.",
        )
    }

    /// 400 `Rejected.LimitExceeded`: CreateKey for an account that holds `quota` keys already.
    /// The code is the one Alibaba documents for an exhausted resource quota ("the system
    /// reports the error Rejected.LimitExceeded for new requests to create this type of
    /// resource"); Alibaba does not document the status, 400 is decided here.
    pub fn key_quota_exceeded(quota: usize) -> Self {
        Self::new(
            400,
            "Rejected.LimitExceeded",
            format!(
                "The number of keys has reached the quota of {quota} for this account and region."
            ),
        )
    }

    /// 429 `Rejected.Throttling`: the AccessKey's replay cache is full, with the time until
    /// its oldest minute of nonces is dropped as the retry hint. Only that AccessKey's
    /// requests get it: the cache holds only its own nonces, and filling it means sending
    /// more than its rate limits admit (or a capacity set below that).
    pub fn nonce_cache_full(retry_after_ms: u64) -> Self {
        Self {
            retry_after_ms: Some(retry_after_ms.max(1)),
            ..Self::new(
                429,
                "Rejected.Throttling",
                "Too many requests with this AccessKey within the replay window; retry later.",
            )
        }
    }

    /// 400 `MissingParameter` for a parameter the frontend needs (`Action`, `Version`, ...).
    pub fn missing(name: &str) -> Self {
        Self::new(
            400,
            "MissingParameter",
            format!("The parameter {name} is needed but not provided."),
        )
    }

    /// 400 `InvalidParameter` for a parameter the frontend checks (`Format`, ...).
    pub fn invalid(name: &str) -> Self {
        Self::new(
            400,
            "InvalidParameter",
            format!("The specified parameter {name} is not valid."),
        )
    }

    /// 400 `InvalidVersion`: not `2016-01-20`.
    pub fn invalid_version() -> Self {
        Self::new(
            400,
            "InvalidVersion",
            "Specified parameter Version is not valid.",
        )
    }

    /// 404 `InvalidAction.NotFound`: an operation this server does not serve.
    pub fn unknown_action() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    /// 400 `MalformedRequest`: the request cannot be parsed.
    pub fn malformed(what: impl Into<Cow<'static, str>>) -> Self {
        let what = what.into();
        Self::new(
            400,
            "MalformedRequest",
            format!("The request is malformed: {what}"),
        )
    }

    /// 413 `RequestEntityTooLarge`: a body over the limit.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            413,
            "RequestEntityTooLarge",
            format!("The request body is larger than {limit} bytes."),
        )
    }

    /// 415 `UnsupportedMediaType`: a body that is not a form.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            "The request body must be application/x-www-form-urlencoded.",
        )
    }

    /// 405 `MethodNotAllowed`: not GET or POST.
    pub fn method_not_allowed() -> Self {
        Self::new(405, "MethodNotAllowed", "Only GET and POST are supported.")
    }

    /// 404 `NotFound`: a path other than `/`.
    pub fn path_not_found() -> Self {
        Self::new(
            404,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        )
    }

    /// 403 `Forbidden.DKMSInstanceNotFound`: CreateKey's `DKMSInstanceId` names a KMS
    /// instance this server does not host (the code and message of Alibaba's CreateKey
    /// reference).
    pub fn dkms_instance_not_found() -> Self {
        Self::new(
            403,
            "Forbidden.DKMSInstanceNotFound",
            "The specified DKMS Instance is not found.",
        )
    }

    /// 500 `InternalFailure`.
    pub fn internal() -> Self {
        Self::new(500, "InternalFailure", "Internal Failure.")
    }
}

impl From<kms_core::Error> for ApiError {
    /// The core's error as spec §8 puts it on the wire: its status, code and message (not its
    /// `Display`, which is a sentence for people and names internal causes).
    fn from(e: kms_core::Error) -> Self {
        let retry_after_ms = match e {
            kms_core::Error::Throttling { retry_after_ms } => Some(retry_after_ms.max(1)),
            _ => None,
        };
        Self {
            status: e.status(),
            code: Cow::Borrowed(e.code()),
            message: Cow::Owned(e.message().to_string()),
            retry_after_ms,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
