//! Request parameters: the query string and a form body, decoded strictly.

use std::borrow::Cow;

use crate::error::ApiError;

/// The most parameters a request may carry.
pub const MAX_PARAMS: usize = 256;

/// Decoded parameters, in the order they came: the query's, then the body's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    /// The query string's parameters.
    pub query: Vec<(String, String)>,
    /// The form body's parameters.
    pub body: Vec<(String, String)>,
}

/// Decodes one `application/x-www-form-urlencoded` component: `+` is a space, `%XX` a byte;
/// the result must be UTF-8.
fn decode(component: &str) -> Result<String, ApiError> {
    let plus_free: Cow<'_, str> = if component.contains('+') {
        Cow::Owned(component.replace('+', " "))
    } else {
        Cow::Borrowed(component)
    };
    let bytes: Vec<u8> = percent_encoding::percent_decode_str(&plus_free).collect();
    String::from_utf8(bytes).map_err(|_| ApiError::malformed("a parameter is not UTF-8"))
}

/// Parses `a=1&b=2` (a query string or a form body). Empty segments are skipped; a name
/// without `=` has the empty value.
///
/// # Errors
/// `MalformedRequest` for text that is not UTF-8 once decoded, or too many parameters.
pub fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for segment in text.split('&') {
        if segment.is_empty() {
            continue;
        }
        if out.len() >= MAX_PARAMS {
            return Err(ApiError::malformed("too many parameters"));
        }
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        out.push((decode(name)?, decode(value)?));
    }
    Ok(out)
}

impl Params {
    /// Parses the query string and (if any) the form body.
    ///
    /// # Errors
    /// `MalformedRequest` for undecodable text or a parameter given twice (in the query, the
    /// body, or both).
    pub fn parse(query: Option<&str>, body: Option<&str>) -> Result<Self, ApiError> {
        let params = Self {
            query: parse_pairs(query.unwrap_or(""))?,
            body: parse_pairs(body.unwrap_or(""))?,
        };
        let mut names: Vec<&str> = params.all().map(|(k, _)| k).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(ApiError::malformed(format!(
                "the parameter {} is given more than once",
                w[0]
            )));
        }
        Ok(params)
    }

    /// Every parameter, query first.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query
            .iter()
            .chain(self.body.iter())
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The query's parameters.
    pub fn query(&self) -> impl Iterator<Item = (&str, &str)> {
        self.query.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.all().find(|(k, _)| *k == name).map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let p = parse_pairs("a=1&b=x+y%20z&&c&d=%7B%22k%22%3A%20%22v%22%7D").unwrap();
        assert_eq!(
            p,
            [
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), String::new()),
                ("d".into(), "{\"k\": \"v\"}".into()),
            ]
        );
        assert_eq!(parse_pairs("a=%FF").unwrap_err().code, "MalformedRequest");
        // A stray % stays as it is (as browsers and form decoders do).
        assert_eq!(parse_pairs("a=%zz").unwrap(), [("a".into(), "%zz".into())]);
    }

    #[test]
    fn refuses_duplicates() {
        assert!(Params::parse(Some("a=1&a=2"), None).is_err());
        assert!(Params::parse(Some("a=1"), Some("a=2")).is_err());
        let p = Params::parse(Some("a=1"), Some("b=2")).unwrap();
        assert_eq!(p.get("b"), Some("2"));
        assert_eq!(p.get("c"), None);
    }
}
