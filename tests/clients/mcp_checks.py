"""Helpers shared by the independent MCP clients the Rust tests drive
(stdio_client.py, http_client.py): failed checks, SDK 1.x/2.x field names,
and tools/list with pagination."""

from __future__ import annotations

from mcp import ClientSession


class CheckFailed(Exception):
    pass


def check(cond: bool, message: str) -> None:
    if not cond:
        raise CheckFailed(message)


def field(obj, snake: str, camel: str):
    """A model field under its SDK 2.x (snake_case) or 1.x (camelCase) name."""
    if hasattr(obj, snake):
        return getattr(obj, snake)
    return getattr(obj, camel, None)


def text_of(result) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def meta_of(result) -> dict:
    return dict(getattr(result, "meta", None) or {})


async def list_all_tools(session: ClientSession) -> list:
    tools = []
    cursor = None
    for _ in range(1000):
        if cursor is None:
            page = await session.list_tools()
        else:
            try:
                from mcp.types import PaginatedRequestParams

                page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor))
            except (ImportError, TypeError):
                page = await session.list_tools(cursor=cursor)  # SDK 1.x
        tools.extend(page.tools)
        cursor = field(page, "next_cursor", "nextCursor")
        if not cursor:
            return tools
    raise CheckFailed("tools/list never ends")
