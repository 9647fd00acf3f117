// Junction demo: the official nats.ws client in the page talks NATS over
// WebSocket to junction; the figures come from junction's monitoring
// endpoints on the same origin as this page.
import { connect, StringCodec, headers } from "./vendor/nats.js";
import mqtt from "./vendor/mqtt.js";

const sc = StringCodec();
const $ = (id) => document.getElementById(id);
let nc;
let received = 0;

function log(subject, data, reply) {
  received += 1;
  const li = document.createElement("li");
  li.textContent = `${subject}${reply ? " (reply to " + reply + ")" : ""}: ${data}`;
  li.className = "msg";
  $("messages").prepend(li);
  while ($("messages").children.length > 200) $("messages").lastChild.remove();
}

async function start() {
  const varz = await (await fetch("varz")).json();
  const port = varz.websocket && varz.websocket.port;
  if (!port) throw new Error("the server has no websocket listener");
  const url = `ws://${location.hostname}:${port}`;
  nc = await connect({ servers: url, name: "junction demo page" });
  $("status").textContent = "connected";
  $("status").className = "ok";
  $("server").textContent = `${url} · ${nc.info.server_name}`;
  nc.closed().then(() => {
    $("status").textContent = "disconnected";
    $("status").className = "bad";
  });
  subscribe($("sub-subject").value);
  answerTime();
  if (varz.mqtt && varz.mqtt.port) {
    startMqtt(port);
  } else {
    $("mqtt-status").textContent = "MQTT is off on this server (add an mqtt { port } block)";
  }
  if (varz.jetstream && varz.jetstream.config) {
    openBucket($("kv-bucket").value);
  } else {
    $("kv-status").textContent = "JetStream is off on this server (start it with -js)";
  }
}

// `demo.time` is answered by the open demo pages (one of them, as a queue
// group), so the Request button works on a fresh start.
async function answerTime() {
  for await (const m of nc.subscribe("demo.time", { queue: "demo-time" })) {
    m.respond(sc.encode(new Date().toISOString()));
  }
}

// The MQTT panel: mqtt.js connected over WebSocket at /mqtt, in the same
// subject space as the nats.ws client above. Topics map to subjects as in
// nats-server: `/` is `.`, `.` is `//`, an empty level is `/`.
let mq;

function topicToSubject(topic) {
  return topic
    .split("/")
    .map((level) => (level === "" ? "/" : level.replaceAll(".", "//").replace(/^\+$/, "*").replace(/^#$/, ">")))
    .join(".");
}

function startMqtt(wsPort) {
  mq = mqtt.connect(`ws://${location.hostname}:${wsPort}/mqtt`, {
    clientId: `demo-page-${Math.random().toString(16).slice(2, 10)}`,
    protocolVersion: 5,
    reconnectPeriod: 2000,
  });
  mq.on("connect", () => {
    $("mqtt-status").textContent = "MQTT: connected";
    $("mqtt-status").className = "ok";
    mq.subscribe($("mqtt-filter").value, { qos: 1 });
  });
  mq.on("close", () => {
    $("mqtt-status").textContent = "MQTT: disconnected";
    $("mqtt-status").className = "bad";
  });
  mq.on("message", (topic, payload, packet) => {
    const tr = document.createElement("tr");
    tr.className = "mqtt-msg";
    for (const text of [topic, topicToSubject(topic), String(packet.qos), new TextDecoder().decode(payload)]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.append(td);
    }
    $("mqtt-messages").tBodies[0].prepend(tr);
    while ($("mqtt-messages").tBodies[0].children.length > 100) $("mqtt-messages").tBodies[0].lastChild.remove();
  });
}

$("mqtt-sub-form").onsubmit = (e) => {
  e.preventDefault();
  mq?.subscribe($("mqtt-filter").value, { qos: 1 });
};

$("mqtt-pub-form").onsubmit = (e) => {
  e.preventDefault();
  mq?.publish($("mqtt-topic").value, $("mqtt-payload").value, { qos: Number($("mqtt-qos").value) });
};

// The key-value panel: a bucket watched live, so every tab (and any other
// client) sees each change as it happens.
let kv;
let kvWatch;
const entries = new Map();

function renderEntries() {
  const rows = [...entries.entries()].sort(([a], [b]) => a.localeCompare(b));
  $("kv-entries").tBodies[0].innerHTML = rows
    .map(([k, e]) => `<tr data-key="${k}"><td>${k}</td><td class="kv-value">${e.value}</td><td>${e.revision}</td></tr>`)
    .join("");
}

async function openBucket(name) {
  try {
    if (kvWatch) kvWatch.stop();
    entries.clear();
    renderEntries();
    kv = await nc.jetstream().views.kv(name, { history: 5 });
    $("kv-status").textContent = `bucket ${name}`;
    kvWatch = await kv.watch();
    for await (const e of kvWatch) {
      if (e.operation === "PUT") entries.set(e.key, { value: sc.decode(e.value), revision: e.revision });
      else entries.delete(e.key);
      renderEntries();
    }
  } catch (err) {
    $("kv-status").textContent = `error: ${err.message}`;
  }
}

$("kv-bucket").onchange = () => openBucket($("kv-bucket").value);

$("kv-form").onsubmit = async (e) => {
  e.preventDefault();
  try {
    await kv.put($("kv-key").value, sc.encode($("kv-value").value));
  } catch (err) {
    $("kv-status").textContent = `error: ${err.message}`;
  }
};

$("kv-del").onclick = async () => {
  try {
    await kv.delete($("kv-key").value);
  } catch (err) {
    $("kv-status").textContent = `error: ${err.message}`;
  }
};

async function subscribe(subject) {
  const sub = nc.subscribe(subject);
  const li = document.createElement("li");
  li.textContent = subject;
  $("subs").append(li);
  for await (const m of sub) log(m.subject, sc.decode(m.data), m.reply);
}

$("sub-form").onsubmit = (e) => {
  e.preventDefault();
  subscribe($("sub-subject").value);
};

$("pub-form").onsubmit = async (e) => {
  e.preventDefault();
  const h = headers();
  h.set("Sent-By", "junction-demo");
  nc.publish($("pub-subject").value, sc.encode($("pub-payload").value), { headers: h });
  await nc.flush();
};

$("req-form").onsubmit = async (e) => {
  e.preventDefault();
  try {
    const m = await nc.request($("req-subject").value, sc.encode($("req-payload").value), { timeout: 2000 });
    $("reply").textContent = sc.decode(m.data);
  } catch (err) {
    $("reply").textContent = `error: ${err.message}`;
  }
};

$("rep-form").onsubmit = async (e) => {
  e.preventDefault();
  const subject = $("rep-subject").value;
  const li = document.createElement("li");
  li.textContent = `answering ${subject}`;
  $("replying").append(li);
  for await (const m of nc.subscribe(subject)) {
    m.respond(sc.encode(`browser says: ${sc.decode(m.data)}`));
  }
};

// Live figures, once a second, with a small chart of messages per second.
const history = [];
let last;
async function refresh() {
  try {
    const v = await (await fetch("varz")).json();
    const c = await (await fetch("connz?auth=1&limit=50")).json();
    const byType = {};
    for (const conn of c.connections) byType[conn.type] = (byType[conn.type] || 0) + 1;
    const rate = last ? Math.max(0, v.in_msgs - last.in_msgs) : 0;
    last = v;
    history.push(rate);
    if (history.length > 60) history.shift();
    const rows = [
      ["connections", v.connections],
      ["by listener", Object.entries(byType).map(([t, n]) => `${t}: ${n}`).join(", ") || "–"],
      ["subscriptions", v.subscriptions],
      ["messages in", v.in_msgs],
      ["messages out", v.out_msgs],
      ["msgs/s in", rate],
      ["uptime", v.uptime],
    ];
    $("figures").innerHTML = rows.map(([k, x]) => `<tr><th>${k}</th><td data-figure="${k}">${x}</td></tr>`).join("");
    $("conns").tBodies[0].innerHTML = c.connections
      .map((x) => `<tr><td>${x.cid}</td><td>${x.type}</td><td>${x.account || ""}</td><td>${x.name || ""}</td><td>${x.in_msgs}</td><td>${x.out_msgs}</td><td>${x.subscriptions}</td></tr>`)
      .join("");
    draw();
  } catch (err) {
    $("figures").innerHTML = `<tr><td>monitoring unavailable: ${err.message}</td></tr>`;
  }
}

function draw() {
  const cv = $("chart");
  const g = cv.getContext("2d");
  g.clearRect(0, 0, cv.width, cv.height);
  const max = Math.max(1, ...history);
  g.strokeStyle = "#2a7";
  g.beginPath();
  history.forEach((v, i) => {
    const x = (i / 59) * (cv.width - 4) + 2;
    const y = cv.height - 4 - (v / max) * (cv.height - 8);
    i ? g.lineTo(x, y) : g.moveTo(x, y);
  });
  g.stroke();
  g.fillText(`${max} msgs/s`, 4, 12);
}

// The cluster view: this server and the servers it links to (routes, leaf
// nodes, gateways), each link with its messages per second both ways, from
// /routez, /leafz and /gatewayz once a second.
const lastLinks = new Map();
// Names come from other servers: escaped before they go into markup.
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
async function links() {
  const get = async (path) => (await fetch(path)).json();
  const [r, l, g, v] = await Promise.all([get("routez"), get("leafz"), get("gatewayz"), get("varz")]);
  const out = [];
  // One link per peer server: its pool of routes (and those dedicated to
  // accounts) added up.
  const byPeer = new Map();
  for (const x of r.routes || []) {
    const peer = x.remote_name || x.remote_id;
    const link = byPeer.get(peer) || { key: `route-${x.remote_id}`, kind: "route", peer, inMsgs: 0, outMsgs: 0, subs: 0 };
    link.inMsgs += x.in_msgs;
    link.outMsgs += x.out_msgs;
    link.subs += x.subscriptions;
    byPeer.set(peer, link);
  }
  out.push(...byPeer.values());
  for (const x of l.leafs || []) {
    out.push({ key: `leaf-${x.id}`, kind: x.is_spoke ? "leaf (to hub)" : "leaf", peer: x.name, inMsgs: x.in_msgs, outMsgs: x.out_msgs, subs: x.subscriptions });
  }
  const gw = (name, c, dir) => ({ key: `gw-${c.cid}`, kind: `gateway ${dir}`, peer: `cluster ${name}`, inMsgs: c.in_msgs, outMsgs: c.out_msgs, subs: c.subscriptions });
  for (const [name, x] of Object.entries(g.outbound_gateways || {})) out.push(gw(name, x.connection, "out"));
  for (const [name, list] of Object.entries(g.inbound_gateways || {})) for (const x of list) out.push(gw(name, x.connection, "in"));
  const now = Date.now();
  for (const link of out) {
    const before = lastLinks.get(link.key);
    const secs = before ? Math.max(0.001, (now - before.at) / 1000) : 1;
    link.rateIn = before ? Math.max(0, Math.round((link.inMsgs - before.inMsgs) / secs)) : 0;
    link.rateOut = before ? Math.max(0, Math.round((link.outMsgs - before.outMsgs) / secs)) : 0;
    lastLinks.set(link.key, { at: now, inMsgs: link.inMsgs, outMsgs: link.outMsgs });
  }
  const me = v.server_name + (v.cluster && v.cluster.name ? ` (${v.cluster.name})` : "");
  $("cluster-note").textContent = out.length
    ? `${me}: ${out.length} link${out.length > 1 ? "s" : ""}`
    : `${me} is on its own: add cluster {}, leafnodes {} or gateway {} to link it`;
  $("links").tBodies[0].innerHTML = out
    .map((x) => `<tr data-peer="${esc(x.peer)}"><td>${esc(x.kind)}</td><td>${esc(x.peer)}</td><td class="rate-in">${x.rateIn}</td><td class="rate-out">${x.rateOut}</td><td>${x.subs}</td></tr>`)
    .join("");
  drawTopology(me, out);
}

function drawTopology(me, out) {
  const svg = $("topology");
  const w = 420, h = 240, cx = w / 2, cy = h / 2, radius = 88;
  const colors = { route: "#2a7", leaf: "#27a", gateway: "#a52" };
  let body = "";
  out.forEach((x, i) => {
    const a = (2 * Math.PI * i) / Math.max(1, out.length) - Math.PI / 2;
    const px = cx + radius * Math.cos(a), py = cy + radius * Math.sin(a);
    const color = colors[x.kind.split(" ")[0]] || "#777";
    const width = 1 + Math.min(6, Math.log10(1 + x.rateIn + x.rateOut));
    body += `<line x1="${cx}" y1="${cy}" x2="${px}" y2="${py}" stroke="${color}" stroke-width="${width}"/>`;
    body += `<text x="${(cx + px) / 2 + 4}" y="${(cy + py) / 2 - 4}" fill="${color}">${x.rateIn + x.rateOut}/s</text>`;
    body += `<circle cx="${px}" cy="${py}" r="9" fill="${color}"/>`;
    body += `<text x="${px + 12}" y="${py + 4}">${esc(x.peer)} · ${esc(x.kind)}</text>`;
  });
  body += `<circle cx="${cx}" cy="${cy}" r="13" fill="#1d2b3a"/><text x="${cx + 16}" y="${cy + 4}" font-weight="bold">${esc(me)}</text>`;
  svg.innerHTML = body;
}

setInterval(refresh, 1000);
setInterval(() => links().catch(() => {}), 1000);
refresh();
links().catch(() => {});
start().catch((err) => {
  $("status").textContent = `error: ${err.message}`;
});
