// tasuki web app: the little script there is (no framework, no build step).
// <button data-copy="#id"> copies the text of the element #id (a page's link, a `tasuki rerun`
// command, a new API token) and says so in its own label for a moment. Where the clipboard
// API is not offered (plain http to another host is not a secure context) the text is
// selected instead, for Ctrl+C.
"use strict";
(function () {
  function flash(button, text) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = text;
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  function select(source) {
    var range = document.createRange();
    range.selectNodeContents(source);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) { return; }
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) { return; }
    var text = source.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(
        function () { flash(button, "Copied"); },
        function () { select(source); flash(button, "Selected: press Ctrl+C"); }
      );
    } else {
      select(source);
      flash(button, "Selected: press Ctrl+C");
    }
  });
})();
