//! The `nats` sections of operator JWTs and of activation tokens.

use serde::{Deserialize, Serialize};

use super::*;

/// The `nats` section of an operator JWT.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operator {
    /// Operator signing keys: they, like the operator key, may sign account JWTs.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
    /// URL of an account JWT server.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    /// URLs of NATS servers of this operator.
    #[serde(deserialize_with = "null_as_default", skip_serializing_if = "Vec::is_empty")]
    pub operator_service_urls: Vec<String>,
    /// Public key of the system account.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    /// Minimum server version, `major.minor.patch`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    /// Account JWTs must be signed by a signing key, not the operator key.
    #[serde(skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    /// Tags, `type` (`"operator"`), version and the fields this module does not model.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl ClaimKind for Operator {
    const TYPE: &'static str = "operator";
    const ISSUER_PREFIXES: &'static [char] = &['O'];
    const SUBJECT_PREFIX: char = 'O';

    generic_fields!();
}

impl OperatorClaims {
    /// True when `issuer` may sign account JWTs for this operator: the operator key (unless
    /// `strict_signing_key_usage`) or one of its signing keys.
    pub fn may_sign(&self, issuer: &str) -> bool {
        (issuer == self.sub && !self.nats.strict_signing_key_usage)
            || self.nats.signing_keys.iter().any(|k| k == issuer)
    }

    /// True when this operator signed `account`.
    pub fn did_sign(&self, account: &AccountClaims) -> bool {
        if account.iss == self.sub {
            // Under strict usage the operator key signs only itself.
            return !self.nats.strict_signing_key_usage || account.sub == self.sub;
        }
        self.nats.signing_keys.contains(&account.iss)
    }
}

/// The `nats` section of an activation token (`sub` is the importing account,
/// `iss` the exporting account or one of its signing keys).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Activation {
    /// The exported subject the token grants.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    /// `stream` or `service`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<ExportType>,
    /// The exporting account, when signed by one of its signing keys.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    /// Tags, `type` (`"activation"`), version and the fields this module does not model.
    #[serde(flatten)]
    pub generic: GenericFields,
}

impl ClaimKind for Activation {
    const TYPE: &'static str = "activation";
    const ISSUER_PREFIXES: &'static [char] = &['A'];
    const SUBJECT_PREFIX: char = 'A';

    generic_fields!();
}

impl ActivationClaims {
    /// The exporting account: `issuer_account` when set, else the issuer.
    pub fn exporter(&self) -> &str {
        if self.nats.issuer_account.is_empty() {
            &self.iss
        } else {
            &self.nats.issuer_account
        }
    }
}
