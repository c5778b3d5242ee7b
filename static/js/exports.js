/* geosignal: the DWconnect exports page (/exports). An export is downloaded by the browser
 * (the form leads to the file; the page stays); its run is then added to the history below
 * without a reload: the history (GET /exports/historique, rendered by the server) is read
 * again a few times until a new run shows, and takes the place of this one. */
(function () {
  "use strict";
  var form = document.getElementById("new-export");
  var history = document.getElementById("history");
  var script = document.getElementById("exports-script");
  if (!form || !history || !script) { return; }
  function runs(root) { return Array.prototype.map.call(root.querySelectorAll(".export-run"), function (li) { return li.id; }); }
  function refresh(known, tries) {
    if (tries <= 0) { return; }
    window.setTimeout(function () {
      fetch(script.dataset.historyUrl, { credentials: "same-origin",
                                         headers: { Accept: "text/html", "X-Geosignal-Fragment": "history" } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("history");  // no style, no script
          if (fresh && runs(fresh).some(function (id) { return known.indexOf(id) < 0; })) {
            history.replaceChildren.apply(history, Array.prototype.map.call(fresh.childNodes, function (n) {
              return document.importNode(n, true);
            }));
          } else {
            refresh(known, tries - 1);
          }
        })
        .catch(function () { refresh(known, tries - 1); });
    }, 1500);
  }
  form.addEventListener("submit", function () { refresh(runs(history), 20); });
})();
