// geosignal: the navigation folds behind a menu button on narrow screens. Loaded in <head>:
// marks the page as scripted at once (the CSS folds the menu only then, so that without
// scripts the links stay visible), then wires the button when the page is read.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.getElementById("menu-button");
    var nav = document.getElementById("main-nav");
    if (!button || !nav) { return; }
    function set(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      nav.classList.toggle("open", open);
    }
    button.addEventListener("click", function () { set(button.getAttribute("aria-expanded") !== "true"); });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape" && button.getAttribute("aria-expanded") === "true") { set(false); button.focus(); }
    });
  });
})();
