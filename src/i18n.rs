//! Japanese and English. All UI text lives in `locales/{ja,en}/main.ftl`.

use crate::domain::Lang;
use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};
use std::borrow::Cow;
use std::collections::HashMap;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "ja",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static JA: LanguageIdentifier = langid!("ja");
static EN: LanguageIdentifier = langid!("en");

/// A stored time (or any count), however many references a template wraps it in.
pub trait Millis {
    fn millis(&self) -> i64;
}

impl Millis for i64 {
    fn millis(&self) -> i64 {
        *self
    }
}

impl Millis for usize {
    fn millis(&self) -> i64 {
        i64::try_from(*self).unwrap_or(i64::MAX)
    }
}

impl<T: Millis + ?Sized> Millis for &T {
    fn millis(&self) -> i64 {
        (**self).millis()
    }
}

/// A translator for one language and time zone, handed to every template.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
    pub tz: time::UtcOffset,
}

impl Tr {
    pub fn new(lang: Lang, tz: time::UtcOffset) -> Self {
        Self { lang, tz }
    }

    fn id(&self) -> &'static LanguageIdentifier {
        match self.lang {
            Lang::Ja => &JA,
            Lang::En => &EN,
        }
    }

    /// The text for `key`.
    pub fn t(&self, key: &str) -> String {
        LOCALES.lookup(self.id(), key)
    }

    /// The text for `key` with one argument.
    pub fn t1(&self, key: &str, name: &'static str, value: impl ToString) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue> = HashMap::new();
        args.insert(Cow::Borrowed(name), FluentValue::from(value.to_string()));
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// The text for `key` with two arguments.
    pub fn t2(
        &self,
        key: &str,
        a: &'static str,
        av: impl ToString,
        b: &'static str,
        bv: impl ToString,
    ) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue> = HashMap::new();
        args.insert(Cow::Borrowed(a), FluentValue::from(av.to_string()));
        args.insert(Cow::Borrowed(b), FluentValue::from(bv.to_string()));
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// The text for `key` with a number argument (plural rules apply).
    pub fn tn(&self, key: &str, name: &'static str, n: impl Millis) -> String {
        let mut args: HashMap<Cow<'static, str>, FluentValue> = HashMap::new();
        args.insert(Cow::Borrowed(name), FluentValue::from(n.millis()));
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// The name of a kind of organisation.
    pub fn kind(&self, k: &crate::domain::OrgKind) -> String {
        self.t(&format!("ui-kind-{}", k.as_str()))
    }

    /// The name of a role in a room.
    pub fn room_role(&self, r: &crate::domain::RoomRole) -> String {
        self.t(&format!("ui-room-role-{}", r.as_str()))
    }

    /// The name of a deployment role.
    pub fn role(&self, r: &crate::domain::Role) -> String {
        self.t(&format!("ui-role-{}", r.as_str().replace('_', "-")))
    }

    /// `ja` or `en`, for `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.as_str()
    }

    /// A stored time shown in the configured zone: `2026-11-22 14:05`.
    pub fn time(&self, ms: impl Millis) -> String {
        let t = crate::store::from_millis(ms.millis()).to_offset(self.tz);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    }

    /// An ISO 8601 time for `<time datetime>`.
    pub fn iso(&self, ms: impl Millis) -> String {
        crate::store::rfc3339(ms.millis())
    }
}

/// The keys defined in a Fluent file's text (messages, not terms or attributes).
/// The translation key naming a kind of inbox item.
pub fn inbox_kind_key(kind: &str) -> &'static str {
    match kind {
        "mention" => "ui-inbox-mention",
        "dm" => "ui-inbox-dm",
        "invite" => "ui-inbox-invite",
        "incident" => "ui-inbox-incident",
        "confirm" => "ui-inbox-confirm",
        "confirm_reminder" => "ui-inbox-confirm-reminder",
        "handoff" => "ui-inbox-handoff",
        "handoff_overdue" => "ui-inbox-handoff-overdue",
        _ => "ui-inbox-other",
    }
}

pub fn ftl_keys(source: &str) -> std::collections::BTreeSet<String> {
    source
        .lines()
        .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ja_and_en_have_the_same_keys() {
        let ja = ftl_keys(include_str!("../locales/ja/main.ftl"));
        let en = ftl_keys(include_str!("../locales/en/main.ftl"));
        let only_ja: Vec<_> = ja.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&ja).collect();
        assert!(
            only_ja.is_empty() && only_en.is_empty(),
            "only in ja: {only_ja:?}; only in en: {only_en:?}"
        );
        assert!(ja.len() > 50);
    }

    #[test]
    fn every_key_used_in_code_and_templates_exists() {
        let ja = ftl_keys(include_str!("../locales/ja/main.ftl"));
        let mut missing = Vec::new();
        for dir in ["templates", "src"] {
            let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut stack = vec![root];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        stack.push(p);
                        continue;
                    }
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    for part in text.split('"').skip(1).step_by(2) {
                        let looks_like_key = (part.starts_with("err-") || part.starts_with("ui-"))
                            && part
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                            && !part.ends_with('-');
                        if looks_like_key && !ja.contains(part) {
                            missing.push(format!("{}: {part}", p.display()));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys missing from locales: {missing:?}");
    }

    #[test]
    fn lookup_and_time() {
        let tz = time::UtcOffset::from_hms(9, 0, 0).unwrap();
        let en = Tr::new(Lang::En, tz);
        assert_eq!(en.t("ui-login"), "Log in");
        // 2026-11-22T00:00:00Z is 09:00 in Tokyo.
        assert_eq!(en.time(1_795_305_600_000_i64), "2026-11-22 09:00");
    }
}
