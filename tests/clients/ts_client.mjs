// An independent MCP client for `whale mcp`, built on the official TypeScript
// SDK (@modelcontextprotocol/sdk), which checks more than the Python one:
// it validates the tools/list result against MCP's schema (zod), and every
// successful structuredContent against the tool's outputSchema (ajv).
//
// Usage: node ts_client.mjs WHALE_BINARY DB_PATH grouped|flat
//
// Launches `WHALE_BINARY --db DB_PATH mcp --tool-mode MODE --page-size 5`
// over stdio, lists every tool (following pagination), fills the examples'
// placeholder ids with real ones read through the same session, calls every
// action's example input in the mode's spelling, then reads one execution of
// the audit trail (free-form input and output). Prints one JSON summary on
// stdout: per call, whether it succeeded (and so passed the SDK's output
// validation) or the error text the agent got. Exits 1 with a message on
// stderr when the SDK refuses something. Used by tests/ts_client.rs.

import { execFileSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [binary, db, mode] = process.argv.slice(2);
if (!binary || !db || !["grouped", "flat"].includes(mode)) {
  console.error("usage: node ts_client.mjs WHALE_BINARY DB_PATH grouped|flat");
  process.exit(2);
}

const env = { ...process.env };
for (const k of ["WHALETOOLS_API_KEY", "WHALE_STORE", "WHALE_DB", "RUST_LOG"]) delete env[k];

// Each action and its example input, from the CLI (tools/list does not
// carry examples).
const whale = (args) =>
  JSON.parse(execFileSync(binary, ["--db", db, ...args], { env, encoding: "utf8" }));
const actions = whale(["tools", "list", "--json"]).tools.flatMap((t) =>
  t.actions.map((a) => ({ tool: t.name, action: a.name, effect: a.effect })),
);
for (const a of actions) {
  a.example = whale(["tools", "schema", `${a.tool}_${a.action}`]).example;
}

const transport = new StdioClientTransport({
  command: binary,
  args: ["--db", db, "mcp", "--tool-mode", mode, "--page-size", "5"],
  env,
  stderr: "inherit",
});
const client = new Client({ name: "whale-ts-test", version: "1.0.0" });
const warnings = [];
client.onerror = (e) => warnings.push(String(e));
await client.connect(transport);

const summary = {
  mode,
  server: client.getServerVersion()?.name,
  protocol_version: transport.protocolVersion ?? null,
  tools: [],
  pages: 0,
  calls: {},
};

// Every page of tools/list; the SDK parses each against MCP's Tool schema
// and caches the output validators of the tools it saw.
let cursor;
do {
  const page = await client.listTools(cursor ? { cursor } : undefined);
  summary.pages += 1;
  summary.tools.push(...page.tools.map((t) => t.name));
  cursor = page.nextCursor;
} while (cursor && summary.pages < 100);

const call = async (tool, action, args) => {
  const request =
    mode === "grouped"
      ? { name: tool, arguments: { action, ...args } }
      : { name: `${tool}_${action}`, arguments: args };
  return client.callTool(request);
};
const structured = async (tool, action, args) => {
  const r = await call(tool, action, args);
  if (r.isError) throw new Error(`${tool}.${action}: ${r.content?.[0]?.text}`);
  return r;
};

// Real ids for the examples' placeholders, read through this session.
const first = await structured("products", "list_products", { limit: 1, status: "active" });
const ids = { exec_example: first._meta?.["whale/executionId"] };
ids.prod_example = first.structuredContent.items[0].id;
const product = await structured("products", "get_product", { product_id: ids.prod_example });
ids.var_example = product.structuredContent.variants[0].id;
const customers = await structured("customers", "list_customers", { limit: 1 });
ids.cus_example = customers.structuredContent.items[0].id;
const orders = await structured("orders", "list_orders", { limit: 1, status: "paid" });
ids.ord_example = orders.structuredContent.items[0].id;
const locations = (await structured("locations", "list_locations", {})).structuredContent;
const locs = locations.items ?? locations.locations;
ids.loc_example = locs[0].id;
ids.loc_example2 = locs[1].id;
const fill = (v) =>
  typeof v === "string"
    ? (ids[v] ?? v)
    : Array.isArray(v)
      ? v.map(fill)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x)]))
        : v;

for (const a of actions) {
  const key = `${a.tool}.${a.action}`;
  const r = await call(a.tool, a.action, fill(a.example));
  summary.calls[key] = r.isError
    ? { effect: a.effect, ok: false, error: r.content?.[0]?.text ?? "" }
    : { effect: a.effect, ok: true, structured: r.structuredContent !== undefined };
}

// One audit row, whose input and output are free-form JSON.
const exec = await structured("audit_trail", "get_execution", {
  execution_id: ids.exec_example,
});
summary.execution = {
  tool: exec.structuredContent.tool,
  input: exec.structuredContent.input,
};

// A bad input comes back as an error result the agent can act on.
const bad = await call("orders", "create_order", { items: [{ variant_id: ids.var_example, quantity: -1 }] });
summary.bad_input = { is_error: bad.isError === true, text: bad.content?.[0]?.text ?? "" };

summary.warnings = warnings;
await client.close();
console.log(JSON.stringify(summary));
