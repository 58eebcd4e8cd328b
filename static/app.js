// Sonae page script. Everything works without it; with it: live updates over one shared
// stream per browser, an outbox that never throws typed text away, and an offline shell.
"use strict";
(() => {
  const body = document.body;
  const me = body.dataset.me;
  if (!me) return; // not logged in: nothing to enhance
  const T = body.dataset;
  let csrf = body.dataset.csrf;
  let lastPos = Number(body.dataset.pos || 0);
  const roomEl = document.getElementById("room") || document.getElementById("report-form");
  const currentRoom = roomEl ? roomEl.dataset.room : null;
  const boardEl = document.getElementById("board");
  const status = document.getElementById("live-status");
  const say = (text) => { if (status) status.textContent = text; };

  // ---------- helpers ----------
  const randomKey = () => {
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "js-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  };
  // A link to log in again in another tab (queued items wait meanwhile).
  const loginLink = () => {
    const a = document.createElement("a");
    a.href = `/login?next=${encodeURIComponent(location.pathname)}`;
    a.target = "_blank";
    a.textContent = T.tLogin;
    return a;
  };
  const setCsrf = (value) => {
    csrf = value;
    body.dataset.csrf = value;
    document.querySelectorAll('input[name="csrf"]').forEach((i) => { i.value = value; });
  };
  const refreshCsrf = async () => {
    const res = await fetch("/api/v1/session", { headers: { Accept: "application/json" }, redirect: "manual", cache: "no-store" });
    if (res.status !== 200) return false;
    const j = await res.json();
    setCsrf(j.csrf);
    return true;
  };

  // ---------- counts, title, badges ----------
  const bell = document.getElementById("inbox-count");
  const setInbox = (n) => {
    if (bell) { bell.textContent = String(n); bell.dataset.count = String(n); }
    const base = T.title || document.title.replace(/^\(\d+\) /, "");
    document.title = n > 0 ? `(${n}) ${base}` : base;
  };
  const refreshCounts = async () => {
    try {
      const res = await fetch("/api/v1/counts", { headers: { Accept: "application/json" }, cache: "no-store" });
      if (!res.ok) return;
      const j = await res.json();
      setInbox(j.inbox);
      const hb = document.getElementById("handoff-count");
      if (hb && typeof j.handoffs === "number") {
        hb.dataset.count = String(j.handoffs);
        hb.textContent = (T.tHandoffs || "{n}").replace("{n}", String(j.handoffs));
        hb.hidden = j.handoffs === 0;
      }
      document.querySelectorAll(".room-item").forEach((li) => {
        const n = j.rooms[li.dataset.room] || 0;
        const b = li.querySelector(".unread");
        if (b) { b.dataset.count = String(n); b.textContent = n > 0 ? (T.tUnread || "{n}").replace("{n}", String(n)) : ""; }
      });
    } catch (_) { /* offline: counts catch up later */ }
  };

  // ---------- applying live entries ----------
  let readTimer = null;
  const markRead = (pos) => {
    clearTimeout(readTimer);
    readTimer = setTimeout(() => {
      const data = new URLSearchParams({ csrf, pos: String(pos) });
      fetch(`/rooms/${currentRoom}/read`, { method: "POST", body: data, headers: { Accept: "application/json" } }).catch(() => {});
    }, 500);
  };
  const fromHtml = (html) => {
    const t = document.createElement("template");
    t.innerHTML = html.trim();
    return t.content.firstElementChild;
  };
  // The shelter board reloads its table (same filters) when a report arrives.
  let boardTimer = null;
  const refreshBoard = () => {
    clearTimeout(boardTimer);
    boardTimer = setTimeout(async () => {
      const url = new URL(location.href);
      url.searchParams.set("partial", "1");
      try {
        const res = await fetch(url, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (res.ok && boardEl) boardEl.innerHTML = await res.text();
      } catch (_) { /* offline: the next report or a reload catches up */ }
    }, 250);
  };
  // 既読: members' read positions (in the member list) give each message's read count.
  const readCounts = () => {
    const members = Array.from(document.querySelectorAll(".members .member"), (li) => [li.dataset.user, Number(li.dataset.readPos || 0)]);
    if (!members.length) return;
    document.querySelectorAll(".msg .reads").forEach((el) => {
      const pos = Number(el.dataset.pos);
      const n = members.filter(([u, p]) => u !== el.dataset.author && p >= pos).length;
      const out = el.querySelector(".read-n");
      if (out) out.textContent = String(n);
    });
  };
  const setReadPos = (user, pos) => {
    const li = document.querySelector(`.members .member[data-user="${user}"]`);
    if (li && pos > Number(li.dataset.readPos || 0)) { li.dataset.readPos = String(pos); readCounts(); }
  };
  // A 要確認 matrix on screen reloads its table when one of its messages is confirmed.
  const matrixEl = document.getElementById("matrix");
  let matrixTimer = null;
  const refreshMatrix = () => {
    clearTimeout(matrixTimer);
    matrixTimer = setTimeout(async () => {
      try {
        const res = await fetch(`${location.pathname}?partial=1`, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (res.ok) matrixEl.innerHTML = await res.text();
      } catch (_) { /* offline: the next confirmation or a reload catches up */ }
    }, 200);
  };
  // The incident's open items reload from the room page when one is added or changed
  // (unless the person is typing in the item form).
  let itemsTimer = null;
  const refreshItems = () => {
    const box = document.getElementById("items");
    if (!box || box.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) return;
    clearTimeout(itemsTimer);
    itemsTimer = setTimeout(async () => {
      try {
        const res = await fetch(location.pathname, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById("items");
        if (fresh) box.replaceWith(fresh);
        const duty = doc.getElementById("duty");
        document.getElementById("duty")?.replaceWith(duty || "");
        // Item and handoff changes not shown yet join the timeline in position order.
        const list = document.getElementById("messages");
        doc.querySelectorAll("#messages .event-entry").forEach((li) => {
          if (!list || document.getElementById(li.id)) return;
          const pos = Number(li.dataset.pos);
          const after = [...list.children].find((x) => Number(x.dataset.pos || 0) > pos);
          document.getElementById("no-messages")?.remove();
          list.insertBefore(document.importNode(li, true), after || null);
        });
        setCsrf(csrf);
      } catch (_) { /* offline: the next change or a reload catches up */ }
    }, 250);
  };
  // The handoff page follows its handoff: acknowledgements, questions, answers, edits.
  const handoffEl = document.getElementById("handoff");
  let handoffTimer = null;
  const refreshHandoff = () => {
    clearTimeout(handoffTimer);
    handoffTimer = setTimeout(async () => {
      const box = document.getElementById("handoff");
      if (!box || box.contains(document.activeElement) && document.activeElement.matches("input, textarea, select")) return;
      try {
        const res = await fetch(location.pathname, { headers: { Accept: "text/html" }, cache: "no-store" });
        if (!res.ok) return;
        const doc = new DOMParser().parseFromString(await res.text(), "text/html");
        const fresh = doc.getElementById("handoff");
        if (fresh) box.replaceWith(fresh);
        setCsrf(csrf);
      } catch (_) { /* offline: the next change or a reload catches up */ }
    }, 250);
  };
  const apply = (e) => {
    if (e.pos <= lastPos) return;
    lastPos = e.pos;
    if (e.kind === "read") {
      if (e.room_id === currentRoom) setReadPos(e.user_id, Number(e.record_id || 0));
      return;
    }
    if (e.kind === "item" || e.kind === "duty" || e.kind === "handoff") {
      if (e.room_id === currentRoom) refreshItems();
      if (e.kind === "handoff") {
        refreshCounts();
        if (handoffEl && handoffEl.dataset.handoff === e.record_id) refreshHandoff();
      }
      return;
    }
    if (e.kind === "confirmed") {
      if (matrixEl && (matrixEl.dataset.messages || "").split(" ").includes(e.message_id)) refreshMatrix();
      const old = e.message_id && document.getElementById(`m-${e.message_id}`);
      if (old && e.html) { old.replaceWith(fromHtml(e.html)); readCounts(); }
      return;
    }
    if (boardEl && e.room_id === boardEl.dataset.incident && (e.kind === "shelter_report" || e.kind === "room_updated")) refreshBoard();
    if (e.kind === "photo_withdrawn") {
      document.getElementById(`p-${e.record_id}`)?.remove();
      return;
    }
    if (e.kind === "shelter_report" || e.kind === "photo") {
      const list = document.getElementById("messages");
      const id = `${e.kind === "photo" ? "p" : "r"}-${e.record_id}`;
      if (currentRoom && e.room_id === currentRoom && list && e.html && !document.getElementById(id)) {
        document.getElementById("no-messages")?.remove();
        list.appendChild(fromHtml(e.html));
      }
      return;
    }
    const list = document.getElementById("messages");
    const inRoom = currentRoom && e.room_id === currentRoom && list;
    if (inRoom && e.html && (e.kind === "message_new" || e.kind === "message_edited" || e.kind === "message_deleted")) {
      const el = fromHtml(e.html);
      const old = document.getElementById(`m-${e.message_id}`);
      if (old) { old.replaceWith(el); readCounts(); }
      else if (e.kind === "message_new") {
        document.getElementById("no-messages")?.remove();
        const atEnd = window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;
        list.appendChild(el);
        readCounts();
        if (atEnd || e.author_id === me) window.scrollTo(0, document.body.scrollHeight);
        if (document.visibilityState === "visible") markRead(e.pos);
      }
      return;
    }
    if (e.kind === "message_new" && e.author_id !== me) {
      const li = document.querySelector(`.room-item[data-room="${e.room_id}"]`);
      if (li) {
        li.parentElement.prepend(li);
        refreshCounts();
      }
    }
    if (e.kind === "inbox") refreshCounts();
    if ((e.kind === "member_added" || e.kind === "member_removed") && e.user_id === me) {
      if (document.getElementById("room-list")) location.reload();
      if (e.kind === "member_removed" && e.room_id === currentRoom) location.reload();
    }
    if (e.kind === "room_updated" && e.room_id === currentRoom && !document.getElementById("body")?.value) location.reload();
  };
  readCounts();
  const onEvent = (type, data) => {
    if (type === "entry") apply(data);
    else if (type === "resync") location.reload();
    else if (type === "logout") say(T.tRelogin);
  };

  // ---------- one live stream per browser ----------
  // The leader tab (a Web Lock) holds the EventSource and relays to the others.
  const channel = "BroadcastChannel" in window ? new BroadcastChannel("sonae-live") : null;
  if (channel) channel.onmessage = (m) => { if (m.data && m.data.type) onEvent(m.data.type, m.data.data); };
  const lead = () => {
    let es = null;
    let delay = 1000;
    const open = () => {
      es = new EventSource(`/events?after=${lastPos}`);
      for (const type of ["entry", "resync", "logout", "hello", "shutdown"]) {
        es.addEventListener(type, (ev) => {
          delay = 1000;
          let data = {};
          try { data = JSON.parse(ev.data); } catch (_) { return; }
          if (type === "shutdown") { es.close(); setTimeout(open, 2000); return; }
          if (type === "logout") { es.close(); }
          onEvent(type, data);
          if (channel && type !== "hello") channel.postMessage({ type, data });
        });
      }
      es.onerror = () => {
        // EventSource gives up on a non-200 answer; reconnect ourselves from the last position.
        if (es.readyState === EventSource.CLOSED) {
          setTimeout(open, delay);
          delay = Math.min(delay * 2, 30000);
        }
      };
    };
    open();
    return new Promise(() => {}); // hold the lock for the life of this tab
  };
  if (navigator.locks && channel) navigator.locks.request("sonae-live-leader", lead);
  else lead();

  // ---------- the outbox ----------
  // One IndexedDB database holding one object store keyed by `key`: its ready promise and
  // all / put / del. (The outbox and the photo queue each have their own.)
  const keyedStore = (dbName, storeName) => {
    const ready = new Promise((resolve, reject) => {
      if (!("indexedDB" in window)) { reject(new Error("no IndexedDB")); return; }
      const req = indexedDB.open(dbName, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(storeName, { keyPath: "key" });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    ready.catch(() => {});
    const tx = (mode, fn) => ready.then((d) => new Promise((resolve, reject) => {
      const t = d.transaction(storeName, mode);
      const r = fn(t.objectStore(storeName));
      t.oncomplete = () => resolve(r && r.result);
      t.onerror = () => reject(t.error);
    }));
    return {
      ready,
      all: () => tx("readonly", (s) => s.getAll()),
      put: (item) => tx("readwrite", (s) => s.put(item)),
      del: (key) => tx("readwrite", (s) => s.delete(key)),
    };
  };
  const outboxStore = keyedStore("sonae", "outbox");
  const db = outboxStore.ready;
  const { all, put, del } = outboxStore;

  const outbox = document.getElementById("outbox");
  const outboxList = document.getElementById("outbox-list");
  const outboxTitle = document.getElementById("outbox-title");
  const render = async () => {
    if (!outbox) return;
    const items = (await all()).filter((i) => i.room === currentRoom).sort((a, b) => a.created - b.created);
    outbox.hidden = items.length === 0;
    outboxTitle.textContent = `${T.tOutbox} ${items.length}${document.documentElement.lang === "ja" ? "件" : ""}`;
    outboxList.replaceChildren(...items.map((i) => {
      const li = document.createElement("li");
      li.className = `outbox-item ${i.state}`;
      li.dataset.key = i.key;
      const text = document.createElement("p");
      text.className = "body";
      text.textContent = i.label || i.body;
      const st = document.createElement("p");
      st.className = "state";
      st.textContent = i.state === "failed" ? `${T.tFailed}: ${i.error || ""}` : i.state === "auth" ? T.tRelogin : T.tSending;
      li.append(text, st);
      if (i.state === "auth") li.append(loginLink());
      const btn = (label, fn) => { const b = document.createElement("button"); b.type = "button"; b.textContent = label; b.onclick = fn; li.append(b); };
      if (i.state === "failed") {
        btn(T.tRetry, async () => { i.state = "queued"; await put(i); render(); pump(); });
        btn(T.tEdit, async () => { const box = document.getElementById("body"); if (box) box.value = i.body; await del(i.key); render(); });
        btn(T.tDiscard, async () => { await del(i.key); render(); });
      }
      return li;
    }));
  };

  let pumping = false;
  let backoff = 2000;
  let retryTimer = null;
  const sendOne = async (i) => {
    // Items carry their form (reports…); older items are messages.
    const data = i.url
      ? new URLSearchParams({ ...i.fields, csrf, idem: i.key })
      : new URLSearchParams({ csrf, idem: i.key, body: i.body, reply_to: i.reply_to || "" });
    let res;
    try {
      res = await fetch(i.url || `/rooms/${i.room}/messages`, {
        method: "POST",
        body: data,
        headers: { Accept: "application/json", "Idempotency-Key": i.key },
        redirect: "manual",
        cache: "no-store",
      });
    } catch (_) {
      return "retry"; // offline or the server is down
    }
    if (res.ok) {
      await del(i.key);
      if (i.url && !i.fields.body) say(T.tReportSent || "");
      return "sent";
    }
    if (res.status === 401 || res.type === "opaqueredirect" || res.status === 0) {
      i.state = "auth"; await put(i); return "auth";
    }
    if (res.status === 403 && !i.csrfRetried) {
      // A stale CSRF token (cached page, new login): fetch the current one and try again.
      i.csrfRetried = true;
      if (await refreshCsrf()) return "again";
      i.state = "auth"; await put(i); return "auth";
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) {
      let msg = String(res.status);
      try { msg = (await res.json()).error.message; } catch (_) { /* keep the status */ }
      i.state = "failed"; i.error = msg; await put(i); return "failed";
    }
    return "retry";
  };
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    clearTimeout(retryTimer);
    try {
      const run = async () => {
        let items = (await all()).filter((i) => i.state === "queued" || i.state === "auth").sort((a, b) => a.created - b.created);
        if (items.some((i) => i.state === "auth")) {
          if (!(await refreshCsrf())) { render(); retryTimer = setTimeout(pump, 3000); return; }
          for (const i of items) { if (i.state === "auth") { i.state = "queued"; i.csrfRetried = false; await put(i); } }
          items = (await all()).filter((i) => i.state === "queued").sort((a, b) => a.created - b.created);
        }
        for (const i of items) {
          let r = await sendOne(i);
          if (r === "again") r = await sendOne(i);
          if (r === "retry") { retryTimer = setTimeout(pump, backoff); backoff = Math.min(backoff * 2, 10000); return; }
          if (r === "auth") { retryTimer = setTimeout(pump, 3000); return; }
        }
        backoff = 2000;
      };
      if (navigator.locks) await navigator.locks.request("sonae-outbox", run);
      else await run();
    } finally {
      pumping = false;
      render();
    }
  };

  const composer = document.getElementById("composer");
  const box = document.getElementById("body");
  if (composer && box) {
    composer.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = box.value;
      if (!text.trim()) { box.focus(); return; }
      const replyTo = document.getElementById("reply-to");
      // Every field of the form (要確認 options included), sent as the form would.
      const fields = {};
      for (const [k, v] of new FormData(composer)) if (k !== "csrf" && k !== "idem") fields[k] = String(v);
      const item = { key: randomKey(), room: currentRoom, url: `/rooms/${currentRoom}/messages`, fields, body: text, reply_to: fields.reply_to || "", created: Date.now(), state: "queued" };
      try {
        await put(item);
      } catch (_) {
        composer.submit(); // no IndexedDB: fall back to the plain form
        return;
      }
      box.value = "";
      if (replyTo) replyTo.value = "";
      const ask = document.getElementById("ask-options");
      if (ask) { ask.querySelectorAll("input[type=checkbox]").forEach((c) => { c.checked = false; }); ask.querySelectorAll("input[type=datetime-local]").forEach((c) => { c.value = ""; }); ask.open = false; }
      const replying = document.getElementById("replying");
      if (replying) replying.hidden = true;
      await render();
      pump();
    });
    box.addEventListener("keydown", (ev) => {
      // Ctrl/⌘+Enter sends; never while a Japanese IME is composing.
      if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey) && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        composer.requestSubmit();
      }
    });
    // Replying without a page load.
    document.getElementById("messages")?.addEventListener("click", (ev) => {
      const a = ev.target.closest("a.reply-link");
      if (!a) return;
      ev.preventDefault();
      const replyTo = document.getElementById("reply-to");
      const replying = document.getElementById("replying");
      const msg = a.closest(".msg");
      if (replyTo) replyTo.value = a.dataset.reply;
      if (replying && msg) {
        replying.hidden = false;
        replying.textContent = `↩ ${msg.querySelector(".author")?.textContent || ""}: ${(msg.querySelector(".body")?.textContent || "").slice(0, 80)}`;
      }
      box.focus();
    });
  }
  // Shelter reports go through the same outbox: the time of observation is taken when 送信 is
  // pressed, kept with the queued report, and sent once (its idempotency key) when online.
  const reportForm = document.getElementById("report-form");
  if (reportForm) {
    reportForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const observed = document.getElementById("observed-at");
      if (observed) observed.value = String(Date.now());
      const fields = Object.fromEntries(new FormData(reportForm).entries());
      delete fields.csrf;
      delete fields.idem;
      const status = reportForm.querySelector('input[name="status"]:checked');
      const label = `${reportForm.dataset.label}: ${status ? status.parentElement.textContent.trim() : ""} ${fields.evacuees || ""}`;
      const item = { key: randomKey(), room: currentRoom, url: reportForm.action, fields, label, created: Date.now(), state: "queued" };
      try {
        await put(item);
      } catch (_) {
        reportForm.submit();
        return;
      }
      await render();
      pump();
    });
  }
  // The gallery's lightbox: the display image over the page (the link opens the photo's page
  // without JavaScript, or with a modifier key).
  const lightbox = document.getElementById("lightbox");
  if (lightbox && typeof lightbox.showModal === "function") {
    document.querySelectorAll("a.lightbox-link").forEach((a) => {
      a.addEventListener("click", (ev) => {
        if (ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
        ev.preventDefault();
        const img = document.getElementById("lightbox-img");
        img.src = a.dataset.display;
        img.alt = a.dataset.caption || a.querySelector("img")?.alt || "";
        document.getElementById("lightbox-caption").textContent = a.dataset.caption || "";
        document.getElementById("lightbox-page").href = a.href;
        lightbox.showModal();
      });
    });
    lightbox.addEventListener("click", (ev) => { if (ev.target === lightbox) lightbox.close(); });
  }
  // ---------- the photo queue ----------
  // Chosen photos are kept in IndexedDB (they survive a reload and a dead battery's restart),
  // then sent one after another in chunks through the resumable upload API: after a cut only
  // the rest is sent, and each photo's idempotency key stores it once. Without IndexedDB (or
  // without JavaScript) the form is sent as it is.
  const photoForm = document.getElementById("photo-form");
  const here = document.getElementById("photo-here");
  const queue = document.getElementById("photo-queue");
  const queueList = document.getElementById("photo-queue-list");
  const PT = photoForm ? photoForm.dataset : {};
  const CHUNK = 256 * 1024;
  const photoQueue = keyedStore("sonae-photos", "photos");
  const pdb = photoQueue.ready;
  const { all: photos, put: putPhoto, del: delPhoto } = photoQueue;
  const progress = new Map(); // key -> bytes the server holds
  const finished = []; // results shown until the page is left
  const renderQueue = async () => {
    if (!queue || !photoForm) return;
    const items = (await photos()).filter((p) => p.room === photoForm.dataset.room).sort((a, b) => a.created - b.created);
    queue.hidden = items.length === 0 && finished.length === 0;
    const rows = items.map((p) => {
      const li = document.createElement("li");
      li.className = `photo-item ${p.state}`;
      li.dataset.key = p.key;
      const name = document.createElement("p");
      name.className = "name";
      name.textContent = `${p.name}${p.caption ? ` — ${p.caption}` : ""} (${Math.ceil(p.size / 1024)} KB)`;
      const bar = document.createElement("progress");
      bar.max = p.size;
      bar.value = progress.get(p.key) || 0;
      bar.setAttribute("aria-label", `${PT.tProgress}: ${p.name}`);
      const st = document.createElement("p");
      st.className = "state";
      st.textContent = p.state === "failed" ? `${T.tFailed}: ${p.error || ""}`
        : p.state === "auth" ? T.tRelogin
        : p.state === "offline" ? PT.tOffline
        : p.state === "sending" ? `${PT.tSending} ${Math.floor(100 * (progress.get(p.key) || 0) / p.size)}%`
        : PT.tQueued;
      li.append(name, bar, st);
      if (p.state === "failed") {
        const btn = (label, fn) => { const b = document.createElement("button"); b.type = "button"; b.textContent = label; b.onclick = fn; li.append(b); };
        btn(T.tRetry, async () => { p.state = "queued"; await putPhoto(p); renderQueue(); pumpPhotos(); });
        btn(T.tDiscard, async () => { await delPhoto(p.key); renderQueue(); });
      }
      if (p.state === "auth") li.append(loginLink());
      return li;
    });
    const done = finished.map((f) => {
      const li = document.createElement("li");
      li.className = "photo-item done";
      const p = document.createElement("p");
      p.textContent = `${f.name}: ${f.text} `;
      const a = document.createElement("a");
      a.href = f.url;
      a.textContent = PT.tOpen;
      p.append(a);
      li.append(p);
      return li;
    });
    queueList.replaceChildren(...rows, ...done);
  };
  const api = async (method, url, body, type) => {
    const headers = { Accept: "application/json", "X-CSRF-Token": csrf };
    if (type) headers["Content-Type"] = type;
    return fetch(url, { method, body, headers, redirect: "manual", cache: "no-store" });
  };
  // Sends one photo from where the server stands; returns "sent", "retry", "auth" or "failed".
  const sendPhoto = async (p) => {
    const base = `/api/v1/incidents/${p.room}/uploads/${p.key}`;
    const problem = async (res) => {
      if (res.status === 401 || res.type === "opaqueredirect" || res.status === 0) return "auth";
      if (res.status === 403 && (await refreshCsrf())) return "again";
      if (res.status >= 400 && res.status < 500 && ![408, 409, 429].includes(res.status)) {
        let msg = String(res.status);
        try { msg = (await res.json()).error.message; } catch (_) { /* keep the status */ }
        p.state = "failed"; p.error = msg; await putPhoto(p);
        return "failed";
      }
      return "retry";
    };
    try {
      let res = await api("GET", base);
      if (!res.ok) return problem(res);
      let state = await res.json();
      let at = state.finished ? p.size : state.received;
      p.state = "sending"; await putPhoto(p);
      progress.set(p.key, at); renderQueue();
      while (at < p.size) {
        const end = Math.min(at + CHUNK, p.size);
        res = await api("PUT", `${base}?offset=${at}&total=${p.size}`, p.blob.slice(at, end), "application/octet-stream");
        if (res.status === 409) {
          // The server holds a different part (a chunk sent twice, another tab): ask again.
          res = await api("GET", base);
          if (!res.ok) return problem(res);
          state = await res.json();
          at = state.finished ? p.size : state.received;
          continue;
        }
        if (!res.ok) return problem(res);
        state = await res.json();
        at = state.received;
        progress.set(p.key, at); renderQueue();
      }
      const details = { caption: p.caption, shelter: p.shelter, queued_at: p.created };
      if (p.lat != null && p.lon != null) { details.lat = p.lat; details.lon = p.lon; }
      res = await api("POST", `${base}/finish`, JSON.stringify(details), "application/json");
      if (res.status === 409) return "retry";
      if (!res.ok) return problem(res);
      const out = await res.json();
      await delPhoto(p.key);
      progress.delete(p.key);
      finished.push({
        name: p.name,
        url: `/photos/${out.photo.id}`,
        text: out.already_uploaded ? `${PT.tAlready} ${out.photo.uploader} (${new Date(out.photo.uploaded_at).toLocaleString()})` : PT.tSaved,
      });
      say(PT.tSaved);
      return "sent";
    } catch (_) {
      return "retry"; // offline, or the server is down
    }
  };
  let photoPumping = false;
  let photoTimer = null;
  let photoBackoff = 2000;
  const pumpPhotos = async () => {
    if (photoPumping || !photoForm) return;
    photoPumping = true;
    clearTimeout(photoTimer);
    const run = async () => {
      const items = (await photos()).filter((p) => ["queued", "sending", "offline", "auth"].includes(p.state)).sort((a, b) => a.created - b.created);
      for (const p of items) {
        let r = await sendPhoto(p);
        if (r === "again") r = await sendPhoto(p);
        if (r === "retry" || r === "auth") {
          p.state = r === "auth" ? "auth" : "offline";
          await putPhoto(p);
          photoTimer = setTimeout(pumpPhotos, photoBackoff);
          photoBackoff = Math.min(photoBackoff * 2, 10000);
          return;
        }
      }
      photoBackoff = 2000;
    };
    try {
      if (navigator.locks) await navigator.locks.request("sonae-photos", run);
      else await run();
    } catch (_) {
      photoTimer = setTimeout(pumpPhotos, photoBackoff);
    } finally {
      photoPumping = false;
      renderQueue();
    }
  };
  if (photoForm) {
    const position = () => new Promise((resolve) => {
      if (!here || !here.checked || !("geolocation" in navigator)) { resolve(null); return; }
      navigator.geolocation.getCurrentPosition(
        (pos) => resolve({ lat: pos.coords.latitude, lon: pos.coords.longitude }),
        () => resolve(null),
        { timeout: 8000, maximumAge: 60000 },
      );
    });
    if (here && !("geolocation" in navigator)) here.closest("label").hidden = true;
    photoForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = document.getElementById("photo-files");
      const files = Array.from(input.files || []);
      if (files.length === 0) { input.focus(); return; }
      const caption = document.getElementById("photo-caption").value;
      const shelter = document.getElementById("photo-shelter").value;
      const pos = await position();
      const created = Date.now();
      try {
        let n = 0;
        for (const f of files) {
          await putPhoto({
            key: randomKey(), room: photoForm.dataset.room, blob: f, name: f.name, size: f.size,
            caption, shelter, lat: pos ? pos.lat : null, lon: pos ? pos.lon : null,
            created: created + n++, state: "queued",
          });
        }
      } catch (_) {
        // No room in IndexedDB (or none at all): send the form as it is.
        if (pos) {
          document.getElementById("photo-lat").value = String(pos.lat);
          document.getElementById("photo-lon").value = String(pos.lon);
        }
        photoForm.submit();
        return;
      }
      input.value = "";
      document.getElementById("photo-caption").value = "";
      say(PT.tQueued);
      await renderQueue();
      pumpPhotos();
    });
    pdb.then(() => { renderQueue(); pumpPhotos(); }).catch(() => {});
  }
  window.addEventListener("online", () => { say(T.tOnline); pump(); pumpPhotos(); refreshCounts(); });
  window.addEventListener("offline", () => say(T.tOffline));
  db.then(() => { render(); pump(); }).catch(() => {});

  // Open a room at its newest message (or at the linked one).
  const msgs = document.getElementById("messages");
  if (msgs && !location.hash && !location.search.includes("before=")) {
    window.scrollTo(0, document.body.scrollHeight);
  }

  // ---------- the offline shell ----------
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
})();
