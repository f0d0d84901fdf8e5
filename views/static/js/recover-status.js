/*
 * recover-status.js — 查询申请进度 (/recover/status).
 *
 * When this browser holds a case's token (sessionStorage, written by the
 * wizard), the status is shown directly from GET /api/v1/recoveries/{id}.
 * Otherwise the applicant enters the case number, receives a code on the
 * phone on record (POST /api/v1/recoveries/lookup) and exchanges it for a
 * token (POST /api/v1/recoveries/lookup/verify). The page shows the status,
 * dates, decision and timeline: never evidence or personal data, because the
 * status view carries none.
 */
(function () {
  "use strict";

  var STORE = "rd.recovery";
  var page = document.getElementById("status-page");
  if (!page) {
    return;
  }
  var state = null;
  var timer = null;
  var sentNumber = "";

  var EXPLAIN = {
    draft: "申请尚未提交：请继续完成身份验证和上传证件照，然后提交申请。",
    submitted: "申请已提交，正在等待管理员审核（1-2个工作日）。",
    in_review: "管理员正在审核您的申请，请耐心等待。",
    returned: "申请已退回补正：请按审核意见重新上传相应材料，然后再次提交申请。",
    approved: "审核已通过：新密码已以短信发送至您注册时登记的手机，接收短信 4 小时后新密码才生效（在此之前原密码仍可使用）。",
    rejected: "审核未通过，原因见下方审核结果。如有疑问请致电 3873738 咨询。"
  };
  var OUTCOMES = { approve: "审核通过", reject: "审核未通过", "return": "退回补正" };

  function $(id) {
    return document.getElementById(id);
  }

  function show(el, on) {
    el.hidden = !on;
  }

  function load() {
    try {
      return JSON.parse(window.sessionStorage.getItem(STORE) || "null");
    } catch (e) {
      return null;
    }
  }

  function save() {
    try {
      window.sessionStorage.setItem(STORE, JSON.stringify(state));
    } catch (e) {
      // no storage: the status is still shown until a reload
    }
  }

  function forget() {
    try {
      window.sessionStorage.removeItem(STORE);
    } catch (e) {
      // nothing stored
    }
    state = null;
  }

  function failure(status, body) {
    var err = new Error((body && body.message) || "请求失败");
    err.status = status;
    err.body = body || {};
    return err;
  }

  async function api(method, path, body) {
    var headers = { Accept: "application/json" };
    var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (method === "GET" && state && state.token) {
      headers.Authorization = "Bearer " + state.token;
    }
    var resp;
    try {
      resp = await fetch("/api/v1/recoveries" + path, init);
    } catch (e) {
      throw failure(0, { code: "network", message: "网络连接失败，请检查网络后重试" });
    }
    var data = null;
    try {
      data = await resp.json();
    } catch (e) {
      data = null;
    }
    if (!resp.ok) {
      throw failure(resp.status, data && data.error ? data.error :
        { code: "http_" + resp.status, message: "请求未能完成（" + resp.status + "），请稍后重试" });
    }
    return data;
  }

  var timeFormat = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23"
  });

  function formatTime(iso) {
    var d = new Date(iso);
    if (!iso || isNaN(d.getTime())) {
      return "—";
    }
    var p = {};
    timeFormat.formatToParts(d).forEach(function (x) {
      p[x.type] = x.value;
    });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
  }

  function formatDate(ymd) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || "");
    return m ? m[1] + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : "—";
  }

  function fieldError(name, message) {
    var p = $(name + "-error");
    var input = $(name);
    p.textContent = message || "";
    show(p, Boolean(message));
    if (message) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", p.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
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
    $("status-explain").textContent = EXPLAIN[v.status] || "";
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
    }

    var cont = $("status-continue");
    var again = v.status === "draft" || v.status === "returned";
    show(cont, again);
    if (again) {
      cont.textContent = v.status === "draft" ? "继续办理" : "重新上传材料";
      cont.href = "/recover?kind=" + (v.kind === "person" ? "person" : "unit");
    }

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
      save();
      render(v);
      return true;
    } catch (err) {
      show($("status-loading"), false);
      if (err.status === 404) {
        forget();
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

  function countdown(seconds) {
    window.clearInterval(timer);
    var left = Math.max(0, Math.ceil(seconds));
    function tick() {
      if (left <= 0) {
        window.clearInterval(timer);
        sendButton.disabled = false;
        sendButton.textContent = "重新获取验证码";
        return;
      }
      sendButton.disabled = true;
      sendButton.textContent = left + "秒后重新获取";
      left--;
    }
    tick();
    timer = window.setInterval(tick, 1000);
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
      $("lookup-sent").textContent = "验证码已发送至 " + r.phone_masked + "，5分钟内有效";
      show($("lookup-sent"), true);
      countdown(r.resend_after || 60);
      $("lookup_code").focus();
    } catch (err) {
      sendButton.disabled = false;
      if (err.body.code === "rate_limited" && err.body.retry_after > 0 && err.body.retry_after <= 3600) {
        countdown(err.body.retry_after);
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
      save();
      $("lookup_code").value = "";
      await showStatus();
    } catch (err) {
      showError(err);
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
    state = load();
    if (state && state.id && state.token && await showStatus()) {
      return;
    }
    showLookup();
  }

  init();
})();
