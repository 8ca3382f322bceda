# Coach Plans runtime image: slim Python, only runtime dependencies, byte-compiled, non-root.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY commands ./commands
RUN python -m venv /venv \
 && /venv/bin/pip install --no-compile . \
 && /venv/bin/python -m compileall -q /venv/lib

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --uid 10001 --home-dir /data coach && mkdir -p /data
COPY --from=build /venv /venv
WORKDIR /data
EXPOSE 5000
# A Fly volume is mounted root-owned at /data: hand it to the service user, then drop root
# for good (setpriv comes with util-linux in the base image).
CMD ["sh", "-c", "chown -R coach:coach /data && exec setpriv --reuid=coach --regid=coach --init-groups coach-plans serve"]
