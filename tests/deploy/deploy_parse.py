"""Small readers of the deploy files for the tests: nginx configuration, Dockerfile, systemd unit, env files,
.dockerignore; and the defaults the files must agree with, read from the code that owns them."""
import os
import re
from dataclasses import dataclass, field

from gateway.config import Settings
from tests.deploy.gateway_proc import ROOT

DEPLOY = os.path.join(ROOT, "deploy")


def read(*parts: str) -> str:
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


# --- defaults owned elsewhere ----------------------------------------------------------------------------------

def _env_default(source: str, name: str) -> float:
    """The default of `os.environ.get("NAME", "default")` in a source file."""
    m = re.search(rf"""os\.environ\.get\(\s*["']{name}["']\s*,\s*["']([0-9.]+)["']\s*\)""", source)
    assert m, f"no default for {name} found"
    return float(m.group(1))


def graceful_timeout_default() -> float:
    return _env_default(read("deploy", "gunicorn.conf.py"), "SWITCHYARD_GRACEFUL_TIMEOUT")


def worker_connections_default() -> int:
    return int(_env_default(read("deploy", "gunicorn.conf.py"), "SWITCHYARD_WORKER_CONNECTIONS"))


def keepalive_default() -> float:
    return _env_default(read("gateway", "server.py"), "SWITCHYARD_KEEPALIVE_S")


def settings_defaults() -> Settings:
    return Settings()


def env_names_read_by_gunicorn_conf() -> set[str]:
    return set(re.findall(r"""os\.environ(?:\.get\(|\[)\s*["']([A-Z0-9_]+)["']""", read("deploy", "gunicorn.conf.py")))


# --- nginx -------------------------------------------------------------------------------------------------------

@dataclass
class Directive:
    name: str
    args: list[str]
    block: list["Directive"] | None = None

    def all(self, name: str) -> list["Directive"]:
        return [d for d in self.block or [] if d.name == name]

    def one(self, name: str) -> "Directive | None":
        found = self.all(name)
        assert len(found) <= 1, f"{name} appears {len(found)} times in {self.name} {' '.join(self.args)}"
        return found[0] if found else None


_TOKEN = re.compile(r"""\s+|\#[^\n]*|"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|([{};])|([^\s{};"'#][^\s{};]*)""")


def nginx_tokens(text: str) -> list[tuple[str, bool]]:
    """(token, is_punctuation) pairs; quotes removed, comments and blanks dropped."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        assert m, f"nginx text not understood at {text[pos:pos + 40]!r}"
        pos = m.end()
        dq, sq, punct, word = m.groups()
        if punct:
            out.append((punct, True))
        elif dq is not None or sq is not None:
            out.append((dq if dq is not None else sq, False))
        elif word is not None:
            out.append((word, False))
    return out


def nginx_parse(text: str) -> Directive:
    """The file as a tree of directives under a root block named 'main'."""
    tokens = nginx_tokens(text)
    root = Directive("main", [], [])
    stack, words = [root], []
    for tok, punct in tokens:
        if not punct:
            words.append(tok)
        elif tok == ";":
            assert words, "empty directive"
            stack[-1].block.append(Directive(words[0], words[1:]))
            words = []
        elif tok == "{":
            d = Directive(words[0], words[1:], [])
            stack[-1].block.append(d)
            stack.append(d)
            words = []
        else:
            assert not words and len(stack) > 1, "unbalanced braces"
            stack.pop()
    assert len(stack) == 1 and not words, "unterminated block"
    return root


def effective(name: str, *levels: Directive) -> list[list[str]]:
    """nginx's inheritance: the innermost level that sets `name` decides (for array directives like
    proxy_set_header too: a level that sets one replaces all inherited ones). Levels from outer to inner."""
    for level in reversed(levels):
        found = level.all(name)
        if found:
            return [d.args for d in found]
    return []


def nginx_size(value: str) -> int:
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", value)
    assert m, value
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[m.group(2).lower()]


def nginx_seconds(value: str) -> float:
    total, pos = 0.0, 0
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "": 1}
    for m in re.finditer(r"(\d+)(ms|s|m|h|d|)", value):
        assert m.start() == pos, value
        total += int(m.group(1)) * units[m.group(2)]
        pos = m.end()
    assert pos == len(value) and value, value
    return total


# --- Dockerfile ----------------------------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue                                  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        word, _, rest = current.partition(" ")
        out.append((word.upper(), rest.strip()))
        current = ""
    assert not current, "a continued instruction runs off the end"
    return out


# --- systemd unit, env files ---------------------------------------------------------------------------------------

def unit_parse(text: str) -> dict[str, dict[str, list[str]]]:
    """{section: {key: [values, in order]}}: systemd keys may repeat (and an empty value resets a list)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None and "=" in line, f"not a unit line: {raw!r}"
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def env_file_names(text: str) -> tuple[dict[str, str], set[str]]:
    """({NAME: value} of the lines that set a variable, {NAME} of the lines that show one commented out)."""
    active, commented = {}, set()
    for line in text.splitlines():
        m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if m:
            active[m.group(1)] = m.group(2)
            continue
        m = re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line.strip())
        if m:
            commented.add(m.group(1))
    return active, commented


# --- .dockerignore ---------------------------------------------------------------------------------------------------

@dataclass
class DockerIgnore:
    """Docker's rules: patterns relative to the context root, `*` within one path segment, `**` across any,
    a path is left out when it or a parent matches, and the last matching pattern wins (`!` includes again)."""
    rules: list[tuple[re.Pattern, bool]] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> "DockerIgnore":
        rules = []
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = line[1:] if include else line
            rules.append((re.compile(cls._regex(pattern.strip("/"))), include))
        return cls(rules)

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                out += ".*"
                i += 2
            elif pattern[i] == "*":
                out += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                out += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                out += pattern[i:end + 1]
                i = end + 1
            else:
                out += re.escape(pattern[i])
                i += 1
        return out + r"\Z"

    def excluded(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        for n in range(1, len(parts) + 1):
            prefix = "/".join(parts[:n])
            verdict = None
            for regex, include in self.rules:
                if regex.match(prefix):
                    verdict = not include
            if verdict:
                return True
        return False
