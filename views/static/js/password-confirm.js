/*
 * password-confirm.js — tells at once when the second password differs from
 * the first. The server checks it again: this only saves a round trip.
 * Markup: <input data-confirm="ID-OF-THE-FIRST-PASSWORD" data-mismatch="the
 * server's refusal"> inside a .control.
 */
(function () {
  "use strict";

  function wire(confirm) {
    var first = document.getElementById(confirm.getAttribute("data-confirm"));
    var control = confirm.closest(".control");
    if (!first || !control) {
      return;
    }
    var errorId = confirm.id + "-error";
    var message = confirm.getAttribute("data-mismatch");
    var touched = false;

    function check() {
      var msg = document.getElementById(errorId);
      var differs = confirm.value !== "" && confirm.value !== first.value;
      if (differs) {
        if (!msg) {
          msg = document.createElement("p");
          msg.className = "field-error";
          msg.id = errorId;
          control.appendChild(msg);
        }
        msg.textContent = message;
        confirm.setAttribute("aria-invalid", "true");
      } else if (msg && msg.textContent === message) {
        msg.remove();
        confirm.removeAttribute("aria-invalid");
      }
      var described = (confirm.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
        return id && id !== errorId;
      });
      if (differs) {
        described.push(errorId);
      }
      confirm.setAttribute("aria-describedby", described.join(" "));
    }

    confirm.addEventListener("blur", function () {
      touched = true;
      check();
    });
    confirm.addEventListener("input", function () {
      if (touched) {
        check();
      }
    });
    first.addEventListener("input", function () {
      if (touched) {
        check();
      }
    });
  }

  document.querySelectorAll("input[data-confirm]").forEach(wire);
})();
