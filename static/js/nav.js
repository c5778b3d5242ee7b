// geosignal: the navigation folds behind a menu button on narrow screens. Loaded in <head>:
// marks the page as scripted at once (the CSS folds the menu only then, so that without
// scripts the links stay visible), then wires the button when the page is read, and brings
// the focus to the message a page comes back with after an action.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    // after an action the page comes back with its message: focus goes to it (a keyboard or
    // screen reader user learns what happened and goes on from there), unless a field asks for it
    // (or, on a page that asks a question first, such as a confirmation, to that question)
    var said = document.querySelector(".flashes .flash") || document.querySelector("[data-focus-on-load]");
    if (said && !document.querySelector("[autofocus]") && document.activeElement === document.body) {
      said.setAttribute("tabindex", "-1");
      said.focus();
    }
    // a "Copy" button beside a value shown once (a new API token, a link to hand over)
    document.querySelectorAll("button.copy-button[data-copy]").forEach(function (copy) {
      copy.addEventListener("click", function () {
        var source = document.getElementById(copy.dataset.copy);
        if (!source) { return; }
        var done = function () { copy.textContent = copy.dataset.copied || copy.textContent; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(source.value).then(done, function () { source.select(); });
        } else {  // plain http: the value is selected for the user's own copy
          source.focus();
          source.select();
        }
      });
    });
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
