# Coach Plans runtime image: slim Python, only runtime dependencies pinned by requirements.lock
# (hashes checked), byte-compiled, non-root.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# Dependencies first, from the lock only: this layer is rebuilt only when the lock changes.
COPY requirements.lock ./
RUN python -m venv /venv \
 && /venv/bin/pip install --no-compile --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY commands ./commands
RUN /venv/bin/pip install --no-compile --no-deps . \
 && /venv/bin/python -m compileall -q /venv/lib

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --home-dir /data coach && mkdir -p /data
COPY --from=build /venv /venv
COPY scripts/container-start.sh /usr/local/bin/container-start
WORKDIR /data
EXPOSE 5000
# Hands /data to the service user only when its owner differs, then drops root for good
# (setpriv comes with util-linux in the base image).
CMD ["container-start", "coach-plans", "serve"]
