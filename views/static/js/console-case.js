/*
 * console-case.js — the case workspace (/console/cases/{number}).
 *
 * Progressive enhancement only: without it the page is plain HTML that works.
 * With it:
 *   - each evidence image gets a viewer: zoom, rotate 90°, fit, full screen,
 *     drag to pan when zoomed;
 *   - the decision form shows only the reasons (不通过) or the evidence kinds
 *     (退回补正) that belong to the chosen outcome, checks them before
 *     posting, asks for confirmation before an approval (it issues a new
 *     password), and refuses a second post while the first is under way;
 *   - keyboard shortcuts, ignored while typing in a field: A 通过, R 不通过,
 *     B 退回补正, N 下一件, + / - zoom, O rotate, F full screen, ? help;
 *     after R or B, 1–9 tick the n-th reason or material and Enter submits
 *     and opens the next case (Ctrl+Enter does so from a text field too);
 *   - the images of the case 下一件 will open are prepared on the server
 *     while this one is decided (nothing is stored in the browser).
 *
 * Sizes and transforms are set through the CSSOM (element.style.width = …),
 * which the Content-Security-Policy style-src 'self' allows; the markup has
 * no style attributes.
 */
(function () {
  "use strict";

  var ZOOM_STEP = 1.25;
  var ZOOM_MIN = 0.5;
  var ZOOM_MAX = 6;
  var NEXT_URL = "/console/cases/next";

  /* ---------- image viewer ---------- */

  var viewers = [];
  var active = null;

  function Viewer(fig) {
    this.fig = fig;
    this.stage = fig.querySelector(".cw-stage");
    this.canvas = fig.querySelector(".cw-canvas");
    this.img = fig.querySelector(".cw-canvas img");
    this.zoomLabel = fig.querySelector(".cw-zoom");
    this.zoom = 1;
    this.angle = 0;
    this.drag = null;
  }

  Viewer.prototype.naturalSize = function () {
    var img = this.img;
    var w = img.naturalWidth || parseInt(img.getAttribute("width"), 10) || 4;
    var h = img.naturalHeight || parseInt(img.getAttribute("height"), 10) || 3;
    return { w: w, h: h };
  };

  // layout sizes the image so that at zoom 1 it fits the stage whole
  // (width of the column, at most 70% of the window's height; the whole
  // screen in full-screen mode), then rotates it about its top-left corner
  // and shifts it back into the box.
  Viewer.prototype.layout = function () {
    var n = this.naturalSize();
    var turned = this.angle % 180 !== 0;
    var vw = turned ? n.h : n.w;
    var vh = turned ? n.w : n.h;
    var full = document.fullscreenElement === this.fig;
    var availW = this.stage.clientWidth || this.fig.clientWidth || 320;
    var availH = full ? this.stage.clientHeight : Math.max(240, window.innerHeight * 0.7);
    var fit = Math.min(availW / vw, availH / vh);
    var scale = fit * this.zoom;
    var w = n.w * scale;
    var h = n.h * scale;
    var t = "";
    if (this.angle === 90) {
      t = "translate(" + h + "px, 0) rotate(90deg)";
    } else if (this.angle === 180) {
      t = "translate(" + w + "px, " + h + "px) rotate(180deg)";
    } else if (this.angle === 270) {
      t = "translate(0, " + w + "px) rotate(270deg)";
    }
    this.canvas.style.width = Math.round(vw * scale) + "px";
    this.canvas.style.height = Math.round(vh * scale) + "px";
    this.img.style.width = Math.round(w) + "px";
    this.img.style.height = Math.round(h) + "px";
    this.img.style.transform = t;
    this.fig.classList.toggle("is-zoomed", this.zoom > 1);
    if (this.zoomLabel) {
      this.zoomLabel.textContent = Math.round(this.zoom * 100) + "%" + (this.angle ? " · " + this.angle + "°" : "");
    }
  };

  Viewer.prototype.zoomBy = function (factor) {
    var z = Math.min(ZOOM_MAX, Math.max(ZOOM_MIN, this.zoom * factor));
    if (Math.abs(z - 1) < 0.01) {
      z = 1;
    }
    // Keep the centre of what is visible in the centre.
    var s = this.stage;
    var cx = (s.scrollLeft + s.clientWidth / 2) / Math.max(1, s.scrollWidth);
    var cy = (s.scrollTop + s.clientHeight / 2) / Math.max(1, s.scrollHeight);
    this.zoom = z;
    this.layout();
    s.scrollLeft = cx * s.scrollWidth - s.clientWidth / 2;
    s.scrollTop = cy * s.scrollHeight - s.clientHeight / 2;
  };

  Viewer.prototype.rotate = function () {
    this.angle = (this.angle + 90) % 360;
    this.layout();
  };

  Viewer.prototype.reset = function () {
    this.zoom = 1;
    this.angle = 0;
    this.layout();
  };

  Viewer.prototype.toggleFullscreen = function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (this.fig.requestFullscreen) {
      this.fig.requestFullscreen().catch(function () { /* refused: stay inline */ });
    }
  };

  Viewer.prototype.enhance = function () {
    var self = this;
    var fig = this.fig;
    if (!this.stage || !this.canvas || !this.img) {
      return;
    }
    fig.classList.add("is-enhanced");
    fig.tabIndex = -1;
    this.img.draggable = false;
    var tools = fig.querySelector(".cw-tool-buttons");
    if (tools) {
      tools.hidden = false;
      tools.addEventListener("click", function (e) {
        var b = e.target.closest("button[data-action]");
        if (!b) {
          return;
        }
        setActive(self);
        switch (b.getAttribute("data-action")) {
          case "zoom-in": self.zoomBy(ZOOM_STEP); break;
          case "zoom-out": self.zoomBy(1 / ZOOM_STEP); break;
          case "rotate": self.rotate(); break;
          case "reset": self.reset(); break;
          case "fullscreen": self.toggleFullscreen(); break;
        }
      });
    }
    fig.addEventListener("pointerdown", function () { setActive(self); });
    fig.addEventListener("focusin", function () { setActive(self); });
    this.img.addEventListener("load", function () { self.layout(); });
    this.stage.addEventListener("dblclick", function () {
      setActive(self);
      if (self.zoom === 1) {
        self.zoomBy(2);
      } else {
        self.reset();
      }
    });

    // Drag to pan a zoomed image.
    var stage = this.stage;
    stage.addEventListener("pointerdown", function (e) {
      if (e.button !== 0 || (stage.scrollWidth <= stage.clientWidth && stage.scrollHeight <= stage.clientHeight)) {
        return;
      }
      self.drag = { x: e.clientX, y: e.clientY, left: stage.scrollLeft, top: stage.scrollTop, id: e.pointerId };
      stage.setPointerCapture(e.pointerId);
      stage.classList.add("is-dragging");
    });
    stage.addEventListener("pointermove", function (e) {
      var d = self.drag;
      if (!d || d.id !== e.pointerId) {
        return;
      }
      stage.scrollLeft = d.left - (e.clientX - d.x);
      stage.scrollTop = d.top - (e.clientY - d.y);
    });
    function endDrag() {
      self.drag = null;
      stage.classList.remove("is-dragging");
    }
    stage.addEventListener("pointerup", endDrag);
    stage.addEventListener("pointercancel", endDrag);

    this.layout();
  };

  function setActive(v) {
    if (active === v) {
      return;
    }
    if (active) {
      active.fig.classList.remove("is-active");
    }
    active = v;
    if (v) {
      v.fig.classList.add("is-active");
    }
  }

  // current is the viewer the image shortcuts act on: the one last touched,
  // else the first one on screen, else the first one.
  function current() {
    if (active) {
      return active;
    }
    for (var i = 0; i < viewers.length; i++) {
      var r = viewers[i].fig.getBoundingClientRect();
      if (r.bottom > 0 && r.top < window.innerHeight) {
        setActive(viewers[i]);
        return viewers[i];
      }
    }
    if (viewers.length) {
      setActive(viewers[0]);
    }
    return active;
  }

  function layoutAll() {
    viewers.forEach(function (v) { v.layout(); });
  }

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) {
      return;
    }
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      layoutAll();
    });
  });
  document.addEventListener("fullscreenchange", layoutAll);

  document.querySelectorAll(".cw-viewer").forEach(function (fig) {
    var v = new Viewer(fig);
    v.enhance();
    viewers.push(v);
  });

  /* ---------- decision form ---------- */

  var form = document.getElementById("decision-form");
  var approveDialog = document.getElementById("approve-dialog");
  var clientError = document.getElementById("decision-client-error");
  var confirmed = false;
  var posting = false;
  var pendingSubmitter = null;

  function outcome() {
    var r = form && form.querySelector('input[name="outcome"]:checked');
    return r ? r.value : "";
  }

  function groups() {
    return form ? Array.prototype.slice.call(form.querySelectorAll("fieldset[data-outcome]")) : [];
  }

  // syncGroups shows the choices of the chosen outcome and disables the
  // others, so that what is hidden is not posted either.
  function syncGroups() {
    var o = outcome();
    groups().forEach(function (g) {
      var on = g.getAttribute("data-outcome") === o;
      g.hidden = !on;
      g.disabled = !on;
    });
    showError("");
  }

  function showError(msg) {
    if (!clientError) {
      return;
    }
    clientError.textContent = msg;
    clientError.hidden = !msg;
  }

  function checkedIn(id) {
    var g = document.getElementById(id);
    return g ? g.querySelectorAll('input[type="checkbox"]:checked').length : 0;
  }

  function firstIn(id) {
    var g = document.getElementById(id);
    return g ? g.querySelector('input[type="checkbox"]') : null;
  }

  function choose(value) {
    var r = document.getElementById("outcome-" + value);
    if (!r) {
      return false;
    }
    r.checked = true;
    syncGroups();
    return true;
  }

  // confirmText is what a confirmation dialog asks (its title and what
  // follows), for the browser's own confirmation where <dialog> is missing:
  // one wording, the server's.
  function confirmText(dialog) {
    if (!dialog) {
      return "";
    }
    return Array.prototype.map.call(dialog.querySelectorAll("h2, p"), function (el) {
      return el.textContent.trim();
    }).join("\n");
  }

  function openApprove(submitter) {
    if (!approveDialog || typeof approveDialog.showModal !== "function") {
      // No <dialog>: fall back to the browser's own confirmation.
      if (window.confirm(confirmText(approveDialog))) {
        confirmed = true;
        form.requestSubmit(submitter || undefined);
      }
      return;
    }
    pendingSubmitter = submitter || null;
    approveDialog.returnValue = "";
    approveDialog.showModal();
  }

  function lock() {
    posting = true;
    form.classList.add("is-posting");
    // Disabled after this turn: a button disabled now would drop its own
    // name/value (next=1) from what is posted.
    window.setTimeout(function () {
      form.querySelectorAll('button[type="submit"]').forEach(function (b) {
        b.disabled = true;
      });
    }, 0);
  }

  if (form) {
    form.noValidate = true;
    syncGroups();
    form.addEventListener("change", function (e) {
      if (e.target && e.target.name === "outcome") {
        syncGroups();
      }
    });

    form.addEventListener("submit", function (e) {
      if (posting) {
        e.preventDefault();
        return;
      }
      var o = outcome();
      if (!o) {
        e.preventDefault();
        showError(clientError.dataset.refuseOutcome);
        document.getElementById("outcome-approve").focus();
        return;
      }
      if (o === "reject" && !checkedIn("reasons")) {
        e.preventDefault();
        showError(clientError.dataset.refuseReasons);
        firstIn("reasons").focus();
        return;
      }
      if (o === "return" && !checkedIn("return-kinds")) {
        e.preventDefault();
        showError(clientError.dataset.refuseKinds);
        firstIn("return-kinds").focus();
        return;
      }
      var msg = document.getElementById("decision-message");
      var other = document.getElementById("reason-other");
      if (msg && !msg.value.trim() && (o === "return" || (o === "reject" && other && other.checked))) {
        e.preventDefault();
        showError(clientError.dataset.refuseMessage);
        msg.focus();
        return;
      }
      if (o === "approve" && !confirmed) {
        e.preventDefault();
        openApprove(e.submitter);
        return;
      }
      lock();
    });
  }

  if (approveDialog && form) {
    approveDialog.addEventListener("close", function () {
      if (approveDialog.returnValue === "confirm") {
        confirmed = true;
        form.requestSubmit(pendingSubmitter || undefined);
      } else {
        var submit = document.getElementById("decision-submit");
        if (submit) {
          submit.focus();
        }
      }
      pendingSubmitter = null;
    });
  }

  // submitNext posts the decision and opens the next case, as "提交并处理下一件".
  function submitNext() {
    var next = document.getElementById("decision-submit-next");
    form.requestSubmit(next || undefined);
  }

  if (form) {
    // Enter on a reason or a material (after R or B) decides and moves on;
    // Ctrl+Enter does so from the message or note.
    form.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.isComposing || posting) {
        return;
      }
      var t = e.target;
      var choice = t && t.type === "checkbox" && t.closest("fieldset[data-outcome]");
      var text = t && t.tagName === "TEXTAREA" && (e.ctrlKey || e.metaKey);
      if (choice || text) {
        e.preventDefault();
        submitNext();
      }
    });
  }

  /* ---------- the next case's images ---------- */

  // The server knows which case 下一件 will open (it is not claimed for
  // that): once this page's own images are in, ask it to prepare that
  // case's images, so they show at once when the decision lands there.
  function prepareNext() {
    var list = document.querySelectorAll("#next-evidence [data-src]");
    if (!list.length || !window.fetch) {
      return;
    }
    Array.prototype.reduce.call(list, function (chain, li) {
      return chain.then(function () {
        return fetch(li.getAttribute("data-src"), {
          credentials: "same-origin",
          cache: "no-store",
          headers: { "X-Prepare-Evidence": "1" }
        }).catch(function () { /* only a head start: a failure costs nothing */ });
      });
    }, Promise.resolve());
  }
  if (document.readyState === "complete") {
    prepareNext();
  } else {
    window.addEventListener("load", prepareNext);
  }

  /* ---------- shortcuts ---------- */

  /* ---------- the supervisor's second approval ---------- */

  // The co-signature issues the password as an approval does: the same
  // key (A), the same confirmation, Enter to confirm.
  var secondForm = document.getElementById("second-approval-form");
  var secondDialog = document.getElementById("second-approve-dialog");
  var secondConfirmed = false;

  function openSecondApprove() {
    var r = document.getElementById("second-approve");
    if (!secondForm || !r) {
      return;
    }
    r.checked = true;
    if (!secondDialog || typeof secondDialog.showModal !== "function") {
      if (window.confirm(confirmText(secondDialog))) {
        secondConfirmed = true;
        secondForm.requestSubmit();
      }
      return;
    }
    secondDialog.returnValue = "";
    secondDialog.showModal();
  }

  if (secondForm) {
    secondForm.addEventListener("submit", function (e) {
      var r = document.getElementById("second-approve");
      if (r && r.checked && !secondConfirmed) {
        e.preventDefault();
        openSecondApprove();
      }
    });
  }
  if (secondForm) {
    // Ctrl+Enter in the note (after R) posts the co-signature form.
    secondForm.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target && e.target.tagName === "TEXTAREA") {
        e.preventDefault();
        secondForm.requestSubmit();
      }
    });
  }
  if (secondForm && secondDialog) {
    secondDialog.addEventListener("close", function () {
      if (secondDialog.returnValue === "confirm") {
        secondConfirmed = true;
        secondForm.requestSubmit();
      }
    });
  }

  var helpDialog = document.getElementById("shortcut-dialog");

  function showHelp() {
    if (!helpDialog || typeof helpDialog.showModal !== "function") {
      var legend = document.getElementById("shortcut-list");
      if (legend) {
        legend.scrollIntoView({ block: "center" });
      }
      return;
    }
    var body = document.getElementById("shortcut-dialog-body");
    var legend2 = document.getElementById("shortcut-list");
    if (body && legend2 && !body.firstChild) {
      var copy = legend2.cloneNode(true);
      copy.removeAttribute("id");
      body.appendChild(copy);
    }
    helpDialog.showModal();
  }

  function typing(el) {
    if (!el || !el.tagName) {
      return false;
    }
    if (el.isContentEditable) {
      return true;
    }
    var tag = el.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT") {
      return true;
    }
    if (tag === "INPUT") {
      var t = (el.getAttribute("type") || "text").toLowerCase();
      return ["checkbox", "radio", "button", "submit", "reset", "image", "file"].indexOf(t) < 0;
    }
    return false;
  }

  function dialogOpen() {
    return !!document.querySelector("dialog[open]");
  }

  // needClaim answers A, R and B when the reviewer cannot decide yet.
  function needClaim() {
    var claim = document.getElementById("claim-button");
    if (claim) {
      claim.focus();
      claim.scrollIntoView({ block: "center" });
    }
  }

  // openNext claims and opens the next case: a POST (with the CSRF token),
  // so no prefetch of a link can claim one.
  function openNext() {
    var f = document.getElementById("next-form");
    if (f) {
      f.submit();
    } else {
      window.location.href = NEXT_URL;
    }
  }

  // tick toggles the n-th choice of the chosen outcome (不通过 reasons,
  // 退回补正 materials) and leaves the focus on it, so Enter then decides.
  function tick(n) {
    var o = outcome();
    var id = o === "reject" ? "reasons" : o === "return" ? "return-kinds" : "";
    var g = id && document.getElementById(id);
    var box = g && g.querySelectorAll('input[type="checkbox"]')[n - 1];
    if (!box) {
      return false;
    }
    box.checked = !box.checked;
    box.focus();
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) {
      return;
    }
    if (typing(e.target) || dialogOpen()) {
      return;
    }
    var v;
    switch (e.key) {
      case "a":
      case "A":
        e.preventDefault();
        if (!form && secondForm) {
          openSecondApprove();
        } else if (!form) {
          needClaim();
        } else if (!posting && choose("approve")) {
          // A, then Enter on the dialog: approve and open the next case
          // (already claimed), as "提交并处理下一件" does.
          openApprove(document.getElementById("decision-submit-next"));
        }
        break;
      case "r":
      case "R":
        e.preventDefault();
        if (!form && secondForm) {
          // On a co-signature R declines: back to the queue, with a note.
          var decline = document.getElementById("second-decline");
          var note = document.getElementById("second-note");
          if (decline) {
            decline.checked = true;
          }
          if (note) {
            note.focus();
          }
        } else if (!form) {
          needClaim();
        } else if (choose("reject")) {
          firstIn("reasons").focus();
        }
        break;
      case "b":
      case "B":
        e.preventDefault();
        if (!form) {
          needClaim();
        } else if (choose("return")) {
          firstIn("return-kinds").focus();
        }
        break;
      case "n":
      case "N":
        e.preventDefault();
        openNext();
        break;
      case "1": case "2": case "3": case "4": case "5": case "6": case "7": case "8": case "9":
        if (tick(parseInt(e.key, 10))) {
          e.preventDefault();
        }
        break;
      case "+":
      case "=":
        if ((v = current())) {
          e.preventDefault();
          v.zoomBy(ZOOM_STEP);
        }
        break;
      case "-":
      case "_":
        if ((v = current())) {
          e.preventDefault();
          v.zoomBy(1 / ZOOM_STEP);
        }
        break;
      case "o":
      case "O":
        if ((v = current())) {
          e.preventDefault();
          v.rotate();
        }
        break;
      case "f":
      case "F":
        if ((v = current())) {
          e.preventDefault();
          v.toggleFullscreen();
        }
        break;
      case "?":
        e.preventDefault();
        showHelp();
        break;
    }
  });
})();
