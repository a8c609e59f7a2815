// The kiosk page: one task per screen, Chinese first, English one tap
// away. It holds no token of the HIS: it asks the agent for a short-lived
// kiosk session, and forgets the patient on every return to the start.
"use strict";

const T = {
  zh: {
    title: "医保自助缴费", switch: "English", offline: "网络中断：账单暂缓结算，网络恢复后自动完成，不会重复扣费",
    start: "请扫描医保码，或插入社保卡", startHint: "将手机上的医保电子凭证对准扫码口", busy: "正在处理，请稍候…",
    bills: "您的待缴费账单", noBills: "没有待缴费的账单", pay: "缴费", back: "返回首页", cancel: "取消",
    confirmTitle: "请确认支付", confirm: "确认支付", done: "完成", sorry: "无法完成",
    receiptHint: "用手机扫描二维码，保存电子凭条", printed: "凭条已打印；也可用手机扫描二维码保存", paid: "缴费成功", deferred: "已暂缓结算",
    total: "总金额", insurance: "医保基金支付", account: "个人账户支付", you: "个人支付", from: "支付方式", hospital: "医院负担",
    patient: "患者", windowPay: "请到窗口缴费", generic: "请到人工窗口办理",
    cardExpired: "社保卡已过期，请到窗口凭身份证办理",
    whyFamily: "此账单由亲情付账户支付，需要您确认", whyLimit: "金额超过免密支付额度，需要您确认",
    srcbank_card: "签约银行卡", srccredit_line: "信用就医额度", srccard_account: "社保卡金融账户", srcnone: "无需支付",
    agreement: "免密支付签约", cardNo: "银行卡号", sign: "签约", limitPayment: "单笔限额（元，低于300）", limitDaily: "单日限额（元，低于1000）",
    saveLimits: "保存限额", endAgreement: "取消签约", backToBills: "返回账单", notSigned: "尚未签约免密支付",
    signed: "已签约", perPayment: "单笔", daily: "单日", saved: "已保存", ended: "已取消签约",
  },
  en: {
    title: "Insurance self-service", switch: "中文", offline: "Network down: bills are deferred and settled when it is back, never charged twice",
    start: "Scan your insurance code, or insert your card", startHint: "Hold the code on your phone to the scanner", busy: "One moment…",
    bills: "Your bills to pay", noBills: "No bills to pay", pay: "Pay", back: "Back to start", cancel: "Cancel",
    confirmTitle: "Please confirm the payment", confirm: "Confirm", done: "Done", sorry: "Could not finish",
    receiptHint: "Scan the QR code with your phone to keep the receipt", printed: "Your receipt is printed; you may also scan the QR code to keep it", paid: "Paid", deferred: "Deferred",
    total: "Total", insurance: "Insurance fund pays", account: "Personal account pays", you: "You pay", from: "Paid from", hospital: "Hospital pays",
    patient: "Patient", windowPay: "Please pay at the window", generic: "Please go to the service window",
    cardExpired: "The card has expired; please settle by ID number at the window",
    whyFamily: "A family member's account pays this bill: please confirm", whyLimit: "The amount is over the password-free limit: please confirm",
    srcbank_card: "signed bank card", srccredit_line: "medical credit line", srccard_account: "the card's financial account", srcnone: "nothing to pay",
    agreement: "Password-free payment", cardNo: "Bank card number", sign: "Sign", limitPayment: "Limit a payment (CNY, below 300)", limitDaily: "Limit a day (CNY, below 1,000)",
    saveLimits: "Save the limits", endAgreement: "Cancel the agreement", backToBills: "Back to the bills", notSigned: "Not signed for password-free payment",
    signed: "Signed", perPayment: "a payment", daily: "a day", saved: "Saved", ended: "Agreement cancelled",
  },
};

let lang = "zh";
let session = null;      // {token, expires_at, terminal_id, idle_seconds}
let patient = null;      // {scan: id} or {card_reader: name}
let current = "start";
let idleTimer = null;
let events = null;
let lastSeq = "";
let lastError = null;    // re-rendered on a language switch
let lastView = null;     // the settlement on screen, re-rendered likewise
let printed = null;      // the receipt's printing: true, an error, or null (no printer)

const $ = (id) => document.getElementById(id);
const t = (key) => T[lang][key] || key;

function yuan(fen) {
  fen = Number(fen || 0);
  const sign = fen < 0 ? "-" : "";
  fen = Math.abs(fen);
  return sign + "¥" + Math.trunc(fen / 100) + "." + String(fen % 100).padStart(2, "0");
}

function render() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.querySelectorAll("[data-t]").forEach((el) => { el.textContent = t(el.dataset.t); });
  if (current === "error" && lastError) showError(lastError);
  if ((current === "confirm" || current === "receipt") && lastView) showSettlement(lastView.st, lastView.receipt);
  if (current === "agreement") renderAgreement();
}

function show(name) {
  current = name;
  document.querySelectorAll(".screen").forEach((s) => { s.hidden = s.id !== "screen-" + name; });
  document.body.dataset.screen = name;
  touched();
}

// reset returns to the start and forgets the patient.
function reset() {
  patient = null; lastError = null; lastView = null; lastAgreement = null; agreementMsg = "";
  $("card-no").value = ""; $("limit-payment").value = ""; $("limit-daily").value = "";
  $("bill-list").replaceChildren();
  $("receipt-qr").removeAttribute("src");
  show("start");
  render();
}

function touched() {
  clearTimeout(idleTimer);
  if (current !== "start") {
    idleTimer = setTimeout(reset, (session ? session.idle_seconds : 60) * 1000);
  }
}

async function call(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + session.token } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const type = resp.headers.get("Content-Type") || "";
  const data = type.startsWith("application/json") ? await resp.json() : await resp.blob();
  if (!resp.ok) {
    throw (data && data.error) || { code: "HTTP_" + resp.status };
  }
  return data;
}

async function newSession() {
  const resp = await fetch("/v1/kiosk/session", { method: "POST" });
  if (!resp.ok) throw (await resp.json()).error;
  session = await resp.json();
  const renewIn = Math.max(10000, new Date(session.expires_at) - Date.now() - 60000);
  setTimeout(() => newSession().catch(() => setTimeout(newSession, 5000)), renewIn);
}

async function openEvents() {
  if (events) events.close();
  try {
    const tk = await call("POST", "/v1/events/ticket");
    let url = "/v1/events?ticket=" + encodeURIComponent(tk.ticket);
    if (lastSeq) url += "&last_event_id=" + lastSeq;
    events = new EventSource(url);
  } catch (e) {
    setTimeout(openEvents, 2000);
    return;
  }
  const on = (type, fn) => events.addEventListener(type, (e) => {
    lastSeq = e.lastEventId || lastSeq;
    fn(JSON.parse(e.data).data || {});
  });
  on("code.scanned", onScan);
  on("card.inserted", onCard);
  on("card.removed", () => { if (patient && patient.card_reader) reset(); });
  on("platform.offline", () => setOffline(true));
  on("platform.online", () => setOffline(false));
  // A ticket is good once: reconnect with a new one, from the last event.
  events.onerror = () => { events.close(); setTimeout(openEvents, 1000); };
}

function setOffline(off) { $("offline").hidden = !off; }

async function refreshStatus() {
  try {
    const st = await call("GET", "/v1/status");
    setOffline(st.online === false);
  } catch (e) { /* the banner stays as it is */ }
}

function onScan(scan) {
  touched();
  if (scan.rejection) {
    showError({ code: "CODE_" + scan.rejection.reason.replace(/^CODE_/, ""), message_zh: scan.rejection.message_zh, message_en: scan.rejection.message_en });
    return;
  }
  patient = { scan: scan.id };
  loadBills();
}

function onCard(card) {
  touched();
  if (card.expired) {
    showError({ code: "CARD_EXPIRED", message_zh: T.zh.cardExpired, message_en: T.en.cardExpired });
    return;
  }
  patient = { card_reader: card.reader };
  loadBills();
}

async function loadBills() {
  show("busy");
  const q = patient.scan ? "scan=" + encodeURIComponent(patient.scan) : "card_reader=" + encodeURIComponent(patient.card_reader);
  try {
    const list = await call("GET", "/v1/bills?" + q);
    const ul = $("bill-list");
    ul.replaceChildren();
    for (const b of list.bills) {
      const li = document.createElement("li");
      li.className = "bill";
      const what = document.createElement("span");
      what.textContent = [b.bill.dept_name || b.bill.dept_code, b.bill.doctor_name || "", b.bill.visit_no].filter(Boolean).join(" · ");
      const amount = document.createElement("span");
      amount.className = "amount";
      amount.textContent = yuan(b.total_fen);
      const btn = document.createElement("button");
      btn.type = "button"; btn.className = "primary"; btn.dataset.t = "pay"; btn.dataset.bill = b.id;
      btn.addEventListener("click", () => pay(b.id));
      li.append(what, amount, btn);
      ul.append(li);
    }
    $("no-bills").hidden = list.bills.length > 0;
    $("patient").textContent = list.bills.length ? t("patient") + " " + list.bills[0].patient : "";
    show("bills");
    render();
  } catch (e) {
    showError(e);
  }
}

async function pay(id) {
  touched();
  show("busy");
  try {
    const out = await call("POST", "/v1/bills/" + encodeURIComponent(id) + "/settle",
      { identity: patient, operator: { id: session.terminal_id || "KIOSK", type: "2" } });
    await settled(out.settlement);
  } catch (e) {
    showError(e);
  }
}

async function settled(st) {
  if (st.state === "declined" || st.state === "failed" || st.state === "in_doubt") {
    const err = st.error || {};
    showError({ code: err.code || st.state.toUpperCase(), message_zh: T.zh.generic, message_en: T.en.generic });
    return;
  }
  const p = st.pay || {};
  if (needsConfirm(p)) {
    showSettlement(st, null);
    return;
  }
  let receipt = null;
  try { receipt = await call("GET", "/v1/settlements/" + st.id + "/receipt"); } catch (e) { /* shown without */ }
  try {
    const qr = await call("GET", "/v1/settlements/" + st.id + "/receipt?format=qr");
    $("receipt-qr").src = URL.createObjectURL(qr);
  } catch (e) { /* no QR */ }
  printed = null;
  try {
    await call("POST", "/v1/settlements/" + st.id + "/print");
    printed = true;
  } catch (e) {
    printed = e.code === "NO_PRINTER" ? null : e; // a failure is said; no printer is not
  }
  showSettlement(st, receipt);
}

// needsConfirm: a part the patient may pay here once they confirm it (a
// confirm-first family link, a part over the password-free limit).
function needsConfirm(p) {
  return p.status === "confirm_required" || (p.status === "pending" && /^limit_/.test(p.reason || ""));
}

function splitRows(dl, st) {
  const s = st.split || {};
  const p = st.pay || {};
  const rows = [[t("total"), yuan(s.total_fen)], [t("insurance"), yuan(s.fund_fen)]];
  if (s.account_fen) rows.push([t("account"), yuan(s.account_fen)]);
  if (s.hospital_fen) rows.push([t("hospital"), yuan(s.hospital_fen)]);
  rows.push([t("you"), yuan(s.cash_fen), "you"]);
  const src = p.source ? t("src" + p.source.kind) + (p.source.masked ? " " + p.source.masked : "") : (s.cash_fen ? "" : t("srcnone"));
  if (src) rows.push([t("from"), src]);
  dl.replaceChildren();
  for (const [k, v, cls] of rows) {
    const dt = document.createElement("dt"); dt.textContent = k;
    const dd = document.createElement("dd"); dd.textContent = v;
    if (cls) { dt.className = cls; dd.className = cls; }
    dl.append(dt, dd);
  }
}

function showSettlement(st, receipt) {
  lastView = { st, receipt };
  const p = st.pay || {};
  if (needsConfirm(p)) {
    splitRows($("confirm-split"), st);
    $("confirm-why").textContent = /^limit_/.test(p.reason || "") ? t("whyLimit") : t("whyFamily");
    $("confirm").onclick = () => confirmPay(st.id);
    show("confirm");
    return;
  }
  splitRows($("receipt-split"), st);
  $("receipt-title").textContent = st.state === "deferred" ? t("deferred") : t("paid");
  let note = receipt && receipt.note ? receipt.note : "";
  if (p.status === "pending") note = t("windowPay");
  const parts = note.split(" / ");
  $("receipt-note").textContent = parts.length === 2 ? (lang === "zh" ? parts[0] : parts[1]) : note;
  const hint = $("receipt-hint");
  if (printed === true) hint.textContent = t("printed");
  else if (printed) hint.textContent = lang === "zh" ? printed.message_zh : printed.message_en;
  else hint.textContent = t("receiptHint");
  document.body.dataset.printed = printed === true ? "yes" : "no";
  show("receipt");
}

async function confirmPay(id) {
  touched();
  show("busy");
  try {
    const st = await call("POST", "/v1/settlements/" + encodeURIComponent(id) + "/confirm",
      { operator: { id: session.terminal_id || "KIOSK", type: "2" } });
    await settled(st);
  } catch (e) {
    showError(e);
  }
}

// The patient's password-free agreement: shown, signed with a bank card,
// its limits lowered, cancelled, by the patient alone.
async function showAgreement(msg) {
  show("busy");
  let a = null;
  try {
    a = await call("POST", "/v1/agreements/find", { identity: patient });
  } catch (e) {
    if (e.code !== "NO_AGREEMENT") { showError(e); return; }
  }
  lastAgreement = a;
  renderAgreement(msg || "");
  show("agreement");
  render();
}

let lastAgreement = null;
let agreementMsg = "";

function renderAgreement(msg) {
  if (msg !== undefined) agreementMsg = msg;
  const a = lastAgreement;
  $("agreement-sign").hidden = !!a;
  $("agreement-limits").hidden = !a;
  if (!a) {
    $("agreement-state").textContent = t("notSigned");
  } else {
    const src = (a.sources || []).map((s) => t("src" + s.kind) + " " + s.masked).join("、");
    $("agreement-state").textContent = t("signed") + "：" + src + " · " + t("perPayment") + " " + yuan(a.per_payment_fen) + " · " + t("daily") + " " + yuan(a.daily_fen);
  }
  $("agreement-msg").textContent = agreementMsg ? t(agreementMsg) : "";
  document.body.dataset.agreement = agreementMsg || (a ? "shown" : "none");
}

async function agreementCall(path, body, msg) {
  touched();
  try {
    await call("POST", path, Object.assign({ identity: patient, operator: { id: session.terminal_id || "KIOSK", type: "2" } }, body));
    await showAgreement(msg);
  } catch (e) {
    show("agreement");
    $("agreement-msg").textContent = lang === "zh" ? (e.message_zh || e.code) : (e.message_en || e.code);
  }
}

// fen reads whole yuan typed on the keypad as fen; 0 when empty.
function fen(v) {
  const n = parseInt(v || "0", 10);
  return Number.isFinite(n) && n > 0 ? n * 100 : 0;
}

function showError(e) {
  lastError = e;
  const zh = e.message_zh || T.zh.generic;
  const en = e.message_en || T.en.generic;
  $("error-message").textContent = lang === "zh" ? zh : en;
  $("error-code").textContent = e.code || "";
  show("error");
  touched();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("lang").addEventListener("click", () => { lang = lang === "zh" ? "en" : "zh"; render(); touched(); });
  document.querySelectorAll("[data-action=reset]").forEach((b) => b.addEventListener("click", reset));
  $("to-agreement").addEventListener("click", () => showAgreement(""));
  $("agreement-back").addEventListener("click", () => { touched(); loadBills(); });
  $("sign").addEventListener("click", () => agreementCall("/v1/agreements", { source: "bank_card", card_no: $("card-no").value.trim() }, "signed"));
  $("save-limits").addEventListener("click", () => agreementCall("/v1/agreements/limits",
    { per_payment_fen: fen($("limit-payment").value), daily_fen: fen($("limit-daily").value) }, "saved"));
  $("end-agreement").addEventListener("click", () => agreementCall("/v1/agreements/cancel", {}, "ended"));
  document.addEventListener("input", touched);
  document.addEventListener("pointerdown", touched);
  render();
  show("start");
  try {
    await newSession();
  } catch (e) {
    showError(e);
    return;
  }
  await refreshStatus();
  await openEvents();
  document.body.dataset.ready = "true";
});
