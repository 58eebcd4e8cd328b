//! Shift handoffs: the person on duty drafts one from everything since the last handoff, names
//! the incoming person, who acknowledges each carried item (or asks about it) and then the
//! whole; only then does duty move. Waiting too long notifies the incident's managers.

use super::*;
use crate::store::{
    ClosedFact, CompleteRefusal, DraftFacts, Duty, Handoff, HandoffEdit, HandoffFilter,
    IncidentEvent, Item, ItemAct, ItemShift, Member, NewHandoff, Position, ShelterFact, StoreError,
    Written,
};

/// What the outgoing person starts from: everything since the last handoff.
#[derive(Debug, Clone)]
pub struct Draft {
    pub incident: crate::store::Incident,
    /// Who holds duty for the actor's organisation now, if anyone.
    pub on_duty: Option<Duty>,
    /// The shift began here: the last handoff's acknowledgement, or the incident's opening.
    pub period_from: Millis,
    /// The open items to carry, with how each came to it.
    pub items: Vec<(Item, CarriedAs)>,
    pub facts: DraftFacts,
    /// People of the actor's organisation in the incident who can take over.
    pub candidates: Vec<Member>,
    /// A handoff of the organisation (or position) already waiting, if any.
    pub waiting: Option<Handoff>,
    /// The named position handed over, instead of the organisation's duty.
    pub position: Option<Position>,
}

impl Draft {
    /// Who holds what is handed over now (the position's holder, or the organisation's duty).
    pub fn holder(&self) -> Option<UserId> {
        match &self.position {
            Some(p) => p.holder_id,
            None => self.on_duty.as_ref().map(|d| d.user_id),
        }
    }
}

/// A handoff as typed.
#[derive(Debug, Clone, Default)]
pub struct HandoffInput {
    /// The incoming person's user id.
    pub to: String,
    pub summary: String,
    pub risks: String,
    pub notes: String,
    /// The named position handed over, instead of the organisation's duty.
    pub position: Option<PositionId>,
}

/// A change as typed: `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct HandoffEditInput {
    /// Another incoming person's user id (when the one named cannot come).
    pub to: Option<String>,
    pub summary: Option<String>,
    pub risks: Option<String>,
    pub notes: Option<String>,
}

/// An item with everything that happened to it and the shifts that held it.
#[derive(Debug, Clone)]
pub struct ItemHistory {
    pub incident: crate::store::Incident,
    pub item: Item,
    pub events: Vec<IncidentEvent>,
    pub shifts: Vec<ItemShift>,
}

/// One handoff as its page shows it.
#[derive(Debug, Clone)]
pub struct HandoffView {
    pub handoff: Handoff,
    pub incident: crate::store::Incident,
    /// Who else could take over, for the outgoing person while it waits (else empty).
    pub candidates: Vec<Member>,
}

/// The handoff timeline: of one incident, or of every active incident the actor is in.
#[derive(Debug, Clone)]
pub struct Timeline {
    pub incident: Option<crate::store::Incident>,
    pub handoffs: Vec<Handoff>,
}

/// A text that must not be empty (`key` says so).
fn required_text(raw: &str, field: &'static str, key: &'static str) -> AppResult<ItemText> {
    let s = ItemText::parse(raw, field)?;
    if s.as_str().is_empty() {
        return Err(Invalid::new(field, key).into());
    }
    Ok(s)
}

fn summary_text(raw: &str) -> AppResult<ItemText> {
    required_text(raw, "summary", "err-handoff-summary")
}

/// Who may take over from `from`: the other members of the incident, of `org` for its duty
/// (anyone in the incident for a named position).
fn takers(mut members: Vec<Member>, org: OrgId, position: bool, from: UserId) -> Vec<Member> {
    members.retain(|m| (position || m.org_id == org) && m.user_id != from);
    members
}

/// The incoming person named in a form: one of `candidates`, not the outgoing person.
fn incoming_person(raw: &str, from: UserId, candidates: &[Member]) -> AppResult<UserId> {
    let to: UserId = raw
        .trim()
        .parse()
        .map_err(|_| Invalid::new("to", "err-handoff-to"))?;
    if to == from {
        return Err(Invalid::new("to", "err-handoff-to-self").into());
    }
    if !candidates.iter().any(|m| m.user_id == to) {
        return Err(Invalid::new("to", "err-handoff-to-outside").into());
    }
    Ok(to)
}

impl App {
    /// Drafts a handoff of the actor's organisation's duty (or of a named position) in an
    /// incident.
    pub async fn handoff_draft(
        &self,
        actor: &Actor,
        incident: RoomId,
        position: Option<PositionId>,
    ) -> AppResult<Draft> {
        let inc = self
            .writable_incident(actor, incident, "handoff.draft", Access::is_member)
            .await?;
        let position = match position {
            Some(p) => Some(self.position_of(incident, p).await?),
            None => None,
        };
        let org = actor.user.org_id;
        let period_from = self
            .store
            .last_handoff_at(incident, org, position.as_ref().map(|p| p.id))
            .await?
            .unwrap_or(inc.opened_at)
            .max(inc.opened_at);
        let now = self.now();
        let mut items = Vec::new();
        let mut closed = Vec::new();
        for i in self.store.items(incident).await? {
            match i.status {
                ItemStatus::Open => {
                    let c = if i.created_at >= period_from {
                        CarriedAs::New
                    } else if i.updated_at >= period_from {
                        CarriedAs::Changed
                    } else {
                        CarriedAs::Carried
                    };
                    items.push((i, c));
                }
                _ if i.updated_at >= period_from => closed.push(ClosedFact {
                    item_id: i.id,
                    title: i.title,
                    status: i.status,
                    reason: i.reason,
                }),
                _ => {}
            }
        }
        let stale_ms = self.config.stale_after.whole_milliseconds() as i64;
        let mut shelters_changed = Vec::new();
        let mut shelters_stale = Vec::new();
        for row in self.board_rows(incident).await?.iter() {
            let Some(l) = &row.latest else { continue };
            let fact = ShelterFact {
                shelter_id: row.shelter.id,
                name: row.shelter.name.clone(),
                org_name: row.shelter.org_name.clone(),
                status: l.status,
                evacuees: l.evacuees,
                observed_at: l.observed_at,
            };
            if l.received_at >= period_from {
                shelters_changed.push(fact);
            } else if l.status.is_open() && now - l.observed_at > stale_ms {
                shelters_stale.push(fact);
            }
        }
        let facts = DraftFacts {
            shelters_changed,
            shelters_stale,
            unconfirmed: self.store.unconfirmed_asks(incident).await?,
            photos_new: self.store.photos_since(incident, period_from).await?,
            items_closed: closed,
        };
        let on_duty = self
            .store
            .duty(incident)
            .await?
            .into_iter()
            .find(|d| d.org_id == org);
        let candidates = takers(
            self.store.members(incident).await?,
            org,
            position.is_some(),
            actor.user.id,
        );
        let pid = position.as_ref().map(|p| p.id);
        let waiting = self
            .store
            .handoffs(&HandoffFilter {
                incident: Some(incident),
                waiting: true,
                limit: 50,
                ..Default::default()
            })
            .await?
            .into_iter()
            .find(|h| h.org_id == org && h.position_id == pid);
        Ok(Draft {
            incident: inc,
            on_duty,
            period_from,
            items,
            facts,
            candidates,
            waiting,
            position,
        })
    }

    /// Hands the actor's duty over: stores the handoff as drafted now, with the outgoing
    /// person's summary, risks and notes. Duty moves when the incoming person completes it.
    pub async fn hand_over(
        &self,
        actor: &Actor,
        incident: RoomId,
        input: HandoffInput,
        key: IdemKey,
    ) -> AppResult<Written<HandoffId>> {
        let idem = crate::store::Idem {
            user_id: actor.user.id,
            key,
        };
        // A retry of a handoff already made answers with it, whatever happened since.
        if let Some(id) = self.store.handoff_by_key(&idem).await? {
            self.handoff(actor, id).await?;
            return Ok(Written {
                value: id,
                replayed: true,
            });
        }
        let draft = self.handoff_draft(actor, incident, input.position).await?;
        if draft.holder().is_some_and(|u| u != actor.user.id) {
            return Err(AppError::Conflict("err-handoff-not-on-duty"));
        }
        let to = incoming_person(&input.to, actor.user.id, &draft.candidates)?;
        let summary = summary_text(&input.summary)?;
        let risks = ItemText::parse(&input.risks, "risks")?;
        let notes = ItemText::parse(&input.notes, "notes")?;
        // One waiting handoff per organisation: the database's unique index decides (after
        // its idempotency lookup, so a retry gets the first answer).
        let audit = self.audit_for(actor, "handoff.create", format!("room:{incident}"));
        let w = self
            .store
            .create_handoff(
                NewHandoff {
                    incident,
                    org: actor.user.org_id,
                    position: input.position,
                    from: actor.user.id,
                    to,
                    summary,
                    risks,
                    notes,
                    facts: draft.facts,
                    period_from: draft.period_from,
                    items: draft
                        .items
                        .into_iter()
                        .map(|(i, c)| (i.id, i.title, c))
                        .collect(),
                },
                idem,
                self.now(),
                audit,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AppError::Conflict("err-handoff-waiting"),
                e => e.into(),
            })?;
        if !w.replayed {
            self.live.ring();
        }
        Ok(w)
    }

    /// A position of this incident (404 for another incident's).
    async fn position_of(&self, incident: RoomId, id: PositionId) -> AppResult<Position> {
        match self.store.position(id).await? {
            p if p.incident == incident => Ok(p),
            _ => Err(AppError::NotFound),
        }
    }

    /// An incident's named positions and who holds them.
    pub async fn positions(&self, actor: &Actor, incident: RoomId) -> AppResult<Vec<Position>> {
        self.incident(actor, incident).await?;
        Ok(self.store.positions(incident).await?)
    }

    /// Defines a named position (情報班長…): the incident's managers only.
    pub async fn define_position(
        &self,
        actor: &Actor,
        incident: RoomId,
        name: &str,
    ) -> AppResult<Vec<Position>> {
        self.writable_incident(actor, incident, "position.create", Access::can_manage)
            .await?;
        let name = PositionName::parse(name)?;
        let audit = self.audit_for(actor, "position.create", format!("room:{incident}"));
        self.store
            .create_position(incident, name, actor.user.id, self.now(), audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => AppError::Conflict("err-position-exists"),
                e => e.into(),
            })?;
        self.live.ring();
        Ok(self.store.positions(incident).await?)
    }

    /// Takes a vacant position (taking one's own again is a no-op); while someone else holds
    /// it, only a handoff moves it (409).
    pub async fn take_position(
        &self,
        actor: &Actor,
        incident: RoomId,
        id: PositionId,
    ) -> AppResult<Vec<Position>> {
        self.writable_incident(actor, incident, "position.take", Access::is_member)
            .await?;
        let p = self.position_of(incident, id).await?;
        let audit = self.audit_for(actor, "position.take", format!("position:{id}"));
        let took = self
            .store
            .take_position(id, actor.user.id, self.now(), audit)
            .await?;
        if took {
            self.live.ring();
        } else if p.holder_id != Some(actor.user.id) {
            return Err(AppError::Conflict("err-position-held"));
        }
        Ok(self.store.positions(incident).await?)
    }

    /// One handoff with its items: for the members of its incident (and the deployment admin).
    pub async fn handoff(&self, actor: &Actor, id: HandoffId) -> AppResult<Handoff> {
        Ok(self.handoff_in(actor, id).await?.0)
    }

    /// A handoff and its incident, checking the actor may see them.
    async fn handoff_in(
        &self,
        actor: &Actor,
        id: HandoffId,
    ) -> AppResult<(Handoff, crate::store::Incident)> {
        let h = self.store.handoff(id).await?;
        let (incident, _) = self.incident(actor, h.incident).await?;
        Ok((h, incident))
    }

    /// A handoff as its page shows it.
    pub async fn handoff_view(&self, actor: &Actor, id: HandoffId) -> AppResult<HandoffView> {
        let (handoff, incident) = self.handoff_in(actor, id).await?;
        let candidates = if handoff.is_waiting() && handoff.from_user == actor.user.id {
            self.handoff_candidates(&handoff).await?
        } else {
            Vec::new()
        };
        Ok(HandoffView {
            handoff,
            incident,
            candidates,
        })
    }

    /// A handoff the actor may act on as `who` (its outgoing or incoming person), still open.
    async fn handoff_as(
        &self,
        actor: &Actor,
        id: HandoffId,
        incoming: bool,
        action: &str,
    ) -> AppResult<Handoff> {
        let h = self.handoff(actor, id).await?;
        let (person, refusal) = if incoming {
            (h.to_user, "err-handoff-not-incoming")
        } else {
            (h.from_user, "err-handoff-not-outgoing")
        };
        if person != actor.user.id {
            return Err(self
                .refuse(
                    actor,
                    action,
                    format!("handoff:{id}"),
                    AppError::NotAllowed(refusal),
                )
                .await);
        }
        if !h.is_waiting() {
            return Err(AppError::Conflict("err-handoff-acknowledged"));
        }
        Ok(h)
    }

    /// Changes the summary, risks or notes (the outgoing person, until it is acknowledged).
    pub async fn edit_handoff(
        &self,
        actor: &Actor,
        id: HandoffId,
        edit: HandoffEditInput,
    ) -> AppResult<Handoff> {
        let h = self.handoff_as(actor, id, false, "handoff.edit").await?;
        let to = match edit.to.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => {
                let to = incoming_person(raw, actor.user.id, &self.handoff_candidates(&h).await?)?;
                (to != h.to_user).then_some(to)
            }
        };
        let edit = HandoffEdit {
            to,
            summary: edit.summary.as_deref().map(summary_text).transpose()?,
            risks: edit
                .risks
                .as_deref()
                .map(|s| ItemText::parse(s, "risks"))
                .transpose()?,
            notes: edit
                .notes
                .as_deref()
                .map(|s| ItemText::parse(s, "notes"))
                .transpose()?,
        };
        let audit = self.audit_for(actor, "handoff.edit", format!("handoff:{id}"));
        self.store
            .edit_handoff(id, edit, self.now(), audit)
            .await
            .map_err(acknowledged)?;
        self.live.ring();
        self.handoff(actor, id).await
    }

    /// Who may take over a handoff's duty or position.
    async fn handoff_candidates(&self, h: &Handoff) -> AppResult<Vec<Member>> {
        Ok(takers(
            self.store.members(h.incident).await?,
            h.org_id,
            h.position_id.is_some(),
            h.from_user,
        ))
    }

    /// The incoming person acknowledges one item.
    pub async fn acknowledge_item(
        &self,
        actor: &Actor,
        id: HandoffId,
        item: ItemId,
    ) -> AppResult<Handoff> {
        self.act_on_item(actor, id, item, ItemAct::Acknowledge)
            .await
    }

    /// The incoming person asks about one item; the outgoing person answers in place.
    pub async fn ask_item(
        &self,
        actor: &Actor,
        id: HandoffId,
        item: ItemId,
        question: &str,
    ) -> AppResult<Handoff> {
        let q = required_text(question, "question", "err-required")?;
        self.act_on_item(actor, id, item, ItemAct::Ask(q)).await
    }

    /// The outgoing person answers the question on one item.
    pub async fn answer_item(
        &self,
        actor: &Actor,
        id: HandoffId,
        item: ItemId,
        answer: &str,
    ) -> AppResult<Handoff> {
        let a = required_text(answer, "answer", "err-required")?;
        self.act_on_item(actor, id, item, ItemAct::Answer(a)).await
    }

    /// One act on an item, by the person it belongs to (answers: the outgoing person; the rest:
    /// the incoming one), while the handoff waits.
    async fn act_on_item(
        &self,
        actor: &Actor,
        id: HandoffId,
        item: ItemId,
        act: ItemAct,
    ) -> AppResult<Handoff> {
        let (incoming, action) = match act {
            ItemAct::Acknowledge => (true, "handoff.ack_item"),
            ItemAct::Ask(_) => (true, "handoff.ask"),
            ItemAct::Answer(_) => (false, "handoff.answer"),
        };
        self.handoff_as(actor, id, incoming, action).await?;
        let acknowledging = matches!(act, ItemAct::Acknowledge);
        self.store
            .act_on_item(id, item, act, actor.user.id, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict("no_question") => {
                    AppError::Conflict("err-handoff-no-question")
                }
                StoreError::Conflict(_) if acknowledging => {
                    AppError::Conflict("err-handoff-item-acknowledged")
                }
                e => acknowledged(e),
            })?;
        self.live.ring();
        self.handoff(actor, id).await
    }

    /// The incoming person acknowledges the handoff as a whole; duty moves to them. Refused
    /// while items are left, or when it changed since `version` (the one they read).
    pub async fn complete_handoff(
        &self,
        actor: &Actor,
        id: HandoffId,
        version: Option<i64>,
    ) -> AppResult<Handoff> {
        self.handoff_as(actor, id, true, "handoff.acknowledge")
            .await?;
        let audit = self.audit_for(actor, "handoff.acknowledge", format!("handoff:{id}"));
        match self
            .store
            .complete_handoff(id, version, self.now(), audit)
            .await?
        {
            Ok(()) => {}
            Err(CompleteRefusal::AlreadyAcknowledged) => {
                return Err(AppError::Conflict("err-handoff-acknowledged"));
            }
            Err(CompleteRefusal::ItemsLeft) => {
                return Err(AppError::Conflict("err-handoff-items-left"));
            }
            Err(CompleteRefusal::Changed) => {
                return Err(AppError::Conflict("err-handoff-changed"));
            }
        }
        self.live.ring();
        self.handoff(actor, id).await
    }

    /// The handoff timeline: one incident's (its members), or every active incident the actor
    /// is in (all of them for the deployment admin). Newest first.
    pub async fn handoff_timeline(
        &self,
        actor: &Actor,
        incident: Option<RoomId>,
    ) -> AppResult<Timeline> {
        let inc = match incident {
            Some(i) => Some(self.incident(actor, i).await?.0),
            None => None,
        };
        let everyone = Self::is_deployment_admin(actor);
        let handoffs = self
            .store
            .handoffs(&HandoffFilter {
                incident,
                member: (incident.is_none() && !everyone).then_some(actor.user.id),
                active: incident.is_none(),
                limit: 2000,
                ..Default::default()
            })
            .await?;
        Ok(Timeline {
            incident: inc,
            handoffs,
        })
    }

    /// Handoffs of an incident waiting for acknowledgement (for its header).
    pub async fn waiting_handoffs(&self, incident: RoomId) -> AppResult<Vec<Handoff>> {
        Ok(self
            .store
            .handoffs(&HandoffFilter {
                incident: Some(incident),
                waiting: true,
                limit: 100,
                ..Default::default()
            })
            .await?)
    }

    /// How many handoffs wait for `user` (the badge).
    pub async fn handoffs_waiting_count(&self, user: UserId) -> AppResult<i64> {
        Ok(self.store.waiting_count(user).await?)
    }

    /// Handoffs waiting for the actor to acknowledge them.
    pub async fn handoffs_for_me(&self, actor: &Actor) -> AppResult<Vec<Handoff>> {
        Ok(self
            .store
            .handoffs(&HandoffFilter {
                to_user: Some(actor.user.id),
                waiting: true,
                limit: 100,
                ..Default::default()
            })
            .await?)
    }

    /// Notifies the managers of every incident whose handoff has waited longer than the
    /// configured time, once per handoff. Run periodically by the server.
    pub async fn escalate_handoffs(&self) -> AppResult<usize> {
        let now = self.now();
        let before = now - self.config.handoff_escalate_after.whole_milliseconds() as i64;
        let done = self.store.escalate_handoffs(before, now).await?;
        if !done.is_empty() {
            self.live.ring();
        }
        Ok(done.len())
    }

    /// An item with its changes and the shifts that carried it.
    pub async fn item_history(
        &self,
        actor: &Actor,
        incident: RoomId,
        id: ItemId,
    ) -> AppResult<ItemHistory> {
        let (item, inc) = self.item_in(actor, incident, id).await?;
        Ok(ItemHistory {
            incident: inc,
            item,
            events: self.store.item_events(id).await?,
            shifts: self.store.item_shifts(id).await?,
        })
    }
}

fn acknowledged(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(_) => AppError::Conflict("err-handoff-acknowledged"),
        e => e.into(),
    }
}
