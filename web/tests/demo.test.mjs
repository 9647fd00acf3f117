// The browser demo in headless Chromium (Debian's, driven by playwright-core):
// the page's nats.ws client and a native NATS client (the official `nats`
// package for Node) exchange messages and requests through a real junction.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { connect, StringCodec } from "nats";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const binary = process.env.JUNCTION_BIN || join(root, "target", "debug", "junction");
const sc = StringCodec();

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let server, browser, page, nc, httpPort, clusterPort;

before(async () => {
  const [natsPort, wsPort, mqttPort] = [await freePort(), await freePort(), await freePort()];
  clusterPort = await freePort();
  httpPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "junction-demo-"));
  const conf = join(dir, "demo.conf");
  writeFileSync(conf, `server_name: demo-1\ncluster { name: demo, listen: "127.0.0.1:${clusterPort}" }\nlisten: "127.0.0.1:${natsPort}"\nhttp: "127.0.0.1:${httpPort}"\nwebsocket { host: "127.0.0.1", port: ${wsPort}, no_tls: true }\njetstream { store_dir: "${join(dir, "js")}" }\nmqtt { listen: "127.0.0.1:${mqttPort}" }\n`);
  server = spawn(binary, ["-c", conf], { env: { ...process.env, JUNCTION_WEB_DIR: join(root, "web") }, stdio: "ignore" });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok, "junction");
  nc = await connect({ servers: `nats://127.0.0.1:${natsPort}`, name: "native node client" });
  const userDataDir = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  // A fresh profile each run (launchPersistentContext is how playwright
  // takes --user-data-dir).
  browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${httpPort}/`);
  await page.waitForFunction(() => document.getElementById("status").textContent === "connected", null, { timeout: 10000 });
});

after(async () => {
  if (page) {
    const shots = join(root, "target", "browser");
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, "demo.png"), fullPage: true });
  }
  await nc?.close();
  await browser?.close();
  server?.kill();
});

test("the page publishes and a native client receives", async () => {
  const sub = nc.subscribe("demo.fromweb", { max: 1 });
  await nc.flush();
  await page.fill("#pub-subject", "demo.fromweb");
  await page.fill("#pub-payload", "hello from chromium");
  await page.click("#pub-form button");
  for await (const m of sub) {
    assert.equal(sc.decode(m.data), "hello from chromium");
    assert.equal(m.headers?.get("Sent-By"), "junction-demo");
  }
});

test("a native client publishes and the page shows it", async () => {
  await waitFor(async () => (await (await fetch(`http://127.0.0.1:${httpPort}/subsz?subs=1&test=demo.native`)).json()).total > 0, "page subscription");
  nc.publish("demo.native", sc.encode("from node"));
  await page.waitForFunction(() => [...document.querySelectorAll("#messages li")].some((li) => li.textContent.includes("demo.native: from node")), null, { timeout: 5000 });
});

test("the Request button works on a fresh start: demo.time is answered", async () => {
  await page.click("#req-form button");
  await page.waitForFunction(() => /^\d{4}-\d\d-\d\dT/.test(document.getElementById("reply").textContent), null, { timeout: 5000 });
});

test("request from the page, answered by a native service", async () => {
  const svc = nc.subscribe("demo.native.time");
  (async () => { for await (const m of svc) m.respond(sc.encode(`it is noon (${sc.decode(m.data)})`)); })();
  await nc.flush();
  await page.fill("#req-subject", "demo.native.time");
  await page.fill("#req-payload", "please");
  await page.click("#req-form button");
  await page.waitForFunction(() => document.getElementById("reply").textContent === "it is noon (please)", null, { timeout: 5000 });
  svc.unsubscribe();
});

test("request from a native client, answered by the page", async () => {
  await page.fill("#rep-subject", "browser.echo");
  await page.click("#rep-form button");
  await waitFor(async () => (await (await fetch(`http://127.0.0.1:${httpPort}/subsz?subs=1&test=browser.echo`)).json()).total > 0, "page replier");
  const reply = await nc.request("browser.echo", sc.encode("ping"), { timeout: 3000 });
  assert.equal(sc.decode(reply.data), "browser says: ping");
});

test("MQTT panel: the page publishes over MQTT and a native NATS client receives it", async () => {
  await page.waitForFunction(() => document.getElementById("mqtt-status").textContent === "MQTT: connected", null, { timeout: 10000 });
  const sub = nc.subscribe("demo.mqtt.page", { max: 1 });
  await nc.flush();
  await page.fill("#mqtt-topic", "demo/mqtt/page");
  await page.fill("#mqtt-payload", "from mqtt.js");
  await page.click("#mqtt-pub-form button");
  for await (const m of sub) assert.equal(sc.decode(m.data), "from mqtt.js");
});

test("MQTT panel: a native NATS publish shows with its topic and subject", async () => {
  await page.waitForFunction(() => document.getElementById("mqtt-status").textContent === "MQTT: connected", null, { timeout: 10000 });
  await waitFor(async () => (await (await fetch(`http://127.0.0.1:${httpPort}/subsz?subs=1&test=demo.from.nats`)).json()).total >= 2, "the page's MQTT subscription");
  nc.publish("demo.from.nats", sc.encode("to mqtt"));
  await page.waitForFunction(() => [...document.querySelectorAll("#mqtt-messages tr.mqtt-msg")].some((tr) => {
    const cells = [...tr.children].map((td) => td.textContent);
    return cells[0] === "demo/from/nats" && cells[1] === "demo.from.nats" && cells[3] === "to mqtt";
  }), null, { timeout: 5000 });
});

test("live figures change and show both listeners", async () => {
  const figure = (name) => page.$eval(`[data-figure="${name}"]`, (td) => td.textContent);
  await page.waitForSelector('[data-figure="messages in"]');
  const before = Number(await figure("messages in"));
  for (let i = 0; i < 25; i++) nc.publish("demo.burst", sc.encode(String(i)));
  await nc.flush();
  await page.waitForFunction((b) => Number(document.querySelector('[data-figure="messages in"]').textContent) >= b + 25, before, { timeout: 5000 });
  const listeners = await figure("by listener");
  assert.match(listeners, /nats: 1/);
  assert.match(listeners, /websocket: 1/);
});

test("key-value panel: the page puts, a native client and a second tab see it, and back", async () => {
  await page.waitForFunction(() => document.getElementById("kv-status").textContent === "bucket demo", null, { timeout: 10000 });
  const second = await browser.newPage();
  await second.goto(`http://127.0.0.1:${httpPort}/`);
  await second.waitForFunction(() => document.getElementById("kv-status").textContent === "bucket demo", null, { timeout: 10000 });
  await page.fill("#kv-key", "color");
  await page.fill("#kv-value", "teal");
  await page.click("#kv-put");
  const js = nc.jetstream();
  const kv = await js.views.kv("demo");
  await waitFor(async () => sc.decode((await kv.get("color"))?.value ?? new Uint8Array()) === "teal", "the put from the page");
  const shown = (p, key, value) => p.waitForFunction(
    ([k, v]) => [...document.querySelectorAll("#kv-entries tr")].some((tr) => tr.dataset.key === k && tr.querySelector(".kv-value")?.textContent === v),
    [key, value], { timeout: 5000 });
  await shown(second, "color", "teal");
  await kv.put("size", sc.encode("large"));
  await shown(page, "size", "large");
  await shown(second, "size", "large");
  await second.fill("#kv-key", "size");
  await second.click("#kv-del");
  await page.waitForFunction(() => ![...document.querySelectorAll("#kv-entries tr")].some((tr) => tr.dataset.key === "size"), null, { timeout: 5000 });
  await second.close();
});

test("cluster view: a second node joins and the route shows its traffic live", async () => {
  await page.waitForFunction(() => document.getElementById("cluster-note").textContent.includes("on its own"), null, { timeout: 5000 });
  const [natsPort2, clusterPort2] = [await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), "junction-demo-2-"));
  const conf = join(dir, "demo2.conf");
  writeFileSync(conf, `server_name: demo-2\nlisten: "127.0.0.1:${natsPort2}"\ncluster { name: demo, listen: "127.0.0.1:${clusterPort2}", routes: ["nats://127.0.0.1:${clusterPort}"] }\n`);
  const second = spawn(binary, ["-c", conf], { stdio: "ignore" });
  try {
    await page.waitForFunction(() => document.querySelector('#links tr[data-peer="demo-2"]') !== null, null, { timeout: 10000 });
    assert.match(await page.textContent("#topology"), /demo-2/);
    // A client of the second node publishes to the page's subscription:
    // the route into this node carries it, and its rate shows.
    // Its pool of routes: 3, and one for the system account.
    await waitFor(async () => (await (await fetch(`http://127.0.0.1:${httpPort}/routez?subs=1`)).json()).num_routes === 4, "the routes");
    assert.equal(await page.locator('#links tr[data-peer="demo-2"]').count(), 1);
    const nc2 = await connect({ servers: `nats://127.0.0.1:${natsPort2}` });
    const pump = setInterval(() => { for (let i = 0; i < 50; i++) nc2.publish("demo.cluster", sc.encode("x")); }, 50);
    try {
      await page.waitForFunction(() => Number(document.querySelector('#links tr[data-peer="demo-2"] .rate-in')?.textContent) > 0, null, { timeout: 10000 });
    } finally {
      clearInterval(pump);
      await nc2.close();
    }
  } finally {
    second.kill();
  }
});
