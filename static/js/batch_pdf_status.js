// The batch page says "The PDF is being prepared" as the server knew it. This
// asks the server every few seconds and, once the worker has made the PDF,
// rewrites that status in place (a role="status" region, so screen readers
// hear it) instead of reloading the page. Without this file a reload shows
// the same thing. The words come from the page (data-ready-text), in its language.
(function () {
  "use strict";

  var status = document.querySelector("[data-pdf-status-url]");
  if (!status || !window.fetch) {
    return;
  }
  var url = status.getAttribute("data-pdf-status-url");
  var seconds = parseInt(status.getAttribute("data-refresh-seconds"), 10) || 5;
  var readyText = status.getAttribute("data-ready-text") || "The PDF is ready.";
  // Stop after about ten minutes: a batch that takes longer has a problem a
  // reload shows better than a page that asks forever.
  var attemptsLeft = Math.ceil(600 / seconds);

  function check() {
    attemptsLeft -= 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (answer && answer.state === "ready") {
          status.textContent = readyText;
          status.removeAttribute("data-pdf-status-url");
        } else if (attemptsLeft > 0) {
          window.setTimeout(check, seconds * 1000);
        }
      })
      .catch(function () {
        if (attemptsLeft > 0) {
          window.setTimeout(check, seconds * 1000);
        }
      });
  }

  window.setTimeout(check, seconds * 1000);
})();
