# The dashboard (React + Vite) is built in a Node stage; only its static files reach the image.
FROM node:20-slim AS dashboard
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000 \
    SPOOL_PATH=/app/var/spool.sqlite3
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
COPY --from=dashboard /src/dashboard/dist /app/dashboard/dist
# The settings need a DATABASE_URL to load; collectstatic never connects to it.
RUN SECRET_KEY=build API_KEY_PEPPER=build DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput -v0
# The code stays root's (read-only to the service); the service owns only /app/var, where the
# spool and the key snapshot live. A fresh named volume mounted there takes this ownership
# (a bind mount does not: chown it to 10001 on the host).
RUN groupadd --gid 10001 app && useradd --create-home --uid 10001 --gid 10001 app \
    && mkdir -p /app/var && chown 10001:10001 /app/var
USER 10001

EXPOSE 8000
# Unhealthy when the process does not answer or cannot write its spool (a database outage is not
# a reason: logs wait in the spool); see central_logger/healthcheck.py.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-m", "central_logger.healthcheck"]

# Migrations are a separate, one-shot step (the `migrate` service of docker-compose.yml, or
# `docker run --rm <image> python manage.py migrate`), so replicas never run them at once.
CMD ["gunicorn", "central_logger.wsgi", "-c", "gunicorn.conf.py"]
