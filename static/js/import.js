// geosignal: upload page. Sends the file to the import API as a preview (dry run), shows
// each feature accepted or refused on a map and in a table, then saves on confirmation.
// Text from the file is inserted with textContent only. A large save runs as a job on the
// server (202 + Location): the page polls it and shows a progress bar. Large previews show a
// sample of the features (the refused ones first) so that the page stays usable.
(function () {
  "use strict";
  var form = document.getElementById("import-form");
  if (!form) { return; }
  var preview = document.getElementById("preview");
  var summary = document.getElementById("preview-summary");
  var tbody = document.querySelector("#preview-table tbody");
  var saveButton = document.getElementById("save-button");
  var saveResult = document.getElementById("save-result");
  var mapping = document.getElementById("mapping");
  var mappingFields = document.getElementById("mapping-fields");
  var progressLine = document.getElementById("save-progress-line");
  var progressBar = document.getElementById("save-progress");
  var progressText = document.getElementById("save-progress-text");
  var map = null, layer = null;
  // What a column can be mapped to: [{name, label}] from the report contract (coordinates,
  // then the writable properties; geosignal/contract.py).
  var MAPPABLE = JSON.parse(form.dataset.fields || "[]");
  // The preview's value columns [{name, label, kind}]; the labels of values, the messages of
  // error codes and warnings, and this script's texts come from the catalogue of the page's
  // language (window.geosignalI18n, GET /i18n/<lang>.js; geosignal/ui_text.py).
  var table = document.getElementById("preview-table");
  var COLUMNS = JSON.parse(table.dataset.columns || "[]");
  // each property's label (the page's language) and kind, to say what a correction changes
  var FIELD_LABELS = {}, KINDS = {};
  MAPPABLE.forEach(function (f) { FIELD_LABELS[f.name] = f.label; });
  COLUMNS.forEach(function (c) { KINDS[c.name] = c.kind; });
  var I = window.geosignalI18n || {};
  var LABELS = I.labels || {};
  var WARNINGS = I.warnings || {};
  var T = I["import"] || {};
  // a count as the page's figures are written once saved: grouped the language's way (12 500,
  // 12.500, 12,500; « 6000 elementen » was not); a file's line or row number is not a count
  function count(n) { return Number(n).toLocaleString(I.locale || "fr-BE", { maximumFractionDigits: 0 }); }
  // a message in the plural form the count takes (I.pluralForm: the language's rule)
  function plural(name, n) { return fill(T[name + "_" + I.pluralForm(n)], { n: count(n) }); }
  var COLON = I.colon || " : ";  // "Label : value" in French, "Label: value" in Dutch and English
  var SEPARATOR = I.separator || " ; ";  // "a ; b" in French, "a; b" in Dutch and English
  function fill(text, values) {
    return String(text || "").replace(/\{(\w+)\}/g, function (_, k) { return values[k] === undefined ? "" : values[k]; });
  }
  // the communes' names by NIS code (a refused row names the commune it lies in)
  var COMMUNES = JSON.parse(form.dataset.communes || "{}");
  // A refused row's detail: a row lying mainly in a commune the user does not represent says
  // which (the API's message is written for a drawn shape); any other error as the API says.
  // A refusal whose kind has its own sentence (a CSV row's: cell beyond the header, empty
  // coordinates…) names its row and column itself: no cell added.
  function rowProblem(error) {
    if (error.code === "not_your_commune" && T.not_your_commune) {
      var nis = error.commune_nis, which = "not_your_commune" + (error.kind === "point" ? "_point" : "");
      if (!nis) { return T[which + "_unnamed"]; }
      return fill(T[which], { commune: COMMUNES[nis] ? COMMUNES[nis] + " (" + nis + ")" : nis });
    }
    var byKind = I.kindText(error);
    return byKind || (I.problemText(error) + cellText(error));
  }
  // the cell a refusal or a warning is about, as a spreadsheet shows it: its column and what it held
  // (a KML or GPX fault names the line of the file: its column is a character's place there)
  function cellText(item) {
    var held = typeof item.value === "string" || typeof item.value === "number" ? String(item.value)
      : Array.isArray(item.value) ? item.value.join(", ") : "";  // a list set aside whole (a name written twice)
    if (typeof item.line === "number" && typeof item.column !== "string" && T.file_line) {
      return " — " + fill(held && T.file_line_value ? T.file_line_value : T.file_line, { line: item.line, value: visible(held) });
    }
    if (!item.column || typeof item.column !== "string" || !(T.cell || T.cell_value)) { return ""; }
    return " — " + fill(held && T.cell_value ? T.cell_value : T.cell, { column: item.column, value: visible(held) });
  }
  /* A value as the file holds it, its direction controls (U+202A–U+202E, U+2066–U+2069) named
   * rather than obeyed: shown as they are, they turned the rest of the page's sentence round
   * (« Rue place de zone « for a text written backwards behind U+202E). */
  function visible(text) {
    return text.replace(/[\u202A-\u202E\u2066-\u2069]/g, function (c) {
      return "[U+" + c.charCodeAt(0).toString(16).toUpperCase() + "]";
    });
  }
  /* A row's warning: what it is, and for a value set aside, the cell (column and what it held)
   * and, when the column takes a vocabulary, the values it may hold as the page names them. */
  function warningText(w) {
    if (w.code === "same_place_saved_before" && T.same_place) {  // a row corrected in an edited copy
      var which = (w.correctable ? "same_place_correctable"
        : w.not_correctable === "status" ? "same_place_locked" : "same_place") + (w.by_you ? "" : "_commune");
      var said = fill(T[which], { reference: w.reference, date: value(w.saved_at, "datetime"), filename: w.filename,
                                  status: w.status ? label(w.status) : "" });
      if (w.correctable && w.changes && T.same_place_changes) {  // exactly what the correction changes
        said += " " + (w.changes.length ? fill(T.same_place_changes, { changes: w.changes.map(function (c) {
          var kind = KINDS[c.name] || (c.name === "observed_at" ? "datetime" : "vocab");
          return (FIELD_LABELS[c.name] || c.name) + COLON + value(c.before, kind) + " → " + value(c.after, kind);
        }).join(SEPARATOR) }) : T.same_place_no_change);
      }
      return said;
    }
    if (w.code === "probable_duplicate" && w.first_index !== undefined && T.repeated_row) {  // a row said twice
      return fill(T.repeated_row, { row: w.first_row || w.first_index + 1 });
    }
    if (w.code === "partly_outside_commune" && T.partly_outside) {
      return fill(w.measure === "points" && T.partly_outside_points ? T.partly_outside_points : T.partly_outside, { commune: w.commune_name,
        share: w.share_outside.toLocaleString(I.locale || "fr-BE", { style: "percent", maximumFractionDigits: 0 }) });
    }
    var text = (WARNINGS[w.code] || w.code) + cellText(w);
    if (w.allowed && w.allowed.length && T.allowed) { text += " — " + fill(T.allowed, { values: w.allowed.map(label).join(", ") }); }
    else if (w.code === "attribute_dropped") {  // why it was set aside, as the forms say it
      var why = droppedWhy(w);
      if (why) { text += " — " + why; }
    }
    return text;
  }
  /* Why a cell's value was set aside (its warning's error and kind), in the page's language:
   * the kind's sentence (a date in the future…); for a value the field does not take
   * (invalid_attribute), what to write in that field; for any other error (a local time that
   * does not exist or is ambiguous, a date that cannot be read…), that error's own sentence,
   * more precise than the field's. */
  function droppedWhy(w) {
    var byKind = w.kind ? I.kindText(Object.assign({}, w, { code: w.error })) : "";  // (its %(character)s… filled)
    if (byKind) { return byKind; }
    var hint = (I.field_hints || {})[w.name];
    if (w.error && w.error !== "invalid_attribute" && (I.errors || {})[w.error]) { return I.errors[w.error]; }
    return hint || "";
  }
  var HEADERS = Array.prototype.map.call(table.tHead.rows[0].cells, function (th) { return th.textContent; });
  function number(n) {
    return Number(n).toLocaleString(I.locale || "fr-BE", { maximumFractionDigits: 10, useGrouping: false });
  }
  /* Where a refused row lies, as its author finds it in the file: a CSV's coordinate cells
   * (as written when the reader refused the row, else the numbers it read from them), or
   * the position of a point read from another format; [] when nothing is known. */
  function coordinatesParts(f) {
    if (f.coordinates) {
      return Object.keys(f.coordinates).map(function (column) {
        var v = f.coordinates[column];
        return fill(T.coordinate_cell, { column: column, value: typeof v === "number" ? number(v) : String(v) });
      });
    }
    return positionRead(f);
  }
  /* Where a point was read (WGS 84, 6 decimals: 0.1 m), in the page's numbers: for an accepted
   * one, how the file's decimal commas were taken is checked here, not only on the map. */
  function positionRead(f) {
    if (!(f.geometry && f.geometry.type === "Point" && T.position)) { return []; }
    var c = f.geometry.coordinates.map(function (v) { return Math.round(v * 1e6) / 1e6; });
    // (a no-break space between a number and its N or E: the cell wraps between them only)
    return [fill(T.position, { lat: number(c[1]), lon: number(c[0]) }).replace(/ (?=\p{Lu}\b)/gu, "\u00a0")];
  }
  // the parts in a cell, each kept on one line (text only: the cells come from the file), in
  // one box (a card's cell lays its label and its content side by side)
  function partsCell(td, parts) {
    if (!parts.length) { return td; }
    var box = document.createElement("span");
    parts.forEach(function (text, k) {
      if (k) { box.appendChild(document.createTextNode(", ")); }
      var span = document.createElement("span");
      span.className = "nowrap";
      span.textContent = text;
      box.appendChild(span);
    });
    td.appendChild(box);
    return td;
  }
  function label(v) { return Object.prototype.hasOwnProperty.call(LABELS, v) ? LABELS[v] : v; }
  function value(v, kind) {
    if (v === null || v === undefined || v === "" || (Array.isArray(v) && !v.length)) { return "—"; }
    if (Array.isArray(v)) { return v.map(label).join(", "); }
    if (kind === "vocab") { return label(String(v)); }
    if (kind === "datetime") {
      var d = new Date(v);
      return isNaN(d.getTime()) ? String(v)
        : d.toLocaleDateString(I.locale || "fr-BE", Object.assign({ timeZone: "Europe/Brussels" }, I.date || {}));
    }
    // a number read (households, businesses) written as the saved report's page writes it
    if (typeof v === "number" && isFinite(v)) {
      return v.toLocaleString(I.locale || "fr-BE", { maximumFractionDigits: 10 });
    }
    return String(v);
  }
  var TABLE_ROWS = 1000, MAP_FEATURES = 5000, POLL_MS = 1000;
  // near the communes served: their box ([west, south, east, north], EPSG:4326) grown by its
  // own size on every side (a point whose axes were swapped lies thousands of km away)
  var NEAR = (function () {
    var box = JSON.parse(document.getElementById("import-map").dataset.territoryBbox || "null");
    return box ? L.latLngBounds([box[1], box[0]], [box[3], box[2]]).pad(1) : null;
  })();
  var skipBox = document.getElementById("skip-saved-before-line");
  var correctBox = document.getElementById("correct-saved-before-line");

  function payload(dryRun) {
    var data = new FormData(form);
    data.set("dry_run", dryRun ? "true" : "false");
    if (!dryRun && document.getElementById("valid-only").checked) { data.set("mode", "valid_only"); }
    if (!dryRun && !skipBox.hidden && document.getElementById("skip-saved-before").checked) {
      data.set("skip_saved_before", "true");
    }
    if (!dryRun && !correctBox.hidden && document.getElementById("correct-saved-before").checked) {
      data.set("correct_saved_before", "true");
    }
    var columnMap = {};
    mappingFields.querySelectorAll("select").forEach(function (s) { if (s.value) { columnMap[s.dataset.field] = s.value; } });
    if (Object.keys(columnMap).length) { data.set("column_map", JSON.stringify(columnMap)); }
    return data;
  }

  function send(dryRun) {
    return fetch(form.dataset.url, { method: "POST", body: payload(dryRun), credentials: "same-origin",
      headers: { "X-CSRFToken": form.querySelector("input[name=csrf_token]").value, Accept: "application/json" } })
      .then(function (r) {
        return r.json().then(function (body) {
          return { status: r.status, body: body, location: r.headers.get("Location") };
        });
      });
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    td.dataset.label = HEADERS[row.cells.length] || "";
    row.appendChild(td);
    return td;
  }

  /* The columns' choice, when the server did not recognise the coordinate columns: a select
   * per field, the columns it did recognise chosen already. The selects have no name: they
   * reach the server as column_map only, never as form fields of their own (a "network"
   * select beside the default network's would send network twice). */
  function showMapping(columns, recognised, ignored) {
    var chosen = {};
    mappingFields.querySelectorAll("select").forEach(function (s) { if (s.value) { chosen[s.dataset.field] = s.value; } });
    recognised = recognised || {};
    // the columns already chosen stay choices (a column mapped is no longer among those ignored)
    columns = columns.slice();
    Object.keys(chosen).forEach(function (f) { if (columns.indexOf(chosen[f]) < 0) { columns.push(chosen[f]); } });
    // why the form is shown: headers not recognised (no coordinates), or columns read for nothing
    document.getElementById("mapping-help").hidden = !!ignored;
    document.getElementById("mapping-help-ignored").hidden = !ignored;
    mappingFields.replaceChildren();
    MAPPABLE.forEach(function (field) {
      var label = document.createElement("label");
      label.textContent = field.label + " ";
      var select = document.createElement("select");
      select.dataset.field = field.name;
      [""].concat(columns).forEach(function (c) {
        var o = document.createElement("option"); o.value = c; o.textContent = c || "—"; select.appendChild(o);
      });
      var keep = chosen[field.name] || recognised[field.name];
      if (keep && columns.indexOf(keep) >= 0) { select.value = keep; }
      label.appendChild(select);
      mappingFields.appendChild(label);
    });
    mapping.hidden = false;
  }

  // The preview map: the configured base layers (as every map of geosignal), a metric scale,
  // the user's commune boundary (from the drawing limits), the accepted features in green and
  // the refused ones that have a place in red, each with its line number as tooltip.
  var refusedLayer = null, commune = null;
  function lineTip(f, l) {
    // a node, not a string: Leaflet writes a string tooltip as HTML, and the description is the file's text
    var tip = document.createElement("span");
    tip.textContent = HEADERS[0] + " " + f.properties.line + (f.properties.description ? " — " + f.properties.description : "");
    l.bindTooltip(tip);
  }
  function makeMap() {
    var pane = document.getElementById("import-map");
    map = L.map(pane, { maxZoom: 19 });
    window.geosignalBaseLayers(map, JSON.parse(pane.dataset.baseLayers || "[]"));
    L.control.scale({ imperial: false }).addTo(map);
    layer = L.geoJSON(null, { style: function () { return { color: "#1e7b34", weight: 2 }; },
      pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 6, color: "#1e7b34" }); },
      onEachFeature: lineTip }).addTo(map);
    refusedLayer = L.geoJSON(null, { style: function () { return { color: "#b3261e", weight: 2, dashArray: "4 3" }; },
      pointToLayer: function (f, ll) {
        return L.circleMarker(ll, { radius: 6, color: "#b3261e", fillColor: "#fff", fillOpacity: 0.9, weight: 3 });
      }, onEachFeature: lineTip }).addTo(map);
    if (pane.dataset.limitsUrl) {
      fetch(pane.dataset.limitsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (limits) {
          if (!limits || !limits.commune) { return; }
          commune = L.geoJSON(limits.commune.geometry, { interactive: false,
            style: function () { return { color: "#1d4e89", weight: 3, fill: false }; } }).addTo(map);
          commune.bringToBack();
          document.getElementById("import-key-commune").hidden = false;
          if (!layer.getBounds().isValid() && !refusedLayer.getBounds().isValid()) { map.fitBounds(commune.getBounds()); }
        })
        .catch(function () { /* the outline is a help only */ });
    }
  }

  // What the file held but was not read (columns read for nothing, layers, KML members…):
  // each warning's label and what it names (column names, layers, a link or a name).
  function fileNotes(warnings, lines) {
    return (warnings || []).map(function (w) {
      if (w.code === "file_already_saved" && T.already_saved_one) {  // the same bytes saved before: when, what
        return fill(T[(w.by_you ? "already_saved_" : "already_saved_commune_") + I.pluralForm(w.saved)], {
          date: value(w.saved_at, "datetime"), filename: w.filename, saved: count(w.saved) });
      }
      if (w.code === "rows_saved_before" && T.rows_saved_before_one && w.saves && w.saves.length) {  // an edited copy
        var latest = w.saves[0];
        return fill(T[(latest.by_you ? "rows_saved_before_" : "rows_saved_before_commune_") + I.pluralForm(w.rows)], {
          rows: count(w.rows), date: value(latest.saved_at, "datetime"), filename: latest.filename }) +
          (lines.length ? " " + fill(T.rows_saved_before_lines, { lines: lines.slice(0, 30).join(", ") +
            (lines.length > 30 ? ", …" : "") }) : "");
      }
      var what = w.columns || w.layers || w.members || w.member || w.layer || w.href || w.name;
      if (Array.isArray(what)) { what = what.join(", "); }
      return (WARNINGS[w.code] || w.code) + (what ? COLON + what : "");
    });
  }

  function showPreview(body) {
    preview.hidden = false;
    summary.textContent = fill(T.summary, { accepted: plural("accepted_count", body.accepted),
                                            refused: plural("refused_count", body.refused),
                                            format: (I.format_names || {})[body.format] || body.format });
    var notes = document.getElementById("preview-notes");
    // the rows saved before by an earlier upload, by their line numbers
    function lineOf(f) { return f.row || f.index + 1; }
    var again = body.features.filter(function (f) {
      return (f.warnings || []).some(function (w) { return w.code === "row_saved_before"; });
    });
    var noted = fileNotes(body.warnings, again.map(lineOf));
    notes.textContent = noted.join(SEPARATOR);
    notes.hidden = !noted.length;
    // a file (or rows) saved before is said as a notice, with the way to leave those rows out
    var warned = (body.warnings || []).some(function (w) {
      return w.code === "rows_saved_before" || w.code === "file_already_saved"; });
    notes.className = warned ? "flash notice" : "help";
    skipBox.hidden = !again.length;
    document.getElementById("skip-saved-before-count").textContent = count(again.length);
    document.getElementById("skip-saved-before").checked = again.length > 0;
    // the rows corrected in an edited copy that may update the report stored at their place
    var correctable = body.features.filter(function (f) {
      return (f.warnings || []).some(function (w) { return w.code === "same_place_saved_before" && w.correctable; });
    });
    correctBox.hidden = !correctable.length;
    document.getElementById("correct-saved-before-count").textContent = count(correctable.length);
    // (unticked: a new measurement at a fixed point is a new report, not a correction of the last)
    document.getElementById("correct-saved-before").checked = false;
    tbody.replaceChildren();
    if (!map) { makeMap(); }
    layer.clearLayers();
    refusedLayer.clearLayers();
    var refused = body.features.filter(function (f) { return f.status !== "accepted"; });
    var accepted = body.features.filter(function (f) { return f.status === "accepted"; });
    // in file order when the table holds them all, else the refused ones first
    var shown = body.features.length <= TABLE_ROWS ? body.features : refused.concat(accepted).slice(0, TABLE_ROWS);
    // (lineOf: a CSV entry carries its row as a spreadsheet numbers it, header = 1; other
    // files: the feature's rank)
    shown.forEach(function (f) {
      var tr = document.createElement("tr");
      // an accepted row with a remark (a value set aside, a date read from a track…) is marked
      // apart: its remark is what to read before saving
      var noted = f.status === "accepted" && (f.warnings || []).length > 0;
      tr.className = f.status + (noted ? " noted" : "");
      var p = f.properties || {};
      cell(tr, String(lineOf(f)));
      cell(tr, f.status === "accepted" ? (noted ? T.accepted_note : T.accepted) : T.refused);
      cell(tr, p.commune_name || (f.error && COMMUNES[f.error.commune_nis]) || "—");
      cell(tr, f.geometry ? label(f.geometry.type) : "—");
      partsCell(cell(tr, ""), f.status === "accepted" ? positionRead(f) : coordinatesParts(f)).className = "coordinates";
      // a refused row has no properties read: its description, when known, names it still
      COLUMNS.forEach(function (c) {
        var v = f.properties ? value(p[c.name], c.kind) : (c.name === "description" && f.description) || "";
        cell(tr, v).className = "kind-" + c.kind;
      });
      var detail = cell(tr, f.error ? rowProblem(f.error)
        : (f.warnings || []).map(warningText).join(SEPARATOR));
      if (f.error) { detail.dataset.code = f.error.code; }
      // the report a corrected row would repeat, one link away (to edit it instead); the text
      // and the links in one box (a card's cell lays its label and its content side by side)
      var repeats = (f.warnings || []).filter(function (w) {
        return w.code === "same_place_saved_before" && w.report_id && form.dataset.reportUrl;
      });
      if (repeats.length) {
        var box = document.createElement("span");
        box.textContent = detail.textContent;
        repeats.forEach(function (w) {
          var a = document.createElement("a");
          a.href = form.dataset.reportUrl.replace("REPORT_ID", encodeURIComponent(w.report_id));
          a.textContent = fill(T.same_place_link, { reference: w.reference });
          a.className = "same-place-link";
          box.appendChild(document.createTextNode(" "));
          box.appendChild(a);
        });
        detail.replaceChildren(box);
      }
      tbody.appendChild(tr);
    });
    accepted.slice(0, MAP_FEATURES).forEach(function (f) {
      layer.addData({ type: "Feature", geometry: f.geometry, properties: { line: lineOf(f) } });
    });
    // the refused rows whose place could be read, where the file puts them (outlined in red)
    refused.filter(function (f) { return f.geometry; }).slice(0, MAP_FEATURES).forEach(function (f) {
      try {
        refusedLayer.addData({ type: "Feature", geometry: f.geometry,
          properties: { line: lineOf(f), description: f.description || "" } });
      }
      catch (err) { /* a geometry Leaflet cannot draw: the table still lists the row */ }
    });
    document.getElementById("import-key-refused").hidden = !refusedLayer.getLayers().length;
    if (body.features.length > shown.length) {
      summary.textContent += fill(T.sample, { shown: count(shown.length), total: count(body.features.length),
                                              max: count(MAP_FEATURES) });
    }
    // the map fits the accepted features and the refused ones near the territory (a point
    // whose axes were swapped lies at the other end of the world: drawn, not fitted)
    var bounds = L.latLngBounds([]);
    if (layer.getBounds().isValid()) { bounds.extend(layer.getBounds()); }
    refusedLayer.eachLayer(function (l) {
      var b = l.getBounds ? l.getBounds() : L.latLngBounds([l.getLatLng()]);
      if (!NEAR || NEAR.contains(b) || !layer.getBounds().isValid()) { bounds.extend(b); }
    });
    if (bounds.isValid()) { map.fitBounds(bounds, L.geosignalFitOptions(map, { maxZoom: 15, padding: [20, 20] })); }
    else if (commune && commune.getBounds().isValid()) { map.fitBounds(commune.getBounds()); }
    else { map.setView([50.41, 4.44], 10); }
    saveButton.disabled = body.accepted === 0;
    // the summary takes the focus (the Preview button is out of sight now) and is read out (a
    // polite live region); on a phone the preview opens below the form: brought into view
    summary.focus({ preventScroll: true });
    var top = preview.getBoundingClientRect().top;
    if (top > window.innerHeight * 0.6 || top < 0) { preview.scrollIntoView({ block: "start" }); }
  }

  // another file or option after a preview: that preview no longer says what a save would do
  // (a save re-reads the form): it goes, and the file is previewed again before any save
  form.addEventListener("change", function () {
    if (preview.hidden) { return; }
    preview.hidden = true;
    saveButton.disabled = true;
    saveOutcome("", false);
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    saveOutcome("", false);
    // a new attempt: the refusal of the one before (no file chosen…) goes, whatever this one says
    var stale = document.getElementById("import-error");
    if (stale) { stale.remove(); }
    document.getElementById("import-file").removeAttribute("aria-invalid");
    send(true).then(function (res) {
      if (res.status === 200) {
        showPreview(res.body);
        // columns read for nothing although the coordinates were found: they may be said what they hold
        var ignored = (res.body.warnings || []).filter(function (w) { return w.code === "columns_ignored"; })[0];
        if (ignored && ignored.columns && ignored.columns.length) { showMapping(ignored.columns, {}, true); }
        return;
      }
      preview.hidden = true;
      if (res.body.code === "unreadable_file" && res.body.columns) { showMapping(res.body.columns, res.body.recognised); }
      alertText(res.body);
    });
  });

  function alertText(problem) {
    summary.textContent = "";
    // the file field is marked when the refusal is about it (none chosen, several sent)
    var fileField = document.getElementById("import-file");
    if (problem.where === "file") { fileField.setAttribute("aria-invalid", "true"); }
    else { fileField.removeAttribute("aria-invalid"); }
    saveOutcome("", false);
    var p = document.getElementById("import-error") || document.createElement("p");
    p.id = "import-error"; p.className = "flash error";
    p.setAttribute("role", "alert");
    p.dataset.code = problem.code || "";
    // what the file held but was not read (a KML NetworkLink's target, an overlay) says why
    // nothing was found: shown with the refusal
    var notRead = (problem.warnings || []).map(function (w) {
      var what = w.href || w.name;
      return (WARNINGS[w.code] || w.code) + (what ? COLON + what : "");
    });
    var text = problem.reason && T[problem.reason] ? T[problem.reason] : (I.problemText(problem) || T.error);
    p.textContent = text + (notRead.length ? " — " + notRead.join(SEPARATOR) : "");
    p.tabIndex = -1;
    form.appendChild(p);
    p.focus();  // said at once (an alert) and where the keyboard goes on
  }

  function showProgress(job) {
    progressLine.hidden = false;
    if (job.rows_total) {
      progressBar.max = job.rows_total;
      progressBar.value = job.rows_done;
      progressText.textContent = count(job.rows_done) + " / " + count(job.rows_total);
    } else {
      progressBar.removeAttribute("value");
      progressText.textContent = job.state === "queued" ? T.queued : T.reading;
    }
  }

  /* The save's outcome takes the focus (the Save button is disabled meanwhile: the focus
   * would fall to the page) and is read out: a status when saved, an alert when refused. */
  function saveOutcome(text, refused) {
    saveResult.setAttribute("role", refused ? "alert" : "status");
    saveResult.className = refused ? "flash error" : "";
    saveResult.textContent = text;
    if (text) { saveResult.focus(); }
  }

  // "n reports saved", and the way to them
  function saved(n, skipped, corrected) {
    var said = [];  // (an edited copy whose rows only corrected reports: no "0 reports saved")
    if (n || !corrected) { said.push(plural("saved", n)); }
    if (skipped) { said.push(plural("skipped", skipped)); }
    if (corrected) { said.push(plural("corrected", corrected)); }
    saveOutcome(said.join(" ") + " ", false);
    if (form.dataset.reportsUrl && (n || corrected)) {
      var a = document.createElement("a");
      a.href = form.dataset.reportsUrl;
      a.textContent = T.see_reports;
      saveResult.appendChild(a);
    }
  }

  function poll(url) {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        // refused (signed out elsewhere, the account deactivated, the job gone): said, and the
        // polling ends; a server error or too many requests is tried again (the .catch below)
        if (r.status >= 400 && r.status < 500 && r.status !== 429) {
          return r.json().catch(function () { return {}; }).then(function (problem) {
            return { state: "refused", error: problem };
          });
        }
        if (!r.ok) { throw new Error(String(r.status)); }
        return r.json();
      })
      .then(function (job) {
        if (job.state === "refused") {
          progressLine.hidden = true;
          saveOutcome(I.problemText(job.error) || T.error, true);
          saveButton.disabled = false;
        } else if (job.state === "done") {
          progressLine.hidden = true;
          saved(job.saved, job.skipped, job.corrected);
        } else if (job.state === "failed") {
          progressLine.hidden = true;
          saveOutcome(I.problemText(job.error) || T.error, true);
          saveButton.disabled = false;
        } else {
          showProgress(job);
          window.setTimeout(function () { poll(url); }, POLL_MS);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(url); }, 3 * POLL_MS); });
  }

  saveButton.addEventListener("click", function () {
    saveButton.disabled = true;
    send(false).then(function (res) {
      if (res.status === 201) {
        saved(res.body.saved, res.body.skipped, res.body.corrected);
      } else if (res.status === 202 && res.location) {
        saveOutcome("", false);
        showProgress(res.body);
        poll(res.location);
      } else {
        saveButton.disabled = false;
        saveOutcome(I.problemText(res.body) || T.error, true);
      }
    });
  });
})();
