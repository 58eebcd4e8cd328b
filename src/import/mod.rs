//! Reading shelter files written by others: the municipalities' standard open-data CSV (both
//! column sets), the GSI shelter files (CSV or GeoJSON) and published status snapshots.
//!
//! Pure functions from bytes to typed rows; nothing here touches the database. Columns are found
//! by header name (after NFKC, so `建物名等(方書)` and `建物名等（方書）` are one), never by position.

pub mod era;
pub mod shelters;
pub mod snapshot;
pub mod table;

pub use shelters::{ShelterRow, parse_shelters};
pub use snapshot::{SnapshotRow, parse_snapshot};
pub use table::{Table, decode_text, read_table};

/// A problem with one row (or the file when `line` is 0), as a translation key and the column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Line of the file (CSV; the header is line 1) or feature number (GeoJSON); 0: the file.
    pub line: usize,
    /// The column concerned, as written in the file, when there is one.
    pub column: Option<String>,
    /// Translation key of the explanation.
    pub key: &'static str,
    /// The offending value, shortened, when showing it helps.
    pub value: Option<String>,
}

impl Problem {
    pub fn file(key: &'static str) -> Self {
        Self {
            line: 0,
            column: None,
            key,
            value: None,
        }
    }
    pub fn row(line: usize, column: Option<&str>, key: &'static str, value: Option<&str>) -> Self {
        Self {
            line,
            column: column.map(str::to_string),
            key,
            value: value.map(|v| v.chars().take(40).collect()),
        }
    }
}

/// Folds text for matching: NFKC, lower case, no spaces of any width.
pub fn match_fold(s: &str) -> String {
    crate::domain::search_fold(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Turns half-width katakana (as Shift_JIS files carry them) into full-width, leaving every other
/// character as written.
pub fn widen_kana(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let half = |c: char| ('\u{FF61}'..='\u{FF9F}').contains(&c);
    if !s.chars().any(half) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.chars() {
        if half(c) {
            run.push(c);
        } else {
            if !run.is_empty() {
                out.extend(run.nfkc());
                run.clear();
            }
            out.push(c);
        }
    }
    out.extend(run.nfkc());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_width_kana_widens() {
        assert_eq!(widen_kana("ﾄﾊﾞｼ ｺｳﾐﾝｶﾝ"), "トバシ コウミンカン");
        assert_eq!(widen_kana("鳥羽市（１）"), "鳥羽市（１）");
    }

    #[test]
    fn folding_ignores_width_and_spaces() {
        assert_eq!(
            match_fold("亀の井ホテル　鳥羽"),
            match_fold("亀の井ホテル 鳥羽")
        );
        assert_eq!(match_fold("ＡＢＣ１"), "abc1");
    }
}

#[cfg(test)]
mod real_files {
    //! The importer against every shelter file in `tests/fixtures/shelters/` (real files
    //! written by others; see its README).
    use super::*;
    use crate::domain::Designation;

    fn rows(file: &str) -> Vec<ShelterRow> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/shelters")
            .join(file);
        let bytes = std::fs::read(&path).unwrap();
        let table = read_table(&decode_text(&bytes).unwrap()).unwrap();
        let parsed = parse_shelters(&table).unwrap();
        parsed
            .rows
            .into_iter()
            .map(|r| r.unwrap_or_else(|p| panic!("{file}: {p:?}")))
            .collect()
    }

    #[test]
    fn ogimi_short_column_set() {
        let r = rows("473022_evacuation_space.csv");
        assert_eq!(r.len(), 19);
        assert_eq!(r[0].name, "大宜味村役場");
        assert_eq!(r[0].local_id.as_deref(), Some("0000000101"));
        assert!(r[0].position.is_some(), "lat/lon columns");
        assert!(r.iter().all(|x| x.designation.is_emergency()));
    }

    #[test]
    fn kanazawa_newer_column_set() {
        let r = rows("172014_evacuation_space.csv");
        assert_eq!(r.len(), 506);
        let mitani = &r[0];
        assert_eq!(mitani.name, "三谷公民館（指定避難場所）");
        assert_eq!(mitani.local_id.as_deref(), Some("AA0000001280"));
        assert_eq!(mitani.capacity, Some(138));
        assert_eq!(mitani.capacity_text, "138人");
        assert_eq!(mitani.address, "石川県金沢市宮野町ホ79");
        let p = mitani.position.unwrap();
        assert!((p.lat - 36.59672393).abs() < 1e-9 && (p.lon - 136.7369013).abs() < 1e-9);
        assert_eq!(
            mitani.hazards.words(),
            vec!["landslide", "earthquake", "tsunami"]
        );
        assert_eq!(mitani.designation, Designation::Both);
    }

    #[test]
    fn toba_gsi_lists() {
        let e = rows("gsi_emergency_242110.json");
        assert_eq!(e.len(), 126);
        let first = &e[0];
        assert_eq!(first.name, "鳥羽シーサイドホテル");
        assert_eq!(first.common_id.as_deref(), Some("E2421100001201"));
        assert_eq!(first.local_id, None, "GSI running numbers are not ids");
        assert_eq!(first.designation, Designation::Both);
        let p = first.position.unwrap();
        assert!((p.lat - 34.478911).abs() < 1e-9 && (p.lon - 136.851643).abs() < 1e-9);
        assert_eq!(
            first.hazards.words(),
            vec!["flood", "landslide", "storm_surge", "fire", "inland_flood"]
        );
        assert!(e.iter().any(|x| x.name == "亀の井ホテル　鳥羽"));
        let s = rows("gsi_evacuation_242110.json");
        assert_eq!(s.len(), 57);
        assert!(s.iter().all(|x| x.hazards.is_empty()));
        assert_eq!(
            s.iter()
                .filter(|x| x.designation == Designation::Both)
                .count(),
            56
        );
        assert_eq!(s[8].designation, Designation::Shelter);
    }

    #[test]
    fn the_gsi_list_as_csv_reads_like_the_geojson() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/shelters/gsi_emergency_242110.json");
        let json = read_table(&decode_text(&std::fs::read(path).unwrap()).unwrap()).unwrap();
        // The GSI also publishes the list as CSV: the same columns, coordinates as 緯度/経度.
        let mut out = Vec::new();
        {
            let mut w = csv::Writer::from_writer(&mut out);
            w.write_record(&json.headers).unwrap();
            for r in &json.rows {
                w.write_record(&r.cells).unwrap();
            }
        }
        let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(std::str::from_utf8(&out).unwrap());
        let csv_table = read_table(&decode_text(&bytes).unwrap()).unwrap();
        let from_csv = parse_shelters(&csv_table).unwrap();
        let from_json = parse_shelters(&json).unwrap();
        assert_eq!(from_csv.rows.len(), 126);
        for (a, b) in from_csv.rows.iter().zip(&from_json.rows) {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            assert!(shelters::same_facts(a, b), "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn nanao_snapshots() {
        for (file, n) in [
            ("open_shelter_Nanao-shi_2024-01-14-1800.csv", 28),
            ("open_shelter_Nanao-shi_2024-09-02-1800.csv", 1),
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/shelters")
                .join(file);
            let text = decode_text(&std::fs::read(path).unwrap()).unwrap();
            let snap = parse_snapshot(&read_table(&text).unwrap()).unwrap();
            assert_eq!(snap.len(), n, "{file}");
            for row in &snap {
                let row = row.as_ref().unwrap();
                assert_eq!(row.observations.len(), 1);
            }
        }
        let text = decode_text(
            &std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures/shelters/open_shelter_Nanao-shi_2024-01-14-1800.csv"),
            )
            .unwrap(),
        )
        .unwrap();
        let snap = parse_snapshot(&read_table(&text).unwrap()).unwrap();
        let new = snap
            .iter()
            .flatten()
            .find(|r| r.shelter.local_id.as_deref() == Some("NEW001"))
            .unwrap();
        assert_eq!(new.shelter.name, "寄合い処みそぎ");
        assert!(new.shelter.position.is_some());
        assert_eq!(
            new.shelter.capacity_text, "",
            "an unlisted shelter has blank columns"
        );
        assert!(snap.iter().flatten().any(|r| r.shelter.capacity_text
            == "屋内1,054人／屋外18,550人(面積の1/2)"
            && r.shelter.capacity == Some(1054)));
        let first = snap[0].as_ref().unwrap();
        assert_eq!(first.shelter.name, "御祓地区コミュニティセンター");
        assert_eq!(first.observations[0].headcount.evacuees, Some(106));
    }
}
