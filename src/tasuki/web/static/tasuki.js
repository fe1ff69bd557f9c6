// tasuki web app: the little script there is (no framework, no build step).
// <button data-copy="#id"> copies the text of the element #id (e.g. a `tasuki rerun` command
// or a new API token) and says so in its own label for a moment.
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) { return; }
  var source = document.querySelector(button.getAttribute("data-copy"));
  if (!source || !navigator.clipboard) { return; }
  navigator.clipboard.writeText(source.textContent.trim()).then(function () {
    var label = button.textContent;
    button.textContent = "Copied";
    setTimeout(function () { button.textContent = label; }, 1500);
  });
});
