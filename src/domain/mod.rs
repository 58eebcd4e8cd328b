//! Domain types that cannot hold invalid values. No axum, no sqlx here.

mod ids;
mod incident;
mod text;

pub use ids::*;
pub use incident::*;
pub use text::*;

use serde::{Deserialize, Serialize};
use std::fmt;

/// A validation failure: which field, and the translation key of the message for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: &'static str,
    pub key: &'static str,
}

impl Invalid {
    pub fn new(field: &'static str, key: &'static str) -> Self {
        Self { field, key }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.key)
    }
}

impl std::error::Error for Invalid {}

/// Deployment-wide role of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    OrgAdmin,
    DeploymentAdmin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::OrgAdmin => "org_admin",
            Role::DeploymentAdmin => "deployment_admin",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "member" => Ok(Role::Member),
            "org_admin" => Ok(Role::OrgAdmin),
            "deployment_admin" => Ok(Role::DeploymentAdmin),
            _ => Err(Invalid::new("role", "err-role")),
        }
    }
}

/// Role of a member inside one room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RoomRole {
    Member,
    Manager,
    Owner,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Member => "member",
            RoomRole::Manager => "manager",
            RoomRole::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "member" => Ok(RoomRole::Member),
            "manager" => Ok(RoomRole::Manager),
            "owner" => Ok(RoomRole::Owner),
            _ => Err(Invalid::new("room_role", "err-room-role")),
        }
    }
    /// Managers and owners manage membership, names and archiving.
    pub fn can_manage(self) -> bool {
        self >= RoomRole::Manager
    }
}

/// Kind of organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    Prefecture,
    Municipality,
    Fire,
    Other,
}

impl OrgKind {
    pub const ALL: [OrgKind; 4] = [
        OrgKind::Prefecture,
        OrgKind::Municipality,
        OrgKind::Fire,
        OrgKind::Other,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Prefecture => "prefecture",
            OrgKind::Municipality => "municipality",
            OrgKind::Fire => "fire",
            OrgKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "prefecture" => Ok(OrgKind::Prefecture),
            "municipality" => Ok(OrgKind::Municipality),
            "fire" => Ok(OrgKind::Fire),
            "other" => Ok(OrgKind::Other),
            _ => Err(Invalid::new("kind", "err-org-kind")),
        }
    }
}

/// Kind of room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomKind {
    Group,
    Direct,
    OrgInbox,
    /// A room with an incident attached (shelter board, reports).
    Incident,
}

impl RoomKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomKind::Group => "group",
            RoomKind::Direct => "direct",
            RoomKind::OrgInbox => "org_inbox",
            RoomKind::Incident => "incident",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "group" => Ok(RoomKind::Group),
            "direct" => Ok(RoomKind::Direct),
            "org_inbox" => Ok(RoomKind::OrgInbox),
            "incident" => Ok(RoomKind::Incident),
            _ => Err(Invalid::new("kind", "err-room-kind")),
        }
    }
}

/// UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "ja" => Ok(Lang::Ja),
            "en" => Ok(Lang::En),
            _ => Err(Invalid::new("lang", "err-lang")),
        }
    }
    /// Picks the first supported language of an `Accept-Language` header.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        let mut best: Option<(f32, Lang)> = None;
        for part in header.split(',') {
            let mut it = part.trim().split(';');
            let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = it
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|v| v.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = if tag.starts_with("ja") {
                Lang::Ja
            } else if tag.starts_with("en") {
                Lang::En
            } else {
                continue;
            };
            if best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, l)| l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_highest_q() {
        assert_eq!(
            Lang::from_accept_language("en-US,en;q=0.9,ja;q=0.8"),
            Some(Lang::En)
        );
        assert_eq!(
            Lang::from_accept_language("fr, ja;q=0.5, en;q=0.4"),
            Some(Lang::Ja)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }

    #[test]
    fn roles_order() {
        assert!(RoomRole::Owner.can_manage());
        assert!(RoomRole::Manager.can_manage());
        assert!(!RoomRole::Member.can_manage());
    }
}
