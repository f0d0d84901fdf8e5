/*
 * console-queue.js — the queue's filter form (/console/cases).
 *
 * Without JavaScript 区县 is a text input for a 6-digit region code. With it
 * the input becomes a select of the chosen city's districts, loaded from
 * GET /api/v1/regions?parent=CITY, and choosing another city empties it. If
 * the regions cannot be loaded the text input stays. Empty filters are left
 * out of the address, so that a link to the queue stays short. An ES
 * module: regions is lib.js's.
 *
 * In 待审核 a case number opens the case claimed (when the reviewer holds no
 * other claim): the click posts the hidden form, with the CSRF token, to the
 * link's data-open-claim address. A click with a modifier (new tab) follows
 * the plain link and claims nothing.
 */
import { regions } from "/static/js/lib.js";

// 全选本页: the header checkbox ticks every row of this page; the count of
// ticked rows is shown beside the bulk button.
(function () {
  var all = document.getElementById("bulk-all");
  var bulk = document.getElementById("bulk-form");
  if (!all || !bulk) {
    return;
  }
  var count = document.getElementById("bulk-count");
  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('input[type="checkbox"][name="number"][form="bulk-form"]'));
  }
  function sync() {
    var r = rows();
    var n = r.filter(function (b) { return b.checked; }).length;
    all.checked = n > 0 && n === r.length;
    all.indeterminate = n > 0 && n < r.length;
    if (count) {
      count.textContent = n ? (count.getAttribute("data-label") || "%d").replace("%d", n) : "";
    }
  }
  all.addEventListener("change", function () {
    rows().forEach(function (b) { b.checked = all.checked; });
    sync();
  });
  document.addEventListener("change", function (e) {
    if (e.target && e.target.name === "number" && e.target.getAttribute("form") === "bulk-form") {
      sync();
    }
  });
  sync();
})();

(function () {
  var openForm = document.getElementById("open-case-form");
  if (!openForm) {
    return;
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest && e.target.closest("a[data-open-claim]");
    if (!a || e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) {
      return;
    }
    e.preventDefault();
    openForm.action = a.getAttribute("data-open-claim");
    openForm.submit();
  });
})();

(function () {
  var form = document.querySelector("form.queue-filters");
  var input = document.getElementById("district");
  var city = document.getElementById("city");
  if (!form || !input || !city) {
    return;
  }

  var select = document.createElement("select");
  select.id = input.id;
  select.name = input.name;

  // The district select is usable when it offers more than its placeholder.
  function districtUsable() {
    return select.options.length > 1;
  }

  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name && el.name !== "tab" && !el.value) {
        el.disabled = true;
      }
    });
  });
  // Coming back to this page from the history: the fields must work again.
  window.addEventListener("pageshow", function () {
    Array.prototype.forEach.call(form.elements, function (el) {
      if (el.name) {
        el.disabled = el === select ? !districtUsable() : false;
      }
    });
  });

  if (!window.fetch) {
    return;
  }

  function fill(list, selected) {
    select.textContent = "";
    if (!city.value) {
      select.appendChild(new Option("请先选择地市", ""));
    } else if (!list.length) {
      select.appendChild(new Option("无下辖区县", ""));
    } else {
      select.appendChild(new Option("全部区县", ""));
      list.forEach(function (r) {
        select.appendChild(new Option(r.name, r.code, false, r.code === selected));
      });
    }
    select.disabled = !districtUsable();
  }

  // A district given without its city (an edited address) brings its city.
  var initial = input.value.trim();
  if (/^\d{6}$/.test(initial) && !city.value) {
    city.value = initial.slice(0, 4);
  }

  function load(selected) {
    if (!city.value) {
      fill([], "");
      return Promise.resolve();
    }
    return regions(city.value).then(function (list) {
      fill(list, selected);
    });
  }

  load(initial).then(function () {
    input.replaceWith(select);
  }).catch(function () {
    // Keep the text input; the server takes a typed code as well.
  });

  city.addEventListener("change", function () {
    if (!select.isConnected) {
      input.value = "";
      return;
    }
    load("").catch(function () {
      fill([], "");
    });
  });
})();
