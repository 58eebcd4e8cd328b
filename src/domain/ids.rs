//! Typed row ids. UUIDv7, so they sort by creation time.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

id_type!(
    /// An organisation.
    OrgId,
    /// A user account.
    UserId,
    /// A room (group, direct or an organisation's 受信窓口).
    RoomId,
    /// A message.
    MessageId,
    /// An inbox notification.
    InboxId,
    /// A shelter in an organisation's registry (or an ad hoc one of an incident).
    ShelterId,
    /// One as-of shelter report.
    ReportId,
    /// A field photo.
    PhotoId,
    /// One broadcast: the copies of a message posted to many rooms at once.
    BroadcastId,
    /// An open item (a task or a thing to watch) of an incident.
    ItemId,
    /// A shift handoff of an incident's duty for one organisation (or one named position).
    HandoffId,
    /// A named position of an incident (情報班長…) held by one person at a time.
    PositionId,
);
