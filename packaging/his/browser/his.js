// A browser HIS calling the medterm agent on the same PC, in plain
// JavaScript. The HIS's own server gives the page the agent's address and
// token (read from the agent's token file on this PC by the HIS's local
// service or desktop shell); the page never has the token written in it.
"use strict";

let cfg = null;

function log(line) {
  document.getElementById("log").textContent += line + "\n";
}

// call sends one request to the agent; a refusal is thrown with its code
// and the message to show (Chinese first).
async function call(method, path, body, key) {
  const headers = { Authorization: "Bearer " + cfg.token };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (key) headers["Idempotency-Key"] = key;
  const resp = await fetch(cfg.agent + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = await resp.json();
  if (!resp.ok) throw data.error;
  return data;
}

// openEvents opens the event stream with a single-use ticket: EventSource
// cannot send the Authorization header. A dropped stream reconnects with
// a new ticket, from the last event it saw.
async function openEvents(lastID) {
  const t = await call("POST", "/v1/events/ticket");
  let url = cfg.agent + "/v1/events?ticket=" + encodeURIComponent(t.ticket);
  if (lastID) url += "&last_event_id=" + lastID;
  const es = new EventSource(url);
  let last = lastID;
  es.onopen = () => { document.getElementById("stream").textContent = "已连接 connected"; document.body.dataset.stream = "open"; };
  es.addEventListener("settlement.state", (e) => {
    last = e.lastEventId;
    const ev = JSON.parse(e.data);
    log("settlement.state " + ev.data.id + " " + ev.data.state);
    document.body.dataset.lastEvent = ev.data.state;
  });
  es.onerror = () => { es.close(); setTimeout(() => openEvents(last), 1000); };
}

// yuan writes integer fen as yuan, without floating point.
function yuan(fen) {
  return Math.trunc(fen / 100) + "." + String(fen % 100).padStart(2, "0");
}

async function settle() {
  const bill = {
    identity: { cert_type: "02", cert_no: document.getElementById("idno").value },
    operator: { id: "D017", type: "1" },
    bill: { visit_no: "MZ" + Date.now(), dept_code: "A03", doctor_id: "D017",
      items: [{ code: "110200001", class: "01", quantity: 1, unit_price_fen: 5000, amount_fen: 5000 }] },
  };
  try {
    // The same key again (a retry after a timeout) is the same settlement.
    const st = await call("POST", "/v1/settlements", bill, "HIS-EXAMPLE-" + bill.bill.visit_no);
    document.getElementById("state").textContent = st.state;
    document.getElementById("split").textContent = "个人支付 you pay " + yuan(st.split.cash_fen);
    document.body.dataset.settled = st.state;
  } catch (e) {
    document.getElementById("state").textContent = (e.message_zh || "") + " " + (e.code || String(e));
    document.body.dataset.settled = "error:" + (e.code || "network");
  }
}

document.addEventListener("DOMContentLoaded", async () => {
  cfg = await (await fetch("his-config.json")).json();
  document.getElementById("settle").addEventListener("click", settle);
  try {
    await openEvents("");
  } catch (e) {
    document.getElementById("stream").textContent = "拒绝 refused: " + (e.code || String(e));
    document.body.dataset.stream = "refused";
  }
});
