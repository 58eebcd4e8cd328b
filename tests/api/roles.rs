//! Every role × action: allowed, 403, or 404 where the thing must stay invisible.

use crate::support::*;
use axum::http::StatusCode;

async fn status_of(c: &mut Client, path: &str, fields: &[(&str, &str)]) -> StatusCode {
    let r = c.post_json(path, fields).await;
    assert!(!r.status.is_server_error(), "{path}: {}", r.body);
    r.status
}

#[tokio::test]
async fn administration_rights_by_role() {
    let w = World::new().await;
    let ok = StatusCode::OK;
    let forbidden = StatusCode::FORBIDDEN;
    let logins = ["admin", "tsu.admin", "toba.admin", "tsu.info"];
    // (action, expected for: deployment admin, 津市 org admin, 鳥羽市 org admin, 津市 member)
    for (i, login) in logins.iter().enumerate() {
        let mut c = w.t.login(login).await;
        let org_slug = format!("org-{i}");
        let exp = [ok, forbidden, forbidden, forbidden][i];
        assert_eq!(
            status_of(
                &mut c,
                "/admin/orgs",
                &[("name", "新組織"), ("slug", &org_slug), ("kind", "other")]
            )
            .await,
            exp,
            "create org as {login}"
        );

        let exp = [ok, ok, forbidden, forbidden][i];
        let new_login = format!("tsu.staff{i}");
        assert_eq!(
            status_of(
                &mut c,
                "/admin/users",
                &[
                    ("org", "tsu"),
                    ("login", &new_login),
                    ("display_name", "職員"),
                    ("role", "member")
                ]
            )
            .await,
            exp,
            "create 津市 user as {login}"
        );

        let exp = [ok, forbidden, forbidden, forbidden][i];
        let admin_login = format!("tsu.boss{i}");
        assert_eq!(
            status_of(
                &mut c,
                "/admin/users",
                &[
                    ("org", "tsu"),
                    ("login", &admin_login),
                    ("display_name", "課長"),
                    ("role", "org_admin")
                ]
            )
            .await,
            exp,
            "appoint org admin as {login}"
        );

        let exp = [ok, ok, forbidden, forbidden][i];
        assert_eq!(
            status_of(
                &mut c,
                &format!("/admin/users/{}/reset", w.tsu_member.id),
                &[]
            )
            .await,
            exp,
            "reset 津市 member as {login}"
        );
        assert_eq!(
            status_of(
                &mut c,
                &format!("/admin/users/{}/end-sessions", w.tsu_member.id),
                &[]
            )
            .await,
            exp,
            "end sessions as {login}"
        );

        let exp = [ok, forbidden, forbidden, forbidden][i];
        assert_eq!(
            status_of(
                &mut c,
                &format!("/admin/users/{}/role", w.toba_member.id),
                &[("role", "member")]
            )
            .await,
            exp,
            "set role as {login}"
        );

        // Nobody but the deployment admin touches the deployment admin.
        let exp = [StatusCode::CONFLICT, forbidden, forbidden, forbidden][i];
        assert_eq!(
            status_of(
                &mut c,
                &format!("/admin/users/{}/active", w.admin.id),
                &[("active", "0")]
            )
            .await,
            exp,
            "deactivate deployment admin as {login}"
        );

        let exp = [ok, ok, ok, forbidden][i];
        assert_eq!(
            c.get("/admin/users").await.status,
            exp,
            "user list as {login}"
        );
        assert_eq!(
            c.get("/admin/audit").await.status,
            exp,
            "audit log as {login}"
        );
        assert_eq!(
            c.get("/admin/orgs").await.status,
            exp,
            "org list as {login}"
        );
    }
    // An org admin listing another organisation's users is refused.
    let mut toba_admin = w.t.login("toba.admin").await;
    assert_eq!(
        toba_admin
            .get(&format!("/admin/users?org={}", w.tsu.id))
            .await
            .status,
        forbidden
    );
    // Refusals are audited.
    let mut admin = w.t.login("admin").await;
    let audit = admin.get("/admin/audit?action=user.create").await;
    assert!(audit.body.contains("refused:forbidden"), "{}", audit.body);
}

#[tokio::test]
async fn room_rights_by_role() {
    let w = World::new().await;
    let mut owner = w.t.login("tsu.info").await;
    let room = owner.room("津・鳥羽 連絡", "toba.info, toba.admin").await;
    let mut member = w.t.login("toba.info").await;
    let mut manager = w.t.login("toba.admin").await;
    let mut outsider = w.t.login("mie.info").await;
    // The owner makes toba.admin a manager; a manager cannot change roles.
    assert_eq!(
        owner
            .post_json(
                &format!("/rooms/{room}/members/{}/role", w.toba_admin.id),
                &[("role", "manager")]
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        manager
            .post_json(
                &format!("/rooms/{room}/members/{}/role", w.toba_member.id),
                &[("role", "manager")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // Renaming: owner and manager yes, member no, outsider cannot even see the room.
    for (c, exp) in [
        (&mut owner, StatusCode::OK),
        (&mut manager, StatusCode::OK),
        (&mut member, StatusCode::FORBIDDEN),
        (&mut outsider, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(
            c.post_json(
                &format!("/rooms/{room}/rename"),
                &[("name", "新しい名前"), ("description", "")]
            )
            .await
            .status,
            exp
        );
    }
    // Adding people: managers only.
    assert_eq!(
        member
            .post_json(&format!("/rooms/{room}/members"), &[("logins", "mie.info")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager
            .post_json(&format!("/rooms/{room}/members"), &[("logins", "mie.info")])
            .await
            .status,
        StatusCode::OK
    );
    // Removing: a manager cannot remove the owner; a member cannot remove anyone.
    assert_eq!(
        manager
            .post_json(
                &format!("/rooms/{room}/members/{}/remove", w.tsu_member.id),
                &[]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        member
            .post_json(
                &format!("/rooms/{room}/members/{}/remove", w.pref_member.id),
                &[]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager
            .post_json(
                &format!("/rooms/{room}/members/{}/remove", w.pref_member.id),
                &[]
            )
            .await
            .status,
        StatusCode::OK
    );
    // Now removed, the former member sees a 404 like for a room that does not exist.
    let gone = outsider.get(&format!("/rooms/{room}")).await;
    let missing = outsider
        .get("/rooms/01890000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.body, missing.body);
    // Messages: only the author edits or deletes; an outsider gets 404 for the message.
    let mid = member.say(&room, "鳥羽から").await;
    assert_eq!(
        owner
            .post_json(
                &format!("/rooms/{room}/messages/{mid}/edit"),
                &[("body", "改ざん")]
            )
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        owner
            .post_json(&format!("/rooms/{room}/messages/{mid}/delete"), &[])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        outsider
            .get(&format!("/rooms/{room}/messages/{mid}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        outsider
            .post_json(
                &format!("/rooms/{room}/messages"),
                &[("body", "x"), ("idem", "outsider-key-1")]
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Archiving: managers; then nobody posts.
    assert_eq!(
        member
            .post_json(&format!("/rooms/{room}/archive"), &[("archived", "1")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager
            .post_json(&format!("/rooms/{room}/archive"), &[("archived", "1")])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        owner
            .post_json(
                &format!("/rooms/{room}/messages"),
                &[("body", "x"), ("idem", "archived-key-1")]
            )
            .await
            .status,
        StatusCode::CONFLICT
    );
    // A direct conversation has no managers.
    let dm = owner
        .post_json("/direct", &[("login", "toba.info")])
        .await
        .json()["room_id"]
        .as_str()
        .expect("dm")
        .to_string();
    assert_eq!(
        owner
            .post_json(&format!("/rooms/{dm}/rename"), &[("name", "x")])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}
