// Live page: poll the region's feed every few seconds and prepend what is new.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) return;
  var status = document.getElementById("live-status");
  var afterScan = box.dataset.afterScan, afterAnomaly = box.dataset.afterAnomaly;
  var MAX_ITEMS = 200, PERIOD_MS = 3000;

  function item(list, parts, href, bad) {
    var li = document.createElement("li");
    li.className = "fresh";
    var node = li;
    if (href) { node = document.createElement("a"); node.href = href; li.appendChild(node); }
    node.textContent = parts.filter(Boolean).join(" · ");
    if (bad) li.classList.add("bad");
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ITEMS) list.removeChild(list.lastChild);
  }

  function poll() {
    var url = box.dataset.feed + "&after_scan=" + afterScan + "&after_anomaly=" + afterAnomaly;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        data.scans.forEach(function (s) {
          item(document.getElementById("live-scans"),
               [s.when, s.action, s.package, s.location, s.operator, s.bad ? s.condition : "",
                s.offline ? status.dataset.offline : ""], s.url, s.bad);
        });
        data.anomalies.forEach(function (a) {
          item(document.getElementById("live-anomalies"),
               [a.when, a.kind, a.package, a.location, a.detail], a.url, true);
        });
        afterScan = data.after_scan; afterAnomaly = data.after_anomaly;
        status.textContent = status.dataset.waiting;
      })
      .catch(function () { status.textContent = status.dataset.error; })
      .then(function () { setTimeout(poll, PERIOD_MS); });
  }
  poll();
})();
