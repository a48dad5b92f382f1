// msdepth app: the page's logic. Talks only to the server that served it (see server.py).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const state = { card: null, colormap: [], result: null, depth: null, viewer: null,
                  viewerLoaded: null, last: null, photoUrl: null, points: null, video: null };

  // ---- messages --------------------------------------------------------------------------
  function sayIn(id, text, isError) {
    const m = $(id);
    m.textContent = text;
    m.classList.toggle("error", !!isError);
  }

  const say = (text, isError) => sayIn("message", text, isError);
  const sayVideo = (text, isError) => sayIn("video-message", text, isError);

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
    const formats = $("depth-format");
    for (const [name, description] of Object.entries(body.depth_formats)) {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      option.title = description;
      formats.appendChild(option);
    }
    if (!body.video.available) {
      $("video-unavailable").textContent = body.video.message;
      $("video-unavailable").hidden = false;
      $("video-input").disabled = true;
    } else {
      $("video-drop").title = `clips up to ${body.video.max_seconds} s and ${body.max_megapixels} megapixels a frame`;
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

  // POST `body` to `url`; the answer's JSON, or null once `sayFn` has shown why not.
  async function post(url, body, sayFn) {
    let response;
    try {
      response = await fetch(url, { method: "POST", body });
    } catch (e) {
      sayFn(`The app cannot be reached (${e.message}); is it still running?`, true);
      return null;
    }
    if (!response.ok) { sayFn(await errorOf(response), true); return null; }
    return response.json();
  }

  async function submit(blob, filename) {
    state.last = { blob, filename };
    $("rerun").disabled = false;
    const query = options();
    query.set("filename", filename);
    let sayFn = say;
    if (state.points) {
      // the known depths go first; the photo's job names them (predict --align NAME)
      say(`Sending ${state.points.name}...`);
      const points = await post(`/api/points?${new URLSearchParams({ filename: state.points.name })}`,
                                state.points, say);
      if (!points) return;
      query.set("points", points.id);
      query.set("align_mode", $("align-mode").value);
      query.set("depth_format", $("depth-format").value);
      sayFn = (text, isError) => {
        if (isError && text.includes(points.name)) {
          // a points file predict refuses is forgotten, so that the next photo goes through
          takePoints(null);
          text += ` (${points.name} is no longer used: choose a corrected file, or send the photo again without it)`;
        }
        say(text, isError);
      };
    }
    say(`Sending ${filename}...`);
    const job = await post(`/api/jobs?${query}`, blob, sayFn);
    if (!job) return;
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = URL.createObjectURL(blob);
    await wait(job.id, filename, show, sayFn, "predicting depth");
  }

  async function wait(id, filename, done, sayFn, doing) {
    for (;;) {
      const response = await fetch(`/api/jobs/${id}`);
      if (!response.ok) { sayFn(await errorOf(response), true); return; }
      const job = await response.json();
      if (job.state === "done") { await done(job.result); return; }
      if (job.state === "error") { sayFn(job.error, true); return; }
      sayFn(job.state === "queued" && job.position > 0
        ? `${filename}: waiting, ${job.position} request(s) ahead of yours...`
        : `${filename}: ${doing}...`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  // ---- known distances (predict --align) -------------------------------------------------
  function takePoints(file) {
    state.points = file || null;
    $("points-clear").hidden = !file;
    $("points-name").textContent = file
      ? `${file.name}: fitted to the next photo (or press "Run again")`
      : "A CSV of u,v,depth_m (pixels of the photo), or a sparse depth image of the photo's size.";
  }

  function alignmentText(result) {
    const fit = result.alignment;
    if (!fit) return "";
    const num = (v, digits) => (v === null || v === undefined ? "n/a" : v.toFixed(digits));
    return `Aligned to known distances (${fit.source}, ${fit.mode}): ${fit.fit_points} of ` +
      `${fit.points} points fitted, ${fit.held_out} held out` +
      (fit.rejected ? `, ${fit.rejected} rejected as outliers` : "") +
      `. On the held-out points: abs rel ${num(fit.before.held_out_abs_rel, 3)} -> ` +
      `${num(fit.after.held_out_abs_rel, 3)}, RMSE ${num(fit.before.held_out_rmse, 3)} -> ` +
      `${num(fit.after.held_out_rmse, 3)} m. The depth shown and the downloads are aligned.`;
  }

  // ---- showing a result ------------------------------------------------------------------
  async function show(result) {
    state.result = result;
    state.depth = null;
    state.viewerLoaded = null;
    $("depth-empty").hidden = true;
    $("depth-content").hidden = false;
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
    $("alignment").hidden = !result.aligned;
    $("alignment").textContent = alignmentText(result);
    $("viewer-info").textContent = `${result.view_points.toLocaleString()} points shown (every k-th pixel); the PLY has all.`;
    say(`${result.name}: ${result.width}x${result.height}, depth ${result.depth.min.toFixed(2)}-${result.depth.max.toFixed(2)} m; ` +
        `focal ${Math.round(result.fx)} px (${result.focal_source})${result.focal_note ? "; " + result.focal_note : ""}` +
        (result.aligned ? `; aligned (${result.alignment.mode}) to ${result.alignment.source}.` : "."));
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

  // ---- the video tab ---------------------------------------------------------------------
  async function submitVideo(file) {
    const filename = file.name || "clip.mp4";
    const query = options();
    query.set("filename", filename);
    query.set("stabilize", $("stabilize").checked ? "1" : "0");
    if ($("video-panel").checked) query.set("panel", "1");
    if ($("video-colorbar").checked) query.set("colorbar", "1");
    sayVideo(`Sending ${filename}...`);
    const job = await post(`/api/videos?${query}`, file, sayVideo);
    if (!job) return;
    await wait(job.id, filename, showVideo, sayVideo, "predicting the depth of every frame");
  }

  async function showVideo(result) {
    state.video = result;
    const video = $("depth-video"), file = result.downloads[0];
    video.dataset.ready = "0";
    const loaded = new Promise((resolve) => {
      video.onloadeddata = () => resolve(true);
      video.onerror = () => resolve(false);
    });
    video.src = file.url;
    $("video-content").hidden = false;
    const downloads = $("video-downloads");
    downloads.textContent = "";
    downloads.appendChild(link("download-video", file.url, file.file, `depth video (H.264 mp4): ${file.file}`));
    $("video-command").textContent = result.command;
    const played = await loaded;
    if (state.video !== result) return;
    const text = `${result.name}: ${result.frames} frames at ${+result.rate.toFixed(3)} fps, ` +
      `${result.width}x${result.height}; colours ${result.range.vmin.toFixed(2)} m (bright) to ` +
      `${result.range.vmax.toFixed(2)} m (dark) in every frame; focal ${Math.round(result.fx)} px ` +
      `(${result.focal_source})${result.stabilized ? "; stabilised" : ""}.`;
    if (played) {
      video.dataset.ready = "1";
      sayVideo(text);
    } else {
      sayVideo(`${text} This browser cannot play H.264 here: download the file.`, true);
    }
  }

  function isVideo(file) {
    return (file.type || "").startsWith("video/") ||
      /\.(mp4|mov|avi|mkv|webm|m4v|mpe?g)$/i.test(file.name || "");
  }

  function takeVideo(file) {
    if (!file) return;
    selectTab($("tab-video"));
    if ($("video-input").disabled) return;
    submitVideo(file);
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
    if (file && isVideo(file)) takeVideo(file);
    else if (file) submit(file, file.name || "pasted.png");
  }

  function dropZone(zone, take) {
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      take(e.dataTransfer.files[0]);
    });
  }

  function init() {
    for (const b of document.querySelectorAll("#tabs button")) {
      b.addEventListener("click", () => selectTab(b));
    }
    $("file-input").addEventListener("change", (e) => { takeFile(e.target.files[0]); e.target.value = ""; });
    $("video-input").addEventListener("change", (e) => { takeVideo(e.target.files[0]); e.target.value = ""; });
    $("points-input").addEventListener("change", (e) => { takePoints(e.target.files[0]); e.target.value = ""; });
    $("points-clear").addEventListener("click", () => takePoints(null));
    dropZone($("drop"), takeFile);
    dropZone($("video-drop"), takeVideo);
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
