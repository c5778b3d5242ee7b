/* The referent's dashboard: choropleth, heatmap and clustered reports fetched from the stats
 * API with the chosen filters (by bounding box and zoom), and the sortable commune table.
 * User-visible text is inserted with textContent only; it comes from the catalogue of the
 * page's language (window.geosignalI18n, GET /i18n/<lang>.js), numbers in its locale. */
(function () {
  "use strict";

  const pane = document.getElementById("map-pane");
  const map = window[pane.dataset.map];
  const communes = window[pane.dataset.communesLayer];
  const form = document.getElementById("filters");
  const table = document.getElementById("commune-table");
  const I = window.geosignalI18n || {};
  const T = I.dashboard || {};
  // a message in the plural form the count takes (I.pluralForm: the language's rule)
  function plural(name, n, values) { return fill(T[`${name}_${I.pluralForm(n)}`], values); }
  const COLON = I.colon || " : ";  // "Label : value" in French, "Label: value" in Dutch and English
  const LOCALE = I.locale || "fr-BE";
  const PERCENT = I.percent || "\u00a0%";  // "12,5 %" in French, "12,5%" in Dutch, "12.5%" in English
  // (a count is written as the figures are, in the page's number format: 1 200, 1.200, 1,200)
  const fill = (text, values) => String(text || "").replace(/\{(\w+)\}/g, (_, k) => (values[k] === undefined ? "" : values[k]));
  // a positive figure too small for its precision reads "< 0,001", never "0,000" (150 m² of
  // white zone is not none)
  const fmt = (value, digits) => {
    if (value === null || value === undefined) return "—";
    const options = {minimumFractionDigits: digits, maximumFractionDigits: digits};
    const smallest = 10 ** -digits;
    return value > 0 && value < smallest / 2 ? "<\u00a0" + smallest.toLocaleString(LOCALE, options)
      : Number(value).toLocaleString(LOCALE, options);
  };
  const PALETTE = ["#fff5f0", "#fcbba1", "#fc9272", "#fb6a4a", "#de2d26", "#a50f15"];
  const INDICATORS = {
    white_zone_share: {label: T.indicators.white_zone_share, unit: PERCENT, scale: 100, digits: 2},
    reports_per_1000_inhabitants: {label: T.indicators.reports_per_1000_inhabitants, unit: "", scale: 1, digits: 2},
    households_declared: {label: T.indicators.households_declared, unit: "", scale: 1, digits: 0},
    inhabitants_affected_estimate: {label: T.indicators.inhabitants_affected_estimate, unit: "", scale: 1, digits: 0},
  };

  let rows = [];
  let territory = null;
  let sortKey = "nis_code";
  let sortDir = 1;
  let statsRequest = 0;
  let locationsRequest = 0;
  pane.dataset.state = "loading";

  const FILTERS = ["network", "technology", "operator", "issue", "status", "from", "to"];

  function filterParams() {
    const params = new URLSearchParams();
    for (const name of FILTERS) {
      const value = form.elements[name].value;
      if (value) params.set(name, value);
    }
    return params;
  }

  /* A commune's sheet, with the filters in force: it shows the figures the table shows. */
  function sheetUrl(nis) {
    const params = filterParams().toString();
    return pane.dataset.sheetUrl.replace("00000", nis) + (params ? `?${params}` : "");
  }

  /* The filters and the indicator live in the page's address too: a reload, the back button or
   * a shared link shows the same figures. A value the form does not offer is left out. */
  function readAddress() {
    const params = new URLSearchParams(window.location.search);
    for (const name of [...FILTERS, "indicator"]) {
      const field = form.elements[name];
      const value = params.get(name);
      if (value === null || !field) continue;
      if (field.tagName === "SELECT" ? [...field.options].some((o) => o.value === value)
        : /^\d{4}-\d{2}-\d{2}$/.test(value)) field.value = value;
    }
    if (filterParams().toString() && filtersBox) filtersBox.open = true;  // (folded on phones) filters in force show
  }

  function writeAddress() {
    const params = filterParams();
    const indicator = form.elements.indicator;
    if (indicator.selectedIndex > 0) params.set("indicator", indicator.value);
    const query = params.toString();
    window.history.replaceState(null, "", query ? `?${query}` : window.location.pathname);
  }

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function get(row, key) {
    return key.split(".").reduce((obj, part) => (obj === null || obj === undefined ? null : obj[part]), row);
  }

  /* ---------------------------------------------------------------- choropleth and legend */

  function breaks(values) {
    const max = Math.max(0, ...values.filter((v) => v !== null));
    if (max <= 0) return [0];
    return [0, 0.2, 0.4, 0.6, 0.8].map((f) => f * max);
  }

  function colourFor(value, limits) {
    if (value === null || value === undefined || value <= 0) return PALETTE[0];
    let index = 1;
    for (let i = 1; i < limits.length; i += 1) if (value > limits[i]) index = i + 1;
    return PALETTE[Math.min(index, PALETTE.length - 1)];
  }

  // a commune's lines on the map: its name and code, then its figures
  function tooltipLines(row, indicator) {
    const spec = INDICATORS[indicator];
    const value = row[indicator];
    const lines = [`${row.name_fr} (${row.nis_code})`,
      `${spec.label}${COLON}${value === null ? "—" : fmt(value * spec.scale, spec.digits) + spec.unit}`,
      fill(T.reports_count, {n: fmt(row.report_count, 0)})];
    if (reportedWithoutValue(row, indicator)) lines.push(T.reported_no_value_tip[noValueReason(row, indicator)]);
    return lines;
  }

  function tooltipFor(row, indicator) {
    const box = el("div");
    tooltipLines(row, indicator).forEach((line, i) => box.appendChild(el(i ? "div" : "strong", line)));
    return box;
  }

  /* A commune on the map is a link to its sheet for the keyboard too (leaflet-setup.js): named by
   * what its tooltip says (``lines``; its name alone when no figures are shown), Enter opens the
   * sheet as a click does. */
  function communeLink(layer, lines) {
    const p = layer.feature.properties;
    L.geosignalShapeAction(layer, {role: "link", name: lines ? lines.join(", ") : `${p.name_fr || p.name || ""} (${p.nis_code})`});
  }

  // reports, but nothing for this indicator: a white commune read "no problem here"
  function reportedWithoutValue(row, indicator) {
    return row.report_count > 0 && !(row[indicator] > 0);
  }

  // why a commune of reportedWithoutValue has no value for this indicator (a key of
  // T.reported_no_value): each indicator its own reason (the households one called a zone
  // "points, road stretches")
  function noValueReason(row, indicator) {
    const perInhabitant = indicator === "reports_per_1000_inhabitants" || indicator === "inhabitants_affected_estimate";
    if (perInhabitant && !(row.population > 0)) return "no_population";  // unknown, or 0: no rate
    if (indicator === "households_declared") return "no_households";
    if (indicator === "inhabitants_affected_estimate" && row.white_zone_share > 0) return "too_small";
    return "no_area";  // the white-zone share, and an estimate without any area
  }
  const REPORTED_NO_VALUE = {color: "#0b3d91", weight: 2.5, dashArray: "6 4"};

  function paint() {
    if (!territory) return;  // no figures (filters refused)
    const indicator = document.getElementById("indicator").value;
    const spec = INDICATORS[indicator];
    const byNis = new Map(rows.map((r) => [r.nis_code, r]));
    const limits = breaks(rows.map((r) => r[indicator]));
    communes.eachLayer((layer) => {
      const row = byNis.get(layer.feature.properties.nis_code);
      if (!row) return;
      layer.setStyle({fillColor: colourFor(row[indicator], limits), fillOpacity: 0.7, color: "#555", weight: 1,
                      dashArray: null, ...(reportedWithoutValue(row, indicator) ? REPORTED_NO_VALUE : {})});
      if (reportedWithoutValue(row, indicator)) layer.bringToFront();
      layer.unbindTooltip();
      communeLink(layer, tooltipLines(row, indicator));
      layer.bindTooltip(tooltipFor(row, indicator), {sticky: true});
    });
    if (!communes.geosignalClick) {  // a commune clicked on the map opens its sheet
      communes.geosignalClick = true;
      communes.eachLayer((layer) => layer.on("click", () => {
        window.location.assign(sheetUrl(layer.feature.properties.nis_code));
      }));
    }
    const legend = document.getElementById("legend");
    legend.replaceChildren(el("div", spec.label));
    // as many decimals as the classes need to read apart (0.004 reports per 1,000 inhabitants
    // read "0.00 – 0.00" with the indicator's two), at most five
    let digits = spec.digits;
    const shown = (d) => limits.map((v) => fmt(v * spec.scale, d));
    while (digits < 5 && limits.length > 1 && (new Set(shown(digits)).size < limits.length
           || limits.some((v) => v > 0 && Number((v * spec.scale).toFixed(digits)) === 0))) {
      digits += 1;
    }
    const labels = limits.length === 1 ? [T.no_value] : limits.map((low, i) => {
      const high = limits[i + 1];
      const a = fmt(low * spec.scale, digits);
      // the first class starts above 0 (0 itself has its own line)
      const from = i === 0 && low === 0 ? `> ${a}` : a;
      return high === undefined ? `> ${a}${spec.unit}` : `${from} – ${fmt(high * spec.scale, digits)}${spec.unit}`;
    });
    // every colour the map uses: communes at 0 (or without a value) get the palette's first
    // colour, the classes above 0 the others
    const colours = limits.length === 1 ? [PALETTE[0]] : [PALETTE[0], ...limits.map((_, i) => PALETTE[i + 1])];
    if (limits.length > 1) labels.unshift(`${fmt(0, 0)}${spec.unit}`);
    labels.forEach((text, i) => {
      const line = el("div", null, "row");
      const swatch = el("span", null, "swatch");
      swatch.style.backgroundColor = colours[i];
      swatch.dataset.colour = colours[i];
      line.append(swatch, el("span", text));
      legend.appendChild(line);
    });
    // the dashed outline, once per reason the map's dashed communes have
    const reasons = new Set(rows.filter((row) => reportedWithoutValue(row, indicator))
      .map((row) => noValueReason(row, indicator)));
    if (reasons.size) {
      const block = el("div");
      block.id = "legend-reported-no-value";
      reasons.forEach((reason) => {
        const line = el("div", null, "row");
        line.dataset.reason = reason;
        line.append(el("span", null, "swatch dashed"), el("span", T.reported_no_value[reason]));
        block.appendChild(line);
      });
      legend.appendChild(block);
    }
  }

  /* ---------------------------------------------------------------- table */

  function trendText(survey) {
    if (!survey || !survey.trend) return "—";
    return survey.trend.map((t) => `${t.edition}${COLON}${t.smart_score === null ? "—" : t.smart_score}`).join(" → ");
  }

  /* A row's cells. On a phone a row is a card: the commune, then its three key figures side
   * by side (class "key"), the others (class "more") shown by the card's "other figures"
   * button, whose state survives a new sort or filter (kept by NIS code). */
  const opened = new Set();
  // the latest edition with answers: a commune that did not answer it shows its own latest
  // answers with their year, so that columns mixing editions say so
  let latestEdition = null;
  function olderEdition(survey) {
    return survey && latestEdition !== null && survey.edition !== latestEdition ? ` (${survey.edition})` : "";
  }
  function cells(row, isTotal) {
    const s = row.survey || null;
    const name = el("td", null, "name");
    const id = isTotal ? "territory" : row.nis_code;
    if (isTotal) {
      name.append(el("span", T.territory_row || row.name_fr));
    } else {
      const link = el("a", row.name_fr);
      link.href = sheetUrl(row.nis_code);
      name.appendChild(link);
    }
    const more = el("button", T.more_figures, "row-more");
    more.type = "button";
    more.dataset.row = id;
    more.setAttribute("aria-expanded", String(opened.has(id)));
    name.appendChild(more);
    const cited = s ? (s.connectivity_cited === true ? T.yes : s.connectivity_cited === false ? T.no : "—") : "—";
    // no report of its own, yet a white zone: a neighbour's zone reaching over the boundary (said
    // under the table, so that 0 reports beside 3 % does not read as an error)
    const count = el("td", fmt(row.report_count, 0), "num key");
    if (!isTotal && row.report_count === 0 && row.white_zone_area_km2 > 0) {
      const mark = el("span", "*", "neighbour-mark");
      mark.title = T.neighbour_zone_mark;
      count.append(" ", mark);
    }
    return [
      el("td", isTotal ? "" : row.nis_code, "more"), name,
      count,
      el("td", fmt(row.reports_per_1000_inhabitants, 2), "num more"),
      el("td", fmt(row.white_zone_area_km2, 3), "num key"),
      el("td", fmt(100 * row.white_zone_share, 2) + PERCENT, "num key"),
      el("td", fmt(row.line_length_km, 2), "num more"),
      el("td", fmt(row.households_declared, 0), "num more"),
      el("td", fmt(row.inhabitants_affected_estimate, 0), "num more"),
      el("td", s && s.smart_score !== null ? `${s.smart_score}/10${olderEdition(s)}` : "—", "num more survey-col"),
      el("td", cited === "—" ? cited : cited + olderEdition(s), "more survey-col"),
      el("td", s && s.citizens_informed_score !== null ? `${s.citizens_informed_score}/10${olderEdition(s)}` : "—",
         "num more survey-col"),
      el("td", isTotal ? "" : trendText(s), "more survey-col"),
    ];
  }

  function renderNeighbourNote() {
    const note = document.getElementById("neighbour-note");
    if (!note) return;
    note.textContent = T.neighbour_zone_note;
    note.hidden = !rows.some((r) => r.report_count === 0 && r.white_zone_area_km2 > 0);
  }

  function renderTable() {
    if (!territory) return;  // no figures (filters refused)
    const sorted = [...rows].sort((a, b) => {
      const x = get(a, sortKey);
      const y = get(b, sortKey);
      if (x === y) return a.nis_code.localeCompare(b.nis_code);
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "string" ? x.localeCompare(y, LOCALE) : x - y) * sortDir;
    });
    // the table's search: a name (accents and case ignored) or the start of a NIS code
    const query = fold(search ? search.value.trim() : "");
    const shown = query ? sorted.filter((r) => fold(r.name_fr).includes(query) || r.nis_code.startsWith(query)) : sorted;
    if (searchCount) {
      searchCount.textContent = query ? plural("search_count", shown.length, {shown: shown.length, total: sorted.length}) : "";
    }
    const body = table.tBodies[0];
    // on a phone each row is a card whose cells are labelled with their column's header
    const labelled = (tds) => tds.map((td, i) => { td.dataset.label = HEADERS[i] || ""; return td; });
    body.replaceChildren(...shown.map((row) => {
      const tr = el("tr");
      tr.dataset.nis = row.nis_code;
      tr.classList.toggle("open", opened.has(row.nis_code));
      tr.append(...labelled(cells(row, false)));
      return tr;
    }));
    const foot = el("tr");
    foot.classList.toggle("open", opened.has("territory"));
    foot.append(...labelled(cells(territory, true)));
    table.tFoot.replaceChildren(foot);
    // aria-sort belongs to the column header (th), not to its button
    for (const button of table.tHead.querySelectorAll("button")) {
      const th = button.closest("th");
      if (button.dataset.key === sortKey) th.setAttribute("aria-sort", sortDir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  const HEADERS = Array.from(table.tHead.rows[0].cells, (th) => th.textContent.trim());
  const search = document.getElementById("commune-search");
  const searchCount = document.getElementById("commune-search-count");
  function fold(text) { return text.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase(); }
  if (search) search.addEventListener("input", renderTable);

  // the filters start folded on a phone: the map is then on the first screen
  const filtersBox = document.getElementById("filters-box");
  if (filtersBox && window.matchMedia("(max-width: 699px)").matches) filtersBox.open = false;

  // a card's "other figures" button (phones only) unfolds the rest of its row
  table.addEventListener("click", (event) => {
    const button = event.target.closest("button.row-more");
    if (!button) return;
    const open = !opened.has(button.dataset.row);
    if (open) opened.add(button.dataset.row); else opened.delete(button.dataset.row);
    button.setAttribute("aria-expanded", String(open));
    button.closest("tr").classList.toggle("open", open);
  });

  table.tHead.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-key]");
    if (!button) return;
    if (sortKey === button.dataset.key) sortDir = -sortDir;
    else { sortKey = button.dataset.key; sortDir = sortKey === "nis_code" || sortKey === "name_fr" ? 1 : -1; }
    renderTable();
  });

  function renderTerritory(t, editions) {
    const dl = document.getElementById("territory");
    const items = [
      [T.territory.communes, String(t.commune_count)],
      [T.territory.reports, fmt(t.report_count, 0)],
      [T.territory.kinds, `${fmt(t.point_count, 0)} / ${fmt(t.line_count, 0)} / ${fmt(t.zone_count, 0)}`],
      [T.territory.white_zone, `${fmt(t.white_zone_area_km2, 3)} km²`],
      [T.territory.share, fmt(100 * t.white_zone_share, 2) + PERCENT],
      [T.territory.lines, `${fmt(t.line_length_km, 2)} km`],
      [T.territory.households, fmt(t.households_declared, 0)],
      [T.territory.inhabitants, fmt(t.inhabitants_affected_estimate, 0)],
    ];
    dl.replaceChildren(...items.flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
    const list = document.getElementById("survey-editions");
    list.replaceChildren(...(editions || []).map((e) => el("li",
      fill(T.edition, {year: e.year, score: e.smart_score === null ? "—" : fmt(e.smart_score, 1) + "/10"}) +
      (e.responses ? fill(T.edition_answers, {n: fmt(e.responses, 0)}) : T.edition_published))));
    if (!editions || !editions.length) list.appendChild(el("li", T.no_edition));
  }

  function updateDownloads(params) {
    for (const [id, extra] of [["download-csv", {}], ["download-csv-comma", {decimal: "comma"}], ["download-geojson", {}]]) {
      const link = document.getElementById(id);
      const url = new URL(link.href, window.location.href);
      const query = new URLSearchParams(params);
      for (const [k, v] of Object.entries(extra)) query.set(k, v);
      url.search = query.toString();
      link.href = url.pathname + url.search;
    }
  }

  /* A period refused (it ends before it starts, a date out of bounds): said beside its dates,
   * which are marked; nothing when "" (the message goes, the marks too). */
  const periodError = document.getElementById("period-error");
  function periodFault(text) {
    for (const name of ["from", "to"]) {
      const field = form.elements[name];
      if (text) {
        field.setAttribute("aria-invalid", "true");
        field.setAttribute("aria-describedby", "period-error");
      } else {
        field.removeAttribute("aria-invalid");
        field.removeAttribute("aria-describedby");
      }
    }
    periodError.textContent = text || "";
    periodError.hidden = !text;
    if (text) periodError.setAttribute("role", "alert"); else periodError.removeAttribute("role");
  }

  /* Filters refused: the figures of the filters before go (territory, table, choropleth and its
   * legend, the reports on the map), not left as if they answered these. */
  function noFigures() {
    rows = [];
    territory = null;
    document.getElementById("territory").replaceChildren();
    document.getElementById("legend").replaceChildren();
    document.getElementById("estimate-note").textContent = "";
    document.getElementById("neighbour-note").hidden = true;
    const line = el("tr", null, "no-figures");
    const cell = el("td", T.no_figures);
    cell.colSpan = table.tHead.rows[0].cells.length;
    line.appendChild(cell);
    table.tBodies[0].replaceChildren(line);
    table.tFoot.replaceChildren();
    communes.eachLayer((layer) => {
      layer.setStyle({fillColor: PALETTE[0], fillOpacity: 0, color: "#555", weight: 1, dashArray: null});
      layer.unbindTooltip();
      communeLink(layer, null);
    });
    clearLocations();
  }

  async function loadStats() {
    const ticket = ++statsRequest;
    const params = filterParams();
    updateDownloads(params);
    params.set("survey", "1");
    pane.dataset.state = "loading";
    const response = await fetch(`${pane.dataset.statsUrl}?${params}`, {headers: {Accept: "application/json"}});
    const body = await response.json();
    if (ticket !== statsRequest) return;
    if (!response.ok) {
      const said = (I.problemText ? I.problemText(body) : "") || String(response.status);
      noFigures();
      if (body.where === "from" || body.where === "to") {  // the period: said beside its dates
        periodFault(said);
        if (filtersBox) filtersBox.open = true;  // (folded on phones)
        document.getElementById("map-status").textContent = T.no_figures;
      } else {
        periodFault("");
        document.getElementById("map-status").textContent = fill(T.error, {detail: said});
      }
      pane.dataset.state = "refused";
      return;
    }
    periodFault("");
    rows = body.communes;
    territory = body.territory;
    // the survey's columns only when an edition with answers per commune is loaded
    table.classList.toggle("no-survey", !(body.survey_editions || []).some((e) => e.responses > 0));
    latestEdition = (body.survey_editions || []).filter((e) => e.responses > 0)
      .reduce((latest, e) => Math.max(latest, e.year), -1);
    if (latestEdition < 0) latestEdition = null;
    document.getElementById("estimate-note").textContent = fill(T.estimate_note, {year: territory.population_year || "?"});
    renderTable();
    renderNeighbourNote();
    renderTerritory(territory, body.survey_editions);
    paint();
    pane.dataset.state = "ready";
    pane.dataset.total = String(territory.report_count);
  }

  /* ---------------------------------------------------------------- heatmap and markers */

  // without a tile layer the map has no maxZoom, which Leaflet.markercluster needs
  if (!Number.isFinite(map.getMaxZoom())) map.setMaxZoom(18);
  // blues, apart from the choropleth's reds (leaflet.heat's default rainbow ends in red: its
  // densest places vanished on the reddest communes); the legend's bar is the same gradient
  // (.heat-bar, dashboard.css)
  const HEAT_GRADIENT = {0.3: "#c6dbef", 0.55: "#6baed6", 0.8: "#2171b5", 1: "#08306b"};
  const heat = L.heatLayer([], {radius: 22, blur: 18, maxZoom: 13, minOpacity: 0.3, gradient: HEAT_GRADIENT});
  const clusters = L.markerClusterGroup({chunkedLoading: true, showCoverageOnHover: false});
  const cellsLayer = L.layerGroup();  // the server's cells, or close in the shapes of stretches and zones
  const KINDS = ["point", "line", "zone"].map((k) => (I.labels || {})[k] || k);

  function syncLayers() {
    const showHeat = document.getElementById("show-heat").checked;
    const showMarkers = document.getElementById("show-markers").checked;
    if (showHeat) heat.addTo(map); else map.removeLayer(heat);
    document.getElementById("heat-legend").hidden = !showHeat;
    if (showMarkers) { clusters.addTo(map); cellsLayer.addTo(map); } else { map.removeLayer(clusters); map.removeLayer(cellsLayer); }
  }

  function clearLocations() {
    heat.setLatLngs([]);
    clusters.clearLayers();
    cellsLayer.clearLayers();
    delete pane.dataset.locations;
    delete pane.dataset.locationsTotal;
  }

  async function loadLocations() {
    const ticket = ++locationsRequest;
    const b = map.getBounds();
    const params = filterParams();
    // zoomed out on a wide screen the view runs past ±180°: the box asked for is the world's at most
    const clamp = (v, limit) => Math.max(-limit, Math.min(limit, v));
    params.set("bbox", [clamp(b.getWest(), 180), clamp(b.getSouth(), 90), clamp(b.getEast(), 180), clamp(b.getNorth(), 90)]
      .map((v) => v.toFixed(5)).join(","));
    params.set("zoom", String(Math.round(map.getZoom())));
    const response = await fetch(`${pane.dataset.locationsUrl}?${params}`, {headers: {Accept: "application/json"}});
    const body = await response.json();
    if (ticket !== locationsRequest) return;
    if (!response.ok) { clearLocations(); return; }  // filters refused: said by loadStats
    clusters.clearLayers();
    cellsLayer.clearLayers();
    if (body.mode === "points") {
      // close in, road stretches and zones are drawn as they are (shapes, in blue against the
      // red choropleth; no heat blob at their centre), points as dots
      const shapes = body.shapes || [];
      heat.setLatLngs(body.items.filter((item, i) => !shapes[i]).map(([lon, lat]) => [lat, lon, 1]));
      clusters.addLayers(body.items.filter((item, i) => !shapes[i]).map(([lon, lat, kind]) =>
        L.circleMarker([lat, lon], {radius: 6, color: "#7b241c", weight: 1, fillColor: "#e74c3c", fillOpacity: 0.8})
          .bindTooltip(KINDS[kind] || "")));
      shapes.forEach((shape, i) => {
        if (!shape) return;
        cellsLayer.addLayer(L.geoJSON(shape, {style: {color: "#0b3d91", weight: 3, fillColor: "#4a90d9", fillOpacity: 0.3}})
          .bindTooltip(KINDS[body.items[i][2]] || ""));
      });
    } else {
      const max = Math.max(1, ...body.items.map((i) => i[2]));
      heat.setLatLngs(body.items.map(([lon, lat, n]) => [lat, lon, n / max]));
      for (const [lon, lat, n] of body.items) {
        const icon = L.divIcon({className: "cell-marker", html: "", iconSize: [36, 36]});
        const marker = L.marker([lat, lon], {icon, keyboard: false});
        marker.on("add", () => { marker.getElement().textContent = fmt(n, 0); });
        marker.bindTooltip(plural("cell_reports", n, {n: fmt(n, 0)}));
        cellsLayer.addLayer(marker);
      }
    }
    document.getElementById("map-status").textContent =
      plural("in_view", body.total, {n: fmt(body.total, 0)}) + (body.mode === "cells" ? T.grouped : "");
    pane.dataset.locations = body.mode;
    pane.dataset.locationsTotal = String(body.total);
  }

  function refresh() {
    loadStats().catch((e) => { document.getElementById("map-status").textContent = fill(T.error, {detail: String(e)}); });
    loadLocations().catch((e) => { document.getElementById("map-status").textContent = fill(T.error, {detail: String(e)}); });
  }

  form.addEventListener("change", (event) => {
    if (event.target.id === "show-heat" || event.target.id === "show-markers") { syncLayers(); return; }
    writeAddress();
    if (event.target.id === "indicator") { paint(); return; }
    refresh();
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  map.on("moveend", () => loadLocations().catch(() => {}));
  readAddress();
  syncLayers();
  refresh();
  // a refused survey file: the page comes back at its top, the refusal is further down
  const surveyError = document.getElementById("survey-error");
  if (surveyError) { surveyError.scrollIntoView({block: "center"}); surveyError.focus({preventScroll: true}); }
}());
