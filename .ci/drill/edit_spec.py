#!/usr/bin/env python3
"""Edits a copy of schema/openapi.json for .ci/drill.sh.

  edit_spec.py additive SPEC   an optional property on VoiceCallRecord (drillNote), a value added
                               to VoiceCallDirection (internal), and a new read operation
                               GET /api/voice/calls/{sourceId} (getVoiceCall -> VoiceCallRecord)
  edit_spec.py breaking SPEC   removes VoiceCallRecord.codec and the VoiceCallDirection value
                               "inbound"
  edit_spec.py bump CARGO_TOML raises the [package] version to the next minor (x.y.z -> x.(y+1).0)
  edit_spec.py isolate CARGO_TOML  gives the [package] version a `-drill` pre-release suffix

Why `isolate`: cargo hashes a workspace member's build artefacts by package id, whose path part is
relative to the workspace root, so a copy of the repo sharing the build directory would build into
the very slots of the original checkout, and (files compared by mtime) the original could then take
the drill's artefacts for fresh. A different version gives the copy's own crates their own slots,
while the registry dependencies stay shared and warm. It changes no Rust source and no wire.

Each edit fails loudly if the spec no longer has what it edits, so the drill never passes on a
no-op.
"""
import json
import re
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, spec):
    with open(path, "w") as f:
        json.dump(spec, f, indent=2, ensure_ascii=False)
        f.write("\n")


def additive(spec):
    schemas = spec["components"]["schemas"]
    record = schemas["VoiceCallRecord"]
    assert "drillNote" not in record["properties"], "drillNote already in the spec"
    record["properties"]["drillNote"] = {
        "type": "string",
        "description": "A note added by the contract drill (optional, so additive).",
    }
    direction = schemas["VoiceCallDirection"]["enum"]
    assert "internal" not in direction, "internal already a VoiceCallDirection"
    direction.append("internal")
    path = "/api/voice/calls/{sourceId}"
    assert path not in spec["paths"], f"{path} already in the spec"
    responses = spec["components"]["responses"]
    for shared in ("BadRequest", "Unauthorized", "NotFound"):
        assert shared in responses, f"components.responses.{shared} is gone"
    spec["paths"][path] = {
        "get": {
            "operationId": "getVoiceCall",
            "tags": ["voice"],
            "summary": "One call by its source id",
            "description": "Added by the contract drill: a read operation, so idempotent.",
            "security": [{"bearer": []}],
            "parameters": [
                {
                    "name": "sourceId",
                    "in": "path",
                    "required": True,
                    "description": "The call's source id.",
                    "schema": {"type": "string"},
                }
            ],
            "responses": {
                "200": {
                    "description": "The call.",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/VoiceCallRecord"}
                        }
                    },
                },
                "400": {"$ref": "#/components/responses/BadRequest"},
                "401": {"$ref": "#/components/responses/Unauthorized"},
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def breaking(spec):
    schemas = spec["components"]["schemas"]
    properties = schemas["VoiceCallRecord"]["properties"]
    assert "codec" in properties, "VoiceCallRecord.codec is gone"
    del properties["codec"]
    direction = schemas["VoiceCallDirection"]["enum"]
    assert "inbound" in direction, "VoiceCallDirection has no inbound"
    direction.remove("inbound")


def bump(path):
    with open(path) as f:
        text = f.read()
    package = re.search(r"(?ms)^\[package\]\n(.*?)(?=^\[|\Z)", text)
    assert package, "no [package] table"
    version = re.search(r'(?m)^version\s*=\s*"(\d+)\.(\d+)\.(\d+)"', package.group(1))
    assert version, "no [package] version"
    major, minor = int(version.group(1)), int(version.group(2))
    new = f"{major}.{minor + 1}.0" if major == 0 else f"{major + 1}.0.0"
    start = package.start(1) + version.start(0)
    end = package.start(1) + version.end(0)
    with open(path, "w") as f:
        f.write(text[:start] + f'version = "{new}"' + text[end:])
    print(new)


def isolate(path):
    with open(path) as f:
        text = f.read()
    package = re.search(r"(?ms)^\[package\]\n(.*?)(?=^\[|\Z)", text)
    assert package, "no [package] table"
    version = re.search(r'(?m)^version\s*=\s*"(\d+\.\d+\.\d+)"', package.group(1))
    assert version, "no plain [package] version"
    start = package.start(1) + version.start(0)
    end = package.start(1) + version.end(0)
    with open(path, "w") as f:
        f.write(text[:start] + f'version = "{version.group(1)}-drill"' + text[end:])


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("additive", "breaking", "bump", "isolate"):
        sys.exit(__doc__)
    kind, path = sys.argv[1], sys.argv[2]
    if kind in ("bump", "isolate"):
        {"bump": bump, "isolate": isolate}[kind](path)
        return
    spec = load(path)
    {"additive": additive, "breaking": breaking}[kind](spec)
    save(path, spec)


if __name__ == "__main__":
    main()
