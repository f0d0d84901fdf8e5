/*
 * region-picker.js — progressive enhancement of the 单位所在地 field.
 *
 * Without JavaScript the page has one <select name="region_code"> with an
 * <optgroup> per city. With it, that select is replaced by cascading
 * 省 / 市 / 区县 selects fed by GET /api/v1/regions?parent=CODE, and a hidden
 * region_code input carries the choice. If the regions cannot be loaded the
 * original select stays as it is. An ES module: regions is lib.js's.
 */
import { regions } from "/static/js/lib.js";

(function () {
  function makeSelect(id, label) {
    var sel = document.createElement("select");
    sel.id = id;
    sel.setAttribute("aria-label", label);
    return sel;
  }

  function fill(sel, list, placeholder, selected) {
    sel.textContent = "";
    if (placeholder) {
      sel.appendChild(new Option(placeholder, ""));
    }
    list.forEach(function (r) {
      sel.appendChild(new Option(r.name, r.code, false, r.code === selected));
    });
  }

  function enhance(box) {
    var original = box.querySelector("select");
    if (!original || !window.fetch) {
      return;
    }
    var initial = original.value;
    var initialCity = initial.length >= 4 ? initial.slice(0, 4) : "";
    var describedBy = original.getAttribute("aria-describedby");
    var invalid = original.getAttribute("aria-invalid");

    var province = makeSelect("region-province", "省");
    var city = makeSelect("region-city", "市");
    var county = makeSelect("region-county", "区县");
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = original.name;
    hidden.value = initial;
    [province, city, county].forEach(function (sel) {
      if (describedBy) {
        sel.setAttribute("aria-describedby", describedBy);
      }
      if (invalid) {
        sel.setAttribute("aria-invalid", invalid);
      }
    });

    function loadCounties(cityCode, selected) {
      hidden.value = "";
      if (!cityCode) {
        fill(county, [], "请选择区县", "");
        county.disabled = true;
        return Promise.resolve();
      }
      return regions(cityCode).then(function (list) {
        if (list.length === 0) {
          // 东莞市, 中山市: no county-level divisions; the city is the place.
          fill(county, [], "（不设区县）", "");
          county.disabled = true;
          hidden.value = cityCode;
          return;
        }
        county.disabled = false;
        fill(county, list, "请选择区县", selected);
        hidden.value = county.value;
      });
    }

    Promise.all([regions(""), regions("44")]).then(function (res) {
      fill(province, res[0], "", "44");
      fill(city, res[1], "请选择市", initialCity);
      return loadCounties(initialCity, initial);
    }).then(function () {
      var label = document.querySelector('label[for="' + original.id + '"]');
      var fixed = box.querySelector(".region-fixed");
      if (fixed) {
        fixed.remove();
      }
      box.classList.add("region-picker-js");
      box.replaceChild(hidden, original);
      box.appendChild(province);
      box.appendChild(city);
      box.appendChild(county);
      if (label) {
        label.htmlFor = city.id;
      }
      city.addEventListener("change", function () {
        loadCounties(city.value, "").catch(function () {
          fill(county, [], "区县加载失败，请刷新页面", "");
        });
      });
      county.addEventListener("change", function () {
        hidden.value = county.value;
      });
    }).catch(function () {
      // Keep the plain select: it works without the API.
    });
  }

  document.querySelectorAll("[data-region-picker]").forEach(enhance);
})();
