// geosignal: upload page. Sends the file to the import API as a preview (dry run), shows
// each feature accepted or refused on a map and in a table, then saves on confirmation.
// Text from the file is inserted with textContent only.
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
  var map = null, layer = null;
  // What a column can be mapped to: [{name, label}] from the report contract (coordinates,
  // then the writable properties; geosignal/contract.py).
  var MAPPABLE = JSON.parse(form.dataset.fields || "[]");

  function payload(dryRun) {
    var data = new FormData(form);
    data.set("dry_run", dryRun ? "true" : "false");
    if (!dryRun && document.getElementById("valid-only").checked) { data.set("mode", "valid_only"); }
    var columnMap = {};
    mappingFields.querySelectorAll("select").forEach(function (s) { if (s.value) { columnMap[s.name] = s.value; } });
    if (Object.keys(columnMap).length) { data.set("column_map", JSON.stringify(columnMap)); }
    return data;
  }

  function send(dryRun) {
    return fetch(form.dataset.url, { method: "POST", body: payload(dryRun), credentials: "same-origin",
      headers: { "X-CSRFToken": form.querySelector("input[name=csrf_token]").value, Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { status: r.status, body: body }; }); });
  }

  function cell(row, text) { var td = document.createElement("td"); td.textContent = text; row.appendChild(td); }

  function showMapping(columns) {
    mappingFields.replaceChildren();
    MAPPABLE.forEach(function (field) {
      var label = document.createElement("label");
      label.textContent = field.label + " ";
      var select = document.createElement("select");
      select.name = field.name;
      [""].concat(columns).forEach(function (c) {
        var o = document.createElement("option"); o.value = c; o.textContent = c || "—"; select.appendChild(o);
      });
      label.appendChild(select);
      mappingFields.appendChild(label);
    });
    mapping.hidden = false;
  }

  function showPreview(body) {
    preview.hidden = false;
    summary.textContent = body.accepted + " élément(s) accepté(s), " + body.refused + " refusé(s) — format " + body.format + ".";
    tbody.replaceChildren();
    if (!map) {
      map = L.map("import-map");
      layer = L.geoJSON(null, { style: function () { return { color: "#1e7b34", weight: 2 }; },
        pointToLayer: function (f, ll) { return L.circleMarker(ll, { radius: 6, color: "#1e7b34" }); } }).addTo(map);
    }
    layer.clearLayers();
    body.features.forEach(function (f) {
      var tr = document.createElement("tr");
      tr.className = f.status;
      cell(tr, String(f.index + 1));
      cell(tr, f.status === "accepted" ? "accepté" : "refusé");
      cell(tr, f.properties ? f.properties.commune_name : "");
      cell(tr, f.geometry ? f.geometry.type : "");
      cell(tr, f.error ? f.error.code + " : " + f.error.detail : (f.warnings || []).map(function (w) { return w.code; }).join(", "));
      tbody.appendChild(tr);
      if (f.geometry) { layer.addData({ type: "Feature", geometry: f.geometry, properties: {} }); }
    });
    var bounds = layer.getBounds();
    if (bounds.isValid()) { map.fitBounds(bounds, { maxZoom: 15 }); } else { map.setView([50.41, 4.44], 10); }
    saveButton.disabled = body.accepted === 0;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    saveResult.textContent = "";
    send(true).then(function (res) {
      if (res.status === 200) { showPreview(res.body); return; }
      preview.hidden = true;
      if (res.body.code === "unreadable_file" && res.body.columns) { showMapping(res.body.columns); }
      alertText(res.body);
    });
  });

  function alertText(problem) {
    summary.textContent = "";
    saveResult.textContent = "";
    var p = document.getElementById("import-error") || document.createElement("p");
    p.id = "import-error"; p.className = "flash error";
    p.textContent = (problem.code || "erreur") + " : " + (problem.detail || "");
    form.appendChild(p);
  }

  saveButton.addEventListener("click", function () {
    saveButton.disabled = true;
    send(false).then(function (res) {
      if (res.status === 201) {
        saveResult.textContent = res.body.saved + " signalement(s) enregistré(s).";
      } else {
        saveResult.textContent = (res.body.code || "erreur") + " : " + (res.body.detail || "");
        saveButton.disabled = false;
      }
    });
  });
})();
