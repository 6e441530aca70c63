// The audit dashboard: fetches the JSON of the chosen period and draws it with Chart.js
// (served from the django-admincharts package; nothing is loaded from the internet).
// window.omni2Dashboard holds the charts and the data once drawn (the browser test reads it).
"use strict";

(function () {
  const COLORS = ["#417690", "#e6a117", "#5b9e4d", "#c0392b", "#8e6cb8", "#2c9faf", "#d35f8d",
                  "#7f8c8d", "#b8860b", "#34495e"];
  const STATUS_COLORS = {success: "#5b9e4d", error: "#c0392b", warning: "#e6a117",
                         denied: "#8e6cb8", rate_limited: "#2c9faf"};
  const root = document.querySelector(".audit-dashboard");
  const status = document.getElementById("dashboard-status");

  function color(n) { return COLORS[n % COLORS.length]; }

  function chart(id, config) {
    config.options = Object.assign({animation: false, responsive: true, maintainAspectRatio: true},
                                   config.options || {});
    return new Chart(document.getElementById(id), config);
  }

  function stacked(extra) {
    return Object.assign({scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}}}, extra || {});
  }

  function horizontal() {
    return {indexAxis: "y", plugins: {legend: {display: false}}, scales: {x: {beginAtZero: true}}};
  }

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    row.appendChild(td);
    return td;
  }

  function requestTable(id, rows) {
    const table = document.getElementById(id);
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    ["#", "when (UTC)", "user", "status", "model", "ms", "USD", "message"].forEach(function (name, n) {
      const th = document.createElement("th");
      th.textContent = name;
      if (n === 5 || n === 6) th.className = "num";
      head.appendChild(th);
    });
    const body = table.createTBody();
    rows.forEach(function (r) {
      const row = body.insertRow();
      const link = document.createElement("a");
      link.href = r.url;
      link.textContent = "#" + r.id;
      cell(row, "").appendChild(link);
      cell(row, r.created_at.slice(0, 19).replace("T", " "));
      cell(row, r.user_email || "—");
      cell(row, r.status);
      cell(row, r.model || "—");
      cell(row, String(r.duration_ms), true);
      cell(row, r.cost_usd.toFixed(6), true);
      cell(row, r.message);
    });
    if (!rows.length) cell(body.insertRow(), "No requests in this period.");
  }

  function totals(data) {
    const box = document.getElementById("dashboard-totals");
    box.replaceChildren();
    const hit = data.cache.hit_rate === null ? "—" : (data.cache.hit_rate * 100).toFixed(1) + " %";
    [["requests", data.totals.requests], ["errors", data.totals.errors],
     ["cost", "$" + data.totals.cost_usd.toFixed(6)], ["tool calls", data.totals.tool_calls],
     ["cache hit rate", hit]].forEach(function (pair) {
      const item = document.createElement("div");
      const value = document.createElement("strong");
      value.textContent = pair[1];
      item.appendChild(value);
      item.appendChild(document.createTextNode(pair[0]));
      box.appendChild(item);
    });
  }

  function draw(data) {
    const days = data.days;
    const charts = {};
    charts.cost = chart("chart-cost", {type: "bar", options: stacked(), data: {labels: days,
      datasets: data.cost_by_model.map(function (s, n) {
        return {label: s.model, data: s.cost_usd, backgroundColor: color(n)};
      })}});
    charts.status = chart("chart-status", {type: "bar", options: stacked(), data: {labels: days,
      datasets: data.requests_by_status.map(function (s, n) {
        return {label: s.status, data: s.requests, backgroundColor: STATUS_COLORS[s.status] || color(n)};
      })}});
    charts.users = chart("chart-users", {type: "bar", options: horizontal(), data: {
      labels: data.top_users.map(function (u) { return u.email; }),
      datasets: [{label: "USD", data: data.top_users.map(function (u) { return u.cost_usd; }),
                  backgroundColor: color(0)}]}});
    charts.tools = chart("chart-tools", {type: "bar", options: horizontal(), data: {
      labels: data.top_tools.map(function (t) { return t.mcp + "." + t.tool; }),
      datasets: [{label: "calls", data: data.top_tools.map(function (t) { return t.calls; }),
                  backgroundColor: color(1)}]}});
    charts.latency = chart("chart-latency", {type: "bar", options: {scales: {y: {beginAtZero: true}}},
      data: {labels: data.mcp_latency.map(function (m) { return m.mcp; }), datasets: [
        {label: "p50", data: data.mcp_latency.map(function (m) { return m.p50_ms; }), backgroundColor: color(0)},
        {label: "p95", data: data.mcp_latency.map(function (m) { return m.p95_ms; }), backgroundColor: color(1)}]}});
    charts.cache = chart("chart-cache", {type: "line", options: {scales: {y: {beginAtZero: true, max: 100}}},
      data: {labels: days, datasets: [{label: "hit rate %", spanGaps: true, borderColor: color(2),
        backgroundColor: color(2),
        data: data.cache.per_day.map(function (r) { return r === null ? null : +(r * 100).toFixed(2); })}]}});
    charts.refusals = chart("chart-refusals", {type: "bar", options: {scales: {y: {beginAtZero: true}}},
      data: {labels: days, datasets: [
        {label: "denied requests", data: data.refusals.denied_requests, backgroundColor: STATUS_COLORS.denied},
        {label: "denied tool calls", data: data.refusals.denied_tool_calls, backgroundColor: color(6)},
        {label: "rate-limited", data: data.refusals.rate_limited, backgroundColor: STATUS_COLORS.rate_limited}]}});
    requestTable("table-slowest", data.slowest);
    requestTable("table-costliest", data.costliest);
    totals(data);
    return charts;
  }

  fetch(root.dataset.url + window.location.search, {credentials: "same-origin",
                                                    headers: {Accept: "application/json"}})
    .then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    })
    .then(function (answer) {
      if (!answer.ok) throw new Error(answer.body.error ? answer.body.error.message : "failed");
      const data = answer.body;
      status.textContent = data.period.name + ": " + data.period.from + " to " + data.period.to + " (UTC)";
      window.omni2Dashboard = {data: data, charts: draw(data)};
      root.dataset.ready = "true";
    })
    .catch(function (error) {
      status.textContent = error.message;
      status.className = "error";
      root.dataset.ready = "error";
    });
})();
