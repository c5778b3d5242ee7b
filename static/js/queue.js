/* geosignal: the referent's validation queue (/validation).
 * Filters and pages through GET /api/v1/queue; marks the listed reports on a Leaflet map (a dot
 * each) and shows the selected report's shape (GET /api/v1/reports/<id>); validates, rejects with a reason or asks a question through
 * POST /api/v1/reports/<id>/transitions, and validates a selection in one
 * POST /api/v1/reports/transitions, all with the CSRF header and without reloading the page.
 * Cards come from the page's <template> (one declaration with the server's rendering); user
 * text is inserted with textContent only. Texts come from the catalogue of the page's language
 * (window.geosignalI18n, GET /i18n/<lang>.js: its "queue" messages and vocabulary "labels");
 * numbers and dates are written with Intl in the catalogue's locale. */
(function () {
  "use strict";
  var root = document.getElementById("queue");
  if (!root) { return; }
  var I = window.geosignalI18n || {};
  var M = I.queue || {};
  var LABELS = I.labels || {};
  var LOCALE = I.locale || "fr-BE";
  var DATE = I.date || { day: "2-digit", month: "2-digit", year: "numeric" };
  var ACTIONS = JSON.parse(root.dataset.actions || "{}");
  var DECISIONS = JSON.parse(root.dataset.decisionLabels || "{}");  // status → what its text is
  var LAYERS = JSON.parse(root.dataset.baseLayers || "[]");
  var ZERO = "00000000-0000-0000-0000-000000000000";
  var form = document.getElementById("queue-filters");
  var list = document.getElementById("queue-items");
  var more = document.getElementById("queue-more");
  var empty = document.getElementById("queue-empty");
  var summary = document.getElementById("queue-summary");
  var alertBox = document.getElementById("queue-alert");
  var selectAll = document.getElementById("queue-select-all");
  var bulk = document.getElementById("queue-bulk-validate");
  var selection = document.getElementById("queue-selection");
  var template = document.getElementById("queue-item-template");
  var mapBox = document.getElementById("queue-map-box");
  var side = document.querySelector(".queue-side");
  var caption = document.getElementById("queue-map-caption");
  var captionIdle = caption.textContent;
  var csrf = root.dataset.csrf || "";
  var total = Number(root.dataset.total || 0);
  var statuses = [];
  var map = null, shape = null, selected = null, mapRequest = 0, listRequest = 0;
  var phone = window.matchMedia("(max-width: 899px)");

  function fill(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  function label(v) { return Object.prototype.hasOwnProperty.call(LABELS, v) ? LABELS[v] : v; }
  function labels(values) { return values && values.length ? values.map(label).join(", ") : "—"; }
  function num(v, digits) {
    return Number(v).toLocaleString(LOCALE, { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  function belgianDate(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return d.toLocaleDateString(LOCALE, Object.assign({ timeZone: "Europe/Brussels" }, DATE));
  }
  // singular or plural of a message (keys name_one / name_other; I.pluralForm: the language's rule)
  function plural(name, n, values) { return fill(M[name + "_" + I.pluralForm(n)], values); }
  // what a person reads of a problem+json answer, in the page's language
  function problem(body, status) { return (I.problemText && I.problemText(body)) || body.detail || body.title || status || ""; }
  // the message line; a report reference in it (CM-2026-00002) is kept on one line, as the
  // pages' own references are (span.nowrap): on a phone « CM- » ended a line
  function say(text) {
    summary.textContent = "";
    String(text).split(/(CM-\d{4}-\d+)/).forEach(function (piece, k) {
      if (k % 2) {
        var ref = document.createElement("span");
        ref.className = "nowrap";
        ref.textContent = piece;
        summary.appendChild(ref);
      } else if (piece) {
        summary.appendChild(document.createTextNode(piece));
      }
    });
  }
  function shout(text) { alertBox.textContent = ""; window.setTimeout(function () { alertBox.textContent = text; }, 30); }
  function refOf(li) { return li.dataset.ref || ""; }
  function items() { return Array.prototype.slice.call(list.querySelectorAll("li.queue-item")); }
  // the statuses of the list shown (null: every one), from its filters (a comma list too)
  function statusesOf(p) {
    var raw = p.get("status") || "";
    if (raw === "all") { return null; }
    return (raw || root.dataset.defaultStatuses || "submitted").split(",");
  }

  /* ------------------------------------------------------------------ cards */
  function field(li, name) { return li.querySelector('[data-field="' + name + '"]'); }
  // a card can join the bulk validation only when its status can be validated
  function pickable(li) { return (ACTIONS[li.dataset.status] || []).indexOf("validated") >= 0; }
  function showActions(li) {
    var allowed = ACTIONS[li.dataset.status] || [];
    li.querySelectorAll(".queue-action").forEach(function (b) { b.hidden = allowed.indexOf(b.dataset.target) < 0; });
    var pick = li.querySelector(".queue-pick");
    pick.hidden = !pickable(li);
    if (pick.hidden) { li.querySelector(".queue-check").checked = false; }
    li.className = li.className.replace(/\bstatus-\S+/, "status-" + li.dataset.status);
    field(li, "status_label").textContent = label(li.dataset.status);
  }
  /* The exchange (a question and the commune's answer, when the last move was that answer) and
   * the text that put the report in its status (item.status_text: a question asked, a
   * rejection's reason, a note), as the server's card draws them. */
  function showTexts(li, item) {
    field(li, "exchange").hidden = !item.answered;
    field(li, "question").textContent = item.question || "";
    field(li, "answer").textContent = item.answer || "";
    field(li, "status_box").hidden = !item.status_text;
    field(li, "status_text_label").textContent = item.status_text ? (DECISIONS[item.status] || "") : "";
    field(li, "status_text").textContent = item.status_text || "";
  }
  // the status the card's version (data-etag) was read in: a refusal naming another one
  // means someone else changed its status since; the same one, that its commune edited it
  function readStatus(li) { return li.dataset.readStatus || li.dataset.status; }
  // the report's status as a refusal says it now; the card's version (data-etag) is the one read,
  // so no decision is offered on it until the list is read again (every one was refused 412,
  // each said « someone else changed its status » anew)
  function statusNow(li, status) {
    if (!status || status === li.dataset.status) { return; }
    if (!li.dataset.readStatus) { li.dataset.readStatus = li.dataset.status; }
    li.dataset.status = status;
    showActions(li);
    li.querySelectorAll(".queue-action").forEach(function (b) { b.hidden = true; });
    li.querySelector(".queue-pick").hidden = true;
    li.querySelector(".queue-check").checked = false;
  }
  /* Why a decision on a card was refused, from the refusal's code and the report's status now
   * (a 409 invalid_transition's or a 412's status_from, a bulk refusal's status); "" when
   * neither says it (the caller says the problem's own text). */
  function refusal(li, code, status) {
    if ((code === "invalid_transition" || code === "precondition_failed") && status && status !== readStatus(li)) {
      return fill(M.decided_since, { ref: refOf(li), status: label(status) });
    }
    return code === "precondition_failed" ? fill(M.changed_since, { ref: refOf(li) }) : "";
  }
  // a card's note: why nothing was done on it (or "": none)
  function note(li, text) {
    var box = field(li, "note");
    box.textContent = text;
    box.hidden = !text;
    return box;
  }
  // keyboard focus on a card's note (the buttons the request disabled had it: it fell to the
  // page's body), as the pages focus the message an action comes back with (nav.js)
  function focusNote(li) {
    var box = field(li, "note");
    box.setAttribute("tabindex", "-1");
    box.focus();
  }
  function card(item) {
    var li = template.content.firstElementChild.cloneNode(true);
    li.id = "q-" + item.id;
    li.dataset.id = item.id;
    li.dataset.commune = item.commune_nis;
    li.dataset.status = item.status;
    li.dataset.ref = item.reference || item.commune_name;
    li.dataset.location = (item.location || []).join(",");
    li.dataset.etag = item.etag || "";  // the version shown: a decision is taken on it
    li.querySelector(".queue-check").value = item.id;
    field(li, "ref").textContent = item.reference || item.commune_name;
    field(li, "commune_name").textContent = item.commune_name;
    field(li, "reference").textContent = item.reference || "";
    field(li, "reported_at").textContent = belgianDate(item.reported_at);
    field(li, "observed_at").textContent = belgianDate(item.observed_at);
    field(li, "network").textContent = label(item.network);
    field(li, "technologies").textContent = labels(item.technologies);
    field(li, "operators").textContent = labels(item.operators);
    field(li, "issue").textContent = item.issue ? label(item.issue) : "—";
    // households and businesses affected (the page's template names them): only when given
    li.querySelectorAll("[data-count]").forEach(function (box) {
      var value = item[box.dataset.count];
      var given = value !== null && value !== undefined;
      box.hidden = !given;
      field(box, box.dataset.count).textContent = given ? num(value) : "";
    });
    var size = field(li, "size");
    if (item.area_m2 !== null && item.area_m2 !== undefined) {
      size.textContent = item.area_m2 < 1e5 ? num(item.area_m2) + " m²" : num(item.area_m2 / 1e6, 3) + " km²";
    } else if (item.length_m !== null && item.length_m !== undefined) {
      size.textContent = num(item.length_m) + " m";
    } else {
      size.textContent = "—";  // a point has neither: the shape column says it is a point
    }
    field(li, "evidence_stale").hidden = !item.evidence_stale;
    field(li, "description").textContent = item.description || "";
    showTexts(li, item);
    var link = field(li, "page_link");
    if (root.dataset.reportPage) { link.href = root.dataset.reportPage.replace(ZERO, item.id); }
    showActions(li);
    return li;
  }

  /* ------------------------------------------------------------------ list and filters */
  function params(cursor) {
    var p = new URLSearchParams(new FormData(form));
    Array.from(p.keys()).forEach(function (k) { if (!p.get(k)) { p.delete(k); } });
    if (!p.get("from") && !p.get("to")) { p.delete("period"); }  // the period's date alone filters nothing
    if (cursor) { p.set("cursor", cursor); }
    return p;
  }
  // the filters of the list shown: a next page follows them, not what the form says unsent
  var shown = params();
  statuses = statusesOf(shown);
  function shownWith(cursor) {
    var p = new URLSearchParams(shown);
    if (cursor) { p.set("cursor", cursor); }
    return p;
  }
  function setMore(cursor) {
    more.hidden = !cursor;
    more.dataset.cursor = cursor || "";
    var p = shownWith(cursor);
    more.href = cursor ? root.dataset.pageUrl + "?" + p.toString() : "";
  }
  /* The summary (a polite live region): what just happened, if anything, then the counts. */
  function counted(prefix) {
    var counts = total ? plural("loaded", total, { total: total, shown: items().length }) : M.empty;
    say(prefix ? prefix + " " + counts : counts);
    empty.hidden = items().length > 0 || !total;  // (the summary says it then: once is enough)
  }
  function load(cursor) {
    var request = ++listRequest;
    say(M.loading);
    var asked = cursor ? shownWith(cursor) : params();
    return fetch(root.dataset.apiUrl + "?" + asked.toString(), { headers: { Accept: "application/json" },
                                                                credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (request !== listRequest) { return; }
        if (!res.ok) { shout(fill(M.error, { detail: problem(res.body) })); counted(); return; }
        if (!cursor) { list.textContent = ""; clearMap(); shown = asked; }
        res.body.items.forEach(function (item) { list.appendChild(card(item)); });
        total = res.body.total;
        setMore(res.body.next_cursor);
        statuses = statusesOf(shown);
        drawList();
        counted();
        updateSelection();
        root.dataset.state = "ready";
      })
      .catch(function () { if (request === listRequest) { shout(M.network_error); counted(); } });
  }
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    history.replaceState(null, "", root.dataset.pageUrl + (params().toString() ? "?" + params().toString() : ""));
    load(null);
  });
  more.addEventListener("click", function (e) {
    e.preventDefault();
    var first = items().length;
    load(more.dataset.cursor).then(function () {
      var next = items()[first];
      if (next) { next.querySelector(".queue-select").focus(); }
    });
  });

  /* ------------------------------------------------------------------ map */
  function ensureMap() {
    if (map) { return map; }
    map = window.geosignalBaseLayers(L.map("queue-map", { zoomControl: true, attributionControl: true }), LAYERS);
    map.setView([50.41, 4.44], 10);
    window.geosignalCommuneOutlines(map, root.dataset.communesUrl).then(function (layer) {
      communeOutlines = layer;
      if (!selected) { fitList(); }  // the dots with their communes, now that they are known
    });
    drawList();
    return map;
  }
  /* The view of the list (nothing selected): its dots with the outlines of their communes —
   * fitted to the dots alone, no commune was in view and the dots were on grey (a referent's
   * trial, no base map). */
  var communeOutlines = null;
  function fitList() {
    if (!map || !dots || !dots.getLayers().length) { return; }
    var bounds = dots.getBounds();
    var communes = {};
    items().forEach(function (li) { if (li.dataset.commune) { communes[li.dataset.commune] = true; } });
    if (communeOutlines) {
      communeOutlines.eachLayer(function (l) {
        var nis = l.feature && (l.feature.id || (l.feature.properties || {}).nis_code);
        if (communes[nis]) { bounds.extend(l.getBounds()); }
      });
    }
    map.fitBounds(bounds, L.geosignalFitOptions(map, { maxZoom: 14, padding: [12, 12], animate: false }));
    root.dataset.listView = communeOutlines ? "communes" : "dots";
  }
  /* The list's reports, one dot each (a point on its shape, the card's data-location "lon,lat")
   * in its status's colour; a dot's click shows its card, as the card's title does. Drawn
   * beside the list on a desktop, in the chosen card's map on a phone. */
  var dots = null;
  function drawList() {
    if (!map) { if (!phone.matches) { ensureMap(); } return; }
    if (dots) { map.removeLayer(dots); }
    dots = L.featureGroup();
    items().forEach(function (li) {
      var at = (li.dataset.location || "").split(",").map(Number);
      if (at.length !== 2 || !isFinite(at[0]) || !isFinite(at[1])) { return; }
      var colour = getComputedStyle(li).getPropertyValue("--status").trim() || "#1d4e89";
      var name = document.createElement("span");
      name.textContent = refOf(li);
      L.circleMarker([at[1], at[0]], { radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 0.9, className: "queue-dot" })
        .bindTooltip(name)
        .on("click", function () {
          if (li !== selected) { select(li); }
          li.scrollIntoView({ block: "nearest" });
          li.querySelector(".queue-select").focus({ preventScroll: true });
        })
        .addTo(dots);
    });
    dots.addTo(map);
    if (shape) { shape.bringToFront(); }
    root.dataset.dots = String(dots.getLayers().length);
    if (!selected) { fitList(); }
  }
  function placeMap(li) {
    var target = phone.matches && li ? li : side;
    if (mapBox.parentNode !== target) { target.appendChild(mapBox); }
    mapBox.hidden = phone.matches && !li;
    if (map) { map.invalidateSize(); }
  }
  function clearMap() {
    if (shape && map) { map.removeLayer(shape); }
    shape = null;
    if (selected) { selected.classList.remove("selected"); selected.querySelector(".queue-select").setAttribute("aria-pressed", "false"); }
    selected = null;
    caption.textContent = captionIdle;
    placeMap(null);
    root.dataset.mapShown = "";
  }
  function select(li) {
    if (selected) { selected.classList.remove("selected"); selected.querySelector(".queue-select").setAttribute("aria-pressed", "false"); }
    selected = li;
    li.classList.add("selected");
    li.querySelector(".queue-select").setAttribute("aria-pressed", "true");
    placeMap(li);
    ensureMap();
    var request = ++mapRequest;
    caption.textContent = M.map_loading;
    fetch(root.dataset.reportUrl.replace(ZERO, li.dataset.id), { headers: { Accept: "application/geo+json" }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (request !== mapRequest) { return; }
        if (!res.ok) { caption.textContent = fill(M.error, { detail: problem(res.body) }); return; }
        if (shape) { map.removeLayer(shape); }
        outline(li.dataset.commune);
        var colour = getComputedStyle(li).getPropertyValue("--status").trim() || "#1d4e89";
        shape = L.geoJSON(res.body, {
          style: function () { return { color: colour, weight: 3, fillOpacity: 0.25 }; },
          pointToLayer: function (f, latlng) { return L.circleMarker(latlng, { radius: 9, color: colour, weight: 3, fillOpacity: 0.5 }); },
        }).addTo(map);
        map.invalidateSize();
        map.fitBounds(shape.getBounds(), L.geosignalFitOptions(map, { maxZoom: 16, padding: [20, 20], animate: false }));
        caption.textContent = fill(M.map_shown, { ref: refOf(li) });
        root.dataset.mapShown = li.dataset.id;
      })
      .catch(function () { if (request === mapRequest) { caption.textContent = M.network_error; } });
  }
  // the report's commune, outlined around its shape (GET /api/v1/limits?commune=; kept per commune)
  var outlines = {}, shownOutline = null;
  function outline(nis) {
    if (!nis) { return; }
    var show = function (layer) {
      if (shownOutline && shownOutline !== layer) { map.removeLayer(shownOutline); }
      shownOutline = layer;
      if (layer) { layer.addTo(map); layer.bringToBack(); }
    };
    if (outlines[nis]) { show(outlines[nis]); return; }
    fetch(root.dataset.limitsUrl + "?commune=" + encodeURIComponent(nis), { credentials: "same-origin",
                                                                          headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (limits) {
        if (!limits || !limits.commune) { return; }
        outlines[nis] = L.geoJSON(limits.commune.geometry, { interactive: false,
          style: function () { return { color: "#1d4e89", weight: 2, dashArray: "6 4", fill: false }; } });
        if (selected && selected.dataset.commune === nis) { show(outlines[nis]); }
      })
      .catch(function () { /* the outline is a help only */ });
  }
  phone.addEventListener("change", function () { placeMap(selected); if (!phone.matches) { drawList(); } });
  placeMap(null);
  drawList();

  /* ------------------------------------------------------------------ actions */
  function post(url, body, etag) {
    var headers = { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf };
    if (etag) { headers["If-Match"] = etag; }  // the version the card shows: changed since, refused (412)
    return fetch(url, { method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body) })
      .then(function (r) {
        var tag = r.headers.get("ETag");
        return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b, etag: tag }; },
                             function () { return { ok: r.ok, status: r.status, body: {}, etag: tag }; });
      });
  }
  function stillShown(status) { return statuses === null || statuses.indexOf(status) >= 0; }
  /* After a move: the card leaves the list when its new status is not shown, focus goes to
   * the next card (or the previous one, or the summary). */
  function moved(li, status, said, reason) {
    li.dataset.status = status;
    delete li.dataset.readStatus;  // (its new version is read: data-etag)
    note(li, "");
    // its texts as a reload shows them: the text that put it in a status that has one (a
    // rejection's reason, a question), no earlier exchange (its last move is this one)
    showTexts(li, { status: status, answered: false, status_text: DECISIONS[status] !== undefined && reason || null });
    if (stillShown(status)) { showActions(li); counted(said); li.querySelector(".queue-select").focus(); return; }
    var all = items();
    var at = all.indexOf(li);
    var next = all[at + 1] || all[at - 1];
    if (li === selected) { clearMap(); }
    li.remove();
    drawList();
    total = Math.max(0, total - 1);
    counted(said);
    updateSelection();
    if (next) { next.querySelector(".queue-select").focus(); } else { summary.setAttribute("tabindex", "-1"); summary.focus(); }
  }
  function transition(li, target, reason) {
    var buttons = li.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    var body = { to: target };
    if (reason) { body.reason = reason; }
    return post(root.dataset.transitionUrl.replace(ZERO, li.dataset.id), body, li.dataset.etag).then(function (res) {
      buttons.forEach(function (b) { b.disabled = false; });
      if (!res.ok) { refused(li, res.body || {}, res.status); return false; }
      if (res.etag) { li.dataset.etag = res.etag; }
      alertBox.textContent = "";  // an earlier refusal (an empty reason) is settled
      var said = M[target] ? fill(M[target], { ref: refOf(li) }) : "";
      moved(li, res.body.properties ? res.body.properties.status : target, said, reason);
      return true;
    }, function () {
      buttons.forEach(function (b) { b.disabled = false; });
      alertBox.textContent = "";
      note(li, M.network_error);
      focusNote(li);
      return false;
    });
  }
  /* A decision on one card refused: why, on the card (its status now when the refusal says
   * it: 409 invalid_transition, 412 precondition_failed), with keyboard focus on it. */
  function refused(li, body, httpStatus) {
    var code = body.code || (httpStatus === 412 ? "precondition_failed" : "");
    var now = typeof body.status_from === "string" ? body.status_from : null;
    var text = refusal(li, code, now) || fill(M.error, { detail: problem(body, httpStatus) });
    statusNow(li, now);
    var box = li.querySelector(".queue-reason");
    if (!box.hidden && (ACTIONS[li.dataset.status] || []).indexOf(box.dataset.target) < 0) { box.hidden = true; }
    alertBox.textContent = "";  // (an earlier message there is not this card's)
    note(li, text);
    focusNote(li);
  }
  function openReason(li, button) {
    var box = li.querySelector(".queue-reason");
    box.hidden = false;
    box.dataset.target = button.dataset.target;
    box.dataset.text = button.dataset.text;
    box.querySelector(".queue-reason-label").textContent = button.dataset.prompt || button.textContent.replace(/…$/, "");
    box.querySelector(".queue-confirm").textContent = button.dataset.confirm || button.textContent.replace(/…$/, "");
    var area = box.querySelector("textarea");
    area.value = "";
    area.removeAttribute("aria-invalid");
    area.removeAttribute("aria-describedby");
    box.querySelector(".queue-reason-error").hidden = true;
    area.focus();
  }
  list.addEventListener("click", function (e) {
    var button = e.target.closest("button");
    if (!button) {
      // a click on the card's text (not a link, a field, a form or the map) shows it on the map,
      // as its title button does (the keyboard's way)
      var card = e.target.closest("li.queue-item");
      if (card && card !== selected && !e.target.closest("a, input, label, textarea, select, form, #queue-map-box, .leaflet-container")) {
        select(card);
      }
      return;
    }
    var li = button.closest("li.queue-item");
    if (button.classList.contains("queue-select")) { select(li); return; }
    if (button.classList.contains("queue-cancel")) {
      li.querySelector(".queue-reason").hidden = true;
      li.querySelector('.queue-action[data-target="' + li.querySelector(".queue-reason").dataset.target + '"]').focus();
      return;
    }
    if (button.classList.contains("queue-action")) {
      if (button.dataset.text) { openReason(li, button); } else { transition(li, button.dataset.target); }
    }
  });
  list.addEventListener("submit", function (e) {
    e.preventDefault();
    var box = e.target;
    var li = box.closest("li.queue-item");
    var area = box.querySelector("textarea");
    if (!area.value.trim()) {
      // said beside the field (the page's alert line may be out of view), and read with it
      var said = box.querySelector(".queue-reason-error");
      said.id = "reason-error-" + li.dataset.id;
      said.textContent = box.dataset.text === "question" ? M.question_required : M.reason_required;
      said.hidden = false;
      area.setAttribute("aria-invalid", "true");
      area.setAttribute("aria-describedby", said.id);
      shout(said.textContent);
      area.focus();
      return;
    }
    transition(li, box.dataset.target, area.value.trim()).then(function (ok) { if (ok && li.isConnected) { box.hidden = true; } });
  });

  /* ------------------------------------------------------------------ bulk validation */
  function checked() { return items().filter(function (li) { return pickable(li) && li.querySelector(".queue-check").checked; }); }
  var bulkBox = selectAll.closest(".queue-bulk");
  function updateSelection() {
    var n = checked().length, can = items().filter(pickable).length;
    bulkBox.hidden = can === 0;  // nothing shown can be validated (rejected, transmitted…)
    bulk.disabled = n === 0;
    selection.textContent = n ? plural("selected", n, { n: n }) : M.selected_none;
    selectAll.checked = n > 0 && n === can;
    selectAll.indeterminate = n > 0 && n < can;
  }
  list.addEventListener("change", function (e) { if (e.target.classList.contains("queue-check")) { updateSelection(); } });
  selectAll.addEventListener("change", function () {
    items().filter(pickable).forEach(function (li) { li.querySelector(".queue-check").checked = selectAll.checked; });
    updateSelection();
  });
  bulk.addEventListener("click", function () {
    var chosen = checked();
    if (!chosen.length) { return; }
    bulk.disabled = true;
    var etags = {};
    chosen.forEach(function (li) { if (li.dataset.etag) { etags[li.dataset.id] = li.dataset.etag; } });
    post(root.dataset.bulkUrl, { ids: chosen.map(function (li) { return li.dataset.id; }), to: "validated",
                                 etags: etags }).then(function (res) {
      var body = res.body || {};
      if (!body.moved) { shout(fill(M.error, { detail: problem(body, res.status) })); updateSelection(); bulk.focus(); return; }
      var refusals = {}, first = null;
      (body.refused || []).forEach(function (r) { refusals[r.id] = r; });
      chosen.forEach(function (li) {
        if (body.etags && body.etags[li.dataset.id]) { li.dataset.etag = body.etags[li.dataset.id]; }
        var no = refusals[li.dataset.id];
        if (no) {
          note(li, refusal(li, no.code, no.status) || fill(M.not_moved, { status: label(no.status || "—") }));
          statusNow(li, no.status);
          first = first || li;
        } else {
          moved(li, "validated");
        }
      });
      var text = body.refused && body.refused.length
        ? fill(M.bulk_partial, { n: body.moved.length, m: body.refused.length })
        : plural("bulk_done", body.moved.length, { n: body.moved.length });
      if (body.refused && body.refused.length) { shout(text); counted(); } else { counted(text); }
      updateSelection();
      // focus on the first card left with its reason (the button the request disabled had it)
      if (first && first.isConnected) { focusNote(first); }
    }, function () { shout(M.network_error); updateSelection(); bulk.focus(); });
  });

  root.dataset.state = "ready";
  updateSelection();
})();
