//! Published shelter-status files (開設中の避難所一覧): each row is a shelter open at a point
//! in time, with its headcount. The time is a `時点` column (`令和6年1月14日午後6時`) or part of
//! the count column's name (`人数_令和6年1月9日午後6時時点`; several such columns give several
//! reports). A `状況` column, when present, gives the status; otherwise a listed shelter is open.

use super::shelters::{ParsedShelters, ShelterRow, parse_shelters};
use super::table::Table;
use super::{Problem, era::parse_jst};
use crate::domain::{Headcount, ShelterStatus, parse_count};

/// One as-of observation read from a snapshot.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Observation {
    pub observed_at: i64,
    pub status: ShelterStatus,
    pub headcount: Headcount,
}

/// A snapshot row: the shelter it concerns and what was observed there.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SnapshotRow {
    pub shelter: ShelterRow,
    pub observations: Vec<Observation>,
}

fn status_word(s: &str) -> Result<Option<ShelterStatus>, ()> {
    Ok(Some(match s.trim() {
        "" => return Ok(None),
        "開設" | "開設中" | "open" => ShelterStatus::Open,
        "満員" | "full" => ShelterStatus::Full,
        "閉鎖" | "閉所" | "closed" => ShelterStatus::Closed,
        "未開設" | "not_open" => ShelterStatus::NotOpen,
        _ => return Err(()),
    }))
}

/// Parses a status snapshot. Refused as a whole without a name column or a headcount column.
pub fn parse_snapshot(table: &Table) -> Result<Vec<Result<SnapshotRow, Vec<Problem>>>, Problem> {
    let ParsedShelters { rows, .. } = parse_shelters(table)?;
    let at_col = table.column(&["時点", "日時", "報告日時", "更新日時"]);
    let count_col = table.column(&["人数", "避難者数", "避難者数(人)"]);
    let households_col = table.column(&["世帯数", "避難世帯数"]);
    let status_col = table.column(&["状況", "開設状況", "status"]);
    // Dated count columns: `人数_<date>時点`.
    let dated: Vec<(usize, i64)> = table
        .columns_with_prefix("人数_")
        .into_iter()
        .filter_map(|(col, rest)| {
            let rest = rest.trim_end_matches("時点");
            parse_jst(rest).map(|at| (col, at))
        })
        .collect();
    if count_col.is_none() && dated.is_empty() {
        return Err(Problem::file("err-snapshot-no-count"));
    }
    if count_col.is_some() && at_col.is_none() && dated.is_empty() {
        return Err(Problem::file("err-snapshot-no-time"));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (row, parsed) in table.rows.iter().zip(rows) {
        let header = |c: usize| table.headers[c].as_str();
        let mut problems = match &parsed {
            Ok(_) => Vec::new(),
            Err(p) => p.clone(),
        };
        let status = match status_col.map(|c| status_word(&row.cells[c])) {
            None | Some(Ok(None)) => ShelterStatus::Open,
            Some(Ok(Some(s))) => s,
            Some(Err(())) => {
                let c = status_col.unwrap_or_default();
                problems.push(Problem::row(
                    row.line,
                    Some(header(c)),
                    "err-shelter-status",
                    Some(&row.cells[c]),
                ));
                ShelterStatus::Open
            }
        };
        let households = match households_col {
            Some(c) => match parse_count(&row.cells[c], "households") {
                Ok(n) => n,
                Err(e) => {
                    problems.push(Problem::row(
                        row.line,
                        Some(header(c)),
                        e.key,
                        Some(&row.cells[c]),
                    ));
                    None
                }
            },
            None => None,
        };
        let mut columns: Vec<(usize, Option<i64>)> =
            dated.iter().map(|(c, at)| (*c, Some(*at))).collect();
        if let Some(c) = count_col {
            let at = at_col.and_then(|a| parse_jst(&row.cells[a]));
            if at.is_none() {
                let a = at_col.unwrap_or(c);
                problems.push(Problem::row(
                    row.line,
                    Some(header(a)),
                    "err-snapshot-time",
                    Some(&row.cells[a]),
                ));
            }
            columns.push((c, at));
        }
        let mut observations = Vec::new();
        for (c, at) in columns {
            let Some(at) = at else { continue };
            let evacuees = match parse_count(&row.cells[c], "evacuees") {
                Ok(n) => n,
                Err(e) => {
                    problems.push(Problem::row(
                        row.line,
                        Some(header(c)),
                        e.key,
                        Some(&row.cells[c]),
                    ));
                    continue;
                }
            };
            match Headcount::new(evacuees, households) {
                Ok(headcount) => observations.push(Observation {
                    observed_at: at,
                    status,
                    headcount,
                }),
                Err(e) => problems.push(Problem::row(
                    row.line,
                    Some(header(c)),
                    e.key,
                    Some(&row.cells[c]),
                )),
            }
        }
        match parsed {
            Ok(shelter) if problems.is_empty() => out.push(Ok(SnapshotRow {
                shelter,
                observations,
            })),
            _ => out.push(Err(problems)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::read_table;

    #[test]
    fn dated_column() {
        let t =
            read_table("ID,名称,住所,人数_令和6年1月9日午後6時時点\nNEW001,寄合い処,七尾市,12\n")
                .unwrap();
        let rows = parse_snapshot(&t).unwrap();
        let r = rows[0].as_ref().unwrap();
        assert_eq!(r.observations.len(), 1);
        assert_eq!(r.observations[0].headcount.evacuees, Some(12));
        assert_eq!(
            crate::store::from_millis(r.observations[0].observed_at).hour(),
            9
        );
    }

    #[test]
    fn negative_counts_are_row_problems() {
        let t = read_table("名称,人数,時点\nA,-4,2024-01-01 10:00\nB,3,いつか\n").unwrap();
        let rows = parse_snapshot(&t).unwrap();
        assert_eq!(rows[0].as_ref().unwrap_err()[0].key, "err-count-negative");
        assert_eq!(rows[1].as_ref().unwrap_err()[0].key, "err-snapshot-time");
    }
}
