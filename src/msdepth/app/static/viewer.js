// msdepth app: a small WebGL point-cloud viewer (hand-written, no library).
// Points arrive in the camera frame of the photo, as msdepth writes PLY files: x right, y down,
// z forward, metres. The view starts at the camera and orbits around the cloud's median point.
"use strict";

(function () {
  const VERTEX = `
    attribute vec3 position;
    attribute vec3 color;
    uniform mat4 view;
    uniform mat4 projection;
    uniform float pointSize;
    varying vec3 vColor;
    void main() {
      // camera frame (y down, z forward) -> GL (y up, z backward)
      vec4 p = view * vec4(position.x, -position.y, -position.z, 1.0);
      gl_Position = projection * p;
      // seen from the photo's camera, neighbours are pointSize pixels apart at any depth
      gl_PointSize = clamp(pointSize * position.z / max(-p.z, 0.01), 1.0, 32.0);
      vColor = color;
    }`;
  const FRAGMENT = `
    precision mediump float;
    varying vec3 vColor;
    void main() { gl_FragColor = vec4(vColor, 1.0); }`;

  function compile(gl, type, source) {
    const shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
      throw new Error("shader: " + gl.getShaderInfoLog(shader));
    }
    return shader;
  }

  function perspective(fovy, aspect, near, far) {
    const f = 1 / Math.tan(fovy / 2), nf = 1 / (near - far);
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (far + near) * nf, -1,
      0, 0, 2 * far * near * nf, 0]);
  }

  function multiply(a, b) { // column-major 4x4: a * b
    const out = new Float32Array(16);
    for (let c = 0; c < 4; c++) {
      for (let r = 0; r < 4; r++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += a[k * 4 + r] * b[c * 4 + k];
        out[c * 4 + r] = s;
      }
    }
    return out;
  }

  function translation(x, y, z) {
    return new Float32Array([1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, x, y, z, 1]);
  }

  function rotationX(a) {
    const c = Math.cos(a), s = Math.sin(a);
    return new Float32Array([1, 0, 0, 0, 0, c, s, 0, 0, -s, c, 0, 0, 0, 0, 1]);
  }

  function rotationY(a) {
    const c = Math.cos(a), s = Math.sin(a);
    return new Float32Array([c, 0, -s, 0, 0, 1, 0, 0, s, 0, c, 0, 0, 0, 0, 1]);
  }

  function median(values) {
    const sorted = Float32Array.from(values).sort();
    return sorted.length ? sorted[sorted.length >> 1] : 1;
  }

  class PointCloudViewer {
    // canvas: a <canvas>; throws an Error with a readable message when WebGL is unavailable.
    constructor(canvas) {
      this.canvas = canvas;
      const options = { antialias: false, preserveDrawingBuffer: true };
      this.gl = canvas.getContext("webgl", options) || canvas.getContext("experimental-webgl", options);
      if (!this.gl) throw new Error("this browser cannot show 3D (WebGL is off or unavailable)");
      const gl = this.gl;
      const program = gl.createProgram();
      gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
      gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
      gl.linkProgram(program);
      if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
        throw new Error("shader program: " + gl.getProgramInfoLog(program));
      }
      this.program = program;
      this.where = {
        position: gl.getAttribLocation(program, "position"),
        color: gl.getAttribLocation(program, "color"),
        view: gl.getUniformLocation(program, "view"),
        projection: gl.getUniformLocation(program, "projection"),
        pointSize: gl.getUniformLocation(program, "pointSize"),
      };
      this.positions = gl.createBuffer();
      this.colors = gl.createBuffer();
      this.count = 0;
      this.fovy = 0.8;
      this.reset();
      this._listen();
    }

    // buffer: ArrayBuffer of count float32 x y z, then count uint8 r g b, taken from every
    // step-th row and column of a photo of `height` rows with focal length fy (pixels).
    setPoints(buffer, count, fy, height, step) {
      const gl = this.gl;
      const xyz = new Float32Array(buffer, 0, count * 3);
      const rgb = new Uint8Array(buffer, count * 12, count * 3);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.positions);
      gl.bufferData(gl.ARRAY_BUFFER, xyz, gl.STATIC_DRAW);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.colors);
      gl.bufferData(gl.ARRAY_BUFFER, rgb, gl.STATIC_DRAW);
      this.count = count;
      const xs = new Float32Array(count), ys = new Float32Array(count), zs = new Float32Array(count);
      for (let i = 0; i < count; i++) { xs[i] = xyz[3 * i]; ys[i] = xyz[3 * i + 1]; zs[i] = xyz[3 * i + 2]; }
      this.center = [median(xs), -median(ys), -median(zs)]; // in GL coordinates
      this.fovy = fy && height ? 2 * Math.atan(height / 2 / fy) : 0.8;
      this.rowsPerPoint = (step || 1) / (height || 480);
      this.reset();
    }

    reset() { // back at the camera that took the photo, looking along its axis
      const center = this.center || [0, 0, -3];
      this.yaw = 0; this.pitch = 0;
      this.pan = [center[0], center[1]];
      this.distance = Math.max(0.05, -center[2]);
      this.draw();
    }

    _listen() {
      const c = this.canvas;
      let last = null, mode = "turn";
      c.addEventListener("contextmenu", (e) => e.preventDefault());
      c.addEventListener("pointerdown", (e) => {
        last = [e.clientX, e.clientY];
        mode = e.button === 2 || e.shiftKey ? "move" : "turn";
        c.setPointerCapture(e.pointerId);
      });
      c.addEventListener("pointerup", () => { last = null; });
      c.addEventListener("pointermove", (e) => {
        if (!last) return;
        const dx = e.clientX - last[0], dy = e.clientY - last[1];
        last = [e.clientX, e.clientY];
        if (mode === "turn") {
          this.yaw += dx * 0.008;
          this.pitch = Math.max(-1.5, Math.min(1.5, this.pitch + dy * 0.008));
        } else {
          const k = this.distance * 0.0015;
          this.pan[0] += dx * k; this.pan[1] -= dy * k;
        }
        this.draw();
      });
      c.addEventListener("wheel", (e) => {
        e.preventDefault();
        this.distance = Math.max(0.05, this.distance * Math.exp(e.deltaY * 0.001));
        this.draw();
      }, { passive: false });
      c.addEventListener("dblclick", () => this.reset());
    }

    draw() {
      const gl = this.gl, c = this.canvas;
      const width = c.clientWidth || c.width, height = c.clientHeight || c.height;
      if (c.width !== width || c.height !== height) { c.width = width; c.height = height; }
      gl.viewport(0, 0, c.width, c.height);
      gl.clearColor(0.07, 0.07, 0.08, 1);
      gl.clear(gl.COLOR_BUFFER_BIT | gl.DEPTH_BUFFER_BIT);
      if (!this.count) return;
      gl.enable(gl.DEPTH_TEST);
      gl.useProgram(this.program);
      const center = this.center;
      let view = translation(-center[0], -center[1], -center[2]);
      view = multiply(rotationY(this.yaw), view);
      view = multiply(rotationX(this.pitch), view);
      view = multiply(translation(this.pan[0], this.pan[1], -this.distance), view);
      const far = Math.max(100, this.distance * 20);
      gl.uniformMatrix4fv(this.where.view, false, view);
      gl.uniformMatrix4fv(this.where.projection, false,
        perspective(this.fovy, c.width / c.height, 0.01, far));
      gl.uniform1f(this.where.pointSize, 1.25 * this.rowsPerPoint * c.height);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.positions);
      gl.enableVertexAttribArray(this.where.position);
      gl.vertexAttribPointer(this.where.position, 3, gl.FLOAT, false, 0, 0);
      gl.bindBuffer(gl.ARRAY_BUFFER, this.colors);
      gl.enableVertexAttribArray(this.where.color);
      gl.vertexAttribPointer(this.where.color, 3, gl.UNSIGNED_BYTE, true, 0, 0);
      gl.drawArrays(gl.POINTS, 0, this.count);
    }
  }

  window.PointCloudViewer = PointCloudViewer;
})();
