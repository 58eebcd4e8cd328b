//! Incidents, shelters and shelter reports: the values they are made of.

use super::Invalid;
use serde::{Deserialize, Serialize};

macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, $err:literal { $($variant:ident = $word:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),* }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The stored and API word.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),* }
            }
            pub fn parse(s: &str) -> Result<Self, Invalid> {
                match s.trim() {
                    $($word => Ok($name::$variant),)*
                    _ => Err(Invalid::new($field, $err)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum!(
    /// What kind of disaster an incident is.
    IncidentKind, "kind", "err-incident-kind" {
        Earthquake = "earthquake",
        StormFlood = "storm_flood",
        Landslide = "landslide",
        Snow = "snow",
        Tsunami = "tsunami",
        Fire = "fire",
        Other = "other",
    }
);

word_enum!(
    /// A shelter's state as reported: 未開設 / 開設 / 満員 / 閉鎖.
    ShelterStatus, "status", "err-shelter-status" {
        NotOpen = "not_open",
        Open = "open",
        Full = "full",
        Closed = "closed",
    }
);

impl IncidentKind {
    /// Translation key of its name.
    pub fn ui_key(self) -> &'static str {
        match self {
            IncidentKind::Earthquake => "ui-incident-kind-earthquake",
            IncidentKind::StormFlood => "ui-incident-kind-storm-flood",
            IncidentKind::Landslide => "ui-incident-kind-landslide",
            IncidentKind::Snow => "ui-incident-kind-snow",
            IncidentKind::Tsunami => "ui-incident-kind-tsunami",
            IncidentKind::Fire => "ui-incident-kind-fire",
            IncidentKind::Other => "ui-incident-kind-other",
        }
    }
}

impl Designation {
    /// Translation key of its name.
    pub fn ui_key(self) -> &'static str {
        match self {
            Designation::Emergency => "ui-designation-emergency",
            Designation::Shelter => "ui-designation-shelter",
            Designation::Both => "ui-designation-both",
            Designation::AdHoc => "ui-designation-ad-hoc",
        }
    }
}

impl ShelterStatus {
    /// Translation key of its name (未開設, 開設…).
    pub fn ui_key(self) -> &'static str {
        match self {
            ShelterStatus::NotOpen => "ui-status-not-open",
            ShelterStatus::Open => "ui-status-open",
            ShelterStatus::Full => "ui-status-full",
            ShelterStatus::Closed => "ui-status-closed",
        }
    }

    /// Whether people are (or may be) staying there: open or full.
    pub fn is_open(self) -> bool {
        matches!(self, ShelterStatus::Open | ShelterStatus::Full)
    }
}

word_enum!(
    /// How a place is designated: 指定緊急避難場所, 指定避難所, both, or set up during an incident.
    Designation, "designation", "err-designation" {
        Emergency = "emergency",
        Shelter = "shelter",
        Both = "both",
        AdHoc = "ad_hoc",
    }
);

impl Designation {
    /// The designation of a place that is on both lists or either.
    pub fn merge(self, other: Designation) -> Designation {
        use Designation::*;
        match (self, other) {
            (a, b) if a == b => a,
            (AdHoc, b) => b,
            (a, AdHoc) => a,
            _ => Both,
        }
    }
    /// Whether the place is on the 指定緊急避難場所 list.
    pub fn is_emergency(self) -> bool {
        matches!(self, Designation::Emergency | Designation::Both)
    }
}

/// The hazards a 指定緊急避難場所 is designated for (災害種別), as bit flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Hazards(u8);

impl Hazards {
    /// Each hazard: its bit, its API word, its standard column suffix and its GSI short name.
    pub const TABLE: [(u8, &'static str, &'static str, &'static str); 8] = [
        (1, "flood", "洪水", "洪水"),
        (
            2,
            "landslide",
            "崖崩れ、土石流及び地滑り",
            "崖崩れ、土石流及び地滑り",
        ),
        (4, "storm_surge", "高潮", "高潮"),
        (8, "earthquake", "地震", "地震"),
        (16, "tsunami", "津波", "津波"),
        (32, "fire", "大規模な火事", "大規模な火事"),
        (64, "inland_flood", "内水氾濫", "内水氾濫"),
        (128, "volcano", "火山現象", "火山現象"),
    ];

    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn from_bits(bits: i64) -> Self {
        Self((bits & 0xff) as u8)
    }
    pub fn with(self, bit: u8) -> Self {
        Self(self.0 | bit)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The API words of the hazards set.
    pub fn words(self) -> Vec<&'static str> {
        Self::TABLE
            .iter()
            .filter(|(b, ..)| self.0 & b != 0)
            .map(|(_, w, ..)| *w)
            .collect()
    }
    /// From API words; an unknown word is refused.
    pub fn from_words<'a>(words: impl IntoIterator<Item = &'a str>) -> Result<Self, Invalid> {
        let mut h = Self::default();
        for w in words {
            let (bit, ..) = Self::TABLE
                .iter()
                .find(|(_, word, ..)| *word == w.trim())
                .ok_or(Invalid::new("hazards", "err-hazard"))?;
            h = h.with(*bit);
        }
        Ok(h)
    }
}

/// An incident's alert level, 1 (lowest) to 5, as in the 警戒レベル scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IncidentLevel(u8);

impl IncidentLevel {
    pub fn new(n: i64) -> Result<Self, Invalid> {
        if (1..=5).contains(&n) {
            Ok(Self(n as u8))
        } else {
            Err(Invalid::new("level", "err-incident-level"))
        }
    }
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// Most evacuees one shelter can report; more is a typing mistake.
pub const MAX_EVACUEES: i64 = 100_000;

/// Headcounts of one report: evacuees and households, both optional, never negative or absurd,
/// and never more households than people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Headcount {
    pub evacuees: Option<i64>,
    pub households: Option<i64>,
}

impl Headcount {
    pub fn new(evacuees: Option<i64>, households: Option<i64>) -> Result<Self, Invalid> {
        for (v, field) in [(evacuees, "evacuees"), (households, "households")] {
            if let Some(n) = v {
                if n < 0 {
                    return Err(Invalid::new(field, "err-count-negative"));
                }
                if n > MAX_EVACUEES {
                    return Err(Invalid::new(field, "err-count-absurd"));
                }
            }
        }
        if let (Some(e), Some(h)) = (evacuees, households) {
            if h > e {
                return Err(Invalid::new("households", "err-households-more"));
            }
        }
        Ok(Self {
            evacuees,
            households,
        })
    }
}

/// Parses an optional count typed by a person: blank is none; full-width digits and `人`, `世帯`
/// and thousands separators are accepted.
pub fn parse_count(s: &str, field: &'static str) -> Result<Option<i64>, Invalid> {
    let folded: String = unicode_normalization::UnicodeNormalization::nfkc(s.trim())
        .filter(|c| *c != ',')
        .collect();
    let t = folded
        .trim_end_matches('人')
        .trim_end_matches("世帯")
        .trim();
    if t.is_empty() {
        return Ok(None);
    }
    if let Some(rest) = t.strip_prefix('-') {
        if rest.chars().all(|c| c.is_ascii_digit()) && !rest.is_empty() {
            return Err(Invalid::new(field, "err-count-negative"));
        }
    }
    if t.len() > 9 && t.chars().all(|c| c.is_ascii_digit()) {
        return Err(Invalid::new(field, "err-count-absurd"));
    }
    t.parse::<i64>()
        .map(Some)
        .map_err(|_| Invalid::new(field, "err-count-number"))
}

/// Text of at most `max` characters on one line (control characters refused), trimmed.
pub fn line(s: &str, max: usize, field: &'static str) -> Result<String, Invalid> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(Invalid::new(field, "err-too-long"));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(field, "err-control-chars"));
    }
    Ok(t.to_string())
}

/// Free text of at most `max` characters, line breaks kept, trimmed.
pub fn note(s: &str, max: usize, field: &'static str) -> Result<String, Invalid> {
    let t = s.trim();
    if t.chars().count() > max {
        return Err(Invalid::new(field, "err-too-long"));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(Invalid::new(field, "err-control-chars"));
    }
    Ok(t.replace("\r\n", "\n"))
}

/// A point on the map (WGS 84), range-checked.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

impl LatLon {
    pub fn new(lat: f64, lon: f64) -> Result<Self, Invalid> {
        if !(lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return Err(Invalid::new("lat", "err-coordinates"));
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(Invalid::new("lon", "err-coordinates"));
        }
        Ok(Self { lat, lon })
    }
}

word_enum!(
    /// What happened to an open item or a handoff, as its timeline line and history say.
    EventKind, "kind", "err-event-kind" {
        ItemAdded = "item_added",
        ItemChanged = "item_changed",
        ItemDone = "item_done",
        ItemDropped = "item_dropped",
        ItemReopened = "item_reopened",
        Handoff = "handoff",
        HandoffEdited = "handoff_edited",
        HandoffItemAcknowledged = "handoff_item_acknowledged",
        HandoffQuestion = "handoff_question",
        HandoffAnswer = "handoff_answer",
        HandoffAcknowledged = "handoff_acknowledged",
        HandoffEscalated = "handoff_escalated",
    }
);

impl EventKind {
    /// Whether it is about an item (else about a handoff).
    pub fn is_item(self) -> bool {
        self.as_str().starts_with("item_")
    }

    /// The translation key of its timeline line (the item's or handoff's title goes in `title`).
    pub fn ui_key(self) -> &'static str {
        match self {
            EventKind::ItemAdded => "ui-event-item-added",
            EventKind::ItemChanged => "ui-event-item-changed",
            EventKind::ItemDone => "ui-event-item-done",
            EventKind::ItemDropped => "ui-event-item-dropped",
            EventKind::ItemReopened => "ui-event-item-reopened",
            EventKind::Handoff => "ui-event-handoff",
            EventKind::HandoffEdited => "ui-event-handoff-edited",
            EventKind::HandoffItemAcknowledged => "ui-event-handoff-item-acknowledged",
            EventKind::HandoffQuestion => "ui-event-handoff-question",
            EventKind::HandoffAnswer => "ui-event-handoff-answer",
            EventKind::HandoffAcknowledged => "ui-event-handoff-acknowledged",
            EventKind::HandoffEscalated => "ui-event-handoff-escalated",
        }
    }
}

word_enum!(
    /// How an item came to a handoff: added during the shift, changed during it, or carried
    /// over unchanged.
    CarriedAs, "change", "err-handoff-change" {
        New = "new",
        Changed = "changed",
        Carried = "carried",
    }
);

impl CarriedAs {
    /// The translation key of its name.
    pub fn ui_key(self) -> &'static str {
        match self {
            CarriedAs::New => "ui-carried-new",
            CarriedAs::Changed => "ui-carried-changed",
            CarriedAs::Carried => "ui-carried-carried",
        }
    }
}

word_enum!(
    /// Where an open item stands: open, done, or dropped (with a reason).
    ItemStatus, "status", "err-item-status" {
        Open = "open",
        Done = "done",
        Dropped = "dropped",
    }
);

impl ItemStatus {
    /// The translation key of its name.
    pub fn ui_key(self) -> &'static str {
        match self {
            ItemStatus::Open => "ui-item-open",
            ItemStatus::Done => "ui-item-done",
            ItemStatus::Dropped => "ui-item-dropped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_accept_what_people_type() {
        assert_eq!(parse_count("１２３人", "e").unwrap(), Some(123));
        assert_eq!(parse_count("1,371", "e").unwrap(), Some(1371));
        assert_eq!(parse_count("  ", "e").unwrap(), None);
        assert_eq!(
            parse_count("-3", "e").unwrap_err().key,
            "err-count-negative"
        );
        assert_eq!(
            parse_count("たくさん", "e").unwrap_err().key,
            "err-count-number"
        );
        assert_eq!(
            parse_count("99999999999999999999", "e").unwrap_err().key,
            "err-count-absurd"
        );
    }

    #[test]
    fn headcounts_are_checked() {
        assert!(Headcount::new(Some(10), Some(4)).is_ok());
        assert!(Headcount::new(None, None).is_ok());
        assert_eq!(
            Headcount::new(Some(3), Some(4)).unwrap_err().key,
            "err-households-more"
        );
        assert_eq!(
            Headcount::new(Some(MAX_EVACUEES + 1), None)
                .unwrap_err()
                .key,
            "err-count-absurd"
        );
    }

    #[test]
    fn designations_merge() {
        use Designation::*;
        assert_eq!(Emergency.merge(Shelter), Both);
        assert_eq!(Shelter.merge(Shelter), Shelter);
        assert_eq!(AdHoc.merge(Shelter), Shelter);
        assert_eq!(Both.merge(Emergency), Both);
    }

    #[test]
    fn hazards_round_trip() {
        let h = Hazards::from_words(["flood", "tsunami"]).unwrap();
        assert_eq!(h.words(), vec!["flood", "tsunami"]);
        assert!(Hazards::from_words(["meteor"]).is_err());
    }
}
