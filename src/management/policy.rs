//! Key policies: GetKeyPolicy and SetKeyPolicy, over the cross-account grants the data-key
//! operations enforce (step 3 of spec §7). A key's owner may always do everything with it; a
//! [`KeyPolicy`] lists what it lets *other* accounts do, as [`Grant`]s of [`Permission`]s.
//!
//! Alibaba's policy document is JSON; the frontend parses it into [`PolicyStatement`]s and
//! [`KeyPolicy::from_statements`] decides what they grant, refusing what the grants cannot
//! express (a Deny, a Condition, a principal narrower than a whole account) rather than
//! widening or narrowing it silently. The change is one [`Mutation::SetPolicy`], staged as the
//! rest of [`management`](super) is. `docs/key-policy.md` gives the mapping with its sources;
//! the choices where Alibaba is silent are marked **\[decided\]**.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use super::{KeyStore, Mutation, Staged, owned, stage};
use crate::{Caller, Error, KeyId, KeyReference, Parameter, Permission};

/// The most bytes of a policy document (Alibaba: 32,768).
pub const MAX_POLICY_BYTES: usize = 32_768;

/// What a key policy lets one account (not the key's owner) do with the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    /// The account, as digits.
    pub account: String,
    /// The permissions, in the order of [`Permission::ALL`], each once, never empty.
    pub permissions: Vec<Permission>,
}

/// The cross-account part of a key's policy: the [`Grant`]s, sorted by account, one per
/// account. The default (no grants) lets only the owner use the key.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyPolicy {
    grants: Vec<Grant>,
}

impl KeyPolicy {
    /// A policy that grants nothing to anyone but the owner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The policy granting each account the union of the permissions listed for it, in
    /// canonical form: accounts sorted, permissions in [`Permission::ALL`] order, accounts
    /// without permissions left out.
    pub fn from_grants<'a, A: AsRef<str>>(
        grants: impl IntoIterator<Item = (A, &'a [Permission])>,
    ) -> Self {
        let mut policy = Self::new();
        for (account, permissions) in grants {
            policy.grant(account.as_ref(), permissions.iter().copied());
        }
        policy
    }

    /// Adds `permissions` to what `account` holds.
    fn grant(&mut self, account: &str, permissions: impl IntoIterator<Item = Permission>) {
        let mut added: Vec<Permission> = permissions.into_iter().collect();
        if added.is_empty() {
            return;
        }
        let i = match self
            .grants
            .binary_search_by(|g| g.account.as_str().cmp(account))
        {
            Ok(i) => i,
            Err(i) => {
                self.grants.insert(
                    i,
                    Grant {
                        account: account.into(),
                        permissions: Vec::new(),
                    },
                );
                i
            }
        };
        let grant = &mut self.grants[i];
        added.extend(grant.permissions.iter().copied());
        grant.permissions = Permission::ALL
            .into_iter()
            .filter(|p| added.contains(p))
            .collect();
    }

    /// The grants, sorted by account.
    pub fn grants(&self) -> &[Grant] {
        &self.grants
    }

    /// Whether the policy grants nothing.
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }

    /// Whether the policy lets `account` (not the owner, who may always) use the key for
    /// `permission`.
    pub fn permits(&self, account: &str, permission: Permission) -> bool {
        self.grants
            .iter()
            .any(|g| g.account == account && g.permissions.contains(&permission))
    }

    /// The same policy without the grant of `account`.
    #[must_use]
    pub fn without(mut self, account: &str) -> Self {
        self.grants.retain(|g| g.account != account);
        self
    }

    /// What a policy document's statements grant, or `InvalidParameter Policy` for a document
    /// the grants cannot express (each rule is in [`PolicyStatement`]). Statements for the
    /// same account add up. At least one statement is needed (Alibaba: "one or more").
    ///
    /// # Errors
    /// `InvalidParameter Policy`.
    pub fn from_statements(statements: &[PolicyStatement<'_>]) -> Result<Self, Error> {
        let invalid = Error::InvalidParameter(Parameter::Policy);
        if statements.is_empty() {
            return Err(invalid);
        }
        let mut policy = Self::new();
        for statement in statements {
            let (accounts, permissions) = statement.grants()?;
            for account in accounts {
                policy.grant(account, permissions.iter().copied());
            }
        }
        Ok(policy)
    }
}

/// One statement of a policy document, as the frontend parsed it from the JSON. A statement
/// is accepted when:
///
/// - `effect` is `Allow` (**\[decided\]** `Deny` is refused: the grants only allow, and
///   dropping a Deny would let through what it denied);
/// - `conditional` is false (**\[decided\]** a Condition narrows an Allow; the grants have no
///   conditions, and dropping one would widen the Allow);
/// - every principal is a whole account, `acs:ram::<account>:*` (Alibaba's form) or
///   `acs:ram::<account>:root`, the account 1 to 64 digits (**\[decided\]** RAM users and roles,
///   `acs:ram::<account>:user/...` and `:role/...`, are refused: the server authenticates
///   accounts, not RAM identities); at least one;
/// - every resource is `*` (Alibaba: "the value can only be \*"); at least one;
/// - every action is `kms:` and a name or a pattern with `*` (Alibaba: "must start with
///   kms:"), at least one. A pattern grants the permissions whose names it matches, ASCII
///   case-insensitively (`kms:*` all of them, `kms:ReEncrypt*` both halves of ReEncrypt); an
///   action that matches no permission has no effect (Alibaba: "If you specify an operation
///   that is not included in the list, the operation will not take effect").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyStatement<'a> {
    /// `Effect`.
    pub effect: &'a str,
    /// The entries of `Principal.RAM`.
    pub principals: Vec<&'a str>,
    /// `Action`.
    pub actions: Vec<&'a str>,
    /// `Resource`.
    pub resources: Vec<&'a str>,
    /// Whether the statement has a (non-empty) `Condition`.
    pub conditional: bool,
}

impl<'a> PolicyStatement<'a> {
    /// The accounts the statement names and the permissions it grants them.
    fn grants(&self) -> Result<(Vec<&'a str>, Vec<Permission>), Error> {
        let invalid = Error::InvalidParameter(Parameter::Policy);
        if self.effect != "Allow" || self.conditional {
            return Err(invalid);
        }
        if self.resources.is_empty() || self.resources.iter().any(|r| *r != "*") {
            return Err(invalid);
        }
        if self.principals.is_empty() || self.actions.is_empty() {
            return Err(invalid);
        }
        let accounts = self
            .principals
            .iter()
            .map(|p| principal_account(p).ok_or(invalid))
            .collect::<Result<Vec<_>, _>>()?;
        let mut permissions = Vec::new();
        for action in &self.actions {
            permissions.extend(action_permissions(action).ok_or(invalid)?);
        }
        Ok((accounts, permissions))
    }
}

/// The account a principal names as a whole: `acs:ram::<account>:*` or
/// `acs:ram::<account>:root`, with 1 to 64 digits; `None` for anything else.
pub fn principal_account(principal: &str) -> Option<&str> {
    let rest = principal.strip_prefix("acs:ram::")?;
    let account = rest
        .strip_suffix(":*")
        .or_else(|| rest.strip_suffix(":root"))?;
    let digits = (1..=64).contains(&account.len()) && account.bytes().all(|b| b.is_ascii_digit());
    digits.then_some(account)
}

/// The principal that names `account` as a whole in the documents GetKeyPolicy renders:
/// `acs:ram::<account>:*`.
pub fn account_principal(account: &str) -> String {
    let mut p = String::with_capacity(account.len() + 11);
    p.push_str("acs:ram::");
    p.push_str(account);
    p.push_str(":*");
    p
}

/// The permissions an action grants (see [`PolicyStatement`]); `None` when it is not `kms:`
/// followed by 1 to 128 ASCII letters and `*`.
pub fn action_permissions(action: &str) -> Option<impl Iterator<Item = Permission> + '_> {
    let name = action.get(..4).filter(|p| p.eq_ignore_ascii_case("kms:"))?;
    let pattern = &action[name.len()..];
    let well_formed = (1..=128).contains(&pattern.len())
        && pattern
            .bytes()
            .all(|b| b.is_ascii_alphabetic() || b == b'*');
    well_formed.then(|| {
        Permission::ALL
            .into_iter()
            .filter(move |p| glob(pattern.as_bytes(), &p.name().as_bytes()["kms:".len()..]))
    })
}

/// Whether `pattern` (`*` matching any run of characters) matches `name`, ASCII
/// case-insensitively.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|i| glob(rest, &name[i..])),
        Some((c, rest)) => name
            .split_first()
            .is_some_and(|(n, tail)| n.eq_ignore_ascii_case(c) && glob(rest, tail)),
    }
}

/// GetKeyPolicy: the key's canonical ID, its owner and its grants (the owner itself holds
/// every permission and is not among them).
///
/// # Errors
/// Key resolution errors (only the owner reads a key's policy: another account's key by ARN is
/// `Forbidden.NoPermission`, as for every management operation).
pub fn get_key_policy<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<(KeyId, String, KeyPolicy), Error> {
    let key = owned(store, caller, key, now)?;
    Ok((key.key_id, key.account, key.policy))
}

/// SetKeyPolicy: the key's grants become `policy`'s, whatever they were (an empty policy
/// revokes every grant). A grant to the owner is dropped: the owner always holds every
/// permission (Alibaba: an account "has full operation permissions on its own resources").
/// **\[decided\]** Allowed in every state: it changes who may use the key, not the key.
///
/// # Errors
/// Key resolution errors.
pub fn set_key_policy<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    policy: KeyPolicy,
    now: Duration,
) -> Result<Staged<()>, Error> {
    let key = owned(store, caller, key, now)?;
    let policy = policy.without(&key.account);
    let mutation = Mutation::SetPolicy {
        key_id: key.key_id,
        policy,
    };
    Ok(stage(store, mutation, ()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow<'a>(principals: &[&'a str], actions: &[&'a str]) -> PolicyStatement<'a> {
        PolicyStatement {
            effect: "Allow",
            principals: principals.to_vec(),
            actions: actions.to_vec(),
            resources: alloc::vec!["*"],
            conditional: false,
        }
    }

    fn permissions(action: &str) -> Vec<Permission> {
        action_permissions(action).unwrap().collect()
    }

    #[test]
    fn actions_match_permission_names_as_patterns() {
        assert_eq!(permissions("kms:*"), Permission::ALL.to_vec());
        assert_eq!(
            permissions("kms:GenerateDataKey"),
            [Permission::GenerateDataKey]
        );
        assert_eq!(
            permissions("KMS:generatedatakey*"),
            [
                Permission::GenerateDataKey,
                Permission::GenerateDataKeyWithoutPlaintext
            ]
        );
        assert_eq!(
            permissions("kms:ReEncrypt*"),
            [Permission::ReEncryptFrom, Permission::ReEncryptTo]
        );
        assert_eq!(
            permissions("kms:*crypt"),
            [Permission::Encrypt, Permission::Decrypt]
        );
        assert!(permissions("kms:DescribeKey").is_empty());
        assert!(permissions("kms:List*").is_empty());
        for bad in [
            "GenerateDataKey",
            "kms:",
            "kms:Gen-erate",
            "ram:*",
            "kms:Decrypt ",
        ] {
            assert!(action_permissions(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn principals_are_whole_accounts() {
        assert_eq!(principal_account("acs:ram::1234:*"), Some("1234"));
        assert_eq!(principal_account("acs:ram::1234:root"), Some("1234"));
        for bad in [
            "acs:ram::1234:user/alice",
            "acs:ram::1234:role/r",
            "acs:ram::12a4:*",
            "acs:ram:::*",
            "*",
            "acs:ram:cn-hangzhou:1234:*",
        ] {
            assert_eq!(principal_account(bad), None, "{bad}");
        }
        assert_eq!(account_principal("1234"), "acs:ram::1234:*");
    }

    #[test]
    fn statements_add_up_in_canonical_form() {
        let policy = KeyPolicy::from_statements(&[
            allow(&["acs:ram::222:*"], &["kms:Decrypt"]),
            allow(&["acs:ram::111:root", "acs:ram::222:*"], &["kms:Encrypt"]),
            allow(&["acs:ram::333:*"], &["kms:DescribeKey"]),
        ])
        .unwrap();
        let expected = KeyPolicy::from_grants([
            ("111", &[Permission::Encrypt][..]),
            ("222", &[Permission::Decrypt, Permission::Encrypt][..]),
        ]);
        assert_eq!(policy, expected);
        assert_eq!(
            policy.grants()[1].permissions,
            [Permission::Encrypt, Permission::Decrypt]
        );
        assert!(policy.permits("222", Permission::Decrypt));
        assert!(!policy.permits("111", Permission::Decrypt));
        assert!(!policy.permits("333", Permission::Decrypt));
    }

    #[test]
    fn what_the_grants_cannot_express_is_refused() {
        let invalid = Err(Error::InvalidParameter(Parameter::Policy));
        let ok = allow(&["acs:ram::222:*"], &["kms:Decrypt"]);
        assert!(KeyPolicy::from_statements(core::slice::from_ref(&ok)).is_ok());
        let cases = [
            PolicyStatement {
                effect: "Deny",
                ..ok.clone()
            },
            PolicyStatement {
                effect: "allow",
                ..ok.clone()
            },
            PolicyStatement {
                conditional: true,
                ..ok.clone()
            },
            PolicyStatement {
                resources: alloc::vec!["acs:kms:cn-hangzhou:222:key/x"],
                ..ok.clone()
            },
            PolicyStatement {
                resources: Vec::new(),
                ..ok.clone()
            },
            PolicyStatement {
                principals: alloc::vec!["acs:ram::222:user/bob"],
                ..ok.clone()
            },
            PolicyStatement {
                principals: Vec::new(),
                ..ok.clone()
            },
            PolicyStatement {
                actions: alloc::vec!["ecs:*"],
                ..ok.clone()
            },
            PolicyStatement {
                actions: Vec::new(),
                ..ok.clone()
            },
        ];
        for case in cases {
            assert_eq!(
                KeyPolicy::from_statements(&[ok.clone(), case.clone()]),
                invalid,
                "{case:?}"
            );
        }
        assert_eq!(KeyPolicy::from_statements(&[]), invalid);
    }
}
