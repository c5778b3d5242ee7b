// geosignal: the report's fields (map form and edit form). Says as soon as they are chosen that
// a technology is not of the network chosen (« 4G » with « Fixe »): the rule and the sentence are
// the server's (geosignal/vocab.py NETWORK_TECHNOLOGIES, geosignal/ui_text.py network_check),
// given to the page as data in #network-check; nothing is refused here — the server says the
// same after filing, and decides.
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
