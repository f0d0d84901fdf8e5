/*
 * sms-code.js — sends the registration code without reloading the page, so
 * the passwords already typed stay, and counts down the 60 s before the next
 * send. Without JavaScript the 获取验证码 button posts the form instead and
 * the server shows it again.
 * Markup: <button data-sms-code data-phone="ID" data-notice="ID" data-error="ID"
 * data-code-ttl-minutes="N">. An ES module: the countdown and the notice are
 * lib.js's.
 */
import { countdown, codeSent } from "/static/js/lib.js";

(function () {
  function mask(phone) {
    return phone.length === 11 ? phone.slice(0, 3) + "****" + phone.slice(7) : phone;
  }

  function wire(button) {
    var phone = document.getElementById(button.getAttribute("data-phone"));
    var notice = document.getElementById(button.getAttribute("data-notice"));
    var control = button.closest(".control");
    if (!phone || !notice || !control || !window.fetch) {
      return;
    }
    var label = button.textContent;

    function showError(message) {
      var id = button.getAttribute("data-error");
      var p = document.getElementById(id);
      if (!message) {
        if (p) {
          p.remove();
        }
        return;
      }
      if (!p) {
        p = document.createElement("p");
        p.className = "field-error";
        p.id = id;
        p.setAttribute("role", "alert");
        control.appendChild(p);
      }
      p.textContent = message;
    }

    function wait(seconds) {
      countdown(button, seconds, label, "秒后可重新获取");
    }

    button.addEventListener("click", function (ev) {
      ev.preventDefault();
      var number = phone.value.replace(/\s+/g, "");
      button.disabled = true;
      fetch("/api/v1/sms/codes", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ phone: number, purpose: "register" })
      }).then(function (resp) {
        return resp.json().then(function (body) {
          return { ok: resp.ok, body: body };
        });
      }).then(function (res) {
        if (res.ok) {
          showError("");
          notice.textContent = codeSent(mask(number), button);
          notice.className = "hint hint-success";
          notice.setAttribute("role", "status");
          wait(res.body.resend_after || 60);
          return;
        }
        var err = res.body.error || {};
        showError(err.message || "验证码发送失败，请稍后再试");
        if (err.retry_after && err.retry_after <= 120) {
          wait(err.retry_after);
        } else {
          button.disabled = false;
        }
      }).catch(function () {
        // The network failed: let the button post the form the plain way.
        button.disabled = false;
        var form = button.form;
        if (form && form.requestSubmit) {
          form.requestSubmit(button);
        }
      });
    });
  }

  document.querySelectorAll("button[data-sms-code]").forEach(wire);
})();
