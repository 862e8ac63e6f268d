//! The API operations the server serves, by wire name. (Not the core's
//! [`kms_core::Permission`], which names what a key policy grants.)

/// An operation served, as the `Action` parameter or the `x-acs-action` header names it. It is
/// also what the rate limiter counts: one bucket per account and operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operation {
    /// GenerateDataKey.
    GenerateDataKey,
    /// GetPublicKey.
    GetPublicKey,
    /// AsymmetricSign.
    AsymmetricSign,
    /// AsymmetricVerify.
    AsymmetricVerify,
    /// AsymmetricEncrypt.
    AsymmetricEncrypt,
    /// AsymmetricDecrypt.
    AsymmetricDecrypt,
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext,
    /// Encrypt.
    Encrypt,
    /// Decrypt.
    Decrypt,
    /// ReEncrypt.
    ReEncrypt,
    /// CreateKey.
    CreateKey,
    /// DescribeKey.
    DescribeKey,
    /// ListKeys.
    ListKeys,
    /// CreateAlias.
    CreateAlias,
    /// UpdateAlias.
    UpdateAlias,
    /// DeleteAlias.
    DeleteAlias,
    /// ListAliases.
    ListAliases,
    /// EnableKey.
    EnableKey,
    /// DisableKey.
    DisableKey,
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion,
    /// CancelKeyDeletion.
    CancelKeyDeletion,
    /// CreateKeyVersion.
    CreateKeyVersion,
    /// ListKeyVersions.
    ListKeyVersions,
    /// DescribeKeyVersion.
    DescribeKeyVersion,
    /// UpdateRotationPolicy.
    UpdateRotationPolicy,
    /// GenerateAndExportDataKey.
    GenerateAndExportDataKey,
    /// ExportDataKey.
    ExportDataKey,
    /// UpdateKeyDescription.
    UpdateKeyDescription,
    /// SetDeletionProtection.
    SetDeletionProtection,
    /// TagResource.
    TagResource,
    /// UntagResource.
    UntagResource,
    /// ListResourceTags.
    ListResourceTags,
    /// TagResources.
    TagResources,
    /// UntagResources.
    UntagResources,
    /// ListTagResources.
    ListTagResources,
    /// ListAliasesByKeyId.
    ListAliasesByKeyId,
    /// DescribeRegions.
    DescribeRegions,
    /// GetRandomPassword.
    GetRandomPassword,
    /// GetParametersForImport.
    GetParametersForImport,
    /// ImportKeyMaterial.
    ImportKeyMaterial,
    /// DeleteKeyMaterial.
    DeleteKeyMaterial,
    /// GetKeyPolicy.
    GetKeyPolicy,
    /// SetKeyPolicy.
    SetKeyPolicy,
}

impl Operation {
    /// Every operation served.
    pub const ALL: [Operation; 43] = [
        Operation::GenerateDataKey,
        Operation::GenerateDataKeyWithoutPlaintext,
        Operation::Encrypt,
        Operation::Decrypt,
        Operation::ReEncrypt,
        Operation::CreateKey,
        Operation::DescribeKey,
        Operation::ListKeys,
        Operation::CreateAlias,
        Operation::UpdateAlias,
        Operation::DeleteAlias,
        Operation::ListAliases,
        Operation::EnableKey,
        Operation::DisableKey,
        Operation::ScheduleKeyDeletion,
        Operation::CancelKeyDeletion,
        Operation::CreateKeyVersion,
        Operation::ListKeyVersions,
        Operation::DescribeKeyVersion,
        Operation::UpdateRotationPolicy,
        Operation::GenerateAndExportDataKey,
        Operation::ExportDataKey,
        Operation::UpdateKeyDescription,
        Operation::SetDeletionProtection,
        Operation::TagResource,
        Operation::UntagResource,
        Operation::ListResourceTags,
        Operation::TagResources,
        Operation::UntagResources,
        Operation::ListTagResources,
        Operation::ListAliasesByKeyId,
        Operation::DescribeRegions,
        Operation::GetRandomPassword,
        Operation::GetParametersForImport,
        Operation::ImportKeyMaterial,
        Operation::DeleteKeyMaterial,
        Operation::GetKeyPolicy,
        Operation::SetKeyPolicy,
        Operation::GetPublicKey,
        Operation::AsymmetricSign,
        Operation::AsymmetricVerify,
        Operation::AsymmetricEncrypt,
        Operation::AsymmetricDecrypt,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Operation::GenerateDataKey => "GenerateDataKey",
            Operation::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            Operation::Encrypt => "Encrypt",
            Operation::Decrypt => "Decrypt",
            Operation::ReEncrypt => "ReEncrypt",
            Operation::CreateKey => "CreateKey",
            Operation::DescribeKey => "DescribeKey",
            Operation::ListKeys => "ListKeys",
            Operation::CreateAlias => "CreateAlias",
            Operation::UpdateAlias => "UpdateAlias",
            Operation::DeleteAlias => "DeleteAlias",
            Operation::ListAliases => "ListAliases",
            Operation::EnableKey => "EnableKey",
            Operation::DisableKey => "DisableKey",
            Operation::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            Operation::CancelKeyDeletion => "CancelKeyDeletion",
            Operation::CreateKeyVersion => "CreateKeyVersion",
            Operation::ListKeyVersions => "ListKeyVersions",
            Operation::DescribeKeyVersion => "DescribeKeyVersion",
            Operation::UpdateRotationPolicy => "UpdateRotationPolicy",
            Operation::GenerateAndExportDataKey => "GenerateAndExportDataKey",
            Operation::ExportDataKey => "ExportDataKey",
            Operation::UpdateKeyDescription => "UpdateKeyDescription",
            Operation::SetDeletionProtection => "SetDeletionProtection",
            Operation::TagResource => "TagResource",
            Operation::UntagResource => "UntagResource",
            Operation::ListResourceTags => "ListResourceTags",
            Operation::TagResources => "TagResources",
            Operation::UntagResources => "UntagResources",
            Operation::ListTagResources => "ListTagResources",
            Operation::ListAliasesByKeyId => "ListAliasesByKeyId",
            Operation::DescribeRegions => "DescribeRegions",
            Operation::GetRandomPassword => "GetRandomPassword",
            Operation::GetParametersForImport => "GetParametersForImport",
            Operation::ImportKeyMaterial => "ImportKeyMaterial",
            Operation::DeleteKeyMaterial => "DeleteKeyMaterial",
            Operation::GetKeyPolicy => "GetKeyPolicy",
            Operation::SetKeyPolicy => "SetKeyPolicy",
            Operation::GetPublicKey => "GetPublicKey",
            Operation::AsymmetricSign => "AsymmetricSign",
            Operation::AsymmetricVerify => "AsymmetricVerify",
            Operation::AsymmetricEncrypt => "AsymmetricEncrypt",
            Operation::AsymmetricDecrypt => "AsymmetricDecrypt",
        }
    }

    /// The operation named `name` (case-sensitive, as Alibaba's).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Whether this is a data-key operation (it seals or opens with a key version; it runs
    /// under the provider's read lock, concurrently with the others).
    pub const fn is_data_key(self) -> bool {
        matches!(
            self,
            Operation::GenerateDataKey
                | Operation::GenerateDataKeyWithoutPlaintext
                | Operation::Encrypt
                | Operation::Decrypt
                | Operation::ReEncrypt
                | Operation::GenerateAndExportDataKey
                | Operation::ExportDataKey
                | Operation::GetPublicKey
                | Operation::AsymmetricSign
                | Operation::AsymmetricVerify
                | Operation::AsymmetricEncrypt
                | Operation::AsymmetricDecrypt
        )
    }

    /// Whether a success changes the keyring (so it is written before the reply).
    pub const fn alters_keys(self) -> bool {
        matches!(
            self,
            Operation::CreateKey
                | Operation::CreateAlias
                | Operation::UpdateAlias
                | Operation::DeleteAlias
                | Operation::EnableKey
                | Operation::DisableKey
                | Operation::ScheduleKeyDeletion
                | Operation::CancelKeyDeletion
                | Operation::CreateKeyVersion
                | Operation::UpdateRotationPolicy
                | Operation::UpdateKeyDescription
                | Operation::SetDeletionProtection
                | Operation::TagResource
                | Operation::UntagResource
                | Operation::TagResources
                | Operation::UntagResources
                | Operation::ImportKeyMaterial
                | Operation::DeleteKeyMaterial
                | Operation::SetKeyPolicy
        )
    }

    /// Whether a success seals with a key version (its seal count changes).
    pub const fn seals(self) -> bool {
        matches!(
            self,
            Operation::GenerateDataKey
                | Operation::GenerateDataKeyWithoutPlaintext
                | Operation::Encrypt
                | Operation::ReEncrypt
                | Operation::GenerateAndExportDataKey
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_round_trip() {
        for o in Operation::ALL {
            assert_eq!(Operation::from_name(o.name()), Some(o));
        }
        assert_eq!(Operation::from_name("generatedatakey"), None);
        assert_eq!(
            Operation::from_name("ImportKeyMaterial"),
            Some(Operation::ImportKeyMaterial)
        );
        // An operation of Alibaba's API that is not served.
        assert_eq!(Operation::from_name("CreateSecret"), None);
        assert_eq!(
            Operation::from_name("AsymmetricSign"),
            Some(Operation::AsymmetricSign)
        );
        assert_eq!(
            Operation::from_name("ListKeyVersions"),
            Some(Operation::ListKeyVersions)
        );
        assert_eq!(Operation::from_name("listkeyversions"), None);
    }

    #[test]
    fn classes() {
        for o in Operation::ALL {
            // Every sealing operation is a data-key one; no data-key operation alters keys.
            assert!(!o.seals() || o.is_data_key(), "{o:?}");
            assert!(!(o.is_data_key() && o.alters_keys()), "{o:?}");
        }
        assert!(Operation::Decrypt.is_data_key() && !Operation::Decrypt.seals());
        // GenerateAndExportDataKey seals as GenerateDataKey; ExportDataKey opens as Decrypt.
        assert!(Operation::GenerateAndExportDataKey.seals());
        assert!(Operation::ExportDataKey.is_data_key() && !Operation::ExportDataKey.seals());
        // The version reads change nothing and seal nothing.
        for o in [Operation::ListKeyVersions, Operation::DescribeKeyVersion] {
            assert!(!o.is_data_key() && !o.alters_keys() && !o.seals(), "{o:?}");
        }
        // GetParametersForImport stores nothing (its token is stateless); the import and the
        // deletion of material change the keyring.
        assert!(!Operation::GetParametersForImport.alters_keys());
        assert!(Operation::ImportKeyMaterial.alters_keys());
        assert!(Operation::DeleteKeyMaterial.alters_keys());
        // The key policy: set changes the keyring, get reads it.
        assert!(Operation::SetKeyPolicy.alters_keys());
        assert!(!Operation::GetKeyPolicy.alters_keys() && !Operation::GetKeyPolicy.is_data_key());
    }
}
