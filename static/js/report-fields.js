// geosignal: the report's fields (map form and edit form). Says as soon as they are chosen that
// a technology is not of the network chosen (« 4G » with « Fixe »): the rule and the sentence are
// the server's (geosignal/vocab.py NETWORK_TECHNOLOGIES, geosignal/ui_text.py network_check),
// given to the page as data in #network-check; nothing is refused here — the server says the
// same after filing, and decides.
// The coordinates field (templates/_typed_place.html): what several positions make (a road
// stretch or a zone) is asked from two lines on, a stretch checked for two, a zone for more,
// until the person chooses; WKT says its own type (the choice hidden).
(function () {
  "use strict";
  var field = document.getElementById("coordinates");
  var choice = document.getElementById("coordinates-shape");
  if (!field || !choice) { return; }
  var chosen = !!choice.querySelector("input:checked");
  function lines() { return field.value.split(/\r\n|\r|\n/).filter(function (l) { return l.trim(); }).length; }
  function sync() {
    var n = lines(), wkt = /^\s*(srid\s*=\s*[-+]?\d+\s*;\s*)?(point|linestring|polygon|multi|geometrycollection)/i.test(field.value);
    choice.hidden = n < 2 || wkt;
    if (!chosen && n >= 2) {
      var want = choice.querySelector("input[value='" + (n === 2 ? "line" : "zone") + "']");
      if (want && !want.checked) { want.checked = true; }
    }
    var zone = choice.querySelector("input[value=zone]");
    // two positions cannot make a zone: said by the choice's state, not guessed
    if (zone) { zone.disabled = n < 3; if (zone.disabled && zone.checked) { choice.querySelector("input[value=line]").checked = true; } }
  }
  choice.addEventListener("change", function () { chosen = true; });
  field.addEventListener("input", sync);
  sync();
})();
(function () {
  "use strict";
  var box = document.getElementById("network-check");
  var form = box && box.closest("form");
  if (!form) { return; }
  var check = JSON.parse(box.dataset.check || "{}");
  var network = form.querySelector("select[name=network]");
  if (!network) { return; }

  function say() {
    var own = (check.technologies || {})[network.value];
    var odd = [];
    if (own) {
      form.querySelectorAll("input[name=technologies]:checked").forEach(function (input) {
        if (own.indexOf(input.value) < 0) { odd.push((check.labels || {})[input.value] || input.value); }
      });
    }
    var text = odd.length ? String(check.sentence || "")
      .replace("%(technologies)s", odd.join(", "))
      .replace("%(network)s", (check.networks || {})[network.value] || network.value) : "";
    if (box.textContent !== text) { box.textContent = text; }
    box.classList.toggle("warning", !!text);
    box.dataset.odd = odd.length ? "1" : "";
  }
  form.addEventListener("change", function (e) {
    if (e.target === network || e.target.name === "technologies") { say(); }
  });
  say();  // a form shown again (refused, or a stored report's edit) says it at once
})();
