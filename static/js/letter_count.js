// A live character count under the letter box. The page states the limit and
// the server enforces it without this file; this only shows how much is left.
(function () {
  "use strict";

  var box = document.querySelector("textarea[data-letter-count]");
  if (!box) {
    return;
  }
  var limit = parseInt(box.getAttribute("maxlength"), 10);
  if (!limit) {
    return;
  }
  // Announce to screen readers only when a threshold is crossed, not on every key.
  var WARN_AT = Math.min(500, Math.floor(limit / 10));

  var counter = document.createElement("p");
  counter.className = "letter-count";
  counter.id = box.id + "_count";
  var announcer = document.createElement("p");
  announcer.className = "visually-hidden";
  announcer.setAttribute("aria-live", "polite");
  box.insertAdjacentElement("afterend", counter);
  counter.insertAdjacentElement("afterend", announcer);

  var describedBy = box.getAttribute("aria-describedby");
  box.setAttribute("aria-describedby", (describedBy ? describedBy + " " : "") + counter.id);

  function format(number) {
    return number.toLocaleString("en-US");
  }

  var lastState = "";

  function update() {
    // value uses "\n" for line breaks, as the server counts them.
    var used = box.value.length;
    var left = limit - used;
    counter.textContent = format(used) + " of " + format(limit) + " characters";
    var state = left <= 0 ? "full" : left <= WARN_AT ? "low" : "ok";
    counter.classList.toggle("letter-count-low", state !== "ok");
    if (state !== lastState) {
      if (state === "full") {
        announcer.textContent = "You have reached the limit of " + format(limit) + " characters.";
      } else if (state === "low") {
        announcer.textContent = format(left) + " characters left.";
      } else {
        announcer.textContent = "";
      }
      lastState = state;
    }
  }

  box.addEventListener("input", update);
  update();
})();
