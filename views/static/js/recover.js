/*
 * recover.js — the 密码找回 wizard (/recover), and the 打印 button of the
 * 单位授权函 (/recover/letter-template).
 *
 * The wizard drives the same JSON API a portal would use:
 *   1 填写信息    POST /api/v1/recoveries                      → id, token, phone_masked, required_evidence
 *   2 身份验证    POST /api/v1/recoveries/{id}/sms, …/verify
 *   3 上传证件照  PUT  /api/v1/recoveries/{id}/evidence/{kind} (XMLHttpRequest, for upload progress)
 *   4 完成        POST /api/v1/recoveries/{id}/submit          → case_number, due_by
 * The case id and its bearer token live in sessionStorage, so a reload
 * resumes where GET /api/v1/recoveries/{id} says the case is. Images are
 * checked here first with the server's limits (size, type by the first
 * bytes, dimensions), which the page renders into the wizard's data-
 * attributes from internal/imagecheck; the server checks them again and its
 * word is final. A phone photo over the size limit or the downscaling
 * threshold is redrawn smaller as JPEG before it is sent (lib.js
 * downscaleJPEG), and the tile says so. An ES module: the shared helpers are lib.js's.
 */
import {
  byId as $, show, session, api as call, failure, networkFailure, statusFailure, fieldError, busy, countdown,
  formatDate, formatSize, number, labels, codeSent, downscaleJPEG
} from "/static/js/lib.js";

(function () {
  var store = session("rd.recovery");

  // The letter page: 打印 exists only when JavaScript does.
  var printButton = $("print-letter");
  if (printButton) {
    printButton.hidden = false;
    printButton.addEventListener("click", function () {
      window.print();
    });
  }

  var wizard = $("wizard");
  if (!wizard) {
    return;
  }
  var MAX_BYTES = number(wizard, "upload-max-bytes");
  var MIN_SIDE = number(wizard, "upload-min-side");
  var MAX_SIDE = number(wizard, "upload-max-side");
  var MAX_PIXELS = number(wizard, "upload-max-pixels");
  var DOWNSCALE_ABOVE = number(wizard, "downscale-above");
  var DOWNSCALE_TO = number(wizard, "downscale-to");
  var DOWNSCALE_QUALITY = number(wizard, "downscale-quality");
  var SHRINK_ADVICE = wizard.getAttribute("data-shrink-advice") || "";
  var STATUS_LABELS = labels(wizard, "status-labels");
  var kind = wizard.getAttribute("data-kind") === "person" ? "person" : "unit";
  var state = null;
  var stopCountdown = function () {};
  var tiles = {};

  /* ---------- storage and API ---------- */

  function api(method, path, body) {
    return call("/api/v1/recoveries", method, path, body, state && state.token && path !== "" ? state.token : "");
  }

  function casePath(suffix) {
    return "/" + encodeURIComponent(state.id) + (suffix || "");
  }

  /* ---------- small UI helpers ---------- */

  function alertBox(prefix, message) {
    $(prefix + "-text").textContent = message || "";
    show($(prefix), Boolean(message));
  }

  function notice(message) {
    alertBox("wizard-notice", message);
  }

  function setStep(n, moveFocus) {
    var items = document.querySelectorAll("#wizard-steps .steps li");
    Array.prototype.forEach.call(items, function (li, i) {
      var k = i + 1;
      li.className = k < n ? "done" : k === n ? (n === 4 ? "current done" : "current") : "";
      if (k === n) {
        li.setAttribute("aria-current", "step");
      } else {
        li.removeAttribute("aria-current");
      }
    });
    for (var k = 1; k <= 4; k++) {
      show($("step-" + k), k === n);
    }
    show($("wizard-loading"), false);
    if (moveFocus) {
      var heading = $("step-" + n).querySelector("h3, .done-title");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    }
  }

  // caseGone handles a 404 on a case: the token was replaced or the draft expired.
  function caseGone() {
    state = store.forget();
    showStart(true);
    notice("之前的申请已失效（超过" + number(wizard, "draft-ttl-hours") + "小时未提交，或已在其他页面重新办理），请重新填写。");
  }

  function letterHref() {
    var q = new URLSearchParams();
    if (state && state.unit_name) {
      q.set("unit_name", state.unit_name);
    }
    if (state && state.cert_number) {
      q.set("cert_number", state.cert_number);
    }
    var s = q.toString();
    return "/recover/letter-template" + (s ? "?" + s : "");
  }

  function updateLetterLinks() {
    Array.prototype.forEach.call(document.querySelectorAll(".letter-link"), function (a) {
      a.href = letterHref();
    });
  }

  /* ---------- step 1 填写信息 ---------- */

  var startForm = $("start-form");
  var startFields = kind === "unit" ? ["username", "cert_type", "cert_number", "unit_name"] : ["username", "name", "id_number"];

  // prefill fills step 1 from the rejected case the status page handed over
  // (rd.again, once), so a new application starts from what is known.
  function prefill() {
    var again = session("rd.again");
    var v = again.load();
    again.forget();
    if (!v || v.kind !== kind) {
      return;
    }
    var filled = false;
    startFields.forEach(function (f) {
      if (v[f] && $(f)) {
        $(f).value = v[f];
        filled = true;
      }
    });
    if (filled) {
      notice("已按上次申请填好以下信息，请核对后点击“下一步”。");
    }
  }

  function showStart(moveFocus) {
    setStep(1, moveFocus);
    prefill();
  }

  function showStartError(err) {
    var b = err.body;
    var shown = false;
    var list = Array.isArray(b.fields) && b.fields.length ? b.fields : b.field ? [{ field: b.field, message: b.message }] : [];
    var first = null;
    list.forEach(function (f) {
      if (fieldError(f.field, f.message)) {
        shown = true;
        first = first || $(f.field);
      }
    });
    if (list.length > 1) {
      alertBox("start-error", "有 " + list.length + " 处填写内容需要修改，请按标红的提示修改后重新提交");
    } else if (!shown) {
      alertBox("start-error", b.message);
    }
    show($("start-error-link"), b.code === "case_open");
    if (first) {
      first.focus();
    }
  }

  startForm.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    startFields.forEach(function (f) {
      fieldError(f, "");
    });
    alertBox("start-error", "");
    show($("start-error-link"), false);
    notice("");
    var body = { kind: kind };
    startFields.forEach(function (f) {
      body[f] = $(f).value.trim();
    });
    var button = $("next");
    busy(button, true, "正在查询…");
    try {
      var r = await api("POST", "", body);
      state = {
        id: r.id, token: r.token, kind: kind, phone_masked: r.phone_masked,
        required: r.required_evidence || [], uploaded: []
      };
      if (kind === "unit") {
        state.unit_name = body.unit_name;
        state.cert_number = body.cert_number;
      }
      store.save(state);
      showVerify(true);
    } catch (err) {
      showStartError(err);
    } finally {
      busy(button, false);
    }
  });

  /* ---------- step 2 身份验证 ---------- */

  var sendButton = $("send-code");

  function showVerify(moveFocus) {
    $("phone-masked").textContent = state.phone_masked || "注册时登记的手机号";
    alertBox("verify-error", "");
    setStep(2, moveFocus);
  }

  function wait(seconds) {
    stopCountdown();
    stopCountdown = countdown(sendButton, seconds, "重新获取验证码");
  }

  function showCodeError(err) {
    var b = err.body;
    if (err.status === 404) {
      caseGone();
      return;
    }
    if (b.code === "wrong_step") {
      resume(true);
      return;
    }
    if (b.code === "rate_limited" && b.retry_after > 0 && b.retry_after <= 3600) {
      wait(b.retry_after);
    }
    if (b.code === "code_expired" || (b.code === "wrong_code" && b.attempts_left === 0)) {
      $("sms_code").value = "";
    }
    if (b.field === "code" || b.code === "wrong_code" || b.code === "code_expired") {
      fieldError("code", b.message, "sms_code");
      $("sms_code").focus();
    } else {
      alertBox("verify-error", b.message);
    }
  }

  sendButton.addEventListener("click", async function () {
    fieldError("code", "", "sms_code");
    alertBox("verify-error", "");
    sendButton.disabled = true;
    try {
      var r = await api("POST", casePath("/sms"));
      $("sms_code-hint").textContent = codeSent(state.phone_masked, wizard);
      wait(r.resend_after || 60);
      $("sms_code").focus();
    } catch (err) {
      sendButton.disabled = false;
      showCodeError(err);
    }
  });

  $("verify-form").addEventListener("submit", async function (ev) {
    ev.preventDefault();
    fieldError("code", "", "sms_code");
    alertBox("verify-error", "");
    var code = $("sms_code").value.trim();
    if (!/^\d{6}$/.test(code)) {
      fieldError("code", "请输入短信中的6位数字验证码", "sms_code");
      $("sms_code").focus();
      return;
    }
    var button = $("verify");
    busy(button, true, "正在验证…");
    try {
      await api("POST", casePath("/verify"), { code: code });
      stopCountdown();
      showUpload(true);
    } catch (err) {
      showCodeError(err);
    } finally {
      busy(button, false);
    }
  });

  /* ---------- step 3 上传证件照 ---------- */

  function tile(k) {
    if (!tiles[k]) {
      tiles[k] = {
        el: $("tile-" + k), input: $("file-" + k), drop: $("drop-" + k), preview: $("preview-" + k),
        action: $("action-" + k), progress: $("progress-" + k), status: $("status-" + k), error: $("error-" + k),
        shrunk: $("shrunk-" + k),
        xhr: null, url: "", okURL: "", busy: false, seq: 0
      };
    }
    return tiles[k];
  }

  // isUploaded: an image of k is in and, after a return (补正), it is not
  // one of the returned kinds still to replace (state.toReplace).
  function isUploaded(k) {
    return state.uploaded.indexOf(k) >= 0 && (state.toReplace || []).indexOf(k) < 0;
  }

  // markToReplace turns the returned kinds into the to-do list: "需重新上传"
  // with the reviewer's words; the other tiles stay done.
  function markToReplace(kinds, words) {
    kinds.forEach(function (k) {
      var t = tile(k);
      if (!t.el) {
        return;
      }
      t.el.classList.remove("is-done");
      t.el.classList.add("needs-redo");
      t.status.textContent = "需重新上传" + (words ? "。审核意见：" + words : "");
      t.action.textContent = "重新上传";
    });
  }

  function updateSubmit() {
    var missing = state.required.filter(function (k) {
      return !isUploaded(k);
    });
    var uploading = state.required.some(function (k) {
      return tile(k).busy;
    });
    $("submit").disabled = missing.length > 0 || uploading;
    $("submit-hint").textContent = uploading ? "正在上传，请稍候…" :
      missing.length ? "还需上传 " + missing.length + " 项材料" : "材料已齐全，可以提交申请";
  }

  function tileError(k, message) {
    var t = tile(k);
    t.error.textContent = message || "";
    show(t.error, Boolean(message));
    t.el.classList.toggle("has-error", Boolean(message));
  }

  function showUpload(moveFocus, message) {
    Array.prototype.forEach.call(document.querySelectorAll(".evidence-tile"), function (el) {
      var k = el.getAttribute("data-kind");
      var t = tile(k);
      show(el, state.required.indexOf(k) >= 0);
      if (isUploaded(k) && !t.busy && !t.okURL) {
        t.status.textContent = "已上传";
        t.action.textContent = "重新上传";
        t.el.classList.add("is-done");
      }
    });
    show($("letter-line"), state.required.indexOf("authorization_letter") >= 0);
    updateLetterLinks();
    alertBox("submit-error", "");
    updateSubmit();
    setStep(3, moveFocus);
    if (message) {
      notice(message);
    }
  }

  function readBytes(blob) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () {
        resolve(new Uint8Array(r.result));
      };
      r.onerror = function () {
        reject(r.error);
      };
      r.readAsArrayBuffer(blob);
    });
  }

  // sniff names the image type by its first bytes, never by the file name.
  function sniff(b) {
    var png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
    if (b.length >= 8 && png.every(function (x, i) { return b[i] === x; })) {
      return "image/png";
    }
    if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) {
      return "image/jpeg";
    }
    return "";
  }

  function imageSize(file) {
    function viaImage() {
      return new Promise(function (resolve, reject) {
        var url = URL.createObjectURL(file);
        var img = new Image();
        img.onload = function () {
          URL.revokeObjectURL(url);
          resolve({ width: img.naturalWidth, height: img.naturalHeight });
        };
        img.onerror = function () {
          URL.revokeObjectURL(url);
          reject(new Error("unreadable"));
        };
        img.src = url;
      });
    }
    if (!window.createImageBitmap) {
      return viaImage();
    }
    return window.createImageBitmap(file).then(function (bmp) {
      var size = { width: bmp.width, height: bmp.height };
      if (bmp.close) {
        bmp.close();
      }
      return size;
    }, viaImage);
  }

  // check applies the server's limits before anything is sent. A photo over
  // the size limit, or over DOWNSCALE_ABOVE pixels on its longest side, is
  // first redrawn as a JPEG with its longest side at most DOWNSCALE_TO (the
  // phone photo that "just works"). It returns what to send, {blob, type,
  // shrunk}, or throws the message to show on the tile.
  async function check(file) {
    if (file.size === 0) {
      throw new Error("所选文件是空的，请重新选择");
    }
    var type = sniff(await readBytes(file.slice(0, 8)));
    if (!type) {
      throw new Error("仅支持 PNG、JPEG 格式的图片（*.png,*.jpg,*.jpeg）");
    }
    var size;
    try {
      size = await imageSize(file);
    } catch (e) {
      throw new Error("图片文件已损坏或无法识别，请重新拍摄或扫描后上传");
    }
    if (file.size > MAX_BYTES || Math.max(size.width, size.height) > DOWNSCALE_ABOVE) {
      var small = null;
      try {
        small = await downscaleJPEG(file, DOWNSCALE_TO, DOWNSCALE_QUALITY / 100);
      } catch (e) {
        small = null; // this browser cannot redraw it: the checks below decide
      }
      if (small && small.blob.size <= MAX_BYTES && Math.min(small.width, small.height) >= MIN_SIDE) {
        return { blob: small.blob, type: "image/jpeg", shrunk: true };
      }
    }
    if (file.size > MAX_BYTES) {
      throw new Error("文件大小不能超过" + MAX_BYTES / 1048576 + "M（所选文件 " + formatSize(file.size) + "）" + SHRINK_ADVICE);
    }
    if (size.width < MIN_SIDE || size.height < MIN_SIDE || size.width > MAX_SIDE || size.height > MAX_SIDE) {
      throw new Error("图片尺寸应在" + MIN_SIDE + "至" + MAX_SIDE + "像素之间（所选图片 " + size.width + "×" + size.height + "）");
    }
    if (size.width * size.height > MAX_PIXELS) {
      throw new Error("图片像素过多，请降低分辨率（不超过" + MAX_PIXELS / 10000 + "万像素）后重新上传");
    }
    return { blob: file, type: type, shrunk: false };
  }

  function send(k, file, type) {
    var t = tile(k);
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      t.xhr = xhr;
      xhr.open("PUT", "/api/v1/recoveries" + casePath("/evidence/" + encodeURIComponent(k)));
      xhr.setRequestHeader("Authorization", "Bearer " + state.token);
      xhr.setRequestHeader("Content-Type", type);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable && e.total > 0) {
          t.progress.max = e.total;
          t.progress.value = e.loaded;
          t.status.textContent = "正在上传… " + Math.floor((e.loaded / e.total) * 100) + "%";
        }
      };
      xhr.onload = function () {
        var data = null;
        try {
          data = JSON.parse(xhr.responseText);
        } catch (e) {
          data = null;
        }
        if (xhr.status >= 200 && xhr.status < 300) {
          resolve(data || {});
        } else {
          reject(data && data.error ? failure(xhr.status, data.error) : statusFailure(xhr.status));
        }
      };
      xhr.onerror = function () {
        reject(networkFailure());
      };
      xhr.onabort = function () {
        reject(failure(-1, { code: "aborted", message: "" }));
      };
      xhr.send(file);
    });
  }

  // handleFile checks one picked or dropped file and uploads it; a newer
  // file for the same tile cancels the older one.
  async function handleFile(k, file) {
    var t = tile(k);
    var seq = ++t.seq;
    if (t.xhr) {
      t.xhr.abort();
      t.xhr = null;
    }
    t.busy = false;
    tileError(k, "");
    show(t.shrunk, false);
    alertBox("submit-error", "");
    var picked;
    var before = t.status.textContent;
    // Checking and, for a large photo, redrawing it takes a moment on a phone.
    t.status.textContent = "正在处理图片…";
    try {
      picked = await check(file);
    } catch (e) {
      if (seq === t.seq) {
        t.status.textContent = before;
        tileError(k, e.message);
        updateSubmit();
      }
      return;
    }
    if (seq !== t.seq) {
      return;
    }
    if (t.url && t.url !== t.okURL) {
      URL.revokeObjectURL(t.url);
    }
    file = picked.blob;
    t.shrunk.textContent = picked.shrunk ? "照片较大，已自动压缩为 " + formatSize(file.size) + " 后上传" : "";
    show(t.shrunk, picked.shrunk);
    t.url = URL.createObjectURL(file);
    t.preview.src = t.url;
    show(t.preview, true);
    t.busy = true;
    t.el.classList.add("is-busy");
    t.el.classList.remove("is-done");
    t.progress.max = file.size;
    t.progress.value = 0;
    show(t.progress, true);
    t.status.textContent = "正在上传… 0%";
    updateSubmit();
    try {
      var r = await send(k, file, picked.type);
      t.progress.value = t.progress.max;
      if (t.okURL && t.okURL !== t.url) {
        URL.revokeObjectURL(t.okURL);
      }
      t.okURL = t.url;
      if (state.uploaded.indexOf(k) < 0) {
        state.uploaded.push(k);
      }
      state.toReplace = (state.toReplace || []).filter(function (x) {
        return x !== k;
      });
      store.save(state);
      t.el.classList.remove("needs-redo");
      t.status.textContent = "已上传（" + (r.width || "?") + "×" + (r.height || "?") + "，" + formatSize(r.size || file.size) + "）";
      t.action.textContent = "重新上传";
      t.el.classList.add("is-done");
    } catch (err) {
      if (seq !== t.seq) {
        return; // replaced by a newer file
      }
      show(t.progress, false);
      if (t.okURL) {
        t.preview.src = t.okURL;
      } else {
        show(t.preview, false);
      }
      if (err.status === 404) {
        caseGone();
        return;
      }
      tileError(k, err.body.message || "上传失败，请重新上传");
      t.status.textContent = isUploaded(k) ? "本次上传未成功，之前上传的图片仍然有效" : "";
      t.el.classList.toggle("is-done", isUploaded(k));
    } finally {
      if (seq === t.seq) {
        t.xhr = null;
        t.busy = false;
        t.el.classList.remove("is-busy");
        updateSubmit();
      }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll(".evidence-tile"), function (el) {
    var k = el.getAttribute("data-kind");
    var t = tile(k);
    t.input.addEventListener("change", function () {
      var f = t.input.files && t.input.files[0];
      if (f) {
        handleFile(k, f);
      }
      t.input.value = "";
    });
    ["dragenter", "dragover"].forEach(function (name) {
      t.drop.addEventListener(name, function (e) {
        e.preventDefault();
        t.drop.classList.add("is-dragover");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      t.drop.addEventListener(name, function (e) {
        e.preventDefault();
        t.drop.classList.remove("is-dragover");
      });
    });
    t.drop.addEventListener("drop", function (e) {
      var f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) {
        handleFile(k, f);
      }
    });
  });
  // A file dropped beside a tile must not make the browser leave the page.
  ["dragover", "drop"].forEach(function (name) {
    window.addEventListener(name, function (e) {
      if (!$("step-3").hidden) {
        e.preventDefault();
      }
    });
  });

  $("submit").addEventListener("click", async function () {
    var button = $("submit");
    alertBox("submit-error", "");
    busy(button, true, "正在提交…");
    try {
      var r = await api("POST", casePath("/submit"));
      state.case_number = r.case_number;
      store.save(state);
      showDone({ case_number: r.case_number, status: r.status, due_by: r.due_by }, true);
    } catch (err) {
      var b = err.body;
      if (err.status === 404) {
        caseGone();
      } else if (b.code === "wrong_step") {
        resume(true);
      } else if (b.code === "evidence_unchanged" && Array.isArray(b.kinds)) {
        // A re-upload of the very same image does not count as replaced.
        state.toReplace = b.kinds;
        store.save(state);
        markToReplace(b.kinds, "与退回前的图片相同，请上传新拍摄的图片");
        alertBox("submit-error", b.message);
      } else if (b.code === "missing_evidence" && Array.isArray(b.missing)) {
        b.missing.forEach(function (k) {
          state.uploaded = state.uploaded.filter(function (x) {
            return x !== k;
          });
          if (tile(k).el) {
            tileError(k, "请上传此项材料");
          }
        });
        store.save(state);
        alertBox("submit-error", b.message);
      } else {
        alertBox("submit-error", b.message);
      }
    } finally {
      busy(button, false);
      if (!$("step-3").hidden) {
        updateSubmit();
      }
    }
  });

  /* ---------- step 4 完成 ---------- */

  function showDone(v, moveFocus) {
    $("case-number").textContent = v.case_number || "—";
    $("case-status").textContent = v.status_label || STATUS_LABELS[v.status] || v.status || "";
    $("due-by").textContent = formatDate(v.due_by);
    $("done-title").textContent = v.status === "submitted" || v.status === "in_review" ?
      "申请已提交，请等待审核" : "申请" + (v.status_label || STATUS_LABELS[v.status] || "");
    notice("");
    setStep(4, moveFocus);
  }

  /* ---------- start: resume the case this browser holds ---------- */

  function restart() {
    state = store.forget();
    window.location.assign("/recover?kind=" + kind);
  }
  Array.prototype.forEach.call(document.querySelectorAll(".restart"), function (b) {
    b.addEventListener("click", restart);
  });

  async function resume(moveFocus) {
    if (!state || !state.id || !state.token || state.kind !== kind) {
      showStart(false);
      return;
    }
    show($("wizard-loading"), true);
    var v;
    try {
      v = await api("GET", casePath());
    } catch (err) {
      if (err.status === 404) {
        caseGone();
      } else {
        show($("wizard-loading"), false);
        showStart(false);
        notice(err.body.message + "。您也可以刷新页面继续办理。");
      }
      return;
    }
    state.required = v.required_evidence || state.required || [];
    state.uploaded = v.uploaded || [];
    state.toReplace = v.status === "returned" ? v.to_replace || [] : [];
    store.save(state);
    if (v.status === "draft" && !v.phone_verified) {
      showVerify(moveFocus);
    } else if (v.status === "draft") {
      showUpload(moveFocus);
    } else if (v.status === "returned") {
      showUpload(moveFocus, "审核人员已将申请退回补正：请重新上传标有“需重新上传”的材料，然后再次提交申请。");
      markToReplace(state.toReplace, v.decision && v.decision.message);
    } else {
      showDone(v, moveFocus);
    }
  }

  state = store.load();
  if (state && !Array.isArray(state.uploaded)) {
    state.uploaded = [];
  }
  resume(false);
})();
