// A live character count under the letter box. The page states the limit and
// the server enforces it without this file; this only shows how much is left.
// The words come from the letter's form (data-count-text, data-full-text,
// data-left-text), in the page's language, with {used}, {limit} and {left}
// where the numbers go.
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

  var form = box.form;
  function text(name, fallback) {
    return (form && form.getAttribute(name)) || fallback;
  }
  var countText = text("data-count-text", "{used} of {limit} characters");
  var fullText = text("data-full-text", "You have reached the limit of {limit} characters.");
  var leftText = text("data-left-text", "Characters left: {left}");

  // Numbers as the page's language writes them ("10,000", "10.000").
  var language = document.documentElement.lang || undefined;
  function format(number) {
    try {
      return number.toLocaleString(language);
    } catch (error) {
      return number.toLocaleString();
    }
  }

  function fill(template, numbers) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(numbers, name) ? format(numbers[name]) : whole;
    });
  }

  var lastState = "";

  function update() {
    // value uses "\n" for line breaks, as the server counts them.
    var used = box.value.length;
    var left = limit - used;
    counter.textContent = fill(countText, { used: used, limit: limit });
    var state = left <= 0 ? "full" : left <= WARN_AT ? "low" : "ok";
    counter.classList.toggle("letter-count-low", state !== "ok");
    if (state !== lastState) {
      if (state === "full") {
        announcer.textContent = fill(fullText, { limit: limit });
      } else if (state === "low") {
        announcer.textContent = fill(leftText, { left: left });
      } else {
        announcer.textContent = "";
      }
      lastState = state;
    }
  }

  box.addEventListener("input", update);
  update();
})();
