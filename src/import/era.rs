//! Japanese dates as published status files write them (`令和6年1月14日午後6時`), and the ISO
//! forms, read as Japan Standard Time and returned in UTC milliseconds.

use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

/// First Gregorian year of each era (元年 is year 1).
const ERAS: &[(&str, i32)] = &[
    ("令和", 2019),
    ("平成", 1989),
    ("昭和", 1926),
    ("R", 2019),
    ("H", 1989),
];

const JST: UtcOffset = match UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => UtcOffset::UTC,
};

fn numbers(s: &str) -> Vec<i64> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            cur.push(c);
        } else if !cur.is_empty() {
            out.push(cur.parse().unwrap_or(-1));
            cur.clear();
        }
    }
    if !cur.is_empty() {
        out.push(cur.parse().unwrap_or(-1));
    }
    out
}

/// Parses a Japanese-era or ISO-like date and time in JST: `令和6年1月14日午後6時`,
/// `令和元年5月1日 9:30`, `2024年1月14日18時00分`, `2024-01-14 18:00`, `2024/1/14 18:00`.
/// A date without a time is midnight. `None` when it is not a date.
pub fn parse_jst(raw: &str) -> Option<i64> {
    let s: String = unicode_normalization::UnicodeNormalization::nfkc(raw.trim()).collect();
    let s = s.replace("元年", "1年");
    let (year_base, rest) = ERAS
        .iter()
        .find_map(|(name, base)| s.strip_prefix(name).map(|r| (Some(*base), r)))
        .unwrap_or((None, s.as_str()));
    let pm = rest.contains("午後") || rest.to_ascii_lowercase().contains("pm");
    let am = rest.contains("午前") || rest.to_ascii_lowercase().contains("am");
    let noon = rest.contains("正午");
    let n = numbers(rest);
    if n.len() < 3 || n.len() > 6 {
        return None;
    }
    let year = match year_base {
        Some(base) => {
            if !(1..=99).contains(&n[0]) {
                return None;
            }
            base + n[0] as i32 - 1
        }
        None => i32::try_from(n[0])
            .ok()
            .filter(|y| (1900..=2200).contains(y))?,
    };
    let month = Month::try_from(u8::try_from(n[1]).ok()?).ok()?;
    let day = u8::try_from(n[2]).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let mut hour = n.get(3).copied().unwrap_or(if noon { 12 } else { 0 });
    let minute = n.get(4).copied().unwrap_or(0);
    let second = n.get(5).copied().unwrap_or(0);
    if pm || am {
        if !(0..=12).contains(&hour) {
            return None;
        }
        if pm && hour < 12 {
            hour += 12;
        }
        if am && hour == 12 {
            hour = 0;
        }
    }
    let time = Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let at = PrimitiveDateTime::new(date, time).assume_offset(JST);
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: i64) -> String {
        crate::store::from_millis(s).to_string()
    }

    #[test]
    fn reiwa_afternoon() {
        let ms = parse_jst("令和6年1月14日午後6時").unwrap();
        assert_eq!(utc(ms), "2024-01-14 9:00:00.0 +00:00:00");
        assert_eq!(
            parse_jst("令和6年9月2日午後6時").map(utc).unwrap(),
            "2024-09-02 9:00:00.0 +00:00:00"
        );
    }

    #[test]
    fn other_forms() {
        assert_eq!(
            parse_jst("令和元年5月1日 9:30").map(utc).unwrap(),
            "2019-05-01 0:30:00.0 +00:00:00"
        );
        assert_eq!(
            parse_jst("2024-01-14 18:00").map(utc).unwrap(),
            "2024-01-14 9:00:00.0 +00:00:00"
        );
        assert_eq!(
            parse_jst("平成23年3月11日午後2時46分").map(utc).unwrap(),
            "2011-03-11 5:46:00.0 +00:00:00"
        );
        assert_eq!(parse_jst("午前0時"), None);
        assert_eq!(parse_jst("令和6年13月1日"), None);
        assert_eq!(parse_jst("人数"), None);
    }
}
