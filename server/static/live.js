// Live page: poll the region's feed every few seconds and put what is new on top.
(function () {
  "use strict";
  var box = document.getElementById("live");
  if (!box) return;
  var status = document.getElementById("live-status");
  var afterScan = box.dataset.afterScan, afterAnomaly = box.dataset.afterAnomaly;
  var MAX_ITEMS = 200, PERIOD_MS = 3000;

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  // Build one entry from text only (never HTML from the server): time, a headline, a detail line.
  function item(list, when, headline, headClass, detail, href) {
    var li = document.createElement("li");
    li.className = "fresh";
    var node = li;
    if (href) { node = document.createElement("a"); node.href = href; li.appendChild(node); }
    node.appendChild(span("t", when));
    node.appendChild(span(headClass, headline));
    if (detail) node.appendChild(span("d", detail));
    list.insertBefore(li, list.firstChild);
    while (list.children.length > MAX_ITEMS) list.removeChild(list.lastChild);
  }

  function poll() {
    var url = box.dataset.feed + "&after_scan=" + afterScan + "&after_anomaly=" + afterAnomaly;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        data.scans.forEach(function (s) {
          var head = [s.action, s.package].join(" · ");
          var tail = [s.location, s.operator, s.bad ? s.condition : "",
                      s.offline ? status.dataset.offline : ""].filter(Boolean).join(" · ");
          item(document.getElementById("live-scans"), s.when, head,
               s.bad ? "k bad" : "k", tail, s.url);
        });
        data.anomalies.forEach(function (a) {
          item(document.getElementById("live-anomalies"), a.when,
               [a.kind, a.package].filter(Boolean).join(" · "), "k bad",
               [a.location, a.detail].filter(Boolean).join(" · "), a.url);
        });
        afterScan = data.after_scan; afterAnomaly = data.after_anomaly;
        status.textContent = status.dataset.waiting;
      })
      .catch(function () { status.textContent = status.dataset.error; })
      .then(function () { setTimeout(poll, PERIOD_MS); });
  }
  poll();
})();
