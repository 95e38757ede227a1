# A slim, non-root image running the service. Configure it with CARDSERVICE_* variables;
# mount a volume at /data for the SQLite database and the generated keys, or point
# CARDSERVICE_DATABASE_URL at PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CARDSERVICE_DATA_DIR=/data \
    CARDSERVICE_HOST=0.0.0.0 \
    CARDSERVICE_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY cardservice ./cardservice
COPY passes ./passes
RUN pip install . \
 && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin cardservice \
 && mkdir -p /data && chown cardservice /data

USER cardservice
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)" || exit 1
CMD ["cardservice", "serve"]
