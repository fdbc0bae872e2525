// layerscope's HTML report. Draws the page from the JSON block
// #layerscope-data. Every text from the image is set with textContent (never
// as markup), and the page asks for nothing over the network.
(function () {
  "use strict";
  var DATA = JSON.parse(document.getElementById("layerscope-data").textContent);
  var UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  var MAX_RECTS = 3000;
  var LABEL_H = 15;
  var WASTED = 1, CACHE = 2, AGGREGATE = 4, SUBTREE = 8;

  function size(n) {
    var sign = n < 0 ? "-" : "";
    var v = Math.abs(n);
    if (v < 1024) return sign + Math.floor(v) + " B";
    var unit = UNITS[0];
    for (var i = 0; i < UNITS.length; i++) {
      v /= 1024;
      unit = UNITS[i];
      if (v < 1024) break;
    }
    return sign + v.toFixed(1) + " " + unit;
  }
  function exact(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",") + " bytes";
  }
  function pct(x) {
    return (x * 100).toFixed(1) + "%";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function add(parent) {
    for (var i = 1; i < arguments.length; i++) parent.appendChild(arguments[i]);
    return parent;
  }
  function layerColor(i) {
    if (i === null || i === undefined || i < 0) return "#cfd5df";
    var layer = DATA.layers[i];
    var hue = Math.round((i * 137.508 + 200) % 360);
    return layer && layer.origin === "base" ? "hsl(" + hue + ",14%,72%)" : "hsl(" + hue + ",62%,64%)";
  }
  function layerName(i) {
    var layer = DATA.layers[i];
    if (!layer) return "layer " + i;
    var cmd = (layer.instruction ? layer.instruction + " " : "") + layer.command;
    return "layer " + i + " (" + layer.origin + ")" + (cmd.trim() ? ": " + cmd : "");
  }

  // -- header and summary ---------------------------------------------------------------
  function header() {
    var img = DATA.image;
    document.title = "layerscope: " + (img.reference || img.id);
    var h = add(el("h1", null, "layerscope: " + (img.reference || img.id)));
    if (DATA.budgets.length) h.appendChild(el("span", "badge " + (DATA.passed ? "ok" : "FAIL"), DATA.passed ? "passed" : "failed"));
    var sub = [img.id, img.platform, DATA.tool];
    if (DATA.dockerfile) sub.push("Dockerfile: " + DATA.dockerfile);
    add(document.body, h, el("div", "sub", sub.filter(Boolean).join(" \u00b7 ")));
  }
  function card(key, value, extra) {
    return add(el("div", "card"), el("div", "k", key), el("div", "v", value), el("div", "x", extra || ""));
  }
  function summary() {
    var s = DATA.summary;
    var cards = el("div", "cards");
    cards.id = "summary";
    add(cards,
      card("Total", size(s.total), exact(s.total) + " in " + s.layers + " layers"),
      card("Final", size(s.final), exact(s.final) + ", " + s.files + " files"),
      card("Wasted", size(s.wasted), exact(s.wasted) + " (" + pct(s.total ? s.wasted / s.total : 0) + ")"),
      card("Reclaimable", size(s.reclaimable), exact(s.reclaimable)),
      card("Efficiency", pct(s.efficiency), "final / total"));
    if (s.download !== null) cards.appendChild(card("Layer blobs", size(s.download), exact(s.download) + " as stored"));
    add(document.body, el("h2", null, "Summary"), cards);
    var t = el("table");
    t.id = "sides";
    var head = add(el("tr"), el("th", null, ""), el("th", "num", "Layers"), el("th", "num", "Total"),
      el("th", "num", "Wasted"), el("th", "num", "Reclaimable"), el("th", "num", "Findings"));
    t.appendChild(head);
    [["base", s.base], ["own", s.own]].forEach(function (pair) {
      var side = pair[1];
      var name = pair[0] === "base" && s.base_reference ? "base (" + s.base_reference + ")" : pair[0];
      add(t, add(el("tr"), el("td", null, name), el("td", "num", side.layers), numCell(side.total),
        numCell(side.wasted), numCell(side.reclaimable), el("td", "num", side.findings)));
    });
    var note = s.base_layers === null ? "Where the base image ends is unknown: every layer counts as own." : "";
    add(document.body, t, el("div", "note", note));
  }
  function numCell(n) {
    var td = el("td", "num", size(n));
    td.title = exact(n);
    return td;
  }
  function budgets() {
    if (!DATA.budgets.length) return;
    var t = el("table");
    t.id = "budgets";
    t.appendChild(add(el("tr"), el("th", null, ""), el("th", null, "Budget"), el("th", null, "Actual vs limit")));
    DATA.budgets.forEach(function (b) {
      add(t, add(el("tr"), add(el("td"), el("span", "badge " + b.verdict, b.verdict)), add(el("td"), el("code", null, b.name)),
        el("td", null, b.relation)));
    });
    add(document.body, el("h2", null, "Budgets"), t);
  }

  // -- the treemap ----------------------------------------------------------------------
  function isDir(n) {
    return n.length === 4;
  }
  function worst(sum, max, min, side) {
    var s2 = side * side, sum2 = sum * sum;
    return Math.max((s2 * max) / sum2, sum2 / (s2 * min));
  }
  // Squarified treemap (Bruls, Huizing, van Wijk): items sorted by bytes, largest first.
  function squarify(items, x, y, w, h) {
    var out = [];
    var total = 0;
    items.forEach(function (k) { total += k[1]; });
    if (total <= 0 || w <= 0 || h <= 0) return out;
    var scale = (w * h) / total;
    var i = 0;
    while (i < items.length) {
      var side = Math.min(w, h);
      var a0 = items[i][1] * scale;
      var row = [items[i]], area = a0, max = a0, min = a0;
      var best = worst(area, max, min, side);
      var j = i + 1;
      while (j < items.length) {
        var a = items[j][1] * scale;
        var next = worst(area + a, Math.max(max, a), Math.min(min, a), side);
        if (next > best) break;
        row.push(items[j]);
        area += a; max = Math.max(max, a); min = Math.min(min, a); best = next;
        j++;
      }
      var k, p;
      if (w >= h) {
        var cw = area / h;
        p = y;
        for (k = 0; k < row.length; k++) {
          var kh = (row[k][1] * scale) / cw;
          out.push({ n: row[k], x: x, y: p, w: cw, h: kh });
          p += kh;
        }
        x += cw; w -= cw;
      } else {
        var rh = area / w;
        p = x;
        for (k = 0; k < row.length; k++) {
          var kw = (row[k][1] * scale) / rh;
          out.push({ n: row[k], x: p, y: y, w: kw, h: rh });
          p += kw;
        }
        y += rh; h -= rh;
      }
      i = j;
    }
    return out;
  }
  // The layer that added most of a directory's visible bytes (for a directory
  // too small to show its files), memoised per node.
  var dominant = new WeakMap();
  function mainLayer(node) {
    if (dominant.has(node)) return dominant.get(node);
    var per = {};
    (function walk(n) {
      if (isDir(n)) n[3].forEach(walk);
      else if (!(n[3] & WASTED)) per[n[2]] = (per[n[2]] || 0) + n[1];
    })(node);
    var best = -1, most = -1;
    Object.keys(per).forEach(function (k) {
      if (per[k] > most || (per[k] === most && Number(k) < best)) { most = per[k]; best = Number(k); }
    });
    dominant.set(node, best);
    return best;
  }
  function join(path, name) {
    return path === "/" ? "/" + name : path + "/" + name;
  }

  var tm = { box: null, crumbs: null, tip: null, stack: [DATA.tree], budget: 0 };

  function describe(info) {
    var n = info.node;
    var lines = [];
    if (isDir(n)) {
      lines.push(info.path + "/");
      lines.push(size(n[1]) + " (" + exact(n[1]) + ")");
      if (mainLayer(n) >= 0) lines.push("mostly " + layerName(mainLayer(n)));
      if (n[2]) lines.push("hidden copies inside: " + size(n[2]) + " (" + exact(n[2]) + ")");
      lines.push("click to open");
      return lines.join("\n");
    }
    var flags = n[3];
    if (flags & SUBTREE) lines.push(info.path + "/  (" + n[4] + " smaller files, summed)");
    else if (flags & AGGREGATE) lines.push(info.parent + (info.parent === "/" ? "" : "/") + "  (" + n[4] + " smaller files, summed)");
    else lines.push(info.path);
    lines.push(size(n[1]) + " (" + exact(n[1]) + ")");
    lines.push((flags & AGGREGATE ? "mostly " : "") + layerName(n[2]));
    if (flags & WASTED) lines.push("hidden copy: stored by layer " + n[2] + ", hidden by a later layer (wasted)");
    if (flags & CACHE) lines.push("package cache still in the final image");
    return lines.join("\n");
  }
  function place(node, x, y, w, h, parent, depth, path, chain) {
    var kids = node[3].filter(function (k) { return k[1] > 0; });
    squarify(kids, x, y, w, h).forEach(function (r) {
      if (tm.budget <= 0 || r.w * r.h < 2) return;
      tm.budget--;
      var k = r.n;
      var dir = isDir(k);
      var d = el("div", "tm");
      d.style.left = r.x + "px";
      d.style.top = r.y + "px";
      d.style.width = r.w + "px";
      d.style.height = r.h + "px";
      d.setAttribute("data-bytes", String(k[1]));
      d.setAttribute("data-depth", String(depth));
      var childPath = join(path, k[0]);
      d._info = { node: k, path: childPath, parent: path };
      var label = k[0];
      if (dir) {
        d.classList.add("dir");
        var sub = chain.concat([k]);
        d.addEventListener("click", function (e) {
          e.stopPropagation();
          tm.stack = sub;
          draw();
          tm.box.focus();
        });
        if (depth === 0) {
          d.tabIndex = 0;
          d.addEventListener("keydown", function (e) {
            if (e.key !== "Enter" && e.key !== " ") return;
            e.preventDefault();
            e.stopPropagation();
            d.click();
          });
        }
        if (r.w > 24 && r.h > LABEL_H) d.appendChild(el("div", "lbl", label + "/  " + size(k[1])));
        if (depth < 8 && r.w > 24 && r.h > LABEL_H + 10) place(k, 0, LABEL_H, r.w - 2, r.h - LABEL_H - 2, d, depth + 1, childPath, sub);
        else if (mainLayer(k) >= 0) d.style.backgroundColor = layerColor(mainLayer(k));
      } else {
        d.style.backgroundColor = layerColor(k[2]);
        if (k[3] & WASTED) d.classList.add("wasted");
        if (k[3] & CACHE) d.classList.add("cache");
        if (k[3] & AGGREGATE) {
          d.classList.add("agg");
          label = k[3] & SUBTREE ? label + "/ (" + k[4] + " files)" : "(" + k[4] + " smaller files)";
        }
        if (r.w > 40 && r.h > 14) d.appendChild(el("div", "lbl", label));
      }
      parent.appendChild(d);
    });
  }
  function crumbs() {
    tm.crumbs.textContent = "";
    tm.stack.forEach(function (node, i) {
      if (i) tm.crumbs.appendChild(el("span", "sep", " / "));
      var b = el("button", null, i ? node[0] : "/ (root)");
      b.disabled = i === tm.stack.length - 1;
      b.addEventListener("click", function () {
        tm.stack = tm.stack.slice(0, i + 1);
        draw();
      });
      tm.crumbs.appendChild(b);
    });
    var cur = tm.stack[tm.stack.length - 1];
    tm.crumbs.appendChild(el("span", "sub", "  " + size(cur[1]) + " (" + exact(cur[1]) + ")"));
  }
  function draw() {
    tm.box.textContent = "";
    tm.budget = MAX_RECTS;
    var path = "/";
    for (var i = 1; i < tm.stack.length; i++) path = join(path, tm.stack[i][0]);
    place(tm.stack[tm.stack.length - 1], 0, 0, tm.box.clientWidth, tm.box.clientHeight, tm.box, 0, path, tm.stack);
    crumbs();
  }
  function treemap() {
    add(document.body, el("h2", null, "Where the bytes are"),
      el("div", "note", "The final filesystem plus the hidden copies (stored by a layer, hidden by a later one), " +
        "by directory, sized by bytes and coloured by the layer that added each file. Click a directory (or Tab to it " +
        "and press Enter) to open it; Escape goes back up."));
    tm.crumbs = el("nav");
    tm.crumbs.id = "crumbs";
    tm.box = el("div");
    tm.box.id = "treemap";
    tm.tip = el("div");
    tm.tip.id = "tip";
    var legend = el("div", "legend");
    add(legend, add(el("span"), el("span", "sw wasted"), document.createTextNode("hidden copy (wasted)")),
      add(el("span"), el("span", "sw cache"), document.createTextNode("package cache")),
      el("span", null, "italic: smaller files summed"));
    DATA.layers.forEach(function (layer) {
      if (!layer.bytes) return;
      var sw = el("span", "sw");
      sw.style.backgroundColor = layerColor(layer.index);
      var item = add(el("span"), sw, document.createTextNode("#" + layer.index));
      item.title = layerName(layer.index);
      legend.appendChild(item);
    });
    add(document.body, tm.crumbs, tm.box, legend, tm.tip);
    tm.box.addEventListener("mousemove", function (e) {
      var t = e.target;
      while (t && t !== tm.box && !t._info) t = t.parentNode;
      if (!t || !t._info) {
        tm.tip.style.display = "none";
        return;
      }
      tm.tip.textContent = describe(t._info);
      tm.tip.style.display = "block";
      var x = Math.min(e.clientX + 14, window.innerWidth - tm.tip.offsetWidth - 8);
      var y = e.clientY + 16;
      if (y + tm.tip.offsetHeight > window.innerHeight) y = e.clientY - tm.tip.offsetHeight - 10;
      tm.tip.style.left = Math.max(0, x) + "px";
      tm.tip.style.top = Math.max(0, y) + "px";
    });
    tm.box.addEventListener("mouseleave", function () { tm.tip.style.display = "none"; });
    // Escape or Backspace: up one directory.
    tm.box.tabIndex = -1;
    tm.box.addEventListener("keydown", function (e) {
      if ((e.key === "Escape" || e.key === "Backspace") && tm.stack.length > 1) {
        e.preventDefault();
        tm.stack = tm.stack.slice(0, -1);
        draw();
        tm.box.focus();
      }
    });
    var pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(draw, 100);
    });
    draw();
  }

  // -- layers ---------------------------------------------------------------------------
  function layers() {
    var max = 1;
    DATA.layers.forEach(function (l) { max = Math.max(max, l.bytes); });
    var t = el("table", "bars");
    t.id = "layers";
    t.appendChild(add(el("tr"), el("th", "num", "#"), el("th", null, ""), el("th", null, "Kept / hidden later"),
      el("th", "num", "Bytes"), el("th", "num", "Hidden later"), el("th", null, "Command")));
    DATA.layers.forEach(function (l) {
      var bar = el("div", "bar");
      var kept = el("span");
      kept.style.width = ((100 * (l.bytes - l.wasted)) / max) + "%";
      kept.style.backgroundColor = layerColor(l.index);
      kept.title = "kept: " + exact(l.bytes - l.wasted);
      var hid = el("span", "hid");
      hid.style.width = ((100 * l.wasted) / max) + "%";
      hid.title = "hidden by later layers: " + exact(l.wasted);
      add(bar, kept, hid);
      var barCell = add(el("td"), bar);
      barCell.style.width = "35%";
      var cmd = add(el("td", "mono cmd"), el("span", null, (l.instruction ? l.instruction + " " : "") + l.command));
      add(t, add(el("tr"), el("td", "num", l.index), add(el("td"), el("span", "origin " + l.origin, l.origin)),
        barCell, numCell(l.bytes), numCell(l.wasted), cmd));
    });
    add(document.body, el("h2", null, "Layers"), el("div", "note", "Each layer's bytes: kept in the final image, " +
      "and hatched, hidden by a later layer (stored and downloaded for nothing)."), t);
  }

  // -- findings -------------------------------------------------------------------------
  function fixBlock(fix) {
    var pre = el("pre", "fix");
    fix.split("\n").forEach(function (line) {
      var cls = line.charAt(0) === "+" ? "add" : line.charAt(0) === "-" ? "del" : null;
      pre.appendChild(cls ? el("span", cls, line) : document.createTextNode(line + "\n"));
    });
    return pre;
  }
  function options(select, label, values) {
    select.appendChild(el("option", null, label)).value = "";
    values.forEach(function (v) { select.appendChild(el("option", null, v[1])).value = v[0]; });
  }
  function findings() {
    add(document.body, el("h2", null, "Findings"));
    if (!DATA.findings.length) {
      add(document.body, el("p", "empty", "No waste found."));
      return;
    }
    var rules = {}, layerSet = {};
    DATA.findings.forEach(function (f) {
      rules[f.rule] = f.kind;
      if (f.layer !== null) layerSet[f.layer] = true;
    });
    var ruleSel = el("select");
    ruleSel.id = "filter-rule";
    options(ruleSel, "every rule", Object.keys(rules).sort().map(function (r) { return [r, r + " " + rules[r]]; }));
    var layerSel = el("select");
    layerSel.id = "filter-layer";
    options(layerSel, "every layer", Object.keys(layerSet).map(Number).sort(function (a, b) { return a - b; })
      .map(function (i) { return [String(i), "layer " + i]; }));
    var count = el("span", "sub");
    count.id = "finding-count";
    add(document.body, add(el("div", "filters"), add(el("label", null, "Rule "), ruleSel),
      add(el("label", null, "Layer "), layerSel), count));
    var t = el("table");
    t.id = "findings";
    t.appendChild(add(el("tr"), el("th", "num", "Bytes"), el("th", null, "Rule"), el("th", null, "Layer"),
      el("th", null, "What and where"), el("th", null, "")));
    var rows = DATA.findings.map(function (f) {
      var what = el("td");
      what.appendChild(el("div", null, f.message));
      if (f.location) what.appendChild(el("div", "sub", f.location.file + " line " + f.location.line));
      if (f.paths.length) {
        var more = f.path_count > f.paths.length ? "  and " + (f.path_count - f.paths.length) + " more" : "";
        what.appendChild(el("div", "mono path", f.paths.slice(0, 5).join("\n") + more)).style.whiteSpace = "pre-wrap";
      }
      if (f.fix) add(what, add(el("details"), el("summary", null, "fix"), fixBlock(f.fix)));
      var layer = f.layer === null ? "" : "#" + f.layer + (f.hidden_by !== null ? " \u2192 #" + f.hidden_by : "");
      var tr = add(el("tr"), numCell(f.bytes), add(el("td", "nowrap"), el("code", null, f.rule), el("div", "sub", f.kind), el("div", "sub", f.severity)),
        add(el("td"), el("div", null, layer), el("span", "origin " + f.origin, f.origin)), what,
        el("td", "sub nowrap", f.reclaimable ? "reclaimable" : ""));
      tr.setAttribute("data-rule", f.rule);
      tr.setAttribute("data-layer", f.layer === null ? "" : String(f.layer));
      tr.className = "finding";
      t.appendChild(tr);
      return tr;
    });
    function filter() {
      var shown = 0;
      rows.forEach(function (tr) {
        var ok = (!ruleSel.value || tr.getAttribute("data-rule") === ruleSel.value) &&
          (!layerSel.value || tr.getAttribute("data-layer") === layerSel.value);
        tr.hidden = !ok;
        if (ok) shown++;
      });
      var more = DATA.finding_count > rows.length ? " (the " + rows.length + " biggest of " + DATA.finding_count + ")" : "";
      count.textContent = shown + " of " + rows.length + " findings" + more;
    }
    ruleSel.addEventListener("change", filter);
    layerSel.addEventListener("change", filter);
    filter();
    document.body.appendChild(t);
  }
  function warnings() {
    if (!DATA.warnings.length) return;
    add(document.body, el("h2", null, "Warnings"));
    DATA.warnings.forEach(function (w) { add(document.body, el("div", "warn-line", w)); });
  }

  // -- layerscope diff ------------------------------------------------------------------
  function signed(n) {
    return (n > 0 ? "+" : "") + size(n);
  }
  function growthBar(growth, max) {
    var bar = el("div", "growth");
    var half = el("div", "half neg"), other = el("div", "half pos");
    var fill = el("span", growth < 0 ? "shrink" : "grow");
    fill.style.width = (max ? (100 * Math.abs(growth)) / max : 0) + "%";
    (growth < 0 ? half : other).appendChild(fill);
    return add(bar, half, other);
  }
  function growthTable(id, rows, first) {
    var max = 0;
    rows.forEach(function (r) { max = Math.max(max, Math.abs(r.new - r.old)); });
    var t = el("table", "bars");
    t.id = id;
    t.appendChild(add(el("tr"), el("th", null, first), el("th", "num", "Old"), el("th", "num", "New"),
      el("th", "num", "Growth"), el("th", null, "")));
    rows.forEach(function (r) {
      var barCell = add(el("td"), growthBar(r.new - r.old, max));
      barCell.style.width = "35%";
      var g = el("td", "num", signed(r.new - r.old));
      g.title = exact(r.new - r.old);
      add(t, add(el("tr"), r.label, numCell(r.old), numCell(r.new), g, barCell));
    });
    return t;
  }
  function findingList(title, items, id) {
    add(document.body, el("h2", null, title + " (" + items.length + ")"));
    if (!items.length) return;
    var t = el("table");
    t.id = id;
    t.appendChild(add(el("tr"), el("th", "num", "Bytes"), el("th", null, "Rule"), el("th", null, "What and where")));
    items.forEach(function (f) {
      var what = add(el("td"), el("div", null, f.message), el("div", "mono path", f.path));
      if (f.fix) add(what, add(el("details"), el("summary", null, "fix"), fixBlock(f.fix)));
      add(t, add(el("tr"), numCell(f.bytes), add(el("td"), el("code", null, f.rule), el("div", "sub", f.kind)), what));
    });
    document.body.appendChild(t);
  }
  function diffPage() {
    var o = DATA.old, n = DATA.new;
    var title = "layerscope diff: " + (o.reference || o.id) + " \u2192 " + (n.reference || n.id);
    document.title = title;
    var h = el("h1", null, title);
    if (DATA.budgets.length) h.appendChild(el("span", "badge " + (DATA.passed ? "ok" : "FAIL"), DATA.passed ? "passed" : "failed"));
    add(document.body, h, el("div", "sub", [o.id, n.id, DATA.tool].join(" \u00b7 ")));
    var rows = [["Total", "total"], ["Final", "final"], ["Wasted", "wasted"], ["Reclaimable", "reclaimable"]].map(function (p) {
      return { label: el("td", null, p[0]), old: o[p[1]], new: n[p[1]] };
    });
    add(document.body, el("h2", null, "Summary"), growthTable("diff-summary", rows, ""));
    budgets();
    var changed = DATA.layers.filter(function (l) { return l.status !== "same"; });
    add(document.body, el("h2", null, "Growth per layer"),
      el("div", "sub", (DATA.layers.length - changed.length) + " layer(s) identical in both images, " + changed.length + " changed."));
    if (changed.length) {
      document.body.appendChild(growthTable("diff-layers", changed.map(function (l) {
        var label = add(el("td"), el("div", null, "#" + l.index + " " + l.status), el("div", "mono cmd", l.command));
        return { label: label, old: l.old, new: l.new };
      }), "Layer"));
    }
    add(document.body, el("h2", null, "Growth per directory"));
    if (DATA.directories === null) {
      add(document.body, el("p", "empty", "Not known: the old side is a JSON report, which holds no file tree."));
    } else if (!DATA.directories.length) {
      add(document.body, el("p", "empty", "No directory changed."));
    } else {
      document.body.appendChild(growthTable("diff-dirs", DATA.directories.map(function (d) {
        return { label: el("td", "mono path", d.path), old: d.old, new: d.new };
      }), "Directory"));
    }
    findingList("New findings", DATA.new_findings, "new-findings");
    findingList("Gone findings", DATA.gone_findings, "gone-findings");
  }

  if (DATA.kind === "diff") {
    diffPage();
  } else {
    header();
    summary();
    budgets();
    treemap();
    layers();
    findings();
    warnings();
  }
})();
