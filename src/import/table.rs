//! Bytes to a table of named columns: encoding detection, CSV and GeoJSON.

use super::Problem;
use unicode_normalization::UnicodeNormalization;

/// Largest shelter file read (a prefecture's full GSI list is about 3 MB).
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;
/// Most rows read from one file.
pub const MAX_ROWS: usize = 20_000;

/// Where a table came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    GeoJson,
}

/// One data row: its line (or feature number) and its cells, in header order.
#[derive(Debug, Clone)]
pub struct TableRow {
    pub line: usize,
    pub cells: Vec<String>,
    /// The row has a different number of fields than the header (broken quoting, usually).
    pub ragged: bool,
}

/// A file read as a table.
#[derive(Debug, Clone)]
pub struct Table {
    pub format: Format,
    /// Headers as written (trimmed).
    pub headers: Vec<String>,
    /// Headers folded for matching (NFKC, no spaces).
    folded: Vec<String>,
    pub rows: Vec<TableRow>,
}

impl Table {
    fn new(format: Format, headers: Vec<String>) -> Self {
        let folded = headers.iter().map(|h| fold_header(h)).collect();
        Self {
            format,
            headers,
            folded,
            rows: Vec::new(),
        }
    }

    /// The first column whose header is one of `names` (compared folded).
    pub fn column(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| {
            let n = fold_header(n);
            self.folded.iter().position(|h| *h == n)
        })
    }

    /// Columns whose folded header starts with `prefix`, with the rest of the header.
    pub fn columns_with_prefix(&self, prefix: &str) -> Vec<(usize, String)> {
        let p = fold_header(prefix);
        self.folded
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.strip_prefix(&p).map(|rest| (i, rest.to_string())))
            .collect()
    }

    /// The folded header of column `i`.
    pub fn folded(&self, i: usize) -> &str {
        &self.folded[i]
    }
}

/// NFKC, no whitespace: `建物名等（方書）` and `建物名等(方書)` fold alike.
pub fn fold_header(h: &str) -> String {
    h.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '\u{feff}')
        .collect::<String>()
        .to_lowercase()
}

/// Decodes a text file: UTF-8 (with or without BOM), UTF-16 with a BOM, or Shift_JIS as Windows
/// writes it (CP932, half-width kana included). Anything else is refused with a reason.
pub fn decode_text(bytes: &[u8]) -> Result<String, Problem> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(Problem::file("err-import-too-large"));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xef\xbb\xbf") {
        return std::str::from_utf8(rest)
            .map(str::to_string)
            .map_err(|_| Problem::file("err-import-encoding"));
    }
    for (bom, enc) in [
        (&b"\xff\xfe"[..], encoding_rs::UTF_16LE),
        (&b"\xfe\xff"[..], encoding_rs::UTF_16BE),
    ] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            return enc
                .decode_without_bom_handling_and_without_replacement(rest)
                .map(|s| s.into_owned())
                .ok_or_else(|| Problem::file("err-import-encoding"));
        }
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::SHIFT_JIS
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|s| s.into_owned())
            .ok_or_else(|| Problem::file("err-import-encoding"))?,
    };
    // Binary files decode "successfully" surprisingly often; text has no NULs and few controls.
    let controls = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .count();
    if text.contains('\0') || controls > text.len() / 100 + 2 {
        return Err(Problem::file("err-import-not-text"));
    }
    Ok(text)
}

/// Reads decoded text as GeoJSON (when it starts with `{`) or CSV.
pub fn read_table(text: &str) -> Result<Table, Problem> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(Problem::file("err-import-empty"));
    }
    if trimmed.starts_with('{') {
        read_geojson(trimmed)
    } else {
        read_csv(trimmed)
    }
}

fn read_csv(text: &str) -> Result<Table, Problem> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    match reader.read_record(&mut rec) {
        Ok(true) => {}
        Ok(false) => return Err(Problem::file("err-import-empty")),
        Err(_) => return Err(Problem::file("err-import-unreadable")),
    }
    let headers: Vec<String> = rec
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    if headers.len() < 2 {
        return Err(Problem::file("err-import-not-csv"));
    }
    let mut table = Table::new(Format::Csv, headers);
    // Line numbers from where each record starts (the reader's position before reading it),
    // counting newlines ourselves: right for CRLF, LF and quoted line breaks alike.
    let bytes = text.as_bytes();
    let (mut counted_to, mut line) = (0usize, 1usize);
    loop {
        let mut start = (reader.position().byte() as usize).min(bytes.len());
        // The reader may stop before the previous record's line ending.
        while start < bytes.len() && (bytes[start] == b'\r' || bytes[start] == b'\n') {
            start += 1;
        }
        match reader.read_record(&mut rec) {
            Ok(true) => {}
            Ok(false) => break,
            Err(_) => return Err(Problem::file("err-import-unreadable")),
        }
        line += bytes[counted_to..start.max(counted_to)]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        counted_to = start.max(counted_to);
        if rec.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if table.rows.len() >= MAX_ROWS {
            return Err(Problem::file("err-import-too-many-rows"));
        }
        let ragged = rec.len() != table.headers.len();
        let mut cells: Vec<String> = rec.iter().map(|c| c.trim().to_string()).collect();
        cells.resize(table.headers.len(), String::new());
        table.rows.push(TableRow {
            line,
            cells,
            ragged,
        });
    }
    Ok(table)
}

fn json_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.trim().to_string(),
        other => other.to_string(),
    }
}

/// GeoJSON FeatureCollection of Points: the properties become columns; the point adds `緯度`
/// and `経度` unless the properties carry them.
fn read_geojson(text: &str) -> Result<Table, Problem> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|_| Problem::file("err-import-json"))?;
    let features = doc
        .get("features")
        .and_then(|f| f.as_array())
        .ok_or_else(|| Problem::file("err-import-geojson"))?;
    if features.len() > MAX_ROWS {
        return Err(Problem::file("err-import-too-many-rows"));
    }
    let mut headers: Vec<String> = Vec::new();
    for f in features {
        if let Some(props) = f.get("properties").and_then(|p| p.as_object()) {
            for k in props.keys() {
                if !headers.contains(k) {
                    headers.push(k.clone());
                }
            }
        }
    }
    let lat_col = ["緯度", "lat", "latitude"];
    let has_lat = headers.iter().any(|h| lat_col.contains(&h.as_str()));
    if !has_lat {
        headers.push("緯度".into());
        headers.push("経度".into());
    }
    let mut table = Table::new(Format::GeoJson, headers.clone());
    for (i, f) in features.iter().enumerate() {
        let props = f.get("properties").and_then(|p| p.as_object());
        let mut cells: Vec<String> = headers
            .iter()
            .map(|h| {
                props
                    .and_then(|p| p.get(h))
                    .map(json_cell)
                    .unwrap_or_default()
            })
            .collect();
        if !has_lat {
            let coords = f
                .get("geometry")
                .and_then(|g| g.get("coordinates"))
                .and_then(|c| c.as_array());
            if let Some([lon, lat, ..]) = coords.map(|c| c.as_slice()) {
                let n = cells.len();
                cells[n - 2] = json_cell(lat);
                cells[n - 1] = json_cell(lon);
            }
        }
        table.rows.push(TableRow {
            line: i + 1,
            cells,
            ragged: false,
        });
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_jis_with_half_width_kana_decodes() {
        let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode("名称,住所\nﾄﾊﾞ公民館,鳥羽市\n");
        assert!(!bad);
        let text = decode_text(&bytes).unwrap();
        assert!(text.contains("ﾄﾊﾞ公民館"));
    }

    #[test]
    fn garbage_is_refused() {
        let bytes: Vec<u8> = (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect();
        assert!(decode_text(&bytes).is_err());
        assert_eq!(read_table("   ").unwrap_err().key, "err-import-empty");
    }

    #[test]
    fn quoted_fields_and_mixed_line_endings() {
        let t = read_table("名称,備考\r\n\"A, B\",\"two\nlines\"\n\"C\",\r\n").unwrap();
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[0].cells, vec!["A, B", "two\nlines"]);
        assert_eq!(t.rows[0].line, 2);
        assert_eq!(t.rows[1].line, 4);
        let quoted = read_table("\"a\",\"名称\"\r\n\"1\",\"x\"\r\n\"2\",\"y\"").unwrap();
        assert_eq!(quoted.rows[0].line, 2);
        assert_eq!(quoted.rows[1].line, 3);
        assert_eq!(t.column(&["備考"]), Some(1));
    }
}
