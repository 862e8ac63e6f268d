//! GetKeyPolicy and SetKeyPolicy: Alibaba's key policy document over the core's cross-account
//! grants ([`kms_core::management::policy`]). SetKeyPolicy parses the document's JSON into the
//! core's [`PolicyStatement`]s, which decide what it grants (or refuse it), and writes the
//! change to the store before it commits it, as every management operation does. GetKeyPolicy
//! renders the grants back as a document: the owner's statement (`kms:*`), then one statement
//! per account granted, sorted, so the same grants always read as the same text.
//! `docs/key-policy.md` has the mapping, its sources and the decisions.

use kms_core::management::policy::{MAX_POLICY_BYTES, account_principal};
use kms_core::management::{self, Grant, KeyPolicy, PolicyStatement, params as mparams};
use kms_core::{Error, Parameter, RequestId};
use serde::Serialize;
use serde_json::Value;

use super::{Handler, Manage, Service, read};
use crate::error::ApiError;
use crate::operation::Operation;

/// The key policy operations and their handlers.
pub(super) const MANAGEMENT: [(Operation, Handler); 2] = [
    (Operation::GetKeyPolicy, Service::get_key_policy),
    (Operation::SetKeyPolicy, Service::set_key_policy),
];

/// The `Sid` of the owner's statement in a rendered document (Alibaba's default policy's).
pub const OWNER_SID: &str = "kms default key policy";

/// The most characters of a `Sid` (Alibaba: 128).
const MAX_SID_CHARS: usize = 128;

const INVALID: Error = Error::InvalidParameter(Parameter::Policy);

/// `PolicyName`: absent, or `default`, the only name Alibaba has.
fn policy_name(m: &Manage<'_>) -> Result<(), Error> {
    match m.get("PolicyName") {
        None | Some("default") => Ok(()),
        Some(_) => Err(Error::InvalidParameter(Parameter::PolicyName)),
    }
}

/// A string, or an array of strings (at least one), as a list.
fn strings(value: Option<&Value>) -> Result<Vec<&str>, Error> {
    match value {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().ok_or(INVALID))
            .collect::<Result<Vec<_>, _>>(),
        Some(_) => Err(INVALID),
    }
}

/// Whether `sid` is a valid statement ID: at most 128 of Alibaba's characters (letters, digits,
/// `_ / + = . @ -`) and, **\[decided\]**, spaces (Alibaba's own examples have them).
fn is_valid_sid(sid: &str) -> bool {
    sid.chars().count() <= MAX_SID_CHARS
        && sid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " _/+=.@-".contains(c))
}

/// One statement of the document: its members are `Sid`, `Effect`, `Principal` (an object
/// whose only member is `RAM`), `Action`, `Resource` and `Condition`; any other member (a
/// `NotAction`, a misspelt name) is refused **\[decided\]**, as is a `Principal` of another
/// kind.
fn statement(value: &Value) -> Result<PolicyStatement<'_>, Error> {
    let object = value.as_object().ok_or(INVALID)?;
    const MEMBERS: [&str; 6] = [
        "Sid",
        "Effect",
        "Principal",
        "Action",
        "Resource",
        "Condition",
    ];
    if object.keys().any(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(INVALID);
    }
    if let Some(sid) = object.get("Sid")
        && !sid.as_str().is_some_and(is_valid_sid)
    {
        return Err(INVALID);
    }
    let principals = match object.get("Principal") {
        None => Vec::new(),
        Some(Value::Object(p)) if p.keys().all(|k| k == "RAM") => strings(p.get("RAM"))?,
        Some(_) => return Err(INVALID),
    };
    let conditional = match object.get("Condition") {
        None => false,
        Some(Value::Object(c)) => !c.is_empty(),
        Some(_) => return Err(INVALID),
    };
    let effect = match object.get("Effect") {
        None => "",
        Some(e) => e.as_str().ok_or(INVALID)?,
    };
    Ok(PolicyStatement {
        effect,
        principals,
        actions: strings(object.get("Action"))?,
        resources: strings(object.get("Resource"))?,
        conditional,
    })
}

/// A policy document: at most 32,768 bytes of JSON, an object whose members are `Version`
/// (the string `1`) and `Statement` (an array of statements).
pub fn parse_document(text: &str) -> Result<KeyPolicy, Error> {
    if text.len() > MAX_POLICY_BYTES {
        return Err(INVALID);
    }
    let document: Value = serde_json::from_str(text).map_err(|_| INVALID)?;
    let object = document.as_object().ok_or(INVALID)?;
    if object.keys().any(|k| k != "Version" && k != "Statement") {
        return Err(INVALID);
    }
    if object.get("Version").and_then(Value::as_str) != Some("1") {
        return Err(INVALID);
    }
    let statements = object
        .get("Statement")
        .and_then(Value::as_array)
        .ok_or(INVALID)?
        .iter()
        .map(statement)
        .collect::<Result<Vec<_>, _>>()?;
    KeyPolicy::from_statements(&statements)
}

/// The document GetKeyPolicy answers for a key of `owner` with `policy`'s grants.
pub fn render_document(owner: &str, policy: &KeyPolicy) -> String {
    let mut statement = vec![StatementOut {
        sid: OWNER_SID.into(),
        effect: "Allow",
        principal: PrincipalOut {
            ram: vec![account_principal(owner)],
        },
        action: vec!["kms:*"],
        resource: ["*"],
    }];
    statement.extend(policy.grants().iter().map(
        |Grant {
             account,
             permissions,
         }| {
            StatementOut {
                sid: format!("kms cross-account use {account}"),
                effect: "Allow",
                principal: PrincipalOut {
                    ram: vec![account_principal(account)],
                },
                action: permissions.iter().map(|p| p.name()).collect(),
                resource: ["*"],
            }
        },
    ));
    let document = DocumentOut {
        version: "1",
        statement,
    };
    // A struct of strings always serializes.
    serde_json::to_string(&document).unwrap_or_default()
}

impl Service {
    fn get_key_policy(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        policy_name(m)?;
        let (_, owner, policy) =
            management::get_key_policy(&*read(&self.provider), m.caller, &key, m.now)?;
        m.render(&GetKeyPolicyResponse {
            policy: render_document(&owner, &policy),
            request_id: m.request_id,
        })
    }

    fn set_key_policy(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        policy_name(m)?;
        let text = m
            .get("Policy")
            .ok_or(Error::MissingParameter(Parameter::Policy))?;
        let policy = parse_document(text)?;
        let staged =
            management::set_key_policy(&*read(&self.provider), m.caller, &key, policy, m.now)?;
        self.commit(staged)?;
        m.done()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DocumentOut {
    version: &'static str,
    statement: Vec<StatementOut>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatementOut {
    sid: String,
    effect: &'static str,
    principal: PrincipalOut,
    action: Vec<&'static str>,
    resource: [&'static str; 1],
}

#[derive(Serialize)]
struct PrincipalOut {
    #[serde(rename = "RAM")]
    ram: Vec<String>,
}

/// A GetKeyPolicy response: the policy document as JSON text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyResponse {
    /// The document.
    pub policy: String,
    /// The request ID.
    pub request_id: RequestId,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kms_core::Permission;

    #[test]
    fn a_rendered_document_reads_back_as_the_same_grants() {
        let policy = KeyPolicy::from_grants([
            ("333", &[Permission::Decrypt][..]),
            ("222", &Permission::ALL[..]),
        ]);
        let text = render_document("111", &policy);
        assert!(text.starts_with(
            r#"{"Version":"1","Statement":[{"Sid":"kms default key policy","Effect":"Allow","Principal":{"RAM":["acs:ram::111:*"]},"Action":["kms:*"],"Resource":["*"]},{"Sid":"kms cross-account use 222""#
        ));
        // The owner's statement grants the owner, whose grant the core then drops.
        let back = parse_document(&text).unwrap().without("111");
        assert_eq!(back, policy);
        assert_eq!(render_document("111", &back), text);
        assert_eq!(
            render_document("111", &KeyPolicy::new()),
            r#"{"Version":"1","Statement":[{"Sid":"kms default key policy","Effect":"Allow","Principal":{"RAM":["acs:ram::111:*"]},"Action":["kms:*"],"Resource":["*"]}]}"#
        );
    }

    #[test]
    fn documents_the_grants_cannot_express_are_refused() {
        let ok = r#"{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":"acs:ram::222:root"},"Action":"kms:Decrypt","Resource":"*","Condition":{}}]}"#;
        assert!(parse_document(ok).is_ok());
        let with = |from: &str, to: &str| ok.replace(from, to);
        for bad in [
            String::new(),
            "[]".into(),
            "{}".into(),
            with(r#""Version":"1""#, r#""Version":"2""#),
            with(r#""Version":"1""#, r#""Version":1"#),
            with(r#""Version":"1","#, ""),
            with(r#""Statement":[{"#, r#""Statement":{"#).replace("}]}", "}}"),
            with(r#""Statement":[{"#, r#""Id":"x","Statement":[{"#),
            r#"{"Version":"1","Statement":[]}"#.into(),
            with(r#""Allow""#, r#""Deny""#),
            with(
                r#""Condition":{}"#,
                r#""Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
            ),
            with(r#"{"RAM""#, r#"{"Service""#),
            with(
                r#"{"RAM":"acs:ram::222:root"}"#,
                r#"{"RAM":"acs:ram::222:root","Service":"x"}"#,
            ),
            with("acs:ram::222:root", "acs:ram::222:user/bob"),
            with("acs:ram::222:root", "*"),
            with(r#""kms:Decrypt""#, r#""ecs:*""#),
            with(r#""kms:Decrypt""#, r#"[]"#),
            with(r#""kms:Decrypt""#, r#"[1]"#),
            with(r#""Resource":"*""#, r#""Resource":"acs:kms:*:*:*""#),
            with(r#""Effect""#, r#""NotAction":"kms:Encrypt","Effect""#),
            with(r#""Effect""#, r#""Sid":"bad!","Effect""#),
            with(
                r#""Effect""#,
                &format!(r#""Sid":"{}","Effect""#, "s".repeat(129)),
            ),
        ] {
            assert_eq!(parse_document(&bad), Err(INVALID), "{bad}");
        }
        // At most 32,768 bytes: padding with white space counts.
        let padded = format!("{ok}{}", " ".repeat(MAX_POLICY_BYTES - ok.len()));
        assert!(parse_document(&padded).is_ok());
        assert_eq!(parse_document(&format!("{padded} ")), Err(INVALID));
    }
}
