"""An independent MCP client for `whale mcp --transport sse`, built on the
official Python SDK.

Usage: http_client.py BASE_URL streamable|sse

BASE_URL is the server's root (e.g. http://127.0.0.1:3100). The API key is
read from $WHALE_TEST_KEY and sent as `Authorization: Bearer <key>`, never in
a URL.

- `streamable`: the Streamable HTTP transport at BASE_URL/mcp.
- `sse`: the legacy HTTP+SSE transport at BASE_URL/sse (+ /messages).

Over either transport it opens a session (the `initialize` handshake),
lists every tool (following pagination), calls `store` with action
get_settings (grouped spelling) and `products_list_products` (flat
spelling), checking each structuredContent (the SDK validates listed tools
against their outputSchema) and that the text content says the same.

Prints one JSON summary on stdout; exits 1 with a message on stderr when a
check fails. Used by tests/http.rs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys

from mcp import ClientSession


from mcp_checks import CheckFailed, check, field, list_all_tools, meta_of, text_of


@contextlib.asynccontextmanager
async def open_streams(base: str, transport: str, headers: dict):
    """(read, write) streams for `transport`, whatever the SDK version calls
    its client functions."""
    if transport == "sse":
        from mcp.client.sse import sse_client

        async with sse_client(f"{base}/sse", headers=headers, timeout=30, sse_read_timeout=60) as streams:
            yield streams[0], streams[1]
        return
    try:  # SDK 2.x: headers travel on a caller-made httpx client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client
    except ImportError:  # SDK 1.x
        from mcp.client.streamable_http import streamablehttp_client

        async with streamablehttp_client(f"{base}/mcp", headers=headers) as streams:
            yield streams[0], streams[1]
        return
    async with create_mcp_http_client(headers=headers) as http:
        async with streamable_http_client(f"{base}/mcp", http_client=http) as streams:
            yield streams[0], streams[1]


async def run(base: str, transport: str, key: str) -> dict:
    headers = {"Authorization": f"Bearer {key}"}
    summary: dict = {"transport": transport}
    async with open_streams(base, transport, headers) as (read, write):
        async with ClientSession(read, write) as session:
            init = await asyncio.wait_for(session.initialize(), 60)
            info = field(init, "server_info", "serverInfo")
            check(info.name == "whale", f"serverInfo.name is {info.name!r}")
            summary["server_name"] = info.name
            summary["protocol_version"] = field(init, "protocol_version", "protocolVersion")

            tools = await asyncio.wait_for(list_all_tools(session), 60)
            names = [t.name for t in tools]
            summary["tools"] = names
            check(len(set(names)) == len(names), f"duplicate tools: {names}")
            for t in tools:
                check(field(t, "output_schema", "outputSchema") is not None, f"{t.name} has no outputSchema")
            store = next((t for t in tools if t.name == "store"), None)
            check(store is not None, f"no `store` tool: {names}")
            enum = field(store, "input_schema", "inputSchema")["properties"]["action"]["enum"]
            check("get_settings" in enum, f"store actions: {enum}")

            # Grouped spelling; the SDK validates it against `store`'s outputSchema.
            settings = await asyncio.wait_for(session.call_tool("store", {"action": "get_settings"}), 60)
            check(not field(settings, "is_error", "isError"), f"store get_settings failed: {text_of(settings)}")
            sc = field(settings, "structured_content", "structuredContent")
            check(isinstance(sc, dict) and sc.get("store_id") == "demo", f"store settings: {sc}")
            check(json.loads(text_of(settings)) == sc, "text content differs from structuredContent")
            summary["store_id"] = sc["store_id"]
            summary["currency"] = sc.get("currency")

            # Flat spelling (accepted in grouped mode too).
            products = await asyncio.wait_for(session.call_tool("products_list_products", {"limit": 2}), 60)
            check(not field(products, "is_error", "isError"), f"products_list_products failed: {text_of(products)}")
            listed = field(products, "structured_content", "structuredContent") or {}
            items = listed.get("items")
            check(isinstance(items, list) and len(items) == 2, f"products: {listed}")
            check(json.loads(text_of(products)) == listed, "text content differs from structuredContent")
            summary["products_total"] = listed.get("total")
            summary["product_ids"] = [i.get("id") for i in items]

            summary["execution_ids"] = [
                meta_of(settings).get("whale/executionId"),
                meta_of(products).get("whale/executionId"),
            ]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("base_url")
    parser.add_argument("transport", choices=["streamable", "sse"])
    args = parser.parse_args()
    key = os.environ.get("WHALE_TEST_KEY")
    if not key:
        print("set WHALE_TEST_KEY to the API key to use", file=sys.stderr)
        return 2
    try:
        summary = asyncio.run(run(args.base_url.rstrip("/"), args.transport, key))
    except CheckFailed as e:
        print(f"check failed: {e}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
