// The run page shows how far a scanning run is, as the server knew it. This
// asks the server every few seconds and moves the <progress> bar and its
// words in place (a role="status" region, so screen readers hear it); once
// the run has been read, it reloads the page once to show the result.
// Without this file the page reloads itself (a <noscript> refresh). The
// words come from the page's data-* attributes, in its language.
(function () {
  "use strict";

  var box = document.querySelector("[data-run-status-url]");
  if (!box || !window.fetch) {
    return;
  }
  var url = box.getAttribute("data-run-status-url");
  var seconds = parseInt(box.getAttribute("data-refresh-seconds"), 10) || 3;
  var progressText = box.getAttribute("data-progress-text") || "Read {done} of {total} pages.";
  var finishedText = box.getAttribute("data-finished-text") || "";
  var slowText = box.getAttribute("data-slow-text") || "";
  var bar = box.querySelector("progress");
  var status = box.querySelector("[role=status]");
  // Stop asking after about half an hour: a run that takes longer has a
  // problem a reload shows better than a page that asks for ever.
  var attemptsLeft = Math.ceil(1800 / seconds);

  function show(answer) {
    var total = Math.max(answer.pages_total, 1);
    if (bar) {
      bar.max = total;
      bar.value = Math.min(answer.pages_done, total);
      bar.textContent = answer.pages_done + " / " + answer.pages_total;
    }
    if (status) {
      status.textContent = progressText
        .replace("{done}", answer.pages_done)
        .replace("{total}", answer.pages_total);
    }
  }

  function again() {
    if (attemptsLeft > 0) {
      window.setTimeout(check, seconds * 1000);
    } else if (status && slowText) {
      status.textContent = slowText;
    }
  }

  function check() {
    attemptsLeft -= 1;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (answer) {
        if (!answer) {
          again();
          return;
        }
        show(answer);
        if (answer.is_finished) {
          if (status && finishedText) {
            status.textContent = finishedText;
          }
          window.location.reload();
        } else {
          again();
        }
      })
      .catch(again);
  }

  window.setTimeout(check, seconds * 1000);
})();
