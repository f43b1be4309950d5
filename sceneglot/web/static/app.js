// The sceneglot page: everything goes through the same REST API that scripts use (/api/...).
// No build step; user text only ever reaches the DOM as text nodes.

const $ = (sel) => document.querySelector(sel);
const FINISHED = new Set(["done", "failed", "cancelled"]);
const COLORS = ["#f2e03c", "#4fc3f7", "#ff8a65", "#aed581", "#ce93d8", "#4db6ac", "#f48fb1", "#ffd54f"];

const state = {
  jobs: new Map(),      // id -> job record from the API
  stages: new Map(),    // id -> Map(stage -> fraction) from the event stream
  streams: new Map(),   // id -> EventSource
  open: null,           // { job, scene, etag } of the job in the editor
  saving: null, dirty: false,
};

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (value !== false && value != null) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child != null) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function notice(text, isError = false) {
  const box = $("#notice");
  box.textContent = text;
  box.className = isError ? "error" : "";
}

class ApiError extends Error {
  constructor(status, detail) { super(detail); this.status = status; }
}

// -- the API ---------------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    await signIn();
    return api(path, options);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? response.statusText);
    throw new ApiError(response.status, detail);
  }
  return response;
}

let signingIn = null;
function signIn() {  // the token becomes an HttpOnly cookie, so <video>, <track> and EventSource work too
  signingIn ??= new Promise((resolve) => {
    const dialog = $("#token-dialog");
    $("#token-form").onsubmit = async (event) => {
      event.preventDefault();
      const response = await fetch("/api/login", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: $("#token").value }),
      });
      if (response.ok) {
        dialog.close();
        signingIn = null;
        resolve();
      } else {
        $("#token-error").textContent = "Wrong token.";
      }
    };
    dialog.showModal();
  });
  return signingIn;
}

// -- the job list ----------------------------------------------------------------------------------------

async function loadJobs() {
  const { jobs } = await (await api("/api/jobs")).json();
  state.jobs = new Map(jobs.map((j) => [j.id, j]));
  for (const job of jobs) if (!FINISHED.has(job.status)) watch(job.id);
  renderJobs();
}

function watch(id) {  // one event stream per job that is not finished yet
  if (state.streams.has(id)) return;
  const source = new EventSource(`/api/jobs/${id}/events`);
  state.streams.set(id, source);
  source.addEventListener("progress", (event) => {
    const data = JSON.parse(event.data);
    if (!state.stages.has(id)) state.stages.set(id, new Map());
    state.stages.get(id).set(data.stage, data.fraction);
    const job = state.jobs.get(id);
    if (job) Object.assign(job, { stage: data.stage, progress: data.progress ?? job.progress });
    renderJobs();
  });
  source.addEventListener("status", (event) => {
    const job = JSON.parse(event.data);
    state.jobs.set(id, job);
    if (FINISHED.has(job.status)) {
      source.close();
      state.streams.delete(id);
      if (state.open?.job.id === id) openJob(id);
    }
    renderJobs();
  });
  source.addEventListener("deleted", () => {
    source.close();
    state.streams.delete(id);
    state.jobs.delete(id);
    renderJobs();
  });
  source.onerror = () => {  // the browser reconnects by itself; a job that is gone stops the stream
    if (source.readyState === EventSource.CLOSED) state.streams.delete(id);
  };
}

function stageChips(id) {
  const stages = state.stages.get(id);
  if (!stages) return [];
  return [...stages].map(([name, fraction]) =>
    el("span", { class: `stage${fraction === 1 ? " done" : ""}`, "data-stage": name },
      fraction == null ? name : `${name} ${Math.round(fraction * 100)}%`));
}

function renderJobs() {
  const body = $("#jobs tbody");
  const jobs = [...state.jobs.values()].sort((a, b) => b.created.localeCompare(a.created));
  $("#no-jobs").hidden = jobs.length > 0;
  body.replaceChildren(...jobs.map((job) => {
    const finished = FINISHED.has(job.status);
    return el("tr", { "data-job": job.id, class: state.open?.job.id === job.id ? "open" : "" },
      el("td", {}, job.name),
      el("td", { class: `status-${job.status}` }, job.status,
        job.error ? el("div", { class: "error" }, job.error) : null),
      el("td", { class: "progress" },
        el("progress", { max: 1, value: job.status === "done" ? 1 : job.progress ?? 0 }),
        el("div", { class: "stages" }, stageChips(job.id))),
      el("td", { class: "muted" }, new Date(job.created).toLocaleString()),
      el("td", {},
        job.status === "done" ? el("button", { class: "plain", onclick: () => openJob(job.id) }, "Open") : null,
        finished ? null : el("button", { class: "plain", onclick: () => cancelJob(job.id) }, "Cancel"),
        el("button", { class: "plain", title: "delete the job and its files", onclick: () => deleteJob(job.id) },
          "Delete")));
  }));
}

async function cancelJob(id) {
  try { await api(`/api/jobs/${id}/cancel`, { method: "POST" }); } catch (e) { notice(e.message, true); }
  await loadJobs();
}

async function deleteJob(id) {
  try { await api(`/api/jobs/${id}`, { method: "DELETE" }); } catch (e) { notice(e.message, true); }
  if (state.open?.job.id === id) closeEditor();
  await loadJobs();
}

// -- upload ----------------------------------------------------------------------------------------------

function upload(file) {
  const form = new FormData($("#upload-form"));
  form.set("file", file, file.name);
  for (const [key, value] of [...form]) if (value === "") form.delete(key);
  const bar = $("#upload-progress");
  bar.hidden = false;
  bar.value = 0;
  $("#upload-state").textContent = `uploading ${file.name}`;
  const xhr = new XMLHttpRequest();  // fetch() cannot report upload progress
  xhr.open("POST", "/api/jobs");
  xhr.upload.onprogress = (event) => { if (event.lengthComputable) bar.value = event.loaded / event.total; };
  xhr.onload = async () => {
    bar.hidden = true;
    if (xhr.status === 401) { await signIn(); return upload(file); }
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: reported below */ }
    if (xhr.status === 202 || xhr.status === 200) {
      $("#upload-state").textContent = xhr.status === 200 ? `${file.name}: same upload as an earlier job` : "";
      state.jobs.set(body.id, body);
      if (!FINISHED.has(body.status)) watch(body.id);
      renderJobs();
    } else {
      $("#upload-state").textContent = "";
      notice(`upload refused: ${body.detail ?? xhr.statusText}`, true);
    }
  };
  xhr.onerror = () => { bar.hidden = true; notice("upload failed: the connection broke", true); };
  xhr.send(form);
}

function setupUpload() {
  const drop = $("#drop");
  const input = $("#file");
  input.addEventListener("change", () => { if (input.files[0]) upload(input.files[0]); input.value = ""; });
  $("#upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files[0]) upload(input.files[0]); else input.click();
  });
  for (const kind of ["dragenter", "dragover"]) {
    drop.addEventListener(kind, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const kind of ["dragleave", "drop"]) drop.addEventListener(kind, () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    const file = event.dataTransfer.files[0];
    if (file) upload(file);
  });
}

// -- the editor ------------------------------------------------------------------------------------------

const clock = (t) => `${Math.floor(t / 60)}:${(t % 60).toFixed(1).padStart(4, "0")}`;
const speakerName = (s) => s.name || s.id;

function closeEditor() {
  state.open = null;
  $("#editor").hidden = true;
  history.replaceState(null, "", location.pathname);
}

async function openJob(id) {
  const job = await (await api(`/api/jobs/${id}`)).json();
  state.jobs.set(id, job);
  if (job.status !== "done" && !(state.open?.job.id === id)) { renderJobs(); return; }
  const response = await api(`/api/jobs/${id}/scene`);
  state.open = { job, etag: response.headers.get("ETag"), scene: await response.json() };
  history.replaceState(null, "", `#job=${id}`);
  $("#editor").hidden = false;
  $("#editor-title").textContent = job.name;
  setSaveState("");
  renderPlayer();
  renderEditor();
  renderJobs();
}

function videoFiles(job) {
  const byName = (suffix) => job.files.find((f) => f.name.endsWith(suffix));
  const to = job.options.to;
  const src = job.files.find((f) => f.name.endsWith(".vtt") && !f.name.endsWith(`.${to}.vtt`));
  return { video: byName(".mp4"), target: byName(`.${to}.vtt`), source: src };
}

function renderPlayer() {
  const { job } = state.open;
  const { video, target, source } = videoFiles(job);
  const player = $("#video");
  const bust = `?v=${encodeURIComponent(job.updated)}`;  // a re-render keeps the name: make the browser refetch
  player.replaceChildren(
    target ? el("track", { kind: "subtitles", label: `${job.options.to} (translation)`, srclang: job.options.to,
      src: target.url + bust }) : null,
    source ? el("track", { kind: "subtitles", label: "transcript", src: source.url + bust }) : null);
  if (video) player.src = video.url + bust;
  $("#downloads").replaceChildren(...job.files.map((f) => el("a", { href: f.url, download: f.name }, f.name)));
  $("#edit-area").disabled = job.status !== "done";  // the server refuses edits while the job runs
}

function colorOf(speakerId) {
  const index = state.open.scene.speakers.findIndex((s) => s.id === speakerId);
  return index < 0 ? "#888" : COLORS[index % COLORS.length];
}

function faceChooser(current, onPick) {
  const { job, scene } = state.open;
  const buttons = scene.persons.map((p) => el("button", {
    class: `face${p.id === current ? " chosen" : ""}`, title: `face ${p.id}`, "data-person": p.id,
    type: "button", onclick: () => onPick(p.id),
  }, el("img", { src: `/api/jobs/${job.id}/persons/${p.id}/face`, alt: p.id, loading: "lazy" })));
  buttons.push(el("button", { class: `face none${current == null ? " chosen" : ""}`, type: "button",
    title: "nobody on screen", "data-person": "", onclick: () => onPick(null) }, "off"));
  return el("span", { class: "faces" }, buttons);
}

function renderEditor() {
  const { scene } = state.open;
  $("#speakers").replaceChildren(...scene.speakers.map((speaker) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = colorOf(speaker.id);
    return el("div", { class: "speaker", "data-speaker": speaker.id }, swatch, el("span", {}, speaker.id),
      el("input", { class: "speaker-name", value: speaker.name ?? "", placeholder: "name", "aria-label": `name of ${speaker.id}`,
        onchange: (event) => { speaker.name = event.target.value.trim() || null; edited(); renderEditor(); } }),
      faceChooser(speaker.person, (person) => {
        speaker.person = person;
        edited();
        renderEditor();
      }));
  }));
  const player = $("#video");
  $("#phrases").replaceChildren(...scene.segments.map((seg) => {
    const speakerSelect = el("select", { class: "segment-speaker", "aria-label": "speaker",
      onchange: (event) => moveToSpeaker(seg, event.target.value || null) },
    el("option", { value: "" }, "(none)"),
    scene.speakers.map((s) => el("option", { value: s.id, selected: s.id === seg.speaker }, speakerName(s))));
    speakerSelect.style.borderColor = colorOf(seg.speaker);
    return el("li", { "data-segment": seg.id },
      el("div", { class: "row" },
        el("button", { class: "plain time", type: "button", title: "play from here",
          onclick: () => { player.currentTime = seg.start; player.play().catch(() => {}); } },
        `${clock(seg.start)}–${clock(seg.end)}`),
        speakerSelect,
        faceChooser(seg.person, (person) => { seg.person = person; edited(); renderEditor(); })),
      el("div", { class: "row" },
        el("input", { class: "text source", value: seg.text, "aria-label": "text",
          onchange: (event) => { seg.text = event.target.value; edited(); } })),
      el("div", { class: "row" },
        el("input", { class: "text translation", value: seg.translation ?? "", "aria-label": "translation",
          placeholder: "translation", onchange: (event) => { setTranslation(seg, event.target.value); edited(); } })));
  }));
  highlight();
}

function setTranslation(seg, text) {
  seg.translation = text;
}

function moveToSpeaker(seg, speakerId) {
  seg.speaker = speakerId;
  for (const word of seg.words ?? []) word.speaker = speakerId;
  const speaker = state.open.scene.speakers.find((s) => s.id === speakerId);
  if (speaker?.person) seg.person = speaker.person;  // the phrase follows its new speaker's face
  edited();
  renderEditor();
}

function highlight() {
  if (!state.open) return;
  const t = $("#video").currentTime;
  for (const li of document.querySelectorAll("#phrases li")) {
    const seg = state.open.scene.segments.find((s) => String(s.id) === li.dataset.segment);
    li.classList.toggle("now", Boolean(seg && seg.start <= t && t < seg.end));
  }
}

function setSaveState(text, isError = false) {
  const box = $("#save-state");
  box.textContent = text;
  box.className = isError ? "error" : "muted";
}

let saveTimer = null;
function edited() {  // every edit is saved on the server a moment later
  state.dirty = true;
  setSaveState("unsaved…");
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, 400);
}

async function save() {
  if (state.saving) { await state.saving; }
  if (!state.dirty || !state.open) return;
  state.dirty = false;
  const open = state.open;
  setSaveState("saving…");
  state.saving = (async () => {
    try {
      const response = await api(`/api/jobs/${open.job.id}/scene`, {
        method: "PUT", headers: { "Content-Type": "application/json", "If-Match": open.etag },
        body: JSON.stringify(open.scene),
      });
      open.etag = response.headers.get("ETag");
      setSaveState(state.dirty ? "unsaved…" : "saved");
    } catch (error) {
      if (error.status === 412) {
        setSaveState("changed elsewhere: reloaded", true);
        await openJob(open.job.id);
      } else {
        setSaveState(`not saved: ${error.message}`, true);
      }
    }
  })();
  await state.saving;
  state.saving = null;
}

async function rerender() {
  const { job } = state.open;
  clearTimeout(saveTimer);
  await save();
  $("#edit-area").disabled = true;
  $("#render-state").textContent = "rendering…";
  try {
    const queued = await (await api(`/api/jobs/${job.id}/render`, { method: "POST" })).json();
    state.jobs.set(job.id, queued);
    state.stages.delete(job.id);
    watch(job.id);
    renderJobs();
  } catch (error) {
    $("#render-state").textContent = error.message;
    $("#edit-area").disabled = false;
  }
}

// -- start -----------------------------------------------------------------------------------------------

async function start() {
  setupUpload();
  $("#render").addEventListener("click", rerender);
  $("#video").addEventListener("timeupdate", highlight);
  $("#video").addEventListener("loadeddata", () => { $("#render-state").textContent = ""; });
  window.addEventListener("beforeunload", (event) => { if (state.dirty) { save(); event.preventDefault(); } });
  const health = await (await api("/api/health")).json();
  const select = $("select[name=translator]");
  for (const name of health.translators) select.append(el("option", { value: name }, name));
  await loadJobs();
  const wanted = new URLSearchParams(location.hash.slice(1)).get("job");
  if (wanted && state.jobs.get(wanted)?.status === "done") await openJob(wanted);
}

start().catch((error) => notice(error.message, true));
