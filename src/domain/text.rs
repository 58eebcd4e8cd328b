//! Validated text values: constructing one is the validation.

use super::Invalid;
use serde::Serialize;
use std::fmt;

macro_rules! text_type {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

text_type!(
    /// A login id: 3–64 of `a-z 0-9 . _ -`, stored lower-case.
    LoginId,
    /// A person's or organisation's displayed name: 1–100 characters, one line.
    DisplayName,
    /// An organisation's short id such as `mie-pref`: 2–40 of `a-z 0-9 -`.
    OrgSlug,
    /// 全国地方公共団体コード: six digits whose last is the check digit.
    LgCode,
    /// A room name: 1–80 characters, one line.
    RoomName,
    /// A room description: up to 500 characters.
    Description,
    /// A message body: 1–10,000 characters, line breaks kept.
    MessageBody,
    /// A new password: 10–200 characters.
    Password,
    /// A client-chosen idempotency key: 8–100 of `A-Z a-z 0-9 - _ :`.
    IdemKey,
    /// An open item's title: 1–200 characters, one line.
    ItemTitle,
    /// An open item's details, or why it was dropped: up to 2,000 characters, line breaks kept.
    ItemText,
    /// A named position of an incident such as 情報班長: 1–50 characters, one line.
    PositionName,
);

fn has_control(s: &str, allow_newline: bool) -> bool {
    s.chars()
        .any(|c| c.is_control() && !(allow_newline && (c == '\n' || c == '\t')))
}

fn one_line(raw: &str, field: &'static str, min: usize, max: usize) -> Result<String, Invalid> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(Invalid::new(field, "err-required"));
    }
    if n > max {
        return Err(Invalid::new(field, "err-too-long"));
    }
    if has_control(s, false) {
        return Err(Invalid::new(field, "err-control-chars"));
    }
    Ok(s.to_string())
}

impl LoginId {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_ascii_lowercase();
        let n = s.chars().count();
        if !(3..=64).contains(&n) {
            return Err(Invalid::new("login", "err-login-format"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
        {
            return Err(Invalid::new("login", "err-login-format"));
        }
        Ok(Self(s))
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        one_line(raw, "display_name", 1, 100).map(Self)
    }
}

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().to_ascii_lowercase();
        let ok_len = (2..=40).contains(&s.len());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let ok_ends = !s.starts_with('-') && !s.ends_with('-');
        // A slug of six digits would be confused with a 全国地方公共団体コード.
        let not_code = !s.chars().all(|c| c.is_ascii_digit());
        if ok_len && ok_chars && ok_ends && not_code {
            Ok(Self(s))
        } else {
            Err(Invalid::new("slug", "err-slug-format"))
        }
    }
}

impl LgCode {
    /// Accepts the six-digit code, or the five-digit form without the check digit.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        if digits.len() != s.chars().count() || !(digits.len() == 5 || digits.len() == 6) {
            return Err(Invalid::new("lg_code", "err-lg-code"));
        }
        let check = Self::check_digit(&digits[..5]);
        if digits.len() == 6 && digits[5] != check {
            return Err(Invalid::new("lg_code", "err-lg-code-check"));
        }
        let mut out: String = s.chars().take(5).collect();
        out.push(char::from_digit(check, 10).unwrap_or('0'));
        Ok(Self(out))
    }

    fn check_digit(d: &[u32]) -> u32 {
        let sum: u32 = d.iter().zip([6, 5, 4, 3, 2]).map(|(a, w)| a * w).sum();
        (11 - sum % 11) % 10
    }
}

impl RoomName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        one_line(raw, "name", 1, 80).map(Self)
    }
}

impl ItemTitle {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        one_line(raw, "title", 1, 200).map(Self)
    }
}

impl PositionName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        one_line(raw, "name", 1, 50).map(Self)
    }
}

impl ItemText {
    /// `field` names the form field in errors (`details`, `reason`).
    pub fn parse(raw: &str, field: &'static str) -> Result<Self, Invalid> {
        let s = raw.trim().replace("\r\n", "\n");
        if s.chars().count() > 2000 {
            return Err(Invalid::new(field, "err-too-long"));
        }
        if has_control(&s, true) {
            return Err(Invalid::new(field, "err-control-chars"));
        }
        Ok(Self(s))
    }
}

impl Description {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim().replace("\r\n", "\n");
        if s.chars().count() > 500 {
            return Err(Invalid::new("description", "err-too-long"));
        }
        if has_control(&s, true) {
            return Err(Invalid::new("description", "err-control-chars"));
        }
        Ok(Self(s))
    }
}

impl MessageBody {
    pub const MAX_CHARS: usize = 10_000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.replace("\r\n", "\n").replace('\r', "\n");
        let s = s.trim_matches(|c: char| c.is_whitespace()).to_string();
        if s.is_empty() {
            return Err(Invalid::new("body", "err-message-empty"));
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(Invalid::new("body", "err-message-too-long"));
        }
        if has_control(&s, true) {
            return Err(Invalid::new("body", "err-control-chars"));
        }
        Ok(Self(s))
    }

    /// Login ids named with `@login` in the body.
    pub fn mentions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let chars: Vec<char> = self.0.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
            if chars[i] == '@' && boundary {
                let start = i + 1;
                let mut j = start;
                while j < chars.len()
                    && (chars[j].is_ascii_alphanumeric() || matches!(chars[j], '.' | '_' | '-'))
                {
                    j += 1;
                }
                let login: String = chars[start..j]
                    .iter()
                    .collect::<String>()
                    .trim_end_matches('.')
                    .to_ascii_lowercase();
                if login.len() >= 3 && !out.contains(&login) {
                    out.push(login);
                }
                i = j;
            } else {
                i += 1;
            }
        }
        out
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let n = raw.chars().count();
        if n < 10 {
            return Err(Invalid::new("password", "err-password-short"));
        }
        if n > 200 {
            return Err(Invalid::new("password", "err-too-long"));
        }
        Ok(Self(raw.to_string()))
    }
}

impl IdemKey {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        let ok = (8..=100).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':'));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(Invalid::new("idempotency_key", "err-idem-key"))
        }
    }
}

/// Text folded for search: NFKC (full-width ＡＢＣ → ABC, half-width ｶﾀｶﾅ → カタカナ) and lower case.
pub fn search_fold(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    s.nfkc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lg_codes_of_mie() {
        assert_eq!(LgCode::parse("240001").map(|c| c.0), Ok("240001".into()));
        assert_eq!(LgCode::parse("24211").map(|c| c.0), Ok("242110".into()));
        assert_eq!(LgCode::parse("242021").map(|c| c.0), Ok("242021".into()));
        assert!(LgCode::parse("242111").is_err());
        assert!(LgCode::parse("24a110").is_err());
    }

    #[test]
    fn message_body_limits() {
        assert!(MessageBody::parse("  \n ").is_err());
        assert!(MessageBody::parse(&"あ".repeat(10_001)).is_err());
        assert!(MessageBody::parse(&"あ".repeat(10_000)).is_ok());
        assert_eq!(
            MessageBody::parse("a\r\nb").map(|b| b.0),
            Ok("a\nb".to_string())
        );
        assert!(MessageBody::parse("bad\u{0007}bell").is_err());
    }

    #[test]
    fn mentions_are_found() {
        let b =
            MessageBody::parse("@tsu.sato 確認お願いします。cc @Toba-admin. mail a@b.jp").unwrap();
        assert_eq!(b.mentions(), vec!["tsu.sato", "toba-admin"]);
    }

    #[test]
    fn fold_width_variants() {
        assert_eq!(search_fold("ＡＢＣ"), "abc");
        assert_eq!(search_fold("ｶﾀｶﾅ"), "カタカナ");
    }

    #[test]
    fn slugs() {
        assert!(OrgSlug::parse("mie-pref").is_ok());
        assert!(OrgSlug::parse("-x").is_err());
        assert!(OrgSlug::parse("242110").is_err());
        assert!(OrgSlug::parse("Toba Fire").is_err());
    }
}
