//! The small parsers: KeyId references (spec §2), the data key length (§3), DryRun (§7), and
//! the ID types. Never panic; answers are consistent.
#![no_main]

use kms_core::KeyReference;
use kms_core::reference::is_valid_alias;
use kms_core::{DataKeyLength, Error, KeyId, KeyVersionId, Parameter, RequestId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = KeyVersionId::parse(data);
    let _ = RequestId::parse(data);
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    match KeyReference::parse(text, Parameter::KeyId) {
        Ok(r) => {
            assert!(!text.is_empty() && text.len() <= 2048 && text.is_ascii());
            match r {
                KeyReference::Id(id) => assert_eq!(id.as_str(), text),
                KeyReference::UnknownId(t) => {
                    assert_eq!(t, text);
                    assert!(KeyId::parse(text).is_none() && !text.starts_with("alias/"));
                }
                KeyReference::Alias(a) => assert!(a == text && text.starts_with("alias/")),
                KeyReference::KeyArn {
                    region,
                    account,
                    key_id,
                } => assert_eq!(format!("acs:kms:{region}:{account}:key/{key_id}"), text),
                KeyReference::AliasArn {
                    region,
                    account,
                    alias,
                } => {
                    assert_eq!(format!("acs:kms:{region}:{account}:{alias}"), text);
                    assert!(is_valid_alias(alias));
                }
            }
            // Written back, the reference is the text it was parsed from.
            assert_eq!(r.to_string(), text);
        }
        Err(e) => assert_eq!(e, Error::InvalidParameter(Parameter::KeyId)),
    }
    if let Some(id) = KeyId::parse(text) {
        assert_eq!(id.as_str(), text);
    }
    let _ = is_valid_alias(text);
    // Split the text in two for the two length parameters.
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = text.split_at(mid);
    for (spec, n) in [(Some(a), Some(b)), (Some(text), None), (None, Some(text))] {
        if let Ok(len) = DataKeyLength::resolve(spec, n) {
            assert!((1..=1024).contains(&len.bytes()));
            assert_eq!(len.base64_len(), len.bytes().div_ceil(3) * 4);
        }
    }
    let dry = kms_core::wire::parse_dry_run(Some(text));
    assert_eq!(dry.is_ok(), text == "true" || text == "false");
});
