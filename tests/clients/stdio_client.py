"""An independent MCP client for `whale mcp`, built on the official Python SDK.

Usage: stdio_client.py WHALE_BINARY DB_PATH [--tool-mode grouped|flat]
                       [--lifecycle handshake|discover] [--bridge URL]

Launches `WHALE_BINARY --db DB_PATH mcp --tool-mode MODE` over stdio (with
`--bridge URL`: `WHALE_BINARY mcp --server URL`, the stdio bridge to a
remote whale server, authenticated by the API key in $WHALE_TEST_KEY (or,
without it, by the login `whale login` stored); the
tool mode is then the server's), opens
the session (the `initialize` handshake, or the stateless `server/discover`),
lists every tool (following pagination), calls `store` (grouped spelling,
action get_settings) and `products_list_products` (flat spelling) — the SDK
validates each structuredContent against the tool's outputSchema — and calls
create_order with a bad input, which must come back as isError.

Prints one JSON summary on stdout; exits 1 with a message on stderr when a
check fails. Used by tests/python_client.rs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


from mcp_checks import CheckFailed, check, field, list_all_tools, text_of


async def run(binary: str, db: str, mode: str, lifecycle: str, bridge: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("WHALETOOLS_API_KEY", "WHALE_STORE", "RUST_LOG")}
    if bridge:
        # An API key when the test gives one; otherwise the bridge uses the
        # login stored by `whale login`.
        if os.environ.get("WHALE_TEST_KEY"):
            env["WHALETOOLS_API_KEY"] = os.environ["WHALE_TEST_KEY"]
        args = ["mcp", "--server", bridge]
    else:
        args = ["--db", db, "mcp", "--tool-mode", mode, "--page-size", "3"]
    params = StdioServerParameters(command=binary, args=args, env=env)
    summary: dict = {"mode": mode, "lifecycle": lifecycle}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            if lifecycle == "discover":
                if not hasattr(session, "discover"):
                    raise CheckFailed("this MCP SDK has no server/discover support; install mcp>=2.3")
                found = await session.discover()
                session.adopt(found)
                summary["supported_versions"] = list(found.supported_versions)
                summary["protocol_version"] = session.protocol_version
            else:
                init = await session.initialize()
                info = field(init, "server_info", "serverInfo")
                check(info.name == "whale", f"serverInfo.name is {info.name!r}")
                summary["server_name"] = info.name
                summary["protocol_version"] = field(init, "protocol_version", "protocolVersion")

            tools = await list_all_tools(session)
            names = [t.name for t in tools]
            summary["tools"] = names
            check(len(set(names)) == len(names), f"duplicate tools across pages: {names}")
            for t in tools:
                check(field(t, "output_schema", "outputSchema") is not None, f"{t.name} has no outputSchema")
            if mode == "grouped":
                check("store" in names and "orders" in names, f"grouped names: {names}")
                store = next(t for t in tools if t.name == "store")
                enum = field(store, "input_schema", "inputSchema")["properties"]["action"]["enum"]
                check("get_settings" in enum, f"store actions: {enum}")
            else:
                check("orders_create_order" in names, f"flat names: {names}")
                check("store_get_settings" in names, f"flat names: {names}")

            # Grouped spelling (accepted in both modes). In flat mode the SDK
            # cannot validate `store` (not listed), so it is checked by hand.
            settings = await session.call_tool("store", {"action": "get_settings"})
            check(not field(settings, "is_error", "isError"), f"store get_settings failed: {text_of(settings)}")
            sc = field(settings, "structured_content", "structuredContent")
            check(isinstance(sc, dict) and sc.get("store_id") == "demo", f"store settings: {sc}")
            check(json.loads(text_of(settings)) == sc, "text content differs from structuredContent")
            summary["store_id"] = sc["store_id"]
            summary["execution_id"] = (settings.meta or {}).get("whale/executionId")

            # Flat spelling (accepted in both modes; validated in flat mode).
            products = await session.call_tool("products_list_products", {"limit": 2})
            check(not field(products, "is_error", "isError"), f"products_list_products failed: {text_of(products)}")
            listed = field(products, "structured_content", "structuredContent") or {}
            items = listed.get("items")
            check(isinstance(items, list) and len(items) == 2, f"products: {listed}")
            summary["products_total"] = listed.get("total")

            # Each call of a listed tool is validated against its outputSchema
            # by the SDK; call every read-only tool's cheapest action too.
            if mode == "flat":
                for name in ("orders_list_orders", "customers_list_customers", "locations_list_locations",
                             "store_get_overview", "audit_trail_execution_stats"):
                    if name in names:
                        r = await session.call_tool(name, {})
                        check(not field(r, "is_error", "isError"), f"{name} failed: {text_of(r)}")
                        summary.setdefault("validated", []).append(name)
            else:
                for tool, action in (("orders", "list_orders"), ("customers", "list_customers"),
                                     ("locations", "list_locations"), ("store", "get_overview")):
                    r = await session.call_tool(tool, {"action": action})
                    check(not field(r, "is_error", "isError"), f"{tool}.{action} failed: {text_of(r)}")
                    summary.setdefault("validated", []).append(f"{tool}.{action}")

            bad_name = "orders" if mode == "grouped" else "orders_create_order"
            bad_args = {"items": [{"sku": "WDO-NOPE", "quantity": 0}]}
            if mode == "grouped":
                bad_args["action"] = "create_order"
            bad = await session.call_tool(bad_name, bad_args)
            check(field(bad, "is_error", "isError") is True, f"bad create_order did not fail: {bad}")
            check("items[0].quantity" in text_of(bad), f"error does not name the field: {text_of(bad)}")
            summary["bad_input_error"] = text_of(bad)
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("db")
    parser.add_argument("--tool-mode", default="grouped", choices=["grouped", "flat"])
    parser.add_argument("--lifecycle", default="handshake", choices=["handshake", "discover"])
    parser.add_argument("--bridge", metavar="URL", help="drive `mcp --server URL` instead of the local database")
    args = parser.parse_args()
    try:
        summary = asyncio.run(run(args.binary, args.db, args.tool_mode, args.lifecycle, args.bridge))
    except CheckFailed as e:
        print(f"check failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
