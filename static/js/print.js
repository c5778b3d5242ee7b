/* The commune sheet's print button: the browser's print dialog (no inline handler, CSP). */
(function () {
  "use strict";
  const button = document.getElementById("print-sheet");
  if (button) button.addEventListener("click", () => window.print());
}());
