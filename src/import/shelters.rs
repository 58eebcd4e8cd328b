//! A table to shelter registry rows.
//!
//! Designation: a file with hazard columns (`災害種別_*`, or the GSI short names) is a
//! 指定緊急避難場所 list; a file with `指定緊急避難場所との重複` / `…住所同一` / `受入対象者` is a
//! 指定避難所 list. A row flagged as on the other list too (`指定避難所との重複`,
//! `…との住所同一`) is both.
//!
//! **The same place in both GSI lists** (Toba: 55 of the 57 shelters are also emergency sites,
//! under a different 共通ID) is one shelter: rows match by 共通ID, else ID, else folded name and
//! address, and every key a row carries is remembered, so the shelter list's 共通ID finds the
//! place the emergency list created. The merged shelter is `both`; its hazards and coordinates
//! come from the emergency-site list (where people gather first); the shelter list only fills
//! what is missing.

use super::table::Table;
use super::{Problem, match_fold, widen_kana};
use crate::domain::{Designation, Hazards, LatLon};

/// One shelter as a file describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ShelterRow {
    pub line: usize,
    /// `ID` / `NO` of the municipality's list (not the GSI's running number).
    pub local_id: Option<String>,
    /// 共通ID (GSI).
    pub common_id: Option<String>,
    pub name: String,
    pub kana: String,
    pub address: String,
    pub position: Option<LatLon>,
    pub designation: Designation,
    pub hazards: Hazards,
    /// The capacity as a number, when the text gives one.
    pub capacity: Option<i64>,
    /// The capacity as written (`138人`, `屋内1,371人／屋外5,470人`).
    pub capacity_text: String,
    pub phone: String,
    pub note: String,
    /// The kind of list the row came from (`emergency`, `shelter`; `ad_hoc` for anything else).
    #[serde(skip)]
    pub list: Designation,
}

impl ShelterRow {
    /// The keys that identify the place, strongest first.
    pub fn keys(&self) -> Vec<String> {
        let mut k = Vec::new();
        if let Some(c) = &self.common_id {
            k.push(format!("cid:{}", match_fold(c)));
        }
        if let Some(i) = &self.local_id {
            k.push(format!("id:{}", match_fold(i)));
        }
        k.push(name_key(&self.name, &self.address));
        k
    }
}

/// What a shelter becomes when a file describes it again (`incoming`) after `existing`.
///
/// The designation is the union. A shelter-list row (指定避難所 only) arriving for a place the
/// emergency-site list already has keeps that list's name, coordinates and hazards and only
/// fills what is missing; any other row replaces the facts it carries.
pub fn merge(existing: &ShelterRow, incoming: &ShelterRow) -> ShelterRow {
    let designation = existing.designation.merge(incoming.designation);
    let fill = |old: &str, new: &str| {
        if old.is_empty() {
            new.to_string()
        } else {
            old.to_string()
        }
    };
    if incoming.list == Designation::Shelter && existing.designation.is_emergency() {
        return ShelterRow {
            designation,
            kana: fill(&existing.kana, &incoming.kana),
            address: fill(&existing.address, &incoming.address),
            position: existing.position.or(incoming.position),
            capacity: existing.capacity.or(incoming.capacity),
            capacity_text: fill(&existing.capacity_text, &incoming.capacity_text),
            phone: fill(&existing.phone, &incoming.phone),
            note: fill(&existing.note, &incoming.note),
            local_id: existing.local_id.clone().or(incoming.local_id.clone()),
            common_id: existing.common_id.clone().or(incoming.common_id.clone()),
            ..existing.clone()
        };
    }
    ShelterRow {
        line: incoming.line,
        designation,
        hazards: if incoming.designation.is_emergency() {
            incoming.hazards
        } else {
            existing.hazards
        },
        position: incoming.position.or(existing.position),
        local_id: incoming.local_id.clone().or(existing.local_id.clone()),
        common_id: existing.common_id.clone().or(incoming.common_id.clone()),
        kana: fill(&incoming.kana, &existing.kana),
        address: fill(&incoming.address, &existing.address),
        capacity: incoming.capacity.or(existing.capacity),
        capacity_text: fill(&incoming.capacity_text, &existing.capacity_text),
        phone: fill(&incoming.phone, &existing.phone),
        note: fill(&incoming.note, &existing.note),
        ..incoming.clone()
    }
}

/// Whether two descriptions of a place say the same (the file line aside).
pub fn same_facts(a: &ShelterRow, b: &ShelterRow) -> bool {
    let plain = |r: &ShelterRow| ShelterRow {
        line: 0,
        list: Designation::AdHoc,
        ..r.clone()
    };
    plain(a) == plain(b)
}

/// What importing one row does to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Add,
    Update,
    Unchanged,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Update => "update",
            Action::Unchanged => "unchanged",
        }
    }
}

/// The shelter a planned row goes to: one the organisation has, or the one an earlier step of
/// the same plan adds (by that step's index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target<Id> {
    Existing(Id),
    Added(usize),
}

/// One planned row: what it does, to which shelter, the facts to write, and the keys it brings.
#[derive(Debug, Clone)]
pub struct Step<Id> {
    pub action: Action,
    pub target: Target<Id>,
    pub facts: ShelterRow,
    pub keys: Vec<String>,
}

/// Plans an import, writing nothing: each row is matched by its keys (strongest first) to a
/// shelter the organisation has, or to one an earlier row adds, then merged and compared. The
/// preview shows this plan; the store carries out the same plan inside its transaction.
pub fn plan<Id: Copy + Eq + std::hash::Hash>(
    rows: Vec<ShelterRow>,
    keys: &std::collections::HashMap<String, Id>,
    current: &std::collections::HashMap<Id, ShelterRow>,
) -> Vec<Step<Id>> {
    use std::collections::HashMap;
    let mut known: HashMap<String, Target<Id>> = keys
        .iter()
        .map(|(k, id)| (k.clone(), Target::Existing(*id)))
        .collect();
    let mut facts: HashMap<Target<Id>, ShelterRow> = current
        .iter()
        .map(|(id, row)| (Target::Existing(*id), row.clone()))
        .collect();
    let mut steps = Vec::with_capacity(rows.len());
    for row in rows {
        let row_keys = row.keys();
        let found = row_keys
            .iter()
            .find_map(|k| known.get(k).copied())
            .filter(|t| facts.contains_key(t));
        let (action, target, new_facts) = match found {
            None => (Action::Add, Target::Added(steps.len()), row),
            Some(t) => {
                let old = &facts[&t];
                let merged = merge(old, &row);
                let action = if same_facts(&merged, old) {
                    Action::Unchanged
                } else {
                    Action::Update
                };
                (action, t, merged)
            }
        };
        for k in &row_keys {
            known.entry(k.clone()).or_insert(target);
        }
        facts.insert(target, new_facts.clone());
        steps.push(Step {
            action,
            target,
            facts: new_facts,
            keys: row_keys,
        });
    }
    steps
}

/// The weakest key: the place's folded name and address.
pub fn name_key(name: &str, address: &str) -> String {
    format!("na:{}|{}", match_fold(name), match_fold(address))
}

/// A whole file: rows (each parsed, or its problems) and columns that were not used.
#[derive(Debug, Clone, Default)]
pub struct ParsedShelters {
    pub rows: Vec<Result<ShelterRow, Vec<Problem>>>,
    pub unused_columns: Vec<String>,
}

const NAME: &[&str] = &[
    "名称",
    "施設・場所名",
    "施設名",
    "避難所名",
    "避難所名称",
    "避難場所名",
    "name",
];
const LOCAL_ID: &[&str] = &["ID", "NO", "番号", "施設ID"];
const COMMON_ID: &[&str] = &["共通ID"];
const KANA: &[&str] = &["名称_カナ", "名称カナ", "カナ", "ふりがな"];
const ADDRESS: &[&str] = &["住所", "所在地_連結表記", "所在地", "所在地住所", "address"];
const ADDRESS_PARTS: &[&str] = &[
    "所在地_都道府県",
    "所在地_市区町村",
    "所在地_町字",
    "所在地_番地以下",
];
const ANNEX: &[&str] = &["方書", "建物名等(方書)"];
const LAT: &[&str] = &["緯度", "lat", "latitude", "y"];
const LON: &[&str] = &["経度", "lon", "lng", "longitude", "x"];
const CAPACITY: &[&str] = &["想定収容人数", "収容人数", "収容可能人数", "capacity"];
const PHONE: &[&str] = &["電話番号"];
const NOTE: &[&str] = &["備考"];
const ALSO_SHELTER: &[&str] = &["指定避難所との重複", "指定避難所との住所同一"];
const ALSO_EMERGENCY: &[&str] = &["指定緊急避難場所との重複", "指定緊急避難場所との住所同一"];
const SHELTER_LIST_ONLY: &[&str] = &[
    "受入対象者",
    "要配慮者受入",
    "その他市町村長が必要と認める事項",
];

/// Reads a flag cell: `1`, `1.0`, `○` … are set; empty, `0` are not; anything else is `None`.
pub fn flag(s: &str) -> Option<bool> {
    match s.trim() {
        "" | "0" | "0.0" | "-" | "×" | "FALSE" | "false" | "無" | "なし" => Some(false),
        "1" | "1.0" | "○" | "◯" | "〇" | "●" | "TRUE" | "true" | "有" | "あり" | "可" => {
            Some(true)
        }
        _ => None,
    }
}

/// The number in a capacity text: a plain count (`138人`, `1,357`), or the indoor figure of
/// `屋内1,371人／屋外…`. `None` for free text.
pub fn capacity_number(text: &str) -> Option<i64> {
    let t: String = crate::domain::search_fold(text)
        .chars()
        .filter(|c| *c != ',' && !c.is_whitespace())
        .collect();
    let t = t.strip_prefix("屋内").unwrap_or(&t);
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &t[digits.len()..];
    let plain = rest.is_empty() || rest == "人" || rest == "名";
    let indoor = text.contains("屋内") && rest.starts_with('人');
    if digits.is_empty() || digits.len() > 7 || !(plain || indoor) {
        return None;
    }
    digits.parse().ok()
}

/// Parses every row of a shelter table. A file without a name column is refused as a whole.
pub fn parse_shelters(table: &Table) -> Result<ParsedShelters, Problem> {
    let name = table.column(NAME).ok_or_else(|| Problem {
        value: Some(table.headers.join(", ").chars().take(200).collect()),
        ..Problem::file("err-import-no-name")
    })?;
    // GSI files number their rows (`NO`) across the whole country; only 共通ID identifies.
    let local_id = if table.column(COMMON_ID).is_some() {
        table.column(&["ID"])
    } else {
        table.column(LOCAL_ID)
    };
    let common_id = table.column(COMMON_ID);
    let kana = table.column(KANA);
    let address = table.column(ADDRESS);
    let parts: Vec<usize> = ADDRESS_PARTS
        .iter()
        .filter_map(|p| table.column(&[p]))
        .collect();
    let annex = table.column(ANNEX);
    let lat = table.column(LAT);
    let lon = table.column(LON);
    let capacity = table.column(CAPACITY);
    let phone = table.column(PHONE);
    let note = table.column(NOTE);
    let also_shelter = table.column(ALSO_SHELTER);
    let also_emergency = table.column(ALSO_EMERGENCY);
    let shelter_only = table.column(SHELTER_LIST_ONLY);

    // Hazard columns: `災害種別_洪水` (standard) or `洪水` (GSI).
    let mut hazard_cols: Vec<(usize, u8)> = Vec::new();
    for (col, rest) in table.columns_with_prefix("災害種別_") {
        if let Some((bit, ..)) = Hazards::TABLE
            .iter()
            .find(|(_, _, std, _)| super::table::fold_header(std) == rest)
        {
            hazard_cols.push((col, *bit));
        }
    }
    if hazard_cols.is_empty() {
        for (bit, _, _, gsi) in Hazards::TABLE {
            if let Some(col) = table.column(&[gsi]) {
                hazard_cols.push((col, bit));
            }
        }
    }
    let base = if !hazard_cols.is_empty() || also_shelter.is_some() {
        Designation::Emergency
    } else if also_emergency.is_some() || shelter_only.is_some() {
        Designation::Shelter
    } else {
        Designation::AdHoc
    };

    let mut used: Vec<usize> = [
        Some(name),
        local_id,
        common_id,
        kana,
        address,
        annex,
        lat,
        lon,
        capacity,
        phone,
        note,
        also_shelter,
        also_emergency,
        shelter_only,
    ]
    .into_iter()
    .flatten()
    .chain(parts.iter().copied())
    .chain(hazard_cols.iter().map(|(c, _)| *c))
    .collect();
    used.sort_unstable();
    let unused_columns = table
        .headers
        .iter()
        .enumerate()
        .filter(|(i, h)| used.binary_search(i).is_err() && !h.is_empty())
        .map(|(_, h)| h.clone())
        .collect();

    let mut out = ParsedShelters {
        rows: Vec::with_capacity(table.rows.len()),
        unused_columns,
    };
    for row in &table.rows {
        let cell = |c: Option<usize>| c.map(|i| row.cells[i].as_str()).unwrap_or("");
        let header = |c: usize| table.headers[c].as_str();
        let mut problems = Vec::new();
        if row.ragged {
            problems.push(Problem::row(row.line, None, "err-import-ragged", None));
        }
        let shelter_name = widen_kana(cell(Some(name)));
        if shelter_name.is_empty() {
            problems.push(Problem::row(
                row.line,
                Some(header(name)),
                "err-import-no-name-value",
                None,
            ));
        } else if shelter_name.chars().count() > 200 || shelter_name.contains('\n') {
            problems.push(Problem::row(
                row.line,
                Some(header(name)),
                "err-import-name-bad",
                Some(&shelter_name),
            ));
        }
        let mut addr = widen_kana(cell(address));
        if addr.is_empty() && !parts.is_empty() {
            addr = parts.iter().map(|i| row.cells[*i].as_str()).collect();
        }
        let annex_text = cell(annex);
        if !annex_text.is_empty() && !addr.contains(annex_text) {
            addr = format!("{addr} {annex_text}");
        }
        let position = match (cell(lat), cell(lon)) {
            ("", "") => None,
            (a, b) => match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(a), Ok(b)) => match LatLon::new(a, b) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        problems.push(Problem::row(
                            row.line,
                            lat.map(header),
                            "err-import-coordinates",
                            Some(&format!("{a}, {b}")),
                        ));
                        None
                    }
                },
                _ => {
                    problems.push(Problem::row(
                        row.line,
                        lat.map(header),
                        "err-import-coordinates",
                        Some(&format!("{a}, {b}")),
                    ));
                    None
                }
            },
        };
        let mut hazards = Hazards::default();
        for (col, bit) in &hazard_cols {
            match flag(&row.cells[*col]) {
                Some(true) => hazards = hazards.with(*bit),
                Some(false) => {}
                None => problems.push(Problem::row(
                    row.line,
                    Some(header(*col)),
                    "err-import-flag",
                    Some(&row.cells[*col]),
                )),
            }
        }
        let mut designation = base;
        for (col, other) in [
            (also_shelter, Designation::Shelter),
            (also_emergency, Designation::Emergency),
        ] {
            if let Some(c) = col {
                match flag(&row.cells[c]) {
                    Some(true) => designation = designation.merge(other),
                    Some(false) => {}
                    None => problems.push(Problem::row(
                        row.line,
                        Some(header(c)),
                        "err-import-flag",
                        Some(&row.cells[c]),
                    )),
                }
            }
        }
        let capacity_text = cell(capacity).to_string();
        let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
        if !problems.is_empty() {
            out.rows.push(Err(problems));
            continue;
        }
        out.rows.push(Ok(ShelterRow {
            line: row.line,
            local_id: opt(cell(local_id)),
            common_id: opt(cell(common_id)),
            name: shelter_name,
            kana: widen_kana(cell(kana)),
            address: addr.trim().to_string(),
            position,
            designation,
            hazards,
            capacity: capacity_number(&capacity_text),
            capacity_text,
            phone: cell(phone).to_string(),
            note: cell(note).chars().take(1000).collect(),
            list: base,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacities() {
        assert_eq!(capacity_number("138人"), Some(138));
        assert_eq!(capacity_number("1,357"), Some(1357));
        assert_eq!(
            capacity_number("屋内1,371人／屋外5,470人（面積の1/2）"),
            Some(1371)
        );
        assert_eq!(capacity_number("要相談"), None);
        assert_eq!(capacity_number(""), None);
    }

    fn row(name: &str, id: Option<&str>, capacity: &str) -> ShelterRow {
        ShelterRow {
            line: 2,
            local_id: id.map(str::to_string),
            common_id: None,
            name: name.into(),
            kana: String::new(),
            address: "鳥羽市".into(),
            position: None,
            designation: Designation::Shelter,
            hazards: Hazards::default(),
            capacity: capacity_number(capacity),
            capacity_text: capacity.into(),
            phone: String::new(),
            note: String::new(),
            list: Designation::Shelter,
        }
    }

    #[test]
    fn plans_match_existing_shelters_and_earlier_rows() {
        use std::collections::HashMap;
        let existing = row("本浦公民館", Some("A1"), "50人");
        let keys: HashMap<String, u32> = existing.keys().into_iter().map(|k| (k, 7)).collect();
        let current: HashMap<u32, ShelterRow> = [(7, existing.clone())].into();
        let steps = plan(
            vec![
                row("本浦公民館", Some("A1"), "50人"),
                row("答志公民館", Some("B2"), "30人"),
                row("答志公民館", Some("B2"), "40人"),
                row("本浦公民館", Some("A1"), "60人"),
            ],
            &keys,
            &current,
        );
        let got: Vec<(Action, Target<u32>)> = steps.iter().map(|s| (s.action, s.target)).collect();
        assert_eq!(
            got,
            vec![
                (Action::Unchanged, Target::Existing(7)),
                (Action::Add, Target::Added(1)),
                (Action::Update, Target::Added(1)),
                (Action::Update, Target::Existing(7)),
            ]
        );
        assert_eq!(steps[3].facts.capacity, Some(60));
    }

    #[test]
    fn flags() {
        assert_eq!(flag("1.0"), Some(true));
        assert_eq!(flag(""), Some(false));
        assert_eq!(flag("maybe"), None);
    }
}
