// Starts the batch PDF's download once the worker has made it. Without this
// file the page's "Check again" link does the same by hand. It replaces a
// <meta http-equiv="refresh">, which reloaded the page every few seconds and
// sent screen-reader users back to the top each time (WCAG 2.2.1). The words
// come from the page (data-ready-text, data-slow-text), in its language.
(function () {
  "use strict";

  var status = document.querySelector("[data-pdf-url]");
  if (!status || !window.fetch || !window.AbortController) {
    return;
  }
  var url = status.getAttribute("data-pdf-url");
  var seconds = parseInt(status.getAttribute("data-refresh-seconds"), 10) || 5;
  var readyText =
    status.getAttribute("data-ready-text") || "The PDF is ready: the download starts now.";
  var slowText =
    status.getAttribute("data-slow-text") ||
    "The PDF is taking longer than it should. Use \u201cCheck again\u201d, or the print view.";
  // Give up after about ten minutes: a batch that takes longer has a problem
  // the liaison should see, not a page that polls forever.
  var attemptsLeft = Math.ceil(600 / seconds);

  function check() {
    attemptsLeft -= 1;
    var controller = new AbortController();
    fetch(url, { credentials: "same-origin", signal: controller.signal })
      .then(function (response) {
        // Only the status matters: stop the PDF's body coming down twice.
        controller.abort();
        if (response.status === 200) {
          status.textContent = readyText;
          window.location.assign(url);
        } else if (response.status === 202 && attemptsLeft > 0) {
          window.setTimeout(check, seconds * 1000);
        } else {
          status.textContent = slowText;
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
