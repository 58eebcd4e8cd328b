//! Bulk onboarding: users imported from a CSV, previewed row by row before anything is saved.
//!
//! Columns are found by header name, in English or Japanese (`login`/`ログインID`,
//! `display_name`/`表示名`, `org`/`組織`, `role`/`役割`, `lang`/`言語`, `email`/`メール`);
//! UTF-8 with or without BOM, or Shift_JIS as Excel writes it. A row whose login exists updates
//! that account (same organisation only); re-importing never duplicates.

use super::*;
use crate::store::{ImportUser, NewUser, StoreError};

/// One row of a preview.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// Line number in the file (the header is line 1).
    pub line: usize,
    pub login: String,
    pub display_name: String,
    pub org: String,
    pub role: String,
    pub lang: String,
    pub email: String,
    /// `add` or `update`.
    pub action: &'static str,
    /// Translation keys of what is wrong with the row.
    pub problems: Vec<&'static str>,
}

/// A row of a preview: what it would do and what is wrong with it.
pub trait PreviewRow {
    /// `add` or `update`.
    fn action(&self) -> &'static str;
    fn has_problems(&self) -> bool;
}

impl PreviewRow for ImportRow {
    fn action(&self) -> &'static str {
        self.action
    }
    fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// A whole preview: the rows, a problem with the file itself, and the file as UTF-8 text
/// (carried to the confirmation and checked again there).
#[derive(Debug, Clone)]
pub struct Preview<R> {
    pub rows: Vec<R>,
    /// A problem with the file itself (no header, unknown columns…).
    pub file_problem: Option<&'static str>,
    pub text: String,
}

impl<R> Preview<R> {
    pub(crate) fn new(text: String) -> Self {
        Self {
            rows: Vec::new(),
            file_problem: None,
            text,
        }
    }
}

impl<R: PreviewRow> Preview<R> {
    fn count(&self, f: impl Fn(&R) -> bool) -> i64 {
        self.rows.iter().filter(|r| f(r)).count() as i64
    }
    pub fn adds(&self) -> i64 {
        self.count(|r| r.action() == "add" && !r.has_problems())
    }
    pub fn updates(&self) -> i64 {
        self.count(|r| r.action() == "update" && !r.has_problems())
    }
    pub fn with_problems(&self) -> i64 {
        self.count(|r| r.has_problems())
    }
    /// Whether it can be applied as it is.
    pub fn ok(&self) -> bool {
        self.file_problem.is_none() && !self.rows.is_empty() && self.with_problems() == 0
    }
}

/// A users preview.
pub type ImportPreview = Preview<ImportRow>;

/// Decodes a CSV file: UTF-8 (BOM dropped), else Shift_JIS.
pub fn decode_csv(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => encoding_rs::SHIFT_JIS.decode(bytes).0.into_owned(),
    }
}

fn column(headers: &[String], names: &[&str]) -> Option<usize> {
    headers
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

fn role_of(raw: &str) -> Option<Role> {
    match raw.trim() {
        "" | "member" | "メンバー" => Some(Role::Member),
        "org_admin" | "組織管理者" => Some(Role::OrgAdmin),
        _ => None,
    }
}

fn lang_of(raw: &str) -> Result<Option<Lang>, ()> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "ja" | "日本語" | "japanese" => Ok(Some(Lang::Ja)),
        "en" | "english" | "英語" => Ok(Some(Lang::En)),
        _ => Err(()),
    }
}

/// Rows at most in one import.
pub const MAX_IMPORT_ROWS: usize = 5000;

impl App {
    /// Reads and checks a users CSV; saves nothing.
    pub async fn preview_users(&self, actor: &Actor, text: String) -> AppResult<ImportPreview> {
        Self::require_admin(actor)?;
        let mut preview = ImportPreview::new(text.clone());
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
            Err(_) => {
                preview.file_problem = Some("err-csv-unreadable");
                return Ok(preview);
            }
        };
        let col = |names: &[&str]| column(&headers, names);
        let (Some(c_login), Some(c_name), Some(c_org)) = (
            col(&["login", "login_id", "ログインID"]),
            col(&["display_name", "name", "表示名", "氏名"]),
            col(&[
                "org",
                "organisation",
                "organization",
                "組織",
                "組織コード",
                "団体コード",
            ]),
        ) else {
            preview.file_problem = Some("err-csv-columns");
            return Ok(preview);
        };
        let c_role = col(&["role", "役割"]);
        let c_lang = col(&["lang", "language", "言語"]);
        let c_email = col(&["email", "e-mail", "mail", "メール", "メールアドレス"]);
        let mut records = Vec::new();
        for (i, rec) in reader.records().enumerate() {
            if i >= MAX_IMPORT_ROWS {
                preview.file_problem = Some("err-too-many");
                return Ok(preview);
            }
            match rec {
                Ok(r) => records.push((i + 2, r)),
                Err(_) => {
                    preview.file_problem = Some("err-csv-unreadable");
                    return Ok(preview);
                }
            }
        }
        let get = |r: &csv::StringRecord, c: Option<usize>| {
            c.and_then(|c| r.get(c)).unwrap_or("").trim().to_string()
        };
        let logins: Vec<String> = records
            .iter()
            .map(|(_, r)| get(r, Some(c_login)).to_ascii_lowercase())
            .collect();
        let existing = self.store.users_by_logins(&logins).await?;
        let mut seen = std::collections::HashSet::new();
        for (line, r) in &records {
            let mut row = ImportRow {
                line: *line,
                login: get(r, Some(c_login)).to_ascii_lowercase(),
                display_name: get(r, Some(c_name)),
                org: get(r, Some(c_org)),
                role: get(r, c_role),
                lang: get(r, c_lang),
                email: get(r, c_email),
                action: "add",
                problems: Vec::new(),
            };
            if row.login.is_empty() && row.display_name.is_empty() && row.org.is_empty() {
                continue; // a blank line
            }
            if let Err(e) = LoginId::parse(&row.login) {
                row.problems.push(e.key);
            }
            if !seen.insert(row.login.clone()) {
                row.problems.push("err-csv-duplicate-login");
            }
            if let Err(e) = DisplayName::parse(&row.display_name) {
                row.problems.push(e.key);
            }
            let role = role_of(&row.role);
            match role {
                None => row.problems.push("err-role"),
                Some(Role::OrgAdmin) if actor.user.role != Role::DeploymentAdmin => {
                    row.problems.push("err-forbidden")
                }
                _ => {}
            }
            if lang_of(&row.lang).is_err() {
                row.problems.push("err-lang");
            }
            if accounts::parse_email(&row.email).is_err() {
                row.problems.push("err-email");
            }
            match self.store.org_by_ref(&row.org).await {
                Ok(org) => {
                    if !Self::can_admin_org(actor, org.id) {
                        row.problems.push("err-forbidden");
                    }
                    if let Some(u) = existing.iter().find(|u| u.login == row.login) {
                        row.action = "update";
                        if u.org_id != org.id {
                            row.problems.push("err-csv-other-org");
                        } else if u.role == Role::DeploymentAdmin {
                            row.problems.push("err-forbidden");
                        }
                    }
                }
                Err(StoreError::NotFound) => row.problems.push("err-org-unknown"),
                Err(e) => return Err(e.into()),
            }
            preview.rows.push(row);
        }
        if preview.rows.is_empty() && preview.file_problem.is_none() {
            preview.file_problem = Some("err-csv-empty");
        }
        Ok(preview)
    }

    /// Applies a users CSV: checked again, then saved all together or not at all. Returns the
    /// activation links of the new accounts.
    pub async fn apply_users(&self, actor: &Actor, text: String) -> AppResult<Vec<IssuedLink>> {
        let preview = self.preview_users(actor, text).await?;
        if !preview.ok() {
            return Err(self
                .refuse(
                    actor,
                    "user.import",
                    "",
                    AppError::Invalid(Invalid::new("csv", "err-csv-has-problems")),
                )
                .await);
        }
        let mut rows = Vec::new();
        let mut tokens = Vec::new();
        for r in &preview.rows {
            let org = self.store.org_by_ref(&r.org).await?;
            let (token, link, expires) = self.new_link("activate").await;
            let new = NewUser {
                org_id: org.id,
                login: LoginId::parse(&r.login)?,
                display_name: DisplayName::parse(&r.display_name)?,
                email: accounts::parse_email(&r.email)?,
                role: role_of(&r.role).unwrap_or(Role::Member),
                lang: lang_of(&r.lang).unwrap_or(None),
                password_hash: None,
            };
            tokens.push((token, expires));
            rows.push(ImportUser { user: new, link });
        }
        let audit = self.audit_for(actor, "user.import", format!("rows:{}", rows.len()));
        let created = self.store.import_users(rows, self.now(), audit).await?;
        self.live.ring();
        let mut links = Vec::new();
        for (i, uid) in created {
            let (token, expires) = &tokens[i];
            let issued = IssuedLink {
                user: self.store.user(uid).await?,
                url: format!("{}/activate/{token}", self.config.base_url),
                expires_at: *expires,
            };
            self.mail_link(&issued);
            links.push(issued);
        }
        Ok(links)
    }

    fn require_admin(actor: &Actor) -> AppResult<()> {
        if actor.user.role >= Role::OrgAdmin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// One row of an organisations preview.
#[derive(Debug, Clone)]
pub struct OrgImportRow {
    pub line: usize,
    pub name: String,
    pub kind: String,
    pub code: String,
    pub slug: String,
    /// `add` or `update`.
    pub action: &'static str,
    pub problems: Vec<&'static str>,
}

impl PreviewRow for OrgImportRow {
    fn action(&self) -> &'static str {
        self.action
    }
    fn has_problems(&self) -> bool {
        !self.problems.is_empty()
    }
}

/// An organisations preview.
pub type OrgImportPreview = Preview<OrgImportRow>;

fn kind_of(raw: &str) -> Option<OrgKind> {
    match raw.trim() {
        "prefecture" | "都道府県" | "県" => Some(OrgKind::Prefecture),
        "municipality" | "市区町村" | "市町村" | "市" | "町" | "村" => {
            Some(OrgKind::Municipality)
        }
        "fire" | "消防" => Some(OrgKind::Fire),
        "" | "other" | "その他" => Some(OrgKind::Other),
        _ => None,
    }
}

impl App {
    /// Reads and checks an organisations CSV (deployment admin only); saves nothing.
    pub async fn preview_orgs(&self, actor: &Actor, text: String) -> AppResult<OrgImportPreview> {
        if actor.user.role != Role::DeploymentAdmin {
            return Err(AppError::Forbidden);
        }
        let mut preview = OrgImportPreview::new(text.clone());
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.as_bytes());
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
            Err(_) => {
                preview.file_problem = Some("err-csv-unreadable");
                return Ok(preview);
            }
        };
        let col = |names: &[&str]| column(&headers, names);
        let (Some(c_name), Some(c_slug)) = (
            col(&["name", "名称", "組織名"]),
            col(&["slug", "short_id", "短縮ID"]),
        ) else {
            preview.file_problem = Some("err-csv-org-columns");
            return Ok(preview);
        };
        let c_kind = col(&["kind", "種類"]);
        let c_code = col(&["code", "lg_code", "全国地方公共団体コード", "団体コード"]);
        let existing = self.store.list_orgs().await?;
        let mut seen = std::collections::HashSet::new();
        for (i, rec) in reader.records().enumerate() {
            if i >= MAX_IMPORT_ROWS {
                preview.file_problem = Some("err-too-many");
                return Ok(preview);
            }
            let Ok(r) = rec else {
                preview.file_problem = Some("err-csv-unreadable");
                return Ok(preview);
            };
            let get = |c: Option<usize>| c.and_then(|c| r.get(c)).unwrap_or("").trim().to_string();
            let mut row = OrgImportRow {
                line: i + 2,
                name: get(Some(c_name)),
                kind: get(c_kind),
                code: get(c_code),
                slug: get(Some(c_slug)).to_ascii_lowercase(),
                action: "add",
                problems: Vec::new(),
            };
            if row.name.is_empty() && row.slug.is_empty() {
                continue;
            }
            if let Err(e) = DisplayName::parse(&row.name) {
                row.problems.push(e.key);
            }
            if let Err(e) = OrgSlug::parse(&row.slug) {
                row.problems.push(e.key);
            }
            if kind_of(&row.kind).is_none() {
                row.problems.push("err-org-kind");
            }
            let code = if row.code.is_empty() {
                None
            } else {
                match LgCode::parse(&row.code) {
                    Ok(c) => Some(c.into_inner()),
                    Err(e) => {
                        row.problems.push(e.key);
                        None
                    }
                }
            };
            if !seen.insert(row.slug.clone()) {
                row.problems.push("err-slug-taken");
            }
            let by_slug = existing.iter().find(|o| o.slug == row.slug);
            let by_code = code.as_ref().and_then(|c| {
                existing
                    .iter()
                    .find(|o| o.lg_code.as_deref() == Some(c.as_str()))
            });
            match (by_slug, by_code) {
                (Some(a), Some(b)) if a.id != b.id => row.problems.push("err-lg-code-taken"),
                (Some(_), _) => row.action = "update",
                (None, Some(_)) => row.problems.push("err-lg-code-taken"),
                (None, None) => {}
            }
            preview.rows.push(row);
        }
        if preview.rows.is_empty() && preview.file_problem.is_none() {
            preview.file_problem = Some("err-csv-empty");
        }
        Ok(preview)
    }

    /// Creates or updates (by short id) every organisation of a checked CSV, all or none.
    pub async fn apply_orgs(&self, actor: &Actor, text: String) -> AppResult<usize> {
        let preview = self.preview_orgs(actor, text).await?;
        if !preview.ok() {
            return Err(self
                .refuse(
                    actor,
                    "org.import",
                    "",
                    AppError::Invalid(Invalid::new("csv", "err-csv-has-problems")),
                )
                .await);
        }
        let mut orgs = Vec::new();
        for r in &preview.rows {
            orgs.push(crate::store::NewOrg {
                slug: OrgSlug::parse(&r.slug)?,
                name: DisplayName::parse(&r.name)?,
                kind: kind_of(&r.kind).unwrap_or(OrgKind::Other),
                lg_code: if r.code.is_empty() {
                    None
                } else {
                    Some(LgCode::parse(&r.code)?)
                },
            });
        }
        let n = orgs.len();
        let audit = self.audit_for(actor, "org.import", format!("rows:{n}"));
        self.store.import_orgs(orgs, self.now(), audit).await?;
        self.live.ring();
        Ok(n)
    }
}
