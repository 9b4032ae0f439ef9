"""A real MCP client for `skillc mcp`: the official Python SDK (PyPI `mcp`).

Usage: python3 client.py SKILLC_BINARY < plan.json

The plan is a JSON list of tool calls, `{"tool": name, "arguments": {...}}`.
The script starts `SKILLC_BINARY mcp` over stdio (in the current directory),
initializes a session, lists the tools, makes the calls in order on the one
session, and prints one JSON object on stdout:

    {"server": {"name", "version"}, "instructions": str,
     "tools": [{"name", "description", "inputSchema", "annotations"}],
     "calls": [{"is_error", "structured", "text"} or {"protocol_error"}]}

Exit status 3 when the `mcp` package is not installed (the Rust test skips,
or fails with SKILLC_REQUIRE_MCP=1).
"""

import json
import sys

try:
    import anyio
    from mcp import ClientSession, MCPError, StdioServerParameters
    from mcp.client.stdio import stdio_client
except ImportError as e:  # the SDK is not installed
    print(f"the mcp package is not installed: {e}", file=sys.stderr)
    sys.exit(3)


async def main(binary, plan):
    params = StdioServerParameters(command=binary, args=["mcp"])
    out = {"calls": []}
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            init = await session.initialize()
            out["server"] = {"name": init.server_info.name, "version": init.server_info.version}
            out["instructions"] = init.instructions
            listed = await session.list_tools()
            out["tools"] = [
                {
                    "name": t.name,
                    "description": t.description,
                    "inputSchema": t.input_schema,
                    "annotations": t.annotations.model_dump(by_alias=True, exclude_none=True) if t.annotations else None,
                }
                for t in listed.tools
            ]
            for call in plan:
                try:
                    r = await session.call_tool(call["tool"], call.get("arguments"))
                except MCPError as e:
                    out["calls"].append({"protocol_error": e.error.message})
                    continue
                out["calls"].append(
                    {
                        "is_error": bool(r.is_error),
                        "structured": r.structured_content,
                        "text": [c.text for c in r.content if c.type == "text"],
                    }
                )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], json.load(sys.stdin))
