// Cantor Studio: upload → job → results, over the server's JSON API. No framework, no CDN: it works offline.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { file: null, audio: null, mixer: [], playing: [] };

// --- choosing a file ----------------------------------------------------------------------------------------------
const drop = $("drop");
function chosen(file) {
  state.file = file;
  $("drop-text").textContent = file ? `${file.name} (${(file.size / 2 ** 20).toFixed(1)} MB)` : "";
  $("start").disabled = !file;
}
$("file").addEventListener("change", (event) => chosen(event.target.files[0] || null));
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("file").click(); }
});
for (const name of ["dragenter", "dragover"]) {
  drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
}
for (const name of ["dragleave", "drop"]) {
  drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.remove("over"); });
}
drop.addEventListener("drop", (event) => chosen(event.dataTransfer.files[0] || null));

function task() { return document.querySelector("input[name=task]:checked").value; }
function showTaskOptions() {
  for (const el of document.querySelectorAll(".for-variations")) el.hidden = task() !== "variations";
}
for (const radio of document.querySelectorAll("input[name=task]")) radio.addEventListener("change", showTaskOptions);
showTaskOptions();

// --- submitting and following a job -------------------------------------------------------------------------------
function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}
function setBar(id, fraction) {
  const bar = $(id);
  bar.style.width = `${Math.round(100 * fraction)}%`;
  bar.parentElement.setAttribute("aria-valuenow", String(Math.round(100 * fraction)));
}

function submit(taskName, options, file) {
  const query = new URLSearchParams({ task: taskName, options: JSON.stringify(options) });
  if (file) query.set("filename", file.name);
  setBar("upload-bar", 0); setBar("job-bar", 0);
  setStatus(file ? "Uploading…" : "Starting…");
  const request = new XMLHttpRequest();
  request.open("POST", `/api/jobs?${query}`);
  request.upload.onprogress = (event) => { if (event.lengthComputable) setBar("upload-bar", event.loaded / event.total); };
  request.onload = () => {
    let body = {};
    try { body = JSON.parse(request.responseText); } catch (_) { /* not JSON: reported below */ }
    if (request.status === 201) { setBar("upload-bar", 1); follow(body.id); return; }
    const retry = request.getResponseHeader("Retry-After");
    setStatus(`${body.detail || request.statusText}${retry ? ` (retry in ${retry} s)` : ""}`, true);
    setBusy(false);
  };
  request.onerror = () => { setStatus("The studio cannot be reached.", true); setBusy(false); };
  setBusy(true);
  request.send(file || null);
}

function setBusy(busy) {
  $("start").disabled = busy || !state.file;
  $("generate").disabled = busy;
}

async function follow(id) {
  for (;;) {
    const response = await fetch(`/api/jobs/${id}`);
    if (!response.ok) { setStatus("The job was removed.", true); setBusy(false); return; }
    const job = await response.json();
    setBar("job-bar", job.progress);
    if (job.state === "failed") { setStatus(`Failed: ${job.error}`, true); setBusy(false); return; }
    if (job.state === "done") { setStatus("Done."); setBusy(false); show(job); return; }
    setStatus(`${job.state === "queued" ? "Waiting for a worker" : job.stage}…`);
    await new Promise((resolve) => setTimeout(resolve, 700));
  }
}

$("start").addEventListener("click", () => {
  const taskName = task();
  const options = { model: $("model").value };
  if (taskName === "variations") {
    Object.assign(options, { stem: $("stem").value, n: Number($("var-n").value), strength: Number($("strength").value) });
    delete options.model;
  }
  submit(taskName, options, state.file);
});
$("generate").addEventListener("click", () => {
  const options = {
    style: $("style").value, bars: Number($("bars").value), n: Number($("gen-n").value),
    key: $("key").value,
  };
  if ($("temperature").value !== "") options.temperature = Number($("temperature").value);
  if ($("seed").value !== "") options.seed = Number($("seed").value);
  if ($("mode").value === "interpolate") { options.interpolate = Number($("steps").value); delete options.n; }
  submit("generate", options, null);
});
function showModeOptions() {
  for (const el of document.querySelectorAll(".for-interpolate")) el.hidden = $("mode").value !== "interpolate";
}
$("mode").addEventListener("change", showModeOptions);
showModeOptions();

// --- results ------------------------------------------------------------------------------------------------------
function fileUrl(job, name) { return `/api/jobs/${job.id}/files/${name.split("/").map(encodeURIComponent).join("/")}`; }
function element(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) el.setAttribute(key, value);
  el.append(...children);
  return el;
}
function download(job, name, label) { return element("a", { href: fileUrl(job, name), download: name.split("/").pop() }, label); }

function show(job) {
  stopAll();
  state.mixer = [];
  const items = $("items");
  items.replaceChildren();
  $("results").hidden = false;
  $("transport").hidden = job.task !== "separate";
  $("zip").href = `/api/jobs/${job.id}/zip`;
  const wavs = job.files.filter((name) => name.endsWith(".wav"));
  if (job.task === "separate") {
    for (const stem of job.summary.stems) items.append(stemRow(job, stem));
  } else if (job.task === "analyze") {
    const rows = Object.entries(job.summary.stems).map(([name, stem]) => element("tr", {},
      element("td", {}, name), element("td", {}, stem.family),
      element("td", {}, stem.instruments.map((i) => i.name).join(", ")), element("td", {}, String(stem.notes))));
    items.append(element("table", {}, element("tr", {}, ...["stem", "family", "instruments", "notes"].map((h) =>
      element("th", {}, h))), ...rows));
    items.append(element("p", {}, download(job, "analysis/notes.mid", "notes.mid"), " · ",
      download(job, "analysis/score.musicxml", "score.musicxml"), " · ",
      download(job, "analysis/analysis.json", "analysis.json")));
    items.append(element("iframe", { src: fileUrl(job, "analysis/report.html"), title: "analysis report" }));
  } else {
    for (const name of wavs) {
      const base = name.replace(/\.wav$/, "");
      const picture = job.files.find((f) => f === `${base}.png`) ||
        job.files.find((f) => f.endsWith("-variations.png"));
      const row = element("div", { class: "item" }, element("header", {}, element("h3", {}, base),
        download(job, name, "download"),
        ...(job.files.includes(`${base}.mid`) ? [download(job, `${base}.mid`, "MIDI")] : [])));
      if (picture && job.task === "generate") row.append(element("img", { src: fileUrl(job, picture), alt: `piano roll of ${base}` }));
      row.append(element("audio", { controls: "", preload: "auto", src: fileUrl(job, name) }));
      items.append(row);
    }
    const spectrogram = job.files.find((f) => f.endsWith("-variations.png"));
    if (spectrogram) items.append(element("img", { src: fileUrl(job, spectrogram), alt: "spectrograms of the variations" }));
  }
}

function stemRow(job, stem) {
  const solo = element("button", { type: "button", class: "toggle", "aria-pressed": "false" }, "Solo");
  const mute = element("button", { type: "button", class: "toggle", "aria-pressed": "false" }, "Mute");
  const volume = element("input", { type: "range", min: "0", max: "1.5", step: "0.05", value: "1", class: "volume",
    "aria-label": `${stem} volume` });
  const channel = { stem, solo: false, mute: false, volume: 1, gain: null, buffer: null, url: fileUrl(job, `${stem}.wav`) };
  state.mixer.push(channel);
  solo.addEventListener("click", () => { channel.solo = !channel.solo; solo.setAttribute("aria-pressed", String(channel.solo)); mix(); });
  mute.addEventListener("click", () => { channel.mute = !channel.mute; mute.setAttribute("aria-pressed", String(channel.mute)); mix(); });
  volume.addEventListener("input", () => { channel.volume = Number(volume.value); mix(); });
  return element("div", { class: "item", "data-stem": stem },
    element("header", {}, element("h3", {}, stem), solo, mute, volume, download(job, `${stem}.wav`, "download")),
    element("img", { src: fileUrl(job, `${stem}.png`), alt: `waveform and spectrogram of the ${stem}` }),
    element("audio", { controls: "", preload: "auto", src: channel.url }));
}

// The mixer: every stem decoded into Web Audio and started together; solo, mute and volume set each stem's gain.
function mix() {
  const soloing = state.mixer.some((c) => c.solo);
  for (const channel of state.mixer) {
    const audible = soloing ? channel.solo : !channel.mute;
    if (channel.gain) channel.gain.gain.value = audible ? channel.volume : 0;
  }
}
async function playAll() {
  stopAll();
  state.audio = state.audio || new AudioContext();
  const context = state.audio;
  await Promise.all(state.mixer.map(async (channel) => {
    if (!channel.buffer) channel.buffer = await context.decodeAudioData(await (await fetch(channel.url)).arrayBuffer());
  }));
  const start = context.currentTime + 0.1;
  for (const channel of state.mixer) {
    const source = context.createBufferSource();
    source.buffer = channel.buffer;
    channel.gain = context.createGain();
    source.connect(channel.gain).connect(context.destination);
    source.start(start);
    state.playing.push(source);
  }
  mix();
}
function stopAll() {
  for (const source of state.playing) { try { source.stop(); } catch (_) { /* already stopped */ } }
  state.playing = [];
}
$("play").addEventListener("click", playAll);
$("stop").addEventListener("click", stopAll);
