"""Structure checks for the deployment files: docker-compose.yml, Dockerfile and .dockerignore.

No Docker engine runs where the tests run, so these read the files and model the few parts of Compose
and the Docker builder that the deployment relies on: which services a profile selection starts, how
``${VAR:-default}`` resolves, which Dockerfile stage an instruction belongs to, and what the build
context leaves out.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_PATH = ROOT / "docker-compose.yml"
DOCKERFILE_PATH = ROOT / "Dockerfile"
DOCKERIGNORE_PATH = ROOT / ".dockerignore"
PYPROJECT_PATH = ROOT / "pyproject.toml"

# With neither --profile nor COMPOSE_PROFILES, Compose splits the unset COMPOSE_PROFILES on "," and so
# activates exactly one profile, the empty name; `--profile X` replaces that list with [X].
PLAIN_UP: tuple[str, ...] = ("",)
EMBEDDED: tuple[str, ...] = ("embedded",)
FULL: tuple[str, ...] = ("full",)

SERVER_SERVICES = {"postgres", "redis", "chroma"}
SECRET_VARS = ("DISCORD_TOKEN", "OPENAI_API_KEY")


# --- compose model ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def started(compose: Mapping[str, Any], active: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Return the services Compose enables for these active profiles (no profiles: always enabled)."""
    active = set(active)
    return {
        name: svc
        for name, svc in compose["services"].items()
        if not svc.get("profiles") or active & set(svc["profiles"]) or "*" in active
    }


def is_kindred(svc: Mapping[str, Any]) -> bool:
    """A Kindred service is one built from this repository's Dockerfile."""
    return "build" in svc


WORKER_COMMAND = ["python", "-m", "bot", "worker"]


def is_bot(svc: Mapping[str, Any]) -> bool:
    """A bot is a Kindred service running the image's command (`bot run`), not a worker."""
    return is_kindred(svc) and svc.get("command") != WORKER_COMMAND


def kindred_in(services: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if is_kindred(svc)}


def bots_in(services: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: svc for name, svc in services.items() if is_bot(svc)}


def environment(svc: Mapping[str, Any]) -> dict[str, str | None]:
    """Return a service's environment as a mapping; None means "passed through by name"."""
    env = svc.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, str | None] = {}
        for item in env:
            key, sep, value = str(item).partition("=")
            out[key] = value if sep else None
        return out
    return {key: (None if value is None else str(value)) for key, value in env.items()}


_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Resolve ``${NAME}``, ``${NAME:-default}`` and ``${NAME-default}`` as Compose does."""

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group("name", "op", "default")
        current = env.get(name)
        if op == ":-" and not current:
            return default
        if op == "-" and current is None:
            return default
        return current or ""

    return _INTERPOLATION.sub(one, value.replace("$$", "\0")).replace("\0", "$")


def resolved_env(svc: Mapping[str, Any], env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    shell = env or {}
    return {k: (None if v is None else interpolate(v, shell)) for k, v in environment(svc).items()}


def volume_mounts(svc: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (source, target) for each of a service's volumes, short or long syntax."""
    mounts = []
    for item in svc.get("volumes") or []:
        if isinstance(item, dict):
            mounts.append((str(item.get("source", "")), str(item["target"])))
        else:
            parts = str(item).split(":")
            mounts.append((parts[0], parts[1]) if len(parts) > 1 else ("", parts[0]))
    return mounts


def is_named_volume(source: str) -> bool:
    return bool(source) and not source.startswith(("/", ".", "~", "$"))


def healthcheck_command(svc: Mapping[str, Any]) -> str:
    test = (svc.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


# --- Dockerfile model ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """Return (INSTRUCTION, arguments) pairs with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    return instructions


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """Split the instructions at each FROM; each stage starts with its FROM."""
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in dockerfile_instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, args))
    return stages


def args_of(stage: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in stage if kw == keyword]


def stage_env(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in args_of(stage, "ENV"):
        tokens = shlex.split(args)
        if tokens and "=" not in tokens[0]:  # legacy form: ENV NAME value
            env[tokens[0]] = " ".join(tokens[1:])
            continue
        for token in tokens:
            key, _, value = token.partition("=")
            env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"expected the JSON (exec) form, got {args!r}"
    return value


def base_images() -> list[str]:
    """Return each stage's base image with build ARG defaults substituted."""
    defaults: dict[str, str] = {}
    images = []
    for keyword, args in dockerfile_instructions():
        if keyword == "ARG" and "=" in args:
            name, _, value = args.partition("=")
            defaults.setdefault(name.strip(), value.strip())
        if keyword == "FROM":
            image = args.split()[0]
            images.append(re.sub(r"\$\{?(\w+)\}?", lambda m: defaults.get(m.group(1), m.group(0)), image))
    return images


# --- .dockerignore model -----------------------------------------------------------------------------


def dockerignore_rules() -> list[tuple[bool, str]]:
    """Return (negated, pattern) rules in file order."""
    rules = []
    for raw in DOCKERIGNORE_PATH.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        rules.append((negated, line.lstrip("!").strip().strip("/")))
    return rules


def context_excludes(path: str) -> bool:
    """Approximate the builder: a path is left out when it, or a parent directory, matches last."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for negated, pattern in dockerignore_rules():
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            excluded = not negated
    return excluded


# --- compose: services and profiles -------------------------------------------------------------------


def test_compose_assigns_every_service_to_its_profile(compose: dict[str, Any]) -> None:
    profiles = {name: svc.get("profiles") for name, svc in compose["services"].items()}
    assert profiles == {
        "kindred": ["", "embedded"],
        "kindred-full": ["full"],
        "kindred-worker": ["full"],
        "postgres": ["full"],
        "redis": ["full"],
        "chroma": ["full"],
    }


def test_no_service_is_always_on(compose: dict[str, Any]) -> None:
    # An unprofiled service would start under every profile, e.g. a second bot beside kindred-full.
    unprofiled = [name for name, svc in compose["services"].items() if not svc.get("profiles")]
    assert unprofiled == []


def test_plain_up_starts_only_the_embedded_kindred(compose: dict[str, Any]) -> None:
    assert set(started(compose, PLAIN_UP)) == {"kindred"}


def test_embedded_profile_is_the_same_selection_as_plain_up(compose: dict[str, Any]) -> None:
    assert set(started(compose, EMBEDDED)) == set(started(compose, PLAIN_UP))


def test_full_profile_starts_the_servers_one_bot_and_a_worker(compose: dict[str, Any]) -> None:
    services = started(compose, FULL)
    assert set(services) == SERVER_SERVICES | {"kindred-full", "kindred-worker"}
    assert set(bots_in(services)) == {"kindred-full"}


@pytest.mark.parametrize("active", [PLAIN_UP, EMBEDDED, FULL], ids=["plain", "embedded", "full"])
def test_every_selection_runs_exactly_one_bot(compose: dict[str, Any], active: tuple[str, ...]) -> None:
    assert len(bots_in(started(compose, active))) == 1


@pytest.mark.parametrize("active", [PLAIN_UP, EMBEDDED, FULL], ids=["plain", "embedded", "full"])
def test_dependencies_are_enabled_in_the_same_selection(
    compose: dict[str, Any], active: tuple[str, ...]
) -> None:
    # Compose refuses a model where an enabled service depends on a disabled one.
    services = started(compose, active)
    for name, svc in services.items():
        missing = set(svc.get("depends_on") or {}) - set(services)
        assert not missing, f"{name} depends on {missing}, which {active} does not enable"


# --- compose: wiring ----------------------------------------------------------------------------------


def test_embedded_kindred_uses_the_embedded_storage_defaults(compose: dict[str, Any]) -> None:
    env = resolved_env(compose["services"]["kindred"])
    assert env["KINDRED__STORAGE__DATA_DIR"] == "/data"
    server_settings = ("SQL__URL", "CACHE__BACKEND", "VECTORS__BACKEND")
    overrides = {k for k in env if k.startswith("KINDRED__STORAGE__") and k.endswith(server_settings)}
    assert overrides == set(), "the embedded default must not point at any server"


def test_full_kindred_reaches_postgres_by_service_name_and_port(compose: dict[str, Any]) -> None:
    env = resolved_env(compose["services"]["kindred-full"])
    url = urlsplit(env["KINDRED__STORAGE__SQL__URL"] or "")
    assert url.scheme in {"postgresql", "postgres", "postgresql+asyncpg"}
    assert (url.hostname, url.port) == ("postgres", 5432)
    pg_env = resolved_env(compose["services"]["postgres"])
    assert url.username == pg_env["POSTGRES_USER"]
    assert url.path.lstrip("/") == pg_env["POSTGRES_DB"]
    assert "5432" in healthcheck_command(compose["services"]["postgres"])


@pytest.mark.parametrize("shell", [{}, {"KINDRED_DB_PASSWORD": "s3cret-from-env"}], ids=["default", "set"])
def test_full_kindred_and_postgres_share_one_password(compose: dict[str, Any], shell: dict[str, str]) -> None:
    dsn = resolved_env(compose["services"]["kindred-full"], shell)["KINDRED__STORAGE__SQL__URL"]
    url = urlsplit(dsn or "")
    password = resolved_env(compose["services"]["postgres"], shell)["POSTGRES_PASSWORD"]
    assert password
    assert url.password == password


def test_full_kindred_reaches_redis_by_service_name_and_port(compose: dict[str, Any]) -> None:
    env = resolved_env(compose["services"]["kindred-full"])
    assert env["KINDRED__STORAGE__CACHE__BACKEND"] == "redis"
    url = urlsplit(env["KINDRED__STORAGE__CACHE__REDIS_URL"] or "")
    assert (url.scheme, url.hostname, url.port) == ("redis", "redis", 6379)


def test_full_kindred_reaches_chroma_by_service_name_and_port(compose: dict[str, Any]) -> None:
    env = resolved_env(compose["services"]["kindred-full"])
    assert env["KINDRED__STORAGE__VECTORS__BACKEND"] == "http"
    assert env["KINDRED__STORAGE__VECTORS__HOST"] == "chroma"
    assert env["KINDRED__STORAGE__VECTORS__PORT"] == "8000"
    assert "/8000" in healthcheck_command(compose["services"]["chroma"])


def test_full_kindred_waits_for_each_server_to_be_healthy(compose: dict[str, Any]) -> None:
    depends_on = compose["services"]["kindred-full"].get("depends_on")
    assert isinstance(depends_on, dict), "use the long depends_on form to state a condition"
    assert set(depends_on) == SERVER_SERVICES
    assert {name: dep.get("condition") for name, dep in depends_on.items()} == dict.fromkeys(
        SERVER_SERVICES, "service_healthy"
    )


def test_every_dependency_waits_for_health(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        depends_on = svc.get("depends_on") or {}
        assert isinstance(depends_on, dict), f"{name}: short depends_on waits for nothing"
        for target, dep in depends_on.items():
            assert dep.get("condition") == "service_healthy", f"{name} -> {target}"


@pytest.mark.parametrize("name", sorted(SERVER_SERVICES))
def test_every_server_has_a_healthcheck(compose: dict[str, Any], name: str) -> None:
    check = compose["services"][name].get("healthcheck") or {}
    test = check.get("test")
    assert test and not check.get("disable"), f"{name} has no healthcheck"
    assert isinstance(test, list) and test[0] in {"CMD", "CMD-SHELL"} and len(test) > 1


def test_chroma_healthcheck_uses_only_what_the_image_ships(compose: dict[str, Any]) -> None:
    # chromadb/chroma 1.5 is a Rust binary on debian-slim: no curl, wget or Python inside.
    command = healthcheck_command(compose["services"]["chroma"])
    assert "/api/v2/heartbeat" in command
    for tool in ("curl", "wget", "python"):
        assert tool not in command


def test_kindred_services_keep_their_data_on_named_volumes(compose: dict[str, Any]) -> None:
    image_default = stage_env(dockerfile_stages()[-1]).get("KINDRED__STORAGE__DATA_DIR")
    for name, svc in kindred_in(compose["services"]).items():
        data_dir = environment(svc).get("KINDRED__STORAGE__DATA_DIR") or image_default
        sources = [source for source, target in volume_mounts(svc) if target == data_dir]
        assert sources, f"{name}: nothing is mounted at its data dir {data_dir}"
        assert all(is_named_volume(source) for source in sources), f"{name}: {sources}"


@pytest.mark.parametrize("name", sorted(SERVER_SERVICES))
def test_every_server_keeps_its_data_on_a_named_volume(compose: dict[str, Any], name: str) -> None:
    assert any(is_named_volume(source) for source, _ in volume_mounts(compose["services"][name]))


def test_every_named_volume_used_is_declared(compose: dict[str, Any]) -> None:
    used = {
        source
        for svc in compose["services"].values()
        for source, _ in volume_mounts(svc)
        if is_named_volume(source)
    }
    declared = set(compose.get("volumes") or {})
    assert used - declared == set()
    assert declared - used == set(), "declared volumes nobody mounts"


def test_no_secret_is_written_into_the_compose_file(compose: dict[str, Any]) -> None:
    pass_through = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}")
    for name, svc in compose["services"].items():
        env = environment(svc)
        for var in SECRET_VARS:
            value = env.get(var)
            assert value is None or pass_through.fullmatch(value), f"{name}: {var} holds a literal value"


def test_every_bot_receives_the_secrets(compose: dict[str, Any]) -> None:
    for name, svc in bots_in(compose["services"]).items():
        assert set(SECRET_VARS) <= set(environment(svc)), name


def test_the_worker_gets_the_model_key_but_not_the_discord_token(compose: dict[str, Any]) -> None:
    env = environment(compose["services"]["kindred-worker"])
    assert "OPENAI_API_KEY" in env and "OPENAI_BASE_URL" in env
    assert "DISCORD_TOKEN" not in env


# --- compose: the worker ------------------------------------------------------------------------------


def test_the_worker_runs_the_worker_command(compose: dict[str, Any]) -> None:
    assert compose["services"]["kindred-worker"]["command"] == WORKER_COMMAND


def test_the_worker_shares_the_bots_servers(compose: dict[str, Any]) -> None:
    bot, worker = (
        resolved_env(compose["services"]["kindred-full"]),
        resolved_env(compose["services"]["kindred-worker"]),
    )
    shared = {k: v for k, v in bot.items() if k.startswith("KINDRED__STORAGE__") and "QUEUE" not in k}
    assert shared and all(worker.get(k) == v for k, v in shared.items())
    assert worker["KINDRED__BOT__PROFILE"] == bot["KINDRED__BOT__PROFILE"]


def test_the_bot_leaves_reflection_to_the_worker(compose: dict[str, Any]) -> None:
    from storage.config import QueueSettings

    assert QueueSettings().in_process is True  # so the override below is what turns it off
    assert resolved_env(compose["services"]["kindred-full"])["KINDRED__STORAGE__QUEUE__IN_PROCESS"] == "false"


def test_the_worker_starts_after_the_bot_migrated_and_does_not_migrate(compose: dict[str, Any]) -> None:
    worker = compose["services"]["kindred-worker"]
    assert worker["depends_on"]["kindred-full"]["condition"] == "service_healthy"
    assert set(worker["depends_on"]) == SERVER_SERVICES | {"kindred-full"}
    assert resolved_env(worker)["KINDRED__STORAGE__SQL__AUTO_MIGRATE"] == "false"


def test_the_worker_does_not_inherit_the_bots_http_healthcheck(compose: dict[str, Any]) -> None:
    # The image's HEALTHCHECK asks /healthz, which only the bot serves: a worker would never turn healthy.
    assert compose["services"]["kindred-worker"]["healthcheck"] == {"disable": True}


def test_the_worker_has_time_to_hand_back_its_job(compose: dict[str, Any]) -> None:
    from storage.config import QueueSettings

    grace = _seconds(str(compose["services"]["kindred-worker"]["stop_grace_period"]))
    assert grace > QueueSettings().stop_grace_s


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, f"unreadable duration {duration!r}"
    return sum(float(n) * units[u] for n, u in parts)


def test_kindred_services_restart_and_stop_gracefully(compose: dict[str, Any]) -> None:
    for name, svc in kindred_in(compose["services"]).items():
        assert svc.get("restart") == "unless-stopped", name
        assert _seconds(str(svc.get("stop_grace_period", "10s"))) >= 30, name


# --- Dockerfile ---------------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final_copies = args_of(stages[-1], "COPY")
    assert any(args.startswith("--from=") for args in final_copies), "the final stage takes nothing built"


def test_all_stages_share_one_base_image() -> None:
    # The venv built in one stage is copied into the other: its scripts name the base's interpreter.
    images = base_images()
    assert len(set(images)) == 1, images
    assert "slim" in images[0]


def test_builder_installs_the_project_with_pip() -> None:
    builders = dockerfile_stages()[:-1]
    runs = [args for stage in builders for args in args_of(stage, "RUN")]
    install = re.compile(r"\bpip install(?:\s+--?\S+)*\s+\.(?:\s|$)")
    assert any(install.search(args) for args in runs)


def test_builder_copies_everything_pip_install_reads() -> None:
    project = tomllib.loads(PYPROJECT_PATH.read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    needed = {"pyproject.toml", project["project"]["readme"], *packages}
    builder = dockerfile_stages()[0]
    sources = {
        source.rstrip("/")
        for args in args_of(builder, "COPY")
        if not args.startswith("--from=")
        for source in shlex.split(args)[:-1]
    }
    assert needed <= sources


def test_compilers_stay_out_of_the_runtime_stage() -> None:
    final = " ".join(args_of(dockerfile_stages()[-1], "RUN"))
    assert "build-essential" not in final and "gcc" not in final


def test_final_stage_runs_as_the_kindred_user() -> None:
    final = dockerfile_stages()[-1]
    users = args_of(final, "USER")
    assert users, "the final stage runs as root"
    assert users[-1].split(":")[0] == "kindred"
    assert any("useradd" in args and "kindred" in args for args in args_of(final, "RUN"))


def test_final_stage_runs_the_bot() -> None:
    cmds = args_of(dockerfile_stages()[-1], "CMD")
    assert cmds and exec_form(cmds[-1]) == ["python", "-m", "bot", "run"]


def test_final_stage_health_checks_the_bot() -> None:
    checks = args_of(dockerfile_stages()[-1], "HEALTHCHECK")
    assert checks, "no HEALTHCHECK in the final stage"
    _, _, command = checks[-1].partition("CMD ")
    assert exec_form(command) == ["python", "-m", "bot", "healthcheck"]


def test_data_dir_is_a_volume_owned_by_the_user() -> None:
    final = dockerfile_stages()[-1]
    assert stage_env(final).get("KINDRED__STORAGE__DATA_DIR") == "/data"
    volumes = args_of(final, "VOLUME")
    declared = [v for args in volumes for v in (exec_form(args) if args.startswith("[") else args.split())]
    assert "/data" in declared
    # Changes to a path after it is declared a VOLUME are discarded, so the chown must come first.
    keywords = [(kw, args) for kw, args in final]
    volume_at = next(i for i, (kw, args) in enumerate(keywords) if kw == "VOLUME" and "/data" in args)
    assert any(
        kw == "RUN" and "chown" in args and "kindred" in args and "/data" in args
        for kw, args in keywords[:volume_at]
    )


def test_runtime_environment() -> None:
    env = stage_env(dockerfile_stages()[-1])
    assert env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("HF_HUB_OFFLINE") == "1"


def test_config_file_is_in_the_working_directory() -> None:
    final = dockerfile_stages()[-1]
    assert args_of(final, "WORKDIR")[-1] == "/app"
    targets = [shlex.split(args)[-1] for args in args_of(final, "COPY") if "config.yaml" in args]
    assert targets, "config.yaml is not copied into the image"
    assert all(t in {"/app/config.yaml", "./config.yaml", "config.yaml", "/app/", "."} for t in targets)


# --- .dockerignore ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".env",
        "data/kindred.db",
        "data/chroma/chroma.sqlite3",
        "bot/__pycache__/cli.cpython-312.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/bot/app.meta.json",
        ".ruff_cache/CACHEDIR.TAG",
        "bench/results.json",
        "kindred.egg-info/PKG-INFO",
    ],
)
def test_build_context_leaves_out_local_state(path: str) -> None:
    assert context_excludes(path)


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml",
        "README.md",
        "config.yaml",
        "bot/__main__.py",
        "cogs/__init__.py",
        "storage/sql/migrations/env.py",
        "storage/embedding/model/model.safetensors",
        "storage/embedding/model/tokenizer.json",
    ],
)
def test_build_context_keeps_what_the_image_needs(path: str) -> None:
    assert not context_excludes(path)
