/*
 * lib.js — the helpers the applicant scripts share (an ES module, served as
 * it is: no build step). recover.js, recover-status.js and sms-code.js
 * import what they use:
 *   byId, show               the DOM
 *   session(key)             the case id and token in sessionStorage
 *   api(base, method, path, body, token)
 *                            fetch with the JSON error envelope of /api/v1
 *   fieldError(name, msg)    a message beside a field, for assistive technology too
 *   busy(button, on, text)   a button while its request runs
 *   countdown(button, s, …)  the wait before a code may be sent again
 *   formatDate, formatTime, formatSize
 *   codeSent(masked, el)     "验证码已发送至 …，N分钟内有效"
 *   downscaleJPEG(file, maxSide, quality)
 *                            a phone photo redrawn smaller on a canvas, as JPEG
 *   regions(parent)          the divisions under a region code (GET /api/v1/regions)
 * region-picker.js and console-queue.js use regions.
 * Numbers and labels come from data- attributes the server renders from the
 * constants and the vocabulary: never copied here.
 */

export function byId(id) {
  return document.getElementById(id);
}

export function show(el, on) {
  if (el) {
    el.hidden = !on;
  }
}

// session keeps one JSON value under key in sessionStorage; a browser
// without storage (private mode) still works until a reload.
export function session(key) {
  return {
    load: function () {
      try {
        return JSON.parse(window.sessionStorage.getItem(key) || "null");
      } catch (e) {
        return null;
      }
    },
    save: function (value) {
      try {
        window.sessionStorage.setItem(key, JSON.stringify(value));
      } catch (e) {
        // no storage
      }
    },
    // forget removes the value and returns null, for state = store.forget().
    forget: function () {
      try {
        window.sessionStorage.removeItem(key);
      } catch (e) {
        // nothing stored
      }
      return null;
    }
  };
}

// failure is the Error a failed call throws: status 0 for the network, and
// body the API's error object ({code, message, field, …}).
export function failure(status, body) {
  var err = new Error((body && body.message) || "请求失败");
  err.status = status;
  err.body = body || {};
  return err;
}

export function networkFailure() {
  return failure(0, { code: "network", message: "网络连接失败，请检查网络后重试" });
}

export function statusFailure(status) {
  return failure(status, { code: "http_" + status, message: "请求未能完成（" + status + "），请稍后重试" });
}

// api calls base + path with a JSON body, the bearer token when given, and
// returns the JSON answer; an error answer throws failure(status, error).
export async function api(base, method, path, body, token) {
  var headers = { Accept: "application/json" };
  var init = { method: method, headers: headers, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (token) {
    headers.Authorization = "Bearer " + token;
  }
  var resp;
  try {
    resp = await fetch(base + path, init);
  } catch (e) {
    throw networkFailure();
  }
  var data = null;
  try {
    data = await resp.json();
  } catch (e) {
    data = null;
  }
  if (!resp.ok) {
    throw data && data.error ? failure(resp.status, data.error) : statusFailure(resp.status);
  }
  return data;
}

// fieldError shows message beside a field (or clears it) and marks the
// input for assistive technology. It returns false when there is no such
// field on the page.
export function fieldError(name, message, inputId) {
  var p = byId(name + "-error");
  var input = byId(inputId || name);
  if (!p) {
    return false;
  }
  p.textContent = message || "";
  show(p, Boolean(message));
  if (input) {
    var ids = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (x) {
      return x && x !== p.id;
    });
    if (message) {
      input.setAttribute("aria-invalid", "true");
      ids.push(p.id);
    } else {
      input.removeAttribute("aria-invalid");
    }
    if (ids.length) {
      input.setAttribute("aria-describedby", ids.join(" "));
    } else {
      input.removeAttribute("aria-describedby");
    }
  }
  return true;
}

export function busy(button, on, text) {
  if (on) {
    button.setAttribute("data-label", button.textContent);
    button.textContent = text;
    button.disabled = true;
  } else {
    button.textContent = button.getAttribute("data-label") || button.textContent;
    button.disabled = false;
  }
}

// countdown disables button for seconds, showing what is left, then gives
// it back with the text done. It returns a function that stops it early.
export function countdown(button, seconds, done, waiting) {
  var left = Math.max(0, Math.ceil(seconds));
  var timer = 0;
  waiting = waiting || "秒后重新获取";
  function tick() {
    if (left <= 0) {
      window.clearInterval(timer);
      button.disabled = false;
      button.textContent = done;
      return;
    }
    button.disabled = true;
    button.textContent = left + waiting;
    left--;
  }
  tick();
  timer = window.setInterval(tick, 1000);
  return function () {
    window.clearInterval(timer);
  };
}

export function formatDate(ymd) {
  var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(ymd || "");
  return m ? m[1] + "年" + Number(m[2]) + "月" + Number(m[3]) + "日" : (ymd || "—");
}

var timeFormat = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit", hourCycle: "h23"
});

// formatTime shows an RFC 3339 moment as staff and applicants read it, in
// Asia/Shanghai to the minute.
export function formatTime(iso) {
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

export function formatSize(n) {
  return n >= 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " KB";
}

// number reads a whole number the server rendered into a data- attribute.
export function number(el, name) {
  var v = parseInt(el.getAttribute("data-" + name), 10);
  if (isNaN(v)) {
    throw new Error("missing data-" + name);
  }
  return v;
}

// labels reads a vocabulary the server rendered as JSON into a data- attribute.
export function labels(el, name) {
  try {
    return JSON.parse(el.getAttribute("data-" + name) || "{}");
  } catch (e) {
    return {};
  }
}

// codeSent is the notice after a code was sent; el carries
// data-code-ttl-minutes (verify.CodeTTL).
export function codeSent(masked, el) {
  return "验证码已发送至 " + masked + "，" + number(el, "code-ttl-minutes") + "分钟内有效";
}

// decodeImage draws a picked file into something a canvas can draw, turned
// upright by its EXIF orientation as the browser shows it.
function decodeImage(file) {
  if (window.createImageBitmap) {
    return window.createImageBitmap(file, { imageOrientation: "from-image" });
  }
  return new Promise(function (resolve, reject) {
    var url = URL.createObjectURL(file);
    var img = new Image();
    img.onload = function () {
      URL.revokeObjectURL(url);
      resolve(img);
    };
    img.onerror = function () {
      URL.revokeObjectURL(url);
      reject(new Error("unreadable"));
    };
    img.src = url;
  });
}

// downscaleJPEG redraws an image with its longest side at most maxSide and
// encodes it as JPEG at quality (0–1): what makes a 3–6 MB phone photo fit
// the upload limit without the applicant doing anything. It resolves to
// {blob, width, height}; it rejects when the browser cannot decode or
// encode the image, and the caller then sends the file as it is.
export async function downscaleJPEG(file, maxSide, quality) {
  var src = await decodeImage(file);
  var w = src.width || src.naturalWidth;
  var h = src.height || src.naturalHeight;
  var scale = Math.min(1, maxSide / Math.max(w, h));
  var canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(w * scale));
  canvas.height = Math.max(1, Math.round(h * scale));
  var g = canvas.getContext("2d");
  // JPEG has no transparency: a PNG's clear pixels become white, not black.
  g.fillStyle = "#fff";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.imageSmoothingEnabled = true;
  g.imageSmoothingQuality = "high";
  g.drawImage(src, 0, 0, canvas.width, canvas.height);
  if (src.close) {
    src.close();
  }
  var blob = await new Promise(function (resolve) {
    canvas.toBlob(resolve, "image/jpeg", quality);
  });
  if (!blob) {
    throw new Error("encode failed");
  }
  return { blob: blob, width: canvas.width, height: canvas.height };
}

var regionCache = {};

// regions lists the divisions under the region code parent, [{code, name}],
// each list fetched once per page.
export function regions(parent) {
  if (regionCache[parent]) {
    return Promise.resolve(regionCache[parent]);
  }
  return fetch("/api/v1/regions?parent=" + encodeURIComponent(parent), {
    headers: { Accept: "application/json" },
    credentials: "same-origin"
  }).then(function (resp) {
    if (!resp.ok) {
      throw new Error("regions " + resp.status);
    }
    return resp.json();
  }).then(function (body) {
    regionCache[parent] = body.regions || [];
    return regionCache[parent];
  });
}
