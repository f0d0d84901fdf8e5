/*
 * recover-status.js — 查询申请进度 (/recover/status). An ES module: the
 * shared helpers are lib.js's.
 *
 * When this browser holds a case's token (sessionStorage, written by the
 * wizard), the status is shown directly from GET /api/v1/recoveries/{id}.
 * Otherwise the applicant enters the case number, receives a code on the
 * phone on record (POST /api/v1/recoveries/lookup) and exchanges it for a
 * token (POST /api/v1/recoveries/lookup/verify). 忘记申请编号 sends the
 * latest case's number by SMS to the phone on record of the account the
 * step-1 certificate fields identify (POST /api/v1/recoveries/case-number). The page shows the status,
 * dates, decision and timeline: never evidence or personal data, because the
 * status view carries none. The explanations of each status and the
 * outcomes' labels are the page's data- attributes.
 */
import {
  byId as $, show, session, api as call, fieldError, countdown, formatDate, formatTime, labels, codeSent
} from "/static/js/lib.js";

(function () {
  var store = session("rd.recovery");
  var page = document.getElementById("status-page");
  if (!page) {
    return;
  }
  var state = null;
  var stopCountdown = function () {};
  var sentNumber = "";
  var OUTCOMES = labels(page, "outcomes");
  var EVIDENCE = labels(page, "evidence");

  function explain(status) {
    return page.getAttribute("data-explain-" + status) || "";
  }

  function api(method, path, body) {
    return call("/api/v1/recoveries", method, path, body, method === "GET" && state ? state.token : "");
  }

  function formError(message) {
    $("lookup-error-text").textContent = message || "";
    show($("lookup-error"), Boolean(message));
  }

  function clearErrors() {
    fieldError("case_number", "");
    fieldError("lookup_code", "");
    formError("");
  }

  // showError puts an API error beside its field, or above the form.
  function showError(err) {
    var b = err.body;
    if (b.field === "case_number") {
      fieldError("case_number", b.message);
      $("case_number").focus();
    } else if (b.field === "code" || b.code === "wrong_code" || b.code === "code_expired") {
      fieldError("lookup_code", b.message);
      $("lookup_code").focus();
    } else {
      formError(b.message);
    }
  }

  /* ---------- the status ---------- */

  // collapse joins runs of the same event (four uploads in a row) into one
  // line with a count and the time of the last one.
  function collapse(events) {
    var out = [];
    events.forEach(function (e) {
      var last = out[out.length - 1];
      if (last && last.type === e.type) {
        last.count++;
        last.at = e.at;
      } else {
        out.push({ type: e.type, label: e.label, at: e.at, count: 1 });
      }
    });
    return out;
  }

  function render(v) {
    var badge = $("status-badge");
    badge.className = "badge status-" + v.status;
    badge.textContent = v.status_label || v.status;
    $("status-number").textContent = v.case_number || "尚未提交";
    $("status-explain").textContent = explain(v.status);
    $("status-submitted").textContent = v.submitted_at ? formatTime(v.submitted_at) : "—";
    $("status-due").textContent = v.due_by ? formatDate(v.due_by) : "—";

    var d = v.decision;
    show($("status-decision"), Boolean(d));
    if (d) {
      $("decision-outcome").textContent = OUTCOMES[d.outcome] || d.outcome;
      $("decision-at").textContent = d.decided_at ? "（" + formatTime(d.decided_at) + "）" : "";
      var reasons = $("decision-reasons");
      reasons.textContent = "";
      (d.reasons || []).forEach(function (r) {
        var li = document.createElement("li");
        li.textContent = typeof r === "string" ? r : (r && (r.text || r.code)) || "";
        reasons.appendChild(li);
      });
      // The reviewer's words to the applicant, and for a return exactly
      // which materials to upload again.
      $("decision-message").textContent = d.message || "";
      show($("decision-message-box"), Boolean(d.message));
      var kinds = $("decision-return-kinds");
      kinds.textContent = "";
      var returned = v.status === "returned" ? d.return_kinds || [] : [];
      returned.forEach(function (k) {
        var li = document.createElement("li");
        li.textContent = EVIDENCE[k] || k;
        kinds.appendChild(li);
      });
      show($("decision-return-box"), returned.length > 0);
    }
    var effective = v.status === "approved" && v.password_effective_at;
    $("decision-effective").textContent = effective
      ? (page.getAttribute("data-effective-at") || "").replace("{at}", formatTime(v.password_effective_at)) : "";
    show($("decision-effective"), Boolean(effective));
    // The 4-hour notice is about a password that was or will be sent: only
    // while a case can still end in one, never after a rejection.
    show($("status-password-note"), v.status !== "rejected");

    var cont = $("status-continue");
    var again = v.status === "draft" || v.status === "returned";
    show(cont, again);
    if (again) {
      cont.textContent = v.status === "draft" ? "继续办理" : "重新上传材料";
      cont.href = "/recover?kind=" + (v.kind === "person" ? "person" : "unit");
    }
    // After a rejection the case is closed: the way on is a new application.
    var fresh = $("status-new");
    show(fresh, v.status === "rejected");
    fresh.href = "/recover?kind=" + (v.kind === "person" ? "person" : "unit");

    var list = $("status-timeline");
    list.textContent = "";
    collapse(v.timeline || []).forEach(function (e) {
      var li = document.createElement("li");
      var t = document.createElement("time");
      t.dateTime = e.at;
      t.textContent = formatTime(e.at);
      var label = document.createElement("span");
      label.className = "timeline-label";
      label.textContent = e.count > 1 ? e.label + "（" + e.count + (e.type === "evidence_uploaded" ? " 张）" : " 次）") : e.label;
      li.appendChild(t);
      li.appendChild(label);
      list.appendChild(li);
    });

    show($("status-loading"), false);
    show($("lookup"), false);
    show($("status-view"), true);
  }

  async function showStatus() {
    show($("status-loading"), true);
    try {
      var v = await api("GET", "/" + encodeURIComponent(state.id));
      state.kind = v.kind;
      store.save(state);
      render(v);
      return true;
    } catch (err) {
      show($("status-loading"), false);
      if (err.status === 404) {
        state = store.forget();
      } else {
        formError(err.body.message);
      }
      return false;
    }
  }

  function showLookup() {
    show($("status-loading"), false);
    show($("status-view"), false);
    show($("lookup"), true);
  }

  /* ---------- the lookup by case number and code ---------- */

  var sendButton = $("lookup-send");

  function wait(seconds) {
    stopCountdown();
    stopCountdown = countdown(sendButton, seconds, "重新获取验证码");
  }

  function caseNumber() {
    return $("case_number").value.replace(/\s+/g, "").toUpperCase();
  }

  sendButton.addEventListener("click", async function () {
    clearErrors();
    var number = caseNumber();
    if (!number) {
      fieldError("case_number", "请输入申请编号");
      $("case_number").focus();
      return;
    }
    sendButton.disabled = true;
    try {
      var r = await api("POST", "/lookup", { case_number: number });
      sentNumber = number;
      $("lookup-sent").textContent = codeSent(r.phone_masked, page);
      show($("lookup-sent"), true);
      wait(r.resend_after || 60);
      $("lookup_code").focus();
    } catch (err) {
      sendButton.disabled = false;
      if (err.body.code === "rate_limited" && err.body.retry_after > 0 && err.body.retry_after <= 3600) {
        wait(err.body.retry_after);
      }
      showError(err);
    }
  });

  $("lookup-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    clearErrors();
    var number = caseNumber();
    var code = $("lookup_code").value.trim();
    if (!number) {
      fieldError("case_number", "请输入申请编号");
      $("case_number").focus();
      return;
    }
    if (!sentNumber || sentNumber !== number) {
      fieldError("lookup_code", "请先点击“获取验证码”，验证码将发送至注册时登记的手机号");
      return;
    }
    if (!/^\d{6}$/.test(code)) {
      fieldError("lookup_code", "请输入短信中的6位数字验证码");
      $("lookup_code").focus();
      return;
    }
    var button = $("lookup-verify");
    button.disabled = true;
    try {
      var r = await api("POST", "/lookup/verify", { case_number: number, code: code });
      state = { id: r.id, token: r.token, case_number: number };
      store.save(state);
      $("lookup_code").value = "";
      await showStatus();
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  });

  // 重新申请找回密码 after a rejection opens the wizard prefilled with what
  // the applicant typed in step 1 of the rejected case: read with the token
  // and handed over in sessionStorage (rd.again), never in the URL. Without
  // the token (or on failure) the plain link still opens an empty wizard.
  $("status-new").addEventListener("click", async function (ev) {
    if (!state || !state.id || !state.token) {
      return;
    }
    ev.preventDefault();
    var href = this.href;
    try {
      session("rd.again").save(await api("GET", "/" + encodeURIComponent(state.id) + "/again"));
    } catch (err) {
      // an empty wizard, then
    }
    state = store.forget(); // the wizard must not resume the closed case
    window.location.assign(href);
  });

  /* ---------- 忘记申请编号: the number by SMS, found as step 1 finds the account ---------- */

  var FORGOT_FIELDS = { unit: ["cert_type", "cert_number", "unit_name"], person: ["name", "id_number"] };

  function forgotKind() {
    return $("forgot_kind_person").checked ? "person" : "unit";
  }

  function forgotFormError(message) {
    $("forgot-error-text").textContent = message || "";
    show($("forgot-error"), Boolean(message));
  }

  function clearForgot() {
    FORGOT_FIELDS.unit.concat(FORGOT_FIELDS.person).forEach(function (f) {
      fieldError("forgot_" + f, "");
    });
    forgotFormError("");
    show($("forgot-sent"), false);
  }

  function showForgotKind() {
    var unit = forgotKind() === "unit";
    show($("forgot-unit"), unit);
    show($("forgot-person"), !unit);
  }

  $("forgot-open").addEventListener("click", function () {
    var open = $("forgot").hidden;
    show($("forgot"), open);
    $("forgot-open").setAttribute("aria-expanded", String(open));
    if (open) {
      $("forgot-title").focus();
    }
  });
  ["forgot_kind_unit", "forgot_kind_person"].forEach(function (id) {
    $(id).addEventListener("change", function () {
      clearForgot();
      showForgotKind();
    });
  });

  $("forgot-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    clearForgot();
    var kind = forgotKind();
    var body = { kind: kind };
    FORGOT_FIELDS[kind].forEach(function (f) {
      body[f] = $("forgot_" + f).value.trim();
    });
    var button = $("forgot-send");
    button.disabled = true;
    try {
      var r = await api("POST", "/case-number", body);
      var sent = $("forgot-sent");
      sent.textContent = (page.getAttribute("data-forgot-sent") || "").replace("{phone}", r.phone_masked);
      show(sent, true);
      $("case_number").focus();
    } catch (err) {
      var b = err.body;
      var list = Array.isArray(b.fields) && b.fields.length ? b.fields : b.field ? [{ field: b.field, message: b.message }] : [];
      var first = null;
      list.forEach(function (f) {
        if (fieldError("forgot_" + f.field, f.message)) {
          first = first || $("forgot_" + f.field);
        }
      });
      if (first) {
        first.focus();
      } else {
        forgotFormError(b.message);
      }
    } finally {
      button.disabled = false;
    }
  });

  $("status-other").addEventListener("click", function () {
    clearErrors();
    $("case_number").value = "";
    showLookup();
    $("case_number").focus();
  });

  async function init() {
    state = store.load();
    if (state && state.id && state.token && await showStatus()) {
      return;
    }
    showLookup();
  }

  init();
})();
