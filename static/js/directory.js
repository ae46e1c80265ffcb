// The directory's filter form works without this file; it only makes it nicer.
(function () {
  "use strict";

  var form = document.querySelector("[data-directory-form]");
  if (!form) {
    return;
  }

  // Leave empty filters out of the address, so shared links stay short.
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (control) {
      if (control.name && !control.disabled && control.value === "") {
        control.disabled = true;
        control.setAttribute("data-disabled-for-submit", "");
      }
    });
  });

  // Coming back with the Back button restores the page as it was left: re-enable.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(
      form.querySelectorAll("[data-disabled-for-submit]"),
      function (control) {
        control.disabled = false;
        control.removeAttribute("data-disabled-for-submit");
      }
    );
  });

  // On wide screens the filters sit beside the results, so show them open.
  var filters = form.querySelector("[data-directory-filters]");
  if (filters && window.matchMedia("(min-width: 56rem)").matches) {
    filters.open = true;
  }
})();
