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
    // (or, on a page that asks a question first, such as a confirmation, to that question; a
    // message a page writes in its own card, not in the flashes, such as a new API token shown
    // once, carries data-focus-on-load)
    // (a form that came back refused without a message at the top, a speed test's, brings it to
    // its own message, else to its first refused field)
    var shown = function (selector) {
      return Array.prototype.find.call(document.querySelectorAll(selector),
        function (e) { return e.getClientRects().length > 0; });
    };
    var said = document.querySelector(".flashes .flash") || document.querySelector("[data-focus-on-load]")
      || shown("main .field-error[role=alert]") || shown('main [aria-invalid="true"]');
    if (said && !document.querySelector("[autofocus]") && document.activeElement === document.body) {
      said.setAttribute("tabindex", "-1");
      said.focus();
    }
    // a report the map page kept on this device while sending it (report-map.js) is forgotten
    // once a page says it is stored (its idempotency key), and every such copy when signing out
    var store = null;
    try { store = window.localStorage; } catch (err) { store = null; }
    var unsent = function (each) {
      if (!store) { return; }
      Object.keys(store).filter(function (k) { return k.indexOf("geosignal.unsent.") === 0; }).forEach(each);
    };
    var sent = (document.body.dataset.sentReports || "").split(" ").filter(Boolean);
    if (sent.length) {
      unsent(function (k) {
        try { if (sent.indexOf((JSON.parse(store.getItem(k)) || {}).key) >= 0) { store.removeItem(k); } }
        catch (err) { store.removeItem(k); }
      });
    }
    document.querySelectorAll("form[data-forget-unsent]").forEach(function (signOut) {
      signOut.addEventListener("submit", function () {
        document.documentElement.dataset.unsentForgotten = "1";  // (the map page keeps nothing more)
        unsent(function (k) { store.removeItem(k); });
      });
    });
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
    // a file field in the page's language: the browser's own button and "No file chosen" speak
    // the browser's. The field stays (keyboard, screen readers, dropping a file on it), made
    // transparent over a button and the chosen file's name written by the page (see the CSS)
    var choose = document.body.dataset.fileChoose, none = document.body.dataset.fileNone;
    if (choose && none) {
      document.querySelectorAll("input[type=file]").forEach(function (input) {
        var picker = document.createElement("span");
        picker.className = "file-picker";
        var face = document.createElement("span");
        face.className = "button secondary";
        face.textContent = choose;
        face.setAttribute("aria-hidden", "true");  // (the field itself says what it holds)
        var name = document.createElement("span");
        name.className = "file-name";
        name.setAttribute("aria-hidden", "true");
        picker.appendChild(face);
        picker.appendChild(name);
        input.parentNode.insertBefore(picker, input);
        picker.appendChild(input);
        function show() {
          var files = input.files ? Array.prototype.map.call(input.files, function (f) { return f.name; }) : [];
          name.textContent = files.length ? files.join(", ") : none;
        }
        show();
        input.addEventListener("change", show);
        // (Back to the page: the browser gives the field its file again, without a change event)
        window.addEventListener("pageshow", show);
        if (input.form) { input.form.addEventListener("reset", function () { setTimeout(show, 0); }); }
      });
    }
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
