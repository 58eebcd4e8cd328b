//! `sonae demo`: 三重県 and its 29 市町 with users of every role, rooms and a few days of history.

use crate::app::App;
use crate::clock::SystemClock;
use crate::config::{Config, DbArgs};
use crate::domain::*;
use crate::store::{AuditRecord, Idem, NewMessage, NewOrg, NewRoom, NewUser, RoomChange, millis};

/// The password of every demo account.
pub const DEMO_PASSWORD: &str = "sonae-demo-2026";

/// 三重県's 29 市町: name, short id, 全国地方公共団体コード.
pub const MIE_MUNICIPALITIES: [(&str, &str, &str); 29] = [
    ("津市", "tsu", "242012"),
    ("四日市市", "yokkaichi", "242021"),
    ("伊勢市", "ise", "242039"),
    ("松阪市", "matsusaka", "242047"),
    ("桑名市", "kuwana", "242055"),
    ("鈴鹿市", "suzuka", "242071"),
    ("名張市", "nabari", "242080"),
    ("尾鷲市", "owase", "242098"),
    ("亀山市", "kameyama", "242101"),
    ("鳥羽市", "toba", "242110"),
    ("熊野市", "kumano", "242128"),
    ("いなべ市", "inabe", "242144"),
    ("志摩市", "shima", "242152"),
    ("伊賀市", "iga", "242161"),
    ("木曽岬町", "kisosaki", "243035"),
    ("東員町", "toin", "243248"),
    ("菰野町", "komono", "243418"),
    ("朝日町", "asahi", "243434"),
    ("川越町", "kawagoe", "243442"),
    ("多気町", "taki", "244414"),
    ("明和町", "meiwa", "244422"),
    ("大台町", "odai", "244431"),
    ("玉城町", "tamaki", "244619"),
    ("度会町", "watarai", "244708"),
    ("大紀町", "taiki", "244716"),
    ("南伊勢町", "minamiise", "244724"),
    ("紀北町", "kihoku", "245437"),
    ("御浜町", "mihama", "245615"),
    ("紀宝町", "kiho", "245623"),
];

const SURNAMES: [&str; 12] = [
    "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田",
];

fn sys(action: &str, now: i64) -> AuditRecord {
    AuditRecord {
        at: now,
        action: action.into(),
        result: "ok".into(),
        detail: "demo".into(),
        ..Default::default()
    }
}

fn v<T>(r: Result<T, Invalid>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("demo data invalid: {e}"))
}

/// Loads the demo into an empty database.
pub async fn run(db: &DbArgs) -> anyhow::Result<()> {
    let app = crate::server::build_app(db, Config::default()).await?;
    load(&app).await?;
    println!(
        "Demo loaded. Log in as `admin` (deployment admin), `tsu.admin` (org admin) or `tsu.info` (member); password: {DEMO_PASSWORD}"
    );
    Ok(())
}

/// Loads the demo through the store; refuses a database that already has users.
pub async fn load(app: &App) -> anyhow::Result<()> {
    let store = &app.store;
    if store.user_count().await? > 0 {
        anyhow::bail!(
            "the database already has accounts; the demo loads only into an empty database"
        );
    }
    let clock = SystemClock;
    let start = millis(crate::clock::Clock::now(&clock)) - 3 * 24 * 3600 * 1000;
    let hash = app
        .hash_password(v(Password::parse(DEMO_PASSWORD))?)
        .await?;

    // The prefecture through the setup path, so it is the deployment organisation.
    let setup = crate::app::random_token();
    store
        .create_setup_link(
            crate::store::NewLink {
                token_hash: crate::app::token_hash(&setup),
                purpose: "setup",
                expires_at: start + 3_600_000,
            },
            start,
        )
        .await?;
    let admin = store
        .complete_setup(
            &crate::app::token_hash(&setup),
            NewOrg {
                slug: v(OrgSlug::parse("mie-pref"))?,
                name: v(DisplayName::parse("三重県"))?,
                kind: OrgKind::Prefecture,
                lg_code: Some(v(LgCode::parse("240001"))?),
            },
            NewUser {
                org_id: OrgId::new(),
                login: v(LoginId::parse("admin"))?,
                display_name: v(DisplayName::parse("三重県 危機管理課 システム管理"))?,
                email: None,
                role: Role::DeploymentAdmin,
                lang: None,
                password_hash: Some(hash.clone()),
            },
            start,
        )
        .await?;
    let pref = store.org_by_ref("mie-pref").await?;
    let mut t = start + 60_000;
    let user = |org: OrgId,
                login: &str,
                name: &str,
                role: Role,
                lang: Option<Lang>|
     -> anyhow::Result<NewUser> {
        Ok(NewUser {
            org_id: org,
            login: v(LoginId::parse(login))?,
            display_name: v(DisplayName::parse(name))?,
            email: None,
            role,
            lang,
            password_hash: Some(hash.clone()),
        })
    };
    let pref_info = store
        .create_user(
            user(
                pref.id,
                "mie.info",
                "三重県 災害対策課 情報班 森",
                Role::Member,
                None,
            )?,
            None,
            t,
            sys("user.create", t),
        )
        .await?;
    let pref_chief = store
        .create_user(
            user(
                pref.id,
                "mie.chief",
                "三重県 災害対策課長 大西",
                Role::OrgAdmin,
                None,
            )?,
            None,
            t,
            sys("user.create", t),
        )
        .await?;
    let pref_en = store
        .create_user(
            user(
                pref.id,
                "mie.liaison",
                "Emily Clark (国際交流員)",
                Role::Member,
                Some(Lang::En),
            )?,
            None,
            t,
            sys("user.create", t),
        )
        .await?;

    let mut info_users = vec![pref_info.id, pref_chief.id, pref_en.id];
    let mut muni_info = Vec::new();
    for (i, (name, slug, code)) in MIE_MUNICIPALITIES.iter().enumerate() {
        t += 1000;
        let org = store
            .create_org(
                NewOrg {
                    slug: v(OrgSlug::parse(slug))?,
                    name: v(DisplayName::parse(name))?,
                    kind: OrgKind::Municipality,
                    lg_code: Some(v(LgCode::parse(code))?),
                },
                t,
                sys("org.create", t),
            )
            .await?;
        let s1 = SURNAMES[i % SURNAMES.len()];
        let s2 = SURNAMES[(i + 5) % SURNAMES.len()];
        store
            .create_user(
                user(
                    org.id,
                    &format!("{slug}.admin"),
                    &format!("{name} 情報政策課 {s1}"),
                    Role::OrgAdmin,
                    None,
                )?,
                None,
                t,
                sys("user.create", t),
            )
            .await?;
        let info = store
            .create_user(
                user(
                    org.id,
                    &format!("{slug}.info"),
                    &format!("{name} 防災対策室 {s2}"),
                    Role::Member,
                    None,
                )?,
                None,
                t,
                sys("user.create", t),
            )
            .await?;
        info_users.push(info.id);
        muni_info.push((name.to_string(), info));
    }
    t += 1000;
    let fire = store
        .create_org(
            NewOrg {
                slug: v(OrgSlug::parse("toba-fire"))?,
                name: v(DisplayName::parse("鳥羽市消防本部"))?,
                kind: OrgKind::Fire,
                lg_code: None,
            },
            t,
            sys("org.create", t),
        )
        .await?;
    let fire_user = store
        .create_user(
            user(
                fire.id,
                "toba-fire.duty",
                "鳥羽市消防本部 通信指令 岡田",
                Role::Member,
                None,
            )?,
            None,
            t,
            sys("user.create", t),
        )
        .await?;

    // The cross-organisation room.
    t += 60_000;
    let room = store
        .create_room(
            NewRoom {
                owner: pref_info.id,
                name: v(RoomName::parse("県・市町 情報担当"))?,
                description: v(Description::parse(
                    "三重県と29市町の防災情報担当の連絡室。要確認の依頼はここで行います。",
                ))?,
                invite: info_users.clone(),
            },
            Idem {
                user_id: pref_info.id,
                key: v(IdemKey::parse("demo-room-info"))?,
            },
            t,
            sys("room.create", t),
        )
        .await?
        .value;
    store
        .change_room(
            room,
            pref_info.id,
            RoomChange::SetRole(pref_chief.id, RoomRole::Manager),
            t,
            sys("room.set_role", t),
        )
        .await?;

    let mut n = 0u32;
    let mut post = |author: UserId, room: RoomId, body: &str, reply: Option<MessageId>, at: i64| {
        n += 1;
        let key = format!("demo-message-{n:05}");
        let body = body.to_string();
        let store = store.clone();
        async move {
            let w = store
                .post_message(
                    NewMessage {
                        room_id: room,
                        author_id: author,
                        body: v(MessageBody::parse(&body))?,
                        reply_to: reply,
                        mentions: Vec::new(),
                        confirm: None,
                    },
                    Idem {
                        user_id: author,
                        key: v(IdemKey::parse(&key))?,
                    },
                    at,
                    sys("message.post", at),
                )
                .await?;
            anyhow::Ok(w.value)
        }
    };
    let hour = 3_600_000;
    let mut at = start + 2 * hour;
    let first = post(pref_info.id, room, "【訓練】本日 10:00 から県の情報伝達訓練を行います。各市町の担当者は、このルームで受信したことを返信してください。", None, at).await?;
    for (k, (name, info)) in muni_info.iter().enumerate().take(12) {
        at += 90_000 + (k as i64) * 7_000;
        post(
            info.id,
            room,
            &format!("{name}、受信しました。"),
            Some(first),
            at,
        )
        .await?;
    }
    at += hour;
    post(
        pref_chief.id,
        room,
        "ご協力ありがとうございました。未返信の市町には個別に電話で確認します。",
        None,
        at,
    )
    .await?;
    at = start + 26 * hour;
    let snow = post(pref_info.id, room, "気象台より：明朝にかけて北中部で大雪の見込み。道路の通行止め情報は入り次第このルームで共有してください。\n参考: https://www.jma.go.jp/bosai/warning/", None, at).await?;
    at += 40 * 60_000;
    if let Some((_, inabe)) = muni_info.iter().find(|(n, _)| n == "いなべ市") {
        post(inabe.id, room, "いなべ市です。国道306号 鞍掛峠付近で積雪20cm、通行止めになりました。写真は後ほど共有します。", Some(snow), at).await?;
    }
    at += 25 * 60_000;
    if let Some((_, komono)) = muni_info.iter().find(|(n, _)| n == "菰野町") {
        post(
            komono.id,
            room,
            "菰野町：湯の山温泉方面は現在通行可。避難所の開設予定はありません。",
            None,
            at,
        )
        .await?;
    }
    at += 15 * 60_000;
    post(pref_en.id, room, "For foreign residents: the prefecture will post snow information in English and easy Japanese (やさしい日本語) on the website.", None, at).await?;
    at = start + 50 * hour;
    post(
        pref_info.id,
        room,
        "LGWAN のメール配送が一時停止しています。復旧まではこのルームで連絡をお願いします。",
        None,
        at,
    )
    .await?;
    at += 30 * 60_000;
    post(
        pref_info.id,
        room,
        "LGWAN メールは復旧しました。ご不便をおかけしました。",
        None,
        at,
    )
    .await?;

    // Direct messages.
    if let Some((_, toba)) = muni_info.iter().find(|(n, _)| n == "鳥羽市") {
        let dm = store
            .open_direct(toba.id, fire_user.id, at, sys("room.direct", at))
            .await?;
        at += 5 * 60_000;
        post(
            toba.id,
            dm,
            "岡田さん、答志島の定期船の運航状況はわかりますか？",
            None,
            at,
        )
        .await?;
        at += 4 * 60_000;
        post(
            fire_user.id,
            dm,
            "午後の便は欠航です。明朝6時に再判断と聞いています。",
            None,
            at,
        )
        .await?;
    }
    let dm2 = store
        .open_direct(pref_chief.id, pref_info.id, at, sys("room.direct", at))
        .await?;
    at += 10 * 60_000;
    post(
        pref_chief.id,
        dm2,
        "森さん、今夜の当番表を共有フォルダに置きました。確認をお願いします。",
        None,
        at,
    )
    .await?;

    // Org inbox traffic: the prefecture writes to 鳥羽市's 受信窓口.
    if let Ok(toba_org) = store.org_by_ref("toba").await {
        if let Some(inbox) = toba_org.inbox_room_id {
            at += 5 * 60_000;
            post(pref_info.id, inbox, "鳥羽市 受信窓口 御中：離島の孤立可能性について、明朝9時までに状況をお知らせください。", None, at).await?;
        }
    }
    broadcast(app, &pref_info, &muni_info).await?;
    incident(app, &pref_info, &pref_chief, &muni_info, at).await?;
    let _ = admin;
    Ok(())
}

/// A 要確認 broadcast from 三重県 to the 29 市町's 受信窓口 rooms, sent three hours ago: the
/// coastal towns were asked by noon, the others by tomorrow; 23 have confirmed (some by
/// replying), 志摩市 and 南伊勢町 are overdue, four have not yet.
async fn broadcast(
    app: &App,
    pref_info: &crate::store::User,
    muni_info: &[(String, crate::store::User)],
) -> anyhow::Result<()> {
    use crate::store::{ConfirmSpec, ConfirmTarget};
    let store = &app.store;
    let now = millis(crate::clock::Clock::now(&SystemClock));
    let sent_at = now - 3 * 3_600_000;
    let id = BroadcastId::new();
    let overdue = ["志摩市", "南伊勢町"];
    let not_yet = ["紀宝町", "御浜町", "熊野市", "尾鷲市"];
    let body = "【要確認】県防災行政無線（衛星系）の保守点検のため、明日 9:00〜11:00 は衛星系が使えません。その間の連絡は本システムまたは地上系でお願いします。受信したら「確認しました」を押すか、返信してください。沿岸の志摩市・南伊勢町は本日正午までに確認をお願いします。";
    for (k, (name, info)) in muni_info.iter().enumerate() {
        let org = store.org(info.org_id).await?;
        let Some(inbox) = org.inbox_room_id else {
            continue;
        };
        let due = if overdue.contains(&name.as_str()) {
            now - 3_600_000
        } else {
            now + 24 * 3_600_000
        };
        let copy = store
            .post_message(
                NewMessage {
                    room_id: inbox,
                    author_id: pref_info.id,
                    body: v(MessageBody::parse(body))?,
                    reply_to: None,
                    mentions: Vec::new(),
                    confirm: Some(ConfirmSpec {
                        targets: vec![ConfirmTarget::Org(org.id)],
                        due_at: Some(due),
                        broadcast: Some(id),
                    }),
                },
                Idem {
                    user_id: pref_info.id,
                    key: v(IdemKey::parse(&format!("demo-broadcast-{k:02}")))?,
                },
                sent_at,
                sys("message.post", sent_at),
            )
            .await?
            .value;
        if overdue.contains(&name.as_str()) || not_yet.contains(&name.as_str()) {
            continue;
        }
        let at = sent_at + 60_000 + (k as i64) * 170_000;
        if k % 5 == 2 {
            // Some answer in words, which counts as confirming.
            store
                .post_message(
                    NewMessage {
                        room_id: inbox,
                        author_id: info.id,
                        body: v(MessageBody::parse(&format!("{name}、了解しました。")))?,
                        reply_to: Some(copy),
                        mentions: Vec::new(),
                        confirm: None,
                    },
                    Idem {
                        user_id: info.id,
                        key: v(IdemKey::parse(&format!("demo-broadcast-reply-{k:02}")))?,
                    },
                    at,
                    sys("message.post", at),
                )
                .await?;
        } else {
            store
                .confirm(copy, &[ConfirmTarget::Org(org.id)], info.id, at)
                .await?;
        }
    }
    Ok(())
}

/// A demo report: shelter, reporter, hours after opening, status, evacuees, households.
type Planned<'a> = (
    &'a str,
    &'a crate::store::User,
    i64,
    ShelterStatus,
    Option<i64>,
    Option<i64>,
);

/// GSI shelter data for 鳥羽市 (国土地理院 指定緊急避難場所データ / 指定避難所データ).
const TOBA_EMERGENCY: &str = include_str!("demo_data/gsi_emergency_242110.json");
const TOBA_SHELTERS: &str = include_str!("demo_data/gsi_evacuation_242110.json");

/// An active incident in Mie: 鳥羽市's registry from the GSI files, a few shelters of 伊勢市
/// and 志摩市, two days of reports (some now stale) from several towns.
async fn incident(
    app: &App,
    pref_info: &crate::store::User,
    pref_chief: &crate::store::User,
    muni_info: &[(String, crate::store::User)],
    mut at: i64,
) -> anyhow::Result<()> {
    use crate::import::{ShelterRow, parse_shelters, read_table};
    use crate::store::{NewIncident, NewReport};
    let store = &app.store;
    let now = millis(crate::clock::Clock::now(&SystemClock)).max(at);
    let info = |name: &str| {
        muni_info
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, u)| u.clone())
    };
    let (Some(toba), Some(ise), Some(shima)) = (info("鳥羽市"), info("伊勢市"), info("志摩市"))
    else {
        return Ok(());
    };
    for file in [TOBA_EMERGENCY, TOBA_SHELTERS] {
        let table = read_table(file).map_err(|p| anyhow::anyhow!("demo data: {}", p.key))?;
        let rows: Vec<ShelterRow> = parse_shelters(&table)
            .map_err(|p| anyhow::anyhow!("demo data: {}", p.key))?
            .rows
            .into_iter()
            .flatten()
            .collect();
        store
            .import_shelters(toba.org_id, rows, now, sys("shelter.import", now))
            .await?;
    }
    let hand = |name: &str, address: &str, capacity: i64| ShelterRow {
        line: 0,
        local_id: None,
        common_id: None,
        name: name.into(),
        kana: String::new(),
        address: address.into(),
        position: None,
        designation: Designation::Both,
        hazards: Hazards::default(),
        capacity: Some(capacity),
        capacity_text: format!("{capacity}人"),
        phone: String::new(),
        note: String::new(),
        list: Designation::AdHoc,
    };
    for (org, name, address, cap) in [
        (
            ise.org_id,
            "伊勢市立厚生小学校",
            "三重県伊勢市岡本1丁目",
            400,
        ),
        (
            ise.org_id,
            "伊勢市観光文化会館",
            "三重県伊勢市岩渕1丁目",
            600,
        ),
        (
            shima.org_id,
            "志摩市立磯部小学校",
            "三重県志摩市磯部町",
            350,
        ),
        (shima.org_id, "浜島公民館", "三重県志摩市浜島町", 120),
    ] {
        store
            .save_shelter(
                org,
                None,
                hand(name, address, cap),
                None,
                now,
                sys("shelter.save", now),
            )
            .await?;
    }
    let opened_at = now - 2 * 24 * 3600 * 1000;
    let fire = store.org_by_ref("toba-fire").await.ok().map(|o| o.id);
    let mut orgs = vec![pref_info.org_id, toba.org_id, ise.org_id, shima.org_id];
    orgs.extend(fire);
    let room = store
        .open_incident(
            NewIncident {
                name: v(RoomName::parse("台風第24号 接近に伴う災害対応"))?,
                kind: IncidentKind::StormFlood,
                level: v(IncidentLevel::new(4))?,
                opened_at,
                opener: pref_info.id,
                orgs,
            },
            Idem {
                user_id: pref_info.id,
                key: v(IdemKey::parse(&format!(
                    "demo-incident-{}",
                    uuid::Uuid::new_v4().simple()
                )))?,
            },
            opened_at,
            sys("incident.open", opened_at),
        )
        .await?
        .value;
    let board = store.board(room).await?;
    let pick = |name: &str| {
        board
            .iter()
            .find(|r| r.shelter.name == name)
            .map(|r| r.shelter.id)
    };
    // (shelter, reporter, hours after opening, status, evacuees, households)
    let plan: [Planned; 16] = [
        (
            "鳥羽東中学校",
            &toba,
            2,
            ShelterStatus::Open,
            Some(12),
            Some(5),
        ),
        (
            "鳥羽東中学校",
            &toba,
            8,
            ShelterStatus::Open,
            Some(48),
            Some(19),
        ),
        (
            "鳥羽東中学校",
            &toba,
            30,
            ShelterStatus::Open,
            Some(85),
            Some(33),
        ),
        (
            "安楽島小学校",
            &toba,
            3,
            ShelterStatus::Open,
            Some(20),
            Some(9),
        ),
        (
            "安楽島小学校",
            &toba,
            20,
            ShelterStatus::Full,
            Some(160),
            Some(61),
        ),
        (
            "鳥羽高校体育館",
            &toba,
            4,
            ShelterStatus::Open,
            Some(30),
            Some(14),
        ),
        (
            "鳥羽高校体育館",
            &toba,
            44,
            ShelterStatus::Open,
            Some(41),
            Some(17),
        ),
        (
            "本浦公民館",
            &toba,
            5,
            ShelterStatus::Open,
            Some(8),
            Some(4),
        ),
        (
            "本浦公民館",
            &toba,
            26,
            ShelterStatus::Closed,
            Some(0),
            Some(0),
        ),
        (
            "安楽島公民館２階",
            &toba,
            6,
            ShelterStatus::NotOpen,
            None,
            None,
        ),
        (
            "伊勢市立厚生小学校",
            &ise,
            3,
            ShelterStatus::Open,
            Some(56),
            Some(22),
        ),
        (
            "伊勢市立厚生小学校",
            &ise,
            45,
            ShelterStatus::Open,
            Some(71),
            Some(30),
        ),
        (
            "伊勢市観光文化会館",
            &ise,
            10,
            ShelterStatus::Open,
            Some(130),
            Some(48),
        ),
        (
            "志摩市立磯部小学校",
            &shima,
            4,
            ShelterStatus::Open,
            Some(25),
            Some(11),
        ),
        (
            "志摩市立磯部小学校",
            &shima,
            46,
            ShelterStatus::Open,
            Some(38),
            Some(15),
        ),
        (
            "浜島公民館",
            &shima,
            9,
            ShelterStatus::Open,
            Some(17),
            Some(8),
        ),
    ];
    let mut plan = plan;
    plan.sort_by_key(|p| p.2);
    store
        .post_message(
            NewMessage {
                room_id: room,
                author_id: pref_info.id,
                body: v(MessageBody::parse(
                    "台風第24号の接近に伴い、災害対策本部を設置しました。避難所の開設・閉鎖と避難者数は、各市の担当者が「避難所ボード」から報告してください。",
                ))?,
                reply_to: None,
                mentions: Vec::new(),
                confirm: None,
            },
            Idem {
                user_id: pref_info.id,
                key: v(IdemKey::parse(&format!("demo-incident-post-{}", uuid::Uuid::new_v4().simple())))?,
            },
            opened_at + 60_000,
            sys("message.post", opened_at),
        )
        .await?;
    for (name, who, hours, status, evacuees, households) in plan {
        let Some(shelter) = pick(name) else { continue };
        let observed = opened_at + hours * 3_600_000;
        at = at.max(observed + 90_000);
        store
            .report_shelter(
                NewReport {
                    incident: room,
                    shelter,
                    status,
                    headcount: v(Headcount::new(evacuees, households))?,
                    needs: if name == "安楽島小学校" {
                        "毛布30枚、簡易トイレ".into()
                    } else {
                        String::new()
                    },
                    note: String::new(),
                    observed_at: observed,
                    reporter: who.id,
                },
                Idem {
                    user_id: who.id,
                    key: v(IdemKey::parse(&format!(
                        "demo-report-{}",
                        uuid::Uuid::new_v4().simple()
                    )))?,
                },
                observed + 60_000,
                sys("shelter.report", observed),
            )
            .await?;
    }
    // Photos from the field: pictures made here, with EXIF time and place (near the shelter).
    let shots = [
        (
            "鳥羽東中学校",
            7,
            "鳥羽東中学校 体育館。毛布の配布を始めました。",
            [40u8, 90, 160],
        ),
        (
            "安楽島小学校",
            21,
            "安楽島小学校 満員のため、隣の公民館へ案内しています。",
            [160, 80, 40],
        ),
        (
            "鳥羽高校体育館",
            44,
            "鳥羽高校体育館 前の道路に倒木。通行に注意。",
            [60, 140, 70],
        ),
    ];
    let actor = crate::app::Actor {
        user: toba.clone(),
        session_hash: String::new(),
        address: String::new(),
    };
    for (k, (name, hours, caption, tint)) in shots.into_iter().enumerate() {
        let Some(row) = board.iter().find(|r| r.shelter.name == name) else {
            continue;
        };
        let Some(position) = row.shelter.position else {
            continue;
        };
        let (w, h) = (960u16, 720u16);
        let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
        for y in 0..u32::from(h) {
            for x in 0..u32::from(w) {
                let shade = (x * 120 / u32::from(w) + y * 80 / u32::from(h)) as u8;
                for c in tint {
                    rgb.push(c.saturating_add(shade));
                }
            }
        }
        let taken = crate::store::from_millis(opened_at + hours * 3_600_000)
            .to_offset(time::UtcOffset::from_hms(9, 0, 0).unwrap_or(time::UtcOffset::UTC));
        let taken_local = format!(
            "{:04}:{:02}:{:02} {:02}:{:02}:{:02}",
            taken.year(),
            u8::from(taken.month()),
            taken.day(),
            taken.hour(),
            taken.minute(),
            taken.second()
        );
        let jpeg = crate::media::jpeg_with_exif(
            &rgb,
            w,
            h,
            &crate::media::MadeExif {
                taken_local: &taken_local,
                offset: "+09:00",
                position,
                camera: "Sonae demo camera",
            },
        )
        .map_err(|e| anyhow::anyhow!("demo photo: {e}"))?;
        app.upload_photo(
            &actor,
            room,
            crate::app::PhotoUpload {
                bytes: jpeg,
                caption: caption.into(),
                shelter: row.shelter.id.to_string(),
                ..Default::default()
            },
            v(IdemKey::parse(&format!(
                "demo-photo-{k}-{}",
                uuid::Uuid::new_v4().simple()
            )))?,
        )
        .await
        .map_err(|e| anyhow::anyhow!("demo photo: {e}"))?;
    }
    let _ = at;
    handoffs(app, room, opened_at, pref_info, pref_chief, &toba).await
}

/// Open items and the prefecture's shifts in the incident: two handoffs acknowledged (one
/// after a question), and one handed over 40 minutes ago still waiting for acknowledgement.
async fn handoffs(
    app: &App,
    room: RoomId,
    opened_at: i64,
    day: &crate::store::User,
    night: &crate::store::User,
    toba: &crate::store::User,
) -> anyhow::Result<()> {
    use crate::store::{ConfirmTarget, ItemAct, ItemChange, NewHandoff, NewItem};
    let store = &app.store;
    let now = millis(crate::clock::Clock::now(&SystemClock));
    let h = 3_600_000;
    let key = |what: &str| {
        v(IdemKey::parse(&format!(
            "demo-{what}-{}",
            uuid::Uuid::new_v4().simple()
        )))
    };
    let mut items = Vec::new();
    for (title, details, assignee, hours) in [
        (
            "答志島へ給水車を手配",
            "定期船の運航再開を確認してから。県の備蓄から2台。",
            Some(ConfirmTarget::Org(toba.org_id)),
            2,
        ),
        (
            "安楽島小学校へ毛布30枚",
            "満員のため隣の公民館にも配る。",
            Some(ConfirmTarget::Org(toba.org_id)),
            21,
        ),
        ("国道167号の倒木 撤去状況の確認", "", None, 30),
        ("伊勢市観光文化会館の発電機燃料", "", None, 3),
    ] {
        let at = opened_at + hours * h;
        let id = store
            .create_item(
                NewItem {
                    incident: room,
                    title: v(ItemTitle::parse(title))?,
                    details: v(ItemText::parse(details, "details"))?,
                    assignee,
                    due_at: None,
                    message: None,
                    by: day.id,
                },
                Idem {
                    user_id: day.id,
                    key: key("item")?,
                },
                at,
                sys("item.create", at),
            )
            .await?
            .value;
        items.push((id, title, at));
    }
    // The generator's fuel arrived during the first night.
    let fuel_done = opened_at + 16 * h;
    store
        .change_item(
            items[3].0,
            ItemChange {
                status: Some((ItemStatus::Done, v(ItemText::parse("", "reason"))?)),
                ..Default::default()
            },
            night.id,
            fuel_done,
            sys("item.change", fuel_done),
        )
        .await?;
    // (from, to, hours after opening, minutes to acknowledge, items carried, question)
    type Shift<'a> = (
        &'a crate::store::User,
        &'a crate::store::User,
        i64,
        Option<i64>,
        usize,
        Option<(&'a str, &'a str)>,
    );
    let shifts: [Shift; 3] = [
        (day, night, 12, Some(25), 1, None),
        (
            night,
            day,
            24,
            Some(40),
            2,
            Some((
                "給水車は何時に着く予定ですか？",
                "明朝7時の定期船で2台。鳥羽市が港で受け取ります。",
            )),
        ),
        (day, night, 0, None, 3, None),
    ];
    // A named position the prefecture's HQ defined; 森 holds it.
    let chief = store
        .create_position(
            room,
            v(PositionName::parse("情報班長"))?,
            day.id,
            opened_at + h,
            sys("position.create", opened_at + h),
        )
        .await?;
    store
        .take_position(
            chief,
            day.id,
            opened_at + h,
            sys("position.take", opened_at + h),
        )
        .await?;
    let mut period_from = opened_at;
    for (k, (from, to, hours, took, carried, question)) in shifts.into_iter().enumerate() {
        let at = if took.is_some() {
            opened_at + hours * h
        } else {
            now - 40 * 60_000
        };
        let carried_items: Vec<_> = items
            .iter()
            .take(carried)
            .filter(|(id, _, _)| *id != items[3].0)
            .map(|(id, title, created)| {
                (
                    *id,
                    title.to_string(),
                    if *created >= period_from {
                        CarriedAs::New
                    } else {
                        CarriedAs::Carried
                    },
                )
            })
            .collect();
        let facts = if took.is_none() {
            let actor = crate::app::Actor {
                user: from.clone(),
                session_hash: String::new(),
                address: String::new(),
            };
            app.handoff_draft(&actor, room, None)
                .await
                .map_err(|e| anyhow::anyhow!("demo handoff draft: {e}"))?
                .facts
        } else {
            crate::store::DraftFacts::default()
        };
        let summary = match k {
            0 => "初日の日勤。鳥羽市・伊勢市・志摩市で避難所開設。答志島の給水が課題。",
            1 => "夜間は大きな変化なし。安楽島小学校が満員、公民館へ誘導中。",
            _ => "避難者は減少傾向。国道167号の倒木の撤去を確認中。給水車は到着済み。",
        };
        let hid = store
            .create_handoff(
                NewHandoff {
                    incident: room,
                    org: from.org_id,
                    position: None,
                    from: from.id,
                    to: to.id,
                    summary: v(ItemText::parse(summary, "summary"))?,
                    risks: v(ItemText::parse(
                        if k == 2 {
                            "夕方から再び雨。土砂災害警戒情報に注意。"
                        } else {
                            ""
                        },
                        "risks",
                    ))?,
                    notes: v(ItemText::parse("", "notes"))?,
                    facts,
                    period_from,
                    items: carried_items.clone(),
                },
                Idem {
                    user_id: from.id,
                    key: key("handoff")?,
                },
                at,
                sys("handoff.create", at),
            )
            .await?
            .value;
        let Some(took) = took else { continue };
        let mut t = at + 5 * 60_000;
        if let Some((q, a)) = question {
            let first = carried_items[0].0;
            let q = ItemAct::Ask(v(ItemText::parse(q, "question"))?);
            store.act_on_item(hid, first, q, to.id, t).await?;
            t += 10 * 60_000;
            let a = ItemAct::Answer(v(ItemText::parse(a, "answer"))?);
            store.act_on_item(hid, first, a, from.id, t).await?;
        }
        for (item, _, _) in &carried_items {
            t += 60_000;
            store
                .act_on_item(hid, *item, ItemAct::Acknowledge, to.id, t)
                .await?;
        }
        let done = at + took * 60_000;
        if let Err(refusal) = store
            .complete_handoff(hid, None, done, sys("handoff.acknowledge", done))
            .await?
        {
            anyhow::bail!("demo handoff not completed: {refusal:?}");
        }
        period_from = done;
    }
    Ok(())
}
