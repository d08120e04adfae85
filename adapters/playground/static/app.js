// whybot playground: a tiny Slack-like client for the local demo. No build step, no framework.
// People's text is always inserted with textContent; only server-rendered, escaped reply HTML uses innerHTML.
"use strict";

const state = { me: null, channel: null, channels: [], thread: null, examples: [], lastThread: {} };
const POLL_MS = 300; // while a question is answered: status line and the answer as it is written
const POST_WAIT_S = 1; // the POST waits this long for a quick answer before the page starts polling
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const response = await fetch(path, {
    headers: { "Content-Type": "application/json" },
    ...options,
  });
  const body = await response.json().catch(() => ({ error: "unreadable response" }));
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

function showError(message) {
  const box = $("error");
  box.textContent = message || "";
  box.hidden = !message;
}

function initials(name) {
  return (name || "?").split(/\s+/).map((part) => part[0] || "").join("").slice(0, 2).toUpperCase();
}

function renderMessage(m) {
  const row = document.createElement("div");
  row.className = "msg" + (m.thread_id ? " reply-in-thread" : "");
  row.dataset.id = m.id;
  const avatar = document.createElement("div");
  avatar.className = "avatar" + (m.is_bot ? " bot" : "");
  avatar.textContent = m.is_bot ? "W" : initials(m.user_name);
  const content = document.createElement("div");
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = m.is_bot ? "whybot" : m.user_name;
  const time = document.createElement("span");
  time.textContent = new Date(m.created_at).toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  meta.append(name, time);
  content.append(meta);
  if (m.reply_html) {
    const holder = document.createElement("div");
    holder.innerHTML = m.reply_html; // escaped on the server by bot.markup.to_html
    content.append(holder);
  } else {
    const text = document.createElement("div");
    text.className = "text";
    text.textContent = m.text;
    content.append(text);
  }
  if (!m.thread_id && !m.is_bot) {
    const reply = document.createElement("button");
    reply.className = "thread-link";
    reply.type = "button";
    reply.textContent = m.reply_count ? `${m.reply_count} repl${m.reply_count === 1 ? "y" : "ies"} · reply in thread` : "reply in thread";
    reply.addEventListener("click", () => enterThread(m.id));
    content.append(reply);
  }
  row.append(avatar, content);
  return row;
}

function orderThreads(messages) {
  // Roots in time order, each followed by its replies, like a thread view folded inline.
  const replies = new Map();
  const roots = [];
  for (const m of messages) {
    if (m.thread_id && messages.some((r) => r.id === m.thread_id)) {
      if (!replies.has(m.thread_id)) replies.set(m.thread_id, []);
      replies.get(m.thread_id).push(m);
    } else {
      roots.push(m);
    }
  }
  return roots.flatMap((root) => [root, ...(replies.get(root.id) || [])]);
}

async function loadChannel(channelId, highlight) {
  state.channel = channelId;
  state.thread = null;
  $("thread-banner").hidden = true;
  for (const li of $("channels").children) li.classList.toggle("active", li.dataset.id === channelId);
  const data = await api(`/api/playground/channels/${encodeURIComponent(channelId)}/messages?user=${encodeURIComponent(state.me)}`);
  const known = state.channels.find((c) => c.id === channelId);
  const dm = known && known.kind === "dm";
  $("channel-name").textContent = known ? known.name : data.channel.name;
  $("channel-name").className = dm ? "dm" : data.channel.private ? "private" : "public";
  $("channel-note").textContent = dm ? "direct message" : data.channel.private ? "private channel" : "";
  const list = $("messages");
  list.replaceChildren(...orderThreads(data.messages).map(renderMessage));
  const target = highlight && list.querySelector(`[data-id="${CSS.escape(highlight)}"]`);
  if (target) {
    target.classList.add("highlight");
    target.scrollIntoView({ block: "center" });
  } else {
    list.scrollTop = list.scrollHeight;
  }
  $("text").placeholder = dm ? `Message ${known.name}` : `Message #${data.channel.name} — mention @whybot or use /whybot`;
}

function enterThread(id) {
  state.thread = id;
  $("thread-banner").hidden = false;
  $("text").focus();
}

async function loadState() {
  const saved = localStorage.getItem("whybot.me") || "";
  const data = await api(`/api/playground/state?user=${encodeURIComponent(state.me || saved)}`);
  state.me = data.me;
  $("workspace").textContent = data.workspace;
  $("engine").textContent = `answers written by: ${data.generator}`;
  const me = $("me");
  me.replaceChildren(...data.users.map((u) => new Option(u.role ? `${u.name} · ${u.role}` : u.name, u.id, false,
    u.id === data.me)));
  state.channels = data.channels;
  state.examples = data.examples || [];
  const item = (c) => {
    const li = document.createElement("li");
    li.dataset.id = c.id;
    li.className = c.kind === "dm" ? "dm" : c.private ? "private" : "public";
    li.textContent = c.name;
    li.addEventListener("click", () => loadChannel(c.id).catch((e) => showError(e.message)));
    return li;
  };
  $("channels").replaceChildren(...data.channels.filter((c) => c.kind !== "dm").map(item));
  $("dms").replaceChildren(...data.channels.filter((c) => c.kind === "dm").map(item));
  const names = new Map(data.users.map((u) => [u.id, u.name]));
  $("examples").replaceChildren(...state.examples.map((example, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.example = String(index);
    button.textContent = example.label;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = example.user ? `as ${names.get(example.user) || example.user}` : example.text;
    button.append(who);
    button.title = example.text;
    button.addEventListener("click", () => runExample(example).catch((e) => showError(e.message)));
    return button;
  }));
}

async function switchPerson(user) {
  state.me = user;
  $("me").value = user;
  localStorage.setItem("whybot.me", user);
  await loadState();
}

async function runExample(example) {
  // An example may need a person (a private channel shows nothing to a non-member) and a channel.
  showError("");
  if (example.user && example.user !== state.me) await switchPerson(example.user);
  if (example.channel !== state.channel) await loadChannel(example.channel);
  let thread = null;
  if (example.in_thread) {
    thread = state.lastThread[state.channel];
    if (!thread) throw new Error("Ask a question here first: a follow-up goes in the thread of its answer.");
  }
  await send(example.text, thread);
}

function fromHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { channel: params.get("channel"), message: params.get("message") };
}

function workingRow(after) {
  // Where whybot shows what it is doing while it answers; the reply card replaces it.
  const row = document.createElement("div");
  row.className = "msg working" + (after && after.classList.contains("reply-in-thread") ? " reply-in-thread" : "");
  const avatar = document.createElement("div");
  avatar.className = "avatar bot";
  avatar.textContent = "W";
  const content = document.createElement("div");
  const meta = document.createElement("div");
  meta.className = "meta";
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = "whybot";
  meta.append(name);
  const status = document.createElement("div");
  status.className = "progress-status";
  status.textContent = "Working on it…";
  const text = document.createElement("div");
  text.className = "progress-text";
  content.append(meta, status, text);
  row.append(avatar, content);
  if (after) after.after(row); else $("messages").append(row);
  row.scrollIntoView({ block: "nearest" });
  return row;
}

async function follow(sent, channel) {
  // A question still being answered: show its status line and the answer as it is written until it is done.
  const list = $("messages");
  const question = sent.message && list.querySelector(`[data-id="${CSS.escape(sent.message.id)}"]`);
  let after = question;
  while (after && after.nextElementSibling && after.nextElementSibling.classList.contains("reply-in-thread")) {
    after = after.nextElementSibling; // below the thread's replies so far
  }
  const row = workingRow(after);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const turn = await api(`/api/playground/turns/${encodeURIComponent(sent.turn)}?user=${encodeURIComponent(state.me)}`);
    if (!turn.pending) return turn;
    if (state.channel !== channel) continue; // keep waiting, but draw nothing in another channel
    if (turn.status) row.querySelector(".progress-status").textContent = turn.status;
    if (turn.text) row.querySelector(".progress-text").textContent = turn.text;
  }
  row.querySelector(".progress-status").textContent = "Still working: the answer will appear in this channel.";
  return null;
}

// Why whybot did not answer: shown to the person who asked only (like Slack's "only visible to you").
function showNote(text) {
  const note = $("note");
  note.hidden = !text;
  $("note-text").textContent = text || "";
}

async function send(text, thread = state.thread) {
  showError("");
  showNote("");
  $("send").disabled = true;
  const channel = state.channel;
  try {
    const sent = await api("/api/playground/messages", {
      method: "POST",
      body: JSON.stringify({ channel, user: state.me, text, thread_id: thread, wait_s: POST_WAIT_S }),
    });
    let reply = sent.reply;
    let note = sent.note;
    if (sent.pending) {
      // The question is safe in the inbox; a worker answers it, maybe in another process, maybe slowly.
      if (state.channel === channel) await loadChannel(channel);
      const done = await follow(sent, channel);
      reply = done && done.reply;
      note = done && done.note;
    }
    if (reply && reply.thread_id) state.lastThread[channel] = reply.thread_id;
    if (state.channel === channel) {
      await loadChannel(channel);
      showNote(note); // why whybot did not answer, for the asker only
      const card = reply && $("messages").querySelector(`[data-id="${CSS.escape(reply.id)}"]`);
      if (card) card.scrollIntoView({ block: "nearest" });
    }
  } finally {
    $("send").disabled = false;
  }
}

async function toggleWhy(button) {
  const reply = button.closest(".reply");
  const panel = reply.querySelector(".rationale");
  if (button.getAttribute("aria-expanded") === "true") {
    panel.hidden = true;
    reply.classList.remove("expanded");
    button.textContent = "Why?";
    button.setAttribute("aria-expanded", "false");
    return;
  }
  const data = await api("/api/playground/why", {
    method: "POST",
    body: JSON.stringify({ decision_id: reply.dataset.decision, user: state.me, channel: state.channel }),
  });
  panel.innerHTML = data.html; // escaped on the server
  panel.hidden = false;
  reply.classList.add("expanded");
  button.textContent = "Hide why";
  button.setAttribute("aria-expanded", "true");
}

async function vote(button) {
  const reply = button.closest(".reply");
  await api("/api/playground/feedback", {
    method: "POST",
    body: JSON.stringify({
      decision_id: reply.dataset.decision, user: state.me, channel: state.channel,
      helpful: button.dataset.helpful === "1", item_id: button.dataset.item || "",
    }),
  });
  for (const other of reply.querySelectorAll(`.fb[data-item="${CSS.escape(button.dataset.item || "")}"]`)) {
    other.classList.toggle("voted", other === button);
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  $("messages").addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button) return;
    let action = null;
    if (button.classList.contains("why")) action = toggleWhy(button);
    else if (button.classList.contains("fb")) action = vote(button);
    else if (button.classList.contains("follow")) action = send(`/whybot ${button.dataset.command}`);
    if (action) action.catch((e) => showError(e.message));
  });
  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("text").value;
    if (!text.trim()) return showError("Type a message first.");
    send(text).then(() => { $("text").value = ""; }).catch((e) => showError(e.message));
  });
  $("text").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("leave-thread").addEventListener("click", () => { state.thread = null; $("thread-banner").hidden = true; });
  $("me").addEventListener("change", async (event) => {
    await switchPerson(event.target.value);
    const still = state.channels.some((c) => c.id === state.channel);
    await loadChannel(still ? state.channel : state.channels[0].id);
  });
  window.addEventListener("hashchange", () => {
    const target = fromHash();
    if (target.channel) loadChannel(target.channel, target.message).catch((e) => showError(e.message));
  });
  try {
    await loadState();
    const target = fromHash();
    const first = state.channels.find((c) => c.id === target.channel) || state.channels.find((c) => c.id === "engineering") || state.channels[0];
    if (first) await loadChannel(first.id, target.message);
  } catch (e) {
    showError(e.message);
  }
});
