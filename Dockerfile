# The dashboard (React + Vite) is built in a Node stage; only its static files reach the image.
FROM node:20-slim AS dashboard
WORKDIR /src/dashboard
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY dashboard/ ./
RUN npm run build

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 PORT=8000
WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
COPY --from=dashboard /src/dashboard/dist /app/dashboard/dist
RUN SECRET_KEY=build API_KEY_PEPPER=build python manage.py collectstatic --noinput -v0 \
    && useradd --create-home --uid 10001 app && chown -R app /app
USER app

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2).status == 200 else 1)"

CMD ["sh", "-c", "DB_STATEMENT_TIMEOUT_MS=0 python manage.py migrate --noinput && exec gunicorn central_logger.wsgi -c gunicorn.conf.py"]
