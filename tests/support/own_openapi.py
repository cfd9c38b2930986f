"""Checks a real answer of the gateway against the gateway's own /openapi.json: the status is documented for the
operation, the JSON body validates against the documented schema (jsonschema, draft 2020-12, as OpenAPI 3.1 uses),
every required header is there, and every gateway header the answer carries is documented and well-formed."""
import re

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

# the headers the gateway itself sets: each one present must be documented for that answer
OURS = re.compile(r"^(x-request-id|x-gateway-.*|x-ratelimit-.*|retry-after|x-should-retry)$", re.I)


class Description:
    def __init__(self, doc: dict):
        self.doc = doc
        self.registry = Registry().with_resource("urn:switchyard", Resource.from_contents(
            doc, default_specification=DRAFT202012))

    @classmethod
    def fetch(cls, base_url: str) -> "Description":
        resp = requests.get(f"{base_url}/openapi.json", timeout=10)
        assert resp.status_code == 200, resp.text
        return cls(resp.json())

    def _resolve(self, node: dict) -> dict:
        while "$ref" in node:
            target = self.doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node = target
        return node

    def validator(self, schema: dict) -> Draft202012Validator:
        if "$ref" in schema:
            schema = {"$ref": "urn:switchyard" + schema["$ref"]}
        return Draft202012Validator(schema, registry=self.registry)

    def check(self, method: str, template: str, resp: requests.Response) -> dict:
        """Raise AssertionError naming every way `resp` breaks the description; returns the documented answer."""
        operation = self.doc["paths"][template][method.lower()]
        documented = operation["responses"].get(str(resp.status_code))
        assert documented is not None, (f"{method} {template}: status {resp.status_code} is not documented "
                                        f"(documented: {sorted(operation['responses'])}); body {resp.text[:300]}")
        documented = self._resolve(documented)
        problems = []
        headers = {name.lower(): self._resolve(h) for name, h in documented.get("headers", {}).items()}
        for name, header in headers.items():
            value = resp.headers.get(name)
            if value is None:
                if header.get("required"):
                    problems.append(f"required header {name} is missing")
                continue
            for e in self.validator(header["schema"]).iter_errors(value):
                problems.append(f"header {name}: {e.message}")
        for name in resp.headers:
            if OURS.match(name) and name.lower() not in headers:
                problems.append(f"header {name} is sent but not documented for {resp.status_code}")
        content_type = resp.headers.get("content-type", "").split(";")[0].strip()
        content = documented.get("content", {})
        assert content_type in content, f"{method} {template} {resp.status_code}: content type {content_type!r} " \
                                        f"is not documented ({sorted(content)})"
        if content_type == "application/json":
            for e in sorted(self.validator(content[content_type]["schema"]).iter_errors(resp.json()),
                            key=lambda e: list(e.absolute_path))[:10]:
                problems.append(f"body {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}")
        assert not problems, f"{method} {template} {resp.status_code}:\n- " + "\n- ".join(problems)
        return documented
