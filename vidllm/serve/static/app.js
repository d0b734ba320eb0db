// vidllm's page: upload or name a video, ask, read the answer as it streams, and see the moments
// that support it on a timeline (thumbnails that seek the player) with the frames the model saw.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { model: null, upload: null, path: null, duration: null };

$("key").value = localStorage.getItem("vidllm-key") || "";
$("key").addEventListener("change", () => { localStorage.setItem("vidllm-key", $("key").value); connect(); });

function headers(extra = {}) {
  const key = $("key").value.trim();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

function status(text) { $("status").textContent = text; }

async function errorText(response) {
  try { return (await response.json()).error.message; } catch (_) { return `HTTP ${response.status}`; }
}

async function connect() {
  const health = await (await fetch("/health")).json();
  if (health.api_key_required && !$("key").value.trim()) {  // ask first: a 401 would be a console error
    $("model").textContent = "enter the server's API key";
    return;
  }
  const response = await fetch("/v1/models", { headers: headers() });
  if (!response.ok) {
    $("model").textContent = response.status === 401 ? "enter the server's API key" : await errorText(response);
    return;
  }
  state.model = (await response.json()).data[0].id;
  $("model").textContent = `model: ${state.model}`;
  ready();
}

function ready() { $("send").disabled = !(state.model && (state.upload || state.path)); }

// -- choosing a video ------------------------------------------------------------------------------

async function upload(file) {
  status(`uploading ${file.name}…`);
  const response = await fetch(`/v1/uploads?filename=${encodeURIComponent(file.name)}`, {
    method: "POST", body: file, headers: headers({ "Content-Type": file.type || "application/octet-stream" }),
  });
  if (!response.ok) { status(`upload refused: ${await errorText(response)}`); return; }
  const info = await response.json();
  state.upload = info; state.path = null;
  $("video").src = info.url; $("video").hidden = false; $("timeline").hidden = false;
  const size = info.bytes >= 1e6 ? `${(info.bytes / 1e6).toFixed(1)} MB` : `${Math.ceil(info.bytes / 1e3)} kB`;
  status(`${file.name}: ${size} uploaded`);
  clearEvidence(); ready();
}

$("file").addEventListener("change", (e) => e.target.files[0] && upload(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files[0]) upload(e.dataTransfer.files[0]);
});
$("use-path").addEventListener("click", () => {
  const path = $("path").value.trim();
  if (!path) return;
  state.path = path; state.upload = null;
  $("video").hidden = true; $("timeline").hidden = false;
  status(`${path} (read by the server; no preview)`);
  clearEvidence(); ready();
});

// -- the timeline ----------------------------------------------------------------------------------

const video = $("video");
function duration() { return (isFinite(video.duration) && video.duration) || state.duration || 0; }
function at(seconds) { const d = duration(); return d ? `${Math.min(100, (100 * seconds) / d)}%` : "0%"; }
function clock(seconds) {
  const m = Math.floor(seconds / 60), s = (seconds - 60 * m).toFixed(1).padStart(4, "0");
  return `${m}:${s}`;
}
function seek(seconds) {
  if (video.hidden) return;
  video.currentTime = seconds;
  video.play().catch(() => {});  // autoplay may be refused; the seek still happened
}
video.addEventListener("timeupdate", () => { $("cursor").style.left = at(video.currentTime); });
$("timeline").addEventListener("click", (e) => {
  const box = e.currentTarget.getBoundingClientRect();
  seek(((e.clientX - box.left) / box.width) * duration());
});

function clearEvidence() {
  for (const id of ["sampled", "spans", "thumbs"]) $(id).replaceChildren();
  $("details").hidden = true;
}

function showEvidence(extension) {
  const seen = (extension.manifest.videos || [])[0] || {};
  state.duration = seen.duration || state.duration;
  for (const t of seen.timestamps || []) {
    const tick = document.createElement("div");
    tick.className = "tick"; tick.style.left = at(t); tick.title = `frame at ${clock(t)}`;
    $("sampled").append(tick);
  }
  for (const e of extension.evidence || []) {
    const span = document.createElement("div");
    span.className = "span"; span.style.left = at(e.start);
    span.style.width = `calc(${at(e.end)} - ${at(e.start)})`;
    span.title = `${clock(e.start)}–${clock(e.end)} ${e.text}`;
    $("spans").append(span);
    const thumb = document.createElement("button");
    thumb.type = "button"; thumb.className = "thumb";
    thumb.addEventListener("click", () => seek(e.start));
    if (state.upload) {
      const img = document.createElement("img");
      img.alt = `frame at ${clock(e.start)}`;
      img.src = `${state.upload.url}/frame?t=${e.start}&width=160`;
      thumb.append(img);
    }
    const label = document.createElement("span");
    label.textContent = `${clock(e.start)}–${clock(e.end)} ${e.text}`;
    thumb.append(label);
    $("thumbs").append(thumb);
  }
  $("manifest").textContent = JSON.stringify(extension, null, 2);
  $("details").hidden = false;
}

// -- asking, with the answer streamed ----------------------------------------------------------------

$("ask").addEventListener("submit", async (event) => {
  event.preventDefault();
  const answer = $("answer");
  answer.textContent = ""; answer.classList.remove("error"); clearEvidence();
  $("send").disabled = true;
  const media = state.upload ? { type: "file", file: { file_id: state.upload.id } }
                             : { type: "video_url", video_url: { url: state.path } };
  const body = {
    model: state.model, stream: true,
    messages: [{ role: "user", content: [media, { type: "text", text: $("question").value }] }],
    media_io_kwargs: { video: { num_frames: Number($("nframes").value) || 8 } },
  };
  try {
    const response = await fetch("/v1/chat/completions", {
      method: "POST", body: JSON.stringify(body), headers: headers({ "Content-Type": "application/json" }),
    });
    if (!response.ok) throw new Error(await errorText(response));
    const reader = response.body.getReader(), decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut); buffer = buffer.slice(cut + 2);
        for (const line of block.split("\n")) {
          if (!line.startsWith("data: ")) continue;  // comments (": ping") keep the connection alive
          const data = line.slice(6).trim();
          if (data === "[DONE]") continue;
          const chunk = JSON.parse(data);
          if (chunk.error) throw new Error(chunk.error.message);
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) answer.textContent += delta.content;
          if (chunk.vidllm) showEvidence(chunk.vidllm);
        }
      }
    }
    document.body.dataset.answered = "yes";
  } catch (err) {
    answer.textContent = err.message; answer.classList.add("error");
  } finally {
    ready();
  }
});

connect();
