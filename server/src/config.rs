//! The server's configuration: AccessKey pairs, region, rate limit, replay cache capacity.

use std::fmt;

use zeroize::Zeroizing;

/// An AccessKey pair, bound to the account whose keys it may use.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The AccessKeyId.
    pub id: String,
    secret: Zeroizing<String>,
    /// The account (a string of digits, like Alibaba's UIDs).
    pub account: String,
}

impl AccessKey {
    /// A pair for `account`.
    pub fn new(
        id: impl Into<String>,
        secret: impl Into<String>,
        account: impl Into<String>,
    ) -> Self {
        Self {
            id: id.into(),
            secret: Zeroizing::new(secret.into()),
            account: account.into(),
        }
    }

    /// The AccessKeySecret.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// A fresh pair for `account`: an `LTAI`-style 24-character ID and a 30-character secret,
    /// from the operating system's RNG.
    ///
    /// # Errors
    /// When the RNG fails.
    pub fn random(account: &str) -> Result<Self, kms_core::Error> {
        use kms_core::rand_core::TryRng;
        const ALPHABET: &[u8; 62] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let draw = |n: usize| -> Result<String, kms_core::Error> {
            let mut out = String::with_capacity(n);
            while out.len() < n {
                let mut b = [0u8; 1];
                kms_core::OsRng
                    .try_fill_bytes(&mut b)
                    .map_err(|_| kms_core::Error::from(kms_core::RngError))?;
                // 248 = 4 * 62: rejection keeps the draw uniform.
                if b[0] < 248 {
                    out.push(char::from(ALPHABET[usize::from(b[0] % 62)]));
                }
            }
            Ok(out)
        };
        let id = format!("LTAI{}", draw(20)?);
        let secret = draw(30)?;
        Ok(Self::new(id, secret, account))
    }

    /// Parses `ID:SECRET:ACCOUNT` entries separated by commas, semicolons or new lines; blank
    /// entries and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// A message naming the first malformed entry (never its secret).
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for (n, entry) in text
            .split(['\n', ',', ';'])
            .map(str::trim)
            .enumerate()
            .filter(|(_, e)| !e.is_empty() && !e.starts_with('#'))
        {
            let mut parts = entry.splitn(3, ':');
            let (Some(id), Some(secret), Some(account)) =
                (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "AccessKey entry {} is not ID:SECRET:ACCOUNT",
                    n + 1
                ));
            };
            let (id, secret, account) = (id.trim(), secret.trim(), account.trim());
            if id.is_empty()
                || secret.is_empty()
                || account.is_empty()
                || !account.bytes().all(|b| b.is_ascii_digit())
                || account.len() > 64
            {
                return Err(format!(
                    "AccessKey entry {} ({id}): the ID and secret must be non-empty and the account 1 to 64 digits",
                    n + 1
                ));
            }
            if out.iter().any(|k: &AccessKey| k.id == id) {
                return Err(format!("AccessKeyId {id} is given twice"));
            }
            out.push(Self::new(id, secret, account));
        }
        Ok(out)
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"[REDACTED]")
            .field("account", &self.account)
            .finish()
    }
}

/// What the service needs to run (the CLI builds it from flags and environment).
#[derive(Clone, Debug)]
pub struct Config {
    /// The region served (`cn-hangzhou` by default); keys live in it.
    pub region: String,
    /// The AccessKey pairs.
    pub access_keys: Vec<AccessKey>,
    /// Requests per second per account and operation (and the burst); the core's default is
    /// Alibaba's 750.
    pub rate_limit: u32,
    /// The most nonces each AccessKey's replay cache holds, overriding the default that
    /// [`Config::nonce_capacity`] derives from `rate_limit`; `None` keeps the default.
    pub nonce_capacity_per_key: Option<usize>,
    /// The most keys an account may hold in the region (whatever their state): CreateKey
    /// beyond it answers `Rejected.LimitExceeded`. Alibaba's default quota, 200, by default.
    pub key_quota: usize,
}

impl Config {
    /// The default region.
    pub const DEFAULT_REGION: &'static str = "cn-hangzhou";

    /// The default key quota per account: Alibaba's default quota of customer master keys per
    /// account and region.
    pub const DEFAULT_KEY_QUOTA: usize = 200;

    /// A configuration with these pairs and the defaults.
    pub fn new(access_keys: Vec<AccessKey>) -> Self {
        Self {
            region: Self::DEFAULT_REGION.into(),
            access_keys,
            rate_limit: kms_core::RateLimit::DEFAULT.per_second,
            nonce_capacity_per_key: None,
            key_quota: Self::DEFAULT_KEY_QUOTA,
        }
    }

    /// The most nonces each AccessKey's replay cache holds: the override if set (at least 1),
    /// else what one AccessKey's rate limits can admit while a nonce is remembered
    /// ([`crate::auth::nonce_capacity`]: `22 × rate_limit × 1,861`, capped at 2^22).
    pub fn nonce_capacity(&self) -> usize {
        self.nonce_capacity_per_key.map_or_else(
            || crate::auth::nonce_capacity(self.rate_limit, crate::Operation::ALL.len()),
            |n| n.max(1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists() {
        let keys = AccessKey::parse_list("a:s1:123, # comment\nb:s:2:x:1").unwrap_err();
        assert!(keys.contains("entry"), "{keys}");
        let keys = AccessKey::parse_list("a:s1:123,\n#c\n b : s2 : 456 ;").unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[1].id, "b");
        assert_eq!(keys[1].secret(), "s2");
        assert_eq!(keys[1].account, "456");
        assert!(AccessKey::parse_list("a:s").is_err());
        assert!(AccessKey::parse_list("a:s:1,a:t:2").is_err());
        let err = AccessKey::parse_list("a:topsecret:12x").unwrap_err();
        assert!(!err.contains("topsecret"));
        assert!(!format!("{:?}", keys[0]).contains("s1"));
    }

    #[test]
    fn nonce_capacity_per_key() {
        let mut config = Config::new(Vec::new());
        assert_eq!(config.nonce_capacity(), crate::auth::NONCE_CAPACITY_CAP);
        config.rate_limit = 10;
        assert_eq!(config.nonce_capacity(), 10 * 22 * 1861);
        config.nonce_capacity_per_key = Some(5);
        assert_eq!(config.nonce_capacity(), 5);
        config.nonce_capacity_per_key = Some(0);
        assert_eq!(config.nonce_capacity(), 1);
    }

    #[test]
    fn random_pairs() {
        let k = AccessKey::random("1").unwrap();
        assert_eq!(k.id.len(), 24);
        assert!(k.id.starts_with("LTAI"));
        assert_eq!(k.secret().len(), 30);
        assert_ne!(AccessKey::random("1").unwrap().secret(), k.secret());
    }
}
