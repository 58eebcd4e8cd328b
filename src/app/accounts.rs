//! Setup, login and sessions, organisations and user accounts.

use super::*;
use crate::store::{
    NewLink, NewOrg, NewSession, NewUser, Org, SessionInfo, SessionUser, StoreError,
};

/// Failed logins allowed per account, and per address, within [`THROTTLE_WINDOW_MS`].
pub const MAX_FAILS_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILS_PER_ADDRESS: i64 = 30;
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// A login that succeeded: the cookie value to set.
#[derive(Debug)]
pub struct LoggedIn {
    pub token: String,
    pub user: User,
}

/// The form of the first-run setup.
#[derive(Debug, Clone)]
pub struct SetupInput {
    pub org_name: String,
    pub org_slug: String,
    pub org_kind: String,
    pub org_code: String,
    pub login: String,
    pub display_name: String,
    pub password: String,
}

/// The form for a new user.
#[derive(Debug, Clone, Default)]
pub struct NewUserInput {
    pub org: String,
    pub login: String,
    pub display_name: String,
    pub email: String,
    pub role: String,
    pub lang: String,
}

/// A one-time link to hand over.
#[derive(Debug, Clone)]
pub struct IssuedLink {
    pub user: User,
    pub url: String,
    pub expires_at: Millis,
}

fn parse_org(name: &str, slug: &str, kind: &str, code: &str) -> Result<NewOrg, Invalid> {
    Ok(NewOrg {
        name: DisplayName::parse(name).map_err(|e| Invalid::new("name", e.key))?,
        slug: OrgSlug::parse(slug)?,
        kind: OrgKind::parse(kind)?,
        lg_code: if code.trim().is_empty() {
            None
        } else {
            Some(LgCode::parse(code)?)
        },
    })
}

/// An optional e-mail address: empty is none; otherwise one `@`, no spaces, at most 200 bytes.
pub(crate) fn parse_email(raw: &str) -> Result<Option<String>, Invalid> {
    let e = raw.trim();
    if e.is_empty() {
        return Ok(None);
    }
    let ok = e.len() <= 200
        && e.matches('@').count() == 1
        && !e.starts_with('@')
        && !e.ends_with('@')
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
    if ok {
        Ok(Some(e.to_string()))
    } else {
        Err(Invalid::new("email", "err-email"))
    }
}

impl App {
    /// Prints nothing; returns the setup URL when no user exists yet (a fresh link each start).
    pub async fn setup_link(&self) -> AppResult<Option<String>> {
        if self.store.user_count().await? > 0 {
            return Ok(None);
        }
        let token = random_token();
        let now = self.now();
        self.store
            .create_setup_link(
                NewLink {
                    token_hash: token_hash(&token),
                    purpose: "setup",
                    expires_at: now + 24 * 3600 * 1000,
                },
                now,
            )
            .await?;
        Ok(Some(format!(
            "{}/setup?token={token}",
            self.config.base_url
        )))
    }

    pub async fn setup_token_valid(&self, token: &str) -> AppResult<bool> {
        Ok(self
            .store
            .setup_link_valid(&token_hash(token), self.now())
            .await?)
    }

    /// Creates the deployment organisation and its admin from the setup link.
    pub async fn complete_setup(&self, token: &str, input: SetupInput) -> AppResult<UserId> {
        if !self.setup_token_valid(token).await? {
            return Err(AppError::Forbidden);
        }
        let org = parse_org(
            &input.org_name,
            &input.org_slug,
            &input.org_kind,
            &input.org_code,
        )?;
        let login = LoginId::parse(&input.login)?;
        let display_name = DisplayName::parse(&input.display_name)?;
        let pw = Password::parse(&input.password)?;
        let hash = self.hash_password(pw).await?;
        let admin = NewUser {
            org_id: OrgId::new(),
            login,
            display_name,
            email: None,
            role: Role::DeploymentAdmin,
            lang: None,
            password_hash: Some(hash),
        };
        let uid = self
            .store
            .complete_setup(&token_hash(token), org, admin, self.now())
            .await?;
        self.live.ring();
        Ok(uid)
    }

    /// Checks credentials, with throttling per account and per address.
    pub async fn login(
        &self,
        login: &str,
        password: String,
        address: &str,
        user_agent: &str,
    ) -> AppResult<LoggedIn> {
        let login = login.trim().to_ascii_lowercase();
        let now = self.now();
        let since = now - THROTTLE_WINDOW_MS;
        let acct = format!("u:{login}");
        let addr = format!("a:{address}");
        if self.store.login_failures_since(&acct, since).await? >= MAX_FAILS_PER_ACCOUNT
            || self.store.login_failures_since(&addr, since).await? >= MAX_FAILS_PER_ADDRESS
        {
            self.store
                .audit(AuditRecord {
                    at: now,
                    action: "login".into(),
                    object: format!("login:{login}"),
                    address: address.into(),
                    result: "refused:throttled".into(),
                    ..Default::default()
                })
                .await?;
            return Err(AppError::TooManyRequests);
        }
        let found = self.store.credentials(&login).await?;
        let (user, hash) = match found {
            Some((u, h)) if u.active => (Some(u), h),
            _ => (None, None),
        };
        let ok = self.verify_password(password, hash).await?;
        let Some(user) = user.filter(|_| ok) else {
            self.store.record_login_failure(&[acct, addr], now).await?;
            self.store
                .audit(AuditRecord {
                    at: now,
                    action: "login".into(),
                    object: format!("login:{login}"),
                    address: address.into(),
                    result: "refused:bad_credentials".into(),
                    ..Default::default()
                })
                .await?;
            return Err(AppError::Invalid(Invalid::new(
                "login",
                "err-bad-credentials",
            )));
        };
        let token = random_token();
        self.store
            .create_session(
                NewSession {
                    id_hash: token_hash(&token),
                    user_id: user.id,
                    csrf: random_token(),
                    user_agent: user_agent.to_string(),
                    address: address.to_string(),
                },
                now,
                AuditRecord {
                    at: now,
                    user_id: Some(user.id),
                    user_login: Some(user.login.clone()),
                    org_id: Some(user.org_id),
                    action: "login".into(),
                    object: format!("user:{}", user.id),
                    address: address.into(),
                    result: "ok".into(),
                    detail: String::new(),
                },
            )
            .await?;
        Ok(LoggedIn { token, user })
    }

    /// The live session for a cookie value, if any.
    pub async fn session(&self, token: &str) -> AppResult<Option<SessionUser>> {
        Ok(self
            .store
            .session(
                &token_hash(token),
                self.now(),
                self.config.session_idle.whole_milliseconds() as i64,
                self.config.session_max.whole_milliseconds() as i64,
            )
            .await?)
    }

    /// Checks a session (by its stored hash) is still live.
    pub async fn session_alive(&self, session_hash: &str) -> AppResult<bool> {
        Ok(self
            .store
            .session(
                session_hash,
                self.now(),
                self.config.session_idle.whole_milliseconds() as i64,
                self.config.session_max.whole_milliseconds() as i64,
            )
            .await?
            .is_some())
    }

    pub async fn logout(&self, actor: &Actor) -> AppResult<()> {
        let audit = self.audit_for(actor, "logout", format!("user:{}", actor.user.id));
        self.store
            .end_sessions(actor.user.id, Some(&actor.session_hash), self.now(), audit)
            .await?;
        self.live.ring();
        Ok(())
    }

    pub async fn my_sessions(&self, actor: &Actor) -> AppResult<Vec<SessionInfo>> {
        Ok(self
            .store
            .list_sessions(
                actor.user.id,
                self.now(),
                self.config.session_idle.whole_milliseconds() as i64,
                self.config.session_max.whole_milliseconds() as i64,
            )
            .await?)
    }

    /// Ends one of the actor's own sessions.
    pub async fn end_my_session(&self, actor: &Actor, id_hash: &str) -> AppResult<()> {
        let audit = self.audit_for(actor, "session.end", format!("user:{}", actor.user.id));
        let n = self
            .store
            .end_sessions(actor.user.id, Some(id_hash), self.now(), audit)
            .await?;
        if n == 0 {
            return Err(AppError::NotFound);
        }
        self.live.ring();
        Ok(())
    }

    pub async fn change_password(
        &self,
        actor: &Actor,
        current: String,
        new: &str,
    ) -> AppResult<()> {
        let pw = Password::parse(new)?;
        let hash = self
            .store
            .credentials(&actor.user.login)
            .await?
            .and_then(|(_, h)| h);
        if !self.verify_password(current, hash).await? {
            return Err(self
                .refuse(
                    actor,
                    "password.change",
                    format!("user:{}", actor.user.id),
                    AppError::Invalid(Invalid::new("current_password", "err-bad-password")),
                )
                .await);
        }
        let new_hash = self.hash_password(pw).await?;
        let audit = self.audit_for(actor, "password.change", format!("user:{}", actor.user.id));
        self.store
            .set_password(actor.user.id, new_hash, self.now(), audit)
            .await?;
        Ok(())
    }

    /// Sets or clears the address that receives e-mail copies of inbox items.
    pub async fn set_email(&self, actor: &Actor, email: &str) -> AppResult<()> {
        let email = parse_email(email)?;
        let audit = self.audit_for(actor, "user.email", format!("user:{}", actor.user.id));
        self.store.set_email(actor.user.id, email, audit).await?;
        Ok(())
    }

    pub async fn set_language(&self, actor: &Actor, lang: &str) -> AppResult<()> {
        let lang = Lang::parse(lang)?;
        let audit = self.audit_for(actor, "user.language", format!("user:{}", actor.user.id));
        self.store
            .set_lang(actor.user.id, lang, self.now(), audit)
            .await?;
        Ok(())
    }

    /// Creates a personal API token; the token is returned once and only its hash is kept.
    pub async fn create_token(&self, actor: &Actor, name: &str) -> AppResult<String> {
        let name = DisplayName::parse(name).map_err(|e| Invalid::new("name", e.key))?;
        let token = format!("sonae_{}", random_token());
        let audit = self.audit_for(actor, "token.create", "");
        self.store
            .create_token(
                actor.user.id,
                name.as_str(),
                &token_hash(&token),
                self.now(),
                audit,
            )
            .await?;
        Ok(token)
    }

    pub async fn my_tokens(&self, actor: &Actor) -> AppResult<Vec<crate::store::ApiToken>> {
        Ok(self.store.list_tokens(actor.user.id).await?)
    }

    /// Revokes one of the actor's own tokens.
    pub async fn revoke_token(&self, actor: &Actor, id: &str) -> AppResult<()> {
        let audit = self.audit_for(actor, "token.revoke", format!("token:{id}"));
        Ok(self
            .store
            .revoke_token(actor.user.id, id, self.now(), audit)
            .await?)
    }

    /// The user of a live API token.
    pub async fn token_user(&self, token: &str) -> AppResult<Option<User>> {
        Ok(self
            .store
            .token_user(&token_hash(token), self.now())
            .await?)
    }

    /// Whether the actor administers the users of `org`.
    pub fn can_admin_org(actor: &Actor, org: OrgId) -> bool {
        match actor.user.role {
            Role::DeploymentAdmin => true,
            Role::OrgAdmin => actor.user.org_id == org,
            Role::Member => false,
        }
    }

    fn require_any_admin(actor: &Actor) -> AppResult<()> {
        if actor.user.role >= Role::OrgAdmin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Organisations the actor administers (every one for the deployment admin).
    pub async fn admin_orgs(&self, actor: &Actor) -> AppResult<Vec<Org>> {
        Self::require_any_admin(actor)?;
        let orgs = self.store.list_orgs().await?;
        Ok(orgs
            .into_iter()
            .filter(|o| Self::can_admin_org(actor, o.id))
            .collect())
    }

    /// Every organisation (for pickers).
    pub async fn all_orgs(&self) -> AppResult<Vec<Org>> {
        Ok(self.store.list_orgs().await?)
    }

    pub async fn create_org(
        &self,
        actor: &Actor,
        name: &str,
        slug: &str,
        kind: &str,
        code: &str,
    ) -> AppResult<Org> {
        if actor.user.role != Role::DeploymentAdmin {
            return Err(self
                .refuse(actor, "org.create", slug, AppError::Forbidden)
                .await);
        }
        let org = parse_org(name, slug, kind, code)?;
        let audit = self.audit_for(actor, "org.create", "");
        let org = self.store.create_org(org, self.now(), audit).await?;
        self.live.ring();
        Ok(org)
    }

    pub(crate) async fn new_link(&self, purpose: &'static str) -> (String, NewLink, Millis) {
        let token = random_token();
        let expires = self.now() + self.config.activation_days * 24 * 3600 * 1000;
        (
            token.clone(),
            NewLink {
                token_hash: token_hash(&token),
                purpose,
                expires_at: expires,
            },
            expires,
        )
    }

    /// Creates a user and returns the activation link to hand over.
    pub async fn create_user(&self, actor: &Actor, input: NewUserInput) -> AppResult<IssuedLink> {
        let org = match self.store.org_by_ref(&input.org).await {
            Ok(o) => o,
            Err(StoreError::NotFound) => {
                return Err(AppError::Invalid(Invalid::new("org", "err-org-unknown")));
            }
            Err(e) => return Err(e.into()),
        };
        let role = if input.role.is_empty() {
            Role::Member
        } else {
            Role::parse(&input.role)?
        };
        let allowed = Self::can_admin_org(actor, org.id)
            && (role == Role::Member || actor.user.role == Role::DeploymentAdmin);
        if !allowed {
            return Err(self
                .refuse(actor, "user.create", &input.login, AppError::Forbidden)
                .await);
        }
        let email = parse_email(&input.email)?;
        let new = NewUser {
            org_id: org.id,
            login: LoginId::parse(&input.login)?,
            display_name: DisplayName::parse(&input.display_name)?,
            email,
            role,
            lang: if input.lang.is_empty() {
                None
            } else {
                Some(Lang::parse(&input.lang)?)
            },
            password_hash: None,
        };
        let (token, link, expires) = self.new_link("activate").await;
        let audit = self.audit_for(actor, "user.create", "");
        let user = self
            .store
            .create_user(new, Some(link), self.now(), audit)
            .await?;
        self.live.ring();
        let issued = IssuedLink {
            user,
            url: format!("{}/activate/{token}", self.config.base_url),
            expires_at: expires,
        };
        self.mail_link(&issued);
        Ok(issued)
    }

    /// The user `target`, if the actor administers them.
    async fn managed_user(&self, actor: &Actor, target: UserId, action: &str) -> AppResult<User> {
        let user = self.store.user(target).await?;
        let allowed = Self::can_admin_org(actor, user.org_id)
            && (user.role != Role::DeploymentAdmin || actor.user.role == Role::DeploymentAdmin);
        if !allowed {
            return Err(self
                .refuse(actor, action, format!("user:{target}"), AppError::Forbidden)
                .await);
        }
        Ok(user)
    }

    /// Issues a fresh password-reset link.
    pub async fn reset_password(&self, actor: &Actor, target: UserId) -> AppResult<IssuedLink> {
        let user = self.managed_user(actor, target, "user.reset").await?;
        let (token, link, expires) = self.new_link("reset").await;
        let audit = self.audit_for(actor, "user.reset", format!("user:{target}"));
        self.store
            .issue_link(target, link, self.now(), audit)
            .await?;
        let issued = IssuedLink {
            user,
            url: format!("{}/activate/{token}", self.config.base_url),
            expires_at: expires,
        };
        self.mail_link(&issued);
        Ok(issued)
    }

    pub async fn set_user_active(
        &self,
        actor: &Actor,
        target: UserId,
        active: bool,
    ) -> AppResult<()> {
        let action = if active {
            "user.reactivate"
        } else {
            "user.deactivate"
        };
        self.managed_user(actor, target, action).await?;
        if target == actor.user.id && !active {
            return Err(self
                .refuse(
                    actor,
                    action,
                    format!("user:{target}"),
                    AppError::Conflict("err-deactivate-self"),
                )
                .await);
        }
        let audit = self.audit_for(actor, action, format!("user:{target}"));
        self.store
            .set_user_active(target, active, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(())
    }

    pub async fn end_user_sessions(&self, actor: &Actor, target: UserId) -> AppResult<u64> {
        self.managed_user(actor, target, "user.end_sessions")
            .await?;
        let audit = self.audit_for(actor, "user.end_sessions", format!("user:{target}"));
        let n = self
            .store
            .end_sessions(target, None, self.now(), audit)
            .await?;
        self.live.ring();
        Ok(n)
    }

    /// Appoints or removes an org admin (deployment admin only).
    pub async fn set_user_role(&self, actor: &Actor, target: UserId, role: &str) -> AppResult<()> {
        let role = Role::parse(role)?;
        if actor.user.role != Role::DeploymentAdmin || target == actor.user.id {
            return Err(self
                .refuse(
                    actor,
                    "user.role",
                    format!("user:{target}"),
                    AppError::Forbidden,
                )
                .await);
        }
        self.store.user(target).await?;
        let audit = self.audit_for(actor, "user.role", format!("user:{target}"));
        self.store
            .set_user_role(target, role, self.now(), audit)
            .await?;
        Ok(())
    }

    pub async fn users_of(&self, actor: &Actor, org: Option<OrgId>) -> AppResult<Vec<User>> {
        Self::require_any_admin(actor)?;
        let org = match (actor.user.role, org) {
            (Role::DeploymentAdmin, o) => o,
            (_, Some(o)) if o == actor.user.org_id => Some(o),
            (_, Some(_)) => return Err(AppError::Forbidden),
            (_, None) => Some(actor.user.org_id),
        };
        Ok(self.store.list_users(org).await?)
    }

    /// The user a one-time link belongs to.
    pub async fn link_user(&self, token: &str) -> AppResult<User> {
        Ok(self.store.link_user(&token_hash(token), self.now()).await?)
    }

    /// Sets a password from an activation or reset link.
    pub async fn redeem_link(&self, token: &str, password: &str) -> AppResult<UserId> {
        self.link_user(token).await?;
        let pw = Password::parse(password)?;
        let hash = self.hash_password(pw).await?;
        let uid = self
            .store
            .redeem_link(&token_hash(token), hash, self.now())
            .await?;
        self.live.ring();
        Ok(uid)
    }

    pub async fn audit_log(
        &self,
        actor: &Actor,
        mut filter: crate::store::AuditFilter,
    ) -> AppResult<Vec<AuditRecord>> {
        Self::require_any_admin(actor)?;
        if actor.user.role != Role::DeploymentAdmin {
            filter.org_id = Some(actor.user.org_id);
        }
        Ok(self.store.audit_list(filter).await?)
    }
}
