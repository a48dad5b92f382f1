// msdepth app: the page's logic. Talks only to the server that served it (see server.py).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { card: null, colormap: [], result: null, depth: null, viewer: null,
                  viewerLoaded: null, last: null, photoUrl: null };

  // ---- messages --------------------------------------------------------------------------
  function say(text, isError) {
    const m = $("message");
    m.textContent = text;
    m.classList.toggle("error", !!isError);
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return `the server answered ${response.status} ${response.statusText}`;
  }

  // ---- the model card and examples -------------------------------------------------------
  async function loadModel() {
    const response = await fetch("/api/model");
    const body = await response.json();
    state.card = body.card;
    state.colormap = body.colormap;
    const card = body.card;
    $("model-line").textContent = `Model: ${card.checkpoint} (${card.stage}, input ${card.input_size}, ${card.device}).`;
    const rows = [
      ["checkpoint", card.checkpoint],
      ["stage", card.stage],
      ["steps trained", Object.entries(card.steps).map(([k, v]) => `${k} ${v}`).join(", ") || "not recorded"],
      ["steps planned", `coarse ${card.planned_steps.coarse}, fine ${card.planned_steps.fine}, batch ${card.planned_steps.batch_size}`],
      ["training data", card.training_data],
      ["validation metrics", Object.entries(card.validation).map(([k, v]) => `${k} ${v}`).join(", ") || "not recorded"],
      ["training focal", card.training_focal],
      ["input size", `${card.input_size} (whole photo resized; depth upsampled back; scale x${card.scale_correction})`],
      ["runs on", `${card.backend}, ${card.device}`],
      ["largest photo", `${body.max_megapixels} megapixels, ${body.max_upload_mb} MB`],
    ];
    const table = $("card");
    table.textContent = "";
    for (const [key, value] of rows) {
      const tr = table.insertRow();
      tr.insertCell().textContent = key;
      tr.insertCell().textContent = String(value);
    }
    const examples = $("examples");
    for (const ex of body.examples) {
      const button = document.createElement("button");
      button.type = "button";
      button.title = ex.name;
      button.id = `example-${ex.name}`;
      const img = document.createElement("img");
      img.alt = ex.name;
      img.loading = "lazy";
      img.src = ex.url;
      button.appendChild(img);
      button.addEventListener("click", async () => {
        say(`Loading ${ex.name}...`);
        const response = await fetch(ex.url);
        if (!response.ok) { say(await errorOf(response), true); return; }
        submit(await response.blob(), `${ex.name}.png`);
      });
      examples.appendChild(button);
    }
  }

  // ---- submitting and waiting ------------------------------------------------------------
  function options() {
    const query = new URLSearchParams();
    const fov = $("fov").value.trim(), focal = $("focal").value.trim();
    if (fov) query.set("fov", fov);
    if (focal) query.set("focal", focal);
    if ($("flip").checked) query.set("flip", "1");
    return query;
  }

  async function submit(blob, filename) {
    state.last = { blob, filename };
    $("rerun").disabled = false;
    const query = options();
    query.set("filename", filename);
    say(`Sending ${filename}...`);
    let response;
    try {
      response = await fetch(`/api/jobs?${query}`, { method: "POST", body: blob });
    } catch (e) {
      say(`The app cannot be reached (${e.message}); is it still running?`, true);
      return;
    }
    if (!response.ok) { say(await errorOf(response), true); return; }
    const job = await response.json();
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = URL.createObjectURL(blob);
    await wait(job.id, filename);
  }

  async function wait(id, filename) {
    for (;;) {
      const response = await fetch(`/api/jobs/${id}`);
      if (!response.ok) { say(await errorOf(response), true); return; }
      const job = await response.json();
      if (job.state === "done") { await show(job.result); return; }
      if (job.state === "error") { say(job.error, true); return; }
      say(job.state === "queued" && job.position > 0
        ? `${filename}: waiting, ${job.position} request(s) ahead of yours...`
        : `${filename}: predicting depth...`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // ---- showing a result ------------------------------------------------------------------
  async function show(result) {
    state.result = result;
    state.depth = null;
    state.viewerLoaded = null;
    $("result").hidden = false;
    const depthImage = $("depth-image");
    depthImage.dataset.ready = "0";
    $("input-image").src = state.photoUrl;
    $("vmin").value = result.range.vmin;
    $("vmax").value = result.range.vmax;
    await recolor();
    const downloads = $("downloads");
    downloads.textContent = "";
    for (const file of result.downloads) {
      downloads.appendChild(link(`download-${file.kind}`, file.url, file.file, labelOf(file)));
    }
    downloads.appendChild(link("download-color", `${result.color_url}?${rangeQuery()}&colorbar=1`,
      `${result.name}.color.png`, "colour depth with bar (PNG)"));
    $("command").textContent = result.command;
    $("viewer-info").textContent = `${result.view_points.toLocaleString()} points shown (every k-th pixel); the PLY has all.`;
    say(`${result.name}: ${result.width}x${result.height}, depth ${result.depth.min.toFixed(2)}-${result.depth.max.toFixed(2)} m; ` +
        `focal ${Math.round(result.fx)} px (${result.focal_source})${result.focal_note ? "; " + result.focal_note : ""}.`);
    loadDepthValues(result);
    if (!$("panel-3d").hidden) openViewer();
  }

  function labelOf(file) {
    const labels = { png16: "16-bit PNG (mm)", npy: "npy (float32 m)", ply: "PLY point cloud",
                     json: "JSON description", npz: "npz" };
    return `${labels[file.kind] || file.kind}: ${file.file}`;
  }

  function link(id, url, filename, text) {
    const a = document.createElement("a");
    a.id = id; a.href = url; a.download = filename; a.textContent = text;
    return a;
  }

  function rangeQuery() {
    return new URLSearchParams({ vmin: $("vmin").value, vmax: $("vmax").value }).toString();
  }

  async function recolor() {
    const result = state.result;
    if (!result) return;
    const vmin = parseFloat($("vmin").value), vmax = parseFloat($("vmax").value);
    if (!(vmin > 0 && vmax > vmin)) { say("The colour range needs 0 < start < end (metres).", true); return; }
    const image = $("depth-image");
    const url = `${result.color_url}?${rangeQuery()}`;
    const loaded = new Promise((resolve) => { image.onload = resolve; image.onerror = resolve; });
    image.src = url;
    await loaded;
    if (image.naturalWidth) {
      drawColorbar(vmin, vmax);
      image.dataset.ready = "1";
    } else {
      say(await errorOf(await fetch(url)), true);
    }
    const bar = $("download-color");
    if (bar) bar.href = `${result.color_url}?${rangeQuery()}&colorbar=1`;
  }

  // ---- the colour bar (the colormap of msdepth.visualize: colour follows inverse depth) ---
  function colorAt(depth, vmin, vmax) {
    const d = Math.min(Math.max(depth, vmin), vmax);
    const t = (1 / d - 1 / vmax) / (1 / vmin - 1 / vmax);
    const map = state.colormap;
    return map[Math.max(0, Math.min(map.length - 1, Math.round(t * (map.length - 1))))];
  }

  function niceStep(span) {
    const raw = span / 6, p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }

  function drawColorbar(vmin, vmax) {
    const canvas = $("colorbar"), image = $("depth-image");
    const height = Math.max(120, Math.round(image.clientHeight || 300));
    canvas.height = height;
    const ctx = canvas.getContext("2d");
    const top = 8, bottom = height - 8, barWidth = 16;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (let y = top; y < bottom; y++) {
      const depth = vmin + (vmax - vmin) * (y - top) / (bottom - top - 1);
      ctx.fillStyle = colorAt(depth, vmin, vmax);
      ctx.fillRect(0, y, barWidth, 1);
    }
    ctx.strokeStyle = "#888";
    ctx.strokeRect(0.5, top + 0.5, barWidth - 1, bottom - top - 1);
    ctx.fillStyle = "#1d1d22";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    const step = niceStep(vmax - vmin);
    for (let v = Math.ceil(vmin / step) * step; v <= vmax + 1e-9; v += step) {
      const y = top + (v - vmin) / (vmax - vmin) * (bottom - top - 1);
      ctx.fillRect(barWidth, Math.round(y), 4, 1);
      ctx.fillText(`${+v.toFixed(2)} m`, barWidth + 7, y);
    }
  }

  // ---- depth under the cursor (from the npy download: float32 metres) ---------------------
  async function loadDepthValues(result) {
    const npy = result.downloads.find((f) => f.kind === "npy");
    if (!npy) return;
    const response = await fetch(npy.url);
    if (!response.ok || state.result !== result) return;
    const buffer = await response.arrayBuffer();
    const bytes = new Uint8Array(buffer);
    const major = bytes[6];
    const view = new DataView(buffer);
    const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
    const start = (major === 1 ? 10 : 12) + headerLength;
    const header = new TextDecoder().decode(bytes.subarray(major === 1 ? 10 : 12, start));
    if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) return;
    state.depth = new Float32Array(buffer.slice(start));
  }

  function hover(event) {
    const result = state.result, image = $("depth-image");
    if (!result || !image.naturalWidth) return;
    const rect = image.getBoundingClientRect();
    const x = Math.floor((event.clientX - rect.left) * result.width / rect.width);
    const y = Math.floor((event.clientY - rect.top) * result.height / rect.height);
    if (x < 0 || y < 0 || x >= result.width || y >= result.height) return;
    if (!state.depth) { $("hover").textContent = `pixel (${x}, ${y}): loading depth values...`; return; }
    const d = state.depth[y * result.width + x];
    $("hover").textContent = d > 0 && isFinite(d)
      ? `pixel (${x}, ${y}): ${d.toFixed(3)} m` : `pixel (${x}, ${y}): no depth`;
  }

  // ---- the 3D view -----------------------------------------------------------------------
  async function openViewer() {
    const result = state.result;
    if (!result) return;
    try {
      if (!state.viewer) state.viewer = new window.PointCloudViewer($("viewer"));
    } catch (e) {
      $("viewer-info").textContent = e.message;
      return;
    }
    if (state.viewerLoaded === result) { state.viewer.draw(); return; }
    state.viewerLoaded = result;
    const response = await fetch(result.points_url);
    if (!response.ok) { say(await errorOf(response), true); return; }
    const buffer = await response.arrayBuffer();
    if (state.result !== result) return;
    state.viewer.setPoints(buffer, result.view_points, result.fy, result.height, result.view_step);
    $("viewer").dataset.points = String(result.view_points);
  }

  // ---- wiring ----------------------------------------------------------------------------
  function selectTab(button) {
    for (const b of document.querySelectorAll("#tabs button")) {
      b.classList.toggle("active", b === button);
      $(b.dataset.panel).hidden = b !== button;
    }
    if (button.id === "tab-3d") openViewer();
  }

  function takeFile(file) {
    if (file) submit(file, file.name || "pasted.png");
  }

  function init() {
    for (const b of document.querySelectorAll("#tabs button")) {
      b.addEventListener("click", () => selectTab(b));
    }
    $("file-input").addEventListener("change", (e) => { takeFile(e.target.files[0]); e.target.value = ""; });
    const drop = $("drop");
    drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (e) => {
      e.preventDefault();
      drop.classList.remove("over");
      takeFile(e.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (e) => {
      const item = [...(e.clipboardData || {}).items || []].find((i) => i.type.startsWith("image/"));
      if (item) takeFile(item.getAsFile());
    });
    $("rerun").addEventListener("click", () => { if (state.last) submit(state.last.blob, state.last.filename); });
    $("vmin").addEventListener("change", recolor);
    $("vmax").addEventListener("change", recolor);
    $("range-auto").addEventListener("click", () => {
      if (!state.result) return;
      $("vmin").value = state.result.range.vmin;
      $("vmax").value = state.result.range.vmax;
      recolor();
    });
    $("depth-image").addEventListener("mousemove", hover);
    window.addEventListener("resize", () => {
      if (state.result) drawColorbar(parseFloat($("vmin").value), parseFloat($("vmax").value));
      if (state.viewer && !$("panel-3d").hidden) state.viewer.draw();
    });
    loadModel().catch((e) => say(`Cannot read the model card (${e.message}).`, true));
  }

  init();
})();
