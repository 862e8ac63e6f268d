//! Response bodies: JSON (the default) or XML, for results and errors.

use serde::Serialize;

use crate::error::ApiError;

/// The `Format` of a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// `JSON` (the default): `application/json;charset=utf-8`.
    #[default]
    Json,
    /// `XML`: `text/xml;charset=utf-8`, the root element named after the operation.
    Xml,
}

impl Format {
    /// Parses the `Format` parameter, case-insensitively (SDKs send `json`); `None` for
    /// anything but JSON or XML.
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("json") {
            Some(Format::Json)
        } else if text.eq_ignore_ascii_case("xml") {
            Some(Format::Xml)
        } else {
            None
        }
    }

    /// The `Content-Type` of a body in this format. (The official SDKs recognise an XML
    /// error body only by exactly `text/xml;charset=utf-8`.)
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json;charset=utf-8",
            Format::Xml => "text/xml;charset=utf-8",
        }
    }
}

const XML_DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// Serialises a response: JSON, or XML with `root` as the root element (`GenerateDataKeyResponse`).
///
/// # Errors
/// `InternalFailure` if the value does not serialise (a bug, not an input).
pub fn render<T: Serialize>(format: Format, root: &str, value: &T) -> Result<Vec<u8>, ApiError> {
    match format {
        Format::Json => {
            // A GenerateDataKey answer is about 300 bytes: one allocation, no regrowth.
            let mut body = Vec::with_capacity(512);
            serde_json::to_writer(&mut body, value).map_err(|_| ApiError::internal())?;
            Ok(body)
        }
        Format::Xml => {
            let body = quick_xml::se::to_string_with_root(root, value)
                .map_err(|_| ApiError::internal())?;
            Ok(format!("{XML_DECLARATION}{body}").into_bytes())
        }
    }
}

/// An error body: `{"RequestId","HostId","Code","Message"}`, or `<Error>...</Error>`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorBody<'a> {
    request_id: &'a str,
    host_id: &'a str,
    code: &'a str,
    message: &'a str,
}

/// Serialises an error body.
pub fn render_error(format: Format, request_id: &str, host_id: &str, error: &ApiError) -> Vec<u8> {
    let body = ErrorBody {
        request_id,
        host_id,
        code: &error.code,
        message: &error.message,
    };
    // Four strings always serialise; the fallback is never used, but never panics either.
    render(format, "Error", &body)
        .unwrap_or_else(|_| br#"{"Code":"InternalFailure","Message":"Internal Failure."}"#.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = ApiError::invalid("Format");
        let json = render_error(Format::Json, "r-1", "h", &e);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["RequestId"], "r-1");
        assert_eq!(v["HostId"], "h");
        assert_eq!(v["Code"], "InvalidParameter");
        assert_eq!(v["Message"], "The specified parameter Format is not valid.");
        let xml = String::from_utf8(render_error(Format::Xml, "r-1", "h<&>", &e)).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><RequestId>r-1</RequestId>\
             <HostId>h&lt;&amp;&gt;</HostId><Code>InvalidParameter</Code>\
             <Message>The specified parameter Format is not valid.</Message></Error>"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("XML"), Some(Format::Xml));
        assert_eq!(Format::parse("yaml"), None);
    }
}
