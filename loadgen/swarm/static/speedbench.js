// The speedbench tab's live charts (inline SVG, no network): polls ./speedbench/live while the
// tab is open and draws under its table. Loaded by loadgen/swarm/webui.py into Locust's page.
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const W = 520, H = 160, PAD = 36;

  function el(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function frame(title) {
    const svg = el("svg", { width: W, height: H + 24, role: "img", "aria-label": title });
    svg.appendChild(el("text", { x: 4, y: 14, "font-size": 13, fill: "currentColor" }, title));
    return svg;
  }

  function line(title, points, unit) {
    const svg = frame(title);
    svg.dataset.chart = title;
    if (!points.length) return svg;
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    const x1 = Math.max(...xs, 1), y1 = Math.max(...ys, 1e-9);
    const sx = (x) => PAD + (x / x1) * (W - 2 * PAD);
    const sy = (y) => 24 + H - 16 - (y / y1) * (H - 24);
    svg.appendChild(el("polyline", {
      points: points.map((p) => sx(p[0]) + "," + sy(p[1])).join(" "),
      fill: "none", stroke: "#4e9af1", "stroke-width": 2,
    }));
    svg.appendChild(el("text", { x: W - PAD, y: 14, "text-anchor": "end", "font-size": 11,
      fill: "currentColor" }, "max " + y1.toFixed(2) + " " + unit + ", " + x1 + " s"));
    return svg;
  }

  function bars(title, labels, values, unit) {
    const svg = frame(title);
    svg.dataset.chart = title;
    const top = Math.max(...values, 1e-9), n = Math.max(values.length, 1);
    const bw = (W - 2 * PAD) / n;
    values.forEach((v, i) => {
      const h = (v / top) * (H - 40);
      const x = PAD + i * bw;
      svg.appendChild(el("rect", { x: x + 2, y: 24 + H - 20 - h, width: Math.max(bw - 4, 1),
        height: h, fill: "#6cc070" }));
      svg.appendChild(el("text", { x: x + bw / 2, y: H + 20, "text-anchor": "middle",
        "font-size": 10, fill: "currentColor", class: "label" }, labels[i]));
      svg.appendChild(el("text", { x: x + bw / 2, y: 20 + H - 22 - h, "text-anchor": "middle",
        "font-size": 10, fill: "currentColor" }, (+v).toFixed(unit ? 1 : 0)));
    });
    return svg;
  }

  function latency(data) {
    const labels = [], values = [];
    for (const name in data) {
      for (const q of ["p50", "p90", "p99"]) {
        labels.push(name.split(" ")[0] + " " + q);
        values.push(data[name][q] || 0);
      }
    }
    return bars("latency percentiles (ms; TPOT and ITL per token)", labels, values, "ms");
  }

  function render(box, d) {
    box.replaceChildren();
    const note = (text, cls) => {
      const p = document.createElement("p");
      p.className = cls;
      p.textContent = text;
      box.appendChild(p);
    };
    note("run: " + (d.ended || "running"), "speedbench-ended");
    if (d.merged_chunks) {
      note("FLAG: " + d.merged_chunks + " chunks longer than 1 + k = " + (d.draft_length + 1) +
        " tokens: chunks merged in transit (per-token latencies are coarse)", "speedbench-flag");
    }
    box.appendChild(line("output tokens/s", d.tokens_per_s || [], "tok/s"));
    box.appendChild(latency(d.latency_ms || {}));
    const hist = d.tokens_per_chunk || [];
    box.appendChild(bars("tokens per chunk (after the first)", hist.map((h) => String(h[0])),
      hist.map((h) => h[1]), ""));
    if ((d.acceptance || []).length) {
      box.appendChild(line("engine acceptance length over the run",
        d.acceptance.map((a) => [a.t, a.length]), "tokens/step"));
    }
    if ((d.final || []).length) {
      const table = document.createElement("table");
      table.className = "speedbench-final";
      for (const row of d.final) {
        const tr = table.insertRow();
        tr.insertCell().textContent = row.name;
        tr.insertCell().textContent = row.value === null ? "-" : String(row.value);
      }
      box.appendChild(table);
    }
  }

  async function tick() {
    const open = new URLSearchParams(location.search).get("tab") === "speedbench";
    let box = document.getElementById("speedbench-charts");
    if (!open) {
      if (box) box.remove();
      return;
    }
    if (!box) {
      box = document.createElement("div");
      box.id = "speedbench-charts";
      box.style.padding = "8px";
    }
    const table = document.querySelector("main table") || document.querySelector("table");
    const host = table ? table.closest("div").parentElement : document.body;
    if (box.parentElement !== host) host.appendChild(box);
    try {
      const res = await fetch("./speedbench/live");
      render(box, await res.json());
    } catch (e) {
      /* the next tick retries */
    }
  }
  setInterval(tick, 2000);
})();
