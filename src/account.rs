//! An account: a named, isolated subject space. Every subscription and
//! every publish happens inside exactly one account's sublist, so two
//! accounts cannot see each other's messages by construction.

use crate::sublist::Sublist;

/// The account clients land in when no accounts are configured.
pub const GLOBAL_ACCOUNT: &str = "$G";

pub struct Account {
    pub name: String,
    pub sublist: Sublist,
}

impl Account {
    pub fn new(name: impl Into<String>) -> Self {
        Account {
            name: name.into(),
            sublist: Sublist::new(),
        }
    }
}
